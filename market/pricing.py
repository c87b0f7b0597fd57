"""Pricing mechanics of the logit market: demand slopes, diversion and the best-response solver.

These are the market-side computations a pricing strategy uses; the strategies themselves live in
``agents.pricing``.

**Demand slopes.** With logit shares ``s[e, o]``, volume ``V[e]``, price sensitivity ``b[e]`` and scale ``mu``,
the own-price slope of offer ``i``'s demand and the cross slopes are (volume held fixed)::

    dD_i/dp_i = -g'(p_i) * sum_e V_e (b_e / mu) s_ei (1 - s_ei)
    dD_j/dp_i = +g'(p_i) * sum_e V_e (b_e / mu) s_ei s_ej        (j != i)

where ``g'(p)`` is 1 for linear utility and ``1/p`` for log utility. With task classes
(``market.task_classes``: class volume ``V_ek``, class shares ``s_eko = S_eo A_gko / den_ek``) the sums run over
(enterprise, class) pairs, in factored form (no E x K x O array)::

    dD_i/dp_i = -g'(p_i) * sum_{e,k} V_ek (b_e / mu) s_eki (1 - s_eki)
              = -g'(p_i) * sum_{e,k} (b_e / mu) [ (V_ek / den_ek) S_ei - (V_ek / den_ek^2) S_ei^2 ] A_gki
    dD_j/dp_i = +g'(p_i) * sum_{e,k} V_ek (b_e / mu) s_eki s_ekj
              = +g'(p_i) * sum_e (b_e / mu) S_ei S_ej sum_k (V_ek / den_ek^2) A_gki A_gkj

**Best response.** Offer ``i`` maximizes ``(p_i - c_i) D_i(p_i) + sum_{j in G, j != i} (p_j - c_j) D_j(p_i)``
over its own price, where ``G`` holds the offers of the same ultimate owner (or all offers for joint-profit
maximization). Holding the partners' margins fixed, logit's independence of irrelevant alternatives turns this
into an own-profit problem with the effective cost ``c'_i = c_i + sum_j m_j DR_ij``, ``DR_ij`` the diversion ratio
``(dD_j/dp_i) / |dD_i/dp_i|`` (the upward-pricing-pressure form of merger simulation).

The solver fits a homogeneous logit ``s(p) = 1 / (1 + K exp(beta (g(p) - g(p0))))`` to the offer's observed
demand and slope at the last price and solves its first-order condition ``(p - c') beta g'(p) (1 - s(p)) = 1``
by Newton's method on ``G = ln(margin term) + ln(beta) + ln(1 - s)``, which is increasing and concave in ``p``
(linear utility) or ``ln p`` (log utility), so that iterates started left of the root rise monotonically to it.
In a homogeneous market this is the exact best response; in a heterogeneous one its fixed points satisfy the
exact first-order conditions, so iterating it converges to the Bertrand-Nash equilibrium (for
``objective='owner'``) or the joint-profit optimum (``'industry'``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from market.demand import price_term_derivative, utility_transform
from market.diversion_kernel import group_cross
from market.first_order import first_order_prices
from market.task_classes import CapacityPools, ClassAlgebra, TaskClasses, over

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class DemandSlopes:
    """What the last clearing says about each offer's demand curve.

    Attributes:
        demand: Unconstrained demand per offer at the last prices, Mtok (O).
        own_slope: ``-dD_i/dp_i`` >= 0, Mtok per $/Mtok (O).
        beta: Demand-weighted mean of ``b_e / mu`` over the offer's buyers (O).
    """

    demand: FloatArray
    own_slope: FloatArray
    beta: FloatArray


def demand_slopes(
    shares: FloatArray, volume: FloatArray, price_sensitivity: FloatArray, mu: float, price: FloatArray, form: str,
    *, classes: TaskClasses | None = None, outside_share: FloatArray | None = None,
) -> DemandSlopes:
    """Own-price slopes of every offer's logit demand (see the module docstring; ``classes``: task classes,
    ``outside_share``: ``S0``, default ``1 - sum_o S``)."""
    if classes is None:
        weight = volume * price_sensitivity / mu
        demand = volume @ shares
        weighted = weight @ shares
        weighted_sq = weight @ (shares * shares)
    else:
        algebra, per_class = _class_terms(shares, volume, classes, outside_share)
        den = per_class[1]
        beta_e = (price_sensitivity / mu)[:, None]
        demand = algebra.column_sums(shares, per_class[0])
        weighted = algebra.column_sums(shares, beta_e * per_class[0])
        weighted_sq = algebra.column_sums(shares * shares, beta_e * over(per_class[0], den))
    own_slope = price_term_derivative(price, form) * np.maximum(weighted - weighted_sq, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.where(demand > 0.0, weighted / demand, 0.0)
    return DemandSlopes(demand=demand, own_slope=own_slope, beta=beta)


def _class_terms(shares: FloatArray, volume: FloatArray, classes: TaskClasses,
                 outside_share: FloatArray | None) -> tuple[ClassAlgebra, tuple[FloatArray, FloatArray]]:
    """The classes' algebra and ``(V_ek / den_ek, den_ek)`` (E x K each)."""
    algebra = ClassAlgebra.of(classes)
    outside = np.clip(1.0 - shares.sum(axis=1), 0.0, 1.0) if outside_share is None else outside_share
    den = algebra.denominators(shares, outside)
    return algebra, (over(algebra.class_volume(volume), den), den)


