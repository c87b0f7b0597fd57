"""Hardware markets in whole models (market/trading.py, market/hardware.py): upgrade cycles, hyperscaler
retirements on a new generation's release, divestment, used purchases at reseller quotes, secondary prices, and
scarce vendor supply allocated by deepest pockets or pro rata.

Reseller prices are worked out by hand from ODD 7.10: a lot with ``L`` months of life left (its own, from its
build date) is quoted ``max(scrap, level * v_g * L)`` with the par rate
``v_g = T_g / T_new * (list_new / lifetime_new + run_new) - run_g`` (``run`` = power at the reference buyer's PUE
plus its opex; here PUE 1 and no opex, power $0.08/kWh); the level starts at 1 and moves by
``((orders + u) / (inventory / 6 + u)) ** 0.5`` a month (u = 1,000 GPUs). A reseller with an empty book pays
``(1 - margin) * v_g * L`` (margin 0.15).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from agents.investment import FleetOrder, InvestmentView
from market.config.files import scenario_from_dict
from market.hardware import allocate_supply
from market.model import InferenceMarket

A100 = {"name": "A100", "release_step": -40, "list_price_usd": 15000, "throughput_tokens_per_s": 400,
        "power_kw": 0.55, "lifetime_months": 48}
H100 = {"name": "H100", "release_step": -20, "list_price_usd": 30000, "throughput_tokens_per_s": 1200,
        "power_kw": 0.9, "lifetime_months": 48}
B200 = {"name": "B200", "release_step": 2, "list_price_usd": 40000, "throughput_tokens_per_s": 3600,
        "power_kw": 1.3, "lifetime_months": 48}

A100_REL_H100 = (400 / 15000) / (1200 / 30000)
"""A100 tokens per dollar relative to the H100's: 2/3."""
A100_REL_B200 = (400 / 15000) / (3600 / 40000)
"""A100 tokens per dollar relative to the B200's: 8/27."""
H100_REL_B200 = (1200 / 30000) / (3600 / 40000)
"""H100 tokens per dollar relative to the B200's: 4/9."""


POWER_USD_PER_KWH = 0.08


def run_cost(gen: dict[str, Any]) -> float:
    """The reference buyer's running cost of one GPU-month: power at PUE 1, no opex."""
    return float(gen["power_kw"]) * 730.5 * POWER_USD_PER_KWH


def par(gen: dict[str, Any], newest: dict[str, Any]) -> float:
    """Par value of a month of ``gen``'s life next to ``newest`` bought new, $ per GPU-month."""
    new = newest["list_price_usd"] / newest["lifetime_months"] + run_cost(newest)
    return gen["throughput_tokens_per_s"] / newest["throughput_tokens_per_s"] * new - run_cost(gen)


def level_step(orders: float, inventory: float, u: float = 1000.0) -> float:
    return float(((orders + u) / (inventory / 6.0 + u)) ** 0.5)


def lot(generation: str, gpus: int, age: int = 0, region: str = "global") -> dict[str, Any]:
    return {"generation": generation, "region": region, "gpus": gpus, "age_months": age}


def provider(name: str, kind: str, fleet: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, "quality": "frontier" if kind == "hyperscaler" else "open",
            "cash_usd": 1e9, "fleet": fleet, "investment": {"strategy": "none"}, **extra}


def market(providers: list[dict[str, Any]], generations: list[dict[str, Any]], *, resellers: int = 1,
           agents: int = 20, demand: float = 5e4, steps: int = 4, **technology: Any) -> dict[str, Any]:
    return {
        "name": "hardware_market",
        "simulation": {"steps": steps},
        "logit": {"mu": 0.3, "utility_form": "log"},
        "outside_option": {"value": -1.0, "self_hosting": False},
        "technology": {"generations": generations, **technology},
        "regions": [{"name": "global", "latency_penalty": 0.0}],
        "segments": [{"name": "buyers", "n_agents": agents, "base_demand_mtok_per_month": demand}],
        "providers": providers,
        "resellers": [{"name": f"reseller_{k}", "buyer_pue": 1.0, "buyer_opex_usd_per_gpu_month": 0.0}
                      for k in range(resellers)],
    }


def events_of(model: InferenceMarket, *kinds: str) -> list[tuple[object, ...]]:
    return [(e["step"], e["event"], e["party"], e["counterparty"], e["generation"], e["units"])
            for e in model.events if e["event"] in kinds]


