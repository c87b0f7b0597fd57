"""Theses as data: each thesis is a declared experiment judged by a statistic's confidence interval.

A thesis file (``experiments/theses/*.toml``) names the scenarios it needs (a base config plus settings),
the statistic (from :data:`analysis.statistics.STATISTICS`, with its table, columns and parameters), the
claim (``>`` or ``<`` a threshold), the number of replications and the assumptions it rests on. The
estimate is the mean of the statistic over replications, or, when the statistic compares two scenarios,
the mean of the paired differences (both scenarios use the same seeds: common random numbers). The
verdict follows from the bootstrap 95% interval (:func:`analysis.statistics.verdict`).

Adding a thesis is adding a file; nothing here names a particular thesis.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from analysis.results import load_sweep, sweep_dataset
from analysis.statistics import (
    ROW_STATISTICS,
    STATISTICS,
    StatisticError,
    bootstrap_ci,
    paired_difference,
    per_run,
    verdict,
)
from market.config import ScenarioConfig
from market.config.files import ConfigError, apply_settings, read_toml, validate_data

THESES_DIR = Path(__file__).resolve().parent / "theses"
"""The shipped thesis files."""


class _Spec(BaseModel):
    """Strict like the scenario schema: no numbers from strings, no booleans as numbers, no NaN or inf."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ThesisScenario(_Spec):
    """A scenario of a thesis: a base config and the settings applied to it."""

    base: str = Field("baseline", description="A shipped config name or a TOML path (relative to the thesis file).")
    settings: dict[str, Any] = Field(default_factory=dict, description="Settings by key path, as with --set.")


class StatisticSpec(_Spec):
    """The statistic: which table and columns, which function, of which scenario(s)."""

    name: str = Field(..., description="Statistic name (yearly_decline, yearly_growth, change, final, mean, count).")
    description: str = Field(..., description="What the number is, in words (shown in the verdict table).")
    table: str = Field("model", description="Table the columns come from.")
    column: str | list[str] = Field(..., description="Column(s) summed per step.")
    per: str | list[str] | None = Field(None, description="Column(s) whose per-step sum divides (a share).")
    where: dict[str, Any] | None = Field(None, description="Keep only rows with these column values.")
    per_where: dict[str, Any] | None = Field(
        None, description="Rows whose 'per' is summed, if not 'where' ({} = all rows): a subset's share of the whole."
    )
    transform: Literal["log"] | None = Field(None, description="'log': take logarithms first.")
    window: int | None = Field(None, ge=1, le=100_000, description="change/final: steps averaged at each end.")
    steps_per_year: float | None = Field(None, gt=0, description="yearly_decline/yearly_growth: steps in a year.")
    burn_in: int | None = Field(
        None, ge=0, le=100_000, description="Steps dropped at the start (the start-up transient) before the statistic."
    )
    scenario: str | None = Field(None, description="The scenario the statistic is computed in.")
    compare: list[str] | None = Field(
        None, min_length=2, max_length=2, description="[a, b]: the estimate is statistic(a) - statistic(b)."
    )

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in STATISTICS and name not in ROW_STATISTICS:
            known = ", ".join(sorted([*STATISTICS, *ROW_STATISTICS]))
            raise ValueError(f"unknown statistic '{name}' (choose from {known})")
        return name

    @model_validator(mode="after")
    def _one_target(self) -> StatisticSpec:
        if (self.scenario is None) == (self.compare is None):
            raise ValueError("statistic needs exactly one of 'scenario' or 'compare'")
        if self.name in ROW_STATISTICS and (self.per, self.per_where, self.transform, self.window,
                                            self.steps_per_year) != (None,) * 5:
            raise ValueError(f"statistic '{self.name}' counts rows: it takes column, where and burn_in only")
        return self

    def params(self) -> dict[str, Any]:
        """Keyword arguments of :func:`analysis.statistics.run_statistic`."""
        out: dict[str, Any] = {"column": self.column, "per": self.per, "where": self.where,
                               "transform": self.transform}
        if self.per_where is not None:
            out["per_where"] = self.per_where
        if self.window is not None:
            out["window"] = self.window
        if self.steps_per_year is not None:
            out["steps_per_year"] = self.steps_per_year
        if self.burn_in is not None:
            out["burn_in"] = self.burn_in
        return out

    def columns(self) -> list[str]:
        """Columns the statistic reads (plus the run identifiers)."""
        named = [self.column] if isinstance(self.column, str) else list(self.column)
        per = [] if self.per is None else [self.per] if isinstance(self.per, str) else list(self.per)
        return list(dict.fromkeys(["run_id", "replication", "step", *named, *per, *(self.where or {}),
                                   *(self.per_where or {})]))


