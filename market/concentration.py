"""Concentration by relevant market and merger screens. Pure functions on arrays.

A relevant market is a group of buyers that share their options: by default the buyers of one demand segment
in one region (``corporate.antitrust.scope = "segment_region"``), as the 2023 US Merger Guidelines (section
4.3.D.4) define markets around targeted customers when sellers can tell customers apart and the customers
cannot arbitrage. For market ``m`` and ultimate owner ``k``::

    revenue[m, o] = sum_{e in m} allocation[e, o] * price[o]                 ($/month)
    HHI_m         = sum_k (100 * sum_{o owned by k} revenue[m, o] / sum_o revenue[m, o])^2

The pooled HHI of the whole market (``market.metrics.hhi``) mixes markets that share almost no buyers; the
per-market HHIs are summarised by their mean weighted by tokens served in each market, and their maximum.

Merger screens (2023 US Merger Guidelines, Guideline 1 and section 2.1): in a market where both parties sell, a
merger is presumed to lessen competition when the post-merger HHI exceeds 1,800 and rises by more than 100, or
when the merged firm's share exceeds 30% and the HHI rises by more than 100. The 2010 guidelines use 2,500 and
200 without a share test.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from market.metrics import hhi

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

SHARE_PRESUMPTIONS: dict[str, float | None] = {"hhi_2023": 0.30, "hhi_2010": None}
"""Post-merger share above which (with an HHI change above the screen's delta) a merger is presumed to lessen
competition: 30% under the 2023 US Merger Guidelines (Guideline 1), no share test under the 2010 guidelines."""


@dataclass(frozen=True)
class MergerScreen:
    """A structural merger screen.

    Attributes:
        post_hhi: Post-merger HHI above which (with ``delta``) a merger fails.
        delta: HHI change that must also be exceeded.
        merged_share: Post-merger share of the merged firm (fraction) above which, with an HHI change above
            ``delta``, a merger fails; None for no share test.
    """

    post_hhi: float
    delta: float
    merged_share: float | None = None

    def reason(self, pre_hhi: float, post_hhi: float, merged_share: float) -> str | None:
        """Why a merger fails the screen (``"hhi"`` or ``"share"``), or None if it passes."""
        if post_hhi - pre_hhi <= self.delta:
            return None
        if post_hhi > self.post_hhi:
            return "hhi"
        if self.merged_share is not None and merged_share > self.merged_share:
            return "share"
        return None


Screen = MergerScreen | tuple[float, float] | None
"""A screen, an (HHI, change) pair without a share test, or None for no merger control."""


def as_screen(screen: Screen) -> MergerScreen | None:
    """The :class:`MergerScreen` a screen argument stands for."""
    if screen is None or isinstance(screen, MergerScreen):
        return screen
    return MergerScreen(post_hhi=float(screen[0]), delta=float(screen[1]))


@dataclass(frozen=True)
class MergerReview:
    """The antitrust test of one proposed merger in one market (the verdict of a multi-market review).

    Attributes:
        pre_hhi: HHI before the merger (0-10,000).
        post_hhi: HHI with the target's owner group merged into the acquirer's.
        blocked: Whether the policy blocks the deal.
        merged_share: Post-merger revenue share of the merged group in the market (fraction).
        market: Name of the market reviewed (``"all"`` for the whole market).
        reason: ``"hhi"`` or ``"share"`` when blocked, else None.
        markets_reviewed: Number of relevant markets in which both parties sell (the screen ran in these).
    """

    pre_hhi: float
    post_hhi: float
    blocked: bool
    merged_share: float = math.nan
    market: str = "all"
    reason: str | None = None
    markets_reviewed: int = 1

    @property
    def delta(self) -> float:
        """Change in HHI the merger causes."""
        return self.post_hhi - self.pre_hhi

    def detail(self, policy: str) -> str:
        """The review as the JSON ``detail`` of an acquisition or blocked-merger event."""
        share = None if math.isnan(self.merged_share) else round(self.merged_share, 4)
        return json.dumps({"pre_hhi": round(self.pre_hhi, 3), "post_hhi": round(self.post_hhi, 3),
                           "delta_hhi": round(self.delta, 3), "merged_share": share, "market": self.market,
                           "markets_reviewed": self.markets_reviewed, "reason": self.reason, "policy": policy})


def review_merger(revenue: FloatArray, owner: IntArray, acquirer_owner: int, target_owner: int, screen: Screen,
                  market: str = "all") -> MergerReview:
    """Apply a merger screen in one market.

    ``pre = HHI(revenue by owner)``, ``post = HHI`` with the target's owner group merged into the acquirer's,
    ``merged_share = (revenue of both groups) / total``; blocked when :meth:`MergerScreen.reason` gives one.

    Args:
        revenue: Revenue per offer (or firm) in the market, $.
        owner: Ultimate owner per offer.
        acquirer_owner: Owner id of the acquirer.
        target_owner: Owner id of the target.
        screen: The screen, an (HHI, change) pair, or None (every deal allowed).
        market: Name of the market (reported in the event detail).
    """
    owner = np.asarray(owner)
    revenue = np.asarray(revenue, dtype=np.float64)
    pre = hhi(revenue, owner)
    merged = np.where(owner == target_owner, acquirer_owner, owner)
    post = hhi(revenue, merged)
    total = float(revenue.sum())
    share = float(revenue[merged == acquirer_owner].sum()) / total if total > 0 else 0.0
    rule = as_screen(screen)
    reason = None if rule is None else rule.reason(pre, post, share)
    return MergerReview(pre_hhi=pre, post_hhi=post, blocked=reason is not None, merged_share=share, market=market,
                        reason=reason)


def review_merger_in_markets(revenue_by_market: FloatArray, owner: IntArray, acquirer_owner: int, target_owner: int,
                             screen: Screen, *, names: Sequence[str] | None = None,
                             min_market_share: float = 0.0) -> MergerReview:
    """Review a merger in every relevant market where both parties sell; blocked if it fails in any.

    A market (row of ``revenue_by_market``) is relevant when both owner groups have revenue in it and its
    revenue is at least ``min_market_share`` of all markets' revenue. The verdict is the failing review with
    the largest HHI change, or else the passing review with the largest change. Without any relevant market the
    parties do not compete: the deal is allowed, and the review shown is that of all markets pooled.

    Args:
        revenue_by_market: Revenue per (market, offer or holder), $.
        owner: Ultimate owner per column.
        acquirer_owner, target_owner: Owner ids of the parties.
        screen: The screen, an (HHI, change) pair, or None.
        names: Market names (default ``"0"``, ``"1"``, ...).
        min_market_share: Smallest share of all revenue a market needs to be screened (fraction).
    """
    markets = np.atleast_2d(np.asarray(revenue_by_market, dtype=np.float64))
    owner = np.asarray(owner)
    labels = list(names) if names is not None else [str(m) for m in range(len(markets))]
    totals = markets.sum(axis=1)
    both = (markets[:, owner == acquirer_owner].sum(axis=1) > 0) & (markets[:, owner == target_owner].sum(axis=1) > 0)
    relevant = np.nonzero(both & (totals >= min_market_share * totals.sum()))[0]
    if len(relevant) == 0:
        pooled = review_merger(markets.sum(axis=0), owner, acquirer_owner, target_owner, None, market="none")
        return MergerReview(pre_hhi=pooled.pre_hhi, post_hhi=pooled.post_hhi, blocked=False,
                            merged_share=pooled.merged_share, market="none", markets_reviewed=0)
    reviews = [review_merger(markets[m], owner, acquirer_owner, target_owner, screen, market=labels[m])
               for m in relevant]
    verdict = max(reviews, key=lambda rv: (rv.blocked, rv.delta))
    return MergerReview(pre_hhi=verdict.pre_hhi, post_hhi=verdict.post_hhi, blocked=verdict.blocked,
                        merged_share=verdict.merged_share, market=verdict.market, reason=verdict.reason,
                        markets_reviewed=len(reviews))


def market_ids(segment: IntArray, region: IntArray, n_regions: int) -> IntArray:
    """Market of each buyer under the segment x region definition: ``segment * n_regions + region``."""
    return np.asarray(segment, dtype=np.int64) * n_regions + np.asarray(region, dtype=np.int64)


def revenue_by_market(allocation: FloatArray, price: FloatArray, market: IntArray, n_markets: int) -> FloatArray:
    """Revenue per (market, offer), $: ``sum_{e in m} allocation[e, o] * price[o]``.

    Args:
        allocation: Tokens each buyer bought of each offer (buyers x offers), Mtok.
        price: Price per offer, $/Mtok.
        market: Market id per buyer (0 to ``n_markets - 1``).
        n_markets: Number of markets.
    """
    return tokens_by_market(allocation, market, n_markets) * np.asarray(price, dtype=np.float64)[None, :]


def tokens_by_market(allocation: FloatArray, market: IntArray, n_markets: int) -> FloatArray:
    """Tokens per (market, offer), Mtok: the buyers' rows of ``allocation`` summed by market."""
    allocation = np.asarray(allocation, dtype=np.float64)
    membership = np.zeros((n_markets, allocation.shape[0]))
    membership[np.asarray(market, dtype=np.int64), np.arange(allocation.shape[0])] = 1.0
    return membership @ allocation


def hhi_by_market(revenue: FloatArray, owner: IntArray) -> FloatArray:
    """HHI of every market (row of ``revenue``, by ultimate owner, 0-10,000; 0 for a market without revenue)."""
    return np.array([hhi(row, owner) for row in np.atleast_2d(revenue)], dtype=np.float64)


def weighted_mean_hhi(market_hhi: FloatArray, volume: FloatArray) -> float:
    """Mean of per-market HHIs weighted by each market's volume (NaN when no market has volume)."""
    volume = np.asarray(volume, dtype=np.float64)
    total = float(volume.sum())
    return float(np.dot(market_hhi, volume) / total) if total > 0 else math.nan
