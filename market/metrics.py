"""Market metrics: concentration, price indices and consumer surplus, as pure functions on arrays."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from market.kernel_passes import threaded
from market.row_passes import multihoming_pass

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_multihoming_pass = threaded(multihoming_pass)
"""``multihoming_pass`` with the kernel's thread count (``market.kernel_passes.THREADS``)."""

MERGER_SCREENS: dict[str, tuple[float, float]] = {
    "hhi_2023": (1800.0, 100.0),
    "hhi_2010": (2500.0, 200.0),
}
"""HHI screens of the US merger guidelines: (post-merger HHI, change) above both of which a merger is presumed
to harm competition. 2023 guidelines: over 1,800 is highly concentrated, a change over 100 significant;
2010 guidelines: over 2,500 highly concentrated, a change over 200."""

HHI_BANDS_2010: tuple[float, float] = (1500.0, 2500.0)
"""2010 guidelines' bands: unconcentrated below 1,500, moderately concentrated to 2,500, highly above."""

HHI_HIGHLY_CONCENTRATED_2023: float = MERGER_SCREENS["hhi_2023"][0]
"""2023 guidelines (section 2.1): a market with HHI over 1,800 is highly concentrated."""

HHI_MODERATELY_CONCENTRATED_2023: float = 1000.0
"""2023 guidelines (section 2.1): a market with HHI from 1,000 to 1,800 is moderately concentrated."""


