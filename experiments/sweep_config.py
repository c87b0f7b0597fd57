"""Sweeps as data: the sweep file schema, experimental designs and the run plan with derived seeds.

A sweep file (TOML) names a base scenario, fixed settings applied to it, the uncertain parameters with
their ranges or levels, an experimental design (``grid``, ``random``, ``lhs``, ``sobol``, ``morris``), the
number of replications per design point and a root seed. :func:`build_plan` turns it into one
:class:`RunTask` per (point, replication), in a fixed order, each with a seed derived from the root seed::

    seeds = SeedSequence(root_seed).spawn(n_points * replications)   # point-major order
    seed(point, replication) = generate_state(1, uint64)[0] >> 1     # a non-negative 63-bit integer

With common random numbers (``common_random_numbers``, the default of sobol and morris designs) only
``replications`` seeds are spawned and replication r uses the same seed at every point.

so a sweep is reproducible on any machine and under any execution backend.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from market.config import ScenarioConfig
from market.config.files import (
    SHIPPED_CONFIG_DIR,
    ConfigError,
    apply_settings,
    read_toml,
    resolve_scenario_path,
    validate_data,
)
from market.config.schema import MAX_SEED

CONFIG_DIR = SHIPPED_CONFIG_DIR
"""Shipped scenario configs; a base named without ``.toml`` (e.g. ``"baseline"``) is looked up here."""

RESERVED_COLUMNS: frozenset[str] = frozenset({"run_id", "seed", "point", "replication", "step"})
"""Column names a parameter may not take: every output row already carries them."""

ParameterValue = float | int | bool | str


class _Spec(BaseModel):
    """Strict like the scenario schema: no numbers from strings, no booleans as numbers, no NaN or inf."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ParameterSpec(_Spec):
    """One uncertain parameter: where it goes in the scenario and which values it may take."""

    name: str = Field(..., description="Column name of the parameter in every output row.")
    path: str | None = Field(None, description="Key path in the scenario, as with --set (e.g. 'logit.mu').")
    paths: list[str] = Field(default_factory=list, description="Several key paths that all take the value.")
    values: list[ParameterValue] | None = Field(None, description="Discrete levels (any design).")
    low: float | None = Field(None, description="Lower bound of a continuous range.")
    high: float | None = Field(None, description="Upper bound of a continuous range.")
    levels: int | None = Field(
        None, ge=2, le=10_000, description="Grid design: evenly spaced levels between low and high."
    )
    scale: Literal["linear", "log"] = Field("linear", description="Spacing/sampling of a range: linear or log.")
    integer: bool = Field(False, description="Round sampled values of a range to integers.")

    @field_validator("name")
    @classmethod
    def _identifier(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"parameter name '{name}' must be an identifier (letters, digits, underscores)")
        if name in RESERVED_COLUMNS:
            raise ValueError(f"parameter name '{name}' is reserved (every row already has {sorted(RESERVED_COLUMNS)})")
        return name

    @model_validator(mode="after")
    def _check(self) -> ParameterSpec:
        if (self.path is None) == (not self.paths):
            if self.path is None:
                raise ValueError(f"parameter '{self.name}' needs 'path' or 'paths'")
            raise ValueError(f"parameter '{self.name}': give 'path' or 'paths', not both")
        has_range = self.low is not None or self.high is not None
        if self.values is not None:
            if has_range or self.levels is not None:
                raise ValueError(f"parameter '{self.name}': give 'values' or 'low'/'high', not both")
            if not self.values:
                raise ValueError(f"parameter '{self.name}': 'values' is empty")
            kinds = {_value_kind(v) for v in self.values}
            if len(kinds) > 1:
                raise ValueError(f"parameter '{self.name}': 'values' mixes types ({', '.join(sorted(kinds))})")
        else:
            if self.low is None or self.high is None:
                raise ValueError(f"parameter '{self.name}' needs 'values' or both 'low' and 'high'")
            if not self.low < self.high:
                raise ValueError(f"parameter '{self.name}': low = {self.low} must be below high = {self.high}")
            if self.scale == "log" and self.low <= 0:
                raise ValueError(f"parameter '{self.name}': scale = 'log' needs low > 0, got {self.low}")
        return self

    @property
    def key_paths(self) -> list[str]:
        """Every scenario key path the parameter sets."""
        return [self.path] if self.path is not None else list(self.paths)

    def grid_levels(self) -> list[ParameterValue]:
        """The levels a grid design uses."""
        if self.values is not None:
            return list(self.values)
        if self.levels is None:
            raise ConfigError(f"parameter '{self.name}': a grid design needs 'values' or 'levels' with low/high")
        return [self.from_unit(u) for u in np.linspace(0.0, 1.0, self.levels)]

    def from_unit(self, u: float) -> ParameterValue:
        """Map a number in [0, 1] to a parameter value (a level index for discrete values)."""
        if self.values is not None:
            return self.values[min(math.floor(u * len(self.values)), len(self.values) - 1)]
        if self.low is None or self.high is None:
            raise ConfigError(f"parameter '{self.name}' has neither values nor a low-high range")
        if self.scale == "log":
            value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + u * (self.high - self.low)
        return round(value) if self.integer else float(value)


