"""Starting or joining Ray: a private local instance by default, a cluster only when its address is given.

Without an address, :func:`ensure_ray` starts a local Ray of this process's own and never joins anything
else: ``ray.init()`` on its own would connect to the address in ``RAY_ADDRESS`` or to the cluster that the last
``ray start`` recorded on this machine (``<tmp>/ray/ray_current_cluster``), even a stale one. The local Ray

* is started with ``address="local"`` (Ray then reads neither ``RAY_ADDRESS`` nor the recorded cluster) and
  its own temporary directory (removed when the process ends), so it shares nothing with other Ray
  sessions on the machine and cannot be joined by a later ``ray.init()`` of someone else's;
* binds every listening socket (GCS, raylet, object manager, metrics agent) to 127.0.0.1: Ray's local-only
  mode (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, the mode Ray uses on laptops) is switched on for the start;
* runs without its dashboard;
* uses token authentication with a random token of its own, given to Ray's processes in their environment
  (``RAY_AUTH_MODE=token``, ``RAY_AUTH_TOKEN``; this process's environment is restored after the start), so
  other users of the machine cannot submit work to it, nothing is written to ``~/.ray``, and Ray prints no
  token-authentication warning. A user who set ``RAY_AUTH_MODE`` (``token`` or ``disabled``) keeps that choice.

With an address (``HOST:PORT`` or ``auto``), the cluster is joined as Ray documents; a cluster that uses token
authentication needs ``RAY_AUTH_MODE=token`` and the cluster's token (``RAY_AUTH_TOKEN``, a file named by
``RAY_AUTH_TOKEN_PATH``, or ``~/.ray/auth_token``) in the driver's environment (docs/cluster.md). Before
joining, the address is checked with a plain TCP connection, so an unreachable or dead cluster fails within
seconds instead of making Ray retry for a minute.

A Ray that is already initialised in this process (a notebook, a test) is reused as it is.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Ray's switch of its local-only mode: ``0`` makes a node use (and bind to) the loopback address."""


class RayConnectionError(ConnectionError):
    """Ray could not be started or joined; the message says why and what to check."""


def ensure_ray(address: str | None = None, workers: int | None = None) -> dict[str, Any]:
    """Initialise Ray once per process: reuse a running session, else start a private local one or join one.

    Args:
        address: ``None`` starts a local Ray (see the module's rules); ``"auto"`` or ``"HOST:PORT"`` joins
            that cluster.
        workers: CPUs of a local Ray (default: all of this machine's).

    Returns:
        Where runs go: ``mode`` (``local``, ``cluster`` or ``existing``), the GCS ``address`` actually used,
        the number of alive ``nodes`` and, for a local Ray started here, its ``temp_dir``.

    Raises:
        RayConnectionError: The cluster cannot be reached or refuses this driver.
    """
    import ray

    if ray.is_initialized():
        return session_info("existing")
    if address is None:
        temp_dir = start_local_ray(workers)
        return {**session_info("local"), "temp_dir": str(temp_dir)}
    join_cluster(address)
    return session_info("cluster")


def session_info(mode: str) -> dict[str, Any]:
    """``mode``, the GCS address and the number of alive nodes of the current Ray session."""
    import ray

    return {"mode": mode, "address": ray.get_runtime_context().gcs_address,
            "nodes": sum(1 for node in ray.nodes() if node.get("Alive"))}


@contextmanager
def _environment(**values: str | None) -> Iterator[None]:
    """Set (or, with ``None``, remove) environment variables inside the block; restore them after."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def private_temp_dir() -> Path:
    """A fresh directory for the local Ray's sockets and logs (short: Unix socket paths are limited)."""
    base = tempfile.gettempdir()
    if len(base) > 40 and Path("/tmp").is_dir():
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix="ieco-ray-", dir=base))


