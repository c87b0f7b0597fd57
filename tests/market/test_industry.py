"""Corporate events in whole models (market/corporate.py, market/model.py): merger control of proposed
acquisitions, acquisitions, bankruptcy and liquidation, entry, and the events table of a run.

The merger scenarios are markets whose revenue shares are set by hand. Every provider has unit cost 1, unlimited
capacity and prices at cost + 50% (1.5 $/Mtok); buyers are identical, with linear utility ``q - p``, logit scale
``mu`` and an outside option of utility -50 that nobody takes. A provider of quality ``2 + mu ln(w / 100)`` then
has demand share ``w / sum(w)`` exactly (the logit weights are ``e^2 w / 100``), so with weights summing to 100
the shares in percent are the weights, and monthly revenue is ``volume * 1.5 * w / 100``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from experiments.run import run_scenario, write_run
from market.config.files import ConfigError, apply_overrides, read_toml, scenario_from_dict
from market.metrics import hhi
from market.model import InferenceMarket

REPO_ROOT = Path(__file__).resolve().parents[2]
BASELINE = REPO_ROOT / "experiments" / "configs" / "baseline.toml"

MU = 0.25
PRICE = 1.5
AGENTS = 10
DEMAND = 100.0
VOLUME = AGENTS * DEMAND
"""Mtok bought every month in the single-region merger markets."""


def deal_price(share_percent: float, volume: float = VOLUME, cash: float = 0.0, distressed: bool = False) -> float:
    """What the acquirer pays at month 0 for a target with this revenue share and starting cash, by hand (ODD
    7.11, default deal terms).

    Target revenue R = volume * 1.5 * share; cash cost = tokens * 1 = R / 1.5; gross profit G = 12 R / 3 = 4 R a
    year; no fleet, so enterprise value = G * gross_profit_multiple (3) = 12 R; net cash at the deal = starting
    cash + the month's R / 3; price = (12 R + net cash) * (1 + premium (0.2)) * (0.5 if distressed): with no
    starting cash 14.8 R.
    """
    revenue = volume * PRICE * share_percent / 100.0
    equity = 12.0 * (revenue - revenue / PRICE) * 3.0 + cash + revenue / 3.0
    return max(equity, 0.0) * 1.2 * (0.5 if distressed else 1.0)


def firm(name: str, kind: str, weight: float, regions: tuple[str, ...] = ("global",), **extra: Any) -> dict[str, Any]:
    """A fixed-cost firm with demand share ``weight`` %; hyperscalers start with 1e9 of cash, others with none."""
    return {"name": name, "kind": kind, "regions": list(regions), "quality": 2.0 + MU * math.log(weight / 100.0),
            "unit_cost_usd_per_mtok": 1.0, "capacity_mtok_per_month": math.inf,
            "cash_usd": 1e9 if kind == "hyperscaler" else 0.0,
            "pricing": {"strategy": "cost_plus", "markup": PRICE - 1.0}, "investment": {"strategy": "none"},
            **extra}


def merger_market(firms: list[dict[str, Any]], *, policy: str = "hhi_2023", small: float = 0.12,
                  steps: int = 3, **antitrust: Any) -> dict[str, Any]:
    """A one-region market of fixed-cost firms where hyperscalers may buy small specialists (deal_probability 1)."""
    return {
        "name": "merger_market",
        "simulation": {"steps": steps, "rationing_rounds": 0},
        "logit": {"mu": MU, "utility_form": "linear"},
        "outside_option": {"value": -50.0, "self_hosting": False},
        "regions": [{"name": "global", "latency_penalty": 0.0}],
        "segments": [{"name": "buyers", "n_agents": AGENTS, "base_demand_mtok_per_month": DEMAND,
                      "demand_dispersion": 0.0, "price_elasticity": 0.0}],
        "providers": firms,
        "corporate": {"acquisitions": {"enabled": True, "deal_probability": 1.0, "small_share_threshold": small},
                      "antitrust": {"policy": policy, **antitrust}},
    }


def five_firm_market(**kwargs: Any) -> dict[str, Any]:
    """Shares 30 (the hyperscaler) / 25 / 20 / 15 / 10 (the target, the only one below the 12% threshold)."""
    firms = [firm("cloud", "hyperscaler", 30), firm("b", "specialized", 25), firm("c", "specialized", 20),
             firm("d", "specialized", 15), firm("target", "specialized", 10)]
    return merger_market(firms, **kwargs)


def corporate_events(model: InferenceMarket) -> list[dict[str, object]]:
    return [e for e in model.events if e["event"] in ("acquisition", "merger_blocked", "entry", "exit")]


def run(scenario: dict[str, Any], seed: int = 0) -> InferenceMarket:
    model = InferenceMarket(scenario_from_dict(scenario), seed=seed)
    model.run()
    return model


# ---------------------------------------------------------------------------------------------------------
# merger control in the model
# ---------------------------------------------------------------------------------------------------------


def test_the_2023_rule_blocks_the_leader_buying_a_small_specialist() -> None:
    """30 buying 10 of 30/25/20/15/10: HHI 2,250 -> 2,850 (+600) is blocked. The event carries the price the
    hyperscaler offered (14.8 x 150 = 2,220) and the HHIs; nothing changes hands, the target stays independent."""
    model = run(five_firm_market(steps=3))
    events = corporate_events(model)
    assert [(e["step"], e["event"], e["party"], e["counterparty"]) for e in events] == [
        (0, "merger_blocked", "cloud", "target")
    ]
    blocked = events[0]
    assert blocked["amount_usd"] == pytest.approx(deal_price(10.0), rel=1e-9)
    detail = json.loads(str(blocked["detail"]))
    assert detail["policy"] == "hhi_2023"
    assert detail["pre_hhi"] == pytest.approx(2250.0, abs=1e-3)
    assert detail["post_hhi"] == pytest.approx(2850.0, abs=1e-3)
    assert detail["delta_hhi"] == pytest.approx(600.0, abs=1e-3)
    # The default relevant market is the segment in the region; here the one market both parties sell in.
    assert (detail["market"], detail["markets_reviewed"], detail["reason"]) == ("buyers/global", 1, "hhi")
    assert detail["merged_share"] == pytest.approx(0.4, abs=1e-9)

    frames = model.recorder.frames()
    providers = frames["providers"]
    assert (providers["owner"] == providers["provider"]).all()
    np.testing.assert_allclose(frames["model"]["hhi"], 2250.0, rtol=1e-9)
    assert frames["model"]["cumulative_blocked_mergers"].tolist() == [1, 1, 1]
    assert frames["model"]["cumulative_acquisitions"].tolist() == [0, 0, 0]
    # The cloud keeps its cash: 1e9 plus 3 months of 1,000 * 0.3 * (1.5 - 1) = 150.
    assert model.providers[0].cash == pytest.approx(1e9 + 3 * 150.0, rel=1e-15)


def test_a_blocked_deal_starts_the_acquirers_cooldown() -> None:
    """With the default cooldown of 6 months the blocked proposal is repeated at months 0, 6 and 12 only."""
    model = run(five_firm_market(steps=13))
    assert [e["step"] for e in corporate_events(model)] == [0, 6, 12]
    assert {e["event"] for e in corporate_events(model)} == {"merger_blocked"}


def test_without_merger_control_the_acquisition_goes_through() -> None:
    """Policy 'none' on the same market: an acquisition at month 0 for 2,220. The target's owner becomes the
    cloud in providers.parquet; HHI by ultimate owner is 2,250 at month 0 (offers were posted before the deal)
    and 40^2 + 25^2 + 20^2 + 15^2 = 2,850 afterwards. The cloud's treasury absorbs the target's cash."""
    model = run(five_firm_market(policy="none", steps=3))
    events = corporate_events(model)
    assert [(e["step"], e["event"], e["party"], e["counterparty"]) for e in events] == [
        (0, "acquisition", "cloud", "target")
    ]
    assert events[0]["amount_usd"] == pytest.approx(deal_price(10.0), rel=1e-9)
    detail = json.loads(str(events[0]["detail"]))
    assert (detail["policy"], detail["pre_hhi"], detail["post_hhi"]) == ("none", 2250.0, 2850.0)

    frames = model.recorder.frames()
    p = frames["providers"]
    owners = p.pivot(index="step", columns="provider", values="owner")
    assert owners["target"].tolist() == ["cloud"] * 3
    assert owners["b"].tolist() == ["b"] * 3
    np.testing.assert_allclose(frames["model"]["hhi"], [2250.0, 2850.0, 2850.0], rtol=1e-9)
    # HHI recomputed from the provider table by owner: the target no longer counts as a separate firm.
    last = p[p["step"] == 2]
    assert hhi(last["revenue"].to_numpy(), last["owner"].to_numpy()) == pytest.approx(2850.0, rel=1e-9)
    assert hhi(last["revenue"].to_numpy()) == pytest.approx(2250.0, rel=1e-9)

    cloud, target = model.providers[0], model.providers[4]
    assert target.parent is cloud and target._cash == 0.0
    # Cloud: 1e9 + 3 x 150 own gross cash flow; target: 0 + 3 x 50 (its first 50 came with it); minus the price.
    assert cloud.cash == pytest.approx(1e9 + 3 * 150.0 + 3 * 50.0 - deal_price(10.0), rel=1e-15)
    assert target.cash == cloud.cash


def test_the_2023_rule_allows_a_small_deal_in_an_unconcentrated_market() -> None:
    """A 5% hyperscaler buys a 3% specialist beside eight specialists of 11.5%: HHI 1,092 -> 1,122 (+30)."""
    firms = [firm("cloud", "hyperscaler", 5), firm("target", "specialized", 3)]
    firms += [firm(f"rival_{k}", "specialized", 11.5) for k in range(8)]
    model = run(merger_market(firms, small=0.04, steps=2))
    events = corporate_events(model)
    assert [(e["step"], e["event"], e["party"], e["counterparty"]) for e in events] == [
        (0, "acquisition", "cloud", "target")
    ]
    detail = json.loads(str(events[0]["detail"]))
    assert detail["pre_hhi"] == pytest.approx(1092.0, abs=1e-3)
    assert detail["post_hhi"] == pytest.approx(1122.0, abs=1e-3)
    assert events[0]["amount_usd"] == pytest.approx(deal_price(3.0), rel=1e-9)
    np.testing.assert_allclose(model.recorder.frames()["model"]["hhi"], [1092.0, 1122.0], rtol=1e-9)


@pytest.mark.parametrize(
    ("antitrust", "expected"),
    [
        ({"policy": "hhi_2023"}, "merger_blocked"),  # 2,128 > 1,800 and 320 > 100
        ({"policy": "hhi_2010"}, "acquisition"),  # 2,128 <= 2,500
        ({"policy": "custom", "post_merger_hhi": 2000.0, "hhi_delta": 300.0}, "merger_blocked"),
        ({"policy": "custom", "post_merger_hhi": 2000.0, "hhi_delta": 320.5}, "acquisition"),
        ({"policy": "custom", "post_merger_hhi": 2128.5, "hhi_delta": 300.0}, "acquisition"),
        ({"policy": "none"}, "acquisition"),
    ],
)
def test_each_policy_in_the_model(antitrust: dict[str, Any], expected: str) -> None:
    """Shares 20 (hyperscaler) / 20 / 20 / 20 / 12 / 8 (target): pre = 4 x 400 + 144 + 64 = 1,808;
    post = 28^2 + 3 x 400 + 144 = 2,128; change = 2 x 20 x 8 = 320."""
    firms = [firm("cloud", "hyperscaler", 20), firm("b", "specialized", 20), firm("c", "specialized", 20),
             firm("d", "specialized", 20), firm("e", "specialized", 12), firm("target", "specialized", 8)]
    policy = antitrust.pop("policy")
    model = run(merger_market(firms, policy=policy, small=0.1, steps=1, **antitrust))
    events = corporate_events(model)
    assert [(e["event"], e["party"], e["counterparty"]) for e in events] == [(expected, "cloud", "target")]
    detail = json.loads(str(events[0]["detail"]))
    assert (detail["pre_hhi"], detail["post_hhi"], detail["delta_hhi"]) == (1808.0, 2128.0, 320.0)
    assert detail["policy"] == policy


def regional_market(scope: str) -> dict[str, Any]:
    """Two regions whose buyers must buy locally (residency strictness 1, propensity 1).

    eu (20% of buyers): cloud 30, target 10, eu_a 35, eu_b 25 -> the merger takes eu's HHI from 2,850 to 3,450.
    na (80%): cloud 10, three na firms of 30 -> the target sells nothing there.
    Globally the target is small (about 2%) and the cloud about 14%, so the global change is far below 100.
    """
    firms = [
        firm("cloud", "hyperscaler", 30, ("na", "eu")),
        firm("target", "specialized", 10, ("eu",)),
        firm("eu_a", "specialized", 35, ("eu",)),
        firm("eu_b", "specialized", 25, ("eu",)),
    ] + [firm(f"na_{k}", "specialized", 90, ("na",)) for k in range(3)]
    scenario = merger_market(firms, small=0.035, steps=2, scope=scope)
    scenario["regions"] = [
        {"name": "na", "demand_share": 0.8, "residency_strictness": 1.0},
        {"name": "eu", "demand_share": 0.2, "residency_strictness": 1.0},
    ]
    scenario["segments"][0].update(n_agents=50, residency_propensity=1.0)
    return scenario


def test_regional_merger_control_blocks_when_one_region_fails() -> None:
    """The same deal is allowed on the whole market and blocked on the eu market (the worst region's HHIs are
    reported). Global HHIs are recomputed by hand from the number of buyers in each region."""
    outcomes = {}
    for scope in ("global", "regional"):
        model = run(regional_market(scope))
        outcomes[scope] = (model, corporate_events(model))
    model, _ = outcomes["global"]
    n_na = int((model.population.region == 0).sum())
    n_eu = int((model.population.region == 1).sum())
    assert n_na + n_eu == 50 and n_eu > 0
    unit = DEMAND * PRICE  # revenue of one buyer's month
    revenue = {"cloud": unit * (0.1 * n_na + 0.3 * n_eu), "target": unit * 0.1 * n_eu,
               "eu_a": unit * 0.35 * n_eu, "eu_b": unit * 0.25 * n_eu,
               **{f"na_{k}": unit * 0.3 * n_na for k in range(3)}}
    total = sum(revenue.values())
    shares = {k: 100.0 * v / total for k, v in revenue.items()}
    # Preconditions of the scenario: the target is the only small firm, the global test passes.
    assert [k for k, s in shares.items() if s < 3.5] == ["target"]
    pre = sum(s * s for s in shares.values())
    post = pre + 2.0 * shares["cloud"] * shares["target"]
    assert post - pre < 100.0

    _, global_events = outcomes["global"]
    assert [(e["event"], e["party"], e["counterparty"]) for e in global_events] == [
        ("acquisition", "cloud", "target")
    ]
    detail = json.loads(str(global_events[0]["detail"]))
    assert detail["pre_hhi"] == pytest.approx(pre, abs=1e-3)
    assert detail["post_hhi"] == pytest.approx(post, abs=1e-3)

    regional_model, regional_events = outcomes["regional"]
    assert [(e["event"], e["party"], e["counterparty"]) for e in regional_events] == [
        ("merger_blocked", "cloud", "target")
    ]
    detail = json.loads(str(regional_events[0]["detail"]))
    assert detail["pre_hhi"] == pytest.approx(2850.0, abs=1e-3)
    assert detail["post_hhi"] == pytest.approx(3450.0, abs=1e-3)
    # The regional HHI columns: eu 900 + 100 + 1,225 + 625 = 2,850; na 100 + 3 x 900 = 2,800.
    m = regional_model.recorder.frames()["model"]
    np.testing.assert_allclose(m["hhi_eu"], 2850.0, rtol=1e-9)
    np.testing.assert_allclose(m["hhi_na"], 2800.0, rtol=1e-9)
    # After the allowed deal, eu's HHI counts cloud and target as one firm: 40^2 + 35^2 + 25^2 = 3,450.
    g = model.recorder.frames()["model"]
    np.testing.assert_allclose(g["hhi_eu"], [2850.0, 3450.0], rtol=1e-9)
    np.testing.assert_allclose(g["hhi_na"], [2800.0, 2800.0], rtol=1e-9)


def test_a_distressed_target_is_bought_at_a_discount_whatever_its_size() -> None:
    """A 40% specialist with negative cash is a target (distressed) although not small. R = 600: enterprise value
    12 x 600 = 7,200, net cash -1,000 + 200 = -800, price (7,200 - 800) x 1.2 x 0.5 = 3,840 (its debt lowers the
    price). Its debt joins the cloud's treasury."""
    firms = [firm("cloud", "hyperscaler", 60), firm("target", "specialized", 40, cash_usd=-1e3,
                                                     credit_limit_usd=1e6, cost_of_capital_per_year=0.0)]
    model = run(merger_market(firms, policy="none", small=0.05, steps=1))
    events = corporate_events(model)
    assert [(e["event"], e["counterparty"]) for e in events] == [("acquisition", "target")]
    assert events[0]["amount_usd"] == pytest.approx(3840.0, rel=1e-12)
    assert deal_price(40.0, cash=-1e3, distressed=True) == pytest.approx(3840.0, rel=1e-12)
    # Cloud: 1e9 + 1,000 x 0.6 x 0.5; target: -1e3 + 1,000 x 0.4 x 0.5; minus the price.
    assert model.providers[0].cash == pytest.approx(1e9 + 300.0 - 1e3 + 200.0 - 3840.0, rel=1e-15)


