"""Scenario discovery on a sweep: where in parameter space does a claim hold? (PRIM and feature scoring)

A claim is a thesis-style comparison of an outcome with a threshold, e.g. ``change of hhi > 0``. Each design
point's outcome is the mean over its replications (as in :mod:`analysis.sensitivity`); the point is a *case of
interest* when the claim holds there. PRIM (Friedman and Fisher 1999, through EMA Workbench's
``ema_workbench.analysis.prim``) peels the parameter box step by step towards the cases of interest; every box
on the peeling trajectory trades coverage (share of all cases of interest inside the box) against density
(share of cases inside the box that are of interest). The box reported is the one with the highest coverage
among those with density >= ``threshold`` (the highest density if none reaches it). Feature scoring (EMA's
``feature_scoring``, extra-trees importance with a fixed seed) ranks the parameters as a second view.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal

import numpy as np
import pandas as pd

from analysis.outcomes import Outcome, point_outcomes, run_outcomes, sweep_parameters, sweep_plan
from analysis.results import sweep_manifest

Operator = Literal[">", "<"]


def _ema() -> tuple[ModuleType, ModuleType]:
    """EMA Workbench's prim and feature_scoring modules, imported without its import-time warnings or logs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import feature_scoring, prim
    logging.getLogger("EMA").setLevel(logging.WARNING)
    return prim, feature_scoring


@dataclass(frozen=True)
class Claim:
    """``outcome <operator> threshold``."""

    operator: Operator
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Claim:
        """Read ``">0"``, ``"< 0.5"`` and the like.

        Raises:
            ValueError: Not an operator (``>`` or ``<``) followed by a number.
        """
        stripped = text.strip()
        if not stripped or stripped[0] not in "<>":
            raise ValueError(f"claim '{text}' must start with '>' or '<' (e.g. '>0')")
        try:
            threshold = float(stripped[1:])
        except ValueError:
            raise ValueError(f"claim '{text}': '{stripped[1:].strip()}' is not a number") from None
        return cls(stripped[0], threshold)  # type: ignore[arg-type]

    def holds(self, values: np.ndarray | pd.Series) -> np.ndarray:
        """Whether the claim holds for each value."""
        v = np.asarray(values, dtype=float)
        return v > self.threshold if self.operator == ">" else v < self.threshold

    def __str__(self) -> str:
        return f"{self.operator} {self.threshold:g}"


@dataclass
class PrimBox:
    """The box PRIM found, with its trajectory.

    Attributes:
        limits: One row per parameter: low, high and whether PRIM restricted it.
        coverage: Share of all cases of interest inside the box.
        density: Share of the cases inside the box that are of interest.
        mass: Share of all cases inside the box.
        trajectory: The peeling (and pasting) trajectory: coverage, density, mass, res_dim per box.
        chosen: Row of the trajectory the box is.
    """

    limits: pd.DataFrame
    coverage: float
    density: float
    mass: float
    trajectory: pd.DataFrame
    chosen: int


def find_box(x: pd.DataFrame, y: np.ndarray, *, threshold: float = 0.8, peel_alpha: float = 0.05,
             mass_min: float = 0.05) -> PrimBox:
    """Run PRIM on cases ``x`` (one column per parameter) with cases of interest ``y`` (booleans).

    Raises:
        ValueError: ``y`` has no case of interest, or every case is one (there is nothing to discover).
    """
    y = np.asarray(y, dtype=bool)
    if not y.any() or y.all():
        raise ValueError(f"the claim holds in {int(y.sum())} of {len(y)} cases: PRIM needs cases on both sides")
    prim, _ = _ema()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        finder = prim.Prim(x.astype(float).reset_index(drop=True), y, threshold=threshold, peel_alpha=peel_alpha,
                           mass_min=mass_min)
        box = finder.find_box()
    trajectory = box.peeling_trajectory.reset_index(drop=True)
    dense = trajectory[trajectory["density"] >= threshold]
    chosen = int(dense["coverage"].idxmax()) if len(dense) else int(trajectory["density"].idxmax())
    lims = box.box_lims[chosen]
    initial = finder.box_init
    limits = pd.DataFrame({
        "low": lims.loc[0].astype(float), "high": lims.loc[1].astype(float),
        "restricted": (lims.loc[0] != initial.loc[0]) | (lims.loc[1] != initial.loc[1]),
    })
    limits.index.name = "parameter"
    row = trajectory.loc[chosen]
    return PrimBox(limits, float(row["coverage"]), float(row["density"]), float(row["mass"]), trajectory, chosen)


