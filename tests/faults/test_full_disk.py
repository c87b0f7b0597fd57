"""A full disk: exit code 2 naming the path, earlier results intact, and a sweep that resumes once space is freed.

The disk is a real tmpfs of a few hundred kilobytes where this process may mount one (root); elsewhere the
tmpfs tests are skipped and the simulated test (``ENOSPC`` raised by the file system layer) still runs.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from analysis.results import finished_run_dirs
from experiments.cli import app
from experiments.run import TABLES
from tests.faults.helpers import BASELINE, resize_tmpfs, run_cli, tmpfs, write_sweep

pytestmark = pytest.mark.faults

RUN_ARGS = ("--steps", "2", "--set", "segments.0.n_agents=50")


def fill(directory: Path, leave_bytes: int) -> None:
    """Write a filler file so that about ``leave_bytes`` stay free on ``directory``'s file system."""
    stats = os.statvfs(directory)
    free = stats.f_bavail * stats.f_frsize
    with open(directory / "filler", "wb") as fh:
        fh.write(b"\0" * max(free - leave_bytes, 0))


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_full_disk_during_run_keeps_the_earlier_run(tmp_path: Path, reliability_counts: dict[str, int]) -> None:
    with tmpfs("400k") as disk:
        if disk is None:
            pytest.skip("cannot mount a tmpfs here (needs root); the simulated ENOSPC test covers this")
        out = disk / "run"
        first = run_cli("run", BASELINE, "--out", out, *RUN_ARGS)
        assert first.returncode == 0, first.stderr
        before = snapshot(out)
        fill(disk, leave_bytes=30_000)
        again = run_cli("run", BASELINE, "--out", out, "--overwrite", *RUN_ARGS)
        reliability_counts["faults_injected"] += 1
        assert again.returncode == 2, again.stderr
        message = " ".join(again.stderr.split())
        assert f"cannot write {out}: no space left on device" in message
        assert "Traceback" not in again.stderr + again.stdout
        assert snapshot(out) == before
        assert sorted(p.name for p in disk.iterdir()) == ["filler", "run"]  # no temporary directory left
        reliability_counts["results_lost"] += 0 if snapshot(out) == before else 1


def test_full_disk_during_sweep_then_resume_completes(tmp_path: Path, reliability_counts: dict[str, int]) -> None:
    sweep = write_sweep(tmp_path / "spec", replications=2, steps=4, agents=50)
    reference = tmp_path / "reference"
    assert run_cli("sweep", sweep, "--out", reference, "--workers", "1").returncode == 0
    with tmpfs("250k") as disk:
        if disk is None:
            pytest.skip("cannot mount a tmpfs here (needs root); the simulated ENOSPC test covers this")
        out = disk / "sweep"
        full = run_cli("sweep", sweep, "--out", out, "--workers", "1")
        reliability_counts["faults_injected"] += 1
        assert full.returncode == 2, full.stderr
        assert "no space left on device" in " ".join(full.stderr.split())
        assert "Traceback" not in full.stderr + full.stdout
        kept = set(finished_run_dirs(out))
        assert 0 < len(kept) < 4
        resize_tmpfs(disk, "4m")
        resumed = run_cli("sweep", sweep, "--out", out, "--workers", "1", "--resume")
        assert resumed.returncode == 0, resumed.stderr
        finished = finished_run_dirs(out)
        reliability_counts["results_lost"] += 4 - len(finished)
        assert sorted(finished) == sorted(finished_run_dirs(reference))
        for run_id in finished:
            for table in TABLES:
                name = f"{run_id}/{table}.parquet"
                assert (out / "runs" / name).read_bytes() == (reference / "runs" / name).read_bytes(), name


def test_simulated_enospc_gives_exit_2_and_keeps_the_earlier_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reliability_counts: dict[str, int],
) -> None:
    runner = CliRunner()
    out = tmp_path / "run"
    assert runner.invoke(app, ["run", str(BASELINE), "--out", str(out), *RUN_ARGS]).exit_code == 0
    before = snapshot(out)

    def no_space(frame: pd.DataFrame, path: object, *args: object, **kwargs: object) -> None:
        Path(str(path)).write_bytes(b"PAR1 partial")  # a partial file, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", no_space)
    result = runner.invoke(app, ["run", str(BASELINE), "--out", str(out), "--overwrite", *RUN_ARGS])
    reliability_counts["faults_injected"] += 1
    assert result.exit_code == 2, result.output
    assert f"cannot write {out}: no space left on device" in " ".join(result.output.split())
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
