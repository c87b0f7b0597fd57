"""GPU accounting and the hardware markets: the GPU ledger, secondary prices, vendor allocation.

Every GPU lives in exactly one lot of the :class:`GpuLedger`; a lot belongs to one holder (a provider or a
reseller) or is scrapped. GPUs enter only through :meth:`GpuLedger.add` (initial fleets, vendor sales) and
leave only by scrapping, so ``sum over holders + scrapped == produced`` per generation at every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from market.technology import HOURS_PER_MONTH

if TYPE_CHECKING:
    from market.technology import GenerationTable

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

SCRAPPED: int = -1
"""Holder id of scrapped GPUs."""


@dataclass(frozen=True)
class Transfer:
    """GPUs moved from one holder to another in one call: one row per lot touched."""

    generation: IntArray
    count: IntArray
    book_value: FloatArray
    paid: FloatArray

    @property
    def units(self) -> int:
        """GPUs moved."""
        return int(self.count.sum())

    @property
    def amount(self) -> float:
        """What the new holder paid for them, $."""
        return float(self.paid.sum())


@dataclass(frozen=True)
class LotPrice:
    """A price per GPU that depends on the lot's remaining life ``L`` (months):
    ``price(L) = max(floor, rate * max(L - offset, 0))`` where ``rate * max(L - offset, 0) > 0``, else 0.

    A reseller sells at ``rate = level * par rate``, ``offset = 0`` and ``floor = scrap value``
    (:func:`lot_quote`); it bids ``rate = (1 - margin) * its rate``, ``offset = months it expects to hold the lot``
    and ``floor = 0`` (:func:`lot_bid`). A lot priced 0 does not trade.
    """

    rate: float
    offset: float = 0.0
    floor: float = 0.0

    def __call__(self, life_left: FloatArray) -> FloatArray:
        """Price per GPU of lots with ``life_left`` months of life left, $."""
        usable = self.rate * np.maximum(np.asarray(life_left, dtype=np.float64) - self.offset, 0.0)
        return np.where(usable > 0, np.maximum(self.floor, usable), 0.0)


class GpuLedger:
    """All GPUs in the economy as lots (struct of arrays).

    A lot has: holder id, generation id, region id, GPU count, build step (start of its physical life), end step
    (scrapped at), acquisition step and cost basis per GPU (what its holder paid). Depreciation is straight-line
    from the acquisition step to the end step.
    """

    def __init__(self, n_generations: int) -> None:
        self._n = 0
        cap = 64
        self.holder = np.empty(cap, dtype=np.int64)
        self.generation = np.empty(cap, dtype=np.int64)
        self.region = np.empty(cap, dtype=np.int64)
        self.count = np.empty(cap, dtype=np.int64)
        self.built_step = np.empty(cap, dtype=np.int64)
        self.end_step = np.empty(cap, dtype=np.int64)
        self.acquired_step = np.empty(cap, dtype=np.int64)
        self.basis = np.empty(cap, dtype=np.float64)
        self.produced = np.zeros(n_generations, dtype=np.int64)

    # -- storage -------------------------------------------------------------------------------------------
    _FIELDS = ("holder", "generation", "region", "count", "built_step", "end_step", "acquired_step", "basis")

    def __len__(self) -> int:
        return self._n

    def _grow(self) -> None:
        for name in self._FIELDS:
            arr = getattr(self, name)
            new = np.empty(2 * len(arr), dtype=arr.dtype)
            new[: self._n] = arr[: self._n]
            setattr(self, name, new)

    def _append(self, holder: int, generation: int, region: int, count: int, built: int, end: int, acquired: int,
                basis: float) -> None:
        if self._n == len(self.holder):
            self._grow()
        i = self._n
        self.holder[i], self.generation[i], self.region[i], self.count[i] = holder, generation, region, count
        self.built_step[i], self.end_step[i], self.acquired_step[i], self.basis[i] = built, end, acquired, basis
        self._n += 1

    def view(self, name: str) -> NDArray[Any]:
        """The live part of one column."""
        return getattr(self, name)[: self._n]

    # -- flows ---------------------------------------------------------------------------------------------
    def add(self, *, holder: int, generation: int, region: int, count: int, built_step: int, lifetime: int,
            step: int, basis: float) -> None:
        """Create new GPUs (initial fleet or vendor sale); they count as produced."""
        if count < 0:
            raise ValueError(f"GPU count must be non-negative, got {count}")
        if count == 0:
            return
        self._append(holder, generation, region, count, built_step, built_step + lifetime, step, basis)
        self.produced[generation] += count

    def add_new(self, holder: int, generation: int, region: int, count: int, built_step: int,
                generations: GenerationTable) -> None:
        """Add GPUs bought new at list price when they were built (an initial fleet lot)."""
        self.add(holder=holder, generation=generation, region=region, count=count, built_step=built_step,
                 lifetime=int(generations.lifetime_months[generation]), step=built_step,
                 basis=float(generations.list_price_usd[generation]))

    def add_initial(self, holder: int, generation: int, region: int, count: int, age_months: int,
                    generations: GenerationTable, *, power_price: float, pue: float, opex_per_gpu_month: float
                    ) -> None:
        """Add a lot its holder owns at step 0, built ``age_months`` ago, at its book value by age.

        With ``L = lifetime - age`` months left, the lot is booked at step 0 at
        ``basis = min(list * L / lifetime, v * L)`` and written off over ``L``: straight-line historical cost,
        impaired to its value in use ``v * L`` where ``v`` is the holder's :func:`par_rate` against the newest
        generation on sale at step 0 (its power price, PUE and opex). A lot past its life is booked at 0.
        """
        gens = generations
        lifetime = int(gens.lifetime_months[generation])
        left = lifetime - age_months
        newest = gens.newest(0)
        historical = float(gens.list_price_usd[generation]) * max(left, 0) / lifetime
        in_use = historical if newest < 0 else float(par_rate(
            list_price=gens.list_price_usd, throughput=gens.throughput_tokens_per_s,
            lifetime_months=gens.lifetime_months.astype(np.float64), power_kw=gens.power_kw, newest=newest,
            power_price=power_price, pue=pue, opex_per_gpu_month=opex_per_gpu_month)[generation]) * max(left, 0)
        self.add(holder=holder, generation=generation, region=region, count=count, built_step=-age_months,
                 lifetime=lifetime, step=0, basis=min(historical, in_use))

    def move(self, *, holder: int, to_holder: int, count: int | None, step: int, price_per_gpu: float | None,
             generation: int | None = None, region: int | None = None, to_region: int | None = None,
             built_before: int | None = None, lot_price: LotPrice | None = None,
             budget: float = np.inf) -> Transfer:
        """Move up to ``count`` GPUs (oldest first) from ``holder`` to ``to_holder``.

        Args:
            holder: Current holder.
            to_holder: New holder (or :data:`SCRAPPED`).
            count: GPUs to move; None moves all matching GPUs.
            step: Current step (the new holder's acquisition step).
            price_per_gpu: New cost basis; None keeps the lot's book value.
            generation: Only GPUs of this generation.
            region: Only GPUs in this region.
            to_region: Region the GPUs are installed in afterwards (default: unchanged).
            built_before: Only GPUs built before this step.
            lot_price: Price per GPU by the lot's remaining life (overrides ``price_per_gpu``); lots it prices
                at 0 stay where they are.
            budget: Most the new holder pays in all, $: a lot is moved only in the whole GPUs it can afford.

        Returns:
            What moved, with the book value it left the seller's books at and what the new holder paid.
        """
        n = self._n
        mask = self.holder[:n] == holder
        if generation is not None:
            mask &= self.generation[:n] == generation
        if region is not None:
            mask &= self.region[:n] == region
        if built_before is not None:
            mask &= self.built_step[:n] < built_before
        mask &= self.count[:n] > 0
        lots = np.nonzero(mask)[0]
        lots = lots[np.argsort(self.built_step[lots], kind="stable")]
        left = np.iinfo(np.int64).max if count is None else int(count)
        gens: list[int] = []
        counts: list[int] = []
        values: list[float] = []
        paid: list[float] = []
        book_values = self.book_value_per_gpu(step)
        life_left = (self.end_step[lots] - step).astype(np.float64)
        prices = lot_price(life_left) if lot_price is not None else np.full(lots.size, np.nan)
        money = float(budget)
        for i, lot_value in zip(lots, prices, strict=True):
            if left <= 0:
                break
            take = int(min(left, self.count[i]))
            book = float(book_values[i])
            basis = book if price_per_gpu is None else price_per_gpu
            if lot_price is not None:
                basis = float(lot_value)
                if basis <= 0:
                    continue
            if np.isfinite(money) and basis > 0:
                take = int(min(take, np.floor(money / basis)))
                if take <= 0:
                    continue
                money -= take * basis
            dest_region = int(self.region[i]) if to_region is None else to_region
            self.count[i] -= take
            self._append(to_holder, int(self.generation[i]), dest_region, take, int(self.built_step[i]),
                         int(self.end_step[i]), step, basis)
            gens.append(int(self.generation[i]))
            counts.append(take)
            values.append(book * take)
            paid.append(basis * take)
            left -= take
        return Transfer(np.array(gens, dtype=np.int64), np.array(counts, dtype=np.int64), np.array(values),
                        np.array(paid))

    def scrap_expired(self, step: int) -> Transfer:
        """Scrap every lot whose end step has come; returns what was scrapped (all holders)."""
        n = self._n
        expired = np.nonzero((self.end_step[:n] <= step) & (self.holder[:n] != SCRAPPED) & (self.count[:n] > 0))[0]
        self.holder[expired] = SCRAPPED
        return Transfer(self.generation[expired].copy(), self.count[expired].copy(), np.zeros(expired.size),
                        np.zeros(expired.size))

    def compact(self) -> None:
        """Drop empty lots and merge scrapped ones per generation (keeps the ledger small)."""
        n = self._n
        keep = (self.count[:n] > 0) & (self.holder[:n] != SCRAPPED)
        scrapped = np.bincount(self.generation[:n][self.holder[:n] == SCRAPPED],
                               weights=self.count[:n][self.holder[:n] == SCRAPPED], minlength=len(self.produced))
        for name in self._FIELDS:
            arr = getattr(self, name)
            kept = arr[:n][keep]
            arr[: kept.size] = kept
        self._n = int(keep.sum())
        for g, c in enumerate(scrapped.astype(np.int64)):
            if c > 0:
                self._append(SCRAPPED, g, 0, int(c), 0, 0, 0, 0.0)

    # -- valuation and aggregation -----------------------------------------------------------------------
    def book_value_per_gpu(self, step: int) -> FloatArray:
        """Book value per GPU of each lot at ``step`` (straight-line to the end step)."""
        n = self._n
        life = np.maximum(self.end_step[:n] - self.acquired_step[:n], 1)
        left = np.clip(self.end_step[:n] - step, 0, None)
        return self.basis[:n] * np.minimum(left / life, 1.0)

    def book_value_by_holder(self, step: int, n_holders: int) -> FloatArray:
        """Book value of each holder's GPUs at ``step``, $ (index = holder id)."""
        book = self.book_value_per_gpu(step) * self.count[: self._n]
        holder = self.holder[: self._n]
        return np.array([book[holder == h].sum() for h in range(n_holders)], dtype=np.float64)

    def depreciation_per_gpu_month(self) -> FloatArray:
        """Monthly straight-line depreciation per GPU of each lot, $."""
        n = self._n
        life = np.maximum(self.end_step[:n] - self.acquired_step[:n], 1)
        return self.basis[:n] / life

    def by_holder_region(self, values: FloatArray, n_holders: int, n_regions: int) -> FloatArray:
        """Sum ``values`` (one per lot, already multiplied by count if needed) into (holder, region)."""
        n = self._n
        live = self.holder[:n] >= 0
        key = self.holder[:n][live] * n_regions + self.region[:n][live]
        out = np.asarray(np.bincount(key, weights=values[live], minlength=n_holders * n_regions), dtype=np.float64)
        return out[: n_holders * n_regions].reshape(n_holders, n_regions)

    def units_by_holder_generation(self, n_holders: int) -> IntArray:
        """GPU counts as a (holder, generation) matrix."""
        n = self._n
        n_gen = len(self.produced)
        live = self.holder[:n] >= 0
        key = self.holder[:n][live] * n_gen + self.generation[:n][live]
        out = np.bincount(key, weights=self.count[:n][live], minlength=n_holders * n_gen)
        return out[: n_holders * n_gen].reshape(n_holders, n_gen).astype(np.int64)

    def units_by_holder_generation_region(self, n_holders: int, n_regions: int) -> IntArray:
        """GPU counts as a (holder, generation, region) array."""
        n = self._n
        n_gen = len(self.produced)
        live = self.holder[:n] >= 0
        key = (self.holder[:n][live] * n_gen + self.generation[:n][live]) * n_regions + self.region[:n][live]
        size = n_holders * n_gen * n_regions
        out = np.bincount(key, weights=self.count[:n][live], minlength=size)
        return out[:size].reshape(n_holders, n_gen, n_regions).astype(np.int64)

    def life_left_by_holder_generation(self, step: int, n_holders: int) -> FloatArray:
        """Mean months of life left per GPU as a (holder, generation) matrix (NaN where a holder has none)."""
        n = self._n
        n_gen = len(self.produced)
        live = self.holder[:n] >= 0
        key = self.holder[:n][live] * n_gen + self.generation[:n][live]
        count = self.count[:n][live].astype(np.float64)
        left = np.clip(self.end_step[:n][live] - step, 0, None) * count
        units = np.bincount(key, weights=count, minlength=n_holders * n_gen)[: n_holders * n_gen]
        months = np.bincount(key, weights=left, minlength=n_holders * n_gen)[: n_holders * n_gen]
        with np.errstate(invalid="ignore", divide="ignore"):
            return (months / np.where(units > 0, units, np.nan)).reshape(n_holders, n_gen)

    def scrapped_by_generation(self) -> IntArray:
        """GPUs scrapped so far, per generation."""
        n = self._n
        dead = self.holder[:n] == SCRAPPED
        return np.bincount(self.generation[:n][dead], weights=self.count[:n][dead],
                           minlength=len(self.produced)).astype(np.int64)


def par_rate(*, list_price: FloatArray, throughput: FloatArray, lifetime_months: FloatArray, power_kw: FloatArray,
             newest: int, power_price: float, pue: float, opex_per_gpu_month: float) -> FloatArray:
    """Value of one month of a GPU's remaining life at par, by generation, $ per GPU-month: what makes its
    tokens cost a buyer what the newest generation's cost, new.

    With running cost ``run_g = power_kw_g * pue * 730.5 h * power_price + opex`` and tokens in proportion to
    throughput ``T_g``, a buyer is indifferent when ``(v_g + run_g) / T_g = (v_new + run_new) / T_new`` with
    ``v_new = list_new / lifetime_new``::

        v_g = max(0, T_g / T_new * (list_new / lifetime_new + run_new) - run_g)

    A lot with ``L`` months of life left is worth ``v_g * L`` at par: it loses value with its own age (straight
    line to its end of life), not its generation's. ``v_g = 0`` when even a free GPU of ``g`` costs more per
    token to run than a new one costs to own and run.
    """
    run = power_kw * pue * HOURS_PER_MONTH * power_price + opex_per_gpu_month
    new = list_price[newest] / lifetime_months[newest] + run[newest]
    return np.asarray(np.maximum(throughput / throughput[newest] * new - run, 0.0), dtype=np.float64)


def adjust_price_level(level: FloatArray, *, orders: FloatArray, inventory: FloatArray, target_months: float,
                       reference_units: float, speed: float, min_level: FloatArray) -> FloatArray:
    """A reseller's price level (its quote relative to par) next month: it falls until its book clears.

    ``level' = clip(level * ((orders + u) / (inventory / T + u)) ** speed, min_level, 1)``: the level falls
    while buyers order less than the book's target turnover ``inventory / T`` (``T`` = target months of
    inventory, ``u`` = ``reference_units``) and rises while they order more; a used GPU never costs more per
    month of life than par (a new GPU of its generation). At a fixed point buyers order ``inventory / T`` a
    month, or the level sits at ``min_level``, where every lot is quoted at its scrap value.
    """
    factor = ((orders + reference_units) / (inventory / target_months + reference_units)) ** speed
    return np.clip(level * factor, min_level, 1.0)


def lot_quote(rate: FloatArray, life_left: FloatArray, scrap: FloatArray) -> FloatArray:
    """Resale price per GPU of a lot, $: ``max(scrap, rate * L)`` with ``rate = level * v`` ($ per GPU-month of
    remaining life) and ``L`` the lot's months of life left; never below the scrap value."""
    return np.maximum(scrap, rate * life_left)


def holding_months(inventory: FloatArray, order_rate: FloatArray, lifetime_months: FloatArray) -> FloatArray:
    """Months a reseller expects to hold a GPU it buys now: ``H = min(lifetime, inventory / order_rate)``
    (0 with no inventory; the lifetime with inventory and no orders)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        months = np.where(inventory > 0, inventory / np.maximum(order_rate, 0.0), 0.0)
    return np.minimum(np.nan_to_num(months, nan=0.0, posinf=np.inf), lifetime_months)


def lot_bid(rate: FloatArray, life_left: FloatArray, holding: FloatArray, margin: float) -> FloatArray:
    """What a reseller pays per GPU of a lot, $: its expected resale value less its margin,
    ``(1 - margin) * rate * max(L - H, 0)``: the lot is resold ``H`` months from now with ``L - H`` months of
    life left at today's rate (a lot that will be dead before it sells is worth nothing to it)."""
    return (1.0 - margin) * rate * np.maximum(life_left - holding, 0.0)


def months_unsold_at_scrap(months: IntArray, *, inventory: FloatArray, quote: FloatArray, scrap: FloatArray,
                           orders: FloatArray) -> IntArray:
    """Consecutive months each generation's stock has sat quoted at its scrap value without an order.

    ``m' = m + 1`` where ``inventory > 0``, ``quote <= scrap`` and nobody ordered last month; ``m' = 0``
    otherwise. A reseller writes the stock off when ``m'`` reaches its ``write_off_months``: the quote can fall
    no further, so stock nobody takes at scrap has no buyer at any price and the book clears by disposal.
    """
    stuck = (np.asarray(inventory) > 0) & (np.asarray(quote) <= np.asarray(scrap) * (1.0 + 1e-9)) & (
        np.asarray(orders) <= 0)
    return np.where(stuck, np.asarray(months) + 1, 0).astype(np.int64)


def best_quotes(quotes: FloatArray) -> FloatArray:
    """Lowest quote per generation over resellers (rows), NaN where no reseller quotes it."""
    if quotes.size == 0:
        return np.full(quotes.shape[1] if quotes.ndim == 2 else 0, np.nan)
    lowest = np.where(np.isnan(quotes), np.inf, quotes).min(axis=0)
    return np.where(np.isfinite(lowest), lowest, np.nan)


def allocate_supply(
    orders: FloatArray, priority: FloatArray, supply: float, rule: str = "deepest_pockets"
) -> FloatArray:
    """Allocate scarce vendor supply among buyers (whole units).

    Args:
        orders: Units each buyer orders.
        priority: Priority per buyer (higher first; ties keep buyer order).
        supply: Units available (``inf`` fills every order).
        rule: ``deepest_pockets``: fill buyers in order of priority; ``pro_rata``: every order gets the same
            fraction ``supply / sum(orders)``.

    Returns:
        Units each buyer gets; their sum never exceeds ``supply``.
    """
    orders = np.asarray(orders, dtype=np.float64)
    if not np.isfinite(supply) or orders.sum() <= supply:
        return orders.copy()
    if rule == "pro_rata":
        return np.floor(orders * (supply / orders.sum()))
    if rule != "deepest_pockets":
        raise ValueError(f"unknown vendor allocation rule '{rule}' (choose 'deepest_pockets' or 'pro_rata')")
    order = np.argsort(-np.asarray(priority, dtype=np.float64), kind="stable")
    filled = np.zeros_like(orders)
    cumulative = np.cumsum(orders[order])
    before = cumulative - orders[order]
    filled[order] = np.clip(supply - before, 0.0, orders[order])
    return np.floor(filled)
