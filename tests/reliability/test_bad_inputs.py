"""A corpus of malformed inputs: scenario, sweep and thesis files, ``--set`` overrides and command-line values.

Every case must end with exit code 2, a message that names the offending key or value, no traceback, and
nothing written (the output directory is never created). The CLI runs in-process (typer's CliRunner); a few
cases run as real processes to check the exit code and stderr of the installed entry point.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from experiments.cli import app
from market.config.files import apply_settings, read_toml

pytestmark = pytest.mark.bad_input

REPO = Path(__file__).resolve().parents[2]
BASELINE = read_toml(REPO / "experiments" / "configs" / "baseline.toml")


def toml_value(value: Any) -> str:
    """One TOML value on one line (inline tables and arrays; ``nan``/``inf`` for non-finite floats)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML form for {value!r}")


def dump_toml(document: dict[str, Any]) -> str:
    """A TOML document of ``key = value`` lines, nested tables inline (the stdlib does not write TOML)."""
    return "".join(f"{json.dumps(str(k))} = {toml_value(v)}\n" for k, v in document.items())


@dataclass(frozen=True)
class Case:
    """One malformed input: the files to write, the command line, and what the message must name.

    ``{dir}`` in the arguments is the case's temporary directory; the output directory is ``{dir}/out``.
    """

    id: str
    args: list[str]
    expect: str
    files: dict[str, str] = field(default_factory=dict)


def scenario_case(case_id: str, settings: dict[str, Any], expect: str) -> Case:
    """The baseline with ``settings`` applied, written to a file and run with ``ieco run``."""
    return Case(case_id, ["run", "{dir}/scenario.toml", "--out", "{dir}/out"], expect,
                {"scenario.toml": dump_toml(apply_settings(BASELINE, settings))})


def text_case(case_id: str, text: str, expect: str, command: str = "run") -> Case:
    """A file of raw text given to ``ieco run`` (or ``ieco validate``)."""
    args = ["run", "{dir}/scenario.toml", "--out", "{dir}/out"] if command == "run" else [command,
                                                                                          "{dir}/scenario.toml"]
    return Case(case_id, args, expect, {"scenario.toml": text})


