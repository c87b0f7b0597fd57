"""Global sensitivity analysis of a sweep with SALib: Sobol indices and Morris elementary effects.

The sweep must have been sampled with the matching design (``design.method = "sobol"`` or ``"morris"``): the
design (the SALib problem on the unit cube and the sample, ``design.parquet``) is read back from the sweep
directory. Each run is reduced to one number by an :class:`~analysis.outcomes.Outcome` (the statistics the
theses use), the replications of a design point are averaged, and SALib's analyzer turns the point means into
indices with bootstrap 95% intervals::

    from analysis.outcomes import Outcome
    from analysis.sensitivity import analyze_sweep

    result = analyze_sweep("results/parity_sobol", "sobol", Outcome("change", "hhi", params={"window": 6}))
    result.table          # parameter, index, estimate, ci_low, ci_high

Sobol indices (Saltelli 2010 estimators in SALib): ``S1`` the share of the outcome's variance due to a parameter
alone, ``ST`` including its interactions. Morris (SALib ``morris.analyze``): ``mu_star`` the mean absolute
elementary effect (outcome change per full range of the parameter), ``sigma`` their spread (non-linearity or
interactions). Replication noise that is comparable to the indices is reported as a warning with its numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.outcomes import (
    Outcome,
    ReplicationNoise,
    point_outcomes,
    replication_noise,
    run_outcomes,
    sweep_parameters,
    unit_design,
)
from analysis.results import sweep_manifest

Method = Literal["sobol", "morris"]
TABLE_COLUMNS: tuple[str, ...] = ("parameter", "index", "estimate", "ci_low", "ci_high")
NOISE_WARNING_SHARE = 0.1
"""Warn when seed noise could explain more than this share of the spread of the point means."""


def sobol_table(problem: dict[str, Any], y: np.ndarray, *, calc_second_order: bool = False, seed: int = 0,
                num_resamples: int = 1000) -> pd.DataFrame:
    """First-order and total Sobol indices with bootstrap 95% intervals (``SALib.analyze.sobol``).

    Args:
        problem: SALib problem (``num_vars``, ``names``, ``bounds``).
        y: Outputs in the order of SALib's Saltelli sample, N * (k + 2) (or N * (2k + 2)) values.
        calc_second_order: Whether the sample includes the second-order rows.
        seed: Seed of the bootstrap.
        num_resamples: Bootstrap resamples.

    Returns:
        Tidy rows: parameter, index (``S1``/``ST``), estimate, ci_low, ci_high.
    """
    from SALib.analyze import sobol

    k = problem["num_vars"]
    step = 2 * k + 2 if calc_second_order else k + 2
    if len(y) % step:
        raise ValueError(f"{len(y)} outcomes do not form a Saltelli sample of {k} parameters (a multiple of {step})")
    res = sobol.analyze(problem, np.asarray(y, dtype=float), calc_second_order=calc_second_order,
                        num_resamples=num_resamples, conf_level=0.95, seed=seed, print_to_console=False)
    rows = []
    for index in ("S1", "ST"):
        for name, est, half in zip(problem["names"], res[index], res[f"{index}_conf"], strict=True):
            rows.append((name, index, float(est), float(est - half), float(est + half)))
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def morris_table(problem: dict[str, Any], x: np.ndarray, y: np.ndarray, *, num_levels: int = 4, seed: int = 0,
                 num_resamples: int = 1000) -> pd.DataFrame:
    """Morris ``mu_star`` (with bootstrap 95% interval), ``mu`` and ``sigma`` (``SALib.analyze.morris``).

    Args:
        problem: SALib problem; ``x`` in its bounds (the unit cube for a sweep's design).
        x: The Morris sample, trajectories of k + 1 rows.
        y: Outputs, one per row of ``x``.
        num_levels: Grid levels the sample was drawn with.
        seed: Seed of the bootstrap.
        num_resamples: Bootstrap resamples.
    """
    from SALib.analyze import morris

    res = morris.analyze(problem, np.asarray(x, dtype=float), np.asarray(y, dtype=float), num_levels=num_levels,
                         num_resamples=num_resamples, conf_level=0.95, seed=seed, print_to_console=False)
    rows = []
    for i, name in enumerate(problem["names"]):
        mu_star, half = float(res["mu_star"][i]), float(res["mu_star_conf"][i])
        rows.append((name, "mu_star", mu_star, mu_star - half, mu_star + half))
        rows.append((name, "mu", float(res["mu"][i]), float("nan"), float("nan")))
        rows.append((name, "sigma", float(res["sigma"][i]), float("nan"), float("nan")))
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


@dataclass
class SensitivityResult:
    """Indices of one outcome of one sweep.

    Attributes:
        method: ``sobol`` or ``morris``.
        outcome: The outcome analysed.
        table: Tidy indices: parameter, index, estimate, ci_low, ci_high.
        points: Point means, variances and counts of the outcome.
        noise: Seed noise against the spread across points.
        warnings: Messages for the user (noise, unresolved intervals).
        sweep: The sweep's name.
    """

    method: Method
    outcome: Outcome
    table: pd.DataFrame
    points: pd.DataFrame
    noise: ReplicationNoise
    warnings: list[str] = field(default_factory=list)
    sweep: str = ""

    @property
    def main_index(self) -> str:
        """The index that ranks the parameters: ``ST`` (Sobol) or ``mu_star`` (Morris)."""
        return "ST" if self.method == "sobol" else "mu_star"

    def ranking(self, index: str | None = None) -> pd.DataFrame:
        """Rows of one index, largest estimate first, with ``resolved`` (interval narrower than the estimate)."""
        rows = self.table[self.table["index"] == (index or self.main_index)].sort_values(
            "estimate", ascending=False, kind="stable")
        half = (rows["ci_high"] - rows["ci_low"]) / 2.0
        return rows.assign(resolved=half < rows["estimate"].abs()).reset_index(drop=True)

    def summary(self) -> list[str]:
        """Lines saying whether every interval is narrower than its index, then the warnings."""
        lines = []
        indices = ("S1", "ST") if self.method == "sobol" else ("mu_star",)
        for index in indices:
            ranked = self.ranking(index)
            unresolved = list(ranked.loc[~ranked["resolved"], "parameter"])
            order = " > ".join(ranked["parameter"])
            if not unresolved:
                lines.append(f"{index}: every 95% interval is narrower than its index (half-width < estimate); "
                             f"ranking {order}")
            else:
                lines.append(f"{index}: ranking {order}; the 95% interval is wider than the index for "
                             f"{', '.join(unresolved)} (not distinguishable from zero)")
        return lines + self.warnings


def analyze_sweep(directory: str | Path, method: Method, outcome: Outcome, *, seed: int = 0) -> SensitivityResult:
    """Sobol or Morris indices of ``outcome`` over a sweep's design (see the module docstring).

    Raises:
        ValueError: The sweep's design does not match ``method``, or a design point has no finished run.
        StatisticError: The outcome cannot be computed from the runs.
    """
    if method not in ("sobol", "morris"):
        raise ValueError(f"method '{method}' is not a sensitivity method (choose sobol or morris)")
    manifest = sweep_manifest(directory)
    design = manifest.get("sweep", {}).get("design", {})
    if design.get("method") != method:
        raise ValueError(f"{directory}: the sweep's design is '{design.get('method')}', not '{method}': "
                         f"{method} indices need a {method} sample (design.method = \"{method}\")")
    names = sweep_parameters(directory)
    problem = manifest.get("salib_problem") or {"num_vars": len(names), "names": names,
                                                "bounds": [[0.0, 1.0]] * len(names)}
    runs = run_outcomes(directory, outcome)
    points = point_outcomes(runs)
    sample = unit_design(directory)
    missing = sample.index.difference(points.index)
    if len(missing):
        shown = ", ".join(str(p) for p in missing[:10])
        raise ValueError(f"{directory}: {len(missing)} design point(s) have no finished run (e.g. {shown}); "
                         "resume the sweep first (ieco sweep ... --resume)")
    y = points["mean"].reindex(sample.index).to_numpy(dtype=float)
    if not np.all(np.isfinite(y)):
        bad = sample.index[~np.isfinite(y)][:10]
        raise ValueError(f"{outcome.label} is not finite at design point(s) {', '.join(map(str, bad))}")
    if method == "sobol":
        table = sobol_table(problem, y, calc_second_order=bool(design.get("calc_second_order")), seed=seed)
    else:
        table = morris_table(problem, sample[problem["names"]].to_numpy(), y,
                             num_levels=int(design.get("num_levels", 4)), seed=seed)
    noise = replication_noise(runs, common=bool(manifest.get("common_random_numbers", False)))
    result = SensitivityResult(method, outcome, table, points, noise, sweep=str(manifest.get("name", "")))
    result.warnings = noise_warnings(result)
    return result


def noise_warnings(result: SensitivityResult) -> list[str]:
    """Warnings when seed noise is comparable to the indices (with the numbers)."""
    noise = result.noise
    if noise.replications < 2:
        return [f"warning: {noise.message()}"]
    if not np.isfinite(noise.share) or noise.share <= NOISE_WARNING_SHARE:
        return [noise.message()]
    out = [f"warning: {noise.message()}"]
    if result.method == "sobol":
        small = result.ranking("ST")
        small = small[small["estimate"] < noise.share]
        if len(small):
            out.append(f"warning: ST of {', '.join(small['parameter'])} below the noise share {noise.share:.2f}: "
                       "indistinguishable from seed noise; add replications")
    return out


def sensitivity_markdown(result: SensitivityResult) -> str:
    """The indices and the summary as Markdown."""
    lines = [f"# {result.method.capitalize()} sensitivity of {result.outcome.label}", "",
             f"Sweep `{result.sweep}`: {len(result.points)} design points, "
             f"{int(result.points['n'].sum())} runs; intervals are bootstrap 95%.", "",
             "| parameter | index | estimate | 95% CI |", "|---|---|---|---|"]
    for _, row in result.table.iterrows():
        ci = "-" if not np.isfinite(row["ci_low"]) else f"[{row['ci_low']:.4g}, {row['ci_high']:.4g}]"
        lines.append(f"| {row['parameter']} | {row['index']} | {row['estimate']:.4g} | {ci} |")
    lines += ["", *[f"- {line}" for line in result.summary()], ""]
    return "\n".join(lines)


def write_sensitivity(result: SensitivityResult, out: str | Path) -> list[Path]:
    """Write ``sensitivity.parquet``, ``sensitivity.md`` and ``sensitivity.png`` (ranked bars) to ``out``."""
    from analysis.style import save_figure
    from analysis.sweep_plots import sensitivity_figure

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    paths = [root / "sensitivity.parquet", root / "sensitivity.md", root / "sensitivity.png"]
    result.table.to_parquet(paths[0], index=False)
    paths[1].write_text(sensitivity_markdown(result))
    save_figure(sensitivity_figure(result), paths[2])
    return paths
