"""The dashboard's live views: charts and tables drawn from the model's own tables.

Each view is a function of the model, as Mesa's SolaraViz expects of its components; SolaraViz redraws them
after every step. They read ``model.recorder.frames()`` (the tables a run writes) and the scenario, nothing
private. Charts are Vega-Lite specifications built with Altair and drawn by the browser (the server only
sends the data, a few milliseconds a chart); the month axis spans the whole run, so a chart fills as it runs.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import altair as alt
import pandas as pd
import solara
import solara.widgets

from market.config import PROVIDER_KIND_NAMES
from market.metrics import HHI_HIGHLY_CONCENTRATED_2023

if TYPE_CHECKING:
    from market.model import InferenceMarket

GUIDELINE_HHI = HHI_HIGHLY_CONCENTRATED_2023
"""Post-merger HHI above which the 2023 US merger guidelines call a market highly concentrated (1,800)."""

_frames_cache: weakref.WeakKeyDictionary[InferenceMarket, tuple[int, dict[str, pd.DataFrame]]] = (
    weakref.WeakKeyDictionary()
)


def market_frames(model: InferenceMarket) -> dict[str, pd.DataFrame]:
    """The model's tables so far, built once per step for all views."""
    cached = _frames_cache.get(model)
    if cached is None or cached[0] != model.steps:
        cached = (model.steps, model.recorder.frames())
        _frames_cache[model] = cached
    return cached[1]


LINES = "lines"
"""Name of the dataset that holds a chart's lines (month, series, value): the chart's only part that changes."""

_templates: weakref.WeakKeyDictionary[InferenceMarket, dict[str, dict[str, Any]]] = weakref.WeakKeyDictionary()


def line_chart(model: InferenceMarket, y_title: str, *, log: bool = False, percent: bool = False,
               rules: pd.DataFrame | None = None) -> alt.LayerChart:
    """Lines of ``value`` by ``month`` and ``series`` (from the dataset :data:`LINES`) over the whole run, with
    optional horizontal ``rules`` (columns ``value`` and ``label``)."""
    months = alt.X("month:Q", title="month", scale=alt.Scale(domain=[0, max(model.config.simulation.steps - 1, 1)]))
    y = alt.Y("value:Q", title=y_title, scale=alt.Scale(type="log") if log else alt.Scale(zero=True),
              axis=alt.Axis(format="%") if percent else alt.Axis())
    lines = alt.Chart(alt.NamedData(LINES)).mark_line(point=alt.OverlayMarkDef(size=10)).encode(
        x=months, y=y, color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["month:Q", "series:N", alt.Tooltip("value:Q", format=".1%" if percent else ",.4~g")],
    )
    layers: list[alt.Chart] = [lines]
    if rules is not None and len(rules):
        layers.append(alt.Chart(rules).mark_rule(color="red", strokeDash=[6, 4]).encode(
            y="value:Q", tooltip=["label:N", alt.Tooltip("value:Q", format=",.0f")]))
        layers.append(alt.Chart(rules).mark_text(color="red", align="left", dx=4, dy=-7, fontSize=10).encode(
            y="value:Q", x=alt.value(0), text="label:N"))
    return alt.layer(*layers).properties(width="container", height=190)


def chart_spec(model: InferenceMarket, key: str, build: Callable[[], alt.LayerChart],
               long: pd.DataFrame) -> dict[str, Any]:
    """The Vega-Lite specification of chart ``key`` with ``long`` as its lines.

    The chart itself is built (and validated against the Vega-Lite schema) once per model; each step only
    swaps its data, which keeps a redraw to a few milliseconds of server time.
    """
    templates = _templates.setdefault(model, {})
    if key not in templates:
        templates[key] = build().to_dict()
    records = [{"month": int(m), "series": str(s), "value": float(v)}
               for m, s, v in zip(long["month"], long["series"], long["value"], strict=True)]
    template = templates[key]
    return {**template, "datasets": {**template.get("datasets", {}), LINES: records}}


