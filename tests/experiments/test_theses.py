"""Theses as data: the shipped files, the estimate and verdict, and a small end-to-end run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from analysis.statistics import bootstrap_ci
from experiments.cli import app
from experiments.theses import Thesis, discover_theses, estimate, load_thesis
from experiments.verdicts import VERDICT_COLUMNS, run_theses
from market.config.files import ConfigError, validate_data

TINY_SETTINGS = """
"simulation.steps" = 4
"segments.0.n_agents" = 40
"segments.1.n_agents" = 40
"segments.2.n_agents" = 40
"""

SINGLE = """
name = "spend_growth"
number = 1
title = "Spend grows"
source_claim = "Spend rises."
test = "Yearly growth of total spend."
assumptions = ["Tiny scenario."]
replications = 3
root_seed = 4

[scenarios.tiny]
base = "baseline"
[scenarios.tiny.settings]
""" + TINY_SETTINGS + """
[statistic]
name = "yearly_growth"
description = "yearly growth of total spend"
column = "total_spend"
scenario = "tiny"

[claim]
operator = ">"
threshold = -0.5
"""

COMPARE = """
name = "noise_share"
number = 2
title = "Noise changes shares"
source_claim = "A noisier choice changes the hyperscalers' share."
test = "Hyperscaler share, noisy minus sharp logit."
assumptions = ["Tiny scenario.", "Same seeds in both scenarios."]
replications = 3
root_seed = 4

[scenarios.noisy]
base = "baseline"
[scenarios.noisy.settings]
"logit.mu" = 3.0
""" + TINY_SETTINGS + """
[scenarios.sharp]
base = "baseline"
[scenarios.sharp.settings]
"logit.mu" = 0.2
""" + TINY_SETTINGS + """
[statistic]
name = "final"
description = "hyperscaler share at the end: noisy minus sharp"
column = "share_hyperscaler"
window = 2
compare = ["noisy", "sharp"]