P0, P3 = "providers.0", "providers.3"
SCENARIO_CASES = [
    scenario_case("mu-as-string", {"logit.mu": "0.35"}, "logit.mu = '0.35'"),
    scenario_case("steps-as-bool", {"simulation.steps": True}, "simulation.steps = True"),
    scenario_case("steps-as-float", {"simulation.steps": 10.5}, "simulation.steps = 10.5"),
    scenario_case("steps-zero", {"simulation.steps": 0}, "simulation.steps = 0"),
    scenario_case("steps-huge", {"simulation.steps": 10**6}, "simulation.steps = 1000000"),
    scenario_case("seed-negative", {"simulation.seed": -1}, "simulation.seed = -1"),
    scenario_case("seed-2-63", {"simulation.seed": 2**63}, "simulation.seed = 9223372036854775808"),
    scenario_case("seed-as-float", {"simulation.seed": 1.0}, "simulation.seed = 1.0"),
    scenario_case("rationing-rounds", {"simulation.rationing_rounds": 51}, "simulation.rationing_rounds = 51"),
    scenario_case("enterprise-output", {"simulation.enterprise_output": "per_agent"},
                  "simulation.enterprise_output = 'per_agent'"),
    scenario_case("mu-nan", {"logit.mu": math.nan}, "logit.mu = nan"),
    scenario_case("mu-inf", {"logit.mu": math.inf}, "logit.mu = inf"),
    scenario_case("mu-too-small", {"logit.mu": 0.001}, "logit.mu = 0.001"),
    scenario_case("mu-too-large", {"logit.mu": 1000.0}, "logit.mu = 1000.0"),
    scenario_case("mu-negative", {"logit.mu": -1.0}, "logit.mu = -1.0"),
    scenario_case("shock-negative", {"logit.offer_shock_sd": -0.1}, "logit.offer_shock_sd = -0.1"),
    scenario_case("utility-form", {"logit.utility_form": "cubic"}, "logit.utility_form = 'cubic'"),
    scenario_case("outside-nan", {"outside_option.value": math.nan}, "outside_option.value = nan"),
    scenario_case("self-hosting-string", {"outside_option.self_hosting": "yes"}, "outside_option.self_hosting"),
    scenario_case("self-host-util-zero", {"outside_option.self_host_utilization": 0.0},
                  "outside_option.self_host_utilization = 0.0"),
    scenario_case("list-price-inf", {"technology.generations.0.list_price_usd": math.inf},
                  "technology.generations[0].list_price_usd = inf"),
    scenario_case("throughput-inf", {"technology.generations.0.throughput_tokens_per_s": math.inf},
                  "technology.generations[0].throughput_tokens_per_s = inf"),
    scenario_case("throughput-huge", {"technology.generations.0.throughput_tokens_per_s": 1e300},
                  "technology.generations[0].throughput_tokens_per_s"),
    scenario_case("power-zero", {"technology.generations.0.power_kw": 0.0}, "technology.generations[0].power_kw"),
    scenario_case("lifetime-huge", {"technology.generations.0.lifetime_months": 100_000},
                  "technology.generations[0].lifetime_months = 100000"),
    scenario_case("vendor-supply-nan", {"technology.generations.0.vendor_supply_per_month": math.nan},
                  "technology.generations[0].vendor_supply_per_month"),
    scenario_case("release-step-huge", {"technology.generations.0.release_step": 10**12},
                  "technology.generations[0].release_step"),
    scenario_case("generation-empty-name", {"technology.generations.0.name": ""}, "technology.generations[0].name"),
    scenario_case("reference-generation", {"technology.reference_generation": "B9000"}, "B9000"),
    scenario_case("vendor-allocation", {"technology.vendor_allocation": "random"}, "technology.vendor_allocation"),
    scenario_case("frontier-growth-overflow", {"technology.frontier_growth_per_year": 1e9},
                  "technology.frontier_growth_per_year = 1e+09"),
    scenario_case("power-capacity-nan", {"regions.0.power_capacity_mw": math.nan}, "regions[0].power_capacity_mw"),
    scenario_case("power-capacity-zero", {"regions.0.power_capacity_mw": 0.0}, "regions[0].power_capacity_mw"),
    scenario_case("residency-above-one", {"regions.0.residency_strictness": 1.5},
                  "regions[0].residency_strictness = 1.5"),
    scenario_case("demand-share-negative", {"regions.0.demand_share": -1.0}, "regions[0].demand_share = -1.0"),
    scenario_case("duplicate-region", {"regions.1.name": "na"}, "duplicate region name(s): na"),
    scenario_case("n-agents-zero", {"segments.0.n_agents": 0}, "segments[0].n_agents = 0"),
    scenario_case("n-agents-huge", {"segments.0.n_agents": 10**9}, "segments[0].n_agents = 1000000000"),
    scenario_case("firms-per-agent-1e308", {"segments.0.firms_per_agent": 1e308}, "segments[0].firms_per_agent"),
    scenario_case("base-demand-huge", {"segments.0.base_demand_mtok_per_month": 1e300},
                  "segments[0].base_demand_mtok_per_month"),
    scenario_case("elasticity-huge", {"segments.0.price_elasticity": 50.0}, "segments[0].price_elasticity = 50.0"),
    scenario_case("growth-minus-one", {"segments.0.demand_growth_per_year": -1.0},
                  "segments[0].demand_growth_per_year = -1.0"),
    scenario_case("growth-overflow", {"segments.0.demand_growth_per_year": 1e12},
                  "segments[0].demand_growth_per_year = 1e+12"),
    scenario_case("quality-floor-two", {"segments.0.quality_floor": 2.0}, "segments[0].quality_floor = 2.0"),
    scenario_case("quality-floor-nan", {"segments.0.quality_floor": math.nan}, "segments[0].quality_floor"),
    scenario_case("switching-cost-string", {"segments.0.switching_cost": "high"},
                  "segments[0].switching_cost = 'high'"),
    scenario_case("tenure-negative", {"segments.0.initial_tenure_months_max": -3},
                  "segments[0].initial_tenure_months_max = -3"),
    scenario_case("duplicate-segment", {"segments.1.name": "performance_first"}, "performance_first"),
    scenario_case("count-zero", {f"{P0}.count": 0}, "providers[0].count = 0"),
    scenario_case("count-huge", {f"{P0}.count": 100_000}, "providers[0].count = 100000"),
    scenario_case("kind-unknown", {f"{P0}.kind": "neocloud"}, "providers[0].kind = 'neocloud'"),
    scenario_case("quality-unknown", {f"{P0}.quality": "best"}, "providers[0].quality"),
    scenario_case("quality-inf", {f"{P0}.quality": math.inf}, "providers[0].quality"),
    scenario_case("reliability-above-one", {f"{P0}.reliability": 1.2}, "providers[0].reliability = 1.2"),
    scenario_case("verification-as-int", {f"{P0}.verification": 1}, "providers[0].verification = 1"),
    scenario_case("cash-nan", {f"{P0}.cash_usd": math.nan}, "providers[0].cash_usd = nan"),
    scenario_case("cash-inf", {f"{P0}.cash_usd": math.inf}, "providers[0].cash_usd = inf"),
    scenario_case("pue-below-one", {f"{P0}.pue": 0.5}, "providers[0].pue = 0.5"),
    scenario_case("capacity-negative", {f"{P0}.capacity_mtok_per_month": -5.0},
                  "providers[0].capacity_mtok_per_month = -5.0"),
    scenario_case("pricing-strategy", {f"{P0}.pricing.strategy": "magic"}, "'magic': unknown strategy"),
    scenario_case("pricing-key", {f"{P0}.pricing.markup": 0.3}, "unknown key 'providers[0].pricing.markup'"),
    scenario_case("damping-zero", {f"{P0}.pricing.damping": 0.0}, "providers[0].pricing.damping = 0.0"),
    scenario_case("investment-strategy", {f"{P0}.investment.strategy": "yolo"}, "'yolo': unknown strategy"),
    scenario_case("gpus-negative", {f"{P0}.fleet.0.gpus": -1}, "providers[0].fleet[0].gpus = -1"),
    scenario_case("gpus-as-float", {f"{P0}.fleet.0.gpus": 1e9}, "providers[0].fleet[0].gpus = 1000000000.0"),
    scenario_case("gpus-huge", {f"{P0}.fleet.0.gpus": 10**12}, "providers[0].fleet[0].gpus = 1000000000000"),
    scenario_case("fleet-region", {f"{P0}.fleet.0.region": "mars"}, "unknown region 'mars'"),
    scenario_case("fleet-generation", {f"{P0}.fleet.0.generation": "Z1"}, "unknown generation 'Z1'"),
    scenario_case("age-huge", {f"{P0}.fleet.0.age_months": 5000}, "providers[0].fleet[0].age_months = 5000"),
    scenario_case("provider-region", {f"{P0}.regions": ["mars"]}, "unknown region 'mars'"),
    scenario_case("retire-age-zero", {f"{P0}.retire_age_months": 0}, "providers[0].retire_age_months = 0"),
    scenario_case("duplicate-provider", {"providers.1.name": "cloud_a"}, "duplicate name 'cloud_a'"),
    scenario_case("count-expansion-collision", {"providers.1.name": "specialist_2"},
                  "duplicate name 'specialist_2': providers[1] 'specialist_2' and providers[3] 'specialist'"),
    scenario_case("entrant-collision", {"providers.1.name": "new_swarm_1"}, "duplicate name 'new_swarm_1'"),
    scenario_case("reseller-margin", {"resellers.0.margin": 2.0}, "resellers[0].margin = 2.0"),
    scenario_case("reseller-count", {"resellers.0.count": 0}, "resellers[0].count = 0"),
    scenario_case("exit-after-zero", {"corporate.exit_after_months": 0}, "corporate.exit_after_months = 0"),
    scenario_case("antitrust-policy", {"corporate.antitrust.policy": "strict"}, "corporate.antitrust.policy"),
    scenario_case("deal-probability", {"corporate.acquisitions.deal_probability": 1.5},
                  "corporate.acquisitions.deal_probability = 1.5"),
    scenario_case("acquirer-kind", {"corporate.acquisitions.acquirer_kinds": ["bank"]},
                  "corporate.acquisitions.acquirer_kinds[0] = 'bank'"),
    scenario_case("max-entries-huge", {"corporate.entrants.0.max_entries": 10**6},
                  "corporate.entrants[0].max_entries = 1000000"),
    scenario_case("unknown-section", {"simulaton": {"steps": 3}}, "did you mean 'simulation'"),
    scenario_case("unknown-key", {"logit.muu": 0.3}, "did you mean 'mu'"),
    scenario_case("no-segments", {"segments": []}, "segments"),
    scenario_case("no-providers", {"providers": []}, "providers"),
    scenario_case("segments-not-a-list", {"segments": {"a": 1}}, "segments"),
]

