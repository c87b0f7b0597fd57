"""The observed-growth forecast in a small model run: under steady exponential demand growth the fleet tracks
demand, so utilization stays at the target (agents/investment.py, market/model.py invest stage)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from experiments.run import run_scenario
from market.config.files import scenario_from_dict

GROWTH_PER_YEAR = 3.0
"""Demand quadruples every year: 4^(1/12) = 1.1225 a month."""
TARGET = 0.75

ONE_PROVIDER_GROWING_MARKET: dict[str, Any] = {
    "name": "growing_market",
    "simulation": {"steps": 36, "seed": 3, "rationing_rounds": 2},
    "logit": {"mu": 0.25},
    "outside_option": {"value": -50.0, "self_hosting": False},
    "technology": {
        "frontier_growth_per_year": 0.0,
        "algorithmic_efficiency_growth_per_year": 0.0,
        "generations": [{"name": "H100", "release_step": -12, "list_price_usd": 30000,
                         "throughput_tokens_per_s": 1200, "power_kw": 0.9, "lifetime_months": 120}],
    },
    "regions": [{"name": "global", "latency_penalty": 0.0}],
    "segments": [{"name": "market", "n_agents": 1, "base_demand_mtok_per_month": 1e6, "demand_dispersion": 0.0,
                  "demand_growth_per_year": GROWTH_PER_YEAR, "price_elasticity": 0.0}],
    "providers": [{
        "name": "solo", "kind": "specialized", "regions": ["global"], "quality": 1.0,
        "cash_usd": 1e12, "credit_limit_usd": 1e12,
        "fleet": [{"generation": "H100", "region": "global", "gpus": 500, "age_months": 0}],
        "pricing": {"strategy": "cost_plus", "markup": 0.3},
        "investment": {"strategy": "utilization_target", "target_utilization": TARGET,
                       "max_growth_per_month": 0.5, "demand_growth_expectation_per_year": 0.0},
    }],
}


def utilization_path(forecast: str) -> np.ndarray:
    scenario = copy.deepcopy(ONE_PROVIDER_GROWING_MARKET)
    scenario["providers"][0]["investment"]["forecast"] = forecast
    result = run_scenario(scenario_from_dict(scenario))
    return result.model["utilization_specialized"].to_numpy()


def test_demand_in_the_run_grows_at_the_configured_rate() -> None:
    scenario = scenario_from_dict(copy.deepcopy(ONE_PROVIDER_GROWING_MARKET))
    demand = run_scenario(scenario).model["tokens_demanded"].to_numpy()
    np.testing.assert_allclose(demand[1:] / demand[:-1], (1.0 + GROWTH_PER_YEAR) ** (1 / 12), rtol=1e-6)


def test_observed_forecast_keeps_utilization_at_the_target() -> None:
    """Capacity ordered for d_t (1 + g)^(1/12) / target serves d_(t+1) = d_t (1 + g)^(1/12) next month, so
    utilization is the target (plus at most one GPU's rounding) once a month of growth has been observed."""
    path = utilization_path("observed")
    assert path[3:] == pytest.approx(TARGET, abs=0.005)


def test_a_fixed_forecast_that_ignores_growth_runs_hot() -> None:
    """Expecting no growth, capacity is d_t / target, so next month's utilization is target x 4^(1/12) =
    0.75 x 1.12246 = 0.84185 (hand calculation), every month."""
    path = utilization_path("fixed")
    assert path[3:] == pytest.approx(TARGET * 4 ** (1 / 12), abs=0.005)
