"""The Calvano et al. (2020) replication (experiments/replicate.py, ``ieco replicate calvano``).

Reference: Calvano, Calzolari, Denicolo and Pastorello (2020), AER 110(10): in the baseline (n = 2, 15 prices,
xi = 0.1, alpha = 0.15, beta = 4e-6, delta = 0.95) the average profit gain over 1,000 sessions is about 0.85,
and a one-period deviation is punished: the rival's price drops the period after, then both return gradually.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from agents.qlearning import LearningParams
from experiments.cli import app
from experiments.replicate import CalvanoSettings, replicate_calvano

PAPER_PROFIT_GAIN = 0.85
SESSION_SD = 0.11
"""Standard deviation of one session's profit gain, measured over 1,000 baseline sessions (docs/calvano.md)."""
SESSIONS = 50


@pytest.fixture(scope="module")
def baseline() -> object:
    """50 sessions of the paper's baseline, run serially (about 5 s)."""
    return replicate_calvano(CalvanoSettings(firms=2, sessions=SESSIONS, seed=1))


def test_profit_gain_matches_the_paper(baseline) -> None:  # type: ignore[no-untyped-def]
    # The mean of 50 sessions has a standard error of SESSION_SD / sqrt(50) = 0.016; three standard errors
    # (0.047, rounded to 0.05) cover the sampling error with 99.7% probability; the paper's own mean over 1,000
    # sessions is uncertain by about 0.004.
    summary = baseline.summary
    assert summary["converged_share"] == 1.0
    assert summary["profit_gain_mean"] == pytest.approx(PAPER_PROFIT_GAIN, abs=3 * SESSION_SD / np.sqrt(SESSIONS))
    low, high = summary["profit_gain_ci95"]
    assert low < summary["profit_gain_mean"] < high
    nash, monopoly = summary["benchmarks"]["nash_price"], summary["benchmarks"]["monopoly_price"]
    assert nash < summary["mean_price"] < monopoly


def test_deviation_is_punished_then_forgiven(baseline) -> None:  # type: ignore[no-untyped-def]
    impulse = baseline.impulse
    mean = impulse.groupby(["tau", "firm"])["price"].mean().unstack()
    before_rival, before_deviator = mean.loc[0, 2], mean.loc[0, 1]
    assert mean.loc[1, 1] < before_deviator  # the deviation undercuts
    assert mean.loc[1, 2] == pytest.approx(before_rival, abs=0.02)  # the rival has not yet reacted
    assert mean.loc[2, 2] < before_rival - 0.1  # punishment: the rival's price falls the period after
    assert mean.loc[25, 2] == pytest.approx(before_rival, abs=0.05)  # and returns towards the pre-shock level


def test_more_firms_lower_the_profit_gain() -> None:
    # Fewer sessions and faster exploration decay (beta 2e-5) keep this quick; the paper's ordering holds.
    learning = LearningParams(beta=2e-5)
    two = replicate_calvano(CalvanoSettings(firms=2, sessions=20, seed=3, learning=learning)).summary
    three = replicate_calvano(CalvanoSettings(firms=3, sessions=20, seed=3, learning=learning)).summary
    assert three["profit_gain_mean"] < two["profit_gain_mean"]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "experiments.cli", "replicate", "calvano", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_serial_and_ray_write_identical_files(tmp_path: Path) -> None:
    common = ["--sessions", "6", "--seed", "5", "--beta", "4e-5"]
    serial = run_cli(*common, "--workers", "1", "--out", str(tmp_path / "serial"), cwd=tmp_path)
    on_ray = run_cli(*common, "--workers", "2", "--out", str(tmp_path / "ray"), cwd=tmp_path)
    assert serial.returncode == 0, serial.stderr
    assert on_ray.returncode == 0, on_ray.stderr
    for name in ("sessions.parquet", "impulse.parquet", "summary.json"):
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes(), name
    assert (tmp_path / "ray" / "impulse_response.png").stat().st_size > 0
    summary = json.loads((tmp_path / "serial" / "summary.json").read_text())
    assert summary["sessions"] == 6 and summary["settings"]["beta"] == 4e-5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ray", "serial"]  # nothing written elsewhere


def test_same_seed_gives_identical_session_files(tmp_path: Path) -> None:
    runner = CliRunner()
    for name in ("a", "b"):
        result = runner.invoke(app, ["replicate", "calvano", "--sessions", "3", "--seed", "9", "--beta", "4e-5",
                                     "--workers", "1", "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / "sessions.parquet").read_bytes() == (tmp_path / "b" / "sessions.parquet").read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--firms", "7"], "firms must be between 2 and 4"),
        (["--sessions", "0"], "sessions must be at least 1"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--beta", "-1"], "beta must be non-negative"),
        (["--seed", "-3"], "seed must be non-negative"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["replicate", "calvano", *args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_out_that_is_a_file_exits_2(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("keep me")
    result = CliRunner().invoke(app, ["replicate", "calvano", "--out", str(target)])
    assert result.exit_code == 2 and "not a directory" in result.output
    assert target.read_text() == "keep me"
