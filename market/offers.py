"""This step's offers and what buyers and pricing read off them. Pure functions on arrays.

An offer is one (provider, region, tier) a provider serves with capacity this step; :class:`OfferBook` holds
them as parallel arrays, in the order providers post them. A provider's offers in one region share its GPUs
(one capacity pool per (provider, region), ``market.clearing.CapacityPools``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def _unset_ints() -> IntArray:
    return np.zeros(0, dtype=np.int64)


def _unset_floats() -> FloatArray:
    return np.zeros(0)


@dataclass(frozen=True)
class OfferBook:
    """This step's offers: one per (active provider, region it serves with capacity), then the routers' offers.

    Attributes:
        holder: Holder id of the provider.
        region: Region id it serves.
        kind: Provider kind id (index into ``PROVIDER_KIND_NAMES``).
        owner: Holder id of the provider's ultimate owner.
        quality: Capability index served.
        price: Posted price, $/Mtok.
        unit_cost: Full cost per Mtok at the provider's cost-basis utilization, $/Mtok.
        capacity: Tokens it can serve this month, Mtok.
        variable_cost: Cost per Mtok served beyond the fleet's fixed monthly costs, $/Mtok.
        privacy_risk, lock_in, unverified, reliability: The provider's characteristics buyers value.
        tier: Tier id (index into the scenario's tiers; 0 for the implicit tier).
        pool: Capacity pool id, one per (provider, region), numbered in order of first appearance.
        capacity_weight: Capacity units one Mtok of the offer uses (1 / the tier's throughput multiplier).
        latency_ms: Serving latency, ms: tier base plus queueing at the pool's last-month utilization.
        via: Index of the underlying offer for a resold offer; -1 for a provider's own offer.

    ``capacity`` is the pool's capacity in capacity units, repeated on each offer of the pool. The five tier
    fields default to one tier, one pool per offer, weight 1, no latency and no reseller (today's market).
    """

    holder: IntArray
    region: IntArray
    kind: IntArray
    owner: IntArray
    quality: FloatArray
    price: FloatArray
    unit_cost: FloatArray
    capacity: FloatArray
    variable_cost: FloatArray
    privacy_risk: FloatArray
    lock_in: FloatArray
    unverified: FloatArray
    reliability: FloatArray
    tier: IntArray = field(default_factory=_unset_ints)
    pool: IntArray = field(default_factory=_unset_ints)
    capacity_weight: FloatArray = field(default_factory=_unset_floats)
    latency_ms: FloatArray = field(default_factory=_unset_floats)
    via: IntArray = field(default_factory=_unset_ints)

    def __post_init__(self) -> None:
        n = len(self.holder)
        defaults = {"tier": np.zeros(n, dtype=np.int64), "pool": np.arange(n, dtype=np.int64),
                    "capacity_weight": np.ones(n), "latency_ms": np.zeros(n), "via": np.full(n, -1, dtype=np.int64)}
        for name, default in defaults.items():
            if len(getattr(self, name)) != n:
                object.__setattr__(self, name, default)

    def __len__(self) -> int:
        return len(self.holder)

    @property
    def n_pools(self) -> int:
        """Number of capacity pools."""
        return int(self.pool.max()) + 1 if len(self.pool) else 0

    def pool_capacity(self) -> FloatArray:
        """Capacity per pool, capacity units (P)."""
        out = np.zeros(self.n_pools)
        out[self.pool] = self.capacity
        return out

    def capacity_share(self) -> FloatArray:
        """Each offer's even share of its pool's capacity, capacity units (O): sums to the pool capacity, so
        totals over offers count every pool once."""
        count = np.bincount(self.pool, minlength=self.n_pools).astype(np.float64)
        return self.capacity / count[self.pool]

    @classmethod
    def empty(cls) -> OfferBook:
        """No offers (before the first step)."""
        ints, floats = np.zeros(0, dtype=np.int64), np.zeros(0)
        return cls(holder=ints, region=ints.copy(), kind=ints.copy(), owner=ints.copy(), quality=floats.copy(),
                   price=floats.copy(), unit_cost=floats.copy(), capacity=floats.copy(), variable_cost=floats.copy(),
                   privacy_risk=floats.copy(), lock_in=floats.copy(), unverified=floats.copy(),
                   reliability=floats.copy())


def incumbent_offer_index(offer_holder: IntArray, offer_region: IntArray, incumbent_provider: IntArray,
                          incumbent_region: IntArray, n_regions: int) -> IntArray:
    """Index in the offer list of each enterprise's main provider's offer in the same region (its first, when it
    posts several tiers there), or -1 (none, or that provider posts no offer there this step)."""
    key = offer_holder * n_regions + offer_region
    order = np.argsort(key, kind="stable")
    sorted_keys = key[order]
    want = incumbent_provider * n_regions + incumbent_region
    pos = np.clip(np.searchsorted(sorted_keys, want), 0, max(len(key) - 1, 0))
    found = (incumbent_provider >= 0) & (len(key) > 0)
    if len(key):
        found &= sorted_keys[pos] == want
    return np.where(found, order[pos] if len(key) else -1, -1)


def rival_prices(price: FloatArray, demand: FloatArray, owner: IntArray, region: IntArray) -> FloatArray:
    """Per offer, the demand-weighted mean price of other owners' offers in its region, $/Mtok:

    ``rival_o = (sum_{k in r, owner_k != owner_o} d_k p_k) / (sum_{k in r, owner_k != owner_o} d_k)``,
    the plain mean of those prices where their demand sums to zero, and NaN where the region has no other
    owner's offer.
    """
    if len(price) == 0:
        return np.zeros(0)
    n_regions = int(region.max()) + 1
    _, group = np.unique(owner * n_regions + region, return_inverse=True)

    def rivals(values: FloatArray) -> FloatArray:
        in_region = np.asarray(np.bincount(region, weights=values, minlength=n_regions), dtype=np.float64)[region]
        return in_region - np.asarray(np.bincount(group, weights=values), dtype=np.float64)[group]

    count, rival_demand = rivals(np.ones(len(price))), rivals(demand)
    spend, price_sum = rivals(demand * price), rivals(price)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(rival_demand > 0, spend / rival_demand, price_sum / count)
    return np.where(count > 0.5, mean, np.nan)


def region_prices(price: FloatArray, demand: FloatArray, region: IntArray) -> FloatArray:
    """Per region id, ``(sum_{o in r} d_o p_o) / (sum_{o in r} d_o)``, $/Mtok: the plain mean price where the
    region's demand sums to zero, NaN where it has no offer."""
    if len(price) == 0:
        return np.zeros(0)
    n = int(region.max()) + 1
    count = np.bincount(region, minlength=n).astype(np.float64)
    weight = np.bincount(region, weights=demand, minlength=n)
    spend = np.bincount(region, weights=demand * price, minlength=n)
    total = np.bincount(region, weights=price, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(weight > 0, spend / weight, total / count)
    return np.where(count > 0, mean, np.nan)
