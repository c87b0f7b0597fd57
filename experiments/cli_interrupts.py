"""Ctrl-C on the command line: one line saying what was kept and how to go on, exit code 130, no traceback."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console

from analysis.results import finished_run_dirs

INTERRUPTED = 130
"""Exit code of an interrupted command (128 + SIGINT), as shells report it."""

err_console = Console(stderr=True, soft_wrap=True)


@contextmanager
def on_interrupt(describe: Callable[[], str]) -> Iterator[None]:
    """Within the block, Ctrl-C prints ``interrupted: <describe()>`` and exits with code 130."""
    try:
        yield
    except Exception as exc:
        if not caused_by_interrupt(exc):
            raise
        interrupted(describe)
    except KeyboardInterrupt:
        interrupted(describe)


def caused_by_interrupt(exc: BaseException) -> bool:
    """Whether Ctrl-C caused ``exc``: compiled code (numba's dispatcher) turns a KeyboardInterrupt it receives
    into a ``SystemError`` whose cause or context chain holds the KeyboardInterrupt."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def interrupted(describe: Callable[[], str]) -> None:
    """Print ``interrupted: <describe()>`` and exit with code 130."""
    try:
        message = describe()
    except Exception as exc:  # the message must not hide the interrupt
        message = f"(could not list what was kept: {exc})"
    err_console.print(f"interrupted: {message}", highlight=False, markup=False)
    raise typer.Exit(INTERRUPTED) from None


def resume_hint(out: Path, command: list[str]) -> str:
    """What a sweep directory keeps after an interrupt, and the command (``ieco`` arguments) that continues it."""
    args = [str(a) for a in command if a != "--resume"]
    again = shlex.join(["ieco", *args, "--resume"])
    return f"{count_finished(out)} finished runs kept in {out}; continue with: {again}"


def count_finished(out: Path) -> int:
    """Finished runs under a sweep directory, or under each thesis directory of a theses directory."""
    if (out / "runs").is_dir():
        return len(finished_run_dirs(out))
    if not out.is_dir():
        return 0
    return sum(len(finished_run_dirs(sub)) for sub in out.iterdir() if sub.is_dir())