TEXT_CASES = [
    text_case("toml-syntax", 'name = "x"\nname = \n', "not valid TOML"),
    text_case("toml-duplicate-key", 'name = "a"\nname = "b"\n', "not valid TOML"),
    text_case("deep-arrays", "x = " + "[" * 5000 + "]" * 5000 + "\n", "brackets nested more than 32 deep"),
    text_case("deep-inline-tables", "x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n",
              "brackets nested more than 32 deep"),
    text_case("dotted-key-100000", "a" + ".a" * 99_999 + " = 1\n", "a dotted key of 100000 parts"),
    text_case("dotted-header-100000", "[" + ".".join(["t"] * 100_000) + "]\n", "a dotted key of 100000 parts"),
    text_case("many-megabytes", "# padding\n" * 500_000, "at most 1,000,000 bytes"),
    text_case("not-utf8", "name = \"\xff\xfe\"\n".encode("latin-1").decode("latin-1"), "not a UTF-8 text file"),
    text_case("empty-file", "", "missing required key 'segments'"),
    text_case("validate-deep", "x = " + "[" * 2000 + "]" * 2000 + "\n", "nested more than 32", "validate"),
]

SWEEP = {"name": "bad", "base": "baseline", "replications": 1,
         "settings": {"simulation.steps": 2, "segments.0.n_agents": 10}}


