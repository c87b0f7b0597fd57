"""Enterprise demand: choice utilities over all enterprises x offers, and price-elastic volume.

The utility of enterprise ``e`` for offer ``o`` is (DESIGN.md 3.3)::

    U[e, o] = w_q[e] * qterm(q[o]) - b[e] * pterm(p[o])
              - privacy_sensitivity[e] * privacy_risk[o] - lockin_aversion[e] * lock_in[o]
              - trust_weight[e] * unverified[o] - reliability_weight[e] * (1 - reliability[o])
              - switching_cost[e] * (o is not e's incumbent offer)
              + class_penalty[class[e], o] + shock[o]

where ``qterm``/``pterm`` are the identity (``linear``) or the natural log (``log``), and ``class_penalty``
holds, per choice class (segment x region x residency-bound), the latency penalty for cross-region service
and :data:`EXCLUDED` for offers the class may not use (data residency, quality floor). The logit noise is
integrated out by the multinomial logit in :mod:`market.clearing`.

The utilities are computed in one compiled pass over the rows (``market.row_passes.utility_pass``: each row
written once, no E x K feature temporaries); ``choice_utilities_reference`` is the same as one matrix product of
an (E x K) feature matrix with a (K x O) loading matrix plus one scatter for incumbents, the reference it is
tested against.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from market.config import OutsideOptionConfig
from market.kernel_passes import threaded
from market.row_passes import utility_pass
from market.technology import GenerationTable, power_cost_per_gpu_month, tokens_per_gpu_month

_utility_pass = threaded(utility_pass)
"""``utility_pass`` with the kernel's thread count (``market.kernel_passes.THREADS``)."""

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

EXCLUDED: float = -1e30
"""Utility of an offer an enterprise may not use; its logit weight is exactly zero."""


def utility_transform(x: FloatArray, form: str) -> FloatArray:
    """The quality/price transform: identity for ``linear``, natural log for ``log``."""
    if form == "linear":
        return np.asarray(x, dtype=np.float64)
    if form == "log":
        return np.log(np.maximum(np.asarray(x, dtype=np.float64), 1e-300))
    raise ValueError(f"unknown utility form '{form}' (choose 'linear' or 'log')")


def price_term_derivative(price: FloatArray, form: str) -> FloatArray:
    """d pterm(p) / dp: 1 for ``linear``, 1/p for ``log``."""
    if form == "linear":
        return np.ones_like(np.asarray(price, dtype=np.float64))
    if form == "log":
        return 1.0 / np.maximum(np.asarray(price, dtype=np.float64), 1e-300)
    raise ValueError(f"unknown utility form '{form}' (choose 'linear' or 'log')")


def choice_class_penalties(
    *,
    n_segments: int,
    region_latency_penalty: FloatArray,
    segment_quality_floor: FloatArray,
    frontier_quality: float,
    offer_region: IntArray,
    offer_quality: FloatArray,
) -> FloatArray:
    """Penalty table (classes x offers) for latency, residency and quality-floor exclusions.

    The class of an enterprise is ``(segment * n_regions + region) * 2 + residency_bound``.

    Args:
        n_segments: Number of demand segments.
        region_latency_penalty: Per buyer region, utility penalty for an offer served from another region.
        segment_quality_floor: Per segment, minimum quality as a fraction of ``frontier_quality``.
        frontier_quality: Current frontier capability index.
        offer_region: Region index of each offer.
        offer_quality: Quality index of each offer.

    Returns:
        Array of shape (n_segments * n_regions * 2, n_offers).
    """
    n_regions = len(region_latency_penalty)
    n_offers = len(offer_region)
    table = np.zeros((n_segments, n_regions, 2, n_offers))
    foreign = offer_region[None, :] != np.arange(n_regions)[:, None]  # (R, O)
    table[:, :, 0, :] = -region_latency_penalty[:, None] * foreign
    table[:, :, 1, :] = np.where(foreign, EXCLUDED, 0.0)
    below_floor = offer_quality[None, :] < segment_quality_floor[:, None] * frontier_quality - 1e-12  # (S, O)
    table[below_floor[:, None, None, :].repeat(n_regions, 1).repeat(2, 2)] = EXCLUDED
    return table.reshape(n_segments * n_regions * 2, n_offers)


