"""Figures of sweeps and theses: outcome against each parameter, sensitivity indices, PRIM, the verdicts.

* :func:`outcome_vs_parameters_figure`: one panel per parameter, each design point's mean outcome over its
  replications with a 95% t-interval (mean +- t(0.975, n-1) * sd / sqrt(n)).
* :func:`sensitivity_figure`: Sobol (S1, ST) or Morris (mu_star) indices, ranked, with their bootstrap intervals.
* :func:`prim_trajectory_figure` and :func:`feature_scores_figure`: the two views of scenario discovery.
* :func:`forest_figure`: every thesis estimate with its 95% interval and its threshold, one row per thesis on
  its own scale (the statistics have different units), coloured by verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from analysis.style import VERDICT_COLORS, new_figure, wrap_title

if TYPE_CHECKING:
    from analysis.sensitivity import SensitivityResult


def point_intervals(runs: pd.DataFrame, parameters: list[str]) -> pd.DataFrame:
    """Mean outcome of each design point with its 95% t-interval over replications.

    Args:
        runs: One row per run with ``point``, ``value`` and the parameter columns.
        parameters: Parameter columns to carry along.

    Returns:
        One row per point: the parameters, mean, ci_low, ci_high, n (interval nan with one replication).
    """
    grouped = runs.groupby("point", sort=True)
    out = grouped[parameters].first()
    out["mean"] = grouped["value"].mean()
    out["n"] = grouped["value"].count()
    sd = grouped["value"].std(ddof=1)
    half = stats.t.ppf(0.975, np.maximum(out["n"] - 1, 1)) * sd / np.sqrt(out["n"])
    half = half.where(out["n"] > 1)
    out["ci_low"], out["ci_high"] = out["mean"] - half, out["mean"] + half
    return out.reset_index()


def outcome_vs_parameters_figure(runs: pd.DataFrame, parameters: list[str], outcome_label: str,
                                 sweep: str) -> Figure:
    """One panel per parameter: each point's mean outcome against the parameter, with its 95% interval."""
    points = point_intervals(runs, parameters)
    n_runs = int(points["n"].sum())
    fig = Figure(figsize=(4.0 * max(len(parameters), 1), 4.0), layout="constrained")
    fig.suptitle(wrap_title(f"{outcome_label} against each parameter: {sweep}, {n_runs} runs"))
    axes = fig.subplots(1, max(len(parameters), 1), sharey=True, squeeze=False)[0]
    for ax, name in zip(axes, parameters, strict=False):
        x = pd.to_numeric(points[name], errors="coerce")
        err = np.vstack([points["mean"] - points["ci_low"], points["ci_high"] - points["mean"]])
        err = np.where(np.isfinite(err), err, 0.0)
        ax.errorbar(x, points["mean"], yerr=err, fmt="o", markersize=3, alpha=0.7, elinewidth=0.8, capsize=0)
        ax.set_xlabel(name)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel(f"{outcome_label} (point mean, 95% CI)")
    return fig


def sensitivity_figure(result: SensitivityResult) -> Figure:
    """Indices ranked by the main index (ST or mu_star), as horizontal bars with their 95% intervals."""
    indices = ["S1", "ST"] if result.method == "sobol" else ["mu_star"]
    order = list(result.ranking()["parameter"])[::-1]  # largest at the top
    fig, ax = new_figure(f"{result.method.capitalize()} indices of {result.outcome.label}: {result.sweep}, "
                         f"{int(result.points['n'].sum())} runs", xlabel="index (95% CI)")
    height = 0.8 / len(indices)
    for i, index in enumerate(indices):
        rows = result.table[result.table["index"] == index].set_index("parameter").reindex(order)
        y = np.arange(len(order)) + (i - (len(indices) - 1) / 2) * height
        err = np.vstack([rows["estimate"] - rows["ci_low"], rows["ci_high"] - rows["estimate"]])
        ax.barh(y, rows["estimate"], height=height, xerr=err, capsize=3, label=index, color=f"C{i}")
    ax.set_yticks(np.arange(len(order)), order)
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    ax.legend()
    return fig


def prim_trajectory_figure(trajectory: pd.DataFrame, chosen: int, title: str) -> Figure:
    """PRIM's peeling trajectory: density against coverage of every box, coloured by restricted dimensions."""
    fig, ax = new_figure(title, xlabel="coverage (share of all cases of interest inside the box)")
    points = ax.scatter(trajectory["coverage"], trajectory["density"], c=trajectory["res_dim"], cmap="viridis",
                        s=18, zorder=2)
    fig.colorbar(points, ax=ax, label="restricted dimensions")
    row = trajectory.loc[chosen]
    ax.scatter([row["coverage"]], [row["density"]], s=140, facecolors="none", edgecolors="tab:red", linewidths=2,
               zorder=3, label=f"chosen box {chosen}: coverage {row['coverage']:.2f}, density {row['density']:.2f}")
    ax.set_ylabel("density (share of the box's cases of interest)")
    ax.set_xlim(0, 1.05)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize="small", loc="lower left")
    return fig


def feature_scores_figure(scores: pd.Series, title: str) -> Figure:
    """Feature scores (extra-trees importance), largest at the top."""
    ordered = scores.sort_values()
    fig, ax = new_figure(title, xlabel="feature score (extra-trees importance)")
    ax.barh(np.arange(len(ordered)), ordered.to_numpy(dtype=float), color="tab:cyan")
    ax.set_yticks(np.arange(len(ordered)), [str(i) for i in ordered.index])
    return fig


def forest_figure(verdicts: pd.DataFrame, title: str = "Thesis verdicts") -> Figure:
    """Forest plot of every thesis: estimate, 95% interval and threshold, one row (and x scale) per thesis."""
    rows = verdicts.sort_values("number").reset_index(drop=True)
    fig = Figure(figsize=(8.0, 0.9 * max(len(rows), 1) + 1.0), layout="constrained")
    fig.suptitle(wrap_title(f"{title} (bootstrap 95% CI; dashed: threshold)"))
    axes = fig.subplots(max(len(rows), 1), 1, squeeze=False)[:, 0]
    for ax, row in zip(axes, rows.itertuples(index=False), strict=False):
        colour = VERDICT_COLORS.get(str(row.verdict), "tab:gray")
        finite = np.isfinite([row.estimate, row.ci_low, row.ci_high])
        if finite.all():
            ax.errorbar([row.estimate], [0], xerr=[[row.estimate - row.ci_low], [row.ci_high - row.estimate]],
                        fmt="o", color=colour, capsize=4)
        elif finite[0]:
            ax.plot([row.estimate], [0], "o", color=colour)
        ax.axvline(row.threshold, color="0.3", linestyle="--", linewidth=1.0)
        ax.set_yticks([0], [f"{row.number}. {row.title}\n{row.claim}: {row.verdict}"])
        ax.get_yticklabels()[0].set_color(colour)
        ax.set_ylim(-1, 1)
        ax.tick_params(axis="x", labelsize="small")
        ax.grid(True, axis="x", alpha=0.3)
        low = np.nanmin([row.ci_low, row.estimate, row.threshold])
        high = np.nanmax([row.ci_high, row.estimate, row.threshold])
        pad = 0.15 * (high - low) if high > low else max(abs(high), 1.0) * 0.1
        ax.set_xlim(low - pad, high + pad)
    return fig
