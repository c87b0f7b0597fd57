"""The engine's side of the benchmark: a baseline-like market of a given size, run with every stage timed.

The scenario is the baseline with the enterprise segments scaled to the requested number of agents and the
specialist group sized so the market has the requested number of providers (each provider posts one offer
per region it serves, so 100 providers make about 200 offers).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from market import clearing_kernel
from market.config.files import load_scenario
from market.model import InferenceMarket

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("advance_technology", "grow_demand", "post_offers", "clear_market", "settle", "invest",
          "corporate_events", "collect")


def scenario(enterprises: int, providers: int, steps: int):  # type: ignore[no-untyped-def]
    """The baseline scaled to ``enterprises`` agents and ``providers`` providers."""
    base = load_scenario(ROOT / "experiments/configs/baseline.toml")
    total_agents = sum(s.n_agents for s in base.segments)
    others = sum(p.count for p in base.providers if p.name != "specialist")
    specialists = providers - others
    if specialists < 1:
        raise SystemExit(f"providers must be at least {others + 1}, got {providers}")
    overrides = [f"simulation.steps={steps}", f"providers.specialist.count={specialists}"]
    for i, seg in enumerate(base.segments):
        overrides.append(f"segments.{i}.n_agents={max(1, round(seg.n_agents * enterprises / total_agents))}")
    return load_scenario(ROOT / "experiments/configs/baseline.toml", overrides)


def tiers_scenario(steps: int):  # type: ignore[no-untyped-def]
    """The tiered scenario (experiments/configs/tiers.toml) at its own size, for ``steps`` steps."""
    return load_scenario(ROOT / "experiments/configs/tiers.toml", [f"simulation.steps={steps}"])


class ClearingInputs:
    """Keeps the arguments of the model's last clearing and counts enterprise-offer cells over the run.

    While installed, it wraps the two functions ``InferenceMarket.clear_market`` calls through the configured
    clearing (``market.clearing_kernel.engine(simulation.clearing_kernel)``: ``logit_shares`` and
    ``clear_with_volume_response``), and keeps the final clearing's inputs at the fixed-point volume (what
    ``clear_logit_market`` reproduces); the model itself is not changed. The utilities are copied (the model lets
    the shares overwrite them) only while ``capture`` is set, which :func:`run` does for the last step: keeping
    them costs one enterprises x offers matrix and one copy.
    """

    def __init__(self) -> None:
        self.logit: tuple[Any, ...] = ()
        self.clearing: tuple[Any, ...] = ()
        self.cells = 0
        self.capture = False
        self._originals = dict(clearing_kernel.ENGINES)

    def __enter__(self) -> ClearingInputs:
        for name, engine in self._originals.items():
            clearing_kernel.ENGINES[name] = self._wrapped(engine)
        return self

    def _wrapped(self, engine: clearing_kernel.ClearingEngine) -> clearing_kernel.ClearingEngine:
        def logit(*args: Any, **kwargs: Any) -> Any:
            if self.capture:
                self.logit = (args[0].copy(), *args[1:])
            return engine.logit_shares(*args, **kwargs)

        def clear(*args: Any, **kwargs: Any) -> Any:
            self.cells += args[0].size  # the clearing's cells (not the opening solve's trial clearings)
            result = engine.clear_with_volume_response(*args, **kwargs)
            self.clearing = (result.volume, *args[5:8])  # volume, capacity, price, rounds (shares, outside recomputed)
            return result

        return replace(engine, logit_shares=logit, clear_with_volume_response=clear)

    def __exit__(self, *exc: object) -> None:
        clearing_kernel.ENGINES.update(self._originals)


def run(enterprises: int, providers: int, steps: int, seed: int = 0,
        inputs: ClearingInputs | None = None, config: Any = None) -> dict[str, float]:
    """Time set-up, every stage, the whole run and the output frames; no files are written (``config``: a
    scenario to run instead of the scaled baseline, such as :func:`tiers_scenario`). Stages and steps are timed
    in wall seconds (``*_s``) and in this process's CPU seconds (``*_cpu_s``, ``steps_cpu_s``): on a machine
    shared with other work the CPU time is the steadier figure, as the kernels and BLAS run on one thread."""
    config = scenario(enterprises, providers, steps) if config is None else config
    t0 = time.perf_counter()
    model = InferenceMarket(config, seed=seed)
    setup = time.perf_counter() - t0
    spent: dict[str, float] = defaultdict(float)
    for name in STAGES:
        stage = getattr(model, name)

        def timed(stage=stage, name=name):  # type: ignore[no-untyped-def]
            start, cpu = time.perf_counter(), time.process_time()
            stage()
            spent[name] += time.perf_counter() - start
            spent[f"{name}_cpu"] += time.process_time() - cpu

        setattr(model, name, timed)
    t1, cpu1 = time.perf_counter(), time.process_time()
    for step in range(steps):
        if inputs is not None and step == steps - 1:
            inputs.capture = True  # the last clearing's utilities, for the reference timings
        model.step()
    stepping, stepping_cpu = time.perf_counter() - t1, time.process_time() - cpu1
    t2 = time.perf_counter()
    model.recorder.frames()
    frames = time.perf_counter() - t2
    offers = len(model.offers) if model.offers is not None else 0
    classes = model._task_classes(model.offers)
    return {"setup_s": setup, "steps_s": stepping, "frames_s": frames, "wall_s": setup + stepping + frames,
            "per_step_s": stepping / steps, "steps_cpu_s": stepping_cpu, "per_step_cpu_s": stepping_cpu / steps,
            "offers_last_step": offers, "scenario": config.name,
            "enterprises": model.population.size, "tiers": len(model.tiers.names) if model.tiers.declared else 1,
            "task_classes": 1 if classes is None else int(classes.mix.shape[1]),
            "pools_last_step": int(model.offers.n_pools),
            "providers_active": sum(p.active for p in model.providers), **{f"{k}_s": v for k, v in spent.items()}}
