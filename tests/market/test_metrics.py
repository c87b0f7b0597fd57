"""Market metrics (market/metrics.py): concentration, price indices, consumer surplus."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.integrate import quad

from market.metrics import (
    hhi,
    logit_consumer_surplus,
    price_index,
    quality_adjusted_price_index,
)

# ---------------------------------------------------------------------------------------------------------
# HHI
# ---------------------------------------------------------------------------------------------------------


def test_hhi_hand_computed() -> None:
    """Shares 50/30/20 %: 2500 + 900 + 400 = 3800. Scale-free: revenue 5, 3, 2 gives the same."""
    assert hhi(np.array([50.0, 30.0, 20.0])) == pytest.approx(3800.0, rel=1e-14)
    assert hhi(np.array([5.0, 3.0, 2.0])) == pytest.approx(3800.0, rel=1e-14)


def test_hhi_monopoly_and_symmetric_market() -> None:
    """A monopoly is 10,000; n equal firms give 10,000/n (n = 4: 2,500; n = 10: 1,000)."""
    assert hhi(np.array([7.0])) == pytest.approx(10_000.0, rel=1e-15)
    assert hhi(np.ones(4)) == pytest.approx(2_500.0, rel=1e-14)
    assert hhi(np.full(10, 3.0)) == pytest.approx(1_000.0, rel=1e-14)


def test_hhi_merges_firms_by_owner() -> None:
    """Owner ids (0, 1, 0) merge the 50 % and 20 % firms: 70^2 + 30^2 = 5800."""
    assert hhi(np.array([50.0, 30.0, 20.0]), np.array([0, 1, 0])) == pytest.approx(5800.0, rel=1e-14)
    # Owner ids need not be contiguous or sorted.
    assert hhi(np.array([50.0, 30.0, 20.0]), np.array([17, 3, 17])) == pytest.approx(5800.0, rel=1e-14)


def test_merger_delta_is_twice_the_product_of_shares() -> None:
    """2023 US merger guidelines: a merger of firms with shares s1 and s2 (%) raises HHI by 2 s1 s2.
    Merging the 30 % and 20 % firms of 50/30/20: 2 * 30 * 20 = 1200 = 5000 - 3800."""
    before = hhi(np.array([50.0, 30.0, 20.0]))
    after = hhi(np.array([50.0, 30.0, 20.0]), np.array([0, 1, 1]))
    assert after - before == pytest.approx(1200.0, rel=1e-12)
    assert after == pytest.approx(5000.0, rel=1e-14)


@given(
    values=hnp.arrays(np.float64, st.integers(2, 8), elements=st.floats(0.0, 1e6)),
    data=st.data(),
)
def test_merger_delta_identity_holds_for_any_market(values: np.ndarray, data: st.DataObject) -> None:
    """For any two firms i != j: HHI(after merging i and j) - HHI(before) = 2 s_i s_j."""
    total = values.sum()
    if total <= 0:
        assert hhi(values) == 0.0
        return
    i, j = data.draw(st.permutations(range(len(values))))[:2]
    owner = np.arange(len(values))
    owner[j] = i
    share = 100.0 * values / total
    assert hhi(values, owner) - hhi(values) == pytest.approx(2.0 * share[i] * share[j], abs=1e-6)
    assert 10_000.0 / len(values) - 1e-6 <= hhi(values) <= 10_000.0 + 1e-6


def test_hhi_edge_cases() -> None:
    assert hhi(np.zeros(3)) == 0.0
    assert hhi(np.array([])) == 0.0
    with pytest.raises(ValueError, match="non-negative"):
        hhi(np.array([1.0, -1.0]))


# ---------------------------------------------------------------------------------------------------------
# price indices
# ---------------------------------------------------------------------------------------------------------


def test_price_index_is_spend_over_tokens() -> None:
    assert price_index(150.0, 60.0) == 2.5
    assert math.isnan(price_index(0.0, 0.0))


def test_quality_adjusted_price_index() -> None:
    """Revenue (10, 20) for 5 + 5 Mtok of quality (1, 3), reference 1: 30 / (5*1 + 5*3) = 1.5 $/Mtok.
    With reference quality 2 the same tokens count half as much: 30 / 10 = 3."""
    revenue, served, quality = np.array([10.0, 20.0]), np.array([5.0, 5.0]), np.array([1.0, 3.0])
    assert quality_adjusted_price_index(revenue, served, quality, 1.0) == pytest.approx(1.5, rel=1e-15)
    assert quality_adjusted_price_index(revenue, served, quality, 2.0) == pytest.approx(3.0, rel=1e-15)
    assert math.isnan(quality_adjusted_price_index(revenue, np.zeros(2), quality, 1.0))


# ---------------------------------------------------------------------------------------------------------
# consumer surplus
# ---------------------------------------------------------------------------------------------------------


def test_consumer_surplus_linear_closed_form() -> None:
    """Small and Rosen (1981): CS = mu ln(1/s0) V / b. V = 10, s0 = 0.25, mu = 0.5, b = 2: 2.5 ln 4."""
    cs = logit_consumer_surplus(np.array([10.0]), np.array([0.25]), 0.5, np.array([2.0]), np.array([3.0]), "linear")
    assert cs[0] == pytest.approx(2.5 * math.log(4.0), rel=1e-14)


def test_consumer_surplus_log_utility_uses_marginal_utility_at_effective_price() -> None:
    """With u = ... - b ln p the marginal utility of money is b / p: CS = mu ln(1/s0) V p / b.
    V = 4, s0 = 0.5, mu = 0.3, b = 1.5, p = 2: 0.3 ln 2 * 4 * 2 / 1.5."""
    cs = logit_consumer_surplus(np.array([4.0]), np.array([0.5]), 0.3, np.array([1.5]), np.array([2.0]), "log")
    assert cs[0] == pytest.approx(0.3 * math.log(2.0) * 4.0 * 2.0 / 1.5, rel=1e-14)


def test_consumer_surplus_change_equals_area_under_demand() -> None:
    """Roy's identity: in the linear logit, dCS/dp_i = -D_i, so CS(p1) - CS(p2) = integral of D from p1 to p2
    (scipy.integrate.quad), with one offer of quality a = 2 against an outside option a0 = 0.5."""
    a, a0, mu, b, volume = 2.0, 0.5, 0.3, 1.7, 12.0

    def outside_share(p: float) -> float:
        return 1.0 / (1.0 + math.exp((a - b * p - a0) / mu))

    def demand(p: float) -> float:
        return volume * (1.0 - outside_share(p))

    def cs(p: float) -> float:
        return float(logit_consumer_surplus(np.array([volume]), np.array([outside_share(p)]), mu, np.array([b]),
                                            np.array([p]), "linear")[0])

    area, _err = quad(demand, 0.4, 1.3, epsabs=1e-13, epsrel=1e-13)
    assert cs(0.4) - cs(1.3) == pytest.approx(area, rel=1e-10)
