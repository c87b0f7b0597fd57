"""Corporate mechanics: merger control, deal valuation, entry signal, data flywheel. Pure functions."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from market.metrics import hhi

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class MergerReview:
    """The antitrust test of one proposed merger.

    Attributes:
        pre_hhi: HHI before the merger (0-10,000).
        post_hhi: HHI with the target's owner group merged into the acquirer's.
        blocked: Whether the policy blocks the deal.
    """

    pre_hhi: float
    post_hhi: float
    blocked: bool

    @property
    def delta(self) -> float:
        """Change in HHI the merger causes."""
        return self.post_hhi - self.pre_hhi


def review_merger(
    revenue: FloatArray, owner: IntArray, acquirer_owner: int, target_owner: int, thresholds: tuple[float, float] | None
) -> MergerReview:
    """Apply an HHI screen to a merger of two owner groups.

    The merger is blocked when ``post_hhi > thresholds[0]`` and ``post_hhi - pre_hhi > thresholds[1]``
    (e.g. 1,800 and 100 under the 2023 US merger guidelines). ``thresholds=None`` allows every deal.

    Args:
        revenue: Revenue per offer (or firm), $.
        owner: Ultimate owner per offer.
        acquirer_owner: Owner id of the acquirer.
        target_owner: Owner id of the target.
        thresholds: (post-merger HHI, change) or None.
    """
    owner = np.asarray(owner)
    pre = hhi(revenue, owner)
    merged = np.where(owner == target_owner, acquirer_owner, owner)
    post = hhi(revenue, merged)
    blocked = thresholds is not None and post > thresholds[0] and post - pre > thresholds[1]
    return MergerReview(pre_hhi=pre, post_hhi=post, blocked=bool(blocked))


def standalone_value(fleet_book_value: float, annual_gross_profit: float, revenue_multiple: float) -> float:
    """Value of a provider on its own, $: its fleet at book value plus a multiple of a year's gross profit."""
    return fleet_book_value + max(annual_gross_profit, 0.0) * revenue_multiple


def acquisition_terms(
    *,
    fleet_book_value: float,
    annual_gross_profit: float,
    revenue_multiple: float,
    synergy: float,
    premium: float,
    distressed: bool,
    distress_discount: float,
) -> tuple[float, float]:
    """Price the acquirer pays and the value it gets, $.

    ``price = standalone * (1 + premium) * (1 - distress_discount if distressed)`` and
    ``value = fleet_book_value + max(gross profit, 0) * multiple * (1 + synergy)``; the deal pays when
    ``value > price``.
    """
    base = standalone_value(fleet_book_value, annual_gross_profit, revenue_multiple)
    price = base * (1.0 + premium) * ((1.0 - distress_discount) if distressed else 1.0)
    value = fleet_book_value + max(annual_gross_profit, 0.0) * revenue_multiple * (1.0 + synergy)
    return price, value


def flywheel_gain(cumulative_tokens_mtok: float, scale_mtok: float, learning_rate: float) -> float:
    """Quality gain from the data flywheel: ``learning_rate * ln(1 + cumulative / scale)`` (fraction)."""
    if learning_rate == 0.0 or cumulative_tokens_mtok <= 0.0:
        return 0.0
    return learning_rate * math.log1p(cumulative_tokens_mtok / scale_mtok)


def entry_is_attractive(recent_margins: list[float], threshold: float) -> bool:
    """Free-entry signal: the mean recent margin of incumbents of a kind exceeds the threshold.

    Months without a measurable margin (no revenue) are ignored; with none left there is no signal.
    """
    values = [m for m in recent_margins if m == m]
    return bool(values) and float(np.mean(values)) > threshold
