"""GPU accounting and hardware markets (market/hardware.py): ledger conservation, vintages, book values,
vendor allocation and secondary prices."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.hardware import (
    SCRAPPED,
    GpuLedger,
    LotPrice,
    adjust_price_level,
    allocate_supply,
    holding_months,
    lot_bid,
    lot_quote,
    par_rate,
)
from market.technology import GenerationTable

N_HOLDERS = 4
N_GENERATIONS = 3

# ---------------------------------------------------------------------------------------------------------
# GPU ledger: conservation under random flows
# ---------------------------------------------------------------------------------------------------------

add_op = st.tuples(
    st.just("add"),
    st.integers(0, N_HOLDERS - 1),  # holder
    st.integers(0, N_GENERATIONS - 1),  # generation
    st.integers(0, 1),  # region
    st.integers(0, 50),  # count
    st.integers(-20, 10),  # built step
    st.integers(1, 30),  # lifetime
)
move_op = st.tuples(
    st.just("move"),
    st.integers(0, N_HOLDERS - 1),  # from
    st.integers(SCRAPPED, N_HOLDERS - 1),  # to (may scrap)
    st.one_of(st.none(), st.integers(0, 80)),  # count (None: all)
    st.one_of(st.none(), st.integers(0, N_GENERATIONS - 1)),  # generation filter
    st.one_of(st.none(), st.integers(0, 1)),  # region filter
    st.one_of(st.none(), st.floats(0.0, 5e4)),  # price per GPU (None: book value)
)
scrap_op = st.tuples(st.just("scrap"), st.integers(0, 6))  # months to advance, then scrap expired
compact_op = st.tuples(st.just("compact"))
ledger_ops = st.lists(st.one_of(add_op, move_op, scrap_op, compact_op), max_size=40)


def units(ledger: GpuLedger) -> np.ndarray:
    return ledger.units_by_holder_generation(N_HOLDERS)


def assert_conserved(ledger: GpuLedger) -> None:
    """Per generation, GPUs held by holders plus scrapped equal GPUs produced; no lot is negative."""
    np.testing.assert_array_equal(units(ledger).sum(axis=0) + ledger.scrapped_by_generation(), ledger.produced)
    assert np.all(ledger.view("count") >= 0)


@settings(max_examples=150)
@given(ledger_ops)
def test_ledger_conserves_gpus_under_any_sequence_of_flows(ops: list[tuple[Any, ...]]) -> None:
    ledger = GpuLedger(N_GENERATIONS)
    step = 0
    produced = np.zeros(N_GENERATIONS, dtype=np.int64)
    for op in ops:
        kind = op[0]
        if kind == "add":
            _, holder, gen, region, count, built, lifetime = op
            ledger.add(holder=holder, generation=gen, region=region, count=count, built_step=built,
                       lifetime=lifetime, step=step, basis=1000.0)
            produced[gen] += count
        elif kind == "move":
            _, src, dst, count, gen, region, price = op
            before = units(ledger)
            scrapped_before = ledger.scrapped_by_generation()
            mask = (ledger.view("holder") == src) & (ledger.view("count") > 0)
            if gen is not None:
                mask &= ledger.view("generation") == gen
            if region is not None:
                mask &= ledger.view("region") == region
            available = int(ledger.view("count")[mask].sum())
            moved = ledger.move(holder=src, to_holder=dst, count=count, step=step, price_per_gpu=price,
                                generation=gen, region=region)
            expected = available if count is None else min(count, available)
            assert moved.units == expected
            after = units(ledger)
            if dst != src:
                assert before[src].sum() - after[src].sum() == expected
                if dst == SCRAPPED:
                    assert (ledger.scrapped_by_generation() - scrapped_before).sum() == expected
                else:
                    assert after[dst].sum() - before[dst].sum() == expected
        elif kind == "scrap":
            step += op[1]
            ledger.scrap_expired(step)
            live = (ledger.view("holder") >= 0) & (ledger.view("count") > 0)
            assert np.all(ledger.view("end_step")[live] > step)
        else:
            ledger.compact()
        np.testing.assert_array_equal(ledger.produced, produced)
        assert_conserved(ledger)


def test_compact_merges_scrapped_lots_and_drops_empty_ones() -> None:
    ledger = GpuLedger(2)
    ledger.add(holder=0, generation=0, region=0, count=5, built_step=0, lifetime=2, step=0, basis=1.0)
    ledger.add(holder=1, generation=0, region=0, count=7, built_step=0, lifetime=3, step=0, basis=1.0)
    ledger.add(holder=1, generation=1, region=1, count=4, built_step=0, lifetime=24, step=0, basis=1.0)
    ledger.move(holder=1, to_holder=0, count=4, step=1, price_per_gpu=None, generation=1)  # empties a lot
    scrapped = ledger.scrap_expired(3)
    assert scrapped.units == 12
    ledger.compact()
    # One live lot (holder 0, generation 1, 4 GPUs) and one merged scrapped lot of generation 0.
    assert len(ledger) == 2
    np.testing.assert_array_equal(ledger.scrapped_by_generation(), [12, 0])
    np.testing.assert_array_equal(ledger.units_by_holder_generation(2), [[0, 4], [0, 0]])
    assert_conserved_small(ledger)


def assert_conserved_small(ledger: GpuLedger) -> None:
    n_holders = int(ledger.view("holder").max()) + 1
    held = ledger.units_by_holder_generation(max(n_holders, 1)).sum(axis=0)
    np.testing.assert_array_equal(held + ledger.scrapped_by_generation(), ledger.produced)


def test_add_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="non-negative, got -3"):
        GpuLedger(1).add(holder=0, generation=0, region=0, count=-3, built_step=0, lifetime=5, step=0, basis=1.0)


# ---------------------------------------------------------------------------------------------------------
# vintages and book values
# ---------------------------------------------------------------------------------------------------------


def test_move_takes_oldest_gpus_first() -> None:
    """Holder 0 holds lots built at steps 5 (3 GPUs), -10 (4) and 0 (5). Moving 6 takes the 4 built at -10
    and 2 of those built at 0; it keeps 3 built at 5 and 3 built at 0."""
    ledger = GpuLedger(1)
    for built, count in [(5, 3), (-10, 4), (0, 5)]:
        ledger.add(holder=0, generation=0, region=0, count=count, built_step=built, lifetime=60, step=built,
                   basis=100.0)
    moved = ledger.move(holder=0, to_holder=1, count=6, step=6, price_per_gpu=50.0)
    np.testing.assert_array_equal(moved.count, [4, 2])
    holder, built, count = ledger.view("holder"), ledger.view("built_step"), ledger.view("count")
    got = sorted((int(h), int(b), int(c)) for h, b, c in zip(holder, built, count, strict=True) if c > 0)
    assert got == [(0, 0, 3), (0, 5, 3), (1, -10, 4), (1, 0, 2)]


def test_move_respects_generation_and_region_filters() -> None:
    ledger = GpuLedger(2)
    ledger.add(holder=0, generation=0, region=0, count=10, built_step=-5, lifetime=60, step=-5, basis=1.0)
    ledger.add(holder=0, generation=1, region=0, count=10, built_step=-9, lifetime=60, step=-9, basis=1.0)
    ledger.add(holder=0, generation=1, region=1, count=10, built_step=-12, lifetime=60, step=-12, basis=1.0)
    moved = ledger.move(holder=0, to_holder=2, count=None, step=0, price_per_gpu=None, generation=1, region=0,
                        to_region=1)
    assert moved.units == 10
    np.testing.assert_array_equal(moved.generation, [1])
    per_region = ledger.by_holder_region(ledger.view("count").astype(float), 3, 2)
    np.testing.assert_array_equal(per_region, [[10.0, 10.0], [0.0, 0.0], [0.0, 10.0]])


def test_book_value_is_straight_line_to_end_of_life() -> None:
    """$1,200 GPU, life 12 months from step 0: worth 900 at step 3, 0 at 12 and after; $100 a month.
    Sold at step 6 at book value, the buyer's basis is 600 over the 6 months left: 300 at step 9, $100 a month.
    Sold at step 6 for $500: the buyer depreciates 500 / 6 a month."""
    ledger = GpuLedger(1)
    ledger.add(holder=0, generation=0, region=0, count=2, built_step=0, lifetime=12, step=0, basis=1200.0)
    np.testing.assert_allclose(ledger.book_value_per_gpu(3), [900.0], rtol=1e-15)
    np.testing.assert_allclose(ledger.book_value_per_gpu(12), [0.0], atol=0)
    np.testing.assert_allclose(ledger.book_value_per_gpu(20), [0.0], atol=0)
    np.testing.assert_allclose(ledger.depreciation_per_gpu_month(), [100.0], rtol=1e-15)

    at_book = ledger.move(holder=0, to_holder=1, count=1, step=6, price_per_gpu=None)
    np.testing.assert_allclose(at_book.book_value, [600.0], rtol=1e-15)
    at_price = ledger.move(holder=0, to_holder=2, count=1, step=6, price_per_gpu=500.0)
    np.testing.assert_allclose(at_price.book_value, [600.0], rtol=1e-15)  # left the seller's books at 600

    holder = ledger.view("holder")
    live = ledger.view("count") > 0
    book9 = ledger.book_value_per_gpu(9)
    dep = ledger.depreciation_per_gpu_month()
    buyer1 = live & (holder == 1)
    buyer2 = live & (holder == 2)
    np.testing.assert_allclose(book9[buyer1], [300.0], rtol=1e-15)
    np.testing.assert_allclose(dep[buyer1], [100.0], rtol=1e-15)
    np.testing.assert_allclose(dep[buyer2], [500.0 / 6.0], rtol=1e-15)
    np.testing.assert_allclose(book9[buyer2], [250.0], rtol=1e-15)


def test_scrap_expired_scraps_at_end_of_life_only() -> None:
    ledger = GpuLedger(2)
    ledger.add(holder=0, generation=0, region=0, count=3, built_step=-10, lifetime=12, step=-10, basis=1.0)
    ledger.add(holder=1, generation=1, region=0, count=4, built_step=0, lifetime=12, step=0, basis=1.0)
    assert ledger.scrap_expired(1).units == 0
    gone = ledger.scrap_expired(2)
    assert gone.units == 3
    np.testing.assert_array_equal(gone.generation, [0])
    assert ledger.scrap_expired(11).units == 0
    assert ledger.scrap_expired(12).units == 4
    np.testing.assert_array_equal(ledger.scrapped_by_generation(), [3, 4])
    np.testing.assert_array_equal(ledger.produced, [3, 4])


# ---------------------------------------------------------------------------------------------------------
# vendor allocation
# ---------------------------------------------------------------------------------------------------------


def test_allocate_supply_fills_highest_priority_first() -> None:
    """Orders (10, 20, 30), priorities (1, 3, 2), supply 45: buyer 1 gets 20, buyer 2 gets 25, buyer 0 none."""
    got = allocate_supply(np.array([10.0, 20.0, 30.0]), np.array([1.0, 3.0, 2.0]), 45.0)
    np.testing.assert_array_equal(got, [0.0, 20.0, 25.0])


def test_allocate_supply_ties_keep_buyer_order_and_unlimited_fills_all() -> None:
    np.testing.assert_array_equal(allocate_supply(np.array([10.0, 10.0]), np.array([5.0, 5.0]), 15.0), [10.0, 5.0])
    np.testing.assert_array_equal(allocate_supply(np.array([7.0, 9.0]), np.array([0.0, 1.0]), math.inf), [7.0, 9.0])


def test_allocate_supply_pro_rata() -> None:
    """Orders (10, 30, 7), supply 20: every order gets 20/47 of itself, floored: (4, 12, 2)."""
    got = allocate_supply(np.array([10.0, 30.0, 7.0]), np.array([0.0, 9.0, 1.0]), 20.0, rule="pro_rata")
    np.testing.assert_array_equal(got, [4.0, 12.0, 2.0])
    with pytest.raises(ValueError, match="unknown vendor allocation rule 'lottery'"):
        allocate_supply(np.array([10.0, 30.0]), np.array([0.0, 1.0]), 20.0, rule="lottery")


@given(
    orders=st.lists(st.integers(0, 100), min_size=1, max_size=8),
    priority=st.lists(st.floats(0.0, 1e9), min_size=8, max_size=8),
    supply=st.integers(0, 400),
)
def test_allocate_supply_properties(orders: list[int], priority: list[float], supply: int) -> None:
    """Never more than supply in total nor than any order; whole units; a buyer gets something only when
    every buyer of strictly higher priority is filled; nothing is withheld while orders are open."""
    o = np.array(orders, dtype=np.float64)
    pr = np.array(priority[: len(orders)])
    got = allocate_supply(o, pr, float(supply))
    assert got.sum() <= supply
    assert np.all(got >= 0.0) and np.all(got <= o)
    np.testing.assert_array_equal(got, np.floor(got))
    assert got.sum() == min(float(supply), o.sum())
    for i in range(len(o)):
        if got[i] > 0:
            higher = pr > pr[i]
            np.testing.assert_array_equal(got[higher], o[higher])


# ---------------------------------------------------------------------------------------------------------
# secondary market: lot prices by remaining life, the clearing price level, bids
# ---------------------------------------------------------------------------------------------------------

# G0 (old): $10,000, 1,000 tok/s, 0.4 kW, 48-month life; G1 (newest): $30,000, 4,000 tok/s, 1.0 kW, 60 months.
PAR = {"list_price": np.array([10000.0, 30000.0]), "throughput": np.array([1000.0, 4000.0]),
       "lifetime_months": np.array([48.0, 60.0]), "power_kw": np.array([0.4, 1.0]), "newest": 1,
       "power_price": 0.1, "pue": 1.5, "opex_per_gpu_month": 100.0}


def test_par_rate_by_hand() -> None:
    """Running costs: G0 0.4 x 1.5 x 730.5 x 0.1 + 100 = 143.83, G1 1.0 x 1.5 x 730.5 x 0.1 + 100 = 209.575 $/month.
    New G1 costs 30,000/60 + 209.575 = 709.575 a month for 4 units of tokens; G0 gives 1 unit, so a buyer pays at
    most 709.575/4 - 143.83 = 33.56375 a month for G0's capital. G1 itself: 500 (its list price over its life)."""
    rate = par_rate(**PAR)
    np.testing.assert_allclose(rate, [709.575 / 4 - 143.83, 500.0], rtol=1e-13)