[claim]
operator = "<"
threshold = 0.0
"""

MISSING_COLUMN = SINGLE.replace('name = "spend_growth"', 'name = "needs_column"').replace(
    'column = "total_spend"', 'column = "cumulative_mergers_of_equals"').replace("number = 1", "number = 3")


def test_the_shipped_theses_load_and_name_mechanism_counterfactual_conditions() -> None:
    files = discover_theses()
    theses = [load_thesis(f) for f in files]
    assert sorted(t.number for t, _ in theses) == list(range(1, len(theses) + 1))  # numbered 1..N, no gaps
    for (thesis, documents), path in zip(theses, files, strict=True):
        assert thesis.name == path.stem
        assert thesis.assumptions and thesis.source_claim and thesis.test
        assert set(documents) == set(thesis.scenarios)
        assert thesis.replications >= 10
        assert thesis.mechanism and thesis.counterfactual and thesis.conditions, thesis.name
        assert thesis.claim.minimum_effect, f"{thesis.name}: no justified minimum effect"
        assert thesis.statistic.burn_in == 12, f"{thesis.name}: the statistic must drop the start-up transient"
    by_name = {t.name: t for t, _ in theses}
    # Every claim is an effect size, not a sign; every thesis but the trend claims compares two scenarios.
    assert all(t.claim.threshold != 0 for t in by_name.values())
    trends = {"commoditization", "commoditization_margins", "jevons"}
    assert {n for n, t in by_name.items() if t.statistic.compare is None} == trends
    # Consolidation: predation in one scenario only; the merger rule is a declared condition, and it is the rule
    # both scenarios run under.
    for part in ("consolidation", "consolidation_markets", "consolidation_acquisitions", "consolidation_exits"):
        thesis, documents = next((t, d) for t, d in theses if t.name == part)
        assert thesis.scenarios["predation"].settings["providers.cloud_a.pricing"]["strategy"] == "predatory"
        assert "providers.cloud_a.pricing" not in thesis.scenarios["no_predation"].settings
        assert any('corporate.antitrust.policy = "hhi_2023"' in c for c in thesis.conditions or [])
        assert all(d["corporate"]["antitrust"]["policy"] == "hhi_2023" for d in documents.values())


def test_row_statistics_take_no_series_parameters() -> None:
    base = {"name": "x", "number": 1, "title": "t", "source_claim": "s", "test": "t", "assumptions": ["a"],
            "scenarios": {"one": {}}, "claim": {"operator": ">", "threshold": 0}}
    with pytest.raises(ConfigError, match="counts rows"):
        validate_data({**base, "statistic": {"name": "count", "description": "d", "column": "event",
                                             "window": 3, "scenario": "one"}}, Thesis)
    with pytest.raises(ConfigError, match="burn_in"):
        validate_data({**base, "statistic": {"name": "final", "description": "d", "column": "hhi",
                                             "burn_in": -1, "scenario": "one"}}, Thesis)


def test_burn_in_reaches_the_estimate() -> None:
    # Replication 0: x = 9, 9, 1, 3; 1: 9, 9, 2, 6. final over the last 2 steps after a burn-in of 2: 2 and 4.
    # change (window 1) after burn-in 2: 3 - 1 = 2 and 6 - 2 = 4; without burn-in: 3 - 9 = -6 and 6 - 9 = -3.
    frames = {"a": synthetic({0: [9, 9, 1, 3], 1: [9, 9, 2, 6]})}
    single = {"column": "x", "scenario": "a"}
    assert estimate(thesis_with({"name": "change", "window": 1, "burn_in": 2, **single}), frames)["estimate"] == 3.0
    assert estimate(thesis_with({"name": "change", "window": 1, **single}), frames)["estimate"] == -4.5


def test_thesis_schema_errors_are_readable() -> None:
    base = {"name": "x", "number": 1, "title": "t", "source_claim": "s", "test": "t", "assumptions": ["a"],
            "scenarios": {"one": {}}, "claim": {"operator": ">", "threshold": 0}}
    with pytest.raises(ConfigError, match="unknown statistic 'median'"):
        validate_data({**base, "statistic": {"name": "median", "description": "d", "column": "hhi",
                                             "scenario": "one"}}, Thesis)
    with pytest.raises(ConfigError, match="unknown scenario"):
        validate_data({**base, "statistic": {"name": "final", "description": "d", "column": "hhi",
                                             "compare": ["one", "two"]}}, Thesis)
    with pytest.raises(ConfigError, match="exactly one of"):
        validate_data({**base, "statistic": {"name": "final", "description": "d", "column": "hhi"}}, Thesis)


def synthetic(values_by_replication: dict[int, list[float]], column: str = "x") -> pd.DataFrame:
    rows = [{"replication": r, "step": t, column: v} for r, vs in values_by_replication.items()
            for t, v in enumerate(vs)]
    return pd.DataFrame(rows)


def thesis_with(statistic: dict[str, object], operator: str = ">", threshold: float = 0.0) -> Thesis:
    return validate_data({
        "name": "t", "number": 1, "title": "t", "source_claim": "s", "test": "t", "assumptions": ["a"],
        "scenarios": {"a": {}, "b": {}}, "statistic": {"description": "d", **statistic},
        "claim": {"operator": operator, "threshold": threshold},
    }, Thesis)


def test_estimate_of_one_scenario() -> None:
    """Changes by replication: 2, 4, 6 -> mean 4. Every bootstrap resample of [2, 4, 6] has a mean in [2, 6], so
    the interval lies there and contains 4; its lower end is above the threshold 1, so the claim > 1 holds."""
    frame = synthetic({0: [1, 3], 1: [1, 5], 2: [0, 6]})
    result = estimate(thesis_with({"name": "change", "column": "x", "scenario": "a"}, ">", 1.0), {"a": frame})
    assert result["estimate"] == 4.0 and result["n"] == 3
    assert 2.0 <= result["ci_low"] < 4.0 < result["ci_high"] <= 6.0
    assert result["verdict"] == "supported"


def test_bootstrap_interval_of_a_large_sample_is_the_normal_theory_interval() -> None:
    """For n = 400 draws the bootstrap interval of the mean approaches mean +- 1.96 s / sqrt(n) (central limit
    theorem); with 9,999 resamples each end agrees to within 2% of the half-width."""
    x = np.random.default_rng(5).gamma(2.0, 1.5, 400)
    half = 1.959964 * x.std(ddof=1) / np.sqrt(len(x))
    low, high = bootstrap_ci(x, seed=0)
    assert abs(low - (x.mean() - half)) < 0.06 * half
    assert abs(high - (x.mean() + half)) < 0.06 * half


def test_estimate_of_a_paired_comparison() -> None:
    # Final values a: 10, 20, 30; b: 11, 22, 33 -> paired differences -1, -2, -3.
    a = synthetic({0: [0, 10], 1: [0, 20], 2: [0, 30]})
    b = synthetic({0: [0, 11], 1: [0, 22], 2: [0, 33], 3: [0, 99]})
    result = estimate(thesis_with({"name": "final", "column": "x", "compare": ["a", "b"]}, ">", 0.0),
                      {"a": a, "b": b})
    assert result["estimate"] == -2.0 and result["n"] == 3
    assert result["ci_high"] < 0 and result["verdict"] == "refuted"
    assert np.array_equal(result["values"].to_numpy(), [-1.0, -2.0, -3.0])


@pytest.fixture(scope="module")
def theses_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("theses")
    theses_dir = root / "theses"
    theses_dir.mkdir()
    for name, text in (("spend_growth", SINGLE), ("noise_share", COMPARE)):
        (theses_dir / f"{name}.toml").write_text(text)
    table = run_theses(root / "out", theses_dir=theses_dir, workers=1)
    return root, table


def test_run_theses_writes_the_verdict_table(theses_run: tuple[Path, pd.DataFrame]) -> None:
    root, table = theses_run
    assert list(table.columns) == list(VERDICT_COLUMNS)
    assert table["thesis"].tolist() == ["spend_growth", "noise_share"]
    judged = table.iloc[:2].set_index("thesis")
    assert (judged["n"] == 3).all() and (judged["ci_low"] <= judged["estimate"]).all()
    assert (judged["estimate"] <= judged["ci_high"]).all()
    # The verdicts, from the runs' own tables: spend growth fitted by least squares on ln(total_spend)
    # (exp(12 b) - 1) per replication; a claim holds when every replication's value beats the threshold
    # (the bootstrap interval then lies beyond it too), and is refuted when none does.
    growth = [float(np.exp(12 * np.polyfit(m["step"], np.log(m["total_spend"]), 1)[0]) - 1)
              for m in run_tables(root / "out" / "spend_growth", "model")]
    assert judged.loc["spend_growth", "estimate"] == pytest.approx(np.mean(growth), rel=1e-9)
    assert judged.loc["spend_growth", "verdict"] == expected_verdict(growth, ">", -0.5)
    finals = {name: [m["share_hyperscaler"].iloc[-2:].mean() for m in run_tables(root / "out" / "noise_share",
                                                                                  "model", scenario=name)]
              for name in ("noisy", "sharp")}
    diffs = np.subtract(finals["noisy"], finals["sharp"])
    assert judged.loc["noise_share", "estimate"] == pytest.approx(diffs.mean(), rel=1e-9)
    assert judged.loc["noise_share", "verdict"] == expected_verdict(list(diffs), "<", 0.0)
    stored = pd.read_parquet(root / "out" / "verdicts.parquet")
    assert stored["thesis"].tolist() == table["thesis"].tolist()
    markdown = (root / "out" / "verdicts.md").read_text()
    assert "| 2 | Noise changes shares |" in markdown and "Same seeds in both scenarios." in markdown


def run_tables(sweep_dir: Path, table: str, scenario: str | None = None) -> list[pd.DataFrame]:
    """A thesis sweep's per-run tables in replication order (optionally of one scenario), read directly."""
    plan = pd.read_parquet(sweep_dir / "plan.parquet")
    if scenario is not None:
        plan = plan[plan["scenario"] == scenario]
    plan = plan.sort_values("replication")
    return [pd.read_parquet(sweep_dir / "runs" / run_id / f"{table}.parquet").sort_values("step")
            for run_id in plan["run_id"]]


