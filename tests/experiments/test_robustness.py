"""The robustness table: columns applied like worlds, horizons on truncated runs, re-judged windows, the writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from experiments.cli import app
from experiments.evaluators import execute_run
from experiments.final_verdicts import FINAL_COLUMNS, flip_check
from experiments.robustness import (
    DEFAULT_ROBUSTNESS,
    ROBUSTNESS_COLUMNS,
    RobustnessColumn,
    load_robustness,
    mark_flips,
    robustness_markdown,
    run_robustness,
    run_sets,
    switched_statistic,
)
from experiments.sweep_config import RunTask, resolve_base
from experiments.theses import StatisticSpec
from market.config.files import ConfigError, apply_settings, read_toml

TINY = {"segments.0.n_agents": 40, "segments.1.n_agents": 40, "segments.2.n_agents": 40}


def test_the_shipped_columns_resolve_to_the_uncertainty_ranges_ends() -> None:
    spec, settings = load_robustness(DEFAULT_ROBUSTNESS)
    assert spec.baseline == "baseline"
    assert settings["merger_2010"] == {"corporate.antitrust.policy": "hhi_2010"}
    assert settings["no_merger_control"] == {"corporate.antitrust.policy": "none"}
    # uncertainty.toml: hyperscalers 0.5-1.4, specialists 1.0-2.2, elasticity 0.7-1.5
    low = settings["efficiency_low"]
    assert low["providers.cloud_a.serving_efficiency"] == 1.4 and low["providers.specialist.serving_efficiency"] == 1.0
    high = settings["efficiency_high"]
    assert high["providers.cloud_c.serving_efficiency"] == 0.5
    assert high["corporate.entrants.new_specialist.provider.serving_efficiency"] == 2.2
    assert settings["elasticity_high"]["segments.cost_first.price_elasticity"] == 1.5
    sets = run_sets(settings)
    # the baseline, both horizons, the burn-in and the window columns share the 96-month runs
    assert {c for c, s in sets.items() if s == "baseline"} == {"baseline", "horizon_3y", "horizon_8y", "no_burn_in",
                                                               "window"}
    assert len(set(sets.values())) == 7


def test_a_column_naming_an_unknown_parameter_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "uncertainty.toml").write_text(DEFAULT_ROBUSTNESS.with_name("uncertainty.toml").read_text()
                                               .replace('base = "baseline"', 'base = "baseline"', 1))
    (tmp_path / "r.toml").write_text("""baseline = "a"