def rationing_overflow(shares: FloatArray, volume: FloatArray, capacity: FloatArray, *,
                       classes: TaskClasses | None = None, pools: CapacityPools | None = None,
                       outside_share: FloatArray | None = None) -> FloatArray:
    """Demand each offer with spare capacity receives from buyers rationed at full offers, Mtok (O).

    One re-offer round of the market's rationing (``market.clearing.clear_logit_market``), without capping by
    the receiving offer's capacity: with first-choice demand ``D_j = sum_e V_e s_ej`` and fill
    ``f_j = min(1, K_j / D_j)``, buyer ``e``'s rationed volume ``r_e = V_e sum_j s_ej (1 - f_j)`` is re-offered to
    the open offers (``f_i = 1``) and the outside option in proportion to their logit shares::

        O_i = sum_e r_e s_ei / (sum_{k open} s_ek + s_e0)        (open offers; 0 for full ones)

    An offer's residual demand is ``D_i + O_i``: the buyers a full rival cannot serve are demand it faces.

    With task classes and pools the same round runs per (enterprise, class) within the class's eligible offers,
    and the fill is the pool's, ``f_p = min(1, C_p / sum_{o in p} w_o D_o)`` (``capacity`` is then ignored)::

        O_i = sum_{e,k} r_ek S_ei A_gki / (sum_{o open} S_eo A_gko + S0_e)          (open offers)
        r_ek = (V_ek / den_ek) sum_o S_eo A_gko (1 - f_o)
    """
    if classes is not None or pools is not None:
        return _class_overflow(shares, volume, capacity, classes, pools, outside_share)
    demand = volume @ shares
    with np.errstate(divide="ignore", invalid="ignore"):
        fill = np.where(demand > capacity, capacity / demand, 1.0)
    full = fill < 1.0
    if not full.any():
        return np.zeros(shares.shape[1])
    residual = volume * (shares @ (1.0 - fill))
    open_ = ~full
    outside = np.clip(1.0 - shares.sum(axis=1), 0.0, 1.0)
    denom = shares[:, open_].sum(axis=1) + outside
    weight = np.where(denom > 0, residual / np.where(denom > 0, denom, 1.0), 0.0)
    return np.where(open_, weight @ shares, 0.0)


