"""Sweep and thesis figures: the plotted points, intervals and thresholds come from the frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.outcomes import Outcome, ReplicationNoise
from analysis.sensitivity import SensitivityResult
from analysis.sweep_plots import (
    feature_scores_figure,
    forest_figure,
    outcome_vs_parameters_figure,
    point_intervals,
    prim_trajectory_figure,
    sensitivity_figure,
)


def _runs() -> pd.DataFrame:
    return pd.DataFrame({"point": [0, 0, 0, 1, 1, 1], "value": [1.0, 2.0, 3.0, 10.0, 10.0, 13.0],
                         "mu": [0.2] * 3 + [0.6] * 3, "lock_in": [1.0] * 3 + [0.0] * 3})


def test_point_intervals_are_t_intervals_over_replications() -> None:
    """Point 0: mean 2, sd 1, n 3: half-width t(0.975, 2) / sqrt(3) = 4.302653 / 1.732051 = 2.484138."""
    points = point_intervals(_runs(), ["mu", "lock_in"])
    assert list(points["mean"]) == [2.0, 11.0]
    assert points.loc[0, "ci_high"] - 2.0 == pytest.approx(2.484138, rel=1e-6)
    assert points.loc[1, "ci_low"] == pytest.approx(11.0 - 4.302653 * np.sqrt(3.0) / np.sqrt(3.0), rel=1e-6)


def test_outcome_against_each_parameter_plots_point_means_with_intervals() -> None:
    fig = outcome_vs_parameters_figure(_runs(), ["mu", "lock_in"], "final of hhi", "demo")
    assert fig.get_suptitle() == "final of hhi against each parameter: demo, 6 runs"
    first, second = fig.axes[:2]
    x, y = first.lines[0].get_data()
    assert list(x) == [0.2, 0.6] and list(y) == [2.0, 11.0]
    assert list(second.lines[0].get_xdata()) == [1.0, 0.0] and second.get_xlabel() == "lock_in"
    bars = first.collections[0].get_segments()  # the error bars: one vertical segment per point
    assert bars[0][:, 1] == pytest.approx([2.0 - 2.484138, 2.0 + 2.484138], rel=1e-6)


def test_forest_plot_shows_each_estimate_interval_and_threshold() -> None:
    verdicts = pd.DataFrame({"number": [3, 1], "title": ["Consolidation", "Commoditization"],
                             "estimate": [120.0, 0.9], "ci_low": [50.0, 0.85], "ci_high": [190.0, 0.95],
                             "threshold": [0.0, 0.785], "claim": ["> 0", "> 0.785"],
                             "verdict": ["supported", "supported"]})
    fig = forest_figure(verdicts)
    top, bottom = fig.axes[:2]
    assert top.get_yticklabels()[0].get_text() == "1. Commoditization\n> 0.785: supported"
    assert list(top.lines[0].get_xdata()) == [0.9]
    assert top.collections[0].get_segments()[0][:, 0] == pytest.approx([0.85, 0.95])
    assert [line.get_xdata()[0] for line in bottom.lines if line.get_linestyle() == "--"] == [0.0]
    assert bottom.get_xlim()[0] < 0.0 < 50.0 < 190.0 < bottom.get_xlim()[1]


def test_sensitivity_bars_are_the_indices_ranked_by_st() -> None:
    table = pd.DataFrame({"parameter": ["a", "b", "a", "b"], "index": ["S1", "S1", "ST", "ST"],
                          "estimate": [0.1, 0.6, 0.2, 0.7], "ci_low": [0.0, 0.5, 0.1, 0.6],
                          "ci_high": [0.2, 0.7, 0.3, 0.8]})
    points = pd.DataFrame({"mean": [1.0, 2.0], "var": [0.1, 0.1], "n": [3, 3]})
    result = SensitivityResult("sobol", Outcome("final", "hhi"), table, points,
                               ReplicationNoise(0.01, 1.0, 3, True), sweep="demo")
    assert list(result.ranking()["parameter"]) == ["b", "a"]
    ax = sensitivity_figure(result).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]  # largest at the top
    widths = [p.get_width() for p in ax.patches]
    assert widths == [0.1, 0.6, 0.2, 0.7]  # S1 bars for a, b, then ST bars for a, b
    assert "every 95% interval is narrower" in result.summary()[1]


def test_prim_trajectory_and_feature_scores_plot_their_values() -> None:
    trajectory = pd.DataFrame({"coverage": [1.0, 0.9, 0.7], "density": [0.3, 0.6, 0.9], "res_dim": [0, 1, 2],
                               "mass": [1.0, 0.5, 0.2]})
    ax = prim_trajectory_figure(trajectory, 2, "demo").axes[0]
    assert ax.collections[0].get_offsets().tolist() == [[1.0, 0.3], [0.9, 0.6], [0.7, 0.9]]
    assert ax.collections[1].get_offsets().tolist() == [[0.7, 0.9]]
    ax = feature_scores_figure(pd.Series({"a": 0.7, "b": 0.3}), "demo").axes[0]
    assert [p.get_width() for p in ax.patches] == [0.3, 0.7]
