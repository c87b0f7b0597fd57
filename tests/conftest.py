"""Shared fixtures: tiny scenarios built as dicts and validated with ``scenario_from_dict``.

Scenario builders are fixtures that return factories, so a test states only what it varies. Every scenario
here is small enough to run in well under a second.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from market.config import ScenarioConfig
from market.config.files import scenario_from_dict

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / "experiments" / "configs"
VALIDATION_DIR = CONFIG_DIR / "validation"

settings.register_profile(
    "ieco", max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ieco")

Firm = tuple[float, float]
"""A firm of a pure pricing game: (quality a_i, unit cost c_i)."""

PricingGameFactory = Callable[..., dict[str, Any]]


def pricing_game(
    firms: Sequence[Firm],
    *,
    mu: float = 0.25,
    outside_value: float = 0.0,
    utility_form: str = "linear",
    objective: str = "owner",
    price_sensitivity: float = 1.0,
    steps: int = 60,
    initial_markup: float = 0.5,
) -> dict[str, Any]:
    """A pure logit pricing game as a scenario dict.

    One enterprise agent with volume 1 and no price elasticity, an outside option of utility ``outside_value``
    (no self-hosting), and one best-responding provider per firm with fixed quality, fixed unit cost and
    unlimited capacity. With ``utility_form='linear'`` the shares are
    ``exp((a_i - b p_i)/mu) / (sum_j exp((a_j - b p_j)/mu) + exp(a0/mu))``.
    """
    providers = [
        {
            "name": f"firm_{k + 1}",
            "kind": "specialized",
            "regions": ["global"],
            "quality": quality,
            "unit_cost_usd_per_mtok": cost,
            "capacity_mtok_per_month": math.inf,
            "initial_price_usd_per_mtok": cost * (1.0 + initial_markup),
            "pricing": {"strategy": "best_response", "objective": objective},
            "investment": {"strategy": "none"},
        }
        for k, (quality, cost) in enumerate(firms)
    ]
    return {
        "name": "pricing_game",
        "simulation": {"steps": steps, "rationing_rounds": 0},
        "logit": {"mu": mu, "utility_form": utility_form},
        "outside_option": {"value": outside_value, "self_hosting": False},
        "regions": [{"name": "global", "latency_penalty": 0.0}],
        "segments": [
            {
                "name": "market",
                "n_agents": 1,
                "base_demand_mtok_per_month": 1.0,
                "demand_dispersion": 0.0,
                "price_elasticity": 0.0,
                "price_sensitivity": price_sensitivity,
                "quality_weight": 1.0,
            }
        ],
        "providers": providers,
    }


TINY_FLEET_SCENARIO: dict[str, Any] = {
    "name": "tiny_fleet",
    "simulation": {"steps": 8, "seed": 11, "rationing_rounds": 2},
    "logit": {"mu": 0.3, "utility_form": "log", "offer_shock_sd": 0.05},
    "outside_option": {"value": -1.0, "self_hosting": True},
    "technology": {
        "frontier_growth_per_year": 1.0,
        "distillation_speed": 1.0,
        "reference_generation": "H100",
        "generations": [
            {"name": "A100", "release_step": -40, "list_price_usd": 15000, "throughput_tokens_per_s": 400,
             "power_kw": 0.55, "lifetime_months": 48},
            {"name": "H100", "release_step": -20, "list_price_usd": 30000, "throughput_tokens_per_s": 1200,
             "power_kw": 0.9, "lifetime_months": 48},
            {"name": "B200", "release_step": 3, "list_price_usd": 40000, "throughput_tokens_per_s": 3600,
             "power_kw": 1.3, "lifetime_months": 48, "vendor_supply_per_month": 500},
        ],
    },
    "regions": [
        {"name": "na", "demand_share": 0.6, "power_capacity_mw": 400.0, "residency_strictness": 0.2},
        {"name": "eu", "demand_share": 0.4, "power_price_usd_per_kwh": 0.15, "residency_strictness": 0.8},
    ],
    "segments": [
        {"name": "quality", "n_agents": 40, "base_demand_mtok_per_month": 2e4, "demand_growth_per_year": 1.5,
         "price_elasticity": 1.2, "reference_price_usd_per_mtok": 2.0, "price_sensitivity": 2.0,
         "quality_weight": 3.0, "quality_floor": 0.5, "residency_propensity": 0.5, "switching_cost": 0.2},
        {"name": "cost", "n_agents": 60, "base_demand_mtok_per_month": 1e4, "demand_growth_per_year": 1.5,
         "price_elasticity": 1.5, "price_sensitivity": 3.0, "quality_weight": 2.0, "privacy_sensitivity": 0.5,
         "lockin_aversion": 0.5, "trust_weight": 1.0},
    ],
    "providers": [
        {"name": "cloud", "kind": "hyperscaler", "quality": "frontier", "regions": ["na", "eu"],
         "serving_efficiency": 0.5, "lock_in": 0.5, "cash_usd": 5e9, "credit_limit_usd": 1e9,
         "fleet": [{"generation": "A100", "region": "na", "gpus": 300, "age_months": 30},
                   {"generation": "H100", "region": "na", "gpus": 600, "age_months": 10},
                   {"generation": "H100", "region": "eu", "gpus": 200, "age_months": 10}],
         "pricing": {"strategy": "best_response"},
         "investment": {"strategy": "utilization_target", "demand_growth_expectation_per_year": 1.0}},
        {"name": "specialist", "kind": "specialized", "count": 2, "regions": ["na", "eu"],
         "serving_efficiency": 1.5, "cash_usd": 2e7, "credit_limit_usd": 1e7,
         "fleet": [{"generation": "H100", "region": "na", "gpus": 150, "age_months": 6}],
         "pricing": {"strategy": "share_acquisition", "max_months": 4},
         "investment": {"strategy": "utilization_target"}},
        {"name": "swarm", "kind": "decentralized", "regions": ["na"], "cash_usd": 5e6,
         "fleet": [{"generation": "A100", "region": "na", "gpus": 200, "age_months": 36}],
         "pricing": {"strategy": "adaptive"},
         "investment": {"strategy": "utilization_target", "buy_new": False}},
    ],
    "resellers": [{"name": "reseller", "count": 2}],
}
"""A small scenario that exercises every subsystem: fleets, resellers, a GPU release, self-hosting."""


@pytest.fixture
def make_pricing_game() -> PricingGameFactory:
    """Factory of pure logit pricing games as scenario dicts (see :func:`pricing_game`)."""
    return pricing_game


@pytest.fixture
def duopoly_dict() -> dict[str, Any]:
    """The Calvano et al. (2020) baseline duopoly (n=2, a=2, c=1, a0=0, mu=0.25) as a scenario dict."""
    return pricing_game([(2.0, 1.0), (2.0, 1.0)], mu=0.25, outside_value=0.0)


@pytest.fixture
def duopoly_config(duopoly_dict: dict[str, Any]) -> ScenarioConfig:
    """:func:`duopoly_dict`, validated."""
    return scenario_from_dict(duopoly_dict)


@pytest.fixture
def tiny_fleet_dict() -> dict[str, Any]:
    """A deep copy of :data:`TINY_FLEET_SCENARIO` that a test may modify."""
    return copy.deepcopy(TINY_FLEET_SCENARIO)


@pytest.fixture
def tiny_fleet_config(tiny_fleet_dict: dict[str, Any]) -> ScenarioConfig:
    """:data:`TINY_FLEET_SCENARIO`, validated."""
    return scenario_from_dict(tiny_fleet_dict)


@pytest.fixture(scope="session")
def tiny_fleet_scenario() -> ScenarioConfig:
    """:data:`TINY_FLEET_SCENARIO`, validated once per session (read-only: do not modify)."""
    return scenario_from_dict(copy.deepcopy(TINY_FLEET_SCENARIO))


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """The tool's own private local Ray with 2 CPUs (``experiments.ray_session``), stopped after the module."""
    ray = pytest.importorskip("ray")
    from experiments.ray_session import ensure_ray, shutdown_ray

    if ray.is_initialized():
        shutdown_ray()
    ensure_ray(workers=2)
    yield
    shutdown_ray()


