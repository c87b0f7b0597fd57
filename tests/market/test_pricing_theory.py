"""Economic validation: the market core against the theory of logit price competition.

Two layers:

* the pricing mechanics of ``market/pricing.py`` (demand slopes, diversion, the best-response solver) against
  closed forms (Lambert W), finite differences and root-finding of the exact first-order conditions;
* the whole model, configured as a pure pricing game (``experiments/configs/validation/*.toml``), against
  the Bertrand-Nash and joint-profit equilibria of the logit game, computed here with ``scipy.optimize``
  from the game's parameters as read from the config file.

Theory used throughout (one buyer of volume 1, utility ``u_i = a_i - b g(p_i)`` with ``g(p) = p`` (linear)
or ``g(p) = ln p`` (log, where ``a_i`` enters as ``ln q_i``); outside option of utility ``a0``)::

    s_i = exp(u_i/mu) / (sum_j exp(u_j/mu) + exp(a0/mu))
    ds_i/dp_i = -(b/mu) g'(p_i) s_i (1 - s_i),     ds_j/dp_i = (b/mu) g'(p_i) s_i s_j

    Bertrand-Nash, from d/dp_i [(p_i - c_i) s_i] = 0:
        (p_i - c_i) (b/mu) g'(p_i) (1 - s_i) = 1         (linear: p_i = c_i + mu / (b (1 - s_i)))
    Joint profit, from d/dp_i sum_j (p_j - c_j) s_j = 0:
        (p_i - c_i) - sum_j (p_j - c_j) s_j = mu / (b g'(p_i))

For symmetric linear firms the joint-profit condition is ``p = c + mu / (b (1 - n s))``. References: Anderson,
de Palma and Thisse (1992), "Discrete Choice Theory of Product Differentiation", ch. 6-7; Calvano,
Calzolari, Denicolo and Pastorello (2020), AER 110(10), whose baseline gives 1.4729 and 1.9250.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.optimize import brentq, minimize, minimize_scalar, root
from scipy.special import lambertw

from experiments.run import run_scenario
from market.config import ScenarioConfig
from market.config.files import apply_overrides, load_scenario, read_toml, scenario_from_dict
from market.model import InferenceMarket
from market.pricing import demand_slopes, diversion_margin, logit_best_response

FloatArray = NDArray[np.float64]

VALIDATION_DIR = Path(__file__).resolve().parents[2] / "experiments" / "configs" / "validation"
THEORY_TOL = 1e-3
"""Tolerance of the model's converged prices against the theoretical equilibrium, $/Mtok."""


# ---------------------------------------------------------------------------------------------------------
# reference solutions (independent of the code under test)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogitGame:
    """A pure logit pricing game: qualities, costs, outside utility, scale, price weight, utility form."""

    quality: FloatArray
    cost: FloatArray
    outside: float
    mu: float
    b: float = 1.0
    form: str = "linear"

    def utility(self, price: FloatArray) -> FloatArray:
        if self.form == "linear":
            return self.quality - self.b * price
        return np.log(self.quality) - self.b * np.log(price)

    def shares(self, price: FloatArray) -> FloatArray:
        u = self.utility(np.asarray(price, dtype=np.float64)) / self.mu
        top = max(float(u.max()), self.outside / self.mu)
        w = np.exp(u - top)
        return w / (w.sum() + math.exp(self.outside / self.mu - top))

    def gprime(self, price: FloatArray) -> FloatArray:
        return np.ones_like(price) if self.form == "linear" else 1.0 / price

    def nash_foc(self, price: FloatArray) -> FloatArray:
        """p_i - c_i - mu / (b g'(p_i) (1 - s_i)): zero at the Bertrand-Nash equilibrium."""
        s = self.shares(price)
        return price - self.cost - self.mu / (self.b * self.gprime(price) * (1.0 - s))

    def joint_foc(self, price: FloatArray) -> FloatArray:
        """m_i - sum_j m_j s_j - mu / (b g'(p_i)): zero at the joint-profit optimum."""
        s = self.shares(price)
        margin = price - self.cost
        return margin - margin @ s - self.mu / (self.b * self.gprime(price))

    def profit(self, price: FloatArray) -> FloatArray:
        return (price - self.cost) * self.shares(price)

    def bertrand_nash(self) -> FloatArray:
        """Root of the Nash first-order conditions (scipy.optimize.root), started at the zero-share markup."""
        start = self.cost + self.mu / self.b if self.form == "linear" else self.cost / (1.0 - self.mu / self.b)
        sol = root(self.nash_foc, start, method="hybr", options={"xtol": 1e-13})
        assert np.abs(self.nash_foc(sol.x)).max() < 1e-10, sol.message
        return sol.x

    def joint_profit(self) -> FloatArray:
        """Root of the joint-profit first-order conditions.

        Writing ``M = sum_j m_j s_j``, the conditions give every price as a function of ``M`` alone (linear:
        ``p_i = c_i + M + mu/b``; log: ``p_i = (c_i + M) / (1 - mu/b)``), so ``M`` solves one scalar
        equation (brentq); scipy.optimize.root then polishes the full system.
        """

        def prices(m: float) -> FloatArray:
            if self.form == "linear":
                return self.cost + m + self.mu / self.b
            return (self.cost + m) / (1.0 - self.mu / self.b)

        def excess(m: float) -> float:
            p = prices(m)
            return float((p - self.cost) @ self.shares(p)) - m

        m_star = brentq(excess, 0.0, 100.0, xtol=1e-14)
        sol = root(self.joint_foc, prices(m_star), method="hybr", options={"xtol": 1e-13})
        assert np.abs(self.joint_foc(sol.x)).max() < 1e-10, sol.message
        return sol.x