def _value_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "str"


class DesignSpec(_Spec):
    """How design points are drawn from the parameter space."""

    method: Literal["grid", "random", "lhs", "sobol", "morris"] = Field(
        "grid", description="Full factorial grid, uniform random, Latin hypercube, Saltelli/Sobol or Morris."
    )
    samples: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="random/lhs: points; sobol: base samples N (a power of 2); morris: trajectories.",
    )
    calc_second_order: bool = Field(False, description="sobol: also sample for second-order indices.")
    num_levels: int = Field(4, ge=2, le=1000, description="morris: grid levels of the trajectories.")
    seed: int | None = Field(
        None, ge=0, le=2**32 - 1, description="Seed of the sampler, below 2**32 (default: derived from root_seed)."
    )

    @model_validator(mode="after")
    def _check(self) -> DesignSpec:
        if self.method != "grid" and self.samples is None:
            raise ValueError(f"design.method = '{self.method}' needs design.samples")
        if self.method == "sobol" and self.samples is not None and self.samples & (self.samples - 1):
            raise ValueError(f"design.samples = {self.samples}: a sobol design needs a power of 2")
        return self


class SweepConfig(_Spec):
    """A sweep: the root of a sweep TOML file."""

    name: str = Field("sweep", min_length=1, description="Sweep name, written to the manifest.")
    description: str = Field("", description="Free text describing the sweep.")
    base: str = Field(..., description="Base scenario: a shipped config name ('baseline') or a TOML path.")
    settings: dict[str, Any] = Field(default_factory=dict, description="Fixed settings applied to the base.")
    parameters: list[ParameterSpec] = Field(default_factory=list, description="The uncertain parameters.")
    design: DesignSpec = Field(default_factory=DesignSpec, description="The experimental design.")
    replications: int = Field(1, ge=1, le=10_000, description="Runs per design point, each with its own seed.")
    common_random_numbers: bool | None = Field(
        None,
        description="Every design point uses the same replication seeds (replication r gets the same seed at every "
        "point), so differences between points are not seed noise. Default: on for sobol and morris designs.",
    )
    root_seed: int = Field(0, ge=0, le=MAX_SEED, description="Root of every run seed (numpy SeedSequence), < 2**63.")
    max_retries: int = Field(2, ge=0, le=100, description="Retries of a run whose worker process dies.")

    @property
    def uses_common_random_numbers(self) -> bool:
        """Whether replication r has the same seed at every point (the default for sobol and morris)."""
        if self.common_random_numbers is not None:
            return self.common_random_numbers
        return self.design.method in ("sobol", "morris")

    @model_validator(mode="after")
    def _check(self) -> SweepConfig:
        names = [p.name for p in self.parameters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate parameter name(s): {', '.join(dupes)}")
        if self.design.method != "grid" and not self.parameters:
            raise ValueError(f"design.method = '{self.design.method}' needs at least one parameter")
        return self


@dataclass(frozen=True)
class RunTask:
    """One run of a sweep: everything a worker needs, and nothing that depends on where it runs.

    Attributes:
        run_id: Identifier written to every row and used as the run's directory name.
        point: Index of the design point.
        replication: Index of the replication at that point.
        seed: The run's seed.
        params: Parameter values by name (written as columns to every row).
        scenario: The full scenario document (base + settings + parameter values), validated by the worker.
    """

    run_id: str
    point: int
    replication: int
    seed: int
    params: dict[str, ParameterValue] = field(default_factory=dict)
    scenario: dict[str, Any] = field(default_factory=dict)


def resolve_base(base: str, relative_to: Path | None = None) -> Path:
    """Find a base scenario file: a shipped config name, or a path relative to the referring file or cwd.

    The same resolution as :func:`market.config.files.load_scenario`'s (:func:`resolve_scenario_path`).
    """
    return resolve_scenario_path(base, relative_to, key="base")


def load_sweep_config(path: str | Path) -> tuple[SweepConfig, dict[str, Any]]:
    """Read and validate a sweep file (a path, or a shipped one's name: ``"sweeps/switching_mu_grid"``) and its base.

    Returns:
        The sweep config and the base scenario document with the fixed settings applied.

    Raises:
        ConfigError: The sweep file or its base scenario is missing or invalid.
    """
    p = resolve_scenario_path(path)
    sweep = validate_data(read_toml(p), SweepConfig, str(path))
    return sweep, base_scenario(sweep, p.parent)


def base_scenario(sweep: SweepConfig, relative_to: Path | None = None) -> dict[str, Any]:
    """The base scenario document with the sweep's fixed settings applied, validated."""
    base_path = resolve_base(sweep.base, relative_to)
    data = apply_settings(read_toml(base_path), sweep.settings)
    validate_data(data, ScenarioConfig, f"{base_path} with the sweep's settings")
    check_parameter_paths(sweep, data)
    return data


def check_parameter_paths(sweep: SweepConfig, base: dict[str, Any]) -> None:
    """Check that every parameter's key paths name a scenario setting.

    Values are checked point by point by :func:`experiments.preflight.check_plan`; a key path that names no
    setting is reported here, with the parameter's name.

    Raises:
        ConfigError: A key path runs through a value, names a missing list item, or an unknown key.
    """
    for spec in sweep.parameters:
        probe = spec.values[0] if spec.values is not None else spec.from_unit(0.0)
        for key in spec.key_paths:
            try:
                probed = apply_settings(base, {key: probe})
            except ConfigError as exc:
                raise ConfigError(f"parameter '{spec.name}': {exc}") from None
            try:
                validate_data(probed, ScenarioConfig)
            except ConfigError as exc:
                unknown = [line for line in str(exc).splitlines() if line.startswith("unknown key")]
                if unknown:
                    raise ConfigError(f"parameter '{spec.name}': path '{key}': {unknown[0]}") from None


def design_points(sweep: SweepConfig) -> pd.DataFrame:
    """The design: one row per point, one column per parameter, in a fixed order.

    ``grid`` is the full factorial of every parameter's levels (first parameter varies slowest); ``random``
    draws uniformly; ``lhs``, ``sobol`` (Saltelli) and ``morris`` use SALib's samplers on the unit cube,
    mapped to each parameter's range (log-spaced if ``scale = "log"``) or to its discrete levels.
    """
    specs = sweep.parameters
    names = [s.name for s in specs]
    if not specs:
        return pd.DataFrame(index=pd.RangeIndex(1))
    method = sweep.design.method
    if method == "grid":
        rows = list(itertools.product(*(s.grid_levels() for s in specs)))
        return pd.DataFrame(rows, columns=names)
    unit = unit_sample(sweep)
    return pd.DataFrame([[s.from_unit(float(u)) for s, u in zip(specs, row, strict=True)] for row in unit],
                        columns=names)


def unit_sample(sweep: SweepConfig) -> np.ndarray:
    """The design's sample on the unit cube, shape (points, parameters)."""
    design = sweep.design
    seed = design.seed if design.seed is not None else design_seed(sweep.root_seed)
    n = design.samples
    if n is None:
        raise ConfigError(f"design.method = '{design.method}' needs design.samples")
    k = len(sweep.parameters)
    problem = salib_problem(sweep)
    if design.method == "random":
        return np.random.default_rng(seed).random((n, k))
    if design.method == "lhs":
        from SALib.sample import latin

        return latin.sample(problem, n, seed=seed)
    if design.method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, n, calc_second_order=design.calc_second_order, seed=seed)
    from SALib.sample import morris

    return morris.sample(problem, n, num_levels=design.num_levels, seed=seed)


