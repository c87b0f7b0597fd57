"""The Mesa model of the inference economy: :class:`InferenceMarket`.

A step is one month and runs the stages of DESIGN.md 3 in order::

    technology -> demand -> offers -> clearing -> settlement -> investment -> corporate events -> collection

This is the one module of ``market`` that imports ``agents``: agents decide (prices, fleet orders), the
functions of ``market`` clear and account, and this model wires them together.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import networkx as nx
import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from agents.enterprise import Enterprise, EnterprisePopulation
from agents.investment import InvestmentView
from agents.pricing import BestResponseStrategy, PricingView
from agents.provider import PROVIDER_KINDS, Provider
from agents.reseller import HardwareReseller
from market.clearing import Clearing, clear_logit_market, logit_shares
from market.config import PROVIDER_KIND_NAMES, EntrantConfig, ProviderConfig, ScenarioConfig
from market.demand import choice_class_penalties, choice_utilities, effective_volume, utility_transform
from market.fleet import FleetEconomics, HolderTechnology, fleet_economics
from market.hardware import GpuLedger, best_quotes
from market.industry import CorporateDynamics
from market.metrics import logit_consumer_surplus
from market.networks import contract_graph, gpu_flow_graph, ownership_graph
from market.pricing import demand_slopes, diversion_margin, rival_mean_price
from market.recording import Recorder
from market.technology import (
    GenerationTable,
    algorithmic_efficiency,
    frontier_quality,
    open_weight_quality,
    power_cost_per_gpu_month,
    regional_power_price,
    tokens_per_gpu_month,
)
from market.trading import HardwareTrading

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class OfferBook:
    """This step's offers: one per (active provider, region it serves with capacity)."""

    holder: IntArray
    region: IntArray
    kind: IntArray
    owner: IntArray
    quality: FloatArray
    price: FloatArray
    unit_cost: FloatArray
    capacity: FloatArray
    variable_cost: FloatArray

    def __len__(self) -> int:
        return len(self.holder)


