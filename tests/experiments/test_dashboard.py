"""The dashboard's model, inputs, charts and command, without a browser (tests/experiments/test_dashboard_browser.py
drives the served page)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from unittest import mock

import altair as alt
import pandas as pd
import pytest
from mesa.visualization.solara_viz import _check_model_params
from typer.testing import CliRunner

from experiments.cli import app
from experiments.cli_dashboard import MAJOR_VERSION_ALIASES, offline_assets
from experiments.dashboard import (
    CONTROLS,
    DashboardMarket,
    dashboard_settings,
    initial_arguments,
    model_params,
    parse_settings,
    scenario_file,
)
from experiments.dashboard_charts import GUIDELINE_HHI, LINES, chart_spec, line_chart, provider_table
from experiments.run import run_scenario
from market.config.files import ConfigError, load_scenario
from tests.conftest import CONFIG_DIR

BASELINE = CONFIG_DIR / "baseline.toml"
REDUCED = ["segments.performance_first.n_agents=30", "segments.control_first.n_agents=20",
           "segments.cost_first.n_agents=50", "simulation.steps=12"]


def test_scenario_file_takes_a_shipped_name_or_a_path(tmp_path: Path) -> None:
    assert scenario_file("baseline") == BASELINE
    assert scenario_file(BASELINE) == BASELINE
    with pytest.raises(ConfigError, match=r"scenario 'nosuch'.*have: baseline"):
        scenario_file("nosuch")
    with pytest.raises(ConfigError, match=r"missing\.toml"):
        scenario_file(tmp_path / "missing.toml")


def test_switching_cost_scale_multiplies_every_segments_schedule() -> None:
    """baseline.toml: performance_first and control_first 0.3 (+0.2 a year, cap 1.0), cost_first 0.1 (+0.1, cap
    0.5); doubled by hand."""
    config = load_scenario(BASELINE)
    assert dashboard_settings(config, 1.0, "as in scenario") == {}
    doubled = dashboard_settings(config, 2.0, "as in scenario")
    assert doubled == pytest.approx({
        "segments.0.switching_cost": 0.6, "segments.0.switching_cost_growth_per_year": 0.4,
        "segments.0.switching_cost_max": 2.0,
        "segments.1.switching_cost": 0.6, "segments.1.switching_cost_growth_per_year": 0.4,
        "segments.1.switching_cost_max": 2.0,
        "segments.2.switching_cost": 0.2, "segments.2.switching_cost_growth_per_year": 0.2,
        "segments.2.switching_cost_max": 1.0,
    })
    with pytest.raises(ConfigError, match="switching_cost_scale = -1"):
        dashboard_settings(config, -1.0, "as in scenario")


def test_verification_select_switches_every_decentralized_network_incumbent_or_entrant() -> None:
    config = load_scenario(BASELINE)
    on = DashboardMarket(BASELINE, decentralized_verification="all verify").config
    off = DashboardMarket(BASELINE, decentralized_verification="none verify").config
    kinds = [p.kind for p in config.providers]
    assert [p.verification for p in config.providers if p.kind == "decentralized"] == [True, False]
    assert [p.verification for p, k in zip(on.providers, kinds, strict=True) if k == "decentralized"] == [True, True]
    assert [p.verification for p, k in zip(off.providers, kinds, strict=True) if k == "decentralized"] == [
        False, False]
    assert [e.provider.verification for e in on.corporate.entrants if e.provider.kind == "decentralized"] == [True]
    assert [e.provider.verification for e in off.corporate.entrants if e.provider.kind == "decentralized"] == [False]
    assert [p.verification for p in on.providers if p.kind != "decentralized"] == [False] * 5
    with pytest.raises(ConfigError, match="decentralized_verification = 'sometimes'"):
        dashboard_settings(config, 1.0, "sometimes")  # type: ignore[arg-type]


def test_the_dashboards_market_is_the_run_of_the_same_scenario_settings_and_seed() -> None:
    """What the dashboard charts (the model's own tables) is what ``ieco run`` writes for the same inputs."""
    settings = parse_settings([*REDUCED, "logit.mu=0.5"])
    params = model_params("baseline", settings, seed=5)
    model = DashboardMarket(**initial_arguments(params))
    for _ in range(3):
        model.step()
    shown = model.recorder.frames()["model"]
    expected = run_scenario(load_scenario(BASELINE, [*REDUCED, "logit.mu=0.5"]), seed=5, steps=3).model
    pd.testing.assert_frame_equal(shown, expected[shown.columns], check_exact=True)


def test_inputs_start_at_the_scenarios_values_and_pass_mesas_parameter_check() -> None:
    params = model_params("baseline", parse_settings(["logit.mu=0.5", "providers.cloud_a.lock_in=0.2",
                                                      "simulation.steps=200"]), seed=3)
    assert params["scenario"] == str(BASELINE) and params["seed"] == 3
    assert params["providers__cloud_a__lock_in"] == 0.2  # a setting without an input stays fixed
    assert params["logit__mu"]["value"] == 0.5
    assert params["simulation__steps"]["value"] == 200 and params["simulation__steps"]["max"] == 200
    assert params["technology__open_lag_months_start"]["value"] == 6.0
    assert params["corporate__antitrust__policy"]["value"] == "hhi_2023"
    assert params["corporate__acquisitions__enabled"]["value"] is True
    assert params["switching_cost_scale"]["value"] == 1.0
    assert [c.name for c in CONTROLS] == [k for k, v in params.items() if isinstance(v, dict)]
    _check_model_params(DashboardMarket.__init__, params)  # what SolaraViz checks before building a model
    model = DashboardMarket(**initial_arguments(params))
    assert model.config.logit.mu == 0.5 and model.config.providers[0].lock_in == 0.2 and model.seed == 3


def test_charts_are_valid_vega_lite_with_the_2023_guideline_line() -> None:
    """The HHI line is the 2023 US merger guidelines' threshold for a highly concentrated market, 1,800
    (DESIGN.md 3.6), taken from the antitrust policy's definition."""
    assert GUIDELINE_HHI == 1800.0
    model = DashboardMarket(BASELINE, **{k.replace(".", "__"): v for k, v in parse_settings(REDUCED).items()})
    model.step()
    long = pd.DataFrame({"month": [0, 0], "series": ["whole market", "na"], "value": [2500.0, 3100.0]})
    rules = pd.DataFrame({"value": [GUIDELINE_HHI], "label": ["2023 merger guidelines"]})
    spec = chart_spec(model, "hhi", lambda: line_chart(model, "HHI", rules=rules), long)
    alt.LayerChart.from_dict(spec, validate=True)  # a valid Vega-Lite specification, data included
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["line", "rule", "text"]
    assert spec["layer"][0]["encoding"]["x"]["scale"]["domain"] == [0, 11]  # the whole run, 12 months
    assert spec["datasets"][spec["layer"][1]["data"]["name"]] == [{"value": 1800.0, "label": "2023 merger guidelines"}]
    assert spec["datasets"][LINES] == [{"month": 0, "series": "whole market", "value": 2500.0},
                                       {"month": 0, "series": "na", "value": 3100.0}]
    later = chart_spec(model, "hhi", lambda: pytest.fail("built again"), long.assign(value=[2000.0, 2600.0]))
    assert later["datasets"][LINES][0]["value"] == 2000.0 and later["layer"] == spec["layer"]
    table = provider_table(model.recorder.frames())
    assert table["share of tokens"].sum() == pytest.approx(1.0, abs=1e-3)
    assert len(table) == 10 and table["active"].all()


def test_offline_assets_alias_the_major_versions_the_chart_widget_asks_for(tmp_path: Path) -> None:
    installed = tmp_path / "installed"
    for name in ("vega@5.21.0", "vega@5.3.1", "vega-lite@5.2.0", "vega-embed@6.20.2", "requirejs@2.3.6"):
        (installed / name / "build").mkdir(parents=True)
    served = offline_assets(tmp_path / "cdn", installed)
    assert (served / "vega@5").resolve() == (installed / "vega@5.21.0").resolve()  # newest 5.x, not 5.3.1
    assert (served / "vega-embed@6" / "build").is_dir() and (served / "requirejs@2.3.6").is_dir()
    assert set(MAJOR_VERSION_ALIASES) <= {p.name for p in served.iterdir()}
    (installed / "vega-embed@6.20.2").rename(installed / "vega-embed@7.0.0")
    with pytest.raises(FileNotFoundError, match="vega-embed@6"):
        offline_assets(tmp_path / "cdn2", installed)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch"], "scenario 'nosuch': no such file"),
        (["baseline", "--set", "logit.mu=-1"], "logit.mu = -1"),
        (["baseline", "--set", "logit.mu"], "not of the form key.path=value"),
    ],
)
def test_dashboard_command_rejects_bad_input_with_exit_code_2(args: list[str], message: str) -> None:
    with mock.patch.dict(os.environ):
        result = CliRunner().invoke(app, ["dashboard", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_dashboard_command_refuses_a_port_in_use() -> None:
    with socket.socket() as busy, mock.patch.dict(os.environ):
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["dashboard", "baseline", "--port", str(port)])
    assert result.exit_code == 2
    assert f"127.0.0.1:{port} is in use" in result.output
