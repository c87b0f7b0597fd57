"""Investment strategies (agents/investment.py): fleet orders on hand-built views, and the registry."""

from __future__ import annotations

import dataclasses
from dataclasses import fields
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from agents.investment import (
    INVESTMENT_STRATEGIES,
    InvestmentView,
    NoInvestmentStrategy,
    UtilizationTargetStrategy,
    cheapest_used_generation,
    make_investment_strategy,
    new_cost_per_mtok,
    used_cost_per_mtok,
)
from market.config import NoInvestment, UtilizationTargetInvestment

# Two regions, three generations. New GPUs (generation 2): $30,000, 100 Mtok/month, 60 months -> $5 per
# lifetime Mtok. Used GPUs of generation 1: $6,000, 50 Mtok/month, 30 months left -> $4 per lifetime Mtok
# (cheaper). Generation 0 is quoted at $3,000 but out of stock (25 Mtok/month, 10 months: $12 per Mtok).
BASE_VIEW: dict[str, Any] = {
    "step": 10,
    "capacity": np.array([1000.0, 0.0]),
    "demand": np.array([900.0, 100.0]),
    "new_generation": 2,
    "new_price": 30000.0,
    "new_tokens_per_gpu": 100.0,
    "new_lifetime": 60,
    "tokens_per_gpu": np.array([25.0, 50.0, 100.0]),
    "used_price": np.array([3000.0, 6000.0, np.nan]),
    "used_life_left": np.array([10.0, 30.0, 60.0]),
    "used_available": np.array([0, 100, 0]),
    "tokens_per_installed_gpu": np.array([10.0, 10.0]),
    "installed_gpus": np.array([100.0, 0.0]),
    "cash": 1e9,
    "credit_limit": 0.0,
    "monthly_operating_cost": 0.0,
    "market_demand_history": np.zeros(0),
    "running_cost_per_gpu_month": None,
    "price": None,
    "cost_of_capital_per_year": 0.0,
}

TARGET = UtilizationTargetInvestment(target_utilization=0.75, max_growth_per_month=0.15, cash_reserve_months=3.0,
                                     divest_below_utilization=0.4, max_divest_per_month=0.05)


def stock(price: float | None = None, available: int | None = None) -> dict[str, np.ndarray]:
    """Generation 1's resale price and stock changed, the rest as in BASE_VIEW."""
    out = {}
    if price is not None:
        out["used_price"] = np.array([3000.0, price, np.nan])
    if available is not None:
        out["used_available"] = np.array([0, available, 0])
    return out


def view(**changes: Any) -> InvestmentView:
    values = {**BASE_VIEW, **changes}
    return InvestmentView(**{f.name: values[f.name] for f in fields(InvestmentView)})


def test_no_investment_orders_nothing() -> None:
    order = NoInvestmentStrategy(NoInvestment()).decide(view())
    for part in (order.buy_new, order.buy_used, order.sell):
        np.testing.assert_array_equal(part, [0.0, 0.0])


def test_growth_toward_target_is_capped_and_bought_used_when_cheaper() -> None:
    """Desired capacity = demand / 0.75 = (1200, 133.3); gap (200, 133.3); growth cap 15% of 1000 = 150 in
    region 0 (none where there is no capacity yet) -> need (150, 133.3) Mtok. Used GPUs are cheaper per
    lifetime Mtok ($4 vs $5): floor(need / 50) = (3, 2) used GPUs of generation 1."""
    order = UtilizationTargetStrategy(TARGET).decide(view())
    np.testing.assert_array_equal(order.buy_used, [3.0, 2.0])
    np.testing.assert_array_equal(order.buy_new, [0.0, 0.0])
    np.testing.assert_array_equal(order.sell, [0.0, 0.0])
    assert order.used_generation == 1


def test_new_gpus_when_used_are_dearer() -> None:
    """Used at $9,000 is $6 per lifetime Mtok against $5 new: floor(need / 100) = (1, 1) new GPUs."""
    order = UtilizationTargetStrategy(TARGET).decide(view(**stock(price=9000.0)))
    np.testing.assert_array_equal(order.buy_new, [1.0, 1.0])
    np.testing.assert_array_equal(order.buy_used, [0.0, 0.0])


def test_expected_demand_growth_raises_the_target() -> None:
    """Expecting demand to double in a year scales desired capacity by 2^(1/12) = 1.0595: region 0 needs
    900 * 1.0595 / 0.75 - 1000 = 271.3 Mtok, still capped at 150 (3 used GPUs); region 1, with demand 110,
    needs 110 * 1.0595 / 0.75 = 155.4 Mtok -> 3 used GPUs, where 110 / 0.75 = 146.7 alone would buy 2."""
    demand = np.array([900.0, 110.0])
    flat = UtilizationTargetStrategy(TARGET).decide(view(demand=demand))
    np.testing.assert_array_equal(flat.buy_used, [3.0, 2.0])
    params = TARGET.model_copy(update={"demand_growth_expectation_per_year": 1.0})
    growing = UtilizationTargetStrategy(params).decide(view(demand=demand))
    np.testing.assert_array_equal(growing.buy_used, [3.0, 3.0])


