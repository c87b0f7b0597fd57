"""Statistics of runs and their uncertainty: pure functions on DataFrames.

A *run statistic* turns one run's table into one number. Tables are first reduced to a series by step:
the named column(s) summed over the rows of each step that pass ``where`` (one row per step in the model
table; several in the provider or enterprise tables), optionally divided by the sum of ``per`` columns::

    x_t = sum_{rows at t, where} column / sum_{rows at t, per_where} per       (per_where = where by default)

Statistics of that series (``STATISTICS``, chosen by name):

* ``yearly_decline``: 1 - exp(k * b) where b is the OLS slope of ln x_t on t and k steps make a year; a
  price that falls 90% a year has yearly_decline 0.9.
* ``yearly_growth``: exp(k * b) - 1 (the same fit; 1.0 is a doubling a year).
* ``change``: mean of the last ``window`` steps minus mean of the first ``window`` steps.
* ``final``: mean of the last ``window`` steps; ``mean``: mean over all steps.
* ``count`` (:data:`ROW_STATISTICS`, on the rows rather than the series): the number of rows passing ``where``
  whose ``column`` is not null, e.g. the acquisition events of a run.

``burn_in = B`` drops the steps before step B (the start-up transient, docs/ODD.md section 5) before any
statistic: ``change`` then compares the first ``window`` steps after burn-in with the last ``window``.

``transform = "log"`` applies ln to x_t before ``change``, ``final`` or ``mean`` (a difference of logs is a
log ratio). Across replications the estimate is the mean, with a bootstrap confidence interval
(:func:`bootstrap_ci`), and a claim ``estimate > threshold`` is judged by :func:`verdict`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

Operator = Literal[">", "<"]
Verdict = Literal["supported", "refuted", "inconclusive"]


class StatisticError(ValueError):
    """A statistic cannot be computed from the data (missing column, too few steps, bad values)."""


def step_series(
    run: pd.DataFrame,
    column: str | Sequence[str],
    *,
    per: str | Sequence[str] | None = None,
    where: Mapping[str, Any] | None = None,
    transform: Literal["log"] | None = None,
    per_where: Mapping[str, Any] | None = None,
) -> pd.Series:
    """One run's quantity by step: summed ``column`` (over rows passing ``where``), divided by summed ``per``.

    Args:
        run: Rows of one run with a ``step`` column.
        column: Column or columns to sum.
        per: Column or columns whose sum divides (a share or an average), or None.
        where: Keep rows whose columns equal these values (a list value means any of them).
        transform: ``"log"`` takes the natural logarithm of the result.
        per_where: Filter of the rows whose ``per`` is summed, if not ``where`` (``{}``: every row), so a
            share of a subset in the whole is ``column`` over ``where`` divided by ``per`` over ``per_where``.

    Raises:
        StatisticError: A named column is missing, no row passes ``where``, or a log of a non-positive value.
    """
    columns = [column] if isinstance(column, str) else list(column)
    per_columns = [] if per is None else [per] if isinstance(per, str) else list(per)
    needed = ["step", *columns, *per_columns, *(where or {}), *(per_where or {})]
    missing = [c for c in dict.fromkeys(needed) if c not in run.columns]
    if missing:
        have = ", ".join(map(str, run.columns))
        raise StatisticError(f"no column(s) {', '.join(missing)} in the table (have: {have})")
    rows = _filtered(run, where)
    if rows.empty:
        raise StatisticError(f"no rows where {dict(where or {})}")
    grouped = rows.groupby("step", sort=True)
    series = grouped[columns].sum().sum(axis=1)
    if per_columns:
        per_rows = grouped if per_where is None else _filtered(run, per_where).groupby("step", sort=True)
        denominator = per_rows[per_columns].sum().sum(axis=1).reindex(series.index)
        series = series / denominator.where(denominator != 0)
    series = series.astype(float)
    if transform == "log":
        if (series <= 0).any():
            raise StatisticError(f"log of a non-positive value of {columns} at step {int(series.idxmin())}")
        series = np.log(series)
    return series


def _filtered(run: pd.DataFrame, where: Mapping[str, Any] | None) -> pd.DataFrame:
    """Rows whose columns equal the values of ``where`` (a list value means any of them)."""
    rows = run
    for key, value in (where or {}).items():
        rows = rows[rows[key].isin(value if isinstance(value, list | tuple) else [value])]
    return rows


def log_linear_slope(series: pd.Series) -> float:
    """OLS slope b of ln(x_t) = a + b t, with t the series index (steps).

    Raises:
        StatisticError: Fewer than two finite points, or a non-positive value.
    """
    values = series.dropna()
    if len(values) < 2:
        raise StatisticError(f"a log-linear fit needs at least two steps, got {len(values)}")
    if (values <= 0).any():
        raise StatisticError(f"a log-linear fit needs positive values; step {int(values.idxmin())} has {values.min()}")
    t = values.index.to_numpy(dtype=float)
    y = np.log(values.to_numpy(dtype=float))
    return float(np.polyfit(t, y, 1)[0])


def yearly_decline(series: pd.Series, steps_per_year: float = 12.0) -> float:
    """1 - exp(steps_per_year * b): the fraction by which the fitted trend falls in a year."""
    return float(1.0 - np.exp(steps_per_year * log_linear_slope(series)))


def yearly_growth(series: pd.Series, steps_per_year: float = 12.0) -> float:
    """exp(steps_per_year * b) - 1: the fitted trend's growth in a year."""
    return float(np.exp(steps_per_year * log_linear_slope(series)) - 1.0)


