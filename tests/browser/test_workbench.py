"""The editors' workbench in Chromium (issue 16): search and filters in the URL, undo, keyboard, pin by
search, compact cards, the audit log, a phone-sized screen and axe-core's accessibility checks.

A service of its own over a copy of the sample database (these tests decide things). Screenshots go to
test-artifacts/ (docs/editors.md shows them).
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from recommender.store.sqlite import SQLiteStore
from tests.browser.test_widget_and_editor import ARGS, ARTIFACTS, CHROMIUM
from tests.conftest import ROOT, add_editor
from tests.server import running

AXE = ROOT / "tests/browser/axe/node_modules/axe-core/axe.min.js"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium is missing: `apt-get install chromium` (make test does it)"
    ),
]


class Bench:
    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token

    def api(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def bench(sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    folder = tmp_path_factory.mktemp("workbench")
    db = folder / "service.db"
    shutil.copy(sample_db, db)
    store = SQLiteStore(db, "-")
    token = add_editor(store, "carol", "editor")
    store.close()
    env = {"RECOMMENDER_REFRESH_SECONDS": "0", "RECOMMENDER_AUTO_APPROVE_THRESHOLD": "0.5"}
    with running(folder / "server.log", db, **env) as server:
        yield Bench(server.base, token)


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def new_page(browser, width: int = 1100, height: int = 900):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


@pytest.fixture()
def page(browser):  # type: ignore[no-untyped-def]
    page = new_page(browser)
    yield page
    page.context.close()


def sign_in(page, bench: Bench, path: str = "/editor/") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{bench.base}{path}")
    page.fill("#token", bench.token)
    page.click("#sign-in-form button[type=submit]")
    page.locator("#who-name").filter(has_text="carol").wait_for()


def listed(page, query: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Question ids once the list for these filters (`data-query`) is there."""
    page.locator(f'#queue[data-query="{query}"]').wait_for(state="attached")
    return page.locator("#queue li.item").evaluate_all("(nodes) => nodes.map((n) => n.dataset.questionId)")


def api_ids(bench: Bench, **params: str) -> list[str]:
    body = bench.api("GET", "/v1/review", params={"limit": 20, **params}).json()
    return [i["question"]["id"] for i in body["items"]]


# -- 1. search and filters -----------------------------------------------------------------------------
def test_search_narrows_the_queue_and_the_filters_survive_a_reload(bench: Bench, page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, bench)
    page.locator("#queue li.item").first.wait_for()
    everything = bench.api("GET", "/v1/review", params={"kind": "all"}).json()["total"]
    page.click('[data-tab="all"]')
    assert len(listed(page, "")) == 20  # a full page of all questions

    page.fill("#f-q", "measles")
    page.click("#filter button[type=submit]")
    found = listed(page, "q=measles")
    expected = bench.api("GET", "/v1/review", params={"kind": "all", "q": "measles"}).json()
    assert found == [i["question"]["id"] for i in expected["items"]] and 0 < expected["total"] < everything
    assert "matching the filters" in page.locator("#queue-summary").text_content()

    page.select_option("#f-state", "gap")
    page.click("#filter button[type=submit]")
    gaps = listed(page, "q=measles&state=gap")
    assert gaps == api_ids(bench, kind="all", q="measles", state="gap")
    assert parse_qs(urlsplit(page.url).query) == {"tab": ["all"], "q": ["measles"], "state": ["gap"]}
    page.screenshot(path=str(ARTIFACTS / "workbench-search.png"), full_page=False)

    page.reload()  # the URL brings the tab and the filters back
    assert listed(page, "q=measles&state=gap") == gaps
    assert page.input_value("#f-q") == "measles" and page.input_value("#f-state") == "gap"
    assert page.locator('[data-tab="all"]').get_attribute("aria-selected") == "true"

    # a shared link opens the same list
    other = new_page(page.context.browser)
    sign_in(other, bench, "/editor/?tab=all&q=measles&state=gap")
    assert listed(other, "q=measles&state=gap") == gaps
    other.context.close()


def test_an_unknown_article_says_so_and_lists_nothing(bench: Bench, page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, bench)
    page.locator("#queue li.item").first.wait_for()
    page.fill("#filter-article", "no-such-article")
    page.click("#filter button[type=submit]")
    page.locator("#message.error").filter(has_text="article 'no-such-article' not found").wait_for()
    assert page.locator("#queue li.item").count() == 0
    assert "not found" in page.locator("#queue-summary").text_content()


