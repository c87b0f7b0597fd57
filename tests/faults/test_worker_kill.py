"""A Ray worker killed (SIGKILL) while it runs a task: Ray retries the run and the sweep loses nothing."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from analysis.results import finished_run_dirs, sweep_manifest
from experiments.run import TABLES
from tests.faults.helpers import children_of, command_of, run_cli, start_cli, wait_until, write_sweep

pytestmark = pytest.mark.faults


def busy_workers(driver: int) -> list[int]:
    """Ray worker processes of ``driver`` that are executing a run (Ray titles them ``ray::execute_run``)."""
    return [p for p in children_of(driver) if command_of(p).startswith("ray::execute_run")]


def test_killed_worker_is_retried_and_nothing_is_lost(tmp_path: Path, reliability_counts: dict[str, int]) -> None:
    sweep = write_sweep(tmp_path / "spec", replications=2, steps=36, agents=400)
    out = tmp_path / "ray"
    driver = start_cli("sweep", sweep, "--out", out, "--workers", "2")
    try:
        wait_until(lambda: bool(busy_workers(driver.pid)), 180, "a worker running a task", driver)
        victim = busy_workers(driver.pid)[0]
        os.kill(victim, signal.SIGKILL)
        reliability_counts["faults_injected"] += 1
        _, err = driver.communicate(timeout=300)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode == 0, err
    assert "Traceback" not in err
    assert sweep_manifest(out)["status"] == "complete"
    finished = finished_run_dirs(out)
    reliability_counts["results_lost"] += 4 - len(finished)
    assert len(finished) == 4

    serial = tmp_path / "serial"
    assert run_cli("sweep", sweep, "--out", serial, "--workers", "1").returncode == 0
    for run_id in finished:
        for table in TABLES:
            name = f"{run_id}/{table}.parquet"
            assert (out / "runs" / name).read_bytes() == (serial / "runs" / name).read_bytes(), name
