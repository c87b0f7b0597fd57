"""Execution of trades in the hardware markets: vendor sales, reseller purchases and sales.

:class:`HardwareTrading` is mixed into the model. It executes orders that agents have decided (fleet orders
with ``buy_new``, ``buy_used``, ``sell`` per region and a ``used_generation``) and moves GPUs and money:
every GPU moves through the ledger (``market.hardware``), and every payment is booked on both sides, so
money and GPUs are conserved. Participants are duck-typed (``holder_id``, ``name``, ``cash``, ``regions``,
``pue``, ``credit_limit``); nothing here imports an agent class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from market.hardware import SCRAPPED, allocate_supply

FloatArray = NDArray[np.float64]


class HardwareTrading:
    """Trade execution for :class:`market.model.InferenceMarket` (a mixin: it uses the model's ledger,
    generations, holders, resellers, quotes and event log)."""

    ledger: Any
    generations: Any
    holders: list[Any]
    secondary_quotes: Any
    fleet: Any
    region_power_capacity: FloatArray
    step_index: int
    resellers: list[Any]
    config: Any
    record_event: Callable[..., None]

    def _best_reseller(self, generation: int, *, buying: bool) -> Any:
        """The reseller with the lowest quote holding ``generation`` (buying), or the highest bid (selling)."""
        resellers = self.resellers
        if not resellers:
            return None
        quotes = self.secondary_quotes[:, generation]
        if buying:
            held = self.ledger.units_by_holder_generation(len(self.holders))[[r.holder_id for r in resellers],
                                                                              generation]
            candidates = np.nonzero(held > 0)[0]
            if candidates.size == 0:
                return None
            return resellers[int(candidates[np.argmin(quotes[candidates])])]
        bids = [r.bid(self.secondary_quotes[i])[generation] for i, r in enumerate(resellers)]
        return resellers[int(np.argmax(bids))]

    def _sell_to_reseller(self, seller: Any, count: int | None, *, generation: int, region: int | None,
                          event: str, built_before: int | None = None) -> int:
        """Move GPUs from a provider to the best-bidding reseller (or scrap them if there is none)."""
        reseller = self._best_reseller(generation, buying=False)
        if reseller is None:
            moved = self.ledger.move(holder=seller.holder_id, to_holder=SCRAPPED, count=count, step=self.step_index,
                                     price_per_gpu=0.0, generation=generation, region=region,
                                     built_before=built_before)
            if moved.units:
                self.record_event("gpu_scrapped", holder=seller.holder_id, generation=generation, units=moved.units)
            return moved.units
        i = self.resellers.index(reseller)
        price = float(reseller.bid(self.secondary_quotes[i])[generation])
        moved = self.ledger.move(holder=seller.holder_id, to_holder=reseller.holder_id, count=count,
                                 step=self.step_index, price_per_gpu=price, generation=generation, region=region,
                                 built_before=built_before)
        if moved.units:
            amount = price * moved.units
            seller.cash += amount
            reseller.cash -= amount
            self.record_event(event, holder=seller.holder_id, counterparty=reseller.holder_id,
                              generation=generation, units=moved.units, amount_usd=amount)
        return moved.units

    def _power_headroom_mw(self) -> FloatArray:
        assert self.fleet is not None
        return np.maximum(self.region_power_capacity - self.fleet.load_mw, 0.0)

    def _execute_sales(self, orders: list[tuple[Any, Any]]) -> None:
        """Providers sell GPUs they no longer need, oldest generation first."""
        oldest_first = [int(g) for g in np.argsort(self.generations.release_step, kind="stable")]
        for p, order in orders:
            for j, units in enumerate(order.sell):
                left = int(units)
                for g in oldest_first:
                    if left <= 0:
                        break
                    left -= self._sell_to_reseller(p, left, generation=g, region=int(p.regions[j]),
                                                   event="gpu_sale")

    def _execute_used_purchases(self, orders: list[tuple[Any, Any]]) -> None:
        """Providers buy used GPUs from resellers, deepest pockets first, within regional grid capacity."""
        requested = np.zeros(len(self.generations))
        headroom = self._power_headroom_mw()
        for p, order in sorted(orders, key=lambda po: -(po[0].cash + po[0].credit_limit)):
            g = order.used_generation
            if g < 0:
                continue
            for j, units in enumerate(order.buy_used):
                requested[g] += units
                if units > 0:
                    self._buy_from_resellers(p, g, int(p.regions[j]), int(units), headroom)
        for r in self.resellers:
            r.last_orders = requested.copy()

    def _buy_from_resellers(self, buyer: Any, generation: int, region: int, units: int, headroom: FloatArray) -> int:
        """Buy up to ``units`` GPUs of a generation from the cheapest resellers holding it; returns GPUs bought.

        ``headroom`` (MW per region) is reduced by what the GPUs draw.
        """
        mw_per_gpu = self.generations.power_kw[generation] * buyer.pue / 1000.0
        want = int(min(units, _gpus_within(headroom[region], mw_per_gpu)))
        bought = 0
        while want > 0:
            reseller = self._best_reseller(generation, buying=True)
            if reseller is None:
                break
            price = float(self.secondary_quotes[self.resellers.index(reseller)][generation])
            moved = self.ledger.move(holder=reseller.holder_id, to_holder=buyer.holder_id, count=want,
                                     step=self.step_index, price_per_gpu=price, generation=generation,
                                     to_region=region)
            if moved.units == 0:
                break
            amount = price * moved.units
            buyer.cash -= amount
            reseller.cash += amount
            headroom[region] -= moved.units * mw_per_gpu
            want -= moved.units
            bought += moved.units
            self.record_event("gpu_sale", holder=reseller.holder_id, counterparty=buyer.holder_id,
                              generation=generation, units=moved.units, amount_usd=amount)
        return bought

    def _execute_new_purchases(self, orders: list[tuple[Any, Any]]) -> None:
        """Providers buy the newest generation from the vendor; scarce supply is allocated by the configured rule."""
        g = self.generations.newest(self.step_index)
        if g < 0:
            return
        buyers = [(p, o) for p, o in orders if o.buy_new.sum() > 0]
        if not buyers:
            return
        wanted = np.array([o.buy_new.sum() for _, o in buyers])
        priority = np.array([p.cash + p.credit_limit for p, _ in buyers])
        granted = allocate_supply(wanted, priority, float(self.generations.vendor_supply_per_month[g]),
                                  self.config.technology.vendor_allocation)
        headroom = self._power_headroom_mw()
        for (p, o), total, grant in zip(buyers, wanted, granted, strict=True):
            for j, units in enumerate(o.buy_new):
                self._buy_from_vendor(p, g, int(p.regions[j]), int(np.floor(units * grant / total)), headroom,
                                      detail="vendor")

    def _buy_from_vendor(self, buyer: Any, generation: int, region: int, units: int, headroom: FloatArray, *,
                         detail: str) -> int:
        """Buy new GPUs at list price (they are produced now), within grid capacity; returns GPUs bought."""
        mw_per_gpu = self.generations.power_kw[generation] * buyer.pue / 1000.0
        n = int(min(units, _gpus_within(headroom[region], mw_per_gpu)))
        if n <= 0:
            return 0
        price = float(self.generations.list_price_usd[generation])
        self.ledger.add(holder=buyer.holder_id, generation=generation, region=region, count=n,
                        built_step=self.step_index, lifetime=int(self.generations.lifetime_months[generation]),
                        step=self.step_index, basis=price)
        buyer.cash -= n * price
        headroom[region] -= n * mw_per_gpu
        self.record_event("gpu_purchase", holder=buyer.holder_id, generation=generation, units=n, amount_usd=n * price,
                          detail=detail)
        return n

    def _sell_aged(self, seller: Any, *, built_before: int) -> None:
        """Sell every GPU of ``seller`` built before ``built_before`` to resellers (an upgrade cycle)."""
        n = len(self.ledger)
        mask = (self.ledger.holder[:n] == seller.holder_id) & (self.ledger.built_step[:n] < built_before)
        mask &= self.ledger.count[:n] > 0
        for g in np.unique(self.ledger.generation[:n][mask]):
            self._sell_to_reseller(seller, None, generation=int(g), region=None, event="gpu_retired",
                                   built_before=built_before)


def _gpus_within(headroom_mw: float, mw_per_gpu: float) -> float:
    """Whole GPUs that fit in a region's remaining grid capacity (``inf`` where the grid is unconstrained)."""
    return float(np.floor(headroom_mw / mw_per_gpu)) if np.isfinite(headroom_mw) else np.inf
