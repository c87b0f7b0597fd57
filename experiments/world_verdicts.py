"""Conditional verdicts: every thesis evaluated in each of N plausible worlds, then judged over the worlds.

``ieco theses --worlds N --replications R`` reads the first N worlds of the worlds file (``make calibration``
writes it; :mod:`experiments.worlds`), and for every thesis, world and scenario runs R replications. A world's
settings are applied to each scenario's base first and the thesis's own settings after, so a thesis's
counterfactual (e.g. no catch-up) overrides the world's value of the same key. Replication r uses the same seed
in every scenario and every world (common random numbers). Runs are stored per thesis under ``OUT/<thesis>/``
(a sweep directory; every row carries ``world`` and ``scenario``). A run that several theses share (the same
resolved document and seed) runs once and is stored for each of them (:mod:`experiments.shared_runs`).

Per thesis and world: the estimate, bootstrap 95% interval and verdict, as in the one-world mode
(:func:`experiments.theses.estimate`). Over worlds: the shares of worlds in which the thesis is supported,
refuted and inconclusive, and the verdict over worlds (:func:`analysis.statistics.verdict_over_worlds`:
robustly supported or refuted in at least 90% of the worlds, else conditional); the estimate over worlds is the
mean of the worlds' estimates with a bootstrap 95% interval over worlds. For a conditional thesis, PRIM
(:func:`analysis.discovery.find_box`) finds the box of world parameters in which it is supported (or, if it is
supported in no world, refuted), with its coverage and density (:func:`box_density`), and extra-trees feature
scoring (:func:`analysis.discovery.feature_scores`) ranks the parameters. Categorical parameters enter both as their
position in the declared order (the uncertainty file orders them, e.g. merger rules from lenient to strict).

Outputs in OUT: ``verdicts.md``, ``verdicts.parquet`` (one row a thesis), ``verdicts_by_world.parquet`` (one row
a thesis and world) and ``boxes.parquet`` (one row a thesis and parameter of its box).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.results import load_sweep, sweep_dataset
from analysis.statistics import (
    ROBUST_SHARE,
    StatisticError,
    bootstrap_ci,
    verdict_over_worlds,
    verdict_shares,
)
from experiments.evaluators import Evaluator, make_evaluator
from experiments.locks import DirectoryLock, check_unlocked
from experiments.outputs import write_file_atomic, write_text_atomic
from experiments.sweep import ProgressCallback, check_store, open_store
from experiments.sweep_config import RunTask, derive_seeds, plan_frame, resolve_base
from experiments.theses import Thesis, discover_theses, estimate, fill_estimate, load_thesis
from experiments.verdicts import check_theses_dir, execute_shared, format_number
from experiments.worlds import DEFAULT_WORLDS, WorldsFile, read_worlds, world_settings
from market.config import ScenarioConfig
from market.config.files import ConfigError, apply_settings, read_toml, validate_data

WORLD_VERDICT_COLUMNS: tuple[str, ...] = (
    "number", "thesis", "title", "statistic", "claim", "operator", "threshold", "verdict", "estimate", "ci_low",
    "ci_high", "p05", "p95", "worlds", "share_supported", "share_refuted", "share_inconclusive", "share_error", "n",
    "replications", "box_outcome", "key_parameters", "error", "assumptions",
)
BY_WORLD_COLUMNS: tuple[str, ...] = ("thesis", "world", "estimate", "ci_low", "ci_high", "n", "verdict", "error")
BOX_COLUMNS: tuple[str, ...] = ("thesis", "outcome", "parameter", "low", "high", "restricted", "categories",
                                "coverage", "density", "mass", "feature_score")


def world_documents(thesis: Thesis, path: Path, settings: dict[str, Any], world: str) -> dict[str, dict[str, Any]]:
    """Each scenario of a thesis in one world: base, then the world's settings, then the thesis's settings.

    Raises:
        ConfigError: A world's setting does not fit a scenario's base (named with the world and scenario).
    """
    documents: dict[str, dict[str, Any]] = {}
    for name, spec in thesis.scenarios.items():
        base = resolve_base(spec.base, path.parent)
        source = f"{path}: scenario '{name}' in world {world}"
        try:
            data = apply_settings(apply_settings(read_toml(base), settings), spec.settings)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        validate_data(data, ScenarioConfig, source)
        documents[name] = data
    return documents


def world_tasks(thesis: Thesis, path: Path, worlds: WorldsFile, frame: pd.DataFrame) -> list[RunTask]:
    """Every world x scenario x replication of a thesis; replication r has the same seed everywhere (CRN)."""
    seeds = derive_seeds(thesis.root_seed, thesis.replications)
    tasks: list[RunTask] = []
    scenarios = list(thesis.scenarios)
    for w, (_, world) in enumerate(frame.iterrows()):
        wid = str(world["world"])
        documents = world_documents(thesis, path, world_settings(worlds, world), wid)
        for s, name in enumerate(scenarios):
            for rep in range(thesis.replications):
                tasks.append(RunTask(f"{thesis.name}-{wid}-{name}-r{rep:02d}", w * len(scenarios) + s, rep,
                                     seeds[rep], {"world": wid, "scenario": name}, documents[name]))
    return tasks


def judge_worlds(thesis: Thesis, directory: Path, worlds: Sequence[str]) -> pd.DataFrame:
    """The thesis's estimate, interval and verdict in each world, from its stored runs (errors become rows)."""
    spec = thesis.statistic
    scenarios = [spec.scenario] if spec.scenario else list(spec.compare or [])
    rows: list[dict[str, Any]] = []
    try:
        names = sweep_dataset(directory, spec.table).schema.names
        missing = [c for c in spec.columns() if c not in names]
        if missing:
            raise StatisticError(f"table '{spec.table}' has no column(s) {', '.join(missing)}")
        table = load_sweep(directory, spec.table, columns=[*spec.columns(), "world", "scenario"])
        grouped = dict(tuple(table.groupby(["world", "scenario"], sort=True)))
    except (StatisticError, FileNotFoundError) as exc:
        return pd.DataFrame([{"thesis": thesis.name, "world": w, "estimate": math.nan, "ci_low": math.nan,
                              "ci_high": math.nan, "n": 0, "verdict": "error", "error": str(exc)} for w in worlds],
                            columns=list(BY_WORLD_COLUMNS))
    for world in worlds:
        row: dict[str, Any] = {"thesis": thesis.name, "world": world, "estimate": math.nan, "ci_low": math.nan,
                               "ci_high": math.nan, "n": 0, "verdict": "error", "error": ""}
        frames = {name: grouped.get((world, name), pd.DataFrame()) for name in scenarios}

        def compute(world: str = world, frames: dict[str, pd.DataFrame] = frames) -> dict[str, Any]:
            empty = [name for name, frame in frames.items() if frame.empty]
            if empty:
                raise StatisticError(f"no finished run of scenario(s) {', '.join(empty)} in world {world}")
            return estimate(thesis, frames, seed=thesis.root_seed)

        fill_estimate(row, compute)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(BY_WORLD_COLUMNS))


