"""The fused clearing (market/clearing_kernel.py) against the numpy reference and brute-force markets.

* Random markets (hypothesis): logit shares, rationing with re-offer rounds, the volume fixed point and the
  demand terms pricing observes agree with ``market.clearing`` / ``market.pricing`` to 1e-12 relative (each
  array's largest difference over its largest entry), including EXCLUDED offers (residency, quality floors),
  capacity that binds, and an outside option near 1.
* Task classes against the row-expanded market: every (enterprise, class) as a buyer of its own with shares
  ``S A / den``, outside share ``S0 / den`` and volume ``V mix``, cleared by the numpy reference.
* Capacity pools against rationing worked by hand.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from market import clearing, clearing_kernel
from market.demand import EXCLUDED
from market.pricing import demand_slopes, rationing_overflow

FloatArray = NDArray[np.float64]

TOL = 1e-12
FIELDS = ("allocation", "offer_demand", "served", "revenue", "spend", "inside_demand", "unmet", "volume",
          "effective_price", "shares", "outside_share")


def close(a: FloatArray, b: FloatArray, tol: float = TOL, scale: FloatArray | None = None) -> bool:
    """``max |a - b| <= tol * max |scale|`` (``scale``: ``b``; for a difference such as unmet = inside - served,
    the size of its terms), NaN where both are NaN."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    a, b = np.nan_to_num(a), np.nan_to_num(b)
    size = np.abs(b if scale is None else np.nan_to_num(np.asarray(scale, dtype=np.float64)))
    return bool(np.max(np.abs(a - b), initial=0.0) <= tol * np.max(size, initial=0.0))


def same_clearing(fused: clearing.Clearing, reference: clearing.Clearing, names: tuple[str, ...]) -> None:
    for name in names:
        scale = reference.inside_demand if name == "unmet" else None
        assert close(getattr(fused, name), getattr(reference, name), scale=scale), name


@st.composite
def markets(draw: st.DrawFn) -> dict[str, Any]:
    """A random market of up to 25 buyers x 10 offers: residency (whole regions of offers EXCLUDED), a quality
    floor per buyer, capacity that often binds, and sometimes an outside option that takes nearly everything."""
    n_ent, n_off = draw(st.integers(1, 25)), draw(st.integers(1, 10))
    utility = draw(hnp.arrays(np.float64, (n_ent, n_off), elements=st.floats(-4.0, 4.0)))
    offer_region = draw(hnp.arrays(np.int64, n_off, elements=st.integers(0, 2)))
    buyer_region = draw(hnp.arrays(np.int64, n_ent, elements=st.integers(0, 2)))
    resident = draw(hnp.arrays(np.bool_, n_ent))  # residency: only offers in the buyer's own region
    quality = draw(hnp.arrays(np.float64, n_off, elements=st.floats(0.3, 1.0)))
    floor = draw(hnp.arrays(np.float64, n_ent, elements=st.floats(0.0, 0.9)))
    foreign = offer_region[None, :] != buyer_region[:, None]
    excluded = (resident[:, None] & foreign) | (quality[None, :] < floor[:, None])
    utility = np.where(excluded, EXCLUDED, utility)
    outside = draw(hnp.arrays(np.float64, n_ent, elements=st.one_of(st.floats(-4.0, 4.0), st.floats(25.0, 40.0))))
    volume = draw(hnp.arrays(np.float64, n_ent, elements=st.one_of(st.just(0.0), st.floats(1e-3, 100.0))))
    tightness = draw(st.floats(0.05, 2.0))
    fraction = st.one_of(st.just(math.inf), st.just(0.0), st.floats(1e-3, 1.0))  # no subnormal capacities
    capacity = draw(hnp.arrays(np.float64, n_off, elements=fraction))
    capacity = np.where(np.isfinite(capacity), capacity * tightness * (volume.sum() + 1.0) / n_off, capacity)
    return {"utility": utility, "outside": outside, "mu": draw(st.floats(0.05, 2.0)), "volume": volume,
            "capacity": capacity, "price": draw(hnp.arrays(np.float64, n_off, elements=st.floats(0.01, 10.0))),
            "rounds": draw(st.integers(0, 4)), "elasticity": draw(hnp.arrays(np.float64, n_ent,
                                                                                elements=st.floats(0.0, 2.0))),
            "sensitivity": draw(hnp.arrays(np.float64, n_ent, elements=st.floats(0.1, 3.0)))}


