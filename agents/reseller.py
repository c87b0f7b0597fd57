"""Hardware resellers: the secondary GPU market."""

from __future__ import annotations

import mesa
import numpy as np
from numpy.typing import NDArray

from market.config import ResellerConfig
from market.hardware import adjust_price_level, holding_months, lot_quote, months_unsold_at_scrap, par_rate
from market.technology import GenerationTable

FloatArray = NDArray[np.float64]


class HardwareReseller(mesa.Agent):
    """Buys GPUs that fleets retire or that bankrupt providers leave, and sells them to operators.

    Each GPU lot is priced by its own remaining life ``L``: ``max(scrap, level_g * v_g * L)``
    (``market.hardware.lot_quote``), with ``v_g`` the generation's par value per month of life to a reference
    buyer (``market.hardware.par_rate``) and ``level_g`` a price level that falls month by month until buyers
    take the book at its target turnover, down to the scrap value (``market.hardware.adjust_price_level``). It bids
    its expected resale value less its margin (``market.hardware.lot_bid``) and buys only while cash plus its
    credit line pays for it and its stock of the generation stays within ``stock_limit``.

    Attributes:
        cash: Cash, $ (never below ``-credit_limit``).
        credit_limit: Credit line, $.
        level: Price level per generation (1 = par).
        last_orders: GPUs buyers ordered from it last month, per generation.
        order_rate: Smoothed monthly orders per generation (``order_smoothing``), for its holding time.
        rate: Its current price per GPU-month of remaining life, per generation, $.
        holding: Months it expects to hold a GPU bought now, per generation.
        scrap: Scrap value per GPU, per generation, $.
        months_at_scrap: Consecutive months each generation's stock has sat at scrap without an order.
    """

    kind = "reseller"

    def __init__(self, model: mesa.Model, *, name: str, holder_id: int, config: ResellerConfig,
                 n_generations: int) -> None:
        super().__init__(model)
        self.name = name
        self.holder_id = holder_id
        self.config = config
        self.cash = float(config.cash_usd)
        self.credit_limit = float(config.credit_limit_usd)
        self.level = np.ones(n_generations)
        self.last_orders = np.zeros(n_generations)
        self.order_rate = np.zeros(n_generations)
        self.rate = np.zeros(n_generations)
        self.holding = np.zeros(n_generations)
        self.scrap = np.zeros(n_generations)
        self.months_at_scrap = np.zeros(n_generations, dtype=np.int64)
        self._adjusted_at: int | None = None

    def record_orders(self, orders: FloatArray) -> None:
        """Buyers' orders this month: ``order_rate' = s * order_rate + (1 - s) * orders``."""
        s = self.config.order_smoothing
        self.last_orders = np.asarray(orders, dtype=np.float64).copy()
        self.order_rate = s * self.order_rate + (1.0 - s) * self.last_orders

    def quote(self, generations: GenerationTable, step: int, inventory: FloatArray,
              life_left: FloatArray | None = None, power_price: float = 0.0) -> FloatArray:
        """Price per GPU for each generation at the mean remaining life of its stock, $ (a generation it does not
        hold is quoted at the life left of a GPU built at the generation's release). ``power_price`` ($/kWh) is
        what its reference buyer pays for power (``market.hardware.par_rate``).

        The first call in a step moves the price level (``adjust_price_level``) with last month's orders
        against the inventory now; later calls in the same step reprice the book at that level.
        """
        gens = generations
        newest = gens.newest(step)
        if newest < 0:
            newest = int(np.argmin(gens.release_step))
        lifetime = gens.lifetime_months.astype(np.float64)
        par = par_rate(list_price=gens.list_price_usd, throughput=gens.throughput_tokens_per_s,
                       lifetime_months=lifetime, power_kw=gens.power_kw, newest=newest, power_price=power_price,
                       pue=self.config.buyer_pue, opex_per_gpu_month=self.config.buyer_opex_usd_per_gpu_month)
        self.scrap = self.config.scrap_fraction * gens.list_price_usd
        if self._adjusted_at != step:
            self._adjusted_at = step
            self.level = adjust_price_level(
                self.level, orders=self.last_orders, inventory=np.asarray(inventory, dtype=np.float64),
                target_months=self.config.target_inventory_months, reference_units=self.config.reference_units,
                speed=self.config.demand_pressure, min_level=self.scrap / np.maximum(par * lifetime, 1e-300))
        self.rate = self.level * par
        self.holding = holding_months(np.asarray(inventory, dtype=np.float64), self.order_rate, lifetime)
        reference = np.maximum(lifetime - np.maximum(step - gens.release_step, 0), 1.0)
        held_life = reference if life_left is None else np.where(np.isnan(life_left), reference, life_left)
        return lot_quote(self.rate, np.maximum(held_life, 0.0), self.scrap)

    def stock_limit(self) -> FloatArray:
        """Most GPUs of each generation it will hold: ``max(T * order_rate, u)``, its target months of
        inventory at the smoothed order rate, or ``reference_units`` to open a market nobody has ordered from."""
        return np.maximum(self.config.target_inventory_months * self.order_rate, self.config.reference_units)

    def stock_to_write_off(self, inventory: FloatArray, quote: FloatArray) -> list[int]:
        """Generations whose stock it writes off this month: quoted at scrap with no order for
        ``write_off_months`` months in a row (``market.hardware.months_unsold_at_scrap``). Call once a month."""
        self.months_at_scrap = months_unsold_at_scrap(self.months_at_scrap, inventory=inventory,
                                                      quote=np.nan_to_num(quote, nan=np.inf), scrap=self.scrap,
                                                      orders=self.last_orders)
        due = self.months_at_scrap >= self.config.write_off_months
        self.months_at_scrap[due] = 0
        return [int(g) for g in np.nonzero(due)[0]]
