"""The market's firms: providers, resellers and routers in holder-id order, with their state gathered into arrays.

A :class:`Roster` is to the firms what the enterprise population's arrays are to the buyers: the model asks
it for per-holder arrays (technology, kinds, owners, balance sheets) and for the agents' views, instead of
looping over agents itself. It never decides anything and never sees the model.
"""

from __future__ import annotations

from collections.abc import Sequence

import mesa
import numpy as np
from numpy.typing import NDArray

from agents.acquisition import AcquisitionView
from agents.investment import FleetOrder
from agents.provider import PROVIDER_KINDS, Provider
from agents.reseller import HardwareReseller
from agents.router import Router
from market.accounts import Settlement
from market.config import PROVIDER_KIND_NAMES, AcquisitionConfig, ProviderConfig, ResellerConfig, RouterConfig
from market.corporate import CorporateState
from market.fleet import FleetEconomics, HolderTechnology
from market.hardware import GpuLedger
from market.offers import OfferBook
from market.recording import ProviderSnapshot, RouterSnapshot
from market.technology import GenerationTable
from market.tiers import TierTable
from market.trading import NewOrder, ResellerDesk, UsedOrder

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


class Roster:
    """Providers, resellers and routers by holder id (the index into every per-holder array)."""

    def __init__(self) -> None:
        self.holders: list[Provider | HardwareReseller | Router] = []

    def __len__(self) -> int:
        return len(self.holders)

    def __getitem__(self, holder_id: int) -> Provider | HardwareReseller | Router:
        return self.holders[holder_id]

    @property
    def next_id(self) -> int:
        """Holder id the next firm gets."""
        return len(self.holders)

    def add(self, holder: Provider | HardwareReseller | Router) -> None:
        """Register a firm created with :attr:`next_id`."""
        if holder.holder_id != len(self.holders):
            raise ValueError(f"{holder.name}: holder id {holder.holder_id}, expected {len(self.holders)}")
        self.holders.append(holder)

    def new_provider(self, model: mesa.Model, cfg: ProviderConfig, name: str, region_names: Sequence[str],
                     acquisitions: AcquisitionConfig, pricing_seed: np.random.SeedSequence,
                     tiers: TierTable | None = None) -> Provider:
        """Create and register a provider of ``cfg.kind`` (at set-up or on entry). It serves the regions it
        lists, or else those where its fleet is, and the tiers of ``tiers`` it lists (default: all); a pricing
        strategy that draws random numbers gets the generator of child ``holder_id`` of ``pricing_seed``."""
        regions = [region_names.index(r) for r in cfg.regions] or sorted(
            {region_names.index(lot.region) for lot in cfg.fleet})
        child = np.random.SeedSequence(pricing_seed.entropy, spawn_key=(*pricing_seed.spawn_key, self.next_id))
        provider = PROVIDER_KINDS[cfg.kind](model, name=name, holder_id=self.next_id, config=cfg, regions=regions,
                                            acquisitions=acquisitions, pricing_rng=np.random.default_rng(child),
                                            tiers=tiers)
        self.add(provider)
        return provider

    def new_reseller(self, model: mesa.Model, cfg: ResellerConfig, name: str, n_generations: int) -> HardwareReseller:
        """Create and register a hardware reseller."""
        reseller = HardwareReseller(model, name=name, holder_id=self.next_id, config=cfg, n_generations=n_generations)
        self.add(reseller)
        return reseller

    def new_router(self, model: mesa.Model, cfg: RouterConfig, name: str) -> Router:
        """Create and register a router."""
        router = Router(model, name=name, holder_id=self.next_id, config=cfg)
        self.add(router)
        return router

    def provider(self, holder_id: int) -> Provider:
        """The provider with this holder id."""
        holder = self.holders[holder_id]
        if not isinstance(holder, Provider):
            raise ValueError(f"holder {holder_id} ({holder.name}) is not a provider")
        return holder

    @property
    def providers(self) -> list[Provider]:
        """All providers ever created, in holder-id order (inactive ones included)."""
        return [h for h in self.holders if isinstance(h, Provider)]

    @property
    def resellers(self) -> list[HardwareReseller]:
        """All hardware resellers."""
        return [h for h in self.holders if isinstance(h, HardwareReseller)]

    @property
    def routers(self) -> list[Router]:
        """All routers."""
        return [h for h in self.holders if isinstance(h, Router)]

    @property
    def names(self) -> list[str]:
        """Name per holder id."""
        return [h.name for h in self.holders]

    @property
    def names_view(self) -> Sequence[str]:
        """A live sequence of names by holder id (it sees firms added later)."""
        return _Names(self.holders)

    # -- arrays over holders ---------------------------------------------------------------------------------
    def holder_technology(self) -> HolderTechnology:
        """Per-holder parameters of fleet economics (resellers install nothing)."""
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

    def kind_ids(self, *, active_only: bool = False) -> IntArray:
        """Provider kind id per holder (index into ``PROVIDER_KIND_NAMES``); -1 for resellers (and for
        providers that exited, with ``active_only``)."""
        return np.array([
            PROVIDER_KIND_NAMES.index(h.kind) if isinstance(h, Provider) and (h.active or not active_only) else -1
            for h in self.holders
        ], dtype=np.int64)

    def owner_ids(self) -> IntArray:
        """Holder id of each holder's ultimate owner (itself for resellers and independent providers)."""
        return np.array([h.owner_id if isinstance(h, Provider) else h.holder_id for h in self.holders],
                        dtype=np.int64)

    def balance_sheets(self) -> tuple[BoolArray, FloatArray, FloatArray, BoolArray]:
        """Per holder: whether it keeps accounts (active provider, router), its cash, cost of capital, and whether
        it is an independent balance sheet that pays interest (active provider not owned; routers hold cash and
        pay none)."""
        n = len(self.holders)
        books, independent = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        cash, rate = np.zeros(n), np.zeros(n)
        for p in self.providers:
            h = p.holder_id
            books[h] = p.active
            independent[h] = p.active and p.parent is None
            cash[h] = p.cash
            rate[h] = p.cost_of_capital_per_year
        for r in self.routers:
            books[r.holder_id], cash[r.holder_id] = True, r.cash
        return books, cash, rate, independent

    def snapshot(self, frontier: float, open_weight: float) -> ProviderSnapshot:
        """Every provider's identity, balance and quality now."""
        ps = self.providers
        return ProviderSnapshot(
            holder=np.array([p.holder_id for p in ps], dtype=np.int64),
            name=np.array([p.name for p in ps], dtype=object), kind=np.array([p.kind for p in ps], dtype=object),
            owner_name=np.array([self.holders[p.owner_id].name for p in ps], dtype=object),
            active=np.array([p.active for p in ps], dtype=bool), cash=np.array([p.cash for p in ps]),
            quality=np.array([p.quality(frontier, open_weight) for p in ps]),
            mean_price=np.array([np.mean(p.price) for p in ps]),
        )

    def router_snapshot(self) -> RouterSnapshot | None:
        """Every router's identity and cash now (None in a market without routers)."""
        rs = self.routers
        if not rs:
            return None
        return RouterSnapshot(holder=np.array([r.holder_id for r in rs], dtype=np.int64),
                              name=np.array([r.name for r in rs], dtype=object), cash=np.array([r.cash for r in rs]),
                              fee_markup=np.array([r.last_markup for r in rs]))

    def contract_capacity(self, fleet: FleetEconomics, n_regions: int) -> tuple[FloatArray, IntArray]:
        """Capacity per (active provider, region) for drawing initial contracts (1 where it is unlimited), and
        the providers' holder ids."""
        providers = [p for p in self.providers if p.active]
        capacity = np.zeros((len(providers), n_regions))
        for i, p in enumerate(providers):
            own = fleet.capacity[p.holder_id, p.regions]
            capacity[i, p.regions] = np.where(np.isfinite(own), own, 1.0)
        return capacity, np.array([p.holder_id for p in providers], dtype=np.int64)

    # -- hardware decisions gathered ------------------------------------------------------------------------
    def retirements(self, held: IntArray, released: list[int], release_step: IntArray) -> list[tuple[int, int]]:
        """(provider, generation) pairs that active providers retire on the release of ``released``."""
        out = []
        for p in self.providers:
            if p.active and released:
                gens = sorted((int(g) for g in np.nonzero(held[p.holder_id])[0]),
                              key=lambda g: (int(release_step[g]), g))  # oldest release first
                out += [(p.holder_id, g) for g in p.generations_to_retire(released, gens)]
        return out

    def aged_gpus(self, ledger: GpuLedger, step: int) -> list[tuple[int, int, int]]:
        """(provider, generation, built before) of GPUs older than an active provider's ``retire_age_months``."""
        holder, built = ledger.view("holder"), ledger.view("built_step")
        count, generation = ledger.view("count"), ledger.view("generation")
        out = []
        for p in self.providers:
            age = p.config.retire_age_months
            if not p.active or age is None:
                continue
            cut = step - age
            mask = (holder == p.holder_id) & (built < cut) & (count > 0)
            out += [(p.holder_id, int(g), cut) for g in np.unique(generation[mask])]
        return out

    @staticmethod
    def used_orders(orders: Sequence[tuple[Provider, FleetOrder]]) -> list[UsedOrder]:
        """Used-GPU orders for trade planning, with buyers' priority = cash + credit now."""
        return [UsedOrder(buyer=p.holder_id, priority=p.cash + p.credit_limit, generation=o.used_generation,
                          regions=p.regions, units=o.buy_used, pue=p.pue) for p, o in orders]

    @staticmethod
    def new_orders(orders: Sequence[tuple[Provider, FleetOrder]]) -> list[NewOrder]:
        """New-GPU orders for trade planning, with buyers' priority = cash + credit now."""
        return [NewOrder(buyer=p.holder_id, priority=p.cash + p.credit_limit, regions=p.regions, units=o.buy_new,
                         pue=p.pue) for p, o in orders]

    # -- the agents' offers and views ------------------------------------------------------------------------
    def offer_book(self, posting: Sequence[tuple[Provider, BoolArray]], fleet: FleetEconomics, frontier: float,
                   open_weight: float, pool_utilization: FloatArray | None = None) -> OfferBook:
        """The offers of providers that posted prices: one per slot (region, tier) where ``posting``'s mask is
        True. A tier's quality is the provider's times the tier's quality factor, its unit and variable cost
        the fleet's per capacity unit times the tier's weight; its serving latency is the tier's at its pool's
        utilization last month (``pool_utilization``, holder x region; none: zero load)."""
        rows = [(p, j, int(p.slot_region[j]), int(p.slot_tier[j])) for p, served in posting
                for j in range(len(p.slot_region)) if served[j]]
        kinds = {name: i for i, name in enumerate(PROVIDER_KIND_NAMES)}
        quality = {p.holder_id: p.quality(frontier, open_weight) for p, _ in posting}
        pools: dict[tuple[int, int], int] = {}
        pool = [pools.setdefault((p.holder_id, r), len(pools)) for p, _, r, _ in rows]
        weight = [float(p.slot_weight[j]) for p, j, _, _ in rows]

        def column(values: list[float]) -> FloatArray:
            return np.array(values, dtype=np.float64)

        def load(h: int, r: int) -> float:
            known = pool_utilization is not None and h < pool_utilization.shape[0]
            return float(pool_utilization[h, r]) if known else 0.0  # type: ignore[index]

        tier = np.array([t for _, _, _, t in rows], dtype=np.int64)
        latency = np.zeros(len(rows))
        for p, _ in posting[:1]:  # every provider of a market shares the scenario's tier table
            latency = p.tier_table.latency_ms(tier, column([load(q.holder_id, r) for q, _, r, _ in rows]))
        return OfferBook(
            holder=np.array([p.holder_id for p, _, _, _ in rows], dtype=np.int64),
            region=np.array([r for _, _, r, _ in rows], dtype=np.int64),
            kind=np.array([kinds[p.kind] for p, _, _, _ in rows], dtype=np.int64),
            owner=np.array([p.owner_id for p, _, _, _ in rows], dtype=np.int64),
            quality=column([quality[p.holder_id] * float(p.tier_table.quality_factor[t]) for p, _, _, t in rows]),
            price=column([p.price[j] for p, j, _, _ in rows]),
            unit_cost=column([fleet.unit_cost[p.holder_id, r] * w
                              for (p, _, r, _), w in zip(rows, weight, strict=True)]),
            capacity=column([fleet.capacity[p.holder_id, r] for p, _, r, _ in rows]),
            variable_cost=column([fleet.variable_cost[p.holder_id, r] * w
                                  for (p, _, r, _), w in zip(rows, weight, strict=True)]),
            privacy_risk=column([p.privacy_risk for p, _, _, _ in rows]),
            lock_in=column([p.lock_in for p, _, _, _ in rows]),
            unverified=column([p.unverified_fraction for p, _, _, _ in rows]),
            reliability=column([p.reliability for p, _, _, _ in rows]),
            tier=tier, pool=np.array(pool, dtype=np.int64), capacity_weight=column(weight), latency_ms=latency,
            via=np.full(len(rows), -1, dtype=np.int64),
        )

    def reseller_quotes(self, generations: GenerationTable, step: int, held: IntArray,
                        life_left: FloatArray | None = None, power_price: float = 0.0) -> FloatArray:
        """Each reseller's resale quote per generation at the mean remaining life of its stock, $ (NaN before a
        generation's release); ``held`` and ``life_left`` are (holder, generation) matrices, ``power_price`` the
        mean regional power price, $/kWh."""
        resellers = self.resellers
        if not resellers or not len(generations):
            return np.full((len(resellers), len(generations)), np.nan)
        quotes = np.vstack([r.quote(generations, step, held[r.holder_id],
                                    None if life_left is None else life_left[r.holder_id], power_price)
                            for r in resellers])
        quotes[:, generations.release_step > step] = np.nan  # nothing to resell before release
        return quotes

    def reseller_desk(self, quotes: FloatArray) -> ResellerDesk:
        """The resellers' standing prices for trade planning (lot prices by remaining life)."""
        resellers = self.resellers
        n_gen = quotes.shape[1] if quotes.ndim == 2 else 0

        def rows(name: str) -> FloatArray:
            return np.array([getattr(r, name) for r in resellers], dtype=np.float64).reshape(len(resellers), n_gen)

        return ResellerDesk(holder_ids=np.array([r.holder_id for r in resellers], dtype=np.int64), quotes=quotes,
                            margin=np.array([r.config.margin for r in resellers], dtype=np.float64),
                            rates=rows("rate"), holding=rows("holding"), scrap=rows("scrap"))

    def corporate_state(self) -> CorporateState:
        """Every holder's corporate facts now (``market.corporate.CorporateState``)."""
        n = len(self.holders)
        active, fixed = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        parent, last_deal = np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
        cash, credit, own_cash, own_credit = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
        distressed, idle = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        for p in self.providers:
            h = p.holder_id
            active[h], fixed[h] = p.active, p.config.capacity_mtok_per_month is not None
            parent[h] = -1 if p.parent is None else p.parent.holder_id
            last_deal[h] = -1 if p.last_deal_step is None else p.last_deal_step
            cash[h], credit[h] = p.cash, p.credit_limit
            own_cash[h], own_credit[h] = p.own_cash, p.own_credit_limit
            distressed[h], idle[h] = p.months_distressed, p.months_idle
        return CorporateState(active=active, parent=parent, cash=cash, credit_limit=credit, own_cash=own_cash,
                              own_credit_limit=own_credit,
                              months_distressed=distressed, months_idle=idle, fixed_capacity=fixed,
                              last_deal_step=last_deal)

    def acquirers(self, state: CorporateState, kinds: Sequence[str], step: int, cooldown_months: int) -> IntArray:
        """Holder ids of independent active providers of ``kinds`` that dealt no sooner than ``cooldown_months``
        ago."""
        last = state.last_deal_step
        cooling = (last >= 0) & (step - last < cooldown_months)
        return np.nonzero(self.of_kinds(kinds) & (state.parent < 0) & ~cooling)[0]

    def close(self, provider: Provider) -> None:
        """Take a provider out of the market: its subsidiaries become independent, it leaves ``model.agents``
        (it stays in the roster and in the outputs)."""
        for sub in self.providers:
            if sub.parent is provider:
                sub.parent = None
        provider.active = False
        provider.remove()

    @property
    def provider_ids(self) -> IntArray:
        """Holder ids of the providers."""
        return np.array([p.holder_id for p in self.providers], dtype=np.int64)

    @property
    def reseller_ids(self) -> IntArray:
        """Holder ids of the resellers."""
        return np.array([r.holder_id for r in self.resellers], dtype=np.int64)

    def parent_ids(self) -> list[int | None]:
        """Holder id of each holder's parent (None for independent providers and resellers)."""
        return [h.parent.holder_id if isinstance(h, Provider) and h.parent is not None else None
                for h in self.holders]

    def of_kinds(self, kinds: Sequence[str]) -> NDArray[np.bool_]:
        """Per holder: an active provider of one of ``kinds``."""
        return np.array([isinstance(h, Provider) and h.active and h.kind in kinds for h in self.holders], dtype=bool)

    def acquisition_view(self, acquirer: Provider, candidates: IntArray, settlement: Settlement,
                         fleet_book_value: FloatArray) -> AcquisitionView:
        """What ``acquirer`` sees of the providers it may buy (``candidates``, holder ids).

        Args:
            acquirer: The acquirer.
            candidates: Holder ids of the independent, active providers of the target kinds.
            settlement: This month's accounts (revenue shares of the whole market, gross profit).
            fleet_book_value: Book value of each holder's GPUs, $ (index = holder id).
        """
        revenue = np.asarray(settlement.revenue, dtype=np.float64)[:len(self.holders)]
        total = revenue.sum()
        return AcquisitionView(
            acquirer=acquirer.holder_id, cash=acquirer.cash, credit_limit=acquirer.credit_limit, candidate=candidates,
            revenue_share=np.array([revenue[h] / total if total > 0 else 0.0 for h in candidates], dtype=np.float64),
            distressed=np.array([self.holders[h].cash < 0 for h in candidates], dtype=bool),
            annual_gross_profit=np.array([12.0 * (settlement.revenue[h] - settlement.cash_cost[h])
                                          for h in candidates], dtype=np.float64),
            fleet_book_value=fleet_book_value[candidates] if len(candidates) else np.zeros(0),
            net_cash=np.array([self.holders[h].cash for h in candidates], dtype=np.float64),
        )


class _Names(Sequence[str]):
    """Names of a growing list of firms, by holder id."""

    def __init__(self, holders: list[Provider | HardwareReseller | Router]) -> None:
        self._holders = holders

    def __len__(self) -> int:
        return len(self._holders)

    def __getitem__(self, index: int) -> str:  # type: ignore[override]
        return self._holders[index].name