@settings(max_examples=50, deadline=None)
@given(markets())
def test_fused_logit_and_rationing_match_the_numpy_reference(m: dict[str, Any]) -> None:
    shares, outside = clearing.logit_shares(m["utility"], m["outside"], m["mu"])
    fused_shares, fused_outside = clearing_kernel.logit_shares(m["utility"], m["outside"], m["mu"])
    assert close(fused_shares, shares) and close(fused_outside, outside)
    args = (shares, outside, m["volume"], m["capacity"], m["price"], m["rounds"])
    reference = clearing.clear_logit_market(*args)
    fused = clearing_kernel.clear_logit_market(*args)
    same_clearing(fused, reference, FIELDS[:-4])


@settings(max_examples=33, deadline=None)
@given(markets())
def test_fused_volume_fixed_point_matches_the_numpy_reference(m: dict[str, Any]) -> None:
    shares, outside = clearing.logit_shares(m["utility"], m["outside"], m["mu"])
    n_ent = len(outside)
    args = (shares, outside, m["volume"], np.full(n_ent, 2.0), m["elasticity"], m["capacity"], m["price"],
            m["rounds"])
    reference = clearing.clear_with_volume_response(*args)
    fused = clearing_kernel.clear_with_volume_response(*args)
    assert fused.fixed_point_iterations == reference.fixed_point_iterations
    assert fused.fixed_point_gap == pytest.approx(reference.fixed_point_gap, rel=1e-9, abs=1e-15)
    same_clearing(fused, reference, FIELDS)
    out = np.full_like(shares, np.nan)  # a matrix from an earlier step: overwritten, same bits as a new one
    into = clearing_kernel.clear_with_volume_response(*args, out=out)
    assert into.allocation is out
    assert into.allocation.tobytes() == fused.allocation.tobytes()


@settings(max_examples=50, deadline=None)
@given(markets(), st.sampled_from(["linear", "log"]))
def test_fused_demand_terms_match_slopes_and_overflow(m: dict[str, Any], form: str) -> None:
    shares, _ = clearing.logit_shares(m["utility"], m["outside"], m["mu"])
    args = (shares, m["volume"], m["sensitivity"], m["mu"], m["price"], form)
    slopes, overflow = clearing_kernel.demand_terms(*args, m["capacity"])
    expected = demand_slopes(*args)
    assert close(slopes.demand, expected.demand) and close(slopes.beta, expected.beta)
    terms = expected.beta * expected.demand  # own slope = g'(p) (this - a smaller sum): compare at its size
    assert close(slopes.own_slope, expected.own_slope, scale=terms * np.maximum(1.0, 1.0 / np.asarray(m["price"])))
    assert close(overflow, rationing_overflow(shares, m["volume"], m["capacity"]))


def test_an_outside_option_near_one_leaves_a_sliver_of_demand_that_both_paths_ration_alike() -> None:
    rng = np.random.default_rng(3)
    utility, outside = rng.normal(0.0, 1.0, (50, 6)), np.full(50, 30.0)  # s0 = 1 - O(1e-13)
    shares, s0 = clearing_kernel.logit_shares(utility, outside, 1.0)
    assert np.all(1.0 - s0 < 1e-11)
    reference = clearing.clear_logit_market(shares, s0, np.full(50, 1e6), np.full(6, 1e-9), np.ones(6), 3)
    fused = clearing_kernel.clear_logit_market(shares, s0, np.full(50, 1e6), np.full(6, 1e-9), np.ones(6), 3)
    assert np.all(reference.offer_demand > 1e-9)  # every offer rationed
    same_clearing(fused, reference, FIELDS[:-4])


# -- task classes: the row-expanded market ------------------------------------------------------------------

