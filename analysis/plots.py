"""Summary figures of one run, drawn from its Parquet tables.

:func:`plot_run` reads a run directory (``model.parquet``, ``providers.parquet``, ``gpu_market.parquet``, as
written by ``experiments.run.write_run``) and writes one PNG per figure. Each ``*_figure`` function takes the
frames and returns a :class:`matplotlib.figure.Figure`, for use in notebooks.

Figures are built as :class:`~matplotlib.figure.Figure` objects, not through ``pyplot``: nothing here touches
pyplot's global state or switches the user's backend, and PNGs are rendered by the Agg canvas.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "FIGURES",
    "concentration_figure",
    "gpu_price_figure",
    "plot_run",
    "price_index_figure",
    "provider_price_figure",
    "read_run_tables",
    "shares_figure",
    "spend_figure",
    "tokens_figure",
]

RUN_TABLES: tuple[str, ...] = ("model", "providers", "gpu_market")
"""Tables :func:`plot_run` reads, each as ``<name>.parquet`` in the run directory."""

KIND_COLORS: dict[str, str] = {"hyperscaler": "tab:blue", "specialized": "tab:orange", "decentralized": "tab:green"}
"""Colour of each provider kind, shared by all figures."""

HHI_HIGHLY_CONCENTRATED: float = 1800.0
"""HHI above which a market is highly concentrated (2023 US merger guidelines)."""

FIGSIZE: tuple[float, float] = (8.0, 4.5)
DPI: int = 120
STEP_LABEL = "month (step)"


# --------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------


def read_run_tables(run_dir: Path) -> dict[str, pd.DataFrame]:
    """Read the tables the figures need from a run directory.

    Args:
        run_dir: Directory written by ``experiments.run.write_run``.

    Returns:
        ``{"model": ..., "providers": ..., "gpu_market": ...}``.

    Raises:
        FileNotFoundError: The directory or one of the Parquet files does not exist.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory '{run_dir}' does not exist (or is not a directory)")
    missing = [f"{name}.parquet" for name in RUN_TABLES if not (run_dir / f"{name}.parquet").is_file()]
    if missing:
        raise FileNotFoundError(
            f"run directory '{run_dir}' lacks {', '.join(missing)}; expected the output of `ieco run` "
            f"({', '.join(f'{n}.parquet' for n in RUN_TABLES)})"
        )
    return {name: pd.read_parquet(run_dir / f"{name}.parquet") for name in RUN_TABLES}


def _require(frame: pd.DataFrame, columns: Sequence[str], table: str) -> None:
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(f"{table} table lacks column(s) {', '.join(absent)} (have: {', '.join(frame.columns)})")


# --------------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------------


