"""Fuzzing the config loader: mutated shipped files give a valid config or a ConfigError, nothing else.

Two kinds of mutation of the shipped scenario, sweep and thesis files:

* byte mutations: bytes replaced, inserted (often TOML punctuation), deleted or duplicated;
* value swaps: a leaf of the parsed document replaced by a troublesome value (NaN, infinities, huge and tiny
  numbers, integers beyond int64, booleans, numeric strings, empty and long strings, lists, tables).

Any exception other than :class:`ConfigError` (a RecursionError, an OverflowError, a pydantic error that
escaped, a TypeError) fails the test. A config that validates must hold only finite floats, except where a
setting documents ``inf``.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from experiments.sweep_config import SweepConfig, load_sweep_config
from experiments.theses import Thesis
from market.config import ScenarioConfig
from market.config.files import ConfigError, load_scenario, validate_data
from market.config.toml_reader import parse_toml, read_toml

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((REPO / "experiments" / "configs").rglob("*.toml"))
SCENARIOS = [p for p in SCENARIOS
             if "sweeps" not in p.parts and "calibration" not in p.parts
             and p.name not in ("uncertainty.toml", "robustness.toml")]
SWEEPS = sorted((REPO / "experiments" / "configs" / "sweeps").glob("*.toml"))
THESES = sorted((REPO / "experiments" / "theses").glob("*.toml"))
INF_ALLOWED = {"vendor_supply_per_month", "power_capacity_mw", "capacity_mtok_per_month"}

PUNCTUATION = [b"[", b"]", b"{", b"}", b"=", b".", b'"', b"'", b"#", b"\n", b",", b"\\", b"inf", b"nan", b"-",
               b"1e308", b"\xff", b"\x00", b"[[", b"]]", b'"""']
WEIRD_VALUES: list[Any] = [
    math.nan, math.inf, -math.inf, 0, -1, 0.0, -0.0, 1e308, -1e308, 5e-324, 1e16, 2**63 - 1, 2**63, -(2**63), 2**64,
    True, False, "", "0.35", "inf", "x" * 500, [], [1, 2], [[[]]], {}, {"name": "x"}, 0.5, 3,
]


def leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Key paths of every value of a parsed document (tables and arrays included, so whole sections swap)."""
    out: list[tuple[Any, ...]] = [path] if path else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += leaves(value, (*path, i))
    return out


def swapped(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(document)
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = copy.deepcopy(value)
    return out


def assert_finite(model: BaseModel) -> None:
    """Every float of a validated config is finite, or inf where the setting documents it; never NaN."""
    for name, value in model:
        if isinstance(value, BaseModel):
            assert_finite(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, BaseModel):
                    assert_finite(item)
        elif isinstance(value, float):
            assert not math.isnan(value), name
            assert math.isfinite(value) or name in INF_ALLOWED, (name, value)


@st.composite
def byte_mutations(draw: st.DrawFn, files: list[Path]) -> tuple[Path, bytes]:
    path = draw(st.sampled_from(files))
    data = bytearray(path.read_bytes())
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["replace", "insert", "delete", "duplicate"]))
        if kind == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from(PUNCTUATION)) * draw(st.sampled_from([1, 2, 40, 2000]))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 200))]
        else:
            data[at:at] = data[at:at + draw(st.integers(1, 400))]
    return path, bytes(data)


def load_any(path: Path, original: Path) -> None:
    """Load a mutated file as the kind its original is; only a valid config or a ConfigError may come out."""
    if original in SWEEPS:
        try:
            load_sweep_config(path)
        except ConfigError:
            pass
    elif original in THESES:
        try:
            validate_data(read_toml(path), Thesis, str(path))
        except ConfigError:
            pass
    else:
        try:
            assert_finite(load_scenario(path))
        except ConfigError:
            pass


@settings(max_examples=600)
@given(mutation=byte_mutations(SCENARIOS + SWEEPS + THESES))
def test_byte_mutations_give_a_config_or_a_config_error(mutation: tuple[Path, bytes], tmp_path_factory:
                                                         pytest.TempPathFactory) -> None:
    original, data = mutation
    path = tmp_path_factory.mktemp("fuzz") / original.name
    path.write_bytes(data)
    load_any(path, original)


@settings(max_examples=600)
@given(data=st.data())
def test_value_swaps_give_a_config_or_a_config_error(data: st.DataObject) -> None:
    kinds: list[tuple[list[Path], type[BaseModel]]] = [(SCENARIOS, ScenarioConfig), (SWEEPS, SweepConfig),
                                                       (THESES, Thesis)]
    files, model = data.draw(st.sampled_from(kinds))
    document = read_toml(data.draw(st.sampled_from(files)))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(leaves(document)))
        document = swapped(document, path, data.draw(st.sampled_from(WEIRD_VALUES)))
    try:
        config = validate_data(document, model)
    except ConfigError:
        return
    if isinstance(config, ScenarioConfig):
        assert_finite(config)


@pytest.mark.parametrize("text", ["x = " + "[" * 100_000, "a" + ".b" * 500_000 + " = 1", "x = {" * 40_000])
def test_pathological_texts_fail_fast(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_toml(text[:1_000_000], "fuzz")
