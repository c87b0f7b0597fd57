"""The logit best response's first-order condition, solved offer by offer in compiled code (numba).

``market.pricing.logit_best_response`` fits a homogeneous logit to each offer's observed demand and slope and
solves ``(p - c') beta g'(p) (1 - s(p)) = 1`` (``market.pricing``, module docstring). Each offer's root is found by
monotone Newton steps from the left on ``G = ln(margin term) + ln(beta) + ln(1 - s)``; written as scalar loops the
solve costs a microsecond per offer, where numpy's per-call overhead on the few offers of one provider costs tens
of microseconds per Newton step. :func:`first_order_prices_reference` is the vectorized numpy reference
of the same iteration (tests/market/test_first_order.py compares the two to 1e-11).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray

from market.kernel_passes import CACHE

FloatArray = NDArray[np.float64]

NEWTON_STEPS = 100
"""Newton iterations of the one-offer first-order condition at most (it converges in a few)."""


@njit(cache=CACHE)
def first_order_price(cost: float, g0: float, log_odds: float, beta: float, log_form: bool,
                      max_price: float) -> float:  # pragma: no cover - compiled
    """The root ``x`` of ``G(x) = ln(m(x)) + ln(beta) + ln(1 - s(x))`` by monotone Newton steps from the left,
    returned as a price (:func:`first_order_prices_reference` for one offer).

    ``x`` is the price (linear utility, ``m = x - c``) or the log price (log utility, ``m = 1 - c exp(-x)``),
    ``1 - s(x) = 1 / (1 + exp(-z))``, ``z = ln K + beta (x - g0)``. With log utility and ``c = 0`` the root is
    closed-form, ``x = g0 - (ln(beta - 1) + ln K) / beta`` (none when ``beta <= 1``); the price never exceeds
    ``max_price`` (log utility): since the iterates rise monotonically to the root, the first step that would
    pass the cap ends the solve at the cap, and a cap at or below the cost (a shadow cost above the cap of the
    offer's price) is the answer itself.
    """
    cost = max(cost, 0.0)
    if log_form:
        cap = math.log(max_price)
        if cost <= 0.0:
            closed = g0 - (math.log(beta - 1.0) + log_odds) / beta if beta > 1.0 else math.inf
            return math.exp(min(closed, cap))
        x = math.log(cost) + 1e-9
        if x >= cap:  # the cap is at (or below) the cost: no margin can be earned under it
            return max_price
    else:
        cap = math.inf
        x = cost + 1e-9 / beta
    log_beta = math.log(beta)
    for _ in range(NEWTON_STEPS):
        z = log_odds + beta * (x - g0)
        share = 0.5 * (1.0 - math.tanh(0.5 * z))  # s = 1 / (1 + exp(z)) without overflow
        log_one_minus_s = -(max(0.0, -z) + math.log1p(math.exp(-abs(z))))  # -ln(1 + exp(-z))
        if log_form:
            rel = cost * math.exp(-x)
            g = math.log1p(-rel) + log_beta + log_one_minus_s
            slope = rel / (1.0 - rel) + beta * share
        else:
            margin = x - cost
            g = math.log(margin) + log_beta + log_one_minus_s
            slope = 1.0 / margin + beta * share
        if not slope > 0.0:  # G is flat only where the share has underflowed: no better point to move to
            break
        step = g / slope
        if x - step >= cap:  # Newton's iterates rise monotonically to the root: the root is at or above the cap
            x = cap
            break
        x = x - step
        if abs(step) <= 1e-13 * max(1.0, abs(x)):
            break
    return math.exp(x) if log_form else x



@njit(cache=CACHE)
def first_order_prices(cost: FloatArray, g0: FloatArray, log_odds: FloatArray, beta: FloatArray, log_form: bool,
                       max_price: FloatArray) -> FloatArray:  # pragma: no cover - compiled
    """:func:`first_order_price` of every offer (arrays of equal length), $/Mtok."""
    out = np.empty(len(cost))
    for o in range(len(cost)):
        out[o] = first_order_price(cost[o], g0[o], log_odds[o], beta[o], log_form, max_price[o])
    return out


def first_order_prices_reference(
    cost: FloatArray, g0: FloatArray, odds0: FloatArray, beta: FloatArray, form: str, max_price: FloatArray
) -> FloatArray:
    """The numpy reference of :func:`first_order_prices`: the root of ``G(x) = ln(m(x)) + ln(beta) +
    ln(1 - s(x))`` by monotone Newton iterations from the left, all offers at once.

    ``x`` is the price (linear form, ``m = x - c``) or the log price (log form, ``m = 1 - c exp(-x)``), and
    ``1 - s(x) = 1 / (1 + exp(-z))`` with ``z = ln(K) + beta (x - g0)``. With log utility there is no interior
    optimum when ``beta <= 1``; the price is then capped at ``max_price`` (linear utility always has one). With
    log utility and zero marginal cost (a fleet whose costs are all fixed within the month) ``m = 1`` and the
    root is closed-form: ``1 - s = 1 / beta``, ``x = g0 - (ln(beta - 1) + ln K) / beta``.
    """
    log_odds = np.log(odds0)
    cost = np.maximum(cost, 0.0)
    if form == "linear":
        x = cost + 1e-9 / beta
    else:
        free = cost <= 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            closed = np.where(beta > 1.0, g0 - (np.log(beta - 1.0) + log_odds) / beta, np.inf)
            x = np.where(free, np.minimum(closed, np.log(max_price)), np.log(np.where(free, 1.0, cost)) + 1e-9)
        if free.all():
            return np.exp(x)
    cap = np.full_like(cost, np.inf) if form == "linear" else np.log(max_price)
    log_beta = np.log(beta)
    for _ in range(100):
        z = log_odds + beta * (x - g0)
        share = 0.5 * (1.0 - np.tanh(0.5 * z))  # s = 1 / (1 + exp(z)), computed without overflow
        log_one_minus_s = -np.logaddexp(0.0, -z)
        if form == "linear":
            margin = x - cost
            g = np.log(margin) + log_beta + log_one_minus_s
            slope = 1.0 / margin + beta * share
        else:
            rel = cost * np.exp(-x)
            g = np.log1p(-rel) + log_beta + log_one_minus_s
            slope = rel / (1.0 - rel) + beta * share
        step = g / slope
        x = np.minimum(x - step, cap)
        if np.all(np.abs(step) <= 1e-13 * np.maximum(1.0, np.abs(x))):
            break
    return x if form == "linear" else np.exp(x)
