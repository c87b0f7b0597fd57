"""Two drivers on one sweep directory: the second is refused; a killed driver's lock does not stay stuck."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from analysis.results import finished_run_dirs, sweep_manifest
from experiments.locks import LOCK_FILE
from tests.faults.helpers import run_cli, start_cli, wait_until, write_sweep

pytestmark = pytest.mark.faults


def test_a_concurrent_resume_is_refused_and_a_killed_drivers_lock_is_taken_over(
    tmp_path: Path, reliability_counts: dict[str, int],
) -> None:
    sweep = write_sweep(tmp_path, replications=4, steps=60, agents=400)  # runs of a second or more
    out = tmp_path / "out"
    first = start_cli("sweep", sweep, "--out", out, "--workers", "1")
    try:
        wait_until(lambda: len(finished_run_dirs(out)) >= 1, 120, "the first finished run", first)
        holder = json.loads((out / LOCK_FILE).read_text())
        assert holder["pid"] == first.pid
        second = run_cli("sweep", sweep, "--out", out, "--workers", "1", "--resume", timeout=120)
        reliability_counts["faults_injected"] += 1
        assert first.poll() is None, "the first driver finished before the second one started"
        assert second.returncode == 2, second.stderr
        message = " ".join(second.stderr.split())
        assert f"is in use by another ieco process (pid {first.pid}" in message
        assert "Traceback" not in second.stderr
        assert json.loads((out / LOCK_FILE).read_text())["pid"] == first.pid  # the refusal took nothing
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.wait(timeout=30)
    reliability_counts["faults_injected"] += 1
    assert (out / LOCK_FILE).is_file()  # left behind by the killed driver ...
    kept = set(finished_run_dirs(out))
    resumed = run_cli("sweep", sweep, "--out", out, "--workers", "1", "--resume", timeout=300)
    assert resumed.returncode == 0, resumed.stderr  # ... and taken over: its pid is dead
    assert "8 runs: 8 finished, 0 failed" in resumed.stdout
    assert kept <= set(finished_run_dirs(out))
    reliability_counts["results_lost"] += 8 - len(finished_run_dirs(out))
    assert not (out / LOCK_FILE).exists()
    assert sweep_manifest(out)["status"] == "complete"
