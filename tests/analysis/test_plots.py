"""Summary figures of a run: every PNG is written from a real run directory and from synthetic frames."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.plots import FIGURES, plot_run
from experiments.run import run_scenario, write_run
from market.config.files import load_scenario

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "experiments" / "configs" / "baseline.toml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXPECTED = [f"{stem}.png" for stem in (
    "price_index", "concentration", "shares_by_kind", "tokens", "spend", "secondary_gpu_price", "provider_prices",
)]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The baseline scenario, 3 steps with 50 enterprise agents per segment, written to a run directory."""
    config = load_scenario(BASELINE, [
        "simulation.steps=3", "segments.0.n_agents=50", "segments.1.n_agents=50", "segments.2.n_agents=50",
    ])
    out = tmp_path_factory.mktemp("runs") / "tiny"
    write_run(run_scenario(config, seed=3), out)
    return out


def _assert_pngs(paths: list[Path], fig_dir: Path) -> None:
    assert [p.name for p in paths] == EXPECTED
    for path in paths:
        assert path.parent == fig_dir
        data = path.read_bytes()
        assert len(data) > 1000, f"{path.name} is (nearly) empty"
        assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"


def test_plot_run_writes_every_figure_as_png(tiny_run: Path, tmp_path: Path) -> None:
    fig_dir = tmp_path / "figures" / "nested"
    paths = plot_run(tiny_run, fig_dir)
    _assert_pngs(paths, fig_dir)
    assert sorted(p.name for p in fig_dir.iterdir()) == sorted(EXPECTED)


def test_figure_registry_matches_the_files_written() -> None:
    assert [f"{stem}.png" for stem in FIGURES] == EXPECTED


def test_missing_run_dir_raises_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_run"
    with pytest.raises(FileNotFoundError, match=r"run directory .*no_such_run.* does not exist"):
        plot_run(missing, tmp_path / "figures")
    assert not (tmp_path / "figures").exists()


def test_missing_table_is_named(tiny_run: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "model.parquet").write_bytes((tiny_run / "model.parquet").read_bytes())
    with pytest.raises(FileNotFoundError, match=r"providers\.parquet, gpu_market\.parquet"):
        plot_run(partial, tmp_path / "figures")


def test_missing_column_is_named(tiny_run: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("providers", "gpu_market"):
        (broken / f"{name}.parquet").write_bytes((tiny_run / f"{name}.parquet").read_bytes())
    pd.read_parquet(tiny_run / "model.parquet").drop(columns=["total_spend"]).to_parquet(broken / "model.parquet")
    with pytest.raises(ValueError, match="total_spend"):
        plot_run(broken, tmp_path / "figures")


def test_synthetic_run_with_gaps_and_an_exit(tmp_path: Path) -> None:
    """Hand-made tables: NaN prices, no secondary market, a provider that exits, one region."""
    steps = np.arange(4)
    model = pd.DataFrame({
        "step": steps,
        "price_index": [2.0, 1.5, np.nan, 1.0],
        "quality_adjusted_price_index": [2.0, 1.2, np.nan, 0.5],
        "hhi": [5000.0, 5200.0, 0.0, 10_000.0],
        "hhi_global": [5000.0, 5200.0, 0.0, 10_000.0],
        "share_hyperscaler": [0.5, 0.5, 0.0, 1.0],
        "share_specialized": [0.5, 0.5, 0.0, 0.0],
        "tokens_demanded": [10.0, 12.0, 0.0, 8.0],
        "tokens_served": [10.0, 11.0, 0.0, 8.0],
        "unmet_demand": [0.0, 1.0, 0.0, 0.0],
        "total_spend": [20.0, 16.5, 0.0, 8.0],
    })
    providers = pd.DataFrame({
        "step": np.repeat(steps, 2),
        "provider": ["a", "b"] * 4,
        "kind": ["hyperscaler", "specialized"] * 4,
        "active": [True, True, True, True, True, False, True, False],
        "price": [2.0, 2.0, 1.5, 1.5, 1.2, 9.0, 1.0, 9.0],
    })
    gpu_market = pd.DataFrame({
        "step": steps, "generation": ["H100"] * 4, "secondary_price": [np.nan] * 4, "produced": [10] * 4,
    })
    run_dir = tmp_path / "synthetic"
    run_dir.mkdir()
    for name, frame in (("model", model), ("providers", providers), ("gpu_market", gpu_market)):
        frame.to_parquet(run_dir / f"{name}.parquet")
    fig_dir = tmp_path / "figures"
    _assert_pngs(plot_run(run_dir, fig_dir), fig_dir)


def test_plots_do_not_use_pyplot() -> None:
    """Figures are Figure objects: importing analysis.plots must not touch pyplot's global state."""
    tree = ast.parse((ROOT / "analysis" / "plots.py").read_text(encoding="utf-8"))
    modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert "matplotlib.pyplot" not in modules
    assert not any("pyplot" in (m or "") for m in modules)
