"""Replication curves: how a thesis's interval narrows as replications are added, and when it has stabilised.

Output analysis of a stochastic simulation asks how many replications make an estimate trustworthy. Lee et al.
(2015, "The complexities of agent-based modeling output analysis", JASSS 18(4) 4) tie the number of runs to
variance stability: run until the dispersion of the output, e.g. its coefficient of variation
CV(n) = s_n / |mean_n|, no longer changes materially as runs are added. Here the quantity watched is the
interval the verdict itself uses (:func:`analysis.statistics.bootstrap_ci`, BCa, same resamples and seed), for the
first n = 2, ..., R replications in replication order (replication r has the same seed whatever R is, so the
first n of R replications are exactly the runs of ``--replications n``):

* ``width(n) = ci_high(n) - ci_low(n)``. For independent replications it shrinks like 1/sqrt(n): for a
  t-interval, width(n) = 2 t(0.975, n-1) s_n / sqrt(n).
* ``projected_width(n) = width(n) * sqrt(n / R)``: the width R replications would give if the dispersion seen in
  the first n were the true one. It is a dispersion estimate in the units of the interval (proportional to s_n
  for a t-interval, like the numerator of the CV) and, unlike the CV, stays defined when the mean is near zero,
  as paired differences often are.

**Stabilising count** (:func:`stabilising_count`): the smallest n >= ``minimum`` (5: a bootstrap of fewer values
has too few distinct resamples to place a 2.5% tail) from which the projected width stays within ``tolerance``
(20%) of the width at R for every m = n, ..., R. When the width at R is 0 (every replication equal), the
smallest n from which every width is 0.

The count in one order of the replications is itself noisy; :func:`stabilising_counts` repeats it over random
orders of the same replications (they are exchangeable). A thesis's default ``replications`` is the largest of
10, that median and the count from which the verdict is settled (:func:`verdict_settled_count`); 10 because the
bootstrap interval of a mean covers less than its nominal level with few values
(:func:`normal_coverage_approximation`: 85% at n = 5, 90% at 10 for a nominal 95%).

**Decisive count** (:func:`decisive_count`): how many replications a t-interval needs for its half-width to fall
below the distance between the estimate and the claim's threshold (Law 2015, *Simulation Modeling and
Analysis*, 5th ed., section 9.4.1, the fixed-width procedure): the smallest i >= 2 with
``t(0.975, i-1) * s / sqrt(i) <= |mean - threshold|``. Stabilisation says the interval can be trusted;
the decisive count says whether more replications would change an inconclusive verdict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from analysis.statistics import Operator, bootstrap_ci, verdict
from analysis.style import note, wrap_title

CURVE_COLUMNS: tuple[str, ...] = ("n", "mean", "sd", "cv", "ci_low", "ci_high", "width", "projected_width",
                                  "verdict")
"""Columns of :func:`replication_curve`."""

STABLE_TOLERANCE = 0.2
"""Relative distance from the width at R within which the projected width counts as stable."""
STABLE_MINIMUM = 5
"""Fewest replications the stabilising count may name."""
DECISIVE_LIMIT = 10_000
"""Largest decisive count reported; beyond it (or at zero distance) the count is undefined."""


def ordered_values(values: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
    """The finite values in replication order (a Series is sorted by its index, the replication)."""
    if isinstance(values, pd.Series):
        values = values.sort_index().to_numpy(dtype=float)
    x = np.asarray(values, dtype=float)
    return x[np.isfinite(x)]


def replication_curve(
    values: Sequence[float] | np.ndarray | pd.Series,
    *,
    seed: int = 0,
    operator: Operator | None = None,
    threshold: float | None = None,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    counts: Sequence[int] | None = None,
) -> pd.DataFrame:
    """The estimate and its bootstrap interval from the first n replications, for n = 2, ..., R.

    Args:
        values: One statistic per replication (a paired difference for a compared thesis), in replication
            order; a Series is ordered by its index. Non-finite values are dropped, as the verdict drops them.
        seed: Seed of the bootstrap (the thesis's ``root_seed``, as the verdict uses).
        operator: With ``threshold``, the claim: each row then carries the verdict from the first n.
        threshold: The claim's threshold.
        confidence: Confidence level of the interval.
        n_resamples: Bootstrap resamples.
        counts: Only these n (each 2 to R); default every n from 2 to R.

    Returns:
        One row per n with :data:`CURVE_COLUMNS`: mean, sample standard deviation ``sd`` (ddof 1), ``cv`` =
        sd / |mean| (nan at mean 0), the interval, its ``width`` and ``projected_width`` = width * sqrt(n / R),
        and the verdict (empty without a claim).

    Raises:
        ValueError: Fewer than two finite values, or a count outside 2 to R.
    """
    x = ordered_values(values)
    total = len(x)
    if total < 2:
        raise ValueError(f"a replication curve needs at least two finite replications, got {total}")
    wanted = list(range(2, total + 1)) if counts is None else sorted(set(counts))
    bad = [n for n in wanted if not 2 <= n <= total]
    if bad:
        raise ValueError(f"counts {bad} are outside 2 to {total} (the replications available)")
    rows = []
    for n in wanted:
        first = x[:n]
        mean, sd = float(first.mean()), float(first.std(ddof=1))
        low, high = bootstrap_ci(first, confidence=confidence, n_resamples=n_resamples, seed=seed)
        width = high - low
        judged = verdict(low, high, operator, threshold) if operator is not None and threshold is not None else ""
        rows.append({"n": n, "mean": mean, "sd": sd, "cv": sd / abs(mean) if mean != 0 else float("nan"),
                     "ci_low": low, "ci_high": high, "width": width,
                     "projected_width": width * math.sqrt(n / total), "verdict": judged})
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))


def stabilising_count(series: pd.Series, tolerance: float = STABLE_TOLERANCE, minimum: int = STABLE_MINIMUM,
                      reference: float | None = None) -> int:
    """The smallest n >= ``minimum`` from which ``series`` stays within ``tolerance`` of its reference.

    ``series`` is indexed by the number of replications n (e.g. a curve's ``projected_width``); the reference is
    its value at the largest n unless given (the width at R for a projected width). With reference q_R > 0, n
    qualifies when |q_m - q_R| <= tolerance * q_R for every m >= n; with q_R = 0, when q_m = 0 for every m >= n.
    The largest n always qualifies (a series that never settles gives R: run more replications).

    Raises:
        ValueError: An empty series, a tolerance outside (0, 1), or a minimum above the largest n.
    """
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance = {tolerance} must be between 0 and 1")
    q = series.sort_index().astype(float)
    if q.empty:
        raise ValueError("an empty series has no stabilising count")
    last = int(q.index[-1])
    if minimum > last:
        raise ValueError(f"minimum = {minimum} exceeds the largest count {last}: run more replications")
    ref = float(q.iloc[-1]) if reference is None else float(reference)
    inside = (q == 0) if ref == 0 else ((q - ref).abs() <= tolerance * abs(ref))
    inside = inside & np.isfinite(q)
    # Walk back from the largest n while the series stays inside the band.
    count = last
    for n, ok in zip(reversed(q.index.tolist()), reversed(inside.tolist()), strict=True):
        if not ok or n < minimum:
            break
        count = int(n)
    return count


def stabilising_counts(
    values: Sequence[float] | np.ndarray | pd.Series,
    *,
    seed: int = 0,
    orderings: int = 100,
    tolerance: float = STABLE_TOLERANCE,
    minimum: int = STABLE_MINIMUM,
    n_resamples: int = 9999,
) -> np.ndarray:
    """The stabilising count of the projected width in ``orderings`` random orders of the same replications.

    Replications are exchangeable (independent seeds), so the order in which they were run is one of many
    equally likely; the count in one order is itself noisy, and its distribution over random orders shows how
    many replications the width typically needs. The orders are drawn from ``numpy.random.default_rng(seed)``
    and each curve's bootstrap uses ``seed`` as the verdict does.

    Raises:
        ValueError: Fewer than ``minimum`` finite values.
    """
    x = ordered_values(values)
    if len(x) < minimum:
        raise ValueError(f"a stabilising count needs at least {minimum} replications, got {len(x)}")
    rng = np.random.default_rng(seed)
    counts = np.empty(orderings, dtype=int)
    for k in range(orderings):
        curve = replication_curve(x[rng.permutation(len(x))], seed=seed, n_resamples=n_resamples)
        counts[k] = stabilising_count(curve.set_index("n")["projected_width"], tolerance, minimum)
    return counts


def decisive_count(mean: float, sd: float, threshold: float, confidence: float = 0.95,
                   limit: int = DECISIVE_LIMIT) -> int | None:
    """Replications a t-interval needs to lie wholly on one side of ``threshold`` (Law 2015, section 9.4.1).

    The smallest i >= 2 with t((1 + confidence) / 2, i - 1) * sd / sqrt(i) <= |mean - threshold|, the mean and
    standard deviation held at their current estimates; 2 when sd is 0 and the mean is off the threshold; None
    when the mean sits on the threshold or more than ``limit`` replications would be needed.
    """
    distance = abs(mean - threshold)
    if not (np.isfinite(distance) and np.isfinite(sd)) or distance == 0:
        return None
    if sd == 0:
        return 2
    level = (1 + confidence) / 2
    # t(i-1) sd / sqrt(i) decreases in i: bisect for the first i that meets the distance.
    def meets(i: int) -> bool:
        return float(stats.t.ppf(level, i - 1)) * sd / math.sqrt(i) <= distance

    if not meets(limit):
        return None
    low, high = 2, limit
    while low < high:
        mid = (low + high) // 2
        if meets(mid):
            high = mid
        else:
            low = mid + 1
    return low


def verdict_settled_count(curve: pd.DataFrame) -> int:
    """The smallest n from which the verdict at every m >= n equals the verdict at the largest n."""
    ordered = curve.sort_values("n")
    final_verdict = ordered["verdict"].iloc[-1]
    count = int(ordered["n"].iloc[-1])
    for n, v in zip(reversed(ordered["n"].tolist()), reversed(ordered["verdict"].tolist()), strict=True):
        if v != final_verdict:
            break
        count = int(n)
    return count


def curve_summary(curve: pd.DataFrame, *, threshold: float | None = None, at: Sequence[int] = (5, 10),
                  tolerance: float = STABLE_TOLERANCE, minimum: int = STABLE_MINIMUM,
                  over_orderings: np.ndarray | None = None) -> dict[str, object]:
    """One thesis's replication figures: widths at chosen counts and at R, and the counts.

    Returns:
        ``replications`` (R), ``width_<n>`` for each n in ``at`` up to R and for R, ``cv`` at R, ``stabilising``
        (:func:`stabilising_count` of the projected width in replication order; None with fewer than
        ``minimum`` replications), ``stabilising_median`` and ``stabilising_p90`` (median and 90th percentile,
        rounded up, of ``over_orderings``, the counts of :func:`stabilising_counts`; None without them),
        ``verdict_settled`` (:func:`verdict_settled_count`, None without verdicts) and ``decisive``
        (:func:`decisive_count` at R's mean and sd, None without a threshold or when undefined).
    """
    ordered = curve.sort_values("n").set_index("n")
    total = int(ordered.index[-1])
    out: dict[str, object] = {"replications": total}
    width = ordered["width"].astype(float)
    for n in [*[n for n in at if n < total], total]:
        out[f"width_{n}"] = float(width.get(n, float("nan")))
    at_r = ordered.iloc[-1]
    out["cv"] = float(at_r["cv"])
    out["stabilising"] = (stabilising_count(ordered["projected_width"], tolerance, minimum)
                          if total >= minimum else None)
    if over_orderings is not None and len(over_orderings) > 0:
        out["stabilising_median"] = math.ceil(np.median(over_orderings))
        out["stabilising_p90"] = math.ceil(np.quantile(over_orderings, 0.9))
    else:
        out["stabilising_median"] = out["stabilising_p90"] = None
    has_verdicts = bool((curve["verdict"] != "").all())
    out["verdict_settled"] = verdict_settled_count(curve) if has_verdicts else None
    out["decisive"] = (decisive_count(float(at_r["mean"]), float(at_r["sd"]), threshold)
                       if threshold is not None else None)
    return out


def replication_figure(curves: pd.DataFrame, summary: pd.DataFrame, tolerance: float = STABLE_TOLERANCE,
                       columns: int = 3) -> Figure:
    """One panel per thesis: the interval width against n, relative to the width at R.

    Solid: width(n) / width(R); dashed: projected_width(n) / width(R), which settles at 1 once the dispersion
    is stable; dotted grey: sqrt(R / n), the shape of a t-interval's width with a fixed standard deviation;
    the shaded band is 1 +- ``tolerance``; the vertical line is the stabilising count.

    Args:
        curves: Rows of :func:`replication_curve` with ``thesis``, ``number`` and ``title`` columns.
        summary: One row per thesis with ``thesis`` and ``stabilising``.
        tolerance: Half-height of the band.
        columns: Panels per row.
    """
    theses = list(dict.fromkeys(curves.sort_values(["number", "thesis"])["thesis"]))
    rows = max(1, math.ceil(len(theses) / columns))
    fig = Figure(figsize=(3.6 * columns, 2.5 * rows + 0.6), layout="constrained")
    total = int(curves["n"].max()) if len(curves) else 0
    fig.suptitle(wrap_title(f"Interval width against replications, relative to the width at n = {total} "
                            f"(solid: width; dashed: width projected to n = {total}; dotted: 1/sqrt(n) shape; "
                            f"band: +-{tolerance:.0%}; line: stabilising count)", 130))
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    stable = summary.set_index("thesis")["stabilising"] if len(summary) else pd.Series(dtype=object)
    for ax, name in zip(axes, theses, strict=False):
        curve = curves[curves["thesis"] == name].sort_values("n")
        n = curve["n"].to_numpy(dtype=float)
        last = float(curve["width"].iloc[-1])
        head = curve.iloc[0]
        ax.set_title(wrap_title(f"{head['number']}. {head['title']}", 42), fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=7)
        if last == 0 or not np.isfinite(last):
            note(ax, "every replication equal: width 0" if last == 0 else "no interval")
            continue
        ax.axhspan(1 - tolerance, 1 + tolerance, color="0.9")
        ax.plot(n, np.sqrt(n[-1] / n), ":", color="0.5", linewidth=1)
        ax.plot(n, curve["width"] / last, "-", color="tab:blue", linewidth=1.2)
        ax.plot(n, curve["projected_width"] / last, "--", color="tab:orange", linewidth=1.2)
        count = stable.get(name)
        if count is not None and not pd.isna(count):
            ax.axvline(float(count), color="tab:red", linewidth=1)
        ax.set_ylim(0, min(4.0, max(2.0, float(np.nanmax(curve["width"] / last)) * 1.05)))
        ax.text(0.98, 0.95, f"width at {int(n[-1])}: {last:.3g}", transform=ax.transAxes, ha="right", va="top",
                fontsize=7)
    for ax in axes[len(theses):]:
        ax.set_visible(False)
    fig.supxlabel("replications n", fontsize=9)
    fig.supylabel("width / width at R", fontsize=9)
    return fig


def normal_coverage(n: int, trials: int = 1000, seed: int = 0, confidence: float = 0.95) -> float:
    """Share of ``trials`` normal samples of size n whose :func:`analysis.statistics.bootstrap_ci` covers the mean.

    The bootstrap interval of a mean behaves like a normal-theory interval with the plug-in standard deviation
    s sqrt((n-1)/n) (Efron & Tibshirani 1993, section 13.3), so its coverage is about
    P(|t(n-1)| <= z sqrt((n-1)/n)) (:func:`normal_coverage_approximation`): below the nominal level with few
    replications. Sample k uses ``SeedSequence(seed)``'s k-th draw and bootstrap seed k.
    """
    rng = np.random.default_rng(seed)
    covered = 0
    for k in range(trials):
        low, high = bootstrap_ci(rng.normal(size=n), confidence=confidence, seed=k)
        covered += low <= 0.0 <= high
    return covered / trials


def normal_coverage_approximation(n: int, confidence: float = 0.95) -> float:
    """P(|T| <= z sqrt((n-1)/n)), T ~ t(n-1), z the normal quantile: the coverage of a z-interval with the
    plug-in standard deviation, which the percentile and BCa bootstrap intervals of a mean approach."""
    z = float(stats.norm.ppf((1 + confidence) / 2))
    return float(2 * stats.t.cdf(z * math.sqrt((n - 1) / n), n - 1) - 1)
