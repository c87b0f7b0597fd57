"""Figures of one run or of several replications of a scenario, drawn from their tables.

Every ``*_figure`` function takes a table (``model``, ``providers``, ``gpu_market`` or ``events``, as written by
``ieco run``; rows of several runs are told apart by ``run_id``) and the scenario name, and returns a
:class:`~matplotlib.figure.Figure` titled with the scenario and the seed or the number of runs. With several
runs a line is their mean by step and the shaded band spans the lowest to the highest run (the replication
band). :func:`plot_run` writes the figures of a run directory as PNG files (``ieco run --figures``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.style import (
    HHI_BANDS,
    KIND_COLORS,
    frame_title,
    log_scale_if_positive,
    new_figure,
    note,
    save_figure,
)

__all__ = [
    "EVENT_MARKS",
    "FIGURES",
    "concentration_figure",
    "events_figure",
    "gpu_price_figure",
    "margins_figure",
    "plot_run",
    "price_index_figure",
    "provider_price_figure",
    "read_run_tables",
    "shares_figure",
    "spend_figure",
    "tokens_figure",
]

RUN_TABLES: tuple[str, ...] = ("model", "providers", "gpu_market", "events")
"""Tables :func:`plot_run` reads, each as ``<name>.parquet`` in the run directory."""

EVENT_MARKS: dict[str, tuple[str, str]] = {
    "entry": ("tab:green", "^"), "exit": ("tab:red", "v"), "acquisition": ("tab:blue", "s"),
    "merger_blocked": ("black", "x"),
}
"""Corporate events marked on the time axis: event name -> (colour, marker)."""


def read_run_tables(run_dir: Path) -> dict[str, pd.DataFrame]:
    """Read the tables the figures need from a run directory (``model``, ``providers``, ``gpu_market``, ``events``).

    Raises:
        FileNotFoundError: The directory or one of the Parquet files does not exist.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory '{run_dir}' does not exist (or is not a directory)")
    missing = [f"{name}.parquet" for name in RUN_TABLES if not (run_dir / f"{name}.parquet").is_file()]
    if missing:
        raise FileNotFoundError(f"run directory '{run_dir}' lacks {', '.join(missing)}; expected the output of "
                                f"`ieco run` ({', '.join(f'{n}.parquet' for n in RUN_TABLES)})")
    return {name: pd.read_parquet(run_dir / f"{name}.parquet") for name in RUN_TABLES}


def scenario_name(run_dir: Path) -> str:
    """The scenario's name from a run's ``manifest.json`` (the directory name if there is none)."""
    path = Path(run_dir) / "manifest.json"
    if path.is_file():
        return str(json.loads(path.read_text()).get("scenario", Path(run_dir).name))
    return Path(run_dir).name


def _require(frame: pd.DataFrame, columns: Sequence[str], table: str) -> None:
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(f"{table} table lacks column(s) {', '.join(absent)} (have: {', '.join(frame.columns)})")