def _new_figure(title: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel(STEP_LABEL)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _log_scale_if_positive(ax: Axes, values: pd.DataFrame | pd.Series) -> None:
    """Log y-axis when every finite value is positive (a log axis cannot show zero or negative values)."""
    data = np.asarray(values, dtype=np.float64).ravel()
    finite = data[np.isfinite(data)]
    if finite.size and np.all(finite > 0):
        ax.set_yscale("log")


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


def price_index_figure(model: pd.DataFrame) -> Figure:
    """Demand-weighted price index and quality-adjusted price index, $/Mtok, on a log scale."""
    _require(model, ["step", "price_index", "quality_adjusted_price_index"], "model")
    fig, ax = _new_figure("Price per token")
    ax.plot(model["step"], model["price_index"], label="price index (spend / tokens served)")
    ax.plot(model["step"], model["quality_adjusted_price_index"], label="quality-adjusted price index")
    _log_scale_if_positive(ax, model[["price_index", "quality_adjusted_price_index"]])
    ax.set_ylabel("$ per Mtok (reference-quality Mtok for the adjusted index)")
    ax.legend()
    return fig


def concentration_figure(model: pd.DataFrame) -> Figure:
    """HHI of revenue by ultimate owner, whole market and per buyer region (``hhi_<region>`` columns)."""
    _require(model, ["step", "hhi"], "model")
    fig, ax = _new_figure("Concentration (HHI by ultimate owner, on revenue)")
    ax.plot(model["step"], model["hhi"], color="black", linewidth=2.0, label="whole market")
    for column in sorted(c for c in model.columns if c.startswith("hhi_")):
        ax.plot(model["step"], model[column], label=f"buyers in {column.removeprefix('hhi_')}")
    ax.axhline(HHI_HIGHLY_CONCENTRATED, color="0.5", linestyle="--", linewidth=1.0,
               label="1,800: highly concentrated (2023 guidelines)")
    ax.set_ylim(0, 10_000)
    ax.set_ylabel("HHI (0-10,000)")
    ax.legend(fontsize="small")
    return fig


def shares_figure(model: pd.DataFrame) -> Figure:
    """Shares of tokens served by provider kind (``share_<kind>`` columns), stacked."""
    kinds = [c.removeprefix("share_") for c in model.columns if c.startswith("share_")]
    _require(model, ["step"], "model")
    fig, ax = _new_figure("Shares of tokens served by provider kind")
    if kinds:
        values = [model[f"share_{k}"].fillna(0.0).to_numpy() for k in kinds]
        colors = [KIND_COLORS.get(k, f"C{i}") for i, k in enumerate(kinds)]
        ax.stackplot(model["step"], values, labels=kinds, colors=colors, alpha=0.85)
        ax.legend(loc="upper left", fontsize="small")
    else:
        _note(ax, "no share_<kind> columns in this run")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of tokens served")
    return fig


def tokens_figure(model: pd.DataFrame) -> Figure:
    """Tokens demanded from providers, tokens served and unmet demand, Mtok per month."""
    _require(model, ["step", "tokens_demanded", "tokens_served", "unmet_demand"], "model")
    fig, ax = _new_figure("Tokens demanded, served and unmet")
    ax.plot(model["step"], model["tokens_demanded"], label="demanded from providers")
    ax.plot(model["step"], model["tokens_served"], linestyle="--", label="served")
    ax.plot(model["step"], model["unmet_demand"], label="unmet (capacity)")
    ax.set_ylabel("Mtok per month")
    ax.legend()
    return fig


def spend_figure(model: pd.DataFrame) -> Figure:
    """Total spend of enterprises on inference (= providers' revenue), $ per month."""
    _require(model, ["step", "total_spend"], "model")
    fig, ax = _new_figure("Total spend on inference")
    ax.plot(model["step"], model["total_spend"], color="tab:purple")
    ax.set_ylabel("$ per month")
    return fig


def gpu_price_figure(gpu_market: pd.DataFrame) -> Figure:
    """Secondary (resale) GPU price by generation, $ per GPU.

    Months before a generation's first unit exists (``produced == 0``) are left out: resellers quote every
    generation, but a resale price of a GPU nobody has bought yet carries no information.
    """
    _require(gpu_market, ["step", "generation", "secondary_price"], "gpu_market")
    fig, ax = _new_figure("Secondary GPU price by generation")
    ax.set_ylabel("$ per GPU")
    if "produced" in gpu_market.columns:
        gpu_market = gpu_market.assign(
            secondary_price=gpu_market["secondary_price"].where(gpu_market["produced"] > 0)
        )
    prices = gpu_market.pivot_table(index="step", columns="generation", values="secondary_price", sort=False,
                                    dropna=False)
    prices = prices.dropna(axis=1, how="all")
    if prices.empty:
        _note(ax, "no secondary GPU market in this run")
        return fig
    generations = list(dict.fromkeys(gpu_market["generation"]))  # release order as configured
    for generation in [g for g in generations if g in prices.columns]:
        ax.plot(prices.index, prices[generation], label=str(generation))
    _log_scale_if_positive(ax, prices)
    ax.legend(title="generation", fontsize="small")
    return fig


def provider_price_figure(providers: pd.DataFrame) -> Figure:
    """Each provider's average price over time, $/Mtok, coloured by kind (active months only)."""
    _require(providers, ["step", "provider", "kind", "price"], "providers")
    frame = providers
    if "active" in frame.columns:
        frame = frame[frame["active"].astype(bool)]
    fig, ax = _new_figure("Provider prices")
    ax.set_ylabel("$ per Mtok")
    if frame.empty:
        _note(ax, "no active provider")
        return fig
    styles = ["-", "--", ":", "-."]
    markers = [None, "o", "s", "^", "x", "d"]
    seen: dict[str, int] = {}
    for name, rows in frame.groupby("provider", sort=False):
        kind = str(rows["kind"].iloc[0])
        k = seen.get(kind, 0)
        seen[kind] = k + 1
        ax.plot(rows["step"], rows["price"], color=KIND_COLORS.get(kind, "0.3"), linestyle=styles[k % len(styles)],
                marker=markers[(k // len(styles)) % len(markers)], markersize=3, label=f"{name} ({kind})")
    _log_scale_if_positive(ax, frame["price"])
    ax.legend(fontsize="x-small", ncol=2 if frame["provider"].nunique() > 6 else 1)
    return fig


FIGURES: dict[str, tuple[str, Callable[[pd.DataFrame], Figure]]] = {
    "price_index": ("model", price_index_figure),
    "concentration": ("model", concentration_figure),
    "shares_by_kind": ("model", shares_figure),
    "tokens": ("model", tokens_figure),
    "spend": ("model", spend_figure),
    "secondary_gpu_price": ("gpu_market", gpu_price_figure),
    "provider_prices": ("providers", provider_price_figure),
}
"""Figure file stem -> (table it is drawn from, function drawing it), in the order :func:`plot_run` writes."""


def plot_run(run_dir: Path, fig_dir: Path) -> list[Path]:
    """Draw the summary figures of a run and write them as PNG files.

    Args:
        run_dir: Run directory with ``model.parquet``, ``providers.parquet`` and ``gpu_market.parquet``.
        fig_dir: Directory for the figures (created if needed).

    Returns:
        Paths of the PNG files written, one per entry of :data:`FIGURES`, in that order.

    Raises:
        FileNotFoundError: ``run_dir`` or one of its tables is missing.
        ValueError: A table lacks a column a figure needs.
    """
    tables = read_run_tables(Path(run_dir))
    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for stem, (table, draw) in FIGURES.items():
        fig = draw(tables[table])
        path = fig_dir / f"{stem}.png"
        fig.savefig(path, dpi=DPI, format="png")
        paths.append(path)
    return paths
