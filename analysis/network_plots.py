"""Figures of the contract and ownership networks, from the node and edge tables a run saves.

A run with ``simulation.save_networks = true`` writes ``networks/<graph>_nodes.parquet`` and
``networks/<graph>_edges.parquet`` (``market.networks.graph_tables``) for the final month. The contract
figure groups enterprise agents by segment and region (a thousand agents are unreadable as dots) and draws
each group's tokens bought from each provider as a line whose width is proportional to the volume. The
ownership figure draws parent -> subsidiary edges up to a chosen step (each edge carries its deal's step), so
the ownership network can be drawn at any month of the run.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.style import KIND_COLORS, new_figure, note

NETWORK_DIR = "networks"
MAX_LINE_WIDTH = 8.0


def read_network(run_dir: Path, name: str) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Node and edge tables of a saved network, or None if the run did not save it."""
    base = Path(run_dir) / NETWORK_DIR
    nodes, edges = base / f"{name}_nodes.parquet", base / f"{name}_edges.parquet"
    if not (nodes.is_file() and edges.is_file()):
        return None
    return pd.read_parquet(nodes), pd.read_parquet(edges)


def contract_volumes(nodes: pd.DataFrame, edges: pd.DataFrame) -> pd.DataFrame:
    """Tokens bought by each enterprise group (``segment / region``) from each provider (Mtok).

    Returns:
        Columns group, provider, volume_mtok, sorted by group and provider.
    """
    enterprises = nodes[nodes.get("bipartite", pd.Series(dtype=object)) == "enterprise"].set_index("node")
    if edges.empty or enterprises.empty:
        return pd.DataFrame(columns=["group", "provider", "volume_mtok"])
    is_enterprise = edges["source"].isin(enterprises.index)
    frame = pd.DataFrame({
        "enterprise": np.where(is_enterprise, edges["source"], edges["target"]),
        "provider": np.where(is_enterprise, edges["target"], edges["source"]),
        "volume_mtok": edges["volume_mtok"].astype(float),
    })
    groups = enterprises["segment"].astype(str) + " / " + enterprises["region"].astype(str)
    frame["group"] = frame["enterprise"].map(groups)
    out = frame.groupby(["group", "provider"], as_index=False)["volume_mtok"].sum()
    return out.sort_values(["group", "provider"]).reset_index(drop=True)


def contracts_figure(nodes: pd.DataFrame, edges: pd.DataFrame, scenario: str, when: str = "final month") -> Figure:
    """Bipartite contract network: enterprise groups (left) to providers (right), width ~ tokens bought."""
    fig, ax = new_figure(f"Contract network ({when}): {scenario}", xlabel="")
    volumes = contract_volumes(nodes, edges)
    ax.set_axis_off()
    if volumes.empty:
        note(ax, "no contracts")
        return fig
    providers = nodes[nodes.get("bipartite", pd.Series(dtype=object)) == "provider"]
    kind = dict(zip(providers["node"], providers.get("kind", pd.Series(["?"] * len(providers))), strict=True))
    groups = sorted(volumes["group"].unique())
    names = sorted(volumes["provider"].unique(), key=lambda p: (str(kind.get(p, "")), p))
    y_group = {g: 1.0 - i / max(len(groups) - 1, 1) for i, g in enumerate(groups)}
    y_provider = {p: 1.0 - i / max(len(names) - 1, 1) for i, p in enumerate(names)}
    largest = float(volumes["volume_mtok"].max()) or 1.0
    for row in volumes.itertuples(index=False):
        ax.plot([0.0, 1.0], [y_group[row.group], y_provider[row.provider]], color=KIND_COLORS.get(
            kind.get(row.provider, ""), "0.4"), alpha=0.6, linewidth=MAX_LINE_WIDTH * row.volume_mtok / largest,
            solid_capstyle="butt")
    ax.scatter([0.0] * len(groups), [y_group[g] for g in groups], color="0.3", zorder=3)
    ax.scatter([1.0] * len(names), [y_provider[p] for p in names], zorder=3,
               color=[KIND_COLORS.get(kind.get(p, ""), "0.4") for p in names])
    for g in groups:
        ax.text(-0.02, y_group[g], g, ha="right", va="center", fontsize="small")
    for p in names:
        ax.text(1.02, y_provider[p], f"{p} ({kind.get(p, '?')})", ha="left", va="center", fontsize="small")
    ax.set_xlim(-0.6, 1.6)
    ax.text(0.5, -0.08, f"line width: tokens bought (widest {largest:,.0f} Mtok/month)", transform=ax.transAxes,
            ha="center", fontsize="x-small", color="0.35")
    return fig


def ownership_at(nodes: pd.DataFrame, edges: pd.DataFrame, step: int | None = None) -> nx.DiGraph:
    """Ownership graph with the acquisitions closed up to ``step`` (all of them if None)."""
    graph = nx.DiGraph()
    for row in nodes.itertuples(index=False):
        graph.add_node(row.node, kind=getattr(row, "kind", ""))
    for row in edges.itertuples(index=False):
        deal = int(getattr(row, "step", -1))
        if step is None or deal <= step:
            graph.add_edge(row.source, row.target, step=deal)
    return graph


def ownership_figure(nodes: pd.DataFrame, edges: pd.DataFrame, scenario: str, step: int | None = None) -> Figure:
    """Ownership network at ``step``: providers on a circle, arrows from acquirer to acquired with the deal's month."""
    when = "end of run" if step is None else f"month {step}"
    fig, ax = new_figure(f"Ownership network ({when}): {scenario}", xlabel="")
    ax.set_axis_off()
    graph = ownership_at(nodes, edges, step)
    if graph.number_of_nodes() == 0:
        note(ax, "no providers")
        return fig
    pos = nx.circular_layout(sorted(graph.nodes))
    for u, v, data in graph.edges(data=True):
        ax.annotate("", xy=pos[v], xytext=pos[u], arrowprops={"arrowstyle": "->", "color": "0.2", "lw": 1.5})
        mid = (pos[u] + pos[v]) / 2
        ax.text(mid[0], mid[1], f"month {data['step']}", fontsize="x-small", color="0.25", ha="center")
    order = sorted(graph.nodes)
    ax.scatter([pos[n][0] for n in order], [pos[n][1] for n in order], s=120, zorder=3,
               color=[KIND_COLORS.get(graph.nodes[n].get("kind", ""), "0.5") for n in order])
    for n in order:
        ax.text(pos[n][0] * 1.12, pos[n][1] * 1.12, n, ha="center", va="center", fontsize="small")
    if graph.number_of_edges() == 0:
        ax.text(0.5, 0.02, "no acquisitions", transform=ax.transAxes, ha="center", fontsize="small", color="0.35")
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.3, 1.3)
    return fig


def network_figures(run_dir: Path, scenario: str, steps: list[int] | None = None) -> dict[str, Figure]:
    """The contract network (final month) and the ownership network at each of ``steps`` (default: the end).

    Empty when the run saved no networks.
    """
    out: dict[str, Figure] = {}
    contracts = read_network(run_dir, "contracts")
    if contracts is not None:
        out["network_contracts"] = contracts_figure(*contracts, scenario)
    ownership = read_network(run_dir, "ownership")
    if ownership is not None:
        for step in steps or [None]:
            out["network_ownership" + ("" if step is None else f"_{step}")] = ownership_figure(*ownership, scenario,
                                                                                                step)
    return out
