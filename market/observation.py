"""What pricing observes from a clearing: each offer's demand curve at the posted prices. Pure functions.

For every offer: its unconstrained demand, own-price slope and buyers' price sensitivity
(``market.pricing.demand_slopes``), the margin its owner's other offers (or the whole industry's) recapture
when its buyers switch (``market.pricing.diversion_margin``, computed only when a strategy in the market asks
for it), and the demand-weighted price of rivals' offers in its region (``market.offers.rival_prices``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from market.clearing_kernel import engine
from market.offers import OfferBook, region_prices, rival_prices
from market.pricing import diversion_margin

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class MarketObservation:
    """Per offer of the last clearing (in the offer book's order), what pricing reads next month.

    Attributes:
        holder, region: The offer's provider and region.
        demand: Residual demand at the posted prices, Mtok: first-choice demand plus the demand re-offered to it
            by buyers rationed at full offers (``market.pricing.rationing_overflow``).
        own_slope: ``-dD/dp``, Mtok per $/Mtok (the first-choice slope scaled with the demand, so the overflow
            is taken to be as price-elastic as its own buyers).
        beta: Buyers' demand-weighted mean price sensitivity over the logit scale.
        recapture_owner: Margin recaptured by offers of the same owner per unit of diverted demand, $/Mtok.
        recapture_industry: Same over every offer (the joint-profit benchmark), $/Mtok.
        rival_price: Demand-weighted mean price of other owners' offers in the region, $/Mtok (NaN: none).
        region_price: Demand-weighted mean price of every offer per region id, $/Mtok (NaN: no offer there).
    """

    holder: IntArray
    region: IntArray
    demand: FloatArray
    own_slope: FloatArray
    beta: FloatArray
    recapture_owner: FloatArray
    recapture_industry: FloatArray
    rival_price: FloatArray
    region_price: FloatArray = field(default_factory=lambda: np.zeros(0))

    def price_in_region(self, region: int) -> float:
        """The region's demand-weighted mean price (NaN where it had no offer): what an entrant there faces."""
        return float(self.region_price[region]) if 0 <= region < len(self.region_price) else float("nan")

    def index_of(self, holder: int, region: int) -> int:
        """Position of the offer of ``holder`` in ``region``, or -1 when it posted none."""
        hits = np.nonzero((self.holder == holder) & (self.region == region))[0]
        return int(hits[0]) if hits.size else -1


def observe_market(offers: OfferBook, shares: FloatArray, volume: FloatArray, price_sensitivity: FloatArray, mu: float,
                   form: str, observes: Collection[str], *, kernel: str = "numpy") -> MarketObservation:
    """Demand slopes, diversion terms and rival prices at this clearing's prices.

    Args:
        offers: The offers.
        shares: Logit shares before rationing (E x O).
        volume: Token volume per enterprise, Mtok (E).
        price_sensitivity: ``b_e`` (E).
        mu: Logit scale.
        form: Utility form.
        observes: Which costly terms to compute (``recapture_owner``, ``recapture_industry``); others are 0.
        kernel: ``simulation.clearing_kernel``: demand, slopes and overflow from the fused passes or numpy.
    """
    slopes, overflow = engine(kernel).demand_terms(shares, volume, price_sensitivity, mu, offers.price, form,
                                                   offers.capacity)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(slopes.demand > 0, 1.0 + overflow / slopes.demand, 1.0)
    margin = offers.price - offers.variable_cost  # recaptured margin over the marginal cost the books use
    owner_recapture = np.zeros(len(offers))
    industry_recapture = np.zeros(len(offers))
    if "recapture_owner" in observes:
        groups = [np.nonzero(offers.owner == o)[0] for o in np.unique(offers.owner)]
        owner_recapture = diversion_margin(shares, volume, price_sensitivity, mu, offers.price, margin,
                                           slopes.own_slope, [g for g in groups if len(g) > 1], form)
    if "recapture_industry" in observes:
        industry_recapture = diversion_margin(shares, volume, price_sensitivity, mu, offers.price, margin,
                                              slopes.own_slope, [np.arange(len(offers))], form)
    return MarketObservation(
        holder=offers.holder.copy(), region=offers.region.copy(), demand=slopes.demand * scale,
        own_slope=slopes.own_slope * scale,
        beta=slopes.beta, recapture_owner=owner_recapture, recapture_industry=industry_recapture,
        rival_price=rival_prices(offers.price, slopes.demand, offers.owner, offers.region),
        region_price=region_prices(offers.price, slopes.demand, offers.region),
    )