def salib_problem(sweep: SweepConfig) -> dict[str, Any]:
    """The SALib problem of the design: parameter names on the unit cube (values map through ``from_unit``)."""
    k = len(sweep.parameters)
    return {"num_vars": k, "names": [s.name for s in sweep.parameters], "bounds": [[0.0, 1.0]] * k}


def unit_design_frame(sweep: SweepConfig) -> pd.DataFrame | None:
    """The sampled design on the unit cube, one row per point (``point`` then one column per parameter).

    None for a grid (it has no sample). Stored as ``design.parquet`` so a sensitivity analysis reads the exact
    sample SALib drew, whatever SALib version later reads the sweep.
    """
    if sweep.design.method == "grid" or not sweep.parameters:
        return None
    unit = unit_sample(sweep)
    frame = pd.DataFrame(unit, columns=[s.name for s in sweep.parameters])
    frame.insert(0, "point", np.arange(len(frame), dtype=np.int64))
    return frame


def design_seed(root_seed: int) -> int:
    """Seed of the design sampler: the root SeedSequence's own state (its children seed the runs)."""
    return int(np.random.SeedSequence(root_seed).generate_state(1, dtype=np.uint32)[0])


def derive_seeds(root_seed: int, n: int) -> list[int]:
    """``n`` run seeds from ``SeedSequence(root_seed).spawn(n)``: non-negative 63-bit integers, in order."""
    children = np.random.SeedSequence(root_seed).spawn(n)
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]


