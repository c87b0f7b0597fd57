"""Learning (q_learning) providers in the inference market: the shipped scenario, determinism, Ray."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from experiments.evaluators import parquet_bytes
from experiments.run import run_scenario
from experiments.sweep import run_sweep
from market.config.files import ConfigError, load_scenario, read_toml
from market.model import InferenceMarket
from tests.experiments.test_sweep_ray import assert_same_results

CONFIGS = Path(__file__).resolve().parents[2] / "experiments" / "configs"
LEARNING = CONFIGS / "learning_specialists.toml"
SMALL = ["segments.performance_first.n_agents=60", "segments.control_first.n_agents=60",
         "segments.cost_first.n_agents=60"]


def test_learning_scenario_is_the_baseline_with_learning_specialists() -> None:
    learning, baseline = read_toml(LEARNING), read_toml(CONFIGS / "baseline.toml")
    for doc in (learning, baseline):
        doc.pop("name"), doc.pop("description")
    specialist = next(p for p in baseline["providers"] if p["name"] == "specialist")
    specialist["pricing"] = {"strategy": "q_learning"}
    entrant = next(e for e in baseline["corporate"]["entrants"] if e["name"] == "new_specialist")
    entrant["provider"]["pricing"] = {"strategy": "q_learning"}
    assert learning == baseline


def table_bytes(seed: int) -> dict[str, bytes]:
    result = run_scenario(load_scenario(LEARNING, SMALL), seed, steps=6)
    return {name: parquet_bytes(frame) for name, frame in result.tables().items()}


def test_a_run_with_learning_providers_is_byte_identical_for_a_seed() -> None:
    first, again, other = table_bytes(3), table_bytes(3), table_bytes(4)
    assert first == again
    assert first["providers"] != other["providers"]


def test_learners_see_their_rivals_prices_after_the_first_clearing() -> None:
    model = InferenceMarket(load_scenario(LEARNING, SMALL), seed=1)
    learners = [p for p in model.providers if p.pricing.name == "q_learning"]
    assert len(learners) == 4
    model.step()
    bins = learners[0].pricing.params.rival_bins
    assert all(np.all(p.pricing.state % (bins + 1) == bins) for p in learners)  # nothing observed at step 0
    model.step()
    view = learners[0].pricing_view(model.step_index, model.fleet, model.observation, model.form)
    assert np.all(np.isfinite(view.rival_price)) and np.all(view.rival_price > 0)
    assert all(np.all(p.pricing.state % (bins + 1) < bins) for p in learners)  # rivals' prices observed


def test_learning_generators_differ_by_provider_and_leave_other_draws_alone() -> None:
    """Provider h's learner draws from child h of the fourth child of the run's root SeedSequence."""
    model = InferenceMarket(load_scenario(LEARNING, SMALL), seed=1)
    a, b = model.providers[4].pricing.rng, model.providers[5].pricing.rng  # type: ignore[attr-defined]
    expected = np.random.default_rng(np.random.SeedSequence(1, spawn_key=(3, 4))).random()
    assert a.random() == expected
    assert b.random() != expected


def test_bad_learning_parameters_name_the_key() -> None:
    with pytest.raises(ConfigError, match="max_markup"):
        load_scenario(LEARNING, ["providers.specialist.pricing.max_markup=-0.5"])
    with pytest.raises(ConfigError, match="alpha"):
        load_scenario(LEARNING, ["providers.specialist.pricing.alpha=0"])


SWEEP = """
name = "learning_ray_check"
base = "learning_specialists"
replications = 2
root_seed = 11

[settings]
"simulation.steps" = 4
"segments.0.n_agents" = 40
"segments.1.n_agents" = 40
"segments.2.n_agents" = 40

[[parameters]]
name = "alpha"
path = "providers.specialist.pricing.alpha"
values = [0.15, 0.5]
"""


@pytest.mark.slow
def test_serial_and_ray_runs_of_learning_providers_are_identical(local_ray: None, tmp_path: Path) -> None:
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP)
    serial = run_sweep(path, tmp_path / "serial", workers=1)
    run_sweep(path, tmp_path / "ray", workers=2)
    assert serial["status"].value_counts().to_dict() == {"finished": 4}
    assert_same_results(tmp_path / "serial", tmp_path / "ray")
