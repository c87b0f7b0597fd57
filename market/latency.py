"""Latency of an offer: network latency between buyer and serving region, and serving latency that rises
with the load of the provider's capacity pool. Pure functions on arrays.

**Serving latency (Kingman's approximation for the batching queue).** A pool (one provider's GPUs in one
region) serves requests of mean service time ``tau`` (the tier's base latency, its serving time at zero load)
at utilization ``rho``. Kingman's (1961) heavy-traffic approximation of the mean wait in a G/G/1 queue is::

    W_q = tau * rho / (1 - rho) * (ca^2 + cs^2) / 2

with ``ca``, ``cs`` the coefficients of variation of inter-arrival and service times. It is exact for M/M/1
(``ca = cs = 1``: ``W_q = rho / (mu - lambda)``) and for M/D/1 (``ca = 1, cs = 0``: the Pollaczek-Khinchine
wait ``rho tau / (2 (1 - rho))``). An offer's serving latency is::

    latency_ms = base_latency_ms + W_q(rho_pool, tau = base_latency_ms),    rho clipped at max_utilization

``rho_pool`` being last month's utilization of its pool (capacity units served over capacity), so latency lags
load by a month, as a provider sees its queues before it prices. Batching more work on a GPU (higher ``rho``)
makes each token cheaper and each response slower.

**Network latency.** ``local_ms[r]`` when the offer is served in the buyer's region ``r``, ``remote_ms[r]``
otherwise. Its utility cost is the region's ``latency_penalty`` (``market.demand``), so it is not counted twice.

**Utility.** A buyer of segment ``s`` loses ``latency_weight_per_s[s] * latency_ms / 1000`` utility per offer.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def kingman_wait(utilization: FloatArray | float, service_time: FloatArray | float, arrival_cv: float = 1.0,
                 service_cv: float = 1.0, max_utilization: float = 0.95) -> FloatArray:
    """Kingman's mean queueing wait ``W_q = tau rho / (1 - rho) (ca^2 + cs^2) / 2`` (same unit as ``tau``).

    Args:
        utilization: ``rho`` >= 0, clipped at ``max_utilization`` (the formula diverges at 1).
        service_time: Mean service time ``tau`` >= 0.
        arrival_cv, service_cv: ``ca``, ``cs`` >= 0.
        max_utilization: Largest utilization evaluated, in (0, 1).
    """
    if not 0.0 < max_utilization < 1.0:
        raise ValueError(f"max_utilization must be in (0, 1), got {max_utilization}")
    if arrival_cv < 0 or service_cv < 0:
        raise ValueError(f"coefficients of variation must be >= 0, got ca={arrival_cv}, cs={service_cv}")
    rho = np.clip(np.nan_to_num(np.asarray(utilization, dtype=np.float64), nan=0.0), 0.0, max_utilization)
    tau = np.asarray(service_time, dtype=np.float64)
    return np.asarray(tau * rho / (1.0 - rho) * 0.5 * (arrival_cv ** 2 + service_cv ** 2), dtype=np.float64)


def serving_latency_ms(base_latency_ms: FloatArray, utilization: FloatArray, arrival_cv: float = 1.0,
                       service_cv: float = 1.0, max_utilization: float = 0.95) -> FloatArray:
    """``base + W_q(rho, tau = base)`` per offer, ms (see the module docstring)."""
    base = np.asarray(base_latency_ms, dtype=np.float64)
    return base + kingman_wait(utilization, base, arrival_cv, service_cv, max_utilization)


def network_latency_ms(buyer_region: IntArray, offer_region: IntArray, local: FloatArray, remote: FloatArray
                       ) -> FloatArray:
    """Network latency (R, O), ms: ``local[b]`` where offer ``o`` is served in buyer region ``b``, else
    ``remote[b]`` (``local`` and ``remote`` indexed by region id, ``buyer_region`` the rows' region ids)."""
    buyer = np.asarray(buyer_region, dtype=np.int64)
    same = buyer[:, None] == np.asarray(offer_region, dtype=np.int64)[None, :]
    return np.where(same, np.asarray(local, dtype=np.float64)[buyer][:, None],
                    np.asarray(remote, dtype=np.float64)[buyer][:, None])


def pool_utilization(served: FloatArray, capacity_weight: FloatArray, pool: IntArray, pool_capacity: FloatArray
                     ) -> FloatArray:
    """Utilization per pool: ``sum_{o in p} w_o served_o / C_p`` (capacity units over capacity units; 0 where
    the capacity is zero or infinite)."""
    load = np.bincount(pool, weights=np.asarray(served) * np.asarray(capacity_weight), minlength=len(pool_capacity))
    usable = np.isfinite(pool_capacity) & (pool_capacity > 0)
    return np.where(usable, load / np.where(usable, pool_capacity, 1.0), 0.0)


def latency_disutility(latency_weight_per_s: FloatArray, latency_ms: FloatArray) -> FloatArray:
    """Utility each segment loses on each offer (S, O): ``weight_s * latency_o / 1000``."""
    return np.asarray(latency_weight_per_s, dtype=np.float64)[:, None] * (np.asarray(latency_ms) / 1000.0)[None, :]
