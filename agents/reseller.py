"""Hardware resellers: the secondary GPU market."""

from __future__ import annotations

import mesa
import numpy as np
from numpy.typing import NDArray

from market.config import ResellerConfig
from market.hardware import secondary_price
from market.technology import GenerationTable

FloatArray = NDArray[np.float64]


class HardwareReseller(mesa.Agent):
    """Buys GPUs that fleets retire or that bankrupt providers leave, and sells them to operators.

    Its quote per generation clears its book: it falls with the reseller's inventory and the generation's age,
    and rises with buyers' recent orders (``market.hardware.secondary_price``). It pays sellers the quote less
    its margin. Resellers finance inventory from cash and, when cash runs out, from an unlimited credit line
    (reseller failure is not modelled).
    """

    kind = "reseller"

    def __init__(self, model: mesa.Model, *, name: str, holder_id: int, config: ResellerConfig,
                 n_generations: int) -> None:
        super().__init__(model)
        self.name = name
        self.holder_id = holder_id
        self.config = config
        self.cash = float(config.cash_usd)
        self.last_orders = np.zeros(n_generations)

    def quote(self, generations: GenerationTable, step: int, inventory: FloatArray) -> FloatArray:
        """Resale price per GPU for each generation, $."""
        newest = generations.newest(step)
        if newest < 0:
            newest = int(np.argmin(generations.release_step))
        return secondary_price(
            list_price=generations.list_price_usd,
            throughput=generations.throughput_tokens_per_s,
            generation_age_months=np.maximum(step - generations.release_step, 0).astype(np.float64),
            lifetime_months=generations.lifetime_months.astype(np.float64),
            newest_list_price=float(generations.list_price_usd[newest]),
            newest_throughput=float(generations.throughput_tokens_per_s[newest]),
            inventory=inventory,
            orders=self.last_orders,
            demand_pressure=self.config.demand_pressure,
            obsolescence=self.config.obsolescence,
            reference_units=self.config.reference_units,
        )

    def bid(self, quote: FloatArray) -> FloatArray:
        """Price per GPU it pays sellers, $."""
        return quote * (1.0 - self.config.margin)
