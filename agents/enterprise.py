"""Enterprises: the buyers, as a vectorized population of weighted representative agents.

Each agent stands for ``firms_per_agent`` real firms of its segment. All state lives in the arrays of
:class:`EnterprisePopulation`; the :class:`Enterprise` Mesa agents are read-only views for inspection, and no
per-enterprise Python code runs in a step.
"""

from __future__ import annotations

from collections.abc import Sequence

import mesa
import numpy as np
from numpy.typing import NDArray

from market.config import RegionConfig, SegmentConfig
from market.demand import choice_utilities, outside_option_utility, quality_floors
from market.offers import OfferBook, incumbent_offer_index

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class EnterprisePopulation:
    """State of every enterprise agent as arrays (index = enterprise id).

    Attributes:
        segment, region: Segment and region ids.
        weight: Firms the agent stands for.
        base_demand: Monthly token need of the agent (all its firms) at the reference price at step 0, Mtok.
        growth_per_year, elasticity, reference_price: Demand parameters (per agent, from its segment).
        price_sensitivity, quality_weight, privacy_sensitivity, lockin_aversion, trust_weight,
        reliability_weight: Utility weights.
        residency_bound: Whether it must be served in its own region.
        quality_floor: Lowest quality it considers, as a fraction of the frontier (drawn at set-up around its
            segment's mean, ``market.demand.quality_floors``); applies to offers and to self-hosting.
        switching_cost, switching_cost_growth, switching_cost_max: Switching-cost parameters (utility).
        incumbent_provider: Holder id of its current main provider (-1: none); ``incumbent_region`` its region.
        tenure_months: Months with the current main provider.
        region_slices: Agents are stored region by region; ``region_slices[r]`` selects region ``r``'s agents.
    """

    def __init__(self, segments: Sequence[SegmentConfig], regions: Sequence[RegionConfig],
                 rng: np.random.Generator) -> None:
        region_weight = np.array([r.demand_share for r in regions], dtype=np.float64)
        region_weight /= region_weight.sum()
        strictness = np.array([r.residency_strictness for r in regions])
        parts: dict[str, list[NDArray[np.generic]]] = {}

        def put(key: str, values: NDArray[np.generic]) -> None:
            parts.setdefault(key, []).append(values)

        for s_id, seg in enumerate(segments):
            n = seg.n_agents
            region = rng.choice(len(regions), size=n, p=region_weight)
            size = np.exp(rng.normal(0.0, seg.demand_dispersion, n))
            sens = seg.price_sensitivity * np.exp(
                rng.normal(0.0, seg.price_sensitivity_dispersion, n) - 0.5 * seg.price_sensitivity_dispersion**2
            )
            privacy = seg.privacy_sensitivity * rng.uniform(0.0, 2.0, n) if seg.privacy_sensitivity else np.zeros(n)
            bound = rng.uniform(0.0, 1.0, n) < seg.residency_propensity * strictness[region]
            put("segment", np.full(n, s_id, dtype=np.int64))
            put("region", region.astype(np.int64))
            put("weight", np.full(n, seg.firms_per_agent))
            put("base_demand", seg.base_demand_mtok_per_month * seg.firms_per_agent * size)
            put("growth_per_year", np.full(n, seg.demand_growth_per_year))
            put("elasticity", np.full(n, seg.price_elasticity))
            put("reference_price", np.full(n, seg.reference_price_usd_per_mtok))
            put("price_sensitivity", sens)
            put("quality_weight", np.full(n, seg.quality_weight))
            put("privacy_sensitivity", privacy)
            put("lockin_aversion", np.full(n, seg.lockin_aversion))
            put("trust_weight", np.full(n, seg.trust_weight))
            put("reliability_weight", np.full(n, seg.reliability_weight))
            put("residency_bound", bound)
            put("switching_cost", np.full(n, seg.switching_cost))
            put("switching_cost_growth", np.full(n, seg.switching_cost_growth_per_year))
            put("switching_cost_max", np.full(n, seg.switching_cost_max))
            put("quality_floor", quality_floors(seg.quality_floor, seg.quality_floor_sd, n, rng))

        region_all = np.concatenate(parts["region"])
        segment_all = np.concatenate(parts["segment"])
        order = np.lexsort((segment_all, region_all))  # agents stored region by region, segment by segment
        for key, values in parts.items():
            setattr(self, key, np.concatenate(values)[order])
        bounds = np.searchsorted(self.region, np.arange(len(regions) + 1))
        self.region_slices = [slice(int(bounds[r]), int(bounds[r + 1])) for r in range(len(regions))]
        self.n_segments = len(segments)
        self.n_regions = len(regions)
        self.incumbent_provider = np.full(self.size, -1, dtype=np.int64)
        self.incumbent_region = np.full(self.size, -1, dtype=np.int64)
        self.tenure_months = np.zeros(self.size, dtype=np.int64)

    segment: IntArray
    region: IntArray
    weight: FloatArray
    base_demand: FloatArray
    growth_per_year: FloatArray
    elasticity: FloatArray
    reference_price: FloatArray
    price_sensitivity: FloatArray
    quality_weight: FloatArray
    privacy_sensitivity: FloatArray
    lockin_aversion: FloatArray
    trust_weight: FloatArray
    reliability_weight: FloatArray
    residency_bound: NDArray[np.bool_]
    quality_floor: FloatArray
    switching_cost: FloatArray
    switching_cost_growth: FloatArray
    switching_cost_max: FloatArray

    @property
    def size(self) -> int:
        """Number of enterprise agents."""
        return len(self.segment)

    @property
    def choice_class(self) -> IntArray:
        """Choice class id: ``(segment * n_regions + region) * 2 + residency_bound``."""
        return (self.segment * self.n_regions + self.region) * 2 + self.residency_bound.astype(np.int64)

    def draw_initial_contracts(self, segments: Sequence[SegmentConfig], capacity: FloatArray,
                               holder_ids: IntArray, rng: np.random.Generator) -> None:
        """Give a share of agents a main provider at step 0, in proportion to capacity in their region.

        Args:
            segments: Segment configs (``initial_contract_share``, ``initial_tenure_months_max``).
            capacity: Capacity per (provider, region), Mtok/month; rows follow ``holder_ids``.
            holder_ids: Holder id of each row of ``capacity``.
            rng: The model's generator.
        """
        share = np.array([s.initial_contract_share for s in segments])[self.segment]
        tenure_max = np.array([s.initial_tenure_months_max for s in segments])[self.segment]
        has = rng.uniform(0.0, 1.0, self.size) < share
        u = rng.uniform(0.0, 1.0, self.size)
        tenure = np.floor(rng.uniform(0.0, 1.0, self.size) * (tenure_max + 1)).astype(np.int64)
        for r in range(self.n_regions):
            total = capacity[:, r].sum()
            rows = np.nonzero(has & (self.region == r))[0]
            if total <= 0 or rows.size == 0:
                continue
            cdf = np.cumsum(capacity[:, r]) / total
            pick = np.minimum(np.searchsorted(cdf, u[rows], side="right"), len(cdf) - 1)
            self.incumbent_provider[rows] = holder_ids[pick]
            self.incumbent_region[rows] = r
            self.tenure_months[rows] = tenure[rows]

    def base_volume(self, step: int) -> FloatArray:
        """Token need at the reference price this step, Mtok (base demand grown at the segment's rate)."""
        return self.base_demand * (1.0 + self.growth_per_year) ** (step / 12.0)

    def current_switching_cost(self) -> FloatArray:
        """Switching cost away from the current main provider, growing with tenure (utility units)."""
        cost = self.switching_cost + self.switching_cost_growth * self.tenure_months / 12.0
        cost = np.minimum(cost, self.switching_cost_max)
        return np.where(self.incumbent_provider >= 0, cost, 0.0)

    def utilities(self, offers: OfferBook, class_penalty: FloatArray, form: str,
                  offer_shock: FloatArray | None, frontier_quality: float | None = None) -> FloatArray:
        """Every agent's utility for every offer (E x O), switching cost away from its main provider included
        (``market.demand.choice_utilities``); with ``frontier_quality``, offers below the agent's quality floor
        are excluded."""
        incumbent = incumbent_offer_index(offers.holder, offers.region, self.incumbent_provider,
                                          self.incumbent_region, self.n_regions)
        utility = choice_utilities(
            quality_weight=self.quality_weight, price_sensitivity=self.price_sensitivity,
            privacy_sensitivity=self.privacy_sensitivity, lockin_aversion=self.lockin_aversion,
            trust_weight=self.trust_weight, reliability_weight=self.reliability_weight,
            switching_cost=self.current_switching_cost(), choice_class=self.choice_class, incumbent_offer=incumbent,
            offer_quality=offers.quality, offer_price=offers.price, offer_privacy_risk=offers.privacy_risk,
            offer_lock_in=offers.lock_in, offer_unverified=offers.unverified, offer_reliability=offers.reliability,
            class_penalty=class_penalty, form=form, offer_shock=offer_shock,
            quality_floor=None if frontier_quality is None else self.quality_floor,
            frontier_quality=1.0 if frontier_quality is None else frontier_quality,
        )
        if offers.n_pools < len(offers):  # tiers: no switching cost on the main provider's other tiers there
            waive_switching_cost_within_pool(utility, incumbent, offers.pool, self.current_switching_cost())
        return utility

    def outside_utilities(self, *, not_buying_value: float, self_host_cost_by_region: FloatArray | None,
                          self_host_quality: float, self_host_penalty: float, mu: float, form: str,
                          frontier_quality: float | None = None) -> FloatArray:
        """Every agent's utility of its outside option (``market.demand.outside_option_utility``); with
        ``frontier_quality``, self-hosting below the agent's quality floor is excluded."""
        return outside_option_utility(
            not_buying_value=not_buying_value, self_host_cost_by_region=self_host_cost_by_region, region=self.region,
            quality_weight=self.quality_weight, price_sensitivity=self.price_sensitivity,
            self_host_quality=self_host_quality, self_host_penalty=self_host_penalty, mu=mu, form=form,
            quality_floor=None if frontier_quality is None else self.quality_floor,
            frontier_quality=1.0 if frontier_quality is None else frontier_quality,
        )

    def record_main_providers(self, allocation: FloatArray, offer_holder: IntArray, offer_region: IntArray) -> None:
        """Each agent's main provider this step is the offer that served it most (none if nothing served it)."""
        if allocation.shape[1] == 0:
            self.update_main_providers(np.full(self.size, -1), np.full(self.size, -1))
            return
        main = np.argmax(allocation, axis=1)
        served = allocation[np.arange(self.size), main] > 0
        self.update_main_providers(np.where(served, offer_holder[main], -1), np.where(served, offer_region[main], -1))

    def update_main_providers(self, main_provider: IntArray, main_region: IntArray) -> None:
        """Record each agent's main provider this step (-1: bought nothing); tenure grows while it stays."""
        same = (main_provider == self.incumbent_provider) & (main_region == self.incumbent_region)
        same &= main_provider >= 0  # no provider is no tenure
        self.tenure_months = np.where(same, self.tenure_months + 1, np.where(main_provider >= 0, 1, 0))
        self.incumbent_provider = main_provider.astype(np.int64)
        self.incumbent_region = main_region.astype(np.int64)

    def release_customers_of(self, provider_ids: Sequence[int]) -> None:
        """Forget incumbency with providers that left the market."""
        gone = np.isin(self.incumbent_provider, np.asarray(provider_ids, dtype=np.int64))
        self.incumbent_provider[gone] = -1
        self.incumbent_region[gone] = -1
        self.tenure_months[gone] = 0


