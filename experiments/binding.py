"""Which capacity and market limits bind in a scenario, and how often (issue 8, point 15).

``python -m experiments.binding [--config F] [--seeds N]`` runs the scenario (the baseline by default) on
``derive_seeds(2025, N)`` and prints a markdown table of four mechanisms:

- vendor supply: months in which buyers' orders of a generation were rationed by its monthly supply (vendor
  GPUs sold ``+`` one GPU of rounding per buyer-region order ``>=`` supply: the allocation rule gives each
  buyer ``floor(units * granted / ordered)`` per region, so a rationed month sells within that of supply);
- the grid: region-months whose installed load is at least ``GRID_FULL`` of the region's power capacity, and
  the highest load share seen;
- the outside option: its share of volume (not buying, or self-hosting), mean and highest month;
- entry: entries of each entrant against its ``max_entries``, and the month the cap was reached.

:func:`binding_table` returns the same table for docs/calibration.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from experiments.sweep_config import derive_seeds
from market.config import ScenarioConfig
from market.config.files import ConfigError, load_scenario
from market.model import InferenceMarket

ROOT_SEED = 2025
"""Root seed of the audit seeds (issue 8: ``derive_seeds(2025, 10)[:5]``)."""
GRID_FULL = 0.99
"""Load share of a region's power capacity at which the grid counts as binding."""


def vendor_rationing(events: pd.DataFrame, supply: dict[str, float]) -> dict[str, Any]:
    """Months in which vendor supply rationed orders, per generation with finite supply.

    A month of generation ``g`` is rationed when ``sold + n_orders >= supply_g``, with ``sold`` the GPUs sold
    by the vendor (``gpu_purchase`` events with detail ``vendor``) and ``n_orders`` the number of those sales
    (each loses less than one GPU to rounding). Also the highest ``sold / supply`` of any month.
    """
    sales = events[(events["event"] == "gpu_purchase") & (events["detail"] == "vendor")]
    by = sales.groupby(["generation", "step"])["units"].agg(["sum", "count"])
    months, peak = 0, 0.0
    gens = by.index.get_level_values("generation").astype(str)
    for gen, sold, orders in zip(gens, by["sum"].to_numpy(float), by["count"].to_numpy(float), strict=True):
        cap = supply.get(gen, np.inf)
        if not np.isfinite(cap) or cap <= 0:
            continue
        months += int(sold + orders >= cap)
        peak = max(peak, sold / cap)
    return {"rationed_months": months, "peak_share_of_supply": peak}


def grid_binding(load_share: np.ndarray) -> dict[str, Any]:
    """From a (steps x regions) array of load / power capacity: region-months at or above :data:`GRID_FULL`
    and the highest share (regions with unlimited capacity have share 0)."""
    return {"full_region_months": int((load_share >= GRID_FULL).sum()),
            "peak_load_share": float(load_share.max()) if load_share.size else 0.0}


def outside_share(model: pd.DataFrame) -> dict[str, float]:
    """Share of volume taken by the outside option: mean over months and highest month."""
    s = model["outside_share"].astype(float)
    return {"mean": float(s.mean()), "max": float(s.max())}


def entries_against_cap(events: pd.DataFrame, caps: dict[str, int]) -> dict[str, dict[str, int]]:
    """Per entrant (entries are named ``<entrant>_<k>``): entries, its ``max_entries``, and the month of the
    entry that reached the cap (-1 if never reached)."""
    entries = events[events["event"] == "entry"].sort_values("step", kind="stable")
    out: dict[str, dict[str, int]] = {}
    for name, cap in caps.items():
        mine = entries[entries["party"].str.fullmatch(rf"{name}_\d+")]
        at_cap = int(mine["step"].iloc[cap - 1]) if 0 < cap <= len(mine) else -1
        out[name] = {"entries": len(mine), "max_entries": cap, "cap_reached_step": at_cap}
    return out


