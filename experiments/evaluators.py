"""Executing runs: one task function and interchangeable evaluators (in-process, Ray).

Every evaluator turns a sequence of :class:`~experiments.sweep_config.RunTask` into a stream of
:class:`RunOutcome`, in completion order, and is used as a context manager::

    with make_evaluator(workers=4) as evaluator:
        for outcome in evaluator.evaluate(tasks):
            store.write_outcome(outcome)

A run's tables travel back as Parquet bytes produced by the worker itself, so the files the driver writes
are byte-identical whichever evaluator ran them. An exception inside a run is caught where it happens and
returned as a failed outcome carrying the message and traceback: it is recorded, never retried. A worker
process that dies (killed, out of memory, node lost) is retried by Ray up to ``max_retries`` times; a run
still failing after that is returned as failed with Ray's error.

Ray is imported only when a :class:`RayEvaluator` is entered.
"""

from __future__ import annotations

import io
import platform
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

import pandas as pd

from experiments.ray_session import ensure_ray
from experiments.sweep_config import RunTask
from market.config import ScenarioConfig
from market.config.files import validate_data

RunFunction = Callable[[RunTask], "RunOutcome"]


@dataclass
class RunOutcome:
    """What a worker returns for one task.

    Attributes:
        run_id: The task's run id.
        status: ``"finished"`` or ``"failed"``.
        tables: Parquet bytes by table name (finished runs).
        manifest: The run's manifest (config, seed, versions, commit, wall time, parameters).
        error: ``"ExceptionType: message"`` of a failed run.
        traceback: Formatted traceback of a failed run.
        host: Host name of the worker.
        wall_time_s: Wall time of the attempt, seconds.
    """

    run_id: str
    status: Literal["finished", "failed"]
    tables: dict[str, bytes] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    traceback: str = ""
    host: str = ""
    wall_time_s: float = 0.0

    @classmethod
    def failure(cls, task: RunTask, error: str, trace: str = "", wall_time_s: float = 0.0) -> RunOutcome:
        """A failed outcome for ``task``."""
        return cls(task.run_id, "failed", error=error, traceback=trace, host=platform.node(),
                   wall_time_s=round(wall_time_s, 3))


def execute_run(task: RunTask) -> RunOutcome:
    """Validate the task's scenario, run it, and return its tables as Parquet bytes.

    Every row of every table carries ``run_id``, ``seed``, ``point``, ``replication`` and the parameter
    values. Exceptions are returned as a failed outcome, never raised.
    """
    from experiments.run import run_scenario

    started = time.perf_counter()
    try:
        config = validate_data(task.scenario, ScenarioConfig, f"run {task.run_id}")
        result = run_scenario(config, task.seed, run_id=task.run_id)
        tables = {name: parquet_bytes(tag_frame(frame, task)) for name, frame in result.tables().items()}
        manifest = {**result.manifest, "point": task.point, "replication": task.replication,
                    "params": task.params, "host": platform.node()}
    except Exception as exc:  # any failure of a run is recorded with its traceback
        return RunOutcome.failure(task, f"{type(exc).__name__}: {exc}", traceback.format_exc(),
                                  time.perf_counter() - started)
    return RunOutcome(task.run_id, "finished", tables=tables, manifest=manifest, host=platform.node(),
                      wall_time_s=round(time.perf_counter() - started, 3))


def tag_frame(frame: pd.DataFrame, task: RunTask) -> pd.DataFrame:
    """``frame`` with ``point``, ``replication`` and one column per parameter after ``run_id`` and ``seed``.

    Raises:
        ValueError: A parameter name collides with a column of the table.
    """
    out = frame.copy()
    if "run_id" not in out.columns:
        out.insert(0, "seed", task.seed)
        out.insert(0, "run_id", task.run_id)
    position = list(out.columns).index("seed") + 1
    extra = {"point": task.point, "replication": task.replication, **task.params}
    for offset, (name, value) in enumerate(extra.items()):
        if name in out.columns:
            raise ValueError(f"parameter '{name}' collides with a column of the run's tables; rename it")
        out.insert(position + offset, name, [value] * len(out))
    return out


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """A frame as Parquet file bytes (deterministic for equal frames)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


class Evaluator:
    """Base of the execution backends: a context manager that evaluates tasks.

    Args:
        run: The task function (default :func:`execute_run`); it must return a :class:`RunOutcome` and
            catch its own exceptions.
    """

    backend = "base"

    def __init__(self, run: RunFunction = execute_run) -> None:
        self.run = run

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def evaluate(self, tasks: Sequence[RunTask]) -> Iterator[RunOutcome]:
        """Yield one outcome per task, in completion order."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Where and how runs execute (written to the sweep manifest)."""
        return {"backend": self.backend}


