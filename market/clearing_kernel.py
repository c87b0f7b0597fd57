"""The fused clearing: :mod:`market.clearing` and the demand terms pricing observes, in compiled row passes.

Same signatures and results as the numpy reference (``market.clearing.logit_shares``, ``clear_logit_market``,
``clear_with_volume_response``; ``market.pricing.demand_slopes`` with ``rationing_overflow``), to rounding: the
compiled passes (:mod:`market.kernel_passes`, which states the equations and how sums are ordered) add within
a row in offer order and across rows in fixed blocks, so results agree with numpy to about 1e-15 relative and
do not depend on the number of threads. ``simulation.clearing_kernel`` chooses the path (:func:`engine`).

Task classes and capacity pools (``classes``, ``pools``) are any objects with the arrays of
``market.clearing``'s ``TaskClasses`` (``group`` (E), ``mix`` (G x K), ``eligible`` (G x K x O)) and
``CapacityPools`` (``pool`` (O), ``weight`` (O), ``capacity`` (P)); None is today's market (one class, one
pool per offer holding ``capacity``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from market import clearing, kernel_passes
from market.clearing import CapacityPools, Clearing, solve_volume
from market.demand import effective_volume, price_term_derivative
from market.pricing import DemandSlopes, demand_slopes, rationing_overflow
from market.task_classes import split_square_weight

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
KERNELS = ("fused", "numpy")
"""Values of ``simulation.clearing_kernel``: the compiled path (default) and the numpy reference."""

_threaded = kernel_passes.threaded
"""The compiled passes run with ``kernel_passes.THREADS`` numba threads (1 unless ``NUMBA_NUM_THREADS`` asks for
more); results are the same bits at any thread count."""


class ClassArrays(Protocol):
    """Task classes as arrays (``market.clearing.TaskClasses``)."""

    group: IntArray
    mix: FloatArray
    eligible: NDArray[np.bool_]


class PoolArrays(Protocol):
    """Capacity pools as arrays (``market.clearing.CapacityPools``)."""

    pool: IntArray
    weight: FloatArray
    capacity: FloatArray


@dataclass(frozen=True)
class _Market:
    """Classes and pools checked and in the kernels' layout (``single``: no classes, ``den = 1`` exactly)."""

    group: IntArray
    mix: FloatArray
    eligible: FloatArray
    single: bool
    pool: IntArray
    weight: FloatArray
    capacity: FloatArray
    index: IntArray
    count: IntArray

    @classmethod
    def of(cls, n_ent: int, n_offers: int, capacity: FloatArray | None, classes: ClassArrays | None,
           pools: PoolArrays | None) -> _Market:
        if classes is None:
            group, mix, eligible = np.zeros(n_ent, dtype=np.int64), np.ones((1, 1)), np.ones((1, 1, n_offers))
        else:
            group = np.ascontiguousarray(classes.group, dtype=np.int64)
            mix = np.ascontiguousarray(classes.mix, dtype=np.float64)
            eligible = np.ascontiguousarray(classes.eligible, dtype=np.float64)
            if group.shape != (n_ent,) or mix.ndim != 2 or eligible.shape != (*mix.shape, n_offers):
                raise ValueError(f"classes: group needs {n_ent} entries and eligible the shape of mix x {n_offers}")
            if n_ent and (group.min() < 0 or group.max() >= mix.shape[0]):
                raise ValueError(f"classes.group must lie in 0..{mix.shape[0] - 1}")
            if np.any(mix < 0) or not np.allclose(mix.sum(axis=1), 1.0, rtol=0.0, atol=1e-9):
                raise ValueError("classes.mix rows must be non-negative and sum to 1")
        if pools is None:
            if capacity is None:
                raise ValueError("capacity is needed when no pools are given")
            pool, weight, cap = np.arange(n_offers), np.ones(n_offers), np.asarray(capacity, dtype=np.float64)
        else:
            checked = CapacityPools(pools.pool, pools.weight, pools.capacity).checked(n_offers)
            pool, weight, cap = checked.pool, checked.weight, checked.capacity
        if np.any(cap < 0) or np.any(np.isnan(cap)):
            raise ValueError("capacity must be non-negative")
        index, count = kernel_passes.eligible_offers(eligible)
        return cls(group=group, mix=mix, eligible=eligible, single=classes is None, pool=pool, weight=weight,
                   capacity=cap, index=index, count=count)

    def fill(self, demand: FloatArray, capacity: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``(offer fill (O), capacity units taken per pool (P))``: ``f_p = min(1, C_p / sum_{o in p} w_o D_o)``."""
        load = np.bincount(self.pool, weights=self.weight * demand, minlength=len(capacity))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ratio = np.clip(np.where(load > capacity, capacity / load, 1.0), 0.0, 1.0)
        return ratio[self.pool], load * ratio

    def class_scale(self, shares: FloatArray, outside: FloatArray, volume: FloatArray) -> tuple[FloatArray,
                                                                                                  FloatArray]:
        """``(V_ek / den_ek, den_ek)`` (E x K; 0 where ``den`` is 0); single class: ``(V, 1)``."""
        if self.single:
            return volume[:, None].copy(), np.ones((len(volume), 1))
        den = kernel_passes._denominators(shares, outside, self.group, self.index, self.count)
        return _over(self.class_volume(volume), den), den

    def class_volume(self, volume: FloatArray) -> FloatArray:
        """``V_ek = V_e mix[g_e, k]`` (E x K)."""
        return volume[:, None] * self.mix[self.group]


def _over(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    positive = denominator > 0
    return np.where(positive, numerator / np.where(positive, denominator, 1.0), 0.0)


@_threaded
def logit_shares(utility: FloatArray, outside_utility: FloatArray, mu: float, *, in_place: bool = False,
                 out: FloatArray | None = None) -> tuple[FloatArray, FloatArray]:
    """``market.clearing.logit_shares`` in two compiled passes around numpy's vectorised ``exp`` (``in_place``: the
    shares overwrite ``utility``; ``out``: they are written into that matrix when it fits, see :func:`_into`)."""
    if mu <= 0:
        raise ValueError(f"logit scale mu must be positive, got {mu}")
    utility = np.ascontiguousarray(utility, dtype=np.float64)
    outside_utility = np.asarray(outside_utility, dtype=np.float64)
    weights = utility if in_place else _into(out, utility)
    top = kernel_passes._logit_exponents(utility, outside_utility, 1.0 / mu, weights)
    np.exp(weights, out=weights)  # numpy's vectorised exp, as in the reference
    outside = np.empty(utility.shape[0])
    kernel_passes._logit_normalise(weights, np.exp((outside_utility - top) / mu), outside)
    return weights, outside


@dataclass(frozen=True)
class _Rationing:
    """What ``market.clearing._ration`` returns, with the row factors per round and class (T x E x K)."""

    offer_demand: FloatArray
    served_by_offer: FloatArray
    served: FloatArray
    spend: FloatArray
    inside: FloatArray
    served_by_class: FloatArray
    rationed_none: bool
    rows: FloatArray
    cols: FloatArray


def _ration(shares: FloatArray, outside: FloatArray, volume: FloatArray, price: FloatArray, rounds: int,
            m: _Market) -> _Rationing:
    """Proportional rationing of pools and ``rounds`` re-offer rounds within each class, ``2 + rounds`` passes."""
    bounds = kernel_passes._chunks(shares.shape[0])
    scale, _ = m.class_scale(shares, outside, volume)
    offer_demand = kernel_passes._column_sums(shares, m.group, m.index, m.count, scale[None],
                                              np.zeros(1, dtype=np.bool_),
                                              bounds)[0]
    fill, used = m.fill(offer_demand, m.capacity)
    open_offers = fill == 1.0
    rationed_none = bool(np.all(open_offers))
    columns = np.vstack([fill * price, fill, 1.0 - fill, open_offers])
    stats, next_scale, next_demand = kernel_passes._round_pass(shares, outside, m.group, m.index, m.count, columns,
                                                               scale,
                                                               not rationed_none and rounds > 0, bounds)
    inside = scale * (stats[:, :, 1] + stats[:, :, 2])
    spend, served, residual = scale * stats[:, :, 0], scale * stats[:, :, 1], scale * stats[:, :, 2]
    served_by_offer = offer_demand * fill
    rows, cols = [scale], [fill]
    if not rationed_none:
        remaining = np.maximum(m.capacity - used, 0.0)
        for t in range(rounds):
            if not open_offers.any() or not np.any(residual > 0.0):
                break
            scale = next_scale
            round_demand = next_demand * open_offers
            round_fill, round_used = m.fill(round_demand, remaining)
            taken = open_offers * round_fill
            served_by_offer = served_by_offer + round_demand * round_fill
            remaining = np.maximum(remaining - round_used, 0.0)
            next_open = open_offers & (round_fill == 1.0)
            columns = np.vstack([taken * price, taken, open_offers * (1.0 - round_fill), next_open])
            stats, next_scale, next_demand = kernel_passes._round_pass(shares, outside, m.group, m.index, m.count,
                                                                       columns,
                                                                       scale, t + 1 < rounds, bounds)
            spend = spend + scale * stats[:, :, 0]
            served = served + scale * stats[:, :, 1]
            residual = scale * stats[:, :, 2]
            rows.append(scale)
            cols.append(taken)
            open_offers = next_open
    return _Rationing(offer_demand=offer_demand, served_by_offer=served_by_offer, served=served.sum(axis=1),
                      spend=spend.sum(axis=1), inside=inside.sum(axis=1), served_by_class=served,
                      rationed_none=rationed_none, rows=np.stack(rows), cols=np.vstack(cols))


def _into(out: FloatArray | None, like: FloatArray) -> FloatArray:
    """``out`` when it is a writeable C-contiguous float matrix of ``like``'s shape, else a new one (a matrix
    already in memory is written about ten times faster than a new one on a busy machine: no page faults)."""
    usable = (out is not None and out.shape == like.shape and out.dtype == np.float64
              and out.flags.c_contiguous and out.flags.writeable)
    return out if usable and out is not None else np.empty_like(like)


def _result(shares: FloatArray, outside: FloatArray, volume: FloatArray, r: _Rationing, price: FloatArray,
            m: _Market, *, fallback_price: FloatArray | float, iterations: int, gap: float,
            out: FloatArray | None = None) -> Clearing:
    """The allocation in one pass (into ``out`` when it is a C-contiguous float matrix of the shares' shape) and
    the :class:`~market.clearing.Clearing`, as ``market.clearing._result``."""
    allocation = _into(out, shares)
    served_by_enterprise, spend = kernel_passes._expand(shares, m.group, m.index, m.count, r.rows, r.cols,
                                                        np.asarray(price, dtype=np.float64), allocation)
    unmet = r.inside - served_by_enterprise
    unmet = np.where(unmet > 1e-12 * np.maximum(r.inside, 1e-300), unmet, 0.0)  # drop rounding noise
    effective = np.where(served_by_enterprise > 0,
                         spend / np.where(served_by_enterprise > 0, served_by_enterprise, 1.0), fallback_price)
    extra: dict[str, Any] = {}
    if not m.single and "served_by_class" in {f.name for f in fields(Clearing)}:
        extra["served_by_class"] = r.served_by_class
    return Clearing(shares=shares, outside_share=outside, allocation=allocation, offer_demand=r.offer_demand,
                    served=r.served_by_offer, revenue=r.served_by_offer * price, spend=spend, inside_demand=r.inside,
                    unmet=unmet, volume=volume, effective_price=effective, fixed_point_iterations=iterations,
                    fixed_point_gap=gap, **extra)


def _prepared(shares: FloatArray, outside_share: FloatArray, capacity: FloatArray | None, rounds: int,
              classes: ClassArrays | None, pools: PoolArrays | None) -> tuple[FloatArray, FloatArray, _Market]:
    if rounds < 0:
        raise ValueError(f"rounds must be >= 0, got {rounds}")
    shares = np.ascontiguousarray(shares, dtype=np.float64)
    outside = np.ascontiguousarray(outside_share, dtype=np.float64)
    return shares, outside, _Market.of(shares.shape[0], shares.shape[1], capacity, classes, pools)


@_threaded
def clear_logit_market(shares: FloatArray, outside_share: FloatArray, volume: FloatArray, capacity: FloatArray | None,
                       price: FloatArray, rounds: int = 3, *, classes: ClassArrays | None = None,
                       pools: PoolArrays | None = None, out: FloatArray | None = None) -> Clearing:
    """``market.clearing.clear_logit_market`` in ``3 + rounds`` compiled passes (the allocation into ``out`` when
    it fits, :func:`_into`)."""
    shares, outside, m = _prepared(shares, outside_share, capacity, rounds, classes, pools)
    volume = np.asarray(volume, dtype=np.float64)
    price = np.asarray(price, dtype=np.float64)
    r = _ration(shares, outside, volume, price, rounds, m)
    return _result(shares, outside, volume, r, price, m, fallback_price=np.nan, iterations=0, gap=0.0, out=out)


def posted_price(shares: FloatArray, outside: FloatArray, price: FloatArray, m: _Market,
                 fallback: FloatArray) -> FloatArray:
    """Share-weighted posted price ``sum_{k,o} V_ek s_eko p_o / sum_{k,o} V_ek s_eko`` (``fallback``: buys nothing)."""
    stats = kernel_passes._row_sums(shares, m.group, m.eligible, np.vstack([price, np.ones_like(price)]))
    if m.single:
        spend, tokens = stats[:, 0, 0], stats[:, 0, 1]
    else:
        _, den = m.class_scale(shares, outside, np.zeros(len(outside)))
        weight = _over(m.mix[m.group], den)
        spend, tokens = (weight * stats[:, :, 0]).sum(axis=1), (weight * stats[:, :, 1]).sum(axis=1)
    return np.where(tokens > 1e-12, spend / np.maximum(tokens, 1e-300), fallback)


@_threaded
def clear_with_volume_response(
    shares: FloatArray, outside_share: FloatArray, base_volume: FloatArray, reference_price: FloatArray,
    elasticity: FloatArray, capacity: FloatArray | None, price: FloatArray, rounds: int = 3, tolerance: float = 1e-3,
    max_iterations: int = 20, *, classes: ClassArrays | None = None, pools: PoolArrays | None = None,
    out: FloatArray | None = None,
) -> Clearing:
    """``market.clearing.clear_with_volume_response``: the same safeguarded secant iteration on each buyer's log
    gap ``ln T_e(V) - ln V_e`` (see there), each clearing in ``2 + rounds`` compiled passes; the allocation is
    written into ``out`` when it fits (:func:`_into`)."""
    if max_iterations < 1:
        raise ValueError(f"max_iterations must be >= 1, got {max_iterations}")
    if tolerance <= 0:
        raise ValueError(f"tolerance must be positive, got {tolerance}")
    shares, outside, m = _prepared(shares, outside_share, capacity, rounds, classes, pools)
    price = np.asarray(price, dtype=np.float64)
    elasticity = np.asarray(elasticity, dtype=np.float64)
    posted = posted_price(shares, outside, price, m, reference_price)
    volume = np.asarray(effective_volume(base_volume, posted, reference_price, elasticity), dtype=np.float64)
    volume, r, iteration, gap = solve_volume(lambda v: _ration(shares, outside, v, price, rounds, m), volume, posted,
                                             base_volume, reference_price, elasticity, tolerance, max_iterations)
    return _result(shares, outside, volume, r, price, m, fallback_price=posted, iterations=iteration, gap=gap,
                   out=out)


@_threaded
def demand_terms(shares: FloatArray, volume: FloatArray, price_sensitivity: FloatArray, mu: float,
                 price: FloatArray, form: str, capacity: FloatArray | None, *, classes: ClassArrays | None = None,
                 pools: PoolArrays | None = None,
                 outside_share: FloatArray | None = None) -> tuple[DemandSlopes, FloatArray]:
    """``market.pricing.demand_slopes`` and ``rationing_overflow`` in two compiled passes (one when no offer is
    full): per offer ``D_o = sum_{e,k} V_ek s_eko``, ``sum w_ek s_eko`` and ``sum w_ek s_eko^2`` with
    ``w_ek = V_ek b_e / mu``, then the overflow re-offered from full pools (``outside_share``: ``S0``, default
    ``1 - sum_o S`` as in the reference)."""
    shares = np.ascontiguousarray(shares, dtype=np.float64)
    n_ent, n_offers = shares.shape
    price = np.asarray(price, dtype=np.float64)
    m = _Market.of(n_ent, n_offers, capacity, classes, pools)
    if m.single:  # the reference's single-class overflow takes S0 = clip(1 - sum_o S, 0, 1), row by row
        outside = np.zeros(n_ent)
    elif outside_share is None:
        outside = np.clip(1.0 - shares.sum(axis=1), 0.0, 1.0)
    else:
        outside = np.asarray(outside_share, dtype=np.float64)
    scale, den = m.class_scale(shares, outside, np.asarray(volume, dtype=np.float64))
    beta_e = (np.asarray(price_sensitivity, dtype=np.float64) / mu)[:, None]
    with np.errstate(over="ignore"):  # V / den^2 may overflow: split_square_weight takes those cells apart
        square = beta_e * _over(scale, den)
    square_weight, apart = split_square_weight(square, shares, m.class_volume(np.asarray(volume, dtype=np.float64)),
                                               den, beta_e[:, 0], m.eligible, m.group)
    factors = np.stack([scale, beta_e * scale, square_weight])
    bounds = kernel_passes._chunks(n_ent)
    sums = kernel_passes._column_sums(shares, m.group, m.index, m.count, factors, np.array([False, False, True]),
                                      bounds)
    demand, weighted, weighted_sq = sums
    if len(apart):
        weighted_sq = weighted_sq + (apart * apart).sum(axis=0)
    own_slope = price_term_derivative(price, form) * np.maximum(weighted - weighted_sq, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.where(demand > 0.0, weighted / demand, 0.0)
    fill, _ = m.fill(demand, m.capacity)
    open_ = fill == 1.0
    overflow = np.zeros(n_offers)
    if not open_.all():
        flow = kernel_passes._overflow_pass(shares, outside, m.group, m.eligible, scale, fill,
                                            open_.astype(np.float64), m.single, bounds)
        overflow = np.where(open_, flow, 0.0)
    return DemandSlopes(demand=demand, own_slope=own_slope, beta=beta), overflow


def _numpy_logit_shares(utility: FloatArray, outside_utility: FloatArray, mu: float, *, in_place: bool = False,
                        out: FloatArray | None = None) -> tuple[FloatArray, FloatArray]:
    """The reference ``market.clearing.logit_shares`` (it allocates its own matrix, whatever ``in_place`` and
    ``out``)."""
    return clearing.logit_shares(utility, outside_utility, mu)


def _numpy_clear_logit_market(*args: Any, out: FloatArray | None = None, **kwargs: Any) -> Clearing:
    """The reference ``market.clearing.clear_logit_market`` (it allocates its own matrix, whatever ``out``)."""
    return clearing.clear_logit_market(*args, **kwargs)


def _numpy_clear_with_volume_response(*args: Any, out: FloatArray | None = None, **kwargs: Any) -> Clearing:
    """The reference ``market.clearing.clear_with_volume_response`` (it allocates its own matrix, whatever
    ``out``)."""
    return clearing.clear_with_volume_response(*args, **kwargs)


def _numpy_demand_terms(shares: FloatArray, volume: FloatArray, price_sensitivity: FloatArray, mu: float,
                        price: FloatArray, form: str, capacity: FloatArray | None,
                        **terms: Any) -> tuple[DemandSlopes, FloatArray]:
    slope_terms = {k: v for k, v in terms.items() if k != "pools"}  # slopes do not depend on capacity
    return (demand_slopes(shares, volume, price_sensitivity, mu, price, form, **slope_terms),
            rationing_overflow(shares, volume, capacity, **terms))  # type: ignore[arg-type]


@dataclass(frozen=True)
class ClearingEngine:
    """One implementation of the clearing's array functions (same signatures in both; ``logit_shares(...,
    in_place=True)`` allows the shares to overwrite the utilities, and ``out=M`` (``logit_shares`` and both
    clearings) the shares or the allocation to be written into ``M``, which the fused kernel does)."""

    logit_shares: Callable[..., tuple[FloatArray, FloatArray]]
    clear_logit_market: Callable[..., Clearing]
    clear_with_volume_response: Callable[..., Clearing]
    demand_terms: Callable[..., tuple[DemandSlopes, FloatArray]]


ENGINES = {
    "fused": ClearingEngine(logit_shares, clear_logit_market, clear_with_volume_response, demand_terms),
    "numpy": ClearingEngine(_numpy_logit_shares, _numpy_clear_logit_market, _numpy_clear_with_volume_response,
                            _numpy_demand_terms),
}


def engine(kernel: str) -> ClearingEngine:
    """The clearing of ``simulation.clearing_kernel``: ``fused`` (compiled, default) or ``numpy`` (reference)."""
    if kernel not in ENGINES:
        raise ValueError(f"clearing_kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    return ENGINES[kernel]
