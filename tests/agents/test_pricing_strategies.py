"""Pricing strategies (agents/pricing.py): each decision rule on hand-built views, and the registry."""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from scipy.special import lambertw

from agents.pricing import (
    PRICING_STRATEGIES,
    AdaptiveStrategy,
    BestResponseStrategy,
    CostPlusStrategy,
    PredatoryStrategy,
    PricingView,
    ShareAcquisitionStrategy,
    make_pricing_strategy,
)
from market.config import (
    AdaptivePricing,
    BestResponsePricing,
    CostPlusPricing,
    PredatoryPricing,
    ShareAcquisitionPricing,
)

BASE_VIEW: dict[str, Any] = {
    "step": 5,
    "unit_cost": np.array([2.0]),
    "last_price": np.array([3.0]),
    "demand": np.array([1.0]),
    "own_slope": np.array([0.0]),
    "beta": np.array([0.0]),
    "recapture_owner": np.array([0.0]),
    "recapture_industry": np.array([0.0]),
    "rival_price": np.array([np.nan]),
    "capacity": np.array([math.inf]),
    "last_profit": 0.0,
    "cash": 1e6,
    "credit_limit": 0.0,
    "utility_form": "linear",
    "observed": True,
    "region": (),
    "pool": np.zeros(0, dtype=np.int64),
    "capacity_weight": np.zeros(0),
    "pool_capacity": np.zeros(0),
}


def view(**changes: Any) -> PricingView:
    """A PricingView: BASE_VIEW with ``changes`` (every field of the dataclass must be known here)."""
    values = {**BASE_VIEW, **changes}
    values.setdefault("marginal_cost", values["unit_cost"])  # a fixed unit cost: marginal cost = unit cost
    return PricingView(**{f.name: values[f.name] for f in fields(PricingView)})


# ---------------------------------------------------------------------------------------------------------
# cost plus
# ---------------------------------------------------------------------------------------------------------


def test_cost_plus_is_exact_markup() -> None:
    strategy = CostPlusStrategy(CostPlusPricing(markup=0.25))
    prices = strategy.decide(view(unit_cost=np.array([2.0, 0.8, 4.4])))
    np.testing.assert_array_equal(prices, [2.5, 1.0, 5.5])


# ---------------------------------------------------------------------------------------------------------
# best response
# ---------------------------------------------------------------------------------------------------------


def homogeneous_observation(a: float, price: float, rest: float, mu: float) -> dict[str, Any]:
    """Demand, slope and beta of one offer with utility a - p against rest = sum of other logit weights."""
    w = math.exp((a - price) / mu)
    s = w / (w + rest)
    return {"last_price": np.array([price]), "demand": np.array([s]), "own_slope": np.array([s * (1 - s) / mu]),
            "beta": np.array([1.0 / mu])}


def lambert_w_price(a: float, cost: float, rest: float, mu: float) -> float:
    """p = c + mu (1 + W(exp((a - c)/mu) / rest / e)): the exact linear-logit best response (b = 1)."""
    return cost + mu * (1.0 + lambertw(math.exp((a - cost) / mu - 1.0) / rest).real)


def test_best_response_holds_price_before_any_observation() -> None:
    strategy = BestResponseStrategy(BestResponsePricing())
    np.testing.assert_array_equal(strategy.decide(view(observed=False, last_price=np.array([4.2]))), [4.2])


@pytest.mark.parametrize(("objective", "owner_term", "industry_term"), [("owner", 0.2, 0.5), ("industry", 0.2, 0.5)])
def test_best_response_uses_the_recapture_of_its_objective(objective: str, owner_term: float,
                                                           industry_term: float) -> None:
    """The effective cost is unit cost plus the margin recaptured by partners (own group or whole industry);
    with it the strategy returns the Lambert-W best response."""
    a, mu, rest = 2.0, 0.25, 1.0 + math.exp(0.5 / 0.25)
    strategy = BestResponseStrategy(BestResponsePricing(objective=objective))  # type: ignore[arg-type]
    got = strategy.decide(view(unit_cost=np.array([1.0]), recapture_owner=np.array([owner_term]),
                               recapture_industry=np.array([industry_term]),
                               **homogeneous_observation(a, 1.6, rest, mu)))
    extra = owner_term if objective == "owner" else industry_term
    assert got[0] == pytest.approx(lambert_w_price(a, 1.0 + extra, rest, mu), rel=1e-9)


def test_best_response_damping_is_partial_adjustment() -> None:
    """Damping d: p = d * best response + (1 - d) * last price."""
    a, mu, rest = 2.0, 0.25, 2.0
    obs = homogeneous_observation(a, 1.2, rest, mu)
    target = lambert_w_price(a, 1.0, rest, mu)
    strategy = BestResponseStrategy(BestResponsePricing(damping=0.3))
    got = strategy.decide(view(unit_cost=np.array([1.0]), **obs))
    assert got[0] == pytest.approx(0.3 * target + 0.7 * 1.2, rel=1e-9)


