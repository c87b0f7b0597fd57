"""Figures of runs: the plotted data (values on the axes) are checked against the frames they come from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection, PolyCollection

from analysis.network_plots import contract_volumes, contracts_figure, ownership_at, ownership_figure
from analysis.plots import (
    FIGURES,
    concentration_figure,
    events_figure,
    gpu_price_figure,
    margins_figure,
    plot_run,
    price_index_figure,
    shares_figure,
    step_band,
    tokens_figure,
)
from analysis.style import HHI_BANDS, HHI_HIGHLY_CONCENTRATED
from experiments.run import run_scenario, write_run
from market.config.files import load_scenario

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "experiments" / "configs" / "baseline.toml"


def _model(run_id: str, seed: int, scale: float) -> pd.DataFrame:
    steps = np.arange(4)
    return pd.DataFrame({
        "run_id": run_id, "seed": seed, "step": steps,
        "price_index": scale * np.array([4.0, 3.0, 2.0, 1.0]),
        "quality_adjusted_price_index": scale * np.array([2.0, 1.5, 1.0, 0.5]),
        "hhi": scale * np.array([1000.0, 1500.0, 2000.0, 2500.0]),
        "hhi_na": np.full(4, 3000.0),
        "share_hyperscaler": [0.5, 0.4, 0.3, 0.2], "share_specialized": [0.3, 0.4, 0.5, 0.6],
        "share_decentralized": [0.2, 0.2, 0.2, 0.2],
        "margin_hyperscaler": scale * np.array([0.3, 0.3, 0.2, 0.1]), "margin_specialized": [0.1, 0.0, -0.1, 0.0],
        "margin_decentralized": [np.nan] * 4,
        "tokens_demanded": [100.0, 200.0, 400.0, 800.0], "tokens_served": [100.0, 150.0, 400.0, 800.0],
        "unmet_demand": [0.0, 50.0, 0.0, 0.0], "n_active_providers": [5, 5, 4, 4],
    })


@pytest.fixture
def two_runs() -> pd.DataFrame:
    return pd.concat([_model("r0", 1, 1.0), _model("r1", 2, 2.0)], ignore_index=True)


def test_step_band_is_mean_min_max_over_runs(two_runs: pd.DataFrame) -> None:
    band = step_band(two_runs, "price_index")
    assert list(band["mean"]) == [6.0, 4.5, 3.0, 1.5]
    assert list(band["low"]) == [4.0, 3.0, 2.0, 1.0] and list(band["high"]) == [8.0, 6.0, 4.0, 2.0]


def test_price_index_lines_are_run_means_with_a_band_on_a_log_axis(two_runs: pd.DataFrame) -> None:
    fig = price_index_figure(two_runs, "demo")
    ax = fig.axes[0]
    assert ax.get_title() == "Price per token: demo, 2 runs"
    assert ax.get_yscale() == "log"
    assert list(ax.lines[0].get_ydata()) == [6.0, 4.5, 3.0, 1.5]
    assert list(ax.lines[1].get_ydata()) == [3.0, 2.25, 1.5, 0.75]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2
    ys = bands[0].get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(1.0) and ys.max() == pytest.approx(8.0)


def test_one_run_is_titled_with_its_seed(two_runs: pd.DataFrame) -> None:
    fig = price_index_figure(two_runs[two_runs["run_id"] == "r0"], "demo")
    assert fig.axes[0].get_title() == "Price per token: demo, seed 1"
    assert not [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]


def test_hhi_is_drawn_over_the_2023_guideline_bands(two_runs: pd.DataFrame) -> None:
    ax = concentration_figure(two_runs, "demo").axes[0]
    spans = [(p.get_y(), p.get_y() + p.get_height()) for p in ax.patches]
    assert spans == [(0.0, 1000.0), (1000.0, 1800.0), (1800.0, 10000.0)]
    assert HHI_HIGHLY_CONCENTRATED == 1800.0 and [b[0] for b in HHI_BANDS] == [0.0, 1000.0, 1800.0]
    lines = {line.get_label(): list(line.get_ydata()) for line in ax.lines}
    assert lines["whole market"] == [1500.0, 2250.0, 3000.0, 3750.0]
    assert lines["buyers in na"] == [3000.0] * 4
    assert ax.get_ylim() == (0.0, 10000.0)


def test_shares_stack_to_the_kind_shares(two_runs: pd.DataFrame) -> None:
    ax = shares_figure(two_runs, "demo").axes[0]
    layers = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert [c.get_label() for c in layers] == ["hyperscaler", "specialized", "decentralized"]
    top = layers[-1].get_paths()[0].vertices[:, 1]
    assert top.max() == pytest.approx(1.0)  # the three shares sum to one in every month
    first = layers[0].get_paths()[0].vertices
    upper = first[(first[:, 1] > 0) & (first[:, 0] == 1.0)][:, 1]
    assert upper.max() == pytest.approx(0.4)


def test_margins_by_kind_skip_kinds_without_data(two_runs: pd.DataFrame) -> None:
    ax = margins_figure(two_runs, "demo").axes[0]
    lines = {line.get_label(): list(np.round(line.get_ydata(), 10)) for line in ax.lines}
    assert lines["hyperscaler"] == [0.45, 0.45, 0.3, 0.15]
    assert lines["specialized"] == [0.1, 0.0, -0.1, 0.0]
    assert "decentralized" not in lines


def test_tokens_on_a_log_axis_show_unmet_demand(two_runs: pd.DataFrame) -> None:
    ax = tokens_figure(two_runs, "demo").axes[0]
    assert ax.get_yscale() == "log"
    lines = {line.get_label(): line.get_ydata() for line in ax.lines}
    assert list(lines["served"]) == [100.0, 150.0, 400.0, 800.0]
    unmet = np.asarray(lines["unmet demand"], dtype=float)
    assert np.isnan(unmet[[0, 2, 3]]).all() and unmet[1] == 50.0
    gap = [c for c in ax.collections if c.get_label() == "gap: unmet (capacity)"]
    assert len(gap) == 1 and len(gap[0].get_paths()) == 1


def test_secondary_prices_by_generation_start_when_units_exist() -> None:
    gpu = pd.DataFrame({"step": [0, 0, 1, 1], "generation": ["h100", "b200"] * 2,
                        "secondary_price": [20000.0, 40000.0, 18000.0, 39000.0], "produced": [10, 0, 10, 5]})
    ax = gpu_price_figure(gpu, "demo").axes[0]
    lines = {line.get_label(): np.asarray(line.get_ydata(), dtype=float) for line in ax.lines}
    assert list(lines["h100"]) == [20000.0, 18000.0]
    assert np.isnan(lines["b200"][0]) and lines["b200"][1] == 39000.0


def test_events_are_marked_at_their_months(two_runs: pd.DataFrame) -> None:
    events = pd.DataFrame({"step": [1, 2, 2, 3], "event": ["entry", "exit", "acquisition", "gpu_sale"]})
    ax = events_figure(two_runs[two_runs["run_id"] == "r0"], events, "demo").axes[0]
    marks = {c.get_label(): c.get_offsets()[:, 0].tolist() for c in ax.collections if isinstance(c, PathCollection)}
    assert marks == {"entry (1)": [1.0], "exit (1)": [2.0], "acquisition (1)": [2.0]}
    assert list(ax.lines[0].get_ydata()) == [5, 5, 4, 4]


def test_contract_volumes_group_enterprises_by_segment_and_region() -> None:
    nodes = pd.DataFrame({"node": ["e0", "e1", "e2", "p", "q"], "bipartite": ["enterprise"] * 3 + ["provider"] * 2,
                          "segment": ["s", "s", "t", None, None], "region": ["na", "na", "eu", None, None],
                          "kind": [None, None, None, "hyperscaler", "specialized"]})
    edges = pd.DataFrame({"source": ["e0", "e1", "q", "e0"], "target": ["p", "p", "e2", "q"],
                          "volume_mtok": [1.0, 2.0, 5.0, 4.0]})
    volumes = contract_volumes(nodes, edges)
    assert volumes.to_dict("records") == [
        {"group": "s / na", "provider": "p", "volume_mtok": 3.0},
        {"group": "s / na", "provider": "q", "volume_mtok": 4.0},
        {"group": "t / eu", "provider": "q", "volume_mtok": 5.0},
    ]
    ax = contracts_figure(nodes, edges, "demo").axes[0]
    assert sorted(round(line.get_linewidth(), 6) for line in ax.lines) == [4.8, 6.4, 8.0]  # 8 x volume / 5


def test_ownership_at_a_step_keeps_only_earlier_deals() -> None:
    nodes = pd.DataFrame({"node": ["a", "b", "c"], "kind": ["hyperscaler", "specialized", "specialized"]})
    edges = pd.DataFrame({"source": ["a", "a"], "target": ["b", "c"], "step": [3, 9]})
    assert sorted(ownership_at(nodes, edges, 5).edges) == [("a", "b")]
    assert sorted(ownership_at(nodes, edges).edges) == [("a", "b"), ("a", "c")]
    ax = ownership_figure(nodes, edges, "demo", step=5).axes[0]
    assert ax.get_title() == "Ownership network (month 5): demo"
    assert [t.get_text() for t in ax.texts if t.get_text().startswith("month")] == ["month 3"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The baseline, 3 steps with 50 enterprise agents per segment and saved networks."""
    config = load_scenario(BASELINE, ["simulation.steps=3", "segments.0.n_agents=50", "segments.1.n_agents=50",
                                      "segments.2.n_agents=50", "simulation.save_networks=true"])
    out = tmp_path_factory.mktemp("runs") / "tiny"
    write_run(run_scenario(config, seed=3), out)
    return out


def test_plot_run_writes_every_figure_of_a_real_run(tiny_run: Path, tmp_path: Path) -> None:
    paths = plot_run(tiny_run, tmp_path / "figures")
    assert [p.stem for p in paths] == [*FIGURES, "network_contracts", "network_ownership"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = pd.read_parquet(tiny_run / "model.parquet")
    ax = price_index_figure(model, "baseline").axes[0]
    assert ax.get_title() == "Price per token: baseline, seed 3"
    assert list(ax.lines[0].get_ydata()) == list(model["price_index"])


def test_missing_run_dir_raises_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"run directory .*no_such_run.* does not exist"):
        plot_run(tmp_path / "no_such_run", tmp_path / "figures")
    assert not (tmp_path / "figures").exists()
