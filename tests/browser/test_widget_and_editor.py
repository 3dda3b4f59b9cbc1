"""The widget and the review page in a real browser (Debian's Chromium driven by Playwright).

The real service runs in its own process over a copy of the sample database; a second small HTTP
server plays the site that embeds the widget (another origin) and a slow or broken service.
Screenshots land in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from recommender.store.sqlite import SQLiteStore
from tests.conftest import ROOT, add_editor
from tests.server import running

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = ROOT / "test-artifacts"
WIDGET_TIMEOUT_MS = 10_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium is missing: `apt-get install chromium` (make test does it)"
    ),
]


# -- the embedding site (and a slow or broken service) ------------------------------------------------
SITE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A site that embeds the widget</title>
<style>
  body {{ font-family: serif; }}
  li {{ color: rgb(200, 0, 0); font-size: 30px; }}
  a {{ color: rgb(0, 128, 0); }}
  h2 {{ display: none; }}
</style></head>
<body>
<main id="content"><h1>Site article</h1><p>The site's own text.</p>
<ul><li id="own">A list item of the site</li></ul><a id="own-link" href="#">a site link</a>
<div data-dive-deeper="{article}"{extra}></div></main>
<script src="{service}/widget.js" async></script>
</body></html>
"""


class SiteHandler(BaseHTTPRequestHandler):
    service = ""  # the real service's base URL

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the widget gave up: that is the point of some tests

    def do_GET(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/page":
            extra = f' data-max="{params["max"]}"' if "max" in params else ""
            extra += ' data-include-unanswered="true"' if "unanswered" in params else ""
            html = SITE_PAGE.format(article=params["article"], service=params["service"], extra=extra)
            return self._send(200, html.encode(), "text/html; charset=utf-8")
        kind, _, rest = url.path.lstrip("/").partition("/")
        if kind in ("slow", "broken") and rest == "widget.js":
            # the product's default timeout (the test service allows more, so a busy machine cannot
            # make the other tests flaky)
            script = httpx.get(f"{self.service}/widget.js", timeout=10).text
            assert f'"timeout": {WIDGET_TIMEOUT_MS}' in script
            script = script.replace(f'"timeout": {WIDGET_TIMEOUT_MS}', '"timeout": 3000')
            return self._send(200, script.encode(), "text/javascript")
        if kind == "slow" and rest.startswith("v1/"):
            time.sleep(5)  # longer than the widget's 3 s timeout
            body = httpx.get(f"{self.service}/{rest}", timeout=10).content
            return self._send(200, body, "application/json", {"Access-Control-Allow-Origin": "*"})
        if kind == "broken" and rest.startswith("v1/"):
            return self._send(
                500, b"<html>Internal Server Error</html>", "text/html", {"Access-Control-Allow-Origin": "*"}
            )
        return self._send(404, b"not found", "text/plain")


@dataclass
class Service:
    base: str
    site: str  # the embedding site's origin (allowed by CORS)
    other_site: str  # the same pages under an origin that is not allowed
    token: str
    publisher: str
    log: Path

    def api(self, method: str, path: str, token: str | None = None, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def service(sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("browser")
    db = folder / "service.db"
    shutil.copy(sample_db, db)
    store = SQLiteStore(db, "-")
    token, publisher = add_editor(store, "alice"), add_editor(store, "publisher")
    store.close()

    site_server = ThreadingHTTPServer(("127.0.0.1", 0), SiteHandler)
    site_server.daemon_threads = True
    site_port = site_server.server_address[1]
    threading.Thread(target=site_server.serve_forever, daemon=True).start()

    site, other_site = f"http://127.0.0.1:{site_port}", f"http://localhost:{site_port}"
    env = {
        "RECOMMENDER_CORS_ORIGINS": site,
        "RECOMMENDER_REFRESH_SECONDS": "0",
        "RECOMMENDER_WIDGET_TIMEOUT_MS": str(WIDGET_TIMEOUT_MS),
        # every answered suggestion live, no band waiting for review (that band has its own tests)
        "RECOMMENDER_AUTO_APPROVE_THRESHOLD": "0.5",
    }
    try:
        with running(folder / "server.log", db, **env) as server:
            SiteHandler.service = server.base
            yield Service(server.base, site, other_site, token, publisher, server.log)
    finally:
        site_server.shutdown()
        site_server.server_close()


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser):  # type: ignore[no-untyped-def]
    """A fresh profile for every test: no cookies, an empty HTTP cache."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def expected_items(service: Service, article_id: str, limit: int = 5) -> list[tuple[str, str]]:
    """(question text, link) the widget should show, from the API the widget reads."""
    body = service.api("GET", f"/v1/articles/{article_id}/dive-deeper").json()
    out = []
    for item in (body["questions"] + body["related"])[:limit]:
        answer = item["answer"]
        out.append((item["text"], answer["url"] or f"{service.base}/demo/{answer['id']}"))
    return out


def shown_items(page, host: str = "[data-dive-deeper]") -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    links = page.locator(f"{host} li a")  # Playwright's CSS reaches into open shadow roots
    return [(links.nth(i).text_content(), links.nth(i).get_attribute("href")) for i in range(links.count())]


def widget_state(page) -> str | None:  # type: ignore[no-untyped-def]
    return page.evaluate("() => document.querySelector('[data-dive-deeper]').__diveDeeper || null")


# -- readers ---------------------------------------------------------------------------------------
def test_demo_page_shows_the_right_questions_and_links(service: Service, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{service.base}/demo/")
    article_id = page.locator("[data-dive-deeper]").get_attribute("data-dive-deeper")
    expected = expected_items(service, article_id)
    assert expected, f"the demo article {article_id} should have something to show"
    page.locator("[data-dive-deeper] li a").first.wait_for()
    assert shown_items(page) == expected
    assert page.locator("[data-dive-deeper] h2").text_content() == "Want to dive deeper?"
    assert page.evaluate("() => document.querySelectorAll('style').length") == 0  # no global CSS added
    assert page.context.cookies() == []
    page.locator("[data-dive-deeper]").screenshot(path=str(ARTIFACTS / "widget-demo.png"))
    page.screenshot(path=str(ARTIFACTS / "demo-page.png"), full_page=True)

    # the links work end to end: the first one opens its fact check's demo page, with its own widget
    title = service.api("GET", f"/v1/articles/{expected[0][1].rsplit('/', 1)[1]}").json()["title"]
    page.locator("[data-dive-deeper] li a").first.click()
    page.wait_for_url(expected[0][1])
    assert page.locator("h1").text_content() == title
    page.locator("[data-dive-deeper] li a").first.wait_for()


def test_widget_on_another_site_is_isolated_and_sends_no_cookies(service: Service, page) -> None:  # type: ignore[no-untyped-def]
    article_id = "health-measles-outbreaks-2025"
    page.context.add_cookies([{"name": "session", "value": "secret", "url": service.base}])
    requests = []
    page.on("request", lambda request: requests.append(request) if "/dive-deeper" in request.url else None)
    page.goto(f"{service.site}/page?article={article_id}&max=2&service={service.base}")
    page.locator("[data-dive-deeper] li a").first.wait_for()
    assert shown_items(page) == expected_items(service, article_id, limit=2)
    assert requests and "cookie" not in requests[0].all_headers()
    # the page's CSS does not reach into the widget, and the widget's does not leak out
    assert page.locator("#own").evaluate("e => getComputedStyle(e).color") == "rgb(200, 0, 0)"
    assert page.locator("#own-link").evaluate("e => getComputedStyle(e).color") == "rgb(0, 128, 0)"
    assert (
        page.locator("[data-dive-deeper] li a").first.evaluate("e => getComputedStyle(e).color") == "rgb(11, 87, 208)"
    )
    assert page.locator("[data-dive-deeper] h2").is_visible()
    assert page.evaluate("() => document.querySelectorAll('style').length") == 1  # only the site's own
    page.screenshot(path=str(ARTIFACTS / "widget-on-site.png"), full_page=True)


def _assert_renders_nothing(page, url: str, wait_ms: int) -> None:  # type: ignore[no-untyped-def]
    page.goto(url)
    before = page.locator("#content").inner_html()
    page.wait_for_function(
        "() => document.querySelector('[data-dive-deeper]').__diveDeeper === 'failed'", timeout=wait_ms
    )
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.querySelector('[data-dive-deeper]').shadowRoot") is None
    assert page.locator("#content").inner_html() == before
    assert page.locator("[data-dive-deeper] li").count() == 0


def test_widget_renders_nothing_when_the_service_fails(service: Service, page) -> None:  # type: ignore[no-untyped-def]
    article = "health-mmr-autism"
    # an origin that is not in RECOMMENDER_CORS_ORIGINS: the browser refuses the answer
    _assert_renders_nothing(page, f"{service.other_site}/page?article={article}&service={service.base}", 10_000)
    # the service answers 500 with an HTML page
    _assert_renders_nothing(page, f"{service.site}/page?article={article}&service={service.site}/broken", 10_000)
    # the service cannot be reached at all
    page.route("**/v1/articles/**", lambda route: route.abort("connectionrefused"))
    _assert_renders_nothing(page, f"{service.site}/page?article={article}&service={service.base}", 10_000)
    page.unroute("**/v1/articles/**")
    # an unknown article: 404, nothing shown
    _assert_renders_nothing(page, f"{service.site}/page?article=no-such-article&service={service.base}", 10_000)


def test_widget_gives_up_on_a_slow_service(service: Service, page) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    _assert_renders_nothing(page, f"{service.site}/page?article=health-mmr-autism&service={service.site}/slow", 4_500)
    assert 2.5 < time.monotonic() - started < 5
    page.wait_for_timeout(3_000)  # the late answer arrives after 5 s and is ignored
    assert page.locator("[data-dive-deeper] li").count() == 0


def test_a_question_with_markup_renders_as_text(service: Service, page) -> None:  # type: ignore[no-untyped-def]
    evil = "<script>window.__pwned = 1</script> Do vaccines cause autism?"
    img = '<img src=x onerror="window.__pwned = 2"> Is the MMR vaccine safe for children?'
    article = {
        "title": "Do vaccines <b>really</b> cause autism? <script>window.__pwned = 3</script>",
        "summary": "No. Large studies of millions of children found no link between the MMR vaccine and autism.",
        "questions": [evil, img],
    }
    assert service.api("PUT", "/v1/articles/xss-check", service.publisher, json=article).status_code == 201
    page.goto(f"{service.base}/demo/xss-check")
    page.locator("[data-dive-deeper] li a").first.wait_for()
    texts = [text for text, _ in shown_items(page)]
    assert evil in texts and img in texts
    assert page.evaluate("() => window.__pwned") is None
    assert (
        page.locator("[data-dive-deeper] img").count() == 0 and page.locator("[data-dive-deeper] script").count() == 0
    )
    assert "<b>really</b>" in page.locator("h1").text_content()  # the server-rendered page escapes too
    page.locator("[data-dive-deeper]").screenshot(path=str(ARTIFACTS / "widget-markup-as-text.png"))

    # the review page shows it as text as well
    sign_in(page, service)
    apply_filter(page, "xss-check")
    item = page.locator("li.item", has_text="Do vaccines cause autism?")
    item.first.wait_for()
    assert evil in page.locator("li.item h3.question").all_text_contents()
    assert page.evaluate("() => window.__pwned") is None


def test_links_go_to_the_fact_checks_url_but_never_to_a_script(service: Service, page, browser) -> None:  # type: ignore[no-untyped-def]
    question = "Does the MMR vaccine cause autism in children?"
    body = {"title": "Vaccine safety questions", "summary": "What studies say about vaccines.", "questions": [question]}
    assert service.api("PUT", "/v1/articles/url-check", service.publisher, json=body).status_code == 201
    answer = service.api("GET", "/v1/articles/url-check/dive-deeper").json()["questions"][0]["answer"]["id"]

    def set_url(url: str) -> None:
        current = service.api("GET", f"/v1/articles/{answer}").json()
        current["questions"] = [q["text"] for q in current["questions"]]
        current["url"] = url
        assert service.api("PUT", f"/v1/articles/{answer}", service.publisher, json=current).status_code == 200

    set_url("https://factdesk.example/checks/mmr")
    page.goto(f"{service.base}/demo/url-check")
    page.locator("[data-dive-deeper] li a").first.wait_for()
    assert dict(shown_items(page))[question] == "https://factdesk.example/checks/mmr"

    # A script URL is refused at the door (issue 13.2) ...
    current = service.api("GET", f"/v1/articles/{answer}").json()
    current["questions"] = [q["text"] for q in current["questions"]]
    refused = service.api("PUT", f"/v1/articles/{answer}", service.publisher, json={**current, "url": "javascript:window.__pwned = 5"})
    assert refused.status_code == 422 and refused.json()["detail"].startswith("url: ")

    # ... and the widget still never links to one (say, from a database written before that rule).
    def scripted(route):  # type: ignore[no-untyped-def]
        body = route.fetch().json()
        for item in body["questions"]:
            item["answer"]["url"] = "javascript:window.__pwned = 5"
        route.fulfill(json=body)

    reader = browser.new_context()  # no cached answer
    try:
        fresh = reader.new_page()
        fresh.route("**/v1/articles/url-check/dive-deeper*", scripted)
        fresh.goto(f"{service.base}/demo/url-check")
        fresh.locator("[data-dive-deeper] li a").first.wait_for()
        assert dict(shown_items(fresh))[question] == f"{service.base}/demo/{answer}"
    finally:
        reader.close()


def test_the_site_may_list_questions_nothing_answers_yet(service: Service, page) -> None:  # type: ignore[no-untyped-def]
    """Issue 18.5: with data-include-unanswered the article's own gaps show as text, 'Not checked yet'."""
    gaps = service.api("GET", "/v1/gaps", params={"limit": 1000}).json()["gaps"]
    article_id = next(g["question"]["article_id"] for g in gaps if g["question"]["article_id"] != "url-check")
    body = service.api("GET", f"/v1/articles/{article_id}/dive-deeper", params={"include_unanswered": "true"}).json()
    open_questions = [q["text"] for q in body["questions"] if q["answer"] is None]
    assert open_questions, body
    page.goto(f"{service.site}/page?article={article_id}&max=50&unanswered=1&service={service.base}")
    page.locator("[data-dive-deeper] li").first.wait_for()
    shown_open = page.locator("[data-dive-deeper] li[data-unanswered] .open").all_text_contents()
    assert shown_open == open_questions
    assert page.locator("[data-dive-deeper] li[data-unanswered] a").count() == 0  # text, not a dead link
    assert set(page.locator("[data-dive-deeper] li[data-unanswered] .by").all_text_contents()) == {"Not checked yet"}
    own = [q["text"] for q in body["questions"]]
    texts = page.locator("[data-dive-deeper] li > :first-child").all_text_contents()
    assert texts[: len(own)] == own  # the article's questions first, in its order, then related ones
    page.locator("[data-dive-deeper]").screenshot(path=str(ARTIFACTS / "widget-with-unanswered.png"))

    # without the attribute (the default) only questions that lead to a fact check are shown
    default = page.context.new_page()
    default.goto(f"{service.site}/page?article={article_id}&max=50&service={service.base}")
    default.wait_for_function("() => ['done', 'empty'].includes(document.querySelector('[data-dive-deeper]').__diveDeeper)")
    assert default.locator("[data-dive-deeper] li[data-unanswered]").count() == 0
    assert shown_items(default) == expected_items(service, article_id, limit=50)


# -- editors ---------------------------------------------------------------------------------------
def apply_filter(page, article: str, kind: str = "unreviewed") -> None:  # type: ignore[no-untyped-def]
    """Filter the review page by article and wait until the filtered list is there."""
    page.fill("#filter-article", article)
    page.click("#filter button[type=submit]")
    page.locator(f'#queue[data-kind="{kind}"][data-article="{article}"]').wait_for(state="attached")


def sign_in(page, service: Service) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{service.base}/editor/")
    page.fill("#token", service.token)
    page.click("#sign-in-form button[type=submit]")
    page.locator("#who-name").filter(has_text="alice").wait_for()


def rejectable(service: Service) -> tuple[str, str, str, str]:
    """(article, question, shown fact check, next one): a question the widget shows whose runner-up is good too."""
    threshold = service.api("GET", "/v1/coverage", service.token).json()["live_threshold"]
    items = service.api("GET", "/v1/review", service.token, params={"limit": 200}).json()["items"]
    for item in reversed(items):
        candidates = item["candidates"]
        article = item["question"]["article_id"]
        if len(candidates) < 2 or candidates[1]["score"] < threshold or article in ("xss-check", "url-check"):  # made by other tests
            continue
        body = service.api("GET", f"/v1/articles/{article}/dive-deeper").json()
        if item["question"]["id"] in [q["id"] for q in body["questions"][:5]]:
            return article, item["question"]["id"], candidates[0]["id"], candidates[1]["id"]
    raise AssertionError("no question with two good candidates in the sample")


def link_of(service: Service, article_id: str) -> str:
    """Where the widget links a fact check: its own URL (another test may have set one), else its demo page."""
    url = service.api("GET", f"/v1/articles/{article_id}").json().get("url")
    return url or f"{service.base}/demo/{article_id}"


def test_editor_rejects_a_suggestion_and_the_widget_shows_the_next(service: Service, page, browser) -> None:  # type: ignore[no-untyped-def]
    article, question, first, second = rejectable(service)
    text = service.api("GET", f"/v1/questions/{question}/suggestions").json()["question"]["text"]

    page.goto(f"{service.base}/demo/{article}")
    page.locator("[data-dive-deeper] li a").first.wait_for()
    assert (text, link_of(service, first)) in shown_items(page)

    # a wrong token is refused with a message
    page.goto(f"{service.base}/editor/")
    page.fill("#token", "dd_wrong")
    page.click("#sign-in-form button[type=submit]")
    page.locator("#sign-in-error").filter(has_text="invalid editor token").wait_for()
    page.screenshot(path=str(ARTIFACTS / "editor-sign-in.png"))

    sign_in(page, service)
    page.locator("#queue li.item").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "editor-queue.png"), full_page=False)
    apply_filter(page, article)
    item = page.locator(f'li.item[data-question-id="{question}"]')
    item.wait_for()
    assert item.locator("tr.shown").get_attribute("data-article") == first
    assert item.locator(".why-text").text_content()
    item.locator(f'tr[data-article="{first}"] button[data-action="reject"]').click()
    page.locator("#message").filter(has_text="Rejected").wait_for()
    item.locator(f'tr.shown[data-article="{second}"]').wait_for()
    assert item.locator(f'tr[data-article="{first}"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "editor-after-reject.png"), full_page=True)

    audit = service.api("GET", "/v1/audit", service.token, params={"question_id": question}).json()
    assert audit["items"][0]["action"] == "reject" and audit["items"][0]["editor"] == "alice"
    assert audit["items"][0]["target_id"] == first

    # a reader with a fresh browser (no cached answer) sees the next fact check
    reader = browser.new_context()
    try:
        fresh = reader.new_page()
        fresh.goto(f"{service.base}/demo/{article}")
        fresh.locator("[data-dive-deeper] li a").first.wait_for()
        shown = dict(shown_items(fresh))
        assert shown[text] == link_of(service, second)
        fresh.locator("[data-dive-deeper]").screenshot(path=str(ARTIFACTS / "widget-after-reject.png"))
    finally:
        reader.close()

    # the gaps list and the coverage dashboard
    apply_filter(page, "")
    page.click('[data-tab="gaps"]')
    page.locator('#queue[data-kind="gaps"][data-article=""] li.item').first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "editor-gaps.png"), full_page=False)
    page.click('[data-tab="dashboard"]')
    page.locator("#histogram .bar").first.wait_for()
    assert page.locator("#histogram .bar").count() == 10
    assert page.locator("#cards .card").count() == 8  # questions and 7 counts (with pending)
    page.screenshot(path=str(ARTIFACTS / "editor-coverage.png"), full_page=True)
    page.click('[data-tab="audit"]')
    page.locator("#audit-rows tr").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "editor-audit.png"), full_page=False)
    assert service.token not in service.log.read_text() and service.publisher not in service.log.read_text()


