"""Hardware resellers (agents/reseller.py): the resale quote (``market.hardware.secondary_price``) on hand-worked
examples, and the bid it pays sellers."""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np
import pytest

from agents.reseller import HardwareReseller
from market.config import ResellerConfig
from market.technology import GenerationTable

# G0: $10,000, 500 tok/s, released 24 months ago, 48-month life; G1: $30,000, 3,000 tok/s, released 6 months
# ago, 60-month life. Tokens per dollar: G0 0.05, G1 0.1 -> G0 is worth half its list price next to G1.
GENERATIONS = GenerationTable(
    names=("G0", "G1"), release_step=np.array([-24, -6]), list_price_usd=np.array([10000.0, 30000.0]),
    throughput_tokens_per_s=np.array([500.0, 3000.0]), power_kw=np.array([0.5, 1.0]),
    lifetime_months=np.array([48, 60]), vendor_supply_per_month=np.full(2, np.inf),
)


def reseller(**changes: Any) -> HardwareReseller:
    values: dict[str, Any] = {"name": "r", "margin": 0.2, "demand_pressure": 0.5, "obsolescence": 1.0,
                              "reference_units": 100.0, "cash_usd": 7e6}
    cfg = ResellerConfig.model_validate({**values, **changes})
    return HardwareReseller(mesa.Model(rng=np.random.default_rng(0)), name=cfg.name, holder_id=4, config=cfg,
                            n_generations=2)


def test_new_reseller_state() -> None:
    r = reseller()
    assert (r.name, r.holder_id, r.cash, r.kind) == ("r", 4, 7e6, "reseller")
    np.testing.assert_array_equal(r.last_orders, [0.0, 0.0])


def test_quote_by_hand() -> None:
    """At step 0: G0 = 10,000 x min(1, 0.5)^1 x (1 - 24/48) x ((125 + 100)/(0 + 100))^0.5 = 10,000 x 0.5 x 0.5 x 1.5
    = 3,750; G1 = 30,000 x 1 x (1 - 6/60) x ((0 + 100)/(300 + 100))^0.5 = 30,000 x 0.9 x 0.5 = 13,500.
    The bid is the quote less the 20% margin: (3,000, 10,800)."""
    r = reseller()
    r.last_orders = np.array([125.0, 0.0])
    quote = r.quote(GENERATIONS, 0, np.array([0.0, 300.0]))
    np.testing.assert_allclose(quote, [3750.0, 13500.0], rtol=1e-14)
    np.testing.assert_allclose(r.bid(quote), [3000.0, 10800.0], rtol=1e-14)


def test_quote_pressure_is_clipped_to_a_quarter_and_double() -> None:
    """G0 orders 1,500 on no stock: (1,600/100)^0.5 = 4 -> clipped to 2: 10,000 x 0.5 x 0.5 x 2 = 5,000.
    G1 stock 3,000, no orders: (100/3,100)^0.5 = 0.18 -> clipped to 0.25: 30,000 x 0.9 x 0.25 = 6,750."""
    r = reseller()
    r.last_orders = np.array([1500.0, 0.0])
    np.testing.assert_allclose(r.quote(GENERATIONS, 0, np.array([0.0, 3000.0])), [5000.0, 6750.0], rtol=1e-14)


def test_quote_obsolescence_and_end_of_life_floor() -> None:
    """Obsolescence 2 squares G0's relative value (0.25); at step 30 G0 is 54 months old, past its 48-month life,
    so 2% of its value remains: 10,000 x 0.25 x 0.02 = 50. G1 is 36 months old: 30,000 x (1 - 36/60) = 12,000."""
    r = reseller(obsolescence=2.0)
    np.testing.assert_allclose(r.quote(GENERATIONS, 30, np.zeros(2)), [50.0, 12000.0], rtol=1e-14)


def test_quote_before_any_release_compares_to_the_earliest_generation() -> None:
    """At step -30 nothing is on sale: G0 (earliest release) stands in for the newest. G1 then has twice G0's
    tokens per dollar, capped at 1: both quote their list price (age 0, neutral book)."""
    r = reseller()
    np.testing.assert_allclose(r.quote(GENERATIONS, -30, np.zeros(2)), [10000.0, 30000.0], rtol=1e-15)


@pytest.mark.parametrize(("margin", "expected"), [(0.0, [1000.0, 50.0]), (0.15, [850.0, 42.5]), (1.0, [0.0, 0.0])])
def test_bid_is_quote_less_margin(margin: float, expected: list[float]) -> None:
    np.testing.assert_allclose(reseller(margin=margin).bid(np.array([1000.0, 50.0])), expected, rtol=1e-15)