def test_a_target_whose_debt_exceeds_its_business_is_not_bought() -> None:
    """The same target with cash -1e4: net cash -9,800 exceeds its enterprise value 7,200, so the equity is
    worth nothing (price 0) and the value to the cloud, 7,200 x 1.3 - 9,800 = -440, is negative: no deal."""
    firms = [firm("cloud", "hyperscaler", 60), firm("target", "specialized", 40, cash_usd=-1e4,
                                                     credit_limit_usd=1e6, cost_of_capital_per_year=0.0)]
    assert corporate_events(run(merger_market(firms, policy="none", small=0.05, steps=1))) == []


def test_a_cash_rich_target_costs_its_cash_and_is_not_bought() -> None:
    """The 10% target of the five-firm market holding 1e6 of cash (the audit's entrant holding $260M bought for a
    multiple of its profit): price (1,800 + 1,000,050) x 1.2 would exceed its value 1,800 x 1.3 + 1,000,050 by
    0.2 x 1,000,050 - 0.1 x 1,800: no deal. With 100 of cash the deal pays: price (1,800 + 150) x 1.2 = 2,340."""
    rich = five_firm_market(policy="none", steps=1)
    rich["providers"][4]["cash_usd"] = 1e6
    assert corporate_events(run(rich)) == []
    modest = five_firm_market(policy="none", steps=1)
    modest["providers"][4]["cash_usd"] = 100.0
    events = corporate_events(run(modest))
    assert [e["event"] for e in events] == ["acquisition"]
    assert events[0]["amount_usd"] == pytest.approx(2340.0, rel=1e-12)
    assert deal_price(10.0, cash=100.0) == pytest.approx(2340.0, rel=1e-12)