def game_from_config(config: ScenarioConfig) -> LogitGame:
    """The logit game a pure-pricing-game scenario describes (one segment, fixed qualities and costs)."""
    assert len(config.segments) == 1 and config.segments[0].price_elasticity == 0.0
    assert config.outside_option.self_hosting is False
    seg = config.segments[0]
    assert seg.quality_weight == 1.0
    quality: list[float] = []
    cost: list[float] = []
    for p in config.providers:
        assert isinstance(p.quality, float) and p.unit_cost_usd_per_mtok is not None
        assert p.capacity_mtok_per_month == math.inf
        quality += [p.quality * p.quality_factor] * p.count
        cost += [p.unit_cost_usd_per_mtok] * p.count
    return LogitGame(
        quality=np.array(quality),
        cost=np.array(cost),
        outside=config.outside_option.value,
        mu=config.logit.mu,
        b=seg.price_sensitivity,
        form=config.logit.utility_form,
    )


@dataclass(frozen=True)
class GameOutcome:
    """Prices and tokens served by each provider at the last two steps of a run."""

    price: FloatArray
    previous_price: FloatArray
    served: FloatArray


def play(config: ScenarioConfig) -> GameOutcome:
    result = run_scenario(config, seed=0)
    prov = result.providers
    last = int(prov["step"].max())
    final = prov[prov["step"] == last]
    before = prov[prov["step"] == last - 1]
    return GameOutcome(
        price=final["price"].to_numpy(dtype=np.float64),
        previous_price=before["price"].to_numpy(dtype=np.float64),
        served=final["tokens_served"].to_numpy(dtype=np.float64),
    )


def load_validation(name: str, overrides: Sequence[str] = ()) -> ScenarioConfig:
    return load_scenario(VALIDATION_DIR / f"{name}.toml", list(overrides))


def with_objective(name: str, objective: str) -> ScenarioConfig:
    """A validation scenario with every provider's best-response objective set to ``objective``."""
    data = read_toml(VALIDATION_DIR / f"{name}.toml")
    settings = [f"providers.{i}.pricing.objective={objective}" for i in range(len(data["providers"]))]
    return scenario_from_dict(apply_overrides(data, settings))


# ---------------------------------------------------------------------------------------------------------
# the reference solutions themselves
# ---------------------------------------------------------------------------------------------------------


def test_reference_solutions_reproduce_calvano_numbers() -> None:
    """Calvano et al. (2020), Table/Section II: Nash 1.4729 and monopoly 1.9250 for n=2, a=2, c=1, a0=0, mu=1/4."""
    game = LogitGame(quality=np.array([2.0, 2.0]), cost=np.array([1.0, 1.0]), outside=0.0, mu=0.25)
    np.testing.assert_allclose(game.bertrand_nash(), 1.4729, atol=5e-5)
    np.testing.assert_allclose(game.joint_profit(), 1.9250, atol=5e-5)
    # Symmetric joint-profit closed form p = c + mu / (1 - n s).
    p = game.joint_profit()
    assert p[0] == pytest.approx(1.0 + 0.25 / (1.0 - 2.0 * game.shares(p)[0]), rel=1e-12)


@pytest.mark.parametrize(
    "game",
    [
        LogitGame(np.array([2.0, 2.4]), np.array([1.0, 1.3]), 0.0, 0.25),
        LogitGame(np.array([2.0, 2.5, 1.8]), np.array([1.0, 1.2, 0.7]), -0.5, 0.1),
        LogitGame(np.array([2.0, 3.0]), np.array([1.0, 1.2]), 0.0, 0.25, form="log"),
    ],
    ids=["linear-duopoly", "linear-triopoly", "log-duopoly"],
)
def test_reference_solutions_are_optima(game: LogitGame) -> None:
    """Cross-check the first-order conditions: the Nash price maximizes each firm's profit given the others
    (bounded scalar search), and the joint-profit prices maximize total profit (Nelder-Mead)."""
    nash = game.bertrand_nash()
    for i in range(len(nash)):

        def own_loss(p: float, i: int = i) -> float:
            prices = nash.copy()
            prices[i] = p
            return -float(game.profit(prices)[i])

        best = minimize_scalar(own_loss, bounds=(game.cost[i], game.cost[i] + 5.0), method="bounded",
                               options={"xatol": 1e-10})
        assert best.x == pytest.approx(nash[i], abs=1e-6)
    joint = game.joint_profit()
    direct = minimize(lambda p: -float(game.profit(p).sum()), nash, method="Nelder-Mead",
                      options={"xatol": 1e-10, "fatol": 1e-15, "maxiter": 20_000})
    np.testing.assert_allclose(direct.x, joint, atol=1e-6)


# ---------------------------------------------------------------------------------------------------------
# market/pricing.py mechanics
# ---------------------------------------------------------------------------------------------------------


def own_view(
    a: float, p0: float, rivals: FloatArray, outside: float, mu: float, b: float, volume: float, form: str
) -> tuple[float, float, float, float]:
    """(share, demand, -dD/dp, b/mu) of one offer at price p0 given rivals' utilities (textbook logit)."""
    own_u = a - b * p0 if form == "linear" else math.log(a) - b * math.log(p0)
    rest = float(np.exp(rivals / mu).sum()) + math.exp(outside / mu)
    s = math.exp(own_u / mu) / (math.exp(own_u / mu) + rest)
    gprime = 1.0 if form == "linear" else 1.0 / p0
    return s, volume * s, volume * (b / mu) * gprime * s * (1.0 - s), b / mu


