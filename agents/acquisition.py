"""Acquisition strategies: which provider an acquirer bids for, and at what price.

Chosen by name (``corporate.acquisitions.strategy``) from :data:`ACQUISITION_STRATEGIES`. A strategy sees an
:class:`AcquisitionView` of the acquirer and the independent providers it may buy, and proposes at most one
deal; the market decides whether the deal happens (the deal probability, merger control) and books it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from agents.registry import lookup
from market.config import AcquisitionConfig
from market.corporate import acquisition_terms

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class AcquisitionView:
    """What an acquirer knows when it looks for a deal; candidate arrays share one order (holder id).

    Attributes:
        acquirer: Holder id of the acquirer.
        cash: The acquirer's cash, $.
        credit_limit: The acquirer's credit limit, $.
        candidate: Holder ids of the providers it may buy (independent, active, of a target kind).
        revenue_share: Each candidate's share of this month's market revenue (0 when the market has none).
        distressed: Whether each candidate's cash is below zero.
        annual_gross_profit: Twelve times this month's revenue minus cash costs, $.
        fleet_book_value: Book value of each candidate's GPUs, $.
        net_cash: Each candidate's cash minus its debt (negative cash is drawn credit), $.
    """

    acquirer: int
    cash: float
    credit_limit: float
    candidate: IntArray
    revenue_share: FloatArray
    distressed: NDArray[np.bool_]
    annual_gross_profit: FloatArray
    fleet_book_value: FloatArray
    net_cash: FloatArray


@dataclass(frozen=True)
class DealProposal:
    """A proposed acquisition: the target's holder id and the price offered, $."""

    target: int
    price_usd: float


class AcquisitionStrategy:
    """Base class: one instance per acquirer."""

    name: ClassVar[str]

    def __init__(self, params: AcquisitionConfig) -> None:
        self.params = params

    def propose(self, view: AcquisitionView) -> DealProposal | None:  # pragma: no cover - interface
        """The deal it proposes this month, or None."""
        raise NotImplementedError


class ValueOverPriceStrategy(AcquisitionStrategy):
    """Bid for the small or distressed candidate whose value to the acquirer most exceeds its price.

    A candidate qualifies when distressed or when its revenue share is below ``small_share_threshold``. Each
    is priced with :func:`market.corporate.acquisition_terms` (equity value: enterprise value plus net cash,
    with the premium); among the deals that pay (``value > price``) and that the acquirer can finance, paying
    the price and taking over the target's debt within its credit (``cash + credit_limit - price > 0`` and
    ``cash + credit_limit - price + min(net_cash, 0) > 0``), it proposes the one with the largest
    ``value - price`` (the first in holder order on ties).
    """

    name = "value_over_price"

    def propose(self, view: AcquisitionView) -> DealProposal | None:
        p = self.params
        best: tuple[float, int, float] | None = None
        for k, target in enumerate(view.candidate):
            distressed = bool(view.distressed[k])
            if not (distressed or view.revenue_share[k] < p.small_share_threshold):
                continue
            price, value = acquisition_terms(
                fleet_book_value=float(view.fleet_book_value[k]),
                annual_gross_profit=float(view.annual_gross_profit[k]), gross_profit_multiple=p.gross_profit_multiple,
                net_cash=float(view.net_cash[k]), synergy=p.synergy, premium=p.premium, distressed=distressed,
                distress_discount=p.distress_discount,
            )
            headroom = view.cash + view.credit_limit - price
            affordable = headroom > 0 and headroom + min(float(view.net_cash[k]), 0.0) > 0
            if value > price and affordable and (best is None or value - price > best[0]):
                best = (value - price, int(target), price)
        return None if best is None else DealProposal(target=best[1], price_usd=best[2])


ACQUISITION_STRATEGIES: dict[str, type[AcquisitionStrategy]] = {cls.name: cls for cls in (ValueOverPriceStrategy,)}
"""Registry of acquisition strategies by config name; register a subclass here to make it available."""


def make_acquisition_strategy(params: AcquisitionConfig) -> AcquisitionStrategy:
    """Instantiate the strategy named by ``params.strategy``.

    Raises:
        ValueError: The name is not registered; the message lists the registered names.
    """
    cls = lookup(ACQUISITION_STRATEGIES, params.strategy, "acquisition strategy",
                 key="corporate.acquisitions.strategy", error=ValueError)
    return cls(params)
