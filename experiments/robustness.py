"""The robustness table: every thesis's verdict under the single switches a referee would question.

A robustness file (``experiments/configs/robustness.toml``) declares the columns. A column is one switch
against the baseline, with its question and source: settings applied to every scenario's base (like a plausible
world: the column's settings first, the thesis's own after), uncertain parameters set to an end of their range in
the uncertainty file (``parameters = {demand_elasticity = "low"}``), or a change of how stored runs are judged:

* ``horizon = H``: the statistic on the first H months of the runs. The model never reads its horizon
  (``simulation.steps`` only stops the loop), so the first H months of a longer run are those of an H-month run
  (tests/experiments/test_robustness.py checks it): the 3-, 5- and 8-year columns and the columns that only
  re-judge share one set of 96-month runs.
* ``burn_in = B``: every statistic drops the first B months instead of its declared burn-in.
* ``window = "alternate"``: a statistic declared on the last year (``final``) is taken over the whole period after
  burn-in, one on the first and last year (``change``) on the two halves of that period, and one on the whole
  period (``mean``, ``count``, ``yearly_decline``, ``yearly_growth``) on the last year only.

Columns with the same settings share their runs (a run set), and identical runs of different theses run once
(:mod:`experiments.shared_runs`). Replication r has the same seed in every column and scenario (common random
numbers). A verdict that changes sign against the baseline column (supported <-> refuted) is marked as a flip. With
the verdicts over worlds of ``ieco theses --worlds`` at hand (``--over-worlds``), the final verdicts are written too
(:mod:`experiments.final_verdicts`): a robust verdict over worlds that flips under a column becomes conditional on
the baseline's setting of that switch (the column's ``condition``), so that no verdict a user reads changes sign
under a single switch without being conditional.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from analysis.results import load_sweep
from analysis.statistics import StatisticError
from experiments.evaluators import Evaluator, make_evaluator
from experiments.final_verdicts import (
    column_condition,
    final_markdown,
    final_verdicts,
    flip_check,
    read_over_worlds,
)
from experiments.locks import DirectoryLock, check_unlocked
from experiments.outputs import write_file_atomic, write_text_atomic
from experiments.sweep import ProgressCallback, check_store, open_store
from experiments.sweep_config import RunTask, derive_seeds, plan_frame
from experiments.theses import StatisticSpec, Thesis, discover_theses, estimate, fill_estimate, load_thesis
from experiments.verdicts import check_theses_dir, execute_shared, format_number
from experiments.world_verdicts import world_documents
from experiments.worlds import load_uncertainty
from market.config import ScenarioConfig
from market.config.files import ConfigError, read_toml, validate_data

DEFAULT_ROBUSTNESS = Path(__file__).resolve().parent / "configs" / "robustness.toml"
"""The shipped robustness columns."""

ROBUSTNESS_COLUMNS: tuple[str, ...] = ("number", "thesis", "title", "claim", "column", "label", "estimate",
                                       "ci_low", "ci_high", "n", "verdict", "flip", "error")
LAST_YEAR = 12
"""Months in the last-year window of the alternate statistic window."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class RobustnessColumn(_Spec):
    """One column of the robustness table: a single switch against the baseline column."""

    name: str = Field(..., description="Identifier (lower-case letters, digits, underscores).")
    label: str = Field(..., min_length=1, description="Column header.")
    question: str = Field(..., min_length=1, description="The choice a referee would question, and this value.")
    source: str = Field(..., min_length=1, description="Where the value comes from.")
    settings: dict[str, Any] = Field(default_factory=dict, description="Settings by key path, as with --set.")
    parameters: dict[str, str] = Field(
        default_factory=dict, description="Uncertain parameter -> 'low' or 'high' end of its range (or a category).")
    horizon: int | None = Field(None, ge=1, le=100_000, description="Months of the runs the statistic reads.")
    burn_in: int | None = Field(None, ge=0, le=100_000, description="Burn-in of every statistic, months.")
    window: Literal["declared", "alternate"] = Field("declared", description="The statistic's window.")
    condition: str = Field("", description="What a verdict that flips under this column holds under: the "
                           "baseline's setting of the switch, in words (e.g. 'a 5-year horizon'); default: the "
                           "baseline column's label.")

    @field_validator("name")
    @classmethod
    def _identifier(cls, name: str) -> str:
        if not name.replace("_", "").isalnum() or not name[0].isalpha() or name.lower() != name:
            raise ValueError(f"column name '{name}' must be lower-case letters, digits and underscores")
        return name


