"""Calibration of the baseline against stylized facts: run seeds, measure targets, write docs/calibration.md.

``python -m experiments.calibration`` (or ``make calibration``) runs the baseline for the configured seeds,
computes each target's statistic per run, and writes a Markdown table (target, tolerance band, simulated median
and 90% interval, pass/fail), one figure per target (median and 90% band of the underlying series over time),
and the counts of corporate events over all seeds.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from analysis.statistics import step_series, yearly_decline, yearly_growth
from experiments.outputs import write_text_atomic
from experiments.run import RunResult, run_scenario
from market.config.files import ConfigError, load_scenario, read_toml, validate_data

DEFAULT_TARGETS = Path(__file__).parent / "configs" / "calibration" / "targets.toml"


class CalibrationTarget(BaseModel):
    """One stylized fact and how a run measures it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str
    table: Literal["model", "providers", "enterprises", "gpu_market"]
    column: str
    where: dict[str, Any] = Field(default_factory=dict)
    statistic: Literal["yearly_decline", "yearly_growth", "initial"]
    window: int = Field(3, ge=1)
    months: int | None = Field(None, ge=2, description="Measure over the first this many months only.")
    target: float
    low: float
    high: float
    source: str


class CalibrationSpec(BaseModel):
    """A calibration: the scenario, the number of seeds and the targets."""

    model_config = ConfigDict(extra="forbid")

    scenario: str
    seeds: int = Field(20, ge=1)
    targets: list[CalibrationTarget] = Field(min_length=1)


def load_spec(path: Path) -> CalibrationSpec:
    """Read a calibration target file."""
    return validate_data(read_toml(path), CalibrationSpec, str(path))


def target_series(result: RunResult, target: CalibrationTarget) -> pd.Series:
    """The series (by step) a target's statistic is computed on."""
    frame = getattr(result, target.table)
    series = step_series(frame, target.column, where=target.where or None)
    return series.iloc[: target.months] if target.months is not None else series


def measure(series: pd.Series, target: CalibrationTarget) -> float:
    """A target's statistic of one run's series."""
    if target.statistic == "yearly_decline":
        return yearly_decline(series)
    if target.statistic == "yearly_growth":
        return yearly_growth(series)
    return float(series.iloc[: target.window].mean())


def calibrate(spec: CalibrationSpec, seeds: int | None = None, root: Path = Path(".")) -> dict[str, Any]:
    """Run the scenario for every seed and measure every target.

    Returns:
        ``{"values": DataFrame (seed x target), "series": {target: DataFrame (step x seed)}, "events": DataFrame}``.
    """
    config = load_scenario(root / spec.scenario)
    n = spec.seeds if seeds is None else seeds
    values: dict[str, dict[int, float]] = {t.name: {} for t in spec.targets}
    series: dict[str, dict[int, pd.Series]] = {t.name: {} for t in spec.targets}
    events: list[pd.DataFrame] = []
    for seed in range(n):
        result = run_scenario(config, seed)
        for t in spec.targets:
            s = target_series(result, t)
            series[t.name][seed] = s
            values[t.name][seed] = measure(s, t)
        events.append(result.events.assign(seed=seed))
        print(f"seed {seed + 1}/{n} done", file=sys.stderr)
    return {
        "values": pd.DataFrame(values),
        "series": {name: pd.DataFrame(by_seed) for name, by_seed in series.items()},
        "events": pd.concat(events, ignore_index=True),
    }


def summary_table(spec: CalibrationSpec, values: pd.DataFrame) -> pd.DataFrame:
    """Target vs simulated median and 90% interval, with whether the median is inside the tolerance band."""
    rows = []
    for t in spec.targets:
        v = values[t.name].to_numpy(dtype=float)
        median = float(np.median(v))
        rows.append({
            "target": t.name,
            "description": t.description,
            "stylized_fact": t.target,
            "tolerance_low": t.low,
            "tolerance_high": t.high,
            "median": median,
            "p05": float(np.quantile(v, 0.05)),
            "p95": float(np.quantile(v, 0.95)),
            "within_tolerance": bool(t.low <= median <= t.high),
            "source": t.source,
        })
    return pd.DataFrame(rows)


CORPORATE_EVENTS = ("entry", "exit", "acquisition", "merger_blocked")


def event_counts(events: pd.DataFrame, n_seeds: int) -> pd.DataFrame:
    """Corporate events over all seeds: total, seeds with at least one, mean per run."""
    rows = []
    for kind in CORPORATE_EVENTS:
        hits = events[events["event"] == kind]
        rows.append({"event": kind, "total": len(hits), "seeds_with_one": hits["seed"].nunique(),
                     "mean_per_run": len(hits) / n_seeds})
    return pd.DataFrame(rows)


