"""Market clearing (market/clearing.py): logit shares, conservation identities, capacity rationing.

Property tests draw small random markets (utilities, outside options, volumes, capacities, prices); the
hand-worked examples fix the rationing arithmetic to exact numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from market.clearing import Clearing, clear_logit_market, logit_shares
from market.demand import EXCLUDED

FloatArray = NDArray[np.float64]

REL = 1e-9


@st.composite
def markets(draw: st.DrawFn, finite_capacity: bool = True) -> dict[str, object]:
    """A random small market: 1-5 enterprises x 1-5 offers, some offers possibly excluded for some buyers."""
    n_ent = draw(st.integers(1, 5))
    n_off = draw(st.integers(1, 5))
    utility = draw(hnp.arrays(np.float64, (n_ent, n_off), elements=st.floats(-4.0, 4.0)))
    excluded = draw(hnp.arrays(np.bool_, (n_ent, n_off)))
    utility = np.where(excluded, EXCLUDED, utility)
    outside = draw(hnp.arrays(np.float64, n_ent, elements=st.floats(-4.0, 4.0)))
    mu = draw(st.floats(0.05, 2.0))
    volume = draw(hnp.arrays(np.float64, n_ent, elements=st.floats(0.0, 100.0)))
    price = draw(hnp.arrays(np.float64, n_off, elements=st.floats(0.01, 10.0)))
    if finite_capacity:
        capacity = draw(
            hnp.arrays(np.float64, n_off, elements=st.one_of(st.just(math.inf), st.floats(0.0, 150.0)))
        )
    else:
        capacity = np.full(n_off, math.inf)
    rounds = draw(st.integers(0, 4))
    return {"utility": utility, "outside": outside, "mu": mu, "volume": volume, "price": price,
            "capacity": capacity, "rounds": rounds}


def clear(m: dict[str, object]) -> Clearing:
    shares, outside_share = logit_shares(m["utility"], m["outside"], m["mu"])  # type: ignore[arg-type]
    return clear_logit_market(shares, outside_share, m["volume"], m["capacity"], m["price"],  # type: ignore[arg-type]
                              rounds=m["rounds"])  # type: ignore[arg-type]


def reference_shares(utility: FloatArray, outside: FloatArray, mu: float) -> tuple[FloatArray, FloatArray]:
    """Textbook logit with an outside option, one buyer at a time with Python floats (log-sum-exp shifted)."""
    n_ent, n_off = utility.shape
    shares = np.zeros((n_ent, n_off))
    outside_share = np.zeros(n_ent)
    for e in range(n_ent):
        top = max(outside[e], *utility[e])
        weights = [math.exp((u - top) / mu) if u > EXCLUDED / 2 else 0.0 for u in utility[e]]
        w0 = math.exp((outside[e] - top) / mu)
        total = sum(weights) + w0
        shares[e] = [w / total for w in weights]
        outside_share[e] = w0 / total
    return shares, outside_share


# ---------------------------------------------------------------------------------------------------------
# logit shares
# ---------------------------------------------------------------------------------------------------------


@given(markets())
def test_shares_match_textbook_logit_and_sum_to_one(m: dict[str, object]) -> None:
    shares, outside_share = logit_shares(m["utility"], m["outside"], m["mu"])  # type: ignore[arg-type]
    expected, expected_outside = reference_shares(m["utility"], m["outside"], m["mu"])  # type: ignore[arg-type]
    np.testing.assert_allclose(shares, expected, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(outside_share, expected_outside, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(shares.sum(axis=1) + outside_share, 1.0, rtol=0, atol=1e-12)
    assert np.all(shares[m["utility"] <= EXCLUDED / 2] == 0.0)  # type: ignore[operator]


def test_shares_calvano_duopoly_at_nash_prices() -> None:
    """Calvano et al. (2020) baseline at p = 1.4729: s = e^(0.5271/0.25) / (2 e^(0.5271/0.25) + 1) = 0.47138."""
    p = 1.472926664
    u = np.array([[2.0 - p, 2.0 - p]])
    shares, outside_share = logit_shares(u, np.array([0.0]), 0.25)
    w = math.exp((2.0 - p) / 0.25)
    assert shares[0, 0] == pytest.approx(w / (2 * w + 1), rel=1e-12)
    assert outside_share[0] == pytest.approx(1 / (2 * w + 1), rel=1e-12)


def test_shares_are_stable_for_large_utilities() -> None:
    """Utilities of 1e3/mu would overflow a naive exp; shifted logit gives (1/2, 1/2, ~0)."""
    shares, outside_share = logit_shares(np.array([[1000.0, 1000.0]]), np.array([0.0]), 0.1)
    np.testing.assert_allclose(shares, [[0.5, 0.5]], rtol=1e-15)
    assert outside_share[0] == 0.0


def test_shares_reject_nonpositive_mu() -> None:
    with pytest.raises(ValueError, match="mu must be positive, got 0"):
        logit_shares(np.zeros((1, 1)), np.zeros(1), 0.0)


# ---------------------------------------------------------------------------------------------------------
# conservation identities (property tests)
# ---------------------------------------------------------------------------------------------------------


@given(markets())
def test_served_never_exceeds_capacity(m: dict[str, object]) -> None:
    c = clear(m)
    capacity = m["capacity"]
    assert np.all(c.served <= capacity * (1 + REL) + 1e-12)  # type: ignore[operator]


@given(markets())
def test_money_is_conserved(m: dict[str, object]) -> None:
    """What enterprises spend is what providers earn."""
    c = clear(m)
    assert c.spend.sum() == pytest.approx(c.revenue.sum(), rel=REL, abs=1e-9)


@given(markets())
def test_tokens_are_conserved(m: dict[str, object]) -> None:
    """Served by enterprise + unmet == inside demand; offers' served == column sums of the allocation."""
    c = clear(m)
    np.testing.assert_allclose(c.served_by_enterprise + c.unmet, c.inside_demand, rtol=REL, atol=1e-9)
    np.testing.assert_allclose(c.allocation.sum(axis=0), c.served, rtol=REL, atol=1e-9)
    assert np.all(c.allocation >= 0.0)
    assert np.all(c.unmet >= 0.0)
    # Inside demand is V (1 - s0) = V sum_o s_o; compared on the volume's scale, as 1 - s0 loses relative
    # precision when s0 is close to 1.
    volume = np.asarray(m["volume"])
    np.testing.assert_allclose(c.inside_demand, volume * c.shares.sum(axis=1), rtol=1e-12,
                               atol=1e-14 * max(float(volume.max()), 1e-300))
    np.testing.assert_allclose(c.inside_demand, volume * (1.0 - c.outside_share), rtol=0,
                               atol=1e-12 * max(float(volume.max()), 1e-300))


