"""Routers (orchestration layers): resellers of inference that hold no GPUs.

A router posts, in each region, one offer routed to the cheapest provider offer it deems eligible, at that
price plus its fee (``market.routers``); its fee fraction comes from a fee strategy picked by name from
:data:`FEE_STRATEGIES`. Its customers move between the providers behind it at a fraction of their switching cost.
"""

from __future__ import annotations

import math

import mesa
import numpy as np
from numpy.typing import NDArray

from agents.registry import lookup
from market.config import PROVIDER_KIND_NAMES, AdaptiveFee, FixedMarkupFee, RouterConfig, RouterFeeConfig
from market.offers import OfferBook
from market.routers import cheapest_eligible, eligible_offers

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


class FeeStrategy:
    """A router's fee rule: the fee fraction ``m`` this month (fee = ``m`` x the underlying price)."""

    name = "fee"

    def __init__(self, params: RouterFeeConfig) -> None:
        self.params = params

    def markup(self) -> float:
        """The fee fraction this month."""
        raise NotImplementedError

    def observe(self, fee_income: float) -> None:
        """Last month's fee income (router revenue minus its payments to providers), $."""


class FixedMarkupStrategy(FeeStrategy):
    """A constant fee fraction ``markup``."""

    name = "fixed_markup"

    params: FixedMarkupFee

    def markup(self) -> float:
        return float(self.params.markup)


class AdaptiveFeeStrategy(FeeStrategy):
    """Hill-climbing on fee income, the adaptive pricing rule applied to the fee fraction.

    After each month the fraction moves by ``exp(+-step)``: in the same direction while fee income did not fall
    (the step grows by ``1 / sqrt(step_decay)``, at most ``max_step``), in the other direction with the step
    times ``step_decay`` (at least ``min_step``) when it fell; always within ``[min_markup, max_markup]``. The
    first move is upwards. Income rises with the fee while buyers stay and falls once they leave for the
    providers' direct offers, so the fee settles where the router's demand turns elastic.
    """

    name = "adaptive_fee"

    params: AdaptiveFee

    def __init__(self, params: AdaptiveFee) -> None:
        super().__init__(params)
        self.fraction = float(params.initial_markup)
        self.direction = 1.0
        self.step = float(params.step)
        self.last_income: float | None = None

    def markup(self) -> float:
        return self.fraction

    def observe(self, fee_income: float) -> None:
        p = self.params
        if self.last_income is not None:
            if fee_income < self.last_income:
                self.direction = -self.direction
                self.step = max(p.min_step, self.step * p.step_decay)
            else:
                self.step = min(p.max_step, self.step / math.sqrt(p.step_decay))
        self.last_income = fee_income
        self.fraction = float(np.clip(self.fraction * math.exp(self.direction * self.step), p.min_markup,
                                      p.max_markup))


FEE_STRATEGIES: dict[str, type[FeeStrategy]] = {
    FixedMarkupStrategy.name: FixedMarkupStrategy,
    AdaptiveFeeStrategy.name: AdaptiveFeeStrategy,
}
"""Router fee strategies by name."""


def make_fee_strategy(params: RouterFeeConfig) -> FeeStrategy:
    """The fee strategy named by ``params.strategy``, built with its parameters."""
    return lookup(FEE_STRATEGIES, params.strategy, "router fee strategy")(params)


class Router(mesa.Agent):
    """An orchestration layer: buys inference from providers and resells one offer per region, holding no GPUs.

    Attributes:
        cash: Cash, $.
        fee: Its fee strategy.
        last_revenue, last_cost: What buyers paid it and what it paid providers last month, $.
        last_markup: The fee fraction of its offers this month.
    """

    kind = "router"

    def __init__(self, model: mesa.Model, *, name: str, holder_id: int, config: RouterConfig) -> None:
        super().__init__(model)
        self.name = name
        self.holder_id = holder_id
        self.config = config
        self.cash = float(config.cash_usd)
        self.active = True
        self.fee = make_fee_strategy(config.fee)
        self.kind_ids = np.array([PROVIDER_KIND_NAMES.index(k) for k in config.provider_kinds], dtype=np.int64)
        self.last_revenue = 0.0
        self.last_cost = 0.0
        self.last_markup = float("nan")

    @property
    def switching_cost_factor(self) -> float:
        """Multiplier on its customers' switching cost between the providers behind it."""
        return float(self.config.switching_cost_factor)

    def eligible(self, offers: OfferBook, frontier: float, tier_quality: FloatArray | None = None) -> BoolArray:
        """The provider offers it routes to (``market.routers.eligible_offers``): quality at least its
        ``min_quality`` times the frontier, times the offer's tier quality factor (``tier_quality`` by tier id;
        None: 1)."""
        factor = 1.0 if tier_quality is None else np.asarray(tier_quality, dtype=np.float64)[offers.tier]
        return eligible_offers(offers, self.kind_ids, self.config.min_quality * frontier * factor)

    def routes(self, offers: OfferBook, frontier: float, n_regions: int,
               tier_quality: FloatArray | None = None) -> tuple[IntArray, FloatArray]:
        """Its offers this month: per (region, tier) with an eligible offer, the cheapest one (``via``, in order of
        region then tier) and the fee on top of its price, $/Mtok."""
        n_tiers = 1 if tier_quality is None else len(tier_quality)
        best = cheapest_eligible(offers.price, offers.region, offers.tier if n_tiers > 1 else
                                 np.zeros(len(offers), dtype=np.int64), self.eligible(offers, frontier, tier_quality),
                                 n_regions, n_tiers).ravel()
        via = best[best >= 0]
        self.last_markup = self.fee.markup()
        return via, self.last_markup * offers.price[via]

    def settle(self, revenue: float, cost: float) -> None:
        """Book the month: cash += revenue - cost; the fee strategy sees the fee income."""
        self.cash += revenue - cost
        self.last_revenue, self.last_cost = revenue, cost
        self.fee.observe(revenue - cost)
