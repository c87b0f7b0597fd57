"""Conditional verdicts: boxes on a synthetic case with a known box, the summary over worlds, a tiny run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from experiments.cli import app
from experiments.theses import Thesis, load_thesis
from experiments.world_verdicts import (
    BOX_COLUMNS,
    BY_WORLD_COLUMNS,
    WORLD_VERDICT_COLUMNS,
    encode_parameters,
    run_theses_in_worlds,
    summarise,
    world_box,
)
from experiments.worlds import WorldsFile
from market.config.files import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _worlds_file(params: list[dict[str, object]], worlds: list[dict[str, object]]) -> WorldsFile:
    return WorldsFile(kind="plausible_worlds", draws=len(worlds), seeds=[1, 2], accepted=len(worlds),
                      parameters=params, worlds=worlds)


def test_prim_finds_a_known_box_with_a_categorical_parameter() -> None:
    # Worlds uniform on [0, 1]^2 plus a noise parameter and a three-level rule; the thesis holds exactly where
    # a > 0.6, b < 0.3 and the rule is one of the two strict ones. PRIM must recover those limits and leave the
    # noise parameter unrestricted; feature scores must rank a and b above noise.
    rng = np.random.default_rng(5)
    n = 2000
    rules = ["none", "hhi_2010", "hhi_2023"]
    frame = pd.DataFrame({"a": rng.random(n), "b": rng.random(n), "noise": rng.random(n),
                          "rule": rng.choice(rules, n)})
    holds = ((frame["a"] > 0.6) & (frame["b"] < 0.3) & (frame["rule"] != "none")).to_numpy()
    worlds = _worlds_file([{"name": "a", "low": 0, "high": 1}, {"name": "b", "low": 0, "high": 1},
                           {"name": "noise", "low": 0, "high": 1}, {"name": "rule", "values": rules}], [])
    box = world_box(encode_parameters(frame, worlds), holds, worlds).set_index("parameter")
    # find_box reports the box of highest coverage among those with density >= 0.8 on the peeling trajectory:
    # it contains the true box (coverage 1) and its density, which for uniform a and b is about
    # 0.4 / (1 - a_low) * 0.3 / b_high, is at least 0.8, so a_low >= 0.5 and b_high <= 0.375.
    density, coverage = box["density"].iloc[0], box["coverage"].iloc[0]
    assert coverage == pytest.approx(1.0, abs=0.01) and density >= 0.8
    a_low, b_high = box.loc["a", "low"], box.loc["b", "high"]
    assert 0.5 <= a_low <= 0.61 and 0.29 <= b_high <= 0.375
    assert box.loc["a", "high"] == pytest.approx(1.0, abs=0.01) and box.loc["b", "low"] == pytest.approx(0.0, abs=0.01)
    assert density == pytest.approx(0.4 / (1 - a_low) * 0.3 / b_high, abs=0.05)
    assert box.loc["rule", "categories"] == "hhi_2010, hhi_2023"
    assert not box.loc["noise", "restricted"]
    scores = box["feature_score"]
    assert scores["noise"] < min(scores["a"], scores["b"])


def _thesis() -> Thesis:
    thesis, _ = load_thesis(ROOT / "experiments/theses/consolidation.toml")
    return thesis


def _by_world(verdicts: list[str], estimates: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"thesis": "consolidation", "world": [f"w{i:04d}" for i in range(len(verdicts))],
                         "estimate": estimates, "ci_low": estimates, "ci_high": estimates, "n": 5,
                         "verdict": verdicts, "error": ""}, columns=list(BY_WORLD_COLUMNS))


def test_summary_of_hand_made_world_verdicts() -> None:
    worlds = _worlds_file([{"name": "x", "low": 0, "high": 1}], [])
    x = pd.DataFrame({"x": np.linspace(0, 1, 20)})
    robust, box = summarise(_thesis(), _by_world(["supported"] * 18 + ["inconclusive"] * 2, [1.0] * 20), x, worlds)
    assert robust["verdict"] == "robustly supported" and robust["share_supported"] == pytest.approx(0.9)
    assert box.empty and robust["worlds"] == 20 and robust["estimate"] == pytest.approx(1.0)
    # supported exactly where x > 0.5 (x = k/19, k >= 10): conditional; the box (highest coverage with density
    # >= 0.8) keeps all 10 supported worlds and at most 2 others (10/12 = 0.83; 10/13 < 0.8)
    verdicts = ["supported" if v > 0.5 else "refuted" for v in x["x"]]
    estimates = [1.0 if v == "supported" else -1.0 for v in verdicts]
    row, box = summarise(_thesis(), _by_world(verdicts, estimates), x, worlds)
    assert row["verdict"] == "conditional" and row["share_supported"] == pytest.approx(0.5)
    assert row["estimate"] == pytest.approx(0.0) and row["ci_low"] < 0 < row["ci_high"]
    assert list(box.columns) == list(BOX_COLUMNS) and row["box_outcome"] == "supported"
    first = box.iloc[0]
    assert x["x"][7] < first["low"] <= x["x"][10] and first["coverage"] == pytest.approx(1.0)
    inside = int((x["x"] >= first["low"]).sum())
    assert first["density"] == pytest.approx(10 / inside) and first["density"] >= 0.8
    assert row["key_parameters"].startswith("x (")
    # supported nowhere: the box is where it is refuted
    verdicts = ["refuted" if v > 0.5 else "inconclusive" for v in x["x"]]
    row, box = summarise(_thesis(), _by_world(verdicts, [0.0] * 20), x, worlds)
    assert row["verdict"] == "conditional" and row["box_outcome"] == "refuted"


# ---------------------------------------------------------------------------------------------------------
# end to end: two tiny theses in three worlds
# ---------------------------------------------------------------------------------------------------------

TINY = """
"simulation.steps" = 4
"segments.0.n_agents" = 40
"segments.1.n_agents" = 40
"segments.2.n_agents" = 40
"""

COMPARE = """
name = "noise_share"
number = 2
title = "Noise changes shares"
source_claim = "A noisier choice changes the hyperscalers' share."
test = "Hyperscaler share, noisy minus sharp logit."
assumptions = ["Tiny scenario."]
replications = 2
root_seed = 4

