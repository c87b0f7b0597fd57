"""Calibration: target statistics on series with known answers, the pass/fail table, and a tiny end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.calibration import (
    CalibrationSpec,
    CalibrationTarget,
    accept,
    applicable_spec,
    draw_outcomes,
    event_counts,
    load_spec,
    main,
    measure,
    measure_run,
    target_table,
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


def test_target_table_judges_the_median_against_the_band() -> None:
    targets = [_target(name="a"), _target(name="b", low=0.0, high=0.5)]
    values = pd.DataFrame({"a": [0.85, 0.9, 0.99], "b": [0.6, 0.7, 0.1]})
    table = target_table(targets, values).set_index("target")
    assert table.loc["a", "median"] == pytest.approx(0.9)
    assert bool(table.loc["a", "within_tolerance"]) is True
    assert table.loc["a", "share_within"] == pytest.approx(2 / 3)  # 0.99 is above 0.95
    assert table.loc["b", "median"] == pytest.approx(0.6)
    assert bool(table.loc["b", "within_tolerance"]) is False


def test_event_counts() -> None:
    events = pd.DataFrame({"event": ["entry", "entry", "exit", "gpu_sale"], "seed": [0, 1, 1, 0]})
    counts = event_counts(events, n_seeds=2).set_index("event")
    assert counts.loc["entry", "total"] == 2
    assert counts.loc["entry", "seeds_with_one"] == 2
    assert counts.loc["exit", "mean_per_run"] == pytest.approx(0.5)
    assert counts.loc["acquisition", "total"] == 0


# ---------------------------------------------------------------------------------------------------------
# acceptance of draws (hand-made outcome tables)
# ---------------------------------------------------------------------------------------------------------


def _targets() -> list[CalibrationTarget]:
    return [_target(name="price", low=0.8, high=0.95), _target(name="growth", low=1.5, high=5.0),
            _target(name="holdout", low=0.0, high=0.1, holdout=True)]


def test_a_draw_outside_one_tolerance_is_rejected() -> None:
    draws = pd.DataFrame({"point": [0, 1, 2, 3],
                          "price": [0.9, 0.9, 0.79, 0.95],      # draw 2 below the price band
                          "growth": [3.0, 5.01, 3.0, 1.5],      # draw 1 above the growth band; bounds are inside
                          "holdout": [0.05, 0.05, 0.05, 0.05]})
    out = accept(draws, _targets())
    assert list(out["accepted"]) == [True, False, False, True]
    assert list(out["within_price"]) == [True, True, False, True]
    assert list(out["within_growth"]) == [True, False, True, True]


def test_holdout_targets_never_affect_acceptance() -> None:
    base = pd.DataFrame({"point": [0, 1, 2], "price": [0.9, 0.7, 0.9], "growth": [3.0, 3.0, 9.0],
                         "holdout": [0.05, 0.05, 0.05]})
    wild = base.assign(holdout=[50.0, -3.0, float("nan")])  # every hold-out value outside its band
    assert list(accept(base, _targets())["accepted"]) == list(accept(wild, _targets())["accepted"]) \
        == [True, False, False]
    assert not accept(wild, _targets())["within_holdout"].any()


def test_an_undefined_outcome_is_not_within_tolerance() -> None:
    draws = pd.DataFrame({"point": [0], "price": [float("nan")], "growth": [3.0], "holdout": [0.0]})
    assert not bool(accept(draws, _targets())["accepted"].iloc[0])


def test_a_draws_outcome_is_the_median_over_its_seeds() -> None:
    runs = pd.DataFrame({"point": [0, 0, 0, 1, 1, 1], "price": [0.1, 0.9, 0.5, 2.0, float("nan"), 4.0],
                         "growth": [1.0, 2.0, 3.0, 1.0, 1.0, 1.0], "holdout": [0.0] * 6})
    out = draw_outcomes(runs, _targets()).set_index("point")
    assert out.loc[0, "price"] == pytest.approx(0.5)
    assert out.loc[1, "price"] == pytest.approx(3.0)  # NaN seed ignored: median of 2 and 4


# ---------------------------------------------------------------------------------------------------------
# the shipped target file and new statistics
# ---------------------------------------------------------------------------------------------------------


def test_the_shipped_targets_have_sources_and_holdouts() -> None:
    spec = load_spec(ROOT / "experiments/configs/calibration/targets.toml")
    assert all(t.source and t.low <= t.target <= t.high for t in spec.targets)
    holdouts = {t.name for t in spec.targets if t.holdout}
    assert holdouts and holdouts != {t.name for t in spec.targets}
    assert {"multihoming_5plus_models", "multihoming_3plus_families"} <= holdouts  # measured, checked afterwards
    assert "h100_rental_path" in {t.name for t in spec.later}  # no rental price in the outputs: listed only


def test_tier_targets_are_not_applicable_without_tiers() -> None:
    spec = CalibrationSpec(scenario="s.toml", targets=[_target(name="a"), _target(name="b", needs_tiers=True)])
    one_tier = applicable_spec(spec, tiered=False)
    assert [t.name for t in one_tier.targets] == ["a"]
    assert [t.name for t in one_tier.not_applicable] == ["b"]
    assert applicable_spec(spec, tiered=True) == spec


def test_the_shipped_tier_targets_read_tier_columns_and_order_the_declines() -> None:
    spec = load_spec(ROOT / "experiments/configs/calibration/targets.toml")
    tiers = {t.name: t for t in spec.targets if t.needs_tiers}
    assert {"frontier_tier_price_decline", "small_tier_price_decline", "frontier_tier_share_start"} <= set(tiers)
    assert all("frontier" in t.column or "small" in t.column for t in tiers.values())
    # Epoch AI's range, 9x to 900x a year, as declines: 1 - 1/9 and 1 - 1/900
    small = tiers["small_tier_price_decline"]
    assert small.low == pytest.approx(1 - 1 / 9, abs=1e-3) and small.high == pytest.approx(1 - 1 / 900, abs=1e-4)
    assert tiers["frontier_tier_price_decline"].target < small.target  # slower at the frontier


def test_open_model_lag_of_the_baseline_technology_is_its_closed_form() -> None:
    # Frontier F_t = (1 + 2)^(t/12); open quality O_t = F(t - L_t) with L_t = 6 - t/12 (distillation speed 1):
    # the mean lag over months 0..11 is 6 - mean(t)/12 = 6 - 5.5/12 (market/technology.py's equations).
    steps = np.arange(60)
    lag = 6.0 - steps / 12.0
    model = pd.DataFrame({"step": steps, "frontier_quality": 3.0 ** (steps / 12.0),
                          "open_weight_quality": 3.0 ** ((steps - lag) / 12.0)})
    target = _target(name="lag", column="open_weight_quality", leader="frontier_quality", statistic="lag_months",
                     months=12, target=3.5, low=2.0, high=12.0)
    assert measure_run({"model": model}, [target])["lag"] == pytest.approx(6.0 - 5.5 / 12.0, abs=1e-9)


def test_relative_to_divides_one_series_by_another() -> None:
    providers = pd.DataFrame({"step": [0, 0, 0, 1, 1, 1], "provider": ["a", "b", "s"] * 2,
                              "kind": ["hyperscaler", "hyperscaler", "specialized"] * 2,
                              "revenue": [3.0, 1.0, 9.0, 6.0, 2.0, 9.0]})
    target = _target(name="share", table="providers", column="revenue", where={"provider": "a"},
                     relative_to={"column": "revenue", "where": {"kind": "hyperscaler"}}, statistic="initial",
                     window=2)
    assert measure_run({"providers": providers}, [target])["share"] == pytest.approx(0.75)  # 3/4 and 6/8


# ---------------------------------------------------------------------------------------------------------
# end to end: a tiny design on a short, small baseline
# ---------------------------------------------------------------------------------------------------------


def _short_baseline(tmp_path: Path) -> Path:
    base = (ROOT / "experiments/configs/baseline.toml").read_text().replace("steps = 60", "steps = 14")
    for n in ("3000", "2000", "5000"):
        base = base.replace(f"n_agents = {n}", "n_agents = 40")
    path = tmp_path / "short.toml"
    path.write_text(base)
    return path


@pytest.mark.slow
def test_calibration_end_to_end_accepts_worlds_and_writes_the_report(tmp_path: Path) -> None:
    scenario = _short_baseline(tmp_path)
    targets = tmp_path / "targets.toml"
    targets.write_text(f'''scenario = "{scenario}"
seeds = 2
[[targets]]
name = "qapi"
description = "price decline"
table = "model"
column = "quality_adjusted_price_index"
statistic = "yearly_decline"
target = 0.9
low = -10.0
high = 1.0
source = "test"
[[targets]]
name = "spec_share"
description = "specialists at the start"
table = "model"
column = "share_specialized"
statistic = "initial"
target = 0.2
low = 0.0
high = 0.25
holdout = true
source = "test"
[[targets]]
name = "lag"
description = "open lag"
table = "model"
column = "open_weight_quality"
leader = "frontier_quality"
statistic = "lag_months"
target = 5.0
low = 2.0
high = 7.0
source = "test"
[[later]]
name = "multi_homing"
description = "multi-homing"
source = "a16z"
needs = "tiers"
''')
    uncertainty = tmp_path / "uncertainty.toml"
    uncertainty.write_text(f'''base = "{scenario}"
[design]
draws = 6
seeds = 2
root_seed = 3
[[parameters]]
name = "lag0"
path = "technology.open_lag_months_start"
low = 2.0
high = 12.0
source = "test"
[[parameters]]
name = "merger_rule"
path = "corporate.antitrust.policy"
values = ["none", "hhi_2023"]
source = "test"
''')
    out, worlds = tmp_path / "docs", tmp_path / "worlds.json"
    args = ["--targets", str(targets), "--uncertainty", str(uncertainty), "--runs", str(tmp_path / "runs"),
            "--out", str(out), "--worlds", str(worlds), "--workers", "1"]
    code = main(args)
    document = json.loads(worlds.read_text())
    assert document["draws"] == 6 and len(document["seeds"]) == 2
    accepted = document["accepted"]
    assert code == (0 if accepted else 1)
    # the open-model lag over 14 months is the mean of max(2, L0 - t/12) (distillation speed 1, floor 2;
    # market/technology.py): accepted exactly when that lies in [2, 7]; the LHS puts one draw in each sixth of
    # [2, 12], so the draws in [3.67, 5.33] and [5.33, 7] pass and those above 8.67 fail
    assert 2 <= accepted <= 4
    for world in document["worlds"]:
        lag0 = world["params"]["lag0"]
        expected = np.mean(np.maximum(2.0, lag0 - np.arange(14) / 12.0))
        assert world["outcomes"]["lag"] == pytest.approx(expected, abs=1e-9)
        assert 2.0 <= world["outcomes"]["lag"] <= 7.0
    text = (out / "calibration.md").read_text()
    assert f"**Result: {accepted} of 6 draws accepted**" in text
    assert "## Hold-out targets (validation)" in text and "| specialists at the start |" in text
    assert "multi-homing" in text
    assert (out / "figures" / "calibration_qapi.png").read_bytes()[:4] == b"\x89PNG"
    # a second run without --resume replaces the earlier runs and gives the same worlds
    assert main(args) == code
    assert json.loads(worlds.read_text())["worlds"] == document["worlds"]


@pytest.mark.bad_input
@pytest.mark.parametrize(("text", "message"), [
    ('scenario = "no/such/scenario.toml"\n[[targets]]\nname = "a"\ndescription = "d"\ntable = "model"\n'
     'column = "hhi"\nstatistic = "initial"\ntarget = 1.0\nlow = 0.0\nhigh = 2.0\nsource = "s"\n', "scenario.toml"),
    ('scenario = "experiments/configs/baseline.toml"\n[[targets]]\nname = "a"\ndescription = "d"\n'
     'table = "model"\ncolumn = "hhi"\nstatistic = "median"\ntarget = 1.0\nlow = 0.0\nhigh = 2.0\nsource = "s"\n',
     "statistic"),
])
def test_bad_targets_exit_2_before_anything_runs(tmp_path: Path, text: str, message: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    targets = tmp_path / "targets.toml"
    targets.write_text(text)
    out = tmp_path / "out"
    code = main(["--targets", str(targets), "--runs", str(out / "runs"), "--out", str(out), "--worlds",
                 str(out / "worlds.json"), "--workers", "1"])
    assert code == 2 and message in capsys.readouterr().err
    assert not out.exists()
