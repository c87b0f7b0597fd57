"""Chained fixed-basket price indices, quality-adjusted as utility values quality, and their decomposition.

Offers are matched month to month by (provider, region). Over the offers present in both months ``t-1`` and
``t`` with prices ``p`` and tokens bought ``q`` (per segment, or summed over segments for the market)::

    Laspeyres  L = sum p1 q0 / sum p0 q0          Paasche  P = sum p1 q1 / sum p0 q1
    Fisher     F = sqrt(L P)
    Tornqvist  ln T = sum_i (w0_i + w1_i) / 2 * ln(p1_i / p0_i),      w_i = p_i q_i / sum_j p_j q_j

and the chained index is ``I_t = I_{t-1} * T_t`` (``I = 1`` in the first month; a month with nothing matched
carries the level forward). The recorded indices are Tornqvist; :func:`fisher_relative` is the alternative.

**Quality adjustment consistent with the utility.** A segment values an offer as ``w_q f(q) - b f(p)``
(``f = ln`` or the identity, ``market.demand``), so the price at last month's quality that gives this month's
utility is ``p1_adj = p1 (q1 / q0)^(-w_q / b)`` (log) or ``p1 - (w_q / b)(q1 - q0)`` (linear, floored at a
millionth of ``p1``), with the segment's quality weight ``w_q`` and mean price sensitivity ``b``. The
quality-adjusted index chains Tornqvist relatives of ``p1_adj / p0`` over (segment, offer) cells.

**Decomposition** of the monthly log change of spend per token ``UV = sum p q / sum q``::

    ln(UV_t / UV_{t-1}) = ln T_t  +  [ln(UV_t / UV_{t-1}) - ln T_t]
                          price      composition (shifts between offers, entry and exit)
    ln T^QA_t = ln T_t + [ln T^QA_t - ln T_t]
                         quality (the utility value of quality change; negative when quality rises)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

DECOMPOSITION_COLUMNS: tuple[str, ...] = (
    "log_change_spend_per_token", "log_change_price", "log_change_composition", "log_change_quality",
)
"""Monthly log changes of the decomposition (NaN in the first month)."""


def tornqvist_log_relative(p0: FloatArray, p1: FloatArray, q0: FloatArray, q1: FloatArray) -> float:
    """``ln T = sum_i (w0_i + w1_i) / 2 ln(p1_i / p0_i)`` over matched items (0.0 when either month spends
    nothing on them)."""
    e0, e1 = p0 * q0, p1 * q1
    s0, s1 = float(e0.sum()), float(e1.sum())
    if s0 <= 0 or s1 <= 0:
        return 0.0
    weight = 0.5 * (e0 / s0 + e1 / s1)
    return float(np.sum(weight * np.log(p1 / p0)))


def fisher_relative(p0: FloatArray, p1: FloatArray, q0: FloatArray, q1: FloatArray) -> float:
    """``F = sqrt(sum p1 q0 / sum p0 q0 * sum p1 q1 / sum p0 q1)`` over matched items (1.0 when undefined)."""
    d0, d1 = float(np.sum(p0 * q0)), float(np.sum(p0 * q1))
    if d0 <= 0 or d1 <= 0:
        return 1.0
    return float(np.sqrt(np.sum(p1 * q0) / d0 * np.sum(p1 * q1) / d1))


def quality_adjusted_price(p1: FloatArray, q_old: FloatArray, q_new: FloatArray, quality_weight: float,
                           price_sensitivity: float, form: str) -> FloatArray:
    """This month's price restated at last month's quality, at equal utility (see the module docstring)."""
    ratio = quality_weight / price_sensitivity
    if form == "log":
        return np.asarray(p1 * np.power(q_new / q_old, -ratio), dtype=np.float64)
    if form == "linear":
        return np.asarray(np.maximum(p1 - ratio * (q_new - q_old), 1e-6 * p1), dtype=np.float64)
    raise ValueError(f"unknown utility form '{form}' (choose 'linear' or 'log')")


@dataclass
class ChainedPriceIndex:
    """Chains the market's and each segment's Tornqvist price indices, plain and quality-adjusted, month by
    month, and decomposes the change of spend per token.

    Args:
        segment_names: Names of the segments (column suffixes).
        quality_weight: ``w_q`` per segment.
        price_sensitivity: Mean ``b`` per segment.
        form: Utility form (``log`` or ``linear``).
    """

    segment_names: tuple[str, ...]
    quality_weight: FloatArray
    price_sensitivity: FloatArray
    form: str
    _last: tuple[IntArray, FloatArray, FloatArray, FloatArray, float] | None = field(default=None, init=False)
    _levels: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        self._levels = np.ones(2 * (1 + len(self.segment_names)))

    @property
    def columns(self) -> tuple[str, ...]:
        """Model-table columns written by :meth:`update`."""
        names = ("chained_price_index", "quality_adjusted_chained_price_index")
        per_segment = tuple(f"{n}_{s}" for s in self.segment_names for n in names)
        return (*names, *per_segment, *DECOMPOSITION_COLUMNS)

    def update(self, key: IntArray, price: FloatArray, quality: FloatArray, tokens_by_segment: FloatArray
               ) -> dict[str, float]:
        """Chain one month.

        Args:
            key: Identity of each offer, stable across months (provider and region) (O).
            price: Posted price, $/Mtok (O).
            quality: Quality index (O).
            tokens_by_segment: Tokens each segment bought of each offer, Mtok (S x O).

        Returns:
            The month's values of :attr:`columns`.
        """
        total = tokens_by_segment.sum(axis=0)
        bought = float(total.sum())
        spend_per_token = float(price @ total) / bought if bought > 0 else float("nan")
        logs = np.zeros_like(self._levels)
        change = dict.fromkeys(DECOMPOSITION_COLUMNS, float("nan"))
        if self._last is not None:
            key0, price0, quality0, tokens0, spt0 = self._last
            _, i0, i1 = np.intersect1d(key0, key, assume_unique=True, return_indices=True)
            p0, p1, q_old, q_new = price0[i0], price[i1], quality0[i0], quality[i1]
            t0, t1 = tokens0[:, i0], tokens_by_segment[:, i1]
            adjusted = np.array([quality_adjusted_price(p1, q_old, q_new, float(w), float(b), self.form)
                                 for w, b in zip(self.quality_weight, self.price_sensitivity, strict=True)])
            logs[0] = tornqvist_log_relative(p0, p1, t0.sum(axis=0), t1.sum(axis=0))
            logs[1] = tornqvist_log_relative(np.tile(p0, len(t0)), adjusted.ravel(), t0.ravel(),
                                             (t1 * p1 / adjusted).ravel())  # cell tokens at adjusted prices
            for s in range(len(t0)):
                logs[2 + 2 * s] = tornqvist_log_relative(p0, p1, t0[s], t1[s])
                logs[3 + 2 * s] = tornqvist_log_relative(p0, adjusted[s], t0[s], t1[s] * p1 / adjusted[s])
            step_spt = float(np.log(spend_per_token / spt0)) if spt0 > 0 and spend_per_token > 0 else float("nan")
            change = {"log_change_spend_per_token": step_spt, "log_change_price": float(logs[0]),
                      "log_change_composition": step_spt - float(logs[0]),
                      "log_change_quality": float(logs[1] - logs[0])}
        self._levels = self._levels * np.exp(logs)
        self._last = (key.copy(), price.copy(), quality.copy(), tokens_by_segment.copy(), spend_per_token)
        return {**dict(zip(self.columns, self._levels.tolist(), strict=False)), **change}


@dataclass
class TierPriceIndex:
    """Chained Tornqvist price indices of each model tier, plain and quality-adjusted: offers of a tier matched
    month to month by their key, ``I_t = I_{t-1} exp(ln T_t)`` over the tier's matched offers
    (:func:`tornqvist_log_relative` with tokens served as quantities; 1 in the first month; carried forward when
    nothing is matched). The quality-adjusted index restates this month's prices at last month's quality
    (:func:`quality_adjusted_price` with the buyers' token-weighted ``w_q / b``), so it measures the price of a
    fixed capability in the tier, the way Epoch AI's price-per-milestone declines do.

    Args:
        tier_names: Names of the tiers (column suffixes ``price_index_<tier>``,
            ``quality_adjusted_price_index_<tier>``).
    """

    tier_names: tuple[str, ...]
    _last: tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray] | None = field(default=None, init=False)
    _levels: FloatArray = field(init=False)
    _adjusted: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        self._levels = np.ones(len(self.tier_names))
        self._adjusted = np.ones(len(self.tier_names))

    @property
    def columns(self) -> tuple[str, ...]:
        """Model-table columns written by :meth:`update`."""
        return (*[f"price_index_{t}" for t in self.tier_names],
                *[f"quality_adjusted_price_index_{t}" for t in self.tier_names])

    def update(self, key: IntArray, tier: IntArray, price: FloatArray, tokens: FloatArray,
               quality: FloatArray | None = None, value_of_quality: float = 0.0, form: str = "log"
               ) -> dict[str, float]:
        """Chain one month: offers' stable keys, tiers, prices ($/Mtok), tokens served (Mtok), quality, and the
        buyers' ``w_q / b`` (``value_of_quality``) the quality adjustment uses."""
        quality = np.ones(len(price)) if quality is None else quality
        if self._last is not None:
            key0, tier0, price0, tokens0, quality0 = self._last
            for t in range(len(self.tier_names)):
                a, b = tier0 == t, tier == t
                _, i0, i1 = np.intersect1d(key0[a], key[b], assume_unique=True, return_indices=True)
                p0, p1, q0, q1 = price0[a][i0], price[b][i1], tokens0[a][i0], tokens[b][i1]
                self._levels[t] *= np.exp(tornqvist_log_relative(p0, p1, q0, q1))
                adjusted = quality_adjusted_price(p1, quality0[a][i0], quality[b][i1], value_of_quality, 1.0, form)
                self._adjusted[t] *= np.exp(tornqvist_log_relative(p0, adjusted, q0, q1))
        self._last = (key.copy(), tier.copy(), price.copy(), tokens.copy(), quality.copy())
        return dict(zip(self.columns, [*self._levels.tolist(), *self._adjusted.tolist()], strict=True))
