"""What makes the model a Mesa model as Mesa users expect: seeds for ``mesa.batch_run``, the data collector.

``mesa.batch_run`` (Mesa 3.3) builds every iteration of a parameter combination with the same keyword
parameters and tells the model nothing about the iteration. So that iterations are different and still
reproducible, the model derives iteration ``k``'s seed from the parameters' seed with
:func:`batch_iteration_seed`, reading ``k`` from the batch runner's frame (:func:`mesa_batch_iteration`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import mesa
import numpy as np

from market.config import ScenarioConfig
from market.config.schema import MAX_SEED


def batch_iteration_seed(seed: int, iteration: int) -> int:
    """Seed of iteration ``iteration`` of a batch run: ``seed`` itself for iteration 0, else the first 63-bit
    word of the last of ``SeedSequence(seed).spawn(iteration)``."""
    if iteration <= 0:
        return int(seed)
    child = np.random.SeedSequence(int(seed)).spawn(iteration)[-1]
    return int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def model_seed(config: ScenarioConfig, seed: int | None, rng: int | None) -> int:
    """The root seed of a model: ``seed`` (or Mesa's ``rng`` given as an integer), else the scenario's; moved to
    the iteration's seed when ``mesa.batch_run`` builds the model."""
    if seed is not None and rng is not None:
        raise ValueError("pass either seed or rng, not both")
    if rng is not None and not isinstance(rng, int | np.integer):
        raise ValueError(f"rng must be an integer seed, got {rng!r}")
    base = config.simulation.seed if seed is None and rng is None else int(seed if seed is not None else rng)  # type: ignore[arg-type]
    if not 0 <= base <= MAX_SEED:
        raise ValueError(f"seed = {base}: a seed must satisfy 0 <= seed < 2**63")
    return batch_iteration_seed(base, mesa_batch_iteration())


def mesa_batch_iteration() -> int:
    """The iteration number when called while ``mesa.batch_run`` builds a model, else 0.

    Mesa's worker function ``mesa.batchrunner._model_run_func`` holds the iteration in its ``run`` tuple
    ``(run_id, iteration, kwargs)``, in the calling process and in pool workers alike.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "_model_run_func" and frame.f_globals.get("__name__") == "mesa.batchrunner":
            run = frame.f_locals.get("run")
            if isinstance(run, tuple) and len(run) == 3 and isinstance(run[1], int):
                return run[1]
        frame = frame.f_back  # type: ignore[assignment]
    return 0


def market_datacollector(columns: Sequence[str]) -> mesa.DataCollector:
    """A ``mesa.DataCollector`` whose model reporters are the seed and the model table's ``columns`` (read from
    the recorder's last row, so collecting costs no extra computation), and whose agent reporters are each
    firm's name, kind, cash and activity."""

    def column(name: str) -> Callable[[Any], Any]:
        return lambda model: model.recorder.last_model_row[name]

    def attribute(name: str) -> Callable[[Any], Any]:
        return lambda agent: getattr(agent, name, None)

    return mesa.DataCollector(
        model_reporters={"seed": attribute("seed"), **{c: column(c) for c in columns}},
        agent_reporters={k: attribute(k) for k in ("name", "kind", "cash", "active")},
    )
