"""Exogenous technology (market/technology.py): quality paths, power prices, per-GPU economics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from market.config import GenerationConfig, TechnologyConfig
from market.technology import (
    HOURS_PER_MONTH,
    GenerationTable,
    algorithmic_efficiency,
    frontier_quality,
    open_weight_lag_months,
    open_weight_quality,
    power_cost_per_gpu_month,
    regional_power_price,
    tokens_per_gpu_month,
    unit_cost_per_mtok,
)


def test_hours_per_month_is_a_julian_year_over_twelve() -> None:
    assert HOURS_PER_MONTH == 365.25 * 24 / 12


def test_frontier_quality_compounds_yearly_growth() -> None:
    """q(t) = q0 (1 + g)^(t/12): doubling a year gives 2 after 12 months, sqrt 2 after 6, 4 after 24."""
    assert frontier_quality(0, 1.5, 1.0) == 1.5
    assert frontier_quality(12, 1.0, 1.0) == pytest.approx(2.0, rel=1e-15)
    assert frontier_quality(6, 1.0, 1.0) == pytest.approx(math.sqrt(2.0), rel=1e-15)
    assert frontier_quality(24, 1.0, 1.0) == pytest.approx(4.0, rel=1e-15)
    assert frontier_quality(-12, 1.0, 1.0) == pytest.approx(0.5, rel=1e-15)
    assert frontier_quality(36, 2.0, 0.0) == 2.0


def test_algorithmic_efficiency() -> None:
    assert algorithmic_efficiency(18, 3.0) == pytest.approx(8.0, rel=1e-14)  # 4^(1.5)
    assert algorithmic_efficiency(0, 3.0) == 1.0


def test_open_weight_lag_shrinks_to_its_floor() -> None:
    """lag = max(lag_min, lag0 - speed t / 12): 6 months, closing 2 months a year, floor 1."""
    assert open_weight_lag_months(0, 6.0, 2.0, 1.0) == 6.0
    assert open_weight_lag_months(12, 6.0, 2.0, 1.0) == 4.0
    assert open_weight_lag_months(30, 6.0, 2.0, 1.0) == 1.0
    assert open_weight_lag_months(120, 6.0, 2.0, 1.0) == 1.0


def test_open_weight_quality_is_the_frontier_lag_months_ago() -> None:
    """Frontier doubles yearly from 1; lag 6 months at t = 0, closing 6 months a year, floor 3 months.
    t = 0: q(-6) = 2^-0.5; t = 12: lag 3, q(9) = 2^0.75; t = 24: lag 3, q(21) = 2^1.75."""
    tech = TechnologyConfig(frontier_quality_start=1.0, frontier_growth_per_year=1.0, open_lag_months_start=6.0,
                            distillation_speed=6.0, open_lag_months_min=3.0)
    assert open_weight_quality(0, tech) == pytest.approx(2.0**-0.5, rel=1e-14)
    assert open_weight_quality(12, tech) == pytest.approx(2.0**0.75, rel=1e-14)
    assert open_weight_quality(24, tech) == pytest.approx(2.0**1.75, rel=1e-14)


def test_regional_power_price_congestion() -> None:
    """p = base (1 + k (load/cap)^2), utilization capped at 1; unconstrained regions pay the base price.
    0.1 (1 + 1 * 0.5^2) = 0.125; overloaded: 0.2 (1 + 2 * 1) = 0.6; infinite capacity: 0.08."""
    price = regional_power_price(
        base_price=np.array([0.1, 0.2, 0.08]),
        load_mw=np.array([50.0, 300.0, 1e6]),
        capacity_mw=np.array([100.0, 200.0, math.inf]),
        congestion=np.array([1.0, 2.0, 5.0]),
    )
    np.testing.assert_allclose(price, [0.125, 0.6, 0.08], rtol=1e-15)


def test_per_gpu_capacity_and_power_cost() -> None:
    """1000 tokens/s for a month of 730.5 h is 2,629.8 Mtok; at efficiency 0.5, 1,314.9.
    A 1 kW GPU at PUE 1.2 and $0.10/kWh costs 1.2 * 730.5 * 0.1 = $87.66 a month."""
    assert tokens_per_gpu_month(1000.0) == pytest.approx(2629.8, rel=1e-14)
    assert tokens_per_gpu_month(1000.0, 0.5) == pytest.approx(1314.9, rel=1e-14)
    assert power_cost_per_gpu_month(1.0, 0.1, 1.2) == pytest.approx(87.66, rel=1e-14)


def test_unit_cost_per_mtok() -> None:
    """(100 + 50 + 25) / (1000 Mtok * 0.5 utilization) = 0.35 $/Mtok; no capacity: infinite cost."""
    cost = unit_cost_per_mtok(depreciation_usd_per_month=np.array([100.0, 10.0]),
                              power_usd_per_month=np.array([50.0, 0.0]),
                              opex_usd_per_month=np.array([25.0, 0.0]),
                              capacity_mtok_per_month=np.array([1000.0, 0.0]), utilization=0.5)
    assert cost[0] == pytest.approx(0.35, rel=1e-15)
    assert cost[1] == math.inf


def make_table() -> GenerationTable:
    tech = TechnologyConfig(generations=[
        GenerationConfig(name="B200", release_step=2, list_price_usd=40000, throughput_tokens_per_s=3600,
                         power_kw=1.3, vendor_supply_per_month=500),
        GenerationConfig(name="A100", release_step=-54, list_price_usd=15000, throughput_tokens_per_s=400,
                         power_kw=0.55, lifetime_months=66),
        GenerationConfig(name="H100", release_step=-30, list_price_usd=30000, throughput_tokens_per_s=1200,
                         power_kw=0.9),
    ])
    return GenerationTable.from_config(tech)


def test_generation_table_from_config_keeps_config_order() -> None:
    table = make_table()
    assert table.names == ("B200", "A100", "H100")
    assert len(table) == 3
    np.testing.assert_array_equal(table.release_step, [2, -54, -30])
    np.testing.assert_array_equal(table.lifetime_months, [60, 66, 60])
    np.testing.assert_array_equal(table.vendor_supply_per_month, [500.0, math.inf, math.inf])
    assert table.index("H100") == 2


def test_newest_generation_on_sale() -> None:
    """Before step -54 nothing is on sale; A100 from -54; H100 from -30; B200 from step 2."""
    table = make_table()
    assert table.newest(-60) == -1
    assert table.newest(-54) == 1
    assert table.newest(0) == 2
    assert table.newest(2) == 0
    np.testing.assert_array_equal(table.released_at(2), [0])
    assert table.released_at(3).size == 0


def test_unknown_generation_is_named() -> None:
    with pytest.raises(KeyError, match="unknown generation 'Z9'"):
        make_table().index("Z9")