@given(
    a=st.floats(0.5, 4.0),
    cost=st.floats(0.1, 3.0),
    b=st.floats(0.5, 3.0),
    mu=st.floats(0.05, 1.0),
    p0=st.floats(0.1, 5.0),
    rivals=st.lists(st.floats(-2.0, 2.0), min_size=0, max_size=3),
    outside=st.floats(-2.0, 2.0),
    volume=st.floats(0.01, 1e4),
)
def test_best_response_equals_lambert_w_closed_form(
    a: float, cost: float, b: float, mu: float, p0: float, rivals: list[float], outside: float, volume: float
) -> None:
    """Linear logit, rivals fixed: with R = sum_j exp(u_j/mu) + exp(a0/mu) and x = s/(1-s) = exp((a-bp)/mu)/R,
    the FOC (p - c)(b/mu)(1 - s) = 1 reads p = c + (mu/b)(1 + x). Substituting gives x e^x = A/e with
    A = exp((a - b c)/mu) / R, so x = W(A/e) and p* = c + (mu/b)(1 + W(A/e))."""
    rival_u = np.array(rivals)
    s0, demand, slope, beta = own_view(a, p0, rival_u, outside, mu, b, volume, "linear")
    assume(1e-6 < s0 < 1.0 - 1e-6)
    log_r = float(np.logaddexp.reduce(np.append(rival_u / mu, outside / mu)))
    log_arg = (a - b * cost) / mu - log_r - 1.0  # ln(A/e)
    w = lambertw(math.exp(log_arg)).real  # log_arg < 4/0.05 + 2/0.05 on the drawn ranges: no overflow
    expected = cost + (mu / b) * (1.0 + w)
    got = logit_best_response(cost=np.array([cost]), price=np.array([p0]), demand=np.array([demand]),
                              own_slope=np.array([slope]), beta=np.array([beta]), form="linear")
    assert got[0] == pytest.approx(expected, rel=1e-7)


@given(
    a=st.floats(0.5, 4.0),
    cost=st.floats(0.1, 3.0),
    b=st.floats(1.0, 3.0),
    mu=st.floats(0.05, 0.5),
    p0=st.floats(0.2, 5.0),
    rivals=st.lists(st.floats(-2.0, 2.0), min_size=0, max_size=3),
    outside=st.floats(-2.0, 2.0),
)
def test_best_response_log_utility_solves_exact_foc(
    a: float, cost: float, b: float, mu: float, p0: float, rivals: list[float], outside: float
) -> None:
    """Log utility u = ln a - b ln p, rivals fixed: profit (p - c) s(p) with ds/dp = -(b/mu)(1/p) s (1 - s)
    gives the FOC (p - c)(b/mu)(1 - s(p))/p = 1, i.e. p (1 - mu/(b (1 - s))) = c; its root (brentq on
    [c, 1e6 c], increasing in p when b/mu > 1) is the best response."""
    rival_u = np.array(rivals)
    s0, demand, slope, beta = own_view(a, p0, rival_u, outside, mu, b, 1.0, "log")
    assume(1e-6 < s0 < 1.0 - 1e-6)
    rest = float(np.exp(rival_u / mu).sum()) + math.exp(outside / mu)

    def foc(p: float) -> float:
        w = math.exp((math.log(a) - b * math.log(p)) / mu)
        s = w / (w + rest)
        return (p - cost) * (b / mu) * (1.0 - s) / p - 1.0

    expected = brentq(foc, cost, cost * 1e6, xtol=1e-14, rtol=1e-13)
    got = logit_best_response(cost=np.array([cost]), price=np.array([p0]), demand=np.array([demand]),
                              own_slope=np.array([slope]), beta=np.array([beta]), form="log")
    assert got[0] == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("beta", [0.4, 1.0])
def test_best_response_log_utility_inelastic_demand_hits_the_price_cap(beta: float) -> None:
    """Log utility with b/mu <= 1: s(p) falls no faster than p^-(b/mu), so profit (p - c) s(p) keeps rising
    with p and there is no interior optimum; the price is capped at max(cost, last price) x max_price_ratio."""
    s0 = 0.3
    args = {"cost": np.array([2.0]), "price": np.array([3.0]), "demand": np.array([s0]),
            "own_slope": np.array([beta / 3.0 * s0 * (1 - s0)]), "beta": np.array([beta]), "form": "log"}
    assert logit_best_response(**args)[0] == pytest.approx(3000.0, rel=1e-12)  # type: ignore[arg-type]
    assert logit_best_response(max_price_ratio=50.0, **args)[0] == pytest.approx(150.0, rel=1e-12)  # type: ignore[arg-type]


