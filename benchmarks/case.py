"""One benchmark case, run in a fresh process so its peak resident memory is its own.

``python -m benchmarks.case ENTERPRISES PROVIDERS STEPS MESA_SAMPLE`` prints one JSON object: the engine's
run (set-up, stage times, wall time, peak RSS) and, on the inputs of the run's last clearing, the timings of
three paths that all start from given utilities:

* ``engine_clearing_s``: ``logit_shares`` plus ``clear_logit_market`` of the fused clearing
  (:mod:`market.clearing_kernel`, the default ``simulation.clearing_kernel``) with the model's rationing rounds
  (the two calls of ``clear_market`` that clear the market; not the utilities, effective volume, consumer
  surplus, pricing observations or main providers, which the model's ``clear_market`` stage also computes), with
  the kernel's threads as in a run (``kernel_threads``, 1 unless ``NUMBA_NUM_THREADS`` is set) and with two
  (``engine_clearing_2_threads_s``);
  ``numpy_clearing_s`` is the same through the numpy reference (:mod:`market.clearing`);
* ``floor_s``: :func:`benchmarks.floor.floor_clearing` (logit with outside option and one capacity pass);
* ``mesa_s``: :class:`benchmarks.mesa_reference.MesaClearing` (per-agent logit and the same rationing rounds),
  timed on ``mesa_sample`` evenly spaced enterprises (capacity scaled by their share of the volume) and scaled
  to the whole market in proportion to the number of agents; ``engine_sample_s`` is the engine on that sample.

Each timing is the shortest of ``REPEATS`` calls, with BLAS on one thread as inside the model's step. No path
collects data. The engine and the floor write their enterprises x offers results into matrices already in memory
(as the model's step writes its allocation into the matrix of two steps ago), so neither pays the page faults of
a new 160 MB matrix, which on a busy machine cost more than the arithmetic; the numpy reference and the Mesa
agents allocate as they always do.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks.bench_engine import ClearingInputs, run, tiers_scenario
from benchmarks.floor import floor_clearing
from market import clearing_kernel, kernel_passes

REPEATS = 3


def peak_rss_mib() -> float:
    """This process's peak resident set size (VmHWM), MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found in /proc/self/status")


def best_time(call: Callable[[], Any], repeats: int = REPEATS) -> float:
    """Shortest wall time of ``repeats`` calls, seconds (the least disturbed by other work on the machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def engine_clearing(utility: Any, outside: Any, mu: float, volume: Any, capacity: Any, price: Any,
                    rounds: int, kernel: str = "fused", buffers: tuple[Any, Any] | None = None) -> Any:
    """The engine's clearing from utilities: logit shares, then allocation with rationing rounds, through the
    clearing ``simulation.clearing_kernel`` chooses (default: the fused kernel); ``buffers``: matrices of the
    utilities' shape the fused kernel writes its shares and allocation into (the numpy reference allocates)."""
    engine = clearing_kernel.engine(kernel)
    into = buffers or (None, None)
    shares, outside_share = engine.logit_shares(utility, outside, mu, out=into[0])
    return engine.clear_logit_market(shares, outside_share, volume, capacity, price, rounds, out=into[1])


