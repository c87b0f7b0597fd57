"""Final verdicts: the verdicts over plausible worlds, made conditional where a single switch flips them.

The acceptance rule of the theses is that no verdict changes sign under a single switch without the robustness
table showing it and the verdict being conditional. The verdicts over worlds (``ieco theses --worlds``) are judged
within the calibrated plausible worlds; the robustness table (:mod:`experiments.robustness`) switches one choice
at a time, some beyond the calibrated ranges (an end of an uncertainty range) or outside the worlds altogether (the
horizon, the burn-in, the statistic window). The final verdict a user reads combines the two:

* a robust verdict over worlds (robustly supported or robustly refuted) that flips (supported <-> refuted against
  the baseline column) under at least one column becomes ``conditional``; its conditions name, for each flipping
  column, the baseline's setting of that switch (the column's ``condition`` in the robustness file), the column's
  label and the verdict under it;
* a verdict already conditional over worlds stays conditional and its conditions gain the flipping switches;
* a verdict that flips under no column is the verdict over worlds, without conditions;
* a thesis the over-worlds file does not judge stays ``not judged over worlds`` (its flips are still listed).

An inconclusive verdict under a column is not a flip. The rule then holds by construction: every thesis whose
verdict flips under a single switch has a conditional final verdict (or none over worlds), and its conditions
say under which setting of the switch the verdict over worlds holds.

The functions here are pure except :func:`read_over_worlds`, which reads and checks the over-worlds file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from market.config.files import ConfigError

if TYPE_CHECKING:
    from experiments.robustness import RobustnessColumn, RobustnessSpec

NOT_JUDGED = "not judged over worlds"
"""Final verdict (and verdict over worlds) of a thesis the over-worlds file does not judge."""
ROBUST = ("robustly supported", "robustly refuted")
OVER_WORLDS_VERDICTS = (*ROBUST, "conditional")
OVER_WORLDS_REQUIRED = ("thesis", "verdict", "share_supported", "share_refuted")
"""Columns an over-worlds file (``verdicts.parquet`` of ``ieco theses --worlds``) must have."""
OVER_WORLDS_OPTIONAL = ("box_outcome", "key_parameters")
FINAL_COLUMNS: tuple[str, ...] = ("number", "thesis", "title", "baseline_verdict", "verdict_over_worlds", "verdict",
                                  "flips_under", "conditions")


@dataclass(frozen=True)
class Flip:
    """A verdict that changes sign under one column of the robustness table."""

    label: str
    """The column's label, e.g. 'elasticity 1.5'."""
    verdict: str
    """The verdict under the column (supported or refuted)."""
    condition: str
    """The baseline's setting of the switch, in words, e.g. 'a 5-year horizon'."""

    def text(self) -> str:
        """The condition as the final table states it: the setting, the switch it excludes, the verdict there."""
        return f"{self.condition}, not '{self.label}' (where it is {self.verdict})"


def column_condition(column: RobustnessColumn, baseline: RobustnessColumn) -> str:
    """What a verdict that flips under ``column`` holds under: its ``condition`` or, without one, the baseline's."""
    return column.condition or f"the setting of the column '{baseline.label}'"


def final_label(over_worlds: str | None, flipped: bool) -> str:
    """The final verdict from the verdict over worlds (None: not judged) and whether a single switch flips it.

    Raises:
        ValueError: ``over_worlds`` is not a verdict over worlds.
    """
    if over_worlds is None:
        return NOT_JUDGED
    if over_worlds not in OVER_WORLDS_VERDICTS:
        raise ValueError(f"unknown verdict over worlds '{over_worlds}' (one of {', '.join(OVER_WORLDS_VERDICTS)})")
    return "conditional" if flipped else over_worlds


def final_verdict(over_worlds: str | None, flips: Sequence[Flip], worlds_condition: str = "") -> tuple[str, str]:
    """A thesis's final verdict and its conditions.

    Args:
        over_worlds: The verdict over worlds, or None when the thesis is not judged over worlds.
        flips: The columns under which the verdict flips against the baseline column, in the table's order.
        worlds_condition: Where a thesis conditional over worlds holds (e.g. its PRIM box), in words.

    Returns:
        The final verdict and its conditions ('; '-separated; empty for a robust verdict that no switch flips).
    """
    verdict = final_label(over_worlds, bool(flips))
    parts = [f.text() for f in flips]
    if over_worlds == "conditional":
        parts.insert(0, worlds_condition or "conditional over the plausible worlds")
    return verdict, "; ".join(parts)


def worlds_condition(row: Mapping[Any, Any]) -> str:
    """Where a thesis conditional over worlds holds, from its row of the over-worlds file."""
    text = (f"conditional over the plausible worlds (supported in {float(row['share_supported']):.0%} and refuted "
            f"in {float(row['share_refuted']):.0%} of them")
    outcome, keys = (v if isinstance(v, str) else "" for v in (row.get("box_outcome"), row.get("key_parameters")))
    if outcome:
        text += f"; {outcome} in its PRIM box"
    if keys:
        text += f"; key parameters {keys}"
    return text + ")"


def thesis_flips(table: pd.DataFrame, spec: RobustnessSpec) -> dict[str, list[Flip]]:
    """Every thesis's flips in the robustness table (its ``flip`` column), in the order of the file's columns."""
    columns = {c.name: c for c in spec.columns}
    baseline = columns[spec.baseline]
    order = {c.name: i for i, c in enumerate(spec.columns)}
    flipped = table[table["flip"].astype(bool)]
    out: dict[str, list[Flip]] = {}
    for _, row in flipped.sort_values("column", key=lambda s: s.map(order)).iterrows():
        column = columns[row["column"]]
        out.setdefault(row["thesis"], []).append(Flip(column.label, row["verdict"], column_condition(column, baseline)))
    return out