def run_id_for(point: int, replication: int) -> str:
    """Run identifier of a (point, replication), e.g. ``p0003-r01``; sorts in plan order."""
    return f"p{point:04d}-r{replication:02d}"


MAX_RUNS = 1_000_000
"""Most runs a sweep may plan (points x replications)."""


def build_plan(sweep: SweepConfig, base: dict[str, Any]) -> list[RunTask]:
    """One task per (point, replication), point-major, with seeds derived from the root seed.

    With common random numbers replication r uses ``derive_seeds(root_seed, replications)[r]`` at every point;
    otherwise every (point, replication) has its own seed, ``derive_seeds(root_seed, points * replications)``.

    Raises:
        ConfigError: The plan would hold more than :data:`MAX_RUNS` runs.
    """
    points = design_points(sweep)
    reps = sweep.replications
    if len(points) * reps > MAX_RUNS:
        raise ConfigError(f"the sweep plans {len(points) * reps:,} runs ({len(points):,} points x {reps:,} "
                          f"replications); at most {MAX_RUNS:,} (fewer samples, levels or replications)")
    if sweep.uses_common_random_numbers:
        seeds = derive_seeds(sweep.root_seed, reps) * len(points)
    else:
        seeds = derive_seeds(sweep.root_seed, len(points) * reps)
    tasks: list[RunTask] = []
    for point, row in enumerate(points.to_dict("records")):
        params = {k: _plain(v) for k, v in row.items()}
        settings = {key: params[s.name] for s in sweep.parameters for key in s.key_paths}
        scenario = apply_settings(base, settings)
        for rep in range(reps):
            tasks.append(RunTask(run_id_for(point, rep), point, rep, seeds[point * reps + rep], params, scenario))
    return tasks


def plan_frame(tasks: list[RunTask]) -> pd.DataFrame:
    """The plan as a table: run_id, point, replication, seed and one column per parameter."""
    rows = [{"run_id": t.run_id, "point": t.point, "replication": t.replication, "seed": t.seed, **t.params}
            for t in tasks]
    return pd.DataFrame(rows, columns=_plan_columns(tasks))


def _plan_columns(tasks: list[RunTask]) -> list[str]:
    params = list(tasks[0].params) if tasks else []
    return ["run_id", "point", "replication", "seed", *params]


def _plain(value: Any) -> ParameterValue:
    """A numpy scalar as the matching Python scalar."""
    return value.item() if isinstance(value, np.generic) else value


def fingerprint(document: Any) -> str:
    """SHA-256 of a JSON-serializable document in canonical form (sorted keys)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
