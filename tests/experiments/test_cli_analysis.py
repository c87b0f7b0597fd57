"""``ieco analyze`` and ``ieco report``: outputs on a small Sobol sweep, and exit code 2 naming bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from analysis.outcomes import Outcome, point_outcomes, run_outcomes
from experiments.cli import app
from tests.result_dirs import MORRIS_SWEEP

runner = CliRunner()


@pytest.fixture
def sweep_dir(tiny_sobol_sweep: Path) -> Path:
    return tiny_sobol_sweep


def test_analyze_sobol_writes_the_tidy_table_markdown_and_chart(sweep_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["analyze", str(sweep_dir), "--method", "sobol", "--outcome", "final",
                                 "--column", "hhi", "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert "Sobol indices of final of hhi" in result.output
    assert "replication noise" in result.output  # 2 replications: the noise is measured and reported
    out = tmp_path / "a" / "sobol_final_hhi"
    table = pd.read_parquet(out / "sensitivity.parquet")
    assert list(table.columns) == ["parameter", "index", "estimate", "ci_low", "ci_high"]
    assert sorted(table["parameter"].unique()) == ["hyperscaler_lock_in", "mu"]
    assert (table["ci_low"] <= table["estimate"]).all() and (table["estimate"] <= table["ci_high"]).all()
    assert "| parameter | index | estimate | 95% CI |" in (out / "sensitivity.md").read_text()
    assert (out / "sensitivity.png").read_bytes()[:4] == b"\x89PNG"
    assert ("every 95% interval is narrower" in result.output) or ("wider than the index" in result.output)


def test_analyze_prim_reports_a_box(sweep_dir: Path, tmp_path: Path) -> None:
    points = point_outcomes(run_outcomes(sweep_dir, Outcome("final", "hhi")))
    threshold = float(points["mean"].median())
    result = runner.invoke(app, ["analyze", str(sweep_dir), "--method", "prim", "--outcome", "final",
                                 "--claim", f">{threshold!r}", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"holds at {int((points['mean'] > threshold).sum())} of 16 design points" in result.output
    assert "PRIM box (coverage" in result.output and "feature scores:" in result.output
    box = pd.read_parquet(tmp_path / "prim_final_hhi" / "prim_box.parquet")
    assert list(box["parameter"]) == ["mu", "hyperscaler_lock_in"]


@pytest.mark.parametrize(("args", "message"), [
    (["--method", "sobol", "--outcome", "median"], "--outcome median: unknown statistic 'median'"),
    (["--method", "sobol", "--outcome", "final", "--column", "nope"], "has no column 'nope'"),
    (["--method", "morris", "--outcome", "final"], "the sweep's design is 'sobol', not 'morris'"),
    (["--method", "prim", "--outcome", "final"], "--method prim needs --claim"),
    (["--method", "prim", "--outcome", "final", "--claim", "=3"], "claim '=3' must start with"),
    (["--method", "anova", "--outcome", "final"], "anova"),
])
def test_analyze_bad_input_exits_2_naming_the_value(sweep_dir: Path, tmp_path: Path, args: list[str],
                                                    message: str) -> None:
    result = runner.invoke(app, ["analyze", str(sweep_dir), *args, "--out", str(tmp_path / "x")])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_analyze_morris_on_a_morris_sweep(tmp_path: Path) -> None:
    """4 trajectories of 3 points, one replication each: indices, and a warning that noise is unmeasured."""
    path = tmp_path / "morris.toml"
    path.write_text(MORRIS_SWEEP)
    assert runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "sweep"), "--workers", "1"]).exit_code == 0
    result = runner.invoke(app, ["analyze", str(tmp_path / "sweep"), "--method", "morris", "--outcome", "final",
                                 "--column", "share_hyperscaler", "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(tmp_path / "a" / "morris_final_share_hyperscaler" / "sensitivity.parquet")
    assert sorted(set(table["index"])) == ["mu", "mu_star", "sigma"]
    assert (table.loc[table["index"] == "mu_star", "estimate"] >= 0).all()
    assert "warning: one replication per point" in " ".join(result.output.split())


def test_analyze_needs_a_sweep_directory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["analyze", str(tmp_path), "--method", "sobol", "--outcome", "final"])
    assert result.exit_code == 2 and "not a sweep directory" in result.output


def test_report_of_a_sweep_and_bad_directories(sweep_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "sweep.html"
    result = runner.invoke(app, ["report", str(sweep_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "sweep report:" in result.output and out.is_file()
    empty = runner.invoke(app, ["report", str(tmp_path / "sub")])
    assert empty.exit_code == 2 and "holds no run" in empty.output
    into_dir = runner.invoke(app, ["report", str(sweep_dir), "--out", str(tmp_path)])
    assert into_dir.exit_code == 2 and "is a directory" in into_dir.output


def test_a_sobol_sweep_stores_its_design_and_shares_seeds_across_points(sweep_dir: Path) -> None:
    """design.parquet is the sampler's unit-cube sample; with common random numbers replication r has one seed."""
    import json

    import numpy as np

    from analysis.outcomes import unit_design
    from experiments.sweep_config import SweepConfig, unit_sample

    manifest = json.loads((sweep_dir / "sweep.json").read_text())
    assert manifest["salib_problem"] == {"num_vars": 2, "names": ["mu", "hyperscaler_lock_in"],
                                         "bounds": [[0.0, 1.0], [0.0, 1.0]]}
    assert manifest["common_random_numbers"] is True
    design = unit_design(sweep_dir)
    assert np.array_equal(design.to_numpy(), unit_sample(SweepConfig.model_validate(manifest["sweep"])))
    plan = pd.read_parquet(sweep_dir / "plan.parquet")
    assert plan.groupby("replication")["seed"].nunique().tolist() == [1, 1]
    assert plan["mu"].to_numpy() == pytest.approx(0.2 + 0.6 * np.repeat(design["mu"].to_numpy(), 2))
