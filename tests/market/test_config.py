"""Scenario configuration (market/config/schema.py, files.py): schema, readable errors, overrides, TOML."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from market.config import ScenarioConfig
from market.config.files import (
    ConfigError,
    apply_overrides,
    apply_settings,
    load_scenario,
    parse_override,
    read_toml,
    scenario_from_dict,
    set_path,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIGS = sorted([*(p for p in (REPO_ROOT / "experiments" / "configs").glob("*.toml")
                            if p.name not in ("uncertainty.toml", "robustness.toml")),  # not scenarios
                          *(REPO_ROOT / "experiments" / "configs" / "validation").glob("*.toml")])


def config_error(data: dict[str, Any], overrides: list[str]) -> str:
    """The message of the ConfigError that validating ``data`` with ``overrides`` raises."""
    with pytest.raises(ConfigError) as excinfo:
        scenario_from_dict(data, overrides)
    return str(excinfo.value)


# ---------------------------------------------------------------------------------------------------------
# valid input
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED_CONFIGS, ids=lambda p: p.name)
def test_shipped_scenarios_validate(path: Path) -> None:
    config = load_scenario(path)
    assert isinstance(config, ScenarioConfig)


def test_duopoly_dict_validates(duopoly_config: ScenarioConfig) -> None:
    assert [p.name for p in duopoly_config.providers] == ["firm_1", "firm_2"]
    assert duopoly_config.providers[0].capacity_mtok_per_month == math.inf
    assert duopoly_config.providers[0].pricing.strategy == "best_response"
    assert duopoly_config.logit.mu == 0.25


def test_toml_inf_is_infinite_capacity(tmp_path: Path) -> None:
    source = (REPO_ROOT / "experiments" / "configs" / "validation" / "logit_duopoly.toml").read_text()
    assert "capacity_mtok_per_month = inf" in source
    config = load_scenario(REPO_ROOT / "experiments" / "configs" / "validation" / "logit_duopoly.toml")
    assert config.providers[0].capacity_mtok_per_month == math.inf
    assert parse_override("a.b=inf") == (["a", "b"], math.inf)
    assert parse_override("a.b=-inf") == (["a", "b"], -math.inf)


def test_config_round_trips_through_the_manifest_json(duopoly_config: ScenarioConfig) -> None:
    """The manifest stores model_dump(mode='json'); validating it again gives the same scenario (inf included)."""
    text = json.dumps(duopoly_config.model_dump(mode="json"))
    assert scenario_from_dict(json.loads(text)) == duopoly_config


def test_defaults_live_in_the_schema(duopoly_dict: dict[str, Any]) -> None:
    """Omitted sections take the schema's defaults (one place for defaults)."""
    config = scenario_from_dict(duopoly_dict)
    assert config.simulation.seed == 0
    assert config.logit.offer_shock_sd == 0.0
    assert config.resellers == []
    assert config.providers[0].count == 1


# ---------------------------------------------------------------------------------------------------------
# readable errors: each names the key path and the value
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("logit.muu=0.3", "unknown key 'logit.muu'; did you mean 'mu'?"),
        ("simulaton.steps=3", "unknown key 'simulaton'; did you mean 'simulation'?"),
        ("segments.0.price_elasticty=1.0",
         "unknown key 'segments[0].price_elasticty'; did you mean 'price_elasticity'?"),
        ("providers.0.unit_cots_usd_per_mtok=1.0",
         "unknown key 'providers[0].unit_cots_usd_per_mtok'; did you mean 'unit_cost_usd_per_mtok'?"),
    ],
)
def test_unknown_key_suggests_the_closest(duopoly_dict: dict[str, Any], override: str, expected: str) -> None:
    assert expected in config_error(duopoly_dict, [override])


def test_unknown_key_inside_a_strategy_suggests_its_parameter(duopoly_dict: dict[str, Any]) -> None:
    duopoly_dict["providers"][0]["pricing"] = {"strategy": "cost_plus", "markupp": 0.2}
    assert "unknown key 'providers[0].pricing.markupp'; did you mean 'markup'?" in config_error(duopoly_dict, [])


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ('simulation.steps="many"', "simulation.steps = 'many'"),
        ("logit.mu=[1, 2]", "logit.mu = [1, 2]"),
        ("outside_option.self_hosting=maybe", "outside_option.self_hosting = 'maybe'"),
        ('logit.utility_form="quadratic"', "logit.utility_form = 'quadratic'"),
        ('providers.0.kind="cloud"', "providers[0].kind = 'cloud'"),
    ],
)
def test_wrong_type_names_key_and_value(duopoly_dict: dict[str, Any], override: str, expected: str) -> None:
    assert expected in config_error(duopoly_dict, [override])


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("providers.0.unit_cost_usd_per_mtok=-1.0", "providers[0].unit_cost_usd_per_mtok = -1.0"),
        ("providers.1.initial_price_usd_per_mtok=-2.5", "providers[1].initial_price_usd_per_mtok = -2.5"),
        ("logit.mu=0", "logit.mu = 0"),
        ("simulation.steps=0", "simulation.steps = 0"),
        ("providers.0.pricing.damping=1.5", "providers[0].pricing.damping = 1.5"),
        ("segments.0.price_elasticity=-0.5", "segments[0].price_elasticity = -0.5"),
    ],
)
def test_out_of_range_values_name_key_and_value(duopoly_dict: dict[str, Any], override: str, expected: str) -> None:
    assert expected in config_error(duopoly_dict, [override])


