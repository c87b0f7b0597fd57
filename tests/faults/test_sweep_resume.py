"""A sweep whose driver is killed resumes to exactly the files of an uninterrupted sweep."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis.results import finished_run_dirs, sweep_manifest, sweep_runs
from experiments.run import TABLES
from experiments.sweep import run_sweep
from tests.faults.helpers import BASELINE, REPO

pytestmark = [pytest.mark.slow, pytest.mark.faults]


SWEEP_TOML = """
name = "resume_check"
base = "base.toml"
replications = 5
root_seed = 23

[settings]
"simulation.steps" = 12
"segments.0.n_agents" = 200
"segments.1.n_agents" = 200
"segments.2.n_agents" = 200

[[parameters]]
name = "mu"
path = "logit.mu"
values = [0.25, 0.5]

[[parameters]]
name = "switching_cost"
paths = ["segments.0.switching_cost", "segments.1.switching_cost", "segments.2.switching_cost"]
values = [0.0, 1.0]
"""


def test_killed_driver_resumes_to_the_uninterrupted_result(tmp_path: Path, reliability_counts: dict[str, int]) -> None:
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP_TOML)
    shutil.copy(BASELINE, tmp_path / "base.toml")  # a snapshot: the sweep reads it at each start
    out = tmp_path / "interrupted"
    driver = subprocess.Popen(
        [sys.executable, "-m", "experiments.cli", "sweep", str(path), "--out", str(out), "--workers", "1"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while len(finished_run_dirs(out)) < 4:
            if driver.poll() is not None:
                pytest.fail(f"driver ended before it could be killed: {driver.stderr.read().decode()}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                pytest.fail("driver finished no runs within 120 s")
            time.sleep(0.02)
        os.kill(driver.pid, signal.SIGKILL)
    finally:
        driver.wait(timeout=30)
    assert driver.returncode == -signal.SIGKILL
    reliability_counts["faults_injected"] += 1
    done_at_kill = len(finished_run_dirs(out))
    assert 4 <= done_at_kill < 20
    assert sweep_manifest(out)["status"] == "running"

    runs = run_sweep(path, out, workers=1, resume=True)
    reliability_counts["results_lost"] += 20 - len(finished_run_dirs(out))
    assert runs["status"].eq("finished").all() and len(runs) == 20
    assert sweep_manifest(out)["status"] == "complete"

    reference = tmp_path / "uninterrupted"
    run_sweep(path, reference, workers=1)
    assert sweep_runs(reference).equals(sweep_runs(out))
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(finished_run_dirs(reference))
    for run_id in finished_run_dirs(reference):
        for table in TABLES:
            name = f"{run_id}/{table}.parquet"
            assert (out / "runs" / name).read_bytes() == (reference / "runs" / name).read_bytes(), name
