"""Calibration: target statistics on series with known answers, the pass/fail table, and a tiny end-to-end run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.calibration import (
    CalibrationSpec,
    CalibrationTarget,
    calibrate,
    event_counts,
    measure,
    render_markdown,
    summary_table,
    write_figures,
)

ROOT = Path(__file__).resolve().parents[2]


def _target(**kw: object) -> CalibrationTarget:
    base = dict(name="t", description="d", table="model", column="x", statistic="yearly_decline", target=0.9,
                low=0.8, high=0.95, source="s")
    base.update(kw)
    return CalibrationTarget(**base)  # type: ignore[arg-type]


def test_yearly_decline_of_a_tenfold_yearly_fall_is_090() -> None:
    # x_t = 5 * 10^(-t/12): a 10x fall a year, i.e. a yearly decline of 1 - 1/10 = 0.9 (by construction).
    steps = np.arange(36)
    series = pd.Series(5.0 * 10.0 ** (-steps / 12.0), index=steps)
    assert measure(series, _target()) == pytest.approx(0.9, abs=1e-12)


def test_yearly_growth_of_a_fourfold_yearly_rise_is_3() -> None:
    steps = np.arange(24)
    series = pd.Series(2.0 * 4.0 ** (steps / 12.0), index=steps)
    assert measure(series, _target(statistic="yearly_growth")) == pytest.approx(3.0, abs=1e-12)


def test_initial_is_mean_of_first_window_steps() -> None:
    series = pd.Series([0.2, 0.4, 0.6, 10.0], index=range(4))
    assert measure(series, _target(statistic="initial", window=3)) == pytest.approx(0.4)


def test_summary_table_judges_the_median_against_the_band() -> None:
    spec = CalibrationSpec(scenario="x.toml", seeds=3, targets=[_target(name="a"), _target(name="b", low=0.0,
                                                                                            high=0.5)])
    values = pd.DataFrame({"a": [0.85, 0.9, 0.99], "b": [0.6, 0.7, 0.1]})
    table = summary_table(spec, values).set_index("target")
    assert table.loc["a", "median"] == pytest.approx(0.9)
    assert bool(table.loc["a", "within_tolerance"]) is True
    assert table.loc["b", "median"] == pytest.approx(0.6)
    assert bool(table.loc["b", "within_tolerance"]) is False


def test_event_counts() -> None:
    events = pd.DataFrame({"event": ["entry", "entry", "exit", "gpu_sale"], "seed": [0, 1, 1, 0]})
    counts = event_counts(events, n_seeds=2).set_index("event")
    assert counts.loc["entry", "total"] == 2
    assert counts.loc["entry", "seeds_with_one"] == 2
    assert counts.loc["exit", "mean_per_run"] == pytest.approx(0.5)
    assert counts.loc["acquisition", "total"] == 0


@pytest.mark.slow
def test_calibration_end_to_end_on_a_short_baseline(tmp_path: Path) -> None:
    base = (ROOT / "experiments/configs/baseline.toml").read_text()
    base = base.replace("steps = 60", "steps = 8")
    for n in ("3000", "2000", "5000"):
        base = base.replace(f"n_agents = {n}", "n_agents = 60")
    scenario = tmp_path / "short.toml"
    scenario.write_text(base)
    spec = CalibrationSpec(
        scenario=str(scenario), seeds=2,
        targets=[_target(name="qapi", column="quality_adjusted_price_index", low=0.0, high=1.0),
                 _target(name="h100", table="gpu_market", column="secondary_price", where={"generation": "H100"},
                         low=-1.0, high=1.0, months=6)],
    )
    out = calibrate(spec, root=Path("/"))
    assert list(out["values"].index) == [0, 1]
    assert out["series"]["h100"].shape == (6, 2)
    figures = write_figures(spec, out["series"], tmp_path / "figures")
    assert all(p.stat().st_size > 0 and p.read_bytes()[:4] == b"\x89PNG" for p in figures.values())
    text = render_markdown(spec, summary_table(spec, out["values"]), event_counts(out["events"], 2), 2, figures,
                           tmp_path)
    assert "| d | 0.9 | [0, 1] |" in text
    assert "figures/calibration_qapi.png" in text
