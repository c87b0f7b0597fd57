"""Best responses of one owner's offers that share capacity pools (tiers on the same GPUs), compiled (numba).

The owner maximizes ``sum_o (p_o - c_o) D_o(p_o)`` subject to ``sum_{o in p} w_o D_o(p_o) <= C_p`` per pool, each
``D_o`` the homogeneous logit fitted to the offer's observed demand and slope (``market.pricing``, module
docstring): ``D_o(p) = M_o s_o(p)``, ``s_o(p) = 1 / (1 + K_o exp(beta_o (g(p) - g(p0_o))))``. With the Lagrangian
``L = sum_o (p_o - c_o) D_o - sum_p lam_p (sum_{o in p} w_o D_o - C_p)`` every offer's first-order condition is
the single-offer one at the cost ``c_o + lam_p w_o``: a pool's capacity costs each of its offers its shadow price
per capacity unit times the capacity the offer's Mtok use. ``lam_p = 0`` where the unconstrained optimum fits the
pool; otherwise ``lam_p > 0`` solves ``sum_{o in p} w_o D_o(p_o(lam_p)) = C_p``. The left side falls in
``lam_p``, so the root is bracketed (``lam`` multiplied by 4 until the pool is no longer over-full) and bisected
on ``ln lam`` to a relative width of 1e-12. So every offer of a full pool earns at least ``lam_p`` per capacity
unit over its cost, and capacity goes to the offers that earn most per unit (with one offer per pool this is
``market.pricing.logit_best_response``'s clearing price).

A pooled response solves the one-offer condition some thousand times (tens of bisection steps, each a Newton
solve per offer of the pool); written as scalar loops it costs microseconds where numpy's per-call overhead on
arrays of two or three offers cost milliseconds. The one-offer solver is ``market.first_order.first_order_price``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray

from market.first_order import first_order_price
from market.kernel_passes import CACHE
from market.pricing import FittedLogit

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

BRACKET_STEPS = 200
"""Times the shadow price's upper bracket may be multiplied by 4 at most."""
BISECTION_STEPS = 100
"""Bisection steps on ``ln lam`` at most (a relative width of 1e-12 takes about 45)."""


@njit(cache=CACHE)
def _respond(lam: float, members: IntArray, cost: FloatArray, g0: FloatArray, log_odds: FloatArray,
             beta: FloatArray, weight: FloatArray, market: FloatArray, cap_price: FloatArray, log_form: bool,
             out: FloatArray) -> float:  # pragma: no cover - compiled
    """Prices of a pool's ``members`` at shadow price ``lam`` (into ``out``) and the capacity units they use."""
    used = 0.0
    for o in members:
        shadow = cost[o] + lam * weight[o]
        price = first_order_price(shadow, g0[o], log_odds[o], beta[o], log_form, max(cap_price[o], shadow))
        out[o] = price
        z = log_odds[o] + beta[o] * ((math.log(max(price, 1e-300)) if log_form else price) - g0[o])
        used += weight[o] * market[o] * 0.5 * (1.0 - math.tanh(0.5 * z))
    return used


@njit(cache=CACHE)
def pooled_prices(cost: FloatArray, g0: FloatArray, log_odds: FloatArray, beta: FloatArray, weight: FloatArray,
                  pool: IntArray, market: FloatArray, cap_price: FloatArray, capacity: FloatArray,
                  log_form: bool) -> FloatArray:  # pragma: no cover - compiled
    """Each pool's constrained best-response prices (module docstring); ``capacity`` per pool (inf: none)."""
    out = np.empty(len(cost))
    for p in range(len(capacity)):
        members = np.flatnonzero(pool == p)
        if len(members) == 0:
            continue
        used = _respond(0.0, members, cost, g0, log_odds, beta, weight, market, cap_price, log_form, out)
        if not (math.isfinite(capacity[p]) and used > capacity[p] * (1.0 + 1e-12)):
            continue
        hi = 1.0
        for _ in range(BRACKET_STEPS):
            if _respond(hi, members, cost, g0, log_odds, beta, weight, market, cap_price, log_form,
                        out) <= capacity[p]:
                break
            hi *= 4.0
        lo = hi * 1e-12
        for _ in range(BISECTION_STEPS):
            mid = math.sqrt(lo * hi)
            if _respond(mid, members, cost, g0, log_odds, beta, weight, market, cap_price, log_form,
                        out) > capacity[p]:
                lo = mid
            else:
                hi = mid
            if hi <= lo * (1.0 + 1e-12):
                break
        _respond(hi, members, cost, g0, log_odds, beta, weight, market, cap_price, log_form, out)
    return out


def pooled_best_response(
    *,
    cost: FloatArray,
    price: FloatArray,
    demand: FloatArray,
    own_slope: FloatArray,
    beta: FloatArray,
    form: str,
    weight: FloatArray,
    pool: IntArray,
    pool_capacity: FloatArray,
    max_price_ratio: float = 1e3,
    price_anchor: FloatArray | None = None,
) -> FloatArray:
    """Best responses of one owner's offers that share capacity pools (module docstring). Offers without an
    observed demand keep ``price`` and use no capacity.

    Args:
        cost, price, demand, own_slope, beta, form, max_price_ratio, price_anchor: As
            :func:`market.pricing.logit_best_response` (the logit fitted to each offer: ``market.pricing.
            FittedLogit``).
        weight: Capacity units per Mtok of each offer (``w_o``).
        pool: Pool id of each offer (0..P-1).
        pool_capacity: Capacity of each offer's pool, capacity units (repeated on each offer of the pool).

    Returns:
        Best-response prices, $/Mtok.
    """
    fit = FittedLogit.of(cost=cost, price=price, demand=demand, own_slope=own_slope, beta=beta, form=form,
                         max_price_ratio=max_price_ratio, price_anchor=price_anchor)
    out = np.asarray(price, dtype=np.float64).copy()
    if fit is None:
        return out
    grp = np.asarray(pool, dtype=np.int64)[fit.valid]
    capacity = np.full(int(np.max(pool)) + 1, np.inf)
    capacity[grp] = np.asarray(pool_capacity, dtype=np.float64)[fit.valid]
    out[fit.valid] = pooled_prices(fit.cost, fit.g0, np.log(fit.odds), fit.beta,
                                   np.asarray(weight, dtype=np.float64)[fit.valid], grp, fit.market, fit.max_price,
                                   capacity, form == "log")
    return out