def _long(m: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Columns of the model table as long rows (month, series, value), series named by ``columns``."""
    wide = m[["step", *columns]].rename(columns={"step": "month", **columns})
    return wide.melt("month", var_name="series", value_name="value").dropna(subset=["value"])


def _chart_card(title: str, spec: dict[str, Any], caption: str) -> None:
    with solara.Card(title):
        solara.widgets.VegaLite.element(spec=spec)
        solara.Text(caption, classes=["ieco-caption"])


def _empty(title: str) -> None:
    with solara.Card(title):
        solara.Text("No month simulated yet: press Step or play.", classes=["ieco-caption"])


def PricesChart(model: InferenceMarket) -> None:
    """Price index and quality-adjusted price index ($/Mtok, log scale)."""
    m = market_frames(model)["model"]
    if m.empty:
        return _empty("Prices")
    long = _long(m, {"price_index": "price index", "quality_adjusted_price_index": "quality-adjusted"})
    last = m.iloc[-1]
    spec = chart_spec(model, "prices", lambda: line_chart(model, "$ per Mtok", log=True), long)
    _chart_card("Prices", spec,
                f"month {int(last['step'])}: price index {last['price_index']:.4g} $/Mtok, "
                f"quality-adjusted {last['quality_adjusted_price_index']:.4g}")


def SharesChart(model: InferenceMarket) -> None:
    """Shares of tokens served by provider kind."""
    m = market_frames(model)["model"]
    if m.empty:
        return _empty("Shares by provider kind")
    long = _long(m, {f"share_{kind}": kind for kind in PROVIDER_KIND_NAMES})
    last = m.iloc[-1]
    shares = ", ".join(f"{kind} {last[f'share_{kind}']:.1%}" for kind in PROVIDER_KIND_NAMES)
    spec = chart_spec(model, "shares", lambda: line_chart(model, "share of tokens served", percent=True), long)
    _chart_card("Shares by provider kind", spec,
                f"month {int(last['step'])}: {shares}")


def ConcentrationChart(model: InferenceMarket) -> None:
    """HHI by ultimate owner (whole market and buyer regions) with the 2023 guideline line, and the scenario's
    own merger-control threshold when it differs."""
    m = market_frames(model)["model"]
    if m.empty:
        return _empty("Concentration")
    long = _long(m, {"hhi": "whole market", **{f"hhi_{r}": r for r in model.region_names}})
    rules = [(GUIDELINE_HHI, f"2023 merger guidelines: highly concentrated above {GUIDELINE_HHI:,.0f}")]
    policy = model.config.corporate.antitrust
    if policy.thresholds is not None and policy.thresholds[0] != GUIDELINE_HHI:
        rules.append((policy.thresholds[0], f"scenario's merger control ({policy.policy})"))
    last = m.iloc[-1]
    spec = chart_spec(model, "hhi", lambda: line_chart(model, "HHI (by owner, revenue)",
                                                       rules=pd.DataFrame(rules, columns=["value", "label"])), long)
    _chart_card("Concentration", spec,
                f"month {int(last['step'])}: HHI {last['hhi']:,.0f} (2023 guideline line at {GUIDELINE_HHI:,.0f}); "
                f"merger control: {policy.policy}")


def GpuPriceChart(model: InferenceMarket) -> None:
    """Secondary-market GPU prices by generation."""
    frames = market_frames(model)
    m, g = frames["model"], frames["gpu_market"]
    if m.empty:
        return _empty("Secondary GPU market")
    long = g.rename(columns={"step": "month", "generation": "series", "secondary_price": "value"})
    long = long[["month", "series", "value"]].dropna(subset=["value"])
    last = m.iloc[-1]
    spec = chart_spec(model, "gpu", lambda: line_chart(model, "$ per GPU"), long)
    _chart_card("Secondary GPU market", spec,
                f"month {int(last['step'])}: reference-generation secondary price "
                f"{last['secondary_gpu_price']:,.0f} $")


PROVIDER_COLUMNS = {
    "provider": "provider", "kind": "kind", "owner": "owner", "active": "active", "price": "price $/Mtok",
    "unit_cost": "unit cost $/Mtok", "share": "share of tokens", "revenue": "revenue $", "profit": "profit $",
    "cash": "cash $", "fleet_gpus": "GPUs",
}


def provider_table(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The providers at the latest month: price, cost, share of tokens served, money and fleet."""
    p = frames["providers"]
    last = p[p["step"] == p["step"].max()].copy()
    served = last["tokens_served"].sum()
    last["share"] = last["tokens_served"] / served if served > 0 else 0.0
    table = last[list(PROVIDER_COLUMNS)].sort_values(["active", "share"], ascending=False)
    return table.rename(columns=PROVIDER_COLUMNS).round(
        {"price $/Mtok": 4, "unit cost $/Mtok": 4, "share of tokens": 4, "revenue $": 0, "profit $": 0, "cash $": 0}
    )


def ProviderTable(model: InferenceMarket) -> None:
    """The provider table of the latest month, with the market's running counts of corporate events."""
    frames = market_frames(model)
    with solara.Card("Providers"):
        if frames["model"].empty:
            solara.Text("No month simulated yet: press Step or play.")
            return
        last = frames["model"].iloc[-1]
        solara.Text(
            f"month {int(last['step'])}: {int(last['n_active_providers'])} active providers; "
            f"{int(last['cumulative_entries'])} entries, {int(last['cumulative_exits'])} exits, "
            f"{int(last['cumulative_acquisitions'])} acquisitions, "
            f"{int(last['cumulative_blocked_mergers'])} blocked mergers so far; seed {model.seed}",
            classes=["ieco-caption"],
        )
        solara.DataFrame(provider_table(frames), items_per_page=20)


COMPONENTS = (
    (PricesChart, 0), (SharesChart, 0), (ConcentrationChart, 0), (GpuPriceChart, 0), (ProviderTable, 0),
)
"""SolaraViz components: (view, page)."""
