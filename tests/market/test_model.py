"""The Mesa model (market/model.py): construction as Mesa users expect, the stages of a step, the agents it holds,
the data collector, lazy enterprise views, and decisions taken by registered strategies."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from agents import acquisition, investment, pricing
from agents.enterprise import Enterprise
from agents.provider import Provider
from market.config.files import ConfigError, load_scenario, scenario_from_dict, scenario_with_settings
from market.mesa_support import batch_iteration_seed
from market.model import InferenceMarket

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "experiments" / "configs" / "baseline.toml"
STAGES = ("advance_technology", "grow_demand", "post_offers", "clear_market", "settle", "invest",
          "corporate_events", "collect")


def small_baseline(**settings: Any) -> InferenceMarket:
    return InferenceMarket(scenario=BASELINE, seed=3, simulation__steps=3, segments__0__n_agents=30,
                           segments__1__n_agents=30, segments__2__n_agents=30, **settings)


def test_keyword_construction_equals_the_config_object_with_the_same_settings() -> None:
    by_keywords = small_baseline(logit__mu=0.4)
    assert by_keywords.config.logit.mu == 0.4
    overrides = ["simulation.steps=3", "logit.mu=0.4", *(f"segments.{i}.n_agents=30" for i in range(3))]
    by_config = InferenceMarket(load_scenario(BASELINE, overrides), seed=3)
    by_keywords.run_model()
    by_config.run_model()
    pd.testing.assert_frame_equal(by_keywords.recorder.frames()["model"], by_config.recorder.frames()["model"])


def test_settings_by_list_item_name_and_bad_settings_name_the_key() -> None:
    model = small_baseline(providers__cloud_a__lock_in=0.11)
    assert next(p for p in model.providers if p.name == "cloud_a").lock_in == 0.11
    with pytest.raises(ConfigError, match=r"logit\.muu"):
        small_baseline(logit__muu=0.4)
    with pytest.raises(ValueError, match="either seed or rng"):
        InferenceMarket(scenario=BASELINE, seed=1, rng=2)


def test_rng_is_an_alias_of_seed() -> None:
    assert InferenceMarket(scenario=BASELINE, rng=11).seed == 11
    assert InferenceMarket(scenario=BASELINE).seed == 2025  # the scenario's simulation.seed


def test_run_model_ends_after_the_scenarios_steps() -> None:
    model = small_baseline()
    model.run_model()
    assert (model.steps, model.step_index, model.running) == (3, 3, False)
    assert len(model.recorder.frames()["model"]) == 3


def test_a_step_runs_the_named_stages_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    model = small_baseline()
    called: list[str] = []
    for name in STAGES:
        method = getattr(model, name)

        def wrapped(method: Any = method, name: str = name) -> None:
            called.append(name)
            method()

        monkeypatch.setattr(model, name, wrapped)
    model.step()
    assert tuple(called) == STAGES


def test_enterprise_views_are_created_on_first_use() -> None:
    model = small_baseline()
    firms = len(model.providers) + len(model.resellers)
    assert len(model.agents) == firms
    views = model.enterprises
    assert len(views) == model.population.size == 90
    assert len(model.agents) == firms + 90
    assert model.enterprises is views
    view = next(iter(model.agents_by_type[Enterprise]))
    assert view.price_sensitivity == model.population.price_sensitivity[view.index]


def test_datacollector_reports_the_model_table_and_the_firms() -> None:
    model = small_baseline()
    model.run_model()
    collected = model.datacollector.get_model_vars_dataframe()
    table = model.recorder.frames()["model"]
    assert (collected["seed"] == 3).all()
    pd.testing.assert_frame_equal(collected[list(table.columns)].reset_index(drop=True), table, check_dtype=False)
    agents = model.datacollector.get_agent_vars_dataframe()
    last = agents.xs(3, level="Step")
    assert sorted(last["name"]) == sorted(h.name for h in model.holders)
    cash = {p.name: p.cash for p in model.holders}
    assert all(math.isclose(row.cash, cash[row.name]) for row in last.itertuples())


def test_batch_iteration_seeds_are_derived_and_distinct() -> None:
    """Iteration 0 keeps the seed; iteration k uses the first 63-bit word of SeedSequence(seed).spawn(k)[-1]."""
    import numpy as np

    assert batch_iteration_seed(7, 0) == 7
    expected = int(np.random.SeedSequence(7).spawn(2)[-1].generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
    assert batch_iteration_seed(7, 2) == expected
    assert len({batch_iteration_seed(7, k) for k in range(5)}) == 5


def bankrupt_market(tiny: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(tiny)
    data["simulation"]["steps"] = 2
    data["corporate"] = {"exit_after_months": 1}
    data["providers"][2]["cash_usd"] = -1e15  # the swarm is insolvent from the start
    data["providers"][2]["credit_limit_usd"] = 0.0
    return data


def test_a_provider_that_exits_leaves_model_agents_but_stays_in_the_outputs(tiny_fleet_dict: dict[str, Any]) -> None:
    model = InferenceMarket(scenario_from_dict(bankrupt_market(tiny_fleet_dict)), seed=0)
    swarm = next(p for p in model.providers if p.name == "swarm")
    assert swarm in model.agents
    model.step()
    assert not swarm.active
    assert swarm not in model.agents
    assert swarm in model.providers
    providers = model.recorder.frames()["providers"]
    assert providers.loc[providers["provider"] == "swarm", "active"].tolist() == [False]
    exits = [e for e in model.events if e["event"] == "exit"]
    assert [e["party"] for e in exits] == ["swarm"]


# -- decisions live in registered strategies -------------------------------------------------------------------
class OpensAtTwiceCost(pricing.BestResponseStrategy):
    """A best responder whose opening price is twice its unit cost."""

    def opening_prices(self, view: pricing.PricingView) -> np.ndarray:
        return view.unit_cost * 2.0


def test_the_opening_price_is_the_pricing_strategys_decision(monkeypatch: pytest.MonkeyPatch,
                                                             tiny_fleet_dict: dict[str, Any]) -> None:
    """At step 0 the opening solve iterates the strategy's opening rule (here a constant 2 x unit cost) and its
    decision (which here calls the same rule) posts it."""
    monkeypatch.setitem(pricing.PRICING_STRATEGIES, "best_response", OpensAtTwiceCost)
    model = InferenceMarket(scenario_from_dict(tiny_fleet_dict), seed=0)
    cloud = next(p for p in model.providers if p.name == "cloud")
    model.step()
    offers = model.offers
    assert offers is not None
    mine = offers.holder == cloud.holder_id
    np.testing.assert_allclose(offers.price[mine], 2.0 * offers.unit_cost[mine], rtol=1e-15)


class BuysOldestUsed(investment.InvestmentStrategy):
    """Orders one used GPU of the oldest generation resellers hold, in every region, every month."""

    name = "none"

    def __init__(self, params: Any) -> None:
        self.params = params

    def decide(self, view: investment.InvestmentView) -> investment.FleetOrder:
        order = investment.FleetOrder.empty(len(view.capacity))
        stocked = np.nonzero(view.used_available > 0)[0]
        if stocked.size:
            order.buy_used = np.ones(len(view.capacity))
            order.used_generation = int(stocked[0])
        return order


def test_the_new_or_used_choice_is_the_investment_strategys(monkeypatch: pytest.MonkeyPatch,
                                                            tiny_fleet_dict: dict[str, Any]) -> None:
    """The cloud retires its A100s to resellers at B200's release (step 3); from then on a provider whose
    strategy buys the oldest used generation buys A100s, one per region it serves and month."""
    monkeypatch.setitem(investment.INVESTMENT_STRATEGIES, "none", BuysOldestUsed)
    data = copy.deepcopy(tiny_fleet_dict)
    data["simulation"]["steps"] = 6
    data["providers"][2]["investment"] = {"strategy": "none"}
    data["resellers"][0]["buyer_opex_usd_per_gpu_month"] = 0.0  # so A100s keep a resale value next to B200s
    model = InferenceMarket(scenario_from_dict(data), seed=0)
    model.run()
    bought = [e for e in model.events if e["event"] == "gpu_sale" and e["counterparty"] == "swarm"]
    assert bought and {e["generation"] for e in bought} == {"A100"}
    assert all(e["units"] == 1 for e in bought)


class BuysTheLargest(acquisition.AcquisitionStrategy):
    """Bids for the candidate with the largest revenue share, at its fleet's book value plus $1."""

    name = "largest"

    def propose(self, view: acquisition.AcquisitionView) -> acquisition.DealProposal | None:
        if not len(view.candidate):
            return None
        k = int(np.argmax(view.revenue_share))
        return acquisition.DealProposal(target=int(view.candidate[k]), price_usd=float(view.fleet_book_value[k]) + 1)


