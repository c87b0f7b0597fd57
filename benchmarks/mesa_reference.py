"""The clearing as an idiomatic Mesa 3 user would write it: one agent per enterprise, each choosing on its own row.

This is the per-agent reference point of the benchmark (issue 12, point 4a), not part of the product. Every
:class:`Enterprise` holds its volume, reads its own row of utilities and computes its multinomial-logit choice
with the outside option in its ``step()`` (numpy on its row, as a Mesa user would); the model sums the agents'
demands per offer, computes each offer's fill ratio, and lets every agent scale its allocation and re-offer its
rationed volume, ``rounds`` times, exactly as :func:`market.clearing.clear_logit_market` does on the whole
matrix. What is timed (:meth:`MesaClearing.clear`): the agents' logit choices and the rationing rounds, called
through ``agents.do``; no data collection. Creating the agents is set-up and is not timed.
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def fill_ratio(demand: FloatArray, capacity: FloatArray) -> FloatArray:
    """Fraction of each offer's demand it can serve, min(1, capacity / demand)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(demand > capacity, capacity / demand, 1.0)
    return np.clip(ratio, 0.0, 1.0)


class Enterprise(mesa.Agent):
    """A buyer of inference that chooses among the offers by logit on its own utility row.

    Args:
        model: The :class:`MesaClearing` it belongs to.
        row: Its row in the model's utility matrix.
    """

    def __init__(self, model: MesaClearing, row: int) -> None:
        super().__init__(model)
        self.row = row
        self.volume = float(model.volume[row])
        self.shares = np.zeros(0)
        self.outside_share = 1.0
        self.demand = np.zeros(0)
        self.allocation = np.zeros(0)
        self.residual = 0.0
        self.offered = np.zeros(0)

    def step(self) -> None:
        """Logit choice over the offers with the outside option (probabilities below 1e-250 set to zero)."""
        m = self.model
        utility, outside = m.utility[self.row], float(m.outside_utility[self.row])
        top = max(outside, float(utility.max())) if utility.size else outside
        weights = np.exp((utility - top) / m.mu)
        weights[weights < 1e-250] = 0.0
        rest = np.exp((outside - top) / m.mu)
        total = weights.sum() + rest
        self.shares = weights / total
        self.outside_share = rest / total
        self.demand = self.shares * self.volume
        self.allocation = self.demand.copy()

    def ration(self) -> None:
        """Keep the served fraction of each chosen offer; the rest is this enterprise's rationed volume."""
        fill = self.model.fill
        self.allocation = self.demand * fill
        self.residual = self.volume * float(self.shares @ (1.0 - fill))

    def reoffer(self) -> None:
        """Spread the rationed volume over the offers still open and the outside option, by the same logit."""
        if self.residual > 0.0:
            sub = self.shares * self.model.open_offers
            self.offered = sub * (self.residual / (sub.sum() + self.outside_share))
        else:
            self.offered = np.zeros_like(self.shares)

    def take(self) -> None:
        """Keep what the round served; what it did not is rationed again."""
        fill = self.model.round_fill
        self.residual = float(self.offered @ (1.0 - fill))
        self.allocation = self.allocation + self.offered * fill


class MesaClearing(mesa.Model):
    """One market clearing with one Mesa agent per enterprise.

    Args:
        utility: Utilities, enterprises x offers.
        outside_utility: Outside-option utility per enterprise.
        volume: Volume each enterprise considers buying, Mtok.
        capacity: Capacity per offer, Mtok.
        mu: Logit scale.
        rounds: Re-offer rounds for rationed volume.
    """

    def __init__(self, utility: FloatArray, outside_utility: FloatArray, volume: FloatArray, capacity: FloatArray,
                 mu: float, rounds: int, **kwargs: Any) -> None:
        super().__init__(rng=0, **kwargs)
        self.utility, self.outside_utility, self.volume = utility, outside_utility, volume
        self.capacity, self.mu, self.rounds = np.asarray(capacity, dtype=np.float64), mu, rounds
        self.fill = np.ones(len(self.capacity))
        self.round_fill = self.fill
        self.open_offers = np.ones(len(self.capacity), dtype=bool)
        for row in range(len(volume)):
            Enterprise(self, row)

    def step(self) -> None:
        """Every enterprise chooses (``agents.do("step")``), then offers over capacity are rationed."""
        self.agents.do("step")
        demand = np.sum([a.demand for a in self.agents], axis=0)
        self.fill = fill_ratio(demand, self.capacity)
        if np.all(self.fill == 1.0):
            return
        self.agents.do("ration")
        remaining = np.maximum(self.capacity - demand * self.fill, 0.0)
        self.open_offers = self.fill == 1.0
        for _ in range(self.rounds):
            if not self.open_offers.any() or not any(a.residual > 0.0 for a in self.agents):
                break
            self.agents.do("reoffer")
            round_demand = np.sum([a.offered for a in self.agents], axis=0)
            self.round_fill = fill_ratio(round_demand, remaining)
            self.agents.do("take")
            remaining = np.maximum(remaining - round_demand * self.round_fill, 0.0)
            self.open_offers = self.open_offers & (self.round_fill == 1.0)

    def allocation(self) -> FloatArray:
        """Tokens served per enterprise and offer (enterprises x offers), in row order."""
        return np.array([a.allocation for a in sorted(self.agents, key=lambda a: a.row)])
