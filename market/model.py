"""The Mesa model of the inference economy, :class:`InferenceMarket`: a step is one month of the stages
``technology -> demand -> offers -> clearing -> settlement -> investment -> corporate events -> collection``.

Each stage gathers arrays (firms' from :class:`agents.roster.Roster`, buyers' from
:class:`agents.enterprise.EnterprisePopulation`), calls pure functions of ``market`` or asks agents to decide,
and applies the result; docs/ODD.md section 3 maps each stage to its functions. GPUs and money change hands in
``apply_trades``, ``settle`` and the deal and entry lines of the corporate stage.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import mesa
import networkx as nx
import numpy as np
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

from agents.enterprise import Enterprise, EnterprisePopulation
from agents.provider import Provider
from agents.reseller import HardwareReseller
from agents.roster import Roster
from agents.router import Router
from market import concentration, corporate, demand, routers, routing, trading
from market import technology as tech
from market.accounts import Settlement, settle_month
from market.clearing import CapacityPools, Clearing
from market.clearing_kernel import engine
from market.config import PROVIDER_KIND_NAMES, EntrantConfig, ProviderConfig, ScenarioConfig
from market.config.files import load_scenario, scenario_with_settings
from market.events import Event, EventKind, EventLog
from market.fleet import FleetEconomics, fleet_economics, grid_load_mw, installed_kw
from market.hardware import SCRAPPED, GpuLedger, best_quotes
from market.latency import latency_disutility, network_latency_ms, pool_utilization
from market.mesa_support import market_datacollector, model_seed, release_models_when_unreferenced
from market.metrics import by_holder, consumer_surplus, revenue_by_buyer_region
from market.networks import market_networks
from market.observation import MarketObservation, observe_market
from market.offers import OfferBook, incumbent_offer_index
from market.recording import Population, Recorder, StepOutcome
from market.task_classes import TaskClasses, class_outside_shares, class_posted_price
from market.technology import GenerationTable
from market.tiers import TierTable

FloatArray = NDArray[np.float64]

OPENING_ROUNDS: int = 200
"""Most trial clearings of the opening-price solve (:meth:`InferenceMarket.open_offers`)."""

OPENING_TOLERANCE: float = 1e-4
"""The opening-price solve stops once no opener's log price moves by more than this in a round. The damped
iteration contracts by about 0.2 (entrants) to 0.8 (every offer at step 0) per round, so the prices are then within
about 5e-4 of the fixed point in log price (measured against a 1e-8 solve: 2e-4 to 3e-4), far below a month's
offer shocks (sd 0.05 in utility) and the first month's best responses; a tighter tolerance costs up to twice the
trial clearings and can meet the rule's discontinuities (an offer at capacity turning full) before it meets the
tolerance (docs/ODD.md, "Opening prices")."""

OPENING_MIN_DAMPING: float = 2.0**-10
"""Smallest damping weight of the opening-price solve: a rule still cycling when its moves are damped this much
stops there (its prices then move by less than a thousandth of the rule's step)."""


def _blas_threads() -> ThreadpoolController:
    """The process's BLAS thread pools, found again only when modules were imported since the last look (a
    BLAS library comes with a module; scanning the loaded libraries every step cost 0.13 s per 60-step baseline
    run)."""
    return _blas_threads_with(len(sys.modules))


@functools.lru_cache(maxsize=1)
def _blas_threads_with(modules: int) -> ThreadpoolController:
    return ThreadpoolController().select(user_api="blas")


class InferenceMarket(mesa.Model):
    """Agent-based model of the inference market.

    Built from a validated scenario, or, as Mesa models are, from keyword parameters::

        InferenceMarket(config, seed=1)
        InferenceMarket(scenario="baseline", seed=1, logit__mu=0.4, simulation__steps=24)

    Args:
        config: A validated scenario (takes precedence over ``scenario``).
        seed: Root seed (default: ``simulation.seed``); every draw comes from generators spawned from it. In
            ``mesa.batch_run``, iteration ``k > 0`` uses ``market.mesa_support.batch_iteration_seed(seed, k)``.
        scenario: A shipped scenario name (``"baseline"``) or a scenario file, used when ``config`` is None.
        rng: Mesa's name for the seed; an integer is accepted as ``seed``.
        **kwargs: Settings by key path, parts joined by ``__`` (``logit__mu=0.4``), as ``--set`` does.

    ``model.agents`` holds the providers (until they exit) and resellers; the enterprise views join it on first
    use of :attr:`enterprises`. ``model.datacollector`` reports the model table and every firm's cash.
    """

    def __init__(self, config: ScenarioConfig | None = None, seed: int | None = None, *,
                 scenario: str | Path = "baseline", rng: int | None = None, **kwargs: Any) -> None:
        config = scenario_with_settings(load_scenario(scenario) if config is None else config, kwargs)
        root = np.random.SeedSequence(model_seed(config, seed, rng))
        setup_seq, shock_seq, corporate_seq, self.pricing_seq = root.spawn(4)  # 4th: providers' pricing
        release_models_when_unreferenced()  # Mesa's agent counters would keep every model alive (mesa_support)
        super().__init__(rng=np.random.default_rng(setup_seq))
        self.seed = int(root.entropy)  # type: ignore[arg-type]
        self.config = config
        self.shock_rng = np.random.default_rng(shock_seq)
        self.corporate_rng = np.random.default_rng(corporate_seq)
        self.mu = config.logit.mu
        self.form = config.logit.utility_form
        self.regions = tech.RegionTable.from_config(config.regions)
        self.region_names, self.n_regions = self.regions.names, len(self.regions)
        self.generations = GenerationTable.from_config(config.technology)
        self.ledger = GpuLedger(len(self.generations))
        self.reference_quality = config.technology.frontier_quality_start
        ref = config.technology.reference_generation
        self.reference_generation = self.generations.index(ref) if ref else (0 if len(self.generations) else -1)
        self.tiers = TierTable.from_config(config)
        self.pool_utilization = np.zeros((0, self.n_regions))  # last month's, per (holder, region)
        self.roster = Roster()
        for cfg in config.providers:  # initial fleets at their book value by age (GpuLedger.add_initial)
            for k in range(cfg.count):
                p = self._new_provider(cfg, cfg.name if cfg.count == 1 else f"{cfg.name}_{k + 1}")
                for lot in cfg.fleet:
                    r = self.region_names.index(lot.region)
                    self.ledger.add_initial(p.holder_id, self.generations.index(lot.generation), r, lot.gpus,
                                            lot.age_months, self.generations,
                                            power_price=float(self.regions.base_power_price[r]), pue=cfg.pue,
                                            opex_per_gpu_month=cfg.opex_usd_per_gpu_month)
        for rcfg in config.resellers:
            for k in range(rcfg.count):
                self.roster.new_reseller(self, rcfg, rcfg.name if rcfg.count == 1 else f"{rcfg.name}_{k + 1}",
                                         len(self.generations))
        for qcfg in config.routers if config.routers_enabled else []:
            for k in range(qcfg.count):
                self.roster.new_router(self, qcfg, qcfg.name if qcfg.count == 1 else f"{qcfg.name}_{k + 1}")
        self.population = EnterprisePopulation(config.segments, config.regions, self.rng)
        self.task_table = routing.task_table(config.segments)
        self.recorder = Recorder(Population(
            segment=self.population.segment, region=self.population.region, weight=self.population.weight,
            region_names=tuple(self.region_names), segment_names=tuple(s.name for s in config.segments),
            per_agent=config.simulation.enterprise_output == "agent",
            segment_quality_weight=np.array([s.quality_weight for s in config.segments]),
            segment_price_sensitivity=np.array([s.price_sensitivity for s in config.segments]),
            utility_form=self.form, workloads_per_firm=config.simulation.workloads_per_firm,
            tier_names=self.tiers.names if self.tiers.declared else ()),
            with_routers=bool(config.routers))  # declared: router columns even when off
        if any(s.initial_contract_share > 0 for s in config.segments):  # contracts in proportion to capacity
            base = fleet_economics(self.ledger, self.generations, self.roster.holder_technology(),
                                   self.regions.base_power_price)
            capacity, ids = self.roster.contract_capacity(base, self.n_regions)
            self.population.draw_initial_contracts(config.segments, capacity, ids, self.rng)
        self.step_index = 0
        self.frontier = self.reference_quality
        self.open_weight = tech.open_weight_quality(0, config.technology)
        self.algorithmic_efficiency = 1.0
        self.power_price = self.regions.base_power_price.copy()
        self.base_volume = self.population.base_volume(0)
        self.offers = OfferBook.empty()
        self.clearing = Clearing.empty(self.population.size)
        self._spare_allocation: FloatArray | None = None  # the allocation matrix of two steps ago (clear_market)
        self.observation: MarketObservation | None = None  # None until the first clearing
        self.settlement = Settlement.zeros(len(self.holders))
        self.volume = np.zeros(self.population.size)
        self.consumer_surplus = np.zeros(self.population.size)
        self.self_host_cost_by_region = np.full(self.n_regions, np.nan)
        self.fleet: FleetEconomics = self._fleet_economics()
        self.fleet_stale = False
        self.secondary_quotes = np.full((len(self.resellers), len(self.generations)), np.nan)
        self.event_log = EventLog(self.roster.names_view, self.generations.names)
        self.margin_history: list[dict[str, float]] = []
        self.profit_pool_history: list[dict[str, float]] = []  # summed profit per provider kind, by month, $
        self.entries_by_entrant: dict[str, int] = {}
        self.last_entry_step: dict[str, int] = {}
        self._recorded_events = 0
        self.revenue_by_region = np.zeros((self.n_regions, 0))  # this month's revenue per (buyer region, offer), $
        self._enterprise_agents: mesa.agent.AgentSet | None = None
        self.datacollector = market_datacollector(self.recorder.columns)

    # -- who is in the market ---------------------------------------------------------------------------------
    @property
    def holders(self) -> list[Provider | HardwareReseller | Router]:
        """Providers, resellers and routers by holder id."""
        return self.roster.holders

    @property
    def providers(self) -> list[Provider]:
        """All providers ever created, in holder-id order (inactive ones included)."""
        return self.roster.providers

    @property
    def resellers(self) -> list[HardwareReseller]:
        """All hardware resellers."""
        return self.roster.resellers

    @property
    def enterprises(self) -> mesa.agent.AgentSet:
        """Read-only Mesa views of the enterprise agents (created, and added to ``model.agents``, on first use)."""
        if self._enterprise_agents is None:
            size = self.population.size
            self._enterprise_agents = Enterprise.create_agents(self, size, index=np.arange(size),
                                                               population=self.population)
        return self._enterprise_agents

    def _new_provider(self, cfg: ProviderConfig, name: str) -> Provider:
        return self.roster.new_provider(self, cfg, name, self.region_names, self.config.corporate.acquisitions,
                                        self.pricing_seq, self.tiers)

    # -- the step --------------------------------------------------------------------------------------------
    def step(self) -> None:
        """Advance the market by one month.

        BLAS runs single-threaded inside a step, so results do not depend on the machine's thread count (a
        multithreaded matrix product may sum in another order) and parallel runs do not oversubscribe cores.
        """
        with _blas_threads().limit(limits=1):
            self.advance_technology()
            self.grow_demand()
            self.post_offers()
            self.clear_market()
            self.settle()
            self.invest()
            self.corporate_events()
            self.collect()
        self.step_index += 1
        self.running = self.step_index < self.config.simulation.steps

    def advance_technology(self) -> None:
        """Quality frontier, open-weight parity, scrapping at end of life, power prices, fleets, resale quotes."""
        t, cfg = self.step_index, self.config.technology
        self.frontier = tech.frontier_quality(t, cfg.frontier_quality_start, cfg.frontier_growth_per_year)
        self.open_weight = tech.open_weight_quality(t, cfg)
        self.algorithmic_efficiency = tech.algorithmic_efficiency(t, cfg.algorithmic_efficiency_growth_per_year)
        if self.tiers.catches_up:  # smaller tiers close their quality gap (market.tiers.caught_up_quality_factor)
            self.tiers = self.tiers.at_step(t)
            for p in self.providers:
                p.tier_table = self.tiers
        scrapped = self.ledger.scrap_expired(t)
        for g, n in zip(scrapped.generation, scrapped.count, strict=True):
            self.record_event(Event(EventKind.GPU_SCRAPPED, holder=-1, generation=int(g), units=int(n)))
        self.ledger.compact()
        technology = self.roster.holder_technology()
        load = grid_load_mw(installed_kw(self.ledger, self.generations, technology, self.n_regions), technology)
        regions = self.regions
        self.power_price = tech.regional_power_price(regions.base_power_price, load, regions.power_capacity_mw,
                                                     regions.congestion)
        self.fleet = self._fleet_economics()
        self.fleet_stale = False
        self.secondary_quotes = self._reseller_quotes()
        held = self.ledger.units_by_holder_generation(len(self.holders))
        write_offs = [trading.write_off(seller=r.holder_id, generation=g) for i, r in enumerate(self.resellers)
                      for g in r.stock_to_write_off(held[r.holder_id], self.secondary_quotes[i])]
        if write_offs:  # stock nobody takes at scrap is disposed of; the books are requoted at this month's level
            self.apply_trades(write_offs)
            self.refresh_fleet()
            self.secondary_quotes = self._reseller_quotes()

    def grow_demand(self) -> None:
        """Base token demand at the reference price grows at each segment's rate."""
        self.base_volume = self.population.base_volume(self.step_index)

    def post_offers(self) -> None:
        """Offers never priced are opened first (:meth:`open_offers`); then each active provider with capacity
        prices its offers (its pricing strategy decides), an opener against its trial clearing's observation."""
        opening, trial = self.open_offers()
        posting = [(p, regions) for p in self.providers
                   for regions in [p.price_offers(self.step_index, self.fleet,
                                                  trial if p.holder_id in opening else self.observation, self.form)]
                   if regions is not None]
        self.offers = self._with_router_offers(self.roster.offer_book(posting, self.fleet, self.frontier,
                                                                      self.open_weight, self.pool_utilization))

    def _with_router_offers(self, offers: OfferBook) -> OfferBook:
        """The providers' offers followed by each router's (``market.routers``)."""
        tier_quality = self.tiers.quality_factor if self.tiers.declared else None
        posted = [(r.holder_id, *r.routes(offers, self.frontier, self.n_regions, tier_quality))
                  for r in self.roster.routers]
        if not posted:
            return offers
        return routers.with_router_offers(offers, np.concatenate([np.full(len(v), h) for h, v, _ in posted]),
                                          np.concatenate([v for _, v, _ in posted]),
                                          np.concatenate([f for _, _, f in posted]))

    def open_offers(self) -> tuple[set[int], MarketObservation | None]:
        """Opening prices of offers never priced (every offer at step 0 without configured prices, entrants'
        on entry): each opener's ``opening_prices`` rule is iterated, damped by half in logs (the damping halves
        again whenever the largest move does not shrink, and the solve stops once it reaches
        ``OPENING_MIN_DAMPING``: a rule that cycles, as with tiers sharing a pool, is frozen there), against
        trial clearings of this month's market at the others' current prices until no log price moves by more
        than ``OPENING_TOLERANCE`` (at most ``OPENING_ROUNDS`` rounds). Trials draw no offer shocks, so no
        generator is touched.

        Returns:
            The openers' holder ids, and the observation of the trial clearing at the solved prices.
        """
        t, live = self.step_index, [(p, m) for p in self.providers for m in [p.offering(self.fleet)] if m is not None]
        opening = [(p, np.isnan(p.price)) for p, _ in live if np.isnan(p.price).any()]
        if not opening:
            return set(), None
        for p, _ in opening:  # first guess: the region's price, or 1.3 x unit cost
            p.open_prices(p.pricing_view(t, self.fleet, self.observation, self.form))
        weight, last_move = 0.5, np.inf
        for _ in range(OPENING_ROUNDS):
            trial = self._trial_observation(self.roster.offer_book(live, self.fleet, self.frontier, self.open_weight,
                                                                   self.pool_utilization))
            move = max(p.open_prices(p.pricing_view(t, self.fleet, trial, self.form), weight, m) for p, m in opening)
            if move < OPENING_TOLERANCE or weight <= OPENING_MIN_DAMPING:
                break
            if move >= last_move:  # cycling: damp harder
                weight = max(0.5 * weight, OPENING_MIN_DAMPING)
            last_move = move
        trial = self._trial_observation(self.roster.offer_book(live, self.fleet, self.frontier, self.open_weight,
                                                               self.pool_utilization))
        return {p.holder_id for p, _ in opening}, trial

    def _trial_observation(self, offers: OfferBook) -> MarketObservation:
        """What pricing would observe if ``offers`` cleared now without offer shocks: ``clear_market``'s choice,
        volume at the posted effective price (the fixed point's answer when nothing is rationed), no state
        changed."""
        pop = self.population
        shares, outside = self._choice_shares(offers, None)
        classes = self._task_classes(offers)
        if classes is None:
            effective = np.where(outside < 1.0 - 1e-12, (shares @ offers.price) / np.maximum(1.0 - outside, 1e-300),
                                 pop.reference_price)
        else:
            effective = class_posted_price(shares, outside, offers.price, classes, pop.reference_price)
        volume = demand.effective_volume(self.base_volume, effective, pop.reference_price, pop.elasticity)
        return observe_market(offers, shares, volume, pop.price_sensitivity, self.mu, self.form,
                              self._observed_terms(offers), classes=classes, outside_share=outside,
                              pools=self._pools(offers))

    def _choice_shares(self, offers: OfferBook, shocks: FloatArray | None) -> tuple[FloatArray, FloatArray]:
        """Logit shares of every enterprise over ``offers`` and the outside option, each enterprise with its own
        quality floor (``market.demand``)."""
        pop = self.population
        penalty = demand.choice_class_penalties(
            n_segments=pop.n_segments, region_latency_penalty=self.regions.latency_penalty,
            segment_quality_floor=np.zeros(pop.n_segments), frontier_quality=self.frontier,
            offer_region=offers.region, offer_quality=offers.quality)  # floors are per enterprise
        weight = np.array([s.latency_weight_per_s for s in self.config.segments])
        if weight.any() and offers.latency_ms.any():  # serving latency costs utility (market.latency)
            penalty = (penalty.reshape(pop.n_segments, -1, len(offers))
                       - latency_disutility(weight, offers.latency_ms)[:, None, :]).reshape(penalty.shape)
        utility = pop.utilities(offers, penalty, self.form, shocks, self.frontier)
        if (offers.via >= 0).any():  # router customers move between the providers behind it at a discount
            factor = np.ones(len(offers))
            for r in self.roster.routers:
                factor[offers.holder == r.holder_id] = r.switching_cost_factor
            routers.multi_homing_relief(
                utility, incumbent_offer_index(offers.holder, offers.region, pop.incumbent_provider,
                                               pop.incumbent_region, self.n_regions),
                pop.current_switching_cost(), factor,
                routers.behind_router_offers(offers, {r.holder_id: r.eligible(offers, self.frontier)
                                                      for r in self.roster.routers}))
        return engine(self.config.simulation.clearing_kernel).logit_shares(utility, self._outside_utility(), self.mu,
                                                                           in_place=True)  # utility is not kept

    def _task_classes(self, offers: OfferBook) -> TaskClasses | None:
        """The buyers' task classes over ``offers`` (``market.routing``); None when no segment declares tasks.

        An offer's total latency for a buyer region is the network latency between the regions
        (``market.latency.network_latency_ms``) plus the offer's serving latency; the network part enters the
        utilities as the regions' latency penalty, and both parts count against a task's latency tolerance."""
        if not self.task_table.declared:
            return None
        pop, regions = self.population, self.config.regions
        network = network_latency_ms(np.arange(self.n_regions), offers.region,
                                     np.array([r.local_latency_ms for r in regions]),
                                     np.array([r.remote_latency_ms for r in regions]))
        return routing.build_task_classes(self.task_table, pop.segment, pop.region, self.n_regions, offers.quality,
                                          self.frontier, network + offers.latency_ms[None, :])

    @staticmethod
    def _pools(offers: OfferBook) -> CapacityPools | None:
        """Capacity pools of ``offers`` (a provider's tiers in a region share its GPUs); None when every offer is
        its own pool of weight 1, where the clearing rations offers."""
        if len(np.unique(offers.pool)) == len(offers) and np.all(offers.capacity_weight == 1.0):
            return None
        return CapacityPools(offers.pool, offers.capacity_weight, offers.pool_capacity())

    def _observed_terms(self, offers: OfferBook) -> set[str]:
        """The costly observation terms the pricing strategies of ``offers``' providers ask for."""
        holders = np.unique(offers.holder[offers.via < 0])
        return set().union(*(self.roster.provider(int(h)).pricing.observes for h in holders))

    def clear_market(self) -> None:
        """Enterprises choose among offers (logit), each with its own quality floor; volume and rationing are
        solved to a fixed point at the prices buyers pay (``market.clearing.clear_with_volume_response``); what
        pricing observes is kept. The allocation matrix of two steps ago is reused for this step's (a clearing's
        ``allocation`` is valid until the step after next: copy it to keep it longer)."""
        offers, pop, sim = self.offers, self.population, self.config.simulation
        sd = self.config.logit.offer_shock_sd
        own = int((offers.via < 0).sum())  # a router's offer carries the shock of the offer it routes to
        shocks = routers.routed_values(self.shock_rng.normal(0.0, sd, own), offers.via) if sd > 0 else None
        shares, outside = self._choice_shares(offers, shocks)
        classes, pools = self._task_classes(offers), self._pools(offers)
        spare, self._spare_allocation = self._spare_allocation, self.clearing.allocation
        c = self.clearing = engine(sim.clearing_kernel).clear_with_volume_response(
            shares, outside, self.base_volume, pop.reference_price, pop.elasticity, offers.capacity, offers.price,
            sim.rationing_rounds, sim.volume_tolerance, sim.volume_max_iterations, classes=classes, pools=pools,
            out=spare)
        self.volume = c.volume if c.volume is not None else np.zeros(pop.size)
        effective = c.effective_price if c.effective_price is not None else pop.reference_price
        self.consumer_surplus = consumer_surplus(
            served=c.served_by_enterprise, volume=self.volume, outside_share=outside, mu=self.mu,
            price_sensitivity=pop.price_sensitivity, effective_price=effective, form=self.form,
            base_volume=self.base_volume, reference_price=pop.reference_price, elasticity=pop.elasticity,
            served_by_class=c.served_by_class,
            class_outside_share=None if classes is None else class_outside_shares(shares, outside, classes))
        self.observation = observe_market(offers, shares, self.volume, pop.price_sensitivity, self.mu, self.form,
                                          self._observed_terms(offers), classes=classes, outside_share=outside,
                                          pools=pools, kernel=sim.clearing_kernel)
        self.revenue_by_region = revenue_by_buyer_region(c.allocation, pop.region_slices, offers.price)
        pop.record_main_providers(c.allocation, offers.holder, offers.region)
        self.pool_utilization = self._expected_utilization(self._pool_utilization())

    def settle(self) -> None:
        """Revenue, costs, interest and cash of every provider (equations in ``market.accounts``)."""
        books, cash, rate, independent = self.roster.balance_sheets()
        interest = np.where(independent, corporate.interest_on_debt(cash, rate), 0.0)
        s = self.settlement = settle_month(self.offers, self.clearing, self.fleet, interest, books)
        for p in self.providers:
            if p.active:
                h = p.holder_id
                p.cash += s.revenue[h] - s.cash_cost[h] - s.interest[h]
                p.last_profit = s.profit[h]
                p.monthly_operating_cost = s.cash_cost[h] + s.interest[h]
                p.cumulative_served_mtok += s.served_units[h]
        for r in self.roster.routers:
            r.settle(float(s.revenue[r.holder_id]), float(s.cash_cost[r.holder_id]))
        margins = corporate.margin_by_kind(s.revenue, s.profit, self.roster.kind_ids(active_only=True),
                                           len(PROVIDER_KIND_NAMES))
        self.margin_history.append({k: float(m) for k, m in zip(PROVIDER_KIND_NAMES, margins, strict=True)})

    def invest(self) -> None:
        """Retirements and upgrade cycles, then every provider's fleet order: sales, used and new purchases."""
        t, n = self.step_index, len(self.holders)
        desk = self.roster.reseller_desk(self.secondary_quotes)
        held = self.ledger.units_by_holder_generation(n)
        released = [int(g) for g in self.generations.released_at(t)]
        self.apply_trades(trading.sale(desk, seller=h, generation=g, units=None, kind=EventKind.GPU_RETIRED)
                          for h, g in self.roster.retirements(held, released, self.generations.release_step))
        self.apply_trades(trading.sale(desk, seller=h, generation=g, units=None, kind=EventKind.GPU_RETIRED,
                                       built_before=cut) for h, g, cut in self.roster.aged_gpus(self.ledger, t))
        self.secondary_quotes = self._reseller_quotes()
        desk = self.roster.reseller_desk(self.secondary_quotes)
        books = self.ledger.units_by_holder_generation(n)[self.roster.reseller_ids]
        used_price, used_life = trading.best_used_offer(
            desk, books, self.ledger.life_left_by_holder_generation(t, n)[self.roster.reseller_ids])
        stock = books.sum(axis=0)
        orders = [(p, p.plan_fleet(view)) for p in self.providers if p.active for view in [p.investment_view(
            step=t, fleet=self.fleet, offers=self.offers, clearing=self._providers_clearing(),
            generations=self.generations, algorithmic_efficiency=self.algorithmic_efficiency,
            used_price=used_price, used_available=stock, used_life_left=used_life,
            power_price=self.power_price)] if view is not None]
        if not orders:
            for r in self.resellers:
                r.record_orders(np.zeros(len(self.generations)))
            return
        oldest_first = [int(g) for g in np.argsort(self.generations.release_step, kind="stable")]
        self.apply_trades(trading.divestment_sales(
            desk, self.ledger.units_by_holder_generation_region(n, self.n_regions),
            [(p.holder_id, p.regions, o.sell) for p, o in orders], oldest_first))
        trades, requested = trading.used_purchases(desk, self.ledger.units_by_holder_generation(n),
                                                   self.roster.used_orders(orders), self._grid_headroom_mw(),
                                                   self.generations)
        self.apply_trades(trades)
        for r, orders_r in zip(self.resellers, trading.orders_by_reseller(requested, books), strict=True):
            r.record_orders(orders_r)
        newest = self.generations.newest(t)
        if newest >= 0:
            self.apply_trades(trading.vendor_purchases(
                self.roster.new_orders(orders), newest, float(self.generations.vendor_supply_per_month[newest]),
                self.config.technology.vendor_allocation, self._grid_headroom_mw(), self.generations))
        self.refresh_fleet()

    def _providers_clearing(self) -> Clearing:
        """The clearing as providers count it: tokens demanded and served through routers added to the offers
        they route to (``market.routers.attributed_to_providers``)."""
        c, via = self.clearing, self.offers.via
        if not (via >= 0).any():
            return c
        return replace(c, offer_demand=routers.attributed_to_providers(c.offer_demand, via),
                       served=routers.attributed_to_providers(c.served, via))

    def corporate_events(self) -> None:
        """Exits, acquisitions under merger control, entries (DESIGN.md 3.6)."""
        self._exits()
        if self.config.corporate.acquisitions.enabled:
            self._acquisitions()
        self._entries()
        self.settlement = self.settlement.padded(len(self.holders))

    def collect(self) -> None:
        """Hand this step's outcome to the recorder and the Mesa data collector."""
        self.refresh_fleet()
        self.recorder.collect(self.outcome(), self.events[self._recorded_events:])
        self._recorded_events = len(self.events)
        self.datacollector.collect(self)

    # -- stage helpers ----------------------------------------------------------------------------------------
    def _outside_utility(self) -> FloatArray:
        """Not buying or self-hosting on the cheapest GPU in stock or new (``market.demand``)."""
        cfg = self.config.outside_option
        if cfg.self_hosting:
            n, ids = len(self.holders), self.roster.reseller_ids
            used_price, used_life = trading.best_used_offer(
                self.roster.reseller_desk(self.secondary_quotes), self.ledger.units_by_holder_generation(n)[ids],
                self.ledger.life_left_by_holder_generation(self.step_index, n)[ids])
            self.self_host_cost_by_region = demand.self_hosting_cost(
                step=self.step_index, generations=self.generations, used_price_usd=used_price,
                used_life_left=used_life, power_price=self.power_price, options=cfg,
                efficiency_multiplier=self.algorithmic_efficiency)
        return self.population.outside_utilities(
            not_buying_value=cfg.value, self_host_cost_by_region=self.self_host_cost_by_region if cfg.self_hosting
            else None, self_host_quality=self.open_weight * cfg.self_host_quality_factor,
            self_host_penalty=cfg.self_host_penalty, mu=self.mu, form=self.form, frontier_quality=self.frontier)

    def _expected_utilization(self, realized: FloatArray) -> FloatArray:
        """The utilization next month's latency is quoted at: ``u + a (realized - u)`` per (holder, region), ``a``
        = ``latency.adaptation`` (adaptive expectations damp the cobweb between load and latency; a pool not seen
        before starts at its realized utilization)."""
        a, old = self.config.latency.adaptation, self.pool_utilization
        if a >= 1.0:
            return realized
        previous = np.zeros_like(realized)
        rows, cols = min(old.shape[0], realized.shape[0]), min(old.shape[1], realized.shape[1])
        previous[:rows, :cols] = old[:rows, :cols]
        seen = previous > 0
        return np.where(seen, previous + a * (realized - previous), realized)

    def _pool_utilization(self) -> FloatArray:
        """Utilization per (holder, region) this month: capacity units served over capacity (``market.latency``),
        what next month's serving latency reads."""
        offers, out = self.offers, np.zeros((len(self.holders), self.n_regions))
        if len(offers):
            first = np.unique(offers.pool, return_index=True)[1]
            load = pool_utilization(self.clearing.served, offers.capacity_weight, offers.pool, offers.pool_capacity())
            out[offers.holder[first], offers.region[first]] = load
        return out

    def _reseller_quotes(self) -> FloatArray:
        n = len(self.holders)
        return self.roster.reseller_quotes(self.generations, self.step_index, self.ledger.units_by_holder_generation(n),
                                           self.ledger.life_left_by_holder_generation(self.step_index, n),
                                           float(np.mean(self.power_price)))

    def _grid_headroom_mw(self) -> FloatArray:
        return np.maximum(self.regions.power_capacity_mw - self.fleet.load_mw, 0.0)

    # -- corporate events ----------------------------------------------------------------------------------
    def _exits(self) -> None:
        idle = (self.settlement.served[:len(self.holders)] <= 0) & (self.fleet.gpus.sum(axis=1) <= 0)
        plan = corporate.plan_exits(self.roster.corporate_state(), idle, self.config.corporate.exit_after_months)
        for p in self.providers:
            p.months_distressed = int(plan.months_distressed[p.holder_id])
            p.months_idle = int(plan.months_idle[p.holder_id])
        for h, reason in plan.closures:
            self._close(self.roster.provider(h), reason)
        if plan.closures:
            self.population.release_customers_of([h for h, _ in plan.closures])

    def _close(self, p: Provider, reason: str) -> None:
        """Liquidate a provider: GPUs to resellers, subsidiaries freed, provider out of the market."""
        held = self.ledger.units_by_holder_generation(len(self.holders))[p.holder_id]
        desk = self.roster.reseller_desk(self.secondary_quotes)
        self.apply_trades(trading.sale(desk, seller=p.holder_id, generation=int(g), units=None,
                                       kind=EventKind.GPU_LIQUIDATION) for g in np.nonzero(held)[0])
        self.roster.close(p)
        self.fleet_stale = True
        detail = json.dumps({"reason": reason, "cash_usd": round(p.cash, 2), "gpus_liquidated": int(held.sum())})
        self.record_event(Event(EventKind.EXIT, holder=p.holder_id, amount_usd=p.cash, detail=detail))

    def _acquisitions(self) -> None:
        s, cfg, antitrust = self.settlement, self.config.corporate.acquisitions, self.config.corporate.antitrust
        state, n = self.roster.corporate_state(), len(self.holders)
        fleet_value = self.ledger.book_value_by_holder(self.step_index, n)

        def propose(a: int, candidates: NDArray[np.int64]) -> tuple[int, float] | None:
            acquirer = self.roster.provider(a)
            deal = acquirer.propose_acquisition(self.roster.acquisition_view(acquirer, candidates, s, fleet_value))
            return None if deal is None else (deal.target, deal.price_usd)

        markets, names = self._antitrust_markets(antitrust.scope, n)
        deals = corporate.plan_acquisitions(  # sequenced deals, each proposed by the acquirer's strategy
            acquirers=self.roster.acquirers(state, cfg.acquirer_kinds, self.step_index, cfg.cooldown_months),
            eligible_targets=self.roster.of_kinds(cfg.target_kinds), parent=state.parent,
            owner=self.roster.owner_ids(), thresholds=antitrust.screen, deal_probability=cfg.deal_probability,
            markets=markets, propose=propose, draw=self.corporate_rng.uniform, market_names=names,
            min_market_share=antitrust.min_market_share)
        for deal in deals:
            acquirer, target = self.roster.provider(deal.acquirer), self.roster.provider(deal.target)
            review = deal.review
            acquirer.last_deal_step = self.step_index
            if not review.blocked:
                acquirer.cash -= deal.price_usd
                target.consolidate_into(acquirer)
            self.record_event(Event(EventKind.MERGER_BLOCKED if review.blocked else EventKind.ACQUISITION,
                                    holder=acquirer.holder_id, counterparty=target.holder_id, amount_usd=deal.price_usd,
                                    detail=review.detail(antitrust.policy)))

    def _antitrust_markets(self, scope: str, n: int) -> tuple[FloatArray, list[str]]:
        """Revenue per (relevant market, holder) this month and the markets' names (``market.concentration``);
        sales through routers count for the provider behind them, at the price it is paid
        (``market.routers.provider_level``)."""
        if scope == "global":
            routed = self.settlement.routed
            revenue = self.settlement.revenue if routed is None else self.settlement.revenue - routed.router_revenue
            return np.asarray(revenue, dtype=np.float64)[None, :n], ["all"]
        level, holder = routers.provider_level(self.offers)
        if scope == "regional":
            return by_holder(self.revenue_by_region * level, holder, n), list(self.region_names)
        pop, segments = self.population, [s.name for s in self.config.segments]
        ids = concentration.market_ids(pop.segment, pop.region, self.n_regions)
        revenue = concentration.revenue_by_market(self.clearing.allocation, self.offers.price, ids,
                                                  len(segments) * self.n_regions)
        return by_holder(revenue * level, holder, n), [f"{s}/{r}" for s in segments for r in self.region_names]

    def _entries(self) -> None:
        entrants = self.config.corporate.entrants
        self.refresh_fleet()  # after exits
        kinds, n = self.roster.kind_ids(active_only=True), len(self.holders)
        self.profit_pool_history.append(corporate.total_by_kind(self.settlement.profit[:n], kinds))
        economics = corporate.EntryEconomics(
            profit_pool_history=self.profit_pool_history,
            kind_capacity=corporate.total_by_kind(self.fleet.capacity.sum(axis=1)[:n], kinds),
            kind_firms=corporate.total_by_kind(np.ones(n), kinds),
            entrant_capacity=[corporate.entrant_capacity_mtok(e, self.generations, self.algorithmic_efficiency)
                              for e in entrants])
        for entry in corporate.plan_entries(entrants, self.margin_history, step=self.step_index,
                                            entries_so_far=self.entries_by_entrant, economics=economics,
                                            last_entry_step=self.last_entry_step, taken_names=self.roster.names):
            entrant = entrants[entry.entrant]
            self.entries_by_entrant[entrant.name] = self.entries_by_entrant.get(entrant.name, 0) + 1
            self.last_entry_step[entrant.name] = self.step_index
            provider = self._enter(entrant, entry.name)
            detail = json.dumps({"incumbent_margin": round(entry.incumbent_margin, 4), "kind": provider.kind,
                                 "expected_value_usd": round(entry.expected_value_usd, 2)})
            self.record_event(Event(EventKind.ENTRY, holder=provider.holder_id, amount_usd=entrant.sunk_cost_usd,
                                    detail=detail))

    def _enter(self, entrant: EntrantConfig, name: str) -> Provider:
        """A new provider pays the sunk cost and buys its starting fleet (``market.trading.entry_fleet``)."""
        provider = self._new_provider(entrant.provider, name)
        provider.cash -= entrant.sunk_cost_usd
        lots = [(self.generations.index(lot.generation), self.region_names.index(lot.region), lot.gpus)
                for lot in entrant.provider.fleet]
        self.apply_trades(trading.entry_fleet(
            self.roster.reseller_desk(self.secondary_quotes), self.ledger.units_by_holder_generation(len(self.holders)),
            self._grid_headroom_mw(), self.generations, buyer=provider.holder_id, pue=provider.pue, lots=lots,
            newest=self.generations.newest(self.step_index)))
        self.fleet_stale = True
        self.refresh_fleet()
        return provider

    # -- applying changes -----------------------------------------------------------------------------------
    def apply_trades(self, trades: Iterable[trading.Trade]) -> None:
        """Apply hardware trades in order: GPUs through the ledger, the payment on both sides, one event each
        (a vendor is paid from outside the economy; scrapped GPUs fetch nothing). A reseller buys only what its
        cash plus credit line pays for, within its stock limit; what sellers retire or liquidate and nobody takes
        is scrapped."""
        for t in trades:
            lifetime = int(self.generations.lifetime_months[t.generation])
            buyer = self.holders[t.buyer] if t.buyer != SCRAPPED else None
            budget, room = np.inf, None
            if isinstance(buyer, HardwareReseller):  # within its credit line and stock limit
                budget = max(buyer.cash + buyer.credit_limit, 0.0)
                held = self.ledger.units_by_holder_generation(len(self.holders))[buyer.holder_id, t.generation]
                room = int(max(buyer.stock_limit()[t.generation] - held, 0))
            done = trading.execute_trade(self.ledger, t, self.step_index, lifetime, budget, room)
            if isinstance(t, trading.GpuTrade) and done.unsold is not None and done.unsold.units > 0:
                self.fleet_stale = True
                self.record_event(Event(EventKind.GPU_SCRAPPED, holder=t.seller, generation=t.generation,
                                        units=done.unsold.units))
            units = done.units
            if units == 0:
                continue
            self.fleet_stale = True
            if isinstance(t, trading.VendorSale):
                self.holders[t.buyer].cash -= t.units * t.price_per_gpu
                self.record_event(Event(EventKind.GPU_PURCHASE, holder=t.buyer, generation=t.generation, units=units,
                                        amount_usd=t.units * t.price_per_gpu, detail=t.detail))
            elif t.buyer == SCRAPPED:
                self.record_event(Event(EventKind.GPU_SCRAPPED, holder=t.seller, generation=t.generation, units=units))
            else:
                amount = done.moved.amount
                self.holders[t.seller].cash += amount
                self.holders[t.buyer].cash -= amount
                self.record_event(Event(t.kind, holder=t.seller, counterparty=t.buyer, generation=t.generation,
                                        units=units, amount_usd=amount))

    def refresh_fleet(self) -> None:
        """Recompute fleet economics if GPUs or providers changed since it was last computed."""
        if self.fleet_stale:
            self.fleet = self._fleet_economics()
            self.fleet_stale = False

    def _fleet_economics(self) -> FleetEconomics:
        return fleet_economics(self.ledger, self.generations, self.roster.holder_technology(), self.power_price,
                               self.algorithmic_efficiency)

    def record_event(self, event: Event) -> None:
        """Append a row to the events table, with the parties' names."""
        self.event_log.record(event, self.step_index)

    @property
    def events(self) -> list[dict[str, object]]:
        """Rows of the events table so far."""
        return self.event_log.rows

    # -- what users read ------------------------------------------------------------------------------------
    def outcome(self) -> StepOutcome:
        """The frozen outcome of the current step (what the recorder reads)."""
        n = len(self.holders)
        return StepOutcome(
            step=self.step_index, frontier=self.frontier, open_weight=self.open_weight,
            reference_quality=self.reference_quality, offers=self.offers, clearing=self.clearing, fleet=self.fleet,
            settlement=self.settlement, volume=self.volume, consumer_surplus=self.consumer_surplus,
            self_host_cost_by_region=self.self_host_cost_by_region,
            revenue_by_buyer_region=self.revenue_by_region,
            providers=self.roster.snapshot(self.frontier, self.open_weight), holder_kind_id=self.roster.kind_ids(),
            secondary_price=best_quotes(self.secondary_quotes), reference_generation=self.reference_generation,
            generation_names=tuple(self.generations.names), held=self.ledger.units_by_holder_generation(n),
            reseller_ids=self.roster.reseller_ids, provider_ids=self.roster.provider_ids,
            scrapped=self.ledger.scrapped_by_generation(), produced=self.ledger.produced.copy(),
            event_counts=dict(self.event_log.counts), routers=self.roster.router_snapshot())

    @property
    def networks(self) -> dict[str, nx.Graph[str]]:
        """Current networks: ``contracts`` (this month), ``ownership`` and ``gpu_flows`` (``market.networks``)."""
        pop, c, offers = self.population, self.clearing, self.offers
        contracts = None if self.step_index == 0 else dict(
            allocation=c.allocation, offer_holder=offers.holder, offer_price=offers.price,
            enterprise_segment=np.array([s.name for s in self.config.segments], dtype=object)[pop.segment],
            enterprise_region=np.array(self.region_names, dtype=object)[pop.region], enterprise_firms=pop.weight,
            incumbent_provider=pop.incumbent_provider, tenure_months=pop.tenure_months)
        return market_networks(holder_names=self.roster.names, holder_kinds=[h.kind for h in self.holders],
                               parents=self.roster.parent_ids(), events=self.events, contracts=contracts)

    def run(self, steps: int | None = None) -> None:
        """Run ``steps`` steps (default: the scenario's)."""
        for _ in range(self.config.simulation.steps if steps is None else steps):
            self.step()