def test_a_registered_acquisition_strategy_chooses_the_target(monkeypatch: pytest.MonkeyPatch,
                                                              tiny_fleet_dict: dict[str, Any]) -> None:
    monkeypatch.setitem(acquisition.ACQUISITION_STRATEGIES, "largest", BuysTheLargest)
    data = copy.deepcopy(tiny_fleet_dict)
    data["simulation"]["steps"] = 1
    data["corporate"] = {"acquisitions": {"enabled": True, "strategy": "largest", "deal_probability": 1.0},
                         "antitrust": {"policy": "none"}}
    model = InferenceMarket(scenario_from_dict(data), seed=0)
    model.step()
    deals = [e for e in model.events if e["event"] == "acquisition"]
    assert len(deals) == 1
    revenue = {p.name: model.settlement.revenue[p.holder_id] for p in model.providers  # type: ignore[union-attr]
               if p.kind in ("specialized", "decentralized")}
    assert deals[0]["party"] == "cloud"
    assert deals[0]["counterparty"] == max(revenue, key=revenue.__getitem__)
    target = next(p for p in model.providers if p.name == deals[0]["counterparty"])
    assert isinstance(target, Provider) and target.parent is model.providers[0]


def test_an_unknown_acquisition_strategy_is_named(tiny_fleet_config: Any) -> None:
    config = scenario_with_settings(tiny_fleet_config, {"corporate.acquisitions.strategy": "nope"})
    with pytest.raises(ValueError, match=r"corporate\.acquisitions\.strategy = 'nope'.*value_over_price"):
        InferenceMarket(config, seed=0)