def test_the_cheapest_used_generation_per_lifetime_token_is_chosen() -> None:
    """With generation 0 in stock at $3,000 for 25 Mtok/month and 10 months ($12 per lifetime Mtok) beside
    generation 1 ($4), generation 1 is bought; at $900 generation 0 costs $3.6 per Mtok and wins:
    floor((150, 133.3) / 25) = (6, 5) GPUs of generation 0."""
    in_stock = {"used_available": np.array([50, 100, 0])}
    assert cheapest_used_generation(view(**in_stock)) == 1
    cheap = {**in_stock, "used_price": np.array([900.0, 6000.0, np.nan])}
    assert cheapest_used_generation(view(**cheap)) == 0
    order = UtilizationTargetStrategy(TARGET).decide(view(**cheap))
    assert order.used_generation == 0
    np.testing.assert_array_equal(order.buy_used, [6.0, 5.0])


def test_running_costs_decide_between_used_and_new_over_the_lots_remaining_life() -> None:
    """Running costs $150 (gen 1) and $200 (gen 2) a GPU-month. New: (30,000/60 + 200)/100 = $7 per Mtok; used
    gen 1 with 30 months left: (6,000/30 + 150)/50 = $7 per Mtok as well, not cheaper: new is bought. With 40
    months left (an 18-month-younger lot, same price): (150 + 150)/50 = $6: used wins. At $150 running cost gen 1
    would be cheaper per Mtok of capital alone ($4 vs $5) yet with gen-1 running cost $300 it costs
    (200 + 300)/50 = $10 > $7: new."""
    running = {"running_cost_per_gpu_month": np.array([100.0, 150.0, 200.0])}
    assert new_cost_per_mtok(view(**running)) == pytest.approx(7.0, rel=1e-15)
    assert used_cost_per_mtok(view(**running))[1] == pytest.approx(7.0, rel=1e-15)
    tie = UtilizationTargetStrategy(TARGET).decide(view(**running))
    assert tie.buy_used.sum() == 0 and tie.buy_new.sum() > 0
    younger = UtilizationTargetStrategy(TARGET).decide(view(**running, used_life_left=np.array([10.0, 40.0, 60.0])))
    assert younger.used_generation == 1 and younger.buy_used.sum() > 0 and younger.buy_new.sum() == 0
    costly = {"running_cost_per_gpu_month": np.array([100.0, 300.0, 200.0])}
    assert used_cost_per_mtok(view(**costly))[1] == pytest.approx(10.0, rel=1e-15)
    assert UtilizationTargetStrategy(TARGET).decide(view(**costly)).buy_used.sum() == 0


def test_an_operator_that_buys_no_new_gpus_buys_used_when_it_pays_to_run_them() -> None:
    """A decentralized operator (``buy_new = false``) with the same gap buys used gen-1 GPUs: floor((150, 133.3)
    / 50) = (3, 2)."""
    params = TARGET.model_copy(update={"buy_new": False})
    order = UtilizationTargetStrategy(params).decide(view(running_cost_per_gpu_month=np.array([100.0, 150.0, 200.0])))
    assert order.used_generation == 1
    np.testing.assert_array_equal(order.buy_used, [3.0, 2.0])
    assert order.buy_new.sum() == 0


def test_nothing_used_to_buy_without_stock_or_quotes() -> None:
    assert cheapest_used_generation(view(used_available=np.array([0, 0, 0]))) == -1
    assert cheapest_used_generation(view(used_price=np.array([np.nan, np.nan, np.nan]))) == -1


def test_orders_scale_down_to_what_resellers_hold() -> None:
    """(3, 2) used GPUs wanted, 4 available: each region gets floor(x * 4/5) = (2, 1)."""
    order = UtilizationTargetStrategy(TARGET).decide(view(**stock(available=4)))
    np.testing.assert_array_equal(order.buy_used, [2.0, 1.0])


def test_orders_scale_down_to_what_the_budget_affords() -> None:
    """Budget = cash + credit - 3 months x $10,000 = $20,000: 3 used GPUs at $6,000 -> (3, 2) x 3/5 = (1, 1);
    no new GPU at $30,000."""
    small = {"cash": 40_000.0, "credit_limit": 10_000.0, "monthly_operating_cost": 10_000.0}
    used = UtilizationTargetStrategy(TARGET).decide(view(**small))
    np.testing.assert_array_equal(used.buy_used, [1.0, 1.0])
    new = UtilizationTargetStrategy(TARGET).decide(view(**stock(price=9000.0), **small))
    np.testing.assert_array_equal(new.buy_new, [0.0, 0.0])