def test_par_rate_is_zero_when_running_an_old_gpu_costs_more_than_owning_a_new_one() -> None:
    """At opex $300 a month G0 runs at 343.83 > 809.575/4 = 202.39 per unit of tokens: worth nothing."""
    assert par_rate(**{**PAR, "opex_per_gpu_month": 300.0})[0] == 0.0


def test_lot_quote_is_priced_by_remaining_life_and_never_below_scrap() -> None:
    """Rate $250 per GPU-month: lots with 24, 6 and 1 months left quote 6,000, 1,500 and max(300, 250) = 300."""
    np.testing.assert_allclose(lot_quote(np.array(250.0), np.array([24.0, 6.0, 1.0]), np.array(300.0)),
                               [6000.0, 1500.0, 300.0], rtol=1e-15)


def test_price_level_step_by_hand() -> None:
    """Level 0.8, 30 orders against 600 in stock (T = 6: target turnover 100), u = 50, speed 0.5:
    0.8 x sqrt(80/150) = 0.58424...; 400 orders: 0.8 x sqrt(450/150) = 1.3856 -> capped at par (1); no orders on
    a large book: floored at the minimum level."""
    kw = {"target_months": 6.0, "reference_units": 50.0, "speed": 0.5, "min_level": np.array([0.1])}
    lvl = adjust_price_level(np.array([0.8]), orders=np.array([30.0]), inventory=np.array([600.0]), **kw)
    assert lvl[0] == pytest.approx(0.8 * math.sqrt(80 / 150), rel=1e-14)
    assert adjust_price_level(np.array([0.8]), orders=np.array([400.0]), inventory=np.array([600.0]), **kw)[0] == 1.0
    assert adjust_price_level(np.array([0.11]), orders=np.array([0.0]), inventory=np.array([1e6]), **kw)[0] == 0.1


