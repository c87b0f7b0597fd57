"""Fleet economics (market/fleet.py) by hand, from the equations in its module docstring and a month of
730.5 hours (365.25 * 24 / 12, market/technology.py)::

    capacity     = sum tokens_per_s * 730.5 * 3600 / 1e6 * count * efficiency * capacity_factor   (Mtok/month)
    depreciation = sum count * basis / (end - acquired);   power = sum count * kW * pue * 730.5 * $/kWh
    opex         = opex_per_gpu * count;                   unit_cost = (dep + power + opex) / (capacity * u_basis)

A GPU serving 1,000 tokens/s serves 1,000 * 2,629,800 / 1e6 = 2,629.8 Mtok a month.
"""

from __future__ import annotations

import numpy as np
import pytest

from market.fleet import HolderTechnology, fleet_economics, grid_load_mw, installed_kw
from market.hardware import GpuLedger
from market.technology import GenerationTable

MTOK_PER_MONTH_AT_1000 = 2629.8

GENERATIONS = GenerationTable(
    names=("old", "new"), release_step=np.array([-24, -6], dtype=np.int64), list_price_usd=np.array([12e3, 24e3]),
    throughput_tokens_per_s=np.array([1000.0, 2000.0]), power_kw=np.array([0.5, 1.0]),
    lifetime_months=np.array([48, 60], dtype=np.int64), vendor_supply_per_month=np.full(2, np.inf))

NAN = np.nan
# 0: a provider with two lots in two regions; 1: a reseller (does not install); 2: fixed unit cost 2 and fixed
# capacity 1,000 (a pure pricing game), no GPUs; 3: fixed capacity 500 and a lot of its own.
HOLDERS = HolderTechnology(
    efficiency=np.array([1.5, 1.0, 1.0, 1.0]), capacity_factor=np.array([0.8, 1.0, 1.0, 1.0]),
    pue=np.array([1.2, 1.0, 1.0, 1.0]), opex_per_gpu=np.array([100.0, 50.0, 0.0, 0.0]),
    cost_basis_utilization=np.array([0.5, 1.0, 1.0, 1.0]), fixed_unit_cost=np.array([NAN, NAN, 2.0, NAN]),
    fixed_capacity=np.array([NAN, NAN, 1000.0, 500.0]), installs=np.array([True, False, True, True]))
POWER_PRICE = np.array([0.10, 0.20])  # $/kWh in regions 0 and 1


def ledger() -> GpuLedger:
    """Holder 0: 4 'old' GPUs in region 0 (basis 12,000, built 0, life 48: 250 a month each) and 2 'new' in
    region 1 (basis 24,000, built -12, life 60, bought at 0: end 48, 24,000 / 48 = 500 a month each).
    Reseller 1: 10 'old' in region 0. Holder 3: 2 'new' in region 0 (basis 4,800, life 48: 100 a month)."""
    book = GpuLedger(2)
    book.add(holder=0, generation=0, region=0, count=4, built_step=0, lifetime=48, step=0, basis=12_000.0)
    book.add(holder=0, generation=1, region=1, count=2, built_step=-12, lifetime=60, step=0, basis=24_000.0)
    book.add(holder=1, generation=0, region=0, count=10, built_step=-20, lifetime=48, step=-5, basis=3_000.0)
    book.add(holder=3, generation=1, region=0, count=2, built_step=0, lifetime=48, step=0, basis=4_800.0)
    return book


def test_a_providers_capacity_and_costs_by_hand() -> None:
    """Holder 0 (efficiency 1.5 x capacity factor 0.8 = 1.2, PUE 1.2, opex 100, cost basis utilization 0.5):

    capacity:     region 0: 4 * 2,629.8 * 1.2 = 12,623.04;  region 1: 2 * 5,259.6 * 1.2 = 12,623.04 Mtok
    depreciation: 4 * 250 = 1,000;  2 * 500 = 1,000
    power:        4 * 0.5 * 1.2 * 730.5 * 0.10 = 175.32;  2 * 1.0 * 1.2 * 730.5 * 0.20 = 350.64
    opex:         400;  200
    unit cost:    (1,000 + 175.32 + 400) / (12,623.04 * 0.5) = 1,575.32 / 6,311.52;  1,550.64 / 6,311.52
    """
    f = fleet_economics(ledger(), GENERATIONS, HOLDERS, POWER_PRICE)
    np.testing.assert_array_equal(f.gpus[0], [4.0, 2.0])
    np.testing.assert_allclose(f.capacity[0], [12_623.04, 12_623.04], rtol=1e-13)
    np.testing.assert_allclose(f.depreciation[0], [1000.0, 1000.0], rtol=1e-13)
    np.testing.assert_allclose(f.power_cost[0], [175.32, 350.64], rtol=1e-13)
    np.testing.assert_allclose(f.opex[0], [400.0, 200.0], rtol=1e-13)
    np.testing.assert_allclose(f.unit_cost[0], [1575.32 / 6311.52, 1550.64 / 6311.52], rtol=1e-13)
    np.testing.assert_array_equal(f.variable_cost[0], [0.0, 0.0])


