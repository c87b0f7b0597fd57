"""Tiers sharing GPUs: one owner's best response against a shared capacity pool.

Theory (a multi-product monopolist with a capacity constraint; the Lagrangian of any constrained optimum): the
owner maximizes ``sum_o (p_o - c_o) D_o(p_o)`` subject to ``sum_o w_o D_o(p_o) <= C``. Where the constraint
binds every offer's price solves the one-offer first-order condition at cost ``c_o + lam w_o`` for one shadow
price ``lam`` per capacity unit. The tests check the model's solver against the optimum found directly by
scipy.optimize.minimize (SLSQP on the constrained problem), which uses no first-order condition of the model.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq, minimize, minimize_scalar

from agents.pricing import PricingView, best_response_prices
from market.pooled_pricing import pooled_best_response
from market.pricing import logit_best_response

BETA = np.array([4.0, 4.0])  # b / mu per offer (linear utility)
P0 = np.array([1.0, 0.4])  # last prices: a frontier tier and a small tier
S0 = np.array([0.5, 0.5])  # the offers' logit shares among their buyers at P0
MARKET = np.array([100.0, 300.0])  # Mtok their buyers demand in all (D = MARKET * s)
WEIGHT = np.array([1.0, 0.25])  # capacity units per Mtok (throughput multipliers 1 and 4)
COST = np.array([0.0, 0.0])  # a fleet's marginal cost


def fitted_demand(p: np.ndarray) -> np.ndarray:
    """The homogeneous logit through (P0, MARKET * S0) with slope beta: ``D = M / (1 + K exp(beta (p - p0)))``."""
    odds = (1.0 - S0) / S0
    return MARKET / (1.0 + odds * np.exp(BETA * (p - P0)))


def observed() -> dict[str, np.ndarray]:
    demand = MARKET * S0
    return {"demand": demand, "own_slope": BETA * S0 * (1.0 - S0) * MARKET, "beta": BETA}


def direct_optimum(capacity: float) -> np.ndarray:
    """argmax sum (p - c) D(p) s.t. sum w D(p) <= capacity, found directly: the unconstrained optimum by
    Nelder-Mead; if it overfills the pool, the constraint binds, so ``p_2`` is the price that fills what ``p_1``
    leaves (brentq) and profit is maximized over ``p_1`` alone (a grid, then a bounded scalar search)."""
    def profit(p: np.ndarray) -> float:
        return float((p - COST) @ fitted_demand(p))

    free = minimize(lambda p: -profit(p), P0, method="Nelder-Mead",
                    options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 20000}).x
    if WEIGHT @ fitted_demand(free) <= capacity:
        return np.asarray(free)

    def second(p1: float) -> float:
        left = capacity - WEIGHT[0] * fitted_demand(np.array([p1, 0.0]))[0]
        return float(brentq(lambda p2: WEIGHT[1] * fitted_demand(np.array([0.0, p2]))[1] - left, -50.0, 50.0,
                            xtol=1e-15))

    lo = float(brentq(lambda p1: WEIGHT[0] * fitted_demand(np.array([p1, 0.0]))[0] - capacity, -50.0, 50.0))
    grid = np.linspace(lo + 1e-6, 10.0, 4001)
    k = int(np.argmax([profit(np.array([p1, second(p1)])) for p1 in grid]))
    res = minimize_scalar(lambda p1: -profit(np.array([p1, second(p1)])),
                          bounds=(grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]), method="bounded",
                          options={"xatol": 1e-12})
    return np.array([res.x, second(res.x)])


def solve(capacity: float) -> np.ndarray:
    return pooled_best_response(cost=COST, price=P0, form="linear", weight=WEIGHT, pool=np.array([0, 0]),
                                pool_capacity=np.full(2, capacity), **observed())


def test_slack_pool_gives_the_unconstrained_best_responses() -> None:
    # Unconstrained demand at the optimum is about 88 capacity units; capacity 1,000 never binds.
    alone = logit_best_response(cost=COST, price=P0, form="linear", **observed())
    np.testing.assert_allclose(solve(1000.0), alone, rtol=1e-12)
    np.testing.assert_allclose(solve(1000.0), direct_optimum(1000.0), rtol=1e-5)


@pytest.mark.parametrize("capacity", [60.0, 40.0, 20.0])
def test_full_pool_prices_match_the_constrained_optimum(capacity: float) -> None:
    prices = solve(capacity)
    np.testing.assert_allclose(prices, direct_optimum(capacity), rtol=1e-4)
    assert WEIGHT @ fitted_demand(prices) == pytest.approx(capacity, rel=1e-9)  # the pool is just full


def test_full_pool_earns_one_shadow_price_per_capacity_unit() -> None:
    # Linear logit FOC at cost lam w: p - lam w = 1 / (beta (1 - s(p))), so lam is the same for both tiers.
    prices = solve(40.0)
    share = fitted_demand(prices) / MARKET
    lam = (prices - 1.0 / (BETA * (1.0 - share))) / WEIGHT
    assert lam[0] > 0 and lam[0] == pytest.approx(lam[1], rel=1e-8)


def test_best_response_strategy_prices_a_pool_jointly() -> None:
    # The pricing view of a provider with two tiers in one region: the strategy's prices are the constrained
    # optimum. Pricing each tier against its slice of the pool in proportion to last demand in capacity units
    # (the slot split, C w_s D_s / sum w D) leaves profit on the table: the shares there are not optimal.
    capacity = 40.0
    obs = observed()
    view = PricingView(step=3, unit_cost=np.array([0.5, 0.125]), marginal_cost=COST, last_price=P0,
                       demand=obs["demand"], own_slope=obs["own_slope"], beta=BETA, recapture_owner=np.zeros(2),
                       recapture_industry=np.zeros(2), rival_price=np.full(2, np.nan), capacity=np.zeros(2),
                       last_profit=0.0, cash=1.0, credit_limit=0.0, utility_form="linear", observed=True,
                       pool=np.array([0, 0]), capacity_weight=WEIGHT, pool_capacity=np.full(2, capacity))
    joint = best_response_prices(view, np.zeros(2))
    optimum = direct_optimum(capacity)
    np.testing.assert_allclose(joint, optimum, rtol=1e-4)
    units = WEIGHT * obs["demand"]
    slot = capacity * units / units.sum() / WEIGHT
    split = logit_best_response(cost=COST, price=P0, form="linear", capacity=slot, **obs)
    assert float(split @ fitted_demand(split)) < float(optimum @ fitted_demand(optimum)) * (1.0 - 1e-3)


def test_pools_of_one_owner_are_solved_separately() -> None:
    # Two pools of the same two tiers, one slack and one full: each pool gets its own answer, the one it gets
    # when solved alone.
    obs = observed()
    both = pooled_best_response(cost=np.tile(COST, 2), price=np.tile(P0, 2), form="linear",
                                weight=np.tile(WEIGHT, 2), pool=np.array([0, 0, 1, 1]),
                                pool_capacity=np.array([1000.0, 1000.0, 40.0, 40.0]),
                                demand=np.tile(obs["demand"], 2), own_slope=np.tile(obs["own_slope"], 2),
                                beta=np.tile(BETA, 2))
    np.testing.assert_allclose(both[:2], solve(1000.0), rtol=1e-12)
    np.testing.assert_allclose(both[2:], solve(40.0), rtol=1e-12)


def test_a_full_pool_whose_shadow_cost_passes_the_price_cap_clears_it() -> None:
    # Log utility, a fleet with zero marginal cost, and a price cap of 1,000 x an anchor of $1e-6 ($0.001): the
    # pool is so short that its shadow cost per Mtok passes the cap. The cap then does not hold the price down
    # (as logit_best_response's capacity floor does not): each tier is priced at its shadow cost and the pool
    # is just full. (This raised ZeroDivisionError in the compiled solver when the Newton iterate reached a cap
    # equal to the cost.)
    obs = observed()
    prices = pooled_best_response(cost=COST, price=P0, form="log", weight=WEIGHT, pool=np.array([0, 0]),
                                  pool_capacity=np.full(2, 5.0), price_anchor=np.full(2, 1e-6), **obs)
    assert np.all(np.isfinite(prices)) and np.all(prices > 1e-3)
    share0 = np.clip(1.0 - obs["own_slope"] / (BETA / P0 * obs["demand"]), 1e-12, 1.0 - 1e-12)
    market, odds = obs["demand"] / share0, (1.0 - share0) / share0
    used = WEIGHT @ (market / (1.0 + odds * np.exp(BETA * (np.log(prices) - np.log(P0)))))
    assert used == pytest.approx(5.0, rel=1e-9)
    assert prices[0] / WEIGHT[0] == pytest.approx(prices[1] / WEIGHT[1], rel=1e-9)  # one shadow price per unit


@settings(max_examples=150, deadline=None)
@given(cost=st.lists(st.floats(0.0, 2.0), min_size=3, max_size=3),
       share=st.lists(st.floats(0.01, 0.99), min_size=3, max_size=3),
       beta=st.lists(st.floats(0.3, 30.0), min_size=3, max_size=3),
       capacity=st.floats(1e-3, 1e4), anchor=st.floats(1e-9, 10.0), log_form=st.booleans())
def test_pooled_prices_are_finite_and_fill_no_pool_beyond_capacity(cost: list[float], share: list[float],
                                                                  beta: list[float], capacity: float,
                                                                  anchor: float, log_form: bool) -> None:
    # Any observed demand, cost, cap anchor and pool size: prices are finite and positive, and the fitted demand
    # at them uses at most the pool's capacity (to the bisection's tolerance) where the pool binds.
    form = "log" if log_form else "linear"
    p0, s, b = np.array([1.0, 0.4, 0.1]), np.array(share), np.array(beta)
    market = np.array([100.0, 300.0, 500.0])
    slope_scale = 1.0 / p0 if log_form else np.ones(3)
    demand, own_slope = market * s, b * slope_scale * s * (1.0 - s) * market
    weight = np.array([1.0, 0.25, 1.0 / 15.0])
    prices = pooled_best_response(cost=np.array(cost), price=p0, demand=demand, own_slope=own_slope, beta=b,
                                  form=form, weight=weight, pool=np.zeros(3, dtype=np.int64),
                                  pool_capacity=np.full(3, capacity), price_anchor=np.full(3, anchor))
    assert np.all(np.isfinite(prices)) and np.all(prices > 0)
    g = np.log(prices) - np.log(p0) if log_form else prices - p0
    with np.errstate(over="ignore"):  # a price far above the fitted market: its demand is 0
        used = weight @ (market / (1.0 + (1.0 - s) / s * np.exp(b * g)))
    assert used <= capacity * (1.0 + 1e-6)
