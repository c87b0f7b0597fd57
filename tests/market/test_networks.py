"""Networks of the market (market/networks.py, InferenceMarket.networks, simulation.save_networks): contracts,
ownership and GPU flows, on hand-built inputs with known totals and on small models."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from experiments.run import run_scenario, write_run
from market.config.files import scenario_from_dict
from market.model import InferenceMarket
from market.networks import SCRAP, VENDOR, contract_graph, gpu_flow_graph, graph_tables, ownership_graph

HOLDERS = ["A", "B", "C", "reseller"]
KINDS = ["hyperscaler", "specialized", "decentralized", "reseller"]


def hand_contracts(min_share: float) -> nx.Graph:
    """Four enterprises, four offers (A sells in two regions at 2 and 3 $/Mtok, B at 1, C at 4):

    ====== ============ ==================================
    buyer  tokens        by provider
    ====== ============ ==================================
    e0     6, 2, 0, 0    A 8 (100%), spend 6*2 + 2*3 = 18
    e1     0, 0, 7, 1    B 7 (87.5%), C 1 (12.5%), spend 7 and 4
    e2     .5, 0, 9.5, 0 A 0.5 (5%), B 9.5 (95%)
    e3     nothing
    ====== ============ ==================================

    Main providers: e0 A (5 months), e1 C (3 months), e2 B (7 months), e3 none.
    """
    allocation = np.array([[6.0, 2.0, 0.0, 0.0], [0.0, 0.0, 7.0, 1.0], [0.5, 0.0, 9.5, 0.0], [0.0, 0.0, 0.0, 0.0]])
    return contract_graph(
        allocation=allocation,
        offer_holder=np.array([0, 0, 1, 2]),
        offer_price=np.array([2.0, 3.0, 1.0, 4.0]),
        holder_names=HOLDERS,
        holder_kinds=KINDS,
        enterprise_segment=["s1", "s1", "s2", "s2"],
        enterprise_region=["na", "eu", "na", "eu"],
        enterprise_firms=np.array([1.0, 2.0, 3.0, 4.0]),
        incumbent_provider=np.array([0, 2, 1, -1]),
        tenure_months=np.array([5, 3, 7, 0]),
        min_share=min_share,
    )


def edge_set(graph: nx.Graph) -> dict[tuple[str, str], dict[str, Any]]:
    return {tuple(sorted((u, v))): d for u, v, d in graph.edges(data=True)}  # type: ignore[misc]


def test_contract_graph_hand_example() -> None:
    """With min_share 0.1, e2's 5% from A is not a contract; every other positive flow is."""
    graph = hand_contracts(0.1)
    assert edge_set(graph) == {
        ("A", "enterprise_0"): {"volume_mtok": 8.0, "spend_usd": 18.0, "main": True, "tenure_months": 5},
        ("B", "enterprise_1"): {"volume_mtok": 7.0, "spend_usd": 7.0, "main": False, "tenure_months": 0},
        ("C", "enterprise_1"): {"volume_mtok": 1.0, "spend_usd": 4.0, "main": True, "tenure_months": 3},
        ("B", "enterprise_2"): {"volume_mtok": 9.5, "spend_usd": 9.5, "main": True, "tenure_months": 7},
    }
    assert dict(graph.nodes(data=True)) == {
        "A": {"bipartite": "provider", "kind": "hyperscaler"},
        "B": {"bipartite": "provider", "kind": "specialized"},
        "C": {"bipartite": "provider", "kind": "decentralized"},
        "enterprise_0": {"bipartite": "enterprise", "segment": "s1", "region": "na", "firms": 1.0},
        "enterprise_1": {"bipartite": "enterprise", "segment": "s1", "region": "eu", "firms": 2.0},
        "enterprise_2": {"bipartite": "enterprise", "segment": "s2", "region": "na", "firms": 3.0},
    }
    assert nx.is_bipartite(graph)
    # Volumes: 26 Mtok were served, of which the 0.5 below the threshold is not a contract.
    assert sum(d["volume_mtok"] for _, _, d in graph.edges(data=True)) == 25.5


def test_contract_graph_without_threshold_carries_every_token() -> None:
    """min_share 0: the edges hold all 26 Mtok and all 38.5 $ (18 + 7 + 4 + 0.5*2 + 9.5)."""
    graph = hand_contracts(0.0)
    edges = edge_set(graph)
    assert edges[("A", "enterprise_2")] == {"volume_mtok": 0.5, "spend_usd": 1.0, "main": False, "tenure_months": 0}
    assert sum(d["volume_mtok"] for d in edges.values()) == 26.0
    assert sum(d["spend_usd"] for d in edges.values()) == 39.5
    assert "enterprise_3" not in graph and "reseller" not in graph


