"""``ieco dashboard`` in a real browser: headless Chromium opens the served page, presses Step, and sees the
charts follow the model, with no console error and nothing fetched from outside the machine."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Locator, expect

from experiments.run import run_scenario
from market.config.files import load_scenario
from tests.browser import chromium_page, require_chromium
from tests.conftest import CONFIG_DIR, REPO_ROOT

SETTINGS = ["simulation.steps=12"]
SEED = 7


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and every process it started (its process group)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@pytest.fixture
def dashboard_server(tmp_path: Path) -> Iterator[Server]:
    """``ieco dashboard baseline`` on a free port, stopped after the test whatever happens; stopping it leaves
    nothing in its temporary directory."""
    require_chromium()
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    server_tmp = tmp_path / "server_tmp"
    server_tmp.mkdir()
    command = [sys.executable, "-m", "experiments.cli", "dashboard", "baseline", "--port", str(port),
               "--seed", str(SEED), *[arg for s in SETTINGS for arg in ("--set", s)]]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                               env={**os.environ, "TMPDIR": str(server_tmp)})
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"ieco dashboard exited with {process.returncode}: {(tmp_path / 'server.log').read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"ieco dashboard did not answer within 120 s: {(tmp_path / 'server.log').read_text()}")
            time.sleep(0.5)
        yield Server(url=url, port=port, process=process)
    finally:
        stop(process)
        log.close()
    assert list(server_tmp.iterdir()) == [], "the server left files behind"


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on ``port`` (Linux /proc), as hex as the kernel writes them."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def expected_caption(month: int) -> str:
    """The price chart's caption after ``month + 1`` steps, computed by a separate run of the same inputs."""
    model = run_scenario(load_scenario(CONFIG_DIR / "baseline.toml", SETTINGS), seed=SEED, steps=month + 1).model
    last = model.iloc[-1]
    return (f"month {month}: price index {last['price_index']:.4g} $/Mtok, "
            f"quality-adjusted {last['quality_adjusted_price_index']:.4g}")


def drawing(canvas: Locator) -> str:
    """The pixels of a chart's canvas, as a data URL."""
    return str(canvas.evaluate("c => c.toDataURL()"))


@pytest.mark.slow
def test_dashboard_steps_and_charts_follow_in_chromium(dashboard_server: Server, tmp_path: Path) -> None:
    if Path("/proc/net/tcp").exists():
        assert listening_addresses(dashboard_server.port) == {"0100007F"}  # 127.0.0.1 only, no IPv6 or wildcard
    with chromium_page() as (page, errors):
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
            (dashboard_server.url, "blob:", "data:")) else None)
        page.goto(dashboard_server.url)
        page.get_by_text("Step: 0", exact=True).wait_for(timeout=60_000)
        expect(page.get_by_text("No month simulated yet")).to_have_count(5, timeout=30_000)  # 4 charts, 1 table
        step = page.get_by_role("button", name="Step")
        captions = page.locator(".ieco-caption")
        prices = captions.filter(has_text="price index")
        charts = page.locator(".vega-embed canvas")  # Vega draws each chart on a canvas

        step.click()
        page.get_by_text("Step: 1", exact=True).wait_for(timeout=30_000)
        prices.get_by_text(expected_caption(0), exact=True).wait_for(timeout=30_000)
        charts.first.wait_for(timeout=30_000)
        first_drawing = drawing(charts.first)

        for done in (2, 3):
            step.click()
            page.get_by_text(f"Step: {done}", exact=True).wait_for(timeout=30_000)
        prices.get_by_text(expected_caption(2), exact=True).wait_for(timeout=30_000)
        expect(captions.filter(has_text="month 2:")).to_have_count(5, timeout=30_000)
        deadline = time.monotonic() + 30
        while drawing(charts.first) == first_drawing and time.monotonic() < deadline:
            time.sleep(0.2)
        assert drawing(charts.first) != first_drawing, "the price chart was not redrawn with new data"
        expect(charts).to_have_count(4)
        expect(page.get_by_role("row").filter(has_text="cloud_a")).to_have_count(1)
        expect(captions.filter(has_text="active providers")).to_contain_text(f"seed {SEED}")

        # An input: another antitrust policy, then Reset builds a new market with it.
        hhi = captions.filter(has_text="HHI")
        expect(hhi).to_contain_text("merger control: hhi_2023")
        page.get_by_text("hhi_2023", exact=True).click()
        page.get_by_role("option", name="hhi_2010").click()
        page.get_by_role("button", name="Reset").click()
        page.get_by_text("Step: 0", exact=True).wait_for(timeout=30_000)
        step.click()
        page.get_by_text("Step: 1", exact=True).wait_for(timeout=30_000)
        expect(hhi).to_contain_text("month 0:", timeout=30_000)
        expect(hhi).to_contain_text("merger control: hhi_2010")

        screenshot = tmp_path / "dashboard.png"
        page.screenshot(path=str(screenshot), full_page=True)
        print(f"screenshot: {screenshot}")
        assert screenshot.stat().st_size > 10_000
        assert errors == []
        assert outside == []