@pytest.mark.parametrize(
    ("acquisitions", "why"),
    [
        ({"premium": 0.3, "synergy": 0.3}, "the premium on net cash makes value < price: the deal does not pay"),
        ({"acquirer_kinds": ["decentralized"]}, "no acquirer of that kind"),
        ({"target_kinds": ["decentralized"]}, "no target of that kind"),
        ({"small_share_threshold": 0.1}, "10% is not below a 10% threshold"),
        ({"deal_probability": 0.0}, "the deal is never proposed"),
        ({"enabled": False}, "acquisitions are off"),
    ],
)
def test_no_deal_is_proposed(acquisitions: dict[str, Any], why: str) -> None:
    scenario = five_firm_market(policy="none", steps=2)
    scenario["corporate"]["acquisitions"].update(acquisitions)
    assert corporate_events(run(scenario)) == [], why


def test_an_acquirer_that_cannot_afford_the_price_does_not_bid() -> None:
    """The price is 2,220; cash 1,000 + credit 1,200 = 2,200 does not cover it, credit 1,300 does."""
    for credit, expected in ((1200.0, []), (1300.0, ["acquisition"])):
        scenario = five_firm_market(policy="none", steps=1)
        scenario["providers"][0].update(cash_usd=1000.0 - 150.0, credit_limit_usd=credit)
        assert [e["event"] for e in corporate_events(run(scenario))] == expected, credit