class Enterprise(mesa.Agent):
    """Read-only Mesa view of one enterprise agent of the population (for inspection in notebooks)."""

    kind = "enterprise"

    def __init__(self, model: mesa.Model, index: int, population: EnterprisePopulation) -> None:
        super().__init__(model)
        self.index = index
        self._population = population

    def __getattr__(self, name: str) -> object:
        population = self.__dict__.get("_population")
        if population is not None and hasattr(population, name):
            value = getattr(population, name)
            if isinstance(value, np.ndarray) and value.shape[:1] == (population.size,):
                return value[self.index].item()
        raise AttributeError(name)


def waive_switching_cost_within_pool(utility: FloatArray, incumbent: IntArray, pool: IntArray,
                                     switching_cost: FloatArray) -> None:
    """Add back, in place, the switching cost on the offers that share a pool (provider and region) with each
    buyer's main offer ``incumbent`` (-1: none); a pool's offers are contiguous in the offer book."""
    n_offers = len(pool)
    rows = np.nonzero(incumbent >= 0)[0]
    first = incumbent[rows]
    for shift in range(1, n_offers):
        idx = first + shift
        inside = idx < n_offers
        same = np.zeros(len(rows), dtype=bool)
        same[inside] = pool[idx[inside]] == pool[first[inside]]
        if not same.any():
            break
        utility[rows[same], idx[same]] += switching_cost[rows[same]]