def feature_scores(x: pd.DataFrame, y: np.ndarray, seed: int = 0) -> pd.Series:
    """Extra-trees feature scores of the parameters for the claim (EMA's ``get_ex_feature_scores``)."""
    _, scoring = _ema()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores, _ = scoring.get_ex_feature_scores(x.astype(float).reset_index(drop=True),
                                                  np.asarray(y, dtype=int),
                                                  mode=scoring.RuleInductionType.CLASSIFICATION,
                                                  max_features=max(1, round(x.shape[1] / 3)),  # EMA's default,
                                                  random_state=seed)                           # never 0
    return scores.iloc[:, 0].rename("score").sort_values(ascending=False)


@dataclass
class DiscoveryResult:
    """Scenario discovery of one claim on one sweep.

    Attributes:
        outcome: The outcome the claim is about.
        claim: The claim.
        cases: One row per design point: the parameters, the mean outcome and whether the claim holds.
        box: The PRIM box.
        scores: Feature scores by parameter, largest first.
        sweep: The sweep's name.
    """

    outcome: Outcome
    claim: Claim
    cases: pd.DataFrame
    box: PrimBox
    scores: pd.Series
    sweep: str = ""

    def summary(self) -> list[str]:
        """The claim's share of points, the box with its coverage and density, the feature ranking."""
        holds = int(self.cases["holds"].sum())
        lines = [f"'{self.outcome.label} {self.claim}' holds at {holds} of {len(self.cases)} design points",
                 f"PRIM box (coverage {self.box.coverage:.2f}, density {self.box.density:.2f}, "
                 f"mass {self.box.mass:.2f}):"]
        restricted = self.box.limits[self.box.limits["restricted"]]
        for name, row in restricted.iterrows():
            lines.append(f"  {row['low']:.4g} <= {name} <= {row['high']:.4g}")
        if restricted.empty:
            lines.append("  no parameter restricted")
        lines.append("feature scores: " + ", ".join(f"{k} {v:.2f}" for k, v in self.scores.items()))
        return lines


def discover(directory: str | Path, outcome: Outcome, claim: Claim, *, threshold: float = 0.8,
             seed: int = 0) -> DiscoveryResult:
    """PRIM box and feature scores of ``claim`` on a sweep's design points (see the module docstring).

    Raises:
        ValueError: The sweep has no parameters, or the claim holds everywhere or nowhere.
        StatisticError: The outcome cannot be computed from the runs.
    """
    names = sweep_parameters(directory)
    if not names:
        raise ValueError(f"{directory}: the sweep has no parameters to discover a box in")
    points = point_outcomes(run_outcomes(directory, outcome))
    params = sweep_plan(directory).groupby("point", sort=True)[names].first()
    cases = params.join(points["mean"].rename("outcome"), how="inner")
    numeric = cases[names].apply(pd.to_numeric, errors="coerce")
    usable = [n for n in names if numeric[n].notna().all()]
    if not usable:
        raise ValueError(f"{directory}: PRIM needs numeric parameters (have: {', '.join(names)})")
    cases["holds"] = claim.holds(cases["outcome"])
    y = cases["holds"].to_numpy()
    box = find_box(numeric[usable], y, threshold=threshold)
    scores = feature_scores(numeric[usable], y, seed=seed)
    return DiscoveryResult(outcome, claim, cases.reset_index(), box, scores,
                           sweep=str(sweep_manifest(directory).get("name", "")))


def discovery_markdown(result: DiscoveryResult) -> str:
    """The result as Markdown: summary, box limits, trajectory size."""
    lines = [f"# Scenario discovery: {result.outcome.label} {result.claim}", "",
             f"Sweep `{result.sweep}`; PRIM through EMA Workbench; feature scores from extra trees.", ""]
    lines += [f"- {line.strip()}" for line in result.summary()]
    lines += ["", "| parameter | low | high | restricted |", "|---|---|---|---|"]
    for name, row in result.box.limits.iterrows():
        lines.append(f"| {name} | {row['low']:.4g} | {row['high']:.4g} | {bool(row['restricted'])} |")
    return "\n".join(lines) + "\n"


def write_discovery(result: DiscoveryResult, out: str | Path) -> list[Path]:
    """Write the box (Parquet), the trajectory (Parquet), Markdown and the two figures to ``out``."""
    from analysis.style import save_figure
    from analysis.sweep_plots import feature_scores_figure, prim_trajectory_figure

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    paths = [root / "prim_box.parquet", root / "prim_trajectory.parquet", root / "prim.md"]
    result.box.limits.reset_index().to_parquet(paths[0], index=False)
    result.box.trajectory.to_parquet(paths[1], index=False)
    paths[2].write_text(discovery_markdown(result))
    title = f"{result.outcome.label} {result.claim}: {result.sweep}, {len(result.cases)} points"
    paths.append(save_figure(prim_trajectory_figure(result.box.trajectory, result.box.chosen,
                                                    f"PRIM peeling trajectory, {title}"), root / "prim_trajectory.png"))
    paths.append(save_figure(feature_scores_figure(result.scores, f"Feature scores, {title}"),
                             root / "feature_scores.png"))
    return paths
