"""Replications and parameter sweeps: plan, execute (in-process or on Ray), store, resume.

From Python or Jupyter::

    from experiments.sweep import run_sweep, load_sweep

    runs = run_sweep("experiments/configs/sweeps/lockin_grid.toml", "results/lockin")   # local Ray
    model = load_sweep("results/lockin", columns=["run_id", "step", "hhi", "switching_cost"])

A notebook may call :func:`run_sweep` repeatedly: Ray is started on the first call and reused after. With
``workers=1`` (and no address) runs execute one after another in the calling process, which gives the same
files as Ray.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.results import load_sweep, sweep_runs
from experiments.evaluators import Evaluator, make_evaluator
from experiments.locks import LOCK_FILE, DirectoryLock, check_unlocked
from experiments.preflight import check_plan
from experiments.run import TABLES, command_line, git_commit, package_versions
from experiments.store import ResultStore, now_iso
from experiments.sweep_config import (
    RunTask,
    SweepConfig,
    base_scenario,
    build_plan,
    fingerprint,
    load_sweep_config,
    plan_frame,
    salib_problem,
    unit_design_frame,
)
from market.config.files import ConfigError

__all__ = ["SweepProgress", "execute_tasks", "load_sweep", "open_store", "run_sweep"]


@dataclass(frozen=True)
class SweepProgress:
    """Counts reported after every run.

    Attributes:
        total: Runs in the plan.
        finished: Runs whose results are stored (including those found on resume).
        failed: Runs recorded as failed in this execution.
        resumed: Runs already finished when the execution started.
        elapsed_s: Seconds since the execution started.
    """

    total: int
    finished: int
    failed: int
    resumed: int
    elapsed_s: float

    @property
    def done(self) -> int:
        """Runs no longer pending."""
        return self.finished + self.failed


ProgressCallback = Callable[[SweepProgress], None]


def run_sweep(
    sweep: SweepConfig | str | Path,
    out: str | Path,
    *,
    workers: int | None = None,
    address: str | None = None,
    resume: bool = False,
    progress: ProgressCallback | None = None,
    evaluator: Evaluator | None = None,
) -> pd.DataFrame:
    """Run every (point, replication) of a sweep and store the results under ``out``.

    Args:
        sweep: A sweep file path or a :class:`SweepConfig` (its ``base`` resolved against the cwd).
        out: Sweep directory.
        workers: Parallel runs; ``1`` runs in-process, anything else on Ray (default: all CPUs).
        address: Ray cluster to join (``"auto"`` or ``"HOST:PORT"``); ``None`` starts or reuses a local Ray.
        resume: Continue the sweep stored in ``out``: finished runs are skipped, failed ones retried.
        progress: Called with a :class:`SweepProgress` after every run.
        evaluator: Use this evaluator instead of one made from ``workers`` and ``address``.

    Returns:
        One row per planned run: run_id, point, replication, seed, parameters, status and error.

    Raises:
        ConfigError: The sweep is invalid, or ``out`` holds another sweep (or one without ``resume``).
    """
    if isinstance(sweep, SweepConfig):
        config, source = sweep, None
        base = base_scenario(config)
    else:
        config, base = load_sweep_config(sweep)
        source = str(sweep)
    tasks = build_plan(config, base)
    check_plan(config, base, tasks)
    document = {"sweep": config.model_dump(mode="json"), "base_scenario": base}
    check_store(out, document, resume=resume, kind="sweep")
    evaluator = evaluator or make_evaluator(workers, address, config.max_retries)
    with evaluator, DirectoryLock(out):  # start or join Ray before anything is written
        store = open_store(out, document, plan_frame(tasks), resume=resume, kind="sweep", name=config.name,
                           extra={"source": source, "command": command_line(),
                                  "salib_problem": salib_problem(config),
                                  "common_random_numbers": config.uses_common_random_numbers},
                           design=unit_design_frame(config))
        execute_tasks(tasks, store, evaluator, progress)
    return sweep_runs(out)


def check_store(out: str | Path, document: dict[str, Any], *, resume: bool, kind: str) -> None:
    """Check that ``out`` can take this sweep, writing nothing.

    Raises:
        ConfigError: ``out`` is a file, holds a different sweep, holds this sweep without ``resume``, is a
            non-empty directory that holds no sweep, or is in use by another live driver (its lock file).
    """
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"out = {str(root)!r} (--out): exists and is not a directory")
    check_unlocked(root)
    store = ResultStore(root)
    if store.exists():
        stored = store.read_manifest()
        if stored.get("fingerprint") != fingerprint(document):
            differ = [key for key in document if fingerprint(stored.get(key)) != fingerprint(document[key])]
            raise ConfigError(
                f"{root} holds a {stored.get('kind', 'sweep')} ('{stored.get('name')}') made from a different "
                f"{' and '.join(differ) or 'config'}; choose another out directory, or resume with the config it "
                "was made from"
            )
        if not resume:
            raise ConfigError(f"{root} already holds this {kind}; pass resume=True (--resume) to continue it")
    elif root.is_dir() and any(p.name != LOCK_FILE for p in root.iterdir()):
        raise ConfigError(f"out = {str(root)!r} (--out): directory is not empty and holds no {kind}")


def open_store(out: str | Path, document: dict[str, Any], plan: pd.DataFrame, *, resume: bool, kind: str,
               name: str, extra: dict[str, Any] | None = None, design: pd.DataFrame | None = None) -> ResultStore:
    """Create the store for a new sweep, or reopen a stored one for ``resume``.

    Raises:
        ConfigError: ``out`` is a file, holds a different sweep, holds this sweep without ``resume``, or is a
            non-empty directory that holds no sweep.
    """
    check_store(out, document, resume=resume, kind=kind)
    root = Path(out)
    store = ResultStore(root)
    digest = fingerprint(document)
    if store.exists():
        store.reopen({"status": "running", "resumed": now_iso()})
        return store
    manifest = {
        "kind": kind,
        "name": name,
        "fingerprint": digest,
        **document,
        **(extra or {}),
        "tables": list(TABLES),
        "versions": package_versions(),
        "python": platform.python_version(),
        "git_commit": git_commit(),
        "created": now_iso(),
        "status": "running",
        "progress": {"total": len(plan), "finished": 0, "failed": 0},
    }
    store.create(manifest, plan, design)
    return store


def execute_tasks(
    tasks: Sequence[RunTask],
    store: ResultStore,
    evaluator: Evaluator,
    progress: ProgressCallback | None = None,
) -> SweepProgress:
    """Run the tasks not yet finished in ``store`` and record each outcome as it arrives.

    Returns:
        The final counts. The manifest's ``status`` ends as ``complete``, ``complete_with_failures`` or
        ``interrupted``.
    """
    started = time.monotonic()
    by_id = {t.run_id: t for t in tasks}
    already = store.finished_ids() & set(by_id)
    todo = [t for t in tasks if t.run_id not in already]
    finished, failed = len(already), 0

    def report(force: bool = False) -> SweepProgress:
        state = SweepProgress(len(tasks), finished, failed, len(already), time.monotonic() - started)
        store.update(progress={"total": state.total, "finished": finished, "failed": failed}, force=force)
        if progress is not None:
            progress(state)
        return state

    status = "interrupted"
    state = report(force=True)
    try:
        with evaluator:
            store.update(executor=evaluator.describe(), force=True)
            for outcome in evaluator.evaluate(todo):
                store.write_outcome(outcome, by_id[outcome.run_id])
                if outcome.status == "finished":
                    finished += 1
                else:
                    failed += 1
                state = report()
        status = "complete" if failed == 0 else "complete_with_failures"
    finally:
        store.update(status=status, force=True)
    return report(force=True) if status != "interrupted" else state