def _class_overflow(shares: FloatArray, volume: FloatArray, capacity: FloatArray, classes: TaskClasses | None,
                    pools: CapacityPools | None, outside_share: FloatArray | None) -> FloatArray:
    """:func:`rationing_overflow` with task classes and capacity pools."""
    n_ent, n_offers = shares.shape
    pools = CapacityPools.per_offer(capacity) if pools is None else pools
    algebra, (scale, _) = _class_terms(shares, volume, classes or TaskClasses.single(n_ent, n_offers), outside_share)
    outside = np.clip(1.0 - shares.sum(axis=1), 0.0, 1.0) if outside_share is None else outside_share
    fill = pools.fill(algebra.column_sums(shares, scale), pools.capacity)[0][pools.pool]
    open_ = fill == 1.0
    if open_.all():
        return np.zeros(n_offers)
    stats = algebra.row_sums(shares, np.column_stack([1.0 - fill, open_]))
    weight = over(scale * stats[:, :, 0], stats[:, :, 1] + outside[:, None])
    return np.where(open_, algebra.column_sums(shares, weight), 0.0)


def diversion_margin(
    shares: FloatArray,
    volume: FloatArray,
    price_sensitivity: FloatArray,
    mu: float,
    price: FloatArray,
    margin: FloatArray,
    own_slope: FloatArray,
    groups: list[IntArray],
    form: str,
    *,
    classes: TaskClasses | None = None,
    outside_share: FloatArray | None = None,
) -> FloatArray:
    """``sum_{j in G, j != i} m_j * DR_ij`` for each offer ``i``: the margin its partners recapture.

    With task classes the cross terms come from one compiled pass over the enterprises
    (:func:`market.diversion_kernel.group_cross`); :func:`diversion_margin_reference` is the same in numpy.

    Args:
        shares: Logit shares (E x O).
        volume: Volume per enterprise (E).
        price_sensitivity: ``b_e`` (E).
        mu: Logit scale.
        price: Prices (O).
        margin: ``p_j - c_j`` (O).
        own_slope: ``-dD_i/dp_i`` (O) from :func:`demand_slopes`.
        groups: Index arrays of offers priced jointly (same owner); singletons may be omitted.
        form: Utility form.
        classes: Task classes (cross terms summed over (enterprise, class) pairs, module docstring).
        outside_share: ``S0`` for the class shares (default ``1 - sum_o S``).

    Returns:
        Recaptured partner margin per offer (O); zero for offers priced alone.
    """
    if classes is None:
        return diversion_margin_reference(shares, volume, price_sensitivity, mu, price, margin, own_slope, groups,
                                          form)
    out = np.zeros(shares.shape[1])
    joint = [idx for idx in groups if len(idx) >= 2]
    if not joint:
        return out
    algebra, (scale, den) = _class_terms(shares, volume, classes, outside_share)
    class_weight = (price_sensitivity / mu)[:, None] * over(scale, den)  # (b_e / mu) V_ek / den_ek^2
    gprime = price_term_derivative(price, form)
    crosses = group_cross(shares, classes.group, algebra.eligible, class_weight, joint)
    for idx, cross in zip(joint, crosses, strict=True):
        out[idx] = _recapture(cross, gprime[idx], margin[idx], own_slope[idx])
    return out


def _recapture(cross: FloatArray, gprime: FloatArray, margin: FloatArray, own_slope: FloatArray) -> FloatArray:
    """``sum_j m_j (g'(p_i) cross_ij) / |dD_i/dp_i|`` over a group (``cross`` with zero diagonal; 0 where the own
    slope is 0)."""
    slope_ij = cross * gprime[:, None]  # dD_j/dp_i, rows i
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(own_slope > 0, (slope_ij @ margin) / own_slope, 0.0)