def lots_of(model: InferenceMarket, holder: int) -> list[tuple[int, int, int]]:
    """(generation, built step, GPUs) of a holder's non-empty lots, sorted."""
    ledger = model.ledger
    mine = (ledger.view("holder") == holder) & (ledger.view("count") > 0)
    return sorted(zip(ledger.view("generation")[mine].tolist(), ledger.view("built_step")[mine].tolist(),
                      ledger.view("count")[mine].tolist(), strict=True))


# ---------------------------------------------------------------------------------------------------------
# upgrade cycles: retire_age_months
# ---------------------------------------------------------------------------------------------------------


def test_gpus_older_than_the_upgrade_cycle_are_sold_to_resellers() -> None:
    """retire_age_months = 32. The A100 lot is 33 months old at month 0: retired then. The H100 lot built 30
    months before the start is older than 32 months from month 3 (age 33): retired then. The 10-month-old H100
    stay. Each sale is at the reseller's bid for an empty book of that generation (H100 is the newest): month 0:
    A100 with 15 months left, 0.85 * v_A100 * 15; month 3: H100 with 15 months left, 0.85 * 625 * 15."""
    specialist = provider("specialist", "specialized", [lot("A100", 20, 33), lot("H100", 50, 30), lot("H100", 40, 10)],
                          retire_age_months=32)
    model = InferenceMarket(scenario_from_dict(market([specialist], [A100, H100], steps=6)), seed=0)
    me = model.providers[0].holder_id
    for t in range(6):
        model.step()
        # No GPU the specialist still holds is older than the cycle.
        ledger = model.ledger
        mine = (ledger.view("holder") == me) & (ledger.view("count") > 0)
        assert (t - ledger.view("built_step")[mine] <= 32).all()
    retired = [e for e in model.events if e["event"] == "gpu_retired"]
    assert [(e["step"], e["party"], e["counterparty"], e["generation"], e["units"]) for e in retired] == [
        (0, "specialist", "reseller_0", "A100", 20), (3, "specialist", "reseller_0", "H100", 50)
    ]
    a100_bid = 0.85 * par(A100, H100) * 15
    h100_bid = 0.85 * 625.0 * 15
    assert [e["amount_usd"] for e in retired] == pytest.approx([20 * a100_bid, 50 * h100_bid], rel=1e-12)
    assert lots_of(model, me) == [(1, -10, 40)]
    reseller = model.resellers[0]
    assert lots_of(model, reseller.holder_id) == [(0, -33, 20), (1, -30, 50)]
    assert reseller.cash == pytest.approx(5e8 - 20 * a100_bid - 50 * h100_bid, rel=1e-15)


def test_without_an_upgrade_cycle_gpus_are_kept() -> None:
    specialist = provider("specialist", "specialized", [lot("A100", 20, 33), lot("H100", 50, 30)])
    model = InferenceMarket(scenario_from_dict(market([specialist], [A100, H100], steps=4)), seed=0)
    model.run()
    assert events_of(model, "gpu_retired", "gpu_sale") == []
    assert lots_of(model, 0) == [(0, -33, 20), (1, -30, 50)]


# ---------------------------------------------------------------------------------------------------------
# hyperscaler retirements on a release
# ---------------------------------------------------------------------------------------------------------


def retirement_market(generations: list[dict[str, Any]]) -> dict[str, Any]:
    """B200 is released in month 2. Two hyperscalers (one with A100 and H100 in two regions, one with H100 only)
    and a specialist with A100 and H100."""
    providers = [
        provider("cloud", "hyperscaler", [lot("A100", 120, 30, "na"), lot("A100", 30, 25, "eu"),
                                          lot("H100", 200, 3, "na")]),
        provider("young_cloud", "hyperscaler", [lot("H100", 100, 3, "na")]),
        provider("specialist", "specialized", [lot("A100", 40, 30, "na"), lot("H100", 50, 5, "na")]),
    ]
    scenario = market(providers, generations, steps=4)
    scenario["regions"] = [{"name": "na"}, {"name": "eu"}]
    return scenario