def encode_parameters(frame: pd.DataFrame, worlds: WorldsFile) -> pd.DataFrame:
    """World parameters as numbers for PRIM: ranges as they are, categories as their declared position."""
    out = pd.DataFrame(index=frame.index)
    for param in worlds.parameters:
        name = param["name"]
        if "values" in param:
            codes = {v: i for i, v in enumerate(param["values"])}
            out[name] = frame[name].map(codes).astype(float)
        else:
            out[name] = frame[name].astype(float)
    return out


MIN_BOX_DENSITY = 0.8
"""Least density of a reported box (analysis.discovery.find_box's threshold)."""


def box_density(share: float) -> float:
    """Density a box must reach: at least 0.8 and half-way from the share of worlds where the thesis holds to 1,
    so that a box is always denser than the whole space (where the thesis holds in 85% of the worlds, 0.925)."""
    return max(MIN_BOX_DENSITY, (1.0 + share) / 2.0)


def world_box(x: pd.DataFrame, holds: np.ndarray, worlds: WorldsFile, *, seed: int = 0) -> pd.DataFrame:
    """PRIM box and feature scores of the worlds where ``holds``: one row per parameter (BOX_COLUMNS less
    thesis and outcome). The box is the one of highest coverage with density at least :func:`box_density`.
    Categorical parameters get the categories inside the box.

    Raises:
        ValueError: ``holds`` is all true or all false (no box to find).
    """
    from analysis.discovery import feature_scores, find_box

    box = find_box(x, holds, threshold=box_density(float(np.mean(holds))))
    scores = feature_scores(x, holds, seed=seed)
    categories = {p["name"]: p["values"] for p in worlds.parameters if "values" in p}
    rows = []
    for name, lim in box.limits.iterrows():
        inside = ""
        if name in categories:
            values = categories[str(name)]
            inside = ", ".join(str(values[i]) for i in range(len(values))
                               if lim["low"] - 1e-9 <= i <= lim["high"] + 1e-9)
        rows.append({"parameter": name, "low": float(lim["low"]), "high": float(lim["high"]),
                     "restricted": bool(lim["restricted"]), "categories": inside, "coverage": box.coverage,
                     "density": box.density, "mass": box.mass, "feature_score": float(scores.get(name, math.nan))})
    return pd.DataFrame(rows)


