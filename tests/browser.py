"""Headless Chromium for browser tests: Debian's ``chromium`` driven by the Python ``playwright`` package.

Playwright never downloads a browser here: it launches the system's ``/usr/bin/chromium`` (installed by
``.ci/run`` with apt-get when missing; ``IECO_CHROMIUM`` points elsewhere). Typical use::

    from tests.browser import broken_images, open_page

    def test_page(tmp_path):
        with open_page(html_file.as_uri()) as (page, errors):
            assert errors == []
            assert broken_images(page) == []
            page.screenshot(path=tmp_path / "page.png", full_page=True)

:func:`require_chromium` (called by :func:`open_page`) skips the test, saying why, when the browser or
playwright is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("IECO_CHROMIUM", "/usr/bin/chromium"))
"""The Chromium binary the tests drive."""

CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
"""Headless, and nothing that reaches the network on the browser's own account."""


def require_chromium() -> None:
    """Skip the calling test, saying why, when Chromium or playwright is unavailable."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package (apt-get install -y chromium; "
                    ".ci/run does this where apt-get is available)")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (pip dev extras)")


@contextmanager
def open_page(url: str | None = None, *, width: int = 1200, height: int = 900,
              timeout_ms: float = 30_000) -> Iterator[tuple[Any, list[str]]]:
    """A Chromium page (optionally at ``url``, loaded) and the list of its console errors and page errors.

    Errors are collected for the whole life of the page: console messages of type ``error``, uncaught
    exceptions (``pageerror``) and failed requests (an asset the page cannot load), each as one string.
    """
    require_chromium()
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(timeout_ms)
            page.on("console", lambda message: errors.append(f"console: {message.text}")
                    if message.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.on("requestfailed", lambda request: errors.append(
                f"request failed: {request.url[:120]} ({request.failure})"))
            if url is not None:
                page.goto(url, wait_until="load")
            yield page, errors
        finally:
            browser.close()


@contextmanager
def chromium_page(viewport: tuple[int, int] = (1400, 1000)) -> Iterator[tuple[Any, list[str]]]:
    """A fresh page of the given viewport (width, height), as :func:`open_page` without a URL."""
    with open_page(width=viewport[0], height=viewport[1]) as opened:
        yield opened


def broken_images(page: Any) -> list[str]:
    """Alt texts (or sources) of the page's images that did not decode (``naturalWidth == 0``)."""
    return list(page.evaluate(
        "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
        ".map(i => i.alt || i.src.slice(0, 80))"
    ))


def image_count(page: Any) -> int:
    """Number of ``<img>`` elements on the page."""
    return int(page.evaluate("document.images.length"))
