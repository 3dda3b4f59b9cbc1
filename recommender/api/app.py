"""create_app(settings): the FastAPI application and its explicit wiring."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from typing import Annotated

from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from recommender import __version__
from recommender.api import docs, openapi
from recommender.api.bodylimit import BodyLimit
from recommender.api.logs import REQUEST_ID_HEADER, request_id_from, request_id_var
from recommender.api.metrics import Metrics, MetricsListener, token_accepted
from recommender.api.observe import RequestObserver
from recommender.api.ratelimit import TokenBucketLimiter
from recommender.api.routes import articles, editor, health, models, pages, questions, widget
from recommender.api.security import SecurityHeaders
from recommender.config import Settings
from recommender.services import Services
from recommender.domain import StoreUnavailable, VersionConflict

log = logging.getLogger(__name__)


def allowed_methods(app: FastAPI, scope: dict) -> str:
    """Every method some route answers at this path (OPTIONS always), for an Allow header."""
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        for route in app.router.routes:
            match, _ = route.matches({**scope, "method": method})
            if match == Match.FULL and (not isinstance(route, Mount) or method in ("GET", "HEAD")):
                allowed.append(method)
                break
    return ", ".join([*allowed, "OPTIONS"])


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        # A changed encoder is re-embedded in the background while the old vectors keep serving.
        app.state.services = services or Services.start(settings, reembed="background")
        if owned:
            app.state.services.warm_up_in_background()
        listener = None
        if settings.metrics_port is not None:
            listener = MetricsListener(
                metrics.registry, settings.metrics_host or settings.host, settings.metrics_port, settings.metrics_token
            ).start()
            log.info("serving /metrics on %s:%d only", settings.metrics_host or settings.host, listener.port)
        app.state.metrics_listener = listener
        try:
            yield
        finally:
            if listener is not None:
                listener.stop()
            if owned:
                app.state.services.close()

    app = FastAPI(
        title="dive-deeper",
        version=__version__,
        summary="Related questions and their best fact checks, for the site's 'Want to dive deeper?' block.",
        lifespan=lifespan,
        docs_url=None,  # served by recommender/api/docs.py from the service's own files
        redoc_url=None,  # off (docs.py says why)
    )
    app.state.settings = settings
    app.state.rate_limiter = (
        TokenBucketLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
        if settings.rate_limit_per_minute > 0
        else None
    )
    if services is not None:
        app.state.services = services
    metrics = app.state.metrics = Metrics(lambda: getattr(app.state, "services", None), settings)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        messages = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":  # FastAPI gives the offset into the body: say line and column
                messages.append(_json_problem(exc.body, err))
                continue
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            messages.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return JSONResponse({"detail": "; ".join(messages) or "invalid request"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            # Starlette names only the first matching route's methods (GET and PUT of one path are two routes).
            allowed = allowed_methods(app, request.scope)
            if request.method == "OPTIONS":
                return Response(status_code=204, headers={"Allow": allowed})
            return JSONResponse(
                {"detail": f"method {request.method} not allowed here; allowed: {allowed}"},
                status_code=405,
                headers={"Allow": allowed},
            )
        detail = str(exc.detail)
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body" and exc.__cause__:
            detail = f"request body is not readable JSON: {exc.__cause__}"
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(VersionConflict)
    async def version_conflict(request: Request, exc: VersionConflict) -> JSONResponse:
        # An editor's decision changed since the version they sent (If-Match, undo): 409 with the current one.
        return JSONResponse(
            {"detail": f"the decision changed meanwhile: it is at version {exc.current}; reload and try again", "version": exc.current},
            status_code=409,
            headers={"ETag": f'"{exc.current}"'},
        )

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        # The database went away mid-run: nothing was half-written (a write is one transaction), and the
        # next request reconnects. 503 tells clients and load balancers to retry, unlike a 500.
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": f"the database is unavailable, try again shortly ({exc})"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        # Starlette answers this outside every middleware, RequestObserver included: add its id here,
        # the one its access line and the traceback above carry (still set: the request failed).
        request_id = request_id_var.get() or request_id_from(request.headers.get(REQUEST_ID_HEADER))
        return JSONResponse({"detail": "internal error"}, status_code=500, headers={REQUEST_ID_HEADER: request_id})

    if settings.cors_origins:
        # The widget runs on the site's pages: those origins may GET (no cookies, no custom headers).
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET"],
            allow_credentials=False,
            max_age=600,
        )

    # Counts bodies sent without Content-Length (chunked) too.
    app.add_middleware(BodyLimit, max_bytes=settings.max_article_bytes)
    # Every response, errors and static files included, gets the headers.
    app.add_middleware(SecurityHeaders)
    # Outermost (added last): its request id and timing cover everything else.
    app.add_middleware(RequestObserver, metrics=metrics)

    # Sync, so the service reads of a scrape run in the thread pool. Not in the OpenAPI schema: it is
    # for Prometheus, not API clients (docs/operations.md: a token, a port of its own, or the proxy).
    if settings.metrics_port is None:

        @app.get("/metrics", include_in_schema=False)
        def prometheus_metrics(authorization: Annotated[str | None, Header()] = None) -> Response:
            if not token_accepted(settings.metrics_token, authorization):
                raise HTTPException(
                    401, "missing or wrong metrics token (RECOMMENDER_METRICS_TOKEN)", headers={"WWW-Authenticate": "Bearer"}
                )
            return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    for module in (widget, questions, articles, editor, models, health, pages):
        app.include_router(module.router)
    pages.mount_static(app)
    docs.install(app)
    openapi.install(app, settings)
    return app


def _json_problem(body: object, err: dict) -> str:  # type: ignore[type-arg]
    """'request body is not valid JSON: line L, column C: expecting ...', like the file parsers say it."""
    loc = err.get("loc", ())
    position = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    reason = str((err.get("ctx") or {}).get("error") or err.get("msg", "")).lower()
    if position is None or not isinstance(body, str):
        return f"request body is not valid JSON: {reason}"
    line = body.count("\n", 0, position) + 1
    column = position - body.rfind("\n", 0, position)
    return f"request body is not valid JSON: line {line}, column {column}: {reason}"
