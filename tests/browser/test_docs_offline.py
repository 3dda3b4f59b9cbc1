"""/docs works without the internet: Chromium with every non-loopback request blocked.

Before, the page loaded Swagger UI from a CDN and stayed blank offline. The service now serves the
bundle itself (recommender/api/docs.py) under a CSP with no inline script and no other
origin; a CSP violation would show in the console and fail the test too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.browser.test_widget_and_editor import ARGS, ARTIFACTS, CHROMIUM
from tests.server import Server, running

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium is missing: `apt-get install chromium` (make test does it)"
    ),
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("docs")
    with running(folder / "server.log", folder / "empty.db") as server:
        yield server


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def _offline_page(browser, blocked: list[str], console: list[str]):  # type: ignore[no-untyped-def]
    """A page whose requests to anything but loopback are aborted (and listed in `blocked`)."""
    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    page = context.new_page()

    def only_loopback(route) -> None:  # type: ignore[no-untyped-def]
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname in LOOPBACK:
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", only_loopback)
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    return context, page


def test_swagger_ui_lists_the_operations_offline(server: Server, browser) -> None:  # type: ignore[no-untyped-def]
    blocked: list[str] = []
    console: list[str] = []
    context, page = _offline_page(browser, blocked, console)
    try:
        page.goto(f"{server.base}/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        paths = set(page.locator(".opblock-summary-path").all_inner_texts())
        assert {"/v1/articles/{article_id}/dive-deeper", "/v1/search", "/v1/articles/{article_id}"} <= {
            p.replace("\u200b", "").strip() for p in paths
        }, paths
        assert page.locator(".opblock").count() >= 15
        Path(ARTIFACTS).mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "docs-offline.png"))
    finally:
        context.close()
    assert blocked == [], f"the page asked for outside resources: {blocked}"
    assert not [line for line in console if "Content Security Policy" in line or line.startswith("pageerror")], console
