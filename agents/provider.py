"""Inference providers: hyperscalers, specialized providers and decentralized operators.

A provider holds its balance sheet and its strategies; its GPUs are lots in the model's GPU ledger. It
decides prices and fleet changes; the model clears the market and settles the books.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np
from numpy.typing import NDArray

from agents.acquisition import AcquisitionStrategy, AcquisitionView, DealProposal, make_acquisition_strategy
from agents.investment import FleetOrder, InvestmentView, make_investment_strategy
from agents.pricing import OPENING_PRICE_FACTOR, PricingView, make_pricing_strategy
from market.clearing import Clearing
from market.config import AcquisitionConfig, ProviderConfig
from market.corporate import flywheel_gain
from market.fleet import FleetEconomics
from market.observation import MarketObservation
from market.offers import OfferBook
from market.technology import GenerationTable, power_cost_per_gpu_month, tokens_per_gpu_month
from market.tiers import TierTable

if TYPE_CHECKING:
    from collections.abc import Sequence

FloatArray = NDArray[np.float64]


class Provider(mesa.Agent):
    """Common state and decisions of every provider kind.

    Attributes:
        name: Provider name.
        holder_id: Its id in the GPU ledger and in provider-level arrays.
        regions: Region ids it serves.
        tiers: Tier ids it serves.
        slot_region, slot_tier, slot_weight: Its offer slots, one per (region, tier), region by region: the
            region, the tier and the tier's capacity units per Mtok.
        price: Current price per slot, $/Mtok.
        cash: Cash, $ (negative means borrowing, down to ``-credit_limit``).
        owner_id: Holder id of its ultimate owner (itself unless acquired).
        active: False once it has exited.
    """

    kind: ClassVar[str] = "provider"

    def __init__(self, model: mesa.Model, *, name: str, holder_id: int, config: ProviderConfig,
                 regions: Sequence[int], acquisitions: AcquisitionConfig | None = None,
                 pricing_rng: np.random.Generator | None = None, tiers: TierTable | None = None) -> None:
        super().__init__(model)
        self.name = name
        self.holder_id = holder_id
        self.config = config
        self.regions = np.asarray(regions, dtype=np.int64)
        self.tier_table = TierTable.implicit() if tiers is None else tiers
        self.tiers = self.tier_table.ids(config.tiers)
        self.slot_region = np.repeat(self.regions, len(self.tiers))
        self.slot_tier = np.tile(self.tiers, len(self.regions))
        self.slot_weight = self.tier_table.capacity_weight[self.slot_tier]
        self.quality_mode = config.quality
        self.quality_factor = config.quality_factor
        self.serving_efficiency = config.serving_efficiency
        self.base_privacy_risk = config.privacy_risk
        self.lock_in = config.lock_in
        self.reliability = config.reliability
        self._cash = float(config.cash_usd)
        self._credit_limit = float(config.credit_limit_usd)
        self.cost_of_capital_per_year = config.cost_of_capital_per_year
        self.opex_usd_per_gpu_month = config.opex_usd_per_gpu_month
        self.pue = config.pue
        self.parent: Provider | None = None
        self.active = True
        self.cumulative_served_mtok = 0.0  # work served to date, capacity units (Mtok of the frontier model)
        self.months_distressed = 0
        self.months_idle = 0
        self.pricing = make_pricing_strategy(config.pricing, rng=pricing_rng)
        self.investment = make_investment_strategy(config.investment)
        self.acquisition: AcquisitionStrategy = make_acquisition_strategy(acquisitions or AcquisitionConfig())
        self.price = np.full(len(self.slot_region), np.nan if config.initial_price_usd_per_mtok is None
                             else config.initial_price_usd_per_mtok)
        self.last_profit = 0.0
        self.monthly_operating_cost = 0.0
        self.last_deal_step: int | None = None
        self.market_demand_history: list[float] = []

    # -- ownership and balance sheet -----------------------------------------------------------------------
    @property
    def owner(self) -> Provider:
        """Its ultimate owner (itself unless acquired)."""
        node = self
        while node.parent is not None:
            node = node.parent
        return node

    @property
    def owner_id(self) -> int:
        """Holder id of its ultimate owner."""
        return self.owner.holder_id

    @property
    def cash(self) -> float:
        """Cash of its balance sheet, $: a subsidiary's treasury is its ultimate owner's."""
        return self.owner._cash

    @cash.setter
    def cash(self, value: float) -> None:
        self.owner._cash = float(value)

    @property
    def own_cash(self) -> float:
        """Cash on its own books, $ (zero for a subsidiary, whose cash joined its owner's treasury)."""
        return self._cash

    @property
    def own_credit_limit(self) -> float:
        """Its own credit limit, $ (its balance sheet's when it is independent)."""
        return self._credit_limit

    @property
    def credit_limit(self) -> float:
        """Credit limit of its balance sheet (the ultimate owner's for a subsidiary), $."""
        return self.owner._credit_limit

    def consolidate_into(self, acquirer: Provider) -> None:
        """Become a subsidiary of ``acquirer``: its cash and debt join the acquirer's balance sheet, and it
        adopts the acquirer's data practices (privacy risk at least the acquirer's)."""
        acquirer.owner._cash += self._cash
        self._cash = 0.0
        self.parent = acquirer
        self.base_privacy_risk = max(self.base_privacy_risk, acquirer.base_privacy_risk)

    # -- characteristics the market reads ------------------------------------------------------------------
    @property
    def flywheel_gain(self) -> float:
        """Quality gain from the data it has served (0 without a flywheel)."""
        cfg = self.config
        return flywheel_gain(self.cumulative_served_mtok, cfg.flywheel_scale_mtok, cfg.flywheel_learning_rate)

    @property
    def privacy_risk(self) -> float:
        """Privacy risk buyers perceive: base risk plus the cost of its data flywheel."""
        return self.base_privacy_risk + self.config.flywheel_privacy_cost * self.flywheel_gain

    def quality(self, frontier: float, open_weight: float) -> float:
        """Capability index of what it serves this step (flywheel gain included), before tier factors."""
        if self.quality_mode == "frontier":
            base = frontier
        elif self.quality_mode == "open":
            base = open_weight
        else:
            base = float(self.quality_mode)
        return base * self.quality_factor * (1.0 + self.flywheel_gain)

    @property
    def unverified_fraction(self) -> float:
        """Fraction of capacity buyers cannot verify (only decentralized operators have one)."""
        return 0.0

    @property
    def capacity_factor(self) -> float:
        """Fraction of raw capacity that serves buyers (verification costs capacity)."""
        return 1.0

    # -- what it knows -------------------------------------------------------------------------------------
    def pricing_view(self, step: int, fleet: FleetEconomics, observation: MarketObservation | None,
                     utility_form: str) -> PricingView:
        """Its view for pricing, one entry per offer slot (region, tier): its costs per Mtok of the tier (the
        fleet's per capacity unit times the tier's weight), the tier Mtok its region's capacity could serve, and
        last month's observation of its offers (zeros for offers it did not post, whose rival price is the
        region and tier's mean price: the market it enters). Regions where it has no GPUs yet are costed at its
        cheapest region."""
        regions, tiers, weight = self.slot_region, self.slot_tier, self.slot_weight
        unit_cost = fleet.unit_cost[self.holder_id, regions] * weight
        marginal_cost = fleet.variable_cost[self.holder_id, regions] * weight
        finite = np.isfinite(unit_cost)
        if not finite.all():
            unit_cost = np.where(finite, unit_cost, unit_cost[finite].min())
        idx = ([observation.index_of(self.holder_id, int(r), int(t)) for r, t in zip(regions, tiers, strict=True)]
               if observation is not None else [-1] * len(regions))

        def seen(values: FloatArray | None, missing: float = 0.0) -> FloatArray:
            return np.array([values[i] if values is not None and i >= 0 else missing for i in idx], dtype=np.float64)

        obs = observation
        rival = seen(obs.rival_price if obs else None, np.nan)
        if obs is not None:
            rival = np.where(np.asarray(idx) < 0, [obs.price_in_region(int(r), int(t))
                                                   for r, t in zip(regions, tiers, strict=True)], rival)
        names = getattr(self.model, "region_names", None)
        return PricingView(
            step=step, unit_cost=unit_cost, marginal_cost=marginal_cost, last_price=self.price.copy(),
            demand=seen(obs.demand if obs else None), own_slope=seen(obs.own_slope if obs else None),
            beta=seen(obs.beta if obs else None), recapture_owner=seen(obs.recapture_owner if obs else None),
            recapture_industry=seen(obs.recapture_industry if obs else None), rival_price=rival,
            capacity=self.slot_capacity(fleet.capacity[self.holder_id, regions], seen(obs.demand if obs else None)),
            last_profit=self.last_profit, cash=self.cash,
            credit_limit=self.credit_limit, utility_form=utility_form,
            observed=obs is not None and len(obs.holder) > 0,
            region=tuple(str(names[r]) for r in regions) if names is not None else (),
            **self.pool_fields(fleet),  # type: ignore[arg-type]
        )

    def pool_fields(self, fleet: FleetEconomics) -> dict[str, FloatArray | NDArray[np.int64]]:
        """With several tiers, each slot's pool (its region's index), capacity weight and pool capacity in
        capacity units, so that pricing can price a region's tiers against their shared GPUs; nothing with one."""
        if len(self.tiers) == 1:
            return {}
        return {"pool": np.repeat(np.arange(len(self.regions), dtype=np.int64), len(self.tiers)),
                "capacity_weight": self.slot_weight.astype(np.float64),
                "pool_capacity": np.asarray(fleet.capacity[self.holder_id, self.slot_region], dtype=np.float64)}

    def investment_view(self, *, step: int, fleet: FleetEconomics, offers: OfferBook, clearing: Clearing,
                        generations: GenerationTable, algorithmic_efficiency: float, used_price: FloatArray,
                        used_available: NDArray[np.int64], used_life_left: FloatArray | None = None,
                        power_price: FloatArray | None = None) -> InvestmentView | None:
        """Its view for fleet planning (None when its capacity is fixed or there is no GPU to buy).

        Demand per region is the larger of its own unconstrained demand and what it served (overflow from
        full rivals included), in capacity units (tier Mtok times the tier's weight, summed over its tiers).
        ``used_price``, ``used_life_left`` and ``used_available`` are, per generation, the
        price and mean months of life left of the cheapest reseller's lots and the resellers' stock (without
        ``used_life_left``, a GPU built at its generation's release). With ``power_price`` (per region) it also
        sees each generation's running cost per GPU-month: power at its PUE and mean regional price, plus opex.
        Each call records the market's inside demand this month in its demand history (the investment
        forecast's data)."""
        gens = generations
        if self.config.capacity_mtok_per_month is not None or not len(gens):
            return None
        self.market_demand_history.append(float(clearing.inside_demand.sum()))
        regions = self.regions
        demand = np.zeros(len(regions))
        for o in np.nonzero(offers.holder == self.holder_id)[0]:
            demand[np.nonzero(regions == offers.region[o])[0]] += (
                max(clearing.offer_demand[o], clearing.served[o]) * offers.capacity_weight[o])
        tokens = tokens_per_gpu_month(gens.throughput_tokens_per_s,
                                      self.serving_efficiency * self.capacity_factor * algorithmic_efficiency)
        new_id = gens.newest(step)
        capacity = fleet.capacity[self.holder_id, regions]
        gpus = fleet.gpus[self.holder_id, regions]
        return InvestmentView(
            step=step, capacity=capacity, demand=demand, new_generation=new_id,
            new_price=float(gens.list_price_usd[new_id]) if new_id >= 0 else np.inf,
            new_tokens_per_gpu=float(tokens[new_id]) if new_id >= 0 else 0.0,
            new_lifetime=int(gens.lifetime_months[new_id]) if new_id >= 0 else 0,
            tokens_per_gpu=tokens, used_price=used_price,
            used_life_left=(np.maximum(gens.lifetime_months - np.maximum(step - gens.release_step, 0), 1).astype(float)
                            if used_life_left is None else used_life_left),
            running_cost_per_gpu_month=None if power_price is None else power_cost_per_gpu_month(
                gens.power_kw, float(np.mean(power_price[regions])), self.pue) + self.config.opex_usd_per_gpu_month,
            used_available=used_available,
            tokens_per_installed_gpu=np.where(gpus > 0, capacity / np.maximum(gpus, 1.0), tokens.max()),
            installed_gpus=gpus, cash=self.cash, credit_limit=self.credit_limit,
            monthly_operating_cost=self.monthly_operating_cost,
            market_demand_history=np.array(self.market_demand_history),
            price=self.price_per_capacity_unit(), cost_of_capital_per_year=self.cost_of_capital_per_year,
        )

    def slot_capacity(self, pool_capacity: FloatArray, demand: FloatArray) -> FloatArray:
        """Tier Mtok each slot can serve: its region's capacity (capacity units, per slot) shared among the
        region's tiers in proportion to last month's demand in capacity units, ``C_r * w_s D_s / sum_k w_k D_k``
        (evenly where they had none), over the tier's weight ``w_s``. With one tier, the region's capacity."""
        if len(self.tiers) == 1:
            return pool_capacity / self.slot_weight
        n = len(self.tiers)
        units = (self.slot_weight * demand).reshape(len(self.regions), n)
        total = units.sum(axis=1, keepdims=True)
        share = np.where(total > 0, units / np.where(total > 0, total, 1.0), 1.0 / n).ravel()
        return np.asarray(pool_capacity * share / self.slot_weight, dtype=np.float64)

    def price_per_capacity_unit(self) -> FloatArray:
        """Its price per region in $ per capacity unit: its slots' prices over their tiers' weights, averaged
        over the region's tiers (its price per region when it serves one tier)."""
        if len(self.tiers) == 1:
            return self.price.copy()
        per_unit = (self.price / self.slot_weight).reshape(len(self.regions), len(self.tiers))
        return np.asarray(per_unit.mean(axis=1), dtype=np.float64)

    # -- decisions -----------------------------------------------------------------------------------------
    def post_prices(self, view: PricingView) -> FloatArray:
        """Prices for its offers this step: its pricing strategy's decision (floors only where the strategy
        documents one)."""
        prices = np.asarray(self.pricing.decide(view), dtype=np.float64)
        if prices.shape != self.price.shape or not np.all(np.isfinite(prices)) or np.any(prices <= 0):
            raise ValueError(f"{self.name}: pricing strategy '{self.pricing.name}' returned invalid prices {prices}")
        self.price = prices
        return prices

    def offering(self, fleet: FleetEconomics) -> NDArray[np.bool_] | None:
        """The slots (region, tier) where it can offer (capacity > 0 in the region), or None when inactive or
        without capacity anywhere."""
        capacity = fleet.capacity[self.holder_id, self.slot_region]
        return capacity > 0 if self.active and np.any(capacity > 0) else None

    def price_offers(self, step: int, fleet: FleetEconomics, observation: MarketObservation | None,
                     utility_form: str) -> NDArray[np.bool_] | None:
        """Post this month's prices (opening prices first where it never priced) and return the regions where
        it offers (those with capacity), or None when it has nothing to sell anywhere."""
        offering = self.offering(fleet)
        if offering is None:
            return None
        if np.any(np.isnan(self.price)):
            self.open_prices(self.pricing_view(step, fleet, observation, utility_form))
        self.post_prices(self.pricing_view(step, fleet, observation, utility_form))
        return offering

    def open_prices(self, view: PricingView, weight: float = 1.0, opening: NDArray[np.bool_] | None = None
                    ) -> float:
        """Move its ``opening`` offers (default: those without a price) towards their opening price (its
        pricing strategy's :meth:`~agents.pricing.PricingStrategy.opening_prices`):
        ``p <- p^(1 - weight) target^weight``, the target itself where ``p`` is NaN. Returns the largest
        relative move, ``max |ln(p_new / p)|`` (inf where a price was NaN)."""
        old = self.price
        opening = np.isnan(old) if opening is None else opening
        if not opening.any():
            return 0.0
        target = np.asarray(self.pricing.opening_prices(view), dtype=np.float64)
        target = np.where(np.isfinite(target) & (target > 0), target, view.unit_cost * OPENING_PRICE_FACTOR)
        with np.errstate(invalid="ignore", divide="ignore"):
            damped = np.exp((1.0 - weight) * np.log(old) + weight * np.log(target))
            new = np.where(opening, np.where(np.isnan(old), target, damped), old)
            moves = np.where(np.isnan(old), np.inf, np.abs(np.log(new / old)))
        self.price = new
        return float(moves[opening].max())

    def plan_fleet(self, view: InvestmentView) -> FleetOrder:
        """GPUs to buy and sell this step (its investment strategy's decision)."""
        return self.investment.decide(view)

    def propose_acquisition(self, view: AcquisitionView) -> DealProposal | None:
        """The acquisition it proposes this month (its acquisition strategy's decision), or None."""
        return self.acquisition.propose(view)

    def generations_to_retire(self, new_generations: Sequence[int], held: Sequence[int]) -> list[int]:
        """Generations to retire when ``new_generations`` are released (none, except hyperscalers).

        ``held`` lists the generations it holds, oldest release first.
        """
        return []


class Hyperscaler(Provider):
    """A cloud with deep capital, frontier models and ecosystem lock-in; retires its oldest GPUs on upgrades."""

    kind = "hyperscaler"

    def generations_to_retire(self, new_generations: Sequence[int], held: Sequence[int]) -> list[int]:
        """On a new generation's release, retire the oldest generation it holds (if it holds more than one)."""
        if len(new_generations) == 0 or len(held) < 2:
            return []
        return [held[0]]


class SpecializedProvider(Provider):
    """An inference specialist: efficient serving of open-weight models, thin balance sheet."""

    kind = "specialized"


class DecentralizedOperator(Provider):
    """A network of small GPU owners; verification costs capacity but removes the buyers' trust discount."""

    kind = "decentralized"

    @property
    def unverified_fraction(self) -> float:
        return 0.0 if self.config.verification else 1.0

    @property
    def capacity_factor(self) -> float:
        return 1.0 - self.config.verification_overhead if self.config.verification else 1.0


PROVIDER_KINDS: dict[str, type[Provider]] = {
    cls.kind: cls for cls in (Hyperscaler, SpecializedProvider, DecentralizedOperator)
}
"""Provider classes by config ``kind``."""
