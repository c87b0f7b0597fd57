"""Builders of small result directories of each kind (run, sweep, theses), shared by the analysis tests.

Each builder runs the real pipeline on a tiny scenario (a few steps, 40 enterprise agents per segment) and
returns the directory; they take a couple of seconds each.
"""

from __future__ import annotations

from pathlib import Path

from experiments.run import run_scenario, write_run
from experiments.sweep import run_sweep
from experiments.verdicts import run_theses
from market.config.files import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "experiments" / "configs" / "baseline.toml"
TINY = ["segments.0.n_agents=40", "segments.1.n_agents=40", "segments.2.n_agents=40"]

SOBOL_SWEEP = """
name = "tiny_sobol"
description = "Two parameters, Saltelli design, two replications with common random numbers."
base = "baseline"
replications = 2
root_seed = 3

[settings]
"simulation.steps" = 4
"segments.0.n_agents" = 40
"segments.1.n_agents" = 40
"segments.2.n_agents" = 40

[design]
method = "sobol"
samples = 4

[[parameters]]
name = "mu"
path = "logit.mu"
low = 0.2
high = 0.8

[[parameters]]
name = "hyperscaler_lock_in"
paths = ["providers.cloud_a.lock_in", "providers.cloud_b.lock_in", "providers.cloud_c.lock_in"]
low = 0.0
high = 1.0
"""

MORRIS_SWEEP = (SOBOL_SWEEP.replace('name = "tiny_sobol"', 'name = "tiny_morris"')
                .replace(SOBOL_SWEEP.splitlines()[2] + "\n", "")
                .replace("replications = 2\nroot_seed = 3", "replications = 1\nroot_seed = 8")
                .replace('"simulation.steps" = 4', '"simulation.steps" = 3')
                .replace('method = "sobol"', 'method = "morris"'))
"""The Sobol sweep's parameters under a Morris design: one replication of three months."""

THESIS = """
name = "{name}"
number = {number}
title = "{title}"
source_claim = "A claim of the sources."
test = "A statistic of a tiny baseline."
assumptions = ["Tiny scenario: 4 months, 120 enterprise agents.", "Second assumption."]
replications = 3
root_seed = 4

[scenarios.tiny]
base = "baseline"
[scenarios.tiny.settings]
"simulation.steps" = 4
"segments.0.n_agents" = 40
"segments.1.n_agents" = 40
"segments.2.n_agents" = 40

[statistic]
name = "{statistic}"
description = "{description}"
column = "{column}"
scenario = "tiny"

[claim]
operator = ">"
threshold = {threshold}
"""


def make_run_dir(root: Path, steps: int = 4) -> Path:
    """A baseline run with saved networks."""
    config = load_scenario(BASELINE, [*TINY, f"simulation.steps={steps}", "simulation.save_networks=true"])
    return write_run(run_scenario(config, seed=5), root / "run")


def make_sobol_sweep(root: Path) -> Path:
    """A 2-parameter Sobol sweep: 4 base samples x (2 + 2) = 16 points x 2 replications, run serially."""
    path = root / "tiny_sobol.toml"
    path.write_text(SOBOL_SWEEP)
    run_sweep(path, root / "sweep", workers=1)
    return root / "sweep"


def make_theses_dir(root: Path) -> Path:
    """Two tiny theses (spend growth, final HHI) judged over 3 replications each."""
    theses = root / "theses_files"
    theses.mkdir()
    (theses / "spend.toml").write_text(THESIS.format(name="spend", number=1, title="Spend grows",
                                                     statistic="yearly_growth", description="yearly growth of spend",
                                                     column="total_spend", threshold=0.0))
    (theses / "hhi.toml").write_text(THESIS.format(name="hhi", number=2, title="Concentrated market",
                                                   statistic="final", description="final HHI", column="hhi",
                                                   threshold=1800.0))
    run_theses(root / "theses", theses_dir=theses, workers=1)
    return root / "theses"
