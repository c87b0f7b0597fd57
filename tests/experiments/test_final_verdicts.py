"""Final verdicts: a robust verdict over worlds that a single switch flips becomes conditional on the switch."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from experiments.cli import app
from experiments.final_verdicts import (
    FINAL_COLUMNS,
    NOT_JUDGED,
    Flip,
    final_label,
    final_markdown,
    final_verdict,
    final_verdicts,
    flip_check,
    read_over_worlds,
)
from experiments.robustness import DEFAULT_ROBUSTNESS, ROBUSTNESS_COLUMNS, RobustnessColumn, RobustnessSpec, mark_flips
from market.config.files import ConfigError

ELASTICITY = "demand elasticity as calibrated (1.0-1.1), not 'elasticity 1.5' (where it is refuted)"
HORIZON = "a 5-year horizon, not '8 years' (where it is refuted)"


def _spec() -> RobustnessSpec:
    def column(name: str, label: str, condition: str = "") -> RobustnessColumn:
        return RobustnessColumn(name=name, label=label, question="q", source="s", condition=condition)

    return RobustnessSpec(baseline="base", columns=[
        column("base", "baseline"),
        column("elasticity", "elasticity 1.5", "demand elasticity as calibrated (1.0-1.1)"),
        column("horizon", "8 years", "a 5-year horizon"),
        column("window", "other window"),  # no condition: the baseline column's words
    ])


def _table(verdicts: dict[str, tuple[str, str, str, str]]) -> pd.DataFrame:
    """A robustness table from each thesis's verdicts in the columns base, elasticity, horizon, window."""
    rows = []
    columns = _spec().columns
    for number, (thesis, cells) in enumerate(verdicts.items(), start=1):
        for column, verdict in zip(columns, cells, strict=True):
            rows.append({"number": number, "thesis": thesis, "title": thesis.title(), "claim": "> 0",
                         "column": column.name, "label": column.label, "estimate": 0.5, "ci_low": 0.25, "ci_high": 0.75,
                         "n": 5, "verdict": verdict, "flip": False, "error": ""})
    return mark_flips(pd.DataFrame(rows, columns=list(ROBUSTNESS_COLUMNS)), "base")


S, R, Inc = "supported", "refuted", "inconclusive"
TABLE = _table({
    "robust_flip": (S, R, S, S),            # robustly supported over worlds, refuted at elasticity 1.5
    "robust_steady": (S, S, S, S),          # robustly supported, no switch changes it
    "conditional_flip": (R, R, S, R),       # conditional over worlds, supported at 8 years
    "inconclusive_only": (R, Inc, Inc, R),  # robustly refuted; inconclusive under two switches: no flip
    "unjudged": (S, R, S, S),               # not in the over-worlds file
    "two_flips": (S, R, R, S),              # robustly supported, refuted at elasticity 1.5 and at 8 years
    "unworded": (R, R, R, S),               # robustly refuted, supported under a column without a condition
})
WORLDS = pd.DataFrame({
    "thesis": ["robust_flip", "robust_steady", "conditional_flip", "inconclusive_only", "two_flips", "unworded"],
    "verdict": ["robustly supported", "robustly supported", "conditional", "robustly refuted",
                "robustly supported", "robustly refuted"],
    "share_supported": [1.0, 0.95, 0.4, 0.0, 0.9, 0.05],
    "share_refuted": [0.0, 0.0, 0.55, 1.0, 0.05, 0.95],
    "box_outcome": ["", "", "supported", "", "", ""],
    "key_parameters": ["", "", "demand_elasticity (0.61)", "", "", ""],
})


@pytest.fixture(scope="module")
def final() -> pd.DataFrame:
    return final_verdicts(TABLE, _spec(), WORLDS).set_index("thesis")


def test_a_robust_verdict_that_flips_is_conditional_on_the_switch(final: pd.DataFrame) -> None:
    row = final.loc["robust_flip"]
    assert row["verdict_over_worlds"] == "robustly supported" and row["baseline_verdict"] == "supported"
    assert row["verdict"] == "conditional"
    assert row["flips_under"] == "elasticity 1.5"
    assert row["conditions"] == ELASTICITY


def test_a_robust_verdict_that_no_switch_flips_is_unchanged(final: pd.DataFrame) -> None:
    row = final.loc["robust_steady"]
    assert (row["verdict"], row["flips_under"], row["conditions"]) == ("robustly supported", "", "")


def test_a_conditional_verdict_gains_the_flipping_switch(final: pd.DataFrame) -> None:
    row = final.loc["conditional_flip"]
    assert row["verdict"] == "conditional" and row["flips_under"] == "8 years"
    assert row["conditions"] == ("conditional over the plausible worlds (supported in 40% and refuted in 55% of "
                                 "them; supported in its PRIM box; key parameters demand_elasticity (0.61)); "
                                 "a 5-year horizon, not '8 years' (where it is supported)")


def test_an_inconclusive_column_is_not_a_flip(final: pd.DataFrame) -> None:
    row = final.loc["inconclusive_only"]
    assert (row["verdict"], row["flips_under"], row["conditions"]) == ("robustly refuted", "", "")