def change(series: pd.Series, window: int = 1) -> float:
    """Mean of the last ``window`` steps minus mean of the first ``window`` steps."""
    _check_window(series, window)
    return float(series.iloc[-window:].mean() - series.iloc[:window].mean())


def final(series: pd.Series, window: int = 1) -> float:
    """Mean of the last ``window`` steps."""
    _check_window(series, window)
    return float(series.iloc[-window:].mean())


def mean(series: pd.Series) -> float:
    """Mean over all steps."""
    return float(series.mean())


def _check_window(series: pd.Series, window: int) -> None:
    if window < 1 or window > len(series):
        raise StatisticError(f"window = {window} must be between 1 and the number of steps ({len(series)})")


STATISTICS: dict[str, Callable[..., float]] = {
    "yearly_decline": yearly_decline,
    "yearly_growth": yearly_growth,
    "change": change,
    "final": final,
    "mean": mean,
}
"""Statistics of a run's series, by the name a thesis file uses."""


def after_burn_in(series: pd.Series, burn_in: int = 0) -> pd.Series:
    """The steps of ``series`` from step ``burn_in`` on (the index is the step; step 0 is the start).

    Raises:
        StatisticError: A negative burn-in, or no step left after it.
    """
    if burn_in < 0:
        raise StatisticError(f"burn_in = {burn_in} must be at least 0")
    kept = series[series.index >= burn_in]
    if kept.empty:
        raise StatisticError(f"burn_in = {burn_in} leaves no step (the last step is {series.index.max()})")
    return kept


def count_rows(
    run: pd.DataFrame, column: str | Sequence[str], *, where: Mapping[str, Any] | None = None, burn_in: int = 0
) -> float:
    """Number of rows from step ``burn_in`` on that pass ``where`` and whose ``column`` is not null.

    No matching row counts 0 (a run without acquisitions has 0 acquisitions).

    Raises:
        StatisticError: A named column is missing, or a negative burn-in.
    """
    columns = [column] if isinstance(column, str) else list(column)
    missing = [c for c in dict.fromkeys(["step", *columns, *(where or {})]) if c not in run.columns]
    if missing:
        raise StatisticError(f"no column(s) {', '.join(missing)} in the table")
    if burn_in < 0:
        raise StatisticError(f"burn_in = {burn_in} must be at least 0")
    rows = _filtered(run[run["step"] >= burn_in], where)
    return float(rows[columns].notna().all(axis=1).sum())


ROW_STATISTICS: dict[str, Callable[..., float]] = {"count": count_rows}
"""Statistics of a run's rows rather than of its step series, by name."""


def run_statistic(
    run: pd.DataFrame,
    name: str,
    *,
    column: str | Sequence[str],
    per: str | Sequence[str] | None = None,
    where: Mapping[str, Any] | None = None,
    transform: Literal["log"] | None = None,
    per_where: Mapping[str, Any] | None = None,
    burn_in: int = 0,
    **params: Any,
) -> float:
    """Statistic ``name`` of one run: :func:`step_series` from step ``burn_in`` on, then
    ``STATISTICS[name](series, **params)``; or ``ROW_STATISTICS[name]`` of the run's rows.

    Raises:
        StatisticError: Unknown statistic, bad parameters, or data it cannot be computed from.
    """
    if name in ROW_STATISTICS:
        if per is not None or transform is not None or per_where is not None or params:
            raise StatisticError(f"statistic '{name}' takes column, where and burn_in only")
        return ROW_STATISTICS[name](run, column, where=where, burn_in=burn_in)
    if name not in STATISTICS:
        known = ", ".join(sorted([*STATISTICS, *ROW_STATISTICS]))
        raise StatisticError(f"unknown statistic '{name}' (choose from {known})")
    series = after_burn_in(step_series(run, column, per=per, where=where, transform=transform, per_where=per_where),
                           burn_in)
    try:
        return STATISTICS[name](series, **params)
    except TypeError as exc:
        raise StatisticError(f"statistic '{name}': {exc}") from None


