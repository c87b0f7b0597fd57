"""Market clearing: multinomial logit with an outside option and capacity rationing.

Given utilities ``U`` (enterprises x offers), an outside-option utility ``u0`` per enterprise, and the logit
scale ``mu``, enterprise ``e`` demands from offer ``o``::

    d[e, o] = V[e] * exp(U[e, o] / mu) / (sum_k exp(U[e, k] / mu) + exp(u0[e] / mu))

If the total demand ``D[o] = sum_e d[e, o]`` exceeds capacity ``C[o]``, every buyer of ``o`` is served the
same fraction ``C[o] / D[o]`` (proportional rationing); the rationed volume is re-offered, by the same logit
restricted to offers that still have capacity plus the outside option, for ``rounds`` more rounds. Volume that
is still unplaced afterwards, or that turns to the outside option during re-offering, is unmet demand.

Volume responds to the price buyers pay after rationing: :func:`clear_with_volume_response` iterates volume
and rationing to the fixed point ``V_e = V0_e (P_e(V) / p_ref_e)^(-eps_e)``, ``P_e`` the realized price (spend
over tokens served), so a price nobody can get at volume does not raise anyone's volume.

With task classes and capacity pools (``classes``, ``pools``; :mod:`market.task_classes`), each enterprise
splits its volume over task classes, ``V[e,k] = V_e mix[g_e,k]``, each class chooses by the logit restricted to
its eligible offers and the outside option, ``s[e,k,o] = S[e,o] A[g_e,k,o] / (sum_o' S[e,o'] A[g_e,k,o'] +
S0[e])``, and pools of offers are rationed together: ``f_p = min(1, C_p / sum_{o in p} w_o D_o)``, ``w_o`` the
capacity units a Mtok of offer ``o`` uses. Re-offered volume stays within its class. The volume fixed point stays
per enterprise (``P_e`` its spend over tokens served, summed over classes).

Identities the result satisfies (tested): ``served <= capacity`` (per pool, in capacity units:
``sum_{o in p} w_o served_o <= C_p``); ``sum(spend) == sum(revenue)``; ``served_by_enterprise + unmet ==
inside_demand``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from market.demand import effective_volume
from market.task_classes import CapacityPools, ClassRationing, TaskClasses, class_posted_price, ration_by_class

__all__ = ["CapacityPools", "Clearing", "TaskClasses", "clear_logit_market", "clear_with_volume_response",
           "logit_shares"]

FloatArray = NDArray[np.float64]


class RationResult(Protocol):
    """What the volume fixed point reads off one rationing: whether nothing was rationed, and per buyer the
    tokens served and the spend."""

    @property
    def rationed_none(self) -> bool: ...
    @property
    def served(self) -> FloatArray: ...
    @property
    def spend(self) -> FloatArray: ...


R = TypeVar("R", bound=RationResult)


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
        volume: Token volume each enterprise chose, Mtok (E); None when not recorded.
        effective_price: Price each enterprise paid per token served after rationing, $/Mtok (E): spend over
            tokens served (its share-weighted posted price when served nothing). None when not recorded.
        fixed_point_iterations: Clearings computed to find the volume fixed point (0: volume given).
        fixed_point_gap: Largest ``|ln T(V) - ln V|`` left at the returned volume (0 when converged exactly).
        served_by_class: Tokens served per enterprise and task class, Mtok (E x K); None without task classes.
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
    volume: FloatArray | None = None
    effective_price: FloatArray | None = None
    fixed_point_iterations: int = 0
    fixed_point_gap: float = 0.0
    served_by_class: FloatArray | None = None

    @classmethod
    def empty(cls, n_enterprises: int) -> Clearing:
        """The clearing of a market without offers, where nobody buys (before the first step)."""
        none, zero = np.zeros((n_enterprises, 0)), np.zeros(n_enterprises)
        return cls(shares=none, outside_share=np.ones(n_enterprises), allocation=none.copy(), offer_demand=np.zeros(0),
                   served=np.zeros(0), revenue=np.zeros(0), spend=zero, inside_demand=zero.copy(), unmet=zero.copy(),
                   volume=zero.copy(), effective_price=np.full(n_enterprises, np.nan))

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
    capacity: FloatArray | None,
    price: FloatArray,
    rounds: int = 3,
    *,
    classes: TaskClasses | None = None,
    pools: CapacityPools | None = None,
) -> Clearing:
    """Allocate each enterprise's volume across offers by logit shares, rationing offers at capacity.

    Args:
        shares: Logit probabilities from :func:`logit_shares` (E x O).
        outside_share: Outside-option probabilities (E).
        volume: Token volume each enterprise considers buying, Mtok (E).
        capacity: Tokens each offer can serve this step, Mtok (O); ``inf`` for unlimited. Ignored (may be None)
            when ``pools`` is given.
        price: Price of each offer, $/Mtok (O).
        rounds: Re-offer rounds for rationed demand.
        classes: Task classes (None: one class, every offer eligible).
        pools: Capacity pools (None: one pool per offer holding ``capacity``).

    Returns:
        The :class:`Clearing` (``volume`` as given, ``fixed_point_iterations`` 0).
    """
    ration = _rationer(shares, outside_share, capacity, price, rounds, classes, pools)
    volume = np.asarray(volume, dtype=np.float64)
    return _result(shares, outside_share, volume, ration(volume), price, fallback_price=np.nan, iterations=0, gap=0.0)


def clear_with_volume_response(
    shares: FloatArray,
    outside_share: FloatArray,
    base_volume: FloatArray,
    reference_price: FloatArray,
    elasticity: FloatArray,
    capacity: FloatArray | None,
    price: FloatArray,
    rounds: int = 3,
    tolerance: float = 1e-3,
    max_iterations: int = 20,
    *,
    classes: TaskClasses | None = None,
    pools: CapacityPools | None = None,
) -> Clearing:
    """Clear the market with each buyer's volume chosen at the price it actually pays after rationing.

    Volume is the constant-elasticity curve ``V_e(p) = V0_e (p / p_ref_e)^(-eps_e)`` of
    :func:`market.demand.effective_volume`, evaluated at the buyer's realized price after rationing and
    re-offering, ``P_e(V) = spend_e(V) / served_e(V)`` (the share-weighted posted price
    ``sum_o s[e,o] p_o / (1 - s0_e)`` when nothing it asks for is rationed, or when it is served nothing). An
    atomistic buyer under proportional rationing gets the same fractions of every extra token it asks for, so
    ``P_e`` is also the price of its marginal token. The clearing volume is the fixed point

        V_e = V0_e (P_e(V) / p_ref_e)^(-eps_e)        for every e,

    found from the volume at posted prices by a safeguarded secant method on each buyer's log gap
    ``g_e(V) = ln T_e(V) - ln V_e`` (``T`` the right-hand side): ``ln V_e += -g_e / sigma_e`` with
    ``sigma_e = Delta g_e / Delta ln V_e`` over the last move, clipped to ``[-(1 + 4 max eps), -1]`` (the first
    move uses ``-(1 + max eps)``), so no move goes beyond ``T`` itself, and, from the fifth move, halved for a
    buyer each time its gap changes sign. It stops when ``max_e |ln T_e(V) - ln V_e| <= tolerance``, or after
    ``max_iterations`` clearings with the iterate of smallest gap, that gap recorded in
    ``Clearing.fixed_point_gap`` (rationing with a finite number of re-offer rounds is not continuous in
    volume, so an exact fixed point need not exist). When no offer is rationed at posted-price volumes the
    first clearing is the fixed point. Each iteration costs ``2 (1 + rounds)`` passes over the E x O share
    matrix (see :func:`_ration`); the allocation matrix is built once, at the end.

    Args:
        shares, outside_share: Logit probabilities (E x O) and outside-option probabilities (E).
        base_volume: ``V0_e``, Mtok at the reference price (E).
        reference_price: ``p_ref_e``, $/Mtok (E).
        elasticity: ``eps_e`` >= 0 (E).
        capacity: Tokens each offer can serve, Mtok (O); ``inf`` for unlimited (ignored when ``pools`` is given).
        price: Posted price of each offer, $/Mtok (O).
        rounds: Re-offer rounds for rationed demand.
        tolerance: Convergence criterion on the largest absolute log gap.
        max_iterations: Most clearings computed (>= 1).
        classes: Task classes (None: one class); the posted price is then the class-weighted one,
            ``sum_{k,o} V_ek s_eko p_o / sum_{k,o} V_ek s_eko``.
        pools: Capacity pools (None: one pool per offer).

    Returns:
        The :class:`Clearing` at the fixed point; ``volume`` is the clearing volume and ``effective_price`` the
        realized price ``P_e``.
    """
    if max_iterations < 1:
        raise ValueError(f"max_iterations must be >= 1, got {max_iterations}")
    if tolerance <= 0:
        raise ValueError(f"tolerance must be positive, got {tolerance}")
    elasticity = np.asarray(elasticity, dtype=np.float64)
    ration = _rationer(shares, outside_share, capacity, price, rounds, classes, pools)  # checks the inputs
    if classes is None:
        inside = shares.sum(axis=1)
        posted = np.where(inside > 1e-12, (shares @ price) / np.maximum(inside, 1e-300), reference_price)
    else:
        posted = class_posted_price(shares, outside_share, price, classes, reference_price)
    volume = np.asarray(effective_volume(base_volume, posted, reference_price, elasticity), dtype=np.float64)
    volume, r, iteration, gap = solve_volume(ration, volume, posted, base_volume, reference_price, elasticity,
                                             tolerance, max_iterations)
    return _result(shares, outside_share, volume, r, price, fallback_price=posted, iterations=iteration, gap=gap)


def solve_volume(ration: Callable[[FloatArray], R], volume: FloatArray, posted: FloatArray, base_volume: FloatArray,
                 reference_price: FloatArray, elasticity: FloatArray, tolerance: float, max_iterations: int
                 ) -> tuple[FloatArray, R, int, float]:
    """The safeguarded secant iteration of :func:`clear_with_volume_response` from ``volume`` (the volume at
    ``posted`` prices), for any rationing ``ration(volume)`` whose result has ``rationed_none``, ``served`` and
    ``spend`` per buyer (the numpy reference's and the fused kernel's).

    Returns:
        The clearing volume, its rationing, the clearings computed and the log gap left.
    """
    eps_max = float(elasticity.max(initial=0.0))
    last_volume, last_step, damping = volume, np.zeros(len(volume)), np.ones(len(volume))
    gap, best = 0.0, None
    for iteration in range(1, max_iterations + 1):
        r = ration(volume)
        if r.rationed_none:
            gap = 0.0
            break
        realized = np.where(r.served > 0, r.spend / np.maximum(r.served, 1e-300), posted)
        target = effective_volume(base_volume, realized, reference_price, elasticity)
        live = (volume > 0) & (target > 0)
        step = np.zeros_like(volume)
        step[live] = np.log(target[live] / volume[live])
        gap = float(np.abs(step).max(initial=0.0))
        if best is None or gap < best[0]:
            best = (gap, volume, r)
        if gap <= tolerance or iteration == max_iterations:
            gap, volume, r = best  # without convergence, the closest iterate
            break
        slope = np.full(len(volume), -(1.0 + eps_max))  # first move: damped by the largest elasticity
        if iteration > 1:
            moved = np.zeros_like(volume)
            moved[live] = np.log(volume[live] / np.maximum(last_volume[live], 1e-300))
            known = np.abs(moved) > 1e-12
            slope = np.where(known, (step - last_step) / np.where(known, moved, 1.0), slope)
        slope = np.clip(np.nan_to_num(slope, nan=-1.0), -(1.0 + 4.0 * eps_max), -1.0)
        if iteration > 4:  # still overshooting after a few secant moves: bisect towards the point
            damping = np.where(step * last_step < 0, 0.5 * damping, damping)
        last_volume, last_step = volume, step
        volume = volume * np.exp(-damping * step / slope)
    return volume, r, iteration, gap


def _rationer(shares: FloatArray, outside_share: FloatArray, capacity: FloatArray | None, price: FloatArray,
              rounds: int, classes: TaskClasses | None,
              pools: CapacityPools | None) -> Callable[[FloatArray], _Rationing | ClassRationing]:
    """The rationing of this market as a function of volume, after checking its inputs: the single-class path
    of :func:`_ration` without classes and pools, :func:`market.task_classes.ration_by_class` otherwise."""
    if rounds < 0:
        raise ValueError(f"rounds must be >= 0, got {rounds}")
    n_ent, n_offers = shares.shape
    if pools is None:
        if capacity is None:
            raise ValueError("capacity is needed when no pools are given")
        capacity = np.asarray(capacity, dtype=np.float64)
        if np.any(capacity < 0):
            raise ValueError("capacity must be non-negative")
        if classes is None:
            cap = capacity
            return lambda volume: _ration(shares, outside_share, volume, cap, price, rounds)
        pools = CapacityPools.per_offer(capacity)
    checked_pools = pools.checked(n_offers)
    checked = (classes or TaskClasses.single(n_ent, n_offers)).checked(n_ent, n_offers)
    return lambda volume: ration_by_class(shares, outside_share, volume, price, rounds, checked, checked_pools)


@dataclass(frozen=True)
class _Rationing:
    """Rationing in factored form: ``allocation = shares * (row_factor @ col_factor)``.

    Every round serves ``s[e,o] * a_k[e] * h_k[o]`` (the first round ``a = V``, ``h = fill``; re-offer round
    ``k`` ``a_k = residual_e / (sum_{o open} s[e,o] + s0_e)``, ``h_k = open_o * round_fill_o``), so per-buyer
    totals and per-offer demand need only matrix-vector products, and the E x O allocation is built once.
    """

    offer_demand: FloatArray
    served_by_offer: FloatArray
    served: FloatArray
    spend: FloatArray
    inside: FloatArray
    row_factor: FloatArray
    col_factor: FloatArray
    rationed_none: bool
    served_by_class: None = None

    def allocation(self, shares: FloatArray) -> FloatArray:
        """Tokens served per enterprise and offer (E x O), built once from the factors."""
        allocation = self.row_factor @ self.col_factor
        allocation *= shares
        return allocation


def _ration(shares: FloatArray, outside_share: FloatArray, volume: FloatArray, capacity: FloatArray,
            price: FloatArray, rounds: int) -> _Rationing:
    """Proportional rationing and ``rounds`` re-offer rounds, in ``2 (1 + rounds)`` passes over ``shares``."""
    n_ent, n_offers = shares.shape
    offer_demand = volume @ shares if n_ent else np.zeros(n_offers)
    fill = _fill_ratio(offer_demand, capacity)
    open_offers = fill == 1.0
    stats = shares @ np.column_stack([fill * price, fill, 1.0 - fill, open_offers.astype(np.float64)])
    inside = volume * (stats[:, 1] + stats[:, 2])
    spend, served, residual, open_mass = volume * stats[:, 0], volume * stats[:, 1], volume * stats[:, 2], stats[:, 3]
    served_by_offer = offer_demand * fill
    rows, cols = [volume], [fill]
    rationed_none = bool(np.all(open_offers))
    if not rationed_none:
        remaining = np.maximum(capacity - served_by_offer, 0.0)
        for _ in range(rounds):
            if not open_offers.any() or not np.any(residual > 0.0):
                break
            denom = open_mass + outside_share
            scale = np.where(denom > 0, residual / np.where(denom > 0, denom, 1.0), 0.0)
            round_demand = (scale @ shares) * open_offers
            round_fill = _fill_ratio(round_demand, remaining)
            taken = open_offers * round_fill
            placed = round_demand * round_fill
            served_by_offer = served_by_offer + placed
            remaining = np.maximum(remaining - placed, 0.0)
            next_open = open_offers & (round_fill == 1.0)
            stats = shares @ np.column_stack([taken * price, taken, open_offers * (1.0 - round_fill),
                                              next_open.astype(np.float64)])
            spend = spend + scale * stats[:, 0]
            served = served + scale * stats[:, 1]
            residual, open_mass = scale * stats[:, 2], stats[:, 3]
            rows.append(scale)
            cols.append(taken)
            open_offers = next_open
    return _Rationing(offer_demand=offer_demand, served_by_offer=served_by_offer, served=served, spend=spend,
                      inside=inside, row_factor=np.column_stack(rows), col_factor=np.vstack(cols),
                      rationed_none=rationed_none)


def _result(shares: FloatArray, outside_share: FloatArray, volume: FloatArray, r: _Rationing | ClassRationing,
            price: FloatArray, *, fallback_price: FloatArray | float, iterations: int, gap: float) -> Clearing:
    """Build the allocation once from the factors and package the :class:`Clearing` (``fallback_price``: the
    effective price of buyers served nothing)."""
    allocation = r.allocation(shares)
    served_by_enterprise = allocation.sum(axis=1)
    spend = allocation @ price
    unmet = r.inside - served_by_enterprise
    unmet = np.where(unmet > 1e-12 * np.maximum(r.inside, 1e-300), unmet, 0.0)  # drop rounding noise
    effective = np.where(served_by_enterprise > 0,
                         spend / np.where(served_by_enterprise > 0, served_by_enterprise, 1.0), fallback_price)
    return Clearing(shares=shares, outside_share=outside_share, allocation=allocation, offer_demand=r.offer_demand,
                    served=r.served_by_offer, revenue=r.served_by_offer * price, spend=spend, inside_demand=r.inside,
                    unmet=unmet, volume=volume, effective_price=effective, fixed_point_iterations=iterations,
                    fixed_point_gap=gap, served_by_class=r.served_by_class)


def _fill_ratio(demand: FloatArray, capacity: FloatArray) -> FloatArray:
    """Fraction of demand each offer can serve: min(1, capacity / demand)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(demand > capacity, capacity / demand, 1.0)
    return np.clip(ratio, 0.0, 1.0)
