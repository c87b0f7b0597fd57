"""The machine, the scaling fit, the targets of issue 12, and the tables printed with rich."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from benchmarks.bench_engine import STAGES

TARGETS = {  # name: (key, bound, "max" or "min")
    "whole run under 60 s (100,000 x 100 x 120)": ("wall_s", 60.0, "max"),
    "peak memory under 4 GiB": ("peak_rss_mib", 4096.0, "max"),
    "clearing at least 20x faster than per-agent Mesa": ("clearing_vs_mesa", 20.0, "min"),
    "clearing within 2x of the numpy floor": ("clearing_vs_floor", 2.0, "max"),
    "clearing cost at most linear in enterprises x offers (exponent)": ("clear_market_stage_exponent", 1.1, "max"),
    "Ray on 2 workers at least 1.7x serial throughput": ("ray_speedup", 1.7, "min"),
}


def machine(load_before: tuple[float, ...]) -> dict[str, Any]:
    """CPU model, cores, load averages before and now, versions and time."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), model)
    except OSError:
        pass
    return {"cpu_model": model, "cores": os.cpu_count(), "load_average_before": list(load_before),
            "load_average_after": list(os.getloadavg()), "python": platform.python_version(),
            "numpy": np.__version__, "mesa": version("mesa"),
            "date_utc": datetime.now(UTC).isoformat(timespec="seconds")}


def scaling(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Exponents b of cost = a * (enterprises x offers)^b, fitted by least squares on logs over the cases."""
    if len({c["cells"] / c["steps"] for c in cases}) < 2:
        return {}
    cells = np.log([c["cells"] / c["steps"] for c in cases])
    last = np.log([c["enterprises"] * c["offers_last_step"] for c in cases])

    def fit(x: Any, seconds: list[float]) -> float:
        return float(np.polyfit(x, np.log(seconds), 1)[0])

    return {
        "clear_market_stage_exponent": fit(cells, [c["clear_market_s"] / c["steps"] for c in cases]),
        "per_step_exponent": fit(cells, [c["per_step_s"] for c in cases]),
        "engine_clearing_exponent": fit(last, [c["engine_clearing_s"] for c in cases]),
        "cases": len(cases),
    }


def targets(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target of issue 12 with the measured value and whether it is met (only those measured)."""
    out = {}
    for name, (key, bound, kind) in TARGETS.items():
        if key in figures:
            value = figures[key]
            out[name] = {"value": value, "bound": bound, "met": value <= bound if kind == "max" else value >= bound}
    return out


def print_cases(cases: list[dict[str, Any]], console: Console) -> None:
    """The per-case table and the per-stage table."""
    table = Table(title="Engine runs (seconds are wall time; clearing ratios on the last step's inputs)")
    for head in ("enterprises", "providers", "offers", "steps", "wall s", "per step ms", "CPU ms/step",
                 "clearing share", "peak MiB", "Mcells/s", "vs Mesa", "vs floor", "Mesa sample"):
        table.add_column(head, justify="right")
    for c in cases:
        table.add_row(f"{c['enterprises']:,}", str(c["providers"]), str(c["offers_last_step"]), str(c["steps"]),
                      f"{c['wall_s']:.2f}", f"{1000 * c['per_step_s']:.1f}", f"{1000 * c['per_step_cpu_s']:.1f}",
                      f"{c['clear_market_s'] / c['steps_s']:.0%}", f"{c['peak_rss_mib']:.0f}",
                      f"{c['cells_per_s'] / 1e6:.0f}", f"{c['clearing_vs_mesa']:.1f}x",
                      f"{c['clearing_vs_floor']:.2f}x", f"{c['mesa_sample']:,}")
    console.print(table)
    for c in cases:
        if c["mesa_sample"] < c["enterprises"]:
            console.print(f"{c['enterprises']:,} x {c['providers']}: the Mesa reference cleared {c['mesa_sample']:,} "
                          f"enterprises in {c['mesa_sample_s']:.2f} s, scaled to {c['mesa_s']:.1f} s for all; on the "
                          f"same sample it is {c['clearing_vs_mesa_same_sample']:.1f}x the engine's time")
    stages = Table(title="Per-step time by stage, ms")
    stages.add_column("enterprises x providers", justify="right")
    for name in STAGES:
        stages.add_column(name.replace("_", " "), justify="right")
    for c in cases:
        stages.add_row(f"{c['enterprises']:,} x {c['providers']}",
                       *(f"{1000 * c[f'{n}_s'] / c['steps']:.1f}" for n in STAGES))
        stages.add_row("  CPU", *(f"{1000 * c[f'{n}_cpu_s'] / c['steps']:.1f}" for n in STAGES))
    console.print(stages)


def print_tiers(c: dict[str, Any], console: Console) -> None:
    """The tiered scenario's run: its size and per-step time by stage."""
    console.print(f"tiered scenario ({c['scenario']}): {c['enterprises']:,} enterprises, {c['providers_active']} "
                  f"providers, {c['tiers']} tiers, {c['task_classes']} task classes, {c['offers_last_step']} offers "
                  f"in {c['pools_last_step']} capacity pools (last step), {c['steps']} steps: wall "
                  f"{c['wall_s']:.2f} s, {1000 * c['per_step_s']:.1f} ms per step ({1000 * c['per_step_cpu_s']:.1f} ms "
                  f"CPU), peak {c['peak_rss_mib']:.0f} MiB")
    console.print("  per step by stage, ms: " + ", ".join(f"{n.replace('_', ' ')} {1000 * c[f'{n}_s'] / c['steps']:.1f}"
                                                        for n in STAGES))


def print_summary(document: dict[str, Any], console: Console) -> None:
    """Scaling, sweep figures, targets and the machine."""
    for key, value in document.get("scaling", {}).items():
        console.print(f"scaling: {key} = {value:.3f}" if isinstance(value, float) else f"scaling: {key} = {value}")
    sweep = document.get("sweep")
    if sweep:
        console.print(f"sweep ({sweep['scenario']}, {sweep['runs']} runs): serial {sweep['serial_runs_per_min']:.1f} "
                      f"runs/min, Ray x{sweep['workers']} {sweep['ray_runs_per_min']:.1f} runs/min "
                      f"(speed-up {sweep['ray_speedup']:.2f}x; Ray start {sweep['ray_start_s']:.1f} s; overhead "
                      f"{sweep['ray_overhead_s_per_run']:.2f} s per run)")
        console.print(f"load_sweep of {sweep['load_runs']:,} runs ({sweep['load_parquet_files']:,} Parquet files, "
                      f"{sweep['load_bytes'] / 2**20:.1f} MiB): {sweep['load_table']}.{sweep['load_column']} "
                      f"({sweep['load_rows']:,} rows) in {sweep['load_s']:.2f} s, "
                      f"{sweep['load_rss_above_imports_mib']:.0f} MiB above the imports")
    for name, t in document.get("targets", {}).items():
        console.print(f"target {'met   ' if t['met'] else 'missed'} {name}: {t['value']:.3g} (bound {t['bound']:g})")
    m = document["machine"]
    console.print(f"machine: {m['cpu_model']}, {m['cores']} cores, load average {m['load_average_before'][0]:.2f} "
                  f"before, {m['load_average_after'][0]:.2f} after")