# ---------------------------------------------------------------------------------------------------------
# share acquisition
# ---------------------------------------------------------------------------------------------------------


def test_share_acquisition_recovers_after_max_months() -> None:
    """Discount 0.3 for exactly max_months = 3 months while losses are affordable, then cost x 1.4 for good."""
    strategy = ShareAcquisitionStrategy(ShareAcquisitionPricing(discount=0.3, max_months=3, recovery_markup=0.4))
    prices = [strategy.decide(view(unit_cost=np.array([10.0]), last_profit=-1.0))[0] for _ in range(6)]
    np.testing.assert_allclose(prices, [7.0, 7.0, 7.0, 14.0, 14.0, 14.0], rtol=1e-15)


def test_share_acquisition_recovers_when_runway_runs_out() -> None:
    """Loss 100 a month, runway 12 months: keep subsidizing while cash + credit > 1,200."""
    strategy = ShareAcquisitionStrategy(ShareAcquisitionPricing(discount=0.2, runway_months=12, max_months=36,
                                                                recovery_markup=0.5))
    cost = np.array([1.0, 2.0])
    first = strategy.decide(view(unit_cost=cost, last_profit=-100.0, cash=1000.0, credit_limit=500.0))
    np.testing.assert_allclose(first, [0.8, 1.6], rtol=1e-15)
    second = strategy.decide(view(unit_cost=cost, last_profit=-100.0, cash=600.0, credit_limit=500.0))
    np.testing.assert_allclose(second, [1.5, 3.0], rtol=1e-15)
    # Recovery is final: a cash windfall does not restart the subsidy.
    third = strategy.decide(view(unit_cost=cost, last_profit=-100.0, cash=1e9, credit_limit=500.0))
    np.testing.assert_allclose(third, [1.5, 3.0], rtol=1e-15)


def test_share_acquisition_without_losses_is_limited_only_by_max_months() -> None:
    strategy = ShareAcquisitionStrategy(ShareAcquisitionPricing(discount=0.5, max_months=2, recovery_markup=0.0))
    got = [strategy.decide(view(unit_cost=np.array([4.0]), last_profit=50.0, cash=0.0))[0] for _ in range(3)]
    assert got == [2.0, 2.0, 4.0]


# ---------------------------------------------------------------------------------------------------------
# adaptive (profit hill-climbing)
# ---------------------------------------------------------------------------------------------------------


def test_adaptive_follows_the_gradient_of_its_contribution() -> None:
    """Marginal cost 1, step 0.05, decay 0.8. Price 3 with demand 6 and slope 2: d/dp (p - 1) D = 6 - 2 x 2 = 2 > 0,
    so up by e^0.05. Then demand 2, slope 2 at p1 = 3 e^0.05: 2 - 2 (p1 - 1) < 0, so down with the step shrunk to
    0.04. Down again (same gradient sign): the step grows by 1/sqrt(0.8) to 0.04/sqrt(0.8)."""
    strategy = AdaptiveStrategy(AdaptivePricing(step=0.05, step_decay=0.8, min_step=0.005, max_step=0.2,
                                                floor_markup=-0.9))
    cost = np.array([1.0])
    p1 = strategy.decide(view(unit_cost=cost, last_price=np.array([3.0]), demand=np.array([6.0]),
                              own_slope=np.array([2.0])))
    np.testing.assert_allclose(p1, 3.0 * math.exp(0.05), rtol=1e-15)
    p2 = strategy.decide(view(unit_cost=cost, last_price=p1, demand=np.array([2.0]), own_slope=np.array([2.0])))
    np.testing.assert_allclose(p2, p1 * math.exp(-0.04), rtol=1e-15)
    p3 = strategy.decide(view(unit_cost=cost, last_price=p2, demand=np.array([2.0]), own_slope=np.array([2.0])))
    np.testing.assert_allclose(p3, p2 * math.exp(-0.04 / math.sqrt(0.8)), rtol=1e-14)


def test_adaptive_raises_a_price_whose_capacity_binds() -> None:
    """Demand 10 above capacity 5: the contribution (p - c) min(D, K) rises with p at rate K, whatever the slope."""
    strategy = AdaptiveStrategy(AdaptivePricing(step=0.05))
    got = strategy.decide(view(last_price=np.array([3.0]), demand=np.array([10.0]), own_slope=np.array([100.0]),
                               capacity=np.array([5.0])))
    np.testing.assert_allclose(got, 3.0 * math.exp(0.05), rtol=1e-15)


