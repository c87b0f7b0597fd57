"""The result store of a sweep: one directory per finished run, written atomically, plus a manifest.

The driver writes everything (workers only return bytes), so a sweep on a cluster needs no shared file
system. Every write is atomic (:mod:`experiments.outputs`): a run's files go to a hidden temporary directory
that is renamed into place in one step, and JSON files are written to a temporary file and moved with
:func:`os.replace`. A driver killed at any moment leaves complete runs and, at worst, hidden temporary files
that the next ``--resume`` removes. The layout is described in :mod:`analysis.results`.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.results import (
    DESIGN_FILE,
    FAILED_DIR,
    MANIFEST_FILE,
    PLAN_FILE,
    RUN_MANIFEST,
    RUNS_DIR,
    finished_run_dirs,
)
from experiments.evaluators import RunOutcome
from experiments.outputs import json_text, output_errors, write_dir_atomic, write_file_atomic, write_json_atomic
from experiments.sweep_config import RunTask


def now_iso() -> str:
    """The current UTC time, ISO 8601, to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ResultStore:
    """Reads and writes one sweep directory.

    Args:
        root: The sweep directory.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.runs_dir = self.root / RUNS_DIR
        self.failed_dir = self.root / FAILED_DIR
        self.manifest_path = self.root / MANIFEST_FILE
        self._manifest: dict[str, Any] = {}
        self._last_flush = 0.0

    def exists(self) -> bool:
        """Whether the directory already holds a sweep."""
        return self.manifest_path.is_file()

    def read_manifest(self) -> dict[str, Any]:
        """The stored manifest."""
        return json.loads(self.manifest_path.read_text())

    def create(self, manifest: dict[str, Any], plan: pd.DataFrame, design: pd.DataFrame | None = None) -> None:
        """Start a new sweep: write the plan, the sampled design (if any) and the manifest."""
        with output_errors(self.root):
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            self.failed_dir.mkdir(parents=True, exist_ok=True)
        tables = {PLAN_FILE: plan} if design is None else {PLAN_FILE: plan, DESIGN_FILE: design}
        for name, frame in tables.items():
            write_file_atomic(self.root / name, lambda tmp, frame=frame: frame.to_parquet(tmp, index=False))
        self._manifest = dict(manifest)
        self.flush()

    def reopen(self, updates: dict[str, Any]) -> None:
        """Continue a stored sweep: drop partial writes of an interrupted driver, refresh the manifest."""
        with output_errors(self.root):
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            self.failed_dir.mkdir(parents=True, exist_ok=True)
        temporary = [*self.runs_dir.glob(".*"), *self.failed_dir.glob(".*"),
                     *self.root.glob(f".{MANIFEST_FILE}.*"), *self.root.glob(f".{PLAN_FILE}.*"),
                     *self.root.glob(f".{DESIGN_FILE}.*")]
        for leftover in temporary:
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        self._manifest = {**self.read_manifest(), **updates}
        self.flush()

    def finished_ids(self) -> set[str]:
        """Run ids whose results are complete on disk."""
        return set(finished_run_dirs(self.root))

    def write_outcome(self, outcome: RunOutcome, task: RunTask) -> None:
        """Record a finished run's tables, or a failed run's error, atomically."""
        if outcome.status == "finished":
            self._write_run(outcome)
            (self.failed_dir / f"{outcome.run_id}.json").unlink(missing_ok=True)
        else:
            record = {"run_id": task.run_id, "point": task.point, "replication": task.replication,
                      "seed": task.seed, "params": task.params, "error": outcome.error,
                      "traceback": outcome.traceback, "host": outcome.host, "wall_time_s": outcome.wall_time_s,
                      "recorded": now_iso()}
            write_json_atomic(self.failed_dir / f"{outcome.run_id}.json", record)

    def _write_run(self, outcome: RunOutcome) -> None:
        def fill(tmp: Path) -> None:
            for name, payload in outcome.tables.items():
                (tmp / f"{name}.parquet").write_bytes(payload)
            (tmp / RUN_MANIFEST).write_text(json_text({**outcome.manifest, "wall_time_s": outcome.wall_time_s}))

        write_dir_atomic(self.runs_dir / outcome.run_id, fill, replace=True)

    def update(self, *, force: bool = False, **fields: Any) -> None:
        """Update manifest fields; written at most once a second unless ``force``."""
        self._manifest.update(fields)
        if force or time.monotonic() - self._last_flush >= 1.0:
            self.flush()

    def flush(self) -> None:
        """Write the manifest now."""
        self._manifest["updated"] = now_iso()
        write_json_atomic(self.manifest_path, self._manifest)
        self._last_flush = time.monotonic()
