"""Hardware trades as pure functions: who sells which GPUs to whom, at what price.

Every function here plans trades from a snapshot of the hardware markets and returns them as data; the
model applies them in order, in one place (GPUs through the ledger, money on both sides, one event per
trade), so GPUs and money are conserved. Trades of a plan see the ones planned before them: a planner
works on its own copy of the holdings and of the regions' grid headroom.

- :class:`GpuTrade`: GPUs that change holder (to a reseller, from a reseller, or to the scrap heap).
- :class:`VendorSale`: new GPUs bought from the vendor at list price (they are produced by the sale).

Rules (DESIGN.md 3.5):

- Used GPUs are priced lot by lot by their remaining life ``L`` (``market.hardware.LotPrice``). A seller sells
  to the reseller with the highest bid rate; the reseller pays each lot ``(1 - margin) * rate * max(L - H, 0)``
  (its expected resale value less its margin, ``H`` = months it expects to hold it), only while its cash plus
  credit pays, within its stock limit, and takes no lot it values at 0. What no reseller takes stays with the
  seller (a retiring or divesting provider keeps using it), except a liquidation's, which is scrapped. With no
  reseller the GPUs are scrapped for nothing.
- A buyer buys a generation from the reseller with the lowest rate that holds it, each lot at
  ``max(scrap, rate * L)``, then from the next, until its order is filled or no reseller holds it; buyers are
  served in order of priority (cash plus credit), deepest pockets first.
- Whole GPUs only, within the grid headroom of the region they are installed in:
  ``units <= floor(headroom_mw / (power_kw * pue / 1000))`` where the grid is constrained.
- Scarce vendor supply goes to buyers by ``market.hardware.allocate_supply``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from market.events import EventKind
from market.hardware import SCRAPPED, GpuLedger, LotPrice, Transfer, allocate_supply

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class GpuTrade:
    """GPUs moving from ``seller`` to ``buyer`` (a holder id, or :data:`SCRAPPED`) at a price per GPU.

    Attributes:
        seller: Holder id of the seller.
        buyer: Holder id of the buyer, or ``SCRAPPED`` (no money changes hands).
        generation: Generation id of the GPUs.
        units: GPUs to move, oldest first; None moves every matching GPU.
        price_per_gpu: Price the buyer pays, $ per GPU.
        kind: The event it is recorded as.
        region: Only the seller's GPUs installed in this region (None: any region).
        to_region: Region the buyer installs them in (None: where they are).
        built_before: Only GPUs built before this step (None: any age).
        lot_price: Price per GPU by each lot's remaining life (overrides ``price_per_gpu``, which is then the
            price of a lot of the quoted mean life).
        unsold_to: Where GPUs the buyer does not take go (``SCRAPPED``), or None to leave them with the seller.
    """

    seller: int
    buyer: int
    generation: int
    units: int | None
    price_per_gpu: float
    kind: EventKind
    region: int | None = None
    to_region: int | None = None
    built_before: int | None = None
    lot_price: LotPrice | None = None
    unsold_to: int | None = None


@dataclass(frozen=True)
class VendorSale:
    """New GPUs bought from the vendor at list price, installed in ``region``."""

    buyer: int
    generation: int
    region: int
    units: int
    price_per_gpu: float
    detail: str


Trade = GpuTrade | VendorSale
"""Anything the model applies to the hardware books."""


@dataclass(frozen=True)
class ResellerDesk:
    """The resellers' standing prices this step (rows follow ``holder_ids``).

    Attributes:
        holder_ids: Holder id of each reseller.
        quotes: Resale price per (reseller, generation) of a lot of the stock's mean life, $ per GPU (NaN: not
            quoted).
        margin: Each reseller's margin.
        rates: Price per GPU-month of remaining life per (reseller, generation), $; None prices every GPU of a
            generation at its quote and bids ``quote * (1 - margin)`` whatever its age.
        holding: Months each reseller expects to hold a GPU it buys now, per (reseller, generation).
        scrap: Scrap value per GPU per (reseller, generation), $ (the floor of every lot's price).
    """

    holder_ids: IntArray
    quotes: FloatArray
    margin: FloatArray
    rates: FloatArray | None = None
    holding: FloatArray | None = None
    scrap: FloatArray | None = None

    @property
    def bids(self) -> FloatArray:
        """Price per GPU each reseller pays sellers for a lot of the quoted life, per (reseller, generation), $."""
        return self.quotes * (1.0 - self.margin[:, None])

    def bid_price(self, reseller: int, generation: int) -> LotPrice | None:
        """Row ``reseller``'s bid for lots of ``generation`` by their remaining life (None: flat bid)."""
        if self.rates is None:
            return None
        holding = 0.0 if self.holding is None else float(self.holding[reseller, generation])
        return LotPrice(rate=float((1.0 - self.margin[reseller]) * self.rates[reseller, generation]),
                        offset=holding)

    def ask_price(self, reseller: int, generation: int) -> LotPrice | None:
        """Row ``reseller``'s resale price for lots of ``generation`` by their remaining life (None: flat)."""
        if self.rates is None:
            return None
        return LotPrice(rate=float(self.rates[reseller, generation]),
                        floor=0.0 if self.scrap is None else float(self.scrap[reseller, generation]))

    def selling_order(self, generation: int) -> FloatArray:
        """What buyers rank resellers by for a generation (lowest first): the rate, or the flat quote."""
        return (self.quotes if self.rates is None else self.rates)[:, generation]

    def buying_order(self, generation: int) -> FloatArray:
        """What sellers rank resellers by for a generation (highest first): the bid rate, or the flat bid."""
        if self.rates is None:
            return self.bids[:, generation]
        return (1.0 - self.margin) * self.rates[:, generation]


class GpuSpec(Protocol):
    """Per-generation facts the planners need (index = generation id); ``market.technology.GenerationTable``
    is one."""

    @property
    def power_kw(self) -> FloatArray: ...

    @property
    def list_price_usd(self) -> FloatArray: ...

    @property
    def throughput_tokens_per_s(self) -> FloatArray: ...


@dataclass(frozen=True)
class GenerationSpec:
    """A :class:`GpuSpec` given by its arrays."""

    power_kw: FloatArray
    list_price_usd: FloatArray
    throughput_tokens_per_s: FloatArray


@dataclass(frozen=True)
class UsedOrder:
    """A buyer's order of used GPUs of one generation, per region it serves."""

    buyer: int
    priority: float
    generation: int
    regions: IntArray
    units: FloatArray
    pue: float


@dataclass(frozen=True)
class NewOrder:
    """A buyer's order of new GPUs, per region it serves."""

    buyer: int
    priority: float
    regions: IntArray
    units: FloatArray
    pue: float


def best_used_offer(desk: ResellerDesk, stock: IntArray, life_left: FloatArray) -> tuple[FloatArray, FloatArray]:
    """What a buyer of used GPUs is offered per generation: the price per GPU and the mean months of life left of
    the stock of the reseller that sells cheapest per month of life (NaN, NaN where no reseller holds any).

    Args:
        desk: Resellers' prices (rows follow ``desk.holder_ids``).
        stock: GPUs per (reseller, generation).
        life_left: Mean months of life left of each reseller's GPUs per (reseller, generation).
    """
    n_gen = stock.shape[1]
    price, life = np.full(n_gen, np.nan), np.full(n_gen, np.nan)
    for g in range(n_gen):
        holders = np.nonzero(stock[:, g] > 0)[0]
        if holders.size:
            best = int(holders[np.argmin(desk.selling_order(g)[holders])])
            price[g], life[g] = desk.quotes[best, g], life_left[best, g]
    return price, life


def orders_by_reseller(requested: FloatArray, stock: IntArray) -> FloatArray:
    """Buyers' orders per generation shared among resellers in proportion to their stock of it (equally when
    none holds any): ``orders[r, g] = requested[g] * stock[r, g] / sum_r stock[r, g]``."""
    stock = np.asarray(stock, dtype=np.float64)
    total = stock.sum(axis=0)
    share = np.where(total > 0, stock / np.where(total > 0, total, 1.0), 1.0 / max(stock.shape[0], 1))
    return np.asarray(requested, dtype=np.float64)[None, :] * share


def gpus_within(headroom_mw: float, mw_per_gpu: float) -> float:
    """Whole GPUs that fit in a region's remaining grid capacity (``inf`` where the grid is unconstrained)."""
    return float(np.floor(headroom_mw / mw_per_gpu)) if np.isfinite(headroom_mw) else np.inf


def sale(desk: ResellerDesk, *, seller: int, generation: int, units: int | None, kind: EventKind,
         region: int | None = None, built_before: int | None = None) -> GpuTrade:
    """A sale of GPUs to the best-bidding reseller, or to the scrap heap when there is no reseller."""
    if len(desk.holder_ids) == 0:
        return GpuTrade(seller=seller, buyer=SCRAPPED, generation=generation, units=units, price_per_gpu=0.0,
                        kind=EventKind.GPU_SCRAPPED, region=region, built_before=built_before)
    best = int(np.argmax(desk.buying_order(generation)))
    unsold = SCRAPPED if kind == EventKind.GPU_LIQUIDATION else None
    return GpuTrade(seller=seller, buyer=int(desk.holder_ids[best]), generation=generation, units=units,
                    price_per_gpu=float(desk.bids[best, generation]), kind=kind, region=region,
                    built_before=built_before, lot_price=desk.bid_price(best, generation), unsold_to=unsold)


def write_off(*, seller: int, generation: int) -> GpuTrade:
    """A holder's whole stock of a generation to the scrap heap (no money changes hands)."""
    return GpuTrade(seller=seller, buyer=SCRAPPED, generation=generation, units=None, price_per_gpu=0.0,
                    kind=EventKind.GPU_SCRAPPED)


def divestment_sales(desk: ResellerDesk, held: IntArray, sellers: Sequence[tuple[int, IntArray, FloatArray]],
                     oldest_first: Sequence[int]) -> list[GpuTrade]:
    """Providers sell GPUs they no longer need, oldest generation first, in each region.

    Args:
        desk: Resellers' prices.
        held: GPUs per (holder, generation, region).
        sellers: ``(seller, regions, units to sell per region)`` per provider, in order.
        oldest_first: Generation ids, oldest release first.
    """
    left_held = held.copy()
    trades: list[GpuTrade] = []
    for seller, regions, sell in sellers:
        for region, units in zip(regions, sell, strict=True):
            left = int(units)
            for g in oldest_first:
                if left <= 0:
                    break
                n = int(min(left, left_held[seller, g, region]))
                if n > 0:
                    trades.append(sale(desk, seller=seller, generation=g, units=n, kind=EventKind.GPU_SALE,
                                       region=int(region)))
                    left_held[seller, g, region] -= n
                    left -= n
    return trades


def _reseller_purchase(desk: ResellerDesk, held: IntArray, headroom: FloatArray, spec: GpuSpec, *, buyer: int,
                       generation: int, region: int, units: int, pue: float) -> tuple[list[GpuTrade], int]:
    """Buy up to ``units`` GPUs of a generation from the cheapest resellers holding it (updates ``held`` and
    ``headroom`` in place); returns the trades and the GPUs bought."""
    mw_per_gpu = spec.power_kw[generation] * pue / 1000.0
    want = int(min(units, gpus_within(headroom[region], mw_per_gpu)))
    trades: list[GpuTrade] = []
    bought = 0
    while want > 0:
        stock = held[desk.holder_ids, generation]
        candidates = np.nonzero(stock > 0)[0]
        if candidates.size == 0:
            break
        best = int(candidates[np.argmin(desk.selling_order(generation)[candidates])])
        seller = int(desk.holder_ids[best])
        n = int(min(want, stock[best]))
        trades.append(GpuTrade(seller=seller, buyer=buyer, generation=generation, units=n,
                               price_per_gpu=float(desk.quotes[best, generation]), kind=EventKind.GPU_SALE,
                               to_region=region, lot_price=desk.ask_price(best, generation)))
        held[seller, generation] -= n
        headroom[region] -= n * mw_per_gpu
        want -= n
        bought += n
    return trades, bought


def used_purchases(desk: ResellerDesk, held: IntArray, orders: Sequence[UsedOrder], headroom: FloatArray,
                   spec: GpuSpec) -> tuple[list[GpuTrade], FloatArray]:
    """Buyers buy used GPUs from resellers, deepest pockets first, within grid headroom.

    Args:
        desk: Resellers' prices.
        held: GPUs per (holder, generation).
        orders: One order per buyer (``generation < 0``: none).
        headroom: Grid headroom per region, MW.
        spec: Generation facts.

    Returns:
        The trades, and the GPUs requested per generation (the resellers' order book for their next quote).
    """
    left_held = held.copy()
    room = headroom.copy()
    requested = np.zeros(len(spec.power_kw))
    trades: list[GpuTrade] = []
    for order in sorted(orders, key=lambda o: -o.priority):
        g = order.generation
        if g < 0:
            continue
        for region, units in zip(order.regions, order.units, strict=True):
            requested[g] += units
            if units > 0:
                bought, _ = _reseller_purchase(desk, left_held, room, spec, buyer=order.buyer, generation=g,
                                               region=int(region), units=int(units), pue=order.pue)
                trades += bought
    return trades, requested


def _vendor_sale(spec: GpuSpec, headroom: FloatArray, *, buyer: int, generation: int, region: int, units: int,
                 pue: float, detail: str) -> VendorSale | None:
    """New GPUs within grid headroom (updates ``headroom`` in place), or None when none fit."""
    mw_per_gpu = spec.power_kw[generation] * pue / 1000.0
    n = int(min(units, gpus_within(headroom[region], mw_per_gpu)))
    if n <= 0:
        return None
    headroom[region] -= n * mw_per_gpu
    return VendorSale(buyer=buyer, generation=generation, region=region, units=n,
                      price_per_gpu=float(spec.list_price_usd[generation]), detail=detail)


def vendor_purchases(orders: Sequence[NewOrder], generation: int, supply: float, rule: str, headroom: FloatArray,
                     spec: GpuSpec) -> list[VendorSale]:
    """Buyers buy the newest generation from the vendor; scarce supply is allocated by ``rule``.

    A buyer granted ``k`` of the ``n`` GPUs it ordered gets ``floor(units * k / n)`` in each region.
    """
    buyers = [o for o in orders if o.units.sum() > 0]
    if not buyers:
        return []
    wanted = np.array([o.units.sum() for o in buyers])
    priority = np.array([o.priority for o in buyers])
    granted = allocate_supply(wanted, priority, supply, rule)
    room = headroom.copy()
    sales: list[VendorSale] = []
    for order, total, grant in zip(buyers, wanted, granted, strict=True):
        for region, units in zip(order.regions, order.units, strict=True):
            done = _vendor_sale(spec, room, buyer=order.buyer, generation=generation, region=int(region),
                                units=int(np.floor(units * grant / total)), pue=order.pue, detail="vendor")
            if done is not None:
                sales.append(done)
    return sales


def entry_fleet(desk: ResellerDesk, held: IntArray, headroom: FloatArray, spec: GpuSpec, *, buyer: int, pue: float,
                lots: Sequence[tuple[int, int, int]], newest: int) -> list[Trade]:
    """An entrant's starting fleet: each lot ``(generation, region, gpus)`` from reseller stock of that
    generation first; the rest as the same capacity of the newest generation, new from the vendor.

    ``ceil(missing * throughput[g] / throughput[newest])`` new GPUs replace ``missing`` GPUs of generation ``g``.
    """
    left_held = held.copy()
    room = headroom.copy()
    trades: list[Trade] = []
    tput = spec.throughput_tokens_per_s
    for g, region, gpus in lots:
        bought_trades, bought = _reseller_purchase(desk, left_held, room, spec, buyer=buyer, generation=g,
                                                   region=region, units=gpus, pue=pue)
        trades += bought_trades
        if bought < gpus and newest >= 0:
            units = int(np.ceil((gpus - bought) * tput[g] / tput[newest]))
            done = _vendor_sale(spec, room, buyer=buyer, generation=newest, region=region, units=units, pue=pue,
                                detail="entry")
            if done is not None:
                trades.append(done)
    return trades


@dataclass(frozen=True)
class Execution:
    """What one trade did: the GPUs the buyer took (and paid for) and those scrapped because nobody took them."""

    moved: Transfer
    unsold: Transfer | None

    @property
    def units(self) -> int:
        """GPUs that changed hands."""
        return self.moved.units


def execute_trade(ledger: GpuLedger, trade: Trade, step: int, lifetime_months: int,
                  budget: float = np.inf, max_units: int | None = None) -> Execution:
    """Move or create the GPUs of one trade in the ledger.

    A :class:`VendorSale` creates ``units`` GPUs built now (they live ``lifetime_months``); a :class:`GpuTrade`
    moves up to ``units`` matching GPUs (all of them for None), oldest first, at the trade's price (lot by lot
    with a ``lot_price``), as long as the buyer's ``budget`` pays and up to ``max_units`` GPUs (None: no limit);
    what the buyer leaves goes to ``unsold_to``.
    """
    if isinstance(trade, VendorSale):
        ledger.add(holder=trade.buyer, generation=trade.generation, region=trade.region, count=trade.units,
                   built_step=step, lifetime=lifetime_months, step=step, basis=trade.price_per_gpu)
        units = np.array([trade.units], dtype=np.int64)
        return Execution(Transfer(np.array([trade.generation]), units, np.zeros(1),
                                  np.array([trade.units * trade.price_per_gpu])), None)
    count = trade.units if max_units is None else max(
        0, max_units if trade.units is None else min(trade.units, max_units))
    moved = ledger.move(holder=trade.seller, to_holder=trade.buyer, count=count, step=step,
                        price_per_gpu=trade.price_per_gpu, generation=trade.generation, region=trade.region,
                        to_region=trade.to_region, built_before=trade.built_before, lot_price=trade.lot_price,
                        budget=budget)
    unsold = None
    left = None if trade.units is None else trade.units - moved.units
    if trade.unsold_to is not None and (left is None or left > 0):
        unsold = ledger.move(holder=trade.seller, to_holder=trade.unsold_to, count=left, step=step,
                             price_per_gpu=0.0, generation=trade.generation, region=trade.region,
                             built_before=trade.built_before)
    return Execution(moved, unsold)


def execute(ledger: GpuLedger, trade: Trade, step: int, lifetime_months: int) -> int:
    """Move or create the GPUs of one trade (:func:`execute_trade` with no budget); returns the GPUs that changed
    hands."""
    return execute_trade(ledger, trade, step, lifetime_months).units
