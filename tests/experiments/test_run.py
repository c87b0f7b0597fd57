"""Running scenarios (experiments/run.py): determinism, provenance, atomic writes, and the accounting
identities every run must satisfy (money, tokens and GPUs are conserved)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from experiments.outputs import OutputError
from experiments.run import TABLES, RunResult, run_scenario, write_run
from market.config import ScenarioConfig
from market.config.files import apply_overrides, load_scenario, read_toml, scenario_from_dict
from market.model import InferenceMarket

REPO_ROOT = Path(__file__).resolve().parents[2]
BASELINE = REPO_ROOT / "experiments" / "configs" / "baseline.toml"
ASYMMETRIC_DUOPOLY = REPO_ROOT / "experiments" / "configs" / "validation" / "logit_asymmetric_duopoly.toml"
REL = 1e-9


def reduced_baseline(steps: int = 6, agents_per_segment: int = 20) -> ScenarioConfig:
    """experiments/configs/baseline.toml with few steps and few enterprise agents per segment."""
    data = read_toml(BASELINE)
    overrides = [f"simulation.steps={steps}"]
    overrides += [f"segments.{i}.n_agents={agents_per_segment}" for i in range(len(data["segments"]))]
    return scenario_from_dict(apply_overrides(data, overrides))


@pytest.fixture(scope="module")
def baseline_config() -> ScenarioConfig:
    return reduced_baseline()


@pytest.fixture(scope="module")
def baseline_run(baseline_config: ScenarioConfig) -> RunResult:
    return run_scenario(baseline_config, seed=1)


@pytest.fixture(scope="module")
def tiny_run(tiny_fleet_scenario: ScenarioConfig) -> RunResult:
    return run_scenario(tiny_fleet_scenario, seed=3)


def parquet_bytes(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.parquet"))}


# ---------------------------------------------------------------------------------------------------------
# determinism
# ---------------------------------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_parquet(baseline_config: ScenarioConfig, tmp_path: Path) -> None:
    first = write_run(run_scenario(baseline_config, seed=7), tmp_path / "a")
    second = write_run(run_scenario(baseline_config, seed=7), tmp_path / "b")
    a, b = parquet_bytes(first), parquet_bytes(second)
    assert {f"{name}.parquet" for name in TABLES} <= set(a)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], f"{name} differs between two runs with the same seed"


RUN_IN_SUBPROCESS = """
import sys
from experiments.run import run_scenario, write_run
from market.config.files import apply_overrides, load_scenario, read_toml, scenario_from_dict
from market.model import InferenceMarket
data = read_toml(sys.argv[1])
overrides = ["simulation.steps=4"] + [f"segments.{i}.n_agents=15" for i in range(len(data["segments"]))]
write_run(run_scenario(scenario_from_dict(apply_overrides(data, overrides)), seed=5), sys.argv[2])
"""


def test_same_seed_is_byte_identical_across_processes(tmp_path: Path) -> None:
    """Two interpreters with different string-hash seeds (set and dict-of-set iteration orders differ) write
    the same bytes: nothing in a run depends on hash order or on process state."""
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"hash{hash_seed}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", RUN_IN_SUBPROCESS, str(BASELINE), str(out)], cwd=REPO_ROOT, env=env,
                       check=True, capture_output=True, timeout=120)
        outputs.append(parquet_bytes(out))
    assert outputs[0].keys() == outputs[1].keys() and "model.parquet" in outputs[0]
    for name in outputs[0]:
        assert outputs[0][name] == outputs[1][name], f"{name} differs between processes"


def test_different_seed_gives_different_results(baseline_config: ScenarioConfig, tmp_path: Path) -> None:
    first = write_run(run_scenario(baseline_config, seed=7), tmp_path / "a")
    second = write_run(run_scenario(baseline_config, seed=8), tmp_path / "b")
    assert (first / "model.parquet").read_bytes() != (second / "model.parquet").read_bytes()
    model_a = pd.read_parquet(first / "model.parquet")
    model_b = pd.read_parquet(second / "model.parquet")
    assert not np.allclose(model_a["price_index"], model_b["price_index"], rtol=1e-12)


def test_seed_defaults_to_the_scenario_seed(tiny_fleet_scenario: ScenarioConfig, tiny_run: RunResult) -> None:
    """TINY_FLEET_SCENARIO has simulation.seed = 11: no seed argument is the same as seed 11."""
    assert tiny_fleet_scenario.simulation.seed == 11
    default = run_scenario(tiny_fleet_scenario)
    explicit = run_scenario(tiny_fleet_scenario, seed=11)
    pd.testing.assert_frame_equal(default.model, explicit.model)
    assert default.manifest["seed"] == 11
    assert not default.model["price_index"].equals(tiny_run.model["price_index"])


def test_runs_do_not_touch_global_random_state(tiny_fleet_scenario: ScenarioConfig) -> None:
    """One random source per model: the global numpy and stdlib generators are left as they were."""
    import random

    np.random.seed(123)  # noqa: NPY002 - the legacy global state is what is under test
    random.seed(123)
    run_scenario(tiny_fleet_scenario, seed=5, steps=3)
    after_np, after_py = np.random.random(), random.random()  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    random.seed(123)
    assert (after_np, after_py) == (np.random.random(), random.random())  # noqa: NPY002


# ---------------------------------------------------------------------------------------------------------
# provenance and writing
# ---------------------------------------------------------------------------------------------------------


def test_every_row_carries_run_id_and_seed(tiny_run: RunResult) -> None:
    for name, frame in tiny_run.tables().items():
        if frame.empty:
            continue
        assert list(frame.columns[:2]) == ["run_id", "seed"], name
        assert (frame["seed"] == 3).all(), name
        assert (frame["run_id"] == "seed-3").all(), name


def test_manifest_records_provenance(tiny_fleet_scenario: ScenarioConfig, tiny_run: RunResult) -> None:
    manifest = tiny_run.manifest
    assert manifest["seed"] == 3
    assert manifest["steps"] == tiny_fleet_scenario.simulation.steps == 8
    assert scenario_from_dict(manifest["config"]) == tiny_fleet_scenario
    for package in ("numpy", "mesa", "pandas", "pydantic"):
        assert manifest["versions"][package] not in ("", "not installed")
    assert isinstance(manifest["git_commit"], str) and manifest["git_commit"]
    assert manifest["wall_time_s"] >= 0.0


def test_steps_argument_and_its_validation(tiny_fleet_scenario: ScenarioConfig) -> None:
    short = run_scenario(tiny_fleet_scenario, seed=3, steps=2)
    assert list(short.model["step"]) == [0, 1]
    with pytest.raises(ValueError, match="steps must be at least 1, got 0"):
        run_scenario(tiny_fleet_scenario, seed=3, steps=0)


def test_progress_callback_sees_every_step(tiny_fleet_scenario: ScenarioConfig) -> None:
    calls: list[tuple[int, int]] = []
    run_scenario(tiny_fleet_scenario, seed=3, steps=3, on_step=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_write_run_replaces_an_earlier_run_only_when_asked(tiny_run: RunResult, tmp_path: Path) -> None:
    out = tmp_path / "result"
    write_run(tiny_run, out)
    first = (out / "model.parquet").read_bytes()
    with pytest.raises(OutputError, match="holds an earlier run; pass overwrite=True"):
        write_run(tiny_run, out)
    write_run(tiny_run, out, overwrite=True)
    names = {p.name for p in out.iterdir()}
    assert names == {f"{t}.parquet" for t in TABLES} | {"manifest.json"}
    assert (out / "model.parquet").read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]  # no temporary directories left behind
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3
    pd.testing.assert_frame_equal(pd.read_parquet(out / "model.parquet"), tiny_run.model)


def test_write_run_never_deletes_files_it_did_not_write(tiny_run: RunResult, tmp_path: Path) -> None:
    out = tmp_path / "result"
    write_run(tiny_run, out)
    (out / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(OutputError, match="not empty and holds no run of ours"):
            write_run(tiny_run, out, overwrite=overwrite)
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]


# ---------------------------------------------------------------------------------------------------------
# accounting identities of whole runs
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(params=["tiny", "baseline"])
def any_run(request: pytest.FixtureRequest) -> RunResult:
    return request.getfixturevalue("tiny_run" if request.param == "tiny" else "baseline_run")


def test_gpus_are_conserved_every_step(any_run: RunResult) -> None:
    """In fleets + in reseller inventory + scrapped == produced, per generation and step."""
    g = any_run.gpu_market
    assert not g.empty
    np.testing.assert_array_equal(g["in_fleets"] + g["in_inventory"] + g["scrapped"], g["produced"])
    assert (g[["in_fleets", "in_inventory", "scrapped", "produced"]] >= 0).all().all()


def test_money_is_conserved_every_step(any_run: RunResult) -> None:
    """What enterprises spend is what providers earn, and the model's total spend is both."""
    spend = any_run.enterprises.groupby("step")["spend"].sum()
    revenue = any_run.providers.groupby("step")["revenue"].sum()
    np.testing.assert_allclose(spend.to_numpy(), revenue.to_numpy(), rtol=REL)
    np.testing.assert_allclose(any_run.model["total_spend"].to_numpy(), revenue.to_numpy(), rtol=REL)


