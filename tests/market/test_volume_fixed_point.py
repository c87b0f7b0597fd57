"""Volume under rationing (market/clearing.py, ``clear_with_volume_response``): the fixed point of volume and
rationing, and a bait price that cannot raise its poster's profit.

The bait market is worked by hand: one buyer, log utility ``U_o = -b ln p_o`` with ``b = 3``, ``mu = 0.5``,
outside option at the utility of a price of 1.5, volume ``V = 100 p^(-1.1)``; the owner A sells offer A1
(capacity 10) and A2 (unlimited), rival B is unlimited, all at price 1 and variable cost 0.5.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from market.clearing import Clearing, clear_logit_market, clear_with_volume_response, logit_shares
from market.demand import effective_volume

B, MU, EPS, COST = 3.0, 0.5, 1.1, 0.5
V0, P_REF = np.array([100.0]), np.array([1.0])


def bait_market(price_a1: float, volume_response: bool) -> tuple[float, Clearing]:
    """A's profit (A1 + A2) and the clearing, with volume at posted prices or at the fixed point."""
    price = np.array([price_a1, 1.0, 1.0])
    capacity = np.array([10.0, math.inf, math.inf])
    shares, outside = logit_shares(-B * np.log(price)[None, :], np.array([-B * math.log(1.5)]), MU)
    if volume_response:
        c = clear_with_volume_response(shares, outside, V0, P_REF, np.array([EPS]), capacity, price, 3)
    else:  # the old rule: volume at the share-weighted posted price, before rationing
        posted = (shares @ price) / shares.sum(axis=1)
        c = clear_logit_market(shares, outside, effective_volume(V0, posted, P_REF, np.array([EPS])), capacity,
                               price, 3)
    return float(((price - COST) * c.served)[:2].sum()), c


def test_bait_price_paid_under_posted_price_volume() -> None:
    """The defect, reproduced: with volume set at posted prices, posting 0.3 at the 10-unit offer more than
    triples A's profit (26.55 -> 85.31) by inflating the volume spilt over to A2."""
    honest, _ = bait_market(1.0, volume_response=False)
    bait, _ = bait_market(0.3, volume_response=False)
    assert honest == pytest.approx(26.5539, abs=1e-3)
    assert bait == pytest.approx(85.3128, abs=1e-3)


def test_bait_price_lowers_the_baiters_profit_at_the_fixed_point() -> None:
    """At the fixed point the bait sells A1's 10 units at 0.3 and x tokens elsewhere at 1, so the buyer pays
    P = (3 + x) / (10 + x) and V = 100 P^-1.1. By hand: logit weights exp(-b ln p / mu) are 0.3^-6 for A1, 1 for
    A2 and B and 1.5^-6 for the outside option; A1's rationed demand V s1 - 10 is re-offered to A2, B and the
    outside option by their weights, so x = 2 V s2 + (V s1 - 10) 2 / (2 + 1.5^-6). Solving for V (brentq) gives
    A's profit -2 + 0.5 x / 2 (21.464 < 26.554 without the bait)."""
    w1, w0 = 0.3**-6.0, 1.5**-6.0
    s1, s2 = w1 / (w1 + 2.0 + w0), 1.0 / (w1 + 2.0 + w0)

    def elsewhere(v: float) -> float:
        return 2.0 * v * s2 + (v * s1 - 10.0) * 2.0 / (2.0 + w0)

    def gap(v: float) -> float:
        x = elsewhere(v)
        return v - 100.0 * ((3.0 + x) / (10.0 + x)) ** -EPS

    v_star = brentq(gap, 10.0 / s1, 1e4, xtol=1e-12)
    by_hand = -0.2 * 10.0 + 0.5 * elsewhere(v_star) / 2.0
    honest, c_honest = bait_market(1.0, volume_response=True)
    bait, c = bait_market(0.3, volume_response=True)
    assert honest == pytest.approx(26.5539, abs=1e-3)  # unrationed: the same as before
    assert c_honest.fixed_point_iterations == 1
    assert bait < honest
    assert by_hand == pytest.approx(21.464, abs=1e-3)
    assert bait == pytest.approx(by_hand, rel=2e-3)  # the tolerance: 0.1% of volume
    assert c.volume is not None and c.volume[0] == pytest.approx(v_star, rel=2e-3)
    assert c.served[0] == pytest.approx(10.0)
    elsewhere_served = c.served[1:].sum()
    realized = (0.3 * 10.0 + elsewhere_served) / (10.0 + elsewhere_served)
    assert c.effective_price is not None and c.effective_price[0] == pytest.approx(realized, rel=1e-12)


def test_no_rationing_is_solved_in_one_clearing() -> None:
    """Without a binding capacity the volume at posted prices is already the fixed point."""
    shares, outside = logit_shares(np.array([[0.0, -1.0], [0.5, 0.0]]), np.zeros(2), 1.0)
    price = np.array([2.0, 1.0])
    c = clear_with_volume_response(shares, outside, np.array([10.0, 20.0]), np.ones(2), np.array([1.0, 0.5]),
                                   np.full(2, math.inf), price)
    posted = (shares @ price) / shares.sum(axis=1)
    assert c.fixed_point_iterations == 1 and c.fixed_point_gap == 0.0
    assert c.volume is not None
    np.testing.assert_allclose(c.volume, np.array([10.0, 20.0]) * posted ** -np.array([1.0, 0.5]), rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_fixed_point_equation_holds_at_the_returned_volume(seed: int) -> None:
    """``V_e = V0_e (P_e / p_ref_e)^(-eps_e)`` within the tolerance at the returned volume, with the identities
    of a clearing (served <= capacity, spend = revenue)."""
    rng = np.random.default_rng(seed)
    n_ent, n_off = 6, 4
    shares, outside = logit_shares(rng.normal(0.0, 1.0, (n_ent, n_off)), rng.normal(-1.0, 1.0, n_ent), 0.5)
    base, p_ref, eps = rng.uniform(1, 50, n_ent), rng.uniform(0.5, 2, n_ent), rng.uniform(0, 2, n_ent)
    price, capacity = rng.uniform(0.2, 3.0, n_off), rng.uniform(5.0, 60.0, n_off)
    c = clear_with_volume_response(shares, outside, base, p_ref, eps, capacity, price, 3, 1e-6, 500)
    assert c.fixed_point_gap <= 1e-6
    assert c.volume is not None and c.effective_price is not None
    served = c.served_by_enterprise
    realized = np.where(served > 0, c.spend / np.where(served > 0, served, 1.0), c.effective_price)
    np.testing.assert_allclose(c.volume, effective_volume(base, realized, p_ref, eps), rtol=1e-5)
    assert np.all(c.served <= capacity * (1 + 1e-12))
    assert c.spend.sum() == pytest.approx(c.revenue.sum(), rel=1e-12)
    again = clear_logit_market(shares, outside, c.volume, capacity, price, 3)  # the same clearing at that volume
    np.testing.assert_allclose(again.allocation, c.allocation, rtol=1e-12, atol=1e-12)
