"""Conservation of GPUs and money in whole models, step by step, over random small economies.

Each hypothesis example builds a tiny scenario (a few providers of random kinds, fleets, strategies, resellers,
entrants, acquisitions on or off under a random merger policy), steps :class:`market.model.InferenceMarket` by
hand and checks after every step:

* GPUs (DESIGN.md 3.5, ODD 7.9): for every generation, units held by all holders plus units scrapped equal units
  produced; no lot is negative; production is exactly the initial fleets plus the ``gpu_purchase`` events; and
  every holder's GPU count changes by exactly the GPU events that name it (plus end-of-life scrapping of the
  lots it held that expired).
* Money (ODD 7.7): the change in the cash of all balance sheets (every provider's own treasury and every
  reseller) over a step equals what enterprises spent, minus the providers' cash costs (power, operations and
  variable cost, recomputed here from the GPU lots and the regional power price), minus interest, minus what
  leaves the modelled economy (vendor and entrants' fleet purchases, acquisition prices, entry sunk costs), plus
  the cash entrants bring. Trades between providers and resellers move money between two balance sheets at one
  price, so they cancel: each reseller's cash changes by exactly what its GPU sales earned less what its
  purchases cost.
* Routers (market.routers), in economies that have them: buyers' spend = providers' direct revenue + routers'
  revenue; routers' cost = providers' revenue through routers; a router's cash moves by its revenue less its
  cost; and no provider serves more than its capacity, its own offer and the routers' offers of it together.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.config.files import apply_overrides, read_toml, scenario_from_dict
from market.hardware import SCRAPPED
from market.model import InferenceMarket

BASELINE = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "baseline.toml"

HOURS_PER_MONTH = 365.25 * 24.0 / 12.0
"""Mean hours in a month: the power bill of one GPU is kW * PUE * hours * $/kWh (ODD 7.5)."""

GPU_TRADE_EVENTS = ("gpu_sale", "gpu_retired", "gpu_liquidation")
"""Trades between two holders: ``party`` sells, ``counterparty`` buys, ``amount_usd`` changes hands."""

GENERATIONS: list[dict[str, Any]] = [
    {"name": "A100", "release_step": -40, "list_price_usd": 15000, "throughput_tokens_per_s": 400, "power_kw": 0.55,
     "lifetime_months": 44},
    {"name": "H100", "release_step": -20, "list_price_usd": 30000, "throughput_tokens_per_s": 1200, "power_kw": 0.9,
     "lifetime_months": 48},
    {"name": "B200", "release_step": 2, "list_price_usd": 40000, "throughput_tokens_per_s": 3600, "power_kw": 1.3,
     "lifetime_months": 48},
]

# ---------------------------------------------------------------------------------------------------------
# random small economies
# ---------------------------------------------------------------------------------------------------------

pricing_configs = st.one_of(
    st.builds(lambda m: {"strategy": "cost_plus", "markup": m}, st.floats(0.0, 1.0)),
    st.just({"strategy": "best_response"}),
    st.builds(lambda d, n: {"strategy": "share_acquisition", "discount": d, "max_months": n},
              st.floats(0.0, 0.5), st.integers(0, 4)),
    st.builds(lambda s: {"strategy": "adaptive", "step": s}, st.floats(0.01, 0.2)),
)

investment_configs = st.one_of(
    st.builds(lambda new, used, growth: {"strategy": "utilization_target", "buy_new": new, "buy_used": used,
                                         "demand_growth_expectation_per_year": growth},
              st.booleans(), st.booleans(), st.sampled_from([0.0, 1.0, 3.0])),
    st.just({"strategy": "none"}),
)

money = st.sampled_from([1e9, 3e7, 1e6, 1e5, 0.0])


@st.composite
def fleets(draw: st.DrawFn, regions: list[str]) -> list[dict[str, Any]]:
    """One to three lots with at least one GPU in total."""
    lots = draw(st.lists(
        st.fixed_dictionaries({
            "generation": st.sampled_from(["A100", "H100"]),
            "region": st.sampled_from(regions),
            "gpus": st.integers(0, 300),
            "age_months": st.integers(0, 42),
        }),
        min_size=1, max_size=3,
    ))
    if sum(lot["gpus"] for lot in lots) == 0:
        lots[0]["gpus"] = 1
    return lots


@st.composite
def provider_configs(draw: st.DrawFn, name: str, regions: list[str]) -> dict[str, Any]:
    kind = draw(st.sampled_from(["hyperscaler", "specialized", "decentralized"]))
    cfg: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "count": draw(st.integers(1, 2)),
        "regions": regions,
        "quality": "frontier" if kind == "hyperscaler" else "open",
        "serving_efficiency": draw(st.sampled_from([0.5, 1.0, 1.6])),
        "cash_usd": draw(money) * draw(st.sampled_from([1.0, 1.0, 1.0, -0.01])),
        "credit_limit_usd": draw(money),
        "cost_of_capital_per_year": draw(st.sampled_from([0.0, 0.1, 0.3])),
        "opex_usd_per_gpu_month": draw(st.sampled_from([300.0, 0.0, 300.0, 5e4])),
        "pricing": draw(pricing_configs),
        "investment": draw(investment_configs),
        "retire_age_months": draw(st.one_of(st.none(), st.integers(1, 40))),
        "flywheel_learning_rate": draw(st.sampled_from([0.0, 0.05])),
        "flywheel_scale_mtok": 1e5,
        "flywheel_privacy_cost": 0.5,
    }
    if draw(st.booleans()) and kind != "hyperscaler":
        # A fixed-cost, fixed-capacity provider (no fleet): its only cash cost is the variable cost.
        cfg["unit_cost_usd_per_mtok"] = draw(st.sampled_from([0.5, 2.0]))
        cfg["capacity_mtok_per_month"] = draw(st.sampled_from([5e4, math.inf]))
        cfg["investment"] = {"strategy": "none"}
        cfg["retire_age_months"] = None
    else:
        cfg["fleet"] = draw(fleets(regions))
    if kind == "decentralized":
        cfg["verification"] = draw(st.booleans())
    return cfg


@st.composite
def economies(draw: st.DrawFn) -> dict[str, Any]:
    """A scenario dict of a tiny random economy."""
    region_names = ["na", "eu"][: draw(st.integers(1, 2))]
    regions = [
        {"name": r, "power_price_usd_per_kwh": draw(st.sampled_from([0.05, 0.15])),
         "power_capacity_mw": draw(st.sampled_from([math.inf, 0.3, 2.0])),
         "residency_strictness": draw(st.sampled_from([0.0, 0.8]))}
        for r in region_names
    ]
    segments = [
        {"name": f"segment_{k}", "n_agents": draw(st.integers(3, 20)),
         "base_demand_mtok_per_month": draw(st.sampled_from([1e6, 1e5, 1e4])),
         "price_elasticity": draw(st.sampled_from([0.0, 1.2])),
         "price_sensitivity": draw(st.sampled_from([1.0, 3.0])),
         "switching_cost": draw(st.sampled_from([0.0, 0.5])),
         "residency_propensity": draw(st.sampled_from([0.0, 1.0])),
         "privacy_sensitivity": draw(st.sampled_from([0.0, 1.0])),
         "initial_contract_share": draw(st.sampled_from([0.0, 0.7]))}
        for k in range(draw(st.integers(1, 2)))
    ]
    providers = [draw(provider_configs(f"provider_{k}", region_names)) for k in range(draw(st.integers(1, 4)))]
    entrants = [
        {"name": f"entrant_{k}",
         "margin_threshold": draw(st.sampled_from([-10.0, -0.5, 0.0, 0.3])),
         "lookback_months": draw(st.integers(1, 3)),
         "sunk_cost_usd": draw(st.sampled_from([0.0, 1e5, 1e7])),
         "cooldown_months": draw(st.integers(0, 3)),
         "max_entries": draw(st.integers(0, 3)),
         "provider": {**draw(provider_configs(f"entrant_{k}", region_names)), "count": 1}}
        for k in range(draw(st.integers(0, 2)))
    ]
    b200 = {**GENERATIONS[2], "release_step": draw(st.integers(1, 4)),
            "vendor_supply_per_month": draw(st.sampled_from([math.inf, 0.0, 25.0]))}
    routers = [{"name": f"router_{k}", "cash_usd": draw(st.sampled_from([0.0, 1e6])),
                "fee": draw(st.sampled_from([{"strategy": "fixed_markup", "markup": 0.1},
                                             {"strategy": "fixed_markup", "markup": 0.0},
                                             {"strategy": "adaptive_fee", "initial_markup": 0.2}])),
                "switching_cost_factor": draw(st.sampled_from([0.0, 0.5, 1.0])),
                "min_quality": draw(st.sampled_from([0.0, 0.5, 0.99])),
                "provider_kinds": draw(st.sampled_from([["hyperscaler", "specialized", "decentralized"],
                                                        ["specialized", "decentralized"]]))}
               for k in range(draw(st.integers(0, 2)))]
    return {
        "name": "random_economy",
        "routers_enabled": draw(st.booleans()),
        "routers": routers,
        "simulation": {"steps": 5, "rationing_rounds": draw(st.integers(0, 2))},
        "logit": {"mu": 0.3, "utility_form": draw(st.sampled_from(["log", "linear"])), "offer_shock_sd": 0.05},
        "outside_option": {"value": -1.0, "self_hosting": draw(st.booleans())},
        "technology": {"frontier_growth_per_year": 1.0, "distillation_speed": 1.0,
                       "vendor_allocation": draw(st.sampled_from(["deepest_pockets", "pro_rata"])),
                       "generations": [GENERATIONS[0], GENERATIONS[1], b200]},
        "regions": regions,
        "segments": segments,
        "providers": providers,
        "resellers": [{"name": f"reseller_{k}", "cash_usd": draw(st.sampled_from([0.0, 1e6, 5e8])),
                       "demand_pressure": draw(st.sampled_from([0.0, 0.5])),
                       "reference_units": draw(st.sampled_from([10.0, 1000.0]))}
                      for k in range(draw(st.integers(0, 2)))],
        "corporate": {
            "exit_after_months": draw(st.integers(1, 3)),
            "entrants": entrants,
            "acquisitions": {
                "enabled": draw(st.booleans()),
                "acquirer_kinds": draw(st.sampled_from([["hyperscaler"], ["hyperscaler", "specialized"]])),
                "small_share_threshold": draw(st.sampled_from([0.05, 0.5, 1.0])),
                "deal_probability": draw(st.sampled_from([0.5, 1.0])),
                "cooldown_months": draw(st.integers(0, 2)),
                "premium": draw(st.sampled_from([0.0, 0.2])),
            },
            "antitrust": {"policy": draw(st.sampled_from(["none", "hhi_2023", "hhi_2010", "custom"])),
                          "scope": draw(st.sampled_from(["global", "regional", "segment_region"]))},
        },
    }


TIERS: list[dict[str, Any]] = [
    {"name": "frontier", "quality_factor": 1.0, "throughput_multiplier": 1.0, "base_latency_ms": 600.0},
    {"name": "mid", "quality_factor": 0.8, "throughput_multiplier": 4.0, "base_latency_ms": 300.0},
    {"name": "small", "quality_factor": 0.55, "throughput_multiplier": 15.0, "base_latency_ms": 120.0},
]


@st.composite
def tiered_economies(draw: st.DrawFn) -> dict[str, Any]:
    """A random tiny economy with the three tiers of experiments/configs/tiers.toml, each provider
    serving a random non-empty subset of them, and buyers that value latency."""
    scenario = draw(economies())
    scenario["tiers"] = TIERS
    names = [t["name"] for t in TIERS]
    providers = scenario["providers"] + [e["provider"] for e in scenario["corporate"]["entrants"]]
    for p in providers:
        p["tiers"] = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    for segment in scenario["segments"]:
        segment["latency_weight_per_s"] = draw(st.sampled_from([0.0, 0.5]))
    return scenario


def check_pools(model: InferenceMarket) -> None:
    """No capacity pool (a provider's GPUs in a region) serves more capacity units than it has."""
    offers, served = model.offers, model.clearing.served
    load = np.bincount(offers.pool, weights=served * offers.capacity_weight, minlength=offers.n_pools)
    capacity = offers.pool_capacity()
    assert np.all(load <= capacity * (1.0 + 1e-9) + 1e-6), (load, capacity)


# ---------------------------------------------------------------------------------------------------------
# stepping with a probe at settlement
# ---------------------------------------------------------------------------------------------------------


@dataclass
class SettleSnapshot:
    """The model's state just before settlement: what the month's cash costs and interest are charged on."""

    own_cash: dict[int, float]
    active: dict[int, bool]
    parent: dict[int, int | None]
    lot_holder: np.ndarray
    lot_generation: np.ndarray
    lot_region: np.ndarray
    lot_count: np.ndarray
    power_price: np.ndarray


@dataclass
class Probe:
    """Records a :class:`SettleSnapshot` every time the model settles."""

    model: InferenceMarket
    snapshots: list[SettleSnapshot] = field(default_factory=list)

    def __post_init__(self) -> None:
        settle = self.model.settle

        def probed_settle() -> None:
            m = self.model
            ledger = m.ledger
            self.snapshots.append(SettleSnapshot(
                own_cash={p.holder_id: p._cash for p in m.providers},
                active={p.holder_id: p.active for p in m.providers},
                parent={p.holder_id: None if p.parent is None else p.parent.holder_id for p in m.providers},
                lot_holder=ledger.view("holder").copy(),
                lot_generation=ledger.view("generation").copy(),
                lot_region=ledger.view("region").copy(),
                lot_count=ledger.view("count").copy(),
                power_price=m.power_price.copy(),
            ))
            settle()

        self.model.settle = probed_settle  # type: ignore[method-assign]


def balance_sheet_cash(model: InferenceMarket) -> float:
    """Cash of every balance sheet: each provider's own treasury (zero for a subsidiary), each reseller's and each
    router's."""
    return (sum(p._cash for p in model.providers) + sum(r.cash for r in model.resellers)
            + sum(r.cash for r in model.roster.routers))


def cash_costs(model: InferenceMarket, snap: SettleSnapshot) -> float:
    """Power, operations and variable cost of the month, recomputed from the GPU lots at settlement.

    Per GPU of an active fleet provider: ``power_kw * pue * hours * power_price[region] + opex``; a provider with a
    fixed unit cost pays ``served * unit_cost`` instead (ODD 7.5, 7.7).
    """
    gens = model.config.technology.generations
    total = 0.0
    for p in model.providers:
        h = p.holder_id
        if h not in snap.active or not snap.active[h]:
            continue
        if p.config.unit_cost_usd_per_mtok is not None:
            assert model.clearing is not None and model.offers is not None
            offers = model.offers  # its own offers and the routers' offers routed to them, in capacity units
            through = (offers.via >= 0) & (offers.holder[np.maximum(offers.via, 0)] == h)
            mine = ((offers.holder == h) & (offers.via < 0)) | through
            served = float((model.clearing.served[mine] * offers.capacity_weight[mine]).sum())
            total += served * p.config.unit_cost_usd_per_mtok
            continue
        for g, r, n in zip(snap.lot_generation[snap.lot_holder == h], snap.lot_region[snap.lot_holder == h],
                           snap.lot_count[snap.lot_holder == h], strict=True):
            power = gens[int(g)].power_kw * p.config.pue * HOURS_PER_MONTH * snap.power_price[int(r)]
            total += int(n) * (power + p.config.opex_usd_per_gpu_month)
    return total


def units_by_holder(model: InferenceMarket) -> np.ndarray:
    return model.ledger.units_by_holder_generation(len(model.holders))


def expiring_units(model: InferenceMarket, step: int) -> np.ndarray:
    """GPUs per (holder, generation) in lots whose end of life comes at ``step`` (scrapped at its start)."""
    ledger = model.ledger
    out = np.zeros((len(model.holders), len(model.generations)), dtype=np.int64)
    due = (ledger.view("end_step") <= step) & (ledger.view("holder") != SCRAPPED) & (ledger.view("count") > 0)
    np.add.at(out, (ledger.view("holder")[due], ledger.view("generation")[due]), ledger.view("count")[due])
    return out


@dataclass
class StepAccounts:
    """One step's flows, read off the events and the clearing."""

    spend: float
    cash_costs: float
    interest: float
    vendor: float
    acquisitions: float
    sunk_costs: float
    entrant_cash: float

    @property
    def expected_change(self) -> float:
        return (self.spend - self.cash_costs - self.interest - self.vendor - self.acquisitions - self.sunk_costs
                + self.entrant_cash)

    @property
    def scale(self) -> float:
        flows = (self.spend, self.cash_costs, self.interest, self.vendor, self.acquisitions, self.sunk_costs,
                 self.entrant_cash)
        return sum(abs(f) for f in flows)


Event = dict[str, object]


def text(e: Event, key: str) -> str:
    return str(e[key])


def number(e: Event, key: str) -> float:
    value = e[key]
    assert isinstance(value, int | float)
    return float(value)


@dataclass
class StepRecord:
    """What a check needs from before and after one step."""

    step: int
    events: list[Event]
    cash_before: float
    reseller_cash_before: dict[str, float]
    units_before: np.ndarray
    expiring: np.ndarray
    router_cash_before: dict[str, float] = field(default_factory=dict)


def take_step(model: InferenceMarket) -> StepRecord:
    """Step the model once, remembering the state the conservation checks compare against."""
    n_events = len(model.events)
    record = StepRecord(
        step=model.step_index,
        events=[],
        cash_before=balance_sheet_cash(model),
        reseller_cash_before={r.name: r.cash for r in model.resellers},
        units_before=units_by_holder(model),
        expiring=expiring_units(model, model.step_index),
        router_cash_before={r.name: r.cash for r in model.roster.routers},
    )
    model.step()
    record.events = model.events[n_events:]
    return record


def check_gpus(model: InferenceMarket, record: StepRecord, initial: np.ndarray) -> None:
    """Per generation held + scrapped == produced; production is initial fleets plus purchases; every holder's
    count moved by exactly the GPU events naming it (and end-of-life scrapping of its expired lots)."""
    ledger = model.ledger
    by_name = {h.name: h.holder_id for h in model.holders}
    gen_id = {name: g for g, name in enumerate(model.generations.names)}
    held = units_by_holder(model)
    np.testing.assert_array_equal(held.sum(axis=0) + ledger.scrapped_by_generation(), ledger.produced)
    assert (ledger.view("count") >= 0).all()

    purchased = np.zeros(len(gen_id), dtype=np.int64)
    for e in model.events:
        if e["event"] == "gpu_purchase":
            purchased[gen_id[text(e, "generation")]] += int(number(e, "units"))
    np.testing.assert_array_equal(ledger.produced, initial + purchased)

    expected = np.zeros_like(held)
    expected[: record.units_before.shape[0]] = record.units_before - record.expiring
    for e in record.events:
        kind, units = e["event"], int(number(e, "units"))
        if not units or kind not in ("gpu_purchase", "gpu_scrapped", *GPU_TRADE_EVENTS):
            continue
        g = gen_id[text(e, "generation")]
        if kind == "gpu_purchase":
            expected[by_name[text(e, "party")], g] += units
        elif kind == "gpu_scrapped":
            if e["party"]:  # disposal by a seller with no reseller; end-of-life scrapping is in `expiring`
                expected[by_name[text(e, "party")], g] -= units
        else:
            expected[by_name[text(e, "party")], g] -= units
            expected[by_name[text(e, "counterparty")], g] += units
    np.testing.assert_array_equal(held, expected)


def check_money(model: InferenceMarket, record: StepRecord, snap: SettleSnapshot) -> None:
    """The accounting identity of the module docstring, interest on carried debt, and reseller trades."""
    clearing, settlement = model.clearing, model.settlement
    assert clearing is not None
    by_name = {h.name: h for h in model.holders}
    flows: dict[tuple[str, str], float] = defaultdict(float)
    for e in record.events:
        detail = text(e, "detail") if e["event"] == "gpu_purchase" else ""
        flows[(text(e, "event"), detail)] += number(e, "amount_usd")
    assert set(flows) <= {("gpu_purchase", "vendor"), ("gpu_purchase", "entry"), ("acquisition", ""),
                          ("entry", ""), ("merger_blocked", ""), ("exit", ""), ("gpu_scrapped", ""),
                          *((k, "") for k in GPU_TRADE_EVENTS)}
    accounts = StepAccounts(
        spend=float(clearing.spend.sum()),
        cash_costs=cash_costs(model, snap),
        interest=float(settlement.interest.sum()),
        vendor=flows[("gpu_purchase", "vendor")] + flows[("gpu_purchase", "entry")],
        acquisitions=flows[("acquisition", "")],
        sunk_costs=flows[("entry", "")],
        entrant_cash=sum(by_name[text(e, "party")].config.cash_usd for e in record.events if e["event"] == "entry"),
    )
    change = balance_sheet_cash(model) - record.cash_before
    tolerance = 1e-9 * (accounts.scale + abs(record.cash_before)) + 1e-6
    assert abs(change - accounts.expected_change) <= tolerance, (record.step, change, accounts)

    # The engine's cash costs agree with the lot-by-lot bill.
    engine_costs = sum(settlement.cash_cost[h] for h, on in snap.active.items() if on)
    assert math.isclose(engine_costs, accounts.cash_costs, rel_tol=1e-9, abs_tol=1e-6)

    # Interest on the debt each independent balance sheet carried into the month (ODD 7.7).
    for p in model.providers:
        h = p.holder_id
        if not snap.active.get(h, False) or snap.parent[h] is not None:
            continue
        owed = max(-snap.own_cash[h], 0.0) * p.cost_of_capital_per_year / 12.0
        assert math.isclose(settlement.interest[h], owed, rel_tol=1e-12, abs_tol=1e-9)

    check_routers(model, record)

    # Reseller trades are booked on both sides at one price: a reseller's cash moves by its sales less its buys.
    for r in model.resellers:
        earned = sum(number(e, "amount_usd") for e in record.events
                     if e["event"] in GPU_TRADE_EVENTS and e["party"] == r.name)
        paid = sum(number(e, "amount_usd") for e in record.events
                   if e["event"] in GPU_TRADE_EVENTS and e["counterparty"] == r.name)
        scale = max(abs(r.cash), abs(record.reseller_cash_before[r.name]))  # cash is a running sum: its rounding
        assert math.isclose(r.cash - record.reseller_cash_before[r.name], earned - paid, rel_tol=1e-12,
                            abs_tol=max(1e-6, 1e-12 * scale))


def check_routers(model: InferenceMarket, record: StepRecord) -> None:
    """Spend = providers' direct revenue + routers' revenue; routers' cost = providers' revenue through routers
    (both computed here from the offer book and the clearing); routers' cash moves by revenue less cost."""
    offers, clearing, s = model.offers, model.clearing, model.settlement
    routed = offers.via >= 0
    ids = [r.holder_id for r in model.roster.routers]
    spend = float(clearing.spend.sum())
    direct = float((clearing.served * offers.price)[~routed].sum())
    router_revenue = float(s.revenue[ids].sum()) if ids else 0.0
    assert math.isclose(spend, direct + router_revenue, rel_tol=1e-9, abs_tol=1e-6)
    paid_to_providers = float((clearing.served * offers.price[np.maximum(offers.via, 0)])[routed].sum())
    router_cost = float(s.cash_cost[ids].sum()) if ids else 0.0
    assert math.isclose(router_cost, paid_to_providers, rel_tol=1e-9, abs_tol=1e-6)
    provider_ids = [p.holder_id for p in model.providers]
    provider_direct = np.bincount(offers.holder[~routed], weights=clearing.revenue[~routed], minlength=len(s.revenue))
    through_routers = float((s.revenue[provider_ids] - provider_direct[provider_ids]).sum())
    assert math.isclose(through_routers, paid_to_providers, rel_tol=1e-9, abs_tol=1e-6)
    assert np.all(offers.price[routed] >= offers.price[offers.via[routed]])  # fees are never negative
    for r in model.roster.routers:
        moved = r.cash - record.router_cash_before[r.name]
        assert math.isclose(moved, s.revenue[r.holder_id] - s.cash_cost[r.holder_id], rel_tol=1e-12, abs_tol=1e-6)
    # capacity: a provider's offers (its tiers) and the router offers routed to them share its pool's GPUs
    assert np.all(routed <= (offers.pool == offers.pool[np.maximum(offers.via, 0)]))
    load = np.bincount(offers.pool, weights=clearing.served * offers.capacity_weight, minlength=offers.n_pools)
    capacity = offers.pool_capacity()
    finite = np.isfinite(capacity)
    assert np.all(load[finite] <= capacity[finite] * (1 + 1e-9) + 1e-6)


def initial_units(model: InferenceMarket) -> np.ndarray:
    """GPUs in the configured initial fleets, per generation."""
    out = np.zeros(len(model.generations), dtype=np.int64)
    for cfg in model.config.providers:
        for lot in cfg.fleet:
            out[model.generations.index(lot.generation)] += lot.gpus * cfg.count
    return out


def run_and_check(scenario: dict[str, Any], seed: int, *, gpus: bool, money: bool) -> InferenceMarket:
    model = InferenceMarket(scenario_from_dict(scenario), seed=seed)
    probe = Probe(model)
    initial = initial_units(model)
    for _ in range(scenario["simulation"]["steps"]):
        record = take_step(model)
        check_pools(model)
        if gpus:
            check_gpus(model, record, initial)
        if money:
            check_money(model, record, probe.snapshots[-1])
    return model


# ---------------------------------------------------------------------------------------------------------
# the properties
# ---------------------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(economies(), st.integers(0, 2**16))
def test_gpus_are_conserved_every_step(scenario: dict[str, Any], seed: int) -> None:
    run_and_check(scenario, seed, gpus=True, money=False)


@settings(max_examples=25, deadline=None)
@given(economies(), st.integers(0, 2**16))
def test_money_is_conserved_every_step(scenario: dict[str, Any], seed: int) -> None:
    run_and_check(scenario, seed, gpus=False, money=True)


@settings(max_examples=20, deadline=None)
@given(tiered_economies(), st.integers(0, 2**16))
def test_tiers_conserve_gpus_and_money_every_step(scenario: dict[str, Any], seed: int) -> None:
    """Offers per (provider, region, tier) sharing capacity pools: GPUs and money are conserved and no pool
    serves beyond its capacity in capacity units."""
    run_and_check(scenario, seed, gpus=True, money=True)


def reduced_baseline(steps: int, agents_per_segment: int) -> dict[str, Any]:
    """experiments/configs/baseline.toml with fewer enterprise agents, each standing for proportionally more firms
    (the same total demand), and fewer steps."""
    data = read_toml(BASELINE)
    overrides = [f"simulation.steps={steps}"]
    for i, segment in enumerate(data["segments"]):
        firms = segment["firms_per_agent"] * segment["n_agents"] / agents_per_segment
        overrides += [f"segments.{i}.n_agents={agents_per_segment}", f"segments.{i}.firms_per_agent={firms}"]
    return apply_overrides(data, overrides)


@pytest.mark.parametrize("seed", [1, 2])
def test_baseline_conserves_gpus_and_money_every_step(seed: int) -> None:
    """Two years of the baseline economy (entries, acquisitions, blocked mergers, retirements, resales); the
    first entrant's payback horizon is long enough that it enters, so entry is covered too."""
    scenario = apply_overrides(reduced_baseline(steps=24, agents_per_segment=30),
                               ["corporate.entrants.0.payback_months=1200"])
    model = run_and_check(scenario, seed, gpus=True, money=True)
    kinds = {e["event"] for e in model.events}
    assert {"gpu_purchase", "gpu_sale", "entry"} <= kinds  # retired A100s find no buyer next to B200s: kept


def test_baseline_with_routers_conserves_gpus_and_money_every_step() -> None:
    """A year of the baseline with two routers (one adaptive) that sell a share of the tokens."""
    scenario = reduced_baseline(steps=12, agents_per_segment=30)
    scenario["routers_enabled"] = True
    scenario["routers"] = [{"name": "router", "fee": {"strategy": "fixed_markup", "markup": 0.05}},
                           {"name": "broker", "fee": {"strategy": "adaptive_fee"}, "switching_cost_factor": 0.0}]
    model = run_and_check(scenario, 3, gpus=True, money=True)
    routed = model.offers.via >= 0
    assert routed.sum() == 2 * model.n_regions  # one offer per router and region
    assert model.clearing.served[routed].sum() > 0.01 * model.clearing.served.sum()


# ---------------------------------------------------------------------------------------------------------
# interest on a consolidated treasury
# ---------------------------------------------------------------------------------------------------------


def indebted_acquirer_market(target_first: bool) -> dict[str, Any]:
    """A hyperscaler in debt (cash -1e7, credit 1e9, 12% a year) buys a 40% specialist with no cash in month 0
    (policy 'none'). Fixed costs: unit cost 1, price 1.5, 3 buyers x 1e6 Mtok that all buy (outside utility -50)."""
    def firm(name: str, kind: str, weight: float, cash: float) -> dict[str, Any]:
        return {"name": name, "kind": kind, "regions": ["global"], "quality": 2.0 + 0.25 * math.log(weight / 100.0),
                "unit_cost_usd_per_mtok": 1.0, "capacity_mtok_per_month": math.inf, "cash_usd": cash,
                "credit_limit_usd": 1e9, "cost_of_capital_per_year": 0.12,
                "pricing": {"strategy": "cost_plus", "markup": 0.5}, "investment": {"strategy": "none"}}

    cloud = firm("cloud", "hyperscaler", 60, -1e7)
    target = firm("target", "specialized", 40, 0.0)
    return {
        "name": "indebted_acquirer",
        "simulation": {"steps": 2, "rationing_rounds": 0},
        "logit": {"mu": 0.25, "utility_form": "linear"},
        "outside_option": {"value": -50.0, "self_hosting": False},
        "regions": [{"name": "global", "latency_penalty": 0.0}],
        "segments": [{"name": "buyers", "n_agents": 3, "base_demand_mtok_per_month": 1e6, "demand_dispersion": 0.0,
                      "price_elasticity": 0.0}],
        "providers": [target, cloud] if target_first else [cloud, target],
        "corporate": {"acquisitions": {"enabled": True, "deal_probability": 1.0, "small_share_threshold": 0.5},
                      "antitrust": {"policy": "none"}},
    }


@pytest.mark.parametrize("target_first", [False, True])
def test_interest_is_charged_on_the_debt_carried_into_the_month(target_first: bool) -> None:
    """Month 0: the cloud nets 3e6 * 0.6 * 0.5 = 9e5, pays 1e5 interest (1% of 1e7), the target nets 6e5, and the
    deal costs its equity value with the premium, (12 * 6e5 * 3 + 6e5) * 1.2 = 2.664e7: the treasury carried into
    month 1 is -3.524e7, so month 1's interest is 1% of 3.524e7 = 352,400, whichever of the two firms is listed
    first."""
    model = InferenceMarket(scenario_from_dict(indebted_acquirer_market(target_first)), seed=0)
    model.step()
    cloud = next(p for p in model.providers if p.name == "cloud")
    assert [e["event"] for e in model.events] == ["acquisition"]
    assert cloud.cash == pytest.approx(-1e7 + 9e5 - 1e5 + 6e5 - 2.664e7, rel=1e-12)
    model.step()
    assert model.settlement.interest[cloud.holder_id] == pytest.approx(352_400.0, rel=1e-9)
    assert model.settlement.interest.sum() == pytest.approx(352_400.0, rel=1e-9)
