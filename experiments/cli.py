"""The ``ieco`` command line: validate, run, sweep and evaluate theses.

Every command accepts ``--set key.path=value`` overrides. Bad input (a missing file, invalid TOML, an unknown
key, a wrong type or value, an unknown strategy) ends with exit code 2 and one message naming the key, without
a traceback and without writing anything. Exit codes are listed in :mod:`experiments.cli_common`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from experiments.cli_common import console, err_console, fail, parse_seed, whole_number
from experiments.cli_interrupts import caused_by_interrupt, on_interrupt
from market.config.files import ConfigError, load_scenario

app = typer.Typer(
    name="ieco",
    help="Agent-based simulation of the AI inference economy.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a config value: key.path=value (repeatable).", metavar="KEY=VALUE"),
]


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import PackageNotFoundError, version

        try:
            console.print(f"ieco {version('ieco')}", highlight=False)
        except PackageNotFoundError:
            console.print("ieco (not installed as a package)", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    show_version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True,
                                               callback=_version)] = False,
) -> None:
    """Agent-based simulation of the AI inference economy."""


@app.command()
def validate(
    config: Annotated[Path, typer.Argument(help="Scenario, sweep or thesis TOML file (or a shipped scenario name).")],
    set_: SetOption = None,
) -> None:
    """Check a scenario, sweep or thesis file, and every run it plans, without running anything."""
    from experiments.preflight import validate_file

    try:
        summary = validate_file(config, set_ or [])
    except ConfigError as exc:
        raise fail(str(exc)) from None
    console.print(f"[green]ok[/] {summary}", highlight=False)


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="Scenario TOML file (or a shipped scenario name).")],
    seed: Annotated[int | None, typer.Option(help="Root seed, 0 <= seed < 2**63 (default: simulation.seed).",
                                             parser=parse_seed, metavar="INT")] = None,
    steps: Annotated[int | None, typer.Option(help="Steps to run, 1 to 100,000 (default: simulation.steps).",
                                              parser=whole_number(1, 100_000), metavar="INT")] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory (default: results/<scenario>).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an earlier run in OUT.")] = False,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Also draw summary figures.")] = False,
    set_: SetOption = None,
) -> None:
    """Run one scenario and write its tables (Parquet) and manifest (JSON) to OUT.

    OUT may be missing or empty; an earlier run there is replaced only with --overwrite, and any other
    non-empty directory is refused (nothing this tool did not write is deleted).
    """
    with on_interrupt(lambda: "nothing written"):
        from experiments.outputs import check_run_dir, default_run_dir
        from experiments.run import command_line, run_scenario, write_run

        try:  # --steps is applied as an override so that the scenario is validated with it
            scenario = load_scenario(config, [*(set_ or []), *([f"simulation.steps={steps}"] if steps else [])])
            out_dir = out or default_run_dir(scenario.name)
            check_run_dir(out_dir, overwrite=overwrite, flag="--overwrite")
        except ConfigError as exc:
            raise fail(str(exc)) from None
    total = steps or scenario.simulation.steps
    kept = f"earlier results in {out_dir} are unchanged" if out_dir.exists() else f"nothing written to {out_dir}"
    with on_interrupt(lambda: f"{kept}; run the command again to start over"), Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), console=err_console, transient=True,
    ) as progress:
        shown_seed = seed if seed is not None else scenario.simulation.seed
        task = progress.add_task(f"{scenario.name} (seed {shown_seed})", total=total)
        result = run_scenario(scenario, seed, steps=total,
                              on_step=lambda done, _: progress.update(task, completed=done))
        result.manifest.update({"command": command_line(), "overrides": list(set_ or [])})
        try:
            write_run(result, out_dir, overwrite=overwrite)
        except ConfigError as exc:
            raise fail(str(exc)) from None
    console.print(summary_table(result.model, result.providers))
    console.print(f"results: {out_dir.resolve()}  (wall time {result.manifest['wall_time_s']:.1f} s)")
    if figures:
        from analysis.plots import plot_run

        paths = plot_run(out_dir, out_dir / "figures")
        console.print(f"figures: {(out_dir / 'figures').resolve()}  ({len(paths)} files)")


def summary_table(model_frame, providers_frame) -> Table:  # type: ignore[no-untyped-def]
    """A short table of the first and last step's key metrics, and final prices by provider kind."""
    first, last = model_frame.iloc[0], model_frame.iloc[-1]
    table = Table(title="Run summary", show_lines=False)
    table.add_column("metric")
    table.add_column(f"step {int(first['step'])}", justify="right")
    table.add_column(f"step {int(last['step'])}", justify="right")
    rows = [
        ("price index ($/Mtok)", "price_index", "{:.4g}"),
        ("quality-adjusted price index", "quality_adjusted_price_index", "{:.4g}"),
        ("HHI (by owner, revenue)", "hhi", "{:.0f}"),
        ("share hyperscaler", "share_hyperscaler", "{:.1%}"),
        ("share specialized", "share_specialized", "{:.1%}"),
        ("share decentralized", "share_decentralized", "{:.1%}"),
        ("active providers", "n_active_providers", "{:.0f}"),
        ("tokens served (Mtok)", "tokens_served", "{:.4g}"),
        ("total spend ($)", "total_spend", "{:.4g}"),
        ("unmet demand (Mtok)", "unmet_demand", "{:.4g}"),
        ("secondary GPU price ($)", "secondary_gpu_price", "{:.4g}"),
    ]
    for label, col, fmt in rows:
        a, b = first[col], last[col]
        table.add_row(label, "-" if a != a else fmt.format(a), "-" if b != b else fmt.format(b))
    final = providers_frame[providers_frame["step"] == providers_frame["step"].max()]
    for _, row in final.iterrows():
        if len(final) <= 8:
            table.add_row(f"price {row['provider']}", "", f"{row['price']:.4f}")
    return table


# Sweeps and theses (experiments/cli_sweep.py).
from experiments import cli_sweep  # noqa: E402

app.command("sweep")(cli_sweep.sweep)
from experiments import cli_theses  # noqa: E402

app.command("theses")(cli_theses.theses)
from experiments import cli_analysis  # noqa: E402

app.command("analyze")(cli_analysis.analyze)
app.command("report")(cli_analysis.report)

from experiments import cli_dashboard  # noqa: E402

app.command("dashboard")(cli_dashboard.dashboard)

from experiments import cli_replicate  # noqa: E402

app.add_typer(cli_replicate.app, name="replicate")
from experiments import cli_replication  # noqa: E402

app.command("replication-curves")(cli_replication.replication_curves)


def main() -> None:
    """Entry point of the ``ieco`` script."""
    try:
        app()
    except KeyboardInterrupt:  # outside a command's own handler (e.g. while importing)
        err_console.print("interrupted: nothing written")
        sys.exit(130)
    except Exception as exc:
        if not caused_by_interrupt(exc):
            raise
        err_console.print("interrupted: nothing written")
        sys.exit(130)


if __name__ == "__main__":
    main()
