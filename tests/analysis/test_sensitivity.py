"""Sensitivity analysis: SALib through the project's code on functions with known indices, then on a sweep.

Ishigami function (Ishigami and Homma 1990), a = 7, b = 0.1, inputs uniform on [-pi, pi]: analytic indices
S1 = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424, 0.2437) (Saltelli et al. 2008, Global Sensitivity Analysis:
The Primer, section 4.9; Sobol' and Levitan 1999).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from SALib.test_functions import Ishigami

from analysis.outcomes import ReplicationNoise, replication_noise
from analysis.sensitivity import morris_table, sobol_table
from experiments.sweep_config import SweepConfig, salib_problem, unit_sample

S1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ST = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}


def _sweep(method: str, samples: int) -> SweepConfig:
    """A sweep of three parameters whose unit sample is mapped to [-pi, pi] below (the path is never applied)."""
    return SweepConfig.model_validate({
        "base": "baseline", "design": {"method": method, "samples": samples, "seed": 1},
        "parameters": [{"name": f"x{i}", "path": "logit.mu", "low": 0.1, "high": 1.0} for i in (1, 2, 3)],
    })


def test_sobol_indices_of_ishigami_match_the_analytic_values() -> None:
    """N = 4096 base samples (20,480 evaluations): SALib's bootstrap 95% half-widths are 0.03-0.04 for S1 and
    0.01-0.04 for ST here, and the Saltelli/Jansen estimators' standard error at this N is about 0.015, so a
    tolerance of 0.03 is two standard errors; the analytic value must also lie inside the reported interval."""
    sweep = _sweep("sobol", 4096)
    x = -np.pi + 2 * np.pi * unit_sample(sweep)
    table = sobol_table(salib_problem(sweep), Ishigami.evaluate(x), seed=0)
    assert list(table.columns) == ["parameter", "index", "estimate", "ci_low", "ci_high"]
    for index, truth in (("S1", S1), ("ST", ST)):
        rows = table[table["index"] == index].set_index("parameter")
        for name, expected in truth.items():
            assert rows.loc[name, "estimate"] == pytest.approx(expected, abs=0.03), (index, name)
            assert rows.loc[name, "ci_low"] <= expected <= rows.loc[name, "ci_high"], (index, name)


def test_sobol_rejects_outputs_that_are_not_a_saltelli_sample() -> None:
    problem = {"num_vars": 3, "names": ["a", "b", "c"], "bounds": [[0, 1]] * 3}
    with pytest.raises(ValueError, match="do not form a Saltelli sample of 3 parameters"):
        sobol_table(problem, np.ones(11))


def test_morris_mu_star_of_ishigami_x2_is_exact() -> None:
    """With 4 levels the grid of x2 is {-pi, -pi/3, pi/3, pi} and a step is 2/3 of the range, so every step
    moves sin^2(x2) by 3/4: each elementary effect of 7 sin^2(x2) is +-7 * 0.75 / (2/3) = +-7.875 exactly."""
    sweep = _sweep("morris", 50)
    unit = unit_sample(sweep)
    table = morris_table(salib_problem(sweep), unit, Ishigami.evaluate(-np.pi + 2 * np.pi * unit), num_levels=4)
    rows = table.set_index(["parameter", "index"])["estimate"]
    assert rows[("x2", "mu_star")] == pytest.approx(7.875, rel=1e-12)


def test_morris_mu_star_of_a_linear_function_is_its_slope_times_the_range() -> None:
    """f = 3 u1 - 2 u2 + 0 u3 on the unit cube: every elementary effect of u_i is exactly its coefficient."""
    sweep = _sweep("morris", 20)
    unit = unit_sample(sweep)
    y = unit @ np.array([3.0, -2.0, 0.0])
    rows = morris_table(salib_problem(sweep), unit, y).set_index(["parameter", "index"])
    assert rows.loc[("x1", "mu_star"), "estimate"] == pytest.approx(3.0)
    assert rows.loc[("x2", "mu_star"), "estimate"] == pytest.approx(2.0)
    assert rows.loc[("x2", "mu"), "estimate"] == pytest.approx(-2.0)
    assert rows.loc[("x3", "mu_star"), "estimate"] == pytest.approx(0.0, abs=1e-12)
    assert rows.loc[("x1", "sigma"), "estimate"] == pytest.approx(0.0, abs=1e-9)


def test_replication_noise_compares_within_and_across_point_variance() -> None:
    """Independent seeds. Points 0 and 1 with replications (1, 3) and (5, 7): within-point variance 2 each, so
    the variance of a point mean is 2 / 2 = 1; the point means 2 and 6 have variance 8; noise share 1/8."""
    runs = pd.DataFrame({"point": [0, 0, 1, 1], "replication": [0, 1, 0, 1], "value": [1.0, 3.0, 5.0, 7.0]})
    noise = replication_noise(runs)
    assert noise == ReplicationNoise(noise_var=1.0, across_var=8.0, replications=2, common=False)
    assert noise.share == pytest.approx(0.125)
    assert "12.5% of the spread" in noise.message()
    single = replication_noise(runs[runs["replication"] == 0])
    assert np.isnan(single.share) and "cannot be estimated" in single.message()


def test_with_common_random_numbers_a_shared_seed_effect_is_not_noise() -> None:
    """value[p, r] = a_p + b_r exactly (seed r shifts every point alike): the residual is zero, so none of the
    spread across points is noise. Adding e = +-0.5 in a checkerboard (P = R = 2) gives residual mean square
    sum(e^2) / ((P-1)(R-1)) = 1 and a noise variance of the point means of 1 / R = 0.5."""
    a, b = np.array([0.0, 10.0, 20.0]), np.array([-4.0, 4.0])
    runs = pd.DataFrame([{"point": p, "replication": r, "value": a[p] + b[r]} for p in range(3) for r in range(2)])
    shared = replication_noise(runs, common=True)
    assert shared.noise_var == pytest.approx(0.0, abs=1e-12) and shared.across_var == pytest.approx(100.0)
    assert replication_noise(runs, common=False).noise_var == pytest.approx(32.0 / 2)  # within-point var 32
    checker = pd.DataFrame({"point": [0, 0, 1, 1], "replication": [0, 1, 0, 1], "value": [0.5, -0.5, 9.5, 10.5]})
    assert replication_noise(checker, common=True).noise_var == pytest.approx(0.5)