# ---------------------------------------------------------------------------------------------------------
# bankruptcy and liquidation
# ---------------------------------------------------------------------------------------------------------

GENERATIONS = [
    {"name": "A100", "release_step": -40, "list_price_usd": 15000, "throughput_tokens_per_s": 400,
     "power_kw": 0.55, "lifetime_months": 48},
    {"name": "H100", "release_step": -20, "list_price_usd": 30000, "throughput_tokens_per_s": 1200,
     "power_kw": 0.9, "lifetime_months": 48},
]


def bankruptcy_market(*, resellers: int = 1, exit_after: int = 3) -> dict[str, Any]:
    """A cheap, efficient specialist born deep in debt (cash -1e9, credit limit 1e6, no interest), beside a
    well-funded hyperscaler. Demand is small, so every buyer's main provider is the cheaper specialist."""
    return {
        "name": "bankruptcy",
        "simulation": {"steps": 5},
        "logit": {"mu": 0.3, "utility_form": "log"},
        "outside_option": {"value": -1.0, "self_hosting": False},
        "technology": {"generations": GENERATIONS},
        "regions": [{"name": "global", "latency_penalty": 0.0}],
        "segments": [{"name": "buyers", "n_agents": 20, "base_demand_mtok_per_month": 1000.0}],
        "providers": [
            {"name": "cloud", "kind": "hyperscaler", "quality": "frontier", "cash_usd": 1e10,
             "fleet": [{"generation": "H100", "region": "global", "gpus": 200, "age_months": 3}],
             "investment": {"strategy": "none"}},
            {"name": "doomed", "kind": "specialized", "cash_usd": -1e9, "credit_limit_usd": 1e6,
             "cost_of_capital_per_year": 0.0, "serving_efficiency": 1.5,
             "fleet": [{"generation": "A100", "region": "global", "gpus": 20, "age_months": 10},
                       {"generation": "H100", "region": "global", "gpus": 30, "age_months": 5},
                       {"generation": "H100", "region": "global", "gpus": 15, "age_months": 1}],
             "investment": {"strategy": "none"}},
        ],
        "resellers": [{"name": f"reseller_{k}", "buyer_pue": 1.0, "buyer_opex_usd_per_gpu_month": 0.0}
                      for k in range(resellers)],
        "corporate": {"exit_after_months": exit_after},
    }


