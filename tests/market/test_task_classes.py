"""Clearing with task classes and capacity pools (market/clearing.py, market/task_classes.py).

Independent answers: (a) a clearing with K task classes is the single-class clearing of a row-expanded market in
which every (enterprise, class) is a buyer of its own whose ineligible offers have EXCLUDED utility; (b) a
pool of two offers with capacity weights 1 and 1/4, rationed by hand; (d) conservation identities with classes
and pools (hypothesis).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from market.clearing import (
    CapacityPools,
    Clearing,
    TaskClasses,
    clear_logit_market,
    clear_with_volume_response,
    logit_shares,
)
from market.demand import EXCLUDED
from market.task_classes import group_rows

FloatArray = NDArray[np.float64]


def expanded_market(utility: FloatArray, outside: FloatArray, volume: FloatArray,
                    classes: TaskClasses) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Rows (e, k) in the order e * K + k: utility with ineligible offers EXCLUDED, outside utility, volume."""
    n_ent, n_off = utility.shape
    k = classes.n_classes
    eligible = classes.eligible[classes.group]  # E x K x O (fine for a test of a few rows)
    rows_utility = np.where(eligible, utility[:, None, :], EXCLUDED).reshape(n_ent * k, n_off)
    rows_volume = (volume[:, None] * classes.mix[classes.group]).reshape(-1)
    return rows_utility, np.repeat(outside, k), rows_volume


@st.composite
def class_markets(draw: st.DrawFn) -> dict[str, object]:
    """1-6 enterprises in 1-3 routing groups, 1-3 classes, 1-5 offers with random eligibility and capacities."""
    n_ent, n_off = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    n_groups, n_classes = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    utility = draw(hnp.arrays(np.float64, (n_ent, n_off), elements=st.floats(-3.0, 3.0)))
    outside = draw(hnp.arrays(np.float64, n_ent, elements=st.floats(-3.0, 3.0)))
    raw_mix = draw(hnp.arrays(np.float64, (n_groups, n_classes), elements=st.floats(0.01, 1.0)))
    eligible = draw(hnp.arrays(np.bool_, (n_groups, n_classes, n_off)))
    group = draw(hnp.arrays(np.int64, n_ent, elements=st.integers(0, n_groups - 1)))
    return {
        "utility": utility, "outside": outside, "mu": draw(st.floats(0.2, 2.0)),
        "volume": draw(hnp.arrays(np.float64, n_ent, elements=st.floats(0.0, 50.0))),
        "price": draw(hnp.arrays(np.float64, n_off, elements=st.floats(0.1, 10.0))),
        "capacity": draw(hnp.arrays(np.float64, n_off, elements=st.one_of(st.just(math.inf), st.floats(0.0, 60.0)))),
        "rounds": draw(st.integers(0, 4)),
        "classes": TaskClasses(group=group, mix=raw_mix / raw_mix.sum(axis=1, keepdims=True), eligible=eligible),
    }


@settings(max_examples=150, deadline=None)
@given(class_markets())
def test_classes_equal_the_single_class_clearing_of_the_row_expanded_market(m: dict[str, object]) -> None:
    """(a) Per-offer pools: allocation summed over classes, demand, served and revenue equal the expanded
    market's to 1e-12, and served_by_class equals the expanded rows' tokens served."""
    utility, outside, volume = m["utility"], m["outside"], m["volume"]
    classes: TaskClasses = m["classes"]  # type: ignore[assignment]
    mu, price, capacity, rounds = m["mu"], m["price"], m["capacity"], m["rounds"]
    shares, outside_share = logit_shares(utility, outside, mu)  # type: ignore[arg-type]
    got = clear_logit_market(shares, outside_share, volume, capacity, price, rounds,  # type: ignore[arg-type]
                             classes=classes)
    x_utility, x_outside, x_volume = expanded_market(utility, outside, volume, classes)  # type: ignore[arg-type]
    x_shares, x_outside_share = logit_shares(x_utility, x_outside, mu)  # type: ignore[arg-type]
    want = clear_logit_market(x_shares, x_outside_share, x_volume, capacity, price, rounds)  # type: ignore[arg-type]
    n_ent, k = len(volume), classes.n_classes  # type: ignore[arg-type]
    tol = {"rtol": 1e-12, "atol": 1e-12 * max(1.0, float(np.sum(volume)))}  # type: ignore[arg-type]
    np.testing.assert_allclose(got.allocation, want.allocation.reshape(n_ent, k, -1).sum(axis=1), **tol)
    np.testing.assert_allclose(got.offer_demand, want.offer_demand, **tol)
    np.testing.assert_allclose(got.served, want.served, **tol)
    np.testing.assert_allclose(got.revenue, want.revenue, **tol)
    np.testing.assert_allclose(got.inside_demand, want.inside_demand.reshape(n_ent, k).sum(axis=1), **tol)
    assert got.served_by_class is not None
    np.testing.assert_allclose(got.served_by_class, want.allocation.sum(axis=1).reshape(n_ent, k), **tol)


