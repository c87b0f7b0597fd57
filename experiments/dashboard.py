"""A browser dashboard of the market on Mesa's own visualisation (SolaraViz).

Sliders and selects in the sidebar set the scenario's key parameters; Reset builds a new market with them,
Step and play advance it month by month, and the charts (price indices, shares by provider kind, HHI with
the merger-guideline line, secondary GPU prices) and the provider table follow. Every chart reads the
model's own tables (``model.recorder.frames()``), the ones a run writes, so what the dashboard shows is what
``ieco run`` would write for the same scenario, settings and seed.

Served by ``ieco dashboard [SCENARIO]`` (:mod:`experiments.cli_dashboard`); in Jupyter::

    from experiments.dashboard import make_page
    make_page("baseline", {"logit.mu": 0.4})
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import solara
from mesa.visualization import SolaraViz

from experiments.dashboard_charts import COMPONENTS
from market.config import ScenarioConfig
from market.config.files import ConfigError, load_scenario, parse_override, scenario_with_settings
from market.model import InferenceMarket

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
"""Shipped scenarios: a scenario named without ``.toml`` (``"baseline"``) is looked up here."""

OPTIONS_ENV = "IECO_DASHBOARD"
"""Environment variable through which ``ieco dashboard`` hands the served app its scenario, seed and settings
(JSON: ``{"scenario": path, "seed": int | null, "settings": {key path: value}}``)."""

VERIFICATION_CHOICES = ("as in scenario", "all verify", "none verify")
"""Choices of the dashboard's verification select for decentralized networks (incumbents and entrants)."""

Verification = Literal["as in scenario", "all verify", "none verify"]


def scenario_file(scenario: str | Path) -> Path:
    """The scenario file of a path or of a shipped scenario's name (``"baseline"``).

    Raises:
        ConfigError: Neither a file nor a shipped scenario of that name.
    """
    path = Path(scenario)
    if path.is_file():
        return path.resolve()
    shipped = CONFIG_DIR / f"{scenario}.toml"
    if path.suffix != ".toml" and shipped.is_file():
        return shipped
    names = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.toml")))
    raise ConfigError(f"scenario '{scenario}': no such file and no shipped scenario of that name (have: {names})")


def dashboard_settings(config: ScenarioConfig, switching_cost_scale: float,
                       decentralized_verification: Verification) -> dict[str, Any]:
    """Key-path settings of the dashboard's two controls that set several scenario values at once.

    Args:
        config: The scenario the controls apply to.
        switching_cost_scale: Multiplies every segment's switching cost, its growth with tenure and its cap.
        decentralized_verification: Whether every decentralized network, incumbent or entrant, verifies its
            computation ("all verify"), none does ("none verify"), or each as the scenario says.

    Raises:
        ConfigError: A negative scale or an unknown verification choice.
    """
    if not switching_cost_scale >= 0:
        raise ConfigError(f"switching_cost_scale = {switching_cost_scale!r}: must be >= 0")
    if decentralized_verification not in VERIFICATION_CHOICES:
        raise ConfigError(f"decentralized_verification = {decentralized_verification!r}: choose from "
                          f"{', '.join(VERIFICATION_CHOICES)}")
    settings: dict[str, Any] = {}
    if switching_cost_scale != 1.0:
        for i, segment in enumerate(config.segments):
            for key in ("switching_cost", "switching_cost_growth_per_year", "switching_cost_max"):
                settings[f"segments.{i}.{key}"] = getattr(segment, key) * switching_cost_scale
    if decentralized_verification != "as in scenario":
        verify = decentralized_verification == "all verify"
        for i, provider in enumerate(config.providers):
            if provider.kind == "decentralized":
                settings[f"providers.{i}.verification"] = verify
        for i, entrant in enumerate(config.corporate.entrants):
            if entrant.provider.kind == "decentralized":
                settings[f"corporate.entrants.{i}.provider.verification"] = verify
    return settings


class DashboardMarket(InferenceMarket):
    """The market as the dashboard builds it: a scenario by name or path, key-path settings, and the two
    dashboard controls that set several values at once (:func:`dashboard_settings`).

    Args:
        scenario: Shipped scenario name or scenario file.
        seed: Root seed (default: the scenario's).
        switching_cost_scale: Multiplier on every segment's switching costs (1 = as in the scenario).
        decentralized_verification: One of :data:`VERIFICATION_CHOICES`.
        **kwargs: Scenario values by key path, parts joined by ``__`` (``logit__mu=0.4``), applied first.
    """

    def __init__(self, scenario: str | Path = "baseline", seed: int | None = None, *,
                 switching_cost_scale: float = 1.0, decentralized_verification: Verification = "as in scenario",
                 **kwargs: Any) -> None:
        config = scenario_with_settings(load_scenario(scenario_file(scenario)), kwargs)
        config = scenario_with_settings(config, dashboard_settings(config, switching_cost_scale,
                                                                   decentralized_verification))
        super().__init__(config, seed=seed)