def final_verdicts(table: pd.DataFrame, spec: RobustnessSpec, worlds: pd.DataFrame) -> pd.DataFrame:
    """One row a thesis of the robustness table: its verdict over worlds and its final verdict (FINAL_COLUMNS).

    Args:
        table: The robustness table (one row a thesis and column, with ``flip`` marked).
        spec: The robustness file (its columns' labels and conditions, and the baseline column).
        worlds: The verdicts over worlds (:func:`read_over_worlds`).
    """
    flips = thesis_flips(table, spec)
    judged = {str(r["thesis"]): r for r in worlds.to_dict("records")}
    rows = []
    for (number, name), group in table.groupby(["number", "thesis"], sort=True):
        base = group[group["column"] == spec.baseline]["verdict"]
        row = judged.get(str(name))
        over = None if row is None else str(row["verdict"])
        verdict, conditions = final_verdict(over, flips.get(str(name), []),
                                            worlds_condition(row) if row is not None else "")
        rows.append({"number": number, "thesis": name, "title": group.iloc[0]["title"],
                     "baseline_verdict": base.iloc[0] if len(base) else "", "verdict_over_worlds": over or NOT_JUDGED,
                     "verdict": verdict, "flips_under": "; ".join(f.label for f in flips.get(str(name), [])),
                     "conditions": conditions})
    return pd.DataFrame(rows, columns=list(FINAL_COLUMNS))


def flip_check(table: pd.DataFrame, worlds: pd.DataFrame | None) -> pd.DataFrame:
    """Every flip with the thesis's verdict over worlds, its final verdict and whether the acceptance rule holds.

    The rule holds where the final verdict is conditional, which it is for every flip of a judged thesis; it is
    undecided (NA) without verdicts over worlds or for a thesis they do not judge.
    """
    flips = table[table["flip"].astype(bool)][["number", "thesis", "title", "column", "label", "verdict"]].copy()
    if worlds is None:
        flips["over_worlds"] = ""
        flips["final"] = ""
        flips["holds"] = pd.NA
        return flips
    verdicts = dict(zip(worlds["thesis"].astype(str), worlds["verdict"].astype(str), strict=True))
    over = [verdicts.get(str(t)) for t in flips["thesis"]]
    flips["over_worlds"] = [v or NOT_JUDGED for v in over]
    flips["final"] = [final_label(v, True) for v in over]
    flips["holds"] = [pd.NA if v is None else f == "conditional" for v, f in zip(over, flips["final"], strict=True)]
    return flips


def read_over_worlds(path: str | Path) -> pd.DataFrame:
    """The verdicts over worlds of ``ieco theses --worlds`` (its ``verdicts.parquet``).

    Returns:
        The columns :data:`OVER_WORLDS_REQUIRED` and those of :data:`OVER_WORLDS_OPTIONAL` the file has.

    Raises:
        ConfigError: The file cannot be read, lacks a column, names a thesis twice or holds an unknown verdict.
    """
    if not Path(path).is_file():
        raise ConfigError(f"--over-worlds {path}: no such file (the verdicts.parquet of `ieco theses --worlds`)")
    where = f"--over-worlds {path}: not a verdicts.parquet of `ieco theses --worlds`"
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{where} ({exc})") from None
    missing = [c for c in OVER_WORLDS_REQUIRED if c not in frame.columns]
    if missing:
        raise ConfigError(f"{where}: no column(s) {', '.join(missing)}")
    frame = frame[[*OVER_WORLDS_REQUIRED, *(c for c in OVER_WORLDS_OPTIONAL if c in frame.columns)]]
    unknown = sorted({str(v) for v in frame["verdict"]} - set(OVER_WORLDS_VERDICTS))
    if unknown:
        raise ConfigError(f"{where}: verdict(s) {', '.join(repr(v) for v in unknown)} are not one of "
                          f"{', '.join(OVER_WORLDS_VERDICTS)}")
    twice = sorted({str(t) for t in frame["thesis"][frame["thesis"].duplicated()]})
    if twice:
        raise ConfigError(f"{where}: thesis(es) {', '.join(twice)} appear more than once")
    return frame.reset_index(drop=True)


def final_markdown(final: pd.DataFrame, baseline_label: str) -> str:
    """The final verdict table as Markdown, with the rule that makes it."""
    lines = [
        "# Final thesis verdicts",
        "",
        "The verdict over plausible worlds (`ieco theses --worlds`), made conditional where a single switch of the "
        f"robustness table flips it (supported <-> refuted against the column '{baseline_label}'; an inconclusive "
        "verdict under a switch is not a flip). A robustly supported or refuted verdict that flips holds only under "
        "the baseline's setting of the switch, so it is **conditional**, and 'holds under' names that setting, the "
        "switch it excludes and the verdict there; a verdict already conditional over worlds keeps where it holds "
        "over worlds and gains the switches. Every thesis whose verdict flips under a single switch therefore has a "
        "conditional final verdict (or none over worlds).",
        "",
        "| # | thesis | baseline | verdict over worlds | flips under | final verdict | holds under |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r in final.iterrows():
        cells = [str(r["number"]), r["title"], r["baseline_verdict"] or "-", r["verdict_over_worlds"],
                 r["flips_under"] or "-", f"**{r['verdict']}**", r["conditions"] or "-"]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
