"""The tiered scenario's line-up and task mix have no knife edge (experiments/configs/tiers.toml, docs/ODD.md "The
tiered scenario"): every tier's quality stays clear of every task class's minimum, except where open-weight models
catching up with the frontier carry a tier across it in mid-run.

The quality paths are computed here from their closed forms, not with the model's functions: the frontier grows
by ``(1 + g)`` a year, the open-weight model is the frontier of ``lag(s) = max(lag_min, lag_0 - s / 12)`` months
before (distillation speed 1), so relative to the frontier it is ``(1 + g) ** (-lag(s) / 12)``; a tier's factor
closes its gap at its half-life, ``1 - (1 - f0) 2^(-s / H)``; the data flywheel multiplies a provider's quality by
``1 + gain`` with gain at most ``FLYWHEEL_LIFT - 1`` over the run (the largest measured on the audit seeds, cloud_a:
1.214 at month 59).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from market.config.files import load_scenario

TIERS = Path(__file__).resolve().parents[2] / "experiments" / "configs" / "tiers.toml"
FLYWHEEL_LIFT = 1.22
CLEARANCE = 0.04  # of the frontier: a tier this far from a minimum does not cross it on a 0.01 change of quality
MONTHS = np.arange(60.0)


def relative_quality_paths() -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray, bool]]:
    """Per (provider, tier) served: the lowest and highest quality path over the run as fractions of the
    frontier (without and with the flywheel's largest lift), and whether the provider serves open weights."""
    scenario = load_scenario(TIERS)
    tech = scenario.technology
    lag = np.maximum(tech.open_lag_months_min, tech.open_lag_months_start - MONTHS / 12.0)
    open_weight = (1.0 + tech.frontier_growth_per_year) ** (-lag / 12.0)
    tiers = {t.name: t for t in scenario.tiers}
    paths = {}
    for provider in scenario.providers:
        base = (open_weight if provider.quality == "open" else np.ones_like(MONTHS)) * provider.quality_factor
        lift = FLYWHEEL_LIFT if provider.flywheel_learning_rate > 0 else 1.0
        for name in provider.tiers or list(tiers):
            tier = tiers[name]
            half_life = tier.quality_gap_half_life_months or np.inf
            factor = 1.0 - (1.0 - tier.quality_factor) * np.exp2(-MONTHS / half_life)
            paths[(provider.name, name)] = (base * factor, base * factor * lift, provider.quality == "open")
    return paths


def task_minimums() -> list[float]:
    return sorted({t.min_quality for s in load_scenario(TIERS).segments for t in s.tasks})


def test_the_line_up_is_the_documented_one() -> None:
    """The ranges docs/ODD.md and tiers.toml quote: hyperscalers' small tier 0.22 at the start and at most 0.415
    (1 - 0.78 * 2^(-59/240) = 0.3422, times 1.214); the specialists' mid tier 0.7 * 3^(-1/2) = 0.4041 to
    0.7 * 3^(-1/6) = 0.5829; task minimums 0.15, 0.46, 0.5 and 0.9."""
    paths = relative_quality_paths()
    low, high, _ = paths[("cloud_a", "small")]
    np.testing.assert_allclose([low[0], low[-1], high[-1]], [0.22, 0.3422, 0.3422 * FLYWHEEL_LIFT], rtol=1e-3)
    low, _, _ = paths[("specialist", "mid")]
    np.testing.assert_allclose([low[0], low[-1]], [0.4041, 0.5829], rtol=1e-3)
    assert task_minimums() == [0.15, 0.46, 0.5, 0.9]


def test_no_tier_sits_on_a_task_minimum() -> None:
    """A tier whose quality moves only by distillation and the flywheel stays CLEARANCE away from every minimum
    over the whole run; an open-weight tier may cross a minimum in mid-run (the open lag's trend), but is
    CLEARANCE away from it at the start and at the end."""
    for (provider, tier), (low, high, open_weight) in relative_quality_paths().items():
        for minimum in task_minimums():
            if open_weight:
                for month in (0, -1):
                    assert abs(low[month] - minimum) >= CLEARANCE and abs(high[month] - minimum) >= CLEARANCE, (
                        provider, tier, minimum, month)
            else:
                below = high.max() <= minimum - CLEARANCE
                above = low.min() >= minimum + CLEARANCE
                assert below or above, (provider, tier, minimum, low.min(), high.max())


def test_open_weight_crossings_follow_the_catch_up_trend() -> None:
    """Where an open-weight tier crosses a minimum, its quality rises at least 0.003 of the frontier a month
    there, so a change of 0.01 in a quality moves the crossing by at most about three months."""
    for (provider, tier), (low, _, open_weight) in relative_quality_paths().items():
        if not open_weight:
            continue
        for minimum in task_minimums():
            crossed = np.flatnonzero(np.diff(np.sign(low - minimum)) != 0)
            for month in crossed:
                assert low[month + 1] - low[month] >= 0.003, (provider, tier, minimum, int(month))
