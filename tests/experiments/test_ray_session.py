"""Where Ray runs go before Ray is started: ``--address auto`` and unreachable addresses fail fast.

(The local Ray itself, its sockets and a token-authenticated cluster are tested in tests/faults.)
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from experiments.cli import app
from experiments.ray_session import RayConnectionError, check_reachable, resolve_auto


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Ray temp root where ``ray start`` recorded a cluster that is gone (port 1 never listens)."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "ray_current_cluster").write_text("127.0.0.1:1\n")
    return tmp_path


def test_auto_means_ray_address_then_the_recorded_cluster(recorded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_auto() == "127.0.0.1:1"
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.7:6379")
    assert resolve_auto() == "10.0.0.7:6379"
    monkeypatch.delenv("RAY_ADDRESS")
    (recorded / "ray" / "ray_current_cluster").unlink()
    with pytest.raises(RayConnectionError, match="no RAY_ADDRESS and no cluster started with `ray start`"):
        resolve_auto()


@pytest.mark.parametrize(("address", "message"), [("nonsense", "is not HOST:PORT"), ("host:port", "is not HOST:PORT"),
                                                   ("127.0.0.1:1", "nothing answers at 127.0.0.1:1")])
def test_bad_or_dead_addresses_are_refused_before_ray_starts(address: str, message: str) -> None:
    with pytest.raises(RayConnectionError, match=message):
        check_reachable(address)


def test_stale_recorded_cluster_fails_within_seconds(recorded: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('base = "baseline"\nreplications = 2\n[settings]\n"simulation.steps" = 2\n')
    started = time.monotonic()
    result = CliRunner().invoke(app, ["sweep", str(sweep), "--out", str(tmp_path / "out"), "--address", "auto"])
    assert time.monotonic() - started < 15
    assert result.exit_code == 2
    assert "cannot reach the Ray cluster at auto: nothing answers at 127.0.0.1:1" in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()


def test_after_shutdown_ray_a_plain_ray_init_works() -> None:
    """The private local Ray authenticates with its own token, which Ray caches in the process; after
    ``shutdown_ray`` a Ray the user starts with a plain ``ray.init`` reads the user's settings and works."""
    code = """
import ray
from experiments.ray_session import ensure_ray, shutdown_ray

@ray.remote
def one():
    return 1

ensure_ray(workers=1)
first = ray.get(one.remote())
shutdown_ray()
ray.init(address="local", num_cpus=1, include_dashboard=False)
print(first + ray.get(one.remote()))
ray.shutdown()
"""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "2"