def summarise(thesis: Thesis, by_world: pd.DataFrame, x: pd.DataFrame, worlds: WorldsFile,
              robust_share: float = ROBUST_SHARE) -> tuple[dict[str, Any], pd.DataFrame]:
    """A thesis's row over worlds and its box (empty unless conditional with worlds on both sides)."""
    verdicts = list(by_world["verdict"])
    shares = verdict_shares(verdicts)
    estimates = by_world["estimate"].to_numpy(dtype=float)
    finite = estimates[np.isfinite(estimates)]
    low, high = bootstrap_ci(finite, seed=thesis.root_seed)
    row: dict[str, Any] = {
        "number": thesis.number, "thesis": thesis.name, "title": thesis.title,
        "statistic": thesis.statistic.description, "claim": str(thesis.claim),
        "operator": thesis.claim.operator, "threshold": thesis.claim.threshold,
        "verdict": verdict_over_worlds(verdicts, robust_share),
        "estimate": float(finite.mean()) if len(finite) else math.nan, "ci_low": low, "ci_high": high,
        "p05": float(np.quantile(finite, 0.05)) if len(finite) else math.nan,
        "p95": float(np.quantile(finite, 0.95)) if len(finite) else math.nan,
        "worlds": len(verdicts), **{f"share_{k}": v for k, v in shares.items()},
        "n": int(by_world["n"].sum()), "replications": thesis.replications * len(verdicts),
        "box_outcome": "", "key_parameters": "",
        "error": "; ".join(f"{w}: {e}" for w, e in zip(by_world["world"], by_world["error"], strict=True) if e)[:500],
        "assumptions": "; ".join(thesis.assumptions),
    }
    box = pd.DataFrame(columns=list(BOX_COLUMNS))
    if row["verdict"] != "conditional":
        return row, box
    for outcome in ("supported", "refuted"):
        holds = (by_world["verdict"] == outcome).to_numpy()
        if holds.any() and not holds.all():
            found = world_box(x.reset_index(drop=True), holds, worlds, seed=thesis.root_seed)
            box = found.assign(thesis=thesis.name, outcome=outcome)[list(BOX_COLUMNS)]
            top = found.sort_values("feature_score", ascending=False).head(3)
            row["box_outcome"] = outcome
            row["key_parameters"] = ", ".join(f"{r['parameter']} ({r['feature_score']:.2f})"
                                              for _, r in top.iterrows())
            break
    return row, box


