"""Compiled row passes outside the clearing (numba): the multi-homing count and the enterprises' utilities.

Each pass reads a row of an enterprises x offers matrix once and keeps its per-row work in a few registers or
a row-sized buffer, so no E x O (or E x models) temporary is built. Rows are independent and each sums over
offers in offer order, so the results are the same bits at any number of numba threads; they agree with the
numpy references (``market.metrics.multihoming_shares_reference``, ``market.demand.choice_utilities_reference``)
to rounding, tested to 1e-12 relative (the utilities are the reference's bits where BLAS sums as described in
:func:`utility_pass`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

from market.kernel_passes import CACHE, N_CHUNKS

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@njit(cache=CACHE)
def _at_least(used: FloatArray, k: int, dist: FloatArray) -> float:  # pragma: no cover - compiled
    """``P(N >= k)`` for independent events of probabilities ``used`` (Poisson binomial), by the recursion
    ``P_j(c) = P_{j-1}(c) (1 - p_j) + P_{j-1}(c-1) p_j`` with the counts ``c >= k`` kept in cell ``k``
    (``dist``: a buffer of ``k + 1`` cells)."""
    if k <= 0:
        return 1.0
    dist[0] = 1.0
    for c in range(1, k + 1):
        dist[c] = 0.0
    for j in range(len(used)):
        p = used[j]
        if p == 0.0:  # an event that never happens leaves the distribution as it is (exactly)
            continue
        q = 1.0 - p
        top = (dist[k] * q + dist[k - 1] * p) + dist[k] * p  # the reference's order
        for c in range(k - 1, 0, -1):
            dist[c] = dist[c] * q + dist[c - 1] * p
        dist[0] = dist[0] * q
        dist[k] = top
    return dist[k]


@njit(parallel=True, cache=CACHE)
def multihoming_pass(allocation: FloatArray, model: IntArray, family_of_model: IntArray, n_families: int,
                     workloads: float, k_models: int,
                     k_families: int) -> tuple[FloatArray, FloatArray, FloatArray]:  # pragma: no cover - compiled
    """Per enterprise: tokens served ``sum_o A[e,o]``, ``P(models used >= k_models)`` and ``P(families used >=
    k_families)``, with ``P(m used) = 1 - exp(-n a[e,m])``, ``a[e,m] = sum_{o of m} A[e,o] / sum_o A[e,o]``
    (``market.metrics.use_probabilities``) and a family's share the sum of its models'; both probabilities 0
    where the row is served nothing. ``model`` gives each offer's model (``0..M - 1``), ``family_of_model`` each
    model's family (``0..n_families - 1``); when every family has one model (``n_families == M``) a family's
    probability is its model's, and ``expm1`` is taken once."""
    n_ent, n_offers = allocation.shape
    n_models = len(family_of_model)
    one_each = n_families == n_models
    served = np.empty(n_ent)
    models_at_least = np.zeros(n_ent)
    families_at_least = np.zeros(n_ent)
    bounds = np.linspace(0, n_ent, N_CHUNKS + 1).astype(np.int64)  # buffers per block of rows, not per row
    for chunk in prange(N_CHUNKS):
        by_model = np.empty(n_models)
        by_family = np.empty(n_families)
        dist = np.empty(max(k_models, k_families) + 1)
        for e in range(bounds[chunk], bounds[chunk + 1]):
            by_model[:] = 0.0
            by_family[:] = 0.0
            for o in range(n_offers):
                by_model[model[o]] += allocation[e, o]
            total = 0.0
            for m in range(n_models):
                total += by_model[m]
            served[e] = total
            if total <= 0.0:
                continue
            if not one_each:
                for m in range(n_models):
                    by_family[family_of_model[m]] += by_model[m]
            for m in range(n_models):
                if by_model[m] > 0.0:
                    by_model[m] = -np.expm1(-workloads * (by_model[m] / total))
            if one_each:
                for m in range(n_models):
                    by_family[family_of_model[m]] = by_model[m]
            else:
                for f in range(n_families):
                    if by_family[f] > 0.0:
                        by_family[f] = -np.expm1(-workloads * (by_family[f] / total))
            models_at_least[e] = _at_least(by_model, k_models, dist)
            families_at_least[e] = _at_least(by_family, k_families, dist)
    return served, models_at_least, families_at_least


@njit(parallel=True, cache=CACHE, fastmath={"contract"})
def utility_pass(features: FloatArray, loadings: FloatArray, choice_class: IntArray, class_penalty: FloatArray,
                 incumbent_offer: IntArray, switching_cost: FloatArray, offer_quality: FloatArray,
                 quality_threshold: FloatArray, excluded: float,
                 out: FloatArray) -> None:  # pragma: no cover - compiled
    """``out[e,o] = sum_j features[e,j] loadings[j,o] + class_penalty[class_e, o]``, plus ``switching_cost[e]`` on
    the incumbent offer, and ``excluded`` where ``offer_quality[o] < quality_threshold[e]``
    (``market.demand.choice_utilities``; ``-inf`` thresholds exclude nothing).

    The sum is a chain of fused multiply-adds over ``j`` in order (``fastmath={"contract"}``) and then the class
    penalty, which is how OpenBLAS's double-precision kernel computes the reference's product of the features
    (the 8 here, then the one-hot class columns) with the loadings for inner dimensions below its blocking
    size: on x86-64 with FMA the utilities come out bit for bit as the reference's, so the simulation's
    results do not move (tests compare to 1e-12 relative, which holds wherever the BLAS differs)."""
    n_ent, n_offers = out.shape
    n_features = features.shape[1]
    for e in prange(n_ent):
        c = choice_class[e]
        for o in range(n_offers):
            acc = 0.0
            for j in range(n_features):
                acc = acc + features[e, j] * loadings[j, o]
            out[e, o] = acc + class_penalty[c, o]
        if incumbent_offer[e] >= 0:
            out[e, incumbent_offer[e]] += switching_cost[e]
        threshold = quality_threshold[e]
        for o in range(n_offers):
            if offer_quality[o] < threshold:
                out[e, o] = excluded
