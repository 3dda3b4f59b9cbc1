"""Security headers on every response (an ASGI middleware, so streaming and static files get them too).

Pages get a Content-Security-Policy and may not be framed; JSON and scripts get `nosniff` and a
deny-all policy. widget.js stays embeddable from other sites: nothing here restricts who may load
it (no Cross-Origin-Resource-Policy), and the demo page's policy allows the inline <style> the
widget puts into its shadow root. A response that already sets a header (the review page's
stricter CSP) keeps its own.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# /docs (docs.py): every script, style, image and request from the service itself, no inline script.
# Styles may be inline: Swagger UI sets them from its script.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_PATHS = ("/docs",)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                html = headers.get("content-type", "").startswith("text/html")
                defaults = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
                if html:
                    defaults["X-Frame-Options"] = "DENY"
                    defaults["Content-Security-Policy"] = DOCS_CSP if path.startswith(DOCS_PATHS) else PAGE_CSP
                else:
                    defaults["Content-Security-Policy"] = API_CSP
                for name, value in defaults.items():
                    if name not in headers:
                        headers[name] = value
                for name in ("server", "x-powered-by"):
                    if name in headers:
                        del headers[name]
            await send(message)

        await self.app(scope, receive, send_with_headers)
