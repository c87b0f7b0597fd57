"""Workloads and routing (market/routing.py): task classes of segments, eligibility, and issue 10's acceptance
case (per-task routing pays less per task than sending everything to the frontier, at equal quality met)."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest

from market.clearing import clear_logit_market, logit_shares
from market.config import SegmentConfig
from market.config.files import ConfigError, scenario_from_dict
from market.config.schema import TaskConfig
from market.routing import BUNDLE, build_task_classes, eligibility, task_table

HARD = TaskConfig(name="hard", share=0.5, min_quality=0.9)
EASY = TaskConfig(name="easy", share=0.5, min_quality=0.3, latency_tolerance_ms=500.0)


def segment(name: str, sophistication: float, tasks: list[TaskConfig]) -> SegmentConfig:
    return SegmentConfig(name=name, routing_sophistication=sophistication, tasks=tasks)


def test_classes_are_the_tasks_plus_a_bundle_that_meets_every_task() -> None:
    table = task_table([segment("a", 0.25, [HARD, EASY]), segment("b", 0.0, [])])
    assert table.names == (("hard", "easy", BUNDLE), ("all", "", ""))
    np.testing.assert_allclose(table.mix, [[0.125, 0.125, 0.75], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(table.min_quality, [[0.9, 0.3, 0.9], [0.0, math.inf, math.inf]])
    np.testing.assert_allclose(table.latency_tolerance_ms, [[math.inf, 500.0, 500.0], [math.inf] * 3])
    assert table.declared and not task_table([segment("b", 0.5, [])]).declared


def test_eligibility_uses_the_quality_floor_times_the_frontier_and_the_latency_tolerance() -> None:
    """Frontier 2: the hard floor is 1.8, the easy one 0.6; region 1 meets offer 1 at 800 ms > 500 ms."""
    table = task_table([segment("a", 1.0, [HARD, EASY])])
    latency = np.array([[100.0, 100.0, 100.0], [100.0, 800.0, 100.0]])
    eligible = eligibility(table, 2, np.array([2.0, 1.0, 0.5]), 2.0, latency)
    assert eligible.shape == (2, 3, 3)
    np.testing.assert_array_equal(eligible[0], [[1, 0, 0], [1, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(eligible[1], [[1, 0, 0], [1, 0, 0], [1, 0, 0]])


def test_per_task_routing_pays_less_per_task_than_everything_to_the_frontier() -> None:
    """Issue 10's acceptance case, by hand. Offers F (quality 1, $10/Mtok) and C (quality 0.5, $2/Mtok), both at
    utility ln 2, outside utility 0, mu = 1: single-class shares S_F = S_C = 2/5, S0 = 1/5. Tasks hard (half
    the tokens, floor 0.9: only F) and easy (half, floor 0.3: F and C). One buyer of 1 Mtok per segment.

    Per-task routing (sophistication 1): hard: s_F = (2/5) / (2/5 + 1/5) = 2/3, served 1/2 * 2/3 = 1/3 Mtok at
    $10; easy: s_F = s_C = 2/5, served 1/2 * 4/5 = 2/5 Mtok, spend 1/2 (2/5 * 10 + 2/5 * 2) = $2.40, i.e. $6 per
    easy token. Everything to the frontier (sophistication 0: one bundle with floor max(0.9, 0.3)): s_F = 2/3,
    served 2/3 Mtok at $10 per token for every task. Every token served meets its task's floor in both cases.
    """
    table = task_table([segment("routed", 1.0, [HARD, EASY]), segment("bundled", 0.0, [HARD, EASY])])
    quality, price = np.array([1.0, 0.5]), np.array([10.0, 2.0])
    classes = build_task_classes(table, np.array([0, 1]), np.zeros(2, dtype=np.int64), 1, quality, 1.0,
                                 np.zeros((1, 2)))
    shares, outside = logit_shares(np.full((2, 2), math.log(2.0)), np.zeros(2), 1.0)
    c = clear_logit_market(shares, outside, np.ones(2), np.full(2, math.inf), price, classes=classes)
    assert c.served_by_class is not None
    np.testing.assert_allclose(c.served_by_class, [[1 / 3, 2 / 5, 0.0], [0.0, 0.0, 2 / 3]], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(c.allocation, [[1 / 3 + 1 / 5, 1 / 5], [2 / 3, 0.0]], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(c.spend, [10 / 3 + 2.4, 20 / 3], rtol=1e-14)
    easy_spend_per_token = (c.spend[0] - 10.0 * c.served_by_class[0, 0]) / c.served_by_class[0, 1]
    assert easy_spend_per_token == pytest.approx(6.0, rel=1e-13)
    assert c.spend[1] / c.served_by_class[1, 2] == pytest.approx(10.0, rel=1e-14)
    assert c.effective_price is not None
    np.testing.assert_allclose(c.effective_price, [(10 / 3 + 2.4) / (1 / 3 + 2 / 5), 10.0], rtol=1e-14)
    assert c.effective_price[0] < c.effective_price[1]


@pytest.mark.parametrize(("tasks", "expected"), [
    ([{"name": "a", "share": 0.5}, {"name": "b", "share": 0.4}], r"segments\[0\]: tasks\.share .* must sum to 1"),
    ([{"name": "a", "share": 0.5}, {"name": "a", "share": 0.5}], r"segments\[0\]: tasks\.name must be unique"),
    ([{"name": "a", "share": 1.0, "min_quality": 1.5}], r"segments\[0\]\.tasks\[0\]\.min_quality"),
    ([{"name": "a", "share": 1.0, "latency_tolerance_ms": -1.0}], r"segments\[0\]\.tasks\[0\]\.latency_tolerance_ms"),
])
def test_bad_task_mixes_are_config_errors_naming_the_key(duopoly_dict: dict[str, Any], tasks: list[dict[str, Any]],
                                                         expected: str) -> None:
    data = copy.deepcopy(duopoly_dict)
    data["segments"][0]["tasks"] = tasks
    with pytest.raises(ConfigError, match=expected):
        scenario_from_dict(data)


def test_sophistication_is_a_fraction(duopoly_dict: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"segments\[0\]\.routing_sophistication"):
        scenario_from_dict(duopoly_dict, ["segments.0.routing_sophistication=1.5"])