def test_a_seed_out_of_range_is_named() -> None:
    for bad in (-1, 2**63, 2**64):
        with pytest.raises(ValueError, match=rf"seed = {bad}: a seed must satisfy 0 <= seed < 2\*\*63"):
            InferenceMarket(scenario=BASELINE, seed=bad)


def test_the_clearing_reuses_the_allocation_matrix_of_two_steps_ago_and_results_do_not_change() -> None:
    """The step's allocation is written into the matrix of two steps ago (the offers are the same in number
    here), the previous step's is left alone, and a run that never reuses a matrix gives the same bits."""
    model, fresh = small_baseline(), small_baseline()
    seen = []
    for _ in range(3):
        model.step()
        seen.append(model.clearing.allocation)
        fresh._spare_allocation = None  # never hand a matrix back: every allocation is new
        fresh.step()
        np.testing.assert_array_equal(model.clearing.allocation, fresh.clearing.allocation)
    assert seen[2] is not seen[1]
    assert seen[2].shape == seen[0].shape  # the same offers in steps 1 and 3 of this market
    assert seen[2] is seen[0]
    pd.testing.assert_frame_equal(model.recorder.frames()["model"], fresh.recorder.frames()["model"])


def test_the_numpy_reference_clearing_runs_the_step_with_the_fused_kernel_s_arguments() -> None:
    """``simulation.clearing_kernel = "numpy"`` takes the step's in_place and out arguments (and allocates its
    own matrices): its first clearing is the fused kernel's to rounding (1e-15 relative, checked to 1e-9)."""
    fused, reference = small_baseline(), small_baseline(simulation__clearing_kernel="numpy")
    fused.step()
    reference.step()
    a, b = fused.clearing.allocation, reference.clearing.allocation
    assert a.shape == b.shape and a.shape[1] > 0
    assert np.max(np.abs(a - b)) <= 1e-9 * np.max(np.abs(b))
