"""Limits of the config schema and of the TOML reader: strict types, finite and bounded values, sizes and depth.

The logit-scale bounds are checked against what they promise: a 60-step baseline run at either bound gives no
infinite value in any table, and finite core metrics.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from experiments.run import run_scenario
from market.config.files import SHIPPED_CONFIG_DIR, ConfigError, load_scenario, parse_override, resolve_scenario_path
from market.config.schema import MAX_SEED, MU_MAX, MU_MIN
from market.config.toml_reader import MAX_TOML_BYTES, parse_toml, read_toml

REPO = Path(__file__).resolve().parents[2]
SMALL = [f"segments.{i}.n_agents=150" for i in range(3)]


def error(overrides: list[str]) -> str:
    with pytest.raises(ConfigError) as info:
        load_scenario("baseline", overrides)
    return str(info.value)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ('logit.mu="0.35"', "logit.mu = '0.35': Input should be a valid number"),
        ("simulation.steps=true", "simulation.steps = True: Input should be a valid integer"),
        ("simulation.steps=12.0", "simulation.steps = 12.0: Input should be a valid integer"),
        ("providers.cloud_a.verification=1", "providers[0].verification = 1: Input should be a valid boolean"),
        ("logit.mu=nan", "logit.mu = nan: Input should be a finite number"),
        ("providers.cloud_a.cash_usd=inf", "providers[0].cash_usd = inf: Input should be a finite number"),
        ("regions.na.power_capacity_mw=nan", "regions[0].power_capacity_mw: NaN is not a number"),
        (f"simulation.seed={MAX_SEED + 1}", "simulation.seed = 9223372036854775808: Input should be less than"),
        ("segments.0.firms_per_agent=1e308", "segments[0].firms_per_agent = 1e+308: Input should be less than"),
        ("providers.cloud_a.cash_usd=1e300", "providers[0].cash_usd: 1e+300 is beyond the largest magnitude"),
    ],
)
def test_strict_finite_and_bounded_values(override: str, message: str) -> None:
    assert message in error([override])


def test_typed_overrides_still_work_and_inf_where_documented() -> None:
    config = load_scenario("baseline", ["logit.mu=0.4", "logit.mu=1", "simulation.steps=12", "simulation.seed=7",
                                        "regions.na.power_capacity_mw=inf", "providers.cloud_a.verification=true"])
    assert config.logit.mu == 1.0 and isinstance(config.logit.mu, float)
    assert config.simulation.steps == 12 and config.simulation.seed == 7
    assert math.isinf(config.regions[0].power_capacity_mw) and config.providers[0].verification is True
    assert load_scenario("baseline", [f"simulation.seed={MAX_SEED}"]).simulation.seed == 2**63 - 1


def test_names_after_count_expansion_are_unique() -> None:
    message = error(["providers.challenger.name=specialist_1"])
    assert "duplicate name 'specialist_1'" in message
    assert "providers[3] 'specialist' (named specialist_1 ... specialist_4)" in message
    assert "providers[4] 'specialist_1'" in message


def test_growth_that_overflows_over_the_run_is_rejected() -> None:
    assert "grows its quantity more than 1e+30 times" in error(["segments.0.demand_growth_per_year=1e7"])
    load_scenario("baseline", ["segments.0.demand_growth_per_year=1e5"])  # 5 years: 1e25, allowed


@pytest.mark.parametrize("mu", [MU_MIN, MU_MAX])
def test_a_run_at_either_bound_of_mu_is_computable(mu: float) -> None:
    """Hand-checked bound: below about 0.02 the baseline's logit weights overflow to NaN, above about 30
    best-response prices overflow; at the accepted bounds nothing is infinite and the core metrics are finite."""
    result = run_scenario(load_scenario("baseline", [*SMALL, f"logit.mu={mu}"]), 3)
    for name, frame in result.tables().items():
        numbers = frame.select_dtypes("number").to_numpy(dtype=float)
        assert not np.isinf(numbers).any(), name
    core = result.model[["price_index", "hhi", "tokens_served", "total_spend", "share_hyperscaler",
                         "share_specialized", "share_decentralized"]]
    assert np.isfinite(core.to_numpy(dtype=float)).all()
    assert len(result.model) == 60


def test_mu_outside_the_bounds_is_rejected() -> None:
    assert "logit.mu = 0.02: Input should be greater than or equal to 0.05" in error(["logit.mu=0.02"])
    assert "logit.mu = 30.0: Input should be less than or equal to 10" in error(["logit.mu=30.0"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = " + "[" * 100_000 + "]" * 100_000, "brackets nested more than 32 deep (line 1)"),
        ("x = 1\ny = " + "{a = " * 50_000 + "1" + "}" * 50_000, "brackets nested more than 32 deep (line 2)"),
        ("k" + ".k" * 99_999 + " = 1", "a dotted key of 100000 parts (line 1)"),
        ('"a"' + '."a"' * 40 + " = 1", "a dotted key of 41 parts"),
        ("x = 1\n" * 200_000, f"at most {MAX_TOML_BYTES:,}"),
    ],
)
def test_pathological_text_fails_quickly_in_bounded_memory(text: str, message: str) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_toml(text, "file.toml")
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 2.0 and peak < 50e6, (elapsed, peak)


def test_strings_and_comments_do_not_count_as_nesting() -> None:
    text = 'a = "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[" # [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n'
    text += "b = '''" + "{" * 100 + "'''\n" + "c = 1.5\nd = [1.5, 2.5]\n"
    assert parse_toml(text, "f") == {"a": "[" * 42, "b": "{" * 100, "c": 1.5, "d": [1.5, 2.5]}


def test_a_large_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    with path.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)  # sparse: 50 MB that were never written
    with pytest.raises(ConfigError, match="52,428,800 bytes; a config file is at most 1,000,000 bytes"):
        read_toml(path)


def test_an_override_value_gets_the_same_checks() -> None:
    with pytest.raises(ConfigError, match="nested more than 32 deep"):
        parse_override("logit.mu=" + "[" * 5000)
    with pytest.raises(ConfigError, match="a key of 40 parts"):
        parse_override(".".join(["a"] * 40) + "=1")
    assert parse_override("providers.0.pricing.strategy=adaptive") == (["providers", "0", "pricing", "strategy"],
                                                                        "adaptive")


def test_scenarios_load_by_shipped_name_from_any_directory(tmp_path: Path) -> None:
    assert resolve_scenario_path("baseline") == SHIPPED_CONFIG_DIR / "baseline.toml"
    assert resolve_scenario_path("validation/logit_duopoly").name == "logit_duopoly.toml"
    with pytest.raises(ConfigError, match="'baselin': no shipped config of that name"):
        resolve_scenario_path("baselin")
    code = "from market.config.files import load_scenario; print(load_scenario('baseline').name)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "baseline", done.stderr


def test_an_entrant_that_never_enters_names_no_agent() -> None:
    config = load_scenario("baseline", ["corporate.entrants.0.max_entries=0",
                                        "providers.challenger.name=new_specialist_1"])
    assert config.corporate.entrants[0].max_entries == 0
    assert "duplicate name 'new_specialist_1'" in error(["providers.challenger.name=new_specialist_1"])
