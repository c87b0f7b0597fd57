"""Investment strategies: how a provider sizes its GPU fleet. Chosen by name from :data:`INVESTMENT_STRATEGIES`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from agents.registry import lookup
from market.config import NoInvestment, UtilizationTargetInvestment

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class InvestmentView:
    """What a provider knows when it plans its fleet, per region it serves.

    Attributes:
        step: Current step.
        capacity: Fleet capacity per region at full use, Mtok/month.
        demand: Demand for its offers per region this step (the larger of its own unconstrained demand and
            what it served, overflow from full rivals included), Mtok/month.
        new_generation: Generation id on sale new, or -1.
        new_price: List price of that generation, $ per GPU.
        new_tokens_per_gpu: Mtok/month one new GPU adds to this provider's capacity.
        new_lifetime: Months of life of a new GPU.
        tokens_per_gpu: Mtok/month one GPU of each generation adds to this provider's capacity.
        used_price: Lowest resale price per generation, $ per GPU (NaN: not quoted).
        used_life_left: Months of life left on used GPUs of each generation.
        used_available: GPUs of each generation resellers hold.
        tokens_per_installed_gpu: Mean Mtok/month per installed GPU per region (for sizing sales).
        installed_gpus: GPUs installed per region.
        cash: Cash, $.
        credit_limit: Credit limit, $.
        monthly_operating_cost: Power + opex + interest last month, $.
    """

    step: int
    capacity: FloatArray
    demand: FloatArray
    new_generation: int
    new_price: float
    new_tokens_per_gpu: float
    new_lifetime: int
    tokens_per_gpu: FloatArray
    used_price: FloatArray
    used_life_left: FloatArray
    used_available: NDArray[np.int64]
    tokens_per_installed_gpu: FloatArray
    installed_gpus: FloatArray
    cash: float
    credit_limit: float
    monthly_operating_cost: float


@dataclass
class FleetOrder:
    """GPUs to buy and sell, per region (index into the provider's regions)."""

    buy_new: FloatArray
    buy_used: FloatArray
    sell: FloatArray
    used_generation: int = -1

    @classmethod
    def empty(cls, n_regions: int) -> FleetOrder:
        """An order that changes nothing."""
        z = np.zeros(n_regions)
        return cls(buy_new=z.copy(), buy_used=z.copy(), sell=z.copy())


def cheapest_used_generation(view: InvestmentView) -> int:
    """The generation resellers hold whose GPUs cost least per Mtok over their remaining life, or -1.

    ``cost_g = used_price_g / (tokens_per_gpu_g * life_left_g)`` over generations in stock with a quote.
    """
    per_token = np.where((view.used_available > 0) & ~np.isnan(view.used_price),
                         view.used_price / (view.tokens_per_gpu * view.used_life_left), np.inf)
    return int(np.argmin(per_token)) if np.isfinite(per_token).any() else -1


class InvestmentStrategy:
    """Base class: one instance per provider."""

    name: ClassVar[str]

    def __init__(self, params: Any) -> None:
        self.params = params

    def decide(self, view: InvestmentView) -> FleetOrder:  # pragma: no cover - interface
        """GPUs to buy or sell this step."""
        raise NotImplementedError


class NoInvestmentStrategy(InvestmentStrategy):
    """Never changes the fleet."""

    name = "none"

    def __init__(self, params: NoInvestment) -> None:
        self.params = params

    def decide(self, view: InvestmentView) -> FleetOrder:
        return FleetOrder.empty(len(view.capacity))


class UtilizationTargetStrategy(InvestmentStrategy):
    """Grow the fleet toward ``demand / target_utilization``; sell GPUs when utilization is very low.

    Per region: ``gap = demand * (1 + g) ** (1/12) / target - capacity``. A positive gap is filled with the
    cheaper of new and used GPUs per Mtok of lifetime capacity, limited by ``max_growth_per_month`` and by
    cash + credit above a reserve of ``cash_reserve_months`` of operating cost. Below
    ``divest_below_utilization`` the provider sells GPUs to bring utilization back to the target, at most
    ``max_divest_per_month`` of its GPUs in a region per month.
    """

    name = "utilization_target"

    def __init__(self, params: UtilizationTargetInvestment) -> None:
        self.params = params

    def decide(self, view: InvestmentView) -> FleetOrder:
        p = self.params
        n = len(view.capacity)
        order = FleetOrder.empty(n)
        growth = (1.0 + p.demand_growth_expectation_per_year) ** (1.0 / 12.0)
        desired = view.demand * growth / p.target_utilization
        gap = desired - view.capacity
        cap_limit = np.where(view.capacity > 0, view.capacity * p.max_growth_per_month, np.inf)
        need = np.clip(np.minimum(gap, cap_limit), 0.0, None)

        budget = view.cash + view.credit_limit - p.cash_reserve_months * view.monthly_operating_cost
        if need.sum() > 0 and budget > 0:
            used = cheapest_used_generation(view)
            new_ok = p.buy_new and view.new_generation >= 0
            used_ok = p.buy_used and used >= 0
            new_cost = view.new_price / (view.new_tokens_per_gpu * view.new_lifetime) if new_ok else np.inf
            used_cost = (
                view.used_price[used] / (view.tokens_per_gpu[used] * max(view.used_life_left[used], 1.0))
                if used_ok else np.inf
            )
            if used_cost < new_cost:
                units = np.floor(need / view.tokens_per_gpu[used])
                units = _fit(units, float(view.used_available[used]), budget / view.used_price[used])
                order.buy_used = units
                order.used_generation = used
            elif np.isfinite(new_cost):
                units = np.floor(need / view.new_tokens_per_gpu)
                order.buy_new = _fit(units, np.inf, budget / view.new_price)

        utilization = np.where(view.capacity > 0, view.demand / np.maximum(view.capacity, 1e-300), 1.0)
        excess = np.where(utilization < p.divest_below_utilization, view.capacity - desired, 0.0)
        per_gpu = np.maximum(view.tokens_per_installed_gpu, 1e-300)
        cap = np.floor(view.installed_gpus * p.max_divest_per_month)
        order.sell = np.minimum(np.where(excess > 0, np.floor(excess / per_gpu), 0.0), cap)
        return order


def _fit(units: FloatArray, available: float, affordable: float) -> FloatArray:
    """Scale a per-region order down to what is available and affordable (whole GPUs)."""
    total = units.sum()
    limit = min(available, np.floor(affordable))
    if total <= limit or total == 0:
        return units
    return np.floor(units * (limit / total))


INVESTMENT_STRATEGIES: dict[str, type[InvestmentStrategy]] = {
    cls.name: cls for cls in (NoInvestmentStrategy, UtilizationTargetStrategy)
}
"""Registry of investment strategies by config name."""


def make_investment_strategy(params: NoInvestment | UtilizationTargetInvestment) -> InvestmentStrategy:
    """Instantiate the strategy named by ``params.strategy``."""
    return lookup(INVESTMENT_STRATEGIES, params.strategy, "investment strategy")(params)
