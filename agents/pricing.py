"""Pricing strategies: how a provider turns what it observes into prices for its offers.

Strategies are chosen by name from :data:`PRICING_STRATEGIES`; their parameters are validated by the config
schema (``market.config``). A strategy sees only its own provider's :class:`PricingView` and returns one price
per offer; the market computes the demand curves it reads (``market.pricing``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from market.config import (
    AdaptivePricing,
    BestResponsePricing,
    CostPlusPricing,
    QLearningPricing,
    ShareAcquisitionPricing,
)
from market.pricing import logit_best_response

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class PricingView:
    """What a provider knows when it prices, one entry per offer (region) it serves.

    Attributes:
        step: Current step.
        unit_cost: Cost per Mtok at the provider's cost-basis utilization, $/Mtok.
        last_price: Price posted last step, $/Mtok.
        demand: Unconstrained demand at last step's prices, Mtok.
        own_slope: ``-dD/dp`` at last step's prices.
        beta: Buyers' mean price sensitivity over the logit scale.
        recapture_owner: Margin recaptured by offers of the same owner per unit of diverted demand, $/Mtok.
        recapture_industry: Same, over all offers in the market (joint-profit benchmark), $/Mtok.
        capacity: Capacity per offer, Mtok.
        last_profit: Provider profit last step, $.
        cash: Cash, $.
        credit_limit: Credit limit, $.
        utility_form: ``linear`` or ``log``.
        observed: False at step 0, before any clearing.
        rival_price: Demand-weighted mean of the other owners' last prices in the offer's region, $/Mtok
            (NaN before the first clearing or without rivals there).
    """

    step: int
    unit_cost: FloatArray
    last_price: FloatArray
    demand: FloatArray
    own_slope: FloatArray
    beta: FloatArray
    recapture_owner: FloatArray
    recapture_industry: FloatArray
    capacity: FloatArray
    last_profit: float
    cash: float
    credit_limit: float
    utility_form: str
    observed: bool
    rival_price: FloatArray


class PricingStrategy:
    """Base class: one instance per provider, so a strategy may keep state."""

    name: ClassVar[str]
    uses_rng: ClassVar[bool] = False
    """Whether the constructor takes the provider's generator (``rng=``)."""

    def decide(self, view: PricingView) -> FloatArray:  # pragma: no cover - interface
        """Prices for the provider's offers, $/Mtok."""
        raise NotImplementedError


class CostPlusStrategy(PricingStrategy):
    """``p = unit_cost * (1 + markup)``."""

    name = "cost_plus"

    def __init__(self, params: CostPlusPricing) -> None:
        self.markup = params.markup

    def decide(self, view: PricingView) -> FloatArray:
        return view.unit_cost * (1.0 + self.markup)


class BestResponseStrategy(PricingStrategy):
    """Myopic best response to the logit demand given rivals' last prices (``market.pricing``)."""

    name = "best_response"

    def __init__(self, params: BestResponsePricing) -> None:
        self.params = params

    def decide(self, view: PricingView) -> FloatArray:
        if not view.observed:
            return view.last_price
        recapture = view.recapture_industry if self.params.objective == "industry" else view.recapture_owner
        target = logit_best_response(
            cost=view.unit_cost + recapture,
            price=view.last_price,
            demand=view.demand,
            own_slope=view.own_slope,
            beta=view.beta,
            form=view.utility_form,
            capacity=view.capacity,
        )
        d = self.params.damping
        return d * target + (1.0 - d) * view.last_price


class ShareAcquisitionStrategy(PricingStrategy):
    """Price below cost while the cash runway allows (at most ``max_months``), then recover with a markup."""

    name = "share_acquisition"

    def __init__(self, params: ShareAcquisitionPricing) -> None:
        self.params = params
        self.months_subsidized = 0
        self.acquiring = True

    def decide(self, view: PricingView) -> FloatArray:
        p = self.params
        if self.acquiring:
            loss = max(-view.last_profit, 0.0)
            headroom = view.cash + view.credit_limit
            runway_ok = loss == 0.0 or headroom > p.runway_months * loss
            if not runway_ok or self.months_subsidized >= p.max_months:
                self.acquiring = False
        if self.acquiring:
            self.months_subsidized += 1
            return view.unit_cost * (1.0 - p.discount)
        return view.unit_cost * (1.0 + p.recovery_markup)


class AdaptiveStrategy(PricingStrategy):
    """Profit hill-climbing: move all prices by a relative step; reverse and shrink the step when profit falls.

    When the provider sold nothing last month the price moves down (a flat zero profit gives no gradient).
    """

    name = "adaptive"

    def __init__(self, params: AdaptivePricing) -> None:
        self.params = params
        self.direction = 1.0
        self.step = params.step
        self.previous_profit: float | None = None

    def decide(self, view: PricingView) -> FloatArray:
        p = self.params
        if view.observed and view.demand.sum() <= 0:
            self.direction = -1.0  # nothing sells: profit is flat at zero, so the only way up is a lower price
        elif view.observed:
            if self.previous_profit is not None and view.last_profit < self.previous_profit:
                self.direction = -self.direction
                self.step = max(p.min_step, self.step * p.step_decay)
            self.previous_profit = view.last_profit
        price = view.last_price * np.exp(self.direction * self.step)
        return np.maximum(price, view.unit_cost * (1.0 + p.floor_markup))


PRICING_STRATEGIES: dict[str, type[PricingStrategy]] = {
    cls.name: cls for cls in (CostPlusStrategy, BestResponseStrategy, ShareAcquisitionStrategy, AdaptiveStrategy)
}
"""Registry of pricing strategies by config name."""


def make_pricing_strategy(
    params: CostPlusPricing | BestResponsePricing | ShareAcquisitionPricing | AdaptivePricing | QLearningPricing,
    rng: np.random.Generator | None = None,
) -> PricingStrategy:
    """Instantiate the strategy named by ``params.strategy``.

    Args:
        params: The strategy's parameters.
        rng: The provider's own generator, handed to strategies that draw random numbers (``uses_rng``).

    Raises:
        KeyError: The name is not registered; the message lists the registered names.
    """
    try:
        cls = PRICING_STRATEGIES[params.strategy]
    except KeyError:
        known = ", ".join(sorted(PRICING_STRATEGIES))
        raise KeyError(f"unknown pricing strategy '{params.strategy}' (choose from {known})") from None
    if cls.uses_rng:
        return cls(params, rng=rng)  # type: ignore[call-arg]
    return cls(params)  # type: ignore[arg-type]


import agents.qlearning  # noqa: E402, F401  (registers QLearningStrategy, which subclasses PricingStrategy)