def private_token_env() -> dict[str, str]:
    """Environment for a local Ray with token authentication and a fresh random token, unless the user chose
    an authentication mode (then nothing is changed)."""
    if "RAY_AUTH_MODE" in os.environ:
        return {}
    env = {"RAY_AUTH_MODE": "token"}
    if not ({"RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"} & set(os.environ)):
        env["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    return env


def refresh_auth_config() -> None:
    """Make an imported Ray read the authentication mode and token from the environment again (it caches both):
    the config first, then the token cache, as Ray's own test utilities do."""
    try:
        from ray._raylet import AuthenticationTokenLoader, Config

        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()
    except (ImportError, AttributeError):  # pragma: no cover - older or newer Ray
        pass


def shutdown_ray() -> None:
    """Shut Ray down in this process and forget the authentication this process connected with, so that a Ray
    started afterwards (by this tool or by the user's own ``ray.init``) reads the user's settings again."""
    import ray

    ray.shutdown()
    refresh_auth_config()


def start_local_ray(workers: int | None = None) -> Path:
    """Start this process's own local Ray, bound to 127.0.0.1, dashboard off; return its temp directory."""
    import ray
    from ray._private import ray_constants

    temp_dir = private_temp_dir()
    local_only = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        # Ray's processes inherit this environment; this process keeps the mode and token it connected with
        # (Ray caches both) while its environment is restored (join_cluster reads the user's settings again).
        with _environment(RAY_ADDRESS=None, **{LOCAL_ONLY_ENV: "0"}, **private_token_env()):
            refresh_auth_config()
            ray.init(address="local", num_cpus=workers, include_dashboard=False, _temp_dir=str(temp_dir),
                     logging_level=logging.WARNING, log_to_driver=False)
    except BaseException:
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = local_only
    temp_dir.chmod(0o700)  # Ray opens its directories to everyone; keep other users out of this one

    def stop() -> None:
        shutdown_ray()
        shutil.rmtree(temp_dir, ignore_errors=True)

    atexit.register(stop)  # runs before Ray's own exit hook (registered earlier), then removes the directory
    return temp_dir


def resolve_auto() -> str:
    """The address ``auto`` stands for: ``RAY_ADDRESS``, else the cluster recorded by ``ray start``.

    Raises:
        RayConnectionError: Neither is there.
    """
    from_env = os.environ.get("RAY_ADDRESS", "").strip()
    if from_env:
        return from_env
    system_tmp = os.environ.get("RAY_TMPDIR") or os.environ.get("TMPDIR") or "/tmp"  # as Ray looks it up on Linux
    root = Path(system_tmp) / "ray" / "ray_current_cluster"
    try:
        recorded = root.read_text().strip()
    except OSError:
        recorded = ""
    if not recorded:
        raise RayConnectionError("--address auto: no RAY_ADDRESS and no cluster started with `ray start` on this "
                                 "machine; give the head node as HOST:PORT")
    return recorded


def join_cluster(address: str) -> None:
    """Join the Ray cluster at ``address`` (``auto`` or ``HOST:PORT``), failing fast if it is not there.

    Raises:
        RayConnectionError: Nothing answers at the address, or Ray refuses the connection (e.g. a missing or
            wrong authentication token).
    """
    import ray

    target = resolve_auto() if address == "auto" else address
    check_reachable(target)
    refresh_auth_config()  # the user's RAY_AUTH_MODE now, not what an earlier local Ray of this process used
    try:
        ray.init(address=target, logging_level=logging.WARNING, log_to_driver=False)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        hint = ""
        if "auth" in reason.lower() or os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
            hint = ("; if the cluster uses token authentication, set RAY_AUTH_MODE=token and its token in "
                    "RAY_AUTH_TOKEN (or a file named by RAY_AUTH_TOKEN_PATH) before running ieco (docs/cluster.md)")
        raise RayConnectionError(f"Ray refused the connection ({reason}){hint}") from None


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast if nothing accepts TCP connections at a ``HOST:PORT`` address (``ray://`` is not checked).

    Raises:
        RayConnectionError: The address is malformed or nothing answers there.
    """
    if "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RayConnectionError(f"'{address}' is not HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RayConnectionError(f"nothing answers at {address} ({exc})") from None
