"""Run statistics, bootstrap intervals and verdicts on small frames whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.statistics import (
    StatisticError,
    bootstrap_ci,
    change,
    final,
    log_linear_slope,
    paired_difference,
    per_run,
    run_statistic,
    step_series,
    verdict,
    yearly_decline,
    yearly_growth,
)


def geometric(start: float, factor_per_year: float, steps: int) -> pd.Series:
    """x_t = start * factor^(t/12): an exact log-linear path."""
    t = np.arange(steps)
    return pd.Series(start * factor_per_year ** (t / 12.0), index=t)


def test_yearly_decline_of_a_price_that_falls_90_percent_a_year() -> None:
    # ln x_t = ln 5 + t ln(0.1)/12, so b = ln(0.1)/12 and 1 - exp(12 b) = 1 - 0.1 = 0.9.
    series = geometric(5.0, 0.1, 37)
    assert log_linear_slope(series) == pytest.approx(math.log(0.1) / 12, rel=1e-12)
    assert yearly_decline(series) == pytest.approx(0.9, rel=1e-12)
    assert yearly_growth(series) == pytest.approx(-0.9, rel=1e-12)


def test_yearly_growth_of_a_doubling() -> None:
    assert yearly_growth(geometric(3.0, 2.0, 25)) == pytest.approx(1.0, rel=1e-12)
    # Quarterly steps: 4 steps a year, x doubles every 4 steps.
    quarterly = pd.Series(2.0 ** (np.arange(9) / 4.0))
    assert yearly_growth(quarterly, steps_per_year=4) == pytest.approx(1.0, rel=1e-12)


def test_log_linear_fit_rejects_non_positive_values() -> None:
    with pytest.raises(StatisticError, match="positive"):
        log_linear_slope(pd.Series([1.0, 0.0, 2.0]))
    with pytest.raises(StatisticError, match="two steps"):
        log_linear_slope(pd.Series([1.0]))


def test_change_and_final_average_the_ends() -> None:
    series = pd.Series([1.0, 3.0, 5.0, 10.0, 20.0])
    assert change(series) == 19.0  # 20 - 1
    assert change(series, window=2) == 13.0  # (10 + 20)/2 - (1 + 3)/2
    assert final(series, window=2) == 15.0
    with pytest.raises(StatisticError, match="window"):
        change(series, window=6)


def test_step_series_sums_rows_and_divides_by_per_within_where() -> None:
    # Two segments at two steps; the share of 'a' served by specialists, by step: 2/4 then 6/8.
    run = pd.DataFrame({
        "step": [0, 0, 1, 1, 0, 1],
        "segment": ["a", "a", "a", "a", "b", "b"],
        "spec": [1.0, 1.0, 3.0, 3.0, 100.0, 100.0],
        "total": [2.0, 2.0, 4.0, 4.0, 100.0, 100.0],
    })
    series = step_series(run, "spec", per="total", where={"segment": "a"})
    assert series.tolist() == [0.5, 0.75]
    assert step_series(run, ["spec", "total"]).tolist() == [206.0, 214.0]
    logged = step_series(run, "total", where={"segment": ["a"]}, transform="log")
    assert logged.tolist() == pytest.approx([math.log(4.0), math.log(8.0)])


def test_missing_columns_are_named() -> None:
    run = pd.DataFrame({"step": [0, 1], "hhi": [1.0, 2.0]})
    with pytest.raises(StatisticError, match="cumulative_acquisitions"):
        run_statistic(run, "final", column="cumulative_acquisitions")
    with pytest.raises(StatisticError, match="unknown statistic"):
        run_statistic(run, "median", column="hhi")


def test_per_run_and_paired_difference() -> None:
    frame = pd.DataFrame({
        "replication": [0, 0, 1, 1],
        "step": [0, 1, 0, 1],
        "hhi": [1000.0, 1500.0, 2000.0, 1800.0],
    })
    values = per_run(frame, "change", by="replication", column="hhi")
    assert values.to_dict() == {0: 500.0, 1: -200.0}
    other = pd.Series({0: 100.0, 1: 100.0, 2: 7.0})
    assert paired_difference(values, other).to_dict() == {0: 400.0, 1: -300.0}
    with pytest.raises(StatisticError, match="no replication in common"):
        paired_difference(values, pd.Series({5: 1.0}))


def test_bootstrap_ci_degenerate_and_reproducible() -> None:
    assert bootstrap_ci([2.5, 2.5, 2.5]) == (2.5, 2.5)
    assert all(math.isnan(v) for v in bootstrap_ci([1.0]))
    values = [0.1, 0.4, 0.35, 0.8, 0.2, 0.55, 0.3, 0.6, 0.45, 0.25]
    low, high = bootstrap_ci(values, seed=3)
    assert (low, high) == bootstrap_ci(values, seed=3)
    assert min(values) < low < np.mean(values) < high < max(values)
    # The interval of the mean narrows like 1/sqrt(n): four copies of the data give about half the width.
    low4, high4 = bootstrap_ci(values * 4, seed=3)
    assert (high4 - low4) == pytest.approx((high - low) / 2, rel=0.2)


@pytest.mark.parametrize(
    ("low", "high", "operator", "threshold", "expected"),
    [
        (0.1, 0.3, ">", 0.0, "supported"),
        (-0.3, -0.1, ">", 0.0, "refuted"),
        (-0.1, 0.1, ">", 0.0, "inconclusive"),
        (0.0, 0.2, ">", 0.0, "inconclusive"),
        (-0.2, 0.0, ">", 0.0, "refuted"),
        (-0.3, -0.1, "<", 0.0, "supported"),
        (0.1, 0.3, "<", 0.0, "refuted"),
        (0.80, 0.90, ">", 0.785, "supported"),
        (float("nan"), float("nan"), ">", 0.0, "inconclusive"),
    ],
)
def test_verdict(low: float, high: float, operator: str, threshold: float, expected: str) -> None:
    assert verdict(low, high, operator, threshold) == expected  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------
# catch-up lag and verdicts over plausible worlds
# ---------------------------------------------------------------------------------------------------------


def test_catch_up_lag_of_a_constant_lag_is_that_lag() -> None:
    from analysis.statistics import catch_up_lag

    # Leader L_t = 2 * 1.05^t; follower = the leader 7 steps earlier: lag 7 at every step (by construction).
    t = np.arange(40, dtype=float)
    leader = pd.Series(2.0 * 1.05 ** t, index=t.astype(int))
    follower = pd.Series(2.0 * 1.05 ** (t - 7.0), index=t.astype(int))
    assert catch_up_lag(leader, follower) == pytest.approx(7.0, abs=1e-9)


def test_catch_up_lag_needs_a_growing_leader() -> None:
    from analysis.statistics import StatisticError, catch_up_lag

    flat = pd.Series(np.ones(5))
    with pytest.raises(StatisticError, match="growing leader"):
        catch_up_lag(flat, flat)


@pytest.mark.parametrize(("supported", "refuted", "inconclusive", "expected"), [
    (18, 1, 1, "robustly supported"),   # 18/20 = 90%: at the threshold
    (17, 0, 3, "conditional"),          # 85%
    (20, 0, 0, "robustly supported"),
    (1, 19, 0, "robustly refuted"),     # 95% refuted
    (0, 18, 2, "robustly refuted"),
    (10, 10, 0, "conditional"),
    (0, 0, 20, "conditional"),          # inconclusive everywhere is not robust either way
])
def test_verdict_over_worlds_uses_the_90_percent_rule(supported: int, refuted: int, inconclusive: int,
                                                      expected: str) -> None:
    from analysis.statistics import verdict_over_worlds, verdict_shares

    verdicts = ["supported"] * supported + ["refuted"] * refuted + ["inconclusive"] * inconclusive
    assert verdict_over_worlds(verdicts) == expected
    shares = verdict_shares(verdicts)
    assert shares["supported"] == pytest.approx(supported / 20)
    assert shares["refuted"] == pytest.approx(refuted / 20)
    assert shares["inconclusive"] == pytest.approx(inconclusive / 20)


def test_errors_count_against_robustness() -> None:
    from analysis.statistics import verdict_over_worlds, verdict_shares

    verdicts = ["supported"] * 9 + ["error"]
    assert verdict_shares(verdicts)["error"] == pytest.approx(0.1)
    assert verdict_over_worlds(verdicts) == "robustly supported"  # 9/10 = 90%
    assert verdict_over_worlds(["supported"] * 8 + ["error"] * 2) == "conditional"
    with pytest.raises(ValueError):
        verdict_over_worlds([])


def test_burn_in_drops_the_start_up_steps_before_the_statistic() -> None:
    # x = 100 at steps 0-1 (a transient), then 1, 2, 3, 4 at steps 2-5. Without burn-in, change(window 2) is
    # mean(3, 4) - mean(100, 100) = -96.5; with burn_in = 2 the first window is steps 2-3: 3.5 - 1.5 = 2.
    run = pd.DataFrame({"step": range(6), "x": [100.0, 100.0, 1.0, 2.0, 3.0, 4.0]})
    assert run_statistic(run, "change", column="x", window=2) == pytest.approx(-96.5)
    assert run_statistic(run, "change", column="x", window=2, burn_in=2) == pytest.approx(2.0)
    # mean over steps 2-5 = 10 / 4.
    assert run_statistic(run, "mean", column="x", burn_in=2) == pytest.approx(2.5)
    # The log-linear fit on steps 2-5 of an exact doubling a step: growth per step exp(b) - 1 = 1.
    doubling = pd.DataFrame({"step": range(6), "x": [50.0, 50.0, 1.0, 2.0, 4.0, 8.0]})
    assert run_statistic(doubling, "yearly_growth", column="x", burn_in=2, steps_per_year=1) == pytest.approx(1.0)
    with pytest.raises(StatisticError, match="burn_in = 6 leaves no step"):
        run_statistic(run, "final", column="x", burn_in=6)
    with pytest.raises(StatisticError, match="burn_in = -1"):
        run_statistic(run, "final", column="x", burn_in=-1)


def test_count_counts_matching_rows_after_burn_in_and_zero_when_none() -> None:
    events = pd.DataFrame({
        "step": [1, 3, 4, 4, 5],
        "event": ["acquisition", "acquisition", "exit", "acquisition", "acquisition"],
        "counterparty": ["specialist_1", "swarm_open", None, "challenger", "specialist_2"],
    })
    specialists = ["specialist_1", "specialist_2", "challenger"]
    # Acquisitions of specialists: steps 1, 4, 5 (3 rows); after burn-in 2: steps 4 and 5 (2 rows).
    where = {"event": "acquisition", "counterparty": specialists}
    assert run_statistic(events, "count", column="event", where=where) == 3.0
    assert run_statistic(events, "count", column="event", where=where, burn_in=2) == 2.0
    assert run_statistic(events, "count", column="event", where={"event": "merger_blocked"}) == 0.0
    with pytest.raises(StatisticError, match="takes column, where and burn_in only"):
        run_statistic(events, "count", column="event", window=2)


def test_per_where_divides_a_subset_by_the_whole() -> None:
    # Revenue share of specialists: step 0: 30 / (30 + 70) = 0.3; step 1: (20 + 40) / (20 + 50 + 40) = 6/11.
    run = pd.DataFrame({
        "step": [0, 0, 1, 1, 1],
        "kind": ["specialized", "hyperscaler", "specialized", "hyperscaler", "specialized"],
        "revenue": [30.0, 70.0, 20.0, 50.0, 40.0],
    })
    share = step_series(run, "revenue", per="revenue", where={"kind": "specialized"}, per_where={})
    assert share.tolist() == pytest.approx([0.3, 6 / 11])
    # Without per_where the denominator is filtered by where too: a share of 1.
    assert step_series(run, "revenue", per="revenue", where={"kind": "specialized"}).tolist() == [1.0, 1.0]