@pytest.mark.parametrize("form", ["linear", "log"])
def test_best_response_raises_price_to_capacity(form: str) -> None:
    """When demand at the unconstrained best response exceeds capacity K, the price is the one at which
    demand equals capacity, V s(p) = K (brentq on the exact logit demand, rivals fixed); with slack
    capacity the unconstrained best response stands."""
    a, cost, b, mu, volume, p0 = 2.5, 1.0, 1.0, 0.25, 10.0, 1.5
    rivals, outside = np.array([0.6]), 0.0
    rest = float(np.exp(rivals / mu).sum()) + math.exp(outside / mu)
    _, demand, slope, beta = own_view(a, p0, rivals, outside, mu, b, volume, form)
    free = logit_best_response(cost=np.array([cost]), price=np.array([p0]), demand=np.array([demand]),
                               own_slope=np.array([slope]), beta=np.array([beta]), form=form)[0]

    def served(p: float) -> float:
        u = a - b * p if form == "linear" else math.log(a) - b * math.log(p)
        return volume * math.exp(u / mu) / (math.exp(u / mu) + rest)

    capacity = 0.5 * served(free)
    expected = brentq(lambda p: served(p) - capacity, free, free + 50.0, xtol=1e-14)
    bound = logit_best_response(cost=np.array([cost]), price=np.array([p0]), demand=np.array([demand]),
                                own_slope=np.array([slope]), beta=np.array([beta]), form=form,
                                capacity=np.array([capacity]))[0]
    assert bound == pytest.approx(expected, rel=1e-9)
    slack = logit_best_response(cost=np.array([cost]), price=np.array([p0]), demand=np.array([demand]),
                                own_slope=np.array([slope]), beta=np.array([beta]), form=form,
                                capacity=np.array([2.0 * served(free)]))[0]
    assert slack == pytest.approx(free, rel=1e-12)


def test_best_response_fixed_point_and_no_demand() -> None:
    """Offer 0 had no demand: it keeps its last price. Offer 1 (c = 1, p = 2, D = 0.5, -dD/dp = 0.5,
    b/mu = 4) has s = 1 - 0.5/(4 * 0.5) = 0.75, so (p - c)(b/mu)(1 - s) = 1: p = 2 already satisfies the
    FOC and is returned; at p = 3 with the same fitted demand, the answer is again 2."""
    got = logit_best_response(cost=np.array([1.0, 1.0]), price=np.array([3.0, 2.0]), demand=np.array([0.0, 0.5]),
                              own_slope=np.array([0.0, 0.5]), beta=np.array([0.0, 4.0]), form="linear")
    assert got[0] == 3.0
    assert got[1] == pytest.approx(2.0, rel=1e-12)
    # The same demand curve seen from p = 3: volume V = 0.5/0.75 = 2/3, odds (1 - s)/s = 1/3 at p = 2, so
    # s(3) = 1/(1 + e^(4 * 1)/3).
    volume = 2.0 / 3.0
    s3 = 1.0 / (1.0 + math.exp(4.0) / 3.0)
    again = logit_best_response(cost=np.array([1.0]), price=np.array([3.0]), demand=np.array([volume * s3]),
                                own_slope=np.array([volume * 4.0 * s3 * (1.0 - s3)]), beta=np.array([4.0]),
                                form="linear")
    assert again[0] == pytest.approx(2.0, rel=1e-9)


def market_demand(price: FloatArray, quality: FloatArray, weight_q: FloatArray, b: FloatArray, volume: FloatArray,
                  outside: FloatArray, mu: float, form: str) -> tuple[FloatArray, FloatArray]:
    """Shares (E x O) and demand per offer of a heterogeneous logit market (textbook formula)."""
    g = (lambda x: x) if form == "linear" else np.log
    u = weight_q[:, None] * g(quality)[None, :] - b[:, None] * g(price)[None, :]
    w = np.exp(u / mu)
    shares = w / (w.sum(axis=1) + np.exp(outside / mu))[:, None]
    return shares, volume @ shares


HET = {
    "quality": np.array([2.0, 1.5, 1.2]),
    "weight_q": np.array([1.0, 2.0, 0.5]),
    "b": np.array([1.0, 2.5, 0.7]),
    "volume": np.array([3.0, 1.0, 6.0]),
    "outside": np.array([0.0, -0.5, 0.3]),
    "mu": 0.4,
}
HET_PRICE = np.array([1.3, 0.9, 0.6])


@pytest.mark.parametrize("form", ["linear", "log"])
def test_demand_slopes_equal_finite_differences(form: str) -> None:
    """-dD_i/dp_i by central differences (h = 1e-6) of the heterogeneous logit demand; beta is the
    demand-weighted mean of b_e/mu; market volume counts buyers who can reach the offer."""
    shares, demand = market_demand(HET_PRICE, form=form, **HET)  # type: ignore[arg-type]
    slopes = demand_slopes(shares, HET["volume"], HET["b"], HET["mu"], HET_PRICE, form)  # type: ignore[arg-type]
    h = 1e-6
    for i in range(3):
        up, down = HET_PRICE.copy(), HET_PRICE.copy()
        up[i] += h
        down[i] -= h
        d_up = market_demand(up, form=form, **HET)[1][i]  # type: ignore[arg-type]
        d_down = market_demand(down, form=form, **HET)[1][i]  # type: ignore[arg-type]
        assert slopes.own_slope[i] == pytest.approx(-(d_up - d_down) / (2 * h), rel=1e-7)
    np.testing.assert_allclose(slopes.demand, demand, rtol=1e-14)
    expected_beta = (HET["volume"] * HET["b"] / HET["mu"]) @ shares / demand  # type: ignore[operator]
    np.testing.assert_allclose(slopes.beta, expected_beta, rtol=1e-13)