def test_a_bankrupt_providers_gpus_all_go_to_resellers() -> None:
    """Cash stays below -credit_limit in months 0, 1 and 2, so the specialist exits in month 2 (exit after 3
    months). All 65 GPUs move to the reseller at its bid for an empty book, 0.85 * v_g * L per lot (ODD 7.10; H100
    the newest generation, the reference buyer at PUE 1, no opex, $0.08/kWh): months of life left in month 2 are
    A100 48 - 10 - 2 = 36; H100 41 (30 GPUs) and 45 (15 GPUs). v_H100 = 30,000/48 = 625;
    v_A100 = 400/1,200 * (625 + 0.9 * 730.5 * 0.08) - 0.55 * 730.5 * 0.08 = 194.78."""
    model = InferenceMarket(scenario_from_dict(bankruptcy_market()), seed=0)
    doomed = model.providers[1]
    reseller = model.resellers[0]
    model.step()
    model.step()
    assert doomed.active and doomed.months_distressed == 2
    customers = model.population.incumbent_provider == doomed.holder_id
    assert customers.sum() > 0  # it has customers to release
    held_before = model.ledger.units_by_holder_generation(len(model.holders))
    np.testing.assert_array_equal(held_before[doomed.holder_id], [20, 45])
    np.testing.assert_array_equal(held_before[reseller.holder_id], [0, 0])
    cash_before_exit_step = doomed.cash

    model.step()  # month 2
    assert not doomed.active
    month = [e for e in model.events if e["step"] == 2]
    liquidations = [e for e in month if e["event"] == "gpu_liquidation"]
    assert [(e["party"], e["counterparty"], e["generation"], e["units"]) for e in liquidations] == [
        ("doomed", "reseller_0", "A100", 20), ("doomed", "reseller_0", "H100", 45)
    ]
    v_a100 = (625 + 0.9 * 730.5 * 0.08) / 3 - 0.55 * 730.5 * 0.08
    a100, h100 = 0.85 * v_a100 * 36 * 20, 0.85 * 625 * (30 * 41 + 15 * 45)
    assert [e["amount_usd"] for e in liquidations] == pytest.approx([a100, h100], rel=1e-12)
    exits = [e for e in month if e["event"] == "exit"]
    assert len(exits) == 1 and exits[0]["party"] == "doomed"
    detail = json.loads(str(exits[0]["detail"]))
    assert (detail["reason"], detail["gpus_liquidated"]) == ("bankrupt", 65)
    assert exits[0]["amount_usd"] == doomed.cash
    proceeds = a100 + h100
    revenue, cash_cost = model.settlement.revenue[1], model.settlement.cash_cost[1]
    assert doomed.cash == pytest.approx(cash_before_exit_step + revenue - cash_cost + proceeds, rel=1e-12)

    held = model.ledger.units_by_holder_generation(len(model.holders))
    np.testing.assert_array_equal(held[doomed.holder_id], [0, 0])
    np.testing.assert_array_equal(held[reseller.holder_id], [20, 45])
    np.testing.assert_array_equal(held[0], held_before[0])  # the cloud's fleet is untouched
    # The lots keep their vintages: built 10, 5 and 1 months before the start.
    lots = (model.ledger.view("holder") == reseller.holder_id) & (model.ledger.view("count") > 0)
    built = sorted(zip(model.ledger.view("built_step")[lots].tolist(), model.ledger.view("count")[lots].tolist(),
                       strict=True))
    assert built == [(-10, 20), (-5, 30), (-1, 15)]
    assert not (model.population.incumbent_provider == doomed.holder_id).any()

    model.step()
    model.step()
    assert model.offers is not None
    assert doomed.holder_id not in model.offers.holder.tolist()
    assert not (model.population.incumbent_provider == doomed.holder_id).any()
    p = model.recorder.frames()["providers"]
    gone = p[(p["provider"] == "doomed") & (p["step"] >= 2)]
    assert gone["active"].tolist() == [False] * 3
    assert gone[gone["step"] > 2][["revenue", "tokens_served"]].to_numpy().tolist() == [[0.0, 0.0]] * 2
    assert gone["fleet_gpus"].tolist() == [0.0] * 3
    assert [e["event"] for e in model.events if e["party"] == "doomed" and e["step"] > 2] == []


def test_bankruptcy_without_resellers_scraps_the_fleet() -> None:
    model = InferenceMarket(scenario_from_dict(bankruptcy_market(resellers=0, exit_after=1)), seed=0)
    model.step()
    scrapped = [e for e in model.events if e["event"] == "gpu_scrapped"]
    assert [(e["party"], e["generation"], e["units"], e["amount_usd"]) for e in scrapped] == [
        ("doomed", "A100", 20, 0.0), ("doomed", "H100", 45, 0.0)
    ]
    np.testing.assert_array_equal(model.ledger.scrapped_by_generation(), [20, 45])
    assert [e["event"] for e in corporate_events(model)] == ["exit"]


def test_a_provider_recovering_within_the_grace_period_survives() -> None:
    """Cash below -credit_limit for two months, then a loan lifts it above: the count restarts, no exit."""
    model = InferenceMarket(scenario_from_dict(bankruptcy_market()), seed=0)
    doomed = model.providers[1]
    model.step()
    model.step()
    assert doomed.months_distressed == 2
    doomed.cash += 2e9
    model.step()
    model.step()
    assert doomed.active and doomed.months_distressed == 0
    assert corporate_events(model) == []


