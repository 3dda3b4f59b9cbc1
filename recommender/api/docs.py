"""/docs (Swagger UI) served from the service itself: no CDN, no download at run time.

The assets come from the pinned PyPI package `fastapi-offline` (its static folder: Swagger UI's
bundle, MIT); only its files are used, not its app factory. ReDoc (/redoc) is off: its bundle loads
its logo from a CDN, and one documentation page is enough. FastAPI's own pages start with
an inline script, which a strict Content-Security-Policy forbids; here each page loads a small script
of ours (static/docs/) that reads the schema URL from a data attribute. security.py gives the page
its CSP: scripts, styles, images and requests from the service only.
"""

from __future__ import annotations

import html
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

VENDOR = Path(fastapi_offline.__file__).resolve().parent / "static"
OURS = Path(__file__).resolve().parent / "static" / "docs"
ASSETS = "/docs-assets"  # the vendored files
SCRIPTS = "/docs-scripts"  # ours

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="{root}{assets}/favicon.png">
{head}
</head>
<body>
<div id="{element}"></div>
<script src="{root}{assets}/{bundle}"></script>
<script src="{root}{scripts}/{init}" data-openapi="{root}{openapi}"></script>
</body>
</html>
"""


def _page(request: Request, app: FastAPI, title: str, element: str, bundle: str, init: str, head: str = "") -> HTMLResponse:
    root = html.escape(request.scope.get("root_path", ""), quote=True)
    return HTMLResponse(
        _PAGE.format(
            title=html.escape(title),
            root=root,
            assets=ASSETS,
            scripts=SCRIPTS,
            openapi=html.escape(app.openapi_url or "/openapi.json", quote=True),
            element=element,
            bundle=bundle,
            init=init,
            head=head.format(root=root, assets=ASSETS),
        )
    )


def install(app: FastAPI) -> None:
    """The route /docs and the static files it loads (the app is made with docs_url=None)."""
    app.mount(ASSETS, StaticFiles(directory=VENDOR), name="docs-assets")
    app.mount(SCRIPTS, StaticFiles(directory=OURS), name="docs-scripts")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return _page(
            request,
            app,
            f"{app.title} - API documentation",
            "swagger-ui",
            "swagger-ui-bundle.js",
            "swagger-init.js",
            head='<link rel="stylesheet" href="{root}{assets}/swagger-ui.css">',
        )
