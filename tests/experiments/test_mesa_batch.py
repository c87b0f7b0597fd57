"""``InferenceMarket`` used as Mesa users use a model: ``mesa.batch_run`` with key-path parameters, and the
``DataCollector``.

Expected values come from an independent path: :func:`experiments.run.run_scenario` on the scenario loaded
with the same settings as ``--set`` overrides, with the seed :func:`market.mesa_support.batch_iteration_seed` gives
each iteration. A batch run must reproduce those runs to 1e-12, and its iterations must differ.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from typing import Any

import mesa
import pandas as pd
import pytest

from experiments.run import run_scenario
from market.config.files import load_scenario
from market.mesa_support import batch_iteration_seed
from market.model import InferenceMarket
from tests.conftest import CONFIG_DIR, REPO_ROOT

BASELINE = CONFIG_DIR / "baseline.toml"

REDUCED = {
    "simulation__steps": 6,
    "segments__performance_first__n_agents": 30,
    "segments__control_first__n_agents": 20,
    "segments__cost_first__n_agents": 50,
}
"""The baseline with a hundredth of its enterprise agents, for six months: a run takes a few hundredths of a
second."""

MUS = [0.3, 0.4]
CHECKED = ("hhi", "price_index", "quality_adjusted_price_index", "share_specialized", "secondary_gpu_price")


def batch_parameters() -> dict[str, Any]:
    return {"scenario": str(BASELINE), **REDUCED, "logit__mu": MUS}


def expected_run(mu: float, seed: int) -> pd.DataFrame:
    """The model table of the same run made the other way: overrides on the scenario file, ``run_scenario``."""
    overrides = [f"{key.replace('__', '.')}={value}" for key, value in {**REDUCED, "logit__mu": mu}.items()]
    return run_scenario(load_scenario(BASELINE, overrides), seed=seed).model


def model_rows(results: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per (run, step): batch_run repeats the model columns on every agent's row."""
    frame = pd.DataFrame(list(results))
    return frame.drop_duplicates(["RunId", "Step"])[
        ["RunId", "iteration", "Step", "logit__mu", "seed", *CHECKED]
    ].sort_values(["RunId", "Step"])


def check_batch(results: list[dict[str, Any]]) -> None:
    """Each run equals ``run_scenario`` with its iteration's seed; the two iterations differ."""
    rows = model_rows(results)
    base_seed = load_scenario(BASELINE).simulation.seed
    runs = list(rows.groupby("RunId"))
    assert len(runs) == len(MUS) * 2
    assert sorted({(float(r["logit__mu"].iloc[0]), int(r["iteration"].iloc[0])) for _, r in runs}) == [
        (mu, it) for mu in MUS for it in (0, 1)
    ]
    finals: dict[tuple[float, int], float] = {}
    for _, run in runs:
        mu, iteration = float(run["logit__mu"].iloc[0]), int(run["iteration"].iloc[0])
        seed = batch_iteration_seed(base_seed, iteration)
        assert (run["seed"] == seed).all(), "each run reports the seed it ran with"
        expected = expected_run(mu, seed)
        assert run["Step"].tolist() == expected["step"].tolist() == list(range(REDUCED["simulation__steps"]))
        for column in CHECKED:
            assert run[column].to_numpy() == pytest.approx(expected[column].to_numpy(), rel=1e-12, abs=1e-12,
                                                           nan_ok=True), column
        finals[(mu, iteration)] = float(run["price_index"].iloc[-1])
    assert batch_iteration_seed(base_seed, 0) != batch_iteration_seed(base_seed, 1)
    for mu in MUS:
        assert finals[(mu, 0)] != finals[(mu, 1)], "iterations of one parameter set must be different runs"


def test_batch_run_in_process_matches_run_scenario() -> None:
    results = mesa.batch_run(InferenceMarket, parameters=batch_parameters(), iterations=2, number_processes=1,
                             data_collection_period=1, display_progress=False)
    check_batch(results)


def test_batch_run_on_a_process_pool_matches_run_scenario(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``number_processes=None``: Mesa's pool of worker processes, started with the spawn method Mesa forces;
    run from a script guarded by ``if __name__ == "__main__"``, as spawn requires."""
    out = tmp_path / "batch.json"
    script = tmp_path / "batch_pool.py"
    script.write_text(textwrap.dedent(f"""
        import json
        import mesa
        from market.model import InferenceMarket

        if __name__ == "__main__":
            parameters = {batch_parameters()!r}
            results = mesa.batch_run(InferenceMarket, parameters=parameters, iterations=2, number_processes=None,
                                     data_collection_period=1, display_progress=False)
            with open({str(out)!r}, "w") as fh:
                json.dump(results, fh)
    """))
    done = subprocess.run([sys.executable, str(script)], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    check_batch(json.loads(out.read_text()))


def test_datacollector_model_table_is_the_run_model_table() -> None:
    """``model.datacollector.get_model_vars_dataframe()`` holds the model table a run writes, one row a step."""
    model = InferenceMarket(scenario=BASELINE, seed=7, **REDUCED)
    model.run_model()
    assert model.steps == REDUCED["simulation__steps"] and not model.running
    collected = model.datacollector.get_model_vars_dataframe()
    expected = expected_run(load_scenario(BASELINE).logit.mu, 7)
    assert len(collected) == len(expected) == REDUCED["simulation__steps"]
    assert (collected["seed"] == 7).all()
    for column in CHECKED:
        assert collected[column].to_numpy() == pytest.approx(expected[column].to_numpy(), rel=1e-12, abs=1e-12,
                                                             nan_ok=True), column