def hhi(values: FloatArray, owner: IntArray | None = None) -> float:
    """Herfindahl-Hirschman index on a 0-10,000 scale.

    ``HHI = sum_k (100 * share_k)^2`` where shares are of ``values`` (revenue, say), first summed by ``owner``
    when given, so that firms with one ultimate owner count as one. Returns 0 when the total is zero.

    Args:
        values: Non-negative quantity per firm or offer.
        owner: Owner id per entry (entries with the same owner are merged), or None.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size and np.any(v < 0):
        raise ValueError("HHI needs non-negative values")
    if owner is not None:
        _, inverse = np.unique(np.asarray(owner), return_inverse=True)
        v = np.asarray(np.bincount(inverse, weights=v), dtype=np.float64)
    total = v.sum()
    if total <= 0:
        return 0.0
    shares = 100.0 * v / total
    return float(np.sum(shares * shares))


def price_index(spend: float, tokens: float) -> float:
    """Spend per token, $/Mtok: total spend over tokens served (NaN when nothing is served).

    This is a unit value, not a price index: it moves when buyers shift between cheap and dear offers even if no
    price changes. For price change use the chained indices of :mod:`market.price_index`.
    """
    return spend / tokens if tokens > 0 else float("nan")


def quality_adjusted_price_index(
    revenue: FloatArray, served: FloatArray, quality: FloatArray, reference_quality: float
) -> float:
    """Spend per quality-adjusted token, $/Mtok of reference capability.

    ``QAPI = sum_o revenue_o / sum_o served_o * (q_o / q_ref)``: a token of quality ``2 q_ref`` counts as two
    reference tokens, so the index falls both when prices fall and when the same price buys better models.
    """
    adjusted = float(np.sum(np.asarray(served) * np.asarray(quality))) / reference_quality
    return float(np.sum(revenue)) / adjusted if adjusted > 0 else float("nan")


def logit_consumer_surplus(
    volume: FloatArray,
    outside_share: FloatArray,
    mu: float,
    price_sensitivity: FloatArray,
    effective_price: FloatArray,
    form: str,
) -> FloatArray:
    """Choice surplus per enterprise over the outside option, $ (Small and Rosen 1981).

    The expected gain of a logit chooser over its outside option is ``mu * ln(1 / s0)`` in utility units;
    dividing by the marginal utility of money (``b`` for linear utility, ``b / p_eff`` for log utility,
    evaluated at the effective price) and multiplying by ``volume`` (the tokens it applies to) gives dollars.
    """
    gain = -mu * np.log(np.clip(outside_share, 1e-300, 1.0))
    if form == "linear":
        money = price_sensitivity
    else:
        money = price_sensitivity / np.maximum(effective_price, 1e-300)
    return volume * gain / money


def volume_response_surplus(
    base_volume: FloatArray, price: FloatArray, reference_price: FloatArray, elasticity: FloatArray
) -> FloatArray:
    """Surplus from adjusting volume to the price, over a buyer that keeps its reference volume, $.

    With ``V(x) = V0 (x / p_ref)^(-eps)`` and ``r = p / p_ref``, the area between the demand curve and the
    reference volume ``V0`` from ``p`` to ``p_ref``::

        W = int_p^p_ref (V(x) - V0) dx = V0 p_ref ( (1 - r^(1 - eps)) / (1 - eps) - (1 - r) )
          = V0 p_ref ( -ln r - (1 - r) )                                      (eps = 1)

    ``W >= 0`` on both sides of ``p_ref`` and 0 at ``p = p_ref``: below it, the value of the extra tokens bought
    over what they cost; above it, the cost saved on the tokens no longer bought. It grows with the log of a
    price fall (``V0 p_ref ln(p_ref / p)`` for ``eps = 1``), the surplus from buying more tokens as prices fall.
    """
    r = np.maximum(np.asarray(price, dtype=np.float64), 1e-300) / reference_price
    log_r = np.log(r)
    k = 1.0 - np.asarray(elasticity, dtype=np.float64)
    small = np.abs(k) < 1e-9
    integral = np.where(small, -log_r, -np.expm1(k * log_r) / np.where(small, 1.0, k))
    return base_volume * reference_price * (integral - (1.0 - r))


def consumer_surplus(
    *,
    served: FloatArray,
    volume: FloatArray,
    outside_share: FloatArray,
    mu: float,
    price_sensitivity: FloatArray,
    effective_price: FloatArray,
    form: str,
    base_volume: FloatArray,
    reference_price: FloatArray,
    elasticity: FloatArray,
    served_by_class: FloatArray | None = None,
    class_outside_share: FloatArray | None = None,
) -> FloatArray:
    """Consumer surplus per enterprise after rationing, with the volume response, $.

    ``CS_e = S_e * g_e + (S_e / V_e) * W_e``: the logit choice surplus per token over the outside option,
    ``g_e = mu ln(1 / s0_e) / lambda_e`` (:func:`logit_consumer_surplus`, ``lambda_e = b_e`` or ``b_e / P_e``), on
    the tokens ``S_e`` the buyer is actually served, plus the volume-response surplus ``W_e``
    (:func:`volume_response_surplus`) at the realized price ``P_e`` (spend over tokens served after rationing),
    pro rata to the share of its volume ``V_e`` the market serves (rationed and outside tokens earn neither).

    With task classes (``served_by_class`` ``S_ek`` and ``class_outside_share`` ``s0_ek = S0_e / den_ek``, E x K)
    each class is a logit choice of its own among its eligible offers, and the choice surplus sums the per-class
    log-sums weighted by the class volume served: ``sum_k S_ek mu ln(1 / s0_ek) / lambda_e``.
    """
    if served_by_class is None or class_outside_share is None:
        per_token = logit_consumer_surplus(np.ones_like(served), outside_share, mu, price_sensitivity,
                                           effective_price, form)
        choice = served * per_token
    else:
        per_class = logit_consumer_surplus(np.ones_like(served_by_class), class_outside_share, mu,
                                           price_sensitivity[:, None], effective_price[:, None], form)
        choice = (served_by_class * per_class).sum(axis=1)
    response = volume_response_surplus(base_volume, effective_price, reference_price, elasticity)
    served_fraction = np.where(volume > 0, served / np.where(volume > 0, volume, 1.0), 0.0)
    return choice + served_fraction * response


def revenue_by_buyer_region(allocation: FloatArray, region_slices: list[slice], price: FloatArray) -> FloatArray:
    """Revenue per (buyer region, offer), $: tokens each region's buyers bought of each offer times its price
    (buyers are stored region by region; ``region_slices[r]`` selects region ``r``'s rows of ``allocation``)."""
    tokens = np.array([allocation[rows].sum(axis=0) for rows in region_slices])
    return tokens.reshape(len(region_slices), len(price)) * price[None, :]


def by_holder(values: FloatArray, offer_holder: IntArray, n_holders: int) -> FloatArray:
    """Sum per-offer columns (last axis) of ``values`` into per-holder columns."""
    out = np.zeros((n_holders, *values.shape[:-1]))
    np.add.at(out, offer_holder, np.moveaxis(values, -1, 0))
    return np.moveaxis(out, 0, -1)


def use_probabilities(allocation: FloatArray, model: IntArray, workloads: float) -> FloatArray:
    """Probability that a firm of each enterprise agent uses each model this month (E x M, models in
    ``np.unique(model)`` order).

    A firm runs a Poisson number of workloads with mean ``workloads`` (``n``); each is placed whole on one model,
    drawn with the agent's token shares ``a[e,m] = sum_{o of m} A[e,o] / sum_o A[e,o]`` (its logit choice
    probabilities after rationing). By Poisson thinning, the workloads on model ``m`` are Poisson(``n a[e,m]``)
    and independent across models, so ``P(m used) = 1 - exp(-n a[e,m])`` exactly. Zero for agents served nothing.
    """
    ids, column_model = np.unique(np.asarray(model), return_inverse=True)
    tokens = allocation @ (column_model[:, None] == np.arange(len(ids))[None, :]).astype(np.float64)  # E x M
    served = tokens.sum(axis=1, keepdims=True)
    share = np.divide(tokens, served, out=np.zeros_like(tokens), where=served > 0)
    return -np.expm1(-workloads * share)


def probability_at_least(used: FloatArray, k: int) -> FloatArray:
    """``P(N_e >= k)`` for ``N_e`` the number of independent events of probabilities ``used[e, :]`` (a
    Poisson-binomial count), by the recursion over events ``P_j(c) = P_{j-1}(c) (1 - p_j) + P_{j-1}(c-1) p_j``,
    with the counts ``c >= k`` kept in one cell (E)."""
    if k <= 0:
        return np.ones(used.shape[0])
    dist = np.zeros((used.shape[0], k + 1))
    dist[:, 0] = 1.0
    for p in used.T:
        moved = dist * p[:, None]
        dist = dist * (1.0 - p)[:, None]
        dist[:, 1:] += moved[:, :-1]
        dist[:, k] += moved[:, k]
    return dist[:, k]


def multihoming_shares(allocation: FloatArray, model: IntArray, family: IntArray, weight: FloatArray,
                       workloads: float) -> tuple[float, float]:
    """Firm-weighted shares of buying firms (their agent served > 0) that use 5+ models and 3+ model families.

    A model is an offer's (provider, tier), a family the provider that serves it; a firm uses the models its
    Poisson(``workloads``) workloads land on (:func:`use_probabilities`), so the share is the firm-weighted mean
    of ``P(N >= 5)`` over models and ``P(N >= 3)`` over families (:func:`probability_at_least`). The stylized
    facts they compare with: 37% of enterprises use 5+ models, 81% use 3+ model families. NaN when nobody buys.
    Every model belongs to one family (``family`` is the same on all offers of a model).

    Computed exactly in one compiled pass over the rows of ``allocation`` (``market.row_passes.multihoming_pass``,
    no E x models temporaries); :func:`multihoming_shares_reference` is the numpy reference it is tested against.
    """
    model_index = np.unique(np.asarray(model), return_inverse=True)[1]
    first = np.unique(model_index, return_index=True)[1]  # an offer of each model, for its family
    families, family_of_model = np.unique(np.asarray(family)[first], return_inverse=True)
    served, five, three = _multihoming_pass(np.ascontiguousarray(allocation, dtype=np.float64),
                                           model_index.astype(np.int64), family_of_model.astype(np.int64),
                                           len(families), float(workloads), 5, 3)
    buying = served > 0
    firms = float(weight[buying].sum())
    if firms <= 0:
        return float("nan"), float("nan")
    w = weight[buying]
    return float(w @ five[buying]) / firms, float(w @ three[buying]) / firms


def multihoming_shares_reference(allocation: FloatArray, model: IntArray, family: IntArray, weight: FloatArray,
                                 workloads: float) -> tuple[float, float]:
    """:func:`multihoming_shares` in numpy (E x models matrices): the reference of the compiled pass."""
    buying = allocation.sum(axis=1) > 0
    firms = float(weight[buying].sum())
    if firms <= 0:
        return float("nan"), float("nan")
    rows = allocation[buying]
    five = probability_at_least(use_probabilities(rows, model, workloads), 5)
    three = probability_at_least(use_probabilities(rows, family, workloads), 3)
    w = weight[buying]
    return float(w @ five) / firms, float(w @ three) / firms
