"""Exogenous technology: model quality over time, GPU generations, regional power, per-token costs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from market.config import RegionConfig, TechnologyConfig

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

HOURS_PER_MONTH: float = 730.5
"""Mean hours in a month (365.25 * 24 / 12)."""
SECONDS_PER_MONTH: float = HOURS_PER_MONTH * 3600.0


def frontier_quality(step: float, start: float, growth_per_year: float) -> float:
    """Frontier capability index at ``step`` (months): ``start * (1 + g) ** (step / 12)``."""
    return start * (1.0 + growth_per_year) ** (step / 12.0)


def algorithmic_efficiency(step: float, growth_per_year: float) -> float:
    """Multiplier on tokens per GPU from software progress: ``(1 + g) ** (step / 12)``."""
    return (1.0 + growth_per_year) ** (step / 12.0)


def open_weight_lag_months(step: float, lag_start: float, distillation_speed: float, lag_min: float) -> float:
    """Parity lag of open-weight models, months: ``max(lag_min, lag_start - speed * step / 12)``."""
    return max(lag_min, lag_start - distillation_speed * step / 12.0)


def open_weight_quality(step: float, tech: TechnologyConfig) -> float:
    """Open-weight quality: the frontier's quality ``lag`` months ago."""
    lag = open_weight_lag_months(step, tech.open_lag_months_start, tech.distillation_speed, tech.open_lag_months_min)
    return frontier_quality(step - lag, tech.frontier_quality_start, tech.frontier_growth_per_year)


def regional_power_price(
    base_price: FloatArray, load_mw: FloatArray, capacity_mw: FloatArray, congestion: FloatArray
) -> FloatArray:
    """Power price by region, $/kWh: ``base * (1 + congestion * (load / capacity) ** 2)``."""
    utilization = np.where(np.isfinite(capacity_mw), load_mw / capacity_mw, 0.0)
    return base_price * (1.0 + congestion * np.minimum(utilization, 1.0) ** 2)


def tokens_per_gpu_month(
    throughput_tokens_per_s: FloatArray | float, efficiency: FloatArray | float = 1.0
) -> FloatArray:
    """Mtok one GPU serves in a month at full utilization."""
    return np.asarray(throughput_tokens_per_s, dtype=np.float64) * efficiency * SECONDS_PER_MONTH / 1e6


def power_cost_per_gpu_month(
    power_kw: FloatArray | float, price_usd_per_kwh: FloatArray | float, pue: float
) -> FloatArray:
    """Power bill of one GPU running a month, $."""
    return np.asarray(power_kw, dtype=np.float64) * pue * HOURS_PER_MONTH * price_usd_per_kwh


def unit_cost_per_mtok(
    *,
    depreciation_usd_per_month: FloatArray | float,
    power_usd_per_month: FloatArray | float,
    opex_usd_per_month: FloatArray | float,
    capacity_mtok_per_month: FloatArray | float,
    utilization: float,
) -> FloatArray:
    """Average cost per Mtok at a utilization: ``(depreciation + power + opex) / (capacity * utilization)``."""
    cap = np.asarray(capacity_mtok_per_month, dtype=np.float64) * utilization
    total = (
        np.asarray(depreciation_usd_per_month, dtype=np.float64)
        + np.asarray(power_usd_per_month, dtype=np.float64)
        + np.asarray(opex_usd_per_month, dtype=np.float64)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(cap > 0, total / cap, np.inf)


@dataclass(frozen=True)
class GenerationTable:
    """GPU generations as arrays (index = generation id)."""

    names: tuple[str, ...]
    release_step: IntArray
    list_price_usd: FloatArray
    throughput_tokens_per_s: FloatArray
    power_kw: FloatArray
    lifetime_months: IntArray
    vendor_supply_per_month: FloatArray

    @classmethod
    def from_config(cls, tech: TechnologyConfig) -> GenerationTable:
        """Build the table from the technology section."""
        gens = tech.generations
        return cls(
            names=tuple(g.name for g in gens),
            release_step=np.array([g.release_step for g in gens], dtype=np.int64),
            list_price_usd=np.array([g.list_price_usd for g in gens], dtype=np.float64),
            throughput_tokens_per_s=np.array([g.throughput_tokens_per_s for g in gens], dtype=np.float64),
            power_kw=np.array([g.power_kw for g in gens], dtype=np.float64),
            lifetime_months=np.array([g.lifetime_months for g in gens], dtype=np.int64),
            vendor_supply_per_month=np.array([g.vendor_supply_per_month for g in gens], dtype=np.float64),
        )

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Generation id of ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"unknown generation '{name}' (have: {', '.join(self.names)})") from None

    def newest(self, step: int) -> int:
        """Id of the newest generation on sale at ``step`` (latest release; ties by tokens per dollar), or -1."""
        available = np.nonzero(self.release_step <= step)[0]
        if available.size == 0:
            return -1
        per_dollar = self.throughput_tokens_per_s[available] / self.list_price_usd[available]
        order = np.lexsort((per_dollar, self.release_step[available]))
        return int(available[order[-1]])

    def released_at(self, step: int) -> IntArray:
        """Ids of generations whose release step is exactly ``step``."""
        return np.nonzero(self.release_step == step)[0]


@dataclass(frozen=True)
class RegionTable:
    """The regions of a scenario as arrays (index = region id)."""

    names: list[str]
    base_power_price: FloatArray
    """Power price before congestion, $/kWh."""
    power_capacity_mw: FloatArray
    """Grid capacity for data centres, MW (``inf``: unconstrained)."""
    congestion: FloatArray
    """Rise of the power price as the grid fills (``regional_power_price``)."""
    latency_penalty: FloatArray
    """Utility penalty for serving a buyer of the region from another region."""

    @classmethod
    def from_config(cls, regions: Sequence[RegionConfig]) -> RegionTable:
        """The table of ``regions`` in configuration order."""
        return cls(
            names=[r.name for r in regions],
            base_power_price=np.array([r.power_price_usd_per_kwh for r in regions]),
            power_capacity_mw=np.array([r.power_capacity_mw for r in regions]),
            congestion=np.array([r.power_price_congestion for r in regions]),
            latency_penalty=np.array([r.latency_penalty for r in regions]),
        )

    def __len__(self) -> int:
        return len(self.names)