class RobustnessSpec(_Spec):
    """The robustness file."""

    uncertainty: str = Field("uncertainty.toml", description="Uncertainty file the 'parameters' ends come from.")
    replications: int = Field(5, ge=2, le=10_000, description="Replications per scenario and run set.")
    baseline: str = Field(..., description="The column flips are judged against.")
    columns: list[RobustnessColumn] = Field(..., min_length=2, max_length=100)

    @model_validator(mode="after")
    def _names(self) -> RobustnessSpec:
        names = [c.name for c in self.columns]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"duplicate column name(s): {', '.join(twice)}")
        if self.baseline not in names:
            raise ValueError(f"baseline = '{self.baseline}' names no column (have: {', '.join(names)})")
        return self

    def parameters_needed(self) -> bool:
        """Whether a column takes an uncertain parameter's end (then the uncertainty file is read)."""
        return any(c.parameters for c in self.columns)


def load_robustness(path: str | Path = DEFAULT_ROBUSTNESS) -> tuple[RobustnessSpec, dict[str, dict[str, Any]]]:
    """Read a robustness file and resolve each column's settings (its parameters' ends from the uncertainty file).

    Returns:
        The spec and every column's settings by column name.

    Raises:
        ConfigError: The file is invalid, or a column names an unknown parameter or end.
    """
    p = Path(path)
    spec = validate_data(read_toml(p), RobustnessSpec, str(p))
    uncertainty_path = p.parent / spec.uncertainty
    known = {}
    if spec.parameters_needed():
        uncertainty, _ = load_uncertainty(uncertainty_path)
        known = {param.name: param for param in uncertainty.parameters}
    settings: dict[str, dict[str, Any]] = {}
    for column in spec.columns:
        resolved: dict[str, Any] = {}
        for name, end in column.parameters.items():
            if name not in known:
                raise ConfigError(f"{p}: column '{column.name}': parameters.{name}: no such parameter in "
                                  f"{uncertainty_path} (have: {', '.join(known)})")
            param = known[name]
            if param.values is not None:
                if end not in param.values:
                    raise ConfigError(f"{p}: column '{column.name}': parameters.{name} = '{end}': not one of "
                                      f"{param.values}")
                value: Any = end
            elif end in ("low", "high"):
                value = param.low if end == "low" else param.high
            else:
                raise ConfigError(f"{p}: column '{column.name}': parameters.{name} = '{end}': use 'low' or 'high'")
            resolved.update(dict.fromkeys(param.key_paths, value))
        settings[column.name] = {**resolved, **column.settings}
    return spec, settings


