"""docs/calibration.md and its figures, from the results of :func:`experiments.calibration.run_calibration`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.calibration import CalibrationSpec, CalibrationTarget, event_counts, target_table
from experiments.outputs import write_text_atomic


def _fmt(x: float) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.3g}"


def _range(row: pd.Series) -> str:
    return f"{_fmt(row['median'])} [{_fmt(row['p05'])}, {_fmt(row['p95'])}]"


def parameter_table(result: dict[str, Any]) -> list[str]:
    """Markdown rows: each uncertain parameter's declared range and its range over the accepted worlds."""
    draws = result["draws"]
    accepted = draws[draws["accepted"]]
    lines = ["| parameter | declared | accepted worlds | source |", "|---|---|---|---|"]
    for p in result["design"].parameters:
        if p.values is not None:
            declared = ", ".join(map(str, p.values))
            counts = accepted[p.name].value_counts()
            kept = ", ".join(f"{v}: {int(counts.get(v, 0))}" for v in p.values)
        else:
            declared = f"{p.low:g} to {p.high:g} ({'log-uniform' if p.scale == 'log' else 'uniform'})"
            v = accepted[p.name].to_numpy(dtype=float)
            kept = f"{v.min():.3g} to {v.max():.3g} (median {np.median(v):.3g})" if len(v) else "-"
        source = " ".join(p.source.split())
        lines.append(f"| {p.description or p.name} (`{p.name}`) | {declared} | {kept} | {source} |")
    return lines