def test_diversion_margin_hand_computation() -> None:
    """One buyer, V = 1, b/mu = 2, shares (0.3, 0.2, 0.1), margins (1, 2, 4), linear utility.

    Own slopes (b/mu) s (1 - s) = (0.42, 0.32, 0.18). Diversion ratio DR_ij = s_j / (1 - s_i).
    Offers 0 and 2 share an owner: recapture_0 = m_2 s_2/(1 - s_0) = 0.4/0.7, recapture_2 = m_0 s_0/(1 - s_2)
    = 0.3/0.9, offer 1 alone gets 0. With the whole market as one group (joint profit): recapture_0 =
    (2 * 0.2 + 4 * 0.1)/0.7 = 0.8/0.7, recapture_1 = (0.3 + 0.4)/0.8, recapture_2 = (0.3 + 0.4)/0.9.
    """
    shares = np.array([[0.3, 0.2, 0.1]])
    args = {"shares": shares, "volume": np.array([1.0]), "price_sensitivity": np.array([0.5]), "mu": 0.25,
            "price": np.array([2.0, 3.0, 5.0]), "margin": np.array([1.0, 2.0, 4.0]),
            "own_slope": np.array([0.42, 0.32, 0.18]), "form": "linear"}
    owner = diversion_margin(groups=[np.array([0, 2])], **args)  # type: ignore[arg-type]
    np.testing.assert_allclose(owner, [0.4 / 0.7, 0.0, 0.3 / 0.9], rtol=1e-14)
    industry = diversion_margin(groups=[np.array([0, 1, 2])], **args)  # type: ignore[arg-type]
    np.testing.assert_allclose(industry, [0.8 / 0.7, 0.7 / 0.8, 0.7 / 0.9], rtol=1e-14)
    alone = diversion_margin(groups=[np.array([1])], **args)  # type: ignore[arg-type]
    np.testing.assert_array_equal(alone, [0.0, 0.0, 0.0])


@pytest.mark.parametrize("form", ["linear", "log"])
def test_diversion_margin_equals_finite_difference_diversion(form: str) -> None:
    """Heterogeneous buyers: sum_{j in G, j != i} m_j (dD_j/dp_i) / (-dD_i/dp_i) by central differences."""
    shares, _ = market_demand(HET_PRICE, form=form, **HET)  # type: ignore[arg-type]
    slopes = demand_slopes(shares, HET["volume"], HET["b"], HET["mu"], HET_PRICE, form)  # type: ignore[arg-type]
    margin = np.array([0.5, 0.3, 0.2])
    got = diversion_margin(shares, HET["volume"], HET["b"], HET["mu"], HET_PRICE, margin,  # type: ignore[arg-type]
                           slopes.own_slope, [np.array([0, 1])], form)
    h = 1e-6
    expected = np.zeros(3)
    for i, j in [(0, 1), (1, 0)]:
        up, down = HET_PRICE.copy(), HET_PRICE.copy()
        up[i] += h
        down[i] -= h
        d_up = market_demand(up, form=form, **HET)[1]  # type: ignore[arg-type]
        d_down = market_demand(down, form=form, **HET)[1]  # type: ignore[arg-type]
        grad = (d_up - d_down) / (2 * h)
        expected[i] = margin[j] * grad[j] / -grad[i]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=0)


# ---------------------------------------------------------------------------------------------------------
# the model as a pure pricing game
# ---------------------------------------------------------------------------------------------------------


def assert_converged(outcome: GameOutcome) -> None:
    """Best-response dynamics have settled: the last step moved no price by more than 1e-6."""
    np.testing.assert_allclose(outcome.price, outcome.previous_price, atol=1e-6)


def test_calvano_duopoly_converges_to_bertrand_nash() -> None:
    """experiments/configs/validation/logit_duopoly.toml: both prices end at 1.4729 (Calvano et al. 2020)."""
    config = load_validation("logit_duopoly")
    outcome = play(config)
    np.testing.assert_allclose(outcome.price, [1.4729, 1.4729], atol=THEORY_TOL)
    np.testing.assert_allclose(outcome.price, game_from_config(config).bertrand_nash(), atol=THEORY_TOL)
    assert_converged(outcome)


def test_calvano_duopoly_joint_profit_converges_to_monopoly_price() -> None:
    """Same game with pricing.objective = "industry": both prices end at 1.9250 (Calvano et al. 2020)."""
    config = with_objective("logit_duopoly", "industry")
    outcome = play(config)
    np.testing.assert_allclose(outcome.price, [1.9250, 1.9250], atol=THEORY_TOL)
    np.testing.assert_allclose(outcome.price, game_from_config(config).joint_profit(), atol=THEORY_TOL)
    assert_converged(outcome)


VALIDATION_GAMES = [
    "logit_duopoly",
    "logit_asymmetric_duopoly",
    "logit_oligopoly",
    "logit_asymmetric_triopoly",
    "logit_log_duopoly",
]


@pytest.mark.parametrize("name", VALIDATION_GAMES)
def test_validation_game_converges_to_bertrand_nash(name: str) -> None:
    """Prices at the end of the shipped run equal the root of the Nash FOCs of the game the file describes,
    and each provider serves its logit share at those prices (volume 1, unlimited capacity)."""
    config = load_validation(name)
    game = game_from_config(config)
    outcome = play(config)
    nash = game.bertrand_nash()
    np.testing.assert_allclose(outcome.price, nash, atol=THEORY_TOL)
    np.testing.assert_allclose(outcome.served, game.shares(outcome.price), rtol=1e-9)
    assert_converged(outcome)


