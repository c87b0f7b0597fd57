"""Calibration by acceptance: search the plausible worlds, check hold-out patterns, write docs/calibration.md.

``python -m experiments.calibration`` (or ``make calibration``):

1. reads the targets (``configs/calibration/targets.toml``: each with its statistic, tolerance band, source and
   whether it is a ``holdout``) and the uncertain parameters (``configs/uncertainty.toml``);
2. runs a Latin hypercube of ``draws`` parameter draws x ``seeds`` seeds (common random numbers) and the
   baseline itself for ``scenario_seeds`` seeds, through the sweep machinery (:mod:`experiments.sweep`; local
   Ray, or in-process with ``--workers 1``) into ``--runs`` (default ``results/calibration``);
3. measures every target in every run; a draw's outcome is the median over its seeds;
4. accepts the draws whose outcome is within every calibration (non-hold-out) target's band (history
   matching / rejection ABC with a uniform kernel); hold-out targets never affect acceptance and are reported
   as validation: the share of accepted worlds within each hold-out band;
5. writes the accepted worlds (``configs/worlds.json``, :mod:`experiments.worlds`) and the report.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from analysis.outcomes import sweep_plan
from analysis.results import load_sweep, sweep_manifest
from analysis.statistics import catch_up_lag, step_series, yearly_decline, yearly_growth
from market.config.files import ConfigError, read_toml, validate_data

DEFAULT_TARGETS = Path(__file__).parent / "configs" / "calibration" / "targets.toml"
TableName = Literal["model", "providers", "enterprises", "gpu_market"]


class SeriesSpec(BaseModel):
    """A series by step: ``column`` (summed over rows passing ``where``), divided by summed ``per``."""

    model_config = ConfigDict(extra="forbid")

    column: str
    per: str | None = None
    where: dict[str, Any] = Field(default_factory=dict)


class CalibrationTarget(SeriesSpec):
    """One stylized fact, how a run measures it, and whether it calibrates or validates (hold-out)."""

    name: str
    description: str
    table: TableName
    relative_to: SeriesSpec | None = Field(None, description="Divide the series by this one (same table).")
    leader: str | None = Field(None, description="lag_months: the leader's column (the target's column follows).")
    statistic: Literal["yearly_decline", "yearly_growth", "initial", "lag_months"]
    window: int = Field(3, ge=1)
    months: int | None = Field(None, ge=2, description="Measure over the first this many months only.")
    target: float
    low: float
    high: float
    holdout: bool = Field(False, description="Not used to accept worlds; checked afterwards as validation.")
    needs_tiers: bool = Field(False, description="Measures tier columns: not applicable (skipped, reported as "
                              "such) for a scenario that declares no tiers.")
    source: str


class LaterTarget(BaseModel):
    """A pattern the sources give that the model cannot measure yet (listed in the report, never faked)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str
    source: str
    needs: str


class CalibrationSpec(BaseModel):
    """A calibration: the scenario, the number of its own seeds, the targets and the patterns to add later."""

    model_config = ConfigDict(extra="forbid")

    scenario: str
    seeds: int = Field(20, ge=1)
    targets: list[CalibrationTarget] = Field(min_length=1)
    later: list[LaterTarget] = Field(default_factory=list)
    not_applicable: list[CalibrationTarget] = Field(
        default_factory=list, description="Targets skipped for this scenario (set by :func:`applicable_spec`).")


def load_spec(path: Path) -> CalibrationSpec:
    """Read a calibration target file."""
    return validate_data(read_toml(path), CalibrationSpec, str(path))


def applicable_spec(spec: CalibrationSpec, tiered: bool) -> CalibrationSpec:
    """``spec`` with the targets that need tiers moved to ``not_applicable`` when the scenario has none.

    Raises:
        ConfigError: No target would be left.
    """
    if tiered:
        return spec
    keep = [t for t in spec.targets if not t.needs_tiers]
    if not keep:
        raise ConfigError("every calibration target needs tiers and the scenario declares none")
    return spec.model_copy(update={"targets": keep,
                                   "not_applicable": [t for t in spec.targets if t.needs_tiers]})