def test_pool_of_two_offers_with_weights_one_and_a_quarter_is_rationed_by_hand() -> None:
    """(b) One buyer, V = 100, shares 0.4 (offer A, weight 1) and 0.4 (offer B, weight 1/4), outside 0.2; both
    offers in one pool of 20 capacity units.

    Demand D_A = 40, D_B = 40; pool load 40 * 1 + 40 / 4 = 50 units; fill f = 20 / 50 = 0.4: served 16 of A and
    16 of B (16 + 4 = 20 units). Residual 100 * (0.4 * 0.6 + 0.4 * 0.6) = 48 Mtok; the pool is full, so no offer
    is open and the residual is unmet: inside demand 80, served 32, unmet 48.
    """
    shares, outside = np.array([[0.4, 0.4]]), np.array([0.2])
    pools = CapacityPools(pool=np.array([0, 0]), weight=np.array([1.0, 0.25]), capacity=np.array([20.0]))
    c = clear_logit_market(shares, outside, np.array([100.0]), None, np.array([2.0, 1.0]), 3, pools=pools)
    np.testing.assert_allclose(c.served, [16.0, 16.0], rtol=1e-15)
    np.testing.assert_allclose(c.inside_demand, [80.0], rtol=1e-15)
    np.testing.assert_allclose(c.unmet, [48.0], rtol=1e-14)
    np.testing.assert_allclose(c.spend, [16.0 * 2.0 + 16.0 * 1.0], rtol=1e-15)


def test_a_pool_with_room_takes_the_volume_another_pool_rations() -> None:
    """Offers A (pool 0: 10 units, weight 1) and B, C (pool 1: 30 units, weights 1 and 1/2); one buyer, V = 100,
    shares 0.5, 0.2, 0.1, outside 0.2.

    Round 0: D = 50, 20, 10; pool 0 fill 10 / 50 = 0.2 (A serves 10); pool 1 load 20 + 5 = 25 <= 30, fill 1.
    Residual 50 * 0.8 = 40, re-offered to B, C and the outside option in proportion 0.2 : 0.1 : 0.2: B 16,
    C 8 (load 16 + 4 = 20 > 5 units left: fill 5 / 20 = 0.25, B 4, C 2). Served A 10, B 24, C 12.
    """
    shares, outside = np.array([[0.5, 0.2, 0.1]]), np.array([0.2])
    pools = CapacityPools(pool=np.array([0, 1, 1]), weight=np.array([1.0, 1.0, 0.5]), capacity=np.array([10.0, 30.0]))
    c = clear_logit_market(shares, outside, np.array([100.0]), None, np.ones(3), 1, pools=pools)
    np.testing.assert_allclose(c.served, [10.0, 24.0, 12.0], rtol=1e-14)
    np.testing.assert_allclose(c.allocation, [[10.0, 24.0, 12.0]], rtol=1e-14)


def test_without_classes_and_pools_the_single_class_path_is_unchanged() -> None:
    """One class, every offer eligible, per-offer pools: the general path equals today's to 1e-12."""
    rng = np.random.default_rng(3)
    shares, outside = logit_shares(rng.normal(size=(40, 6)), rng.normal(size=40), 0.7)
    volume, price, capacity = rng.uniform(1, 10, 40), rng.uniform(1, 3, 6), np.array([20, 30, np.inf, 5, 60, 10.0])
    old = clear_with_volume_response(shares, outside, volume, np.full(40, 2.0), np.full(40, 0.8), capacity, price, 3)
    new = clear_with_volume_response(shares, outside, volume, np.full(40, 2.0), np.full(40, 0.8), capacity, price, 3,
                                     classes=TaskClasses.single(40, 6), pools=CapacityPools.per_offer(capacity))
    for field in ("allocation", "served", "spend", "unmet", "volume", "effective_price"):
        np.testing.assert_allclose(getattr(new, field), getattr(old, field), rtol=1e-12, atol=1e-12, err_msg=field)
    assert old.served_by_class is None and new.served_by_class is not None