def test_a_provider_without_gpus_exits_for_lack_of_capacity() -> None:
    """A specialist whose only lot has no GPU serves nothing; after exit_after_months (3) of that it exits with
    reason 'no capacity', liquidating nothing."""
    scenario = bankruptcy_market()
    scenario["providers"][1].update(cash_usd=1e9, fleet=[{"generation": "H100", "region": "global", "gpus": 0}])
    model = run(scenario)
    events = corporate_events(model)
    assert [(e["step"], e["event"], e["party"]) for e in events] == [(2, "exit", "doomed")]
    detail = json.loads(str(events[0]["detail"]))
    assert (detail["reason"], detail["gpus_liquidated"]) == ("no capacity", 0)


def test_a_provider_whose_gpus_reach_end_of_life_exits_for_lack_of_capacity() -> None:
    """A specialist with 10 H100 built 46 months ago (lifetime 48) loses them at the start of month 2; it has
    served nothing and held nothing in months 2, 3 and 4, so it exits in month 4."""
    scenario = bankruptcy_market()
    scenario["simulation"]["steps"] = 6
    scenario["providers"][1].update(cash_usd=1e9,
                                    fleet=[{"generation": "H100", "region": "global", "gpus": 10, "age_months": 46}])
    model = run(scenario)
    events = corporate_events(model)
    assert [(e["step"], e["event"], e["party"]) for e in events] == [(4, "exit", "doomed")]
    assert json.loads(str(events[0]["detail"]))["reason"] == "no capacity"
    scrapped = [e for e in model.events if e["event"] == "gpu_scrapped"]
    assert [(e["step"], e["units"]) for e in scrapped] == [(2, 10)]


# ---------------------------------------------------------------------------------------------------------
# entry
# ---------------------------------------------------------------------------------------------------------


SUNK = 2e3
"""Sunk cost of the entry markets' entrants, $."""
ANNUITY_24_AT_10 = (1.0 - (1.0 + 0.1 / 12.0) ** -24) / (0.1 / 12.0)
"""Present value of $1 a month for 24 months at 10% a year (the default payback horizon and cost of capital):
21.6709..."""


def entry_market(threshold: float, *, steps: int = 12, lookback: int = 3, cooldown: int = 4,
                 max_entries: int = 2, kind: str = "specialized", sunk: float = SUNK) -> dict[str, Any]:
    """Two specialists pricing at twice their unit cost: their margin is (2c - c) / 2c = 0.5 every month, and
    together they earn 1,000 Mtok x (2 - 1) = 1,000 $ a month. Capacity is unlimited, so an entrant expects an
    equal share of that pool: 1,000 / 3 x 21.67 = 7,223.6 $ over 24 months with two incumbents, 1,000 / 4 x
    21.67 = 5,417.7 $ with three."""
    incumbents = [firm(f"incumbent_{k}", "specialized", 50, pricing={"strategy": "cost_plus", "markup": 1.0})
                  for k in range(2)]
    entrant_provider = firm("newcomer", kind, 50, cash_usd=1e6, pricing={"strategy": "cost_plus", "markup": 1.0})
    scenario = merger_market(incumbents, steps=steps)
    scenario["corporate"] = {"entrants": [{
        "name": "newcomer", "margin_threshold": threshold, "lookback_months": lookback, "sunk_cost_usd": sunk,
        "cooldown_months": cooldown, "max_entries": max_entries, "provider": entrant_provider,
    }]}
    return scenario


@pytest.mark.parametrize(("threshold", "entry_steps"), [(0.4, [2, 6]), (0.5, []), (0.6, [])])
def test_entry_happens_only_when_the_incumbents_margin_exceeds_the_threshold(
    threshold: float, entry_steps: list[int]
) -> None:
    """Margin 0.5 over a 3-month lookback: the first full lookback is months 0-2, so a firm enters in month 2,
    another after the 4-month cooldown in month 6, and no more (max_entries 2). A threshold of 0.5 is not
    exceeded by a margin of 0.5."""
    model = run(entry_market(threshold))
    entries = [e for e in model.events if e["event"] == "entry"]
    assert [e["step"] for e in entries] == entry_steps
    assert [e["party"] for e in entries] == [f"newcomer_{k + 1}" for k in range(len(entry_steps))]
    for e in entries:
        assert e["amount_usd"] == SUNK
    values = [json.loads(str(e["detail"])).pop("expected_value_usd") for e in entries]
    np.testing.assert_allclose(values, [1000.0 / (3 + k) * ANNUITY_24_AT_10 for k in range(len(entries))],
                               atol=0.005)  # rounded to cents in the event
    for e in entries:
        detail = json.loads(str(e["detail"]))
        assert (detail["incumbent_margin"], detail["kind"]) == (0.5, "specialized")
    m = model.recorder.frames()["model"]
    assert m["cumulative_entries"].tolist() == [sum(s <= t for s in entry_steps) for t in range(12)]
    assert m["n_active_providers"].tolist() == [2 + sum(s <= t for s in entry_steps) for t in range(12)]


@pytest.mark.parametrize(("sunk", "entry_steps"), [(5000.0, [2, 6]), (7223.0, [2]), (7224.0, [])])
def test_entry_stops_when_the_expected_profit_no_longer_covers_the_sunk_cost(sunk: float,
                                                                            entry_steps: list[int]) -> None:
    """Margins signal entry (0.5 > 0.4) and the cap allows two entrants; the present value of the expected profit
    decides: 7,223.6 with two incumbents and 5,417.7 with three (entry_market). A sunk cost of 5,000 lets both
    in (months 2 and 6), 7,223 only the first (the second would expect 5,417.7 < 7,223), 7,224 none."""
    model = run(entry_market(0.4, sunk=sunk))
    assert [e["step"] for e in model.events if e["event"] == "entry"] == entry_steps