def write_figures(spec: CalibrationSpec, series: dict[str, pd.DataFrame], fig_dir: Path) -> dict[str, Path]:
    """One figure per target: median and 90% band of its series over the seeds."""
    from matplotlib.figure import Figure

    fig_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for t in spec.targets:
        frame = series[t.name]
        fig = Figure(figsize=(6.4, 3.6))
        ax = fig.add_subplot()
        steps = frame.index.to_numpy()
        ax.fill_between(steps, frame.quantile(0.05, axis=1), frame.quantile(0.95, axis=1), alpha=0.3,
                        label="90% of seeds")
        ax.plot(steps, frame.median(axis=1), label="median")
        if t.statistic != "initial":
            start = float(frame.median(axis=1).iloc[0])
            rate = (1.0 - t.target) if t.statistic == "yearly_decline" else (1.0 + t.target)
            ax.plot(steps, start * rate ** (steps / 12.0), linestyle="--", color="black",
                    label="stylized fact (trend)")
            ax.set_yscale("log")
        else:
            ax.axhspan(t.low, t.high, color="grey", alpha=0.15, label="tolerance")
            ax.axhline(t.target, linestyle="--", color="black", label="stylized fact")
        ax.set_xlabel("month")
        ax.set_ylabel(f"{t.column}" + (f" ({', '.join(f'{k}={v}' for k, v in t.where.items())})" if t.where else ""))
        ax.set_title(t.description)
        ax.legend(fontsize="small")
        fig.tight_layout()
        path = fig_dir / f"calibration_{t.name}.png"
        fig.savefig(path, dpi=110)
        paths[t.name] = path
    return paths


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def render_markdown(spec: CalibrationSpec, table: pd.DataFrame, events: pd.DataFrame, n_seeds: int,
                    figures: dict[str, Path], doc_dir: Path) -> str:
    """docs/calibration.md as text."""
    lines = [
        "# Calibration of the baseline",
        "",
        f"The baseline scenario (`{spec.scenario}`) run for {n_seeds} seeds, each statistic measured per run and",
        "compared with the stylized facts of the reference data. A row passes when the median over seeds lies in",
        "its tolerance band. Regenerate this page and its figures with `make calibration`",
        "(`python -m experiments.calibration`); the targets are declared in",
        "`experiments/configs/calibration/targets.toml`.",
        "",
        "Yearly decline and growth are from a log-linear fit over the run (or its first months where a target says",
        "so; a decline of 0.90 is a 10x fall a year); 'initial' is the mean of the first months.",
        "",
        "| target | stylized fact | tolerance | simulated median | 90% interval | within tolerance |",
        "|---|---|---|---|---|---|",
    ]
    for _, row in table.iterrows():
        lines.append(
            f"| {row['description']} | {_fmt(row['stylized_fact'])} | [{_fmt(row['tolerance_low'])}, "
            f"{_fmt(row['tolerance_high'])}] | {_fmt(row['median'])} | [{_fmt(row['p05'])}, {_fmt(row['p95'])}] | "
            f"{'yes' if row['within_tolerance'] else 'NO'} |"
        )
    lines += ["", "Sources:", ""]
    lines += [f"- {row['description']}: {row['source']}." for _, row in table.iterrows()]
    lines += ["", f"## Corporate events over {n_seeds} seeds", "",
              "| event | total | seeds with at least one | mean per run |", "|---|---|---|---|"]
    lines += [f"| {r['event']} | {r['total']} | {r['seeds_with_one']} | {r['mean_per_run']:.2f} |"
              for _, r in events.iterrows()]
    lines += ["", "## Figures", ""]
    for t in spec.targets:
        rel = figures[t.name].relative_to(doc_dir)
        lines += [f"![{t.description}]({rel.as_posix()})", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: ``python -m experiments.calibration [--seeds N] [--targets FILE] [--out docs]``."""
    parser = argparse.ArgumentParser(description="Calibrate the baseline against stylized facts.")
    parser.add_argument("--targets", type=Path, default=DEFAULT_TARGETS)
    parser.add_argument("--seeds", type=int, default=None, help="Seeds to run (default: the target file's).")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="Directory of calibration.md.")
    args = parser.parse_args(argv)
    try:
        spec = load_spec(args.targets)
        outcome = calibrate(spec, args.seeds)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n = len(outcome["values"])
    table = summary_table(spec, outcome["values"])
    counts = event_counts(outcome["events"], n)
    figures = write_figures(spec, outcome["series"], args.out / "figures")
    text = render_markdown(spec, table, counts, n, figures, args.out)
    write_text_atomic(args.out / "calibration.md", text + "\n")
    print(table[["target", "stylized_fact", "median", "p05", "p95", "within_tolerance"]].to_string(index=False))
    print(f"wrote {args.out / 'calibration.md'}")
    return 0 if table["within_tolerance"].all() else 1


if __name__ == "__main__":
    sys.exit(main())
