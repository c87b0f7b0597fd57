"""The ``ieco replicate`` commands: published results reproduced with the toolkit's agents.

``ieco replicate calvano`` runs the Q-learning sessions of Calvano et al. (2020) (:mod:`experiments.replicate`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

app = typer.Typer(name="replicate", help="Reproduce published results with the toolkit's agents.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(2)


@app.command()
def calvano(
    out: Annotated[Path, typer.Option(help="Directory for sessions.parquet, summary.json and the figure.")],
    firms: Annotated[int, typer.Option(help="Number of firms n (2 to 4).")] = 2,
    sessions: Annotated[int, typer.Option(help="Independent learning sessions.")] = 100,
    seed: Annotated[int, typer.Option(help="Root seed; session k uses child k of SeedSequence(seed).")] = 0,
    workers: Annotated[int | None, typer.Option(
        help="Sessions in parallel on a local Ray; 1 runs them one by one in this process (default: all CPUs).")
    ] = None,
    beta: Annotated[float, typer.Option(help="Exploration decay, eps_t = exp(-beta t).")] = 4e-6,
    max_periods: Annotated[int, typer.Option(help="Cap on a session's periods.")] = 100_000_000,
) -> None:
    """Q-learning pricing in the logit game of Calvano et al. (2020): profit gain and punishment of deviations."""
    from agents.qlearning import LearningParams
    from experiments.replicate import CalvanoSettings, replicate_calvano, write_replication

    if out.exists() and not out.is_dir():
        raise _fail(f"--out {out}: exists and is not a directory")
    if workers is not None and workers < 1:
        raise _fail(f"--workers must be at least 1, got {workers}")
    try:
        settings = CalvanoSettings(firms=firms, sessions=sessions, seed=seed,
                                   learning=LearningParams(beta=beta, max_periods=max_periods))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    n_workers = workers if workers is not None else max(1, os.cpu_count() or 1)
    started = time.perf_counter()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=err_console, transient=True) as progress:
        task = progress.add_task(f"calvano n={firms} ({n_workers} workers)", total=sessions)
        result = replicate_calvano(settings, n_workers,
                                   on_session=lambda done, _: progress.update(task, completed=done))
    wall = time.perf_counter() - started
    write_replication(result, out)
    console.print(summary_table(result.summary))
    console.print(f"results: {out.resolve()}  (wall time {wall:.1f} s)")


def summary_table(summary: dict) -> Table:  # type: ignore[type-arg]
    """The replication's headline numbers."""
    table = Table(title=f"Calvano et al. (2020) replication, n = {summary['settings']['firms']}")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    low, high = summary["profit_gain_ci95"]
    bench = summary["benchmarks"]
    table.add_row("profit gain Delta (mean, converged sessions)", f"{summary['profit_gain_mean']:.3f}")
    table.add_row("95% interval", f"[{low:.3f}, {high:.3f}]")
    table.add_row("converged share", f"{summary['converged_share']:.1%} of {summary['sessions']}")
    table.add_row("mean price (Nash / monopoly)",
                  f"{summary['mean_price']:.4f} ({bench['nash_price']:.4f} / {bench['monopoly_price']:.4f})")
    table.add_row("periods to convergence (median)", f"{summary['periods_median']:,.0f}")
    return table