def _clearing_market(a: float, b: float, inflow: float, steps: int = 400) -> tuple[float, float, float]:
    """A reseller receiving ``inflow`` lots a month (24 months of life each, par $250 per GPU-month, scrap $300)
    facing buyers who order ``a - b * price`` a month; T = 6 months, u = 50, speed 0.5."""
    v, life, scrap = 250.0, 24.0, 300.0
    level, stock, orders, price = np.array([1.0]), 0.0, 0.0, float("nan")
    for _ in range(steps):
        stock += inflow
        opening = stock
        level = adjust_price_level(level, orders=np.array([orders]), inventory=np.array([stock]), target_months=6.0,
                                   reference_units=50.0, speed=0.5, min_level=np.array([scrap / (v * life)]))
        price = float(lot_quote(level * v, np.array([life]), np.array([scrap]))[0])
        orders = max(a - b * price, 0.0)
        stock -= min(orders, stock)
    return price, opening, float(level[0])


def test_secondary_market_clears_at_the_hand_computed_price() -> None:
    """Demand 400 - 0.1 p GPUs a month, inflow 100 a month. In a steady state the book turns over: sales equal
    inflow, 400 - 0.1 p* = 100, so p* = $3,000 (level 3,000 / (250 x 24) = 0.5), and the level is at rest when
    orders = stock / T, so the opening stock is 6 x 100 = 600."""
    price, opening, level = _clearing_market(400.0, 0.1, 100.0)
    assert price == pytest.approx(3000.0, rel=1e-9)
    assert opening == pytest.approx(600.0, rel=1e-9)
    assert level == pytest.approx(0.5, rel=1e-9)