def test_unknown_strategy_lists_choices_and_suggests(duopoly_dict: dict[str, Any]) -> None:
    message = config_error(duopoly_dict, ["providers.0.pricing.strategy=best_reponse"])
    assert "providers[0].pricing.strategy = 'best_reponse': unknown strategy" in message
    assert "did you mean 'best_response'?" in message
    for name in ("cost_plus", "best_response", "share_acquisition", "adaptive"):
        assert name in message
    message = config_error(duopoly_dict, ["providers.1.investment.strategy=grow"])
    assert "providers[1].investment.strategy = 'grow': unknown strategy" in message


def test_unknown_region_reference(duopoly_dict: dict[str, Any]) -> None:
    message = config_error(duopoly_dict, ['providers.1.regions=["global", "mars"]'])
    assert "providers[1].regions: unknown region 'mars' (have: global)" in message


def test_unknown_generation_and_region_in_fleet(tiny_fleet_dict: dict[str, Any]) -> None:
    tiny_fleet_dict["providers"][0]["fleet"][1]["generation"] = "H200"
    message = config_error(tiny_fleet_dict, [])
    assert "providers[0].fleet[1].generation: unknown generation 'H200' (have: A100, B200, H100)" in message
    tiny_fleet_dict["providers"][0]["fleet"][1]["generation"] = "H100"
    tiny_fleet_dict["providers"][2]["fleet"][0]["region"] = "latam"
    assert "providers[2].fleet[0].region: unknown region 'latam' (have: eu, na)" in config_error(tiny_fleet_dict, [])


def test_reference_generation_must_exist(tiny_fleet_dict: dict[str, Any]) -> None:
    message = config_error(tiny_fleet_dict, ["technology.reference_generation=H200"])
    assert "reference_generation 'H200' is not a generation" in message


def test_duplicate_names_are_rejected(duopoly_dict: dict[str, Any]) -> None:
    message = config_error(duopoly_dict, ["providers.1.name=firm_1"])
    assert "duplicate name 'firm_1': providers[0] 'firm_1' and providers[1] 'firm_1' both create it" in message
    expanded = config_error(duopoly_dict, ["providers.0.name=specialist", "providers.0.count=4",
                                           "providers.1.name=specialist_2"])
    assert ("duplicate name 'specialist_2': providers[0] 'specialist' (named specialist_1 ... specialist_4) and "
            "providers[1] 'specialist_2' both create it") in expanded
    duopoly_dict["regions"].append({"name": "global"})
    assert "duplicate region name(s): global" in config_error(duopoly_dict, [])


def test_missing_required_key(duopoly_dict: dict[str, Any]) -> None:
    del duopoly_dict["segments"]
    assert "missing required key 'segments'" in config_error(duopoly_dict, [])


def test_provider_without_fleet_needs_fixed_supply(duopoly_dict: dict[str, Any]) -> None:
    del duopoly_dict["providers"][0]["capacity_mtok_per_month"]
    assert "needs a fleet or a fixed capacity_mtok_per_month" in config_error(duopoly_dict, [])


def test_self_hosting_needs_a_generation(duopoly_dict: dict[str, Any]) -> None:
    assert "self_hosting = true needs at least one GPU generation" in config_error(
        duopoly_dict, ["outside_option.self_hosting=true"]
    )


def test_every_problem_is_reported_once(duopoly_dict: dict[str, Any]) -> None:
    message = config_error(duopoly_dict, ["logit.mu=-1", "simulation.steps=0"])
    lines = message.splitlines()
    assert any("logit.mu = -1" in line for line in lines)
    assert any("simulation.steps = 0" in line for line in lines)
    assert len(lines) == len(set(lines)) == 2


