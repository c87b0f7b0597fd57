"""Trade planners of the hardware markets as pure functions (market/trading.py), on hand-made desks and holdings.

Expected trades are worked out by hand from the rules in the module docstring of market/trading.py (DESIGN.md
3.5): a seller sells to the reseller with the highest bid ``quote * (1 - margin)`` (none: scrapped for 0); a
buyer buys from the cheapest reseller holding the generation, then the next, deepest pockets first; whole GPUs
within ``floor(headroom_mw / (power_kw * pue / 1000))``; scarce vendor supply by ``allocate_supply`` and then
``floor(units * granted / ordered)`` per region; an entrant's missing GPUs of generation ``g`` are replaced by
``ceil(missing * throughput_g / throughput_newest)`` new GPUs of the newest generation.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.events import EventKind
from market.hardware import SCRAPPED, GpuLedger
from market.trading import (
    GenerationSpec,
    GpuTrade,
    NewOrder,
    ResellerDesk,
    UsedOrder,
    VendorSale,
    best_used_offer,
    divestment_sales,
    entry_fleet,
    execute,
    execute_trade,
    gpus_within,
    orders_by_reseller,
    sale,
    used_purchases,
    vendor_purchases,
)

# Three generations (ids 0, 1, 2): power per GPU, list price, tokens per second.
SPEC = GenerationSpec(
    power_kw=np.array([0.5, 1.0, 2.0]),
    list_price_usd=np.array([10_000.0, 20_000.0, 40_000.0]),
    throughput_tokens_per_s=np.array([100.0, 300.0, 1200.0]),
)
UNLIMITED = np.array([np.inf, np.inf])
LOT_FIELDS = ("holder", "generation", "region", "count", "built_step", "end_step", "acquired_step", "basis")


def desk(holder_ids: list[int], quotes: list[list[float]], margin: list[float]) -> ResellerDesk:
    return ResellerDesk(holder_ids=np.array(holder_ids, dtype=np.int64),
                        quotes=np.array(quotes, dtype=np.float64).reshape(len(holder_ids), -1),
                        margin=np.array(margin, dtype=np.float64))


NO_RESELLER = ResellerDesk(holder_ids=np.zeros(0, dtype=np.int64), quotes=np.zeros((0, 3)), margin=np.zeros(0))


# ---------------------------------------------------------------------------------------------------------
# sales to resellers
# ---------------------------------------------------------------------------------------------------------


def lot_desk() -> ResellerDesk:
    """Resellers 3 and 4 with rates (per GPU-month of life) 100/50 and 120/40 for generations 0/1, margins 0.1
    and 0.2, expected holding 2 and 6 months, scrap $300 / $600."""
    return ResellerDesk(holder_ids=np.array([3, 4], dtype=np.int64), quotes=np.array([[2000.0, 900.0],
                                                                                        [2400.0, 700.0]]),
                        margin=np.array([0.1, 0.2]), rates=np.array([[100.0, 50.0], [120.0, 40.0]]),
                        holding=np.array([[2.0, 0.0], [6.0, 0.0]]), scrap=np.array([[300.0, 600.0]] * 2))


def test_a_sale_to_resellers_is_priced_lot_by_lot_and_what_nobody_takes_is_scrapped() -> None:
    """Bid rates for generation 0: 0.9 x 100 = 90 and 0.8 x 120 = 96: reseller 4 buys, paying
    0.8 x 120 x (L - 6). The seller holds lots with 20 and 5 months left: 96 x 14 = 1,344 each for the first 3;
    the second lot would die before it sells (5 < 6): not taken, and a liquidation scraps it."""
    ledger = GpuLedger(2)
    ledger.add(holder=0, generation=0, region=0, count=3, built_step=-28, lifetime=48, step=-28, basis=1.0)
    ledger.add(holder=0, generation=0, region=0, count=2, built_step=-43, lifetime=48, step=-43, basis=1.0)
    trade = sale(lot_desk(), seller=0, generation=0, units=None, kind=EventKind.GPU_LIQUIDATION)
    assert (trade.buyer, trade.unsold_to) == (4, SCRAPPED)
    done = execute_trade(ledger, trade, step=0, lifetime_months=48)
    assert (done.units, done.moved.amount) == (3, pytest.approx(3 * 1344.0, rel=1e-15))
    assert done.unsold is not None and done.unsold.units == 2
    for kind in (EventKind.GPU_SALE, EventKind.GPU_RETIRED):  # a divesting or retiring provider keeps the rest
        assert sale(lot_desk(), seller=4, generation=0, units=None, kind=kind).unsold_to is None


def test_a_reseller_buys_within_its_budget_and_stock_room() -> None:
    """10 GPUs with 20 months left at 96 x 14 = 1,344 each: a budget of 5,000 buys 3; a room of 2 buys 2."""
    for budget, room, bought in ((5000.0, None, 3), (np.inf, 2, 2)):
        ledger = GpuLedger(2)
        ledger.add(holder=0, generation=0, region=0, count=10, built_step=-28, lifetime=48, step=-28, basis=1.0)
        trade = sale(lot_desk(), seller=0, generation=0, units=None, kind=EventKind.GPU_SALE)
        done = execute_trade(ledger, trade, step=0, lifetime_months=48, budget=budget, max_units=room)
        assert done.units == bought and done.unsold is None
        assert ledger.units_by_holder_generation(5)[0, 0] == 10 - bought


def test_buyers_pay_the_lowest_rate_times_each_lots_life_never_below_scrap() -> None:
    """Generation 1: reseller 4 sells at 40 per month of life (below 3's 50). Its lot with 30 months left costs
    1,200, one with 10 left max(600, 400) = 600."""
    ledger = GpuLedger(2)
    ledger.add(holder=4, generation=1, region=0, count=1, built_step=-18, lifetime=48, step=-18, basis=1.0)
    ledger.add(holder=4, generation=1, region=0, count=1, built_step=-38, lifetime=48, step=-38, basis=1.0)
    held = ledger.units_by_holder_generation(5)
    trades, _ = used_purchases(lot_desk(), held, [UsedOrder(buyer=1, priority=1.0, generation=1,
                                                            regions=np.array([0]), units=np.array([2.0]), pue=1.0)],
                               UNLIMITED, SPEC)
    assert [(t.seller, t.units) for t in trades] == [(4, 2)]
    done = execute_trade(ledger, trades[0], step=0, lifetime_months=48)
    np.testing.assert_allclose(sorted(done.moved.paid), [600.0, 1200.0])


def test_best_used_offer_and_orders_by_reseller() -> None:
    """Generation 0 held by both: the lower rate (reseller 3, 100) sets the price 2,000 and its stock's life;
    generation 1 held by none: NaN. 90 ordered of generation 0 split 2:1 by stock; 30 of generation 1 (no
    stock) split equally."""
    stock = np.array([[20, 0], [10, 0]])
    price, life = best_used_offer(lot_desk(), stock, np.array([[22.0, np.nan], [30.0, np.nan]]))
    np.testing.assert_array_equal(price, [2000.0, np.nan])
    np.testing.assert_array_equal(life, [22.0, np.nan])
    np.testing.assert_allclose(orders_by_reseller(np.array([90.0, 30.0]), stock), [[60.0, 15.0], [30.0, 15.0]])



def test_the_best_bidder_is_argmax_of_quote_times_one_minus_margin() -> None:
    """Quotes 100 and 120, margins 0.1 and 0.3: bids 100 * 0.9 = 90 and 120 * 0.7 = 84, so the first reseller
    (holder 5) buys at 90 although the second quotes more. Swapping the margins: 70 and 108, the second
    (holder 6) buys at 108."""
    d = desk([5, 6], [[100.0], [120.0]], [0.1, 0.3])
    np.testing.assert_allclose(d.bids, [[90.0], [84.0]], rtol=1e-15)
    trade = sale(d, seller=2, generation=0, units=7, kind=EventKind.GPU_SALE, region=1, built_before=12)
    assert trade == GpuTrade(seller=2, buyer=5, generation=0, units=7, price_per_gpu=pytest.approx(90.0, rel=1e-15),
                             kind=EventKind.GPU_SALE, region=1, to_region=None, built_before=12)
    swapped = sale(desk([5, 6], [[100.0], [120.0]], [0.3, 0.1]), seller=2, generation=0, units=None,
                   kind=EventKind.GPU_RETIRED)
    assert (swapped.buyer, swapped.units, swapped.kind) == (6, None, EventKind.GPU_RETIRED)
    assert swapped.price_per_gpu == pytest.approx(108.0, rel=1e-15)


def test_equal_bids_go_to_the_first_reseller() -> None:
    """Quotes 100 and 80 with margins 0.2 and 0: both bid 80; the tie goes to the first row (holder 8)."""
    trade = sale(desk([8, 9], [[100.0], [80.0]], [0.2, 0.0]), seller=0, generation=0, units=1,
                 kind=EventKind.GPU_SALE)
    assert trade.buyer == 8
    assert trade.price_per_gpu == pytest.approx(80.0, rel=1e-15)


def test_without_a_reseller_gpus_are_scrapped_for_nothing() -> None:
    """No reseller: the buyer is SCRAPPED, the price 0 and the event a scrapping, whatever kind was asked."""
    trade = sale(NO_RESELLER, seller=3, generation=1, units=4, kind=EventKind.GPU_RETIRED, region=0, built_before=5)
    assert trade == GpuTrade(seller=3, buyer=SCRAPPED, generation=1, units=4, price_per_gpu=0.0,
                             kind=EventKind.GPU_SCRAPPED, region=0, to_region=None, built_before=5)


# ---------------------------------------------------------------------------------------------------------
# divestment
# ---------------------------------------------------------------------------------------------------------


def test_divestment_sells_the_oldest_generation_first_in_each_region() -> None:
    """Seller 0 holds, in region 0, 3 GPUs of generation 0, 5 of generation 1 and 10 of generation 2, and in
    region 1, 4 of generation 1. Release order is 1, 0, 2 (generation 1 is the oldest). Reseller 2 quotes
    1,000 / 2,000 / 3,000 with margin 0.25: bids 750 / 1,500 / 2,250.

    Selling 10 in region 0: 5 of generation 1, then 3 of generation 0, then 2 of generation 2.
    Selling 6 in region 1 where it holds only 4 (all generation 1): 4 are sold, the order is not filled.
    Seller 1 sells 0: no trade."""
    held = np.zeros((3, 3, 2), dtype=np.int64)
    held[0, :, 0] = [3, 5, 10]
    held[0, 1, 1] = 4
    held[1, 2, 0] = 9
    before = held.copy()
    d = desk([2], [[1000.0, 2000.0, 3000.0]], [0.25])
    trades = divestment_sales(d, held, [(0, np.array([0, 1]), np.array([10.0, 6.0])),
                                        (1, np.array([0]), np.array([0.0]))], oldest_first=[1, 0, 2])
    sold = [(t.seller, t.buyer, t.generation, t.units, t.region, t.kind) for t in trades]
    assert sold == [(0, 2, 1, 5, 0, EventKind.GPU_SALE), (0, 2, 0, 3, 0, EventKind.GPU_SALE),
                    (0, 2, 2, 2, 0, EventKind.GPU_SALE), (0, 2, 1, 4, 1, EventKind.GPU_SALE)]
    np.testing.assert_allclose([t.price_per_gpu for t in trades], [1500.0, 750.0, 2250.0, 1500.0], rtol=1e-15)
    np.testing.assert_array_equal(held, before)  # the planner works on its own copy


def test_divestment_sees_the_sales_planned_before_it() -> None:
    """The same seller listed twice, selling 6 in region 0 each time from 3 / 5 / 10 GPUs (oldest first 0, 1, 2):
    the first sale takes 3 of generation 0 and 3 of generation 1; the second finds 2 of generation 1 left and then
    takes 4 of generation 2."""
    held = np.zeros((2, 3, 1), dtype=np.int64)
    held[0, :, 0] = [3, 5, 10]
    order = (0, np.array([0]), np.array([6.0]))
    trades = divestment_sales(desk([1], [[1.0, 1.0, 1.0]], [0.0]), held, [order, order], oldest_first=[0, 1, 2])
    assert [(t.generation, t.units) for t in trades] == [(0, 3), (1, 3), (1, 2), (2, 4)]


def test_divestment_without_resellers_scraps() -> None:
    """No reseller: the 2 GPUs sold are scrapped at price 0."""
    held = np.zeros((1, 3, 1), dtype=np.int64)
    held[0, 0, 0] = 2
    [trade] = divestment_sales(NO_RESELLER, held, [(0, np.array([0]), np.array([5.0]))], oldest_first=[0, 1, 2])
    assert (trade.buyer, trade.units, trade.price_per_gpu, trade.kind) == (SCRAPPED, 2, 0.0, EventKind.GPU_SCRAPPED)


# ---------------------------------------------------------------------------------------------------------
# used purchases
# ---------------------------------------------------------------------------------------------------------


def test_used_purchases_deepest_pockets_first_cheapest_reseller_first() -> None:
    """Resellers 2 and 3 quote generation 1 at 900 and 1,000 and hold 6 and 4 of it.

    Buyer 1 (priority 5e6) is served before buyer 0 (priority 1e6) although listed second. Buyer 1 wants 5 in
    region 0: 5 from reseller 2 (cheapest) at 900, leaving it 1; then 4 in region 1: the last 1 from reseller 2 at
    900 and 3 from reseller 3 at 1,000, leaving it 1. Buyer 0 wants 3: 1 from reseller 3 at 1,000, then nobody
    holds any. Requested per generation: 5 + 4 + 3 = 12 of generation 1; an order with generation -1 adds
    nothing."""
    held = np.zeros((5, 3), dtype=np.int64)
    held[2] = [10, 6, 0]
    held[3] = [0, 4, 0]
    before = held.copy()
    d = desk([2, 3], [[500.0, 900.0, 3000.0], [400.0, 1000.0, 3000.0]], [0.1, 0.1])
    orders = [
        UsedOrder(buyer=0, priority=1e6, generation=1, regions=np.array([0]), units=np.array([3.0]), pue=1.0),
        UsedOrder(buyer=1, priority=5e6, generation=1, regions=np.array([0, 1]), units=np.array([5.0, 4.0]),
                  pue=1.0),
        UsedOrder(buyer=4, priority=9e6, generation=-1, regions=np.array([0]), units=np.array([7.0]), pue=1.0),
    ]
    trades, requested = used_purchases(d, held, orders, UNLIMITED.copy(), SPEC)
    got = [(t.seller, t.buyer, t.generation, t.units, t.to_region, t.price_per_gpu, t.kind) for t in trades]
    assert got == [(2, 1, 1, 5, 0, 900.0, EventKind.GPU_SALE), (2, 1, 1, 1, 1, 900.0, EventKind.GPU_SALE),
                   (3, 1, 1, 3, 1, 1000.0, EventKind.GPU_SALE), (3, 0, 1, 1, 0, 1000.0, EventKind.GPU_SALE)]
    assert all(t.region is None and t.built_before is None for t in trades)
    np.testing.assert_array_equal(requested, [0.0, 12.0, 0.0])
    np.testing.assert_array_equal(held, before)


def test_used_purchases_within_grid_headroom() -> None:
    """Generation 1 draws 1.0 kW; at PUE 1.5 a GPU takes 1.5 / 1000 = 0.0015 MW. Region 0 has 0.01 MW left:
    floor(0.01 / 0.0015) = floor(6.67) = 6 of the 10 ordered; the next buyer finds 0.01 - 0.009 = 0.001 MW,
    floor(0.67) = 0 GPUs. Region 1 is unconstrained: all 4 ordered. Requested still counts 10 + 5 + 4 = 19.
    The caller's headroom array is left alone."""
    held = np.zeros((3, 3), dtype=np.int64)
    held[2, 1] = 100
    headroom = np.array([0.01, np.inf])
    orders = [
        UsedOrder(buyer=0, priority=2.0, generation=1, regions=np.array([0]), units=np.array([10.0]), pue=1.5),
        UsedOrder(buyer=1, priority=1.0, generation=1, regions=np.array([0, 1]), units=np.array([5.0, 4.0]),
                  pue=1.5),
    ]
    trades, requested = used_purchases(desk([2], [[1.0, 2.0, 3.0]], [0.0]), held, orders, headroom, SPEC)
    assert [(t.buyer, t.units, t.to_region) for t in trades] == [(0, 6, 0), (1, 4, 1)]
    np.testing.assert_array_equal(requested, [0.0, 19.0, 0.0])
    np.testing.assert_array_equal(headroom, [0.01, np.inf])


def test_used_purchases_without_resellers_buy_nothing_but_are_requested() -> None:
    """No reseller: no trade, but the 5 GPUs of generation 0 asked for still count as requested."""
    order = UsedOrder(buyer=0, priority=1.0, generation=0, regions=np.array([0]), units=np.array([5.0]), pue=1.0)
    trades, requested = used_purchases(NO_RESELLER, np.zeros((1, 3), dtype=np.int64), [order], UNLIMITED, SPEC)
    assert trades == []
    np.testing.assert_array_equal(requested, [5.0, 0.0, 0.0])


def test_gpus_within_headroom() -> None:
    """floor(3.0 / 0.5) = 6 (exact), floor(3.1 / 0.5) = 6, floor(0.4 / 0.5) = 0; an unconstrained grid fits inf."""
    assert gpus_within(3.0, 0.5) == 6.0
    assert gpus_within(3.1, 0.5) == 6.0
    assert gpus_within(0.4, 0.5) == 0.0
    assert gpus_within(np.inf, 0.5) == np.inf


# ---------------------------------------------------------------------------------------------------------
# vendor purchases
# ---------------------------------------------------------------------------------------------------------

VENDOR_ORDERS = [
    NewOrder(buyer=0, priority=1.0, regions=np.array([0, 1]), units=np.array([6.0, 4.0]), pue=1.0),
    NewOrder(buyer=1, priority=2.0, regions=np.array([0]), units=np.array([8.0]), pue=1.0),
    NewOrder(buyer=2, priority=9.0, regions=np.array([1]), units=np.array([0.0]), pue=1.0),
]


def vendor(buyer: int, region: int, units: int) -> VendorSale:
    return VendorSale(buyer=buyer, generation=2, region=region, units=units, price_per_gpu=40_000.0, detail="vendor")


def test_scarce_vendor_supply_deepest_pockets() -> None:
    """12 GPUs for orders of 10 (buyer 0, priority 1) and 8 (buyer 1, priority 2); buyer 2 orders none and is
    ignored. Deepest pockets: buyer 1 gets its 8, buyer 0 the remaining 4, spread as floor(6 * 4 / 10) = 2 in
    region 0 and floor(4 * 4 / 10) = 1 in region 1. Sales come in the order the orders were given, at list
    price."""
    sales = vendor_purchases(VENDOR_ORDERS, 2, 12.0, "deepest_pockets", UNLIMITED, SPEC)
    assert sales == [vendor(0, 0, 2), vendor(0, 1, 1), vendor(1, 0, 8)]


def test_scarce_vendor_supply_pro_rata() -> None:
    """12 of 18 ordered: every order gets floor(units * 12 / 18): buyer 0 floor(6.67) = 6, spread as
    floor(6 * 6 / 10) = 3 and floor(4 * 6 / 10) = 2; buyer 1 floor(5.33) = 5."""
    sales = vendor_purchases(VENDOR_ORDERS, 2, 12.0, "pro_rata", UNLIMITED, SPEC)
    assert sales == [vendor(0, 0, 3), vendor(0, 1, 2), vendor(1, 0, 5)]


def test_ample_vendor_supply_fills_every_order_within_the_grid() -> None:
    """Unlimited supply fills 6 + 4 and 8, except that generation 2 (2.0 kW, PUE 1.0: 0.002 MW a GPU) fits
    floor(0.0175 / 0.002) = 8 GPUs in region 0: buyer 0 takes 6, buyer 1 finds 0.0055 MW, floor(2.75) = 2."""
    sales = vendor_purchases(VENDOR_ORDERS, 2, np.inf, "deepest_pockets", np.array([0.0175, np.inf]), SPEC)
    assert sales == [vendor(0, 0, 6), vendor(0, 1, 4), vendor(1, 0, 2)]


def test_no_vendor_orders_no_sales() -> None:
    """Orders of zero GPUs make no sales (and no division by a zero order)."""
    assert vendor_purchases(VENDOR_ORDERS[2:], 2, 5.0, "pro_rata", UNLIMITED, SPEC) == []
    assert vendor_purchases([], 2, 5.0, "pro_rata", UNLIMITED, SPEC) == []


# ---------------------------------------------------------------------------------------------------------
# entry fleet
# ---------------------------------------------------------------------------------------------------------


def test_entry_fleet_from_stock_then_new_gpus_of_the_newest_generation() -> None:
    """Reseller 3 holds 3 GPUs of generation 0 at a quote of 700. An entrant (holder 4) wants 10 of generation 0
    in region 0: it buys the 3, and replaces the missing 7 by ceil(7 * 100 / 1200) = ceil(0.58) = 1 new GPU of
    generation 2 at list price 40,000 (detail 'entry'). It then wants 5 of generation 1 in region 1, of which
    nobody holds any: ceil(5 * 300 / 1200) = ceil(1.25) = 2 new ones. A second lot of 2 of generation 0 finds the
    stock already bought by the first lot: ceil(2 * 100 / 1200) = 1 new one."""
    held = np.zeros((5, 3), dtype=np.int64)
    held[3, 0] = 3
    trades = entry_fleet(desk([3], [[700.0, 1500.0, 30_000.0]], [0.2]), held, UNLIMITED, SPEC, buyer=4, pue=1.0,
                         lots=[(0, 0, 10), (1, 1, 5), (0, 0, 2)], newest=2)
    assert trades == [
        GpuTrade(seller=3, buyer=4, generation=0, units=3, price_per_gpu=700.0, kind=EventKind.GPU_SALE, to_region=0),
        VendorSale(buyer=4, generation=2, region=0, units=1, price_per_gpu=40_000.0, detail="entry"),
        VendorSale(buyer=4, generation=2, region=1, units=2, price_per_gpu=40_000.0, detail="entry"),
        VendorSale(buyer=4, generation=2, region=0, units=1, price_per_gpu=40_000.0, detail="entry"),
    ]
    assert held[3, 0] == 3


def test_entry_fleet_without_a_newest_generation_buys_only_stock() -> None:
    """With no generation on sale (newest -1) the entrant gets only the 3 GPUs in stock of the 10 it wanted."""
    held = np.zeros((5, 3), dtype=np.int64)
    held[3, 0] = 3
    trades = entry_fleet(desk([3], [[700.0, 1500.0, 30_000.0]], [0.2]), held, UNLIMITED, SPEC, buyer=4, pue=1.0,
                         lots=[(0, 0, 10)], newest=-1)
    assert [(type(t), t.units) for t in trades] == [(GpuTrade, 3)]


def test_entry_fleet_without_resellers_is_all_new() -> None:
    """No reseller: a lot of 6 GPUs of generation 1 becomes ceil(6 * 300 / 1200) = ceil(1.5) = 2 new ones."""
    trades = entry_fleet(NO_RESELLER, np.zeros((1, 3), dtype=np.int64), UNLIMITED, SPEC, buyer=0, pue=1.0,
                         lots=[(1, 1, 6)], newest=2)
    assert trades == [VendorSale(buyer=0, generation=2, region=1, units=2, price_per_gpu=40_000.0, detail="entry")]


def test_entry_fleet_within_the_grid() -> None:
    """Region 0 has 0.0066 MW left. At PUE 1.0 generation 0 takes 0.0005 MW a GPU: of the 20 in stock the entrant
    buys floor(0.0066 / 0.0005) = floor(13.2) = 13. The 17 missing become ceil(17 * 100 / 1200) = 2 new GPUs of
    generation 2 at 0.002 MW each, but floor(0.0001 / 0.002) = 0 fit: no vendor sale."""
    held = np.zeros((2, 3), dtype=np.int64)
    held[1, 0] = 20
    trades = entry_fleet(desk([1], [[700.0, 1500.0, 30_000.0]], [0.2]), held, np.array([0.0066, np.inf]), SPEC,
                         buyer=0, pue=1.0, lots=[(0, 0, 30)], newest=2)
    assert [(type(t), t.units) for t in trades] == [(GpuTrade, 13)]


# ---------------------------------------------------------------------------------------------------------
# execution in the ledger
# ---------------------------------------------------------------------------------------------------------


def test_execute_moves_and_creates_gpus_with_their_cost_basis() -> None:
    """Holder 0 has 5 GPUs of generation 1 in region 0, built at step -10 with a life of 50 months (end 40).

    At step 0 it sells 3 to holder 2 at 600, installed in region 1: the new lot has 3 GPUs, basis 600, acquired
    at 0, built at -10 and ending at 40 (the GPUs keep their physical life). A vendor sale of 4 of generation 2 to
    holder 1 at step 5 with a life of 48 creates a lot built at 5, ending at 53, basis 40,000, and adds 4 to
    generation 2's production. Scrapping with units None takes the 2 GPUs holder 0 has left."""
    ledger = GpuLedger(3)
    ledger.add(holder=0, generation=1, region=0, count=5, built_step=-10, lifetime=50, step=-10, basis=1000.0)
    moved = execute(ledger, GpuTrade(seller=0, buyer=2, generation=1, units=3, price_per_gpu=600.0,
                                     kind=EventKind.GPU_SALE, to_region=1), step=0, lifetime_months=99)
    assert moved == 3
    i = int(np.nonzero(ledger.view("holder") == 2)[0][0])
    lot = {name: ledger.view(name)[i].item() for name in LOT_FIELDS}
    assert lot == {"holder": 2, "generation": 1, "region": 1, "count": 3, "built_step": -10, "end_step": 40,
                   "acquired_step": 0, "basis": 600.0}

    created = execute(ledger, VendorSale(buyer=1, generation=2, region=0, units=4, price_per_gpu=40_000.0,
                                         detail="vendor"), step=5, lifetime_months=48)
    assert created == 4
    j = int(np.nonzero(ledger.view("holder") == 1)[0][0])
    lot = {name: ledger.view(name)[j].item() for name in LOT_FIELDS}
    assert lot == {"holder": 1, "generation": 2, "region": 0, "count": 4, "built_step": 5, "end_step": 53,
                   "acquired_step": 5, "basis": 40_000.0}
    np.testing.assert_array_equal(ledger.produced, [0, 5, 4])

    scrapped = execute(ledger, GpuTrade(seller=0, buyer=SCRAPPED, generation=1, units=None, price_per_gpu=0.0,
                                        kind=EventKind.GPU_SCRAPPED), step=6, lifetime_months=48)
    assert scrapped == 2
    np.testing.assert_array_equal(ledger.units_by_holder_generation(3), [[0, 0, 0], [0, 0, 4], [0, 3, 0]])
    np.testing.assert_array_equal(ledger.scrapped_by_generation(), [0, 2, 0])


def test_execute_moves_only_what_the_seller_holds_that_matches() -> None:
    """A sale of 10 restricted to region 1 and GPUs built before step 0 finds one matching lot of 4 (the lots in
    region 0, or built at step 0, do not match): 4 move, oldest first."""
    ledger = GpuLedger(3)
    ledger.add(holder=0, generation=0, region=1, count=4, built_step=-3, lifetime=48, step=-3, basis=1.0)
    ledger.add(holder=0, generation=0, region=1, count=6, built_step=0, lifetime=48, step=0, basis=1.0)
    ledger.add(holder=0, generation=0, region=0, count=7, built_step=-5, lifetime=48, step=-5, basis=1.0)
    trade = GpuTrade(seller=0, buyer=1, generation=0, units=10, price_per_gpu=5.0, kind=EventKind.GPU_RETIRED,
                     region=1, built_before=0)
    assert execute(ledger, trade, step=1, lifetime_months=48) == 4
    np.testing.assert_array_equal(ledger.units_by_holder_generation_region(2, 2)[:, 0, :], [[7, 6], [0, 4]])


# ---------------------------------------------------------------------------------------------------------
# conservation: a plan of trades between holders moves GPUs, it never creates or loses them
# ---------------------------------------------------------------------------------------------------------

stock = st.lists(st.integers(0, 12), min_size=3, max_size=3)
used_order = st.tuples(st.integers(0, 1), st.floats(0.0, 10.0), st.integers(-1, 2),
                       st.lists(st.integers(0, 15), min_size=2, max_size=2))


@given(providers=st.lists(stock, min_size=2, max_size=2), resellers=st.lists(stock, min_size=2, max_size=2),
       sells=st.lists(st.lists(st.integers(0, 20), min_size=2, max_size=2), min_size=2, max_size=2),
       orders=st.lists(used_order, max_size=4),
       quotes=st.lists(st.floats(1.0, 100.0), min_size=6, max_size=6))
def test_a_plan_of_trades_between_holders_conserves_gpus(providers: list[list[int]], resellers: list[list[int]],
                                                         sells: list[list[int]], orders: list[tuple],
                                                         quotes: list[float]) -> None:
    """Providers 0 and 1 divest and then buy used from resellers 2 and 3 (two regions, three generations).

    Every planned trade finds all its GPUs (the planners work on copies of the holdings that see earlier trades),
    GPUs per generation over holders are unchanged, and no holder ends with a negative count."""
    ledger = GpuLedger(3)
    for h, counts in enumerate([*providers, *resellers]):
        for g, c in enumerate(counts):
            ledger.add(holder=h, generation=g, region=g % 2, count=c, built_step=-g, lifetime=60, step=-g, basis=1.0)
    totals = ledger.units_by_holder_generation(4).sum(axis=0)
    d = desk([2, 3], [quotes[:3], quotes[3:]], [0.1, 0.2])
    sales = divestment_sales(d, ledger.units_by_holder_generation_region(4, 2),
                             [(h, np.array([0, 1]), np.array(s, dtype=float)) for h, s in enumerate(sells)],
                             oldest_first=[2, 0, 1])
    for trade in sales:
        assert execute(ledger, trade, step=0, lifetime_months=48) == trade.units
    buys, _ = used_purchases(d, ledger.units_by_holder_generation(4), [
        UsedOrder(buyer=b, priority=p, generation=g, regions=np.array([0, 1]), units=np.array(u, dtype=float), pue=1.0)
        for b, p, g, u in orders], UNLIMITED, SPEC)
    for trade in buys:
        assert execute(ledger, trade, step=0, lifetime_months=48) == trade.units
    after = ledger.units_by_holder_generation(4)
    np.testing.assert_array_equal(after.sum(axis=0), totals)
    assert np.all(after >= 0)
    np.testing.assert_array_equal(ledger.scrapped_by_generation(), [0, 0, 0])
