"""Model tiers (frontier, mid, small, ...) as arrays, and the tier-level measures of a month's offers. Pure.

A tier ``t`` scales what a provider serves: quality ``q_o = q_provider * quality_factor_t``; tokens per GPU
``x throughput_multiplier_t``, so one Mtok of the tier uses ``w_t = 1 / throughput_multiplier_t`` capacity units
(Mtok of the reference model) and its unit and variable cost per Mtok are ``w_t`` times the fleet's; serving
latency ``base_latency_ms_t`` plus queueing (``market.latency``). A tier with a quality-gap half-life catches up
with the model it is distilled from (:func:`caught_up_quality_factor`).

**Latency premium** of a month (:func:`latency_premium`): within each tier, offers whose serving latency is
below the tier's demand-weighted median latency are *fast*, the others *slow*; the tier's premium is the
demand-weighted mean log price of fast offers minus that of slow offers, and the month's premium averages
the tiers' premiums weighted by their tokens served (NaN where no tier has both fast and slow offers).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from market.config import ScenarioConfig
from market.config.consistency import IMPLICIT_TIER
from market.latency import serving_latency_ms

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def caught_up_quality_factor(quality_factor: FloatArray, half_life_months: FloatArray, step: float) -> FloatArray:
    """Tier quality factors at month ``step`` when each tier closes its gap to the full model at a half-life:

    ``f_t(s) = 1 - (1 - f_t(0)) * 2^(-s / H_t)``

    (distillation of frontier capability into smaller models: the gap halves every ``H_t`` months; ``H_t = inf``
    keeps ``f_t(0)``).
    """
    f0 = np.asarray(quality_factor, dtype=np.float64)
    with np.errstate(divide="ignore"):
        remaining = np.exp2(-step / np.asarray(half_life_months, dtype=np.float64))
    return np.asarray(1.0 - (1.0 - f0) * remaining, dtype=np.float64)


@dataclass(frozen=True)
class TierTable:
    """The scenario's tiers by id (declaration order) and the queueing parameters of serving latency.

    Attributes:
        names: Tier names.
        quality_factor: Quality relative to the model the provider serves.
        capacity_weight: Capacity units per Mtok, ``1 / throughput_multiplier``.
        base_latency_ms: Serving latency at zero load, ms.
        declared: False for the implicit single tier of a scenario that declares none.
        arrival_cv, service_cv, max_utilization: Kingman's ``ca``, ``cs`` and the utilization cap.
        initial_quality_factor: Quality factors at month 0 (``quality_factor`` moves with catch-up).
        quality_gap_half_life_months: Catch-up half-life per tier, months (inf: none).
    """

    names: tuple[str, ...]
    quality_factor: FloatArray
    capacity_weight: FloatArray
    base_latency_ms: FloatArray
    declared: bool
    arrival_cv: float = 1.0
    service_cv: float = 1.0
    max_utilization: float = 0.95
    initial_quality_factor: FloatArray | None = None
    quality_gap_half_life_months: FloatArray | None = None

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def implicit(cls) -> TierTable:
        """One tier with factors 1 and no latency: the market without tiers."""
        return cls(names=(IMPLICIT_TIER,), quality_factor=np.ones(1), capacity_weight=np.ones(1),
                   base_latency_ms=np.zeros(1), declared=False)

    @classmethod
    def from_config(cls, scenario: ScenarioConfig) -> TierTable:
        """The scenario's tiers (the implicit one when it declares none)."""
        lat = scenario.latency
        if not scenario.tiers:
            return cls(names=(IMPLICIT_TIER,), quality_factor=np.ones(1), capacity_weight=np.ones(1),
                       base_latency_ms=np.zeros(1), declared=False, arrival_cv=lat.arrival_cv,
                       service_cv=lat.service_cv, max_utilization=lat.max_utilization)
        tiers = scenario.tiers
        return cls(names=tuple(t.name for t in tiers),
                   quality_factor=np.array([t.quality_factor for t in tiers], dtype=np.float64),
                   capacity_weight=np.array([1.0 / t.throughput_multiplier for t in tiers], dtype=np.float64),
                   base_latency_ms=np.array([t.base_latency_ms for t in tiers], dtype=np.float64), declared=True,
                   arrival_cv=lat.arrival_cv, service_cv=lat.service_cv, max_utilization=lat.max_utilization,
                   initial_quality_factor=np.array([t.quality_factor for t in tiers], dtype=np.float64),
                   quality_gap_half_life_months=np.array(
                       [np.inf if t.quality_gap_half_life_months is None else t.quality_gap_half_life_months
                        for t in tiers], dtype=np.float64))

    @property
    def catches_up(self) -> bool:
        """Whether any tier's quality factor moves over time."""
        h = self.quality_gap_half_life_months
        return h is not None and bool(np.isfinite(h).any())

    def at_step(self, step: int) -> TierTable:
        """The table with each tier's quality factor at month ``step`` (:func:`caught_up_quality_factor`)."""
        if not self.catches_up or self.initial_quality_factor is None or self.quality_gap_half_life_months is None:
            return self
        return replace(self, quality_factor=caught_up_quality_factor(
            self.initial_quality_factor, self.quality_gap_half_life_months, float(step)))

    def ids(self, names: list[str]) -> IntArray:
        """Tier ids of ``names`` (every tier when empty)."""
        if not names:
            return np.arange(len(self.names), dtype=np.int64)
        return np.array([self.names.index(n) for n in names], dtype=np.int64)

    def latency_ms(self, tier: IntArray, utilization: FloatArray) -> FloatArray:
        """Serving latency of offers of ``tier`` at their pools' ``utilization``, ms (``market.latency``)."""
        return serving_latency_ms(self.base_latency_ms[tier], utilization, self.arrival_cv, self.service_cv,
                                  self.max_utilization)


