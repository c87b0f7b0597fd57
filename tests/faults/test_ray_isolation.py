"""Ray isolation: a private local Ray on 127.0.0.1 only, never a cluster it was not told to join.

* The local Ray that ``ieco`` starts listens on loopback addresses only (GCS, raylet, object manager, metrics
  agent: checked with ``ss -ltnp`` over the processes it started), prints no token-authentication warning,
  writes nothing to ``~/.ray``, and ignores ``RAY_ADDRESS`` and a (stale) cluster recorded by ``ray start``.
* A cluster started with token authentication is joined with ``--address`` when the driver has its token
  (``RAY_AUTH_MODE=token``, ``RAY_AUTH_TOKEN``), refused within seconds with a clear message without it, and an
  address where nothing listens fails within seconds (exit code 2).

Only Ray processes started by these tests are stopped, by pid; never ``ray stop``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from analysis.results import sweep_manifest
from tests.faults.helpers import REPO, children_of, command_of, free_port, run_cli, stop_processes, write_sweep

pytestmark = pytest.mark.faults

LOOPBACK = ("127.0.0.1:", "[::ffff:127.0.0.1]:", "[::1]:")


def listening(pids: set[int]) -> list[str]:
    """Local addresses of the TCP sockets that the given processes listen on."""
    lines = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout.splitlines()
    return [line.split()[3] for line in lines if any(f"pid={pid}," in line for pid in pids)]


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """This environment without Ray settings, with a HOME and RAY_TMPDIR of the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    (tmp_path / "home").mkdir()
    return {**env, "HOME": str(tmp_path / "home"), "RAY_TMPDIR": str(tmp_path / "raytmp")}


def test_local_ray_is_private_and_bound_to_loopback(clean_env: dict[str, str], tmp_path: Path,
                                                    reliability_counts: dict[str, int]) -> None:
    """With RAY_ADDRESS and a recorded cluster both pointing at a dead address, a local Ray still starts."""
    recorded = tmp_path / "raytmp" / "ray"
    recorded.mkdir(parents=True)
    (recorded / "ray_current_cluster").write_text("127.0.0.1:1")
    env = {**clean_env, "RAY_ADDRESS": "127.0.0.1:1"}
    child = subprocess.Popen([sys.executable, str(REPO / "tests" / "faults" / "ray_child.py")], cwd=REPO, env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        info = json.loads(child.stdout.readline() or "{}")
        assert info.get("mode") == "local", child.stderr.read() if child.stderr else ""
        reliability_counts["faults_injected"] += 1  # the stale cluster record and address
        assert info["address"].startswith("127.0.0.1:")
        by_dir = (int(p.name) for p in Path("/proc").iterdir()
                  if p.name.isdigit() and info["temp_dir"] in command_of(int(p.name)))
        ours = {child.pid, *children_of(child.pid), *by_dir}
        addresses = listening(ours)
        assert addresses, "the local Ray listens on nothing?"
        assert all(a.startswith(LOOPBACK) for a in addresses), addresses
        assert oct(Path(info["temp_dir"]).stat().st_mode & 0o777) == "0o700"
    finally:
        _, err = child.communicate(input="", timeout=60)
    assert child.returncode == 0, err
    assert "Token authentication" not in err
    assert not (tmp_path / "home" / ".ray").exists()
    assert not Path(info["temp_dir"]).exists()  # removed at exit


@pytest.fixture
def token_cluster(clean_env: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    """A one-node Ray cluster with token authentication, in a temp dir of its own; yields (address, env)."""
    token = "ieco-test-" + os.urandom(16).hex()
    env = {**clean_env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    temp_dir = tempfile.mkdtemp(prefix="ieco-cl-", dir="/tmp")  # short: Unix socket paths are limited
    port = free_port()
    ray = Path(sys.executable).with_name("ray")
    started = subprocess.run([str(ray), "start", "--head", f"--port={port}", f"--temp-dir={temp_dir}",
                              "--num-cpus=1", "--include-dashboard=false", "--disable-usage-stats"],
                             env=env, capture_output=True, text=True, timeout=180, check=False)
    try:
        assert started.returncode == 0, started.stderr
        yield f"127.0.0.1:{port}", env
    finally:
        pids = [int(p.name) for p in Path("/proc").iterdir()
                if p.name.isdigit() and temp_dir in command_of(int(p.name))]
        stop_processes(pids)
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_token_cluster_joined_with_its_token_refused_without(
    token_cluster: tuple[str, dict[str, str]], tmp_path: Path, reliability_counts: dict[str, int],
) -> None:
    address, env = token_cluster
    sweep = write_sweep(tmp_path / "spec", replications=1, steps=2, agents=20)
    joined = run_cli("sweep", sweep, "--out", tmp_path / "joined", "--address", address, env=env)
    assert joined.returncode == 0, joined.stderr
    executor = sweep_manifest(tmp_path / "joined")["executor"]
    assert executor["mode"] == "cluster" and executor["requested_address"] == address
    assert executor["address"].endswith(address.rpartition(":")[2])

    no_token = {k: v for k, v in env.items() if k != "RAY_AUTH_TOKEN"}
    started = time.monotonic()
    refused = run_cli("sweep", sweep, "--out", tmp_path / "refused", "--address", address, env=no_token)
    reliability_counts["faults_injected"] += 1
    assert time.monotonic() - started < 60
    assert refused.returncode == 2
    message = " ".join(refused.stderr.split())
    assert f"cannot reach the Ray cluster at {address}" in message and "RAY_AUTH_TOKEN" in message
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "refused").exists()


def test_dead_cluster_address_fails_within_seconds(clean_env: dict[str, str], tmp_path: Path,
                                                   reliability_counts: dict[str, int]) -> None:
    sweep = write_sweep(tmp_path / "spec", replications=1, steps=2, agents=20)
    started = time.monotonic()
    result = run_cli("sweep", sweep, "--out", tmp_path / "out", "--address", f"127.0.0.1:{free_port()}",
                     env=clean_env)
    reliability_counts["faults_injected"] += 1
    assert time.monotonic() - started < 30
    assert result.returncode == 2
    assert "nothing answers at 127.0.0.1:" in " ".join(result.stderr.split())
    assert not (tmp_path / "out").exists()
