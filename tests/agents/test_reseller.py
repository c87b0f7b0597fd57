"""Hardware resellers (agents/reseller.py): quotes by each lot's remaining life, the price level that clears the
book, the stock limit and the smoothed order rate, on hand-worked examples."""

from __future__ import annotations

import math
from typing import Any

import mesa
import numpy as np

from agents.reseller import HardwareReseller
from market.config import ResellerConfig
from market.technology import GenerationTable

# G0: $10,000, 1,000 tok/s, 0.4 kW, released 24 months ago, 48-month life; G1 (newest): $30,000, 4,000 tok/s,
# 1.0 kW, released 6 months ago, 60-month life. Reference buyer: PUE 1.5, opex $100, power $0.1/kWh.
# Par rates (market.hardware.par_rate): G0 709.575/4 - 143.83 = 33.56375, G1 500 $ per GPU-month.
GENERATIONS = GenerationTable(
    names=("G0", "G1"), release_step=np.array([-24, -6]), list_price_usd=np.array([10000.0, 30000.0]),
    throughput_tokens_per_s=np.array([1000.0, 4000.0]), power_kw=np.array([0.4, 1.0]),
    lifetime_months=np.array([48, 60]), vendor_supply_per_month=np.full(2, np.inf),
)
PAR = np.array([709.575 / 4 - 143.83, 500.0])


def reseller(**changes: Any) -> HardwareReseller:
    values: dict[str, Any] = {"name": "r", "margin": 0.2, "demand_pressure": 0.5, "reference_units": 100.0,
                              "cash_usd": 7e6, "credit_limit_usd": 1e6, "buyer_pue": 1.5,
                              "buyer_opex_usd_per_gpu_month": 100.0, "target_inventory_months": 6.0,
                              "scrap_fraction": 0.03, "order_smoothing": 0.5}
    cfg = ResellerConfig.model_validate({**values, **changes})
    return HardwareReseller(mesa.Model(rng=np.random.default_rng(0)), name=cfg.name, holder_id=4, config=cfg,
                            n_generations=2)


def test_new_reseller_state() -> None:
    r = reseller()
    assert (r.name, r.holder_id, r.cash, r.credit_limit, r.kind) == ("r", 4, 7e6, 1e6, "reseller")
    np.testing.assert_array_equal(r.level, [1.0, 1.0])
    np.testing.assert_array_equal(r.last_orders, [0.0, 0.0])


def test_quote_by_hand_at_the_stocks_own_remaining_life() -> None:
    """First month, no orders yet: G0 stock of 300 at 40 months of life left: level 1 x sqrt((0 + 100)/(50 + 100))
    = 0.8165; quote 33.56375 x 0.8165 x 40 = 1,096.2. G1, none held: quoted for a GPU built at release (54 months
    left) at par: 500 x 54 = 27,000. Scrap floors: $300 and $900."""
    r = reseller()
    quote = r.quote(GENERATIONS, 0, np.array([300.0, 0.0]), np.array([40.0, np.nan]), power_price=0.1)
    level = math.sqrt(100 / 150)
    np.testing.assert_allclose(r.level, [level, 1.0], rtol=1e-14)
    np.testing.assert_allclose(r.rate, PAR * [level, 1.0], rtol=1e-13)
    np.testing.assert_allclose(quote, [PAR[0] * level * 40, 27000.0], rtol=1e-13)
    np.testing.assert_allclose(r.scrap, [300.0, 900.0], rtol=1e-15)


def test_the_level_moves_once_a_step() -> None:
    """A second quote in the same step (after retirements came in) reprices the book at the same level."""
    r = reseller()
    r.quote(GENERATIONS, 0, np.array([300.0, 0.0]), power_price=0.1)
    first = r.level.copy()
    r.quote(GENERATIONS, 0, np.array([3000.0, 0.0]), power_price=0.1)
    np.testing.assert_array_equal(r.level, first)
    r.quote(GENERATIONS, 1, np.array([3000.0, 0.0]), power_price=0.1)
    assert r.level[0] < first[0]


def test_quote_never_below_scrap() -> None:
    """A G0 lot with 2 months left: 33.56 x 2 = 67 < 300 scrap: quoted at 300."""
    r = reseller()
    quote = r.quote(GENERATIONS, 0, np.array([0.0, 0.0]), np.array([2.0, np.nan]), power_price=0.1)
    assert quote[0] == 300.0


def test_orders_smooth_and_set_holding_time_and_stock_limit() -> None:
    """Orders 200 then 100 with smoothing 0.5: rate 100 then 100. Holding 500/100 = 5 months; stock limit
    max(6 x 100, 100) = 600 (and the 100-GPU floor for G1, never ordered)."""
    r = reseller()
    r.record_orders(np.array([200.0, 0.0]))
    r.record_orders(np.array([100.0, 0.0]))
    np.testing.assert_allclose(r.order_rate, [100.0, 0.0])
    r.quote(GENERATIONS, 0, np.array([500.0, 0.0]), power_price=0.1)
    np.testing.assert_allclose(r.holding, [5.0, 0.0])
    np.testing.assert_allclose(r.stock_limit(), [600.0, 100.0])


def test_stock_quoted_at_scrap_without_orders_is_written_off_after_write_off_months() -> None:
    """G0 stock of 300 with 2 months of life left is quoted at its $300 scrap value (33.56 x 2 = 67 < 300).
    With write_off_months = 3 and no order it is written off in the third month, and the count restarts; G1
    (40 months left, quoted far above scrap) is never written off. An order at scrap restarts the count."""
    inventory, life = np.array([300.0, 50.0]), np.array([2.0, 40.0])
    r = reseller(write_off_months=3)
    got = [r.stock_to_write_off(inventory, r.quote(GENERATIONS, s, inventory, life, power_price=0.1))
           for s in range(5)]
    assert got == [[], [], [0], [], []]
    np.testing.assert_array_equal(r.months_at_scrap, [2, 0])
    r.record_orders(np.array([5.0, 0.0]))  # a buyer takes 5 GPUs at scrap
    assert r.stock_to_write_off(inventory, r.quote(GENERATIONS, 5, inventory, life, power_price=0.1)) == []
    np.testing.assert_array_equal(r.months_at_scrap, [0, 0])


def test_months_unsold_at_scrap_by_hand() -> None:
    from market.hardware import months_unsold_at_scrap

    months = months_unsold_at_scrap(np.array([0, 2, 5, 1]), inventory=np.array([10.0, 10.0, 0.0, 10.0]),
                                    quote=np.array([300.0, 300.0, 300.0, 301.0]),
                                    scrap=np.array([300.0, 300.0, 300.0, 300.0]),
                                    orders=np.array([0.0, 0.0, 0.0, 0.0]))
    np.testing.assert_array_equal(months, [1, 3, 0, 0])  # no stock or above scrap: reset
    assert months_unsold_at_scrap(np.array([4]), inventory=np.array([10.0]), quote=np.array([300.0]),
                                  scrap=np.array([300.0]), orders=np.array([1.0]))[0] == 0
