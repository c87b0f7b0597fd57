"""Task classes in the model (market/model.py wiring of market/routing.py): a task mix that excludes nothing is
the default market; a bundle floor above open-weight quality keeps the segment's tokens at the frontier."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from market.config.files import scenario_from_dict
from market.model import InferenceMarket


def first_month(data: dict[str, Any]) -> InferenceMarket:
    model = InferenceMarket(scenario_from_dict(data), seed=5)
    model.step()
    return model


def with_tasks(data: dict[str, Any], sophistication: float, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    data["segments"][1].update(routing_sophistication=sophistication, tasks=tasks)
    return data


def test_a_task_mix_that_excludes_no_offer_is_the_default_market(tiny_fleet_dict: dict[str, Any]) -> None:
    """Two tasks with no floor: every class's logit is the single-class logit, so the first month's clearing
    equals the default's (to rounding)."""
    default = first_month(tiny_fleet_dict)
    tasks = [{"name": "a", "share": 0.4}, {"name": "b", "share": 0.6}]
    routed = first_month(with_tasks(tiny_fleet_dict, 0.5, tasks))
    assert default.clearing.served_by_class is None
    assert routed.clearing.served_by_class is not None and routed.clearing.served_by_class.shape[1] == 3
    np.testing.assert_allclose(routed.clearing.allocation, default.clearing.allocation, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(routed.consumer_surplus, default.consumer_surplus, rtol=1e-9, atol=1e-6)


def test_a_bundle_above_open_weight_quality_goes_to_the_frontier_only(tiny_fleet_dict: dict[str, Any]) -> None:
    """Segment "cost" bundles a task with floor 0.99 of the frontier: none of its tokens reach an offer below
    it; with per-task routing its easy task does (the open-weight offers serve it)."""
    tasks = [{"name": "hard", "share": 0.5, "min_quality": 0.99}, {"name": "easy", "share": 0.5}]
    bundled, routed = (first_month(with_tasks(tiny_fleet_dict, rho, tasks)) for rho in (0.0, 1.0))
    for model, expect_below in ((bundled, False), (routed, True)):
        below = model.offers.quality < 0.99 * model.frontier
        assert below.any() and not below.all()
        cost_rows = model.population.segment == 1
        tokens_below = model.clearing.allocation[np.ix_(cost_rows, below)].sum()
        assert (tokens_below > 0) == expect_below
        assert model.clearing.allocation[np.ix_(cost_rows, ~below)].sum() > 0
