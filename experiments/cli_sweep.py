"""The ``ieco sweep`` and ``ieco theses`` commands (registered on the app in :mod:`experiments.cli`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from experiments.cli_common import EXIT_RUNS_FAILED, console, err_console, fail, parse_address, whole_number
from experiments.cli_interrupts import on_interrupt, resume_hint
from market.config.files import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from experiments.sweep import SweepProgress

WorkersOption = Annotated[
    int | None,
    typer.Option(help="Runs in parallel, 1 to 10,000; 1 runs them one by one in this process (default: all CPUs, "
                 "on Ray).", parser=whole_number(1, 10_000), metavar="INT"),
]
AddressOption = Annotated[
    str | None,
    typer.Option(help="Ray cluster to join: 'auto' or HOST:PORT (default: start a local Ray).",
                 metavar="auto|HOST:PORT", parser=parse_address),
]
ResumeOption = Annotated[
    bool, typer.Option("--resume", help="Continue the sweep stored in --out: skip finished runs, retry failed ones.")
]


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[SweepProgress], None]]:
    """A progress bar of runs done and failed with the time left; yields the sweep's progress callback.

    The bar appears at the first report, so errors found before any run starts print alone.
    """
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failed]} failed"), TimeElapsedColumn(), TextColumn("left"),
        TimeRemainingColumn(),
    )
    progress = Progress(*columns, console=err_console)
    task_ids: list[TaskID] = []

    def update(state: SweepProgress) -> None:
        if not task_ids:
            progress.start()
            task_ids.append(progress.add_task(label, total=state.total, completed=state.done, failed=state.failed))
        progress.update(task_ids[0], completed=state.done, failed=state.failed)

    try:
        yield update
    finally:
        if task_ids:
            progress.stop()


def sweep(
    config: Annotated[Path, typer.Argument(help="Sweep TOML file.", metavar="SWEEP.toml")],
    out: Annotated[Path, typer.Option(help="Sweep directory for results and manifest.")],
    workers: WorkersOption = None,
    address: AddressOption = None,
    resume: ResumeOption = False,
) -> None:
    """Run every design point and replication of a sweep; results go to OUT/runs/<run_id>/.

    Every point's scenario is checked before anything runs. Exit codes: 0 all runs finished; 2 bad input
    (nothing written); 3 some runs failed (listed; errors in OUT/failed/, rerun them with --resume).
    """
    from experiments.sweep import run_sweep
    from experiments.sweep_config import load_sweep_config

    try:
        spec, _ = load_sweep_config(config)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    started = time.perf_counter()
    again = ["sweep", config, "--out", out, *(["--workers", workers] if workers else []),
             *(["--address", address] if address else [])]
    try:
        with on_interrupt(lambda: resume_hint(out, again)), progress_bar(f"sweep {spec.name}") as update:
            runs = run_sweep(config, out, workers=workers, address=address, resume=resume, progress=update)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except ConnectionError as exc:
        raise fail(f"cannot reach the Ray cluster at {address}: {exc}") from None
    console.print(runs_summary(runs, time.perf_counter() - started, out))
    n_failed = int((runs["status"] == "failed").sum())
    if n_failed:
        raise fail(f"{n_failed} of {len(runs)} runs failed (see above); exit code {EXIT_RUNS_FAILED}",
                   code=EXIT_RUNS_FAILED)


def runs_summary(runs: pd.DataFrame, wall_time_s: float, out: Path) -> str:
    """Counts of finished, failed and pending runs, and the first failures with their messages."""
    counts = runs["status"].value_counts()
    n = {status: int(counts.get(status, 0)) for status in ("finished", "failed", "pending")}
    lines = [f"{len(runs)} runs: [green]{n['finished']} finished[/], "
             f"{'[red]' if n['failed'] else ''}{n['failed']} failed{'[/]' if n['failed'] else ''}, "
             f"{n['pending']} pending  ({wall_time_s:.1f} s)"]
    failed = runs[runs["status"] == "failed"]
    for _, row in failed.head(5).iterrows():
        first = row["error"].splitlines()[0] if row["error"] else "unknown error"
        lines.append(f"  [red]failed[/] {row['run_id']}: {escape(first)}")
    if len(failed) > 5:
        lines.append(f"  ... and {len(failed) - 5} more")
    if len(failed):
        lines.append(f"  errors and tracebacks: {out / 'failed'}/<run_id>.json")
    lines.append(f"results: {Path(out).resolve()}  (load with analysis.results.load_sweep)")
    return "\n".join(lines)


def fail_on_failed_thesis_runs(out: Path, theses: Iterable[str]) -> None:
    """Exit with ``EXIT_RUNS_FAILED``, naming the theses, when any of their runs under ``out`` failed."""
    from analysis.results import sweep_runs

    failed = {name: int((sweep_runs(out / name)["status"] == "failed").sum()) for name in theses}
    if any(failed.values()):
        listed = ", ".join(f"{name} ({n})" for name, n in failed.items() if n)
        raise fail(f"runs failed in {listed}; errors under {out}/<thesis>/failed/; exit code {EXIT_RUNS_FAILED}",
                   code=EXIT_RUNS_FAILED)


VERDICT_STYLE = {"supported": "green", "refuted": "red", "inconclusive": "yellow", "error": "magenta"}


def verdict_table(table: pd.DataFrame) -> Table:
    """The verdicts as a rich table: thesis, estimate, 95% interval, claim, verdict (statistics in a legend)."""
    from experiments.verdicts import format_number

    out = Table(title="Thesis verdicts (bootstrap 95% CI over replications)", caption_justify="left")
    for name, justify in (("#", "right"), ("thesis", "left"), ("estimate", "right"), ("95% CI", "right"),
                          ("claim", "left"), ("verdict", "left")):
        out.add_column(name, justify=justify)  # type: ignore[arg-type]
    legend = []
    for _, row in table.iterrows():
        style = VERDICT_STYLE.get(row["verdict"], "white")
        verdict = row["verdict"] if not row["error"] else f"error: {row['error']}"
        out.add_row(str(row["number"]), row["title"], format_number(row["estimate"]),
                    f"[{format_number(row['ci_low'])}, {format_number(row['ci_high'])}]", row["claim"],
                    f"[{style}]{escape(verdict)}[/]")
        legend.append(f"{row['number']}: {row['statistic']} ({row['n']} replications)")
    out.caption = "\n".join(legend)
    return out
