"""Checks made before anything runs: every planned run's scenario, parameter names, thesis statistics.

A sweep or a set of theses can run for hours; an input that would make runs fail, or a statistic that names a
column no run writes, is reported up front as a :class:`~market.config.files.ConfigError` (exit code 2 on the
command line), before a directory is created or Ray is started:

* every design point's resolved scenario (base + settings + parameter values) validates;
* no parameter takes the name of an output column (every row of every table carries the parameters);
* a thesis statistic's table exists and its columns (``column``, ``per``, ``where``) are columns of that table.

The output columns are those of a one-step run of the base scenario with a few agents per segment (columns do
not depend on the number of agents): they are what the runs will write, whatever the recorder's version.

:func:`validate_file` is ``ieco validate``: it recognises scenario, sweep and thesis files.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from market.config import ScenarioConfig
from market.config.files import ConfigError, load_scenario, read_toml, resolve_scenario_path, validate_data

if TYPE_CHECKING:
    from experiments.sweep_config import RunTask, SweepConfig
    from experiments.theses import Thesis

PROBE_AGENTS = 8
"""Enterprise agents per segment in the one-step run that finds the output columns."""

SWEEP_COLUMNS: frozenset[str] = frozenset({"point", "replication"})
"""Columns a sweep adds to every row besides run_id, seed and the parameters."""


def output_columns(document: dict[str, Any]) -> dict[str, list[str]] | None:
    """Columns of every table a run of this scenario writes, from a one-step run with few agents.

    Returns:
        Column names by table, or None when the probe run itself fails (the runs will then fail and be
        reported; that is not an input error).
    """
    from experiments.run import run_scenario

    probe = copy.deepcopy(document)
    for segment in probe.get("segments", []):
        if isinstance(segment, dict):
            segment["n_agents"] = min(int(segment.get("n_agents", PROBE_AGENTS)), PROBE_AGENTS)
    try:
        config = validate_data(probe, ScenarioConfig)
        result = run_scenario(config, 0, steps=1)
    except Exception:  # a failing model is reported by the runs themselves
        return None
    return {name: list(frame.columns) for name, frame in result.tables().items()}


def check_plan(sweep: SweepConfig, base: dict[str, Any], tasks: list[RunTask]) -> None:
    """Check a sweep's plan before it runs.

    Raises:
        ConfigError: A parameter named like an output column, or design points whose scenario does not validate
            (the first few are listed with their parameter values and the reason).
    """
    columns = output_columns(base)
    if columns is not None:
        for spec in sweep.parameters:
            tables = [name for name, cols in columns.items() if spec.name in cols]
            if tables or spec.name in SWEEP_COLUMNS:
                where = f"table(s) {', '.join(tables)}" if tables else "every table"
                raise ConfigError(
                    f"parameters: name '{spec.name}' is already an output column of {where}; rename the parameter"
                )
    problems: list[str] = []
    seen: set[int] = set()
    for task in tasks:
        if task.point in seen:
            continue
        seen.add(task.point)
        try:
            validate_data(task.scenario, ScenarioConfig)
        except ConfigError as exc:
            values = ", ".join(f"{name} = {value!r}" for name, value in task.params.items())
            problems.append(f"  point {task.point} ({values}): " + "; ".join(str(exc).splitlines()))
    if problems:
        shown = problems[:5] + ([f"  ... and {len(problems) - 5} more"] if len(problems) > 5 else [])
        raise ConfigError(
            f"{len(problems)} of {len(seen)} design points give an invalid scenario (narrow the parameter ranges, "
            "or set integer = true for integer settings):\n" + "\n".join(shown)
        )


def check_statistic(thesis: Thesis, documents: dict[str, dict[str, Any]]) -> None:
    """Check that a thesis's statistic reads a table and columns its runs will write.

    Raises:
        ConfigError: Unknown table, or a column the table will not have.
    """
    from experiments.run import TABLES

    spec = thesis.statistic
    if spec.table not in TABLES:
        raise ConfigError(f"thesis '{thesis.name}': statistic.table = '{spec.table}': no such table "
                          f"(have: {', '.join(TABLES)})")
    for scenario in [spec.scenario] if spec.scenario else list(spec.compare or []):
        columns = output_columns(documents[scenario])
        if columns is None:
            continue
        available = {*columns[spec.table], *SWEEP_COLUMNS, "scenario"}
        missing = [c for c in spec.columns() if c not in available]
        if missing:
            raise ConfigError(
                f"thesis '{thesis.name}': statistic reads column(s) {', '.join(repr(c) for c in missing)} that "
                f"table '{spec.table}' does not have in scenario '{scenario}' (have: {', '.join(sorted(available))})"
            )


def file_kind(data: dict[str, Any]) -> str:
    """``"thesis"`` (has a statistic or claim), ``"sweep"`` (has a base) or ``"scenario"``."""
    if "statistic" in data or "claim" in data:
        return "thesis"
    if "base" in data:
        return "sweep"
    return "scenario"


def validate_file(path: str | Path, overrides: Iterable[str] = ()) -> str:
    """Check a scenario, sweep or thesis file (the kind is recognised) and every run it plans.

    Args:
        path: The file, or a shipped scenario's name.
        overrides: ``--set`` overrides (scenario files only).

    Returns:
        A one-line summary of what the file describes.

    Raises:
        ConfigError: The file, or any run it plans, is invalid.
    """
    overrides = list(overrides)
    file = resolve_scenario_path(path)
    kind = file_kind(read_toml(file))
    if kind != "scenario" and overrides:
        raise ConfigError(f"overrides (--set) apply to scenario files; {path} is a {kind} file (use its 'settings')")
    if kind == "sweep":
        from experiments.sweep_config import build_plan, load_sweep_config

        sweep, base = load_sweep_config(file)
        tasks = build_plan(sweep, base)
        check_plan(sweep, base, tasks)
        points = len({t.point for t in tasks})
        return (f"{path}: sweep '{sweep.name}', {points} design points x {sweep.replications} replications = "
                f"{len(tasks)} runs, {sweep.design.method} design over {len(sweep.parameters)} parameters")
    if kind == "thesis":
        from experiments.theses import load_thesis

        thesis, documents = load_thesis(file)
        return (f"{path}: thesis '{thesis.name}' (#{thesis.number}), scenarios {', '.join(documents)}, "
                f"statistic {thesis.statistic.name} of table '{thesis.statistic.table}', "
                f"{thesis.replications} replications")
    scenario = load_scenario(file, overrides)
    n_providers = sum(p.count for p in scenario.providers)
    n_agents = sum(s.n_agents for s in scenario.segments)
    return (f"{path}: scenario '{scenario.name}', {scenario.simulation.steps} steps, {n_providers} providers, "
            f"{n_agents} enterprise agents, {len(scenario.regions)} regions")
