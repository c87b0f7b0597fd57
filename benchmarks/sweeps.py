"""Sweep throughput (serial in-process against Ray on 2 workers) and reading a 1,000-run sweep back.

* ``throughput``: the same small sweep (the baseline at a reduced size; runs of about 2 s) run by
  :func:`experiments.sweep.run_sweep` with ``workers=1`` (in-process) and with ``workers=2`` on a local Ray
  that this module starts first, alone, so its start-up is timed separately. Runs per minute count the sweep's
  wall time from the call to the return, including writing every run's Parquet files and the manifest; Ray's
  per-run overhead is ``(workers x ray_wall - serial_wall) / runs``: the extra work per run over the serial path.
* ``load``: :func:`analysis.results.load_sweep` of one column over every run of a sweep of ``load_runs`` tiny runs,
  timed in a fresh process whose peak resident memory above its level after the imports is reported.

All sweep directories and Ray's temporary files are under a temporary directory, removed at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_engine import ROOT
from benchmarks.case import peak_rss_mib

LOAD_TABLE, LOAD_COLUMN = "model", "hhi"


def small_sweep(name: str, runs: int, enterprises: int, steps: int) -> Any:
    """A grid sweep without parameters: ``runs`` replications of the baseline at a reduced size."""
    from experiments.sweep_config import SweepConfig
    from market.config.files import load_scenario

    base = load_scenario(ROOT / "experiments/configs/baseline.toml")
    total = sum(s.n_agents for s in base.segments)
    settings: dict[str, Any] = {"simulation.steps": steps}
    for seg in base.segments:
        settings[f"segments.{seg.name}.n_agents"] = max(1, round(seg.n_agents * enterprises / total))
    return SweepConfig(name=name, base="baseline", settings=settings, replications=runs, root_seed=1)


def start_ray(workers: int) -> float:
    """Start the tool's private local Ray (``experiments.ray_session``) of ``workers`` CPUs; returns the
    start-up seconds."""
    import ray

    from experiments.ray_session import start_local_ray

    if ray.is_initialized():
        raise RuntimeError("Ray is already initialised in this process; the benchmark starts its own")
    start = time.perf_counter()
    start_local_ray(workers)
    return time.perf_counter() - start


def timed_sweep(config: Any, out: Path, workers: int) -> float:
    """Wall seconds of one :func:`experiments.sweep.run_sweep` call; every run must finish."""
    from experiments.sweep import run_sweep

    start = time.perf_counter()
    plan = run_sweep(config, out, workers=workers)
    wall = time.perf_counter() - start
    if not (plan["status"] == "finished").all():
        raise RuntimeError(f"sweep in {out} did not finish every run")
    return wall


def measure(runs: int, enterprises: int, steps: int, load_runs: int, workers: int = 2) -> dict[str, Any]:
    """Throughput of ``runs`` runs serially and on Ray, then the load of a ``load_runs``-run sweep."""
    from experiments.ray_session import shutdown_ray

    with tempfile.TemporaryDirectory(prefix="ieco-bench-") as tmp:
        work = Path(tmp)
        config = small_sweep("bench_throughput", runs, enterprises, steps)
        serial_s = timed_sweep(config, work / "serial", workers=1)
        ray_start_s = start_ray(workers)
        try:
            ray_s = timed_sweep(config, work / "ray_sweep", workers=workers)
            tiny = small_sweep("bench_load", load_runs, 60, 12)
            build_s = timed_sweep(tiny, work / "load", workers=workers)
        finally:
            shutdown_ray()
        files = list((work / "load").rglob("*.parquet"))
        load_bytes = sum(f.stat().st_size for f in files)
        load = json.loads(subprocess.run(
            [sys.executable, "-m", "benchmarks.sweeps", str(work / "load")], cwd=ROOT, check=True,
            capture_output=True, text=True).stdout)
    return {
        "scenario": f"baseline, {enterprises:,} enterprises, {steps} steps", "runs": runs, "workers": workers,
        "serial_s": serial_s, "ray_s": ray_s, "ray_start_s": ray_start_s,
        "serial_runs_per_min": 60 * runs / serial_s, "ray_runs_per_min": 60 * runs / ray_s,
        "ray_speedup": serial_s / ray_s, "serial_s_per_run": serial_s / runs,
        "ray_overhead_s_per_run": (workers * ray_s - serial_s) / runs,
        "load_runs": load_runs, "load_build_s": build_s, "load_parquet_files": len(files),
        "load_bytes": load_bytes, **load,
    }


def load_one_column(directory: str) -> dict[str, Any]:
    """Time and memory of ``load_sweep(directory, LOAD_TABLE, [LOAD_COLUMN])`` in this process."""
    import analysis.results as results

    before = peak_rss_mib()
    start = time.perf_counter()
    frame = results.load_sweep(directory, LOAD_TABLE, columns=["run_id", LOAD_COLUMN])
    load_s = time.perf_counter() - start
    return {"load_table": LOAD_TABLE, "load_column": LOAD_COLUMN, "load_rows": len(frame), "load_s": load_s,
            "load_peak_rss_mib": peak_rss_mib(), "load_rss_above_imports_mib": peak_rss_mib() - before}


if __name__ == "__main__":
    print(json.dumps(load_one_column(sys.argv[1])))