def test_tokens_are_conserved_every_step(any_run: RunResult) -> None:
    """Served + unmet == demanded from the market; providers never serve beyond capacity; provider and
    enterprise tables add up to the model's totals."""
    m, p, e = any_run.model, any_run.providers, any_run.enterprises
    np.testing.assert_allclose(m["tokens_served"] + m["unmet_demand"], m["tokens_demanded"], rtol=REL)
    assert (p["tokens_served"] <= p["capacity"] * (1 + REL) + 1e-9).all()
    np.testing.assert_allclose(p.groupby("step")["tokens_served"].sum().to_numpy(), m["tokens_served"], rtol=REL)
    np.testing.assert_allclose(e.groupby("step")["tokens_served"].sum().to_numpy(), m["tokens_served"], rtol=REL)
    np.testing.assert_allclose(e.groupby("step")["unmet"].sum().to_numpy(), m["unmet_demand"], rtol=REL, atol=1e-6)


def test_model_metrics_are_consistent(any_run: RunResult) -> None:
    m = any_run.model
    served = m["tokens_served"] > 0
    np.testing.assert_allclose(m.loc[served, "price_index"], (m["total_spend"] / m["tokens_served"])[served],
                               rtol=1e-12)
    shares = m[["share_hyperscaler", "share_specialized", "share_decentralized"]].sum(axis=1)
    np.testing.assert_allclose(shares[served], 1.0, rtol=1e-12)
    assert ((m["hhi"] >= 0) & (m["hhi"] <= 10_000 + 1e-9)).all()
    assert (m["consumer_surplus"] >= 0).all()
    assert ((m["utilization"] >= 0) & (m["utilization"] <= 1 + REL)).all()
    assert list(m["step"]) == list(range(len(m)))