@given(markets())
def test_offer_demand_is_unconstrained_logit_demand(m: dict[str, object]) -> None:
    c = clear(m)
    expected, _ = reference_shares(m["utility"], m["outside"], m["mu"])  # type: ignore[arg-type]
    np.testing.assert_allclose(c.offer_demand, m["volume"] @ expected, rtol=1e-9, atol=1e-12)  # type: ignore[operator]


@given(markets(finite_capacity=False))
def test_unlimited_capacity_allocates_volume_times_shares(m: dict[str, object]) -> None:
    c = clear(m)
    expected, _ = reference_shares(m["utility"], m["outside"], m["mu"])  # type: ignore[arg-type]
    np.testing.assert_allclose(c.allocation, m["volume"][:, None] * expected, rtol=1e-9, atol=1e-12)  # type: ignore[index]
    np.testing.assert_allclose(c.unmet, 0.0, atol=1e-9 * max(float(np.max(c.inside_demand, initial=0.0)), 1e-300))
    np.testing.assert_allclose(c.revenue, c.offer_demand * m["price"], rtol=1e-12)  # type: ignore[operator]


@given(markets())
def test_rationing_only_ever_serves_more(m: dict[str, object]) -> None:
    """Extra re-offer rounds place more rationed demand, never less, and never break capacity."""
    m0 = dict(m, rounds=0)
    m4 = dict(m, rounds=4)
    c0, c4 = clear(m0), clear(m4)
    assert c4.served.sum() >= c0.served.sum() * (1 - REL) - 1e-12
    assert c4.unmet.sum() <= c0.unmet.sum() * (1 + REL) + 1e-12


# ---------------------------------------------------------------------------------------------------------
# hand-worked rationing example
# ---------------------------------------------------------------------------------------------------------
#
# Buyer 1: V = 100, shares (0.5, 0.3), outside 0.2  -> wants (50, 30), inside demand 80.
# Buyer 2: V = 50,  shares (0.2, 0.6), outside 0.2  -> wants (10, 30), inside demand 40.
# Offer demand (60, 60); prices (2, 1).

SHARES = np.array([[0.5, 0.3], [0.2, 0.6]])
OUTSIDE = np.array([0.2, 0.2])
VOLUME = np.array([100.0, 50.0])
PRICE = np.array([2.0, 1.0])


