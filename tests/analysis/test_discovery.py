"""Scenario discovery: PRIM (EMA Workbench) finds a planted box; claims parse and fail clearly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.discovery import Claim, feature_scores, find_box


def _planted(n: int = 1000, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """Cases uniform on [0, 1]^3; of interest exactly inside 0.2 <= a <= 0.6, b >= 0.5 (c irrelevant)."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.random((n, 3)), columns=["a", "b", "c"])
    y = ((x["a"] >= 0.2) & (x["a"] <= 0.6) & (x["b"] >= 0.5)).to_numpy()
    return x, y


def test_prim_recovers_the_planted_box() -> None:
    """The planted box holds 20% of the cases, all of interest: PRIM's box must match its limits to about
    one peel (5% of the remaining cases, i.e. ~0.05 of a unit range), with coverage and density near 1."""
    x, y = _planted()
    box = find_box(x, y, threshold=0.9)
    limits = box.limits
    assert list(limits.index) == ["a", "b", "c"]
    assert limits.loc["a", "low"] == pytest.approx(0.2, abs=0.05)
    assert limits.loc["a", "high"] == pytest.approx(0.6, abs=0.05)
    assert limits.loc["b", "low"] == pytest.approx(0.5, abs=0.05)
    assert bool(limits.loc["a", "restricted"]) and bool(limits.loc["b", "restricted"])
    assert not bool(limits.loc["c", "restricted"])
    assert box.density >= 0.9 and box.coverage >= 0.85
    inside = ((x["a"] >= limits.loc["a", "low"]) & (x["a"] <= limits.loc["a", "high"])
              & (x["b"] >= limits.loc["b", "low"]) & (x["b"] <= limits.loc["b", "high"])).to_numpy()
    assert box.coverage == pytest.approx((inside & y).sum() / y.sum())
    assert box.density == pytest.approx((inside & y).sum() / inside.sum())
    assert {"coverage", "density", "mass", "res_dim"} <= set(box.trajectory.columns)
    assert box.trajectory["mass"].iloc[0] == pytest.approx(1.0)


def test_feature_scores_rank_the_planted_dimensions_first() -> None:
    x, y = _planted()
    scores = feature_scores(x, y, seed=1)
    assert list(scores.index[:2]) == ["a", "b"] or list(scores.index[:2]) == ["b", "a"]
    assert scores["c"] < min(scores["a"], scores["b"])
    assert scores.sum() == pytest.approx(1.0)


def test_prim_needs_cases_on_both_sides() -> None:
    x, _ = _planted(50)
    with pytest.raises(ValueError, match="holds in 50 of 50 cases"):
        find_box(x, np.ones(50, dtype=bool))


@pytest.mark.parametrize(("text", "operator", "threshold"), [(">0", ">", 0.0), ("< 0.5", "<", 0.5),
                                                              (">-1e3", ">", -1000.0)])
def test_claims_parse(text: str, operator: str, threshold: float) -> None:
    claim = Claim.parse(text)
    assert (claim.operator, claim.threshold) == (operator, threshold)
    assert list(claim.holds(np.array([-2000.0, 0.0, 0.25, 1.0]))) == [
        v > threshold if operator == ">" else v < threshold for v in (-2000.0, 0.0, 0.25, 1.0)]


@pytest.mark.parametrize(("text", "message"), [("0", "must start with '>' or '<'"), (">abc", "'abc' is not a number"),
                                               ("", "must start")])
def test_bad_claims_name_the_value(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Claim.parse(text)


def test_ema_workbench_imports_quietly() -> None:
    """EMA Workbench warns at import (no ipyparallel); the import through analysis.discovery prints nothing."""
    import subprocess
    import sys

    code = "from analysis.discovery import _ema; prim, scoring = _ema(); print(prim.__name__)"
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ema_workbench.analysis.prim" and proc.stderr == ""
