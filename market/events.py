"""Events of a run: what changed hands or who entered and left. One kind per :class:`EventKind`.

An event is a frozen :class:`Event` with holder ids; the model turns it into a row of the ``events`` table
(:data:`EVENT_COLUMNS`) with the parties' names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class EventKind(StrEnum):
    """The kinds of event a run records (the ``event`` column of ``events.parquet``)."""

    ENTRY = "entry"
    """A provider entered: ``amount_usd`` is the sunk cost, ``detail`` the incumbents' margin and kind."""
    EXIT = "exit"
    """A provider left (bankrupt or idle): ``amount_usd`` its cash, ``detail`` the reason and GPUs liquidated."""
    ACQUISITION = "acquisition"
    """An acquirer (``party``) bought a target (``counterparty``) for ``amount_usd``; ``detail`` the HHI review."""
    MERGER_BLOCKED = "merger_blocked"
    """Merger control blocked a proposed deal; ``detail`` the HHI review."""
    GPU_PURCHASE = "gpu_purchase"
    """New GPUs bought from the vendor (``detail``: ``vendor`` or ``entry``)."""
    GPU_SALE = "gpu_sale"
    """GPUs sold: by a provider to a reseller (divestment) or by a reseller (``party``) to a provider."""
    GPU_RETIRED = "gpu_retired"
    """GPUs a provider retired to a reseller (on a new generation's release, or by its upgrade cycle)."""
    GPU_LIQUIDATION = "gpu_liquidation"
    """GPUs of a provider that exited, sold to a reseller."""
    GPU_SCRAPPED = "gpu_scrapped"
    """GPUs scrapped at the end of their life, or because no reseller could take them."""


EVENT_COLUMNS: tuple[str, ...] = ("step", "event", "party", "counterparty", "generation", "units", "amount_usd",
                                  "detail")
"""Columns of the events table."""


@dataclass(frozen=True)
class Event:
    """One event, by holder id (-1: none)."""

    kind: EventKind
    holder: int
    counterparty: int = -1
    generation: int = -1
    units: int = 0
    amount_usd: float = 0.0
    detail: str = ""

    def row(self, step: int, holder_names: Sequence[str], generation_names: Sequence[str]) -> dict[str, object]:
        """The event as a row of the events table (:data:`EVENT_COLUMNS`), parties and generation by name."""
        return {
            "step": step, "event": self.kind.value,
            "party": holder_names[self.holder] if self.holder >= 0 else "",
            "counterparty": holder_names[self.counterparty] if self.counterparty >= 0 else "",
            "generation": generation_names[self.generation] if self.generation >= 0 else "",
            "units": int(self.units), "amount_usd": float(self.amount_usd), "detail": self.detail,
        }


class EventLog:
    """The events of a run so far, as rows of the events table, with counts by kind."""

    def __init__(self, holder_names: Sequence[str], generation_names: Sequence[str]) -> None:
        self.rows: list[dict[str, object]] = []
        self.counts: dict[str, int] = {}
        self._holder_names = holder_names
        self._generation_names = generation_names

    def record(self, event: Event, step: int) -> None:
        """Append ``event`` as a row of ``step``."""
        self.counts[event.kind.value] = self.counts.get(event.kind.value, 0) + 1
        self.rows.append(event.row(step, self._holder_names, self._generation_names))