def test_secondary_market_without_buyers_at_any_price_falls_to_scrap() -> None:
    """Demand 100 - 0.1 p never absorbs an inflow of 100 at a positive price: the quote falls to the $300 scrap
    value (level 300 / 6,000 = 0.05) and stays there."""
    price, _, level = _clearing_market(100.0, 0.1, 100.0)
    assert price == 300.0
    assert level == pytest.approx(0.05, rel=1e-12)


def test_holding_months_and_bid_by_hand() -> None:
    """600 in stock selling 100 a month: held 6 months. A lot with 24 months left bought at a $250 rate and a 15%
    margin: 0.85 x 250 x (24 - 6) = 3,825; a lot with 5 months left would die unsold: bid 0. No stock: held 0;
    stock and no orders: held for the lifetime (48)."""
    held = holding_months(np.array([600.0, 0.0, 10.0]), np.array([100.0, 0.0, 0.0]), np.array([48.0, 48.0, 48.0]))
    np.testing.assert_array_equal(held, [6.0, 0.0, 48.0])
    np.testing.assert_allclose(lot_bid(np.array(250.0), np.array([24.0, 5.0]), np.array(6.0), 0.15), [3825.0, 0.0],
                               rtol=1e-15)


def test_move_prices_each_lot_by_its_own_remaining_life_within_a_budget() -> None:
    """Two lots of one generation: 4 GPUs ending at step 30, 10 ending at step 50. At step 10 with a price of
    max(300, 100 x L): the old lot (20 months left) costs 2,000 each, the young one (40 left) 4,000. A budget of
    20,000 buys the 4 old GPUs (8,000) and 3 young ones (12,000)."""
    ledger = GpuLedger(1)
    ledger.add(holder=0, generation=0, region=0, count=4, built_step=-18, lifetime=48, step=-18, basis=1000.0)
    ledger.add(holder=0, generation=0, region=0, count=10, built_step=2, lifetime=48, step=2, basis=1000.0)
    moved = ledger.move(holder=0, to_holder=1, count=None, step=10, price_per_gpu=None,
                        lot_price=LotPrice(rate=100.0, floor=300.0), budget=20000.0)
    assert moved.count.tolist() == [4, 3]
    np.testing.assert_allclose(moved.paid, [8000.0, 12000.0])
    assert moved.amount == 20000.0
    np.testing.assert_allclose(ledger.life_left_by_holder_generation(10, 2)[:, 0], [40.0, (4 * 20 + 3 * 40) / 7])