def sweep_case(case_id: str, changes: dict[str, Any], expect: str, parameters: list[dict[str, Any]] | None = None,
               extra: list[str] | None = None) -> Case:
    """A sweep file (``SWEEP`` with ``changes``) run with ``ieco sweep``."""
    document = {**SWEEP, **changes}
    if parameters is not None:
        document["parameters"] = parameters
    return Case(case_id, ["sweep", "{dir}/sweep.toml", "--out", "{dir}/out", "--workers", "1", *(extra or [])],
                expect, {"sweep.toml": dump_toml(document)})


MU = {"name": "mu", "path": "logit.mu"}
SWEEP_CASES = [
    sweep_case("range-gives-invalid-points", {}, "logit.mu = 0.01", [{**MU, "low": 0.01, "high": 0.5, "levels": 3}]),
    sweep_case("values-give-invalid-points", {}, "point 1 (mu = -1.0)", [{**MU, "values": [0.3, -1.0]}]),
    sweep_case("infinite-range", {}, "parameters[0].high = inf", [{**MU, "low": 0.1, "high": math.inf,
                                                                    "levels": 2}]),
    sweep_case("nan-range", {}, "parameters[0].low = nan", [{**MU, "low": math.nan, "high": 1.0, "levels": 2}]),
    sweep_case("infinite-value", {}, "parameters[0].values", [{**MU, "values": [0.3, math.inf]}]),
    sweep_case("name-is-output-column", {}, "name 'hhi' is already an output column",
               [{"name": "hhi", "path": "logit.mu", "values": [0.3]}]),
    sweep_case("name-is-provider-column", {}, "name 'price' is already an output column of table(s) providers",
               [{"name": "price", "path": "logit.mu", "values": [0.3]}]),
    sweep_case("name-reserved", {}, "parameter name 'step' is reserved",
               [{"name": "step", "path": "logit.mu", "values": [0.3]}]),
    sweep_case("float-for-integer-setting", {}, "simulation.steps = 10.0",
               [{"name": "steps", "path": "simulation.steps", "low": 10, "high": 20, "levels": 2}]),
    sweep_case("path-through-value", {}, "'logit.mu' is a value", [{"name": "x", "path": "logit.mu.x",
                                                                    "values": [1]}]),
    sweep_case("path-unknown", {}, "logit.nope", [{"name": "x", "path": "logit.nope", "values": [1.0]}]),
    sweep_case("values-mixed", {}, "'values' mixes types", [{**MU, "values": [0.3, "a"]}]),
    sweep_case("levels-one", {}, "parameters[0].levels = 1", [{**MU, "low": 0.1, "high": 0.5, "levels": 1}]),
    sweep_case("replications-bool", {"replications": True}, "replications = True"),
    sweep_case("replications-string", {"replications": "2"}, "replications = '2'"),
    sweep_case("root-seed-negative", {"root_seed": -1}, "root_seed = -1"),
    sweep_case("root-seed-2-63", {"root_seed": 2**63}, "root_seed = 9223372036854775808"),
    sweep_case("samples-zero", {"design": {"method": "lhs", "samples": 0}}, "design.samples = 0", [MU | {
        "low": 0.1, "high": 0.5}]),
    sweep_case("sobol-not-power-of-two", {"design": {"method": "sobol", "samples": 3}}, "power of 2",
               [MU | {"low": 0.1, "high": 0.5}]),
    sweep_case("too-many-runs", {"replications": 10_000}, "plans 20,000,000 runs",
               [MU | {"low": 0.1, "high": 0.5, "levels": 2000}]),
    sweep_case("base-missing-file", {"base": "nowhere.toml"}, "base = 'nowhere.toml': no such file"),
    sweep_case("base-unknown-name", {"base": "baselin"}, "base = 'baselin': no shipped config"),
    sweep_case("settings-string-number", {"settings": {"logit.mu": "0.3"}}, "logit.mu = '0.3'"),
    sweep_case("unknown-top-key", {"replicatons": 2}, "did you mean 'replications'"),
]

