"""Sweeps run in-process: the result store, failed runs, resume, and the CLI's handling of bad input."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from analysis.results import load_sweep, sweep_failures, sweep_runs
from experiments.cli import app
from experiments.evaluators import RunOutcome, SerialEvaluator, execute_run
from experiments.run import TABLES
from experiments.sweep import SweepProgress, run_sweep
from experiments.sweep_config import RunTask
from market.config.files import ConfigError, apply_settings

SWEEP_TOML = """
name = "tiny"
base = "baseline"
replications = 2
root_seed = 11

[settings]
"simulation.steps" = 3
"segments.0.n_agents" = 40
"segments.1.n_agents" = 40
"segments.2.n_agents" = 40

[[parameters]]
name = "mu"
path = "logit.mu"
values = [0.3, {bad_mu}]

[[parameters]]
name = "lock_in"
paths = ["providers.cloud_a.lock_in", "providers.cloud_b.lock_in"]
values = [0.2, 0.8]
"""


FAILING_MU = 0.6


def write_sweep(directory: Path, bad_mu: float = FAILING_MU) -> Path:
    path = directory / "tiny.toml"
    path.write_text(SWEEP_TOML.replace("{bad_mu}", str(bad_mu)))
    return path


def run_or_fail(task: RunTask) -> RunOutcome:
    """Run a task; a task with mu = 0.6 is handed logit.mu = -1 at run time, so it raises inside the run.

    Every point is valid when the sweep is checked, so this is how a run that fails while running is made.
    """
    if task.params.get("mu") == FAILING_MU:
        task = dataclasses.replace(task, scenario=apply_settings(task.scenario, {"logit.mu": -1.0}))
    return execute_run(task)


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    """A serial sweep in which the runs at mu = 0.6 raise (4 of 8 runs fail)."""
    root = tmp_path_factory.mktemp("sweep")
    path = write_sweep(root)
    runs = run_sweep(path, root / "out", evaluator=SerialEvaluator(run_or_fail))
    return path, root / "out", runs


def test_every_row_carries_run_id_seed_and_parameters(finished_sweep: tuple[Path, Path, pd.DataFrame]) -> None:
    _, out, _ = finished_sweep
    for table in TABLES:
        frame = load_sweep(out, table)
        if frame.empty:
            continue
        assert list(frame.columns[:6]) == ["run_id", "seed", "point", "replication", "mu", "lock_in"], table
        assert frame[["run_id", "seed", "mu", "lock_in"]].notna().all().all()
    model = load_sweep(out, columns=["run_id", "seed", "mu", "lock_in", "step"])
    assert set(model["mu"]) == {0.3}
    assert model.groupby("run_id")["step"].max().eq(2).all()


def test_a_raising_run_is_recorded_and_the_others_finish(finished_sweep: tuple[Path, Path, pd.DataFrame]) -> None:
    _, out, runs = finished_sweep
    assert runs["status"].value_counts().to_dict() == {"finished": 4, "failed": 4}
    failed = runs[runs["status"] == "failed"]
    assert (failed["mu"] == FAILING_MU).all()
    assert failed["error"].str.contains("logit.mu = -1.0").all()
    failures = sweep_failures(out)
    assert failures["traceback"].str.contains("Traceback").all()
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(runs.loc[runs.status == "finished", "run_id"])


def test_manifest_records_config_versions_commit_and_progress(
    finished_sweep: tuple[Path, Path, pd.DataFrame],
) -> None:
    _, out, _ = finished_sweep
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest["kind"] == "sweep" and manifest["name"] == "tiny"
    assert manifest["sweep"]["replications"] == 2 and manifest["sweep"]["root_seed"] == 11
    assert manifest["base_scenario"]["simulation"]["steps"] == 3
    assert manifest["progress"] == {"total": 8, "finished": 4, "failed": 4}
    assert manifest["status"] == "complete_with_failures"
    assert manifest["executor"]["backend"] == "serial"
    assert {"ieco", "numpy", "ray"} <= set(manifest["versions"]) and manifest["git_commit"]
    run_manifest = json.loads((out / "runs" / "p0000-r00" / "manifest.json").read_text())
    assert run_manifest["params"] == {"mu": 0.3, "lock_in": 0.2} and run_manifest["seed"] > 0


def test_resume_reruns_only_what_is_missing(
    finished_sweep: tuple[Path, Path, pd.DataFrame], tmp_path: Path,
) -> None:
    path, out, _ = finished_sweep
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    shutil.rmtree(copy / "runs" / "p0001-r01")
    (copy / "runs" / ".p0001-r01.partial").mkdir()  # what a killed driver leaves behind
    reports: list[SweepProgress] = []
    with pytest.raises(ConfigError, match="--resume"):
        run_sweep(path, copy, workers=1)
    runs = run_sweep(path, copy, resume=True, progress=reports.append, evaluator=SerialEvaluator(run_or_fail))
    assert reports[0].resumed == 3 and reports[-1].finished == 4 and reports[-1].failed == 4
    assert len(reports) == 1 + 5 + 1  # start; the missing run and the four failed ones retried; end
    assert not (copy / "runs" / ".p0001-r01.partial").exists()
    assert runs["status"].value_counts().to_dict() == {"finished": 4, "failed": 4}
    for table in TABLES:
        assert (copy / "runs" / "p0001-r01" / f"{table}.parquet").read_bytes() == (
            out / "runs" / "p0001-r01" / f"{table}.parquet").read_bytes()


def test_a_different_sweep_cannot_resume_into_the_directory(
    finished_sweep: tuple[Path, Path, pd.DataFrame], tmp_path: Path,
) -> None:
    _, out, _ = finished_sweep
    other = write_sweep(tmp_path, bad_mu=0.9)
    with pytest.raises(ConfigError, match="different sweep"):
        run_sweep(other, out, workers=1, resume=True)


def test_cli_sweep_serial(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, bad_mu=0.9)
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "8 runs: 8 finished, 0 failed, 0 pending" in result.output


def test_cli_sweep_with_failed_runs_exits_3_with_a_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("experiments.sweep.make_evaluator", lambda *args, **kwargs: SerialEvaluator(run_or_fail))
    path = write_sweep(tmp_path)
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "1"])
    assert result.exit_code == 3, result.output
    assert "8 runs: 4 finished, 4 failed, 0 pending" in result.output
    assert "4 of 8 runs failed" in result.output
    assert "logit.mu = -1.0" in result.output
    assert sweep_runs(tmp_path / "out")["status"].value_counts().to_dict() == {"finished": 4, "failed": 4}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('base = "baseline"\nreplications = 0\n', "replications = 0"),
        ('base = "baseline"\nreplicatons = 2\n', "did you mean 'replications'"),
        ('base = "nowhere"\n', "no shipped config"),
        ('base = "baseline"\n[design]\nmethod = "lhs"\n', "needs design.samples"),
        ('base = "baseline"\n[[parameters]]\nname = "x"\npath = "logit.nope"\nvalues = [1]\n', "logit.nope"),
        ('base = "baseline"\n[settings]\n"logit.mu" = -1\n', "logit.mu"),
        (SWEEP_TOML.replace("{bad_mu}", "-1.0"), "point 2 (mu = -1.0, lock_in = 0.2): logit.mu = -1.0"),
        ('base = "baseline"\nname = \n', "not valid TOML"),
    ],
)
def test_cli_rejects_bad_sweep_files_with_exit_2_and_writes_nothing(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_cli_refuses_an_occupied_output_directory(tmp_path: Path) -> None:
    path = write_sweep(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "1"])
    assert result.exit_code == 2 and "not empty" in result.output
    result = CliRunner().invoke(app, ["sweep", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o2")])
    assert result.exit_code == 2 and "no such file" in result.output


def test_cli_unreachable_cluster_fails_fast_and_writes_nothing(tmp_path: Path) -> None:
    path = write_sweep(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(out), "--address", "127.0.0.1:1"])
    assert result.exit_code == 2 and "cannot reach the Ray cluster" in result.output
    assert not out.exists()
