"""Ctrl-C (SIGINT) during ``ieco run``, ``ieco sweep`` and ``ieco theses``: one line, exit code 130."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from analysis.results import finished_run_dirs
from experiments.locks import LOCK_FILE
from tests.faults.helpers import BASELINE, cpu_seconds, run_cli, start_cli, wait_until, write_sweep

pytestmark = pytest.mark.faults

INTERRUPTED = 130


def interrupt(proc, reliability_counts: dict[str, int]) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    reliability_counts["faults_injected"] += 1
    assert proc.returncode == INTERRUPTED, err
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.startswith("interrupted:")]
    assert len(lines) == 1, err
    return out, lines[0]


def test_interrupted_run_keeps_the_earlier_result(tmp_path: Path, reliability_counts: dict[str, int]) -> None:
    out = tmp_path / "run"
    first = run_cli("run", BASELINE, "--out", out, "--steps", "2", "--set", "segments.0.n_agents=50")
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    proc = start_cli("run", BASELINE, "--out", out, "--overwrite", "--steps", "600")
    # Well into the run: imports and set-up take about 2 s of CPU; 600 baseline steps take minutes.
    wait_until(lambda: cpu_seconds(proc.pid) > 6.0, 120, "6 s of CPU time in the run", proc)
    _, line = interrupt(proc, reliability_counts)
    assert line == f"interrupted: earlier results in {out} are unchanged; run the command again to start over"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temporary directory left


def test_interrupted_sweep_says_what_was_kept_and_resumes(tmp_path: Path,
                                                          reliability_counts: dict[str, int]) -> None:
    sweep = write_sweep(tmp_path, replications=3)
    out = tmp_path / "out"
    proc = start_cli("sweep", sweep, "--out", out, "--workers", "1")
    wait_until(lambda: len(finished_run_dirs(out)) >= 1, 120, "the first finished run", proc)
    _, line = interrupt(proc, reliability_counts)
    kept = len(finished_run_dirs(out))
    assert line == (f"interrupted: {kept} finished runs kept in {out}; continue with: "
                    f"ieco sweep {sweep} --out {out} --workers 1 --resume")
    assert not (out / LOCK_FILE).exists()
    resumed = run_cli("sweep", sweep, "--out", out, "--workers", "1", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert len(finished_run_dirs(out)) == 6
    reliability_counts["results_lost"] += 6 - len(finished_run_dirs(out))


def test_interrupted_theses_say_how_to_resume(tmp_path: Path, reliability_counts: dict[str, int]) -> None:
    out = tmp_path / "theses"
    args = ["theses", "--out", out, "--only", "jevons", "--replications", "3", "--workers", "1"]
    proc = start_cli(*args)
    wait_until(lambda: len(finished_run_dirs(out / "jevons")) >= 1, 240, "the first finished run", proc)
    _, line = interrupt(proc, reliability_counts)
    kept = len(finished_run_dirs(out / "jevons"))
    assert line == (f"interrupted: {kept} finished runs kept in {out}; continue with: ieco theses --out {out} "
                    "--replications 3 --only jevons --workers 1 --resume")