def references(inputs: ClearingInputs, mesa_sample: int) -> dict[str, float]:
    """Engine, floor and per-agent Mesa timings on the captured inputs of one clearing."""
    from benchmarks.mesa_reference import MesaClearing  # importing mesa switches multiprocessing to spawn

    utility, outside, mu = inputs.logit
    volume, capacity, price, rounds = inputs.clearing
    n_ent = utility.shape[0]
    buffers = (np.zeros_like(utility), np.zeros_like(utility))  # in memory before any timing, as in a run
    result = engine_clearing(utility, outside, mu, volume, capacity, price, rounds, buffers=buffers)
    rationed = int(np.sum(result.offer_demand > capacity))
    engine_s = best_time(lambda: engine_clearing(utility, outside, mu, volume, capacity, price, rounds,
                                                 buffers=buffers))
    numpy_s = best_time(lambda: engine_clearing(utility, outside, mu, volume, capacity, price, rounds, "numpy"))
    threads = kernel_passes.THREADS
    kernel_passes.THREADS = 2
    two_threads_s = best_time(lambda: engine_clearing(utility, outside, mu, volume, capacity, price, rounds,
                                                      buffers=buffers))
    kernel_passes.THREADS = threads
    floor_s = best_time(lambda: floor_clearing(utility, outside, volume, capacity, mu, out=buffers[0]))
    rows = np.unique(np.linspace(0, n_ent - 1, min(mesa_sample, n_ent)).round().astype(np.int64))
    sample = (np.ascontiguousarray(utility[rows]), outside[rows], volume[rows])
    sample_capacity = capacity * (volume[rows].sum() / volume.sum())
    reference = MesaClearing(*sample, sample_capacity, mu=mu, rounds=rounds)
    mesa_sample_s = best_time(reference.step)  # every step() clears the same inputs from scratch
    engine_sample_s = best_time(lambda: engine_clearing(*sample[:2], mu, sample[2], sample_capacity, price, rounds))
    expected = engine_clearing(*sample[:2], mu, sample[2], sample_capacity, price, rounds).allocation
    gap = float(np.max(np.abs(reference.allocation() - expected)) / max(float(np.max(np.abs(expected))), 1e-300))
    return {"engine_clearing_s": engine_s, "engine_clearing_2_threads_s": two_threads_s, "kernel_threads": threads,
            "numpy_clearing_s": numpy_s, "floor_s": floor_s, "mesa_sample": len(rows),
            "mesa_sample_s": mesa_sample_s, "engine_sample_s": engine_sample_s,
            "mesa_s": mesa_sample_s * n_ent / len(rows), "mesa_max_relative_gap": gap,
            "offers_rationed_last_step": rationed, "clearing_vs_mesa": mesa_sample_s * n_ent / len(rows) / engine_s,
            "clearing_vs_mesa_same_sample": mesa_sample_s / engine_sample_s, "clearing_vs_floor": engine_s / floor_s,
            "clearing_vs_floor_2_threads": two_threads_s / floor_s, "fused_vs_numpy_clearing": numpy_s / engine_s}


def tiers_case(steps: int) -> dict[str, Any]:
    """The tiered scenario at its own size: the engine's run only (its clearing has task classes and capacity
    pools, which the Mesa reference and the floor do not model)."""
    with ClearingInputs() as inputs:
        engine = run(0, 0, steps, inputs=inputs, config=tiers_scenario(steps))
    engine["peak_rss_mib"] = peak_rss_mib()
    engine["cells"] = inputs.cells
    engine["cells_per_s"] = inputs.cells / engine["clear_market_s"]
    engine["steps"] = steps
    return engine


def main(argv: list[str]) -> None:
    """Run one case and print its JSON (``tiers STEPS``: the tiered scenario, :func:`tiers_case`)."""
    if argv[0] == "tiers":
        print(json.dumps(tiers_case(int(argv[1]))))
        return
    enterprises, providers, steps, mesa_sample = (int(a) for a in argv)
    with ClearingInputs() as inputs:
        engine = run(enterprises, providers, steps, inputs=inputs)
    engine["peak_rss_mib"] = peak_rss_mib()
    engine["cells"] = inputs.cells
    engine["cells_per_s"] = inputs.cells / engine["clear_market_s"]
    engine["enterprises"] = inputs.logit[0].shape[0]
    engine["providers"], engine["steps"] = providers, steps
    with threadpool_limits(limits=1, user_api="blas"):  # as inside InferenceMarket.step
        out = {**engine, **references(inputs, mesa_sample)}
    out["stage_vs_floor"] = engine["clear_market_s"] / steps / out["floor_s"]
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
