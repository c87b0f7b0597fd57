"""Replication curves: widths against closed forms, the stabilising, settled and decisive counts on known series."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats

from analysis.replication import (
    CURVE_COLUMNS,
    curve_summary,
    decisive_count,
    normal_coverage,
    normal_coverage_approximation,
    replication_curve,
    replication_figure,
    stabilising_count,
    stabilising_counts,
    verdict_settled_count,
)
from analysis.statistics import bootstrap_ci, verdict


def test_width_of_normal_replications_shrinks_like_the_closed_form() -> None:
    # Normal replications: the 95% interval of the mean has width 2 q s_n / sqrt(n), q = t(0.975, n - 1) for
    # the t-interval; the bootstrap's is the normal-theory one with the plug-in standard deviation,
    # 2 z(0.975) s_n sqrt((n - 1) / n) / sqrt(n) (Efron & Tibshirani 1993, section 13.3), within its Monte Carlo
    # error (9,999 resamples: about 1%). Both fall like 1/sqrt(n).
    values = np.random.default_rng(11).normal(5.0, 2.0, 400)
    counts = [25, 100, 400]
    curve = replication_curve(values, seed=3, counts=counts).set_index("n")
    for n in counts:
        s = values[:n].std(ddof=1)
        bootstrap_form = 2 * stats.norm.ppf(0.975) * s * math.sqrt((n - 1) / n) / math.sqrt(n)
        t_form = 2 * stats.t.ppf(0.975, n - 1) * s / math.sqrt(n)
        assert curve.loc[n, "width"] == pytest.approx(bootstrap_form, rel=0.03)
        assert curve.loc[n, "width"] == pytest.approx(t_form, rel=0.06)
        assert curve.loc[n, "sd"] == pytest.approx(s, rel=1e-12)
        assert curve.loc[n, "mean"] == pytest.approx(values[:n].mean(), rel=1e-12)
        assert curve.loc[n, "cv"] == pytest.approx(s / values[:n].mean(), rel=1e-12)
        assert curve.loc[n, "projected_width"] == pytest.approx(curve.loc[n, "width"] * math.sqrt(n / 400))
    # Quadrupling n halves the width up to the change of s_n.
    ratio = curve.loc[100, "width"] / curve.loc[400, "width"]
    assert ratio == pytest.approx(2 * values[:100].std(ddof=1) / values.std(ddof=1), rel=0.04)


def test_curve_rows_are_the_verdicts_interval_of_the_first_n() -> None:
    values = pd.Series([3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0], index=[6, 0, 1, 2, 3, 4, 5])  # replication 6 listed first
    curve = replication_curve(values, seed=7, operator=">", threshold=1.0)
    assert list(curve.columns) == list(CURVE_COLUMNS) and curve["n"].tolist() == [2, 3, 4, 5, 6, 7]
    ordered = values.sort_index().to_numpy()
    for _, row in curve.iterrows():
        low, high = bootstrap_ci(ordered[: row["n"]], seed=7)
        assert (row["ci_low"], row["ci_high"]) == (low, high)
        assert row["width"] == high - low
        assert row["verdict"] == verdict(low, high, ">", 1.0)
    assert curve.iloc[-1]["verdict"] == "supported"  # mean 3.64 of seven values, the lowest 1


def test_curve_rejects_too_few_values_and_bad_counts() -> None:
    with pytest.raises(ValueError, match="at least two finite"):
        replication_curve([1.0, float("nan")])
    with pytest.raises(ValueError, match=r"counts \[9\] are outside 2 to 3"):
        replication_curve([1.0, 2.0, 3.0], counts=[2, 9])


def test_stabilising_count_on_constructed_series() -> None:
    # Reference 1.0 (the last value), band [0.8, 1.2]: 6 is outside (1.3), from 7 on every value is inside.
    series = pd.Series([0.5, 1.3, 0.85, 0.9, 1.1, 1.0], index=[5, 6, 7, 8, 9, 10])
    assert stabilising_count(series, tolerance=0.2, minimum=5) == 7
    # A wider band takes in 6 too; 5 (0.5) stays out.
    assert stabilising_count(series, tolerance=0.35, minimum=5) == 6
    # Order of the index does not matter; values before the minimum do not count.
    assert stabilising_count(series.iloc[::-1], tolerance=0.2, minimum=8) == 8
    # Inside everywhere: the minimum. Never settling: the largest n.
    assert stabilising_count(pd.Series([1.0, 1.1, 0.95], index=[5, 6, 7])) == 5
    assert stabilising_count(pd.Series([1.0, 3.0, 1.0, 2.0], index=[5, 6, 7, 8])) == 8
    # A zero reference (every replication equal): from where the series is 0 for good.
    assert stabilising_count(pd.Series([0.2, 0.0, 0.1, 0.0, 0.0], index=[5, 6, 7, 8, 9])) == 8
    # An explicit reference.
    assert stabilising_count(pd.Series([2.0, 2.1, 1.0], index=[5, 6, 7]), reference=2.0) == 7
    with pytest.raises(ValueError, match="tolerance"):
        stabilising_count(series, tolerance=1.5)
    with pytest.raises(ValueError, match="exceeds the largest count 10"):
        stabilising_count(series, minimum=11)


def test_decisive_count_is_the_fixed_width_sample_size() -> None:
    # Law (2015), section 9.4.1: smallest i with t(0.975, i - 1) s / sqrt(i) <= |mean - threshold|, by a plain loop.
    for sd, distance in ((1.0, 0.5), (2.0, 0.1), (1.0, 3.0), (0.3, 0.31)):
        expected = next(i for i in range(2, 100_000) if stats.t.ppf(0.975, i - 1) * sd / math.sqrt(i) <= distance)
        assert decisive_count(7.0 + distance, sd, 7.0) == expected
        assert decisive_count(7.0 - distance, sd, 7.0) == expected
        # Normal approximation n = (z s / d)^2 from below: the t quantile only adds replications.
        assert expected >= (stats.norm.ppf(0.975) * sd / distance) ** 2
    assert decisive_count(1.0, 1.0, 0.5) == 18  # (1.96 / 0.5)^2 = 15.4 with z; t(0.975, 17) / sqrt(18) = 0.497
    assert decisive_count(1.0, 0.0, 0.5) == 2
    assert decisive_count(0.5, 1.0, 0.5) is None
    assert decisive_count(0.501, 1.0, 0.5) is None  # about 3.8 million replications: beyond the limit


def test_verdict_settled_count() -> None:
    curve = pd.DataFrame({"n": [2, 3, 4, 5, 6], "verdict": ["inconclusive", "supported", "inconclusive",
                                                              "supported", "supported"]})
    assert verdict_settled_count(curve) == 5
    assert verdict_settled_count(curve.assign(verdict="refuted")) == 2


def test_curve_summary_and_figure() -> None:
    values = np.random.default_rng(5).normal(1.0, 0.5, 12)
    curve = replication_curve(values, seed=1, operator=">", threshold=0.0)
    summary = curve_summary(curve, threshold=0.0)
    indexed = curve.set_index("n")
    assert summary["replications"] == 12
    assert summary["width_5"] == indexed.loc[5, "width"] and summary["width_10"] == indexed.loc[10, "width"]
    assert summary["width_12"] == indexed.loc[12, "width"]
    assert summary["stabilising"] == stabilising_count(indexed["projected_width"])
    assert summary["verdict_settled"] == verdict_settled_count(curve)
    assert summary["decisive"] == decisive_count(values.mean(), values.std(ddof=1), 0.0)
    few = curve_summary(replication_curve([1.0, 2.0, 4.0]), threshold=None)
    assert few["stabilising"] is None and few["decisive"] is None and few["verdict_settled"] is None
    long = pd.concat([curve.assign(thesis="a", number=1, title="A"),
                      replication_curve(np.zeros(12)).assign(thesis="b", number=2, title="B")])
    fig = replication_figure(long, pd.DataFrame({"thesis": ["a", "b"], "stabilising": [summary["stabilising"], 5]}))
    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["1. A", "2. B"]
    assert any("width 0" in t.get_text() for t in visible[1].texts)


def test_stabilising_counts_over_orders_of_the_replications() -> None:
    values = np.random.default_rng(2).normal(0.0, 1.0, 12)
    counts = stabilising_counts(values, seed=4, orderings=6, n_resamples=999)
    assert counts.shape == (6,) and ((counts >= 5) & (counts <= 12)).all()
    # Each count is the stabilising count of the curve of that order (same generator, same bootstrap seed).
    order = np.random.default_rng(4).permutation(12)
    first = replication_curve(values[order], seed=4, n_resamples=999).set_index("n")["projected_width"]
    assert counts[0] == stabilising_count(first)
    assert np.array_equal(counts, stabilising_counts(values, seed=4, orderings=6, n_resamples=999))
    with pytest.raises(ValueError, match="at least 5 replications"):
        stabilising_counts(values[:4])


def test_bootstrap_coverage_with_few_replications_is_below_nominal() -> None:
    # The closed form P(|t(n-1)| <= 1.96 sqrt((n-1)/n)): 0.846 at n = 5, 0.904 at 10, 0.929 at 20.
    assert [round(normal_coverage_approximation(n), 3) for n in (5, 10, 20)] == [0.846, 0.904, 0.929]
    # Monte Carlo coverage of the verdict's interval at n = 5, within 3.5 standard errors (1,000 trials: 0.011).
    assert normal_coverage(5, trials=1000, seed=6) == pytest.approx(normal_coverage_approximation(5), abs=0.04)