def test_a_lot_priced_at_zero_does_not_move() -> None:
    """A bid that expects to hold a lot 25 months pays 0 for a lot with 20 months left: it stays."""
    ledger = GpuLedger(1)
    ledger.add(holder=0, generation=0, region=0, count=4, built_step=-18, lifetime=48, step=-18, basis=1000.0)
    moved = ledger.move(holder=0, to_holder=1, count=None, step=10, price_per_gpu=None,
                        lot_price=LotPrice(rate=100.0, offset=25.0))
    assert moved.units == 0
    assert ledger.units_by_holder_generation(2).tolist() == [[4], [0]]


def test_initial_fleet_lot_is_booked_at_its_age() -> None:
    """A lot built 30 months before step 0 at $15,000 with a 48-month life is worth 15,000 x 18/48 = 5,625 at step
    0 and depreciates 15,000/48 = 312.5 a month: the same as buying it used now at its age-based book value and
    writing that off over its 18 remaining months (5,625/18)."""
    ledger = GpuLedger(1)
    ledger.add_new(0, 0, 0, 10, -30, GenerationTable(
        names=("A100",), release_step=np.array([-40]), list_price_usd=np.array([15000.0]),
        throughput_tokens_per_s=np.array([1000.0]), power_kw=np.array([0.4]), lifetime_months=np.array([48]),
        vendor_supply_per_month=np.array([np.inf])))
    assert ledger.book_value_per_gpu(0)[0] == pytest.approx(5625.0, rel=1e-15)
    assert ledger.depreciation_per_gpu_month()[0] == pytest.approx(5625.0 / 18, rel=1e-15)


