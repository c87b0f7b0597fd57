"""What makes the model a Mesa model as Mesa users expect: seeds for ``mesa.batch_run``, the data collector, and
models that are freed when their last reference goes.

``mesa.batch_run`` (Mesa 3.3) builds every iteration of a parameter combination with the same keyword
parameters and tells the model nothing about the iteration. So that iterations are different and still
reproducible, the model derives iteration ``k``'s seed from the parameters' seed with
:func:`batch_iteration_seed`, reading ``k`` from the batch runner's frame (:func:`mesa_batch_iteration`).

Mesa 3.3 numbers agents per model in a class attribute, ``mesa.Agent._ids``, a ``defaultdict`` keyed by the model
itself: every model ever built stays referenced by it, with its agents and all their arrays, for the life of the
process (measured: about 9 MB a baseline run; a Ray worker of a 3,300-run sweep grew to 7.7 GB; Mesa's issue
#3179, fixed upstream by pull request #3180, which numbers agents at registration instead).
:func:`release_models_when_unreferenced` replaces that dictionary with one that holds its models weakly
(:class:`AgentCounters`): agents are numbered exactly as before, and a model is freed when nothing else refers
to it.
"""

from __future__ import annotations

import itertools
import sys
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import mesa
import numpy as np

from market.config import ScenarioConfig
from market.config.schema import MAX_SEED


class AgentCounters(weakref.WeakKeyDictionary[Any, "itertools.count[int]"]):
    """``mesa.Agent._ids`` with weak keys: the counter of agent ids of each live model, from 1 (as Mesa's)."""

    def __getitem__(self, model: Any) -> itertools.count[int]:
        counter = self.get(model)
        if counter is None:
            counter = self[model] = itertools.count(1)
        return counter


def release_models_when_unreferenced() -> None:
    """Install :class:`AgentCounters` as ``mesa.Agent._ids``, keeping the counters of models already built (a
    no-op when installed before, or with a Mesa that has no ``Agent._ids``)."""
    current = getattr(mesa.Agent, "_ids", None)
    if current is None or isinstance(current, AgentCounters):  # a Mesa without the class-level counters
        return
    counters = AgentCounters()
    for model, counter in list(current.items()):
        counters[model] = counter
    mesa.Agent._ids = counters


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