THESIS = {
    "name": "bad", "number": 1, "title": "t", "source_claim": "s", "test": "t", "assumptions": ["a"],
    "replications": 2,
    "scenarios": {"one": {"base": "baseline", "settings": {"simulation.steps": 2, "segments.0.n_agents": 10}}},
    "statistic": {"name": "final", "description": "d", "column": "hhi", "scenario": "one"},
    "claim": {"operator": ">", "threshold": 0.0},
}


def thesis_case(case_id: str, changes: dict[str, Any], expect: str, statistic: dict[str, Any] | None = None) -> Case:
    """A thesis directory holding one file (``THESIS`` with ``changes``) run with ``ieco theses``."""
    document = {**THESIS, **changes}
    if statistic is not None:
        merged = {**THESIS["statistic"], **statistic}
        document["statistic"] = {k: v for k, v in merged.items() if v is not None}
    return Case(case_id, ["theses", "--theses-dir", "{dir}/theses", "--out", "{dir}/out", "--workers", "1"], expect,
                {"theses/bad.toml": dump_toml(document)})


THESIS_CASES = [
    thesis_case("unknown-column", {}, "'nope' that table 'model' does not have", {"column": "nope"}),
    thesis_case("unknown-per-column", {}, "'everything' that table 'model'", {"per": "everything"}),
    thesis_case("unknown-where-column", {}, "'kindd' that table 'providers'",
                {"table": "providers", "column": "revenue", "where": {"kindd": "hyperscaler"}}),
    thesis_case("unknown-table", {}, "statistic.table = 'markets': no such table", {"table": "markets"}),
    thesis_case("unknown-statistic", {}, "unknown statistic 'median'", {"name": "median"}),
    thesis_case("unknown-compared-scenario", {}, "unknown scenario", {"scenario": None, "compare": ["one", "two"]}),
    thesis_case("claim-operator", {"claim": {"operator": "=>", "threshold": 0.0}}, "claim.operator = '=>'"),
    thesis_case("claim-threshold-nan", {"claim": {"operator": ">", "threshold": math.nan}}, "claim.threshold = nan"),
    thesis_case("replications-one", {"replications": 1}, "replications = 1"),
    thesis_case("replications-string", {"replications": "10"}, "replications = '10'"),
    thesis_case("scenario-bad-setting", {"scenarios": {"one": {"settings": {"logit.mu": -1.0}}}}, "logit.mu = -1.0"),
    thesis_case("scenario-base-missing", {"scenarios": {"one": {"base": "nowhere"}}},
                "base = 'nowhere': no shipped config"),
    thesis_case("name-upper-case", {"name": "Bad"}, "thesis name 'Bad'"),
]