def test_hand_example_rationed_volume_is_reoffered() -> None:
    """Offer 0 has capacity 30: fill 30/60 = 1/2, so buyers get (25, 30) and (5, 30).

    Rationed volume 25 and 5 is re-offered to offer 1 and the outside option by the logit restricted to them:
    buyer 1 places 25 * 0.3/0.5 = 15 on offer 1 and loses 25 * 0.2/0.5 = 10 to the outside; buyer 2 places
    5 * 0.6/0.8 = 3.75 and loses 5 * 0.2/0.8 = 1.25.
    """
    c = clear_logit_market(SHARES, OUTSIDE, VOLUME, np.array([30.0, math.inf]), PRICE, rounds=3)
    np.testing.assert_allclose(c.offer_demand, [60.0, 60.0], rtol=1e-15)
    np.testing.assert_allclose(c.allocation, [[25.0, 45.0], [5.0, 33.75]], rtol=1e-14)
    np.testing.assert_allclose(c.served, [30.0, 78.75], rtol=1e-14)
    np.testing.assert_allclose(c.unmet, [10.0, 1.25], rtol=1e-12)
    np.testing.assert_allclose(c.inside_demand, [80.0, 40.0], rtol=1e-15)
    np.testing.assert_allclose(c.revenue, [60.0, 78.75], rtol=1e-14)
    np.testing.assert_allclose(c.spend, [95.0, 43.75], rtol=1e-14)


def test_hand_example_second_offer_fills_during_reoffer() -> None:
    """Offer 1 has capacity 70: 60 in the first pass, then 10 of the 18.75 re-offered (fill 10/18.75 = 8/15).

    Buyer 1 gets 15 * 8/15 = 8 more, buyer 2 gets 3.75 * 8/15 = 2 more; both offers are then full, so the
    rest is unmet: 80 - 63 = 17 and 40 - 37 = 3.
    """
    c = clear_logit_market(SHARES, OUTSIDE, VOLUME, np.array([30.0, 70.0]), PRICE, rounds=3)
    np.testing.assert_allclose(c.allocation, [[25.0, 38.0], [5.0, 32.0]], rtol=1e-14)
    np.testing.assert_allclose(c.served, [30.0, 70.0], rtol=1e-14)
    np.testing.assert_allclose(c.unmet, [17.0, 3.0], rtol=1e-12)
    np.testing.assert_allclose(c.spend, [88.0, 42.0], rtol=1e-14)


def test_hand_example_zero_rounds_leaves_rationed_demand_unmet() -> None:
    """Without re-offering, the 25 and 5 rationed at offer 0 are unmet."""
    c = clear_logit_market(SHARES, OUTSIDE, VOLUME, np.array([30.0, math.inf]), PRICE, rounds=0)
    np.testing.assert_allclose(c.allocation, [[25.0, 30.0], [5.0, 30.0]], rtol=1e-14)
    np.testing.assert_allclose(c.served, [30.0, 60.0], rtol=1e-14)
    np.testing.assert_allclose(c.unmet, [25.0, 5.0], rtol=1e-12)


def test_zero_capacity_offer_serves_nothing() -> None:
    c = clear_logit_market(SHARES, OUTSIDE, VOLUME, np.array([0.0, math.inf]), PRICE, rounds=1)
    np.testing.assert_allclose(c.served[0], 0.0, atol=0)
    # All of offer 0's demand (50 and 10) is re-offered: 50*0.3/0.5 = 30 and 10*0.6/0.8 = 7.5 go to offer 1.
    np.testing.assert_allclose(c.allocation, [[0.0, 60.0], [0.0, 37.5]], rtol=1e-14)


def test_unlimited_capacity_leaves_nothing_unmet_when_the_outside_option_dominates() -> None:
    """One buyer, one offer of utility 0 against an outside option of utility 1 at mu = 1/16: the inside share
    is 1/(1 + e^16) = 1.125e-7; with unlimited capacity all of it is served and nothing is unmet."""
    shares, outside_share = logit_shares(np.array([[0.0]]), np.array([1.0]), 0.0625)
    assert shares[0, 0] == pytest.approx(1.0 / (1.0 + math.exp(16.0)), rel=1e-12)
    c = clear_logit_market(shares, outside_share, np.array([1.0]), np.array([math.inf]), np.array([1.0]), rounds=0)
    assert c.served[0] == pytest.approx(shares[0, 0], rel=1e-15)
    assert c.unmet[0] == 0.0


def test_clearing_rejects_invalid_input() -> None:
    with pytest.raises(ValueError, match="rounds must be >= 0, got -1"):
        clear_logit_market(SHARES, OUTSIDE, VOLUME, np.array([1.0, 1.0]), PRICE, rounds=-1)
    with pytest.raises(ValueError, match="capacity must be non-negative"):
        clear_logit_market(SHARES, OUTSIDE, VOLUME, np.array([-1.0, 1.0]), PRICE, rounds=1)