def test_buyers_never_use_offers_they_may_not(tiny_fleet_dict: dict[str, Any]) -> None:
    """Step by step through the tiny fleet scenario with a quality floor of 0.8 x frontier for the 'quality'
    segment (open-weight models, 6 months behind a frontier that doubles yearly, are at 2^-0.5 = 0.71):
    residency-bound buyers get nothing from offers served from another region, and no buyer gets anything
    from an offer below its segment's quality floor."""
    tiny_fleet_dict["segments"][0]["quality_floor"] = 0.8
    tiny_fleet_scenario = scenario_from_dict(tiny_fleet_dict)
    model = InferenceMarket(tiny_fleet_scenario, seed=3)
    pop = model.population
    bound = pop.residency_bound
    assert bound.any() and (~bound).any()
    floor = np.array([s.quality_floor for s in tiny_fleet_scenario.segments])[pop.segment]
    checked_floor = False
    for _ in range(tiny_fleet_scenario.simulation.steps):
        model.step()
        offers, clearing = model.offers, model.clearing
        assert offers is not None and clearing is not None
        foreign = offers.region[None, :] != pop.region[:, None]
        assert (foreign & bound[:, None]).any()
        assert np.all(clearing.allocation[foreign & bound[:, None]] == 0.0)
        below = offers.quality[None, :] < floor[:, None] * model.frontier * (1 - 1e-12)
        checked_floor |= bool(below.any())
        assert np.all(clearing.allocation[below] == 0.0)
    assert checked_floor, "the scenario should put some offers below the quality segment's floor"