def run_with_grid_load(config: ScenarioConfig, seed: int) -> tuple[dict[str, pd.DataFrame], np.ndarray]:
    """Run the scenario and return its frames and the grid load share per (step, region)."""
    model = InferenceMarket(config, seed=seed)
    capacity = np.array([r.power_capacity_mw for r in config.regions], dtype=np.float64)
    shares = []
    for _ in range(config.simulation.steps):
        model.step()
        load = np.asarray(model.fleet.load_mw, dtype=np.float64)
        shares.append(np.where(np.isfinite(capacity) & (capacity > 0), load / capacity, 0.0))
    return model.recorder.frames(), np.array(shares)


def binding_facts(config: ScenarioConfig, seed: int) -> dict[str, Any]:
    """The four mechanisms' facts for one run."""
    frames, load_share = run_with_grid_load(config, seed)
    supply = {g.name: float(g.vendor_supply_per_month) for g in config.technology.generations}
    caps = {e.name: int(e.max_entries) for e in config.corporate.entrants}
    return {"vendor": vendor_rationing(frames["events"], supply), "grid": grid_binding(load_share),
            "outside": outside_share(frames["model"]), "entry": entries_against_cap(frames["events"], caps),
            "steps": int(config.simulation.steps)}


def binding_table(facts: dict[int, dict[str, Any]]) -> str:
    """Markdown table: one row per mechanism, the measure, in how many seeds it binds, and per-seed values."""
    seeds = list(facts)
    n = len(seeds)
    months = facts[seeds[0]]["steps"] if seeds else 0

    def cells(values: list[str]) -> str:
        return " / ".join(values)

    vendor = [facts[s]["vendor"] for s in seeds]
    grid = [facts[s]["grid"] for s in seeds]
    outside = [facts[s]["outside"] for s in seeds]
    rows = [
        ("vendor supply", "months orders were rationed (peak sold / supply)",
         sum(v["rationed_months"] > 0 for v in vendor),
         cells([f"{v['rationed_months']} ({v['peak_share_of_supply']:.0%})" for v in vendor])),
        ("grid", f"region-months at >= {GRID_FULL:.0%} of power capacity (peak load share)",
         sum(g["full_region_months"] > 0 for g in grid),
         cells([f"{g['full_region_months']} ({g['peak_load_share']:.0%})" for g in grid])),
        ("outside option", "share of volume: mean (highest month)",
         "-", cells([f"{o['mean']:.1%} ({o['max']:.1%})" for o in outside])),
    ]
    names = list(facts[seeds[0]]["entry"]) if seeds else []
    for name in names:
        entry = [facts[s]["entry"][name] for s in seeds]
        rows.append((f"entry: {name}", "entries / max_entries (month the cap was reached)",
                     sum(e["entries"] >= e["max_entries"] for e in entry),
                     cells([f"{e['entries']}/{e['max_entries']} ({e['cap_reached_step']})" for e in entry])))
    lines = [f"Binding mechanisms over {n} seeds of {months} months (values per seed, in seed order "
             f"{', '.join(str(s) for s in seeds)}):", "",
             f"| mechanism | measure | seeds where it binds (of {n}) | per seed |", "|---|---|---|---|"]
    lines += [f"| {m} | {what} | {k} | {v} |" for m, what, k, v in rows]
    return "\n".join(lines)


def binding_report(config: ScenarioConfig | None = None, seeds: int = 5) -> str:
    """The binding table for ``config`` (default: the baseline) on ``derive_seeds(2025, seeds)``."""
    config = config if config is not None else load_scenario("baseline")
    return binding_table({s: binding_facts(config, s) for s in derive_seeds(ROOT_SEED, seeds)})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m experiments.binding [--config F] [--seeds N] [--json FILE]``."""
    parser = argparse.ArgumentParser(description="Which mechanisms bind in a scenario, and how often.")
    parser.add_argument("--config", default="baseline", help="Scenario file or shipped name (default: baseline).")
    parser.add_argument("--seeds", type=int, default=5, help="Seeds: derive_seeds(2025, N) (default 5).")
    parser.add_argument("--json", default=None, help="Also write the facts as JSON to this file.")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        print("error: --seeds must be at least 1", file=sys.stderr)
        return 2
    try:
        config = load_scenario(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    facts = {s: binding_facts(config, s) for s in derive_seeds(ROOT_SEED, args.seeds)}
    print(binding_table(facts))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({str(s): f for s, f in facts.items()}, fh, indent=2)
            fh.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
