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

    @property
    def units(self) -> int:
        """GPUs moved."""
        return int(self.count.sum())


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

    def move(self, *, holder: int, to_holder: int, count: int | None, step: int, price_per_gpu: float | None,
             generation: int | None = None, region: int | None = None, to_region: int | None = None,
             built_before: int | None = None) -> Transfer:
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

        Returns:
            What moved, with the book value it left the seller's books at.
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
        book_values = self.book_value_per_gpu(step)
        for i in lots:
            if left <= 0:
                break
            take = int(min(left, self.count[i]))
            book = float(book_values[i])
            basis = book if price_per_gpu is None else price_per_gpu
            dest_region = int(self.region[i]) if to_region is None else to_region
            self.count[i] -= take
            self._append(to_holder, int(self.generation[i]), dest_region, take, int(self.built_step[i]),
                         int(self.end_step[i]), step, basis)
            gens.append(int(self.generation[i]))
            counts.append(take)
            values.append(book * take)
            left -= take
        return Transfer(np.array(gens, dtype=np.int64), np.array(counts, dtype=np.int64), np.array(values))

    def scrap_expired(self, step: int) -> Transfer:
        """Scrap every lot whose end step has come; returns what was scrapped (all holders)."""
        n = self._n
        expired = np.nonzero((self.end_step[:n] <= step) & (self.holder[:n] != SCRAPPED) & (self.count[:n] > 0))[0]
        self.holder[expired] = SCRAPPED
        return Transfer(self.generation[expired].copy(), self.count[expired].copy(), np.zeros(expired.size))

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

    def scrapped_by_generation(self) -> IntArray:
        """GPUs scrapped so far, per generation."""
        n = self._n
        dead = self.holder[:n] == SCRAPPED
        return np.bincount(self.generation[:n][dead], weights=self.count[:n][dead],
                           minlength=len(self.produced)).astype(np.int64)


def secondary_price(
    *,
    list_price: FloatArray,
    throughput: FloatArray,
    generation_age_months: FloatArray,
    lifetime_months: FloatArray,
    newest_list_price: float,
    newest_throughput: float,
    inventory: FloatArray,
    orders: FloatArray,
    demand_pressure: float,
    obsolescence: float,
    reference_units: float = 1.0,
) -> FloatArray:
    """Resale price per GPU by generation, $: it falls with age and inventory and rises with buyers' orders.

    ``price = list * min(1, r) ** obsolescence * max(0.02, 1 - age / lifetime)
    * clip(((orders + u) / (inventory + u)) ** pressure, 0.25, 2)``, where ``r`` is the generation's tokens per
    dollar relative to the newest generation's (an old GPU is worth only what makes its tokens competitive with
    new ones) and ``u`` (``reference_units``) sets the book size at which orders and inventory start to move the
    price.
    """
    relative = (throughput / list_price) / (newest_throughput / newest_list_price)
    fundamental = list_price * np.minimum(1.0, relative) ** obsolescence
    remaining = np.maximum(0.02, 1.0 - generation_age_months / lifetime_months)
    pressure = ((orders + reference_units) / (inventory + reference_units)) ** demand_pressure
    return fundamental * remaining * np.clip(pressure, 0.25, 2.0)


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