# ---------------------------------------------------------------------------------------------------------
# what a pure pricing game reports
# ---------------------------------------------------------------------------------------------------------
#
# logit_asymmetric_duopoly.toml: qualities (2.0, 2.4), unit costs (1.0, 1.3), a0 = 0, mu = 0.25, one buyer of
# volume 1, b = 1. Given the posted prices p at a step, the textbook logit gives every reported number:
# s_i = e^((a_i - p_i)/mu) / (sum_j e^((a_j - p_j)/mu) + 1), revenue p_i s_i, profit (p_i - c_i) s_i,
# HHI = sum (100 r_i / R)^2, consumer surplus (1 - s_0) mu ln(1/s_0) on the tokens served (Small and Rosen 1981).

QUALITY = np.array([2.0, 2.4])
COST = np.array([1.0, 1.3])
MU = 0.25


@pytest.fixture(scope="module")
def duopoly_run() -> RunResult:
    return run_scenario(load_scenario(ASYMMETRIC_DUOPOLY), seed=0)


def logit(price: np.ndarray) -> tuple[np.ndarray, float]:
    w = np.exp((QUALITY - price) / MU)
    total = w.sum() + 1.0
    return w / total, 1.0 / total


def step_prices(run: RunResult, step: int) -> np.ndarray:
    p = run.providers
    return p.loc[p["step"] == step, "price"].to_numpy(dtype=np.float64)


@pytest.mark.parametrize("step", [0, 1, 59])
def test_pure_game_model_metrics(duopoly_run: RunResult, step: int) -> None:
    price = step_prices(duopoly_run, step)
    shares, outside = logit(price)
    revenue = price * shares
    row = duopoly_run.model.loc[duopoly_run.model["step"] == step].iloc[0]
    assert row["tokens_served"] == pytest.approx(shares.sum(), rel=1e-12)
    assert row["tokens_demanded"] == pytest.approx(shares.sum(), rel=1e-12)
    assert row["unmet_demand"] == 0.0
    assert row["outside_share"] == pytest.approx(outside, rel=1e-12)
    assert row["total_spend"] == pytest.approx(revenue.sum(), rel=1e-12)
    assert row["price_index"] == pytest.approx(revenue.sum() / shares.sum(), rel=1e-12)
    # reference quality = technology.frontier_quality_start = 1: a token of quality 2.4 counts 2.4 times
    assert row["quality_adjusted_price_index"] == pytest.approx(revenue.sum() / (shares @ QUALITY), rel=1e-12)
    assert row["hhi"] == pytest.approx(float(np.sum((100 * revenue / revenue.sum()) ** 2)), rel=1e-12)
    # fixed volume (elasticity 0): no volume-response surplus; the logit gain on the tokens actually served
    assert row["consumer_surplus"] == pytest.approx(shares.sum() * MU * np.log(1.0 / outside), rel=1e-12)
    assert row["share_specialized"] == pytest.approx(1.0, rel=1e-15)
    assert row["n_active_providers"] == 2


