"""600-step runs (50 years) at extreme but valid parameters: the invariants of tests/test_invariants.py hold
at every step (money and GPUs conserved step by step, served within capacity, shares, HHI, no NaN or inf
outside the documented columns)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from market.config.files import apply_settings
from tests.test_conservation import reduced_baseline, run_and_check
from tests.test_invariants import check_outputs

pytestmark = [pytest.mark.faults, pytest.mark.invariant]

STEPS = 600

EXTREMES: dict[str, dict[str, Any]] = {
    "sharp_choice_locked_in": {
        "logit.mu": 0.05, "segments.0.switching_cost": 5.0, "segments.1.switching_cost": 5.0,
        "segments.2.switching_cost": 5.0, "segments.2.price_elasticity": 3.0,
        "segments.0.demand_growth_per_year": 1.0, "technology.distillation_speed": 5.0,
        "providers.specialist.cash_usd": 0.0, "regions.1.power_capacity_mw": 1.0,
        "corporate.antitrust.policy": "none", "simulation.rationing_rounds": 0,
    },
    "flat_choice_no_self_hosting": {
        "logit.mu": 10.0, "segments.0.switching_cost": 0.0, "segments.2.price_elasticity": 0.0,
        "outside_option.self_hosting": False, "technology.distillation_speed": 0.0,
        "regions.0.power_capacity_mw": math.inf, "corporate.antitrust.policy": "hhi_2010",
        "simulation.rationing_rounds": 3,
    },
}


@pytest.mark.parametrize("name", EXTREMES)
def test_invariants_hold_for_600_steps_at_extremes(name: str, reliability_counts: dict[str, int]) -> None:
    scenario = apply_settings(reduced_baseline(steps=STEPS, agents_per_segment=8), EXTREMES[name])
    model = run_and_check(scenario, seed=3, gpus=True, money=True)
    assert model.step_index == STEPS
    reliability_counts["invariant_checks"] += 2 * STEPS + check_outputs(model.recorder.frames())