def run_sets(settings: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The run set of each column: columns with the same settings share runs, named by their first column."""
    first: dict[str, str] = {}
    out: dict[str, str] = {}
    for name, values in settings.items():
        key = json.dumps(values, sort_keys=True)
        out[name] = first.setdefault(key, name)
    return out


def robustness_tasks(thesis: Thesis, path: Path, settings: dict[str, dict[str, Any]], sets: dict[str, str]
                     ) -> tuple[list[RunTask], dict[tuple[str, str], int]]:
    """Every run set x scenario x replication of a thesis (CRN), and each (run set, scenario)'s steps."""
    seeds = derive_seeds(thesis.root_seed, thesis.replications)
    tasks: list[RunTask] = []
    steps: dict[tuple[str, str], int] = {}
    for w, run_set in enumerate(dict.fromkeys(sets.values())):
        documents = world_documents(thesis, path, settings[run_set], run_set)
        for s, name in enumerate(thesis.scenarios):
            steps[(run_set, name)] = validate_data(documents[name], ScenarioConfig).simulation.steps
            for rep in range(thesis.replications):
                tasks.append(RunTask(f"{thesis.name}-{run_set}-{name}-r{rep:02d}", w * len(thesis.scenarios) + s,
                                     rep, seeds[rep], {"world": run_set, "scenario": name}, documents[name]))
    return tasks, steps


def switched_statistic(spec: StatisticSpec, column: RobustnessColumn, months: int) -> StatisticSpec:
    """The thesis's statistic under a column's burn-in and window, on runs judged over ``months`` months."""
    burn_in = column.burn_in if column.burn_in is not None else (spec.burn_in or 0)
    update: dict[str, Any] = {"burn_in": burn_in}
    if column.window == "alternate":
        after = months - burn_in
        if spec.name == "final":
            update["window"] = after
        elif spec.name == "change":
            update["window"] = after // 2
        else:
            update["burn_in"] = max(burn_in, months - LAST_YEAR)
    return spec.model_copy(update=update)


def judge_column(thesis: Thesis, column: RobustnessColumn, frames: dict[str, pd.DataFrame], months: int
                 ) -> dict[str, Any]:
    """A thesis's estimate, interval and verdict in one column, from its run set's tables (errors become rows)."""
    row: dict[str, Any] = {"number": thesis.number, "thesis": thesis.name, "title": thesis.title,
                           "claim": str(thesis.claim), "column": column.name, "label": column.label,
                           "estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": 0,
                           "verdict": "error", "flip": False, "error": ""}
    def compute() -> dict[str, Any]:
        horizon = column.horizon if column.horizon is not None else months
        if horizon > months:
            raise StatisticError(f"horizon = {horizon} months is longer than the runs ({months} months)")
        cut = {name: frame[frame["step"] < horizon] for name, frame in frames.items()}
        if any(frame.empty for frame in frames.values()):
            raise StatisticError("no finished run of a compared scenario")
        switched = thesis.model_copy(update={"statistic": switched_statistic(thesis.statistic, column, horizon)})
        return estimate(switched, cut, seed=thesis.root_seed)

    return fill_estimate(row, compute)


def mark_flips(table: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """``flip`` is true where a verdict is supported and the baseline column's refuted, or the reverse."""
    base = table[table["column"] == baseline].set_index("thesis")["verdict"]
    against = table["thesis"].map(base)
    pairs = {("supported", "refuted"), ("refuted", "supported")}
    flips = [(v, b) in pairs for v, b in zip(table["verdict"], against, strict=True)]
    return table.assign(flip=flips)


def judge_robustness(thesis: Thesis, directory: Path, spec: RobustnessSpec, sets: dict[str, str],
                     steps: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    """A thesis's row in every column, from its stored runs."""
    stat = thesis.statistic
    scenarios = [stat.scenario] if stat.scenario else list(stat.compare or [])
    try:
        table = load_sweep(directory, stat.table, columns=[*stat.columns(), "world", "scenario"])
    except (FileNotFoundError, KeyError, ValueError) as exc:
        table = pd.DataFrame(columns=[*stat.columns(), "world", "scenario"])
        error = str(exc)
    else:
        error = ""
    grouped = dict(tuple(table.groupby(["world", "scenario"], sort=True)))
    rows = []
    for column in spec.columns:
        run_set = sets[column.name]
        frames = {name: grouped.get((run_set, name), pd.DataFrame(columns=table.columns)) for name in scenarios}
        months = min(steps[(run_set, name)] for name in scenarios)
        row = judge_column(thesis, column, frames, months)
        if error:
            row["error"] = error
        rows.append(row)
    return rows


def run_robustness(
    out: str | Path,
    *,
    robustness_file: str | Path = DEFAULT_ROBUSTNESS,
    replications: int | None = None,
    only: Sequence[str] | None = None,
    theses_dir: str | Path | None = None,
    over_worlds: str | Path | None = None,
    workers: int | None = None,
    address: str | None = None,
    resume: bool = False,
    progress: ProgressCallback | None = None,
    evaluator: Evaluator | None = None,
) -> pd.DataFrame:
    """Run every thesis in every run set of the robustness file and write the robustness table.

    Args:
        out: Directory: one sweep directory per thesis plus ``robustness.md`` and ``robustness.parquet`` (and,
            with ``over_worlds``, ``verdicts_final.parquet`` and ``verdicts_final.md``).
        robustness_file: The columns.
        replications: Replications per scenario and run set (default: the file's).
        only: Names of the theses to run (default: all).
        theses_dir: Directory of thesis files (default: the shipped ones).
        over_worlds: ``verdicts.parquet`` of ``ieco theses --worlds``: each flip is checked against it, and the
            final verdicts are written (``verdicts_final.parquet`` and ``verdicts_final.md``).
        workers: Parallel runs; 1 runs in-process, otherwise on Ray.
        address: Ray cluster to join.
        resume: Continue an interrupted run in ``out``.
        progress: Called after every distinct run.
        evaluator: Use this evaluator instead of one made from ``workers`` and ``address``.

    Returns:
        One row a thesis and column (:data:`ROBUSTNESS_COLUMNS`).

    Raises:
        ConfigError: A thesis or the robustness file is invalid, or ``out`` holds other results.
    """
    root = Path(out)
    spec, settings = load_robustness(robustness_file)
    worlds_table = read_over_worlds(over_worlds) if over_worlds is not None else None
    sets = run_sets(settings)
    reps = replications if replications is not None else spec.replications
    selected = []
    for path in discover_theses(theses_dir, list(only) if only else None):
        thesis, documents = load_thesis(path)
        thesis = thesis.model_copy(update={"replications": reps})
        tasks, steps = robustness_tasks(thesis, path, settings, sets)
        record = {"thesis": thesis.model_dump(mode="json"), "scenarios": documents,
                  "robustness": spec.model_dump(mode="json"), "run_sets": {s: settings[s] for s in set(sets.values())}}
        selected.append((thesis, tasks, steps, record))
    selected.sort(key=lambda item: (item[0].number, item[0].name))
    check_theses_dir(root)
    for thesis, _, _, record in selected:
        check_store(root / thesis.name, record, resume=resume, kind="thesis")
    check_unlocked(root)
    evaluator = evaluator or make_evaluator(workers, address)
    with evaluator, DirectoryLock(root):
        stores = {thesis.name: open_store(root / thesis.name, record, plan_frame(tasks), resume=resume,
                                          kind="thesis", name=thesis.name)
                  for thesis, tasks, _, record in selected}
        execute_shared({thesis.name: tasks for thesis, tasks, _, _ in selected}, stores, evaluator, progress)
        rows = [row for thesis, _, steps, _ in selected
                for row in judge_robustness(thesis, root / thesis.name, spec, sets, steps)]
        table = mark_flips(pd.DataFrame(rows, columns=list(ROBUSTNESS_COLUMNS)), spec.baseline)
        write_file_atomic(root / "robustness.parquet", lambda p: table.to_parquet(p, index=False))
        write_text_atomic(root / "robustness.md", robustness_markdown(table, spec, worlds_table))
        if worlds_table is not None:
            write_final_verdicts(root, final_verdicts(table, spec, worlds_table), spec)
    return table


def write_final_verdicts(out: Path, final: pd.DataFrame, spec: RobustnessSpec) -> None:
    """Write ``verdicts_final.parquet`` and ``verdicts_final.md`` atomically."""
    write_file_atomic(out / "verdicts_final.parquet", lambda p: final.to_parquet(p, index=False))
    baseline = next(c.label for c in spec.columns if c.name == spec.baseline)
    write_text_atomic(out / "verdicts_final.md", final_markdown(final, baseline))


SHORT = {"supported": "S", "refuted": "R", "inconclusive": "I", "error": "E"}


def cell(row: pd.Series) -> str:
    """A table cell: estimate [interval] and the verdict's letter; a flip is marked."""
    if row["error"]:
        return "error"
    text = (f"{format_number(row['estimate'])} [{format_number(row['ci_low'])}, {format_number(row['ci_high'])}] "
            f"{SHORT.get(row['verdict'], '?')}")
    return f"**{text} (flip)**" if row["flip"] else text


def robustness_markdown(table: pd.DataFrame, spec: RobustnessSpec, worlds: pd.DataFrame | None = None) -> str:
    """The robustness table (one row a thesis, one column a switch), the columns' questions and the flip check."""
    columns = spec.columns
    lines = [
        "| # | thesis | claim | " + " | ".join(c.label for c in columns) + " |",
        "|---|---|---|" + "---|" * len(columns),
    ]
    for (number, _), rows in table.groupby(["number", "thesis"], sort=True):
        by = rows.set_index("column")
        first = rows.iloc[0]
        lines.append(f"| {number} | {first['title']} | {first['claim']} | "
                     + " | ".join(cell(by.loc[c.name]) if c.name in by.index else "-" for c in columns) + " |")
    lines += ["", "S supported, R refuted, I inconclusive; **(flip)**: supported <-> refuted against the column "
              f"'{next(c.label for c in columns if c.name == spec.baseline)}'.", "", "Columns:", ""]
    lines += [" ".join(f"- **{c.label}** ({c.name}): {c.question} Source: {c.source}".split()) for c in columns]
    lines += ["", *flip_lines(table, spec, worlds)]
    return "\n".join(lines) + "\n"


def flip_lines(table: pd.DataFrame, spec: RobustnessSpec, worlds: pd.DataFrame | None) -> list[str]:
    """The flips under a single switch, each with the thesis's verdict over worlds and its final verdict."""
    flips = flip_check(table, worlds)
    by_name = {c.name: c for c in spec.columns}
    lines = ["Flips under a single switch" + (", the thesis's verdict over worlds and its final verdict:"
                                              if worlds is not None else ":"), ""]
    if flips.empty:
        lines.append("- none")
    for _, f in flips.iterrows():
        tail = ""
        if worlds is not None and f["holds"] is pd.NA:
            tail = " - not judged over worlds (no final verdict over worlds)"
        elif worlds is not None:
            holds_under = column_condition(by_name[f["column"]], by_name[spec.baseline])
            tail = f" - over worlds: {f['over_worlds']}; final verdict: **{f['final']}** (holds under {holds_under})"
        lines.append(f"- {f['number']}. {f['title']}: {f['verdict']} under '{f['label']}'{tail}")
    if worlds is None:
        lines += ["", "Without verdicts over worlds (`--over-worlds`) no final verdicts are written."]
    elif not flips.empty:
        lines += ["", "Each flip makes the thesis's final verdict conditional (`verdicts_final.md`): a verdict that "
                  "changes sign under a single switch holds only under the baseline's setting of that switch, and the "
                  "final verdict carries that setting as its condition. So no final verdict changes sign under a "
                  "single switch without this table showing it and the verdict being conditional."]
    return lines
