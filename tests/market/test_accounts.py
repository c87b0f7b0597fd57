"""Monthly accounts (market/accounts.py) on two providers and a reseller, by hand from the equations in the
module docstring of market/accounts.py::

    revenue = sum_o price_o served_o;  cash_cost = power + opex + sum_o variable_cost_o served_o
    profit  = revenue - cash_cost - depreciation - interest   (zero for holders without books)
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from market.accounts import Settlement, settle_month
from market.clearing import Clearing
from market.fleet import FleetEconomics
from market.offers import OfferBook


def offer_book(holder: list[int], price: list[float], variable_cost: list[float]) -> OfferBook:
    n = len(holder)
    return OfferBook(holder=np.array(holder, dtype=np.int64), region=np.zeros(n, dtype=np.int64),
                     kind=np.zeros(n, dtype=np.int64), owner=np.array(holder, dtype=np.int64), quality=np.ones(n),
                     price=np.array(price), unit_cost=np.zeros(n), capacity=np.full(n, np.inf),
                     variable_cost=np.array(variable_cost), privacy_risk=np.zeros(n), lock_in=np.zeros(n),
                     unverified=np.zeros(n), reliability=np.ones(n), via=np.full(n, -1, dtype=np.int64))


def clearing(served: list[float], price: list[float]) -> Clearing:
    """A clearing with one buyer: only ``served`` and ``revenue`` matter to the accounts."""
    s = np.array(served)
    return Clearing(shares=np.zeros((1, len(s))), outside_share=np.zeros(1), allocation=s[None, :],
                    offer_demand=s, served=s, revenue=s * np.array(price), spend=np.array([s @ np.array(price)]),
                    inside_demand=np.array([s.sum()]), unmet=np.zeros(1))


def fleet(depreciation: list[list[float]], power: list[list[float]], opex: list[list[float]]) -> FleetEconomics:
    d = np.array(depreciation)
    return FleetEconomics(gpus=np.zeros_like(d), capacity=np.zeros_like(d), depreciation=d, power_cost=np.array(power),
                          opex=np.array(opex), unit_cost=np.zeros_like(d), variable_cost=np.zeros_like(d),
                          load_mw=np.zeros(d.shape[1]))


def test_settle_month_two_providers_by_hand() -> None:
    """Offers: provider 0 in two regions at 2 and 3 $/Mtok serving 100 and 50 Mtok (variable cost 0.5), provider 1
    at 4 serving 25 (no variable cost). Fleet costs per (holder, region), two regions:
    depreciation [[30, 6], [9, 0], [2, 0]], power [[20, 5], [7, 0], [3, 0]], opex [[10, 2], [4, 0], [1, 0]].
    Interest 10 and 0; holder 2 (a reseller) keeps no books.

    revenue      = [200 + 150, 100, 0] = [350, 100, 0];  served = [150, 25, 0]
    cash_cost    = [25 + 12 + 0.5 * 150, 7 + 4, 3 + 1] = [112, 11, 4]
    depreciation = [36, 9, 2]
    profit       = [350 - 112 - 36 - 10, 100 - 11 - 9 - 0, 0] = [192, 80, 0]
    """
    price = [2.0, 3.0, 4.0]
    settlement = settle_month(
        offer_book([0, 0, 1], price, [0.5, 0.5, 0.0]), clearing([100.0, 50.0, 25.0], price),
        fleet([[30, 6], [9, 0], [2, 0]], [[20, 5], [7, 0], [3, 0]], [[10, 2], [4, 0], [1, 0]]),
        interest=np.array([10.0, 0.0, 0.0]), books=np.array([True, True, False]))
    np.testing.assert_allclose(settlement.revenue, [350.0, 100.0, 0.0], rtol=1e-15)
    np.testing.assert_allclose(settlement.served, [150.0, 25.0, 0.0], rtol=1e-15)
    np.testing.assert_allclose(settlement.cash_cost[:2], [112.0, 11.0], rtol=1e-15)
    np.testing.assert_allclose(settlement.depreciation[:2], [36.0, 9.0], rtol=1e-15)
    np.testing.assert_allclose(settlement.interest, [10.0, 0.0, 0.0], rtol=1e-15)
    np.testing.assert_allclose(settlement.profit, [192.0, 80.0, 0.0], rtol=1e-15)


def test_a_holder_without_books_makes_no_profit_or_loss() -> None:
    """Holder 1 keeps no books (an inactive provider): with fleet costs of 5 + 3 + 2 and interest 4 its profit is
    0, not -14; holder 0 with the same costs and books loses 14."""
    settlement = settle_month(offer_book([], [], []), clearing([], []),
                              fleet([[5.0], [5.0]], [[3.0], [3.0]], [[2.0], [2.0]]),
                              interest=np.array([4.0, 4.0]), books=np.array([True, False]))
    np.testing.assert_allclose(settlement.profit, [-14.0, 0.0], rtol=1e-15)
    np.testing.assert_array_equal(settlement.revenue, [0.0, 0.0])


def test_padded_adds_zero_rows_for_new_holders() -> None:
    """Accounts of 2 holders padded to 4: every field gains two zeros; padding to 2 (or fewer) changes nothing."""
    settlement = Settlement(revenue=np.array([1.0, 2.0]), served=np.array([3.0, 4.0]),
                            depreciation=np.array([5.0, 6.0]), cash_cost=np.array([7.0, 8.0]),
                            interest=np.array([9.0, 10.0]), profit=np.array([11.0, 12.0]),
                            served_units=np.array([13.0, 14.0]))
    padded = settlement.padded(4)
    for name, (a, b) in {"revenue": (1, 2), "served": (3, 4), "depreciation": (5, 6), "cash_cost": (7, 8),
                         "interest": (9, 10), "profit": (11, 12), "served_units": (13, 14)}.items():
        np.testing.assert_array_equal(getattr(padded, name), [a, b, 0.0, 0.0])
        np.testing.assert_array_equal(getattr(settlement.padded(2), name), [a, b])
        np.testing.assert_array_equal(getattr(settlement.padded(1), name), [a, b])


def test_served_capacity_units_weigh_tiers_and_routed_tokens_by_gpu_time() -> None:
    """The flywheel's measure of work served, by hand: provider 0 serves 100 Mtok of a frontier tier (weight 1)
    and 150 Mtok of a small tier (weight 1/15); provider 1 serves 40 Mtok of a mid tier (weight 1/4) directly and
    20 Mtok of it through router 2's offer (the router's own weight does not count: the tokens run on provider
    1's GPUs). served = [250, 60, 0]; served_units = [100 + 150/15, 40/4 + 20/4, 0] = [110, 15, 0]."""
    price = [2.0, 0.1, 0.5, 0.6]
    book = replace(offer_book([0, 0, 1, 2], price, [0.0] * 4), capacity_weight=np.array([1.0, 1 / 15, 0.25, 1.0]),
                   via=np.array([-1, -1, -1, 2]))
    settlement = settle_month(book, clearing([100.0, 150.0, 40.0, 20.0], price),
                              fleet([[0.0]] * 3, [[0.0]] * 3, [[0.0]] * 3), interest=np.zeros(3),
                              books=np.array([True, True, True]))
    np.testing.assert_allclose(settlement.served, [250.0, 60.0, 0.0], rtol=1e-15)
    np.testing.assert_allclose(settlement.served_units, [110.0, 15.0, 0.0], rtol=1e-15)


def test_served_units_are_the_tokens_with_one_tier() -> None:
    """Weight 1 everywhere (no declared tiers): the flywheel counts Mtok exactly as before."""
    price = [2.0, 3.0, 4.0]
    settlement = settle_month(offer_book([0, 0, 1], price, [0.0] * 3), clearing([100.0, 50.0, 25.0], price),
                              fleet([[0.0]] * 3, [[0.0]] * 3, [[0.0]] * 3), interest=np.zeros(3),
                              books=np.array([True, True, False]))
    np.testing.assert_array_equal(settlement.served_units, settlement.served)