def test_validation_errors_from_files_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text((REPO_ROOT / "experiments" / "configs" / "validation" / "logit_duopoly.toml").read_text()
                    .replace("mu = 0.25", "mu = -0.25"))
    with pytest.raises(ConfigError, match=r"bad\.toml: logit\.mu = -0\.25"):
        load_scenario(path)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nothere\.toml: no such file"):
        read_toml(tmp_path / "nothere.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[simulation\nsteps = 3\n")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        read_toml(broken)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match=r"binary\.toml"):
        read_toml(binary)


# ---------------------------------------------------------------------------------------------------------
# overrides (--set key.path=value)
# ---------------------------------------------------------------------------------------------------------


def test_override_by_index_and_by_name(duopoly_dict: dict[str, Any]) -> None:
    out = apply_overrides(duopoly_dict, ["providers.0.quality=3.5", "providers.firm_2.unit_cost_usd_per_mtok=0.8",
                                         "segments.market.n_agents=7", "providers.-1.pricing.damping=0.5"])
    assert out["providers"][0]["quality"] == 3.5
    assert out["providers"][1]["unit_cost_usd_per_mtok"] == 0.8
    assert out["segments"][0]["n_agents"] == 7
    assert out["providers"][1]["pricing"]["damping"] == 0.5
    # the input is not modified
    assert duopoly_dict["providers"][0]["quality"] == 2.0
    config = scenario_from_dict(out)
    assert config.providers[1].unit_cost_usd_per_mtok == 0.8


def test_override_values_are_typed_as_toml() -> None:
    assert parse_override("a=3") == (["a"], 3)
    assert parse_override("a=3.0") == (["a"], 3.0)
    assert parse_override("a=true") == (["a"], True)
    assert parse_override('a="x y"') == (["a"], "x y")
    assert parse_override("a=[1, 2]") == (["a"], [1, 2])
    assert parse_override("a.b = adaptive ") == (["a", "b"], "adaptive")  # bare words are strings


def test_override_creates_missing_tables(duopoly_dict: dict[str, Any]) -> None:
    out = apply_overrides(duopoly_dict, ["technology.frontier_growth_per_year=0.5"])
    assert out["technology"] == {"frontier_growth_per_year": 0.5}
    assert scenario_from_dict(out).technology.frontier_growth_per_year == 0.5


def test_override_switches_strategy(duopoly_dict: dict[str, Any]) -> None:
    config = scenario_from_dict(duopoly_dict, ["providers.0.pricing={strategy='cost_plus', markup=0.1}"])
    assert config.providers[0].pricing.strategy == "cost_plus"
    assert config.providers[0].pricing.markup == 0.1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("providers.5.quality=1", "index 5 out of range at 'providers.5' (length 2)"),
        ("providers.frim_1.quality=1", "no item named 'frim_1' at 'providers.frim_1'; did you mean 'firm_1'?"),
        ("logit.mu", "is not of the form key.path=value"),
        ("logit..mu=1", "empty key"),
        ("=1", "empty key"),
    ],
)
def test_bad_overrides_are_config_errors(duopoly_dict: dict[str, Any], override: str, expected: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        apply_overrides(duopoly_dict, [override])
    assert expected in str(excinfo.value)


def test_override_through_a_value_fails_validation(duopoly_dict: dict[str, Any]) -> None:
    """``logit.mu.x=1`` cannot be valid: the scenario is rejected with the key named."""
    assert "logit.mu" in config_error(duopoly_dict, ["logit.mu.x=1"])


def test_set_path_through_a_value_raises_as_documented() -> None:
    data: dict[str, Any] = {"logit": {"mu": 0.25}}
    with pytest.raises(ConfigError, match=r"'logit\.mu' is a value, not a table"):
        set_path(data, "logit.mu.x", 1)


def test_apply_settings_and_set_path(duopoly_dict: dict[str, Any]) -> None:
    out = apply_settings(duopoly_dict, {"logit.mu": 0.5, "providers.firm_1.pricing.objective": "industry"})
    assert out["logit"]["mu"] == 0.5
    assert out["providers"][0]["pricing"]["objective"] == "industry"
    assert duopoly_dict["logit"]["mu"] == 0.25
    set_path(duopoly_dict, "simulation.steps", 9)
    assert duopoly_dict["simulation"]["steps"] == 9
    with pytest.raises(ConfigError, match="empty key"):
        set_path(duopoly_dict, "", 1)


def test_load_scenario_applies_overrides_before_validation() -> None:
    path = REPO_ROOT / "experiments" / "configs" / "validation" / "logit_duopoly.toml"
    config = load_scenario(path, ["logit.mu=0.5", "providers.firm.count=3"])
    assert config.logit.mu == 0.5
    assert config.providers[0].count == 3
    with pytest.raises(ConfigError, match=r"logit\.mu = -0\.5"):
        load_scenario(path, ["logit.mu=-0.5"])