@st.composite
def pooled_class_markets(draw: st.DrawFn) -> dict[str, object]:
    """A class market whose offers share pools with random weights."""
    m = draw(class_markets())
    n_off = len(m["price"])  # type: ignore[arg-type]
    n_pools = draw(st.integers(1, n_off))
    m["pools"] = CapacityPools(
        pool=draw(hnp.arrays(np.int64, n_off, elements=st.integers(0, n_pools - 1))),
        weight=draw(hnp.arrays(np.float64, n_off, elements=st.floats(0.1, 2.0))),
        capacity=draw(hnp.arrays(np.float64, n_pools, elements=st.one_of(st.just(math.inf), st.floats(0.0, 60.0)))))
    m["elasticity"] = draw(hnp.arrays(np.float64, len(m["volume"]), elements=st.floats(0.0, 2.0)))  # type: ignore
    if draw(st.booleans()):
        m["classes"] = None  # pools alone
    return m


@settings(max_examples=150, deadline=None)
@given(pooled_class_markets())
def test_identities_hold_with_classes_and_pools(m: dict[str, object]) -> None:
    """(d) served <= capacity in capacity units per pool; spend == revenue; served + unmet == inside demand."""
    shares, outside_share = logit_shares(m["utility"], m["outside"], m["mu"])  # type: ignore[arg-type]
    pools: CapacityPools = m["pools"]  # type: ignore[assignment]
    n_ent = shares.shape[0]
    c: Clearing = clear_with_volume_response(
        shares, outside_share, m["volume"], np.full(n_ent, 2.0), m["elasticity"], None,  # type: ignore[arg-type]
        m["price"], m["rounds"], classes=m["classes"], pools=pools)  # type: ignore[arg-type]
    total = max(1.0, float(np.sum(c.inside_demand)))
    used = np.bincount(pools.pool, weights=pools.weight * c.served, minlength=len(pools.capacity))
    assert np.all(used <= pools.capacity + 1e-9 * total)
    assert abs(c.spend.sum() - c.revenue.sum()) <= 1e-9 * max(1.0, float(c.revenue.sum()))
    np.testing.assert_allclose(c.served_by_enterprise + c.unmet, c.inside_demand, rtol=1e-9, atol=1e-9 * total)
    np.testing.assert_allclose(c.allocation.sum(axis=0), c.served, rtol=1e-9, atol=1e-9 * total)
    assert c.served_by_class is not None
    np.testing.assert_allclose(c.served_by_class.sum(axis=1), c.served_by_enterprise, rtol=1e-9, atol=1e-9 * total)
    assert c.effective_price is not None and c.volume is not None
    served = c.served_by_enterprise > 0
    np.testing.assert_allclose(c.effective_price[served], c.spend[served] / c.served_by_enterprise[served], rtol=1e-9)


def test_group_rows_are_slices_for_contiguous_groups_and_indices_otherwise() -> None:
    assert group_rows(np.array([2, 2, 0, 1, 1])) == [(2, slice(0, 2)), (0, slice(2, 3)), (1, slice(3, 5))]
    rows = group_rows(np.array([0, 1, 0]))
    assert [g for g, _ in rows] == [0, 1]
    np.testing.assert_array_equal(rows[0][1], [0, 2])


def test_bad_classes_and_pools_name_the_field() -> None:
    shares, outside = np.array([[0.5, 0.3]]), np.array([0.2])
    bad_mix = TaskClasses(group=np.array([0]), mix=np.array([[0.5, 0.4]]), eligible=np.ones((1, 2, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"classes\.mix"):
        clear_logit_market(shares, outside, np.ones(1), np.ones(2), np.ones(2), classes=bad_mix)
    bad_pool = CapacityPools(pool=np.array([0, 3]), weight=np.ones(2), capacity=np.ones(2))
    with pytest.raises(ValueError, match=r"pools\.pool"):
        clear_logit_market(shares, outside, np.ones(1), None, np.ones(2), pools=bad_pool)
