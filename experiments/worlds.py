"""Plausible worlds: the uncertain parameters of the baseline, their design, and the ensemble file.

``experiments/configs/uncertainty.toml`` declares each uncertain parameter of the baseline as one or more
scenario key paths (as ``--set`` uses) with a range (``scale = "linear"``: uniform; ``scale = "log"``:
log-uniform) or a list of categories (``values``, in a meaningful order: boxes over worlds restrict them as an
ordinal), and the source of the range. :func:`design_sweep` turns it into a sweep of the existing machinery
(:mod:`experiments.sweep`): a Latin hypercube from SALib (``latin.sample``) of ``draws`` points on the unit
cube, mapped to each parameter's range or categories, each point run with ``seeds`` seeds shared by every
point (common random numbers).

The draws whose outcomes fall within every calibration target's tolerance (:func:`experiments.calibration.
accept`) are the plausible worlds, written by :func:`write_worlds` as JSON: data, not code::

    {"kind": "plausible_worlds", "draws": 256, "seeds": [...], "design": {...}, "parameters": [...],
     "accepted": 31, "worlds": [{"world": "w0007", "point": 7, "params": {...}, "outcomes": {...}}, ...]}

Theses read it back with :func:`read_worlds` and apply a world with :func:`world_settings`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from experiments.outputs import write_text_atomic
from experiments.sweep_config import DesignSpec, ParameterSpec, SweepConfig, derive_seeds, resolve_base
from market.config import ScenarioConfig
from market.config.files import ConfigError, apply_settings, read_toml, validate_data
from market.config.schema import MAX_SEED

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DEFAULT_UNCERTAINTY = CONFIG_DIR / "uncertainty.toml"
"""The shipped declaration of the baseline's uncertain parameters."""
DEFAULT_WORLDS = CONFIG_DIR / "worlds.json"
"""The shipped ensemble of plausible worlds (written by ``make calibration``)."""


class UncertainParameter(ParameterSpec):
    """An uncertain parameter: a sweep parameter (name, key path(s), range or categories) and its source."""

    source: str = Field(..., min_length=1, description="Where the range comes from (or why it is a judgement).")
    description: str = Field("", description="What the parameter is, in words.")

    @model_validator(mode="after")
    def _no_grid(self) -> UncertainParameter:
        if self.levels is not None:
            raise ValueError(f"parameter '{self.name}': 'levels' is for grid sweeps; a world is drawn from the range")
        return self


class WorldDesign(BaseModel):
    """How the space is searched: a Latin hypercube of ``draws`` points, each run with ``seeds`` seeds."""

    model_config = ConfigDict(extra="forbid", strict=True)

    method: Literal["lhs"] = Field("lhs", description="Latin hypercube (SALib latin.sample).")
    draws: int = Field(256, ge=2, le=100_000, description="Points of the design (parameter draws).")
    seeds: int = Field(3, ge=1, le=1000, description="Runs per draw; seed r is the same at every draw (CRN).")
    root_seed: int = Field(0, ge=0, le=MAX_SEED, description="Root of the design sampler and the run seeds.")