@dataclass(frozen=True)
class Control:
    """One input of the sidebar: a model parameter with its widget.

    Attributes:
        name: The parameter of :class:`DashboardMarket` it sets (a key path with ``__``, or a dashboard control).
        label: What the sidebar shows.
        widget: Mesa's input type: ``SliderFloat``, ``SliderInt``, ``Select`` or ``Checkbox``.
        bounds: (min, max, step) of a slider.
        values: The choices of a select.
    """

    name: str
    label: str
    widget: str
    bounds: tuple[float, float, float] | None = None
    values: tuple[str, ...] = ()

    def spec(self, value: Any) -> dict[str, Any]:
        """The ``model_params`` entry of SolaraViz for this control, starting at ``value``."""
        out: dict[str, Any] = {"type": self.widget, "value": value, "label": self.label}
        if self.bounds is not None:
            low, high, step = self.bounds
            out.update(min=min(low, value), max=max(high, value), step=step)
        if self.values:
            out["values"] = list(dict.fromkeys([*self.values, value]))
        return out


CONTROLS: tuple[Control, ...] = (
    Control("logit__mu", "Logit scale mu (choice noise)", "SliderFloat", (0.05, 1.0, 0.01)),
    Control("switching_cost_scale", "Switching costs (x scenario's)", "SliderFloat", (0.0, 4.0, 0.1)),
    Control("technology__open_lag_months_start", "Open-weight parity lag at start (months)", "SliderFloat",
            (0.0, 24.0, 0.5)),
    Control("technology__distillation_speed", "Distillation speed (lag months closed a year)", "SliderFloat",
            (0.0, 6.0, 0.25)),
    Control("corporate__antitrust__policy", "Antitrust policy", "Select", values=("hhi_2023", "hhi_2010", "none")),
    Control("decentralized_verification", "Decentralized networks' verification", "Select",
            values=VERIFICATION_CHOICES),
    Control("corporate__acquisitions__enabled", "Acquisitions allowed", "Checkbox"),
    Control("outside_option__self_hosting", "Buyers may self-host open models", "Checkbox"),
    Control("simulation__steps", "Months to simulate", "SliderInt", (6, 120, 6)),
)
"""The sidebar's inputs, in order."""


def control_value(config: ScenarioConfig, control: Control) -> Any:
    """The value a control starts at: the scenario's, or the neutral setting of a dashboard control."""
    if control.name == "switching_cost_scale":
        return 1.0
    if control.name == "decentralized_verification":
        return "as in scenario"
    node: Any = config
    for part in control.name.split("__"):
        node = getattr(node, part)
    return node


def model_params(scenario: str | Path, settings: dict[str, Any] | None = None,
                 seed: int | None = None) -> dict[str, Any]:
    """SolaraViz's ``model_params``: the fixed scenario, seed and settings, and one input per :data:`CONTROLS`.

    Args:
        scenario: Shipped scenario name or scenario file.
        settings: Scenario values by key path (``{"logit.mu": 0.4}`` or ``{"logit__mu": 0.4}``); a setting of
            a control's key path becomes that control's starting value.
        seed: Root seed (default: the scenario's).

    Raises:
        ConfigError: The scenario is missing or a setting is invalid.
    """
    path = scenario_file(scenario)
    fixed = {key.replace(".", "__"): value for key, value in (settings or {}).items()}
    config = scenario_with_settings(load_scenario(path), fixed)
    controls = {c.name: c for c in CONTROLS}
    params: dict[str, Any] = {"scenario": str(path), "seed": seed}
    params.update({k: v for k, v in fixed.items() if k not in controls})
    params.update({c.name: c.spec(control_value(config, c)) for c in CONTROLS})
    return params


def initial_arguments(params: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of the first model: fixed values as they are, inputs at their starting value."""
    return {k: v["value"] if isinstance(v, dict) and "type" in v else v for k, v in params.items()}


def make_page(scenario: str | Path = "baseline", settings: dict[str, Any] | None = None,
              seed: int | None = None) -> solara.Element:
    """The dashboard of a scenario: ``SolaraViz`` over a :class:`DashboardMarket` with the sidebar's inputs.

    Args:
        scenario: Shipped scenario name or scenario file.
        settings: Scenario values by key path, as ``--set`` on the command line.
        seed: Root seed (default: the scenario's).

    Raises:
        ConfigError: The scenario is missing or a setting is invalid.
    """
    params = model_params(scenario, settings, seed)
    return dashboard_view(DashboardMarket(**initial_arguments(params)), params)


def dashboard_view(model: DashboardMarket, params: dict[str, Any]) -> solara.Element:
    """SolaraViz over ``model`` with the charts of :mod:`experiments.dashboard_charts` and ``params``' inputs."""
    return SolaraViz(model, components=list(COMPONENTS), model_params=params, play_interval=200,
                     name=f"ieco: {model.config.name}")


def served_options() -> dict[str, Any]:
    """The scenario, seed and settings ``ieco dashboard`` put in :data:`OPTIONS_ENV` (default: the baseline)."""
    raw = os.environ.get(OPTIONS_ENV)
    options = json.loads(raw) if raw else {}
    return {"scenario": options.get("scenario", "baseline"), "seed": options.get("seed"),
            "settings": options.get("settings") or {}}


def parse_settings(overrides: list[str]) -> dict[str, Any]:
    """``key.path=value`` strings (``--set``) as a settings dict, values typed as in TOML."""
    return {".".join(path): value for path, value in map(parse_override, overrides)}


@solara.component
def Page() -> solara.Element:
    """The served app (one market per browser tab), configured by :func:`served_options`."""
    options = solara.use_memo(served_options, [])
    params = solara.use_memo(lambda: model_params(options["scenario"], options["settings"], options["seed"]), [])
    model = solara.use_memo(lambda: DashboardMarket(**initial_arguments(params)), [])
    return dashboard_view(model, params)
