"""What every ``ieco`` command shares: the one way of failing, exit codes, and checked option values.

Exit codes:

* 0: done;
* 1: an unexpected failure outside the user's input (e.g. a Ray cluster that cannot be reached);
* 2: bad input (a config, sweep or thesis file, or a command-line value); nothing is written;
* 3: a sweep or the theses ran, but some runs failed (they are listed, and stored under ``OUT/failed/``);
* 130: interrupted.

Command-line values are parsed here rather than by typer's own converters so that a bad value is named in
the message (``--steps abc``: "'abc' is not a whole number").
"""

from __future__ import annotations

import re
from collections.abc import Callable

import typer
from rich.console import Console

from market.config.schema import MAX_SEED

EXIT_BAD_INPUT = 2
EXIT_RUNS_FAILED = 3

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

_HOST_PORT = re.compile(
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):(?P<port>\d{1,5})"
)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print ``error: message`` to stderr without a traceback and return the exit to raise.

    Args:
        message: What is wrong, naming the key or value (printed as plain text, not rich markup).
        code: Exit code (2: bad input; see the module docstring for the others).
    """
    err_console.print("[bold red]error:[/] ", end="", highlight=False)
    err_console.print(message, highlight=False, markup=False)
    return typer.Exit(code)


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """A parser for an integer option within ``[low, high]`` whose errors name the value given."""

    def parse(text: str) -> int:
        if isinstance(text, int):  # a default
            return text
        stripped = text.strip().replace("_", "")
        if not re.fullmatch(r"[+-]?\d{1,30}", stripped):
            raise typer.BadParameter(f"{text!r} is not a whole number")
        value = int(stripped)
        if not low <= value <= high:
            raise typer.BadParameter(f"{value} is outside the allowed range {low} to {high}")
        return value

    return parse


parse_seed = whole_number(0, MAX_SEED)
"""``--seed``: 0 <= seed < 2**63, as ``simulation.seed``."""


def parse_address(text: str) -> str:
    """``--address``: ``auto`` or ``HOST:PORT`` with a port from 1 to 65535.

    Raises:
        typer.BadParameter: Any other value, with the reason.
    """
    value = text.strip()
    if value == "auto":
        return value
    match = _HOST_PORT.fullmatch(value)
    if match is None:
        raise typer.BadParameter(f"{text!r} is not 'auto' or HOST:PORT (e.g. 10.0.0.5:6379)")
    port = int(match.group("port"))
    if not 1 <= port <= 65535:
        raise typer.BadParameter(f"{text!r}: port {port} is outside 1 to 65535")
    return value
