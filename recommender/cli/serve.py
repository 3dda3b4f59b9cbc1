"""`recommender serve`: the HTTP API under uvicorn, with the proxy and logging settings said explicitly."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from recommender.cli.errors import fail
from recommender.config import Settings


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default RECOMMENDER_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default RECOMMENDER_PORT).")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes, each with its own index in memory (see docs/performance.md).")
    ] = 1,
    proxy_headers: Annotated[
        bool | None,
        typer.Option(
            "--proxy-headers/--no-proxy-headers",
            help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips (default RECOMMENDER_PROXY_HEADERS: off).",
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(help="Proxies (addresses or networks, comma-separated) trusted with --proxy-headers "
        "(default RECOMMENDER_FORWARDED_ALLOW_IPS)."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Serve /metrics only on this port (default RECOMMENDER_METRICS_PORT: "
        "on the API port)."),
    ] = None,
) -> None:
    """Run the HTTP API."""
    import uvicorn

    from recommender.api import create_app

    updates = {
        "proxy_headers": proxy_headers,
        "forwarded_allow_ips": forwarded_allow_ips,
        "metrics_port": metrics_port,
    }
    settings = Settings().model_copy(update={k: v for k, v in updates.items() if v is not None})
    from recommender.store.factory import check_reachable

    check_reachable(settings)  # an unreachable PostgreSQL: a message naming it and exit 1 (cli/errors.py)
    from recommender.api.http_protocol import PROTOCOL

    # uvicorn trusts X-Forwarded-For from 127.0.0.1 unless told otherwise: always say what the settings say.
    options = {
        "http": PROTOCOL,  # its 400 for a request the parser refuses is JSON too
        "host": host or settings.host,
        "port": port or settings.port,
        "server_header": False,
        "proxy_headers": settings.proxy_headers,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        **log_options(settings),
    }
    if workers > 1:  # uvicorn starts each worker from the app factory (settings come from the environment)
        if settings.metrics_port is not None:
            fail("--metrics-port needs a single worker process (each worker would bind the port)")
        uvicorn.run("recommender.api:create_app", factory=True, workers=workers, **options)
        return
    uvicorn.run(create_app(settings), **options)


def log_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's logging for `serve`: JSON lines at RECOMMENDER_LOG_LEVEL, one access line per request
    from the app (recommender/api/observe.py) instead of uvicorn's, which would log query strings."""
    from recommender.api.logs import logging_config

    return {"log_config": logging_config(settings.log_level), "log_level": settings.log_level.lower(), "access_log": False}