def test_pure_game_provider_accounts(duopoly_run: RunResult) -> None:
    """Revenue p s, profit (p - c) s (no fleet, so no fixed cost), cash = initial cash + cumulative profit."""
    p = duopoly_run.providers
    for step in (0, 30, 59):
        rows = p[p["step"] == step]
        price = rows["price"].to_numpy(dtype=np.float64)
        shares, _ = logit(price)
        np.testing.assert_allclose(rows["tokens_served"], shares, rtol=1e-12)
        np.testing.assert_allclose(rows["revenue"], price * shares, rtol=1e-12)
        np.testing.assert_allclose(rows["profit"], (price - COST) * shares, rtol=1e-9)
    cumulative = p.groupby("provider", sort=False)["profit"].sum().to_numpy()
    final_cash = p[p["step"] == 59]["cash"].to_numpy()
    np.testing.assert_allclose(final_cash - 1e8, cumulative, rtol=1e-6)


def test_pure_game_reports_configured_unit_cost(duopoly_run: RunResult) -> None:
    p = duopoly_run.providers
    for step in (0, 59):
        np.testing.assert_array_equal(p.loc[p["step"] == step, "unit_cost"].to_numpy(), COST)


def test_volume_grows_and_responds_to_the_effective_price() -> None:
    """Base demand 1 growing 100% a year, elasticity 0.8 around a reference price of 1.5: the buyer's volume at
    step t is 2^(t/12) (p_eff / 1.5)^-0.8, where p_eff = sum_i s_i p_i / sum_i s_i is the mean price it pays
    on the market (shares from the textbook logit at the posted prices; nothing is rationed)."""
    config = load_scenario(ASYMMETRIC_DUOPOLY, ["segments.0.price_elasticity=0.8",
                                                "segments.0.reference_price_usd_per_mtok=1.5",
                                                "segments.0.demand_growth_per_year=1.0", "simulation.steps=24"])
    run = run_scenario(config, seed=0)
    for step in (0, 5, 23):
        price = step_prices(run, step)
        shares, outside = logit(price)
        effective = float(shares @ price / shares.sum())
        volume = 2.0 ** (step / 12) * (effective / 1.5) ** -0.8
        ent = run.enterprises[run.enterprises["step"] == step]
        assert ent["volume"].sum() == pytest.approx(volume, rel=1e-12)
        assert ent["inside_demand"].sum() == pytest.approx(volume * (1 - outside), rel=1e-12)
        row = run.model[run.model["step"] == step].iloc[0]
        # served tokens times the logit gain, plus the area between the demand curve and the reference volume
        # V0 = 2^(t/12) from p_eff to 1.5, pro rata to the served share (1 - s0): V0 1.5 ((1 - r^0.2)/0.2 - (1 - r))
        r = effective / 1.5
        response = 2.0 ** (step / 12) * 1.5 * ((1 - r**0.2) / 0.2 - (1 - r))
        surplus = volume * (1 - outside) * MU * np.log(1 / outside) + (1 - outside) * response
        assert row["consumer_surplus"] == pytest.approx(surplus, rel=1e-10)


