"""The ``ieco analyze`` and ``ieco report`` commands (registered on the app in :mod:`experiments.cli`)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from analysis.sensitivity import SensitivityResult

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


class AnalysisMethod(StrEnum):
    """Methods of ``ieco analyze``."""

    sobol = "sobol"
    morris = "morris"
    prim = "prim"


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def analyze(
    sweep_dir: Annotated[Path, typer.Argument(help="Sweep directory (--out of ieco sweep).", metavar="SWEEP_DIR")],
    method: Annotated[AnalysisMethod, typer.Option(help="sobol or morris indices, or prim scenario discovery.")],
    outcome: Annotated[str, typer.Option(help="Run statistic: final, change, mean, yearly_decline, yearly_growth.",
                                         metavar="STATISTIC")],
    column: Annotated[str, typer.Option(help="Column of the table the statistic is computed on.")] = "hhi",
    table: Annotated[str, typer.Option(help="Table the column is in (model, providers, ...).")] = "model",
    window: Annotated[int | None, typer.Option(help="final/change: months averaged at each end.", min=1)] = None,
    claim: Annotated[str | None, typer.Option(help="prim: the claim on the outcome, e.g. '>0' or '<0.5'.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory (default: SWEEP_DIR/analysis).")] = None,
) -> None:
    """Sensitivity indices (Sobol, Morris) or a PRIM box of a sweep's outcome; writes tables and figures to OUT."""
    from analysis.discovery import Claim, discover, write_discovery
    from analysis.outcomes import Outcome
    from analysis.results import sweep_manifest
    from analysis.sensitivity import analyze_sweep, write_sensitivity
    from analysis.statistics import StatisticError

    try:
        sweep_manifest(sweep_dir)
    except FileNotFoundError:
        raise _fail(f"SWEEP_DIR {sweep_dir}: not a sweep directory (no sweep.json)") from None
    try:
        spec = Outcome(outcome, column, table, {"window": window} if window is not None else {})
    except StatisticError as exc:
        raise _fail(f"--outcome {outcome}: {exc}") from None
    target = out or sweep_dir / "analysis"
    if target.exists() and not target.is_dir():
        raise _fail(f"--out {target}: exists and is not a directory")
    try:
        if method is AnalysisMethod.prim:
            if claim is None:
                raise _fail("--method prim needs --claim, e.g. --claim '>0'")
            result = discover(sweep_dir, spec, Claim.parse(claim))
            paths = write_discovery(result, target / f"prim_{outcome}_{column}")
            lines = result.summary()
        else:
            sensitivity = analyze_sweep(sweep_dir, method.value, spec)  # type: ignore[arg-type]
            paths = write_sensitivity(sensitivity, target / f"{method.value}_{outcome}_{column}")
            console.print(_indices_table(sensitivity))
            lines = sensitivity.summary()
    except (ValueError, StatisticError) as exc:
        raise _fail(str(exc)) from None
    for line in lines:
        style = "yellow" if line.startswith("warning") else "white"
        console.print(f"[{style}]{escape(line)}[/]")
    console.print(f"written: {', '.join(str(p) for p in paths)}")


def _indices_table(result: SensitivityResult) -> Table:
    """The indices ranked within each index, with their 95% intervals."""
    out = Table(title=f"{result.method.capitalize()} indices of {result.outcome.label} ({result.sweep}, "
                      f"{len(result.points)} points, {int(result.points['n'].sum())} runs)")
    for name in ("rank", "parameter", "index", "estimate", "95% CI"):
        out.add_column(name, justify="left" if name in ("parameter", "index") else "right")
    indices = ("S1", "ST") if result.method == "sobol" else ("mu_star",)
    for index in indices:
        for rank, row in enumerate(result.ranking(index).itertuples(index=False), start=1):
            interval = f"[{row.ci_low:.4g}, {row.ci_high:.4g}]"
            out.add_row(str(rank), row.parameter, index, f"{row.estimate:.4g}", interval)
    return out


def report(
    directory: Annotated[Path, typer.Argument(help="A run, sweep or thesis directory.", metavar="DIR")],
    out: Annotated[Path | None, typer.Option(help="HTML file to write (default: DIR/report.html).")] = None,
) -> None:
    """Write one self-contained HTML report (figures, tables, config, verdicts) of a run, sweep or theses."""
    from analysis.report import ReportError, report_kind, write_report

    try:
        kind = report_kind(directory)
    except ReportError as exc:
        raise _fail(f"DIR {exc}") from None
    if out is not None and out.exists() and out.is_dir():
        raise _fail(f"--out {out}: is a directory; give a file name such as report.html")
    path = write_report(directory, out)
    console.print(f"{kind} report: {path.resolve()}")
