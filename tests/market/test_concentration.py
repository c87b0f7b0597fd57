"""Concentration by relevant market and merger screens (market/concentration.py), against hand computations.

HHI = sum of squared shares in percent by ultimate owner; a merger of shares ``a`` and ``b`` changes it by
``2 a b``. Screens of the 2023 US Merger Guidelines (Guideline 1): post-merger HHI > 1,800 with a change > 100,
or a merged share > 30% with a change > 100; 2010 guidelines: > 2,500 with a change > 200, no share test.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from market.concentration import (
    MergerReview,
    MergerScreen,
    hhi_by_market,
    market_ids,
    revenue_by_market,
    review_merger,
    review_merger_in_markets,
    tokens_by_market,
    weighted_mean_hhi,
)
from market.config import AntitrustConfig
from market.metrics import hhi

SCREEN_2023 = AntitrustConfig(policy="hhi_2023").screen
SCREEN_2010 = AntitrustConfig(policy="hhi_2010").screen

# Four buyers, three offers (offers 0 and 1 have one owner), buyers 0 and 3 in market 0, buyers 1 and 2 in market 1.
ALLOCATION = np.array([[2.0, 0.0, 1.0], [0.0, 3.0, 1.0], [1.0, 0.0, 2.0], [0.0, 2.0, 1.0]])
PRICE = np.array([1.0, 2.0, 3.0])
OWNER = np.array([0, 0, 1])
MARKET = np.array([0, 1, 1, 0])


def test_market_ids_are_segment_major() -> None:
    """Segment 1 in region 2 of 3 regions is market 1 * 3 + 2 = 5."""
    np.testing.assert_array_equal(market_ids(np.array([0, 1, 1]), np.array([0, 2, 0]), 3), [0, 5, 3])


def test_hhi_by_market_by_hand() -> None:
    """Market 0 buys tokens [2, 2, 2] -> revenue [2, 4, 6]: owners 6 and 6, HHI 2,500 + 2,500 = 5,000. Market 1
    buys [1, 3, 3] -> revenue [1, 6, 9]: owners 7 and 9 of 16, HHI 43.75^2 + 56.25^2 = 5,078.125. Weighted by
    tokens (6 and 7): (5,000 * 6 + 5,078.125 * 7) / 13 = 5,042.067...; the pooled HHI on revenue [3, 10, 15]
    (owners 13 and 15 of 28) is (169 + 225) / 784 * 1e4 = 5,025.51..."""
    tokens = tokens_by_market(ALLOCATION, MARKET, 2)
    np.testing.assert_array_equal(tokens, [[2.0, 2.0, 2.0], [1.0, 3.0, 3.0]])
    revenue = revenue_by_market(ALLOCATION, PRICE, MARKET, 2)
    np.testing.assert_array_equal(revenue, [[2.0, 4.0, 6.0], [1.0, 6.0, 9.0]])
    per_market = hhi_by_market(revenue, OWNER)
    np.testing.assert_allclose(per_market, [5000.0, 5078.125], rtol=1e-14)
    assert weighted_mean_hhi(per_market, tokens.sum(axis=1)) == pytest.approx((30000.0 + 35546.875) / 13, rel=1e-14)
    assert hhi(revenue.sum(axis=0), OWNER) == pytest.approx(394.0 / 784.0 * 1e4, rel=1e-14)


def test_a_market_without_revenue_has_hhi_zero_and_no_weight() -> None:
    assert hhi_by_market(np.zeros((1, 3)), OWNER).tolist() == [0.0]
    assert np.isnan(weighted_mean_hhi(np.array([0.0]), np.array([0.0])))


def test_policy_screens() -> None:
    """2023: (1,800, 100) and a 30% share test; 2010: (2,500, 200) without one; custom: the configured values, a
    merged share of 1 switching the share test off; none: no screen."""
    assert SCREEN_2023 == MergerScreen(1800.0, 100.0, 0.30)
    assert SCREEN_2010 == MergerScreen(2500.0, 200.0, None)
    custom = AntitrustConfig(policy="custom", post_merger_hhi=2000.0, hhi_delta=50.0, merged_share=0.4)
    assert custom.screen == MergerScreen(2000.0, 50.0, 0.4)
    assert AntitrustConfig(policy="custom", merged_share=1.0).screen == MergerScreen(1800.0, 100.0, None)
    assert AntitrustConfig(policy="none").screen is None


def shares_review(acquirer_share: float, target_share: float, others: int, screen: MergerScreen | None
                  ) -> MergerReview:
    """Review a merger of firms 0 and 1 beside ``others`` firms of 1% each (shares in percent)."""
    revenue = np.array([acquirer_share, target_share] + [1.0] * others)
    return review_merger(revenue, np.arange(len(revenue)), 0, 1, screen)


def test_the_30_percent_share_presumption() -> None:
    """26% buys 5% beside 69 firms of 1%: pre = 676 + 25 + 69 = 770, post = 31^2 + 69 = 1,030, change 260: the
    HHI stays below 1,800, but the merged share 31% > 30% with a change > 100: blocked under 2023 (reason
    'share'), allowed under 2010. 24% buying 5% (merged 29%, change 240) is allowed; 40% buying 1% (merged 41%,
    change 80 <= 100) is allowed."""
    review = shares_review(26.0, 5.0, 69, SCREEN_2023)
    assert (review.pre_hhi, review.post_hhi) == (pytest.approx(770.0, rel=1e-12), pytest.approx(1030.0, rel=1e-12))
    assert review.merged_share == pytest.approx(0.31, rel=1e-12)
    assert review.blocked and review.reason == "share"
    assert not shares_review(26.0, 5.0, 69, SCREEN_2010).blocked
    assert not shares_review(24.0, 5.0, 71, SCREEN_2023).blocked
    small_change = shares_review(40.0, 1.0, 59, SCREEN_2023)
    assert small_change.delta == pytest.approx(80.0, rel=1e-12) and not small_change.blocked


def test_the_hhi_test_takes_precedence_in_the_reason() -> None:
    """30 buys 10 of 30/25/20/15/10: post 2,850 > 1,800 with change 600 and merged share 40%: reason 'hhi'."""
    review = review_merger(np.array([30.0, 25.0, 20.0, 15.0, 10.0]), np.arange(5), 0, 4, SCREEN_2023)
    assert review.blocked and review.reason == "hhi"
    detail = json.loads(review.detail("hhi_2023"))
    assert detail == {"pre_hhi": 2250.0, "post_hhi": 2850.0, "delta_hhi": 600.0, "merged_share": 0.4,
                      "market": "all", "markets_reviewed": 1, "reason": "hhi", "policy": "hhi_2023"}


MARKETS = np.array([[50.0, 50.0, 0.0, 0.0],     # A: both parties sell, a duopoly
                    [10.0, 0.0, 90.0, 0.0],     # B: the target does not sell here
                    [0.0, 0.0, 0.0, 9800.0]])   # C: a large market where neither sells
"""Revenue per (market, firm); all markets together 10,000."""


def test_a_merger_is_reviewed_only_where_both_parties_sell() -> None:
    """Firms 0 and 1 merge. Only A is relevant (B lacks the target, C both): A's HHI goes from 5,000 to 10,000,
    blocked; the verdict names A and one market reviewed. A holds 100 / 10,000 = 1% of all revenue: at a minimum
    market size of 1% it is screened, at 2% it is not, and with no relevant market left the deal is allowed."""
    names = ["A", "B", "C"]
    review = review_merger_in_markets(MARKETS, np.arange(4), 0, 1, SCREEN_2023, names=names, min_market_share=0.01)
    assert review.blocked and (review.market, review.markets_reviewed) == ("A", 1)
    assert (review.pre_hhi, review.post_hhi) == (pytest.approx(5000.0), pytest.approx(10000.0))
    assert review.merged_share == 1.0
    free = review_merger_in_markets(MARKETS, np.arange(4), 0, 1, SCREEN_2023, names=names, min_market_share=0.02)
    assert not free.blocked and (free.market, free.markets_reviewed) == ("none", 0)


def test_pooling_hides_a_merger_to_monopoly() -> None:
    """On the pooled market (revenue 60, 50, 90, 9,800) the same merger changes the HHI by 2 * 0.6 * 0.5 = 0.6
    and passes; in market A it is a merger to monopoly."""
    pooled = review_merger(MARKETS.sum(axis=0), np.arange(4), 0, 1, SCREEN_2023)
    assert pooled.delta == pytest.approx(0.6, rel=1e-9) and not pooled.blocked
