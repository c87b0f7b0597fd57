"""``ieco replication-curves``: curves of stored thesis runs agree with the verdicts; bad input exits cleanly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from analysis.replication import CURVE_COLUMNS, stabilising_count
from analysis.statistics import bootstrap_ci
from experiments.cli import app
from experiments.cli_replication import CURVES, FIGURE, MARKDOWN, SUMMARY
from experiments.sweep_config import derive_seeds
from experiments.verdicts import run_theses
from tests.experiments.test_theses import COMPARE, SINGLE, run_tables

REPLICATIONS = 6


@pytest.fixture(scope="module")
def theses_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("replication")
    files = root / "theses"
    files.mkdir()
    for name, text in (("spend_growth", SINGLE), ("noise_share", COMPARE)):
        (files / f"{name}.toml").write_text(text)
    run_theses(root / "out", theses_dir=files, replications=REPLICATIONS, workers=1)
    return root / "out"


def test_first_n_of_r_replications_are_the_runs_of_n() -> None:
    # Replication r's seed is the r-th child of SeedSequence(root_seed) whatever the count: the first n of a
    # run with R replications are the runs `--replications n` would make, so the curve at n is that verdict.
    assert derive_seeds(4, 3) == derive_seeds(4, REPLICATIONS)[:3]


def test_curves_agree_with_the_verdicts(theses_out: Path, tmp_path: Path) -> None:
    before = sorted(p.name for p in theses_out.iterdir())
    result = CliRunner().invoke(app, ["replication-curves", str(theses_out), "--out", str(tmp_path / "curves"),
                                      "--orderings", "5"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in theses_out.iterdir()) == before  # nothing written into the theses directory
    out = tmp_path / "curves"
    assert {p.name for p in out.iterdir()} == {FIGURE, CURVES, SUMMARY, MARKDOWN}
    assert (out / FIGURE).read_bytes().startswith(b"\x89PNG")
    curves = pd.read_parquet(out / CURVES)
    summary = pd.read_parquet(out / SUMMARY).set_index("thesis")
    verdicts = pd.read_parquet(theses_out / "verdicts.parquet").set_index("thesis")
    assert list(curves.columns) == ["thesis", "number", "title", *CURVE_COLUMNS]
    for name in ("spend_growth", "noise_share"):
        curve = curves[curves["thesis"] == name].set_index("n")
        assert curve.index.tolist() == list(range(2, REPLICATIONS + 1))
        # At n = R the curve is the verdict table's row.
        last = curve.loc[REPLICATIONS]
        row = verdicts.loc[name]
        assert (last["ci_low"], last["ci_high"], last["verdict"]) == (row["ci_low"], row["ci_high"], row["verdict"])
        assert last["mean"] == pytest.approx(row["estimate"], rel=1e-12)
        assert summary.loc[name, "stabilising"] == stabilising_count(curve["projected_width"])
        assert summary.loc[name, "width_5"] == curve.loc[5, "width"]
        assert 5 <= summary.loc[name, "stabilising_median"] <= summary.loc[name, "stabilising_p90"] <= REPLICATIONS
    # At n = 3, from the runs' own tables: yearly growth exp(12 b) - 1 of total spend, replications 0-2, with
    # the thesis's root seed (4) as the bootstrap seed.
    growth = [float(np.exp(12 * np.polyfit(m["step"], np.log(m["total_spend"]), 1)[0]) - 1)
              for m in run_tables(theses_out / "spend_growth", "model")]
    spend = curves[curves["thesis"] == "spend_growth"].set_index("n")
    assert (spend.loc[3, "ci_low"], spend.loc[3, "ci_high"]) == pytest.approx(bootstrap_ci(growth[:3], seed=4),
                                                                            rel=1e-9)
    assert spend.loc[3, "sd"] == pytest.approx(np.std(growth[:3], ddof=1), rel=1e-9)
    markdown = (out / MARKDOWN).read_text()
    assert f"`ieco replication-curves {theses_out} --out {out} --orderings 5`" in markdown
    assert "| 1 | Spend grows | yearly growth of total spend |" in markdown
    assert "Spend" in result.output and "Noise" in result.output


@pytest.mark.bad_input
def test_bad_input_exits_2_and_writes_nothing(theses_out: Path, tmp_path: Path) -> None:
    runner = CliRunner()

    def fails(args: list[str], message: str) -> None:
        result = runner.invoke(app, ["replication-curves", *args])
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.output.split()), result.output

    target = str(tmp_path / "curves")
    fails([str(tmp_path / "missing"), "--out", target], "not a directory")
    (tmp_path / "empty").mkdir()
    fails([str(tmp_path / "empty"), "--out", target], "holds no thesis results")
    fails([str(theses_out), "--out", target, "--only", "nope"], "--only ['nope']: not in")
    fails([str(theses_out), "--out", str(theses_out / "curves")], "inside the theses directory")
    fails([str(theses_out), "--out", target, "--tolerance", "2"], "--tolerance")
    fails([str(theses_out), "--out", target, "--orderings", "x"], "'x' is not a whole number")
    (tmp_path / "file").write_text("keep")
    fails([str(theses_out), "--out", str(tmp_path / "file")], "exists and is not a directory")
    assert (tmp_path / "file").read_text() == "keep"
    worlds = tmp_path / "worlds"
    shutil.copytree(theses_out / "spend_growth", worlds / "spend_growth")
    manifest = json.loads((worlds / "spend_growth" / "sweep.json").read_text())
    (worlds / "spend_growth" / "sweep.json").write_text(json.dumps({**manifest, "worlds": [{"world": 0}]}))
    fails([str(worlds), "--out", target], "runs over plausible worlds")
    assert not (tmp_path / "curves").exists() and not (theses_out / "curves").exists()