CLI_CASES = [
    Case("opt-steps-abc", ["run", "baseline", "--steps", "abc", "--out", "{dir}/out"], "'abc' is not a whole number"),
    Case("opt-steps-zero", ["run", "baseline", "--steps", "0", "--out", "{dir}/out"], "0 is outside the allowed range"),
    Case("opt-seed-negative", ["run", "baseline", "--seed", "-1", "--out", "{dir}/out"], "-1 is outside the allowed"),
    Case("opt-seed-2-63", ["run", "baseline", "--seed", str(2**63), "--out", "{dir}/out"],
         "9223372036854775808 is outside the allowed range 0 to 9223372036854775807"),
    Case("opt-seed-float", ["run", "baseline", "--seed", "1.5", "--out", "{dir}/out"], "'1.5' is not a whole number"),
    Case("opt-set-no-equals", ["run", "baseline", "--set", "logit.mu", "--out", "{dir}/out"],
         "override 'logit.mu' is not of the form key.path=value"),
    Case("opt-set-empty-key", ["run", "baseline", "--set", "=3", "--out", "{dir}/out"], "empty key"),
    Case("opt-set-unknown-item", ["run", "baseline", "--set", "providers.nope.lock_in=0.2", "--out", "{dir}/out"],
         "no item named 'nope'"),
    Case("opt-set-index-range", ["run", "baseline", "--set", "providers.99.lock_in=0.2", "--out", "{dir}/out"],
         "index 99 out of range"),
    Case("opt-set-through-value", ["run", "baseline", "--set", "logit.mu.x=1", "--out", "{dir}/out"],
         "'logit.mu' is a value, not a table"),
    Case("opt-set-deep-value", ["run", "baseline", "--set", "logit.mu=" + "[" * 3000 + "]" * 3000, "--out",
                            "{dir}/out"], "nested more than 32 deep"),
    Case("opt-set-string-number", ["run", "baseline", "--set", 'logit.mu="0.35"', "--out", "{dir}/out"],
         "logit.mu = '0.35'"),
    Case("opt-set-bool-steps", ["run", "baseline", "--set", "simulation.steps=true", "--out", "{dir}/out"],
         "simulation.steps = True"),
    Case("opt-set-mu-nan", ["run", "baseline", "--set", "logit.mu=nan", "--out", "{dir}/out"], "logit.mu = nan"),
    Case("opt-steps-overflow-growth", ["run", "baseline", "--steps", "100000", "--out", "{dir}/out"],
         "technology.frontier_growth_per_year = 2 over simulation.steps = 100000 grows"),
    Case("opt-scenario-unknown-name", ["run", "baselin", "--out", "{dir}/out"], "'baselin': no shipped config"),
    Case("opt-scenario-missing-file", ["run", "{dir}/missing.toml", "--out", "{dir}/out"],
         "missing.toml': no such file"),
    Case("opt-scenario-is-directory", ["run", "{dir}", "--out", "{dir}/out"], "no such file"),
    Case("opt-workers-many", ["sweep", "sweeps/switching_mu_grid", "--out", "{dir}/out", "--workers", "many"],
         "'many' is not a whole number"),
    Case("opt-workers-zero", ["sweep", "sweeps/switching_mu_grid", "--out", "{dir}/out", "--workers", "0"],
         "0 is outside the allowed range"),
    Case("opt-address-words", ["sweep", "sweeps/switching_mu_grid", "--out", "{dir}/out", "--address", "my cluster"],
         "'my cluster' is not 'auto' or HOST:PORT"),
    Case("opt-address-no-port", ["sweep", "sweeps/switching_mu_grid", "--out", "{dir}/out", "--address", "10.0.0.5"],
         "'10.0.0.5' is not 'auto' or HOST:PORT"),
    Case("opt-address-port-range", ["sweep", "sweeps/switching_mu_grid", "--out", "{dir}/out", "--address",
                                "10.0.0.5:99999"], "port 99999 is outside 1 to 65535"),
    Case("opt-address-no-host", ["sweep", "sweeps/switching_mu_grid", "--out", "{dir}/out", "--address", ":6379"],
         "':6379' is not 'auto' or HOST:PORT"),
    Case("opt-replications-ten", ["theses", "--out", "{dir}/out", "--replications", "ten"],
         "'ten' is not a whole number"),
    Case("opt-replications-one", ["theses", "--out", "{dir}/out", "--replications", "1"],
         "1 is outside the allowed range 2 to 10000"),
    Case("opt-theses-only-unknown", ["theses", "--out", "{dir}/out", "--only", "nope"],
         "only = ['nope'] (--only): no such thesis"),
    Case("opt-validate-sweep-with-set", ["validate", "sweeps/switching_mu_grid", "--set", "logit.mu=0.3"],
         "overrides (--set) apply to scenario files"),
]