def test_a_hyperscaler_retires_its_oldest_generation_when_a_new_one_is_released() -> None:
    """In month 2 the cloud sells all 150 A100 (both regions) at the reseller's bid, the B200 the newest generation,
    each lot by its own life left: 120 built 30 months before the start (16 left), 30 built 25 before (21 left):
    0.85 * v_A100 * (120 * 16 + 30 * 21). It keeps its H100. The hyperscaler with one generation and the
    specialist retire nothing."""
    model = InferenceMarket(scenario_from_dict(retirement_market([A100, H100, B200])), seed=0)
    model.run()
    retired = [e for e in model.events if e["event"] == "gpu_retired"]
    assert [(e["step"], e["party"], e["generation"], e["units"]) for e in retired] == [(2, "cloud", "A100", 150)]
    assert retired[0]["amount_usd"] == pytest.approx(0.85 * par(A100, B200) * (120 * 16 + 30 * 21), rel=1e-12)
    held = model.ledger.units_by_holder_generation(len(model.holders))
    np.testing.assert_array_equal(held[:4], [[0, 200, 0], [0, 100, 0], [40, 50, 0], [150, 0, 0]])


def test_retirement_follows_release_dates_not_the_order_of_the_generation_list() -> None:
    """technology.generations may be listed in any order: listed newest first, the oldest generation the cloud
    holds is still the A100 (released at -40), and that is what it retires."""
    model = InferenceMarket(scenario_from_dict(retirement_market([B200, H100, A100])), seed=0)
    model.run()
    retired = [e for e in model.events if e["event"] == "gpu_retired"]
    assert [(e["step"], e["party"], e["generation"], e["units"]) for e in retired] == [(2, "cloud", "A100", 150)]


# ---------------------------------------------------------------------------------------------------------
# divestment, used purchases and secondary prices
# ---------------------------------------------------------------------------------------------------------


def test_divestment_sells_the_oldest_generation_first_and_at_most_the_monthly_cap() -> None:
    """A specialist with 20 A100 and 980 H100 and almost no demand sells 5% of its 1,000 GPUs a month
    (max_divest_per_month): 50 in month 0, the 20 A100 first, then 30 H100 from the older lot (built -20).
    Bids by each lot's life left: A100 (18 months) 0.85 * v_A100 * 18; H100 (28 months) 0.85 * 625 * 28."""
    specialist = provider("specialist", "specialized", [lot("A100", 20, 30), lot("H100", 480, 5), lot("H100", 500, 20)],
                          investment={"strategy": "utilization_target"})
    model = InferenceMarket(scenario_from_dict(market([specialist], [A100, H100], agents=2, demand=1.0)), seed=0)
    cash = model.providers[0].cash
    model.step()
    sales = [e for e in model.events if e["event"] == "gpu_sale"]
    assert [(e["party"], e["counterparty"], e["generation"], e["units"]) for e in sales] == [
        ("specialist", "reseller_0", "A100", 20), ("specialist", "reseller_0", "H100", 30)
    ]
    a100_bid = 0.85 * par(A100, H100) * 18
    h100_bid = 0.85 * 625.0 * 28
    assert [e["amount_usd"] for e in sales] == pytest.approx([20 * a100_bid, 30 * h100_bid], rel=1e-12)
    assert lots_of(model, 0) == [(1, -20, 470), (1, -5, 480)]
    s = model.settlement
    expected_cash = cash + s.revenue[0] - s.cash_cost[0] - s.interest[0] + 20 * a100_bid + 30 * h100_bid
    assert model.providers[0].cash == pytest.approx(expected_cash, rel=1e-12)
    # Month 1: it offers 5% of the 950 left, floor(47.5) = 47 H100, but the reseller holds H100s nobody ordered
    # (expected holding time: the whole lifetime), so it bids 0 and the specialist keeps them.
    model.step()
    assert [e["units"] for e in model.events if e["event"] == "gpu_sale" and e["step"] == 1] == []
    assert model.resellers[0].holding[1] == 48.0
    assert lots_of(model, 0) == [(1, -20, 470), (1, -5, 480)]


def used_market() -> dict[str, Any]:
    """The cloud retires 120 A100 when B200 arrives in month 2; a decentralized operator with 100 A100, busy and
    not buying new GPUs, buys used ones."""
    providers = [
        provider("cloud", "hyperscaler", [lot("A100", 120, 30), lot("H100", 200, 3)]),
        provider("swarm", "decentralized", [lot("A100", 100, 30)],
                 investment={"strategy": "utilization_target", "buy_new": False}),
    ]
    return market(providers, [A100, H100, B200], steps=4)


