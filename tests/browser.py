"""Headless Chromium for browser tests: Debian's ``chromium`` package driven by Playwright.

Playwright never downloads a browser here: it launches the system's ``/usr/bin/chromium`` (installed by
``.ci/run`` with apt-get when missing). Tests that need it call :func:`require_chromium`, which skips them with
a clear message when the browser is not installed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path(os.environ.get("IECO_CHROMIUM", "/usr/bin/chromium"))
"""The Chromium binary the tests drive."""

CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
"""Headless, and nothing that reaches the network on the browser's own account."""


def require_chromium() -> None:
    """Skip the calling test when Chromium is not installed."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package (apt-get install -y chromium); "
                    ".ci/run installs it when apt-get is available")


@contextmanager
def chromium_page(viewport: tuple[int, int] = (1400, 1000)) -> Iterator[tuple[Page, list[str]]]:
    """A fresh page in headless Chromium, with the list its console errors and page errors are added to.

    Skips the test when Chromium is missing. Failed requests are recorded as errors too, so an asset the page
    cannot load (from the network or the server) shows up in the list.
    """
    require_chromium()
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url} ({req.failure})"))
            yield page, errors
        finally:
            browser.close()
