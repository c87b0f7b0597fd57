"""Collection of a run's outputs: model-, provider- and enterprise-level tables, built column-wise.

Reporters are named functions of the model's arrays; nothing loops over enterprises. The recorder reads the
model's public state (offers, clearing, settlement, population) and keeps plain arrays until
:meth:`Recorder.frames` turns them into tidy pandas frames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from market import metrics
from market.config import PROVIDER_KIND_NAMES
from market.hardware import best_quotes

if TYPE_CHECKING:
    from market.model import InferenceMarket


MODEL_COLUMNS: tuple[str, ...] = (
    "step", "frontier_quality", "open_weight_quality", "price_index", "quality_adjusted_price_index", "hhi",
    "share_hyperscaler", "share_specialized", "share_decentralized", "n_active_providers", "tokens_demanded",
    "tokens_served", "total_spend", "unmet_demand", "outside_share", "utilization", "total_capacity",
    "secondary_gpu_price", "consumer_surplus", "self_host_cost", "margin_hyperscaler", "margin_specialized",
    "margin_decentralized", "total_gpus", "cumulative_entries", "cumulative_exits", "cumulative_acquisitions",
    "cumulative_blocked_mergers",
)
"""Model-level columns present in every run (``hhi_<region>`` columns follow them)."""


class Recorder:
    """Accumulates per-step rows of a run."""

    def __init__(self, model: InferenceMarket) -> None:
        self.model = model
        self.model_rows: list[dict[str, Any]] = []
        self.provider_parts: list[dict[str, np.ndarray]] = []
        self.enterprise_parts: list[dict[str, np.ndarray]] = []
        self.market_parts: list[dict[str, np.ndarray]] = []

    def collect(self) -> None:
        """Record the current step."""
        self.model_rows.append(model_row(self.model))
        self.provider_parts.append(provider_rows(self.model))
        self.enterprise_parts.append(enterprise_rows(self.model))
        self.market_parts.append(gpu_market_rows(self.model))

    def frames(self) -> dict[str, pd.DataFrame]:
        """The run's tables: ``model``, ``providers``, ``enterprises``, ``gpu_market`` and ``events``."""
        events = pd.DataFrame(
            self.model.events,
            columns=["step", "event", "party", "counterparty", "generation", "units", "amount_usd", "detail"],
        ).astype({"step": "int64", "units": "int64", "amount_usd": "float64"})
        return {
            "model": pd.DataFrame(self.model_rows),
            "providers": _concat(self.provider_parts),
            "enterprises": _concat(self.enterprise_parts),
            "gpu_market": _concat(self.market_parts),
            "events": events,
        }


