"""Fleet economics: capacity and costs of every holder's GPUs by region, from the GPU ledger.

For holder ``h`` and region ``r`` (sums over the lots it holds there)::

    capacity[h, r]     = sum tokens_per_gpu_month(gen) * count * efficiency[h] * capacity_factor[h]   (Mtok/month)
    depreciation[h, r] = sum count * basis / (end - acquired)                                       ($/month)
    power_cost[h, r]   = sum count * power_kw(gen) * pue[h] * 730.5 h * power_price[r]               ($/month)
    opex[h, r]         = opex_per_gpu[h] * sum count                                                 ($/month)
    unit_cost[h, r]    = (depreciation + power_cost + opex) / (capacity * cost_basis_utilization[h])  ($/Mtok)

A holder with a fixed unit cost or a fixed capacity (pure pricing games) uses those instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from market.hardware import GpuLedger
from market.technology import GenerationTable, power_cost_per_gpu_month, tokens_per_gpu_month, unit_cost_per_mtok

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class HolderTechnology:
    """Per-holder parameters of fleet economics (index = holder id); NaN means 'not fixed'."""

    efficiency: FloatArray
    capacity_factor: FloatArray
    pue: FloatArray
    opex_per_gpu: FloatArray
    cost_basis_utilization: FloatArray
    fixed_unit_cost: FloatArray
    fixed_capacity: FloatArray
    installs: NDArray[np.bool_]


@dataclass(frozen=True)
class FleetEconomics:
    """Capacity and monthly costs per (holder, region)."""

    gpus: FloatArray
    capacity: FloatArray
    depreciation: FloatArray
    power_cost: FloatArray
    opex: FloatArray
    unit_cost: FloatArray
    variable_cost: FloatArray
    load_mw: FloatArray


def installed_kw(ledger: GpuLedger, generations: GenerationTable, holders: HolderTechnology, n_regions: int
                 ) -> FloatArray:
    """Power drawn per (holder, region) at the wall, kW: ``sum count * power_kw(gen) * pue[h]``."""
    gen = ledger.view("generation")
    count = ledger.view("count").astype(np.float64)
    holder = ledger.view("holder")
    live = holder >= 0
    pue_lot = np.where(live, holders.pue[np.where(live, holder, 0)], 1.0)
    return ledger.by_holder_region(count * (generations.power_kw[gen] if len(gen) else count) * pue_lot,
                                   len(holders.efficiency), n_regions)


def grid_load_mw(kw: FloatArray, holders: HolderTechnology) -> FloatArray:
    """Grid load per region of the holders that install GPUs, MW."""
    return np.where(holders.installs[:, None], kw, 0.0).sum(axis=0) / 1000.0


def fleet_economics(
    ledger: GpuLedger,
    generations: GenerationTable,
    holders: HolderTechnology,
    power_price: FloatArray,
    efficiency_multiplier: float = 1.0,
) -> FleetEconomics:
    """Capacity and costs per (holder, region); see the module docstring for the equations.

    ``efficiency_multiplier`` scales every GPU's tokens (algorithmic efficiency, ``market.technology``).
    """
    n_holders = len(holders.efficiency)
    n_regions = len(power_price)
    gen = ledger.view("generation")
    count = ledger.view("count").astype(np.float64)

    def per(values: FloatArray) -> FloatArray:
        return ledger.by_holder_region(values, n_holders, n_regions)

    gpus = per(count)
    tokens = per(count * tokens_per_gpu_month(generations.throughput_tokens_per_s[gen]) if len(gen) else count)
    kw = installed_kw(ledger, generations, holders, n_regions)
    depreciation = per(count * ledger.depreciation_per_gpu_month())
    capacity = tokens * (holders.efficiency * holders.capacity_factor)[:, None] * efficiency_multiplier
    power_cost = power_cost_per_gpu_month(kw, power_price[None, :], 1.0)
    opex = gpus * holders.opex_per_gpu[:, None]
    installed = holders.installs[:, None]
    capacity = np.where(installed, capacity, 0.0)
    depreciation = np.where(installed, depreciation, 0.0)
    power_cost = np.where(installed, power_cost, 0.0)
    opex = np.where(installed, opex, 0.0)
    unit_cost = unit_cost_per_mtok(
        depreciation_usd_per_month=depreciation,
        power_usd_per_month=power_cost,
        opex_usd_per_month=opex,
        capacity_mtok_per_month=capacity,
        utilization=1.0,
    ) / holders.cost_basis_utilization[:, None]

    fixed_cost = ~np.isnan(holders.fixed_unit_cost)
    unit_cost = np.where(fixed_cost[:, None], holders.fixed_unit_cost[:, None], unit_cost)
    variable_cost = np.where(fixed_cost[:, None], holders.fixed_unit_cost[:, None], np.zeros_like(unit_cost))
    depreciation = np.where(fixed_cost[:, None], 0.0, depreciation)
    power_cost = np.where(fixed_cost[:, None], 0.0, power_cost)
    opex = np.where(fixed_cost[:, None], 0.0, opex)
    fixed_cap = ~np.isnan(holders.fixed_capacity)
    capacity = np.where(fixed_cap[:, None], holders.fixed_capacity[:, None], capacity)  # (H, R)
    load_mw = grid_load_mw(kw, holders)
    return FleetEconomics(
        gpus=gpus,
        capacity=capacity,
        depreciation=depreciation,
        power_cost=power_cost,
        opex=opex,
        unit_cost=unit_cost,
        variable_cost=variable_cost,
        load_mw=load_mw,
    )