BASELINE_LIKE = GenerationTable(
    names=("A100", "H100"), release_step=np.array([-54, -30]), list_price_usd=np.array([15000.0, 30000.0]),
    throughput_tokens_per_s=np.array([400.0, 1200.0]), power_kw=np.array([0.55, 0.9]),
    lifetime_months=np.array([72, 72]), vendor_supply_per_month=np.full(2, np.inf))


def test_initial_fleet_is_booked_at_the_lower_of_aged_cost_and_value_in_use() -> None:
    """A decentralized operator (PUE 1.5, opex $120, $0.08/kWh) holds A100s built 36 months before the start, H100
    the newest GPU. Straight line from list: 15,000 x 36/72 = 7,500. Value in use: running costs A100
    0.55 x 1.5 x 730.5 x 0.08 + 120 = 168.213, H100 0.9 x 1.5 x 730.5 x 0.08 + 120 = 198.894; a month of A100
    life is worth (30,000/72 + 198.894)/3 - 168.213 = 36.974, x 36 months = 1,331.1 < 7,500: booked at 1,331.1
    and written off at 36.974 a month. Its H100s (10 months old) are worth their straight-line cost,
    30,000 x 62/72, as the newest generation's value in use is its list price over its life."""
    ledger = GpuLedger(2)
    costs = {"power_price": 0.08, "pue": 1.5, "opex_per_gpu_month": 120.0}
    ledger.add_initial(0, 0, 0, 100, 36, BASELINE_LIKE, **costs)
    ledger.add_initial(0, 1, 0, 10, 10, BASELINE_LIKE, **costs)
    v_a100 = (30000 / 72 + 0.9 * 1.5 * 730.5 * 0.08 + 120) / 3 - (0.55 * 1.5 * 730.5 * 0.08 + 120)
    np.testing.assert_allclose(ledger.book_value_per_gpu(0), [v_a100 * 36, 30000 * 62 / 72], rtol=1e-12)
    np.testing.assert_allclose(ledger.depreciation_per_gpu_month(), [v_a100, 30000 / 72], rtol=1e-12)
    assert v_a100 == pytest.approx(36.974, abs=1e-3)
    assert ledger.view("built_step").tolist() == [-36, -10]  # its age (and end of life) stays the lot's own

