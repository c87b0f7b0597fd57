"""Events of a run (market/events.py): an event as a row of the events table, and the log's counts by kind.

Expected rows follow :meth:`market.events.Event.row`: parties and generation by name, blank for id -1."""

from __future__ import annotations

import numpy as np

from market.events import EVENT_COLUMNS, Event, EventKind, EventLog

HOLDERS = ["cloud", "specialist", "reseller"]
GENERATIONS = ["A100", "H100"]


def test_event_row_names_parties_and_generation() -> None:
    """A reseller (2) sells 7 H100s (generation 1) to the specialist (1) for 84,000: names in place of ids, and the
    row's keys are the events table's columns in order. numpy integers and floats become Python ones."""
    event = Event(EventKind.GPU_SALE, holder=2, counterparty=1, generation=1, units=np.int64(7),  # type: ignore[arg-type]
                  amount_usd=np.float64(84_000.0), detail="used")
    row = event.row(5, HOLDERS, GENERATIONS)
    assert row == {"step": 5, "event": "gpu_sale", "party": "reseller", "counterparty": "specialist",
                   "generation": "H100", "units": 7, "amount_usd": 84_000.0, "detail": "used"}
    assert tuple(row) == EVENT_COLUMNS
    assert type(row["units"]) is int and type(row["amount_usd"]) is float


def test_event_row_blanks() -> None:
    """An exit with only a party: counterparty and generation are blank (not the last name, as index -1 would
    give), units 0, amount 0, detail empty."""
    row = Event(EventKind.EXIT, holder=0).row(3, HOLDERS, GENERATIONS)
    assert row == {"step": 3, "event": "exit", "party": "cloud", "counterparty": "", "generation": "", "units": 0,
                   "amount_usd": 0.0, "detail": ""}


def test_event_row_scrapped_counterparty_is_blank() -> None:
    """GPUs scrapped (counterparty -1, the SCRAPPED id) name no counterparty."""
    row = Event(EventKind.GPU_SCRAPPED, holder=1, counterparty=-1, generation=0, units=3).row(0, HOLDERS, GENERATIONS)
    assert (row["party"], row["counterparty"], row["generation"], row["units"]) == ("specialist", "", "A100", 3)


def test_event_log_counts_by_kind_and_keeps_rows_in_order() -> None:
    """Four events: one entry, two GPU sales, one acquisition; counts {entry: 1, gpu_sale: 2, acquisition: 1}
    and the rows in the order and with the steps they were recorded."""
    log = EventLog(HOLDERS, GENERATIONS)
    log.record(Event(EventKind.ENTRY, holder=1, amount_usd=1e6), step=2)
    log.record(Event(EventKind.GPU_SALE, holder=2, counterparty=1, generation=0, units=4), step=2)
    log.record(Event(EventKind.ACQUISITION, holder=0, counterparty=1, amount_usd=5e7), step=4)
    log.record(Event(EventKind.GPU_SALE, holder=0, counterparty=2, generation=1, units=1), step=6)
    assert log.counts == {"entry": 1, "gpu_sale": 2, "acquisition": 1}
    assert [(r["step"], r["event"], r["party"], r["counterparty"]) for r in log.rows] == [
        (2, "entry", "specialist", ""), (2, "gpu_sale", "reseller", "specialist"),
        (4, "acquisition", "cloud", "specialist"), (6, "gpu_sale", "cloud", "reseller")]


def test_event_kinds_are_the_event_column_values() -> None:
    """The nine kinds and their names in the events table (ODD 7.13)."""
    assert [k.value for k in EventKind] == ["entry", "exit", "acquisition", "merger_blocked", "gpu_purchase",
                                            "gpu_sale", "gpu_retired", "gpu_liquidation", "gpu_scrapped"]
    assert EVENT_COLUMNS == ("step", "event", "party", "counterparty", "generation", "units", "amount_usd", "detail")
