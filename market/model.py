"""The Mesa model of the inference economy: :class:`InferenceMarket`.

A step is one month and runs the stages of DESIGN.md 3 in order::

    technology -> demand -> offers -> clearing -> settlement -> investment -> corporate events -> collection

Each stage gathers arrays (the firms' through :class:`agents.roster.Roster`, the buyers' from
:class:`agents.enterprise.EnterprisePopulation`), calls pure functions of ``market`` or asks agents to decide,
and applies the result. GPUs and money change hands in :meth:`InferenceMarket.apply_trades` (hardware),
:meth:`InferenceMarket.settle` (the month's accounts) and the deal and entry lines of the corporate stage.
This is the one module of ``market`` that imports ``agents``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import mesa
import networkx as nx
import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from agents.enterprise import Enterprise, EnterprisePopulation
from agents.provider import PROVIDER_KINDS, Provider
from agents.reseller import HardwareReseller
from agents.roster import Roster
from market import corporate, demand, trading
from market.accounts import Settlement, settle_month
from market.batch import model_seed
from market.clearing import Clearing, clear_logit_market, logit_shares
from market.config import PROVIDER_KIND_NAMES, EntrantConfig, ProviderConfig, ScenarioConfig
from market.config.files import load_scenario, scenario_with_settings
from market.events import Event, EventKind
from market.fleet import FleetEconomics, fleet_economics, grid_load_mw, installed_kw
from market.hardware import SCRAPPED, GpuLedger, best_quotes
from market.metrics import logit_consumer_surplus
from market.networks import contract_graph, gpu_flow_graph, ownership_graph
from market.observation import MarketObservation, observe_market
from market.offers import OfferBook, incumbent_offer_index
from market.recording import Population, Recorder, StepOutcome
from market.technology import (
    GenerationTable,
    algorithmic_efficiency,
    frontier_quality,
    open_weight_quality,
    regional_power_price,
)

FloatArray = NDArray[np.float64]


class InferenceMarket(mesa.Model):
    """Agent-based model of the inference market.

    Built from a validated scenario, or, as Mesa models are, from keyword parameters::

        InferenceMarket(config, seed=1)
        InferenceMarket(scenario="baseline", seed=1, logit__mu=0.4, simulation__steps=24)

    Args:
        config: A validated scenario (takes precedence over ``scenario``).
        seed: Root seed (default: the scenario's ``simulation.seed``); every random draw comes from generators
            spawned from it. Inside ``mesa.batch_run`` iteration ``k > 0`` runs with the seed
            :func:`market.batch.batch_iteration_seed` derives from it.
        scenario: A shipped scenario name (``"baseline"``) or a scenario file, used when ``config`` is None.
        rng: Mesa's name for the seed; an integer is accepted as ``seed``.
        **settings: Scenario values by key path, parts joined by ``__`` (``logit__mu=0.4``,
            ``providers__cloud_a__lock_in=0.2``), as ``--set`` on the command line.

    ``model.agents`` holds the providers (until they exit) and resellers; the read-only enterprise views join
    it on first use of :attr:`enterprises`. ``model.datacollector`` is a ``mesa.DataCollector`` with the seed
    and every model-table column as model reporters and name, kind, cash and activity as agent reporters.
    """

    def __init__(self, config: ScenarioConfig | None = None, seed: int | None = None, *,
                 scenario: str | Path = "baseline", rng: int | None = None, **settings: Any) -> None:
        config = scenario_with_settings(load_scenario(scenario) if config is None else config, settings)
        root = np.random.SeedSequence(model_seed(config, seed, rng))
        setup_seq, shock_seq, corporate_seq = root.spawn(3)
        super().__init__(rng=np.random.default_rng(setup_seq))
        self.seed = int(root.entropy)  # type: ignore[arg-type]
        self.config = config
        self.shock_rng = np.random.default_rng(shock_seq)
        self.corporate_rng = np.random.default_rng(corporate_seq)
        self.mu = config.logit.mu
        self.form = config.logit.utility_form
        self.region_names = config.region_names
        self.n_regions = len(self.region_names)
        self.generations = GenerationTable.from_config(config.technology)
        self.gpu_spec = trading.GpuSpec(power_kw=self.generations.power_kw,
                                        list_price_usd=self.generations.list_price_usd,
                                        throughput_tokens_per_s=self.generations.throughput_tokens_per_s)
        self.ledger = GpuLedger(len(self.generations))
        self.region_base_power = np.array([r.power_price_usd_per_kwh for r in config.regions])
        self.region_power_capacity = np.array([r.power_capacity_mw for r in config.regions])
        self.reference_quality = config.technology.frontier_quality_start
        ref = config.technology.reference_generation
        self.reference_generation = self.generations.index(ref) if ref else (0 if len(self.generations) else -1)
        self.roster = Roster()
        for cfg in config.providers:
            for k in range(cfg.count):
                p = self._new_provider(cfg, cfg.name if cfg.count == 1 else f"{cfg.name}_{k + 1}")
                for lot in cfg.fleet:
                    g = self.generations.index(lot.generation)
                    self.ledger.add(holder=p.holder_id, generation=g, region=self.region_names.index(lot.region),
                                    count=lot.gpus, built_step=-lot.age_months, step=-lot.age_months,
                                    lifetime=int(self.generations.lifetime_months[g]),
                                    basis=float(self.generations.list_price_usd[g]))
        for rcfg in config.resellers:
            for k in range(rcfg.count):
                name = rcfg.name if rcfg.count == 1 else f"{rcfg.name}_{k + 1}"
                self.roster.add(HardwareReseller(self, name=name, holder_id=self.roster.next_id, config=rcfg,
                                                 n_generations=len(self.generations)))
        self.population = EnterprisePopulation(config.segments, config.regions, self.rng)
        self.recorder = Recorder(Population(
            segment=self.population.segment, region=self.population.region, weight=self.population.weight,
            region_names=tuple(self.region_names), segment_names=tuple(s.name for s in config.segments),
            per_agent=config.simulation.enterprise_output == "agent"))
        self._draw_initial_contracts()
        self.step_index = 0
        self.frontier = self.reference_quality
        self.open_weight = open_weight_quality(0, config.technology)
        self.algorithmic_efficiency = 1.0
        self.power_price = self.region_base_power.copy()
        self.base_volume = self.population.base_volume(0)
        self.offers: OfferBook | None = None
        self.clearing: Clearing | None = None
        self.observation: MarketObservation | None = None
        self.settlement: Settlement | None = None
        self.volume = np.zeros(self.population.size)
        self.consumer_surplus = np.zeros(self.population.size)
        self.self_host_cost_by_region = np.full(self.n_regions, np.nan)
        self.fleet: FleetEconomics = self._fleet_economics()
        self.fleet_stale = False
        self.secondary_quotes = np.full((len(self.resellers), len(self.generations)), np.nan)
        self.events: list[dict[str, object]] = []
        self.event_counts: dict[str, int] = {}
        self.margin_history: list[dict[str, float]] = []
        self.entries_by_entrant: dict[str, int] = {}
        self.last_entry_step: dict[str, int] = {}
        self._recorded_events = 0
        self._revenue_by_region: FloatArray | None = None
        self._enterprise_agents: mesa.agent.AgentSet | None = None
        self.datacollector = mesa.DataCollector(
            model_reporters={"seed": _seed, **{c: _column(c) for c in self.recorder.columns}},
            agent_reporters={k: _attribute(k) for k in ("name", "kind", "cash", "active")},
        )

    # -- who is in the market ---------------------------------------------------------------------------------
    @property
    def holders(self) -> list[Provider | HardwareReseller]:
        """Providers and resellers by holder id."""
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
        regions = [self.region_names.index(r) for r in cfg.regions] or sorted(
            {self.region_names.index(lot.region) for lot in cfg.fleet})
        provider = PROVIDER_KINDS[cfg.kind](self, name=name, holder_id=self.roster.next_id, config=cfg,
                                            regions=regions, acquisitions=self.config.corporate.acquisitions)
        self.roster.add(provider)
        return provider

    def _draw_initial_contracts(self) -> None:
        """Contracts the market starts with (``segments[].initial_contract_share``), by capacity per region."""
        if not any(s.initial_contract_share > 0 for s in self.config.segments):
            return
        fleet = fleet_economics(self.ledger, self.generations, self.roster.holder_technology(), self.region_base_power)
        providers = [p for p in self.providers if p.active]
        capacity = np.zeros((len(providers), self.n_regions))
        for i, p in enumerate(providers):
            own = fleet.capacity[p.holder_id, p.regions]
            capacity[i, p.regions] = np.where(np.isfinite(own), own, 1.0)
        ids = np.array([p.holder_id for p in providers], dtype=np.int64)
        self.population.draw_initial_contracts(self.config.segments, capacity, ids, self.rng)

    # -- the step --------------------------------------------------------------------------------------------
    def step(self) -> None:
        """Advance the market by one month.

        BLAS runs single-threaded inside a step, so results do not depend on the machine's thread count (a
        multithreaded matrix product may sum in another order) and parallel runs do not oversubscribe cores.
        """
        with threadpool_limits(limits=1, user_api="blas"):
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
        t, tech = self.step_index, self.config.technology
        self.frontier = frontier_quality(t, tech.frontier_quality_start, tech.frontier_growth_per_year)
        self.open_weight = open_weight_quality(t, tech)
        self.algorithmic_efficiency = algorithmic_efficiency(t, tech.algorithmic_efficiency_growth_per_year)
        scrapped = self.ledger.scrap_expired(t)
        for g, n in zip(scrapped.generation, scrapped.count, strict=True):
            self.record_event(Event(EventKind.GPU_SCRAPPED, holder=-1, generation=int(g), units=int(n)))
        self.ledger.compact()
        technology = self.roster.holder_technology()
        load = grid_load_mw(installed_kw(self.ledger, self.generations, technology, self.n_regions), technology)
        congestion = np.array([r.power_price_congestion for r in self.config.regions])
        self.power_price = regional_power_price(self.region_base_power, load, self.region_power_capacity, congestion)
        self.fleet = self._fleet_economics()
        self.fleet_stale = False
        self.secondary_quotes = self._reseller_quotes()

    def grow_demand(self) -> None:
        """Base token demand at the reference price grows at each segment's rate."""
        self.base_volume = self.population.base_volume(self.step_index)

    def post_offers(self) -> None:
        """Each active provider with capacity prices its offers (its pricing strategy decides)."""
        posting = []
        for p in self.providers:
            if not p.active or not np.any(self.fleet.capacity[p.holder_id, p.regions] > 0):
                continue  # nothing to sell this month: no offers
            view = p.pricing_view(self.step_index, self.fleet, self.observation, self.form)
            if np.any(np.isnan(p.price)):
                p.open_prices(view)
                view = p.pricing_view(self.step_index, self.fleet, self.observation, self.form)
            p.post_prices(view)
            posting.append((p, view.capacity > 0))
        self.offers = self.roster.offer_book(posting, self.fleet, self.frontier, self.open_weight)

    def clear_market(self) -> None:
        """Enterprises choose among offers (logit); capacity is rationed; what pricing observes is kept."""
        offers, pop = self.offers, self.population
        assert offers is not None
        shares, outside = logit_shares(self._utilities(offers), self._outside_utility(), self.mu)
        inside = np.maximum(1.0 - outside, 1e-300)
        effective = np.where(outside < 1.0 - 1e-12, (shares @ offers.price) / inside, pop.reference_price)
        self.volume = demand.effective_volume(self.base_volume, effective, pop.reference_price, pop.elasticity)
        c = self.clearing = clear_logit_market(shares, outside, self.volume, offers.capacity, offers.price,
                                               self.config.simulation.rationing_rounds)
        self.consumer_surplus = logit_consumer_surplus(self.volume, outside, self.mu, pop.price_sensitivity,
                                                       effective, self.form)
        observes: set[str] = set()
        for h in np.unique(offers.holder):
            observes |= self.holders[h].pricing.observes  # type: ignore[union-attr]
        self.observation = observe_market(offers, shares, self.volume, pop.price_sensitivity, self.mu, self.form,
                                          observes)
        self._revenue_by_region = None
        if len(offers):  # each enterprise's main provider is the offer that served it most
            main = np.argmax(c.allocation, axis=1)
            served = c.allocation[np.arange(pop.size), main] > 0
            pop.update_main_providers(np.where(served, offers.holder[main], -1),
                                      np.where(served, offers.region[main], -1))
        else:
            pop.update_main_providers(np.full(pop.size, -1), np.full(pop.size, -1))

    def settle(self) -> None:
        """Revenue, costs, interest and cash of every provider (equations in ``market.accounts``)."""
        assert self.offers is not None and self.clearing is not None
        books, cash, rate, independent = self.roster.balance_sheets()
        interest = np.where(independent, corporate.interest_on_debt(cash, rate), 0.0)
        s = self.settlement = settle_month(self.offers, self.clearing, self.fleet, interest, books)
        for p in self.providers:
            if p.active:
                h = p.holder_id
                p.cash += s.revenue[h] - s.cash_cost[h] - s.interest[h]
                p.last_profit = s.profit[h]
                p.monthly_operating_cost = s.cash_cost[h] + s.interest[h]
                p.cumulative_served_mtok += s.served[h]
        margins = corporate.margin_by_kind(s.revenue, s.profit, self.roster.kind_ids(active_only=True),
                                           len(PROVIDER_KIND_NAMES))
        self.margin_history.append({k: float(m) for k, m in zip(PROVIDER_KIND_NAMES, margins, strict=True)})

    def invest(self) -> None:
        """Retirements and upgrade cycles, then every provider's fleet order: sales, used and new purchases."""
        t, n = self.step_index, len(self.holders)
        desk = self.roster.reseller_desk(self.secondary_quotes)
        held = self.ledger.units_by_holder_generation(n)
        released = [int(g) for g in self.generations.released_at(t)]
        retiring = []
        for p in self.providers:
            if not p.active:
                continue
            if released:  # on a release, by its kind's rule (oldest release first)
                gens = sorted((int(g) for g in np.nonzero(held[p.holder_id])[0]),
                              key=lambda g: (int(self.generations.release_step[g]), g))
                retiring += [(p.holder_id, g) for g in p.generations_to_retire(released, gens)]
        self.apply_trades(trading.sale(desk, seller=h, generation=g, units=None, kind=EventKind.GPU_RETIRED)
                          for h, g in retiring)
        self.apply_trades(trading.sale(desk, seller=h, generation=g, units=None, kind=EventKind.GPU_RETIRED,
                                       built_before=cut) for h, g, cut in self._aged_gpus())
        self.secondary_quotes = self._reseller_quotes()
        desk = self.roster.reseller_desk(self.secondary_quotes)
        used_price = self.secondary_prices()
        held = self.ledger.units_by_holder_generation(n)
        stock = (held[[r.holder_id for r in self.resellers]].sum(axis=0) if self.resellers
                 else np.zeros(len(self.generations), dtype=np.int64))
        orders = [(p, p.plan_fleet(view)) for p in self.providers if p.active for view in [p.investment_view(
            step=t, fleet=self.fleet, offers=self.offers, clearing=self.clearing,  # type: ignore[arg-type]
            generations=self.generations, algorithmic_efficiency=self.algorithmic_efficiency,
            used_price=used_price, used_available=stock)] if view is not None]
        if not orders:
            return
        oldest_first = [int(g) for g in np.argsort(self.generations.release_step, kind="stable")]
        self.apply_trades(trading.divestment_sales(
            desk, self.ledger.units_by_holder_generation_region(n, self.n_regions),
            [(p.holder_id, p.regions, o.sell) for p, o in orders], oldest_first))
        used = [trading.UsedOrder(buyer=p.holder_id, priority=p.cash + p.credit_limit, generation=o.used_generation,
                                  regions=p.regions, units=o.buy_used, pue=p.pue) for p, o in orders]
        trades, requested = trading.used_purchases(desk, self.ledger.units_by_holder_generation(n), used,
                                                   self._grid_headroom_mw(), self.gpu_spec)
        self.apply_trades(trades)
        for r in self.resellers:
            r.last_orders = requested.copy()
        newest = self.generations.newest(t)
        if newest >= 0:
            new = [trading.NewOrder(buyer=p.holder_id, priority=p.cash + p.credit_limit, regions=p.regions,
                                    units=o.buy_new, pue=p.pue) for p, o in orders]
            self.apply_trades(trading.vendor_purchases(
                new, newest, float(self.generations.vendor_supply_per_month[newest]),
                self.config.technology.vendor_allocation, self._grid_headroom_mw(), self.gpu_spec))
        self.refresh_fleet()

    def corporate_events(self) -> None:
        """Exits, acquisitions under merger control, entries (DESIGN.md 3.6)."""
        self._exits()
        if self.config.corporate.acquisitions.enabled:
            self._acquisitions()
        self._entries()
        assert self.settlement is not None
        self.settlement = self.settlement.padded(len(self.holders))

    def collect(self) -> None:
        """Hand this step's outcome to the recorder and the Mesa data collector."""
        self.refresh_fleet()
        self.recorder.collect(self.outcome(), self.events[self._recorded_events:])
        self._recorded_events = len(self.events)
        self.datacollector.collect(self)

    # -- stage helpers ----------------------------------------------------------------------------------------
    def _utilities(self, offers: OfferBook) -> FloatArray:
        pop = self.population
        penalty = demand.choice_class_penalties(
            n_segments=pop.n_segments,
            region_latency_penalty=np.array([r.latency_penalty for r in self.config.regions]),
            segment_quality_floor=np.array([s.quality_floor for s in self.config.segments]),
            frontier_quality=self.frontier, offer_region=offers.region, offer_quality=offers.quality)
        incumbent = incumbent_offer_index(offers.holder, offers.region, pop.incumbent_provider, pop.incumbent_region,
                                          self.n_regions)
        sd = self.config.logit.offer_shock_sd
        return demand.choice_utilities(
            quality_weight=pop.quality_weight, price_sensitivity=pop.price_sensitivity,
            privacy_sensitivity=pop.privacy_sensitivity, lockin_aversion=pop.lockin_aversion,
            trust_weight=pop.trust_weight, reliability_weight=pop.reliability_weight,
            switching_cost=pop.current_switching_cost(), choice_class=pop.choice_class, incumbent_offer=incumbent,
            offer_quality=offers.quality, offer_price=offers.price, offer_privacy_risk=offers.privacy_risk,
            offer_lock_in=offers.lock_in, offer_unverified=offers.unverified, offer_reliability=offers.reliability,
            class_penalty=penalty, form=self.form,
            offer_shock=self.shock_rng.normal(0.0, sd, len(offers)) if sd > 0 else None)

    def _outside_utility(self) -> FloatArray:
        """Not buying or self-hosting on the cheapest GPU in stock or new (``market.demand``)."""
        cfg, gens, pop = self.config.outside_option, self.generations, self.population
        if cfg.self_hosting:
            held = self.ledger.units_by_holder_generation(len(self.holders))[[r.holder_id for r in self.resellers]]
            in_stock = np.where(held.sum(axis=0) > 0, best_quotes(self.secondary_quotes), np.nan) if self.resellers \
                else np.full(len(gens), np.nan)
            self.self_host_cost_by_region = demand.self_hosting_cost(
                step=self.step_index, release_step=gens.release_step, lifetime_months=gens.lifetime_months,
                list_price_usd=gens.list_price_usd, throughput_tokens_per_s=gens.throughput_tokens_per_s,
                power_kw=gens.power_kw, used_price_usd=in_stock, newest=gens.newest(self.step_index),
                power_price=self.power_price, gpu_premium=cfg.self_host_gpu_premium,
                efficiency=cfg.self_host_efficiency * self.algorithmic_efficiency,
                utilization=cfg.self_host_utilization, pue=cfg.self_host_pue,
                opex_usd_per_gpu_month=cfg.self_host_opex_usd_per_gpu_month)
        return demand.outside_option_utility(
            not_buying_value=cfg.value, self_host_cost_by_region=self.self_host_cost_by_region if cfg.self_hosting
            else None, region=pop.region, quality_weight=pop.quality_weight, price_sensitivity=pop.price_sensitivity,
            self_host_quality=self.open_weight * cfg.self_host_quality_factor, self_host_penalty=cfg.self_host_penalty,
            mu=self.mu, form=self.form)

    def _aged_gpus(self) -> list[tuple[int, int, int]]:
        """(seller, generation, built before) of GPUs older than a provider's ``retire_age_months``."""
        n, out = len(self.ledger), []  # type: ignore[var-annotated]
        for p in self.providers:
            age = p.config.retire_age_months
            if not p.active or age is None:
                continue
            cut = self.step_index - age
            mask = (self.ledger.holder[:n] == p.holder_id) & (self.ledger.built_step[:n] < cut)
            mask &= self.ledger.count[:n] > 0
            out += [(p.holder_id, int(g), cut) for g in np.unique(self.ledger.generation[:n][mask])]
        return out

    def _reseller_quotes(self) -> FloatArray:
        held = self.ledger.units_by_holder_generation(len(self.holders))
        return self.roster.reseller_quotes(self.generations, self.step_index, held)

    def _grid_headroom_mw(self) -> FloatArray:
        return np.maximum(self.region_power_capacity - self.fleet.load_mw, 0.0)

    # -- corporate events ----------------------------------------------------------------------------------
    def _exits(self) -> None:
        assert self.settlement is not None
        limit, gone = self.config.corporate.exit_after_months, []
        for p in self.providers:
            if not p.active or p.parent is not None:
                continue
            fixed = p.config.capacity_mtok_per_month is not None
            idle = self.settlement.served[p.holder_id] <= 0 and self.fleet.gpus[p.holder_id].sum() <= 0
            status = corporate.exit_status(cash=p.cash, credit_limit=p.credit_limit, idle=bool(idle and not fixed),
                                           months_distressed=p.months_distressed, months_idle=p.months_idle,
                                           limit=limit)
            p.months_distressed, p.months_idle = status.months_distressed, status.months_idle
            if status.reason is not None:
                self._close(p, status.reason)
                gone.append(p.holder_id)
        if gone:
            self.population.release_customers_of(gone)

    def _close(self, p: Provider, reason: str) -> None:
        """Liquidate a provider: GPUs to resellers, subsidiaries freed, provider out of the market."""
        held = self.ledger.units_by_holder_generation(len(self.holders))[p.holder_id]
        desk = self.roster.reseller_desk(self.secondary_quotes)
        self.apply_trades(trading.sale(desk, seller=p.holder_id, generation=int(g), units=None,
                                       kind=EventKind.GPU_LIQUIDATION) for g in np.nonzero(held)[0])
        for sub in self.providers:
            if sub.parent is p:
                sub.parent = None
        p.active = False
        p.remove()  # leaves model.agents; it stays in model.providers and in the outputs
        self.fleet_stale = True
        detail = json.dumps({"reason": reason, "cash_usd": round(p.cash, 2), "gpus_liquidated": int(held.sum())})
        self.record_event(Event(EventKind.EXIT, holder=p.holder_id, amount_usd=p.cash, detail=detail))

    def _acquisitions(self) -> None:
        s, cfg, antitrust = self.settlement, self.config.corporate.acquisitions, self.config.corporate.antitrust
        assert s is not None
        revenue = np.asarray(s.revenue, dtype=np.float64)[:len(self.holders)]
        owner = self.roster.owner_ids()
        book = self.ledger.book_value_per_gpu(self.step_index) * self.ledger.view("count")
        lot_holder = self.ledger.view("holder")
        fleet_value = np.array([book[lot_holder == h].sum() for h in range(len(self.holders))], dtype=np.float64)
        for acquirer in self.providers:
            if not acquirer.active or acquirer.parent is not None or acquirer.kind not in cfg.acquirer_kinds:
                continue
            if acquirer.last_deal_step is not None and self.step_index - acquirer.last_deal_step < cfg.cooldown_months:
                continue
            proposal = acquirer.propose_acquisition(self.roster.acquisition_view(acquirer, s, cfg.target_kinds,
                                                                                 fleet_value))
            if proposal is None or self.corporate_rng.uniform() >= cfg.deal_probability:
                continue
            target, price = self.holders[proposal.target], proposal.price_usd
            if not isinstance(target, Provider):
                raise ValueError(f"{acquirer.name}: acquisition target {target.name} is not a provider")
            markets = revenue[None, :] if antitrust.scope == "global" else self.revenue_by_buyer_region_and_holder()
            review = corporate.review_merger_in_markets(markets, owner, acquirer.holder_id, target.holder_id,
                                                        antitrust.thresholds)
            detail = json.dumps({"pre_hhi": round(review.pre_hhi, 3), "post_hhi": round(review.post_hhi, 3),
                                 "delta_hhi": round(review.delta, 3), "policy": antitrust.policy})
            acquirer.last_deal_step = self.step_index
            if not review.blocked:
                acquirer.cash -= price
                target.consolidate_into(acquirer)
                owner = np.where(owner == target.holder_id, acquirer.holder_id, owner)
            kind = EventKind.MERGER_BLOCKED if review.blocked else EventKind.ACQUISITION
            self.record_event(Event(kind, holder=acquirer.holder_id, counterparty=target.holder_id, amount_usd=price,
                                    detail=detail))

    def _entries(self) -> None:
        for entrant in self.config.corporate.entrants:
            done = self.entries_by_entrant.get(entrant.name, 0)
            cooling = self.step_index - self.last_entry_step.get(entrant.name, -(10**9)) < entrant.cooldown_months
            if done >= entrant.max_entries or cooling:
                continue
            recent = [row[entrant.provider.kind] for row in self.margin_history[-entrant.lookback_months:]]
            if len(recent) < entrant.lookback_months or not corporate.entry_is_attractive(
                    recent, entrant.margin_threshold):
                continue
            self.entries_by_entrant[entrant.name] = done + 1
            self.last_entry_step[entrant.name] = self.step_index
            provider = self._enter(entrant, self._unused_name(entrant.name, done + 1))
            detail = json.dumps({"incumbent_margin": round(float(np.nanmean(recent)), 4), "kind": provider.kind})
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
            self._grid_headroom_mw(), self.gpu_spec, buyer=provider.holder_id, pue=provider.pue, lots=lots,
            newest=self.generations.newest(self.step_index)))
        self.fleet_stale = True
        self.refresh_fleet()
        return provider

    def _unused_name(self, stem: str, k: int) -> str:
        """``stem_k``, or the next ``stem_j`` (j > k) that no provider or reseller is called."""
        taken = set(self.roster.names)
        while f"{stem}_{k}" in taken:
            k += 1
        return f"{stem}_{k}"

    # -- applying changes -----------------------------------------------------------------------------------
    def apply_trades(self, trades: Iterable[trading.Trade]) -> None:
        """Apply hardware trades in order: GPUs through the ledger, payments on both sides, one event each."""
        step = self.step_index
        for t in trades:
            if isinstance(t, trading.VendorSale):
                self.ledger.add(holder=t.buyer, generation=t.generation, region=t.region, count=t.units,
                                built_step=step, lifetime=int(self.generations.lifetime_months[t.generation]),
                                step=step, basis=t.price_per_gpu)
                self.holders[t.buyer].cash -= t.units * t.price_per_gpu
                self.record_event(Event(EventKind.GPU_PURCHASE, holder=t.buyer, generation=t.generation,
                                        units=t.units, amount_usd=t.units * t.price_per_gpu, detail=t.detail))
                self.fleet_stale = True
                continue
            moved = self.ledger.move(holder=t.seller, to_holder=t.buyer, count=t.units, step=step,
                                     price_per_gpu=t.price_per_gpu, generation=t.generation, region=t.region,
                                     to_region=t.to_region, built_before=t.built_before)
            if not moved.units:
                continue
            self.fleet_stale = True
            if t.buyer == SCRAPPED:
                self.record_event(Event(EventKind.GPU_SCRAPPED, holder=t.seller, generation=t.generation,
                                        units=moved.units))
                continue
            amount = t.price_per_gpu * moved.units
            self.holders[t.seller].cash += amount
            self.holders[t.buyer].cash -= amount
            self.record_event(Event(t.kind, holder=t.seller, counterparty=t.buyer, generation=t.generation,
                                    units=moved.units, amount_usd=amount))

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
        kind = event.kind.value
        self.event_counts[kind] = self.event_counts.get(kind, 0) + 1
        self.events.append({
            "step": self.step_index, "event": kind,
            "party": self.holders[event.holder].name if event.holder >= 0 else "",
            "counterparty": self.holders[event.counterparty].name if event.counterparty >= 0 else "",
            "generation": self.generations.names[event.generation] if event.generation >= 0 else "",
            "units": int(event.units), "amount_usd": float(event.amount_usd), "detail": event.detail,
        })

    # -- what users read ------------------------------------------------------------------------------------
    def outcome(self) -> StepOutcome:
        """The frozen outcome of the current step (what the recorder reads)."""
        assert self.offers is not None and self.clearing is not None and self.settlement is not None
        n = len(self.holders)
        return StepOutcome(
            step=self.step_index, frontier=self.frontier, open_weight=self.open_weight,
            reference_quality=self.reference_quality, offers=self.offers, clearing=self.clearing, fleet=self.fleet,
            settlement=self.settlement, volume=self.volume, consumer_surplus=self.consumer_surplus,
            self_host_cost_by_region=self.self_host_cost_by_region,
            revenue_by_buyer_region=self.revenue_by_buyer_region(),
            providers=self.roster.snapshot(self.frontier, self.open_weight), holder_kind_id=self.roster.kind_ids(),
            secondary_price=self.secondary_prices(), reference_generation=self.reference_generation,
            generation_names=tuple(self.generations.names), held=self.ledger.units_by_holder_generation(n),
            reseller_ids=np.array([r.holder_id for r in self.resellers], dtype=np.int64),
            provider_ids=np.array([p.holder_id for p in self.providers], dtype=np.int64),
            scrapped=self.ledger.scrapped_by_generation(), produced=self.ledger.produced.copy(),
            event_counts=dict(self.event_counts))

    @property
    def networks(self) -> dict[str, nx.Graph]:
        """Current networks: ``contracts`` (this month), ``ownership`` and ``gpu_flows`` (``market.networks``)."""
        names, kinds = self.roster.names, [h.kind for h in self.holders]
        graphs: dict[str, nx.Graph] = {}
        if self.clearing is not None and self.offers is not None:
            pop = self.population
            graphs["contracts"] = contract_graph(
                allocation=self.clearing.allocation, offer_holder=self.offers.holder, offer_price=self.offers.price,
                holder_names=names, holder_kinds=kinds,
                enterprise_segment=np.array([s.name for s in self.config.segments], dtype=object)[pop.segment],
                enterprise_region=np.array(self.region_names, dtype=object)[pop.region],
                enterprise_firms=pop.weight, incumbent_provider=pop.incumbent_provider,
                tenure_months=pop.tenure_months)
        parents = [h.parent.holder_id if isinstance(h, Provider) and h.parent is not None else None
                   for h in self.holders]
        graphs["ownership"] = ownership_graph(names, kinds, parents, self.events)
        graphs["gpu_flows"] = gpu_flow_graph(self.events)
        return graphs

    def revenue_by_buyer_region(self) -> FloatArray:
        """This month's revenue per (buyer region, offer), $ (agents are stored region by region)."""
        c, offers = self.clearing, self.offers
        assert c is not None and offers is not None
        if self._revenue_by_region is None:
            tokens = np.array([c.allocation[rows].sum(axis=0) for rows in self.population.region_slices])
            self._revenue_by_region = tokens.reshape(self.n_regions, len(offers)) * offers.price[None, :]
        return self._revenue_by_region

    def revenue_by_buyer_region_and_holder(self) -> FloatArray:
        """This month's revenue per (buyer region, holder id), $."""
        assert self.offers is not None
        out = np.zeros((self.n_regions, len(self.holders)))
        np.add.at(out, (slice(None), self.offers.holder), self.revenue_by_buyer_region())
        return out

    def secondary_prices(self) -> FloatArray:
        """Lowest resale quote per generation, $ (NaN where no reseller quotes it)."""
        if not self.resellers or not len(self.generations):
            return np.full(len(self.generations), np.nan)
        return best_quotes(self.secondary_quotes)

    def run(self, steps: int | None = None) -> None:
        """Run ``steps`` steps (default: the scenario's)."""
        for _ in range(self.config.simulation.steps if steps is None else steps):
            self.step()


def _column(column: str) -> Any:
    return lambda model: model.recorder.last_model_row[column]


def _seed(model: InferenceMarket) -> int:
    return model.seed


def _attribute(attribute: str) -> Any:
    return lambda agent: getattr(agent, attribute, None)