class SerialEvaluator(Evaluator):
    """Runs tasks one after another in this process (debugging, small sweeps, ``--workers 1``)."""

    backend = "serial"

    def evaluate(self, tasks: Sequence[RunTask]) -> Iterator[RunOutcome]:
        """Yield one outcome per task, in plan order."""
        for task in tasks:
            yield self.run(task)


class RayEvaluator(Evaluator):
    """Runs tasks as Ray tasks on a local Ray or on a cluster.

    Ray is started at most once per process: an initialised Ray (a notebook session, a test fixture, an
    earlier sweep) is reused and left running. Otherwise a private local Ray is started (bound to
    127.0.0.1, dashboard off), or the cluster at ``address`` is joined (:mod:`experiments.ray_session`).

    Args:
        workers: Most tasks in flight at once (default: the cluster's CPUs); also the local Ray's CPUs.
        address: ``None`` for a local Ray, ``"auto"`` or ``"HOST:PORT"`` for an existing cluster.
        max_retries: Retries of a task whose worker process dies.
        run: The task function.
    """

    backend = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None, max_retries: int = 2,
                 run: RunFunction = execute_run) -> None:
        super().__init__(run)
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self.address = address
        self.max_retries = max_retries
        self._remote: Any = None
        self._slots = 1
        self._session: dict[str, Any] = {}

    def __enter__(self) -> RayEvaluator:
        import ray

        if self._remote is not None:
            return self
        self._session = ensure_ray(self.address, self.workers)
        self._remote = ray.remote(self.run).options(num_cpus=1, max_retries=self.max_retries,
                                                     retry_exceptions=False)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self._slots = max(1, self.workers if self.workers is not None else cpus)
        return self

    def evaluate(self, tasks: Sequence[RunTask]) -> Iterator[RunOutcome]:
        """Submit tasks (a bounded number in flight) and yield outcomes as they complete."""
        import ray
        from ray.exceptions import RayError

        if self._remote is None:
            raise RuntimeError("RayEvaluator.evaluate() called outside its 'with' block")
        queue = iter(tasks)
        pending: dict[Any, tuple[RunTask, float]] = {}

        def submit() -> None:
            task = next(queue, None)
            if task is not None:
                pending[self._remote.remote(task)] = (task, time.perf_counter())

        for _ in range(2 * self._slots):
            submit()
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    task, started = pending.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except RayError as exc:
                        outcome = RunOutcome.failure(
                            task, f"{type(exc).__name__} after {self.max_retries} retries: {exc}",
                            wall_time_s=time.perf_counter() - started)
                    submit()
                    yield outcome
        finally:
            for ref in pending:
                try:
                    ray.cancel(ref)
                except Exception:  # best effort on shutdown
                    pass

    def describe(self) -> dict[str, Any]:
        """Backend, where the runs really went (mode, GCS address, nodes), the address asked for, tasks in flight."""
        return {"backend": self.backend, **self._session, "requested_address": self.address or "local",
                "workers": self._slots}


def make_evaluator(workers: int | None = None, address: str | None = None, max_retries: int = 2,
                   run: RunFunction = execute_run) -> Evaluator:
    """The evaluator for a worker count and address: in-process for ``workers == 1`` without an address."""
    if workers == 1 and address is None:
        return SerialEvaluator(run)
    return RayEvaluator(workers=workers, address=address, max_retries=max_retries, run=run)