def test_used_gpus_are_priced_by_their_own_remaining_life_and_the_level_answers_orders() -> None:
    """Month 2: the cloud's 120 A100 (built 30 months before the start: 16 months left, not the 6 their
    generation's release date would give) go to the reseller at 0.85 * v_A100 * 16 (B200 newest, empty book);
    requoted at the month's level (1) at their mean life: v_A100 * 16, which the operator pays for what it buys.
    Month 3 opens with the stock left and the operator's order as buyers' orders: level
    sqrt((ordered + 1,000) / (stock/6 + 1,000)), quote v_A100 * level * 15."""
    model = InferenceMarket(scenario_from_dict(used_market()), seed=0)
    reseller = model.resellers[0]
    swarm = model.providers[1]
    model.run(2)
    np.testing.assert_allclose(model.secondary_quotes[0, :2], [par(A100, H100) * (48 - 41), 625.0 * (48 - 21)],
                               rtol=1e-12)  # nothing held: quoted at the life of a GPU built at release
    orders: list[float] = []
    life_seen: list[float] = []
    plan = swarm.plan_fleet

    def recording_plan(view: InvestmentView) -> FleetOrder:
        order = plan(view)
        orders.append(float(order.buy_used.sum()))
        life_seen.append(float(view.used_life_left[0]))
        return order

    swarm.plan_fleet = recording_plan  # type: ignore[method-assign]
    model.step()  # month 2
    month = [e for e in model.events if e["step"] == 2]
    retired = [e for e in month if e["event"] == "gpu_retired"]
    sold = [e for e in month if e["event"] == "gpu_sale"]
    assert [(e["party"], e["units"]) for e in retired] == [("cloud", 120)]
    assert life_seen == [16.0]  # the buyer sees the lot's own remaining life
    v = par(A100, B200)
    bid = 0.85 * v * 16
    assert retired[0]["amount_usd"] == pytest.approx(120 * bid, rel=1e-12)
    quote = v * 16
    assert model.secondary_quotes[0, 0] == pytest.approx(quote, rel=1e-12)  # recomputed before investment
    assert [(e["party"], e["counterparty"], e["generation"]) for e in sold] == [("reseller_0", "swarm", "A100")]
    bought = int(sold[0]["units"])  # type: ignore[call-overload]
    assert bought == min(orders[0], 120) > 0
    assert sold[0]["amount_usd"] == pytest.approx(bought * quote, rel=1e-12)
    assert reseller.cash == pytest.approx(5e8 - 120 * bid + bought * quote, rel=1e-12)
    held = model.ledger.units_by_holder_generation(len(model.holders))
    assert (held[swarm.holder_id, 0], held[reseller.holder_id, 0]) == (100 + bought, 120 - bought)

    # Month 3 opens with the stock left and the operator's month-2 order as the buyers' orders.
    assert reseller.last_orders.tolist() == [orders[0], 0.0, 0.0]
    opening: list[np.ndarray] = []
    invest = model.invest

    def probed_invest() -> None:
        opening.append(model.secondary_quotes.copy())  # quotes as the month opened
        invest()

    model.invest = probed_invest  # type: ignore[method-assign]
    model.step()
    stock = 120 - bought
    assert opening[0][0, 0] == pytest.approx(v * level_step(orders[0], stock) * 15, rel=1e-12)
    assert opening[0][0, 0] > v * level_step(0.0, stock) * 15  # orders raised it


def test_secondary_quotes_fall_with_age_month_by_month() -> None:
    """With an empty book and no orders, the H100 quote (for a GPU built at its release) is 625 * (28 - t) =
    30,000 * (1 - (t + 20)/48) in months 0 and 1 (H100 newest), then B200 arrives and it is v_H100 * (28 - t)."""
    model = InferenceMarket(scenario_from_dict(market([provider("c", "specialized", [lot("H100", 10)])],
                                                      [A100, H100, B200], steps=4)), seed=0)
    h100: list[float] = []
    for _ in range(4):
        model.step()
        h100.append(float(model.secondary_quotes[0, 1]))
    expected = [30000 * (1 - 20 / 48), 30000 * (1 - 21 / 48), par(H100, B200) * 26, par(H100, B200) * 25]
    np.testing.assert_allclose(h100, expected, rtol=1e-12)
    assert all(a > b for a, b in itertools.pairwise(h100))
    reported = model.recorder.frames()["gpu_market"]
    np.testing.assert_allclose(reported[reported["generation"] == "H100"]["secondary_price"], expected, rtol=1e-12)


# ---------------------------------------------------------------------------------------------------------
# vendor supply
# ---------------------------------------------------------------------------------------------------------


