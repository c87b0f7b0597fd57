"""Networks of the market as networkx graphs: contracts, ownership and GPU flows.

* **contracts** (undirected, bipartite): enterprise agents and providers; an edge where an enterprise bought
  at least ``min_share`` of its tokens from the provider this month, with the volume (Mtok), the spend ($),
  and the tenure (months) where the provider is its main one.
* **ownership** (directed): parent -> subsidiary edges for acquisitions, with the step of the deal.
* **gpu_flows** (directed): ``vendor`` -> buyer, seller -> buyer and holder -> ``scrap`` edges with the GPUs and
  money that flowed along them over the run, from the event log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from numpy.typing import NDArray

VENDOR = "vendor"
SCRAP = "scrap"
GPU_FLOW_EVENTS = {"gpu_purchase", "gpu_sale", "gpu_retired", "gpu_liquidation", "gpu_scrapped"}


def contract_graph(
    *,
    allocation: NDArray[np.float64],
    offer_holder: NDArray[np.int64],
    offer_price: NDArray[np.float64],
    holder_names: Sequence[str],
    holder_kinds: Sequence[str],
    enterprise_segment: Sequence[str],
    enterprise_region: Sequence[str],
    enterprise_firms: NDArray[np.float64],
    incumbent_provider: NDArray[np.int64],
    tenure_months: NDArray[np.int64],
    min_share: float = 0.05,
) -> nx.Graph[str]:
    """Enterprise-provider contracts of the current month (see the module docstring)."""
    graph: nx.Graph[str] = nx.Graph(name="contracts")
    n_holders = len(holder_names)
    volume = np.zeros((n_holders, allocation.shape[0]))
    np.add.at(volume, offer_holder, allocation.T)
    spend = np.zeros_like(volume)
    np.add.at(spend, offer_holder, (allocation * offer_price[None, :]).T)
    volume, spend = volume.T, spend.T
    total = volume.sum(axis=1)
    rows, cols = np.nonzero((volume > 0) & (volume >= min_share * total[:, None]))
    for h in np.unique(cols):
        graph.add_node(holder_names[int(h)], bipartite="provider", kind=holder_kinds[h])
    for e in np.unique(rows):
        graph.add_node(f"enterprise_{e}", bipartite="enterprise", segment=enterprise_segment[e],
                       region=enterprise_region[e], firms=float(enterprise_firms[e]))
    main = incumbent_provider[rows] == cols
    tenure = np.where(main, tenure_months[rows], 0)
    graph.add_edges_from(
        (f"enterprise_{e}", holder_names[int(h)], {"volume_mtok": float(volume[e, h]), "spend_usd": float(spend[e, h]),
                                               "main": bool(m), "tenure_months": int(t)})
        for e, h, m, t in zip(rows, cols, main, tenure, strict=True)
    )
    return graph


def ownership_graph(names: Sequence[str], kinds: Sequence[str], parents: Sequence[int | None],
                    events: Iterable[Mapping[str, Any]]) -> nx.DiGraph[str]:
    """Ownership: one node per provider, parent -> subsidiary edges with the acquisition step."""
    graph: nx.DiGraph[str] = nx.DiGraph(name="ownership")
    for name, kind in zip(names, kinds, strict=True):
        graph.add_node(name, kind=kind)
    deal_step = {(e["party"], e["counterparty"]): e["step"] for e in events if e["event"] == "acquisition"}
    for child, parent in enumerate(parents):
        if parent is not None:
            graph.add_edge(names[parent], names[child], step=int(deal_step.get((names[parent], names[child]), -1)))
    return graph


def gpu_flow_graph(events: Iterable[Mapping[str, Any]]) -> nx.DiGraph[str]:
    """GPU flows aggregated over the run from the event log (see the module docstring)."""
    graph: nx.DiGraph[str] = nx.DiGraph(name="gpu_flows")
    for e in events:
        kind = e["event"]
        if kind not in GPU_FLOW_EVENTS or not e["units"]:
            continue
        if kind == "gpu_purchase":
            src, dst = VENDOR, e["party"]
        elif kind == "gpu_scrapped":
            src, dst = e["party"] or "end_of_life", SCRAP
        else:
            src, dst = e["party"], e["counterparty"]
        if graph.has_edge(src, dst):
            data = graph.edges[src, dst]
            data["units"] += int(e["units"])
            data["amount_usd"] += float(e["amount_usd"])
            data["last_step"] = int(e["step"])
        else:
            graph.add_edge(src, dst, units=int(e["units"]), amount_usd=float(e["amount_usd"]),
                           first_step=int(e["step"]), last_step=int(e["step"]))
    return graph


def graph_tables(graph: nx.Graph[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A graph as tidy node and edge tables (``node`` + attributes; ``source``, ``target`` + attributes)."""
    nodes = pd.DataFrame([{"node": n, **d} for n, d in graph.nodes(data=True)], columns=None)
    if nodes.empty:
        nodes = pd.DataFrame({"node": pd.Series(dtype=object)})
    edges = pd.DataFrame([{"source": u, "target": v, **d} for u, v, d in graph.edges(data=True)])
    if edges.empty:
        edges = pd.DataFrame({"source": pd.Series(dtype=object), "target": pd.Series(dtype=object)})
    return nodes, edges


def market_networks(*, holder_names: Sequence[str], holder_kinds: Sequence[str], parents: Sequence[int | None],
                    events: Sequence[Mapping[str, Any]], contracts: dict[str, Any] | None) -> dict[str, nx.Graph[str]]:
    """The market's networks: ``contracts`` (when ``contracts`` holds :func:`contract_graph`'s other
    arguments), ``ownership`` and ``gpu_flows``."""
    graphs: dict[str, nx.Graph[str]] = {}
    if contracts is not None:
        graphs["contracts"] = contract_graph(holder_names=holder_names, holder_kinds=holder_kinds, **contracts)
    graphs["ownership"] = ownership_graph(holder_names, holder_kinds, parents, events)
    graphs["gpu_flows"] = gpu_flow_graph(events)
    return graphs
