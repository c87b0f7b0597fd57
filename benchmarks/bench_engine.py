"""Engine benchmark: wall time and per-step cost of baseline-like runs, with a per-stage breakdown.

Usage::

    python benchmarks/bench_engine.py                 # 10,000 enterprises x 50 providers x 60 steps
    python benchmarks/bench_engine.py --scale target  # 100,000 x 100 x 120 (the engine's speed goal)
    python benchmarks/bench_engine.py --enterprises 20000 --providers 80 --steps 24

The scenario is the baseline with the enterprise segments scaled to the requested number of agents and the
specialist group sized so the market has the requested number of providers. Times are wall-clock seconds on
this machine; compare stages as shares of one run (machines here are noisy).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from market.config.files import load_scenario
from market.model import InferenceMarket

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("advance_technology", "grow_demand", "post_offers", "clear_market", "settle", "invest",
          "corporate_events", "collect")
SCALES = {"default": (10_000, 50, 60), "target": (100_000, 100, 120)}


def scenario(enterprises: int, providers: int, steps: int):  # type: ignore[no-untyped-def]
    """The baseline scaled to ``enterprises`` agents and ``providers`` providers."""
    base = load_scenario(ROOT / "experiments/configs/baseline.toml")
    total_agents = sum(s.n_agents for s in base.segments)
    others = sum(p.count for p in base.providers if p.name != "specialist")
    specialists = providers - others
    if specialists < 1:
        raise SystemExit(f"--providers must be at least {others + 1}")
    overrides = [f"simulation.steps={steps}", f"providers.specialist.count={specialists}"]
    for i, seg in enumerate(base.segments):
        overrides.append(f"segments.{i}.n_agents={max(1, round(seg.n_agents * enterprises / total_agents))}")
    return load_scenario(ROOT / "experiments/configs/baseline.toml", overrides)


def run(enterprises: int, providers: int, steps: int, seed: int = 0) -> dict[str, float]:
    """Time set-up, every stage and the whole run."""
    config = scenario(enterprises, providers, steps)
    t0 = time.perf_counter()
    model = InferenceMarket(config, seed=seed)
    setup = time.perf_counter() - t0
    spent: dict[str, float] = defaultdict(float)
    for name in STAGES:
        stage = getattr(model, name)

        def timed(stage=stage, name=name):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            stage()
            spent[name] += time.perf_counter() - start

        setattr(model, name, timed)
    t1 = time.perf_counter()
    for _ in range(steps):
        model.step()
    stepping = time.perf_counter() - t1
    frames = model.recorder.frames()
    offers = len(model.offers) if model.offers is not None else 0
    return {"setup_s": setup, "steps_s": stepping, "per_step_ms": 1000 * stepping / steps,
            "offers_last_step": offers, "rows_model": len(frames["model"]), **{f"{k}_s": v for k, v in spent.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="default")
    parser.add_argument("--enterprises", type=int)
    parser.add_argument("--providers", type=int)
    parser.add_argument("--steps", type=int)
    args = parser.parse_args()
    n_ent, n_prov, n_steps = SCALES[args.scale]
    n_ent = args.enterprises or n_ent
    n_prov = args.providers or n_prov
    n_steps = args.steps or n_steps
    result = run(n_ent, n_prov, n_steps)
    total = result["setup_s"] + result["steps_s"]
    print(f"{n_ent:,} enterprises x {n_prov} providers x {n_steps} steps "
          f"({int(result['offers_last_step'])} offers at the end)")
    print(f"  wall time {total:.2f} s: set-up {result['setup_s']:.2f} s, steps {result['steps_s']:.2f} s, "
          f"{result['per_step_ms']:.1f} ms per step")
    for name in STAGES:
        share = result[f"{name}_s"] / result["steps_s"] if result["steps_s"] else np.nan
        print(f"  {name:<20} {result[f'{name}_s']:7.2f} s  {share:6.1%}")


if __name__ == "__main__":
    main()
