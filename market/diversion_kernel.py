"""The compiled cross-slope pass of diversion with task classes (numba).

With task classes (``market.task_classes``: class shares ``s[e,k,o] = S[e,o] A[g_e,k,o] / den[e,k]``), the
cross slope of offer ``j``'s demand in offer ``i``'s price within a group ``G`` of jointly priced offers is
``g'(p_i) cross_ij`` with (``market.pricing``, module docstring)::

    cross_ij = sum_e sum_k cw[e,k] (S[e,i] A[g_e,k,i]) (S[e,j] A[g_e,k,j])        (i, j in G)
    cw[e,k]  = (b_e / mu) V[e,k] / den[e,k]^2

:func:`group_cross` computes the cells ``i < j`` of every group's ``n x n`` matrix (``n`` its offers; the matrix
is symmetric, and diversion does not use its diagonal, which is 0) as a list of pairs ``p = (i, j)``, in one pass
over the rows of ``S``, with the class sum taken first::

    cross_p = sum_e S[e,i] S[e,j] sum_k cw[e,k] AA[g_e,k,p]        AA[g,k,p] = A[g,k,i] A[g,k,j]

``AA`` (G x K x pairs) is built once per call; a row costs ``K + 1`` multiply-adds per pair. Nothing of size
E x K x n is built (numpy: ``E K n`` floats per group and a matrix product).

**Determinism.** Every cell sums in a fixed order: rows in :data:`market.kernel_passes.N_CHUNKS` fixed blocks of
consecutive enterprises, within a block enterprise by enterprise (each row's class sum in class order), each
block into its own partial, and the partials added in block order. The result is the same bits at any number of
numba threads (the number of threads only sets how many block partials are held at once).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

from market import kernel_passes
from market.kernel_passes import CACHE

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@njit(parallel=True, cache=CACHE)
def _cross_pass(shares: FloatArray, group: IntArray, pair_eligible: FloatArray, class_weight: FloatArray,
                first: IntArray, second: IntArray, bounds: IntArray,
                width: int) -> FloatArray:  # pragma: no cover - compiled
    """``cross_p = sum_e S[e,first_p] S[e,second_p] sum_k cw[e,k] pair_eligible[g_e,k,p]`` for the pairs ``p``
    (module docstring), over the row blocks ``bounds``, ``width`` blocks at a time (the partials are still added
    in block order, so ``width`` changes the memory, not the result)."""
    n_pairs = len(first)
    n_blocks = len(bounds) - 1
    width = max(1, min(width, n_blocks))
    partial = np.zeros((width, n_pairs))
    out = np.zeros(n_pairs)
    for start in range(0, n_blocks, width):
        stop = min(start + width, n_blocks)
        for w in prange(stop - start):
            _block_cross(shares, group, pair_eligible, class_weight, first, second, bounds[start + w],
                         bounds[start + w + 1], partial[w])
        for w in range(stop - start):
            for p in range(n_pairs):
                out[p] += partial[w, p]
    return out


@njit(cache=CACHE)
def _block_cross(shares: FloatArray, group: IntArray, pair_eligible: FloatArray, class_weight: FloatArray,
                 first: IntArray, second: IntArray, begin: int, end: int,
                 partial: FloatArray) -> None:  # pragma: no cover - compiled
    """The pairs' sums over the rows ``begin..end - 1`` in row order (each row's class sum in class order) into
    ``partial`` (zeroed first)."""
    n_classes = pair_eligible.shape[1]
    n_pairs = len(first)
    partial[:] = 0.0
    pair_weight = np.empty(n_pairs)
    for e in range(begin, end):
        g = group[e]
        pair_weight[:] = 0.0
        for k in range(n_classes):
            w = class_weight[e, k]
            for p in range(n_pairs):
                pair_weight[p] += w * pair_eligible[g, k, p]
        for p in range(n_pairs):
            partial[p] += pair_weight[p] * (shares[e, first[p]] * shares[e, second[p]])


@kernel_passes.threaded
def group_cross(shares: FloatArray, group: IntArray, eligible: FloatArray, class_weight: FloatArray,
                groups: list[IntArray]) -> list[FloatArray]:
    """The cross matrices ``cross_ij`` (module docstring) of ``groups``, zero diagonal.

    Args:
        shares: Single-class logit shares ``S`` (E x O).
        group: Routing group ``g_e`` of each enterprise (E).
        eligible: ``A`` as 0/1 (G x K x O).
        class_weight: ``cw[e,k] = (b_e / mu) V[e,k] / den[e,k]^2`` (E x K), 0 where the class has no option.
        groups: Offer indices of each group.

    Returns:
        One ``n x n`` matrix per group, in the order of ``groups``.
    """
    upper = [np.triu_indices(len(idx), 1) for idx in groups]
    first = np.concatenate([np.asarray(idx, dtype=np.int64)[i] for idx, (i, _) in zip(groups, upper, strict=True)]
                           + [np.zeros(0, dtype=np.int64)])
    second = np.concatenate([np.asarray(idx, dtype=np.int64)[j] for idx, (_, j) in zip(groups, upper, strict=True)]
                            + [np.zeros(0, dtype=np.int64)])
    eligible = np.asarray(eligible, dtype=np.float64)
    pair_eligible = np.ascontiguousarray(eligible[:, :, first] * eligible[:, :, second])  # G x K x pairs
    sums = _cross_pass(np.ascontiguousarray(shares, dtype=np.float64), np.ascontiguousarray(group, dtype=np.int64),
                       pair_eligible, np.ascontiguousarray(class_weight, dtype=np.float64), first, second,
                       kernel_passes._chunks(shares.shape[0]), numba.get_num_threads())
    out, offset = [], 0
    for idx, (i, j) in zip(groups, upper, strict=True):
        cross = np.zeros((len(idx), len(idx)))
        cross[i, j] = cross[j, i] = sums[offset:offset + len(i)]
        out.append(cross)
        offset += len(i)
    return out