def test_a_buyer_at_exactly_the_minimum_share_has_a_contract() -> None:
    """e1 buys 1 of its 8 Mtok (12.5%, exact in binary) from C: with min_share 0.125 it bought 'at least
    min_share' of its tokens there, so the contract is an edge (networks module docstring)."""
    graph = hand_contracts(0.125)
    assert ("C", "enterprise_1") in edge_set(graph)


def test_ownership_graph_hand_example() -> None:
    """cloud bought spec in month 3, spec bought swarm in month 5; 'other' was bought in month 1 but is
    independent again; 'orphan' has a parent without a recorded deal (step -1). Blocked mergers make no edge."""
    names = ["cloud", "spec", "swarm", "other", "orphan"]
    kinds = ["hyperscaler", "specialized", "decentralized", "specialized", "specialized"]
    events = [
        {"step": 1, "event": "acquisition", "party": "cloud", "counterparty": "other"},
        {"step": 2, "event": "merger_blocked", "party": "cloud", "counterparty": "swarm"},
        {"step": 3, "event": "acquisition", "party": "cloud", "counterparty": "spec"},
        {"step": 5, "event": "acquisition", "party": "spec", "counterparty": "swarm"},
    ]
    graph = ownership_graph(names, kinds, [None, 0, 1, None, 0], events)
    assert sorted(graph.edges(data="step")) == [("cloud", "orphan", -1), ("cloud", "spec", 3), ("spec", "swarm", 5)]
    assert dict(graph.nodes(data="kind")) == dict(zip(names, kinds, strict=True))
    assert graph.is_directed()
    assert nx.descendants(graph, "cloud") == {"spec", "swarm", "orphan"}


def test_gpu_flow_graph_aggregates_the_event_log() -> None:
    """Vendor -> cloud 100 + 50 GPUs for 3e6 + 1.5e6; cloud -> reseller 80 (retired) + 20 (sold) for 4e5 + 1e5;
    reseller -> swarm 60 for 4.2e5; swarm -> reseller 10 (liquidation) for 5e4; end-of-life scrapping 7 and a
    seller's disposal 3; non-flow events and zero-unit rows are ignored."""
    events = [
        {"step": 0, "event": "gpu_purchase", "party": "cloud", "counterparty": "", "units": 100, "amount_usd": 3e6},
        {"step": 4, "event": "gpu_purchase", "party": "cloud", "counterparty": "", "units": 50, "amount_usd": 1.5e6},
        {"step": 2, "event": "gpu_retired", "party": "cloud", "counterparty": "reseller", "units": 80,
         "amount_usd": 4e5},
        {"step": 6, "event": "gpu_sale", "party": "cloud", "counterparty": "reseller", "units": 20, "amount_usd": 1e5},
        {"step": 3, "event": "gpu_sale", "party": "reseller", "counterparty": "swarm", "units": 60,
         "amount_usd": 4.2e5},
        {"step": 7, "event": "gpu_liquidation", "party": "swarm", "counterparty": "reseller", "units": 10,
         "amount_usd": 5e4},
        {"step": 5, "event": "gpu_scrapped", "party": "", "counterparty": "", "units": 7, "amount_usd": 0.0},
        {"step": 8, "event": "gpu_scrapped", "party": "swarm", "counterparty": "", "units": 3, "amount_usd": 0.0},
        {"step": 8, "event": "gpu_sale", "party": "cloud", "counterparty": "reseller", "units": 0, "amount_usd": 0.0},
        {"step": 1, "event": "acquisition", "party": "cloud", "counterparty": "swarm", "units": 0, "amount_usd": 9e9},
        {"step": 1, "event": "entry", "party": "swarm", "counterparty": "", "units": 0, "amount_usd": 1e6},
    ]
    graph = gpu_flow_graph(events)
    assert {(u, v): d for u, v, d in graph.edges(data=True)} == {
        (VENDOR, "cloud"): {"units": 150, "amount_usd": 4.5e6, "first_step": 0, "last_step": 4},
        ("cloud", "reseller"): {"units": 100, "amount_usd": 5e5, "first_step": 2, "last_step": 6},
        ("reseller", "swarm"): {"units": 60, "amount_usd": 4.2e5, "first_step": 3, "last_step": 3},
        ("swarm", "reseller"): {"units": 10, "amount_usd": 5e4, "first_step": 7, "last_step": 7},
        ("end_of_life", SCRAP): {"units": 7, "amount_usd": 0.0, "first_step": 5, "last_step": 5},
        ("swarm", SCRAP): {"units": 3, "amount_usd": 0.0, "first_step": 8, "last_step": 8},
    }
    # Net inflow per node: cloud 150 - 100, reseller 100 + 10 - 60, swarm 60 - 10 - 3; flows sum to zero.
    net = {n: graph.in_degree(n, weight="units") - graph.out_degree(n, weight="units") for n in graph}
    assert net == {VENDOR: -150, "cloud": 50, "reseller": 50, "swarm": 47, "end_of_life": -7, SCRAP: 10}
    assert sum(net.values()) == 0


