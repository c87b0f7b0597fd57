"""Loading sweep directories: lazy, filtered reads; partial writes invisible; run status from the files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest

from analysis.results import load_sweep, sweep_dataset, sweep_failures, sweep_manifest, sweep_runs


def write_run(root: Path, run_id: str, mu: float, seed: int, *, events: bool = True) -> None:
    run = root / "runs" / run_id
    run.mkdir(parents=True)
    pd.DataFrame({"run_id": run_id, "seed": seed, "mu": mu, "step": [0, 1, 2],
                  "hhi": [1000.0 * mu, 1100.0 * mu, 1200.0 * mu]}).to_parquet(run / "model.parquet", index=False)
    frame = pd.DataFrame({"run_id": run_id, "seed": seed, "mu": mu, "step": [1], "event": ["exit"], "party": ["x"]})
    (frame if events else frame.iloc[:0].astype({"event": object, "party": object})).to_parquet(
        run / "events.parquet", index=False)
    (run / "manifest.json").write_text("{}")


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    root = tmp_path / "sweep"
    write_run(root, "p0000-r00", 0.5, 11)
    write_run(root, "p0001-r00", 1.0, 12, events=False)
    write_run(root, "p0002-r00", 2.0, 13)
    # A run being written (hidden temporary directory) and a directory without its manifest are not results.
    partial = root / "runs" / ".p0003-r00.tmp"
    partial.mkdir()
    pd.DataFrame({"run_id": ["p0003-r00"], "step": [0], "hhi": [1.0]}).to_parquet(partial / "model.parquet")
    (root / "runs" / "p0004-r00").mkdir()
    pd.DataFrame({"run_id": [f"p000{i}-r00" for i in range(6)], "point": range(6), "replication": 0,
                  "seed": range(11, 17), "mu": [0.5, 1.0, 2.0, 3.0, 4.0, 5.0]}).to_parquet(root / "plan.parquet")
    (root / "failed").mkdir()
    (root / "failed" / "p0005-r00.json").write_text(json.dumps(
        {"run_id": "p0005-r00", "point": 5, "replication": 0, "seed": 16, "params": {"mu": 5.0},
         "error": "ValueError: mu too large", "traceback": "Traceback ...", "host": "h", "wall_time_s": 0.1}))
    (root / "sweep.json").write_text(json.dumps({"name": "synthetic", "progress": {"total": 6}}))
    return root


def test_load_sweep_reads_finished_runs_only(sweep_dir: Path) -> None:
    frame = load_sweep(sweep_dir)
    assert sorted(frame["run_id"].unique()) == ["p0000-r00", "p0001-r00", "p0002-r00"]
    assert len(frame) == 9
    assert list(frame.columns) == ["run_id", "seed", "mu", "step", "hhi"]


def test_columns_and_filters(sweep_dir: Path) -> None:
    frame = load_sweep(sweep_dir, columns=["run_id", "hhi"], filters=[("mu", ">=", 1.0), ("step", "==", 2)])
    assert frame.to_dict("list") == {"run_id": ["p0001-r00", "p0002-r00"], "hhi": [1200.0, 2400.0]}
    expression = ds.field("seed") == 11
    assert load_sweep(sweep_dir, filters=expression)["hhi"].tolist() == [500.0, 550.0, 600.0]
    with pytest.raises(KeyError, match="nope"):
        load_sweep(sweep_dir, columns=["nope"])


def test_empty_tables_unify_with_the_others(sweep_dir: Path) -> None:
    dataset = sweep_dataset(sweep_dir, "events")
    assert str(dataset.schema.field("event").type) in {"string", "large_string"}
    events = load_sweep(sweep_dir, "events")
    assert events["run_id"].tolist() == ["p0000-r00", "p0002-r00"]


def test_missing_table_is_an_error(sweep_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match="providers"):
        load_sweep(sweep_dir, "providers")


def test_run_status_and_failures(sweep_dir: Path) -> None:
    runs = sweep_runs(sweep_dir)
    assert runs.set_index("run_id")["status"].to_dict() == {
        "p0000-r00": "finished", "p0001-r00": "finished", "p0002-r00": "finished",
        "p0003-r00": "pending", "p0004-r00": "pending", "p0005-r00": "failed",
    }
    assert runs.set_index("run_id").loc["p0005-r00", "error"] == "ValueError: mu too large"
    failures = sweep_failures(sweep_dir)
    assert failures["run_id"].tolist() == ["p0005-r00"]
    assert failures["params"].iloc[0] == {"mu": 5.0}
    assert sweep_manifest(sweep_dir)["name"] == "synthetic"
    with pytest.raises(FileNotFoundError):
        sweep_manifest(sweep_dir / "runs")
