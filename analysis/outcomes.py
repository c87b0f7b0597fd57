"""Outcomes of a sweep's runs: one number per run, then averaged over replications at each design point.

An :class:`Outcome` is a statistic of :mod:`analysis.statistics` (``final``, ``change``, ``yearly_decline``, ...)
of one column of one table, the same reduction the theses use. :func:`point_outcomes` applies it to every
finished run of a sweep directory and averages the replications of each design point; :func:`replication_noise`
compares the variance that seed noise leaves in those means with the variance across points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.results import DESIGN_FILE, PLAN_FILE, load_sweep, sweep_dataset, sweep_manifest
from analysis.statistics import STATISTICS, StatisticError, per_run


@dataclass(frozen=True)
class Outcome:
    """A run statistic: ``statistic`` of the per-step series of ``column`` in ``table``.

    Attributes:
        statistic: Name in :data:`analysis.statistics.STATISTICS`.
        column: Column summed per step.
        table: Table the column comes from (``model``, ``providers``, ...).
        params: Extra parameters of the statistic (``window``, ``steps_per_year``).
    """

    statistic: str
    column: str = "hhi"
    table: str = "model"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise StatisticError(f"unknown statistic '{self.statistic}' (choose from {', '.join(sorted(STATISTICS))})")

    @property
    def label(self) -> str:
        """Human-readable name, e.g. ``change of hhi (window 6)``."""
        extra = ", ".join(f"{k} {v}" for k, v in self.params.items())
        return f"{self.statistic} of {self.column}" + (f" ({extra})" if extra else "")


def sweep_plan(directory: str | Path) -> pd.DataFrame:
    """The sweep's plan (run_id, point, replication, seed, parameter values).

    Raises:
        FileNotFoundError: ``directory`` holds no plan.
    """
    path = Path(directory) / PLAN_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: no {PLAN_FILE} (not a sweep directory)")
    return pd.read_parquet(path)


def sweep_parameters(directory: str | Path) -> list[str]:
    """Names of the sweep's parameters, in design order."""
    manifest = sweep_manifest(directory)
    return [p["name"] for p in manifest.get("sweep", {}).get("parameters", [])]


def unit_design(directory: str | Path) -> pd.DataFrame:
    """The sampled design on the unit cube, one row per point (index ``point``), as the sweep stored it.

    Raises:
        ValueError: The sweep stored no sample (a grid, or a sweep made before designs were stored).
    """
    path = Path(directory) / DESIGN_FILE
    if not path.is_file():
        method = sweep_manifest(directory).get("sweep", {}).get("design", {}).get("method")
        raise ValueError(f"{directory}: no {DESIGN_FILE}: a '{method}' sweep stores no sampled design "
                         "(sobol and morris sweeps run with this version do)")
    return pd.read_parquet(path).set_index("point").sort_index()


def run_outcomes(directory: str | Path, outcome: Outcome) -> pd.DataFrame:
    """The outcome of every finished run, with its point and replication.

    Returns:
        Columns run_id, point, replication, value (one row per finished run).

    Raises:
        StatisticError: The table lacks the column, or the statistic cannot be computed.
    """
    try:
        names = sweep_dataset(directory, outcome.table).schema.names
    except FileNotFoundError as exc:
        raise StatisticError(str(exc)) from None
    if outcome.column not in names:
        raise StatisticError(f"table '{outcome.table}' has no column '{outcome.column}' "
                             f"(have: {', '.join(n for n in names if n not in ('run_id', 'seed'))})")
    frame = load_sweep(directory, outcome.table, columns=["run_id", "step", outcome.column])
    values = per_run(frame, outcome.statistic, by="run_id", column=outcome.column, **outcome.params)
    plan = sweep_plan(directory)[["run_id", "point", "replication"]]
    out = plan.merge(values.rename("value"), left_on="run_id", right_index=True, how="inner")
    return out.reset_index(drop=True)


def point_outcomes(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, variance and count of the outcome over the replications of each point (index: point)."""
    grouped = runs.groupby("point", sort=True)["value"]
    return pd.DataFrame({"mean": grouped.mean(), "var": grouped.var(ddof=1), "n": grouped.count()})


@dataclass(frozen=True)
class ReplicationNoise:
    """Seed noise in the point means against their spread across points.

    Attributes:
        noise_var: Variance that seed noise leaves in a point's mean outcome, in the part that differs between
            points (nan with one replication). Without common random numbers it is the mean within-point
            variance divided by the replications. With common random numbers replication r has the same seed
            at every point, so a seed's effect common to all points cancels from every comparison of points;
            what remains is the residual of the additive model value[p, r] = m + a_p + b_r + e[p, r]: its mean
            square sum(e^2) / ((P - 1)(R - 1)), divided by the replications R (balanced points only).
        across_var: Variance of the point means across the design.
        replications: Replications per point (the smallest count).
        common: Whether the sweep used common random numbers.
    """

    noise_var: float
    across_var: float
    replications: int
    common: bool = False

    @property
    def share(self) -> float:
        """Share of the variance across point means that seed noise could explain (nan if unknown)."""
        if not np.isfinite(self.noise_var) or not self.across_var > 0:
            return float("nan")
        return float(self.noise_var / self.across_var)

    def message(self) -> str:
        """One sentence with the numbers."""
        if self.replications < 2:
            return ("one replication per point: the seed noise in each point's outcome cannot be estimated, and "
                    "indices below the noise share are meaningless; sweep with replications >= 2")
        kind = "seed-by-point residual, common random numbers" if self.common else "within-point variance"
        return (f"replication noise: variance of a point's mean from seeds {self.noise_var:.4g} ({kind}, "
                f"{self.replications} replications) vs variance across points {self.across_var:.4g}: "
                f"{self.share:.1%} of the spread")


def replication_noise(runs: pd.DataFrame, common: bool = False) -> ReplicationNoise:
    """Compare seed noise in point means with the variance across points (see :class:`ReplicationNoise`).

    Args:
        runs: One row per run: point, replication, value.
        common: Whether replication r used the same seed at every point.
    """
    points = point_outcomes(runs)
    reps = int(points["n"].min()) if len(points) else 0
    across = float(points["mean"].var(ddof=1)) if len(points) > 1 else float("nan")
    if reps < 2:
        return ReplicationNoise(float("nan"), across, reps, common)
    if not common:
        return ReplicationNoise(float((points["var"] / points["n"]).mean()), across, reps, common)
    wide = runs.pivot_table(index="point", columns="replication", values="value").dropna()
    n_points, n_reps = wide.shape
    if n_points < 2:
        return ReplicationNoise(float("nan"), across, reps, common)
    values = wide.to_numpy(dtype=float)
    residual = (values - values.mean(axis=1, keepdims=True) - values.mean(axis=0, keepdims=True) + values.mean())
    mean_square = float((residual**2).sum() / ((n_points - 1) * (n_reps - 1)))
    return ReplicationNoise(mean_square / n_reps, across, n_reps, common)
