"""Clearing with capacity pools (a provider's tiers in a region share its GPUs): hand-worked cases and
properties (market.clearing.CapacityPools)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from market.clearing import CapacityPools, clear_logit_market, clear_with_volume_response, logit_shares


def pool_load(pools: CapacityPools, tokens: np.ndarray) -> np.ndarray:
    """Capacity units per pool: sum_{o in p} w_o x_o."""
    return np.bincount(pools.pool, weights=pools.weight * tokens, minlength=len(pools.capacity))

SHARES = np.array([[0.5, 0.3], [0.2, 0.6]])
OUTSIDE = np.array([0.2, 0.2])
VOLUME = np.array([100.0, 50.0])
PRICE = np.array([2.0, 1.0])


def test_two_tiers_in_one_full_pool_are_rationed_by_the_same_fraction() -> None:
    """Offers 0 (weight 1) and 1 (weight 1/2) share a pool of 45 capacity units. Demand 60 and 60 Mtok loads
    it with 60 + 30 = 90 units: fill 45/90 = 1/2 for both, so they serve 30 and 30 Mtok (45 units), and with
    no other offer open the rest is unmet: buyer 1 wants 80 and gets 50/2 + 30/2 = 40, buyer 2 wants 40 and
    gets 10/2 + 30/2 = 20."""
    pools = CapacityPools(pool=np.array([0, 0]), weight=np.array([1.0, 0.5]), capacity=np.array([45.0]))
    c = clear_logit_market(SHARES, OUTSIDE, VOLUME, None, PRICE, rounds=3, pools=pools)  # type: ignore[arg-type]
    np.testing.assert_allclose(c.served, [30.0, 30.0], rtol=1e-14)
    np.testing.assert_allclose(c.allocation, [[25.0, 15.0], [5.0, 15.0]], rtol=1e-14)
    np.testing.assert_allclose(c.unmet, [40.0, 20.0], rtol=1e-12)
    assert float(pool_load(pools, c.served)[0]) == 45.0


def test_a_pool_of_half_weight_tokens_holds_twice_the_tokens() -> None:
    """Offer 1 weighs 1/2 unit per Mtok in a pool of 40 units: the same clearing as a plain offer of 80 Mtok
    (test_clearing's hand example: allocation [[25, 45], [5, 33.75]])."""
    pools = CapacityPools(pool=np.array([0, 1]), weight=np.array([1.0, 0.5]), capacity=np.array([30.0, 40.0]))
    c = clear_logit_market(SHARES, OUTSIDE, VOLUME, None, PRICE, rounds=3, pools=pools)  # type: ignore[arg-type]
    np.testing.assert_allclose(c.allocation, [[25.0, 45.0], [5.0, 33.75]], rtol=1e-14)


@st.composite
def pooled_markets(draw: st.DrawFn) -> dict[str, object]:
    n_ent, n_off = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    n_pools = draw(st.integers(1, n_off))
    return {
        "utility": draw(hnp.arrays(np.float64, (n_ent, n_off), elements=st.floats(-4.0, 4.0))),
        "outside": draw(hnp.arrays(np.float64, n_ent, elements=st.floats(-4.0, 4.0))),
        "volume": draw(hnp.arrays(np.float64, n_ent, elements=st.floats(0.0, 100.0))),
        "price": draw(hnp.arrays(np.float64, n_off, elements=st.floats(0.01, 10.0))),
        "pool": draw(hnp.arrays(np.int64, n_off, elements=st.integers(0, n_pools - 1))),
        "weight": draw(hnp.arrays(np.float64, n_off, elements=st.sampled_from([1.0, 0.25, 1.0 / 15.0]))),
        "capacity": draw(hnp.arrays(np.float64, n_pools,
                                    elements=st.one_of(st.just(math.inf), st.floats(0.0, 150.0)))),
        "rounds": draw(st.integers(0, 4)),
    }


@given(pooled_markets())
def test_a_pool_never_serves_more_than_its_capacity_and_money_is_conserved(m: dict[str, object]) -> None:
    shares, outside = logit_shares(m["utility"], m["outside"], 0.5)  # type: ignore[arg-type]
    pools = CapacityPools(pool=m["pool"], weight=m["weight"], capacity=m["capacity"])  # type: ignore[arg-type]
    c = clear_logit_market(shares, outside, m["volume"], None, m["price"], m["rounds"],  # type: ignore[arg-type]
                           pools=pools)
    cap = pools.capacity
    assert np.all(pool_load(pools, c.served) <= np.where(np.isfinite(cap), cap * (1 + 1e-12) + 1e-9, np.inf))
    np.testing.assert_allclose(c.spend.sum(), c.revenue.sum(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(c.served_by_enterprise + c.unmet, c.inside_demand, rtol=1e-9, atol=1e-9)


@given(pooled_markets())
def test_one_pool_per_offer_is_todays_clearing(m: dict[str, object]) -> None:
    shares, outside = logit_shares(m["utility"], m["outside"], 0.5)  # type: ignore[arg-type]
    capacity = np.asarray(m["capacity"])[np.asarray(m["pool"])]
    pools = CapacityPools.per_offer(capacity)
    args = (shares, outside, np.asarray(m["volume"]), np.ones(len(outside)), np.full(len(outside), 0.5), capacity,
            np.asarray(m["price"]), int(m["rounds"]))  # type: ignore[call-overload]
    a = clear_with_volume_response(*args)
    b = clear_with_volume_response(*args, pools=pools)
    np.testing.assert_allclose(a.allocation, b.allocation, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(a.served, b.served, rtol=1e-12, atol=1e-300)