def test_graph_tables() -> None:
    graph = nx.DiGraph()
    graph.add_node("a", kind="x")
    graph.add_node("b", kind="y")
    graph.add_edge("a", "b", units=3)
    nodes, edges = graph_tables(graph)
    pd.testing.assert_frame_equal(nodes, pd.DataFrame({"node": ["a", "b"], "kind": ["x", "y"]}))
    pd.testing.assert_frame_equal(edges, pd.DataFrame({"source": ["a"], "target": ["b"], "units": [3]}))
    nodes, edges = graph_tables(nx.Graph())
    assert list(nodes.columns) == ["node"] and nodes.empty
    assert list(edges.columns) == ["source", "target"] and edges.empty


# ---------------------------------------------------------------------------------------------------------
# the model's networks
# ---------------------------------------------------------------------------------------------------------

MU = 0.25


def firm(name: str, kind: str, weight: float) -> dict[str, Any]:
    """Fixed quality 2 + mu ln(w/100), unit cost 1, price 1.5, unlimited capacity: demand share w/100."""
    return {"name": name, "kind": kind, "regions": ["global"], "quality": 2.0 + MU * math.log(weight / 100.0),
            "unit_cost_usd_per_mtok": 1.0, "capacity_mtok_per_month": math.inf, "cash_usd": 1e9,
            "pricing": {"strategy": "cost_plus", "markup": 0.5}, "investment": {"strategy": "none"}}


def acquisition_market(steps: int = 2) -> dict[str, Any]:
    """Shares 30 (hyperscaler) / 25 / 20 / 15 / 10 (target); the hyperscaler buys the target, which holds no cash
    (a deal's price includes the target's net cash), in month 0."""
    firms = [firm("cloud", "hyperscaler", 30), firm("b", "specialized", 25), firm("c", "specialized", 20),
             firm("d", "specialized", 15), {**firm("target", "specialized", 10), "cash_usd": 0.0}]
    return {
        "name": "acquisition_market",
        "simulation": {"steps": steps, "rationing_rounds": 0},
        "logit": {"mu": MU, "utility_form": "linear"},
        "outside_option": {"value": -50.0, "self_hosting": False},
        "regions": [{"name": "global", "latency_penalty": 0.0}],
        "segments": [{"name": "buyers", "n_agents": 10, "base_demand_mtok_per_month": 100.0,
                      "demand_dispersion": 0.0, "price_elasticity": 0.0}],
        "providers": firms,
        "corporate": {"acquisitions": {"enabled": True, "deal_probability": 1.0, "small_share_threshold": 0.12},
                      "antitrust": {"policy": "none"}},
    }


def test_model_networks_after_an_acquisition() -> None:
    """Every buyer splits its 100 Mtok 30/25/20/15/10, all above 5%: 50 contract edges whose volumes sum to the
    1,000 Mtok served, 100 per buyer and 300, 250, 200, 150, 100 per provider; each buyer's main provider (the
    cloud, its largest supplier) is marked. The ownership graph has the month-0 deal."""
    model = InferenceMarket(scenario_from_dict(acquisition_market()), seed=0)
    model.run()
    graphs = model.networks
    assert set(graphs) == {"contracts", "ownership", "gpu_flows"}
    contracts = graphs["contracts"]
    assert contracts.number_of_edges() == 50
    assert model.clearing is not None
    total = sum(d["volume_mtok"] for _, _, d in contracts.edges(data=True))
    assert total == pytest.approx(float(model.clearing.served.sum()), rel=1e-12)
    assert total == pytest.approx(1000.0, rel=1e-12)
    by_provider = {p: sum(d["volume_mtok"] for _, _, d in contracts.edges(p, data=True))
                   for p in ("cloud", "b", "c", "d", "target")}
    assert by_provider == pytest.approx({"cloud": 300.0, "b": 250.0, "c": 200.0, "d": 150.0, "target": 100.0},
                                        rel=1e-12)
    for e in range(10):
        assert sum(d["volume_mtok"] for _, _, d in contracts.edges(f"enterprise_{e}", data=True)) == pytest.approx(
            100.0, rel=1e-12)
        mains = [(p, d["tenure_months"]) for _, p, d in contracts.edges(f"enterprise_{e}", data=True) if d["main"]]
        assert mains == [("cloud", 2)]
    spend = sum(d["spend_usd"] for _, _, d in contracts.edges(data=True))
    assert spend == pytest.approx(1500.0, rel=1e-12)

    ownership = graphs["ownership"]
    assert list(ownership.edges(data="step")) == [("cloud", "target", 0)]
    assert set(ownership.nodes) == {"cloud", "b", "c", "d", "target"}
    assert graphs["gpu_flows"].number_of_edges() == 0


