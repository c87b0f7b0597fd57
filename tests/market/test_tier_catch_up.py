"""Tiers that close their quality gap to the frontier over time (market.tiers.caught_up_quality_factor)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from market.config import ScenarioConfig
from market.config.files import load_scenario
from market.model import InferenceMarket
from market.tiers import TierTable, caught_up_quality_factor

EXAMPLE = Path(__file__).resolve().parents[2] / "experiments" / "configs" / "tiers.toml"


def test_the_gap_halves_every_half_life() -> None:
    """f(0) = 0.55, half-life 12 months: the gap 0.45 is 0.225 after a year (f = 0.775), 0.1125 after two
    (0.8875) and 0.45 / sqrt(2) after six months; an infinite half-life keeps 0.55; a factor 1 stays 1."""
    f0, h = np.array([0.55, 0.55, 1.0]), np.array([12.0, np.inf, 12.0])
    np.testing.assert_allclose(caught_up_quality_factor(f0, h, 12.0), [0.775, 0.55, 1.0], rtol=1e-15)
    np.testing.assert_allclose(caught_up_quality_factor(f0, h, 24.0), [0.8875, 0.55, 1.0], rtol=1e-15)
    assert caught_up_quality_factor(f0, h, 6.0)[0] == pytest.approx(1.0 - 0.45 / np.sqrt(2.0), rel=1e-15)


def with_half_lives(settings: list[str], half_lives: dict[str, float | None]) -> ScenarioConfig:
    """The example scenario with each tier's quality-gap half-life set (None: no catch-up)."""
    scenario = load_scenario(EXAMPLE, settings)
    tiers = [t.model_copy(update={"quality_gap_half_life_months": half_lives[t.name]}) for t in scenario.tiers]
    return scenario.model_copy(update={"tiers": tiers})


def test_without_a_half_life_the_table_does_not_move() -> None:
    table = TierTable.from_config(with_half_lives([], {"frontier": None, "mid": None, "small": None}))
    assert not table.catches_up and table.at_step(30) is table


def test_offers_carry_the_caught_up_factor() -> None:
    """After three months with the small tier's half-life at 6 months, a hyperscaler's small-tier offer has
    quality 1 - 0.78 * 2^(-3/6) = 0.448457 times its frontier offer's (small factor 0.22, frontier factor 1,
    no half-life)."""
    settings = ["simulation.steps=4"] + [f"segments.{s}.n_agents=20"
                                         for s in ("performance_first", "control_first", "cost_first")]
    model = InferenceMarket(with_half_lives(settings, {"frontier": None, "mid": None, "small": 6.0}), seed=3)
    model.run()
    offers, cloud = model.offers, model.providers[0]
    mine = (offers.holder == cloud.holder_id) & (offers.region == cloud.regions[0])
    frontier = offers.quality[mine & (offers.tier == 0)][0]
    small = offers.quality[mine & (offers.tier == 2)][0]
    assert small / frontier == pytest.approx(1.0 - 0.78 * 2.0 ** (-3.0 / 6.0), rel=1e-12)
    assert model.tiers.quality_factor[1] == 0.7  # the mid tier, without a half-life, keeps its factor