def test_adaptive_ignores_cost_cuts_and_settles_at_the_revenue_maximum() -> None:
    """Hand-made months: demand D(p) = 100 - 10 p never changes, marginal cost 0 (a fleet), while the fleet's
    unit cost (and so total cost) falls 5% a month, so total profit p D(p) - fixed cost rises every month even
    where the price moves the wrong way. The contribution p D(p) peaks at p = 5 (100 - 20 p = 0). Starting
    at 6 the price must never rise above 6 and ends within 1% of 5."""
    strategy = AdaptiveStrategy(AdaptivePricing(step=0.04, step_decay=0.8, min_step=0.002, floor_markup=-1.0))
    price = np.array([6.0])
    path = [6.0]
    for month in range(60):
        unit_cost = np.array([4.0 * 0.95**month])
        demand = np.array([100.0 - 10.0 * price[0]])
        fixed_cost = unit_cost[0] * 70.0
        price = strategy.decide(view(step=month, unit_cost=unit_cost, marginal_cost=np.zeros(1), last_price=price,
                                     demand=demand, own_slope=np.array([10.0]), capacity=np.array([math.inf]),
                                     last_profit=float(price[0] * demand[0] - fixed_cost)))
        path.append(float(price[0]))
    assert max(path) == 6.0
    assert path[-1] == pytest.approx(5.0, rel=0.01)


def test_adaptive_step_never_falls_below_min_step() -> None:
    """The gradient's sign alternates every month, so the step shrinks by 0.5 each time, down to 0.01."""
    strategy = AdaptiveStrategy(AdaptivePricing(step=0.05, step_decay=0.5, min_step=0.01, floor_markup=-1.0))
    price = np.array([2.0])
    for month in range(7):
        demand = np.array([10.0 if month % 2 == 0 else 1.0])  # gradient 10 - 2 x 1 > 0, then 1 - 2 x 1 < 0
        new = strategy.decide(view(unit_cost=np.array([0.1]), marginal_cost=np.zeros(1), last_price=price,
                                   demand=demand, own_slope=np.array([1.0])))
        step = abs(math.log(new[0] / price[0]))
        assert step >= 0.01 - 1e-12
        price = new
    assert step == pytest.approx(0.01, rel=1e-12)


def test_adaptive_moves_down_when_nothing_sells() -> None:
    """Zero demand gives no gradient: the price moves down, by 0.05 and then by 0.05 / sqrt(0.8)."""
    strategy = AdaptiveStrategy(AdaptivePricing(step=0.05, step_decay=0.8))
    got = strategy.decide(view(unit_cost=np.array([1.0]), last_price=np.array([3.0]), demand=np.array([0.0])))
    np.testing.assert_allclose(got, 3.0 * math.exp(-0.05), rtol=1e-15)
    again = strategy.decide(view(unit_cost=np.array([1.0]), last_price=got, demand=np.array([0.0])))
    np.testing.assert_allclose(again, 3.0 * math.exp(-0.05 - 0.05 / math.sqrt(0.8)), rtol=1e-14)


def test_adaptive_never_prices_below_its_floor() -> None:
    """Floor = unit cost x (1 + floor_markup) = 2 x 0.8 = 1.6; nothing sold pushes 1.61 down, to the floor."""
    strategy = AdaptiveStrategy(AdaptivePricing(step=0.05, floor_markup=-0.2))
    got = strategy.decide(view(unit_cost=np.array([2.0]), last_price=np.array([1.61]), demand=np.array([0.0])))
    np.testing.assert_array_equal(got, [1.6])


def test_adaptive_keeps_its_price_before_any_observation() -> None:
    strategy = AdaptiveStrategy(AdaptivePricing(step=0.05))
    got = strategy.decide(view(last_price=np.array([3.0]), observed=False))
    np.testing.assert_array_equal(got, [3.0])


# ---------------------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------------------


def test_registry_maps_config_names_to_strategies() -> None:
    assert set(PRICING_STRATEGIES) >= {"cost_plus", "best_response", "share_acquisition", "adaptive"}
    assert isinstance(make_pricing_strategy(CostPlusPricing()), CostPlusStrategy)
    assert isinstance(make_pricing_strategy(BestResponsePricing()), BestResponseStrategy)
    assert isinstance(make_pricing_strategy(ShareAcquisitionPricing()), ShareAcquisitionStrategy)
    assert isinstance(make_pricing_strategy(AdaptivePricing()), AdaptiveStrategy)
    for name, cls in PRICING_STRATEGIES.items():
        assert cls.name == name


def test_registry_names_unknown_strategy_and_the_known_ones() -> None:
    with pytest.raises(KeyError) as excinfo:
        make_pricing_strategy(SimpleNamespace(strategy="tit_for_tat"))  # type: ignore[arg-type]
    message = excinfo.value.args[0]
    assert "unknown pricing strategy 'tit_for_tat'" in message
    for name in ("adaptive", "best_response", "cost_plus", "q_learning", "share_acquisition"):
        assert name in message