def totals_by_tier(tier: IntArray, values: FloatArray, n_tiers: int) -> FloatArray:
    """``sum_{o of tier t} values_o`` per tier (T)."""
    return np.asarray(np.bincount(tier, weights=values, minlength=n_tiers), dtype=np.float64)


def weighted_median(values: FloatArray, weights: FloatArray) -> float:
    """The smallest value whose cumulative weight reaches half the total (the plain median without weight)."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    total = float(w.sum())
    if total <= 0:
        return float(np.median(values))
    return float(v[np.searchsorted(np.cumsum(w), 0.5 * total)])


def latency_premium(tier: IntArray, price: FloatArray, latency_ms: FloatArray, served: FloatArray,
                    n_tiers: int) -> float:
    """The month's latency premium (module docstring): tokens-weighted mean over tiers of
    ``mean_fast ln p - mean_slow ln p`` (means weighted by tokens served; NaN where undefined)."""
    premiums, weights = [], []
    for t in range(n_tiers):
        mine = tier == t
        if mine.sum() < 2 or served[mine].sum() <= 0:
            continue
        lat, p, q = latency_ms[mine], np.log(price[mine]), served[mine]
        fast = lat < weighted_median(lat, q)
        if not fast.any() or fast.all():
            continue
        qf, qs = q[fast].sum(), q[~fast].sum()
        mean_fast = float(p[fast] @ q[fast] / qf) if qf > 0 else float(p[fast].mean())
        mean_slow = float(p[~fast] @ q[~fast] / qs) if qs > 0 else float(p[~fast].mean())
        premiums.append(mean_fast - mean_slow)
        weights.append(float(q.sum()))
    if not premiums:
        return float("nan")
    return float(np.average(premiums, weights=weights))


def tier_columns(tier_names: tuple[str, ...]) -> tuple[str, ...]:
    """Model-table columns of declared tiers (none without)."""
    if not tier_names:
        return ()
    measures = ("tokens", "spend", "price_index", "quality_adjusted_price_index")
    return (*[f"{m}_{t}" for t in tier_names for m in measures], "latency_premium")


def tier_measures(tier_names: tuple[str, ...], tier: IntArray, price: FloatArray, latency_ms: FloatArray,
                  served: FloatArray, revenue: FloatArray) -> dict[str, float]:
    """``tokens_<tier>`` (Mtok), ``spend_<tier>`` ($) and ``latency_premium`` of a month's offers."""
    n = len(tier_names)
    tokens, spend = totals_by_tier(tier, served, n), totals_by_tier(tier, revenue, n)
    row = {f"tokens_{name}": float(tokens[t]) for t, name in enumerate(tier_names)}
    row.update({f"spend_{name}": float(spend[t]) for t, name in enumerate(tier_names)})
    row["latency_premium"] = latency_premium(tier, price, latency_ms, served, n)
    return row
