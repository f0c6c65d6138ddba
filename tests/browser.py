"""Headless Chromium for page tests: Debian's /usr/bin/chromium driven by Python Playwright.

Import the fixture into a test module (`from tests.browser import chromium  # noqa: F401`). Without
Chromium or Playwright the tests skip, or fail under MES_REQUIRE_ALL=1.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import missing

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORTS = [(1920, 1080), (1280, 800)]  # a wall screen, a tablet


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A launched browser, shared by a module's tests (each test opens its own context).

    Module scope, not session: while Playwright's sync API is open its event loop counts as running in this
    thread, and later tests that call asyncio.run() (the OPC UA ones) would fail.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Python playwright is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def watch_console(page: Any) -> list[str]:
    """Every console error, uncaught exception and failed request of `page`, as they happen."""
    problems: list[str] = []
    page.on("console", lambda message: problems.append(f"console: {message.text} at {message.location.get('url')}")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"exception: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url} {request.failure}"))
    return problems


def log_in(context: Any, base_url: str, name: str, password: str) -> None:
    """Log the browser context in through the API (the session cookie lands in the context's jar)."""
    response = context.request.post(f"{base_url}/api/v1/session", data={"name": name, "password": password})
    assert response.ok, response.text()