def test_the_changed_tab_says_so_when_nothing_changed(service: Service, page) -> None:  # type: ignore[no-untyped-def]
    """Issue 18.6: the empty state read '0 approved or pinned answers that changed since' (cut off)."""
    article = "climate-co2-human-cause"
    changed = service.api("GET", "/v1/review", service.token, params={"kind": "changed", "article_id": article}).json()
    assert changed["total"] == 0
    sign_in(page, service)
    apply_filter(page, article)
    page.click('[data-tab="changed"]')
    page.locator(f'#queue[data-kind="changed"][data-article="{article}"]').wait_for(state="attached")
    assert page.locator("#queue-summary").text_content() == (
        "Nothing changed: no approved or pinned answer was edited, deleted or dropped by the model "
        "since an editor confirmed it."
    )


def test_editor_pins_hides_and_marks_a_gap_from_the_page(service: Service, page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, service)
    page.locator("#queue li.item").first.wait_for()
    item = page.locator("#queue li.item").first
    question = item.get_attribute("data-question-id")
    article = service.api("GET", f"/v1/questions/{question}/suggestions").json()["question"]["article_id"]
    candidates = {c["id"] for c in service.api("GET", f"/v1/questions/{question}/suggestions").json()["candidates"]}
    target = next(
        a
        for a in ("health-mmr-autism", "science-moon-landing", "economy-national-debt")
        if a not in candidates and a != article
    )
    apply_filter(page, article)
    item = page.locator(f'li.item[data-question-id="{question}"]')
    item.locator(".pin-input").fill(target)
    item.locator('button[data-action="pin"]').click()
    page.locator("#message").filter(has_text="Pinned").wait_for()
    state = service.api("GET", f"/v1/questions/{question}/decision", service.token).json()
    assert state["state"] == "pinned" and state["answer"]["id"] == target
    body = json.dumps(service.api("GET", f"/v1/articles/{article}/dive-deeper").json())
    assert f'"{target}"' in body

    apply_filter(page, "")
    page.click('[data-tab="gaps"]')
    page.locator('#queue[data-kind="gaps"][data-article=""]').wait_for(state="attached")
    gap_item = page.locator("#queue li.item").first
    gap_question = gap_item.get_attribute("data-question-id")
    gap_item.locator('button[data-action="hide"]').click()
    page.locator("#message").filter(has_text="Hid").wait_for()
    assert service.api("GET", f"/v1/questions/{gap_question}/decision", service.token).json()["state"] == "hidden"
