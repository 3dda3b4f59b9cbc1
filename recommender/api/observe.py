"""Per request: a request id (echoed as X-Request-ID), the request metrics, and one JSON access line.

A pure ASGI middleware (not BaseHTTPMiddleware), so streamed and static responses pass through
untouched; it is the outermost one, so its duration covers every other middleware too.
"""

from __future__ import annotations

import logging
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recommender.api.logs import ACCESS_LOGGER, REQUEST_ID_HEADER, request_id_from, request_id_var
from recommender.api.metrics import Metrics

access_log = logging.getLogger(ACCESS_LOGGER)
UNMATCHED = "<unmatched>"  # one label for every path no route knows (scanners, typos)


def route_template(scope: Scope) -> str:
    """The template of the route that served the request, e.g. /v1/articles/{article_id}/dive-deeper."""
    route = scope.get("route")  # set by Starlette's router on a match
    path = getattr(route, "path", None)
    if path is None:
        return UNMATCHED
    if isinstance(route, Mount):
        return f"{path}/{{path:path}}"
    return path


class RequestObserver:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope).get(REQUEST_ID_HEADER))
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception escaped every handler

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        failed = False
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            failed = True
            raise
        finally:
            seconds = time.perf_counter() - started
            method, route = scope["method"], route_template(scope)
            self.metrics.observe_request(method, route, status, seconds)
            # The path without its query string: ids are fine to log, readers' search text is not.
            access_log.info(
                "%s %s %d",
                method,
                route,
                status,
                extra={
                    "method": method,
                    "route": route,
                    "path": scope.get("path", ""),
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "request_id": request_id,
                },
            )
            # After an escaped exception the error handler (outside every middleware) logs the traceback
            # next, in this request's task: it keeps the id. The task's context ends with the request.
            if not failed:
                request_id_var.reset(token)
