"""Checks across a whole scenario that no single setting's bounds express: names and growth over the run.

Called by :class:`~market.config.schema.ScenarioConfig`'s validator; they raise ``ValueError``, which the schema
reports as a config error.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from market.config.schema import ScenarioConfig

MAX_GROWTH_FACTOR = 1e30
"""Largest factor by which a compounding yearly growth rate may multiply its quantity over a run."""


def expanded_names(name: str, count: int) -> list[str]:
    """The agent names an entry with ``count`` creates: ``name`` alone, or ``name_1`` ... ``name_<count>``."""
    return [name] if count == 1 else [f"{name}_{k + 1}" for k in range(count)]


def check_unique_names(scenario: ScenarioConfig) -> None:
    """Provider, reseller, router and entrant names after ``count`` expansion must all differ.

    Raises:
        ValueError: Two entries create an agent of the same name; the message names both entries.
    """
    origin: dict[str, str] = {}
    entries: list[tuple[str, str, list[str]]] = []
    for i, p in enumerate(scenario.providers):
        entries.append((f"providers[{i}]", p.name, expanded_names(p.name, p.count)))
    for i, r in enumerate(scenario.resellers):
        entries.append((f"resellers[{i}]", r.name, expanded_names(r.name, r.count)))
    for i, rt in enumerate(scenario.routers):
        entries.append((f"routers[{i}]", rt.name, expanded_names(rt.name, rt.count)))
    for i, e in enumerate(scenario.corporate.entrants):
        entries.append((f"corporate.entrants[{i}]", e.name, [f"{e.name}_{k + 1}" for k in range(e.max_entries)]))
    for where, name, expanded in entries:
        if not expanded:  # an entrant with max_entries = 0 creates no agent
            continue
        label = f"{where} '{name}'" + (f" (named {expanded[0]} ... {expanded[-1]})" if expanded != [name] else "")
        for agent in expanded:
            if agent in origin:
                if origin[agent] == label:
                    continue
                raise ValueError(f"duplicate name '{agent}': {origin[agent]} and {label} both create it")
            origin[agent] = label


def check_growth_horizon(scenario: ScenarioConfig) -> None:
    """Compounding growth rates must not overflow over the run: ``(1 + g) ** (steps / 12) <= MAX_GROWTH_FACTOR``.

    Raises:
        ValueError: A rate that, over ``simulation.steps``, grows its quantity more than 1e30 times.
    """
    years = scenario.simulation.steps / 12.0
    rates = [
        ("technology.frontier_growth_per_year", scenario.technology.frontier_growth_per_year),
        (
            "technology.algorithmic_efficiency_growth_per_year",
            scenario.technology.algorithmic_efficiency_growth_per_year,
        ),
    ] + [(f"segments[{i}].demand_growth_per_year", s.demand_growth_per_year) for i, s in enumerate(scenario.segments)]
    for key, rate in rates:
        if rate > 0 and years * math.log1p(rate) > math.log(MAX_GROWTH_FACTOR):
            raise ValueError(
                f"{key} = {rate:g} over simulation.steps = {scenario.simulation.steps} grows its quantity more than "
                f"{MAX_GROWTH_FACTOR:g} times; lower the rate or the number of steps"
            )


IMPLICIT_TIER = "standard"
"""Name of the one tier of a scenario that declares none (quality and throughput factors 1, no base latency)."""


def tier_names(scenario: ScenarioConfig) -> list[str]:
    """The scenario's tier names in declaration order, or ``[IMPLICIT_TIER]`` when it declares none."""
    return [t.name for t in scenario.tiers] or [IMPLICIT_TIER]


def check_tiers(scenario: ScenarioConfig) -> None:
    """Tier names are unique, and every provider (entrants included) lists only declared tiers.

    Raises:
        ValueError: A duplicate tier name, or a provider's tier that the scenario does not declare (named).
    """
    names = [t.name for t in scenario.tiers]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"duplicate tier name(s): {', '.join(dupes)}")
    have = ", ".join(names) if names else f"none declared: only the implicit '{IMPLICIT_TIER}'"
    declared = set(names) or {IMPLICIT_TIER}
    providers = [(f"providers[{i}]", p) for i, p in enumerate(scenario.providers)]
    providers += [(f"corporate.entrants[{i}].provider", e.provider) for i, e in enumerate(scenario.corporate.entrants)]
    for where, p in providers:
        for t in p.tiers:
            if t not in declared:
                raise ValueError(f"{where}.tiers: unknown tier '{t}' (have: {have})")
        if len(set(p.tiers)) != len(p.tiers):
            raise ValueError(f"{where}.tiers: a tier is listed twice ({', '.join(p.tiers)})")