class InferenceMarket(HardwareTrading, CorporateDynamics, mesa.Model):
    """Agent-based model of the inference market.

    Args:
        config: A validated scenario.
        seed: Root seed; every random draw comes from generators spawned from it.
    """

    def __init__(self, config: ScenarioConfig, seed: int | None = None) -> None:
        root = np.random.SeedSequence(config.simulation.seed if seed is None else seed)
        setup_seq, shock_seq, corporate_seq, self.pricing_seq = root.spawn(4)  # 4th: pricing strategies
        super().__init__(rng=np.random.default_rng(setup_seq))
        self.corporate_rng = np.random.default_rng(corporate_seq)
        self.seed = int(root.entropy)  # type: ignore[arg-type]
        self.config = config
        self.shock_rng = np.random.default_rng(shock_seq)
        self.form = config.logit.utility_form
        self.mu = config.logit.mu
        self.region_names = config.region_names
        self.n_regions = len(self.region_names)
        self.generations = GenerationTable.from_config(config.technology)
        self.ledger = GpuLedger(len(self.generations))
        self.region_base_power = np.array([r.power_price_usd_per_kwh for r in config.regions])
        self.region_power_capacity = np.array([r.power_capacity_mw for r in config.regions])
        self.region_congestion = np.array([r.power_price_congestion for r in config.regions])
        self.region_latency = np.array([r.latency_penalty for r in config.regions])
        self.segment_floor = np.array([s.quality_floor for s in config.segments])
        self.reference_quality = config.technology.frontier_quality_start
        ref = config.technology.reference_generation
        self.reference_generation = (
            self.generations.index(ref) if ref else (0 if len(self.generations) else -1)
        )

        self.holders: list[Provider | HardwareReseller] = []
        self._create_providers()
        self._create_resellers()
        self.population = EnterprisePopulation(config.segments, config.regions, self.rng)
        Enterprise.create_agents(self, self.population.size, index=np.arange(self.population.size),
                                 population=self.population)
        self.recorder = Recorder(self)
        self._draw_initial_contracts()

        self.step_index = 0
        self.frontier = self.reference_quality
        self.open_weight = open_weight_quality(0, config.technology)
        self.algorithmic_efficiency = 1.0
        self.power_price = self.region_base_power.copy()
        self.offers: OfferBook | None = None
        self.clearing: Clearing | None = None
        self.volume = np.zeros(self.population.size)
        self.effective_price = np.zeros(self.population.size)
        self.consumer_surplus = np.zeros(self.population.size)
        self.self_host_cost_by_region = np.full(self.n_regions, np.nan)
        self.fleet: FleetEconomics | None = None
        self.secondary_quotes = np.full((len(self.resellers), len(self.generations)), np.nan)
        self._observations: dict[tuple[int, int], tuple[float, float, float, float, float]] = {}
        self._rival_prices: dict[tuple[int, int], float] = {}  # view.rival_price by (holder, region)
        self._events: list[dict[str, object]] = []
        self.event_counts: dict[str, int] = {}

    # ------------------------------------------------------------------------------------------------------
    # set-up
    # ------------------------------------------------------------------------------------------------------
    def _create_providers(self) -> None:
        for cfg in self.config.providers:
            for k in range(cfg.count):
                provider = self._new_provider(cfg, cfg.name if cfg.count == 1 else f"{cfg.name}_{k + 1}")
                for lot in cfg.fleet:
                    g = self.generations.index(lot.generation)
                    built = -lot.age_months
                    self.ledger.add(
                        holder=provider.holder_id, generation=g, region=self.region_names.index(lot.region),
                        count=lot.gpus, built_step=built, lifetime=int(self.generations.lifetime_months[g]),
                        step=built, basis=float(self.generations.list_price_usd[g]),
                    )

    def _new_provider(self, cfg: ProviderConfig, name: str) -> Provider:
        """Create a provider agent (at set-up or on entry) and give it a holder id."""
        regions = [self.region_names.index(r) for r in cfg.regions] or sorted(
            {self.region_names.index(lot.region) for lot in cfg.fleet}
        )
        provider = PROVIDER_KINDS[cfg.kind](self, name=name, holder_id=len(self.holders), config=cfg, regions=regions)
        self.holders.append(provider)
        provider.price[:] = np.nan if cfg.initial_price_usd_per_mtok is None else cfg.initial_price_usd_per_mtok
        return provider

    def _enter(self, entrant: EntrantConfig, name: str) -> Provider:
        """A new provider enters: it pays the sunk cost and buys its starting fleet through the hardware markets,
        each lot from reseller stock of that generation first; the rest as the same capacity of the newest
        generation, new from the vendor; all within regional grid capacity."""
        provider = self._new_provider(entrant.provider, name)
        provider.cash -= entrant.sunk_cost_usd
        headroom = self._power_headroom_mw()
        for lot in entrant.provider.fleet:
            g = self.generations.index(lot.generation)
            r = self.region_names.index(lot.region)
            bought = self._buy_from_resellers(provider, g, r, lot.gpus, headroom)
            newest = self.generations.newest(self.step_index)
            if bought < lot.gpus and newest >= 0:
                tput = self.generations.throughput_tokens_per_s
                units = int(np.ceil((lot.gpus - bought) * tput[g] / tput[newest]))
                self._buy_from_vendor(provider, newest, r, units, headroom, detail="entry")
        self.fleet = fleet_economics(self.ledger, self.generations, self._holder_technology(), self.power_price,
                                     self.algorithmic_efficiency)
        return provider

    def _create_resellers(self) -> None:
        for cfg in self.config.resellers:
            for k in range(cfg.count):
                name = cfg.name if cfg.count == 1 else f"{cfg.name}_{k + 1}"
                self.holders.append(
                    HardwareReseller(self, name=name, holder_id=len(self.holders), config=cfg,
                                     n_generations=len(self.generations))
                )

    def _draw_initial_contracts(self) -> None:
        """Contracts the market starts with (``segments[].initial_contract_share``)."""
        if not any(s.initial_contract_share > 0 for s in self.config.segments):
            return
        fleet = fleet_economics(self.ledger, self.generations, self._holder_technology(), self.region_base_power)
        providers = [p for p in self.providers if p.active]
        ids = np.array([p.holder_id for p in providers], dtype=np.int64)
        capacity = np.zeros((len(providers), self.n_regions))
        for i, p in enumerate(providers):
            capacity[i, p.regions] = np.where(np.isfinite(fleet.capacity[p.holder_id, p.regions]),
                                              fleet.capacity[p.holder_id, p.regions], 1.0)
        self.population.draw_initial_contracts(self.config.segments, capacity, ids, self.rng)

    @property
    def providers(self) -> list[Provider]:
        """All providers ever created, in holder-id order (inactive ones included)."""
        return [h for h in self.holders if isinstance(h, Provider)]

    @property
    def resellers(self) -> list[HardwareReseller]:
        """All hardware resellers."""
        return [h for h in self.holders if isinstance(h, HardwareReseller)]

    # ------------------------------------------------------------------------------------------------------
    # the step
    # ------------------------------------------------------------------------------------------------------
    def step(self) -> None:
        """Advance the market by one month.

        BLAS runs single-threaded inside a step, so results do not depend on the machine's thread count (a
        multithreaded matrix product may sum in another order) and parallel runs do not oversubscribe cores.
        """
        with threadpool_limits(limits=1, user_api="blas"):
            self._step()

    def _step(self) -> None:
        self.advance_technology()
        self.grow_demand()
        self.post_offers()
        self.clear_market()
        self.settle()
        self.invest()
        self.corporate_events()
        self._pad_settlement()
        self.fleet = fleet_economics(self.ledger, self.generations, self._holder_technology(), self.power_price,
                                     self.algorithmic_efficiency)
        self.collect()
        self.step_index += 1

    def advance_technology(self) -> None:
        """Quality frontier, open-weight parity, power prices, scrapping of GPUs at end of life."""
        t = self.step_index
        tech = self.config.technology
        self.frontier = frontier_quality(t, tech.frontier_quality_start, tech.frontier_growth_per_year)
        self.open_weight = open_weight_quality(t, tech)
        self.algorithmic_efficiency = algorithmic_efficiency(t, tech.algorithmic_efficiency_growth_per_year)
        scrapped = self.ledger.scrap_expired(t)
        for g, n in zip(scrapped.generation, scrapped.count, strict=True):
            self.record_event("gpu_scrapped", holder=-1, generation=int(g), units=int(n))
        self.ledger.compact()
        technology = self._holder_technology()
        load = fleet_economics(self.ledger, self.generations, technology, self.region_base_power).load_mw
        self.power_price = regional_power_price(
            self.region_base_power, load, self.region_power_capacity, self.region_congestion
        )
        self.fleet = fleet_economics(self.ledger, self.generations, technology, self.power_price,
                                     self.algorithmic_efficiency)
        self.secondary_quotes = self._reseller_quotes()

    def grow_demand(self) -> None:
        """Base token demand at the reference price grows at each segment's rate."""
        self.base_volume = self.population.base_volume(self.step_index)

    def post_offers(self) -> None:
        """Each active provider posts a price for each region it can serve."""
        assert self.fleet is not None
        rows: list[tuple[Provider, int, int]] = []
        for p in self.providers:
            if not p.active:
                continue
            if not np.any(self.fleet.capacity[p.holder_id, p.regions] > 0):
                continue  # nothing to sell this month: no offers
            view = self._pricing_view(p)
            if np.any(np.isnan(p.price)):
                p.price = np.where(np.isnan(p.price), view.unit_cost * 1.3, p.price)
                view = self._pricing_view(p)
            p.post_prices(view)
            for j, r in enumerate(p.regions):
                if view.capacity[j] > 0:
                    rows.append((p, j, int(r)))
        kinds = {name: i for i, name in enumerate(PROVIDER_KIND_NAMES)}
        f = self.fleet
        self.offers = OfferBook(
            holder=np.array([p.holder_id for p, _, _ in rows], dtype=np.int64),
            region=np.array([r for _, _, r in rows], dtype=np.int64),
            kind=np.array([kinds[p.kind] for p, _, _ in rows], dtype=np.int64),
            owner=np.array([p.owner_id for p, _, _ in rows], dtype=np.int64),
            quality=np.array([p.quality(self.frontier, self.open_weight) for p, _, _ in rows]),
            price=np.array([p.price[j] for p, j, _ in rows]),
            unit_cost=np.array([f.unit_cost[p.holder_id, r] for p, _, r in rows]),
            capacity=np.array([f.capacity[p.holder_id, r] for p, _, r in rows]),
            variable_cost=np.array([f.variable_cost[p.holder_id, r] for p, _, r in rows]),
        )

    def clear_market(self) -> None:
        """Enterprises choose among offers (logit); capacity is rationed; observations for pricing are kept."""
        offers = self.offers
        assert offers is not None
        pop = self.population
        shares, outside = logit_shares(self._utilities(offers), self._outside_utility(), self.mu)
        inside = np.maximum(1.0 - outside, 1e-300)
        effective = np.where(outside < 1.0 - 1e-12, (shares @ offers.price) / inside, pop.reference_price)
        self.effective_price = effective
        self.volume = effective_volume(self.base_volume, effective, pop.reference_price, pop.elasticity)
        self.clearing = clear_logit_market(
            shares, outside, self.volume, offers.capacity, offers.price, self.config.simulation.rationing_rounds
        )
        self.consumer_surplus = logit_consumer_surplus(
            self.volume, outside, self.mu, pop.price_sensitivity, effective, self.form
        )
        self._observe(shares)
        self._update_incumbents()

    def settle(self) -> None:
        """Revenue, costs, interest and cash of every provider (accounting identities in ODD.md)."""
        offers, c, f = self.offers, self.clearing, self.fleet
        assert offers is not None and c is not None and f is not None
        n = len(self.holders)
        revenue = np.bincount(offers.holder, weights=c.revenue, minlength=n)
        served = np.bincount(offers.holder, weights=c.served, minlength=n)
        variable = np.bincount(offers.holder, weights=c.served * offers.variable_cost, minlength=n)
        depreciation = f.depreciation.sum(axis=1)
        cash_cost = f.power_cost.sum(axis=1) + f.opex.sum(axis=1) + variable
        self.settlement = {"revenue": revenue, "served": served, "depreciation": depreciation,
                           "cash_cost": cash_cost, "interest": np.zeros(n), "profit": np.zeros(n)}
        # Interest is charged on the debt each balance sheet carries into the month, before this month's flows,
        # so it does not depend on the order in which a group's providers are settled.
        interest = np.zeros(n)
        for p in self.providers:
            if p.active and p.parent is None:  # a subsidiary's treasury is its owner's: charged once, there
                interest[p.holder_id] = max(-p.cash, 0.0) * p.cost_of_capital_per_year / 12.0
        for p in self.providers:
            if not p.active:
                continue
            h = p.holder_id
            profit = revenue[h] - cash_cost[h] - depreciation[h] - interest[h]
            p.cash += revenue[h] - cash_cost[h] - interest[h]
            p.last_profit = profit
            p.monthly_operating_cost = cash_cost[h] + interest[h]
            p.cumulative_served_mtok += served[h]
            self.settlement["profit"][h] = profit
        self.settlement["interest"] = interest
        self.record_margins()

    def _pad_settlement(self) -> None:
        """Give providers that entered this month (after settlement) zero rows in the month's accounts."""
        n = len(self.holders)
        for key, values in self.settlement.items():
            if len(values) < n:
                self.settlement[key] = np.concatenate([values, np.zeros(n - len(values))])

    def invest(self) -> None:
        """Hyperscaler retirements, then every provider's fleet order: vendor and reseller trades."""
        released = self.generations.released_at(self.step_index)
        if len(released):
            self._retire_generations(released)
        self._retire_aged_gpus()
        self.secondary_quotes = self._reseller_quotes()
        orders = [(p, p.plan_fleet(view)) for p in self.providers if p.active
                  for view in [self._investment_view(p)] if view is not None]
        if not orders:
            return
        self._execute_sales(orders)
        self._execute_used_purchases(orders)
        self._execute_new_purchases(orders)
        self.fleet = fleet_economics(self.ledger, self.generations, self._holder_technology(), self.power_price,
                                     self.algorithmic_efficiency)

    def collect(self) -> None:
        """Append this step's rows to the recorder (corporate events ran in ``corporate_events``)."""
        self.recorder.collect()

    # ------------------------------------------------------------------------------------------------------
    # helpers of the stages
    # ------------------------------------------------------------------------------------------------------
    def _utilities(self, offers: OfferBook) -> FloatArray:
        pop = self.population
        providers = [self.holders[h] for h in offers.holder]
        penalty = choice_class_penalties(
            n_segments=pop.n_segments,
            region_latency_penalty=self.region_latency,
            segment_quality_floor=self.segment_floor,
            frontier_quality=self.frontier,
            offer_region=offers.region,
            offer_quality=offers.quality,
        )
        incumbent = self._incumbent_offer(offers)
        shock = None
        if self.config.logit.offer_shock_sd > 0:
            shock = self.shock_rng.normal(0.0, self.config.logit.offer_shock_sd, len(offers))
        return choice_utilities(
            quality_weight=pop.quality_weight,
            price_sensitivity=pop.price_sensitivity,
            privacy_sensitivity=pop.privacy_sensitivity,
            lockin_aversion=pop.lockin_aversion,
            trust_weight=pop.trust_weight,
            reliability_weight=pop.reliability_weight,
            switching_cost=pop.current_switching_cost(),
            choice_class=pop.choice_class,
            incumbent_offer=incumbent,
            offer_quality=offers.quality,
            offer_price=offers.price,
            offer_privacy_risk=np.array([p.privacy_risk for p in providers]),
            offer_lock_in=np.array([p.lock_in for p in providers]),
            offer_unverified=np.array([p.unverified_fraction for p in providers]),
            offer_reliability=np.array([p.reliability for p in providers]),
            class_penalty=penalty,
            form=self.form,
            offer_shock=shock,
        )

    def _incumbent_offer(self, offers: OfferBook) -> IntArray:
        """Index in ``offers`` of each enterprise's main provider's offer in the same region, or -1."""
        pop = self.population
        key = offers.holder * self.n_regions + offers.region
        order = np.argsort(key)
        sorted_keys = key[order]
        want = pop.incumbent_provider * self.n_regions + pop.incumbent_region
        pos = np.clip(np.searchsorted(sorted_keys, want), 0, max(len(key) - 1, 0))
        found = (pop.incumbent_provider >= 0) & (len(key) > 0)
        if len(key):
            found &= sorted_keys[pos] == want
        return np.where(found, order[pos] if len(key) else -1, -1)

    def _outside_utility(self) -> FloatArray:
        """Utility of the outside option per enterprise: not buying (a0) or self-hosting, whichever is drawn."""
        pop = self.population
        cfg = self.config.outside_option
        a0 = np.full(pop.size, cfg.value)
        if not cfg.self_hosting:
            return a0
        cost_by_region = self.self_host_cost_by_region = self.self_host_cost()
        q = self.open_weight * cfg.self_host_quality_factor
        u_self = (
            pop.quality_weight * utility_transform(np.array([q]), self.form)[0]
            - pop.price_sensitivity * utility_transform(cost_by_region[pop.region], self.form)
            - cfg.self_host_penalty
        )
        return self.mu * np.logaddexp(a0 / self.mu, u_self / self.mu)

    def self_host_cost(self) -> FloatArray:
        """Cost per Mtok of self-hosting by region, $/Mtok: the cheapest GPU on offer, new or used."""
        cfg = self.config.outside_option
        gens = self.generations
        t = self.step_index
        released = gens.release_step <= t
        life_left = np.maximum(gens.lifetime_months - np.maximum(t - gens.release_step, 0), 1).astype(float)
        used = np.full(len(gens), np.nan)
        if len(self.resellers):
            held = self.ledger.units_by_holder_generation(len(self.holders))[[r.holder_id for r in self.resellers]]
            used = np.where(held.sum(axis=0) > 0, best_quotes(self.secondary_quotes), np.nan)  # only GPUs in stock
        price = np.where(np.isnan(used), np.inf, used * cfg.self_host_gpu_premium)
        new_id = gens.newest(t)
        capital = np.where(released, price / life_left, np.inf)
        if new_id >= 0:
            capital[new_id] = min(capital[new_id], gens.list_price_usd[new_id] / gens.lifetime_months[new_id])
        tokens = (
            tokens_per_gpu_month(gens.throughput_tokens_per_s, cfg.self_host_efficiency * self.algorithmic_efficiency)
            * cfg.self_host_utilization
        )
        power = power_cost_per_gpu_month(gens.power_kw[None, :], self.power_price[:, None], cfg.self_host_pue)
        per_mtok = (capital[None, :] + power + cfg.self_host_opex_usd_per_gpu_month) / tokens[None, :]
        best = per_mtok.min(axis=1)
        if not np.all(np.isfinite(best)):
            raise ValueError("self-hosting has no GPU to use: no generation is released yet")
        return best

    def _reseller_quotes(self) -> FloatArray:
        resellers = self.resellers
        if not resellers or not len(self.generations):
            return np.full((len(resellers), len(self.generations)), np.nan)
        held = self.ledger.units_by_holder_generation(len(self.holders))
        quotes = np.vstack([r.quote(self.generations, self.step_index, held[r.holder_id]) for r in resellers])
        quotes[:, self.generations.release_step > self.step_index] = np.nan  # nothing to resell before release
        return quotes

    def _pricing_view(self, p: Provider) -> PricingView:
        assert self.fleet is not None
        regions = p.regions
        obs = np.array([self._observations.get((p.holder_id, int(r)), (0.0, 0.0, 0.0, 0.0, 0.0)) for r in regions])
        unit_cost = self.fleet.unit_cost[p.holder_id, regions]
        finite = np.isfinite(unit_cost)
        if not finite.all():
            # Regions without GPUs yet: price at the provider's cost elsewhere (or its last price's implied cost).
            fallback = unit_cost[finite].min()
            unit_cost = np.where(finite, unit_cost, fallback)
        return PricingView(
            step=self.step_index,
            unit_cost=unit_cost,
            last_price=p.price.copy(),
            demand=obs[:, 0],
            own_slope=obs[:, 1],
            beta=obs[:, 2],
            recapture_owner=obs[:, 3],
            recapture_industry=obs[:, 4],
            capacity=self.fleet.capacity[p.holder_id, regions],
            last_profit=p.last_profit,
            cash=p.cash,
            credit_limit=p.credit_limit,
            utility_form=self.form,
            observed=bool(self._observations),
            rival_price=np.array([self._rival_prices.get((p.holder_id, int(r)), np.nan) for r in regions]),
        )

    def _observe(self, shares: FloatArray) -> None:
        """Demand slopes and diversion terms at this step's prices, for next step's pricing."""
        offers, c = self.offers, self.clearing
        assert offers is not None and c is not None
        pop = self.population
        slopes = demand_slopes(shares, self.volume, pop.price_sensitivity, self.mu, offers.price, self.form)
        margin = offers.price - offers.unit_cost
        best_responders = [
            self.holders[h].pricing for h in np.unique(offers.holder)
            if isinstance(self.holders[h].pricing, BestResponseStrategy)  # type: ignore[union-attr]
        ]
        objectives = {s.params.objective for s in best_responders}  # type: ignore[attr-defined]
        recapture_owner = np.zeros(len(offers))
        recapture_industry = np.zeros(len(offers))
        if "owner" in objectives:
            groups = [np.nonzero(offers.owner == o)[0] for o in np.unique(offers.owner)]
            recapture_owner = diversion_margin(shares, self.volume, pop.price_sensitivity, self.mu, offers.price,
                                               margin, slopes.own_slope, [g for g in groups if len(g) > 1],
                                               self.form)
        if "industry" in objectives:
            recapture_industry = diversion_margin(shares, self.volume, pop.price_sensitivity, self.mu,
                                                  offers.price, margin, slopes.own_slope,
                                                  [np.arange(len(offers))], self.form)
        self._observations = {
            (int(h), int(r)): (float(d), float(s), float(b), float(ro), float(ri))
            for h, r, d, s, b, ro, ri in zip(offers.holder, offers.region, slopes.demand, slopes.own_slope,
                                               slopes.beta, recapture_owner, recapture_industry, strict=True)
        }
        # -- rivals' last prices for learning strategies (view.rival_price) --
        rival = rival_mean_price(offers.region, offers.owner, offers.price, slopes.demand)
        self._rival_prices = {(int(h), int(r)): float(v) for h, r, v in zip(offers.holder, offers.region, rival,
                                                                              strict=True)}

    def pricing_rng(self, holder_id: int) -> np.random.Generator:
        """The generator of provider ``holder_id``'s pricing strategy: child ``holder_id`` of ``pricing_seq``."""
        seq = self.pricing_seq
        return np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, holder_id)))

    def _update_incumbents(self) -> None:
        """Each enterprise's main provider this step is the offer that served it most."""
        offers, c = self.offers, self.clearing
        assert offers is not None and c is not None
        pop = self.population
        if len(offers) == 0:
            pop.update_main_providers(np.full(pop.size, -1), np.full(pop.size, -1))
            return
        main = np.argmax(c.allocation, axis=1)
        served = c.allocation[np.arange(pop.size), main] > 0
        pop.update_main_providers(np.where(served, offers.holder[main], -1), np.where(served, offers.region[main], -1))

    # ------------------------------------------------------------------------------------------------------
    # hardware markets
    # ------------------------------------------------------------------------------------------------------
    def _holder_technology(self) -> HolderTechnology:
        n = len(self.holders)
        nan = np.full(n, np.nan)
        tech = HolderTechnology(
            efficiency=np.ones(n), capacity_factor=np.ones(n), pue=np.full(n, 1.0), opex_per_gpu=np.zeros(n),
            cost_basis_utilization=np.ones(n), fixed_unit_cost=nan.copy(), fixed_capacity=nan.copy(),
            installs=np.zeros(n, dtype=bool),
        )
        for p in self.providers:
            h = p.holder_id
            tech.efficiency[h] = p.serving_efficiency
            tech.capacity_factor[h] = p.capacity_factor
            tech.pue[h] = p.pue
            tech.opex_per_gpu[h] = p.opex_usd_per_gpu_month
            tech.cost_basis_utilization[h] = p.config.cost_basis_utilization
            tech.installs[h] = p.active
            if p.config.unit_cost_usd_per_mtok is not None:
                tech.fixed_unit_cost[h] = p.config.unit_cost_usd_per_mtok
            if p.config.capacity_mtok_per_month is not None:
                tech.fixed_capacity[h] = p.config.capacity_mtok_per_month if p.active else 0.0
        return tech

    def _retire_generations(self, released: IntArray) -> None:
        held = self.ledger.units_by_holder_generation(len(self.holders))
        for p in self.providers:
            if not p.active:
                continue
            gens = [int(g) for g in np.nonzero(held[p.holder_id])[0]]
            gens.sort(key=lambda g: (int(self.generations.release_step[g]), g))  # oldest release first
            for g in p.generations_to_retire([int(x) for x in released], gens):
                self._sell_to_reseller(p, None, generation=g, region=None, event="gpu_retired")

    def _retire_aged_gpus(self) -> None:
        """Upgrade cycle: providers with ``retire_age_months`` sell GPUs older than that to resellers."""
        for p in self.providers:
            age = p.config.retire_age_months
            if not p.active or age is None:
                continue
            self._sell_aged(p, built_before=self.step_index - age)

    def _investment_view(self, p: Provider) -> InvestmentView | None:
        f, offers, c = self.fleet, self.offers, self.clearing
        assert f is not None and offers is not None and c is not None
        gens = self.generations
        if p.config.capacity_mtok_per_month is not None or not len(gens):
            return None
        t = self.step_index
        regions = p.regions
        demand = np.zeros(len(regions))
        mine = np.nonzero(offers.holder == p.holder_id)[0]
        for o in mine:  # demand includes what it served of other offers' rationed overflow
            demand[np.nonzero(regions == offers.region[o])[0]] += max(c.offer_demand[o], c.served[o])
        per_gpu_factor = p.serving_efficiency * p.capacity_factor * self.algorithmic_efficiency
        new_id = gens.newest(t)
        held = self.ledger.units_by_holder_generation(len(self.holders))
        reseller_ids = [r.holder_id for r in self.resellers]
        inventory = held[reseller_ids].sum(axis=0) if reseller_ids else np.zeros(len(gens))
        quotes = best_quotes(self.secondary_quotes) if reseller_ids else np.full(len(gens), np.nan)
        tokens = tokens_per_gpu_month(gens.throughput_tokens_per_s, per_gpu_factor)
        life_left = np.maximum(gens.lifetime_months - np.maximum(t - gens.release_step, 0), 1).astype(float)
        per_token = np.where((inventory > 0) & ~np.isnan(quotes), quotes / (tokens * life_left), np.inf)
        used_id = int(np.argmin(per_token)) if np.isfinite(per_token).any() else -1
        capacity = f.capacity[p.holder_id, regions]
        gpus = f.gpus[p.holder_id, regions]
        return InvestmentView(
            step=t,
            capacity=capacity,
            demand=demand,
            new_generation=new_id,
            new_price=float(gens.list_price_usd[new_id]) if new_id >= 0 else np.inf,
            new_tokens_per_gpu=float(tokens[new_id]) if new_id >= 0 else 0.0,
            new_lifetime=int(gens.lifetime_months[new_id]) if new_id >= 0 else 0,
            used_generation=used_id,
            used_price=float(quotes[used_id]) if used_id >= 0 else np.inf,
            used_tokens_per_gpu=float(tokens[used_id]) if used_id >= 0 else 0.0,
            used_life_left=float(life_left[used_id]) if used_id >= 0 else 0.0,
            used_available=int(inventory[used_id]) if used_id >= 0 else 0,
            tokens_per_installed_gpu=np.where(gpus > 0, capacity / np.maximum(gpus, 1.0), tokens.max()),
            installed_gpus=gpus,
            cash=p.cash,
            credit_limit=p.credit_limit,
            monthly_operating_cost=p.monthly_operating_cost,
        )

    def record_event(self, event: str, *, holder: int, counterparty: int = -1, generation: int = -1,
                     units: int = 0, amount_usd: float = 0.0, detail: str = "") -> None:
        """Append a row to the events table (entry, exit, acquisition, GPU sale, ...)."""
        self.event_counts[event] = self.event_counts.get(event, 0) + 1
        self._events.append({
            "step": self.step_index,
            "event": event,
            "party": self.holders[holder].name if holder >= 0 else "",
            "counterparty": self.holders[counterparty].name if counterparty >= 0 else "",
            "generation": self.generations.names[generation] if generation >= 0 else "",
            "units": int(units),
            "amount_usd": float(amount_usd),
            "detail": detail,
        })

    @property
    def events(self) -> list[dict[str, object]]:
        """Events recorded so far."""
        return self._events

    @property
    def networks(self) -> dict[str, nx.Graph]:
        """Current networks: ``contracts`` (this month), ``ownership`` and ``gpu_flows`` (``market.networks``)."""
        names = [h.name for h in self.holders]
        kinds = [h.kind for h in self.holders]
        graphs: dict[str, nx.Graph] = {}
        if self.clearing is not None and self.offers is not None:
            pop = self.population
            graphs["contracts"] = contract_graph(
                allocation=self.clearing.allocation, offer_holder=self.offers.holder, offer_price=self.offers.price,
                holder_names=names, holder_kinds=kinds,
                enterprise_segment=np.array([s.name for s in self.config.segments], dtype=object)[pop.segment],
                enterprise_region=np.array(self.region_names, dtype=object)[pop.region],
                enterprise_firms=pop.weight, incumbent_provider=pop.incumbent_provider,
                tenure_months=pop.tenure_months,
            )
        parents = [h.parent.holder_id if isinstance(h, Provider) and h.parent is not None else None
                   for h in self.holders]
        graphs["ownership"] = ownership_graph(names, kinds, parents, self._events)
        graphs["gpu_flows"] = gpu_flow_graph(self._events)
        return graphs

    def revenue_by_buyer_region(self) -> FloatArray:
        """This month's revenue per (buyer region, offer), $ (agents are stored region by region)."""
        c, offers = self.clearing, self.offers
        assert c is not None and offers is not None
        tokens = np.array([c.allocation[rows].sum(axis=0) for rows in self.population.region_slices])
        return tokens.reshape(self.n_regions, len(offers)) * offers.price[None, :]

    def revenue_by_buyer_region_and_holder(self) -> FloatArray:
        """This month's revenue per (buyer region, holder id), $."""
        offers = self.offers
        assert offers is not None
        by_offer = self.revenue_by_buyer_region()
        out = np.zeros((self.n_regions, len(self.holders)))
        np.add.at(out, (slice(None), offers.holder), by_offer)
        return out

    def run(self, steps: int | None = None) -> None:
        """Run ``steps`` steps (default: the scenario's)."""
        for _ in range(self.config.simulation.steps if steps is None else steps):
            self.step()
