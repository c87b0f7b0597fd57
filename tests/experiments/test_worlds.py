"""Plausible worlds: the uncertainty file's schema errors, the design's coverage, the worlds file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.calibration import main as calibration_main
from experiments.sweep_config import design_points
from experiments.worlds import (
    DEFAULT_UNCERTAINTY,
    design_sweep,
    load_uncertainty,
    read_worlds,
    world_settings,
    worlds_document,
    write_worlds,
)
from market.config.files import ConfigError

ROOT = Path(__file__).resolve().parents[2]
HEADER = 'base = "baseline"\n[design]\ndraws = 8\nseeds = 2\n'


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "uncertainty.toml"
    path.write_text(HEADER + body)
    return path


def _error(tmp_path: Path, body: str) -> str:
    with pytest.raises(ConfigError) as excinfo:
        load_uncertainty(_write(tmp_path, body))
    return str(excinfo.value)


def test_the_shipped_uncertainty_file_loads_with_sources() -> None:
    spec, _ = load_uncertainty(DEFAULT_UNCERTAINTY)
    names = {p.name for p in spec.parameters}
    assert {"demand_elasticity", "hyperscaler_serving_efficiency", "specialist_serving_efficiency",
            "open_lag_months", "switching_cost", "verification_overhead", "entry_threshold",
            "merger_rule"} <= names
    assert all(p.source.strip() for p in spec.parameters)
    merger = next(p for p in spec.parameters if p.name == "merger_rule")
    assert merger.values == ["none", "hhi_2010", "hhi_2023"]


@pytest.mark.bad_input
def test_an_unknown_key_path_names_the_parameter_and_path(tmp_path: Path) -> None:
    text = _error(tmp_path, '[[parameters]]\nname = "mu"\npath = "logit.muu"\nlow = 0.1\nhigh = 0.5\nsource = "s"\n')
    assert "parameter 'mu'" in text and "logit.muu" in text and "unknown key" in text


@pytest.mark.bad_input
def test_an_unknown_list_item_names_the_parameter(tmp_path: Path) -> None:
    text = _error(tmp_path, '[[parameters]]\nname = "eff"\npath = "providers.cloud_z.serving_efficiency"\n'
                            'low = 0.5\nhigh = 1.5\nsource = "s"\n')
    assert "parameter 'eff'" in text and "cloud_z" in text


@pytest.mark.bad_input
def test_an_invalid_category_names_the_value(tmp_path: Path) -> None:
    text = _error(tmp_path, '[[parameters]]\nname = "rule"\npath = "corporate.antitrust.policy"\n'
                            'values = ["hhi_2023", "hhi_2099"]\nsource = "s"\n')
    assert "parameter 'rule'" in text and "hhi_2099" in text


@pytest.mark.bad_input
@pytest.mark.parametrize(("body", "message"), [
    ('[[parameters]]\nname = "a"\npath = "logit.mu"\nlow = 0.5\nhigh = 0.1\nsource = "s"\n', "must be below"),
    ('[[parameters]]\nname = "a"\npath = "logit.mu"\nlow = 0.1\nhigh = 0.5\n', "source"),
    ('[[parameters]]\nname = "a"\npath = "logit.mu"\nlow = 0.0\nhigh = 0.5\nscale = "log"\nsource = "s"\n',
     "low > 0"),
    ('[[parameters]]\nname = "a"\npath = "logit.mu"\nlow = 0.1\nhigh = 0.5\nlevels = 3\nsource = "s"\n',
     "levels"),
    ('[[parameters]]\nname = "a"\npath = "logit.mu"\nlow = 0.1\nhigh = 0.5\nsource = "s"\n'
     '[[parameters]]\nname = "b"\npath = "logit.mu"\nlow = 0.1\nhigh = 0.5\nsource = "s"\n', "more than one"),
    ('[[parameters]]\nname = "a"\npath = "logit.mu"\nlow = 0.1\nhigh = 0.5\nsource = "s"\nspread = 2\n',
     "spread"),
    ("", "parameters"),
])
def test_schema_errors_are_readable(tmp_path: Path, body: str, message: str) -> None:
    assert message in _error(tmp_path, body)


@pytest.mark.bad_input
def test_calibration_exits_2_on_a_bad_uncertainty_file_and_writes_nothing(tmp_path: Path) -> None:
    bad = _write(tmp_path, '[[parameters]]\nname = "mu"\npath = "logit.nope"\nlow = 0.1\nhigh = 0.5\nsource = "s"\n')
    out = tmp_path / "out"
    code = calibration_main(["--uncertainty", str(bad), "--runs", str(out / "runs"), "--out", str(out),
                             "--worlds", str(out / "worlds.json")])
    assert code == 2
    assert not out.exists()


def _coverage_spec(tmp_path: Path, draws: int) -> Path:
    path = tmp_path / "u.toml"
    path.write_text(f'base = "baseline"\n[design]\ndraws = {draws}\nseeds = 1\nroot_seed = 11\n'
                    '[[parameters]]\nname = "lin"\npath = "logit.mu"\nlow = 0.2\nhigh = 0.6\nsource = "s"\n'
                    '[[parameters]]\nname = "logp"\npath = "technology.distillation_speed"\nlow = 0.1\n'
                    'high = 10.0\nscale = "log"\nsource = "s"\n'
                    '[[parameters]]\nname = "rule"\npath = "corporate.antitrust.policy"\n'
                    'values = ["none", "hhi_2010", "hhi_2023"]\nsource = "s"\n')
    return path


def test_the_latin_hypercube_covers_every_range_and_category(tmp_path: Path) -> None:
    n = 30
    spec, _ = load_uncertainty(_coverage_spec(tmp_path, n))
    points = design_points(design_sweep(spec))
    assert len(points) == n
    # Latin hypercube: each of n equal strata of a range holds exactly one draw (uniform, and log-uniform in logs).
    lin = np.floor((points["lin"].to_numpy() - 0.2) / 0.4 * n).astype(int)
    assert sorted(lin) == list(range(n))
    logp = np.floor(np.log(points["logp"].to_numpy() / 0.1) / np.log(100.0) * n).astype(int)
    assert sorted(logp) == list(range(n))
    # categories: n / 3 draws of each (the unit interval cut in three equal parts, one draw per stratum)
    assert points["rule"].value_counts().to_dict() == {"none": 10, "hhi_2010": 10, "hhi_2023": 10}


def test_the_design_is_reproducible_and_uses_common_random_numbers(tmp_path: Path) -> None:
    spec, _ = load_uncertainty(_coverage_spec(tmp_path, 8))
    sweep = design_sweep(spec, seeds=3)
    assert sweep.uses_common_random_numbers and sweep.replications == 3
    pd.testing.assert_frame_equal(design_points(sweep), design_points(design_sweep(spec, seeds=3)))
    assert len(design_points(design_sweep(spec, draws=5))) == 5


def _draws() -> pd.DataFrame:
    return pd.DataFrame({"point": [0, 1, 2], "lin": [0.3, 0.4, 0.5], "logp": [1.0, 2.0, 3.0],
                         "rule": ["none", "hhi_2023", "hhi_2010"], "t": [1.0, 2.0, 3.0],
                         "accepted": [True, False, True]})


def test_the_worlds_file_round_trip(tmp_path: Path) -> None:
    spec, _ = load_uncertainty(_coverage_spec(tmp_path, 3))
    sweep = design_sweep(spec, seeds=2)
    path = write_worlds(worlds_document(spec, sweep, _draws(), targets=["t"]), tmp_path / "worlds.json")
    raw = json.loads(path.read_text())
    assert raw["draws"] == 3 and raw["accepted"] == 2 and len(raw["seeds"]) == 2
    assert [w["world"] for w in raw["worlds"]] == ["w0000", "w0002"]
    document, frame = read_worlds(path, 2)
    assert list(frame.columns) == ["world", "lin", "logp", "rule"]
    assert frame.loc[1, "rule"] == "hhi_2010"
    assert world_settings(document, frame.loc[1]) == {"logit.mu": 0.5, "technology.distillation_speed": 3.0,
                                                      "corporate.antitrust.policy": "hhi_2010"}


@pytest.mark.bad_input
def test_asking_for_more_worlds_than_accepted_is_a_clear_error(tmp_path: Path) -> None:
    spec, _ = load_uncertainty(_coverage_spec(tmp_path, 3))
    path = write_worlds(worlds_document(spec, design_sweep(spec), _draws(), targets=["t"]), tmp_path / "w.json")
    with pytest.raises(ConfigError, match="holds 2 plausible world"):
        read_worlds(path, 3)
    with pytest.raises(ConfigError, match="not found"):
        read_worlds(tmp_path / "missing.json", 1)
