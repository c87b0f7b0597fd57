"""Models are freed when their last reference goes (market.mesa_support: Mesa 3.3 keeps every model in
``mesa.Agent._ids``, a class-level dictionary keyed by the model)."""

from __future__ import annotations

import gc
import weakref

import mesa

from market.config.files import load_scenario
from market.mesa_support import AgentCounters
from market.model import InferenceMarket


def test_a_model_nothing_refers_to_is_freed() -> None:
    config = load_scenario("experiments/configs/baseline.toml", ["simulation.steps=2"])
    model = InferenceMarket(config, seed=1)
    model.step()
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None  # with Mesa's own dictionary the model (and its agents) would still be alive
    assert isinstance(mesa.Agent._ids, AgentCounters)


def test_agents_are_numbered_from_one_in_each_model_as_mesa_does() -> None:
    config = load_scenario("experiments/configs/baseline.toml", ["simulation.steps=1"])
    first, second = InferenceMarket(config, seed=1), InferenceMarket(config, seed=2)
    for model in (first, second):
        ids = sorted(a.unique_id for a in model.agents)
        assert ids == list(range(1, len(ids) + 1))


def test_counters_keep_counting_for_a_live_model() -> None:
    class Model:
        pass

    counters, model = AgentCounters(), Model()
    assert [next(counters[model]) for _ in range(3)] == [1, 2, 3]
    assert next(counters[Model()]) == 1
    del model
    gc.collect()
    assert len(counters) == 0
