"""Loading sweep results: lazily, filtered, as pandas frames.

A sweep directory holds::

    sweep.json                 manifest: sweep config, base scenario, versions, commit, progress
    plan.parquet               every planned run: run_id, point, replication, seed, parameter values
    design.parquet             sampled designs (not grids): each point's coordinates on the unit cube, as drawn
                               by the sampler; sweep.json's ``salib_problem`` names them
    runs/<run_id>/<table>.parquet, runs/<run_id>/manifest.json     one directory per finished run
    failed/<run_id>.json       one record per failed run: error message and traceback

A run directory appears in one rename when the run is complete, so whatever is listed is whole. Tables
are read through :mod:`pyarrow.dataset`: only the requested columns and the rows that pass the filter are
materialised, so a sweep never needs to fit in memory at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

MANIFEST_FILE = "sweep.json"
PLAN_FILE = "plan.parquet"
DESIGN_FILE = "design.parquet"
RUNS_DIR = "runs"
FAILED_DIR = "failed"
RUN_MANIFEST = "manifest.json"

Filters = ds.Expression | Sequence[tuple[str, str, Any]] | Sequence[Sequence[tuple[str, str, Any]]]


def finished_run_dirs(directory: str | Path) -> dict[str, Path]:
    """Directories of the sweep's finished runs by run id (partial writes, hidden names, are skipped)."""
    runs = Path(directory) / RUNS_DIR
    if not runs.is_dir():
        return {}
    return {p.name: p for p in sorted(runs.iterdir())
            if p.is_dir() and not p.name.startswith(".") and (p / RUN_MANIFEST).is_file()}


def sweep_manifest(directory: str | Path) -> dict[str, Any]:
    """The sweep's manifest (``sweep.json``).

    Raises:
        FileNotFoundError: ``directory`` holds no sweep.
    """
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: no {MANIFEST_FILE} (not a sweep directory)")
    return json.loads(path.read_text())


def sweep_dataset(directory: str | Path, table: str = "model") -> ds.Dataset:
    """A lazy pyarrow dataset over one table of every finished run.

    Column types are unified across runs (a column absent from a run reads as null; an all-null column of
    an empty table takes the type the other runs give it).

    Raises:
        FileNotFoundError: No finished run has ``table``.
    """
    files = [str(d / f"{table}.parquet") for d in finished_run_dirs(directory).values()
             if (d / f"{table}.parquet").is_file()]
    if not files:
        raise FileNotFoundError(f"{directory}: no finished run has a '{table}' table")
    schemas = [pq.read_schema(f) for f in files]
    schema = pa.unify_schemas([_drop_metadata(s) for s in schemas], promote_options="permissive")
    return ds.dataset(files, schema=schema, format="parquet")


def _drop_metadata(schema: pa.Schema) -> pa.Schema:
    return schema.remove_metadata()


def load_sweep(
    directory: str | Path,
    table: str = "model",
    columns: Sequence[str] | None = None,
    filters: Filters | None = None,
) -> pd.DataFrame:
    """One table of every finished run as one frame, optionally only some columns and rows.

    Args:
        directory: The sweep directory (``--out`` of ``ieco sweep``).
        table: ``model``, ``providers``, ``enterprises``, ``gpu_market`` or ``events``.
        columns: Columns to read (default: all).
        filters: A pyarrow expression or DNF tuples such as ``[("step", ">=", 12), ("mu", "==", 0.5)]``.

    Returns:
        The rows, ordered by run_id and then as the runs wrote them.
    """
    dataset = sweep_dataset(directory, table)
    expression = _expression(filters)
    cols = list(columns) if columns is not None else None
    if cols is not None:
        missing = [c for c in cols if c not in dataset.schema.names]
        if missing:
            raise KeyError(f"table '{table}' has no column(s) {missing} (have: {', '.join(dataset.schema.names)})")
    frame = dataset.to_table(columns=cols, filter=expression).to_pandas()
    if "run_id" in frame.columns:
        frame = frame.sort_values("run_id", kind="stable").reset_index(drop=True)
    return frame


def _expression(filters: Filters | None) -> ds.Expression | None:
    if filters is None or isinstance(filters, ds.Expression):
        return filters
    if not filters:
        return None
    return pq.filters_to_expression(list(filters))  # type: ignore[arg-type]


def sweep_runs(directory: str | Path) -> pd.DataFrame:
    """Every planned run with its status (``finished``, ``failed`` or ``pending``) and error message."""
    root = Path(directory)
    plan = pd.read_parquet(root / PLAN_FILE) if (root / PLAN_FILE).is_file() else pd.DataFrame(columns=["run_id"])
    finished = set(finished_run_dirs(root))
    failures = {r["run_id"]: r for r in _failure_records(root)}
    plan["status"] = [
        "finished" if rid in finished else "failed" if rid in failures else "pending" for rid in plan["run_id"]
    ]
    plan["error"] = [failures[rid]["error"] if rid in failures and rid not in finished else ""
                     for rid in plan["run_id"]]
    return plan


def sweep_failures(directory: str | Path) -> pd.DataFrame:
    """Failed runs: run_id, seed, parameters, error message, traceback and attempts."""
    finished = set(finished_run_dirs(directory))
    rows = [r for r in _failure_records(Path(directory)) if r["run_id"] not in finished]
    return pd.DataFrame(rows, columns=["run_id", "point", "replication", "seed", "params", "error", "traceback",
                                       "host", "wall_time_s"])


def _failure_records(root: Path) -> list[dict[str, Any]]:
    failed = root / FAILED_DIR
    if not failed.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(failed.glob("*.json")) if not p.name.startswith(".")]
