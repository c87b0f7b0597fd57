"""Collection of a run's outputs: model-, provider-, enterprise- and GPU-market tables, built column-wise.

The model hands the :class:`Recorder` a frozen :class:`StepOutcome` at the end of every step; reporters are
named functions of it, nothing loops over enterprises, and the recorder keeps plain arrays until
:meth:`Recorder.frames` turns them into tidy pandas frames. :data:`TABLES` names the tables of a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from market import concentration, metrics, tiers
from market.accounts import Settlement
from market.clearing import Clearing
from market.config import PROVIDER_KIND_NAMES
from market.events import EVENT_COLUMNS
from market.fleet import FleetEconomics
from market.offers import OfferBook
from market.price_index import ChainedPriceIndex, TierPriceIndex
from market.routers import attributed_to_providers, provider_attributed_revenue, serving_holder

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
ObjectArray = NDArray[np.object_]

TABLES: tuple[str, ...] = ("model", "providers", "enterprises", "gpu_market", "events", "offers")
"""The tables of a run, each written as ``<name>.parquet``."""

MODEL_COLUMNS: tuple[str, ...] = (
    "step", "frontier_quality", "open_weight_quality", "price_index", "quality_adjusted_price_index", "hhi",
    "share_hyperscaler", "share_specialized", "share_decentralized", "n_active_providers", "tokens_demanded",
    "tokens_served", "total_spend", "unmet_demand", "outside_share", "utilization", "total_capacity",
    "utilization_hyperscaler", "utilization_specialized", "utilization_decentralized",
    "secondary_gpu_price", "consumer_surplus", "self_host_cost", "margin_hyperscaler", "margin_specialized",
    "margin_decentralized", "total_gpus", "cumulative_entries", "cumulative_exits", "cumulative_acquisitions",
    "cumulative_blocked_mergers", "hhi_markets_mean", "hhi_markets_max",
)
"""Model-level columns present in every run (``hhi_<region>`` columns follow them)."""

MULTIHOMING_COLUMNS: tuple[str, ...] = ("multihoming_5plus_models", "multihoming_3plus_families")
"""Model-level columns after the price-index columns: firm-weighted shares of buying enterprises using 5+ models
and 3+ model families (``market.metrics.multihoming_shares``)."""
OFFER_COLUMNS: tuple[str, ...] = ("step", "provider", "region", "tier", "price", "latency_ms", "served",
                                  "capacity_weight")
"""Columns of the offers table: one row per offer and step (served in Mtok of the tier)."""
ROUTER_COLUMNS: tuple[str, ...] = (
    "hhi_providers", "hhi_customer_facing", "router_token_share", "router_revenue", "router_cost", "router_margin",
)
"""Model-level columns of a run with routers (after the price-index columns), :func:`router_row`."""


@dataclass(frozen=True)
class ProviderSnapshot:
    """Every provider ever created, in holder-id order, at the end of a step."""

    holder: IntArray
    name: ObjectArray
    kind: ObjectArray
    owner_name: ObjectArray
    active: NDArray[np.bool_]
    cash: FloatArray
    quality: FloatArray
    mean_price: FloatArray


@dataclass(frozen=True)
class RouterSnapshot:
    """Every router, in holder-id order, at the end of a step (``fee_markup``: its fee fraction this month)."""

    holder: IntArray
    name: ObjectArray
    cash: FloatArray
    fee_markup: FloatArray


@dataclass(frozen=True)
class Population:
    """The enterprise facts the recorder groups by (fixed for a run)."""

    segment: IntArray
    region: IntArray
    weight: FloatArray
    region_names: tuple[str, ...]
    segment_names: tuple[str, ...]
    per_agent: bool
    segment_quality_weight: FloatArray | None = None
    segment_price_sensitivity: FloatArray | None = None
    utility_form: str = "log"
    workloads_per_firm: float = 8.0
    tier_names: tuple[str, ...] = ()
    """The scenario's declared tiers (empty: none declared, no tier columns)."""


