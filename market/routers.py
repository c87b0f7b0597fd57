"""Routers (orchestration layers): the offers they post, the capacity they share, the pass-through of their
sales and their customers' switching costs. Pure functions on arrays.

Routing. A router ``k`` routes to the provider offers it deems eligible: own offers of providers
(``via_o = -1``) of its kinds ``K_k`` with quality at least its threshold (``min_quality_k`` x frontier). In each
(region ``r``, tier ``t``) where one is eligible it posts one offer ``j`` routed to the cheapest of them::

    u(k, r, t) = argmin { p_o : region_o = r, tier_o = t, kind_o in K_k, via_o = -1, q_o >= qmin_k }
    p_j = p_u + fee_j,        fee_j = m_k p_u                (m_k: its fee fraction, a pricing strategy)

(ties: the first offer in book order). Row ``j`` of the offer book has holder and owner ``k``, ``via_j = u``, and
copies region, kind, quality, capacity, costs and the characteristics buyers value from ``u``.

Capacity. A router's offer serves tokens from its underlying provider's GPUs, so it shares the pool of ``u``:
``x_u + sum_{j: via_j = u} x_j <= C_u`` (``market.clearing.CapacityPools``).

Settlement of ``x_j`` Mtok sold through router offer ``j`` (buyers pay the router, the router pays the provider)::

    router revenue       R_k = sum_{j of k} p_j x_j
    router cost          C_k = sum_{j of k} p_{via_j} x_j          (router profit R_k - C_k = sum fee_j x_j)
    provider h, through routers: revenue sum_{j: holder_{via_j} = h} p_{via_j} x_j, tokens sum x_j, and its
                                 variable cost c_{via_j} x_j

so buyers' spend = providers' direct revenue + routers' revenue, and routers' cost = providers' revenue through
routers.

Switching costs (multi-homing). A buyer whose main offer is router offer ``j`` pays no switching cost to stay
with it, ``phi_k s_e`` to move to a provider offer behind it (eligible for ``k`` in region_j), and ``s_e`` to
move anywhere else: ``U[e, o] += (1 - phi_k) s_e`` for ``o`` behind ``j``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
from numpy.typing import NDArray

from market.clearing import CapacityPools
from market.offers import OfferBook

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def eligible_offers(offers: OfferBook, kinds: IntArray, min_quality: float | FloatArray) -> BoolArray:
    """Offers a router may route to: providers' own offers (``via = -1``) of one of ``kinds`` (kind ids) with
    quality at least ``min_quality`` (absolute, the router's fraction times the frontier; per offer or one value)."""
    return (offers.via < 0) & np.isin(offers.kind, kinds) & (offers.quality >= min_quality - 1e-12)


def cheapest_eligible(price: FloatArray, region: IntArray, tier: IntArray, eligible: BoolArray, n_regions: int,
                      n_tiers: int = 1) -> IntArray:
    """Per (region, tier), the index of the cheapest eligible offer of that region and tier (first in order on
    ties), or -1 where none is eligible.

    Args:
        price: Offer prices, $/Mtok (O).
        region, tier: Each offer's region and tier ids (O); a market without tiers passes zeros.
        eligible: Which offers may be chosen (:func:`eligible_offers`, O).
        n_regions, n_tiers: Sizes of the result.

    Returns:
        Integer array (n_regions, n_tiers).
    """
    out = np.full(n_regions * n_tiers, -1, dtype=np.int64)
    candidates = np.nonzero(eligible)[0]
    if candidates.size:
        key = region[candidates] * n_tiers + tier[candidates]
        order = np.lexsort((candidates, price[candidates], key))  # by key, then price, then book order
        ranked_key = key[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = ranked_key[1:] != ranked_key[:-1]
        out[ranked_key[first]] = candidates[order[first]]
    return out.reshape(n_regions, n_tiers)


def with_router_offers(offers: OfferBook, holder: IntArray, via: IntArray, fee: FloatArray) -> OfferBook:
    """``offers`` followed by one row per router offer: holder and owner ``holder``, ``via``, price
    ``p_via + fee`` ($/Mtok), every other column copied from the offer at ``via``."""
    via = np.asarray(via, dtype=np.int64)
    if via.size == 0:
        return offers
    own = {"holder", "owner", "via", "price"}
    copied = {f.name: np.concatenate([getattr(offers, f.name), getattr(offers, f.name)[via]])
              for f in fields(OfferBook) if f.name not in own}
    holder = np.asarray(holder, dtype=np.int64)
    return OfferBook(**copied, holder=np.concatenate([offers.holder, holder]),
                     owner=np.concatenate([offers.owner, holder]), via=np.concatenate([offers.via, via]),
                     price=np.concatenate([offers.price, offers.price[via] + np.asarray(fee, dtype=np.float64)]))


def capacity_pools(offers: OfferBook) -> CapacityPools:
    """The offers' capacity pools: a router offer carries the pool, weight and capacity of the offer it routes to
    (:func:`with_router_offers` copies them), so it draws on that provider's GPUs."""
    return CapacityPools(pool=offers.pool, weight=offers.capacity_weight, capacity=offers.pool_capacity())


def serving_holder(offers: OfferBook) -> IntArray:
    """The holder whose GPUs serve each offer: its own holder, or for a router's offer the holder of the
    offer it routes to."""
    return np.where(offers.via < 0, offers.holder, offers.holder[np.maximum(offers.via, 0)])


def routed_values(own: FloatArray, via: IntArray) -> FloatArray:
    """Per-offer values from the providers' offers' ``own`` values (the first ``len(own)`` rows of the book): a
    router offer takes the value of the offer it routes to."""
    routed = via[len(own):]
    return np.concatenate([own, own[routed]]) if routed.size else own


def provider_level(offers: OfferBook) -> tuple[FloatArray, IntArray]:
    """Per offer, the factor that turns buyers' revenue into the revenue of the provider serving it
    (``p_via / p_j`` for a router offer, 1 otherwise) and that provider's holder id (:func:`serving_holder`):
    sales measured at the provider level, as merger control measures shares."""
    u = np.maximum(offers.via, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(offers.via >= 0, offers.price[u] / offers.price, 1.0)
    return np.nan_to_num(factor, nan=0.0, posinf=0.0), serving_holder(offers)


def attributed_to_providers(values: FloatArray, via: IntArray) -> FloatArray:
    """Per-offer ``values`` with each router offer's value added to the offer it routes to:
    ``v'_o = v_o + sum_{j: via_j = o} v_j`` (router rows keep their own value)."""
    out = np.array(values, dtype=np.float64, copy=True)
    routed = np.nonzero(via >= 0)[0]
    if routed.size:
        np.add.at(out, via[routed], out[routed])
    return out


@dataclass(frozen=True)
class PassThrough:
    """One month's sales through routers, per holder id ($; tokens in Mtok; zero for holders not involved).

    Attributes:
        router_revenue: ``R_k``, what buyers paid router ``k``.
        router_cost: ``C_k``, what router ``k`` paid providers.
        provider_revenue: What routers paid provider ``h`` for tokens it served through them.
        provider_served: Tokens provider ``h`` served through routers.
        provider_served_units: Those tokens in capacity units (each at the weight of the offer it is routed to).
        provider_variable_cost: Variable cost of those tokens to provider ``h``.
    """

    router_revenue: FloatArray
    router_cost: FloatArray
    provider_revenue: FloatArray
    provider_served: FloatArray
    provider_served_units: FloatArray
    provider_variable_cost: FloatArray

    @classmethod
    def zeros(cls, n_holders: int) -> PassThrough:
        """No router sales."""
        return cls(**{f.name: np.zeros(n_holders) for f in fields(cls)})


def pass_through(offers: OfferBook, served: FloatArray, n_holders: int) -> PassThrough:
    """The router accounts of the month (equations in the module docstring) from tokens served per offer."""
    routed = np.nonzero(offers.via >= 0)[0]
    if routed.size == 0:
        return PassThrough.zeros(n_holders)
    u, x = offers.via[routed], np.asarray(served, dtype=np.float64)[routed]
    router, provider = offers.holder[routed], offers.holder[u]

    def per(holder: IntArray, weights: FloatArray) -> FloatArray:
        return np.asarray(np.bincount(holder, weights=weights, minlength=n_holders), dtype=np.float64)

    paid = offers.price[u] * x
    return PassThrough(router_revenue=per(router, offers.price[routed] * x), router_cost=per(router, paid),
                       provider_revenue=per(provider, paid), provider_served=per(provider, x),
                       provider_served_units=per(provider, x * offers.capacity_weight[u]),
                       provider_variable_cost=per(provider, offers.variable_cost[u] * x))


def behind_router_offers(offers: OfferBook, eligible_by_holder: dict[int, BoolArray]) -> BoolArray:
    """(O x O) ``behind[j, o]``: ``j`` is a router offer and ``o`` an offer its router routes to in ``j``'s region
    (``eligible_by_holder``: each router's eligible mask over the offers)."""
    n = len(offers)
    behind = np.zeros((n, n), dtype=bool)
    for j in np.nonzero(offers.via >= 0)[0]:
        behind[j] = eligible_by_holder[int(offers.holder[j])] & (offers.region == offers.region[j])
    return behind


def multi_homing_relief(utility: FloatArray, incumbent_offer: IntArray, switching_cost: FloatArray,
                        factor: FloatArray, behind: BoolArray) -> FloatArray:
    """Utilities with the switching-cost relief of router customers: ``U[e, o] += (1 - phi_j) s_e`` for ``o``
    behind the router offer ``j`` that is ``e``'s main offer (``factor``: ``phi`` per offer, used for router
    offers; ``behind``: :func:`behind_router_offers`). Modifies ``utility`` in place and returns it."""
    if behind.size == 0 or not behind.any():
        return utility
    rows = np.nonzero(incumbent_offer >= 0)[0]
    rows = rows[behind[incumbent_offer[rows]].any(axis=1)]
    if rows.size:
        j = incumbent_offer[rows]
        relief = ((1.0 - factor[j]) * switching_cost[rows])[:, None] * behind[j]
        utility[rows] += relief
    return utility


def provider_attributed_revenue(offers: OfferBook, revenue: FloatArray, served: FloatArray
                                ) -> tuple[FloatArray, IntArray]:
    """Revenue per offer as providers earn it, and the owner it counts for: a router offer's tokens at the
    underlying price, owned by the underlying offer's owner (provider-level concentration)."""
    routed = offers.via >= 0
    u = np.maximum(offers.via, 0)
    return (np.where(routed, offers.price[u] * served, revenue), np.where(routed, offers.owner[u], offers.owner))


def without_router_offers(offers: OfferBook) -> OfferBook:
    """The providers' own offers only (the rows with ``via = -1``, in order)."""
    keep = offers.via < 0
    if keep.all():
        return offers
    return replace(offers, **{f.name: getattr(offers, f.name)[keep] for f in fields(OfferBook)})
