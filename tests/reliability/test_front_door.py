"""What the real server (`recommender serve`, loopback) does before the app sees a request.

- The per-client rate limit holds against a client that makes up X-Forwarded-For: uvicorn trusts
  the header from 127.0.0.1 unless told otherwise, so before `serve` passed its own setting, 400
  requests with a new header value each all passed. Bounded: 400 requests, 60 s at most.
- A request line too long for the HTTP parser (a 100,000-character query) gets a JSON 400 like every
  other error, not uvicorn's text/plain one.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.server import Server, launch

pytestmark = pytest.mark.slow

REQUESTS = 400
LIMIT = {"RECOMMENDER_RATE_LIMIT_PER_MINUTE": "60", "RECOMMENDER_RATE_LIMIT_BURST": "20"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """(default settings, trusting X-Forwarded-For from 127.0.0.1), both rate limited, started together."""
    folder = tmp_path_factory.mktemp("front-door")
    default = launch(folder / "default.log", folder / "default.db", **LIMIT)
    behind_proxy = launch(
        folder / "proxy.log",
        folder / "proxy.db",
        RECOMMENDER_PROXY_HEADERS="true",
        RECOMMENDER_FORWARDED_ALLOW_IPS="127.0.0.1",
        **LIMIT,
    )
    try:
        yield default.wait_ready(), behind_proxy.wait_ready()
    finally:
        default.stop()
        behind_proxy.stop()


def _statuses(server: Server) -> list[int]:
    """REQUESTS public reads, each claiming to come from another address."""
    statuses: list[int] = []
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=server.base, timeout=10) as client:
        for n in range(REQUESTS):
            if time.monotonic() > deadline:
                break
            forwarded = f"10.{n // 250}.{n % 250}.7"
            statuses.append(client.get("/v1/gaps", params={"limit": 1}, headers={"X-Forwarded-For": forwarded}).status_code)
    return statuses


def test_made_up_forwarded_for_does_not_get_past_the_rate_limit(servers: tuple[Server, Server]) -> None:
    default, behind_proxy = servers
    statuses = _statuses(default)
    assert len(statuses) == REQUESTS
    # The burst (20) and at most a minute's refill (60) pass; everything else is 429.
    assert statuses.count(429) >= REQUESTS - 20 - 60, {s: statuses.count(s) for s in set(statuses)}
    assert set(statuses) == {200, 429}
    # Configured to trust the proxy on loopback: each forwarded address has its own bucket.
    trusted = _statuses(behind_proxy)
    assert trusted.count(200) == REQUESTS, {s: trusted.count(s) for s in set(trusted)}


def _raw_get(server: Server, target: bytes, extra: bytes = b"") -> tuple[bytes, dict[str, str], bytes]:
    """(status line, headers, body) of one HTTP/1.1 GET sent as raw bytes (httpx refuses URLs this long)."""
    host, port = server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + extra + b"\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {k.decode().lower(): v.decode().strip() for k, _, v in (line.partition(b":") for line in lines)}
    return status, headers, body


def test_a_query_too_long_for_the_parser_gets_a_json_error(servers: tuple[Server, Server]) -> None:
    default, behind_proxy = servers
    status, headers, body = _raw_get(default, b"/v1/search?q=" + b"a" * 100_000)
    assert status.startswith(b"HTTP/1.1 400"), status
    assert headers["content-type"] == "application/json" and headers["x-content-type-options"] == "nosniff"
    assert "too long" in json.loads(body)["detail"]
    # A long query the parser does take reaches the app and its limit (RECOMMENDER_MAX_QUERY_CHARS); from
    # an address of its own, as the rate limit test may have spent loopback's bucket.
    status, headers, body = _raw_get(behind_proxy, b"/v1/search?q=" + b"a" * 20_000, b"X-Forwarded-For: 192.0.2.77\r\n")
    assert status.startswith(b"HTTP/1.1 422") and "over the limit of 2000" in json.loads(body)["detail"]
    # The server is still there.
    assert httpx.get(f"{default.base}/healthz", timeout=10).status_code == 200