def _series(frame: pd.DataFrame, spec: SeriesSpec) -> pd.Series:
    return step_series(frame, spec.column, per=spec.per, where=spec.where or None)


def target_series(frame: pd.DataFrame, target: CalibrationTarget) -> pd.Series:
    """The series (by step) of one run's table that a target's statistic is computed on."""
    series = _series(frame, target)
    if target.relative_to is not None:
        series = series / _series(frame, target.relative_to)
    return series.iloc[: target.months] if target.months is not None else series


def measure(series: pd.Series, target: CalibrationTarget, leader: pd.Series | None = None) -> float:
    """A target's statistic of one run's series (``leader``: the leader's series, for ``lag_months``)."""
    if target.statistic == "yearly_decline":
        return yearly_decline(series)
    if target.statistic == "yearly_growth":
        return yearly_growth(series)
    if target.statistic == "lag_months":
        if leader is None:
            raise ValueError(f"target '{target.name}': lag_months needs the leader's series")
        return catch_up_lag(leader.loc[series.index], series)
    return float(series.iloc[: target.window].mean())


def measure_run(tables: dict[str, pd.DataFrame], targets: Sequence[CalibrationTarget]) -> dict[str, float]:
    """Every target's statistic of one run (``tables``: the run's frames by table name); NaN where undefined."""
    out: dict[str, float] = {}
    for t in targets:
        frame = tables[t.table]
        try:
            series = target_series(frame, t)
            leader = None
            if t.leader is not None:
                leader = step_series(frame, t.leader)
            out[t.name] = measure(series, t, leader)
        except ValueError:  # a statistic undefined in this run (no rows, non-positive values)
            out[t.name] = float("nan")
    return out


def _columns(targets: Sequence[CalibrationTarget], table: str) -> list[str]:
    cols: list[str] = ["run_id", "point", "replication", "step"]
    for t in targets:
        if t.table != table:
            continue
        for spec in [t, *([t.relative_to] if t.relative_to else [])]:
            cols += [spec.column, *([spec.per] if spec.per else []), *spec.where]
        cols += [t.leader] if t.leader else []
    return list(dict.fromkeys(cols))


def measure_store(directory: Path, targets: Sequence[CalibrationTarget],
                  keep_series: bool = False) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Every target in every finished run of a sweep directory.

    Returns:
        One row per run (run_id, point, replication, one column per target), and with ``keep_series`` the
        series of every target as a frame (step x run) by target name.
    """
    frames = {table: load_sweep(directory, table, columns=_columns(targets, table))
              for table in dict.fromkeys(t.table for t in targets)}
    rows: list[dict[str, Any]] = []
    series: dict[str, dict[str, pd.Series]] = {t.name: {} for t in targets}
    grouped = {table: dict(tuple(frame.groupby("run_id", sort=True))) for table, frame in frames.items()}
    for run_id in sorted(grouped[targets[0].table]):
        tables = {table: runs[run_id] for table, runs in grouped.items() if run_id in runs}
        first = next(iter(tables.values()))
        row = {"run_id": run_id, "point": int(first["point"].iloc[0]),
               "replication": int(first["replication"].iloc[0]),
               **measure_run(tables, targets)}
        rows.append(row)
        if keep_series:
            for t in targets:
                try:
                    series[t.name][run_id] = target_series(tables[t.table], t)
                except ValueError:
                    continue
    values = pd.DataFrame(rows, columns=["run_id", "point", "replication", *(t.name for t in targets)])
    return values, {name: pd.DataFrame(by_run) for name, by_run in series.items()}


def draw_outcomes(runs: pd.DataFrame, targets: Sequence[CalibrationTarget]) -> pd.DataFrame:
    """A draw's outcome per target: the median over its seeds (NaN seeds ignored), one row per point."""
    names = [t.name for t in targets]
    return runs.groupby("point", sort=True)[names].median().reset_index()


def within(values: pd.Series | np.ndarray, target: CalibrationTarget) -> np.ndarray:
    """Whether each value lies in the target's tolerance band [low, high] (NaN is outside)."""
    v = np.asarray(values, dtype=float)
    return (v >= target.low) & (v <= target.high)


