"""Investment strategies: how a provider sizes its GPU fleet. Chosen by name from :data:`INVESTMENT_STRATEGIES`."""

from __future__ import annotations

from dataclasses import dataclass, field
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
        used_price: Price per GPU of the cheapest reseller's lots of each generation, $ (NaN: none on sale).
        used_life_left: Mean months of life left of those lots (their own age, not their generation's).
        used_available: GPUs of each generation resellers hold.
        tokens_per_installed_gpu: Mean Mtok/month per installed GPU per region (for sizing sales).
        installed_gpus: GPUs installed per region.
        cash: Cash, $.
        credit_limit: Credit limit, $.
        monthly_operating_cost: Power + opex + interest last month, $.
        market_demand_history: The market's inside demand in the months it has observed, oldest first, Mtok
            (this month last).
        running_cost_per_gpu_month: Power + opex of one GPU of each generation per month, $ (None: not known,
            the used/new choice compares capital costs only).
        price: Its price per region this month, $/Mtok (None: not known, no profitability test).
        cost_of_capital_per_year: Its cost of capital, per year (capital is charged as an annuity over a GPU's
            life at this rate).
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
    market_demand_history: FloatArray = field(default_factory=lambda: np.zeros(0))
    running_cost_per_gpu_month: FloatArray | None = None
    price: FloatArray | None = None
    cost_of_capital_per_year: float = 0.0


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


def capital_recovery_factor(rate_per_year: float, months: FloatArray | float) -> FloatArray:
    """Monthly payment that repays $1 of capital over ``months`` at ``rate_per_year`` (an annuity):
    ``a = r / (1 - (1 + r)^-L)`` with the monthly rate ``r = (1 + rate)^(1/12) - 1``; ``1 / L`` when ``r = 0``."""
    life = np.maximum(np.asarray(months, dtype=np.float64), 1.0)
    return capital_recovery_factor_monthly((1.0 + rate_per_year) ** (1.0 / 12.0) - 1.0, life)


def obsolescence_factor(rate_per_year: float, rent_decline_per_year: float, months: FloatArray | float) -> FloatArray:
    """Share of a GPU's rent over its life that survives an expected fall of its rent, at equal present value.

    A GPU whose first month earns ``R`` and whose rent falls by ``d`` a month (``1 - d = (1 - D)^(1/12)``, ``D`` =
    ``rent_decline_per_year``: newer generations and falling prices per token make old capacity earn less) earns
    ``R sum_{t=1..L} (1 - d)^(t-1) / (1 + r)^t`` over ``L`` months at the monthly cost of capital ``r``; this
    over the present value of a constant rent, ``R sum_{t=1..L} 1 / (1 + r)^t``, is

    ``phi = PV(r', L) / ((1 - d) PV(r, L))``,  ``PV(x, L) = (1 - (1 + x)^-L) / x``,  ``1 + r' = (1 + r) / (1 - d)``

    (``phi = (1 - (1 - d)^L) / (d L)`` at ``r = 0``; 1 when ``D = 0``). ``price * phi`` is the constant price
    with the same present value as the falling one: Jorgenson's (1963) user cost of capital with economic
    depreciation from technical progress.
    """
    life = np.maximum(np.asarray(months, dtype=np.float64), 1.0)
    if rent_decline_per_year <= 0.0:
        return np.ones_like(life)
    keep = (1.0 - rent_decline_per_year) ** (1.0 / 12.0)
    r = (1.0 + rate_per_year) ** (1.0 / 12.0) - 1.0
    r_falling = (1.0 + r) / keep - 1.0
    return np.asarray(1.0 / (capital_recovery_factor_monthly(r_falling, life) * keep)
                      * capital_recovery_factor_monthly(r, life), dtype=np.float64)


def capital_recovery_factor_monthly(r: float, life: FloatArray) -> FloatArray:
    """``r / (1 - (1 + r)^-L)`` at the monthly rate ``r`` (``1 / L`` when ``r = 0``), ``1 / PV(r, L)``."""
    if r <= 0.0:
        return np.asarray(1.0 / life, dtype=np.float64)
    return np.asarray(r / -np.expm1(-life * np.log1p(r)), dtype=np.float64)


def used_cost_per_mtok(view: InvestmentView) -> FloatArray:
    """Cost per Mtok of a used GPU of each generation over its remaining life, $/Mtok (inf: none on sale).

    ``cost_g = (used_price_g * a(L_g) + running_g) / tokens_per_gpu_g`` with ``L_g`` the months of life left
    of the lots on sale, ``a`` the capital recovery factor at the view's cost of capital
    (:func:`capital_recovery_factor`, ``1 / L`` at a zero rate) and ``running_g`` the power + opex of one
    GPU-month (0 when not known).
    """
    running = np.zeros_like(view.tokens_per_gpu) if view.running_cost_per_gpu_month is None \
        else view.running_cost_per_gpu_month
    life = np.maximum(np.nan_to_num(view.used_life_left, nan=1.0), 1.0)
    on_sale = (view.used_available > 0) & ~np.isnan(view.used_price) & (view.tokens_per_gpu > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = (view.used_price * capital_recovery_factor(view.cost_of_capital_per_year, life) + running) \
            / view.tokens_per_gpu
    return np.where(on_sale, cost, np.inf)


def new_cost_per_mtok(view: InvestmentView) -> float:
    """Cost per Mtok of a new GPU over its lifetime, $/Mtok (inf: none on sale):
    ``(new_price * a(lifetime) + running_new) / new_tokens_per_gpu`` (``a`` as in :func:`used_cost_per_mtok`)."""
    g = view.new_generation
    if g < 0 or view.new_tokens_per_gpu <= 0 or view.new_lifetime <= 0:
        return float("inf")
    running = 0.0 if view.running_cost_per_gpu_month is None else float(view.running_cost_per_gpu_month[g])
    capital = view.new_price * float(capital_recovery_factor(view.cost_of_capital_per_year, view.new_lifetime))
    return float((capital + running) / view.new_tokens_per_gpu)


def cheapest_used_generation(view: InvestmentView) -> int:
    """The generation on sale used whose GPUs cost least per Mtok over their remaining life
    (:func:`used_cost_per_mtok`), or -1."""
    per_token = used_cost_per_mtok(view)
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


def observed_growth_per_year(history: FloatArray, window_months: int) -> float:
    """Yearly growth of a demand series fitted over its last ``window_months`` months, or NaN.

    A least-squares line through the logs of the last ``window_months + 1`` positive observations,
    ``ln D_t = a + b t``, gives the monthly growth ``e^b``; the yearly rate is ``g = e^(12 b) - 1``. On an
    exact exponential series ``D_t = D_0 (1 + m)^t`` it returns ``(1 + m)^12 - 1``. NaN with fewer than two
    observations, or when any observation in the window is not positive.
    """
    recent = np.asarray(history, dtype=np.float64)[-(window_months + 1):]
    if len(recent) < 2 or not np.all(recent > 0):
        return float("nan")
    t = np.arange(len(recent), dtype=np.float64)
    slope = float(np.polyfit(t, np.log(recent), 1)[0])
    return float(np.expm1(12.0 * slope))


def forecast_growth_per_year(params: UtilizationTargetInvestment, history: FloatArray) -> float:
    """The yearly demand growth a provider plans for.

    ``forecast = "fixed"``: ``demand_growth_expectation_per_year``. ``forecast = "observed"``:
    ``min(observed_growth_per_year(history, forecast_window_months), forecast_max_growth_per_year)``, with
    ``demand_growth_expectation_per_year`` as the prior until two months are observed.
    """
    if params.forecast == "fixed":
        return params.demand_growth_expectation_per_year
    observed = observed_growth_per_year(history, params.forecast_window_months)
    if np.isnan(observed):
        return params.demand_growth_expectation_per_year
    return min(observed, params.forecast_max_growth_per_year)


def desired_capacity(demand: FloatArray, growth_per_year: float, target_utilization: float) -> FloatArray:
    """Capacity that serves next month's forecast demand at the target utilization.

    ``desired = demand * (1 + g) ** (1/12) / target`` per region (GPUs ordered now serve from next month).
    """
    return np.asarray(demand, dtype=np.float64) * (1.0 + growth_per_year) ** (1.0 / 12.0) / target_utilization


class UtilizationTargetStrategy(InvestmentStrategy):
    """Grow the fleet toward forecast demand over the target utilization; sell GPUs when utilization is low.

    Per region: ``gap = desired_capacity(demand, g, target) - capacity`` with ``g`` from
    :func:`forecast_growth_per_year`. A positive gap is filled with the
    cheaper of new and used GPUs per Mtok over their remaining life (capital per month of life left plus
    power and opex, :func:`used_cost_per_mtok`, :func:`new_cost_per_mtok`), limited by ``max_growth_per_month`` and by
    cash + credit above a reserve of ``cash_reserve_months`` of operating cost. Capacity is added only in regions
    where it pays (:func:`capacity_pays`): fixed costs are covered through the investment decision, not the
    price rule. Below
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
        growth = forecast_growth_per_year(p, view.market_demand_history)
        desired = desired_capacity(view.demand, growth, p.target_utilization)
        gap = desired - view.capacity
        cap_limit = np.where(view.capacity > 0, view.capacity * p.max_growth_per_month, np.inf)
        need = np.clip(np.minimum(gap, cap_limit), 0.0, None)

        budget = view.cash + view.credit_limit - p.cash_reserve_months * view.monthly_operating_cost
        if need.sum() > 0 and budget > 0:
            used = cheapest_used_generation(view)
            new_ok = p.buy_new and view.new_generation >= 0
            used_ok = p.buy_used and used >= 0
            new_cost = new_cost_per_mtok(view) if new_ok else np.inf
            used_cost = float(used_cost_per_mtok(view)[used]) if used_ok else np.inf
            hurdle = min(used_cost, new_cost)
            if p.expected_rent_decline_per_year > 0:  # the cost a falling rent must cover (obsolescence_factor)
                hurdle = min(used_cost / self._keep(view, float(view.used_life_left[used])) if used_ok else np.inf,
                             new_cost / self._keep(view, view.new_lifetime) if new_ok else np.inf)
            need = np.where(capacity_pays(view.price, hurdle, p.target_utilization, p.min_price_to_cost), need, 0.0)
            if need.sum() <= 0:
                return self._divest(view, order, desired)
            if used_cost < new_cost:
                units = np.floor(need / view.tokens_per_gpu[used])
                units = _fit(units, float(view.used_available[used]), budget / view.used_price[used])
                order.buy_used = units
                order.used_generation = used
            elif np.isfinite(new_cost):
                units = np.floor(need / view.new_tokens_per_gpu)
                order.buy_new = _fit(units, np.inf, budget / view.new_price)
        return self._divest(view, order, desired)

    def _keep(self, view: InvestmentView, months: float) -> float:
        """:func:`obsolescence_factor` over ``months`` at the provider's cost of capital."""
        return float(obsolescence_factor(view.cost_of_capital_per_year, self.params.expected_rent_decline_per_year,
                                         max(months, 1.0)))

    def _divest(self, view: InvestmentView, order: FleetOrder, desired: FloatArray) -> FleetOrder:
        """Sell GPUs where utilization is below ``divest_below_utilization``, down to the desired capacity."""
        p = self.params
        utilization = np.where(view.capacity > 0, view.demand / np.maximum(view.capacity, 1e-300), 1.0)
        excess = np.where(utilization < p.divest_below_utilization, view.capacity - desired, 0.0)
        per_gpu = np.maximum(view.tokens_per_installed_gpu, 1e-300)
        cap = np.floor(view.installed_gpus * p.max_divest_per_month)
        order.sell = np.minimum(np.where(excess > 0, np.floor(excess / per_gpu), 0.0), cap)
        return order


def capacity_pays(price: FloatArray | None, cost_per_mtok: float, target_utilization: float,
                  min_price_to_cost: float) -> NDArray[np.bool_]:
    """Where new capacity pays for itself: ``price * u* >= m * cost`` per region, with ``cost`` the full cost per
    Mtok of the GPUs it would buy at full use (capital annuity, power, opex), ``u*`` the target utilization (the
    share of that capacity it expects to sell) and ``m`` = ``min_price_to_cost``. All True without a price or
    with ``m = 0``; all False when no GPU is on sale (``cost = inf``)."""
    if price is None or min_price_to_cost <= 0.0:
        return np.array(True)
    return np.asarray(price, dtype=np.float64) * target_utilization >= min_price_to_cost * cost_per_mtok


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