@st.composite
def class_markets(draw: st.DrawFn) -> dict[str, Any]:
    """A market with 1-3 routing groups, 1-3 task classes and random eligibility."""
    m = draw(markets())
    n_ent, n_off = np.shape(m["utility"])
    n_groups, n_classes = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    mix = draw(hnp.arrays(np.float64, (n_groups, n_classes), elements=st.floats(0.0, 1.0))) + 1e-3
    m["classes"] = SimpleNamespace(
        group=draw(hnp.arrays(np.int64, n_ent, elements=st.integers(0, n_groups - 1))),
        mix=mix / mix.sum(axis=1, keepdims=True),
        eligible=draw(hnp.arrays(np.bool_, (n_groups, n_classes, n_off))))
    return m


def expanded(shares: FloatArray, outside: FloatArray, volume: FloatArray, classes: SimpleNamespace) -> tuple[Any, ...]:
    """Row ``e * K + k``: the class ``k`` of buyer ``e`` as a buyer of its own (shares, outside, volume, rows' e)."""
    eligible = classes.eligible[classes.group].astype(np.float64)  # E x K x O
    masked = shares[:, None, :] * eligible
    den = masked.sum(axis=2) + outside[:, None]
    n_ent, n_classes = den.shape
    safe = np.where(den > 0, den, 1.0)
    rows = (masked / safe[:, :, None]).reshape(n_ent * n_classes, -1)
    return (rows, (outside[:, None] / safe).ravel(), (volume[:, None] * classes.mix[classes.group]).ravel(),
            np.repeat(np.arange(n_ent), n_classes))


@settings(max_examples=33, deadline=None)
@given(class_markets())
def test_task_classes_clear_as_the_row_expanded_market(m: dict[str, Any]) -> None:
    shares, outside = clearing.logit_shares(m["utility"], m["outside"], m["mu"])
    classes = m["classes"]
    rows, rows_outside, rows_volume, owner = expanded(shares, outside, m["volume"], classes)
    brute = clearing.clear_logit_market(rows, rows_outside, rows_volume, m["capacity"], m["price"],
                                        m["rounds"])
    fused = clearing_kernel.clear_logit_market(shares, outside, m["volume"], m["capacity"], m["price"],
                                               m["rounds"], classes=classes)
    n_ent = len(outside)
    per_buyer = np.zeros_like(shares)
    np.add.at(per_buyer, owner, brute.allocation)
    assert close(fused.allocation, per_buyer)
    for name in ("offer_demand", "served", "revenue"):
        assert close(getattr(fused, name), getattr(brute, name)), name
    for name in ("spend", "inside_demand"):
        per_enterprise = np.bincount(owner, getattr(brute, name), minlength=n_ent).astype(np.float64)
        assert close(getattr(fused, name), per_enterprise), name


@settings(max_examples=33, deadline=None)
@given(class_markets(), st.sampled_from(["linear", "log"]))
def test_task_class_demand_terms_are_the_row_expanded_ones(m: dict[str, Any], form: str) -> None:
    shares, outside = clearing.logit_shares(m["utility"], m["outside"], m["mu"])
    classes = m["classes"]
    rows, _, rows_volume, owner = expanded(shares, outside, m["volume"], classes)
    slopes, overflow = clearing_kernel.demand_terms(shares, m["volume"], m["sensitivity"], m["mu"], m["price"],
                                                    form, m["capacity"], classes=classes,
                                                    outside_share=outside)
    sensitivity = np.asarray(m["sensitivity"])[owner]
    expected = demand_slopes(rows, rows_volume, sensitivity, m["mu"], m["price"], form)
    assert close(slopes.demand, expected.demand) and close(slopes.beta, expected.beta)
    terms = expected.beta * expected.demand * np.maximum(1.0, 1.0 / np.asarray(m["price"]))
    assert close(slopes.own_slope, expected.own_slope, scale=terms)
    # the reference takes S0 = 1 - sum_o s; each expanded row's outside share is exactly that, to rounding
    assert close(overflow, rationing_overflow(rows, rows_volume, m["capacity"]), 1e-9)