def diversion_margin_reference(
    shares: FloatArray,
    volume: FloatArray,
    price_sensitivity: FloatArray,
    mu: float,
    price: FloatArray,
    margin: FloatArray,
    own_slope: FloatArray,
    groups: list[IntArray],
    form: str,
    *,
    classes: TaskClasses | None = None,
    outside_share: FloatArray | None = None,
) -> FloatArray:
    """:func:`diversion_margin` in numpy (the one-class market's path, and the reference of the compiled class
    path): per group, ``cross = F^T diag(w) F`` with the rows of ``F`` the (enterprise, class) pairs."""
    out = np.zeros(shares.shape[1])
    weight = volume * price_sensitivity / mu
    gprime = price_term_derivative(price, form)
    if classes is not None:
        algebra, (scale, den) = _class_terms(shares, volume, classes, outside_share)
        class_weight = (price_sensitivity / mu)[:, None] * over(scale, den)  # (b_e / mu) V_ek / den_ek^2
        group = classes.group
    for idx in groups:
        if len(idx) < 2:
            continue
        block = shares[:, idx]
        if classes is None:
            cross = (block * weight[:, None]).T @ block  # sum_e w_e s_ei s_ej
        else:  # sum_{e,k} cw_ek (S_ei A_gki) (S_ej A_gkj), (e, k) pairs as the rows of one product
            part = block[:, None, :] * algebra.eligible[:, :, idx][group]  # S_ei A[g_e, k, i], E x K x n
            flat = part.reshape(-1, len(idx))
            cross = (flat * class_weight.reshape(-1, 1)).T @ flat
        np.fill_diagonal(cross, 0.0)
        out[idx] = _recapture(cross, gprime[idx], margin[idx], own_slope[idx])
    return out


@dataclass(frozen=True)
class FittedLogit:
    """The homogeneous logit ``D(p) = M s(p)``, ``s(p) = 1 / (1 + K exp(beta (g(p) - g0)))``, fitted to each
    offer's observed demand and own slope at its last price ``p0`` (module docstring): ``s0 = 1 - slope /
    (beta g'(p0) D)``, ``K = (1 - s0) / s0``, ``M = D / s0``. Only offers with a demand, a slope and a positive
    ``beta`` are fitted (``valid``); every other attribute holds those offers only.

    Attributes:
        valid: The fitted offers (O).
        cost: Their effective marginal cost ``c'``, $/Mtok.
        beta: Their ``beta``.
        g0: ``g(p0)``.
        odds: ``K``.
        market: ``M``, Mtok.
        max_price: The price cap where no interior optimum exists: ``max_price_ratio`` x the anchor
            (``price_anchor`` if given, else ``p0``, at least the cost).
    """

    valid: NDArray[np.bool_]
    cost: FloatArray
    beta: FloatArray
    g0: FloatArray
    odds: FloatArray
    market: FloatArray
    max_price: FloatArray

    @classmethod
    def of(cls, *, cost: FloatArray, price: FloatArray, demand: FloatArray, own_slope: FloatArray,
           beta: FloatArray, form: str, max_price_ratio: float, price_anchor: FloatArray | None) -> FittedLogit | None:
        """The fit (arguments as :func:`logit_best_response`), or None when no offer can be fitted."""
        cost = np.asarray(cost, dtype=np.float64)
        price = np.asarray(price, dtype=np.float64)
        valid = (demand > 0) & (own_slope > 0) & (beta > 0)
        if not valid.any():
            return None
        c = cost[valid]
        p0 = price[valid]
        b = beta[valid]
        gprime0 = price_term_derivative(p0, form)
        share0 = np.clip(1.0 - own_slope[valid] / (b * gprime0 * demand[valid]), 1e-12, 1.0 - 1e-12)
        anchor = np.maximum(c, p0) if price_anchor is None else np.maximum(
            np.asarray(price_anchor, dtype=np.float64)[valid], c)
        return cls(valid=valid, cost=c, beta=b, g0=utility_transform(p0, form), odds=(1.0 - share0) / share0,
                   market=demand[valid] / share0, max_price=max_price_ratio * anchor)


