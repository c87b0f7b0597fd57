"""The ``ieco theses`` command: in one world (the baseline, :func:`experiments.verdicts.run_theses`) or, with
``--worlds N``, in N plausible worlds with verdicts over worlds (:mod:`experiments.world_verdicts`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from experiments import cli_sweep
from experiments.cli_common import console, fail, whole_number
from experiments.cli_interrupts import on_interrupt, resume_hint
from experiments.cli_sweep import AddressOption, ResumeOption, WorkersOption, progress_bar
from market.config.files import ConfigError

if TYPE_CHECKING:
    import pandas as pd


def theses(
    out: Annotated[Path, typer.Option(help="Directory for the runs and the verdict table.")],
    replications: Annotated[int | None, typer.Option(help="Replications per scenario (and world), 2 to 10,000 "
                                                     "(default: each file's).", parser=whole_number(2, 10_000),
                                                     metavar="INT")] = None,
    worlds: Annotated[int | None, typer.Option(help="Evaluate every thesis in this many plausible worlds (the first "
                                               "of --worlds-file) and judge it over worlds; without it, in the "
                                               "baseline alone.", parser=whole_number(2, 10_000),
                                               metavar="INT")] = None,
    worlds_file: Annotated[Path | None, typer.Option(help="Plausible worlds written by `make calibration` "
                                                     "(default: experiments/configs/worlds.json).")] = None,
    only: Annotated[list[str] | None, typer.Option(help="Run only this thesis (repeatable).")] = None,
    workers: WorkersOption = None,
    address: AddressOption = None,
    resume: ResumeOption = False,
    theses_dir: Annotated[Path | None, typer.Option(help="Directory of thesis files (default: the shipped ones).")
                          ] = None,
    robustness: Annotated[Path | None, typer.Option(help="Judge every thesis under the single switches of this file "
                                                    "(experiments/configs/robustness.toml) and write the robustness "
                                                    "table (robustness.md, robustness.parquet).")] = None,
    over_worlds: Annotated[Path | None, typer.Option(help="With --robustness: verdicts.parquet of a --worlds run; "
                                                     "writes the final verdicts (verdicts_final.md, .parquet): "
                                                     "a robust verdict that flips under a switch is conditional.")
                           ] = None,
) -> None:
    """Test the theses: run each one's scenarios, then write a verdict table (Markdown and Parquet) to OUT.

    With --worlds N every thesis is run in N plausible worlds (R replications each, the same seeds everywhere)
    and judged over worlds: robustly supported or refuted (in at least 90% of worlds) or conditional, with the
    PRIM box where it holds and the parameters that matter most (verdicts.md, verdicts.parquet,
    verdicts_by_world.parquet, boxes.parquet). Every input is checked before anything runs. Exit codes: 0
    every run finished; 2 bad input (nothing written); 3 some runs failed (rerun them with --resume).
    """
    if worlds is None and worlds_file is not None:
        raise fail("--worlds-file needs --worlds N")
    if robustness is not None and worlds is not None:
        raise fail("--robustness judges the baseline under single switches; it does not take --worlds N")
    if robustness is None and over_worlds is not None:
        raise fail("--over-worlds needs --robustness FILE")
    if robustness is not None:
        run_robustness_command(out, robustness, over_worlds, replications=replications, only=only,
                               theses_dir=theses_dir, workers=workers, address=address, resume=resume)
        return
    from experiments.verdicts import run_theses
    from experiments.world_verdicts import run_theses_in_worlds
    from experiments.worlds import DEFAULT_WORLDS

    started = time.perf_counter()
    again = ["theses", "--out", out, *(["--worlds", worlds] if worlds else []),
             *(["--replications", replications] if replications else []),
             *(["--worlds-file", worlds_file] if worlds_file else []),
             *[a for name in only or [] for a in ("--only", name)],
             *(["--theses-dir", theses_dir] if theses_dir else []), *(["--workers", workers] if workers else []),
             *(["--address", address] if address else [])]
    label = "theses" if worlds is None else f"theses in {worlds} worlds"
    try:
        with on_interrupt(lambda: resume_hint(out, again)), progress_bar(label) as update:
            if worlds is None:
                table = run_theses(out, replications=replications, only=only, theses_dir=theses_dir,
                                   workers=workers, address=address, resume=resume, progress=update)
            else:
                table, _, _ = run_theses_in_worlds(
                    out, worlds=worlds, worlds_file=worlds_file or DEFAULT_WORLDS, replications=replications,
                    only=only, theses_dir=theses_dir, workers=workers, address=address, resume=resume,
                    progress=update)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except ConnectionError as exc:
        raise fail(f"cannot reach the Ray cluster at {address}: {exc}") from None
    seconds = f"({time.perf_counter() - started:.0f} s)"
    if worlds is None:
        console.print(cli_sweep.verdict_table(table))
        console.print(f"verdicts: {(out / 'verdicts.md').resolve()} and verdicts.parquet  {seconds}")
    else:
        console.print(world_table(table))
        console.print(f"verdicts: {(out / 'verdicts.md').resolve()}, verdicts.parquet, verdicts_by_world.parquet, "
                      f"boxes.parquet  {seconds}")
    cli_sweep.fail_on_failed_thesis_runs(out, table["thesis"])

def run_robustness_command(out: Path, robustness: Path, over_worlds: Path | None, *, replications: int | None,
                           only: list[str] | None, theses_dir: Path | None, workers: int | None,
                           address: str | None, resume: bool) -> None:
    """``ieco theses --robustness FILE``: the robustness table (:mod:`experiments.robustness`)."""
    from experiments.final_verdicts import ROBUST, flip_check
    from experiments.robustness import run_robustness

    started = time.perf_counter()
    again = ["theses", "--out", out, "--robustness", robustness,
             *(["--over-worlds", over_worlds] if over_worlds else []),
             *(["--replications", replications] if replications else []),
             *[a for name in only or [] for a in ("--only", name)],
             *(["--theses-dir", theses_dir] if theses_dir else []), *(["--workers", workers] if workers else []),
             *(["--address", address] if address else [])]
    try:
        with on_interrupt(lambda: resume_hint(out, again)), progress_bar("robustness") as update:
            table = run_robustness(out, robustness_file=robustness, replications=replications, only=only,
                                   theses_dir=theses_dir, over_worlds=over_worlds, workers=workers,
                                   address=address, resume=resume, progress=update)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except ConnectionError as exc:
        raise fail(f"cannot reach the Ray cluster at {address}: {exc}") from None
    flips = flip_check(table, None)
    console.print(f"{len(flips)} verdict(s) flip under a single switch: "
                  + (", ".join(f"{r['thesis']} ({r['column']})" for _, r in flips.iterrows()) or "none"))
    if over_worlds is not None:
        import pandas as pd

        final = pd.read_parquet(out / "verdicts_final.parquet")
        made = final[final["verdict"].eq("conditional") & final["verdict_over_worlds"].isin(ROBUST)]["thesis"]
        console.print(f"{len(made)} robust verdict(s) over worlds made conditional by a single switch: "
                      + (", ".join(made) or "none"))
        console.print(f"final verdicts: {(out / 'verdicts_final.md').resolve()} and verdicts_final.parquet")
    console.print(f"robustness table: {(out / 'robustness.md').resolve()} and robustness.parquet  "
                  f"({time.perf_counter() - started:.0f} s)")
    cli_sweep.fail_on_failed_thesis_runs(out, table["thesis"].unique())


WORLD_STYLE = {"robustly supported": "green", "robustly refuted": "red", "conditional": "yellow"}


def world_table(table: pd.DataFrame) -> Table:
    """The verdicts over worlds as a rich table."""
    from experiments.verdicts import format_number

    out = Table(title="Thesis verdicts over plausible worlds")
    for name in ("#", "thesis", "estimate [95% CI over worlds]", "supported", "refuted", "verdict", "key parameters"):
        out.add_column(name)
    for _, row in table.iterrows():
        style = WORLD_STYLE.get(row["verdict"], "white")
        out.add_row(str(row["number"]), row["title"],
                    f"{format_number(row['estimate'])} [{format_number(row['ci_low'])}, "
                    f"{format_number(row['ci_high'])}]", f"{row['share_supported']:.0%}",
                    f"{row['share_refuted']:.0%}", f"[{style}]{escape(row['verdict'])}[/]",
                    escape(row["key_parameters"] or "-"))
    return out