class Claim(_Spec):
    """The claim: the statistic compared with a threshold."""

    operator: Literal[">", "<"] = Field(..., description="'>' or '<'.")
    threshold: float = Field(..., description="The value the statistic is claimed to exceed or stay below.")
    minimum_effect: str | None = Field(
        None, min_length=1, description="Why the threshold is the smallest effect that matters economically."
    )

    def __str__(self) -> str:
        return f"{self.operator} {self.threshold:g}"


class Thesis(_Spec):
    """A thesis file."""

    name: str = Field(..., description="Identifier (the file's stem by convention).")
    number: int = Field(..., ge=1, le=10_000, description="Order in the verdict table.")
    title: str = Field(..., description="The thesis in a few words.")
    source_claim: str = Field(..., description="What the sources claim.")
    test: str = Field(..., description="How the experiment tests it.")
    assumptions: list[str] = Field(..., min_length=1, description="What the verdict rests on.")
    mechanism: str | None = Field(None, min_length=1, description="The mechanism the thesis attributes the effect to.")
    counterfactual: str | None = Field(
        None, min_length=1, description="The same world without the mechanism, as the compared scenario realises it."
    )
    conditions: list[str] | None = Field(
        None, min_length=1, description="Parameter values or rules the verdict is conditional on (declared)."
    )
    replications: int = Field(10, ge=2, le=10_000, description="Runs per scenario.")
    root_seed: int = Field(
        0, ge=0, le=2**63 - 1, description="Root of the replication seeds (shared by all scenarios)."
    )
    scenarios: dict[str, ThesisScenario] = Field(..., min_length=1, description="Scenarios by name.")
    statistic: StatisticSpec
    claim: Claim

    @field_validator("name")
    @classmethod
    def _identifier(cls, name: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise ValueError(f"thesis name '{name}' must be lower-case letters, digits and underscores")
        return name

    @model_validator(mode="after")
    def _scenarios_named(self) -> Thesis:
        wanted = [self.statistic.scenario] if self.statistic.scenario else list(self.statistic.compare or [])
        unknown = [s for s in wanted if s not in self.scenarios]
        if unknown:
            raise ValueError(f"statistic names unknown scenario(s) {unknown} (have: {', '.join(self.scenarios)})")
        for name in self.scenarios:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"scenario name '{name}' must be lower-case letters, digits and underscores")
        return self


def load_thesis(path: str | Path) -> tuple[Thesis, dict[str, dict[str, Any]]]:
    """Read a thesis file and build its scenario documents (validated), and check its statistic's columns.

    Raises:
        ConfigError: The file, a base config or a scenario's settings are invalid, or the statistic names a
            table or column the runs will not write.
    """
    from experiments.preflight import check_statistic
    from experiments.sweep_config import resolve_base

    p = Path(path)
    thesis = validate_data(read_toml(p), Thesis, str(p))
    documents: dict[str, dict[str, Any]] = {}
    for name, spec in thesis.scenarios.items():
        base = resolve_base(spec.base, p.parent)
        data = apply_settings(read_toml(base), spec.settings)
        validate_data(data, ScenarioConfig, f"{p}: scenario '{name}'")
        documents[name] = data
    check_statistic(thesis, documents)
    return thesis, documents


def discover_theses(directory: str | Path | None = None, only: list[str] | None = None) -> list[Path]:
    """Thesis files in ``directory`` (default: the shipped ones), optionally only those named.

    Raises:
        ConfigError: No thesis files, or a name in ``only`` that matches none.
    """
    root = Path(directory) if directory is not None else THESES_DIR
    files = sorted(root.glob("*.toml"))
    if not files:
        raise ConfigError(f"{root}: no thesis files (*.toml)")
    if only:
        known = {f.stem: f for f in files}
        unknown = [n for n in only if n not in known]
        if unknown:
            raise ConfigError(f"only = {unknown} (--only): no such thesis (have: {', '.join(sorted(known))})")
        files = [known[n] for n in only]
    return files


