"""Shared runs: two theses with an identical scenario run it once, and each stores the same tables as if it had
run the scenario itself (byte for byte, labels apart)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.results import load_sweep
from experiments.evaluators import RunOutcome, SerialEvaluator, execute_run
from experiments.shared_runs import relabel_outcome, run_key, share_tasks
from experiments.sweep_config import RunTask
from experiments.verdicts import run_theses

TINY = """
"simulation.steps" = 4
"segments.0.n_agents" = 40
"segments.1.n_agents" = 40
"segments.2.n_agents" = 40
"""


def _thesis(name: str, number: int, scenario: str, mu: float) -> str:
    return f"""
name = "{name}"
number = {number}
title = "{name}"
source_claim = "Shares move."
test = "Hyperscaler share at the end."
assumptions = ["Tiny scenario."]
replications = 2
root_seed = 4

[scenarios.{scenario}]
base = "baseline"
[scenarios.{scenario}.settings]
"logit.mu" = {mu}
""" + TINY + f"""
[statistic]
name = "final"
description = "hyperscaler share at the end"
column = "share_hyperscaler"
window = 2
scenario = "{scenario}"

[claim]
operator = ">"
threshold = 0.0
"""


def _task(run_id: str, point: int, scenario: dict[str, object], seed: int = 11) -> RunTask:
    return RunTask(run_id, point, 0, seed, {"scenario": run_id}, scenario)


def test_run_key_depends_on_the_resolved_document_and_the_seed_only() -> None:
    a = {"simulation": {"steps": 4}, "logit": {"mu": 0.3}}
    b = {"logit": {"mu": 0.3}, "simulation": {"steps": 4}}  # the same document, keys in another order
    assert run_key(a, 1) == run_key(b, 1)
    assert run_key(a, 1) != run_key(a, 2)
    assert run_key(a, 1) != run_key({"simulation": {"steps": 4}, "logit": {"mu": 0.31}}, 1)
    runs = share_tasks([_task("x", 0, a), _task("y", 3, b), _task("z", 1, a, seed=12)])
    assert [(r.task.run_id, [m.run_id for m in r.members]) for r in runs] == [("x", ["x", "y"]), ("z", ["z"])]


@pytest.mark.slow
def test_relabelled_tables_are_the_bytes_of_running_the_task_itself() -> None:
    scenario = {**_tiny_baseline()}
    source = RunTask("a-base-r00", 0, 0, 11, {"scenario": "base"}, scenario)
    target = RunTask("b-other-r01", 5, 1, 11, {"scenario": "other"}, scenario)
    copied = relabel_outcome(execute_run(source), source, target)
    direct = execute_run(target)
    assert copied.status == direct.status == "finished"
    assert set(copied.tables) == set(direct.tables)
    for name in direct.tables:
        assert copied.tables[name] == direct.tables[name], name
    assert copied.manifest["run_id"] == "b-other-r01" and copied.manifest["params"] == {"scenario": "other"}


def _tiny_baseline() -> dict[str, object]:
    from experiments.sweep_config import resolve_base
    from market.config.files import apply_settings, read_toml

    return apply_settings(read_toml(resolve_base("baseline")), {
        "simulation.steps": 4, "segments.0.n_agents": 40, "segments.1.n_agents": 40, "segments.2.n_agents": 40})


class CountingEvaluator(SerialEvaluator):
    """Runs in-process and counts the runs it executes."""

    def __init__(self) -> None:
        super().__init__(execute_run)
        self.runs: list[str] = []

    def evaluate(self, tasks):  # type: ignore[no-untyped-def]
        for outcome in super().evaluate(tasks):
            self.runs.append(outcome.run_id)
            yield outcome


@pytest.mark.slow
def test_two_theses_sharing_a_scenario_run_it_once(tmp_path: Path) -> None:
    theses = tmp_path / "theses"
    theses.mkdir()
    (theses / "first.toml").write_text(_thesis("first", 1, "plain", 0.3))
    (theses / "second.toml").write_text(_thesis("second", 2, "same", 0.3))  # identical scenario, another name
    (theses / "third.toml").write_text(_thesis("third", 3, "other", 0.6))
    shared = CountingEvaluator()
    table = run_theses(tmp_path / "shared", theses_dir=theses, evaluator=shared)
    # 3 theses x 2 replications = 6 stored runs from 4 distinct ones
    assert len(shared.runs) == 4
    assert sorted(shared.runs) == ["first-plain-r00", "first-plain-r01", "third-other-r00", "third-other-r01"]
    # each thesis alone: the second thesis's tables are the same as when it runs its scenario itself
    alone = CountingEvaluator()
    alone_table = run_theses(tmp_path / "alone", theses_dir=theses, evaluator=alone, only=["second"])
    assert alone.runs == ["second-same-r00", "second-same-r01"]
    for name in ("model", "providers", "events"):
        a = load_sweep(tmp_path / "shared" / "second", name)
        b = load_sweep(tmp_path / "alone" / "second", name)
        pd.testing.assert_frame_equal(a, b)
        for run in ("second-same-r00", "second-same-r01"):
            stored = (tmp_path / "shared" / "second" / "runs" / run / f"{name}.parquet").read_bytes()
            assert stored == (tmp_path / "alone" / "second" / "runs" / run / f"{name}.parquet").read_bytes()
    first = table.set_index("thesis")
    assert first.loc["first", "estimate"] == first.loc["second", "estimate"]
    assert alone_table.iloc[0]["estimate"] == first.loc["second", "estimate"]
    assert first.loc["third", "estimate"] != first.loc["first", "estimate"]


@pytest.mark.slow
def test_resume_writes_only_the_missing_copies(tmp_path: Path) -> None:
    theses = tmp_path / "theses"
    theses.mkdir()
    (theses / "first.toml").write_text(_thesis("first", 1, "plain", 0.3))
    (theses / "second.toml").write_text(_thesis("second", 2, "same", 0.3))
    out = tmp_path / "out"

    class Interrupted(SerialEvaluator):
        """Stops (as on Ctrl-C) after the first distinct run."""

        def evaluate(self, tasks):  # type: ignore[no-untyped-def]
            for outcome in super().evaluate(tasks):
                yield outcome
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_theses(out, theses_dir=theses, evaluator=Interrupted(execute_run))
    stored = sorted(p.name for p in (out / "second" / "runs").iterdir())
    assert stored == ["second-same-r00"]  # the first distinct run was stored for both theses
    resumed = CountingEvaluator()
    table = run_theses(out, theses_dir=theses, evaluator=resumed, resume=True)
    assert resumed.runs == ["first-plain-r01"]
    assert (table["n"] == 2).all()


def test_a_failed_run_is_recorded_for_every_thesis_that_shares_it() -> None:
    source = _task("a", 0, {"x": 1})
    target = _task("b", 1, {"x": 1})
    failed = RunOutcome.failure(source, "ValueError: boom")
    copy = relabel_outcome(failed, source, target)
    assert copy.run_id == "b" and copy.status == "failed" and copy.error == "ValueError: boom"