def expected_verdict(values: list[float], operator: str, threshold: float) -> str:
    beats = [v > threshold if operator == ">" else v < threshold for v in values]
    assert all(beats) or not any(beats), f"replications disagree ({values}): no verdict is implied"
    return "supported" if all(beats) else "refuted"


def test_a_missing_column_is_found_before_anything_runs(tmp_path: Path) -> None:
    theses_dir = tmp_path / "theses"
    theses_dir.mkdir()
    (theses_dir / "needs_column.toml").write_text(MISSING_COLUMN)
    with pytest.raises(ConfigError, match="'cumulative_mergers_of_equals' that table 'model' does not have"):
        run_theses(tmp_path / "out", theses_dir=theses_dir, workers=1)
    assert not (tmp_path / "out").exists()


def test_compared_scenarios_share_seeds(theses_run: tuple[Path, pd.DataFrame]) -> None:
    root, _ = theses_run
    plan = pd.read_parquet(root / "out" / "noise_share" / "plan.parquet")
    seeds = plan.pivot(index="replication", columns="scenario", values="seed")
    assert seeds["noisy"].equals(seeds["sharp"]) and seeds["noisy"].nunique() == 3


def test_cli_theses(theses_run: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, table = theses_run
    runner = CliRunner()
    args = ["theses", "--theses-dir", str(root / "theses"), "--workers", "1"]
    result = runner.invoke(app, [*args, "--only", "nope", "--out", str(tmp_path / "a")])
    assert result.exit_code == 2 and "no such thesis" in result.output
    assert not (tmp_path / "a").exists()
    result = runner.invoke(app, [*args, "--only", "spend_growth", "--out", str(root / "out")])
    assert result.exit_code == 2 and "--resume" in result.output
    result = runner.invoke(app, [*args, "--only", "spend_growth", "--out", str(root / "out"), "--resume"])
    assert result.exit_code == 0, result.output
    assert "Spend grows" in result.output and table.iloc[0]["verdict"] in result.output


def test_every_shipped_thesis_is_documented() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "theses.md").read_text()
    for path in discover_theses():
        assert f"`{path.name}`" in text, f"docs/theses.md does not explain {path.name}"


def test_cli_theses_with_failed_runs_exits_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from experiments.evaluators import RunOutcome, SerialEvaluator, execute_run
    from experiments.sweep_config import RunTask

    def first_replication_fails(task: RunTask) -> RunOutcome:
        if task.replication == 0:
            return RunOutcome.failure(task, "RuntimeError: worker lost", "", 0.0)
        return execute_run(task)

    monkeypatch.setattr("experiments.verdicts.make_evaluator",
                        lambda *args, **kwargs: SerialEvaluator(first_replication_fails))
    (tmp_path / "theses").mkdir()
    (tmp_path / "theses" / "spend_growth.toml").write_text(SINGLE)
    result = CliRunner().invoke(app, ["theses", "--theses-dir", str(tmp_path / "theses"), "--out",
                                      str(tmp_path / "out"), "--workers", "1"])
    assert result.exit_code == 3, result.output
    assert "runs failed in spend_growth (1)" in " ".join(result.output.split())