def run_theses_in_worlds(
    out: str | Path,
    *,
    worlds: int,
    worlds_file: str | Path = DEFAULT_WORLDS,
    replications: int | None = None,
    only: Sequence[str] | None = None,
    theses_dir: str | Path | None = None,
    workers: int | None = None,
    address: str | None = None,
    resume: bool = False,
    progress: ProgressCallback | None = None,
    evaluator: Evaluator | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Run every thesis in the first ``worlds`` plausible worlds and write the verdicts over worlds.

    Returns:
        The verdicts over worlds, the verdicts by world and the boxes (also written to ``out``).

    Raises:
        ConfigError: A thesis file or the worlds file is invalid, there are fewer worlds than asked for, or
            ``out`` holds other results.
    """
    root = Path(out)
    document, frame = read_worlds(worlds_file, worlds)
    selected: list[tuple[Thesis, list[RunTask], dict[str, Any]]] = []
    for path in discover_theses(theses_dir, list(only) if only else None):
        thesis, documents = load_thesis(path)
        if replications is not None:
            thesis = thesis.model_copy(update={"replications": replications})
        tasks = world_tasks(thesis, path, document, frame)
        record = {"thesis": thesis.model_dump(mode="json"), "scenarios": documents,
                  "worlds": frame.to_dict("records"), "worlds_file": str(worlds_file)}
        selected.append((thesis, tasks, record))
    selected.sort(key=lambda item: (item[0].number, item[0].name))
    check_theses_dir(root)
    for thesis, _, record in selected:
        check_store(root / thesis.name, record, resume=resume, kind="thesis")
    check_unlocked(root)
    evaluator = evaluator or make_evaluator(workers, address)
    tasks_by = {thesis.name: tasks for thesis, tasks, _ in selected}
    with evaluator, DirectoryLock(root):
        stores = {thesis.name: open_store(root / thesis.name, record, plan_frame(tasks), resume=resume,
                                          kind="thesis", name=thesis.name)
                  for thesis, tasks, record in selected}
        execute_shared(tasks_by, stores, evaluator, progress)
        x = encode_parameters(frame, document)
        rows, boxes, by_world = [], [], []
        for thesis, _, _ in selected:
            judged = judge_worlds(thesis, root / thesis.name, list(frame["world"]))
            row, box = summarise(thesis, judged, x, document)
            rows.append(row)
            boxes.append(box)
            by_world.append(judged)
        table = pd.DataFrame(rows, columns=list(WORLD_VERDICT_COLUMNS))
        per_world = pd.concat(by_world, ignore_index=True)
        box_table = pd.concat([b for b in boxes if len(b)], ignore_index=True) if any(len(b) for b in boxes) \
            else pd.DataFrame(columns=list(BOX_COLUMNS))
        write_world_verdicts(root, table, per_world, box_table, [t for t, _, _ in selected], document)
    return table, per_world, box_table


def write_world_verdicts(out: Path, table: pd.DataFrame, per_world: pd.DataFrame, boxes: pd.DataFrame,
                         theses: list[Thesis], worlds: WorldsFile) -> None:
    """Write the four outputs atomically."""
    write_file_atomic(out / "verdicts.parquet", lambda p: table.to_parquet(p, index=False))
    write_file_atomic(out / "verdicts_by_world.parquet", lambda p: per_world.to_parquet(p, index=False))
    write_file_atomic(out / "boxes.parquet", lambda p: boxes.astype({"restricted": bool}).to_parquet(p, index=False))
    write_text_atomic(out / "verdicts.md", world_verdicts_markdown(table, per_world, boxes, theses, worlds))


def world_verdicts_markdown(table: pd.DataFrame, per_world: pd.DataFrame, boxes: pd.DataFrame,
                            theses: list[Thesis], worlds: WorldsFile) -> str:
    """The verdicts over worlds, the boxes of the conditional theses and every world's estimate, as Markdown."""
    n = int(table["worlds"].max()) if len(table) else 0
    lines = [
        "# Thesis verdicts over plausible worlds",
        "",
        f"Each thesis evaluated in {n} plausible worlds (of {worlds.accepted} accepted out of {worlds.draws} "
        "draws by the calibration), with the same replication seeds in every scenario and world. In each world "
        "the verdict follows from the bootstrap 95% interval of the mean over replications. Over worlds: "
        f"robustly supported (refuted) when supported (refuted) in at least {ROBUST_SHARE:.0%} of the worlds, "
        "else conditional. Estimate: mean of the worlds' estimates, bootstrap 95% interval over worlds; range: "
        "5% and 95% quantiles of the worlds' estimates.",
        "",
        "| # | thesis | claim | estimate [95% CI] | range over worlds | supported | refuted | inconclusive "
        "| verdict over worlds | key parameters |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        lines.append(
            f"| {r['number']} | {r['title']} | {r['claim']} | {format_number(r['estimate'])} "
            f"[{format_number(r['ci_low'])}, {format_number(r['ci_high'])}] | [{format_number(r['p05'])}, "
            f"{format_number(r['p95'])}] | {r['share_supported']:.0%} | {r['share_refuted']:.0%} | "
            f"{r['share_inconclusive'] + r['share_error']:.0%} | **{r['verdict']}** | {r['key_parameters'] or '-'} |")
    if len(boxes):
        lines += ["", "## Where the conditional theses hold (PRIM boxes)", ""]
        for name, box in boxes.groupby("thesis", sort=False):
            first = box.iloc[0]
            lines.append(f"**{name}** is {first['outcome']} in the box (coverage {first['coverage']:.2f}, "
                         f"density {first['density']:.2f}, mass {first['mass']:.2f}):")
            restricted = box[box["restricted"]]
            for _, b in restricted.iterrows():
                bounds = (f"{b['parameter']} in {{{b['categories']}}}" if b["categories"]
                          else f"{b['low']:.4g} <= {b['parameter']} <= {b['high']:.4g}")
                lines.append(f"- {bounds}")
            if restricted.empty:
                lines.append("- no parameter restricted")
            lines.append("")
    lines += ["", "## Estimates by world", ""]
    for thesis in theses:
        rows = per_world[per_world["thesis"] == thesis.name]
        lines += [f"**{thesis.number}. {thesis.title}** ({thesis.statistic.description}; claim {thesis.claim})", "",
                  "| world | estimate | 95% CI | verdict |", "|---|---|---|---|"]
        for _, r in rows.iterrows():
            verdict = r["verdict"] if not r["error"] else f"error: {r['error']}"
            lines.append(f"| {r['world']} | {format_number(r['estimate'])} | [{format_number(r['ci_low'])}, "
                         f"{format_number(r['ci_high'])}] | {verdict} |")
        lines.append("")
    return "\n".join(lines)