def logit_best_response(
    *,
    cost: FloatArray,
    price: FloatArray,
    demand: FloatArray,
    own_slope: FloatArray,
    beta: FloatArray,
    form: str,
    capacity: FloatArray | None = None,
    max_price_ratio: float = 1e3,
    price_anchor: FloatArray | None = None,
) -> FloatArray:
    """Best-response prices under a logit demand fitted to each offer's demand and slope (module docstring).

    Args:
        cost: Effective marginal cost ``c'`` per offer, $/Mtok.
        price: Last price per offer, $/Mtok.
        demand: Demand at the last price, Mtok.
        own_slope: ``-dD/dp`` at the last price.
        beta: Buyers' mean ``b / mu``.
        form: ``linear`` or ``log``.
        capacity: If given, the price never leaves the fitted demand above capacity: where capacity binds, the
            constrained optimum of ``(p - c) min(D(p), K)`` is the clearing price ``D(p) = K``, i.e. the
            unconstrained optimum plus the shadow price of capacity (scarcity pricing).
        max_price_ratio: Cap on price / anchor where demand is too inelastic for an interior optimum (log
            utility with ``beta (1 - s) <= 1`` at every price).
        price_anchor: The anchor of that cap per offer (default ``max(cost, last price)``). A fixed anchor
            such as the full unit cost keeps repeated best responses from compounding the cap month after
            month when marginal cost is zero.

    Returns:
        Best-response prices; the last price where the offer had no demand.
    """
    fit = FittedLogit.of(cost=cost, price=price, demand=demand, own_slope=own_slope, beta=beta, form=form,
                         max_price_ratio=max_price_ratio, price_anchor=price_anchor)
    out = np.asarray(price, dtype=np.float64).copy()
    if fit is None:
        return out
    valid, c, b, g0, odds0 = fit.valid, fit.cost, fit.beta, fit.g0, fit.odds
    best = first_order_prices(c, g0, np.log(odds0), b, form == "log", fit.max_price)

    if capacity is not None:
        cap = np.asarray(capacity, dtype=np.float64)[valid]
        floor = _clearing_price(cap, fit.market, odds0, b, g0, form)
        best = np.maximum(best, floor)
    out[valid] = best
    return out


def _clearing_price(
    capacity: FloatArray, market: FloatArray, odds0: FloatArray, beta: FloatArray, g0: FloatArray, form: str
) -> FloatArray:
    """Price at which the fitted logit demand ``market * s(p)`` equals capacity (0 where capacity is slack)."""
    out = np.zeros_like(market)
    binding = np.isfinite(capacity) & (capacity < market)
    if binding.any():
        s_cap = np.clip(capacity[binding] / market[binding], 1e-12, 1.0 - 1e-12)
        g_cap = g0[binding] + np.log(((1.0 - s_cap) / s_cap) / odds0[binding]) / beta[binding]
        out[binding] = g_cap if form == "linear" else np.exp(g_cap)
    return out


def capacity_clearing_price(
    *, price: FloatArray, demand: FloatArray, own_slope: FloatArray, beta: FloatArray, capacity: FloatArray, form: str
) -> FloatArray:
    """Lowest price at which an offer's fitted demand does not exceed its capacity, $/Mtok.

    Uses the same fitted logit as :func:`logit_best_response`, so the floor depends on the demand curve, not on
    whether last month happened to be rationed (which would make prices alternate). Returns 0 where no price
    makes demand exceed capacity (capacity above the whole market the offer can reach), where capacity is
    unlimited, or where the offer had no demand.
    """
    price = np.asarray(price, dtype=np.float64)
    valid = (demand > 0) & (own_slope > 0) & (beta > 0) & np.isfinite(capacity)
    out = np.zeros_like(price)
    if not valid.any():
        return out
    p0 = price[valid]
    b = beta[valid]
    share0 = np.clip(1.0 - own_slope[valid] / (b * price_term_derivative(p0, form) * demand[valid]), 1e-12,
                     1.0 - 1e-12)
    out[valid] = _clearing_price(np.asarray(capacity, dtype=np.float64)[valid], demand[valid] / share0,
                                 (1.0 - share0) / share0, b, utility_transform(p0, form), form)
    return out