def accept(draws: pd.DataFrame, targets: Sequence[CalibrationTarget]) -> pd.DataFrame:
    """Acceptance of each draw: within every calibration target's band; hold-out targets do not count.

    Args:
        draws: One row per draw with one column per target (the draw's outcome).
        targets: The targets.

    Returns:
        ``draws`` with ``within_<target>`` for every target and ``accepted``.
    """
    out = draws.copy()
    accepted = np.ones(len(out), dtype=bool)
    for t in targets:
        inside = within(out[t.name], t)
        out[f"within_{t.name}"] = inside
        if not t.holdout:
            accepted &= inside
    out["accepted"] = accepted
    return out


def target_table(targets: Sequence[CalibrationTarget], values: pd.DataFrame) -> pd.DataFrame:
    """Per target: the stylized fact, band, median and 90% range of ``values`` (one row per run or world), the
    share within the band, and whether the median is within it."""
    rows = []
    for t in targets:
        v = values[t.name].to_numpy(dtype=float) if len(values) else np.array([])
        finite = v[np.isfinite(v)]
        median = float(np.median(finite)) if len(finite) else float("nan")
        rows.append({
            "target": t.name, "description": t.description, "holdout": t.holdout, "stylized_fact": t.target,
            "tolerance_low": t.low, "tolerance_high": t.high, "median": median,
            "p05": float(np.quantile(finite, 0.05)) if len(finite) else float("nan"),
            "p95": float(np.quantile(finite, 0.95)) if len(finite) else float("nan"),
            "share_within": float(within(v, t).mean()) if len(v) else float("nan"),
            "within_tolerance": bool(t.low <= median <= t.high), "source": t.source,
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


RUN_STORES = ("design", "baseline")
"""Sweep directories under ``--runs``: the design's runs and the baseline's own."""


def prepare_runs(runs: Path, resume: bool) -> None:
    """Without ``resume``, remove the runs of an earlier calibration under ``runs`` (only stores this tool made).

    Raises:
        ConfigError: A store there was not made by a calibration.
    """
    if resume:
        return
    for name in RUN_STORES:
        store = runs / name
        if not store.exists():
            continue
        try:
            manifest = sweep_manifest(store)
        except FileNotFoundError:
            raise ConfigError(f"--runs {runs}: {store} exists and is not a calibration's runs; choose another "
                              "--runs directory") from None
        if manifest.get("name") not in ("plausible_worlds", "calibration_baseline"):
            raise ConfigError(f"--runs {runs}: {store} holds the sweep '{manifest.get('name')}', not a "
                              "calibration's runs; choose another --runs directory")
        shutil.rmtree(store)


def scenario_is_tiered(path: Path) -> bool:
    """Whether the scenario at ``path`` declares model tiers (a missing or invalid file: ConfigError)."""
    from market.config.files import load_scenario

    return bool(load_scenario(path).tiers)


def run_calibration(spec: CalibrationSpec, uncertainty: Path, runs: Path, *, draws: int | None = None,
                    seeds: int | None = None, scenario_seeds: int | None = None, workers: int | None = None,
                    resume: bool = False, root: Path = Path(".")) -> dict[str, Any]:
    """Run the design and the baseline, measure, accept (see the module docstring).

    Returns:
        ``design`` (the uncertainty spec), ``sweep`` (the design's SweepConfig), ``draws`` (one row per draw:
        parameters, outcomes, within_* and accepted), ``baseline`` (one row per baseline seed), ``series``
        (baseline series by target), ``events`` (the baseline's events) and ``binding`` (the markdown table of
        which mechanisms bind in the baseline, ``experiments.binding``).
    """
    from experiments.cli_sweep import progress_bar
    from experiments.sweep import run_sweep
    from experiments.sweep_config import SweepConfig, base_scenario
    from experiments.worlds import design_sweep, load_uncertainty

    unc, _ = load_uncertainty(uncertainty)
    design = design_sweep(unc, draws=draws, seeds=seeds)
    baseline = SweepConfig(name="calibration_baseline", base=str((root / spec.scenario).resolve()),
                           replications=scenario_seeds or spec.seeds, root_seed=unc.design.root_seed)
    base_scenario(baseline)  # a missing or invalid scenario is reported before anything runs
    prepare_runs(runs, resume)
    with progress_bar(f"design: {design.design.samples} draws x {design.replications} seeds") as update:
        run_sweep(design, runs / "design", workers=workers, resume=resume, progress=update)
    with progress_bar(f"baseline: {baseline.replications} seeds") as update:
        run_sweep(baseline, runs / "baseline", workers=workers, resume=resume, progress=update)
    runs_values, _ = measure_store(runs / "design", spec.targets)
    names = [p.name for p in design.parameters]
    params = sweep_plan(runs / "design").groupby("point", sort=True)[names].first().reset_index()
    outcomes = draw_outcomes(runs_values, spec.targets)
    draws_table = accept(params.merge(outcomes, on="point", how="left"), spec.targets)
    base_values, series = measure_store(runs / "baseline", spec.targets, keep_series=True)
    events = load_sweep(runs / "baseline", "events", columns=["run_id", "seed", "event"])
    from experiments.binding import binding_report
    from market.config.files import load_scenario

    binding = binding_report(load_scenario(root / spec.scenario))
    return {"design": unc, "sweep": design, "draws": draws_table, "baseline": base_values, "series": series,
            "events": events, "binding": binding}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m experiments.calibration [--draws N] [--seeds S] [--scenario-seeds K] [--workers W] ...``."""
    from experiments.calibration_report import write_report
    from experiments.worlds import DEFAULT_UNCERTAINTY, DEFAULT_WORLDS, worlds_document, write_worlds

    parser = argparse.ArgumentParser(description="Calibrate the baseline: accept plausible worlds, check hold-outs.")
    parser.add_argument("--targets", type=Path, default=DEFAULT_TARGETS)
    parser.add_argument("--uncertainty", type=Path, default=DEFAULT_UNCERTAINTY)
    parser.add_argument("--draws", type=int, default=None, help="Parameter draws (default: the uncertainty file's).")
    parser.add_argument("--seeds", type=int, default=None, help="Seeds per draw (default: the uncertainty file's).")
    parser.add_argument("--scenario-seeds", type=int, default=None,
                        help="Seeds of the baseline's own run (default: the target file's).")
    parser.add_argument("--workers", type=int, default=None, help="Parallel runs; 1 runs them in this process.")
    parser.add_argument("--runs", type=Path, default=Path("results/calibration"), help="Directory of the runs.")
    parser.add_argument("--resume", action="store_true", help="Continue the runs under --runs.")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="Directory of calibration.md.")
    parser.add_argument("--worlds", type=Path, default=DEFAULT_WORLDS, help="Where the accepted worlds go.")
    args = parser.parse_args(argv)
    for flag in ("draws", "seeds", "scenario_seeds", "workers"):
        value = getattr(args, flag)
        if value is not None and value < (2 if flag == "draws" else 1):
            print(f"error: --{flag.replace('_', '-')} = {value} is too small", file=sys.stderr)
            return 2
    try:
        spec = load_spec(args.targets)
        spec = applicable_spec(spec, scenario_is_tiered(Path(spec.scenario)))
        result = run_calibration(spec, args.uncertainty, args.runs, draws=args.draws, seeds=args.seeds,
                                 scenario_seeds=args.scenario_seeds, workers=args.workers, resume=args.resume)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    draws = result["draws"]
    document = worlds_document(result["design"], result["sweep"], draws, targets=[t.name for t in spec.targets],
                               source=str(args.uncertainty))
    write_worlds(document, args.worlds)
    write_report(spec, result, args.out)
    n_acc = int(draws["accepted"].sum())
    print(f"tried {len(draws)} draws x {result['sweep'].replications} seeds; accepted {n_acc} plausible worlds "
          f"-> {args.worlds}")
    print(f"wrote {args.out / 'calibration.md'}")
    return 0 if n_acc > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