def choice_utilities(
    *,
    quality_weight: FloatArray,
    price_sensitivity: FloatArray,
    privacy_sensitivity: FloatArray,
    lockin_aversion: FloatArray,
    trust_weight: FloatArray,
    reliability_weight: FloatArray,
    switching_cost: FloatArray,
    choice_class: IntArray,
    incumbent_offer: IntArray,
    offer_quality: FloatArray,
    offer_price: FloatArray,
    offer_privacy_risk: FloatArray,
    offer_lock_in: FloatArray,
    offer_unverified: FloatArray,
    offer_reliability: FloatArray,
    class_penalty: FloatArray,
    form: str,
    offer_shock: FloatArray | None = None,
    quality_floor: FloatArray | None = None,
    frontier_quality: float = 1.0,
) -> FloatArray:
    """Utility of every enterprise for every offer (E x O), in one compiled pass over the rows
    (``market.row_passes.utility_pass``; :func:`choice_utilities_reference` is the same as a numpy matrix product).

    Per-enterprise arrays have length E, per-offer arrays length O; ``incumbent_offer`` is the offer index of
    each enterprise's current main provider in this step's offer list, or -1. See the module docstring for the
    equation. With ``quality_floor`` (E, fractions of ``frontier_quality``), offer ``o`` is :data:`EXCLUDED` for
    ``e`` when ``q_o < quality_floor_e * frontier_quality``.
    """
    n_ent = len(price_sensitivity)
    n_offers = len(offer_price)
    features = np.column_stack([quality_weight, -price_sensitivity, -privacy_sensitivity, -lockin_aversion,
                                -trust_weight, -reliability_weight, -switching_cost, np.ones(n_ent)])
    loadings = np.empty((8, n_offers))
    loadings[0] = utility_transform(offer_quality, form)
    loadings[1] = utility_transform(offer_price, form)
    loadings[2] = offer_privacy_risk
    loadings[3] = offer_lock_in
    loadings[4] = offer_unverified
    loadings[5] = 1.0 - offer_reliability
    loadings[6] = 1.0
    loadings[7] = 0.0 if offer_shock is None else offer_shock
    if quality_floor is not None:
        threshold = np.asarray(quality_floor, dtype=np.float64) * frontier_quality - 1e-12
    else:
        threshold = np.full(n_ent, -np.inf)
    utility = np.empty((n_ent, n_offers))
    _utility_pass(np.ascontiguousarray(features, dtype=np.float64), loadings,
                 np.asarray(choice_class, dtype=np.int64), np.ascontiguousarray(class_penalty, dtype=np.float64),
                 np.asarray(incumbent_offer, dtype=np.int64), np.asarray(switching_cost, dtype=np.float64),
                 np.asarray(offer_quality, dtype=np.float64), threshold, EXCLUDED, utility)
    return utility


def choice_utilities_reference(
    *,
    quality_weight: FloatArray,
    price_sensitivity: FloatArray,
    privacy_sensitivity: FloatArray,
    lockin_aversion: FloatArray,
    trust_weight: FloatArray,
    reliability_weight: FloatArray,
    switching_cost: FloatArray,
    choice_class: IntArray,
    incumbent_offer: IntArray,
    offer_quality: FloatArray,
    offer_price: FloatArray,
    offer_privacy_risk: FloatArray,
    offer_lock_in: FloatArray,
    offer_unverified: FloatArray,
    offer_reliability: FloatArray,
    class_penalty: FloatArray,
    form: str,
    offer_shock: FloatArray | None = None,
    quality_floor: FloatArray | None = None,
    frontier_quality: float = 1.0,
) -> FloatArray:
    """:func:`choice_utilities` as one numpy matrix product (E x K features by K x O loadings), a scatter for
    incumbents and a masked block for quality floors: the reference the compiled pass is tested against."""
    n_ent = len(price_sensitivity)
    n_offers = len(offer_price)
    n_classes = class_penalty.shape[0]
    n_fixed = 8
    features = np.zeros((n_ent, n_fixed + n_classes))
    features[:, 0] = quality_weight
    features[:, 1] = -price_sensitivity
    features[:, 2] = -privacy_sensitivity
    features[:, 3] = -lockin_aversion
    features[:, 4] = -trust_weight
    features[:, 5] = -reliability_weight
    features[:, 6] = -switching_cost
    features[:, 7] = 1.0
    features[np.arange(n_ent), n_fixed + choice_class] = 1.0

    loadings = np.empty((n_fixed + n_classes, n_offers))
    loadings[0] = utility_transform(offer_quality, form)
    loadings[1] = utility_transform(offer_price, form)
    loadings[2] = offer_privacy_risk
    loadings[3] = offer_lock_in
    loadings[4] = offer_unverified
    loadings[5] = 1.0 - offer_reliability
    loadings[6] = 1.0
    loadings[7] = 0.0 if offer_shock is None else offer_shock
    loadings[n_fixed:] = class_penalty
    utility = features @ loadings
    has_incumbent = incumbent_offer >= 0
    rows = np.nonzero(has_incumbent)[0]
    utility[rows, incumbent_offer[rows]] += switching_cost[rows]
    if quality_floor is not None and n_ent and n_offers:
        threshold = np.asarray(quality_floor, dtype=np.float64) * frontier_quality - 1e-12
        cols = np.nonzero(offer_quality < threshold.max())[0]
        if cols.size:
            block = utility[:, cols]
            block[offer_quality[cols][None, :] < threshold[:, None]] = EXCLUDED
            utility[:, cols] = block
    return utility