def _concat(parts: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame()
    keys = parts[0].keys()
    return pd.DataFrame({k: np.concatenate([p[k] for p in parts]) for k in keys})


def model_row(m: InferenceMarket) -> dict[str, Any]:
    """One row of market-level metrics for the current step."""
    offers, c, f = m.offers, m.clearing, m.fleet
    assert offers is not None and c is not None and f is not None
    tokens = float(c.served.sum())
    spend = float(c.revenue.sum())
    by_kind = np.bincount(offers.kind, weights=c.served, minlength=len(PROVIDER_KIND_NAMES))
    finite = np.isfinite(offers.capacity)
    capacity = float(offers.capacity[finite].sum())
    surplus = m.consumer_surplus
    row: dict[str, Any] = {
        "step": m.step_index,
        "frontier_quality": m.frontier,
        "open_weight_quality": m.open_weight,
        "price_index": metrics.price_index(spend, tokens),
        "quality_adjusted_price_index": metrics.quality_adjusted_price_index(
            c.revenue, c.served, offers.quality, m.reference_quality
        ),
        "hhi": metrics.hhi(c.revenue, offers.owner),
        "n_active_providers": sum(p.active for p in m.providers),
        "tokens_demanded": float(c.inside_demand.sum()),
        "tokens_served": tokens,
        "total_spend": spend,
        "unmet_demand": float(c.unmet.sum()),
        "outside_share": float(m.volume @ c.outside_share / m.volume.sum()) if m.volume.sum() > 0 else np.nan,
        "utilization": float(c.served[finite].sum() / capacity) if capacity > 0 else np.nan,
        "total_capacity": capacity,
        "secondary_gpu_price": _reference_secondary_price(m),
        "consumer_surplus": float(surplus.sum()),
        "self_host_cost": float(np.mean(m.self_host_cost_by_region)),
        "total_gpus": float(f.gpus.sum()),
        "cumulative_entries": m.event_counts.get("entry", 0),
        "cumulative_exits": m.event_counts.get("exit", 0),
        "cumulative_acquisitions": m.event_counts.get("acquisition", 0),
        "cumulative_blocked_mergers": m.event_counts.get("merger_blocked", 0),
    }
    for k, name in enumerate(PROVIDER_KIND_NAMES):
        row[f"share_{name}"] = float(by_kind[k] / tokens) if tokens > 0 else 0.0
    revenue, profit = m.settlement["revenue"], m.settlement["profit"]
    kinds = np.array([PROVIDER_KIND_NAMES.index(p.kind) if p.kind in PROVIDER_KIND_NAMES else -1 for p in m.holders])
    for k, name in enumerate(PROVIDER_KIND_NAMES):
        rev = revenue[kinds == k].sum()
        row[f"margin_{name}"] = float(profit[kinds == k].sum() / rev) if rev > 0 else np.nan
    region_revenue = m.revenue_by_buyer_region()
    for r, region in enumerate(m.region_names):
        row[f"hhi_{region}"] = metrics.hhi(region_revenue[r], offers.owner)
    return {k: row[k] for k in (*MODEL_COLUMNS, *[f"hhi_{r}" for r in m.region_names])}


def _reference_secondary_price(m: InferenceMarket) -> float:
    g = m.reference_generation
    if g < 0 or not len(m.resellers):
        return float("nan")
    return float(best_quotes(m.secondary_quotes)[g])


def provider_rows(m: InferenceMarket) -> dict[str, np.ndarray]:
    """One row per provider (active or not) for the current step."""
    offers, c, f = m.offers, m.clearing, m.fleet
    assert offers is not None and c is not None and f is not None
    providers = m.providers
    ids = np.array([p.holder_id for p in providers], dtype=np.int64)
    n = len(m.holders)
    demand = np.bincount(offers.holder, weights=c.offer_demand, minlength=n)[ids]
    revenue = m.settlement["revenue"][ids]
    served = m.settlement["served"][ids]
    with np.errstate(invalid="ignore", divide="ignore"):
        price = np.where(served > 0, revenue / served, np.array([np.mean(p.price) for p in providers]))
        n_offers = np.bincount(offers.holder, minlength=n)[ids]
        unit_cost = np.bincount(offers.holder, weights=offers.unit_cost, minlength=n)[ids] / np.maximum(n_offers, 1)
    capacity = np.bincount(offers.holder, weights=offers.capacity, minlength=n)[ids]
    size = len(providers)
    return {
        "step": np.full(size, m.step_index, dtype=np.int64),
        "provider": np.array([p.name for p in providers], dtype=object),
        "kind": np.array([p.kind for p in providers], dtype=object),
        "owner": np.array([m.holders[p.owner_id].name for p in providers], dtype=object),
        "active": np.array([p.active for p in providers]),
        "price": price,
        "unit_cost": unit_cost,
        "quality": np.array([p.quality(m.frontier, m.open_weight) for p in providers]),
        "capacity": capacity,
        "demand": demand,
        "tokens_served": served,
        "revenue": revenue,
        "profit": m.settlement["profit"][ids],
        "cash": np.array([p.cash for p in providers]),
        "fleet_gpus": f.gpus.sum(axis=1)[ids],
    }


def enterprise_rows(m: InferenceMarket) -> dict[str, np.ndarray]:
    """Enterprise outcomes aggregated by (region, segment), or one row per agent on request."""
    c, offers = m.clearing, m.offers
    assert c is not None and offers is not None
    pop = m.population
    kind_served = np.zeros((pop.size, len(PROVIDER_KIND_NAMES)))
    if len(offers):
        onehot = np.zeros((len(offers), len(PROVIDER_KIND_NAMES)))
        onehot[np.arange(len(offers)), offers.kind] = 1.0
        kind_served = c.allocation @ onehot
    surplus = m.consumer_surplus
    values = {
        "firms": pop.weight,
        "volume": m.volume,
        "inside_demand": c.inside_demand,
        "tokens_served": c.served_by_enterprise,
        "unmet": c.unmet,
        "spend": c.spend,
        "consumer_surplus": surplus,
        "outside_volume": m.volume * c.outside_share,
        **{f"served_{name}": kind_served[:, k] for k, name in enumerate(PROVIDER_KIND_NAMES)},
    }
    if m.config.simulation.enterprise_output == "agent":
        out = {"step": np.full(pop.size, m.step_index, dtype=np.int64), "enterprise": np.arange(pop.size),
               "region": np.array(m.region_names, dtype=object)[pop.region],
               "segment": np.array([s.name for s in m.config.segments], dtype=object)[pop.segment]}
        out.update(values)
        return out
    group = pop.segment * m.n_regions + pop.region
    n_groups = pop.n_segments * m.n_regions
    agg = {k: np.bincount(group, weights=v, minlength=n_groups) for k, v in values.items()}
    seg_ids, reg_ids = np.divmod(np.arange(n_groups), m.n_regions)
    out = {
        "step": np.full(n_groups, m.step_index, dtype=np.int64),
        "region": np.array(m.region_names, dtype=object)[reg_ids],
        "segment": np.array([s.name for s in m.config.segments], dtype=object)[seg_ids],
        "n_agents": np.bincount(group, minlength=n_groups).astype(np.int64),
    }
    out.update(agg)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["effective_price"] = np.where(agg["tokens_served"] > 0, agg["spend"] / agg["tokens_served"], np.nan)
    return out


def gpu_market_rows(m: InferenceMarket) -> dict[str, np.ndarray]:
    """Per generation: secondary price, units in fleets, in reseller inventory, scrapped, produced."""
    gens = m.generations
    n = len(gens)
    held = m.ledger.units_by_holder_generation(len(m.holders))
    reseller_ids = [r.holder_id for r in m.resellers]
    provider_ids = [p.holder_id for p in m.providers]
    quotes = m.secondary_quotes
    price = best_quotes(quotes) if len(reseller_ids) and n else np.full(n, np.nan)
    return {
        "step": np.full(n, m.step_index, dtype=np.int64),
        "generation": np.array(gens.names, dtype=object),
        "secondary_price": price,
        "in_fleets": held[provider_ids].sum(axis=0) if provider_ids else np.zeros(n, dtype=np.int64),
        "in_inventory": held[reseller_ids].sum(axis=0) if reseller_ids else np.zeros(n, dtype=np.int64),
        "scrapped": m.ledger.scrapped_by_generation(),
        "produced": m.ledger.produced.copy(),
    }
