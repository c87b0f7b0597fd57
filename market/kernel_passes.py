"""The compiled passes of the fused clearing (:mod:`market.clearing_kernel`) over the E x O share matrix (numba).

The same mathematics as the numpy reference (``market.clearing``, ``market.pricing``; see their docstrings for
the equations), computed row by row so that one pass over the share matrix ``S`` does the work of several numpy
matrix products, and no E x O temporary is built:

* :func:`logit_shares`: ``S[e,o] = exp((U[e,o] - m_e) / mu) / (sum_o' exp((U[e,o'] - m_e) / mu) + exp((u0_e - m_e)
  / mu))``, ``m_e`` the row's largest utility, weights below 1e-250 flushed to zero; one pass, in place of the
  utilities when asked.
* rationing (:func:`clear_logit_market`, :func:`clear_with_volume_response`): with task classes
  (``s[e,k,o] = S[e,o] A[g_e,k,o] / den[e,k]``, ``den[e,k] = sum_o S[e,o] A[g_e,k,o] + S0[e]``) and capacity pools
  (``f_p = min(1, C_p / sum_{o in p} w_o D_o)``), every round ``t`` needs the per-(buyer, class) sums
  ``sum_o S[e,o] A[g_e,k,o] h_t[o]`` for four offer columns ``h_t`` and, once the round's fills are known, the
  per-offer demand of the next round ``sum_{e,k} a_{t+1}[e,k] S[e,o] A[g_e,k,o]`` with
  ``a_{t+1} = residual_t / (open mass_t + S0)``. Both come from the same row, so a round is one pass (numpy:
  two), a clearing ``2 + rounds`` passes (numpy: ``2 (1 + rounds)``), and the allocation
  ``S[e,o] sum_t sum_k a_t[e,k] A[g_e,k,o] h_t[o]`` is written once with its row sums (served, spend).
* :func:`observation_sums`: demand, the own-slope terms and the rationing overflow that pricing observes
  (``market.pricing.demand_slopes``, ``rationing_overflow``) in two passes (numpy: eight).

Without classes the kernels take one class with ``den = 1`` exactly and the class share ``S`` itself, so the
single-class market is today's to rounding (the per-row sums add in a different order than BLAS: results agree
with the numpy path to about 1e-15 relative, tested to 1e-12).

**Determinism.** Rows are computed independently, each summing over offers in offer order. Sums over rows run
over :data:`N_CHUNKS` fixed blocks of consecutive rows (a number that does not depend on the thread count),
each block summed in row order into its own partial, and the partials added in block order. Results are
therefore identical at any number of numba threads.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import numba
import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

N_CHUNKS = 64
"""Blocks of rows whose partial sums are added in block order (independent of the number of threads)."""

FLUSH = 1e-250
"""Logit weights below this are set to zero, as in ``market.clearing.logit_shares``."""


def _cache_enabled() -> bool:
    """Cache compiled kernels only where numba puts them next to this module (its ``__pycache__``, writable) or
    where the user chose with ``NUMBA_CACHE_DIR``; never in numba's fallback per-user cache directory."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return True
    pycache = Path(__file__).resolve().parent / "__pycache__"
    target = pycache if pycache.exists() else pycache.parent
    return os.access(target, os.W_OK)


P = ParamSpec("P")
R = TypeVar("R")

THREADS = int(os.environ.get("NUMBA_NUM_THREADS", "1"))
"""Threads the compiled passes use: 1 unless ``NUMBA_NUM_THREADS`` asks for more. As with single-threaded BLAS
inside a step, runs in parallel (Ray workers) do not oversubscribe cores, and on a shared machine a parallel
region does not wait for a thread whose core is busy (measured: 2 threads 13x slower than 1 on a loaded 2-core
machine). Results are the same bits at any thread count."""