@dataclass(frozen=True)
class StepOutcome:
    """What happened in one step, as the model hands it to the recorder.

    Attributes:
        step: The step.
        frontier, open_weight: Quality indices this step.
        reference_quality: Frontier quality at step 0 (the quality adjustment's reference).
        offers, clearing, fleet, settlement: This step's offers, their clearing, fleets and accounts.
        volume: Token volume each enterprise wanted, Mtok.
        consumer_surplus: Per enterprise, $.
        self_host_cost_by_region: $/Mtok (NaN without self-hosting).
        revenue_by_buyer_region: Revenue per (buyer region, offer), $.
        providers: Provider snapshot.
        holder_kind_id: Provider kind id per holder (-1 for resellers).
        secondary_price: Lowest resale quote per generation, $ (NaN: none).
        reference_generation: Generation id whose resale price is ``secondary_gpu_price`` (-1: none).
        generation_names: Names of the generations.
        held: GPUs per (holder, generation).
        reseller_ids, provider_ids: Holder ids of resellers and providers.
        scrapped, produced: GPUs per generation so far.
        event_counts: Events so far by kind.
        routers: Router snapshot (None without routers).
    """

    step: int
    frontier: float
    open_weight: float
    reference_quality: float
    offers: OfferBook
    clearing: Clearing
    fleet: FleetEconomics
    settlement: Settlement
    volume: FloatArray
    consumer_surplus: FloatArray
    self_host_cost_by_region: FloatArray
    revenue_by_buyer_region: FloatArray
    providers: ProviderSnapshot
    holder_kind_id: IntArray
    secondary_price: FloatArray
    reference_generation: int
    generation_names: tuple[str, ...]
    held: IntArray
    reseller_ids: IntArray
    provider_ids: IntArray
    scrapped: IntArray
    produced: IntArray
    event_counts: dict[str, int]
    routers: RouterSnapshot | None = None


class Recorder:
    """Accumulates per-step rows of a run (``with_routers``, a scenario that declares routers, on or off: the
    :data:`ROUTER_COLUMNS` too, so that runs with routers on and off compare column by column; router rows in
    the providers table come with the outcome's router snapshot)."""

    def __init__(self, population: Population, with_routers: bool = False) -> None:
        self.population = population
        self.with_routers = with_routers
        n_segments = len(population.segment_names)
        self.price_index = ChainedPriceIndex(  # without utility weights the quality adjustment is nil
            population.segment_names,
            np.zeros(n_segments) if population.segment_quality_weight is None else population.segment_quality_weight,
            np.ones(n_segments) if population.segment_price_sensitivity is None
            else population.segment_price_sensitivity, population.utility_form)
        self.model_rows: list[dict[str, Any]] = []
        self.provider_parts: list[dict[str, NDArray[Any]]] = []
        self.enterprise_parts: list[dict[str, NDArray[Any]]] = []
        self.market_parts: list[dict[str, NDArray[Any]]] = []
        self.event_rows: list[dict[str, object]] = []
        self.offer_parts: list[dict[str, NDArray[Any]]] = []
        self.tier_index = TierPriceIndex(population.tier_names)

    def collect(self, outcome: StepOutcome, events: list[dict[str, object]]) -> None:
        """Record a step and the events rows written during it."""
        markets = market_hhi(outcome, self.population)
        row = model_row(outcome, self.population.region_names, markets)
        row.update(chained_index_row(self.price_index, outcome, self.population))
        row.update(multihoming_row(outcome, self.population))
        if self.population.tier_names:
            row.update(tier_row(self.tier_index, outcome, self.population))
        if self.with_routers:
            row.update(router_row(outcome))
        self.model_rows.append(row)
        self.offer_parts.append(offer_rows(outcome, self.population))
        self.provider_parts.append(provider_rows(outcome))
        if outcome.routers is not None:
            self.provider_parts.append(router_rows(outcome))
        self.enterprise_parts.append(enterprise_rows(outcome, self.population, markets[0]))
        self.market_parts.append(gpu_market_rows(outcome))
        self.event_rows.extend(events)

    @property
    def columns(self) -> tuple[str, ...]:
        """Columns of the model table."""
        return (*MODEL_COLUMNS, *[f"hhi_{r}" for r in self.population.region_names], *self.price_index.columns,
                *MULTIHOMING_COLUMNS,
                *tiers.tier_columns(self.population.tier_names),
                *(ROUTER_COLUMNS if self.with_routers else ()))

    @property
    def last_model_row(self) -> dict[str, Any]:
        """The model-level row of the last recorded step."""
        return self.model_rows[-1]

    def frames(self) -> dict[str, pd.DataFrame]:
        """The run's tables by name (:data:`TABLES`)."""
        events = pd.DataFrame(self.event_rows, columns=list(EVENT_COLUMNS)).astype(
            {"step": "int64", "units": "int64", "amount_usd": "float64"}
        )
        return {
            "model": pd.DataFrame(self.model_rows),
            "providers": _concat(self.provider_parts),
            "enterprises": _concat(self.enterprise_parts),
            "gpu_market": _concat(self.market_parts),
            "events": events,
            "offers": _concat(self.offer_parts) if self.offer_parts else pd.DataFrame(columns=list(OFFER_COLUMNS)),
        }