@pytest.mark.parametrize("name", VALIDATION_GAMES)
def test_validation_game_joint_profit_converges_to_joint_optimum(name: str) -> None:
    config = with_objective(name, "industry")
    game = game_from_config(config)
    outcome = play(config)
    np.testing.assert_allclose(outcome.price, game.joint_profit(), atol=THEORY_TOL)
    assert_converged(outcome)


def test_shipped_expectations_match_theory() -> None:
    """The equilibria quoted in the validation files' headers are the ones the theory gives."""
    quoted = {
        "logit_asymmetric_duopoly": ([1.447313, 1.810767], [1.965406, 2.265406]),
        "logit_oligopoly": ([1.580717] * 4, [1.858912] * 4),
        "logit_asymmetric_triopoly": ([1.114124, 1.454972, 0.836694], [2.549597, 2.749597, 2.249597]),
        "logit_log_duopoly": ([1.641433, 2.296114], [2.674015, 2.940682]),
    }
    for name, (nash, joint) in quoted.items():
        text = (VALIDATION_DIR / f"{name}.toml").read_text()
        game = game_from_config(load_validation(name))
        np.testing.assert_allclose(game.bertrand_nash(), nash, atol=5e-7, err_msg=name)
        np.testing.assert_allclose(game.joint_profit(), joint, atol=5e-7, err_msg=name)
        for value in (*nash, *joint):
            assert f"{value:.6f}" in text, (name, value)


def test_price_sensitivity_scales_markups() -> None:
    """With b = 2 the Nash FOC is p_i = c_i + mu / (b (1 - s_i)): the asymmetric duopoly with
    segments.0.price_sensitivity = 2 converges there."""
    config = load_validation("logit_asymmetric_duopoly", ["segments.0.price_sensitivity=2.0"])
    game = game_from_config(config)
    assert game.b == 2.0
    outcome = play(config)
    np.testing.assert_allclose(outcome.price, game.bertrand_nash(), atol=THEORY_TOL)


def test_monopolist_sets_lambert_w_price(make_pricing_game: Any) -> None:
    """n = 1: Nash and joint profit coincide with the monopoly price p = c + mu (1 + W(exp((a - c - a0)/mu - 1)))
    (the Lambert-W best response with R = exp(a0/mu)). a = 2, c = 1, a0 = 0.3, mu = 0.4."""
    expected = 1.0 + 0.4 * (1.0 + lambertw(math.exp((2.0 - 1.0 - 0.3) / 0.4 - 1.0)).real)
    for objective in ("owner", "industry"):
        data = make_pricing_game([(2.0, 1.0)], mu=0.4, outside_value=0.3, objective=objective, steps=30)
        outcome = play(scenario_from_dict(data))
        assert outcome.price[0] == pytest.approx(expected, abs=THEORY_TOL)


def test_partial_adjustment_converges_to_the_same_equilibrium(make_pricing_game: Any) -> None:
    """Damping 0.5 (half-way steps) still ends at the Calvano Nash price 1.4729."""
    data = make_pricing_game([(2.0, 1.0), (2.0, 1.0)], steps=80)
    for provider in data["providers"]:
        provider["pricing"]["damping"] = 0.5
    outcome = play(scenario_from_dict(data))
    np.testing.assert_allclose(outcome.price, 1.4729, atol=THEORY_TOL)


def test_joint_profit_exceeds_nash_profit() -> None:
    """In the asymmetric duopoly, the industry objective earns more in total than Nash (and Nash is not the
    joint optimum), as the theory requires."""
    nash = play(load_validation("logit_asymmetric_duopoly"))
    joint = play(with_objective("logit_asymmetric_duopoly", "industry"))
    cost = np.array([1.0, 1.3])
    nash_profit = float(((nash.price - cost) * nash.served).sum())
    joint_profit = float(((joint.price - cost) * joint.served).sum())
    assert joint_profit > nash_profit + 0.01


# ---------------------------------------------------------------------------------------------------------
# heterogeneous buyers, multi-product firms, capacity
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeterogeneousGame:
    """Logit demand of many buyers: intercepts alpha[e, o] (quality term minus any latency penalty),
    price weights b[e], volumes V[e], an outside option a0, and groups of offers priced jointly.

    Offer i's owner maximizes sum_{j in G(i)} (p_j - c_j) D_j(p), whose FOC is
    D_i + sum_{j in G(i)} m_j dD_j/dp_i = 0 with dD_j/dp_i = g'(p_i) sum_e V_e (b_e/mu) (s_ei s_ej - 1{i=j} s_ei).
    The FOCs are divided by D_i so that the zero-demand limit (very high prices) is not a spurious root.
    """

    alpha: FloatArray
    b: FloatArray
    volume: FloatArray
    cost: FloatArray
    outside: float
    mu: float
    form: str
    groups: tuple[tuple[int, ...], ...]

    def g(self, p: FloatArray) -> FloatArray:
        return p if self.form == "linear" else np.log(p)

    def gprime(self, p: FloatArray) -> FloatArray:
        return np.ones_like(p) if self.form == "linear" else 1.0 / p

    def shares(self, p: FloatArray) -> FloatArray:
        u = (self.alpha - self.b[:, None] * self.g(p)[None, :]) / self.mu
        top = np.maximum(u.max(axis=1), self.outside / self.mu)
        w = np.exp(u - top[:, None])
        return w / (w.sum(axis=1) + np.exp(self.outside / self.mu - top))[:, None]

    def demand(self, p: FloatArray) -> FloatArray:
        return self.volume @ self.shares(p)

    def normalized_foc(self, p: FloatArray) -> FloatArray:
        s = self.shares(p)
        demand = self.volume @ s
        weight = self.volume * self.b / self.mu
        slope = self.gprime(p)[:, None] * (np.einsum("e,ei,ej->ij", weight, s, s) - np.diag(weight @ s))
        margin = p - self.cost
        out = np.empty_like(p)
        for group in self.groups:
            idx = list(group)
            out[idx] = demand[idx] + slope[np.ix_(idx, idx)] @ margin[idx]
        return out / demand

    def equilibrium(self) -> FloatArray:
        start = self.cost + self.mu / float(np.mean(self.b)) * (1.0 if self.form == "linear" else self.cost)
        sol = root(self.normalized_foc, start, method="hybr", options={"xtol": 1e-13})
        assert np.abs(self.normalized_foc(sol.x)).max() < 1e-10, sol.message
        assert np.all(sol.x > self.cost)
        return sol.x


