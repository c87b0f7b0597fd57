"""Running one scenario: ``run_scenario(config, seed) -> RunResult`` and writing it atomically."""

from __future__ import annotations

import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.outputs import check_run_dir, json_text, write_dir_atomic
from market.config import ScenarioConfig
from market.model import InferenceMarket
from market.networks import graph_tables
from market.recording import TABLES

"""Tables a run writes, each as ``<name>.parquet``."""

PACKAGES: tuple[str, ...] = ("mesa", "numpy", "scipy", "pandas", "pyarrow", "networkx", "pydantic", "ray")


@dataclass
class RunResult:
    """The outcome of one run: tidy frames plus a manifest.

    Attributes:
        model: One row per step (market metrics).
        providers: One row per step and provider.
        enterprises: Enterprise outcomes by (step, region, segment), or per agent on request.
        gpu_market: One row per step and GPU generation (secondary price, units by holder type).
        events: Entries, exits, acquisitions, GPU sales and the like.
        offers: One row per step and offer (provider, region, tier): price, serving latency, tokens served.
        manifest: Config, seed, versions, git commit, wall time.
        networks: Final networks as node/edge tables (``contracts_nodes``, ``contracts_edges``, ...), when
            ``simulation.save_networks`` is on; written under ``networks/``.
    """

    model: pd.DataFrame
    providers: pd.DataFrame
    enterprises: pd.DataFrame
    gpu_market: pd.DataFrame
    events: pd.DataFrame
    offers: pd.DataFrame = field(default_factory=pd.DataFrame)
    manifest: dict[str, Any] = field(default_factory=dict)
    networks: dict[str, pd.DataFrame] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The frames by table name."""
        return {name: getattr(self, name) for name in TABLES}


def run_scenario(
    config: ScenarioConfig,
    seed: int | None = None,
    *,
    steps: int | None = None,
    on_step: Callable[[int, int], None] | None = None,
    run_id: str | None = None,
) -> RunResult:
    """Build the model from ``config`` and run it.

    Args:
        config: A validated scenario.
        seed: Root seed (default: ``config.simulation.seed``).
        steps: Number of steps (default: ``config.simulation.steps``).
        on_step: Called as ``on_step(done, total)`` after every step (progress display).
        run_id: Identifier written to every row (default: ``seed-<seed>``).

    Returns:
        The run's frames and manifest; every row carries ``run_id`` and ``seed``.
    """
    seed = config.simulation.seed if seed is None else int(seed)
    total = config.simulation.steps if steps is None else int(steps)
    if total < 1:
        raise ValueError(f"steps must be at least 1, got {total}")
    run_id = run_id or f"seed-{seed}"
    started = time.perf_counter()
    model = InferenceMarket(config, seed=seed)
    for done in range(1, total + 1):
        model.step()
        if on_step is not None:
            on_step(done, total)
    frames = model.recorder.frames()
    networks: dict[str, pd.DataFrame] = {}
    if config.simulation.save_networks:
        for name, graph in model.networks.items():
            networks[f"{name}_nodes"], networks[f"{name}_edges"] = graph_tables(graph)
    for frame in frames.values():
        frame.insert(0, "seed", seed)
        frame.insert(0, "run_id", run_id)
    wall = time.perf_counter() - started
    manifest = build_manifest(config, seed=seed, steps=total, run_id=run_id, wall_time_s=wall)
    return RunResult(**frames, manifest=manifest, networks=networks)


def build_manifest(config: ScenarioConfig, *, seed: int, steps: int, run_id: str, wall_time_s: float) -> dict[str, Any]:
    """Provenance of a run: config, seed, package versions, git commit, wall time."""
    return {
        "run_id": run_id,
        "scenario": config.name,
        "seed": seed,
        "steps": steps,
        "config": config.model_dump(mode="json"),
        "versions": package_versions(),
        "python": platform.python_version(),
        "git_commit": git_commit(),
        "wall_time_s": round(wall_time_s, 3),
    }


def package_versions() -> dict[str, str]:
    """Installed versions of this package and its main dependencies."""
    out: dict[str, str] = {}
    for name in ("ieco", *PACKAGES):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit() -> str:
    """Commit of the source tree this package runs from, or 'unknown'."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    if out.returncode != 0 or not commit:
        return "unknown"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=here, capture_output=True, text=True,
        timeout=5, check=False,
    ).stdout.strip()
    return commit + ("-dirty" if dirty else "")


def command_line() -> str:
    """The command line of this process as given (shell-quoted), for manifests."""
    return shlex.join(sys.argv)


def write_run(result: RunResult, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Write a run's Parquet tables and ``manifest.json`` to ``out_dir``, atomically.

    Everything is first written to a temporary sibling directory, which then takes the place of ``out_dir``
    in one rename: readers see either the previous complete result or the new complete result, never a mix.
    The policy of :func:`experiments.outputs.check_run_dir` applies: a missing or empty ``out_dir`` is
    written, an earlier run there is replaced only with ``overwrite=True``, anything else is refused.

    Returns:
        The output directory.

    Raises:
        OutputError: ``out_dir`` may not or cannot be written (nothing already there is changed).
    """
    out = Path(out_dir)
    check_run_dir(out, overwrite=overwrite)

    def fill(tmp: Path) -> None:
        for name, frame in result.tables().items():
            frame.to_parquet(tmp / f"{name}.parquet", index=False)
        if result.networks:
            (tmp / "networks").mkdir()
            for name, frame in result.networks.items():
                frame.to_parquet(tmp / "networks" / f"{name}.parquet", index=False)
        (tmp / "manifest.json").write_text(json_text(result.manifest))

    return write_dir_atomic(out, fill, replace=overwrite)