def test_an_entrant_pays_the_sunk_cost_and_then_competes() -> None:
    """The entrant starts with 1e6, pays 2e3 on entry (month 2) and posts offers from month 3."""
    model = InferenceMarket(scenario_from_dict(entry_market(0.4)), seed=0)
    model.run(3)
    entrant = model.providers[-1]
    assert entrant.name == "newcomer_1"
    assert entrant.cash == 1e6 - SUNK
    p = model.recorder.frames()["providers"]
    assert p[p["provider"] == "newcomer_1"]["cash"].tolist() == [1e6 - SUNK]
    model.step()
    assert model.offers is not None and entrant.holder_id in model.offers.holder.tolist()
    assert model.settlement.revenue[entrant.holder_id] > 0


def test_no_entry_without_incumbents_of_the_kind() -> None:
    """A decentralized entrant watches decentralized incumbents; there are none, so there is no margin to read
    and no entry, even at a threshold of -1e9."""
    model = run(entry_market(-1e9, kind="decentralized"))
    assert [e for e in model.events if e["event"] == "entry"] == []


def test_entry_with_zero_cooldown_and_limit() -> None:
    """Cooldown 0 and max 3: entries in months 1, 2 and 3 with a 2-month lookback."""
    model = run(entry_market(0.4, lookback=2, cooldown=0, max_entries=3, steps=6))
    assert [e["step"] for e in model.events if e["event"] == "entry"] == [1, 2, 3]


def test_entrant_names_never_repeat_a_providers_name() -> None:
    """Provider names identify firms in every output table; a scenario whose entrant would repeat one is either
    rejected when loaded or gives the entrant a name of its own."""
    scenario = entry_market(0.4, steps=4, max_entries=1)
    scenario["providers"] = [firm("incumbent", "specialized", 50, count=2,
                                  pricing={"strategy": "cost_plus", "markup": 1.0})]
    scenario["corporate"]["entrants"][0]["name"] = "incumbent"
    try:
        config = scenario_from_dict(scenario)
    except ConfigError as err:
        assert "incumbent" in str(err)
        return
    model = InferenceMarket(config, seed=0)
    model.run()
    names = [p.name for p in model.providers]
    assert len(names) == 3
    assert len(set(names)) == len(names), names


@pytest.mark.parametrize(
    ("entrant_lot", "stocked", "used", "new"),
    [
        ("H100", False, 0, 10),  # no reseller: 10 H100 new
        ("A100", False, 0, 4),  # no reseller: the capacity of 10 A100 as new H100, ceil(10 * 400 / 1,200) = 4
        ("A100", True, 6, 2),  # 6 A100 in stock bought used, the other 4 as ceil(4 * 400 / 1,200) = 2 new H100
    ],
)
def test_an_entrant_buys_its_fleet_through_the_hardware_markets(
    entrant_lot: str, stocked: bool, used: int, new: int
) -> None:
    """The entrant (month 2) wants 10 GPUs of its lot's generation: first from reseller stock, at the reseller's
    quote, the rest as the same capacity of the newest generation (H100, 30,000 $) from the vendor (ODD 7.11).
    A hyperscaler on an upgrade cycle of 32 months puts its 6 A100 (40 months old) in stock in month 0; in month 2
    they have 6 months of life left and the level has moved twice by (1,000 / (6/6 + 1,000))^0.5 (no orders), so
    the quote is v_A100 * (1,000 / 1,001) * 6 with v_A100 as in the bankruptcy test (reference buyer at PUE 1, no
    opex, $0.08/kWh)."""
    scenario = entry_market(0.4, steps=3, max_entries=1, sunk=10.0)
    scenario["technology"] = {"generations": GENERATIONS}
    provider = scenario["corporate"]["entrants"][0]["provider"]
    for key in ("unit_cost_usd_per_mtok", "capacity_mtok_per_month"):
        provider.pop(key)
    provider["fleet"] = [{"generation": entrant_lot, "region": "global", "gpus": 10}]
    if stocked:
        scenario["providers"].append({
            "name": "cloud", "kind": "hyperscaler", "quality": 2.0, "retire_age_months": 32,
            "fleet": [{"generation": "A100", "region": "global", "gpus": 6, "age_months": 40},
                      {"generation": "H100", "region": "global", "gpus": 50, "age_months": 1}],
            "investment": {"strategy": "none"}})
        scenario["resellers"] = [{"name": "reseller", "buyer_pue": 1.0, "buyer_opex_usd_per_gpu_month": 0.0}]
    model = run(scenario)
    entrant = model.providers[-1]
    assert (entrant.name, [e["step"] for e in model.events if e["event"] == "entry"]) == ("newcomer_1", [2])
    mine = [e for e in model.events if "newcomer_1" in (e["party"], e["counterparty"])
            and e["event"] in ("gpu_sale", "gpu_purchase")]
    quote = ((625 + 0.9 * 730.5 * 0.08) / 3 - 0.55 * 730.5 * 0.08) * (1000 / 1001) * 6
    expected = []
    if used:
        expected.append(("gpu_sale", "reseller", "newcomer_1", "A100", used, used * quote, ""))
    expected.append(("gpu_purchase", "newcomer_1", "", "H100", new, new * 30000.0, "entry"))
    got = [(e["event"], e["party"], e["counterparty"], e["generation"], e["units"], e["amount_usd"], e["detail"])
           for e in mine]
    assert [g[:5] + g[6:] for g in got] == [x[:5] + x[6:] for x in expected]
    assert [g[5] for g in got] == pytest.approx([x[5] for x in expected], rel=1e-12)
    assert all(e["step"] == 2 for e in mine)
    assert entrant.cash == pytest.approx(1e6 - 10.0 - used * quote - new * 30000.0, rel=1e-12)
    held = model.ledger.units_by_holder_generation(len(model.holders))[entrant.holder_id]
    np.testing.assert_array_equal(held, [used, new])