@pytest.fixture(scope="session")
def tiny_sobol_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Sobol sweep directory (tests/result_dirs.py), built once per session (read-only)."""
    from tests.result_dirs import make_sobol_sweep

    return make_sobol_sweep(tmp_path_factory.mktemp("tiny_sobol"))


# ---------------------------------------------------------------------------------------------------------
# reliability counts (make reliability): bad inputs tried, invariant checks, faults injected, results lost
# ---------------------------------------------------------------------------------------------------------

RELIABILITY_COUNTS: Counter[str] = Counter()
"""Counts that tests add to; written as JSON at the end of the session when IECO_RELIABILITY_REPORT is set."""


@pytest.fixture(scope="session")
def reliability_counts() -> Counter[str]:
    """The session's reliability counter: ``invariant_checks``, ``faults_injected``, ``results_lost``, ..."""
    return RELIABILITY_COUNTS


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count every passed test case marked ``bad_input`` as one bad input tried."""
    if report.when == "call" and report.passed and "bad_input" in report.keywords:
        RELIABILITY_COUNTS["bad_inputs"] += 1


def reliability_summary(failed: int) -> dict[str, int]:
    """The four counts of ``make reliability`` plus the number of failed tests."""
    keys = ("bad_inputs", "invariant_checks", "faults_injected", "results_lost")
    return {**{key: RELIABILITY_COUNTS.get(key, 0) for key in keys}, "tests_failed": failed}


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int) -> None:
    """With IECO_RELIABILITY_REPORT set: print the counts and write them there as JSON."""
    target = os.environ.get("IECO_RELIABILITY_REPORT")
    if not target:
        return
    counts = reliability_summary(len(terminalreporter.stats.get("failed", [])))
    Path(target).write_text(json.dumps(counts, indent=2) + "\n")
    terminalreporter.section("reliability")
    for label, key in (("bad inputs tried", "bad_inputs"), ("invariant checks run", "invariant_checks"),
                       ("faults injected", "faults_injected"), ("results lost", "results_lost")):
        terminalreporter.write_line(f"{label}: {counts[key]:,}")
