"""Sweep files as data: designs, seed derivation and the run plan."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from experiments.sweep_config import (
    SweepConfig,
    build_plan,
    derive_seeds,
    design_points,
    load_sweep_config,
    run_id_for,
)
from market.config.files import ConfigError, validate_data

TINY = {"simulation.steps": 3, "segments.0.n_agents": 20, "segments.1.n_agents": 20, "segments.2.n_agents": 20}


def sweep(**fields: Any) -> SweepConfig:
    data = {"base": "baseline", "settings": TINY, **fields}
    return validate_data(data, SweepConfig, "test")


def test_grid_is_the_full_factorial_first_parameter_slowest() -> None:
    config = sweep(parameters=[
        {"name": "mu", "path": "logit.mu", "values": [0.2, 0.4]},
        {"name": "growth", "path": "technology.frontier_growth_per_year", "low": 0.0, "high": 1.0, "levels": 3},
    ])
    points = design_points(config)
    assert points.to_dict("list") == {"mu": [0.2, 0.2, 0.2, 0.4, 0.4, 0.4], "growth": [0.0, 0.5, 1.0] * 2}


def test_grid_log_scale_and_integers() -> None:
    config = sweep(parameters=[
        {"name": "x", "path": "logit.mu", "low": 0.01, "high": 1.0, "levels": 3, "scale": "log"},
        {"name": "n", "path": "segments.0.n_agents", "low": 10, "high": 20, "levels": 3, "integer": True},
    ])
    points = design_points(config)
    assert points["x"].unique().tolist() == pytest.approx([0.01, 0.1, 1.0])
    assert points["n"].unique().tolist() == [10, 15, 20]


def test_latin_hypercube_has_one_point_per_stratum() -> None:
    config = sweep(design={"method": "lhs", "samples": 8}, root_seed=3, parameters=[
        {"name": "a", "path": "logit.mu", "low": 0.0, "high": 8.0},
        {"name": "b", "path": "technology.frontier_growth_per_year", "low": 0.0, "high": 8.0},
    ])
    points = design_points(config)
    assert len(points) == 8
    for column in ("a", "b"):
        assert sorted(np.floor(points[column]).astype(int)) == list(range(8))
    assert points.equals(design_points(config))


def test_random_and_discrete_levels() -> None:
    config = sweep(design={"method": "random", "samples": 50}, parameters=[
        {"name": "strategy", "path": "providers.0.pricing.strategy", "values": ["cost_plus", "adaptive"]},
    ])
    points = design_points(config)
    assert set(points["strategy"]) == {"cost_plus", "adaptive"}


def test_sobol_saltelli_size_and_morris_trajectories() -> None:
    params = [{"name": "a", "path": "logit.mu", "low": 0.1, "high": 1.0},
              {"name": "b", "path": "technology.frontier_growth_per_year", "low": 0.0, "high": 2.0}]
    sobol = design_points(sweep(design={"method": "sobol", "samples": 8}, parameters=params))
    assert len(sobol) == 8 * (2 + 2)  # Saltelli without second order: N (D + 2)
    assert sobol["a"].between(0.1, 1.0).all() and sobol["b"].between(0.0, 2.0).all()
    sobol2 = design_points(sweep(design={"method": "sobol", "samples": 8, "calc_second_order": True},
                                 parameters=params))
    assert len(sobol2) == 8 * (2 * 2 + 2)
    morris = design_points(sweep(design={"method": "morris", "samples": 5, "num_levels": 4}, parameters=params))
    assert len(morris) == 5 * (2 + 1)  # trajectories x (D + 1)
    assert set(np.round(morris["b"], 9)) <= {0.0, round(2 / 3, 9), round(4 / 3, 9), 2.0}


def test_sampling_designs_need_samples_and_sobol_a_power_of_two() -> None:
    params = [{"name": "a", "path": "logit.mu", "low": 0.1, "high": 1.0}]
    with pytest.raises(ConfigError, match=r"needs design\.samples"):
        sweep(design={"method": "lhs"}, parameters=params)
    with pytest.raises(ConfigError, match="power of 2"):
        sweep(design={"method": "sobol", "samples": 6}, parameters=params)


def test_seeds_derive_from_the_root_seed() -> None:
    seeds = derive_seeds(42, 6)
    assert seeds == derive_seeds(42, 6)
    assert seeds[:3] == derive_seeds(42, 3)  # more runs do not change the first ones
    assert len(set(seeds)) == 6 and all(0 <= s < 2**63 for s in seeds)
    child = np.random.SeedSequence(42).spawn(6)[4]
    assert seeds[4] == int(child.generate_state(1, dtype=np.uint64)[0]) >> 1
    assert derive_seeds(43, 6) != seeds


def test_plan_is_point_major_with_parameters_applied() -> None:
    config = sweep(replications=3, root_seed=9, parameters=[
        {"name": "mu", "path": "logit.mu", "values": [0.2, 0.4]},
        {"name": "cost", "paths": ["segments.0.switching_cost", "segments.1.switching_cost"], "values": [0.5, 1.5]},
    ])
    tasks = build_plan(config, {"logit": {"mu": 1.0}, "segments": [{"name": "a"}, {"name": "b"}]})
    assert [t.run_id for t in tasks[:4]] == ["p0000-r00", "p0000-r01", "p0000-r02", "p0001-r00"]
    assert [t.seed for t in tasks] == derive_seeds(9, 12)
    last = tasks[-1]
    assert (last.point, last.replication, last.params) == (3, 2, {"mu": 0.4, "cost": 1.5})
    assert last.scenario["logit"]["mu"] == 0.4
    assert [s["switching_cost"] for s in last.scenario["segments"]] == [1.5, 1.5]
    assert run_id_for(12, 3) == "p0012-r03"


def test_parameter_errors_are_readable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="reserved"):
        sweep(parameters=[{"name": "seed", "path": "logit.mu", "values": [1.0]}])
    with pytest.raises(ConfigError, match="mixes types"):
        sweep(parameters=[{"name": "x", "path": "logit.mu", "values": [1.0, "a"]}])
    with pytest.raises(ConfigError, match="below high"):
        sweep(parameters=[{"name": "x", "path": "logit.mu", "low": 2.0, "high": 1.0}])
    with pytest.raises(ConfigError, match="did you mean 'replications'"):
        validate_data({"base": "baseline", "replicatons": 2}, SweepConfig, "f")
    bad_path = tmp_path / "bad.toml"
    bad_path.write_text('base = "baseline"\n[[parameters]]\nname = "mu"\npath = "logit.muu"\nvalues = [1.0]\n')
    with pytest.raises(ConfigError, match=r"logit\.muu"):
        load_sweep_config(bad_path)
    relative = tmp_path / "rel.toml"
    relative.write_text('base = "missing.toml"\n')
    with pytest.raises(ConfigError, match="no such file"):
        load_sweep_config(relative)


def test_invalid_values_are_left_to_the_runs(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('base = "baseline"\n[[parameters]]\nname = "mu"\npath = "logit.mu"\nvalues = [-1.0, 0.3]\n')
    config, base = load_sweep_config(path)
    assert len(build_plan(config, base)) == 2
    assert math.isclose(build_plan(config, base)[1].scenario["logit"]["mu"], 0.3)


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[2] / "experiments" / "configs" / "sweeps")
                                        .glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_sweeps_load_and_plan(path: Path) -> None:
    config, base = load_sweep_config(path)
    tasks = build_plan(config, base)
    assert len(tasks) == len(design_points(config)) * config.replications
    distinct = config.replications if config.uses_common_random_numbers else len(tasks)
    assert len({t.seed for t in tasks}) == distinct


@pytest.mark.parametrize(("method", "explicit", "common"), [
    ("sobol", None, True), ("morris", None, True), ("lhs", None, False), ("sobol", False, False), ("lhs", True, True),
])
def test_common_random_numbers_default_on_for_sobol_and_morris(method: str, explicit: bool | None,
                                                               common: bool) -> None:
    """With common random numbers replication r has seed derive_seeds(root, replications)[r] at every point."""
    fields: dict[str, Any] = {"design": {"method": method, "samples": 4}, "replications": 2, "root_seed": 5,
                              "parameters": [{"name": "mu", "path": "logit.mu", "low": 0.2, "high": 0.8}]}
    if explicit is not None:
        fields["common_random_numbers"] = explicit
    config = sweep(**fields)
    assert config.uses_common_random_numbers is common
    tasks = build_plan(config, {"logit": {"mu": 1.0}})
    n_points = len(design_points(config))
    if common:
        assert [t.seed for t in tasks] == derive_seeds(5, 2) * n_points
    else:
        assert [t.seed for t in tasks] == derive_seeds(5, 2 * n_points)


def test_the_documented_sweep_file_is_valid() -> None:
    import tomllib

    text = (Path(__file__).resolve().parents[2] / "docs" / "cluster.md").read_text()
    example = tomllib.loads(text.split("```toml", 1)[1].split("```", 1)[0])
    config = validate_data(example, SweepConfig, "docs/cluster.md")
    assert len(design_points(config)) == 9