def test_allocate_supply_deepest_pockets_hand_example() -> None:
    """Orders 30, 50, 40 with priorities 2, 9, 5 and 100 units: the 9 gets 50, the 5 gets 40, the 2 the last 10."""
    np.testing.assert_array_equal(allocate_supply(np.array([30.0, 50.0, 40.0]), np.array([2.0, 9.0, 5.0]), 100.0),
                                  [10.0, 50.0, 40.0])
    np.testing.assert_array_equal(allocate_supply(np.array([30.0, 50.0, 40.0]), np.array([2.0, 9.0, 5.0]), 70.0),
                                  [0.0, 50.0, 20.0])


def test_allocate_supply_pro_rata_hand_example() -> None:
    """Orders 30, 50, 40 share 100 units: fraction 100/120, so floor(25), floor(41.67), floor(33.33) = 25, 41, 33
    whatever the priorities."""
    got = allocate_supply(np.array([30.0, 50.0, 40.0]), np.array([2.0, 9.0, 5.0]), 100.0, "pro_rata")
    np.testing.assert_array_equal(got, [25.0, 41.0, 33.0])


def test_allocate_supply_edges() -> None:
    orders, priority = np.array([3.0, 4.0]), np.array([1.0, 2.0])
    np.testing.assert_array_equal(allocate_supply(orders, priority, 7.0), [3.0, 4.0])  # exactly enough
    np.testing.assert_array_equal(allocate_supply(orders, priority, math.inf, "pro_rata"), [3.0, 4.0])
    np.testing.assert_array_equal(allocate_supply(orders, priority, 0.0), [0.0, 0.0])
    np.testing.assert_array_equal(allocate_supply(orders, priority, 0.0, "pro_rata"), [0.0, 0.0])
    with pytest.raises(ValueError, match="unknown vendor allocation rule 'auction'"):
        allocate_supply(orders, priority, 5.0, "auction")


def scarce_vendor_market(rule: str) -> dict[str, Any]:
    """Two busy specialists want more H100 than the vendor ships (40 a month). The poorer one is listed first."""
    growth = {"strategy": "utilization_target", "buy_used": False}
    markup = {"strategy": "cost_plus", "scarcity_floor": False}  # no scarcity windfall reorders their cash
    providers = [
        provider("poor", "specialized", [lot("H100", 200)], cash_usd=5e7, credit_limit_usd=0.0, investment=growth,
                 pricing=markup),
        provider("rich", "specialized", [lot("H100", 200)], cash_usd=1e9, credit_limit_usd=1e9, investment=growth,
                 pricing=markup),
    ]
    scenario = market(providers, [{**H100, "vendor_supply_per_month": 40}], agents=30, demand=1e6, steps=1,
                      vendor_allocation=rule)
    scenario["outside_option"]["value"] = -50.0
    return scenario


@pytest.mark.parametrize("rule", ["deepest_pockets", "pro_rata"])
def test_scarce_vendor_supply_in_the_model(rule: str) -> None:
    """With orders w_poor and w_rich (each above 20, 40 in all available): deepest pockets fills the rich one
    first, min(w_rich, 40), the poor one gets the rest; pro rata gives each floor(w * 40 / (w_poor + w_rich))."""
    model = InferenceMarket(scenario_from_dict(scarce_vendor_market(rule)), seed=0)
    wanted: dict[str, float] = {}
    for p in model.providers:
        plan = p.plan_fleet

        def recording_plan(view: InvestmentView, plan: Any = plan, name: str = p.name) -> FleetOrder:
            order = plan(view)
            wanted[name] = float(order.buy_new.sum())
            return order

        p.plan_fleet = recording_plan  # type: ignore[method-assign]
    model.step()
    w_poor, w_rich = wanted["poor"], wanted["rich"]
    assert w_poor > 20 and w_rich > 20  # supply binds
    if rule == "deepest_pockets":
        expected = {"rich": min(w_rich, 40.0), "poor": max(40.0 - w_rich, 0.0)}
    else:
        expected = {name: math.floor(w * 40 / (w_poor + w_rich)) for name, w in wanted.items()}
    bought = {name: 0 for name in wanted}
    for e in model.events:
        if e["event"] == "gpu_purchase":
            assert (e["detail"], e["generation"]) == ("vendor", "H100")
            assert e["amount_usd"] == 30000.0 * int(e["units"])  # type: ignore[call-overload]
            bought[str(e["party"])] += int(e["units"])  # type: ignore[call-overload]
    assert bought == expected
    assert sum(bought.values()) <= 40
    np.testing.assert_array_equal(model.ledger.produced, [400 + sum(bought.values())])
