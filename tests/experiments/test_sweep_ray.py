"""Sweeps on a local Ray: identical files to a serial sweep, and worker deaths retried or recorded.

One local Ray serves the whole module (starting Ray costs seconds and memory).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

from analysis.results import sweep_failures, sweep_manifest, sweep_runs
from experiments.evaluators import RayEvaluator, RunOutcome, SerialEvaluator, execute_run
from experiments.sweep import run_sweep
from experiments.sweep_config import RunTask
from market.config.files import apply_settings

pytestmark = pytest.mark.slow

BASELINE = Path(__file__).resolve().parents[2] / "experiments" / "configs" / "baseline.toml"

SWEEP_TOML = """
name = "ray_check"
base = "base.toml"
replications = 3
root_seed = 5

[settings]
"simulation.steps" = 3
"segments.0.n_agents" = 40
"segments.1.n_agents" = 40
"segments.2.n_agents" = 40

[[parameters]]
name = "mu"
path = "logit.mu"
values = [0.3, 0.6]

[[parameters]]
name = "distillation"
path = "technology.distillation_speed"
values = [0.0, 2.0]
"""


def assert_same_results(a: Path, b: Path) -> None:
    """Same finished runs with byte-identical Parquet files, same failed runs."""
    runs_a, runs_b = sweep_runs(a), sweep_runs(b)
    assert runs_a[["run_id", "seed", "status"]].equals(runs_b[["run_id", "seed", "status"]])
    finished = runs_a.loc[runs_a["status"] == "finished", "run_id"]
    assert len(finished) > 0
    for run_id in finished:
        files = sorted((a / "runs" / run_id).glob("*.parquet"))
        assert [f.name for f in files] == sorted(f.name for f in (b / "runs" / run_id).glob("*.parquet"))
        for f in files:
            assert f.read_bytes() == (b / "runs" / run_id / f.name).read_bytes(), f"{run_id}/{f.name}"


def run_or_fail(task: RunTask) -> RunOutcome:
    """Run a task; at mu = 0.6 the run is handed logit.mu = -1, so it raises inside the run (on the worker)."""
    if task.params.get("mu") == 0.6:
        task = dataclasses.replace(task, scenario=apply_settings(task.scenario, {"logit.mu": -1.0}))
    return execute_run(task)


def test_local_ray_gives_the_serial_files(local_ray: None, tmp_path: Path) -> None:
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP_TOML)
    shutil.copy(BASELINE, tmp_path / "base.toml")  # a snapshot: the sweep reads it at each start
    serial = run_sweep(path, tmp_path / "serial", evaluator=SerialEvaluator(run_or_fail))
    on_ray = run_sweep(path, tmp_path / "ray", evaluator=RayEvaluator(workers=2, run=run_or_fail))
    assert serial["status"].value_counts().to_dict() == {"finished": 6, "failed": 6}
    assert_same_results(tmp_path / "serial", tmp_path / "ray")
    assert sweep_failures(tmp_path / "ray")["error"].str.contains("logit.mu = -1.0").all()
    assert on_ray["status"].equals(serial["status"])
    executor = sweep_manifest(tmp_path / "ray")["executor"]  # --workers N beside a Ray already running (notebook)
    assert (executor["mode"], executor["workers"], executor["nodes"]) == ("existing", 2, 1)


def test_a_dead_worker_is_retried_and_a_run_that_keeps_killing_it_is_recorded(
    local_ray: None, tmp_path: Path,
) -> None:
    path = tmp_path / "sweep.toml"
    shutil.copy(BASELINE, tmp_path / "base.toml")
    path.write_text(SWEEP_TOML.replace("values = [0.3, 0.6]", "values = [0.3]").replace("replications = 3",
                                                                                          "replications = 2"))
    markers = tmp_path / "markers"
    markers.mkdir()

    def crashing(task: RunTask) -> RunOutcome:
        """Kill the worker process on the first attempt of every run; always for point 1, replication 1."""
        marker = markers / task.run_id
        if not marker.exists() or (task.point, task.replication) == (1, 1):
            marker.touch()
            os._exit(1)
        return execute_run(task)

    runs = run_sweep(path, tmp_path / "crashing", evaluator=RayEvaluator(workers=2, max_retries=1, run=crashing))
    status = runs.set_index("run_id")["status"].to_dict()
    assert status == {"p0000-r00": "finished", "p0000-r01": "finished", "p0001-r00": "finished",
                      "p0001-r01": "failed"}
    error = runs.set_index("run_id").loc["p0001-r01", "error"]
    assert "after 1 retries" in error
    serial = run_sweep(path, tmp_path / "serial", workers=1)
    assert serial.loc[serial["run_id"] != "p0001-r01", "status"].eq("finished").all()
    for run_id in ("p0000-r00", "p0001-r00"):
        assert (tmp_path / "crashing" / "runs" / run_id / "model.parquet").read_bytes() == (
            tmp_path / "serial" / "runs" / run_id / "model.parquet").read_bytes()
