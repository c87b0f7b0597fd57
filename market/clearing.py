"""Market clearing: multinomial logit with an outside option and capacity rationing.

Given utilities ``U`` (enterprises x offers), an outside-option utility ``u0`` per enterprise, and the logit
scale ``mu``, enterprise ``e`` demands from offer ``o``::

    d[e, o] = V[e] * exp(U[e, o] / mu) / (sum_k exp(U[e, k] / mu) + exp(u0[e] / mu))

If the total demand ``D[o] = sum_e d[e, o]`` exceeds capacity ``C[o]``, every buyer of ``o`` is served the
same fraction ``C[o] / D[o]`` (proportional rationing); the rationed volume is re-offered, by the same logit
restricted to offers that still have capacity plus the outside option, for ``rounds`` more rounds. Volume that
is still unplaced afterwards, or that turns to the outside option during re-offering, is unmet demand.

Identities the result satisfies (tested): ``served <= capacity``; ``sum(spend) == sum(revenue)``;
``served_by_enterprise + unmet == inside_demand``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Clearing:
    """The outcome of one market clearing.

    Attributes:
        shares: Logit choice probabilities before rationing (E x O), the demand system buyers face.
        outside_share: Probability of the outside option before rationing (E).
        allocation: Tokens served per enterprise and offer, Mtok (E x O).
        offer_demand: Unconstrained demand per offer, Mtok (O).
        served: Tokens served per offer, Mtok (O); never above capacity.
        revenue: Revenue per offer, $ (O).
        spend: Spend per enterprise, $ (E).
        inside_demand: Volume each enterprise wants from the market, Mtok (E).
        unmet: Inside demand not served because of capacity, Mtok (E).
    """

    shares: FloatArray
    outside_share: FloatArray
    allocation: FloatArray
    offer_demand: FloatArray
    served: FloatArray
    revenue: FloatArray
    spend: FloatArray
    inside_demand: FloatArray
    unmet: FloatArray

    @classmethod
    def empty(cls, n_enterprises: int) -> Clearing:
        """The clearing of a market without offers, where nobody buys (before the first step)."""
        none, zero = np.zeros((n_enterprises, 0)), np.zeros(n_enterprises)
        return cls(shares=none, outside_share=np.ones(n_enterprises), allocation=none.copy(), offer_demand=np.zeros(0),
                   served=np.zeros(0), revenue=np.zeros(0), spend=zero, inside_demand=zero.copy(), unmet=zero.copy())

    @property
    def served_by_enterprise(self) -> FloatArray:
        """Tokens served to each enterprise, Mtok (E)."""
        return self.allocation.sum(axis=1)


def logit_shares(utility: FloatArray, outside_utility: FloatArray, mu: float) -> tuple[FloatArray, FloatArray]:
    """Multinomial-logit choice probabilities with an outside option, computed stably.

    Args:
        utility: Utilities, E x O (``EXCLUDED`` entries get probability zero).
        outside_utility: Outside-option utility per enterprise (E).
        mu: Logit scale (> 0).

    Returns:
        ``(shares, outside_share)`` with each row of ``shares`` plus ``outside_share`` summing to one.
    """
    if mu <= 0:
        raise ValueError(f"logit scale mu must be positive, got {mu}")
    n_offers = utility.shape[1]
    top = outside_utility.astype(np.float64).copy()
    if n_offers:
        np.maximum(top, utility.max(axis=1), out=top)
    weights = utility - top[:, None]
    weights *= 1.0 / mu
    np.exp(weights, out=weights)
    # Probabilities below 1e-250 are flushed to zero: they are economically nil, and subnormal floats would
    # slow every later pass over the matrix by orders of magnitude.
    np.putmask(weights, weights < 1e-250, 0.0)
    outside = np.exp((outside_utility - top) / mu)
    denom = weights.sum(axis=1) + outside
    inv = 1.0 / denom
    weights *= inv[:, None]
    return weights, outside * inv


def clear_logit_market(
    shares: FloatArray,
    outside_share: FloatArray,
    volume: FloatArray,
    capacity: FloatArray,
    price: FloatArray,
    rounds: int = 3,
) -> Clearing:
    """Allocate each enterprise's volume across offers by logit shares, rationing offers at capacity.

    Args:
        shares: Logit probabilities from :func:`logit_shares` (E x O).
        outside_share: Outside-option probabilities (E).
        volume: Token volume each enterprise considers buying, Mtok (E).
        capacity: Tokens each offer can serve this step, Mtok (O); ``inf`` for unlimited.
        price: Price of each offer, $/Mtok (O).
        rounds: Re-offer rounds for rationed demand.

    Returns:
        The :class:`Clearing`.
    """
    if rounds < 0:
        raise ValueError(f"rounds must be >= 0, got {rounds}")
    capacity = np.asarray(capacity, dtype=np.float64)
    if np.any(capacity < 0):
        raise ValueError("capacity must be non-negative")
    volume = np.asarray(volume, dtype=np.float64)
    n_ent, n_offers = shares.shape

    offer_demand = volume @ shares if n_ent else np.zeros(n_offers)
    inside_demand = volume * shares.sum(axis=1)  # not volume * (1 - s0): exact when s0 is close to 1
    fill = _fill_ratio(offer_demand, capacity)
    allocation = shares * volume[:, None]
    if np.all(fill == 1.0):
        served = offer_demand.copy()
    else:
        allocation *= fill[None, :]
        served = offer_demand * fill
        remaining = np.maximum(capacity - served, 0.0)
        open_offers = fill == 1.0
        residual = volume * (shares @ (1.0 - fill))
        for _ in range(rounds):
            rows = np.nonzero(residual > 0.0)[0]
            if rows.size == 0 or not open_offers.any():
                break
            every = rows.size > n_ent // 2  # work on whole rows when most buyers have rationed volume
            sub = shares * open_offers if every else shares[rows] * open_offers
            sel = slice(None) if every else rows
            denom = sub.sum(axis=1) + outside_share[sel]
            sub *= (residual[sel] / denom)[:, None]
            round_demand = sub.sum(axis=0)
            round_fill = _fill_ratio(round_demand, remaining)
            unplaced = sub @ (1.0 - round_fill)
            sub *= round_fill[None, :]
            allocation[sel] += sub
            placed = round_demand * round_fill
            served += placed
            remaining = np.maximum(remaining - placed, 0.0)
            residual = np.zeros(n_ent)
            residual[sel] = unplaced
            open_offers &= round_fill == 1.0
    revenue = served * price
    spend = allocation @ price
    unmet = inside_demand - allocation.sum(axis=1)
    unmet = np.where(unmet > 1e-12 * np.maximum(inside_demand, 1e-300), unmet, 0.0)  # drop rounding noise
    return Clearing(
        shares=shares,
        outside_share=outside_share,
        allocation=allocation,
        offer_demand=offer_demand,
        served=served,
        revenue=revenue,
        spend=spend,
        inside_demand=inside_demand,
        unmet=unmet,
    )


def _fill_ratio(demand: FloatArray, capacity: FloatArray) -> FloatArray:
    """Fraction of demand each offer can serve: min(1, capacity / demand)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(demand > capacity, capacity / demand, 1.0)
    return np.clip(ratio, 0.0, 1.0)