def test_model_gpu_flows_match_the_events(tiny_fleet_scenario: Any) -> None:
    """The GPU-flow graph of a run of the tiny fleet scenario is the event log summed by (seller, buyer)."""
    model = InferenceMarket(tiny_fleet_scenario, seed=3)
    model.run()
    events = pd.DataFrame(model.events)
    flows = events[events["event"].isin(["gpu_purchase", "gpu_sale", "gpu_retired", "gpu_liquidation",
                                         "gpu_scrapped"]) & (events["units"] > 0)].copy()
    assert len(flows) > 0
    flows["source"] = np.where(flows["event"] == "gpu_purchase", VENDOR,
                               np.where(flows["party"] == "", "end_of_life", flows["party"]))
    flows["target"] = np.where(flows["event"] == "gpu_purchase", flows["party"],
                               np.where(flows["event"] == "gpu_scrapped", SCRAP, flows["counterparty"]))
    expected = flows.groupby(["source", "target"]).agg(units=("units", "sum"), amount_usd=("amount_usd", "sum"))
    graph = model.networks["gpu_flows"]
    got = {(u, v): (d["units"], d["amount_usd"]) for u, v, d in graph.edges(data=True)}
    assert set(got) == set(expected.index)
    for key, row in expected.iterrows():
        assert got[key][0] == row["units"]
        assert got[key][1] == pytest.approx(row["amount_usd"], rel=1e-12)
    assert (VENDOR, "cloud") in got


def test_save_networks_writes_node_and_edge_tables(tmp_path: Path, tiny_fleet_dict: dict[str, Any]) -> None:
    """simulation.save_networks: networks/<name>_{nodes,edges}.parquet for the three graphs, equal to the final
    graphs' tables; off by default."""
    scenario = acquisition_market()
    scenario["simulation"]["save_networks"] = True
    out = write_run(run_scenario(scenario_from_dict(scenario), seed=0), tmp_path / "acquisition")
    names = sorted(p.name for p in (out / "networks").iterdir())
    assert names == sorted(f"{g}_{t}.parquet" for g in ("contracts", "ownership", "gpu_flows")
                           for t in ("nodes", "edges"))
    ownership = pd.read_parquet(out / "networks" / "ownership_edges.parquet")
    assert ownership[["source", "target", "step"]].values.tolist() == [["cloud", "target", 0]]
    contracts = pd.read_parquet(out / "networks" / "contracts_edges.parquet")
    assert len(contracts) == 50
    assert contracts["volume_mtok"].sum() == pytest.approx(1000.0, rel=1e-12)
    nodes = pd.read_parquet(out / "networks" / "contracts_nodes.parquet")
    assert sorted(nodes.loc[nodes["bipartite"] == "provider", "node"]) == ["b", "c", "cloud", "d", "target"]
    assert (nodes["bipartite"] == "enterprise").sum() == 10

    fleet = copy.deepcopy(tiny_fleet_dict)
    fleet["simulation"]["save_networks"] = True
    config = scenario_from_dict(fleet)
    result = run_scenario(config, seed=3)
    out = write_run(result, tmp_path / "fleet")
    flows = pd.read_parquet(out / "networks" / "gpu_flows_edges.parquet")
    events = result.events
    purchases = int(events.loc[events["event"] == "gpu_purchase", "units"].sum())
    assert int(flows.loc[flows["source"] == VENDOR, "units"].sum()) == purchases > 0

    fleet["simulation"]["save_networks"] = False
    out = write_run(run_scenario(scenario_from_dict(fleet), seed=3), tmp_path / "plain")
    assert not (out / "networks").exists()
