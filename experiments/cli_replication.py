"""The ``ieco replication-curves`` command: how each thesis's interval narrows with replications.

It reads a directory written by ``ieco theses`` (one world; no new runs), recomputes every thesis's
per-replication statistic (paired differences for a compared thesis) exactly as the verdict does
(:func:`experiments.theses.estimate`), and writes the curves of :mod:`analysis.replication` to ``--out``:

* ``replication_curves.png``: one panel per thesis, the width against n relative to the width at R;
* ``replication_curves.parquet``: one row per thesis and n (``thesis, number, title`` and
  :data:`analysis.replication.CURVE_COLUMNS`);
* ``replication.parquet`` and ``replication.md``: one row per thesis, the widths at 5, 10 and R, the CV at R,
  the stabilising count, the count from which the verdict is settled and the decisive count.

Only these four files are replaced in ``--out``; nothing is written into the theses directory (``ieco theses
--resume`` refuses a directory holding other files).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from experiments.cli_common import console, fail, whole_number
from market.config.errors import ConfigError

FIGURE = "replication_curves.png"
CURVES = "replication_curves.parquet"
SUMMARY = "replication.parquet"
MARKDOWN = "replication.md"
SUMMARY_COLUMNS = ("number", "thesis", "title", "statistic", "claim", "verdict", "replications", "cv",
                   "stabilising", "stabilising_median", "stabilising_p90", "verdict_settled", "decisive", "error")
COUNT_COLUMNS = ("replications", "stabilising", "stabilising_median", "stabilising_p90", "verdict_settled", "decisive")


def thesis_stores(directory: Path, only: list[str] | None = None) -> list[tuple[Any, Path]]:
    """The theses stored in ``directory`` (one sweep directory each), ordered by number.

    Raises:
        ConfigError: ``directory`` is missing or holds no thesis results, holds results over plausible worlds,
            or ``only`` names a thesis it does not hold.
    """
    from analysis.results import sweep_manifest
    from experiments.theses import Thesis

    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a directory (give the --out of `ieco theses`)")
    found: dict[str, tuple[Thesis, Path]] = {}
    for child in sorted(p for p in directory.iterdir() if p.is_dir()):
        try:
            manifest = sweep_manifest(child)
        except (FileNotFoundError, ValueError):
            continue
        if manifest.get("kind") != "thesis" or "thesis" not in manifest:
            continue
        if "worlds" in manifest:
            raise ConfigError(f"{child}: runs over plausible worlds (ieco theses --worlds); replication curves read "
                              "the one-world results of `ieco theses --replications R`")
        try:
            thesis = Thesis.model_validate(manifest["thesis"])
        except ValueError as exc:
            raise ConfigError(f"{child}/sweep.json: the stored thesis is not valid: {exc}") from None
        found[thesis.name] = (thesis, child)
    if not found:
        raise ConfigError(f"{directory}: holds no thesis results (give the --out of `ieco theses`)")
    if only:
        unknown = [name for name in only if name not in found]
        if unknown:
            raise ConfigError(f"--only {unknown}: not in {directory} (have: {', '.join(sorted(found))})")
        found = {name: found[name] for name in only}
    return sorted(found.values(), key=lambda item: (item[0].number, item[0].name))


def replication_values(thesis: Any, store: Path) -> pd.Series:
    """The statistic of every finished replication (the paired difference where two scenarios are compared),
    indexed by replication, computed as the verdict computes it.

    Raises:
        StatisticError: The statistic cannot be computed from the stored runs.
    """
    from experiments.theses import estimate, load_frames

    return estimate(thesis, load_frames(thesis, store), seed=thesis.root_seed)["values"].sort_index()


def build_curves(directory: Path, only: list[str] | None = None, tolerance: float = 0.2,
                 orderings: int = 100) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every stored thesis's replication curve (long) and summary (one row a thesis; errors in ``error``).

    The stabilising count is also taken over ``orderings`` random orders of each thesis's replications
    (:func:`analysis.replication.stabilising_counts`, seeded with the thesis's root seed); 0 skips them.
    """
    from analysis.replication import (
        CURVE_COLUMNS,
        STABLE_MINIMUM,
        curve_summary,
        replication_curve,
        stabilising_counts,
    )
    from analysis.statistics import StatisticError

    curves, rows = [], []
    for thesis, store in thesis_stores(directory, only):
        row: dict[str, Any] = {"number": thesis.number, "thesis": thesis.name, "title": thesis.title,
                               "statistic": thesis.statistic.description, "claim": str(thesis.claim),
                               "verdict": "error", "error": ""}
        try:
            values = replication_values(thesis, store)
            curve = replication_curve(values, seed=thesis.root_seed, operator=thesis.claim.operator,
                                      threshold=thesis.claim.threshold)
        except (StatisticError, ValueError) as exc:
            row["error"] = str(exc)
            rows.append(row)
            continue
        counts = (stabilising_counts(values, seed=thesis.root_seed, orderings=orderings, tolerance=tolerance)
                  if orderings and len(values) >= STABLE_MINIMUM else None)
        row.update(curve_summary(curve, threshold=thesis.claim.threshold, tolerance=tolerance,
                                 over_orderings=counts))
        row["verdict"] = curve["verdict"].iloc[-1]
        curves.append(curve.assign(thesis=thesis.name, number=thesis.number, title=thesis.title))
        rows.append(row)
    long = (pd.concat(curves, ignore_index=True) if curves
            else pd.DataFrame(columns=[*CURVE_COLUMNS, "thesis", "number", "title"]))
    long = long[["thesis", "number", "title", *CURVE_COLUMNS]]
    summary = pd.DataFrame(rows)
    widths = sorted((c for c in summary.columns if c.startswith("width_")), key=lambda c: int(c.split("_")[1]))
    ordered = [*SUMMARY_COLUMNS[:7], *widths, *SUMMARY_COLUMNS[7:]]
    summary = summary.reindex(columns=ordered)
    for column in COUNT_COLUMNS:
        summary[column] = summary[column].astype("Int64")
    return long, summary