[[columns]]
name = "a"
label = "a"
question = "q"
source = "s"
[[columns]]
name = "b"
label = "b"
question = "q"
source = "s"
parameters = { elasticity = "low" }
""")
    with pytest.raises(ConfigError, match=r"column 'b': parameters.elasticity: no such parameter"):
        load_robustness(tmp_path / "r.toml")


def _column(**kw: object) -> RobustnessColumn:
    return RobustnessColumn(name="c", label="c", question="q", source="s", **kw)  # type: ignore[arg-type]


def test_the_alternate_window_of_each_statistic() -> None:
    alternate = _column(window="alternate")
    final = StatisticSpec(name="final", description="d", column="x", window=12, burn_in=12, scenario="s")
    change = StatisticSpec(name="change", description="d", column="x", window=12, burn_in=12, scenario="s")
    mean = StatisticSpec(name="mean", description="d", column="x", burn_in=12, scenario="s")
    # 60 months, burn-in 12: final over months 12-59 (48), change on the halves (24), mean on months 48-59
    assert switched_statistic(final, alternate, 60).window == 48
    assert switched_statistic(change, alternate, 60).window == 24
    assert switched_statistic(mean, alternate, 60).burn_in == 48
    assert switched_statistic(final, _column(burn_in=0), 60).burn_in == 0
    assert switched_statistic(final, _column(), 60) == final


def test_flips_are_supported_against_refuted_only() -> None:
    table = pd.DataFrame({"thesis": ["a", "a", "a", "b", "b"], "column": ["base", "x", "y", "base", "x"],
                          "verdict": ["supported", "refuted", "inconclusive", "refuted", "supported"]})
    assert mark_flips(table, "base")["flip"].tolist() == [False, True, False, False, True]


def test_the_table_writer_marks_flips_and_checks_them_against_the_worlds() -> None:
    spec_columns = [_column().model_copy(update={"name": n, "label": n.upper()}) for n in ("base", "x")]
    from experiments.robustness import RobustnessSpec

    spec = RobustnessSpec(baseline="base", columns=spec_columns)
    rows = []
    for thesis, verdicts in (("a", ("supported", "refuted")), ("b", ("refuted", "refuted"))):
        for column, verdict in zip(("base", "x"), verdicts, strict=True):
            rows.append({"number": 1 if thesis == "a" else 2, "thesis": thesis, "title": thesis.upper(),
                         "claim": "> 0", "column": column, "label": column.upper(), "estimate": 0.5,
                         "ci_low": 0.25, "ci_high": 0.75, "n": 5, "verdict": verdict, "flip": False, "error": ""})
    table = mark_flips(pd.DataFrame(rows, columns=list(ROBUSTNESS_COLUMNS)), "base")
    worlds = pd.DataFrame({"thesis": ["a", "b"], "verdict": ["robustly supported", "robustly refuted"]})
    text = robustness_markdown(table, spec, worlds)
    assert "| # | thesis | claim | BASE | X |" in text
    assert "| 1 | A | > 0 | 0.5 [0.25, 0.75] S | **0.5 [0.25, 0.75] R (flip)** |" in text
    assert "| 2 | B | > 0 | 0.5 [0.25, 0.75] R | 0.5 [0.25, 0.75] R |" in text
    # the robust verdict that flips is conditional in the final verdicts: the rule holds by construction
    assert ("- 1. A: refuted under 'X' - over worlds: robustly supported; final verdict: **conditional** (holds "
            "under the setting of the column 'BASE')\n") in text
    assert "final verdict carries that setting as its condition" in text
    checked = flip_check(table, worlds)
    assert checked["final"].tolist() == ["conditional"] and checked["holds"].tolist() == [True]
    assert flip_check(table, worlds.assign(verdict="conditional"))["holds"].tolist() == [True]
    unjudged = flip_check(table, worlds[worlds["thesis"] == "b"])
    assert unjudged["over_worlds"].tolist() == ["not judged over worlds"] and unjudged["holds"].isna().all()
    assert "- 1. A: refuted under 'X' - not judged over worlds (no final verdict over worlds)\n" in (
        robustness_markdown(table, spec, worlds[worlds["thesis"] == "b"]))
    assert "no final verdicts are written" in robustness_markdown(table, spec, None)


@pytest.mark.slow
def test_the_first_months_of_a_longer_run_are_a_shorter_run() -> None:
    """The horizon columns read truncated 96-month runs: the model must not read its horizon."""
    document = apply_settings(read_toml(resolve_base("baseline")), TINY)
    short = execute_run(RunTask("r", 0, 0, 5, {}, apply_settings(document, {"simulation.steps": 6})))
    long = execute_run(RunTask("r", 0, 0, 5, {}, apply_settings(document, {"simulation.steps": 10})))
    import io

    assert pd.read_parquet(io.BytesIO(long.tables["model"]))["step"].max() == 9
    for name in ("model", "providers", "events", "enterprises", "gpu_market"):
        a = pd.read_parquet(io.BytesIO(short.tables[name]))
        b = pd.read_parquet(io.BytesIO(long.tables[name]))
        pd.testing.assert_frame_equal(a, b[b["step"] < 6].reset_index(drop=True), check_exact=True)


ROBUSTNESS = """baseline = "base"
replications = 2
[[columns]]
name = "base"
label = "base"
question = "q"
source = "s"
settings = { "simulation.steps" = 8 }
horizon = 6
[[columns]]
name = "short"
label = "short"
question = "q"
source = "s"
settings = { "simulation.steps" = 8 }
horizon = 4
[[columns]]
name = "noisy"
label = "noisy"
question = "q"
source = "s"
settings = { "simulation.steps" = 6, "logit.mu" = 1.0 }
"""

THESIS = """
name = "share"
number = 1
title = "Share"
source_claim = "c"
test = "t"
assumptions = ["Tiny scenario."]
root_seed = 4
[scenarios.base]
base = "baseline"
[scenarios.base.settings]
"segments.0.n_agents" = 40
"segments.1.n_agents" = 40
"segments.2.n_agents" = 40
[statistic]
name = "final"
description = "hyperscaler share"
column = "share_hyperscaler"
window = 2
scenario = "base"
[claim]
operator = ">"
threshold = 0.0
"""


@pytest.mark.slow
def test_robustness_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "r.toml").write_text(ROBUSTNESS)
    theses = tmp_path / "theses"
    theses.mkdir()
    (theses / "share.toml").write_text(THESIS)
    out = tmp_path / "out"
    table = run_robustness(out, robustness_file=tmp_path / "r.toml", theses_dir=theses, workers=1)
    assert table["column"].tolist() == ["base", "short", "noisy"] and (table["n"] == 2).all()
    plan = pd.read_parquet(out / "share" / "plan.parquet")
    assert sorted(plan["world"].unique()) == ["base", "noisy"]  # two run sets, 2 replications each
    assert len(plan) == 4
    # the 'short' column is the statistic on the first 4 months: the mean of months 2 and 3 of the stored runs
    model = pd.read_parquet(out / "share" / "runs" / "share-base-base-r00" / "model.parquet")
    model1 = pd.read_parquet(out / "share" / "runs" / "share-base-base-r01" / "model.parquet")
    expected = np.mean([model.loc[model["step"].isin([2, 3]), "share_hyperscaler"].mean(),
                        model1.loc[model1["step"].isin([2, 3]), "share_hyperscaler"].mean()])
    assert table.set_index("column").loc["short", "estimate"] == pytest.approx(expected, rel=1e-12)
    base = np.mean([m.loc[m["step"].isin([4, 5]), "share_hyperscaler"].mean() for m in (model, model1)])
    assert table.set_index("column").loc["base", "estimate"] == pytest.approx(base, rel=1e-12)
    text = (out / "robustness.md").read_text()
    assert text.startswith("| # | thesis | claim | base | short | noisy |")
    assert list(pd.read_parquet(out / "robustness.parquet").columns) == list(ROBUSTNESS_COLUMNS)
    # the command line: --robustness does not take --worlds (exit 2)
    result = CliRunner().invoke(app, ["theses", "--out", str(tmp_path / "x"), "--robustness",
                                      str(tmp_path / "r.toml"), "--worlds", "3"])
    assert result.exit_code == 2 and "--robustness" in result.output and not (tmp_path / "x").exists()
    result = CliRunner().invoke(app, ["theses", "--out", str(tmp_path / "x"), "--over-worlds", "v.parquet"])
    assert result.exit_code == 2 and "--over-worlds needs --robustness" in result.output
    assert not (out / "verdicts_final.parquet").exists()  # no verdicts over worlds, no final verdicts
    # a resumed run re-runs nothing and gives the same table
    again = run_robustness(out, robustness_file=tmp_path / "r.toml", theses_dir=theses, workers=1, resume=True)
    pd.testing.assert_frame_equal(again, table)
    # with verdicts over worlds, the command line re-judges the stored runs and writes the final verdicts
    assert table["verdict"].eq("supported").all() and not table["flip"].any()
    pd.DataFrame({"thesis": ["share"], "verdict": ["robustly supported"], "share_supported": [1.0],
                  "share_refuted": [0.0]}).to_parquet(tmp_path / "verdicts.parquet")
    result = CliRunner().invoke(app, ["theses", "--out", str(out), "--robustness", str(tmp_path / "r.toml"),
                                      "--theses-dir", str(theses), "--workers", "1", "--resume",
                                      "--over-worlds", str(tmp_path / "verdicts.parquet")])
    assert result.exit_code == 0, result.output
    final = pd.read_parquet(out / "verdicts_final.parquet")
    assert list(final.columns) == list(FINAL_COLUMNS)
    assert final[["thesis", "baseline_verdict", "verdict_over_worlds", "verdict", "flips_under", "conditions"]
                 ].values.tolist() == [["share", "supported", "robustly supported", "robustly supported", "", ""]]
    assert "| 1 | Share | supported | robustly supported | - | **robustly supported** | - |" in (
        out / "verdicts_final.md").read_text()
    assert "0 robust verdict(s) over worlds made conditional" in " ".join(result.output.split())