def offer_prices(model: InferenceMarket) -> dict[tuple[int, int], float]:
    """Posted price of each (holder, region) offer at the model's last step."""
    offers = model.offers
    assert offers is not None
    return {(int(h), int(r)): float(p) for h, r, p in zip(offers.holder, offers.region, offers.price, strict=True)}


@pytest.mark.parametrize("form", ["linear", "log"])
@pytest.mark.parametrize("objective", ["owner", "industry"])
def test_heterogeneous_buyers_converge_to_exact_first_order_conditions(
    make_pricing_game: Any, form: str, objective: str
) -> None:
    """Forty buyers of log-normal size (sigma 0.7) and price weight (sigma 0.5), three firms: the model's
    prices solve the exact Nash (owner) or joint-profit (industry) FOCs of that heterogeneous demand, whose
    buyer sizes and weights are read from the model's population before it runs."""
    firms = [(2.0, 1.0), (3.0, 1.3), (2.5, 0.9)]
    data = make_pricing_game(firms, mu=0.3, outside_value=0.2, utility_form=form, objective=objective, steps=100)
    data["segments"][0].update(n_agents=40, demand_dispersion=0.7, price_sensitivity=1.5 if form == "log" else 1.0,
                               price_sensitivity_dispersion=0.5)
    model = InferenceMarket(scenario_from_dict(data), seed=4)
    pop = model.population
    assert np.ptp(pop.base_demand) > 0 and np.ptp(pop.price_sensitivity) > 0 and np.all(pop.elasticity == 0)
    quality = np.array([q for q, _ in firms])
    game = HeterogeneousGame(
        alpha=np.tile(quality if form == "linear" else np.log(quality), (pop.size, 1)),
        b=pop.price_sensitivity.copy(),
        volume=pop.base_demand.copy(),
        cost=np.array([c for _, c in firms]),
        outside=0.2,
        mu=0.3,
        form=form,
        groups=((0,), (1,), (2,)) if objective == "owner" else ((0, 1, 2),),
    )
    model.run()
    prices = offer_prices(model)
    got = np.array([prices[(h, 0)] for h in range(3)])
    np.testing.assert_allclose(got, game.equilibrium(), atol=THEORY_TOL)


@pytest.mark.parametrize("objective", ["owner", "industry"])
def test_multiproduct_firm_across_regions(make_pricing_game: Any, objective: str) -> None:
    """Firm A serves two regions (two offers, one owner), firm B only the first. Buyers pay a latency penalty
    (0.3 in na, 0.5 in eu) for an offer served from the other region, so A's two offers are differentiated
    products it prices jointly; B prices alone (Nash) or everything is priced jointly (industry)."""
    data = make_pricing_game([(2.0, 1.0), (2.2, 1.1)], mu=0.25, objective=objective, steps=80)
    data["regions"] = [{"name": "na", "latency_penalty": 0.3, "demand_share": 0.6},
                       {"name": "eu", "latency_penalty": 0.5, "demand_share": 0.4}]
    data["segments"][0]["n_agents"] = 50
    data["providers"][0]["regions"] = ["na", "eu"]
    data["providers"][1]["regions"] = ["na"]
    model = InferenceMarket(scenario_from_dict(data), seed=0)
    region = model.population.region.copy()
    assert 0 < int((region == 1).sum()) < 50
    # Offers: 0 = A in na, 1 = A in eu, 2 = B in na.
    offer_region = np.array([0, 1, 0])
    latency = np.array([0.3, 0.5])
    quality = np.array([2.0, 2.0, 2.2])
    alpha = quality[None, :] - latency[region][:, None] * (offer_region[None, :] != region[:, None])
    game = HeterogeneousGame(alpha=alpha, b=np.ones(50), volume=np.ones(50), cost=np.array([1.0, 1.0, 1.1]),
                             outside=0.0, mu=0.25, form="linear",
                             groups=((0, 1), (2,)) if objective == "owner" else ((0, 1, 2),))
    model.run()
    prices = offer_prices(model)
    got = np.array([prices[(0, 0)], prices[(0, 1)], prices[(1, 0)]])
    expected = game.equilibrium()
    np.testing.assert_allclose(got, expected, atol=THEORY_TOL)
    if objective == "owner":
        # Pricing the two offers jointly is not the same as pricing them as rivals.
        rivals = replace(game, groups=((0,), (1,), (2,))).equilibrium()
        assert np.abs(rivals - expected).max() > 10 * THEORY_TOL
    # Concentration by ultimate owner on revenue, whole market and per buyer region: A owns offers 0 and 1.
    shares = game.shares(expected)
    expected_hhi = {}
    for name, buyers in (("hhi", np.ones(50, dtype=bool)), ("hhi_na", region == 0), ("hhi_eu", region == 1)):
        revenue = shares[buyers].sum(axis=0) * expected
        by_owner = np.array([revenue[0] + revenue[1], revenue[2]])
        expected_hhi[name] = float(np.sum((100.0 * by_owner / by_owner.sum()) ** 2))
    last = model.recorder.frames()["model"].iloc[-1]
    for name, value in expected_hhi.items():
        assert last[name] == pytest.approx(value, rel=1e-6), name