def threaded(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` with :data:`THREADS` numba threads (restored afterwards); every compiled pass with a
    ``prange`` is called through it (numba's own default is one thread per core)."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        before = numba.get_num_threads()
        numba.set_num_threads(max(1, min(THREADS, numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
        try:
            return function(*args, **kwargs)
        finally:
            numba.set_num_threads(before)

    return run


CACHE = _cache_enabled()


def _chunks(n_rows: int) -> IntArray:
    """Bounds of the :data:`N_CHUNKS` row blocks (``N_CHUNKS + 1`` increasing indices from 0 to ``n_rows``)."""
    return np.linspace(0, n_rows, N_CHUNKS + 1).round().astype(np.int64)


@njit(parallel=True, cache=CACHE)
def _logit_exponents(utility: FloatArray, outside_utility: FloatArray, inv_mu: float,
                     out: FloatArray) -> FloatArray:  # pragma: no cover - compiled
    """``out[e,o] = (U[e,o] - m_e) * (1 / mu)``, ``m_e = max(u0_e, max_o U[e,o])``; returns ``m`` (E)."""
    n_ent, n_offers = utility.shape
    top = np.empty(n_ent)
    for e in prange(n_ent):
        m = outside_utility[e]
        for o in range(n_offers):
            m = max(m, utility[e, o])
        top[e] = m
        for o in range(n_offers):
            out[e, o] = (utility[e, o] - m) * inv_mu
    return top


@njit(parallel=True, cache=CACHE)
def _logit_normalise(weights: FloatArray, outside_weight: FloatArray,
                     outside: FloatArray) -> None:  # pragma: no cover - compiled
    """Flush weights below :data:`FLUSH`, divide each row and its outside weight by their sum (in place)."""
    n_ent, n_offers = weights.shape
    for e in prange(n_ent):
        total = _flushed_sum(weights[e])
        inv = 1.0 / (total + outside_weight[e])
        for o in range(n_offers):
            weights[e, o] *= inv
        outside[e] = outside_weight[e] * inv


@njit(cache=CACHE)
def _flushed_sum(row: FloatArray) -> float:  # pragma: no cover - compiled
    """Zero the entries below :data:`FLUSH` and return the row's :func:`_pairwise_sum`."""
    for o in range(len(row)):
        if row[o] < FLUSH:
            row[o] = 0.0
    return _pairwise_sum(row, 0, len(row))


@njit(cache=CACHE)
def _block_sum(a: FloatArray, lo: int, n: int) -> float:  # pragma: no cover - compiled
    """numpy's pairwise sum of at most 128 entries (above: in order, a fallback for rows longer than
    :func:`_pairwise_sum` splits)."""
    if n < 8 or n > 128:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    end = n - n % 8
    while i < end:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=CACHE)
def _pairwise_1(a: FloatArray, lo: int, n: int) -> float:  # pragma: no cover - compiled
    if n <= 128:
        return _block_sum(a, lo, n)
    half = n // 2
    half -= half % 8
    return _block_sum(a, lo, half) + _block_sum(a, lo + half, n - half)


@njit(cache=CACHE)
def _pairwise_2(a: FloatArray, lo: int, n: int) -> float:  # pragma: no cover - compiled
    if n <= 128:
        return _block_sum(a, lo, n)
    half = n // 2
    half -= half % 8
    return _pairwise_1(a, lo, half) + _pairwise_1(a, lo + half, n - half)


@njit(cache=CACHE)
def _pairwise_3(a: FloatArray, lo: int, n: int) -> float:  # pragma: no cover - compiled
    if n <= 128:
        return _block_sum(a, lo, n)
    half = n // 2
    half -= half % 8
    return _pairwise_2(a, lo, half) + _pairwise_2(a, lo + half, n - half)


@njit(cache=CACHE)
def _pairwise_4(a: FloatArray, lo: int, n: int) -> float:  # pragma: no cover - compiled
    if n <= 128:
        return _block_sum(a, lo, n)
    half = n // 2
    half -= half % 8
    return _pairwise_3(a, lo, half) + _pairwise_3(a, lo + half, n - half)


@njit(cache=CACHE)
def _pairwise_5(a: FloatArray, lo: int, n: int) -> float:  # pragma: no cover - compiled
    if n <= 128:
        return _block_sum(a, lo, n)
    half = n // 2
    half -= half % 8
    return _pairwise_4(a, lo, half) + _pairwise_4(a, lo + half, n - half)


@njit(cache=CACHE)
def _pairwise_6(a: FloatArray, lo: int, n: int) -> float:  # pragma: no cover - compiled
    if n <= 128:
        return _block_sum(a, lo, n)
    half = n // 2
    half -= half % 8
    return _pairwise_5(a, lo, half) + _pairwise_5(a, lo + half, n - half)


@njit(cache=CACHE)
def _pairwise_7(a: FloatArray, lo: int, n: int) -> float:  # pragma: no cover - compiled
    if n <= 128:
        return _block_sum(a, lo, n)
    half = n // 2
    half -= half % 8
    return _pairwise_6(a, lo, half) + _pairwise_6(a, lo + half, n - half)


@njit(cache=CACHE)
def _pairwise_sum(a: FloatArray, lo: int, n: int) -> float:  # pragma: no cover - compiled
    """``sum(a[lo:lo + n])`` in numpy's pairwise order (``ndarray.sum`` along a contiguous axis), so that sums
    the reference takes with ``sum(axis=1)`` come out bit for bit: eight interleaved partial sums in blocks of
    up to 128 entries, halved above. The halving is unrolled into eight levels (numba cannot cache recursive
    functions), enough for rows of about 16,000 offers."""
    if n <= 128:
        return _block_sum(a, lo, n)
    half = n // 2
    half -= half % 8
    return _pairwise_7(a, lo, half) + _pairwise_7(a, lo + half, n - half)


def eligible_offers(eligible: FloatArray) -> tuple[IntArray, IntArray]:
    """The eligible offers of each (group, class) of a 0/1 eligibility ``A`` (G x K x O): their indices in offer
    order, first in ``index[g, k]`` (G x K x O; the rest is padding), and their number ``count[g, k]`` (G x K).

    The passes that take these sum over the eligible offers only: a term ``x A[g,k,o]`` with ``A = 0`` adds an exact
    zero, and ``x A`` is ``x`` where ``A = 1``, so skipping the ineligible offers leaves every sum's bits as they are
    and saves their work (most of it with tiers: a hard task's class admits only the frontier tiers)."""
    flags = np.asarray(eligible) != 0.0
    index = np.argsort(~flags, axis=2, kind="stable").astype(np.int64)
    return np.ascontiguousarray(index), flags.sum(axis=2).astype(np.int64)


@njit(cache=CACHE, inline="always")
def _spread(weight: FloatArray, a: float, index: IntArray, count: int) -> None:  # pragma: no cover - compiled
    """``weight[o] += a`` on the ``count`` eligible offers ``index[:count]`` (every offer: the direct loop)."""
    if count == len(weight):
        for o in range(count):
            weight[o] += a
    else:
        for i in range(count):
            weight[index[i]] += a


@njit(parallel=True, cache=CACHE)
def _denominators(shares: FloatArray, outside: FloatArray, group: IntArray, index: IntArray,
                  count: IntArray) -> FloatArray:  # pragma: no cover - compiled
    """``den[e,k] = sum_o S[e,o] A[g_e,k,o] + S0[e]`` (E x K), the sum over the eligible offers in offer order
    (``index``, ``count``: :func:`eligible_offers`)."""
    n_ent, n_offers = shares.shape
    n_classes = count.shape[1]
    den = np.empty((n_ent, n_classes))
    for e in prange(n_ent):
        g = group[e]
        for k in range(n_classes):
            acc = 0.0
            if count[g, k] == n_offers:  # every offer eligible: the direct loop, same order
                for o in range(n_offers):
                    acc += shares[e, o]
            else:
                for i in range(count[g, k]):
                    acc += shares[e, index[g, k, i]]
            den[e, k] = acc + outside[e]
    return den


@njit(parallel=True, cache=CACHE)
def _column_sums(shares: FloatArray, group: IntArray, index: IntArray, count: IntArray, factors: FloatArray,
                 squared: NDArray[np.bool_], bounds: IntArray) -> FloatArray:  # pragma: no cover - compiled
    """``out[j,o] = sum_{e,k} factors[j,e,k] S[e,o]^(1 or 2) A[g_e,k,o]`` (J x O), summed in row blocks
    (``index``, ``count``: :func:`eligible_offers`)."""
    n_offers = shares.shape[1]
    n_sums, _, n_classes = factors.shape
    n_blocks = len(bounds) - 1
    partial = np.zeros((n_blocks, n_sums, n_offers))
    for b in prange(n_blocks):
        weight = np.empty(n_offers)
        for e in range(bounds[b], bounds[b + 1]):
            g = group[e]
            for j in range(n_sums):
                for o in range(n_offers):
                    weight[o] = 0.0
                for k in range(n_classes):
                    _spread(weight, factors[j, e, k], index[g, k], count[g, k])
                if squared[j]:
                    for o in range(n_offers):
                        partial[b, j, o] += weight[o] * (shares[e, o] * shares[e, o])
                else:
                    for o in range(n_offers):
                        partial[b, j, o] += weight[o] * shares[e, o]
    out = np.zeros((n_sums, n_offers))
    for b in range(n_blocks):
        out += partial[b]
    return out


@njit(parallel=True, cache=CACHE)
def _round_pass(shares: FloatArray, outside: FloatArray, group: IntArray, index: IntArray, count: IntArray,
                columns: FloatArray, scale: FloatArray, with_next: bool,
                bounds: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:  # pragma: no cover - compiled
    """One rationing round's row sums ``stats[e,k,j] = sum_o S[e,o] A[g_e,k,o] columns[j,o]`` (j = 0..3: spend,
    served, rationed, next open), the next round's row factor ``a[e,k] = scale r / (open + S0)`` (0 where the
    denominator is 0) and, with ``with_next``, its demand ``sum_{e,k} a[e,k] S[e,o] A[g_e,k,o]`` (O). Sums over a
    class run over its eligible offers in offer order (``index``, ``count``: :func:`eligible_offers`)."""
    n_ent, n_offers = shares.shape
    n_classes = count.shape[1]
    n_blocks = len(bounds) - 1
    stats = np.empty((n_ent, n_classes, 4))
    next_scale = np.zeros((n_ent, n_classes))
    partial = np.zeros((n_blocks, n_offers))
    for b in prange(n_blocks):
        weight = np.empty(n_offers)
        for e in range(bounds[b], bounds[b + 1]):
            g = group[e]
            for k in range(n_classes):
                t0 = t1 = t2 = t3 = 0.0
                if count[g, k] == n_offers:  # every offer eligible: the direct loop, same order
                    for o in range(n_offers):
                        s = shares[e, o]
                        t0 += s * columns[0, o]
                        t1 += s * columns[1, o]
                        t2 += s * columns[2, o]
                        t3 += s * columns[3, o]
                else:
                    for i in range(count[g, k]):
                        o = index[g, k, i]
                        s = shares[e, o]
                        t0 += s * columns[0, o]
                        t1 += s * columns[1, o]
                        t2 += s * columns[2, o]
                        t3 += s * columns[3, o]
                stats[e, k, 0] = t0
                stats[e, k, 1] = t1
                stats[e, k, 2] = t2
                stats[e, k, 3] = t3
                denom = t3 + outside[e]
                if denom > 0:
                    next_scale[e, k] = (scale[e, k] * t2) / denom
            if with_next:
                for o in range(n_offers):
                    weight[o] = 0.0
                for k in range(n_classes):
                    _spread(weight, next_scale[e, k], index[g, k], count[g, k])
                for o in range(n_offers):
                    partial[b, o] += weight[o] * shares[e, o]
    demand = np.zeros(n_offers)
    for b in range(n_blocks):
        demand += partial[b]
    return stats, next_scale, demand


@njit(parallel=True, cache=CACHE)
def _expand(shares: FloatArray, group: IntArray, index: IntArray, count: IntArray, rows: FloatArray,
            cols: FloatArray, price: FloatArray,
            allocation: FloatArray) -> tuple[FloatArray, FloatArray]:  # pragma: no cover - compiled
    """Allocation ``S[e,o] sum_t sum_k rows[t,e,k] A[g_e,k,o] cols[t,o]`` written into ``allocation`` (E x O; a
    numpy array: numpy asks the kernel for huge pages, which makes first writes far cheaper), and its row sums and
    spend (E)."""
    n_ent, n_offers = shares.shape
    n_rounds, _, n_classes = rows.shape
    served = np.empty(n_ent)
    spend = np.empty(n_ent)
    full = n_offers - n_offers % 2
    for b in prange((n_ent + 255) // 256):
        factor = np.empty(n_offers)
        for e in range(b * 256, min(n_ent, (b + 1) * 256)):
            g = group[e]
            for o in range(n_offers):
                factor[o] = 0.0
            for t in range(n_rounds):
                for k in range(n_classes):
                    a = rows[t, e, k]
                    if a == 0.0:
                        continue
                    if count[g, k] == n_offers:  # every offer eligible: the direct loop, same order
                        for o in range(n_offers):
                            factor[o] += a * cols[t, o]
                    else:
                        for i in range(count[g, k]):
                            o = index[g, k, i]
                            factor[o] += a * cols[t, o]
            p0 = p1 = 0.0  # two interleaved partial sums (fixed order)
            for o in range(0, full, 2):
                x, y = factor[o] * shares[e, o], factor[o + 1] * shares[e, o + 1]
                allocation[e, o] = x
                allocation[e, o + 1] = y
                p0 += x * price[o]
                p1 += y * price[o + 1]
            if full < n_offers:
                x = factor[full] * shares[e, full]
                allocation[e, full] = x
                p0 += x * price[full]
            served[e] = _pairwise_sum(allocation[e], 0, n_offers)  # as numpy's allocation.sum(axis=1)
            spend[e] = p0 + p1
    return served, spend


@njit(parallel=True, cache=CACHE)
def _overflow_pass(shares: FloatArray, outside: FloatArray, group: IntArray, eligible: FloatArray,
                   scale: FloatArray, fill: FloatArray, open_: FloatArray, single: bool,
                   bounds: IntArray) -> FloatArray:  # pragma: no cover - compiled
    """``sum_{e,k} over(scale r_ek, open_ek + S0_e) S[e,o] A[g_e,k,o]`` (O) with ``r_ek = sum_o S A (1 - f)`` and
    ``open_ek = sum_o S A open``; ``single``: ``S0 = clip(1 - sum_o S, 0, 1)`` as in ``rationing_overflow``."""
    n_offers = shares.shape[1]
    n_classes = eligible.shape[1]
    n_blocks = len(bounds) - 1
    partial = np.zeros((n_blocks, n_offers))
    for b in prange(n_blocks):
        weight = np.empty(n_offers)
        gathered = np.empty(n_offers)
        for e in range(bounds[b], bounds[b + 1]):
            g = group[e]
            s0 = outside[e]
            if single:  # as numpy's sums over the row and over its open offers
                s0 = min(max(1.0 - _pairwise_sum(shares[e], 0, n_offers), 0.0), 1.0)
                n_open = 0
                for o in range(n_offers):
                    if open_[o] > 0.0:
                        gathered[n_open] = shares[e, o]
                        n_open += 1
            for o in range(n_offers):
                weight[o] = 0.0
            for k in range(n_classes):
                rationed = 0.0
                room = 0.0
                for o in range(n_offers):
                    s = shares[e, o] * eligible[g, k, o]
                    rationed += s * (1.0 - fill[o])
                    room += s * open_[o]
                if single:
                    room = _pairwise_sum(gathered, 0, n_open)
                denom = room + s0
                if denom > 0:
                    a = (scale[e, k] * rationed) / denom
                    for o in range(n_offers):
                        weight[o] += a * eligible[g, k, o]
            for o in range(n_offers):
                partial[b, o] += weight[o] * shares[e, o]
    out = np.zeros(n_offers)
    for b in range(n_blocks):
        out += partial[b]
    return out


@njit(parallel=True, cache=CACHE)
def _row_sums(shares: FloatArray, group: IntArray, eligible: FloatArray,
              columns: FloatArray) -> FloatArray:  # pragma: no cover - compiled
    """``out[e,k,j] = sum_o S[e,o] A[g_e,k,o] columns[j,o]`` (E x K x J)."""
    n_ent, n_offers = shares.shape
    n_classes = eligible.shape[1]
    n_cols = columns.shape[0]
    out = np.empty((n_ent, n_classes, n_cols))
    for e in prange(n_ent):
        g = group[e]
        for k in range(n_classes):
            for j in range(n_cols):
                acc = 0.0
                for o in range(n_offers):
                    acc += shares[e, o] * eligible[g, k, o] * columns[j, o]
                out[e, k, j] = acc
    return out