def _concat(parts: list[dict[str, NDArray[Any]]]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame()
    keys = parts[0].keys()
    return pd.DataFrame({k: np.concatenate([p[k] for p in parts]) for k in keys})


def market_hhi(o: StepOutcome, pop: Population) -> tuple[FloatArray, FloatArray]:
    """HHI (by ultimate owner, on revenue) and tokens served of every segment x region market, market id
    ``segment * n_regions + region`` (``market.concentration``)."""
    n_regions = len(pop.region_names)
    n_markets = len(pop.segment_names) * n_regions
    if len(o.offers) == 0:
        return np.zeros(n_markets), np.zeros(n_markets)
    ids = concentration.market_ids(pop.segment, pop.region, n_regions)
    tokens = concentration.tokens_by_market(o.clearing.allocation, ids, n_markets)
    return concentration.hhi_by_market(tokens * o.offers.price[None, :], o.offers.owner), tokens.sum(axis=1)


def model_row(o: StepOutcome, region_names: tuple[str, ...],
              markets: tuple[FloatArray, FloatArray] | None = None) -> dict[str, Any]:
    """One row of market-level metrics (``markets``: per-market HHI and tokens, :func:`market_hhi`)."""
    offers, c, f, s = o.offers, o.clearing, o.fleet, o.settlement
    tokens = float(c.served.sum())
    spend = float(c.revenue.sum())
    by_kind = np.bincount(offers.kind, weights=c.served, minlength=len(PROVIDER_KIND_NAMES))
    pool_capacity, served_units = offers.capacity_share(), c.served * offers.capacity_weight  # capacity units
    finite = np.isfinite(pool_capacity)
    capacity = float(pool_capacity[finite].sum())
    volume = o.volume
    secondary = float(o.secondary_price[o.reference_generation]) if o.reference_generation >= 0 else float("nan")
    row: dict[str, Any] = {
        "step": o.step,
        "frontier_quality": o.frontier,
        "open_weight_quality": o.open_weight,
        "price_index": metrics.price_index(spend, tokens),
        "quality_adjusted_price_index": metrics.quality_adjusted_price_index(
            c.revenue, c.served, offers.quality, o.reference_quality
        ),
        "hhi": metrics.hhi(c.revenue, offers.owner),
        "n_active_providers": int(o.providers.active.sum()),
        "tokens_demanded": float(c.inside_demand.sum()),
        "tokens_served": tokens,
        "total_spend": spend,
        "unmet_demand": float(c.unmet.sum()),
        "outside_share": float(volume @ c.outside_share / volume.sum()) if volume.sum() > 0 else np.nan,
        "utilization": float(served_units[finite].sum() / capacity) if capacity > 0 else np.nan,
        "total_capacity": capacity,
        "secondary_gpu_price": secondary,
        "consumer_surplus": float(o.consumer_surplus.sum()),
        "self_host_cost": float(np.mean(o.self_host_cost_by_region)),
        "total_gpus": float(f.gpus.sum()),
        "cumulative_entries": o.event_counts.get("entry", 0),
        "cumulative_exits": o.event_counts.get("exit", 0),
        "cumulative_acquisitions": o.event_counts.get("acquisition", 0),
        "cumulative_blocked_mergers": o.event_counts.get("merger_blocked", 0),
    }
    for k, name in enumerate(PROVIDER_KIND_NAMES):
        row[f"share_{name}"] = float(by_kind[k] / tokens) if tokens > 0 else 0.0
        mask = o.holder_kind_id == k
        rev = s.revenue[mask].sum()
        row[f"margin_{name}"] = float(s.profit[mask].sum() / rev) if rev > 0 else np.nan
        row[f"utilization_{name}"] = utilization_of(served_units, pool_capacity, offers.kind == k)
    served = markets[1] if markets is not None else np.zeros(0)
    row["hhi_markets_mean"] = concentration.weighted_mean_hhi(markets[0], served) if markets else np.nan
    row["hhi_markets_max"] = float(markets[0][served > 0].max()) if markets and (served > 0).any() else np.nan
    for r, region in enumerate(region_names):
        row[f"hhi_{region}"] = metrics.hhi(o.revenue_by_buyer_region[r], offers.owner)
    return {k: row[k] for k in (*MODEL_COLUMNS, *[f"hhi_{r}" for r in region_names])}


def multihoming_row(o: StepOutcome, pop: Population) -> dict[str, float]:
    """The :data:`MULTIHOMING_COLUMNS`: a model is the (provider, tier) that serves an offer, a router's offer
    counting as the model it routes to; a family is that provider."""
    offers = o.offers
    family = serving_holder(offers)
    model = family * (int(np.max(offers.tier, initial=0)) + 1) + offers.tier
    five, three = metrics.multihoming_shares(o.clearing.allocation, model, family, pop.weight,
                                             pop.workloads_per_firm)
    return dict(zip(MULTIHOMING_COLUMNS, (five, three), strict=True))


def router_row(o: StepOutcome) -> dict[str, float]:
    """The router columns (:data:`ROUTER_COLUMNS`): revenue HHI by ultimate owner of the providers (tokens sold
    through routers counted for the provider behind them, at the price the router pays) and of the
    customer-facing layer (providers' direct sales and routers' sales), the routers' share of tokens served, their
    revenue, cost (payments to providers) and margin ``(revenue - cost) / revenue``."""
    offers, c = o.offers, o.clearing
    revenue, owner = provider_attributed_revenue(offers, c.revenue, c.served)
    routed = offers.via >= 0
    tokens = float(c.served.sum())
    router_revenue = float(c.revenue[routed].sum())
    router_cost = float(revenue[routed].sum())
    return {
        "hhi_providers": metrics.hhi(revenue, owner),
        "hhi_customer_facing": metrics.hhi(c.revenue, offers.owner),
        "router_token_share": float(c.served[routed].sum() / tokens) if tokens > 0 else 0.0,
        "router_revenue": router_revenue,
        "router_cost": router_cost,
        "router_margin": (router_revenue - router_cost) / router_revenue if router_revenue > 0 else np.nan,
    }


def router_rows(o: StepOutcome) -> dict[str, NDArray[Any]]:
    """One row per router in the providers table's columns: kind ``router``, no capacity and no GPUs;
    ``tokens_served`` and ``revenue`` are its sales, ``unit_cost`` what it paid providers per token, ``price`` its
    revenue per token (its offers' mean price when it sold nothing, NaN when it posted none), ``quality`` the mean
    of its offers' (0 without offers)."""
    offers, c, r = o.offers, o.clearing, o.routers
    if r is None:
        raise ValueError("a step without a router snapshot has no router rows")
    ids, n = r.holder, max(len(o.holder_kind_id), int(r.holder.max(initial=-1)) + 1)

    def per(weights: FloatArray) -> FloatArray:
        return np.asarray(np.bincount(offers.holder, weights=weights, minlength=n), dtype=np.float64)[ids]

    s = o.settlement
    tokens, revenue = per(c.served), s.revenue[ids]
    cost = s.cash_cost[ids]
    n_offers = per(np.ones(len(offers)))
    paid = np.where(offers.via >= 0, offers.price[np.maximum(offers.via, 0)], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        price = np.where(tokens > 0, revenue / tokens, per(offers.price) / n_offers)  # NaN: no offer posted
        unit_cost = np.where(tokens > 0, cost / tokens, per(paid) / np.maximum(n_offers, 1))
        quality = per(offers.quality) / np.maximum(n_offers, 1)
    names = r.name
    return {
        "step": np.full(len(ids), o.step, dtype=np.int64), "provider": names,
        "kind": np.full(len(ids), "router", dtype=object), "owner": names.copy(),
        "active": np.ones(len(ids), dtype=bool), "price": price, "unit_cost": unit_cost, "quality": quality,
        "capacity": np.zeros(len(ids)), "demand": per(c.offer_demand), "tokens_served": tokens, "revenue": revenue,
        "profit": s.profit[ids], "cash": r.cash, "fleet_gpus": np.zeros(len(ids)),
    }


def utilization_of(served: FloatArray, capacity: FloatArray, mask: NDArray[np.bool_]) -> float:
    """Capacity utilization of the offers in ``mask`` with finite capacity: ``sum served / sum capacity``
    (NaN when they have no capacity)."""
    finite = mask & np.isfinite(capacity)
    total = float(capacity[finite].sum())
    return float(served[finite].sum() / total) if total > 0 else float("nan")


def chained_index_row(index: ChainedPriceIndex, o: StepOutcome, pop: Population) -> dict[str, float]:
    """Chain this month's offers into the price indices (``market.price_index``): offers keyed by (provider,
    region, tier), tokens bought per (segment, offer)."""
    offers, allocation = o.offers, o.clearing.allocation
    n_segments = len(pop.segment_names)
    onehot = np.zeros((n_segments, len(pop.segment)))
    onehot[pop.segment, np.arange(len(pop.segment))] = 1.0
    tokens = onehot @ allocation if allocation.shape[1] else np.zeros((n_segments, 0))
    return index.update(offer_keys(offers, pop), offers.price, offers.quality, tokens)


def offer_keys(offers: OfferBook, pop: Population) -> IntArray:
    """Identity of each offer, stable across months: ``(holder * n_regions + region) * n_tiers + tier``."""
    n_tiers = max(len(pop.tier_names), 1)
    return (offers.holder * len(pop.region_names) + offers.region) * n_tiers + offers.tier


def tier_row(index: TierPriceIndex, o: StepOutcome, pop: Population) -> dict[str, float]:
    """Tokens served (Mtok), spend ($) and chained price index per tier, and the latency premium
    (``market.tiers``)."""
    offers, c = o.offers, o.clearing
    value = value_of_quality(o, pop)
    levels = index.update(offer_keys(offers, pop), offers.tier, offers.price, c.served, offers.quality, value,
                          pop.utility_form)
    row = {**tiers.tier_measures(pop.tier_names, offers.tier, offers.price, offers.latency_ms, c.served,
                                 c.revenue), **levels}
    return {k: row[k] for k in tiers.tier_columns(pop.tier_names)}


def value_of_quality(o: StepOutcome, pop: Population) -> float:
    """The buyers' ``w_q / b`` weighted by this month's tokens per segment (their plain mean when nothing was
    bought; 0 without segment weights)."""
    if pop.segment_quality_weight is None or pop.segment_price_sensitivity is None:
        return 0.0
    ratio = pop.segment_quality_weight / pop.segment_price_sensitivity
    tokens = np.bincount(pop.segment, weights=o.clearing.served_by_enterprise, minlength=len(ratio))
    return float(ratio @ tokens / tokens.sum()) if tokens.sum() > 0 else float(ratio.mean())


def offer_rows(o: StepOutcome, pop: Population) -> dict[str, NDArray[Any]]:
    """One row per offer of the step (:data:`OFFER_COLUMNS`)."""
    offers, n = o.offers, len(o.holder_kind_id)
    names = np.full(max(n, 1), "", dtype=object)
    names[o.providers.holder] = o.providers.name
    tier_names = np.array(pop.tier_names or ("standard",), dtype=object)
    return {
        "step": np.full(len(offers), o.step, dtype=np.int64),
        "provider": names[offers.holder],
        "region": np.array(pop.region_names, dtype=object)[offers.region],
        "tier": tier_names[offers.tier],
        "price": offers.price.copy(),
        "latency_ms": offers.latency_ms.copy(),
        "served": np.asarray(o.clearing.served, dtype=np.float64).copy(),
        "capacity_weight": offers.capacity_weight.copy(),
    }


def provider_rows(o: StepOutcome) -> dict[str, NDArray[Any]]:
    """One row per provider (active or not)."""
    offers, c, f, p = o.offers, o.clearing, o.fleet, o.providers
    ids = p.holder
    n = len(o.holder_kind_id)
    demand = np.bincount(offers.holder, weights=attributed_to_providers(c.offer_demand, offers.via), minlength=n)[ids]
    revenue = o.settlement.revenue[ids]
    served = o.settlement.served[ids]
    with np.errstate(invalid="ignore", divide="ignore"):
        price = np.where(served > 0, revenue / served, p.mean_price)
        n_offers = np.bincount(offers.holder, minlength=n)[ids]
        unit_cost = np.bincount(offers.holder, weights=offers.unit_cost, minlength=n)[ids] / np.maximum(n_offers, 1)
    own = np.nonzero(offers.via < 0)[0]  # each pool's capacity once, at the provider that owns it
    first = own[np.unique(offers.pool[own], return_index=True)[1]]
    capacity = np.bincount(offers.holder[first], weights=offers.capacity[first], minlength=n)[ids]
    return {
        "step": np.full(len(ids), o.step, dtype=np.int64),
        "provider": p.name,
        "kind": p.kind,
        "owner": p.owner_name,
        "active": p.active,
        "price": price,
        "unit_cost": unit_cost,
        "quality": p.quality,
        "capacity": capacity,
        "demand": demand,
        "tokens_served": served,
        "revenue": revenue,
        "profit": o.settlement.profit[ids],
        "cash": p.cash,
        "fleet_gpus": f.gpus.sum(axis=1)[ids],
    }


def enterprise_rows(o: StepOutcome, pop: Population, hhi_of_market: FloatArray | None = None
                    ) -> dict[str, NDArray[Any]]:
    """Enterprise outcomes aggregated by (region, segment), or one row per agent on request; ``market_hhi`` is
    the HHI of the segment x region market (``hhi_of_market``, by market id, :func:`market_hhi`)."""
    c, offers = o.clearing, o.offers
    size = len(pop.segment)
    n_regions = len(pop.region_names)
    n_kinds = len(PROVIDER_KIND_NAMES)
    kind_served = np.zeros((size, n_kinds))
    if len(offers):
        onehot = np.zeros((len(offers), n_kinds))
        onehot[np.arange(len(offers)), offers.kind] = 1.0
        kind_served = c.allocation @ onehot
    values = {
        "firms": pop.weight,
        "volume": o.volume,
        "inside_demand": c.inside_demand,
        "tokens_served": c.served_by_enterprise,
        "unmet": c.unmet,
        "spend": c.spend,
        "consumer_surplus": o.consumer_surplus,
        "outside_volume": o.volume * c.outside_share,
        **{f"served_{name}": kind_served[:, k] for k, name in enumerate(PROVIDER_KIND_NAMES)},
    }
    regions = np.array(pop.region_names, dtype=object)
    segments = np.array(pop.segment_names, dtype=object)
    group = pop.segment * n_regions + pop.region
    n_groups = len(pop.segment_names) * n_regions
    hhi_m = np.full(n_groups, np.nan) if hhi_of_market is None else hhi_of_market
    if pop.per_agent:
        out: dict[str, NDArray[Any]] = {
            "step": np.full(size, o.step, dtype=np.int64), "enterprise": np.arange(size),
            "region": regions[pop.region], "segment": segments[pop.segment],
        }
        out.update(values)
        out["market_hhi"] = hhi_m[group]
        return out
    agg = {k: np.bincount(group, weights=v, minlength=n_groups) for k, v in values.items()}
    seg_ids, reg_ids = np.divmod(np.arange(n_groups), n_regions)
    out = {
        "step": np.full(n_groups, o.step, dtype=np.int64),
        "region": regions[reg_ids],
        "segment": segments[seg_ids],
        "n_agents": np.bincount(group, minlength=n_groups).astype(np.int64),
    }
    out.update(agg)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["effective_price"] = np.where(agg["tokens_served"] > 0, agg["spend"] / agg["tokens_served"], np.nan)
    out["market_hhi"] = hhi_m
    return out


def gpu_market_rows(o: StepOutcome) -> dict[str, NDArray[Any]]:
    """Per generation: secondary price, units in fleets, in reseller inventory, scrapped, produced."""
    n = len(o.generation_names)
    return {
        "step": np.full(n, o.step, dtype=np.int64),
        "generation": np.array(o.generation_names, dtype=object),
        "secondary_price": o.secondary_price,
        "in_fleets": o.held[o.provider_ids].sum(axis=0) if len(o.provider_ids) else np.zeros(n, dtype=np.int64),
        "in_inventory": o.held[o.reseller_ids].sum(axis=0) if len(o.reseller_ids) else np.zeros(n, dtype=np.int64),
        "scrapped": o.scrapped,
        "produced": o.produced,
    }