def test_algorithmic_efficiency_scales_capacity_and_divides_unit_cost() -> None:
    """An efficiency multiplier of 2 doubles holder 0's capacity (25,246.08 per region) and halves its unit cost;
    its costs per month are unchanged."""
    f = fleet_economics(ledger(), GENERATIONS, HOLDERS, POWER_PRICE, efficiency_multiplier=2.0)
    np.testing.assert_allclose(f.capacity[0], [25_246.08, 25_246.08], rtol=1e-13)
    np.testing.assert_allclose(f.unit_cost[0], [1575.32 / 12_623.04, 1550.64 / 12_623.04], rtol=1e-13)
    np.testing.assert_allclose(f.power_cost[0], [175.32, 350.64], rtol=1e-13)


def test_a_reseller_has_gpus_but_no_capacity_or_costs() -> None:
    """Reseller 1 holds 10 GPUs in region 0 as inventory: they count as its GPUs but serve nothing and cost
    nothing (no depreciation, power or opex), so its unit cost is infinite."""
    f = fleet_economics(ledger(), GENERATIONS, HOLDERS, POWER_PRICE)
    np.testing.assert_array_equal(f.gpus[1], [10.0, 0.0])
    for costs in (f.capacity, f.depreciation, f.power_cost, f.opex):
        np.testing.assert_array_equal(costs[1], [0.0, 0.0])
    assert np.all(np.isinf(f.unit_cost[1]))


def test_fixed_unit_cost_and_fixed_capacity() -> None:
    """Holder 2 (unit cost 2, capacity 1,000, no GPUs): unit cost and variable cost 2 in both regions, capacity
    1,000 in both, no fleet costs. Holder 3 (capacity 500 fixed, unit cost from its fleet): capacity 500 in both
    regions, while its costs and unit cost in region 0 come from its 2 'new' GPUs: depreciation 2 * 100 = 200,
    power 2 * 1.0 * 730.5 * 0.10 = 146.1, unit cost (200 + 146.1) / (2 * 5,259.6) = 346.1 / 10,519.2."""
    f = fleet_economics(ledger(), GENERATIONS, HOLDERS, POWER_PRICE)
    np.testing.assert_array_equal(f.unit_cost[2], [2.0, 2.0])
    np.testing.assert_array_equal(f.variable_cost[2], [2.0, 2.0])
    np.testing.assert_array_equal(f.capacity[2], [1000.0, 1000.0])
    for costs in (f.depreciation, f.power_cost, f.opex):
        np.testing.assert_array_equal(costs[2], [0.0, 0.0])
    np.testing.assert_array_equal(f.capacity[3], [500.0, 500.0])
    np.testing.assert_allclose(f.depreciation[3], [200.0, 0.0], rtol=1e-13)
    np.testing.assert_allclose(f.power_cost[3], [146.1, 0.0], rtol=1e-13)
    assert f.unit_cost[3, 0] == pytest.approx(346.1 / 10_519.2, rel=1e-13)
    np.testing.assert_array_equal(f.variable_cost[3], [0.0, 0.0])


def test_installed_kw_and_grid_load() -> None:
    """kW at the wall, count * kW * PUE: holder 0: 4 * 0.5 * 1.2 = 2.4 and 2 * 1.0 * 1.2 = 2.4; reseller 1:
    10 * 0.5 = 5 (in its warehouse); holder 3: 2 * 1.0 = 2. Grid load counts only the holders that install:
    region 0: (2.4 + 2) / 1000 = 0.0044 MW, region 1: 0.0024 MW."""
    kw = installed_kw(ledger(), GENERATIONS, HOLDERS, 2)
    np.testing.assert_allclose(kw, [[2.4, 2.4], [5.0, 0.0], [0.0, 0.0], [2.0, 0.0]], rtol=1e-13)
    np.testing.assert_allclose(grid_load_mw(kw, HOLDERS), [0.0044, 0.0024], rtol=1e-13)
    np.testing.assert_allclose(fleet_economics(ledger(), GENERATIONS, HOLDERS, POWER_PRICE).load_mw,
                               [0.0044, 0.0024], rtol=1e-13)


def test_scrapped_gpus_are_not_in_any_fleet() -> None:
    """Holder 0's 2 'new' GPUs scrapped: its region 1 has no GPUs, capacity or costs left, and the grid load of
    region 1 is 0."""
    book = ledger()
    book.move(holder=0, to_holder=-1, count=None, step=1, price_per_gpu=0.0, generation=1)
    f = fleet_economics(book, GENERATIONS, HOLDERS, POWER_PRICE)
    np.testing.assert_array_equal(f.gpus[0], [4.0, 0.0])
    np.testing.assert_array_equal([f.capacity[0, 1], f.power_cost[0, 1], f.depreciation[0, 1]], [0.0, 0.0, 0.0])
    assert f.load_mw[1] == 0.0
