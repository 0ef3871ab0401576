"""Browser tests drive Debian's Chromium through Playwright (never a downloaded browser).
A missing Chromium is a failure, not a skip."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.live import CHROMIUM, CHROMIUM_FLAGS, live_server


# Module scope, not session: Playwright's sync API keeps an event loop running in this
# thread, which would stop the async tests that the same xdist worker runs afterwards.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium", pytrace=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def server(committed_database_url: str, tmp_path: Path) -> Iterator[str]:
    with live_server(committed_database_url, tmp_path / "data") as base:
        yield base