def test_strategies_keep_state_per_instance() -> None:
    """Two providers with the same share_acquisition config do not share a subsidy clock."""
    params = ShareAcquisitionPricing(discount=0.5, max_months=1, recovery_markup=0.0)
    first, second = make_pricing_strategy(params), make_pricing_strategy(params)
    v = view(unit_cost=np.array([2.0]))
    assert first.decide(v)[0] == 1.0
    assert first.decide(v)[0] == 2.0
    assert second.decide(v)[0] == 1.0


# ---------------------------------------------------------------------------------------------------------
# predatory
# ---------------------------------------------------------------------------------------------------------


def predator(**params: Any) -> PredatoryStrategy:
    defaults: dict[str, Any] = {"target_regions": ["eu"], "discount": 0.25, "start_step": 2, "horizon_months": 3,
                                "cash_reserve_usd": 1e6}
    return PredatoryStrategy(PredatoryPricing(**{**defaults, **params}))


def predator_view(step: int, cash: float, rival: float = np.nan) -> PricingView:
    """Two offers (na, eu), unit cost 2, marginal cost 0; last month's demand 6 at price 2 with slope 2 and
    beta 1 (linear): the fitted logit has share 2/3, so p (1 - s(p)) = 1 puts the best response above 2."""
    two = np.full(2, 2.0)
    return view(step=step, unit_cost=two, marginal_cost=np.zeros(2), last_price=two, demand=np.full(2, 6.0),
                own_slope=np.full(2, 2.0), beta=np.ones(2), capacity=np.full(2, math.inf), cash=cash,
                rival_price=np.full(2, rival), recapture_owner=np.zeros(2), region=("na", "eu"))


def test_predatory_subsidises_the_target_region_below_cost_only_during_its_campaign() -> None:
    """Months 2-4 (start 2, horizon 3) with cash above the reserve: the eu offer is priced at 2 x 0.75 = 1.5, below
    the unit cost 2; the na offer, and every offer outside the campaign, at the best response (the same price
    as ``best_response``)."""
    strategy = predator()
    best = BestResponseStrategy(BestResponsePricing()).decide(predator_view(0, 1e9))
    assert best[0] > 2.0  # above unit cost: pricing at zero marginal cost is not pricing below cost
    for step, eu in [(0, best[1]), (1, best[1]), (2, 1.5), (3, 1.5), (4, 1.5), (5, best[1]), (6, best[1])]:
        got = strategy.decide(predator_view(step, 1e9))
        np.testing.assert_allclose(got, [best[0], eu], rtol=1e-12)


def test_predatory_stops_for_good_when_cash_falls_below_its_reserve() -> None:
    strategy = predator(horizon_months=24)
    assert strategy.decide(predator_view(2, 2e6))[1] == pytest.approx(1.5)
    below = strategy.decide(predator_view(3, 5e5))[1]
    assert below > 2.0
    assert strategy.decide(predator_view(4, 1e9))[1] == pytest.approx(below)  # cash back up: still stopped


def test_predatory_undercuts_rivals_and_targets_every_region_by_default() -> None:
    """Undercut 10% of the rivals' 1.2: min(1.5, 1.08) = 1.08 in both regions (no target list)."""
    strategy = predator(target_regions=[], undercut=0.1)
    np.testing.assert_allclose(strategy.decide(predator_view(2, 1e9, rival=1.2)), [1.08, 1.08], rtol=1e-12)


def test_predatory_is_configured_from_toml_and_checks_its_regions(tmp_path: Any) -> None:
    from market.config.files import load_scenario

    base = Path("experiments/configs/baseline.toml").read_text()
    line = 'pricing = { strategy = "best_response" }'
    assert line in base
    predatory = ('pricing = { strategy = "predatory", target_regions = ["eu"], discount = 0.3, start_step = 6, '
                 'horizon_months = 18, cash_reserve_usd = 1e10 }')
    path = tmp_path / "predation.toml"
    path.write_text(base.replace(line, predatory, 1))
    pricing = load_scenario(path).providers[0].pricing
    assert isinstance(pricing, PredatoryPricing)
    assert (pricing.target_regions, pricing.discount, pricing.start_step, pricing.horizon_months,
            pricing.cash_reserve_usd) == (["eu"], 0.3, 6, 18, 1e10)
    path.write_text(base.replace(line, predatory.replace('["eu"]', '["mars"]'), 1))
    with pytest.raises(ValueError, match=r"providers\[0\]\.pricing\.target_regions: unknown region 'mars'"):
        load_scenario(path)
