"""One figure style for every plot of the package: sizes, colours, titles, HHI bands, PNG and data-URI output.

Figures are :class:`~matplotlib.figure.Figure` objects built without ``pyplot``: nothing here touches pyplot's
global state or switches the user's backend; PNGs are rendered by the Agg canvas.
"""

from __future__ import annotations

import base64
import io
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.files import write_atomic
from market.metrics import HHI_HIGHLY_CONCENTRATED_2023, HHI_MODERATELY_CONCENTRATED_2023

KIND_COLORS: dict[str, str] = {"hyperscaler": "tab:blue", "specialized": "tab:orange", "decentralized": "tab:green",
                               "router": "tab:purple"}
"""Colour of each provider kind, shared by all figures."""

VERDICT_COLORS: dict[str, str] = {"supported": "tab:green", "refuted": "tab:red", "inconclusive": "tab:olive",
                                  "error": "tab:gray"}

FIGSIZE: tuple[float, float] = (8.0, 4.5)
DPI: int = 110
STEP_LABEL = "month (step)"
TITLE_WIDTH = 80
"""Characters per line of a figure title before it wraps."""

HHI_HIGHLY_CONCENTRATED: float = HHI_HIGHLY_CONCENTRATED_2023
"""HHI above which a market is highly concentrated (2023 US merger guidelines: 1,800; ``market.metrics``)."""
HHI_MODERATELY_CONCENTRATED: float = HHI_MODERATELY_CONCENTRATED_2023
"""HHI above which a market is moderately concentrated (2023 US merger guidelines, section 2.1: 1,000)."""
HHI_BANDS: tuple[tuple[float, float, str, str], ...] = (
    (0.0, HHI_MODERATELY_CONCENTRATED, "unconcentrated (< 1,000)", "#e8f4e8"),
    (HHI_MODERATELY_CONCENTRATED, HHI_HIGHLY_CONCENTRATED, "moderately concentrated", "#fdf3d8"),
    (HHI_HIGHLY_CONCENTRATED, 10_000.0, "highly concentrated (> 1,800)", "#f9e0e0"),
)
"""(low, high, label, colour) of the 2023 US merger guidelines' concentration bands."""


def run_title(what: str, scenario: str, seeds: Sequence[int] | pd.Series | None = None) -> str:
    """A title naming the figure, the scenario and the seed (one run) or the number of runs."""
    unique = list(dict.fromkeys(int(s) for s in seeds)) if seeds is not None else []
    if len(unique) == 1:
        return f"{what}: {scenario}, seed {unique[0]}"
    if unique:
        return f"{what}: {scenario}, {len(unique)} runs"
    return f"{what}: {scenario}"


def frame_title(what: str, scenario: str, frame: pd.DataFrame) -> str:
    """:func:`run_title` with the seeds (or run ids) found in ``frame``."""
    if "run_id" in frame.columns and frame["run_id"].nunique() > 1:
        return f"{what}: {scenario}, {frame['run_id'].nunique()} runs"
    if "seed" in frame.columns:
        return run_title(what, scenario, frame["seed"])
    return run_title(what, scenario)


def new_figure(title: str, *, xlabel: str = STEP_LABEL, size: tuple[float, float] = FIGSIZE) -> tuple[Figure, Axes]:
    """A figure with one axes, the title, the x label and a light grid."""
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(wrap_title(title))
    ax.set_xlabel(xlabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def wrap_title(title: str, width: int = TITLE_WIDTH) -> str:
    """A long title broken into lines of at most ``width`` characters (at spaces)."""
    return "\n".join(textwrap.wrap(title, width)) or title


def log_scale_if_positive(ax: Axes, values: pd.DataFrame | pd.Series | np.ndarray) -> None:
    """Log y-axis when every finite value is positive (a log axis cannot show zero or negative values)."""
    data = np.asarray(values, dtype=np.float64).ravel()
    finite = data[np.isfinite(data)]
    if finite.size and np.all(finite > 0):
        ax.set_yscale("log")


def note(ax: Axes, text: str) -> None:
    """A grey note in the middle of the axes (e.g. 'no data')."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure rendered as PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format="png")
    return buffer.getvalue()


def data_uri(fig: Figure, dpi: int = DPI) -> str:
    """The figure as a ``data:image/png;base64,...`` URI, for self-contained HTML."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(fig, dpi)).decode("ascii")


def save_figure(fig: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Write the figure as a PNG file, atomically (parent directories are created)."""
    return write_atomic(path, png_bytes(fig, dpi))
