"""Running each distinct run once and sharing its result among the theses that use it.

Many theses use identical scenarios (e.g. the plain baseline is a scenario of ten theses, and the four
consolidation theses share both of theirs). A run is determined by its resolved scenario document and its seed
(the same document and seed give byte-identical tables), so the run key :func:`run_key` is a SHA-256 hash of the
canonical JSON of the document (keys sorted) and the seed. :func:`share_tasks` groups the tasks of all theses by
key; only one task of each group (the first) is executed, and its outcome is written to the store of every task
of the group, re-labelled with that task's identifiers (:func:`relabel_outcome`: ``run_id``, ``point``,
``replication`` and the parameter columns), which gives the same bytes as running the task itself.

:class:`SharedStore` sits between :func:`experiments.sweep.execute_tasks` and the per-thesis stores: a group
counts as finished when every one of its tasks is stored, so ``--resume`` re-runs a group only if one of its
copies is missing, and writes only the missing copies. Every copy is written atomically by its store.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from experiments.evaluators import RunOutcome
from experiments.sweep_config import RunTask


class TaskStore(Protocol):
    """What :func:`experiments.sweep.execute_tasks` needs of a store."""

    def finished_ids(self) -> set[str]: ...

    def write_outcome(self, outcome: RunOutcome, task: RunTask) -> None: ...

    def update(self, *, force: bool = False, **fields: Any) -> None: ...


def run_key(scenario: dict[str, Any], seed: int) -> str:
    """Key of a run: SHA-256 of the scenario document's canonical JSON (sorted keys) and the seed."""
    text = json.dumps({"scenario": scenario, "seed": seed}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class SharedRun:
    """A distinct run: the task that is executed and every task (of every thesis) that receives its result."""

    key: str
    task: RunTask
    members: tuple[RunTask, ...]


def share_tasks(tasks: Sequence[RunTask]) -> list[SharedRun]:
    """Group ``tasks`` by :func:`run_key`, in order of first appearance; the first task of a group runs."""
    groups: dict[str, list[RunTask]] = {}
    for task in tasks:
        groups.setdefault(run_key(task.scenario, task.seed), []).append(task)
    return [SharedRun(key, members[0], tuple(members)) for key, members in groups.items()]


def relabel_table(payload: bytes, source: RunTask, target: RunTask) -> bytes:
    """A run's table (Parquet bytes labelled for ``source``) labelled for ``target`` instead.

    The identifying columns (``run_id``, ``point``, ``replication`` and the parameter columns) are replaced with
    arrays of the same type; every other column, the schema and its metadata are kept, so the bytes are those the
    worker would have produced for ``target``.

    Raises:
        ValueError: The two tasks have different parameter names or different seeds.
    """
    if list(source.params) != list(target.params) or source.seed != target.seed:
        raise ValueError(f"cannot relabel run {source.run_id} as {target.run_id}: different parameters or seed")
    table = pq.read_table(io.BytesIO(payload))
    values: dict[str, Any] = {"run_id": target.run_id, "point": target.point, "replication": target.replication,
                              **target.params}
    for name, value in values.items():
        index = table.schema.get_field_index(name)
        if index < 0:
            continue
        field = table.schema.field(index)
        table = table.set_column(index, field, pa.array([value] * table.num_rows, type=field.type))
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def relabel_outcome(outcome: RunOutcome, source: RunTask, target: RunTask) -> RunOutcome:
    """``outcome`` of ``source`` as the outcome of ``target`` (tables and manifest relabelled)."""
    if target.run_id == source.run_id:
        return outcome
    if outcome.status != "finished":
        return replace(outcome, run_id=target.run_id)
    manifest = {**outcome.manifest, "run_id": target.run_id, "point": target.point,
                "replication": target.replication, "params": target.params, "shared_from": source.run_id}
    tables = {name: relabel_table(payload, source, target) for name, payload in outcome.tables.items()}
    return replace(outcome, run_id=target.run_id, tables=tables, manifest=manifest)


class SharedStore:
    """The store :func:`experiments.sweep.execute_tasks` writes the distinct runs to; it writes every copy.

    Args:
        store: The store of the member tasks (e.g. :class:`experiments.verdicts.StoreGroup`).
        runs: The distinct runs (:func:`share_tasks`).
    """

    def __init__(self, store: TaskStore, runs: Sequence[SharedRun]) -> None:
        self.store = store
        self.runs = {run.task.run_id: run for run in runs}
        self._stored = store.finished_ids()

    def tasks(self) -> list[RunTask]:
        """The tasks to execute, one per distinct run."""
        return [run.task for run in self.runs.values()]

    def finished_ids(self) -> set[str]:
        """Distinct runs all of whose copies are stored (named by their executed task's run id)."""
        stored = self._stored
        return {rid for rid, run in self.runs.items() if all(m.run_id in stored for m in run.members)}

    def write_outcome(self, outcome: RunOutcome, task: RunTask) -> None:
        """Write the outcome to every copy not yet stored (a failure is recorded for each of them)."""
        run = self.runs[task.run_id]
        for member in run.members:
            if member.run_id not in self._stored:
                self.store.write_outcome(relabel_outcome(outcome, run.task, member), member)
                if outcome.status == "finished":
                    self._stored.add(member.run_id)

    def update(self, *, force: bool = False, **fields: Any) -> None:
        """Update the manifests; progress counts each store's own runs."""
        self.store.update(force=force, **fields)