@settings(max_examples=30, deadline=None)
@given(markets())
def test_one_class_and_one_pool_per_offer_is_todays_market(m: dict[str, Any]) -> None:
    shares, outside = clearing.logit_shares(m["utility"], m["outside"], m["mu"])
    n_ent, n_off = shares.shape
    single = SimpleNamespace(group=np.zeros(n_ent, dtype=np.int64), mix=np.ones((1, 1)),
                             eligible=np.ones((1, 1, n_off), dtype=bool))
    pools = SimpleNamespace(pool=np.arange(n_off), weight=np.ones(n_off), capacity=m["capacity"])
    args = (shares, outside, m["volume"], np.full(n_ent, 2.0), m["elasticity"])
    reference = clearing.clear_with_volume_response(*args, m["capacity"], m["price"], m["rounds"])
    fused = clearing_kernel.clear_with_volume_response(*args, None, m["price"], m["rounds"],
                                                       classes=single, pools=pools)
    assert fused.fixed_point_iterations == reference.fixed_point_iterations
    same_clearing(fused, reference, FIELDS)


# -- capacity pools by hand -----------------------------------------------------------------------------------

def test_a_pool_rations_its_offers_together_and_re_offers_to_the_next_pool() -> None:
    """One buyer, V = 100, shares (0.3, 0.2, 0.1), outside 0.4. Offers 0 and 1 share pool 0 (C = 40 units; offer 1
    uses 2 units per Mtok), offer 2 is alone in an unlimited pool. Load 30 + 2 x 20 = 70, fill 4/7: offers 0, 1
    serve 120/7 and 80/7 (40 units). The rationed 100 x 0.5 x 3/7 = 150/7 is re-offered to offer 2 and the
    outside option, 0.1 / (0.1 + 0.4) of it to offer 2: 10 + 30/7 = 100/7."""
    shares, outside = np.array([[0.3, 0.2, 0.1]]), np.array([0.4])
    pools = SimpleNamespace(pool=np.array([0, 0, 1]), weight=np.array([1.0, 2.0, 1.0]),
                            capacity=np.array([40.0, math.inf]))
    price = np.array([2.0, 3.0, 5.0])
    c = clearing_kernel.clear_logit_market(shares, outside, np.array([100.0]), None, price, 1, pools=pools)
    np.testing.assert_allclose(c.allocation, [[120 / 7, 80 / 7, 100 / 7]], rtol=1e-14)
    np.testing.assert_allclose(c.offer_demand, [30.0, 20.0, 10.0], rtol=1e-14)
    np.testing.assert_allclose(c.spend, [(240 + 240 + 500) / 7], rtol=1e-14)
    np.testing.assert_allclose(c.inside_demand, [60.0], rtol=1e-14)
    np.testing.assert_allclose(c.unmet, [60.0 - 300 / 7], rtol=1e-13)  # 150/7 x 0.4/0.5 went outside
    no_rounds = clearing_kernel.clear_logit_market(shares, outside, np.array([100.0]), None, price, 0, pools=pools)
    np.testing.assert_allclose(no_rounds.allocation, [[120 / 7, 80 / 7, 10.0]], rtol=1e-14)


def test_bad_classes_and_pools_are_named() -> None:
    shares, outside = np.array([[0.5, 0.5]]), np.array([0.0])
    bad_pool = SimpleNamespace(pool=np.array([0, 3]), weight=np.ones(2), capacity=np.ones(2))
    with pytest.raises(ValueError, match=r"pools\.pool"):
        clearing_kernel.clear_logit_market(shares, outside, np.ones(1), None, np.ones(2), pools=bad_pool)
    bad_mix = SimpleNamespace(group=np.zeros(1, dtype=np.int64), mix=np.array([[0.5, 0.2]]),
                              eligible=np.ones((1, 2, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"classes\.mix"):
        clearing_kernel.clear_logit_market(shares, outside, np.ones(1), np.ones(2), np.ones(2), classes=bad_mix)
    with pytest.raises(ValueError, match="clearing_kernel"):
        clearing_kernel.engine("gpu")
