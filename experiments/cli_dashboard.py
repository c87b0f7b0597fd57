"""The ``ieco dashboard`` command (registered on the app in :mod:`experiments.cli`).

Serves the SolaraViz app of :mod:`experiments.dashboard` with Solara's Starlette server under uvicorn, on
127.0.0.1 only. Solara is configured before it is imported so that nothing reaches the network: production
mode (no file watcher, no check page loaded from solara.dev), telemetry off, front-end assets served from the
local copy that the ``solara-assets`` package installs, and Solara's home (where it keeps an id file) in a
temporary directory removed on exit.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from market.config.files import ConfigError

HOST = "127.0.0.1"
"""The dashboard listens on the loopback interface only."""

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(code)


INSTALLED_ASSETS = Path(sys.prefix) / "share" / "solara" / "cdn"
"""Where the ``solara-assets`` package installs the front-end packages Solara would otherwise fetch from a CDN."""

MAJOR_VERSION_ALIASES = ("vega@5", "vega-lite@5", "vega-embed@6")
"""Packages Solara's Vega-Lite widget asks for by major version only; each is served from the newest installed
release of that major version."""

UNREACHABLE_CDN = "http://127.0.0.1:9/npm/"
"""Where Solara's asset proxy would fetch an asset missing from the local copy: the discard port on this
machine, so a missing asset fails at once instead of being fetched from the internet."""


def offline_assets(directory: Path, installed: Path = INSTALLED_ASSETS) -> Path:
    """Build in ``directory`` the asset tree Solara's proxy serves: links to the installed packages, plus the
    major-version aliases of :data:`MAJOR_VERSION_ALIASES`.

    Raises:
        FileNotFoundError: The ``solara-assets`` package is not installed, or lacks an aliased package.
    """
    if not installed.is_dir():
        raise FileNotFoundError(f"{installed}: front-end assets missing; reinstall with pip install solara-assets")
    directory.mkdir(parents=True, exist_ok=True)
    for entry in installed.iterdir():
        (directory / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    for alias in MAJOR_VERSION_ALIASES:
        releases = sorted(installed.glob(f"{alias}.*"), key=lambda p: [int(x) for x in re.findall(r"\d+", p.name)])
        if not releases:
            raise FileNotFoundError(f"{installed}: no release of {alias} among the front-end assets")
        (directory / alias).symlink_to(releases[-1], target_is_directory=True)
    return directory


def solara_environment(solara_home: Path) -> dict[str, str]:
    """Environment variables that configure Solara to serve the dashboard app without reaching the network."""
    return {
        "SOLARA_APP": "experiments.dashboard",
        "SOLARA_MODE": "production",
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false",
        "SOLARA_TELEMETRY_SERVER_USER_ID": "ieco-dashboard",
        "SOLARA_ASSETS_PROXY": "true",
        "SOLARA_ASSETS_PROXY_CACHE_DIR": str(offline_assets(solara_home / "cdn")),
        "SOLARA_ASSETS_CDN": UNREACHABLE_CDN,
        "SOLARA_CHECK_HOOKS": "off",
        "SOLARA_HOME": str(solara_home),
    }


def port_is_free(port: int) -> bool:
    """Whether ``port`` can be bound on 127.0.0.1 now, as uvicorn binds it (connections of an earlier server
    still closing do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def dashboard(
    scenario: Annotated[str, typer.Argument(help="Shipped scenario name or scenario TOML file.")] = "baseline",
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.", min=1, max=65535)] = 8765,
    seed: Annotated[int | None, typer.Option(help="Root seed (default: simulation.seed).", min=0)] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="Override a config value: key.path=value (repeatable).",
                     metavar="KEY=VALUE"),
    ] = None,
) -> None:
    """Explore a scenario live in the browser: sliders, step/play/reset, charts and the provider table."""
    with tempfile.TemporaryDirectory(prefix="ieco-solara-") as home:
        # Solara reads its settings when first imported: configure it before importing the app.
        try:
            os.environ.update(solara_environment(Path(home)))
        except FileNotFoundError as exc:
            raise _fail(str(exc)) from None
        from experiments.dashboard import OPTIONS_ENV, DashboardMarket, initial_arguments, model_params, parse_settings

        try:
            settings = parse_settings(set_ or [])
            params = model_params(scenario, settings, seed)
            DashboardMarket(**initial_arguments(params))  # fail here, not in the browser
        except ConfigError as exc:
            raise _fail(str(exc)) from None
        if not port_is_free(port):
            raise _fail(f"--port {port}: {HOST}:{port} is in use; choose another port")
        os.environ[OPTIONS_ENV] = json.dumps({"scenario": params["scenario"], "seed": seed, "settings": settings})
        import solara.server.starlette
        import uvicorn

        warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")  # plain http on loopback
        console.print(f"dashboard of {params['scenario']}: http://{HOST}:{port}/  (Ctrl+C to stop)")
        # uvicorn shuts down gracefully on SIGTERM, then raises it again: exit then, so the temporary
        # directory is removed (SIGINT arrives as KeyboardInterrupt, which does the same).
        previous = signal.signal(signal.SIGTERM, _exit_on_signal)
        try:
            uvicorn.run(solara.server.starlette.app, host=HOST, port=port, log_level="warning")
        finally:
            signal.signal(signal.SIGTERM, previous)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