def count_text(value: Any) -> str:
    """A count, or a dash when undefined."""
    return "-" if value is None or pd.isna(value) else str(int(value))


def stabilising_text(row: pd.Series) -> str:
    """The stabilising count in replication order, with the median and 90th percentile over random orders."""
    text = count_text(row["stabilising"])
    if not pd.isna(row["stabilising_median"]):
        text += f" ({count_text(row['stabilising_median'])}; {count_text(row['stabilising_p90'])})"
    return text


def summary_markdown(summary: pd.DataFrame, command: str, tolerance: float) -> str:
    """The summary as a Markdown table, with the rule and the command that regenerates it."""
    from experiments.verdicts import format_number

    widths = [c for c in summary.columns if c.startswith("width_")]
    head = ["#", "thesis", "statistic", *[f"width at {c.split('_')[1]}" for c in widths], "CV at R",
            "stabilising count (median; 90th pct over orders)", "verdict settled from", "decisive count",
            "verdict at R"]
    lines = [
        "# Replication curves",
        "",
        f"Regenerate: `{command}`. Width: the verdict's bootstrap 95% interval from the first n replications. "
        f"Stabilising count: the smallest n >= 5 from which width(n) * sqrt(n / R) stays within {tolerance:.0%} of "
        "the width at R, in replication order (in brackets: median and 90th percentile over random orders of the "
        "same replications). Verdict settled from: the smallest n from which the verdict equals the verdict at R. "
        "Decisive count: replications a t-interval needs to clear the threshold at R's mean and standard "
        "deviation (- : the mean is on the threshold or more than 10,000 are needed).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for _, row in summary.iterrows():
        if row["error"]:
            lines.append(f"| {row['number']} | {row['title']} | error: {row['error']} |" + " |" * (len(head) - 3))
            continue
        cells = [str(row["number"]), row["title"], row["statistic"],
                 *[format_number(row[c]) for c in widths], format_number(row["cv"]), stabilising_text(row),
                 count_text(row["verdict_settled"]), count_text(row["decisive"]), row["verdict"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def replication_curves(
    theses_out: Annotated[Path, typer.Argument(help="A directory written by `ieco theses` (one world).",
                                               show_default=False)],
    out: Annotated[Path, typer.Option(help=f"Directory for {FIGURE}, {CURVES}, {SUMMARY} and {MARKDOWN} (only "
                                      "these files are replaced).")],
    only: Annotated[list[str] | None, typer.Option(help="Only this thesis (repeatable).")] = None,
    tolerance: Annotated[float, typer.Option(help="Band around the width at R within which the projected width "
                                             "counts as stable.", min=0.01, max=0.99)] = 0.2,
    orderings: Annotated[int, typer.Option(help="Random orders of the replications over which the stabilising "
                                           "count is also taken (0: none).", parser=whole_number(0, 10_000),
                                           metavar="INT")] = 100,
) -> None:
    """Replication curves of stored thesis results: the interval width against the number of replications.

    For each thesis in THESES_OUT (written by `ieco theses --replications R`; nothing is rerun), the bootstrap
    95% interval of the verdict from the first n = 2..R replications, the count from which its width is stable
    and the count a decisive verdict needs. Exit codes: 0 done; 2 bad input (nothing written).
    """
    from analysis.replication import replication_figure
    from analysis.style import png_bytes
    from experiments.outputs import write_file_atomic, write_text_atomic

    started = time.perf_counter()
    if out.resolve() == theses_out.resolve() or theses_out.resolve() in out.resolve().parents:
        raise fail(f"--out {out}: inside the theses directory {theses_out}, which must hold thesis results only "
                   "(`ieco theses --resume` refuses other files); choose another directory")
    if out.exists() and not out.is_dir():
        raise fail(f"--out {out}: exists and is not a directory")
    try:
        curves, summary = build_curves(theses_out, only, tolerance, orderings)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if curves.empty:
        raise fail(f"{theses_out}: no thesis has two finished replications ({'; '.join(summary['error'])})")
    command = " ".join(["ieco replication-curves", str(theses_out), "--out", str(out),
                        *[f"--only {name}" for name in only or []],
                        *([f"--tolerance {tolerance:g}"] if tolerance != 0.2 else []),
                        *([f"--orderings {orderings}"] if orderings != 100 else [])])
    png = png_bytes(replication_figure(curves, summary, tolerance))
    try:
        write_file_atomic(out / CURVES, lambda p: curves.to_parquet(p, index=False))
        write_file_atomic(out / SUMMARY, lambda p: summary.to_parquet(p, index=False))
        write_text_atomic(out / MARKDOWN, summary_markdown(summary, command, tolerance))
        write_file_atomic(out / FIGURE, lambda p: p.write_bytes(png))
    except ConfigError as exc:
        raise fail(str(exc)) from None
    console.print(summary_table(summary))
    console.print(f"replication curves: {(out / FIGURE).resolve()}, {MARKDOWN}, {SUMMARY}, {CURVES}  "
                  f"({time.perf_counter() - started:.0f} s)")


def summary_table(summary: pd.DataFrame) -> Table:
    """The summary as a rich table."""
    from rich.markup import escape

    from experiments.verdicts import format_number

    last = max((c for c in summary.columns if c.startswith("width_")), key=lambda c: int(c.split("_")[1]))
    table = Table(title="Replication curves")
    for name in ("#", "thesis", f"width at {last.split('_')[1]}", "stable from (median; p90)", "verdict settled",
                 "decisive", "verdict"):
        table.add_column(name)
    for _, row in summary.iterrows():
        if row["error"]:
            table.add_row(str(row["number"]), escape(row["title"]), f"[red]error: {escape(row['error'])}[/]")
            continue
        table.add_row(str(row["number"]), escape(row["title"]), format_number(row[last]), stabilising_text(row),
                      count_text(row["verdict_settled"]), count_text(row["decisive"]), escape(row["verdict"]))
    return table