def quality_floors(mean: float, sd: float, n: int, rng: np.random.Generator) -> FloatArray:
    """Each of ``n`` agents' quality floor (fraction of the frontier): ``Beta(a, b)`` with mean ``mean`` and
    standard deviation ``sd``, ``a = mean k``, ``b = (1 - mean) k``, ``k = mean (1 - mean) / sd^2 - 1``; the
    constant ``mean`` when ``sd`` is 0 (no draw is taken from ``rng`` then).

    Raises:
        ValueError: ``sd > 0`` and no Beta distribution has this mean and spread.
    """
    if sd <= 0:
        return np.full(n, float(mean))
    k = mean * (1.0 - mean) / (sd * sd) - 1.0
    if not 0.0 < mean < 1.0 or k <= 0:
        raise ValueError(f"no Beta distribution has mean {mean} and standard deviation {sd}")
    return rng.beta(mean * k, (1.0 - mean) * k, n)


def effective_volume(
    base_volume: FloatArray, effective_price: FloatArray, reference_price: FloatArray, elasticity: FloatArray
) -> FloatArray:
    """Constant-elasticity token volume: ``base * (p_eff / p_ref) ** -elasticity`` (Mtok/month)."""
    ratio = np.maximum(effective_price, 1e-300) / reference_price
    return base_volume * np.power(ratio, -elasticity)


def self_hosting_cost(*, step: int, generations: GenerationTable, used_price_usd: FloatArray, power_price: FloatArray,
                      options: OutsideOptionConfig, efficiency_multiplier: float,
                      used_life_left: FloatArray | None = None) -> FloatArray:
    """Cost per Mtok of self-hosting open-weight models, by region, $/Mtok: the cheapest GPU on offer.

    For a released generation ``g`` bought used at ``premium * used_price_g`` over the remaining life
    ``L_g = max(used_life_left_g, 1)`` months of the lots on sale (without ``used_life_left``:
    ``max(lifetime_g - age_g, 1)``, a GPU built at its generation's release), or (the newest) new at list price
    over its lifetime::

        capital_g   = min(premium * used_price_g / L_g, list_price_newest / lifetime_newest)  ($/GPU-month)
        cost[r]     = min_g (capital_g + power_kw_g * pue * 730.5 h * power_price_r + opex) / tokens_g
        tokens_g    = tokens_per_gpu_month(throughput_g, efficiency * multiplier) * utilization  (Mtok/month)

    with premium, pue, opex, efficiency and utilization from ``options`` (the ``self_host_*`` settings);
    ``used_price_usd`` is NaN for generations no reseller has in stock.

    Raises:
        ValueError: No generation is released yet.
    """
    gens = generations
    released = gens.release_step <= step
    by_release = np.maximum(gens.lifetime_months - np.maximum(step - gens.release_step, 0), 1).astype(float)
    life_left = by_release if used_life_left is None else np.maximum(
        np.where(np.isnan(used_life_left), by_release, used_life_left), 1.0)
    price = np.where(np.isnan(used_price_usd), np.inf, used_price_usd * options.self_host_gpu_premium)
    capital = np.where(released, price / life_left, np.inf)
    newest = gens.newest(step)
    if newest >= 0:
        capital[newest] = min(capital[newest], gens.list_price_usd[newest] / gens.lifetime_months[newest])
    tokens = (tokens_per_gpu_month(gens.throughput_tokens_per_s, options.self_host_efficiency * efficiency_multiplier)
              * options.self_host_utilization)
    power = power_cost_per_gpu_month(gens.power_kw[None, :], power_price[:, None], options.self_host_pue)
    per_mtok = (capital[None, :] + power + options.self_host_opex_usd_per_gpu_month) / tokens[None, :]
    best = per_mtok.min(axis=1)
    if not np.all(np.isfinite(best)):
        raise ValueError("self-hosting has no GPU to use: no generation is released yet")
    return best


def outside_option_utility(
    *,
    not_buying_value: float,
    self_host_cost_by_region: FloatArray | None,
    region: IntArray,
    quality_weight: FloatArray,
    price_sensitivity: FloatArray,
    self_host_quality: float,
    self_host_penalty: float,
    mu: float,
    form: str,
    quality_floor: FloatArray | None = None,
    frontier_quality: float = 1.0,
) -> FloatArray:
    """Utility of the outside option per enterprise: not buying (``a0``) or self-hosting, as a logit log-sum.

    ``u_self = w_q * qterm(q_self) - b * pterm(cost[region]) - penalty`` and
    ``u_out = mu * ln(exp(a0 / mu) + exp(u_self / mu))``; without self-hosting (``self_host_cost_by_region``
    None) it is ``a0``. The quality floor applies to self-hosting as to offers: an enterprise with
    ``q_self < quality_floor_e * frontier_quality`` cannot self-host (``u_out = a0``).
    """
    a0 = np.full(len(region), not_buying_value)
    if self_host_cost_by_region is None:
        return a0
    u_self = (
        quality_weight * utility_transform(np.array([self_host_quality]), form)[0]
        - price_sensitivity * utility_transform(self_host_cost_by_region[region], form)
        - self_host_penalty
    )
    out = mu * np.logaddexp(a0 / mu, u_self / mu)
    if quality_floor is not None:
        out = np.where(self_host_quality < np.asarray(quality_floor) * frontier_quality - 1e-12, a0, out)
    return out
