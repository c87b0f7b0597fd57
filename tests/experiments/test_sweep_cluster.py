"""A sweep against a multi-node Ray cluster (started in-process) gives the serial sweep's files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analysis.results import sweep_manifest, sweep_runs

pytestmark = pytest.mark.slow

BASELINE = Path(__file__).resolve().parents[2] / "experiments" / "configs" / "baseline.toml"

SWEEP_TOML = """
name = "cluster_check"
base = "base.toml"
replications = 2
root_seed = 17

[settings]
"simulation.steps" = 3
"segments.0.n_agents" = 40
"segments.1.n_agents" = 40
"segments.2.n_agents" = 40

[[parameters]]
name = "mu"
path = "logit.mu"
values = [0.25, 0.5]

[[parameters]]
name = "markup"
path = "providers.swarm_verified.pricing.markup"
values = [0.1, 0.3]
"""


def test_multi_node_cluster_equals_serial(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    from experiments.sweep import run_sweep

    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP_TOML)
    shutil.copy(BASELINE, tmp_path / "base.toml")  # a snapshot: the sweep reads it at each start
    serial = run_sweep(path, tmp_path / "serial", workers=1)

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        address = cluster.address
        on_cluster = run_sweep(path, tmp_path / "cluster", address=address)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 3
    finally:
        ray.shutdown()
        cluster.shutdown()

    assert sweep_manifest(tmp_path / "cluster")["executor"]["address"] == address
    assert serial["status"].eq("finished").all() and on_cluster["status"].eq("finished").all()
    for run_id in serial["run_id"]:
        for table in ("model", "providers", "enterprises", "gpu_market", "events"):
            name = f"{run_id}/{table}.parquet"
            assert (tmp_path / "serial" / "runs" / name).read_bytes() == (
                tmp_path / "cluster" / "runs" / name).read_bytes(), name
    assert sweep_runs(tmp_path / "cluster")[["run_id", "seed"]].equals(serial[["run_id", "seed"]])
