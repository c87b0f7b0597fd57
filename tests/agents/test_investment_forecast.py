"""The investment demand forecast (agents/investment.py): growth fitted on synthetic demand histories."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents.investment import (
    UtilizationTargetStrategy,
    desired_capacity,
    forecast_growth_per_year,
    observed_growth_per_year,
)
from market.config import UtilizationTargetInvestment
from tests.agents.test_investment import TARGET, view


def test_exact_exponential_history_gives_its_own_rate() -> None:
    """Demand growing 10% a month for a year: (1.1)^12 - 1 = 2.138428... a year."""
    history = 100.0 * 1.1 ** np.arange(13)
    assert observed_growth_per_year(history, 12) == pytest.approx(1.1**12 - 1.0, rel=1e-12)


def test_noisy_history_matches_the_hand_computed_least_squares_slope() -> None:
    """History 100, 120, 130, 170 (t = 0..3, mean t = 1.5, sum (t - 1.5)^2 = 5): the least-squares slope of
    ln D is (1.5 ln(170/100) + 0.5 ln(130/120)) / 5 = 0.167193 a month, so g = e^(12 b) - 1 = 6.4359."""
    slope = (1.5 * math.log(170 / 100) + 0.5 * math.log(130 / 120)) / 5.0
    assert slope == pytest.approx(0.167193, abs=1e-6)
    expected = math.exp(12.0 * slope) - 1.0
    assert expected == pytest.approx(6.4359, abs=1e-4)
    assert observed_growth_per_year(np.array([100.0, 120.0, 130.0, 170.0]), 3) == pytest.approx(expected, rel=1e-12)


def test_only_the_trailing_window_counts() -> None:
    """Flat for two years, then 5% a month for six months: a 6-month window sees 1.05^12 - 1 = 0.7959;
    a 30-month window mixes both regimes and sees less."""
    history = np.concatenate([np.full(24, 50.0), 50.0 * 1.05 ** np.arange(1, 7)])
    assert observed_growth_per_year(history, 6) == pytest.approx(1.05**12 - 1.0, abs=0.06)
    history = np.concatenate([np.full(24, 50.0), 50.0 * 1.05 ** np.arange(0, 7)])
    assert observed_growth_per_year(history, 6) == pytest.approx(1.05**12 - 1.0, rel=1e-12)
    assert observed_growth_per_year(history, 30) < 0.3


def test_too_short_or_empty_history_is_not_a_forecast() -> None:
    assert math.isnan(observed_growth_per_year(np.zeros(0), 12))
    assert math.isnan(observed_growth_per_year(np.array([5.0]), 12))
    assert math.isnan(observed_growth_per_year(np.array([5.0, 0.0]), 12))


def test_forecast_modes_prior_and_cap() -> None:
    """'fixed' ignores the data; 'observed' uses the prior until two months are seen, then the fitted rate
    (10% a month: 2.1384 a year), capped at forecast_max_growth_per_year; a shrinking market is forecast
    to shrink (halving every month: 0.5^12 - 1)."""
    history = 100.0 * 1.1 ** np.arange(13)
    fixed = UtilizationTargetInvestment(forecast="fixed", demand_growth_expectation_per_year=1.0)
    observed = UtilizationTargetInvestment(forecast="observed", demand_growth_expectation_per_year=1.0)
    assert forecast_growth_per_year(fixed, history) == 1.0
    assert forecast_growth_per_year(observed, history[:1]) == 1.0
    assert forecast_growth_per_year(observed, history) == pytest.approx(1.1**12 - 1.0, rel=1e-12)
    capped = observed.model_copy(update={"forecast_max_growth_per_year": 1.5})
    assert forecast_growth_per_year(capped, history) == 1.5
    assert forecast_growth_per_year(observed, 100.0 * 0.5 ** np.arange(5)) == pytest.approx(0.5**12 - 1.0)


def test_strategy_sizes_the_fleet_for_observed_growth() -> None:
    """desired = demand x (1 + g)^(1/12) / 0.75: 100 x 1.1 / 0.75 = 146.67 at 10% a month. Region 1 of the
    base view (demand 100, no capacity): a market growing 30% a month is forecast at the cap, 4.0 a year
    (5^(1/12) = 1.1435 a month): 152.5 Mtok -> floor(152.5 / 50) = 3 used GPUs; a flat market: 133.3 Mtok ->
    2 GPUs. Region 0 stays at the 15% growth cap (150 Mtok, 3 GPUs)."""
    np.testing.assert_allclose(desired_capacity(np.array([100.0]), 1.1**12 - 1.0, 0.75), [146.6667], rtol=1e-5)
    fast = 100.0 * 1.3 ** np.arange(13)
    order = UtilizationTargetStrategy(TARGET).decide(view(market_demand_history=fast))
    np.testing.assert_array_equal(order.buy_used, [3.0, 3.0])
    flat = UtilizationTargetStrategy(TARGET).decide(view(market_demand_history=np.full(13, 100.0)))
    np.testing.assert_array_equal(flat.buy_used, [3.0, 2.0])
