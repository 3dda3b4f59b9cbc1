"""Pages served by the app: the embeddable widget script, a demo article page, the editors' review page."""

from __future__ import annotations

import html
import json
from functools import lru_cache
from pathlib import Path as FilePath

from fastapi import APIRouter, FastAPI, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from recommender.api.deps import ReadingDep, SettingsDep
from recommender.articles.model import ID_PATTERN

STATIC = FilePath(__file__).resolve().parents[1] / "static"
router = APIRouter(include_in_schema=False)
_CONFIG = "/*CONFIG*/ { max: 5, timeout: 3000 } /*END*/"
_PAGE_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
# The review page loads only its own files; nothing may frame it.
EDITOR_CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"


@lru_cache(maxsize=1)
def _widget_source() -> str:
    source = (STATIC / "widget.js").read_text(encoding="utf-8")
    if _CONFIG not in source:
        raise RuntimeError("widget.js lost its /*CONFIG*/ placeholder")
    return source


@router.get("/widget.js")
def widget_js(settings: SettingsDep) -> Response:
    """The script sites embed; the server's defaults (how many questions, timeout) are written into it."""
    config = json.dumps({"max": settings.widget_max_items, "timeout": settings.widget_timeout_ms})
    body = _widget_source().replace(_CONFIG, f"/*CONFIG*/ {config} /*END*/")
    return Response(
        body,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", **_PAGE_HEADERS},
    )


@router.get("/")
def index(reading: ReadingDep) -> HTMLResponse:
    """A small landing page: what the service is and where to go."""
    counts = reading.counts()
    body = f"""<h1>dive-deeper</h1>
<p class="summary">Related questions for a fact-checking site: under each fact check, the questions readers
ask next, each linked to the fact check that answers it. Editors review the links; readers see them in a small
widget.</p>
<p class="meta">{counts["articles"]} fact checks · {counts["questions"]} questions</p>
<ul class="links">
<li><a href="demo/">Demo</a>: the widget on a sample article; browse and search the fact checks</li>
<li><a href="editor/">Editors' workbench</a>: review, search, pin and undo (needs a token)</li>
<li><a href="docs">API documentation</a>: every endpoint, with a form to try it</li>
<li><a href="healthz">Health</a>: status, model and counts as JSON</li>
</ul>"""
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dive-deeper</title>
<link rel="stylesheet" href="static/demo.css">
</head>
<body>
<header class="masthead"><a href="./">dive-deeper</a><small>related questions for fact checks</small></header>
<main class="landing">
{body}
</main>
</body>
</html>"""
    return HTMLResponse(page, headers=_PAGE_HEADERS)


@router.get("/demo")
@router.get("/editor")
def add_slash(request: Request) -> RedirectResponse:
    return RedirectResponse(request.url.path + "/", status_code=308)


def _default_article(reading: ReadingDep, configured: str | None) -> str | None:
    if configured and reading.article_row(configured):
        return configured
    snapshot = reading.snapshot()
    if (first := snapshot.first_article_with_questions) is not None:
        return first
    return next(iter(sorted(snapshot.articles)), None)


DEMO_LIST = 200  # articles listed under the demo article (search for the rest)


def _browse(reading: ReadingDep, settings: SettingsDep, q: str | None, here: str | None) -> str:
    """The demo's list of fact checks, or the ones a search finds (the service's own ranking)."""
    e = html.escape
    query = (q or "").strip()[: settings.max_query_chars]
    if query:
        hits = reading.search(query, min(10, settings.max_search_k))
        rows = reading.articles([h.doc_id for h in hits])
        found = [rows[h.doc_id] for h in hits if h.doc_id in rows]
        heading = f"Fact checks for “{e(query)}”" if found else f"Nothing found for “{e(query)}”"
    else:
        found = sorted(reading.snapshot().articles.values(), key=lambda a: a.title.casefold())[:DEMO_LIST]
        heading = "All fact checks"
    items = "\n".join(
        f'<li><a href="{e(a.id, quote=True)}"{" aria-current=page" if a.id == here else ""}>{e(a.title)}</a>'
        + (f' <span class="meta">{a.checked_on.isoformat()}</span>' if a.checked_on else "")
        + "</li>"
        for a in found
    )
    return f"""<nav class="browse" aria-labelledby="browse-title">
<form method="get" action="./" role="search"><label for="demo-q">Search the fact checks</label>
<input id="demo-q" name="q" type="search" value="{e(query, quote=True)}" maxlength="{settings.max_query_chars}">
<button type="submit">Search</button></form>
<h2 id="browse-title">{heading}</h2><ul>{items}</ul></nav>"""


@router.get("/demo/")
def demo_default(reading: ReadingDep, settings: SettingsDep, q: str | None = None) -> Response:
    """The demo page of a default article (RECOMMENDER_DEMO_ARTICLE, else the first with questions),
    with the list of fact checks (`q`: the ones a search finds)."""
    article_id = _default_article(reading, settings.demo_article)
    if article_id is None:
        return HTMLResponse(
            _page(
                "No articles yet",
                "<p>Ingest some articles first: <code>recommender ingest data/sample/articles</code>.</p>",
                "",
            ),
            status_code=404,
        )
    return demo(reading, settings, article_id, q)


@router.get("/demo/{article_id}")
def demo(
    reading: ReadingDep, settings: SettingsDep, article_id: str = Path(pattern=ID_PATTERN, max_length=128), q: str | None = None
) -> HTMLResponse:
    """A sample article page with the widget embedded the way a site would embed it."""
    article = reading.article(article_id)
    if article is None:
        raise HTTPException(404, f"article {article_id!r} not found")
    e = html.escape
    parts = [f"<h1>{e(article.title)}</h1>"]
    if article.checked_on:
        parts.append(f'<p class="meta">Checked on {e(article.checked_on.strftime("%B %d, %Y").replace(" 0", " "))}</p>')
    if article.summary:
        parts.append(f'<p class="summary">{e(article.summary)}</p>')
    for section in article.sections:
        parts.append(f"<h2>{e(section.heading)}</h2>")
        parts.extend(f"<p>{e(p.strip())}</p>" for p in section.text.split("\n\n") if p.strip())
    parts.append(f'<div id="dive-deeper" data-dive-deeper="{e(article.id, quote=True)}"></div>')
    parts.append(_browse(reading, settings, q, article.id))
    return HTMLResponse(_page(article.title, "\n".join(parts), '<script src="../widget.js" async></script>'))


def _page(title: str, body: str, scripts: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · dive-deeper demo</title>
<link rel="stylesheet" href="../static/demo.css">
</head>
<body>
<header class="masthead"><a href="./">The Fact Desk</a><small>dive-deeper demo page</small></header>
<article>
{body}
</article>
<footer>Demo page served by the dive-deeper service. The block above is the embeddable widget:
<code>&lt;div data-dive-deeper="ID"&gt;&lt;/div&gt;&lt;script src="…/widget.js" async&gt;&lt;/script&gt;</code></footer>
{scripts}
</body>
</html>"""


class _EditorFiles(StaticFiles):
    """The review page's files, with a strict Content-Security-Policy and no caching of stale UI."""

    async def get_response(self, path: str, scope) -> Response:  # type: ignore[no-untyped-def, override]
        response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = EDITOR_CSP
        response.headers["Cache-Control"] = "no-cache"
        for name, value in _PAGE_HEADERS.items():
            response.headers[name] = value
        return response


def mount_static(app: FastAPI) -> None:
    app.mount("/editor", _EditorFiles(directory=STATIC / "editor", html=True), name="editor")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