def per_run(frame: pd.DataFrame, name: str, *, by: str = "run_id", **spec: Any) -> pd.Series:
    """:func:`run_statistic` of every run in ``frame``, indexed by ``by`` (e.g. ``run_id`` or ``replication``)."""
    if by not in frame.columns:
        raise StatisticError(f"no column '{by}' to group runs by")
    return pd.Series({key: run_statistic(group, name, **spec) for key, group in frame.groupby(by, sort=True)},
                     name=name, dtype=float)


def paired_difference(a: pd.Series, b: pd.Series) -> pd.Series:
    """``a - b`` over the keys (replications) both have; unmatched keys are dropped.

    Raises:
        StatisticError: The two share no key.
    """
    common = a.index.intersection(b.index)
    if common.empty:
        raise StatisticError("the two scenarios have no replication in common")
    return (a.loc[common] - b.loc[common]).rename("difference")


def bootstrap_ci(
    values: Sequence[float] | np.ndarray | pd.Series,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    seed: int = 0,
) -> tuple[float, float]:
    """Bootstrap confidence interval of the mean (BCa; percentile where BCa is undefined).

    The resampling uses a generator seeded with ``seed``, so the interval is reproducible. All-equal values
    give the degenerate interval (v, v); fewer than two values give (nan, nan).
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return (float("nan"), float("nan"))
    if np.all(x == x[0]):
        return (float(x[0]), float(x[0]))
    low, high = float("nan"), float("nan")
    for method in ("BCa", "percentile"):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = stats.bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                                     method=method, rng=np.random.default_rng(seed))
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if np.isfinite(low) and np.isfinite(high):
            break
    return (low, high)


def verdict(low: float, high: float, operator: Operator, threshold: float) -> Verdict:
    """Judge the claim ``statistic <operator> threshold`` by its confidence interval [low, high].

    ``supported`` if the whole interval lies on the claimed side (strictly), ``refuted`` if it lies wholly
    on the other side (ties count against the claim), ``inconclusive`` otherwise or if it is undefined.
    """
    if not (np.isfinite(low) and np.isfinite(high)):
        return "inconclusive"
    if operator == ">":
        return "supported" if low > threshold else "refuted" if high <= threshold else "inconclusive"
    if operator == "<":
        return "supported" if high < threshold else "refuted" if low >= threshold else "inconclusive"
    raise ValueError(f"operator must be '>' or '<', got {operator!r}")


def catch_up_lag(leader: pd.Series, follower: pd.Series) -> float:
    """Mean lag, in steps, of a follower behind an exponentially growing leader (e.g. open vs frontier quality).

    With the leader on its fitted trend ln L_t = a + b t, a follower at F_t equals the leader of
    ``lag_t = ln(L_t / F_t) / b`` steps earlier; the statistic is the mean of lag_t over the steps both have.

    Raises:
        StatisticError: The leader does not grow (b <= 0), or a non-positive value.
    """
    common = leader.dropna().index.intersection(follower.dropna().index)
    lead, follow = leader.loc[common].astype(float), follower.loc[common].astype(float)
    if (follow <= 0).any():
        raise StatisticError("a catch-up lag needs positive follower values")
    slope = log_linear_slope(lead)
    if slope <= 0:
        raise StatisticError(f"a catch-up lag needs a growing leader; its log-linear slope is {slope:.3g}")
    return float(np.mean(np.log(lead.to_numpy() / follow.to_numpy())) / slope)


WorldVerdict = Literal["robustly supported", "robustly refuted", "conditional"]
ROBUST_SHARE = 0.9
"""Share of plausible worlds in which a thesis must be supported (refuted) to be robustly supported (refuted)."""


def verdict_shares(verdicts: Sequence[str]) -> dict[str, float]:
    """Shares of worlds whose verdict is supported, refuted, inconclusive, and anything else (``error``).

    Raises:
        ValueError: No verdicts.
    """
    if len(verdicts) == 0:
        raise ValueError("no per-world verdicts to summarise")
    n = len(verdicts)
    shares = {kind: sum(v == kind for v in verdicts) / n for kind in ("supported", "refuted", "inconclusive")}
    shares["error"] = 1.0 - sum(shares.values())
    return shares


def verdict_over_worlds(verdicts: Sequence[str], robust_share: float = ROBUST_SHARE) -> WorldVerdict:
    """A thesis's verdict over plausible worlds from its verdict in each world.

    ``robustly supported`` when supported in at least ``robust_share`` of the worlds, ``robustly refuted``
    when refuted in at least that share, ``conditional`` otherwise (it holds in some worlds and not others,
    or the evidence is inconclusive in too many).
    """
    if not 0.5 < robust_share <= 1.0:
        raise ValueError(f"robust_share must be in (0.5, 1], got {robust_share}")
    shares = verdict_shares(verdicts)
    tol = 1e-12  # shares are k/n: compare with a tolerance, so 18/20 counts as 0.9
    if shares["supported"] >= robust_share - tol:
        return "robustly supported"
    if shares["refuted"] >= robust_share - tol:
        return "robustly refuted"
    return "conditional"
