"""``python -m benchmarks``: the engine benchmark of issue 12 (see benchmarks/README.md for every number).

Examples::

    python -m benchmarks                                  # 1,000 / 10,000 / 100,000 x 20 / 50 / 100, 12 steps,
                                                          # then the tiered scenario at its own size
    python -m benchmarks --quick                          # a smoke test: two small cases
    python -m benchmarks --scale target --json FILE       # 100,000 x 100 x 120 only
    python -m benchmarks --scale sweep                    # sweep throughput and load_sweep of 1,000 runs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks.bench_engine import ROOT
from benchmarks.report import machine, print_cases, print_summary, print_tiers, scaling, targets

GRID = [(e, p) for e in (1_000, 10_000, 100_000) for p in (20, 50, 100)]
QUICK = [(1_000, 20), (10_000, 50)]
TARGET = (100_000, 100, 120)
TARGET_KEYS = ("wall_s", "peak_rss_mib", "per_step_s", "cells_per_s", "clearing_vs_mesa", "clearing_vs_floor")


def run_case(enterprises: int, providers: int, steps: int, mesa_sample: int, console: Console) -> dict[str, Any]:
    """One case in a fresh process (``benchmarks.case``), so that its peak memory is its own."""
    console.print(f"running {enterprises:,} enterprises x {providers} providers x {steps} steps ...")
    done = subprocess.run([sys.executable, "-m", "benchmarks.case", str(enterprises), str(providers), str(steps),
                           str(mesa_sample)], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"case {enterprises} x {providers} x {steps} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_tiers(steps: int, console: Console) -> dict[str, Any]:
    """The tiered scenario at its own size in a fresh process (``benchmarks.case tiers STEPS``)."""
    console.print(f"running the tiered scenario (experiments/configs/tiers.toml) x {steps} steps ...")
    done = subprocess.run([sys.executable, "-m", "benchmarks.case", "tiers", str(steps)], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"tiered case failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def positive(text: str) -> int:
    """A whole number of at least one (argparse exits with code 2 naming the option otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("grid", "target", "sweep"), default="grid",
                        help="grid: the 3 x 3 grid; target: 100,000 x 100 x 120 only; sweep: sweep figures only")
    parser.add_argument("--quick", action="store_true", help="a smoke test: two small cases of 3 steps")
    parser.add_argument("--steps", type=positive, default=12, help="steps of every grid case (default 12)")
    parser.add_argument("--mesa-sample", type=positive, default=10_000,
                        help="enterprises the per-agent Mesa reference clears (scaled to the whole market)")
    parser.add_argument("--sweep", action="store_true", help="with the grid, also measure sweep throughput")
    parser.add_argument("--sweep-runs", type=positive, default=16, help="runs of the throughput sweep (default 16)")
    parser.add_argument("--sweep-enterprises", type=positive, default=30_000,
                        help="enterprises of the throughput scenario (default 30,000; runs of about 2-3 s)")
    parser.add_argument("--sweep-steps", type=positive, default=60,
                        help="steps of the throughput scenario (default 60)")
    parser.add_argument("--load-runs", type=positive, default=1_000, help="runs of the sweep read by load_sweep")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results.json", help="JSON output")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the chosen benchmark, print its tables and write its JSON."""
    args = parse(argv)
    console = Console(width=max(Console().width, 150))
    load_before = os.getloadavg()
    document: dict[str, Any] = {"command": " ".join(["python -m benchmarks", *(argv or sys.argv[1:])])}
    if args.scale == "target":
        case = run_case(*TARGET, args.mesa_sample, console)
        document.update({k: case[k] for k in TARGET_KEYS}, case=case)
        print_cases([case], console)
        document["targets"] = targets(case)
    elif args.scale == "grid":
        steps = 3 if args.quick else args.steps
        sample = min(args.mesa_sample, 1_000) if args.quick else args.mesa_sample
        cases = [run_case(e, p, steps, sample, console) for e, p in (QUICK if args.quick else GRID)]
        document.update(cases=cases, scaling=scaling(cases))
        print_cases(cases, console)
        largest = max(cases, key=lambda c: c["cells"])
        document["targets"] = targets({**{k: largest[k] for k in TARGET_KEYS[1:]}, **document["scaling"]})
        if not args.quick:
            document["tiers"] = run_tiers(args.steps, console)
            print_tiers(document["tiers"], console)
    if args.scale == "sweep" or args.sweep:
        from benchmarks.sweeps import measure

        console.print("measuring sweep throughput and load_sweep (minutes) ...")
        document["sweep"] = measure(args.sweep_runs, args.sweep_enterprises, args.sweep_steps, args.load_runs)
        document["targets"] = {**document.get("targets", {}), **targets(document["sweep"])}
    document["machine"] = machine(load_before)
    print_summary(document, console)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
