"""The bare numpy floor of the clearing: the least work the math needs, with no model around it.

Utilities are given; the floor computes the logit weights with the outside option (stabilised by the row
maximum), each enterprise's demand per offer, the demand per offer and one proportional capacity pass. No
rationing re-offer rounds, no demand slopes, no validation and no data collection: a lower bound for what the
engine's clearing (:func:`market.clearing.logit_shares` and :func:`market.clearing.clear_logit_market`) does.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def floor_clearing(utility: FloatArray, outside_utility: FloatArray, volume: FloatArray, capacity: FloatArray,
                   mu: float, out: FloatArray | None = None) -> FloatArray:
    """Allocation (enterprises x offers) after the logit and one capacity pass (written into ``out``, a matrix of
    the utilities' shape, when given)."""
    top = np.maximum(utility.max(axis=1), outside_utility)
    weights = np.subtract(utility, top[:, None], out=out)
    weights *= 1.0 / mu
    np.exp(weights, out=weights)
    scale = volume / (weights.sum(axis=1) + np.exp((outside_utility - top) / mu))
    weights *= scale[:, None]
    demand = weights.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        fill = np.where(demand > capacity, capacity / demand, 1.0)
    weights *= fill[None, :]
    return weights