def test_installed_power_never_exceeds_grid_capacity(tiny_fleet_dict: dict[str, Any]) -> None:
    """With grid capacity of 2.0 MW (na) and 0.5 MW (eu), above the initial loads of about 1.58 and 0.27 MW,
    providers keep buying GPUs but installed load (kW per GPU x PUE) never passes the capacity."""
    tiny_fleet_dict["simulation"]["steps"] = 12
    tiny_fleet_dict["regions"][0]["power_capacity_mw"] = 2.0
    tiny_fleet_dict["regions"][1]["power_capacity_mw"] = 0.35
    config = scenario_from_dict(tiny_fleet_dict)
    model = InferenceMarket(config, seed=3)
    capacity = np.array([2.0, 0.35])
    loads = []
    for _ in range(config.simulation.steps):
        model.step()
        assert model.fleet is not None
        loads.append(model.fleet.load_mw.copy())
        assert np.all(model.fleet.load_mw <= capacity * (1 + 1e-12))
        # The load, recomputed lot by lot from the GPU ledger: GPUs x kW x PUE of the provider holding them.
        ledger = model.ledger
        by_region = np.zeros(2)
        providers = {p.holder_id: p for p in model.providers if p.active}
        for holder, gen, region, count in zip(ledger.view("holder"), ledger.view("generation"),
                                              ledger.view("region"), ledger.view("count"), strict=True):
            if int(holder) in providers:
                by_region[region] += count * model.generations.power_kw[gen] * providers[int(holder)].pue / 1000.0
        np.testing.assert_allclose(model.fleet.load_mw, by_region, rtol=1e-12)
    assert np.all(loads[-1] > 0.9 * capacity), "the scenario should fill the grid"


def test_fleet_sets_capacity_and_unit_cost() -> None:
    """One cost-plus provider with 100 H100s (list $30,000, 1,200 tokens/s, 0.9 kW, 60-month life) bought new,
    serving efficiency 1.5, PUE 1.2, power $0.10/kWh, opex $300 per GPU-month, costs computed at 70%
    utilization, markup 25%. By hand, per GPU-month:
      capacity     1,200 x 1.5 x 730.5 h x 3,600 s / 1e6 = 4,733.64 Mtok
      depreciation 30,000 / 60 = 500;  power 0.9 x 1.2 x 730.5 x 0.10 = 78.894;  opex 300
      unit cost    878.894 / (4,733.64 x 0.7) $/Mtok;  price = 1.25 x unit cost."""
    data = {
        "name": "one_fleet",
        "simulation": {"steps": 3},
        "outside_option": {"self_hosting": False},
        "technology": {"generations": [{"name": "H100", "release_step": -30, "list_price_usd": 30000,
                                        "throughput_tokens_per_s": 1200, "power_kw": 0.9, "lifetime_months": 60}]},
        "regions": [{"name": "na", "power_price_usd_per_kwh": 0.10}],
        "segments": [{"name": "buyers", "n_agents": 5, "base_demand_mtok_per_month": 1000.0}],
        "providers": [{"name": "host", "kind": "specialized", "serving_efficiency": 1.5, "pue": 1.2,
                       "opex_usd_per_gpu_month": 300.0, "cost_basis_utilization": 0.7,
                       "fleet": [{"generation": "H100", "region": "na", "gpus": 100}],
                       "pricing": {"strategy": "cost_plus", "markup": 0.25}, "investment": {"strategy": "none"}}],
    }
    run = run_scenario(scenario_from_dict(data), seed=0)
    capacity_per_gpu = 1200 * 1.5 * 730.5 * 3600 / 1e6
    unit_cost = (500.0 + 0.9 * 1.2 * 730.5 * 0.10 + 300.0) / (capacity_per_gpu * 0.7)
    p = run.providers
    np.testing.assert_allclose(p["capacity"], 100 * capacity_per_gpu, rtol=1e-12)
    np.testing.assert_allclose(p["unit_cost"], unit_cost, rtol=1e-12)
    np.testing.assert_allclose(p["price"], 1.25 * unit_cost, rtol=1e-12)
    np.testing.assert_array_equal(p["fleet_gpus"], 100)
    # Monthly profit: revenue less the whole fleet's depreciation, power and opex (served or not).
    fleet_cost = 100 * (500.0 + 0.9 * 1.2 * 730.5 * 0.10 + 300.0)
    np.testing.assert_allclose(p["profit"], p["revenue"] - fleet_cost, rtol=1e-9)