@pytest.mark.parametrize("rounds", [0, 3])
@pytest.mark.parametrize("capacity", [0.3, 0.45])
def test_capacity_bound_firm_prices_at_market_clearing(make_pricing_game: Any, capacity: float, rounds: int) -> None:
    """Calvano duopoly where firm 1 can serve only K < its Nash share 0.4714. Its profit (p - c) min(D, K)
    peaks where demand just fills capacity, s_1(p) = K; firm 2 best-responds, p_2 = c + mu/(1 - s_2).
    Solved with scipy.optimize.root; the constraint binds (firm 1's unconstrained best response is lower)."""
    mu = 0.25
    data = make_pricing_game([(2.0, 1.0), (2.0, 1.0)], steps=80)
    data["providers"][0]["capacity_mtok_per_month"] = capacity
    data["simulation"]["rationing_rounds"] = rounds

    def shares(p: FloatArray) -> FloatArray:
        w = np.exp((2.0 - p) / mu)
        return w / (w.sum() + 1.0)

    def conditions(p: FloatArray) -> list[float]:
        s = shares(p)
        return [s[0] - capacity, p[1] - 1.0 - mu / (1.0 - s[1])]

    sol = root(conditions, np.array([1.5, 1.5]), options={"xtol": 1e-13})
    assert np.abs(conditions(sol.x)).max() < 1e-12
    free = brentq(lambda p1: p1 - 1.0 - mu / (1.0 - shares(np.array([p1, sol.x[1]]))[0]), 1.0, 5.0)
    assert free < sol.x[0]
    outcome = play(scenario_from_dict(data))
    np.testing.assert_allclose(outcome.price, sol.x, atol=THEORY_TOL)
    assert outcome.served[0] <= capacity * (1 + 1e-12)
    assert outcome.served[0] == pytest.approx(capacity, rel=1e-6)


def test_slack_capacity_leaves_nash_unchanged(make_pricing_game: Any) -> None:
    """Capacity 0.6 above the Nash share 0.4714: prices stay at 1.4729."""
    data = make_pricing_game([(2.0, 1.0), (2.0, 1.0)], steps=60)
    data["providers"][0]["capacity_mtok_per_month"] = 0.6
    data["simulation"]["rationing_rounds"] = 2
    np.testing.assert_allclose(play(scenario_from_dict(data)).price, 1.4729, atol=THEORY_TOL)


@pytest.mark.parametrize(
    ("segment", "edge"),
    [
        ({"switching_cost": 0.3}, 0.3),
        ({"switching_cost": 0.1, "switching_cost_growth_per_year": 1.2, "switching_cost_max": 0.5}, 0.5),
    ],
    ids=["constant", "growing-to-cap"],
)
def test_switching_cost_is_an_incumbency_edge(make_pricing_game: Any, segment: dict[str, float], edge: float) -> None:
    """The buyer's main provider is firm 2 (cheaper at step 0). Every other offer then costs the switching cost
    k in utility, so the game is the logit duopoly with qualities (a - k, a): Nash prices from the FOCs. With
    a cost growing 1.2 a year from 0.1, capped at 0.5, the edge after five years is the cap."""
    data = make_pricing_game([(2.0, 1.0), (2.0, 1.0)], steps=60)
    data["providers"][1]["initial_price_usd_per_mtok"] = 1.2
    data["segments"][0].update(segment)
    game = LogitGame(quality=np.array([2.0 - edge, 2.0]), cost=np.array([1.0, 1.0]), outside=0.0, mu=0.25)
    outcome = play(scenario_from_dict(data))
    np.testing.assert_allclose(outcome.price, game.bertrand_nash(), atol=THEORY_TOL)
    np.testing.assert_allclose(outcome.served, game.shares(outcome.price), rtol=1e-9)


def test_rationing_overflow_by_hand_and_against_the_clearing() -> None:
    """One buyer, V = 10, shares 0.5 / 0.3, outside 0.2; offer 0 has capacity 2 (demand 5, fill 0.4), offer 1
    is open. Rationed volume r = 10 x 0.5 x 0.6 = 3 is re-offered to offer 1 and the outside option:
    O_1 = 3 x 0.3 / (0.3 + 0.2) = 1.8, which is what one rationing round of the clearing serves it."""
    from market.clearing import clear_logit_market
    from market.pricing import rationing_overflow

    shares, volume = np.array([[0.5, 0.3]]), np.array([10.0])
    capacity = np.array([2.0, 100.0])
    np.testing.assert_allclose(rationing_overflow(shares, volume, capacity), [0.0, 1.8], rtol=1e-15)
    served = clear_logit_market(shares, np.array([0.2]), volume, capacity, np.ones(2), rounds=1).served
    np.testing.assert_allclose(served, [2.0, 3.0 + 1.8], rtol=1e-15)
    assert not rationing_overflow(shares, volume, np.full(2, np.inf)).any()