def estimate(thesis: Thesis, frames: dict[str, pd.DataFrame], seed: int = 0) -> dict[str, Any]:
    """The statistic's estimate, bootstrap 95% interval and verdict, from each scenario's table.

    Args:
        thesis: The thesis.
        frames: The statistic's table of every run, by scenario name (with a ``replication`` column).
        seed: Seed of the bootstrap.

    Returns:
        estimate, ci_low, ci_high, n (replications used), verdict, and the per-replication values.

    Raises:
        StatisticError: The statistic cannot be computed (e.g. a missing column).
    """
    spec = thesis.statistic
    params = spec.params()
    if spec.scenario is not None:
        values = per_run(frames[spec.scenario], spec.name, by="replication", **params)
    else:
        a, b = spec.compare or []
        values = paired_difference(per_run(frames[a], spec.name, by="replication", **params),
                                   per_run(frames[b], spec.name, by="replication", **params))
    finite = values[np.isfinite(values)]
    low, high = bootstrap_ci(finite.to_numpy(), seed=seed)
    return {
        "estimate": float(finite.mean()) if len(finite) else float("nan"),
        "ci_low": low,
        "ci_high": high,
        "n": len(finite),
        "verdict": verdict(low, high, thesis.claim.operator, thesis.claim.threshold),
        "values": finite,
    }


ESTIMATE_FIELDS = ("estimate", "ci_low", "ci_high", "n", "verdict")
"""The fields of :func:`estimate` a verdict row keeps."""


def fill_estimate(row: dict[str, Any], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Fill ``row``'s :data:`ESTIMATE_FIELDS` from ``compute()`` (an :func:`estimate`), or its ``error`` with why it
    failed: a :class:`StatisticError`'s message, or the type and message of an unexpected failure, so that the
    other rows of a table go on."""
    try:
        result = compute()
        row.update({k: result[k] for k in ESTIMATE_FIELDS})
    except StatisticError as exc:
        row["error"] = str(exc)
    except Exception as exc:  # reported in the table; the other rows go on
        row["error"] = f"{type(exc).__name__}: {exc}"
    return row


def load_frames(thesis: Thesis, directory: str | Path) -> dict[str, pd.DataFrame]:
    """The statistic's table of every finished run in ``directory``, by scenario the statistic reads.

    Raises:
        StatisticError: No run has the table, the table lacks a column, or a scenario has no finished run.
    """
    spec = thesis.statistic
    try:
        available = sweep_dataset(directory, spec.table).schema.names
    except FileNotFoundError:
        raise StatisticError(f"no finished run has a '{spec.table}' table") from None
    missing = [c for c in spec.columns() if c not in available]
    if missing:
        raise StatisticError(f"table '{spec.table}' has no column(s) {', '.join(missing)}")
    frames = {}
    for name in [spec.scenario] if spec.scenario else list(spec.compare or []):
        frames[name] = load_sweep(directory, spec.table, columns=spec.columns(), filters=[("scenario", "==", name)])
        if frames[name].empty:
            raise StatisticError(f"no finished run of scenario '{name}'")
    return frames


def judge(thesis: Thesis, directory: str | Path) -> dict[str, Any]:
    """Read a thesis's runs from ``directory`` and return its verdict row (errors become an ``error`` row)."""
    spec = thesis.statistic
    row: dict[str, Any] = {
        "number": thesis.number, "thesis": thesis.name, "title": thesis.title, "statistic": spec.description,
        "claim": str(thesis.claim), "operator": thesis.claim.operator, "threshold": thesis.claim.threshold,
        "estimate": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": 0,
        "replications": thesis.replications, "verdict": "error", "error": "",
        "assumptions": "; ".join(thesis.assumptions),
    }
    return fill_estimate(row, lambda: estimate(thesis, load_frames(thesis, directory), seed=thesis.root_seed))