def render_markdown(spec: CalibrationSpec, result: dict[str, Any], figures: dict[str, Path], doc_dir: Path) -> str:
    """docs/calibration.md as text."""
    draws, sweep = result["draws"], result["sweep"]
    accepted = draws[draws["accepted"]]
    n_base = len(result["baseline"])
    worlds = target_table(spec.targets, accepted).set_index("target")
    all_draws = target_table(spec.targets, draws).set_index("target")
    base = target_table(spec.targets, result["baseline"]).set_index("target")
    lines = [
        "# Calibration of the baseline: plausible worlds and hold-out validation",
        "",
        "Regenerate this page, its figures and `experiments/configs/worlds.json` with `make calibration`",
        "(`python -m experiments.calibration`; `--draws N --seeds S` for a quick check). The targets are declared",
        "in `experiments/configs/calibration/targets.toml`, the uncertain parameters in",
        "`experiments/configs/uncertainty.toml`.",
        "",
        f"**Method.** A Latin hypercube (SALib) of {len(draws)} draws of the uncertain parameters, each run with",
        f"the same {sweep.replications} seeds (common random numbers): {len(draws) * sweep.replications} runs. A",
        "draw's outcome on a target is the median over its seeds. A draw is a *plausible world* when its outcome",
        "lies within the tolerance band of every calibration target (history matching, or rejection ABC with a",
        "uniform kernel). Hold-out targets are not used to accept draws; they are checked afterwards on the",
        "accepted worlds as validation (pattern-oriented modelling).",
        "",
        f"**Result: {len(accepted)} of {len(draws)} draws accepted** "
        f"({len(accepted) / max(len(draws), 1):.1%}).",
        "",
        "## Calibration targets",
        "",
        "Accepted worlds: median over worlds [5%, 95%]. All draws: share of draws within the band. Baseline:",
        f"the baseline scenario itself, {n_base} seeds, median [5%, 95%].",
        "",
        "| target | stylized fact | tolerance | accepted worlds | all draws within | baseline | baseline within |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in spec.targets:
        if t.holdout:
            continue
        lines.append(_row(t, worlds.loc[t.name], all_draws.loc[t.name], base.loc[t.name]))
    lines += [
        "", "## Hold-out targets (validation)", "",
        "Not used to accept worlds. Share within: the share of accepted worlds whose outcome is within the band.",
        "",
        "| target | stylized fact | tolerance | accepted worlds | share within | baseline | baseline within |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in spec.targets:
        if not t.holdout:
            continue
        w = worlds.loc[t.name]
        lines.append(f"| {t.description} | {_fmt(t.target)} | [{_fmt(t.low)}, {_fmt(t.high)}] | {_range(w)} | "
                     f"{_fmt(w['share_within'])} | {_range(base.loc[t.name])} | "
                     f"{'yes' if base.loc[t.name, 'within_tolerance'] else 'NO'} |")
    if spec.not_applicable:
        lines += ["", "## Targets not applicable to this scenario", "",
                  "They measure model tiers, which the scenario does not declare; skipped, not approximated.", ""]
        lines += [f"- {t.description} ({t.source})." for t in spec.not_applicable]
    if spec.later:
        lines += ["", "## Targets to add later", "",
                  "Patterns the sources give that the model cannot measure yet; not used, not approximated.", ""]
        lines += [f"- {t.description} ({t.source}): needs {t.needs}." for t in spec.later]
    lines += ["", "## Uncertain parameters", "", *parameter_table(result)]
    lines += ["", "## Sources of the targets", ""]
    lines += [f"- {t.description}: {t.source}." for t in spec.targets]
    counts = event_counts(result["events"], n_base)
    lines += ["", f"## Corporate events of the baseline over {n_base} seeds", "",
              "| event | total | seeds with at least one | mean per run |", "|---|---|---|---|"]
    lines += [f"| {r['event']} | {r['total']} | {r['seeds_with_one']} | {r['mean_per_run']:.2f} |"
              for _, r in counts.iterrows()]
    if result.get("binding"):
        lines += ["", "## Which mechanisms bind in the baseline", "",
                  "Measured by `python -m experiments.binding` on the audit seeds `derive_seeds(2025, 5)`: a mechanism",
                  "that never binds is kept (it binds in other scenarios) but does not shape the baseline's results.",
                  "", result["binding"].rstrip("\n")]
    lines += ["", "## Figures (the baseline's own runs)", ""]
    for t in spec.targets:
        if t.name in figures:
            lines += [f"![{t.description}]({figures[t.name].relative_to(doc_dir).as_posix()})", ""]
    return "\n".join(lines)


def _row(t: CalibrationTarget, worlds: pd.Series, draws: pd.Series, base: pd.Series) -> str:
    return (f"| {t.description} | {_fmt(t.target)} | [{_fmt(t.low)}, {_fmt(t.high)}] | {_range(worlds)} | "
            f"{_fmt(draws['share_within'])} | {_range(base)} | {'yes' if base['within_tolerance'] else 'NO'} |")


def write_figures(spec: CalibrationSpec, series: dict[str, pd.DataFrame], fig_dir: Path) -> dict[str, Path]:
    """One figure per target: median and 90% band of the baseline's series over its seeds."""
    from matplotlib.figure import Figure

    fig_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for t in spec.targets:
        frame = series.get(t.name)
        if frame is None or frame.empty:
            continue
        fig = Figure(figsize=(6.4, 3.6))
        ax = fig.add_subplot()
        steps = frame.index.to_numpy()
        ax.fill_between(steps, frame.quantile(0.05, axis=1), frame.quantile(0.95, axis=1), alpha=0.3,
                        label="90% of seeds")
        ax.plot(steps, frame.median(axis=1), label="median")
        if t.statistic in ("yearly_decline", "yearly_growth"):
            start = float(frame.median(axis=1).iloc[0])
            rate = (1.0 - t.target) if t.statistic == "yearly_decline" else (1.0 + t.target)
            ax.plot(steps, start * rate ** (steps / 12.0), linestyle="--", color="black",
                    label="stylized fact (trend)")
            ax.set_yscale("log")
        elif t.statistic == "initial":
            ax.axhspan(t.low, t.high, color="grey", alpha=0.15, label="tolerance")
            ax.axhline(t.target, linestyle="--", color="black", label="stylized fact")
        ax.set_xlabel("month")
        ax.set_ylabel(t.column)
        ax.set_title(t.description, fontsize="medium")
        ax.legend(fontsize="small")
        fig.tight_layout()
        path = fig_dir / f"calibration_{t.name}.png"
        fig.savefig(path, dpi=110)
        paths[t.name] = path
    return paths


def write_report(spec: CalibrationSpec, result: dict[str, Any], out: Path) -> Path:
    """Write ``out/calibration.md`` and its figures under ``out/figures``."""
    figures = write_figures(spec, result["series"], out / "figures")
    path = out / "calibration.md"
    write_text_atomic(path, render_markdown(spec, result, figures, out) + "\n")
    return path