def test_a_thesis_not_judged_over_worlds_stays_so(final: pd.DataFrame) -> None:
    row = final.loc["unjudged"]
    assert row["verdict_over_worlds"] == NOT_JUDGED and row["verdict"] == NOT_JUDGED
    assert row["conditions"] == ELASTICITY  # its flip is still stated


def test_a_flip_under_two_columns_lists_both(final: pd.DataFrame) -> None:
    row = final.loc["two_flips"]
    assert row["verdict"] == "conditional" and row["flips_under"] == "elasticity 1.5; 8 years"
    assert row["conditions"] == f"{ELASTICITY}; {HORIZON}"


def test_a_column_without_condition_words_names_the_baseline(final: pd.DataFrame) -> None:
    row = final.loc["unworded"]
    assert row["verdict"] == "conditional"
    assert row["conditions"] == "the setting of the column 'baseline', not 'other window' (where it is supported)"


def test_the_final_table_has_every_thesis_and_the_rule_holds_for_every_flip(final: pd.DataFrame) -> None:
    assert list(final_verdicts(TABLE, _spec(), WORLDS).columns) == list(FINAL_COLUMNS)
    assert list(final.index) == list(TABLE["thesis"].unique())
    checked = flip_check(TABLE, WORLDS)
    # 6 flips: robust_flip 1, conditional_flip 1, unjudged 1, two_flips 2, unworded 1
    assert len(checked) == 6
    judged = checked[checked["over_worlds"] != NOT_JUDGED]
    assert judged["final"].eq("conditional").all() and judged["holds"].eq(True).all()
    assert checked[checked["thesis"] == "unjudged"]["holds"].isna().all()
    text = final_markdown(final.reset_index(), "baseline")
    assert ("| 1 | Robust_Flip | supported | robustly supported | elasticity 1.5 | **conditional** | "
            f"{ELASTICITY} |") in text
    assert "| 2 | Robust_Steady | supported | robustly supported | - | **robustly supported** | - |" in text


def test_the_final_label() -> None:
    assert final_label("robustly refuted", True) == "conditional"
    assert final_label("robustly refuted", False) == "robustly refuted"
    assert final_label("conditional", False) == "conditional"
    assert final_label(None, True) == NOT_JUDGED
    with pytest.raises(ValueError, match="unknown verdict over worlds 'supported'"):
        final_label("supported", False)
    assert final_verdict("robustly supported", [Flip("x", "refuted", "as declared")]) == (
        "conditional", "as declared, not 'x' (where it is refuted)")


def test_every_shipped_switch_states_its_baseline_setting() -> None:
    from experiments.robustness import load_robustness

    spec, _ = load_robustness(DEFAULT_ROBUSTNESS)
    assert all(c.condition for c in spec.columns if c.name != spec.baseline)
    horizons = {c.name: c.condition for c in spec.columns if c.horizon is not None and c.name != spec.baseline}
    assert horizons["horizon_8y"] == "a 5-year horizon"


def _parquet(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_parquet(path, index=False)
    return path


def test_reading_an_over_worlds_file(tmp_path: Path) -> None:
    frame = read_over_worlds(_parquet(tmp_path / "v.parquet", WORLDS.assign(extra=1)))
    assert list(frame.columns) == ["thesis", "verdict", "share_supported", "share_refuted", "box_outcome",
                                   "key_parameters"]
    with pytest.raises(ConfigError, match=r"verdict\(s\) 'maybe' are not one of"):
        read_over_worlds(_parquet(tmp_path / "u.parquet", WORLDS.assign(verdict="maybe")))
    with pytest.raises(ConfigError, match=r"thesis\(es\) a appear more than once"):
        read_over_worlds(_parquet(tmp_path / "d.parquet", WORLDS.head(2).assign(thesis="a")))


ROBUSTNESS = """baseline = "base"
[[columns]]
name = "base"
label = "base"
question = "q"
source = "s"
[[columns]]
name = "other"
label = "other"
question = "q"
source = "s"
settings = { "logit.mu" = 1.0 }
"""


@pytest.mark.bad_input
@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file"),
    (b"not parquet", "not a verdicts.parquet of `ieco theses --worlds`"),
    (WORLDS.drop(columns=["verdict"]), "no column(s) verdict"),
    (WORLDS.assign(verdict="supported"), "verdict(s) 'supported' are not one of"),
])
def test_a_bad_over_worlds_file_exits_2_and_writes_nothing(tmp_path: Path, content: object, message: str) -> None:
    (tmp_path / "r.toml").write_text(ROBUSTNESS)
    verdicts = tmp_path / "verdicts.parquet"
    if isinstance(content, bytes):
        verdicts.write_bytes(content)
    elif isinstance(content, pd.DataFrame):
        _parquet(verdicts, content)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["theses", "--out", str(out), "--robustness", str(tmp_path / "r.toml"),
                                      "--over-worlds", str(verdicts)])
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    assert "--over-worlds" in output
    assert message in output and "Traceback" not in output
    assert not out.exists()