# -- 2. undo and keyboard ---------------------------------------------------------------------------------
def test_keyboard_only_approve_then_undo_restores_and_both_are_audited(bench: Bench, page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, bench)
    page.locator("#queue li.item").first.wait_for()
    page.keyboard.press("?")
    assert page.locator("#keys").is_visible() and "approve" in page.locator("#keys").text_content()
    page.keyboard.press("Escape")
    page.keyboard.press("j")  # the first card
    page.keyboard.press("j")  # the second
    focused = page.evaluate("() => document.activeElement.dataset.questionId")
    question = page.locator("#queue li.item").nth(1).get_attribute("data-question-id")
    assert focused == question
    before = bench.api("GET", f"/v1/questions/{question}/decision").json()
    assert before["state"] == "suggested"
    page.keyboard.press("a")
    page.locator("#toast").filter(has_text="Approved").wait_for()
    after = bench.api("GET", f"/v1/questions/{question}/decision").json()
    assert after["state"] == "approved" and after["answer"]["id"] == before["answer"]["id"]
    page.screenshot(path=str(ARTIFACTS / "workbench-undo-toast.png"), full_page=False)

    page.click("#undo")
    page.locator("#message").filter(has_text="Undone").wait_for()
    restored = bench.api("GET", f"/v1/questions/{question}/decision").json()
    assert restored["state"] == "suggested" and restored["decision"]["approved"] is None
    entries = bench.api("GET", "/v1/audit", params={"question_id": question}).json()["items"]
    assert [(e["action"], e["editor"], e["role"]) for e in entries] == [
        ("undo", "carol", "editor"),
        ("approve", "carol", "editor"),
    ]
    assert page.locator("#toast").is_hidden()


# -- 3. pin by search --------------------------------------------------------------------------------------
def test_pin_by_search_shows_title_date_passage_and_a_preview(bench: Bench, page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, bench)
    item = page.locator("#queue li.item").first
    item.wait_for()
    question = item.get_attribute("data-question-id")
    own = bench.api("GET", f"/v1/questions/{question}/decision").json()["question"]["article_id"]
    item.locator(".pin-input").fill("moon landing")
    results = item.locator(".pin-results li")
    results.first.wait_for()
    expected = [r for r in bench.api("GET", "/v1/search", params={"q": "moon landing", "k": 5}).json()["results"] if r["id"] != own]
    assert results.evaluate_all("(n) => n.map((li) => li.dataset.article)") == [r["id"] for r in expected]
    first = results.first
    assert expected[0]["title"] in first.text_content()
    assert expected[0]["checked_on"] is None or expected[0]["checked_on"] in first.text_content()
    assert first.locator(".passage").count() == 1
    page.screenshot(path=str(ARTIFACTS / "workbench-pin-search.png"), full_page=False)
    first.click()
    item.locator('button[data-action="pin"]').click()
    page.locator("#preview").wait_for()
    state = bench.api("GET", f"/v1/questions/{question}/decision").json()
    assert state["state"] == "pinned" and state["answer"]["id"] == expected[0]["id"]
    # the preview shows what readers get: the pinned fact check under the question
    widget = httpx.get(f"{bench.base}/v1/articles/{own}/dive-deeper", timeout=30).json()
    texts = [q["text"] for q in (widget["questions"] + widget["related"])[:5]]
    assert page.locator("#preview .preview-list a").all_text_contents() == texts
    this = page.locator("#preview li.this")
    assert this.locator(".by").text_content() == expected[0]["title"]
    page.screenshot(path=str(ARTIFACTS / "workbench-pin-preview.png"), full_page=False)


# -- 4. compact cards and the audit log ---------------------------------------------------------------------
def test_cards_are_compact_and_the_audit_log_names_things_filters_and_exports(bench: Bench, page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, bench)
    page.locator("#queue li.item").first.wait_for()
    why = page.locator("#queue li.item details.why").first
    assert not why.locator(".why-text").is_visible()  # the passage waits behind "why"
    why.locator("summary").click()
    assert why.locator(".why-text").is_visible()
    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height < 20 * 420, height  # 20 cards (was 12,600 px)

    item = page.locator("#queue li.item").first
    question = item.get_attribute("data-question-id")
    text = item.locator(".question").text_content()
    item.locator('[data-action="hide"]').click()
    page.locator("#toast").filter(has_text="Hid").wait_for()
    page.click('[data-tab="audit"]')
    page.fill("#f-editor", "carol")
    page.select_option("#f-action", "hide")
    page.click("#filter button[type=submit]")
    page.locator("#message").filter(has_text="by carol (hide)").wait_for()
    rows = page.locator("#audit-rows tr")
    assert rows.count() >= 1 and all("hide" == c for c in page.locator("#audit-rows td:nth-child(3)").all_text_contents())
    assert text in rows.first.text_content() and "carol (editor)" in rows.first.text_content()
    assert parse_qs(urlsplit(page.url).query)["action"] == ["hide"]
    page.screenshot(path=str(ARTIFACTS / "workbench-audit.png"), full_page=False)
    with page.expect_download() as download:
        page.click("#audit-csv")
    exported = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert {r["action"] for r in exported} == {"hide"} and exported[0]["question_id"] == question
    assert exported[0]["question_text"] == text


