"""The per-client rate limit holds against a client that makes up X-Forwarded-For (real server, loopback).

uvicorn trusts X-Forwarded-For from 127.0.0.1 unless told otherwise, so before `serve` passed its own
setting, 400 requests with a new header value each all passed. Bounded: 400 requests, 60 s at most.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.server import Server, launch

pytestmark = pytest.mark.slow

REQUESTS = 400
LIMIT = {"RECOMMENDER_RATE_LIMIT_PER_MINUTE": "60", "RECOMMENDER_RATE_LIMIT_BURST": "20"}


def _statuses(server: Server) -> list[int]:
    """REQUESTS widget-side reads, each claiming to come from another address."""
    statuses: list[int] = []
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=server.base, timeout=10) as client:
        for n in range(REQUESTS):
            if time.monotonic() > deadline:
                break
            forwarded = f"10.{n // 250}.{n % 250}.7"
            statuses.append(client.get("/v1/gaps", params={"limit": 1}, headers={"X-Forwarded-For": forwarded}).status_code)
    return statuses


def test_made_up_forwarded_for_does_not_get_past_the_rate_limit(tmp_path: Path) -> None:
    default = launch(tmp_path / "default.log", tmp_path / "default.db", **LIMIT)
    behind_proxy = launch(
        tmp_path / "proxy.log",
        tmp_path / "proxy.db",
        RECOMMENDER_PROXY_HEADERS="true",
        RECOMMENDER_FORWARDED_ALLOW_IPS="127.0.0.1",
        **LIMIT,
    )
    try:
        default.wait_ready()
        behind_proxy.wait_ready()
        statuses = _statuses(default)
        assert len(statuses) == REQUESTS
        # The burst (20) and at most a minute's refill (60) pass; everything else is 429.
        assert statuses.count(429) >= REQUESTS - 20 - 60, {s: statuses.count(s) for s in set(statuses)}
        assert set(statuses) == {200, 429}
        # Configured to trust the proxy on loopback: each forwarded address has its own bucket.
        trusted = _statuses(behind_proxy)
        assert trusted.count(200) == REQUESTS, {s: trusted.count(s) for s in set(trusted)}
    finally:
        default.stop()
        behind_proxy.stop()