def step_band(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean, lowest and highest value of ``column`` over runs, by step (index: step)."""
    by_run = "run_id" if "run_id" in frame.columns else None
    if by_run is None:
        values = frame.set_index("step")[column].astype(float)
        return pd.DataFrame({"mean": values, "low": values, "high": values})
    wide = frame.pivot_table(index="step", columns=by_run, values=column, aggfunc="sum", dropna=False)
    return pd.DataFrame({"mean": wide.mean(axis=1), "low": wide.min(axis=1), "high": wide.max(axis=1)})


def _band_line(ax: Axes, frame: pd.DataFrame, column: str, label: str, **style: object) -> pd.DataFrame:
    band = step_band(frame, column)
    (line,) = ax.plot(band.index, band["mean"], label=label, **style)  # type: ignore[arg-type]
    if (band["high"] > band["low"]).any():
        ax.fill_between(band.index, band["low"], band["high"], color=line.get_color(), alpha=0.2, linewidth=0)
    return band


def _runs(frame: pd.DataFrame) -> int:
    return int(frame["run_id"].nunique()) if "run_id" in frame.columns else 1


def _band_note(ax: Axes, frame: pd.DataFrame) -> None:
    if _runs(frame) > 1:
        ax.text(0.99, 0.01, f"line: mean; band: range over {_runs(frame)} runs", transform=ax.transAxes,
                ha="right", va="bottom", fontsize="x-small", color="0.35")


def price_index_figure(model: pd.DataFrame, scenario: str = "run") -> Figure:
    """Demand-weighted and quality-adjusted price indices, $/Mtok, log scale, with replication bands."""
    _require(model, ["step", "price_index", "quality_adjusted_price_index"], "model")
    fig, ax = new_figure(frame_title("Price per token", scenario, model))
    _band_line(ax, model, "price_index", "price index (spend / tokens served)")
    _band_line(ax, model, "quality_adjusted_price_index", "quality-adjusted price index")
    log_scale_if_positive(ax, model[["price_index", "quality_adjusted_price_index"]])
    ax.set_ylabel("$ per Mtok (reference-quality Mtok for the adjusted index)")
    ax.legend()
    _band_note(ax, model)
    return fig


def concentration_figure(model: pd.DataFrame, scenario: str = "run") -> Figure:
    """HHI by ultimate owner (whole market with its band, and per buyer region) over the guideline bands."""
    _require(model, ["step", "hhi"], "model")
    fig, ax = new_figure(frame_title("Concentration (HHI by owner, on revenue)", scenario, model))
    for low, high, label, colour in HHI_BANDS:
        ax.axhspan(low, high, color=colour, zorder=0, label=label)
    _band_line(ax, model, "hhi", "whole market", color="black", linewidth=2.0)
    for column in sorted(c for c in model.columns if c.startswith("hhi_")):
        ax.plot(*_mean_by_step(model, column), linewidth=1.0, label=f"buyers in {column.removeprefix('hhi_')}")
    ax.set_ylim(0, 10_000)
    ax.set_ylabel("HHI (0-10,000)")
    ax.legend(fontsize="x-small", loc="upper left", ncol=2)
    _band_note(ax, model)
    return fig


def _mean_by_step(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    series = frame.groupby("step", sort=True)[column].mean()
    return series.index.to_numpy(), series.to_numpy(dtype=float)


def shares_figure(model: pd.DataFrame, scenario: str = "run") -> Figure:
    """Shares of tokens served by provider kind (``share_<kind>`` columns, mean over runs), stacked."""
    _require(model, ["step"], "model")
    kinds = [c.removeprefix("share_") for c in model.columns if c.startswith("share_")]
    fig, ax = new_figure(frame_title("Shares of tokens served by provider kind", scenario, model))
    if kinds:
        steps = np.sort(model["step"].unique())
        values = [model.groupby("step")[f"share_{k}"].mean().reindex(steps).fillna(0.0).to_numpy() for k in kinds]
        colors = [KIND_COLORS.get(k, f"C{i}") for i, k in enumerate(kinds)]
        ax.stackplot(steps, values, labels=kinds, colors=colors, alpha=0.85)
        ax.legend(loc="upper left", fontsize="small")
    else:
        note(ax, "no share_<kind> columns in this run")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of tokens served")
    return fig


def margins_figure(model: pd.DataFrame, scenario: str = "run") -> Figure:
    """Mean operating margin by provider kind (``margin_<kind>`` columns), with replication bands."""
    _require(model, ["step"], "model")
    kinds = [c.removeprefix("margin_") for c in model.columns if c.startswith("margin_")]
    fig, ax = new_figure(frame_title("Margins by provider kind", scenario, model))
    drawn = [k for k in kinds if model[f"margin_{k}"].notna().any()]
    for kind in drawn:
        _band_line(ax, model, f"margin_{kind}", kind, color=KIND_COLORS.get(kind, "0.3"))
    if drawn:
        ax.axhline(0.0, color="0.3", linewidth=0.8)
        ax.legend(fontsize="small")
        _band_note(ax, model)
    else:
        note(ax, "no margin_<kind> columns with data in this run")
    ax.set_ylabel("margin (profit / revenue)")
    return fig


def tokens_figure(model: pd.DataFrame, scenario: str = "run") -> Figure:
    """Tokens demanded and served on a log axis; the gap between them (unmet demand) is shaded and drawn."""
    _require(model, ["step", "tokens_demanded", "tokens_served", "unmet_demand"], "model")
    fig, ax = new_figure(frame_title("Tokens demanded, served and unmet", scenario, model))
    demanded = _band_line(ax, model, "tokens_demanded", "demanded from providers")
    served = _band_line(ax, model, "tokens_served", "served", linestyle="--")
    ax.fill_between(served.index, served["mean"], demanded["mean"], where=demanded["mean"] > served["mean"],
                    color="tab:red", alpha=0.3, label="gap: unmet (capacity)")
    steps, unmet = _mean_by_step(model, "unmet_demand")
    if np.any(unmet > 0):
        ax.plot(steps, np.where(unmet > 0, unmet, np.nan), color="tab:red", marker=".", label="unmet demand")
    else:
        ax.text(0.01, 0.01, "no unmet demand in any month", transform=ax.transAxes, fontsize="small", color="0.35")
    log_scale_if_positive(ax, model[["tokens_demanded", "tokens_served"]])
    ax.set_ylabel("Mtok per month (log)")
    ax.legend(fontsize="small")
    return fig


def spend_figure(model: pd.DataFrame, scenario: str = "run") -> Figure:
    """Total spend of enterprises on inference (= providers' revenue), $ per month."""
    _require(model, ["step", "total_spend"], "model")
    fig, ax = new_figure(frame_title("Total spend on inference", scenario, model))
    _band_line(ax, model, "total_spend", "total spend", color="tab:purple")
    ax.set_ylabel("$ per month")
    return fig


def gpu_price_figure(gpu_market: pd.DataFrame, scenario: str = "run") -> Figure:
    """Secondary (resale) GPU price by generation (mean over runs), $ per GPU.

    Months before a generation's first unit exists (``produced == 0``) are left out: a resale price of a GPU
    nobody has bought yet carries no information.
    """
    _require(gpu_market, ["step", "generation", "secondary_price"], "gpu_market")
    fig, ax = new_figure(frame_title("Secondary GPU price by generation", scenario, gpu_market))
    ax.set_ylabel("$ per GPU")
    if "produced" in gpu_market.columns:
        gpu_market = gpu_market.assign(secondary_price=gpu_market["secondary_price"].where(gpu_market["produced"] > 0))
    prices = gpu_market.pivot_table(index="step", columns="generation", values="secondary_price", aggfunc="mean",
                                    sort=False, dropna=False).dropna(axis=1, how="all")
    if prices.empty:
        note(ax, "no secondary GPU market in this run")
        return fig
    for generation in [g for g in dict.fromkeys(gpu_market["generation"]) if g in prices.columns]:
        ax.plot(prices.index, prices[generation], label=str(generation))
    log_scale_if_positive(ax, prices)
    ax.legend(title="generation", fontsize="small")
    return fig


def provider_price_figure(providers: pd.DataFrame, scenario: str = "run") -> Figure:
    """Each provider's average price over time, $/Mtok, coloured by kind (active months, first run only)."""
    _require(providers, ["step", "provider", "kind", "price"], "providers")
    frame = providers
    if "run_id" in frame.columns and frame["run_id"].nunique() > 1:
        frame = frame[frame["run_id"] == frame["run_id"].iloc[0]]
    if "active" in frame.columns:
        frame = frame[frame["active"].astype(bool)]
    fig, ax = new_figure(frame_title("Provider prices", scenario, frame))
    ax.set_ylabel("$ per Mtok")
    if frame.empty:
        note(ax, "no active provider")
        return fig
    styles, markers = ["-", "--", ":", "-."], [None, "o", "s", "^", "x", "d"]
    seen: dict[str, int] = {}
    for name, rows in frame.groupby("provider", sort=False):
        kind = str(rows["kind"].iloc[0])
        k = seen.get(kind, 0)
        seen[kind] = k + 1
        ax.plot(rows["step"], rows["price"], color=KIND_COLORS.get(kind, "0.3"), linestyle=styles[k % len(styles)],
                marker=markers[(k // len(styles)) % len(markers)], markersize=3, label=f"{name} ({kind})")
    log_scale_if_positive(ax, frame["price"])
    ax.legend(fontsize="x-small", ncol=2 if frame["provider"].nunique() > 6 else 1)
    return fig


def events_figure(model: pd.DataFrame, events: pd.DataFrame, scenario: str = "run") -> Figure:
    """Active providers over time, with entries, exits, acquisitions and blocked mergers marked at their month.

    Each event is a marker at its step (stacked upwards when several fall in one month) and a faint vertical
    line; the legend counts each kind. With several runs only the first run's events are marked.
    """
    _require(model, ["step", "n_active_providers"], "model")
    _require(events, ["step", "event"], "events")
    if "run_id" in events.columns and events["run_id"].nunique() > 1:
        events = events[events["run_id"] == events["run_id"].iloc[0]]
    fig, ax = new_figure(frame_title("Active providers and corporate events", scenario, model))
    _band_line(ax, model, "n_active_providers", "active providers", color="0.2")
    top = float(model["n_active_providers"].max()) + 1.0
    marked = events[events["event"].isin(list(EVENT_MARKS))]
    for kind, (colour, marker) in EVENT_MARKS.items():
        rows = marked[marked["event"] == kind]
        if rows.empty:
            continue
        level = top + 0.6 * rows.groupby("step").cumcount().to_numpy() + 0.6 * list(EVENT_MARKS).index(kind) / 4
        for step in rows["step"].unique():
            ax.axvline(step, color=colour, alpha=0.25, linewidth=1.0)
        ax.scatter(rows["step"], level, color=colour, marker=marker, zorder=3, label=f"{kind} ({len(rows)})")
    if marked.empty:
        ax.text(0.01, 0.01, "no entries, exits, acquisitions or blocked mergers", transform=ax.transAxes,
                fontsize="small", color="0.35")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("providers")
    ax.legend(fontsize="small", loc="lower right")
    return fig


RunFigure = Callable[[dict[str, pd.DataFrame], str], Figure]

FIGURES: dict[str, RunFigure] = {
    "price_index": lambda t, s: price_index_figure(t["model"], s),
    "concentration": lambda t, s: concentration_figure(t["model"], s),
    "shares_by_kind": lambda t, s: shares_figure(t["model"], s),
    "margins_by_kind": lambda t, s: margins_figure(t["model"], s),
    "tokens": lambda t, s: tokens_figure(t["model"], s),
    "spend": lambda t, s: spend_figure(t["model"], s),
    "events": lambda t, s: events_figure(t["model"], t["events"], s),
    "secondary_gpu_price": lambda t, s: gpu_price_figure(t["gpu_market"], s),
    "provider_prices": lambda t, s: provider_price_figure(t["providers"], s),
}
"""Figure file stem -> function of (tables, scenario name), in the order :func:`plot_run` writes."""


def run_figures(tables: dict[str, pd.DataFrame], scenario: str) -> dict[str, Figure]:
    """Every figure of :data:`FIGURES` for these tables, by stem."""
    return {stem: draw(tables, scenario) for stem, draw in FIGURES.items()}


def plot_run(run_dir: Path, fig_dir: Path) -> list[Path]:
    """Draw the figures of a run directory (plus its networks, if saved) and write them as PNG files.

    Returns:
        Paths of the PNG files written: one per entry of :data:`FIGURES`, in that order, then the network
        figures when the run saved its networks.

    Raises:
        FileNotFoundError: ``run_dir`` or one of its tables is missing.
        ValueError: A table lacks a column a figure needs.
    """
    from analysis.network_plots import network_figures

    tables = read_run_tables(Path(run_dir))
    scenario = scenario_name(Path(run_dir))
    figures = {**run_figures(tables, scenario), **network_figures(Path(run_dir), scenario)}
    return [save_figure(fig, Path(fig_dir) / f"{stem}.png") for stem, fig in figures.items()]
