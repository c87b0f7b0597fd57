"""What pricing observes from a clearing: each offer's demand curve at the posted prices. Pure functions.

For every offer: its unconstrained demand, own-price slope and buyers' price sensitivity
(``market.pricing.demand_slopes``), the margin its owner's other offers (or the whole industry's) recapture
when its buyers switch (``market.pricing.diversion_margin``, computed only when a strategy in the market asks
for it), and the demand-weighted price of rivals' offers in its region (``market.offers.rival_prices``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from market.clearing_kernel import engine
from market.offers import OfferBook, region_prices, rival_prices
from market.pricing import diversion_margin
from market.task_classes import CapacityPools, TaskClasses

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
        region_price: Demand-weighted mean price of every offer per market id ``tier * n_regions + region``,
            $/Mtok (NaN: no offer there); with one tier, per region id.
        tier: The offer's tier (rivals are other owners' offers of the same region and tier).
        n_regions: Regions the market ids of ``region_price`` count.
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
    tier: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    n_regions: int = 0

    def price_in_region(self, region: int, tier: int = 0) -> float:
        """The demand-weighted mean price of the region's offers of ``tier`` (NaN where it had none): what an
        entrant there faces."""
        if (tier or self.n_regions) and not 0 <= region < self.n_regions:  # no offer there (ids would collide)
            return float("nan")
        market = region + tier * self.n_regions
        return float(self.region_price[market]) if 0 <= market < len(self.region_price) else float("nan")

    def index_of(self, holder: int, region: int, tier: int = 0) -> int:
        """Position of the offer of ``holder`` in ``region`` and ``tier``, or -1 when it posted none."""
        mask = (self.holder == holder) & (self.region == region)
        if len(self.tier) == len(self.holder):
            mask &= self.tier == tier
        hits = np.nonzero(mask)[0]
        return int(hits[0]) if hits.size else -1


def observe_market(offers: OfferBook, shares: FloatArray, volume: FloatArray, price_sensitivity: FloatArray, mu: float,
                   form: str, observes: Collection[str], *, classes: TaskClasses | None = None,
                   pools: CapacityPools | None = None, outside_share: FloatArray | None = None,
                   kernel: str = "numpy") -> MarketObservation:
    """Demand slopes, diversion terms and rival prices at this clearing's prices.

    Args:
        offers: The offers.
        shares: Logit shares before rationing (E x O).
        volume: Token volume per enterprise, Mtok (E).
        price_sensitivity: ``b_e`` (E).
        mu: Logit scale.
        form: Utility form.
        observes: Which costly terms to compute (``recapture_owner``, ``recapture_industry``); others are 0.
        classes: Task classes of the clearing (None: one class); demand and slopes sum over (enterprise, class).
        pools: Capacity pools (None: one per offer, ``offers.capacity``).
        outside_share: ``S0`` of the choice (E), for the class shares (default ``1 - sum_o S``).
        kernel: ``simulation.clearing_kernel``: demand, slopes and overflow from the fused passes or numpy.
    """
    terms: dict[str, Any] = {"classes": classes, "outside_share": outside_share}
    slopes, overflow = engine(kernel).demand_terms(shares, volume, price_sensitivity, mu, offers.price, form,
                                                   offers.capacity, pools=pools, **terms)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(slopes.demand > 0, 1.0 + overflow / slopes.demand, 1.0)
    margin = offers.price - offers.variable_cost  # recaptured margin over the marginal cost the books use
    owner_recapture = np.zeros(len(offers))
    industry_recapture = np.zeros(len(offers))
    if "recapture_owner" in observes:
        groups = [np.nonzero(offers.owner == o)[0] for o in np.unique(offers.owner)]
        owner_recapture = diversion_margin(shares, volume, price_sensitivity, mu, offers.price, margin,
                                           slopes.own_slope, [g for g in groups if len(g) > 1], form, **terms)
    if "recapture_industry" in observes:
        industry_recapture = diversion_margin(shares, volume, price_sensitivity, mu, offers.price, margin,
                                              slopes.own_slope, [np.arange(len(offers))], form, **terms)
    n_regions = int(offers.region.max()) + 1 if len(offers) else 0
    market = offers.region + n_regions * offers.tier  # the region's offers of one tier compete
    return MarketObservation(
        holder=offers.holder.copy(), region=offers.region.copy(), demand=slopes.demand * scale,
        own_slope=slopes.own_slope * scale,
        beta=slopes.beta, recapture_owner=owner_recapture, recapture_industry=industry_recapture,
        rival_price=rival_prices(offers.price, slopes.demand, offers.owner, market),
        region_price=region_prices(offers.price, slopes.demand, market),
        tier=offers.tier.copy(), n_regions=n_regions,
    )