# -- 5. a phone, and axe-core ------------------------------------------------------------------------------
def no_horizontal_scroll(page) -> None:  # type: ignore[no-untyped-def]
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths


def test_360_pixels_wide_without_horizontal_scroll(bench: Bench, browser) -> None:  # type: ignore[no-untyped-def]
    page = new_page(browser, 360, 740)
    sign_in(page, bench)
    page.locator("#queue li.item").first.wait_for()
    no_horizontal_scroll(page)
    reject = page.locator('#queue li.item button[data-action="reject"]').first
    box = reject.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360  # not cut off
    page.screenshot(path=str(ARTIFACTS / "workbench-360.png"), full_page=False)
    for tab in ("changed", "gaps", "all", "dashboard", "audit"):
        page.click(f'[data-tab="{tab}"]')
        page.wait_for_load_state("networkidle")
        no_horizontal_scroll(page)
    page.goto(f"{bench.base}/demo/")
    page.wait_for_load_state("networkidle")
    no_horizontal_scroll(page)
    page.context.close()


def serious_violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    page.evaluate(AXE.read_text(encoding="utf-8"))  # CSP-proof: evaluated by the test, not a <script> tag
    result = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [
        f"{v['id']} ({v['impact']}): {n['target']}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
        for n in v["nodes"]
    ]


@pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed: `cd tests/browser/axe && npm ci` (make test does it)")
def test_axe_finds_nothing_serious_on_the_editor_tabs_the_demo_and_the_widget(bench: Bench, page) -> None:  # type: ignore[no-untyped-def]
    found: dict[str, list[str]] = {}
    page.goto(f"{bench.base}/")
    found["/"] = serious_violations(page)
    page.goto(f"{bench.base}/editor/")
    found["sign-in"] = serious_violations(page)
    sign_in(page, bench)
    for tab in ("unreviewed", "changed", "gaps", "all", "dashboard", "audit"):
        page.click(f'[data-tab="{tab}"]')
        page.wait_for_load_state("networkidle")
        found[tab] = serious_violations(page)
    page.keyboard.press("?")
    found["shortcuts"] = serious_violations(page)
    page.goto(f"{bench.base}/demo/")
    page.locator("[data-dive-deeper] li a").first.wait_for()  # the widget, in its shadow root
    found["demo and widget"] = serious_violations(page)
    assert {k: v for k, v in found.items() if v} == {}


# -- 6. the landing page and the demo's list and search ----------------------------------------------
def test_landing_page_links_everywhere_and_the_demo_lists_and_searches(bench: Bench, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{bench.base}/")
    hrefs = page.locator("main a").evaluate_all("(nodes) => nodes.map((a) => a.getAttribute('href'))")
    assert hrefs == ["demo/", "editor/", "docs", "healthz"]
    for href in hrefs:
        assert httpx.get(f"{bench.base}/{href}", timeout=30).status_code == 200, href
    health = httpx.get(f"{bench.base}/healthz", timeout=30).json()
    assert f"{health['articles']} fact checks" in page.locator(".meta").text_content()
    page.screenshot(path=str(ARTIFACTS / "landing.png"), full_page=False)

    page.click("main a[href='demo/']")
    page.locator("[data-dive-deeper] li a").first.wait_for()
    listed_titles = page.locator(".browse li a").all_text_contents()
    assert len(listed_titles) == min(health["articles"], 200) and listed_titles == sorted(listed_titles, key=str.casefold)

    page.fill("#demo-q", "moon landing")
    page.click(".browse button[type=submit]")
    page.locator(".browse h2").filter(has_text="moon landing").wait_for()
    results = httpx.get(f"{bench.base}/v1/search", params={"q": "moon landing", "k": 10}, timeout=30).json()["results"]
    assert page.locator(".browse li a").all_text_contents() == [r["title"] for r in results]
    page.screenshot(path=str(ARTIFACTS / "demo-search.png"), full_page=True)
    page.locator(".browse li a").first.click()
    page.locator("h1").filter(has_text=results[0]["title"]).wait_for()
    assert page.url.endswith(f"/demo/{results[0]['id']}")
    assert page.locator(".browse a[aria-current=page]").text_content() == results[0]["title"]