CASES = SCENARIO_CASES + TEXT_CASES + SWEEP_CASES + THESIS_CASES + CLI_CASES


def normalized(text: str) -> str:
    """Output without rich's box drawing and line wrapping."""
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", text)).strip()


def materialize(case: Case, directory: Path) -> list[str]:
    """Write the case's files under ``directory`` and return its arguments with ``{dir}`` filled in."""
    for name, text in case.files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if case.id == "not-utf8":
            path.write_bytes(b'name = "\xff\xfe"\n')
        else:
            path.write_text(text)
    return [arg.replace("{dir}", str(directory)) for arg in case.args]


def test_the_corpus_is_large_and_distinct() -> None:
    ids = [f"{c.args[0]}-{c.id}" for c in CASES]
    assert len(CASES) >= 80 and len(set(ids)) == len(ids)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.args[0]}-{c.id}" for c in CASES])
def test_bad_input_exits_2_names_the_problem_and_writes_nothing(case: Case, tmp_path: Path) -> None:
    args = materialize(case, tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = CliRunner().invoke(app, args)
    output = normalized(result.output)
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}\n{result.exception!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert normalized(case.expect) in output, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


SUBPROCESS_CASES = [c for c in CASES if c.id in {"deep-arrays", "values-give-invalid-points", "unknown-column",
                                                 "opt-steps-abc"}]


@pytest.mark.parametrize("case", SUBPROCESS_CASES, ids=[c.id for c in SUBPROCESS_CASES])
def test_the_installed_command_exits_2_without_a_traceback(case: Case, tmp_path: Path) -> None:
    args = materialize(case, tmp_path)
    done = subprocess.run([sys.executable, "-m", "experiments.cli", *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert normalized(case.expect) in normalized(done.stderr), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "out").exists()