[scenarios.noisy]
base = "baseline"
[scenarios.noisy.settings]
"logit.mu" = 1.0
""" + TINY + """
[scenarios.sharp]
base = "baseline"
[scenarios.sharp.settings]
"logit.mu" = 0.2
""" + TINY + """
[statistic]
name = "final"
description = "hyperscaler share at the end: noisy minus sharp"
column = "share_hyperscaler"
window = 2
compare = ["noisy", "sharp"]

[claim]
operator = "<"
threshold = 0.0
"""


def _worlds_json(path: Path) -> Path:
    params = [{"name": "spec_eff", "paths": ["providers.specialist.serving_efficiency"], "low": 0.8, "high": 2.0},
              {"name": "mu", "paths": ["logit.mu"], "low": 0.1, "high": 0.5},
              {"name": "rule", "paths": ["corporate.antitrust.policy"], "values": ["none", "hhi_2023"]}]
    worlds = [{"world": f"w000{i}", "point": i, "params": {"spec_eff": e, "mu": 0.3, "rule": r}, "outcomes": {}}
              for i, (e, r) in enumerate([(0.9, "none"), (1.5, "hhi_2023"), (2.0, "none"), (1.2, "hhi_2023")])]
    path.write_text(json.dumps({"kind": "plausible_worlds", "draws": 10, "seeds": [1], "accepted": 4,
                                "parameters": params, "worlds": worlds}))
    return path


@pytest.mark.slow
def test_theses_in_worlds_end_to_end(tmp_path: Path) -> None:
    theses_dir = tmp_path / "theses"
    theses_dir.mkdir()
    (theses_dir / "noise_share.toml").write_text(COMPARE)
    worlds = _worlds_json(tmp_path / "worlds.json")
    out = tmp_path / "out"
    table, per_world, _boxes = run_theses_in_worlds(out, worlds=3, worlds_file=worlds, theses_dir=theses_dir,
                                                   workers=1)
    assert list(table.columns) == list(WORLD_VERDICT_COLUMNS)
    assert per_world["world"].tolist() == ["w0000", "w0001", "w0002"] and (per_world["n"] == 2).all()
    # the world's settings are applied, then the thesis's: logit.mu is the scenario's (1.0 / 0.2), not the
    # world's 0.3; the specialists' efficiency is the world's
    plan = pd.read_parquet(out / "noise_share" / "plan.parquet")
    assert len(plan) == 3 * 2 * 2
    seeds = plan.pivot_table(index="replication", columns=["world", "scenario"], values="seed")
    assert (seeds.nunique(axis=1) == 1).all()  # common random numbers across scenarios and worlds
    run = plan[(plan["world"] == "w0001") & (plan["scenario"] == "noisy")]["run_id"].iloc[0]
    manifest = json.loads((out / "noise_share" / "runs" / run / "manifest.json").read_text())
    config = manifest["config"]
    assert config["logit"]["mu"] == 1.0 and config["corporate"]["antitrust"]["policy"] == "hhi_2023"
    specialist = next(p for p in config["providers"] if p["name"] == "specialist")
    assert specialist["serving_efficiency"] == 1.5
    row = table.iloc[0]
    assert row["worlds"] == 3
    assert row["share_supported"] + row["share_refuted"] + row["share_inconclusive"] + row["share_error"] \
        == pytest.approx(1.0)
    assert row["estimate"] == pytest.approx(per_world["estimate"].mean())
    for name in ("verdicts.md", "verdicts.parquet", "verdicts_by_world.parquet", "boxes.parquet"):
        assert (out / name).is_file()
    assert "Thesis verdicts over plausible worlds" in (out / "verdicts.md").read_text()
    assert list(pd.read_parquet(out / "boxes.parquet").columns) == list(BOX_COLUMNS)
    # the command line: too many worlds is bad input (exit 2, nothing written)
    result = CliRunner().invoke(app, ["theses", "--out", str(tmp_path / "x"), "--worlds", "5", "--worlds-file",
                                      str(worlds), "--theses-dir", str(theses_dir), "--workers", "1"])
    assert result.exit_code == 2 and "holds 4 plausible world" in result.output
    assert not (tmp_path / "x").exists()
    with pytest.raises(ConfigError, match="--resume"):
        run_theses_in_worlds(out, worlds=3, worlds_file=worlds, theses_dir=theses_dir, workers=1)


@pytest.mark.bad_input
def test_worlds_file_without_worlds_is_bad_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["theses", "--out", str(tmp_path / "o"), "--worlds-file",
                                      str(tmp_path / "w.json")])
    assert result.exit_code == 2 and "--worlds N" in result.output
    assert not (tmp_path / "o").exists()


def test_a_box_must_be_denser_than_the_whole_space() -> None:
    from experiments.world_verdicts import box_density

    assert box_density(0.1) == pytest.approx(0.8)
    assert box_density(0.6) == pytest.approx(0.8)
    assert box_density(0.85) == pytest.approx(0.925)  # an unrestricted box (density 0.85) is never reported