def test_no_purchases_without_budget() -> None:
    order = UtilizationTargetStrategy(TARGET).decide(view(cash=-5.0, credit_limit=0.0))
    np.testing.assert_array_equal(order.buy_used, [0.0, 0.0])
    np.testing.assert_array_equal(order.buy_new, [0.0, 0.0])


def test_buy_flags_are_respected() -> None:
    no_used = TARGET.model_copy(update={"buy_used": False})
    order = UtilizationTargetStrategy(no_used).decide(view())
    np.testing.assert_array_equal(order.buy_new, [1.0, 1.0])
    neither = TARGET.model_copy(update={"buy_used": False, "buy_new": False})
    order = UtilizationTargetStrategy(neither).decide(view())
    np.testing.assert_array_equal(order.buy_new + order.buy_used, [0.0, 0.0])


def test_divest_toward_target_at_most_the_monthly_limit() -> None:
    """Utilization 300/1000 = 0.3 < 0.4: excess capacity 1000 - 300/0.75 = 600 Mtok = 60 GPUs of 10 Mtok;
    at most 5% of the 1,000 installed GPUs (50) are sold in a month; with 2,000 installed, all 60."""
    v = {"capacity": np.array([1000.0]), "demand": np.array([300.0]), "tokens_per_installed_gpu": np.array([10.0])}
    order = UtilizationTargetStrategy(TARGET).decide(view(installed_gpus=np.array([1000.0]), **v))
    np.testing.assert_array_equal(order.sell, [50.0])
    np.testing.assert_array_equal(order.buy_new + order.buy_used, [0.0])
    order = UtilizationTargetStrategy(TARGET).decide(view(installed_gpus=np.array([2000.0]), **v))
    np.testing.assert_array_equal(order.sell, [60.0])


def test_no_divestment_above_the_threshold() -> None:
    v = {"capacity": np.array([1000.0]), "demand": np.array([450.0]), "tokens_per_installed_gpu": np.array([10.0]),
         "installed_gpus": np.array([100.0])}
    order = UtilizationTargetStrategy(TARGET).decide(view(**v))
    np.testing.assert_array_equal(order.sell, [0.0])


def test_registry() -> None:
    assert set(INVESTMENT_STRATEGIES) >= {"none", "utilization_target"}
    assert isinstance(make_investment_strategy(NoInvestment()), NoInvestmentStrategy)
    assert isinstance(make_investment_strategy(TARGET), UtilizationTargetStrategy)
    with pytest.raises(KeyError) as excinfo:
        make_investment_strategy(SimpleNamespace(strategy="grow_fast"))  # type: ignore[arg-type]
    message = excinfo.value.args[0]
    assert "unknown investment strategy 'grow_fast'" in message
    assert "none" in message and "utilization_target" in message


def test_capital_recovery_factor_is_the_annuity_payment() -> None:
    """$1 over 12 months at 12.6825% a year (exactly 1% a month): 0.01 / (1 - 1.01^-12) = 0.0888488 (annuity
    tables); at a zero rate straight line, 1/60."""
    from agents.investment import capital_recovery_factor

    assert float(capital_recovery_factor(1.01 ** 12 - 1.0, 12)) == pytest.approx(0.0888487887, rel=1e-9)
    assert float(capital_recovery_factor(0.0, 60)) == pytest.approx(1 / 60, rel=1e-15)


def test_new_capacity_is_bought_only_where_the_price_covers_its_full_cost() -> None:
    """New GPU: $30,000 over 60 months at 0% = $500 a month for 100 Mtok a month: $5/Mtok at full use. At the
    target utilization 0.75 a price of 5 / 0.75 = 6.67 $/Mtok covers it. Region 0 priced at 7 buys, region 1 at
    6 does not (same gap everywhere: no used GPUs on sale)."""
    base = view(used_available=np.array([0, 0, 0]), capacity=np.array([1000.0, 1000.0]),
                demand=np.array([900.0, 900.0]), price=np.array([7.0, 6.0]))
    order = UtilizationTargetStrategy(TARGET).decide(base)
    assert order.buy_new[0] > 0 and order.buy_new[1] == 0
    off = UtilizationTargetInvestment(target_utilization=0.75, max_growth_per_month=0.15, cash_reserve_months=3.0,
                                      divest_below_utilization=0.4, max_divest_per_month=0.05, min_price_to_cost=0.0)
    assert UtilizationTargetStrategy(off).decide(base).buy_new[1] > 0  # the test switched off
    # with a 10% cost of capital the annuity is 0.02104 a month: 631.1 / 100 / 0.75 = 8.41 $/Mtok needed
    dear = UtilizationTargetStrategy(TARGET).decide(dataclasses.replace(base, cost_of_capital_per_year=0.10))
    np.testing.assert_array_equal(dear.buy_new, [0.0, 0.0])