def test_an_entrant_that_gets_no_gpus_exits_idle() -> None:
    """A grid of 0.001 MW has no room for one H100 (0.9 kW x PUE 1.3 = 1.17 kW): the entrant of month 2 buys
    nothing, posts no offers, and after three idle months (3, 4, 5) exits in month 5 with its 1e6 - 2e3."""
    scenario = entry_market(0.4, steps=7, max_entries=1)
    scenario["technology"] = {"generations": GENERATIONS}
    scenario["regions"][0]["power_capacity_mw"] = 0.001
    provider = scenario["corporate"]["entrants"][0]["provider"]
    for key in ("unit_cost_usd_per_mtok", "capacity_mtok_per_month"):
        provider.pop(key)
    provider["fleet"] = [{"generation": "H100", "region": "global", "gpus": 10}]
    model = run(scenario)
    assert [(e["step"], e["event"], e["party"]) for e in model.events] == [(2, "entry", "newcomer_1"),
                                                                          (5, "exit", "newcomer_1")]
    exit_event = model.events[1]
    assert json.loads(str(exit_event["detail"])) == {"reason": "no capacity", "cash_usd": 1e6 - SUNK,
                                                          "gpus_liquidated": 0}
    assert model.providers[-1].cash == 1e6 - SUNK
    assert model.ledger.produced.sum() == 0


# ---------------------------------------------------------------------------------------------------------
# the events table of a baseline run
# ---------------------------------------------------------------------------------------------------------


def reduced_baseline(steps: int, agents_per_segment: int) -> dict[str, Any]:
    """experiments/configs/baseline.toml with fewer enterprise agents, each standing for proportionally more firms
    (the same total demand), and fewer steps."""
    data = read_toml(BASELINE)
    overrides = [f"simulation.steps={steps}"]
    for i, segment in enumerate(data["segments"]):
        firms = segment["firms_per_agent"] * segment["n_agents"] / agents_per_segment
        overrides += [f"segments.{i}.n_agents={agents_per_segment}", f"segments.{i}.firms_per_agent={firms}"]
    return apply_overrides(data, overrides)


def test_events_parquet_of_a_baseline_run(tmp_path: Path) -> None:
    """Two years of the baseline: every corporate event and GPU trade is in events.parquet with its month,
    parties and a finite amount, and the model table's cumulative counts agree with it."""
    scenario = apply_overrides(reduced_baseline(steps=24, agents_per_segment=30),
                               ["corporate.entrants.0.payback_months=1200"])  # the first entrant enters
    result = run_scenario(scenario_from_dict(scenario), seed=1)
    write_run(result, tmp_path / "run")
    events = pd.read_parquet(tmp_path / "run" / "events.parquet")
    pd.testing.assert_frame_equal(events, result.events)
    assert list(events.columns) == ["run_id", "seed", "step", "event", "party", "counterparty", "generation",
                                    "units", "amount_usd", "detail"]
    assert events["step"].between(0, 23).all()
    assert np.isfinite(events["amount_usd"]).all()
    providers = set(result.providers["provider"])
    resellers = {"reseller_1", "reseller_2"}
    kinds = set(events["event"])
    assert {"gpu_purchase", "gpu_sale", "entry"} <= kinds  # retired A100s are worth nothing next to B200s: kept

    trades = events[events["event"].isin(["gpu_sale", "gpu_retired", "gpu_liquidation"])]
    assert (trades["party"] != "").all() and (trades["counterparty"] != "").all()
    assert ((trades["units"] > 0) & (trades["amount_usd"] > 0) & (trades["generation"] != "")).all()
    # A trade is between a provider and a reseller, in one direction or the other.
    assert all((a in providers and b in resellers) or (a in resellers and b in providers)
               for a, b in zip(trades["party"], trades["counterparty"], strict=True))
    retired = events[events["event"] == "gpu_retired"]
    assert set(retired["party"]) <= {"cloud_a", "cloud_b", "cloud_c"}
    purchases = events[events["event"] == "gpu_purchase"]
    assert purchases["party"].isin(providers).all() and (purchases["counterparty"] == "").all()
    assert ((purchases["units"] > 0) & (purchases["amount_usd"] > 0)).all()

    corporate = events[events["event"].isin(["entry", "exit", "acquisition", "merger_blocked"])]
    assert len(corporate) > 0
    assert corporate["party"].isin(providers).all()
    deals = corporate[corporate["event"].isin(["acquisition", "merger_blocked"])]
    assert deals["counterparty"].isin(providers).all()
    assert (deals["amount_usd"] > 0).all()
    for detail in deals["detail"]:
        parsed = json.loads(detail)
        assert parsed["policy"] == "hhi_2023"
        assert parsed["delta_hhi"] == pytest.approx(parsed["post_hhi"] - parsed["pre_hhi"], abs=2e-3)
    entries = corporate[corporate["event"] == "entry"]
    assert (entries["amount_usd"] > 0).all()
    assert all(json.loads(d)["incumbent_margin"] > 0.2 for d in entries["detail"])

    m = result.model.set_index("step")
    for column, kind in (("cumulative_entries", "entry"), ("cumulative_exits", "exit"),
                         ("cumulative_acquisitions", "acquisition"), ("cumulative_blocked_mergers", "merger_blocked")):
        counts = events[events["event"] == kind].groupby("step").size().reindex(m.index, fill_value=0).cumsum()
        assert m[column].tolist() == counts.tolist(), column
    # An acquired provider reports its acquirer as owner from the month of the deal on.
    for _, deal in events[events["event"] == "acquisition"].iterrows():
        rows = result.providers[(result.providers["provider"] == deal["counterparty"])
                                & (result.providers["step"] >= deal["step"])]
        assert (rows["owner"] == deal["party"]).all()
