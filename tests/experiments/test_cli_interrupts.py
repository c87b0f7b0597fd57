"""Ctrl-C handling that does not need a subprocess: interrupts wrapped by compiled code still exit with 130."""

from __future__ import annotations

import pytest
import typer

from experiments.cli_interrupts import INTERRUPTED, caused_by_interrupt, on_interrupt


def wrapped_interrupt() -> SystemError:
    """What numba's dispatcher raises when SIGINT arrives inside it: a SystemError caused by the interrupt."""
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            raise SystemError("returned a result with an exception set") from interrupt
    except SystemError as exc:
        return exc


def test_a_system_error_caused_by_ctrl_c_counts_as_an_interrupt() -> None:
    assert caused_by_interrupt(wrapped_interrupt())
    assert caused_by_interrupt(KeyboardInterrupt())
    assert not caused_by_interrupt(SystemError("unrelated"))
    assert not caused_by_interrupt(ValueError("bad value"))


def test_on_interrupt_exits_130_with_one_line_for_a_wrapped_interrupt(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exit_info, on_interrupt(lambda: "nothing written"):
        raise wrapped_interrupt()
    assert exit_info.value.exit_code == INTERRUPTED
    assert capsys.readouterr().err == "interrupted: nothing written\n"


def test_on_interrupt_lets_other_errors_through() -> None:
    with pytest.raises(ValueError, match="bad value"), on_interrupt(lambda: "nothing written"):
        raise ValueError("bad value")


def test_a_cycle_in_the_exception_chain_ends_the_search() -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__context__, second.__context__ = second, first
    assert not caused_by_interrupt(first)