class UncertaintySpec(BaseModel):
    """The uncertainty file: the base scenario, fixed settings, the design and the uncertain parameters."""

    model_config = ConfigDict(extra="forbid", strict=True)

    base: str = Field("baseline", description="Base scenario: a shipped config name or a TOML path.")
    settings: dict[str, Any] = Field(default_factory=dict, description="Fixed settings applied to the base.")
    design: WorldDesign = Field(default_factory=WorldDesign)
    parameters: list[UncertainParameter] = Field(..., min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> UncertaintySpec:
        names = [p.name for p in self.parameters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate parameter name(s): {', '.join(dupes)}")
        paths = [k for p in self.parameters for k in p.key_paths]
        twice = sorted({k for k in paths if paths.count(k) > 1})
        if twice:
            raise ValueError(f"key path(s) set by more than one parameter: {', '.join(twice)}")
        return self


def load_uncertainty(path: str | Path = DEFAULT_UNCERTAINTY) -> tuple[UncertaintySpec, dict[str, Any]]:
    """Read and validate an uncertainty file and its base scenario; check every parameter's paths and values.

    Returns:
        The spec (its ``base`` resolved to an absolute path) and the base document with the fixed settings.

    Raises:
        ConfigError: The file is invalid, a key path names no scenario setting, or a bound or category is not a
            valid value of its setting (the message names the parameter).
    """
    p = Path(path)
    spec = validate_data(read_toml(p), UncertaintySpec, str(p))
    base_path = resolve_base(spec.base, p.parent)
    spec = spec.model_copy(update={"base": str(base_path)})
    base = apply_settings(read_toml(base_path), spec.settings)
    validate_data(base, ScenarioConfig, f"{base_path} with the settings of {p}")
    for param in spec.parameters:
        check_parameter(param, base, str(p))
    return spec, base


def check_parameter(param: UncertainParameter, base: dict[str, Any], source: str = "") -> None:
    """Check that each key path of ``param`` names a scenario setting and that its bounds/categories are valid.

    Raises:
        ConfigError: Naming the file, the parameter, the path and the value.
    """
    probes = list(param.values) if param.values is not None else [param.from_unit(0.0), param.from_unit(1.0)]
    where = f"{source}: " if source else ""
    for key in param.key_paths:
        for value in probes:
            try:
                validate_data(apply_settings(base, {key: value}), ScenarioConfig)
            except ConfigError as exc:
                first = str(exc).splitlines()[-1].strip() if str(exc) else "invalid"
                raise ConfigError(f"{where}parameter '{param.name}': path '{key}' = {value!r}: {first}") from None


def design_sweep(spec: UncertaintySpec, *, draws: int | None = None, seeds: int | None = None) -> SweepConfig:
    """The design as a sweep: Latin hypercube of ``draws`` points x ``seeds`` replications, common random numbers."""
    design = spec.design
    return SweepConfig(
        name="plausible_worlds",
        description="Latin hypercube over the uncertain parameters of the baseline (experiments/configs/"
                    "uncertainty.toml), for calibration by acceptance.",
        base=spec.base,
        settings=dict(spec.settings),
        parameters=[ParameterSpec(**p.model_dump(exclude={"source", "description"})) for p in spec.parameters],
        design=DesignSpec(method="lhs", samples=draws or design.draws),
        replications=seeds or design.seeds,
        common_random_numbers=True,
        root_seed=design.root_seed,
    )


def world_id(point: int) -> str:
    """Identifier of the world drawn at design point ``point``, e.g. ``w0007``."""
    return f"w{point:04d}"


def worlds_document(spec: UncertaintySpec, sweep: SweepConfig, draws: pd.DataFrame, *,
                    targets: list[str], source: str = "") -> dict[str, Any]:
    """The worlds file as a JSON-ready dict.

    Args:
        spec: The uncertainty declaration.
        sweep: The design that was run.
        draws: One row per draw: ``point``, one column per parameter, one per target (the draw's outcome) and
            ``accepted``.
        targets: Names of the target columns in ``draws``.
        source: The uncertainty file, for provenance.
    """
    names = [p.name for p in spec.parameters]
    accepted = draws[draws["accepted"]].sort_values("point")
    worlds = [{"world": world_id(int(row["point"])), "point": int(row["point"]),
               "params": {n: _plain(row[n]) for n in names},
               "outcomes": {t: float(row[t]) for t in targets}}
              for _, row in accepted.iterrows()]
    return {
        "kind": "plausible_worlds",
        "uncertainty_file": _display(source),
        "base": _display(spec.base),
        "method": sweep.design.method,
        "draws": len(draws),
        "seeds": derive_seeds(sweep.root_seed, sweep.replications),
        "root_seed": sweep.root_seed,
        "accepted": len(worlds),
        "parameters": [{"name": p.name, "paths": p.key_paths,
                        **({"values": list(p.values)} if p.values is not None else
                           {"low": p.low, "high": p.high, "scale": p.scale}),
                        "source": p.source} for p in spec.parameters],
        "targets": targets,
        "worlds": worlds,
    }


def write_worlds(document: dict[str, Any], path: str | Path) -> Path:
    """Write the worlds file atomically (JSON, sorted keys within each world for stable diffs)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps(document, indent=1) + "\n")
    return out


class WorldsFile(BaseModel):
    """The parts of a worlds file that theses read."""

    model_config = ConfigDict(extra="allow")

    kind: Literal["plausible_worlds"]
    draws: int
    seeds: list[int]
    accepted: int
    parameters: list[dict[str, Any]]
    worlds: list[dict[str, Any]]


def read_worlds(path: str | Path = DEFAULT_WORLDS, n: int | None = None) -> tuple[WorldsFile, pd.DataFrame]:
    """Read a worlds file; return it and its first ``n`` worlds as a frame (``world`` then one column a parameter).

    Raises:
        ConfigError: The file is missing, not a worlds file, or holds fewer than ``n`` worlds.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"worlds file {p} not found; write it with `make calibration`")
    if p.stat().st_size > 50_000_000:
        raise ConfigError(f"worlds file {p} is larger than 50 MB")
    try:
        document = validate_data(json.loads(p.read_text()), WorldsFile, str(p))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"worlds file {p}: not JSON ({exc})") from None
    available = len(document.worlds)
    if n is not None and n > available:
        raise ConfigError(f"--worlds {n}: {p} holds {available} plausible world(s) "
                          f"(of {document.draws} draws); ask for at most {available} or calibrate with more draws")
    chosen = document.worlds[: n if n is not None else available]
    names = [param["name"] for param in document.parameters]
    frame = pd.DataFrame([{"world": w["world"], **{k: w["params"][k] for k in names}} for w in chosen],
                         columns=["world", *names])
    return document, frame


def world_settings(document: WorldsFile, world: pd.Series | dict[str, Any]) -> dict[str, Any]:
    """The scenario settings (key path -> value) that make a world: every path of every parameter."""
    return {key: world[param["name"]] for param in document.parameters for key in param["paths"]}


def _display(path: str) -> str:
    """A path relative to the working directory when it lies inside it (stable across checkouts)."""
    try:
        return Path(path).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path


def _plain(value: Any) -> Any:
    """A numpy scalar as the matching Python scalar."""
    return value.item() if hasattr(value, "item") else value
