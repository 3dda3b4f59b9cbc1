"""Limits: request body size (with and without Content-Length), k, query length, pagination, and
the per-client rate limit of the public endpoints (429 with Retry-After)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from recommender.api import create_app, schemas
from recommender.api.ratelimit import TokenBucketLimiter
from tests.reliability.conftest import FakeService, dump


def client_for(service: FakeService, address: str = "testclient", **overrides: object) -> TestClient:
    settings = service.services.settings.model_copy(update=overrides)
    return TestClient(create_app(settings, services=service.services), client=(address, 50000))


def article(size: int) -> dict:
    return {"title": "Big", "summary": "x" * size, "questions": ["Is it big?"]}


def assert_error(response, status: int, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    for word in words:
        assert word in detail, detail


def test_a_body_over_the_limit_is_refused_with_or_without_content_length(fake_service: FakeService) -> None:
    before = dump(fake_service.services.settings.db)
    with client_for(fake_service, max_article_bytes=4000) as client:
        declared = client.put("/v1/articles/big", json=article(5000), headers=fake_service.headers)
        assert_error(declared, 413, "over the limit of 4000 bytes")

        def chunks() -> Iterator[bytes]:  # streamed: no Content-Length, the bytes are counted as they come
            yield b'{"title": "Big", "summary": "'
            for _ in range(10):
                yield b"x" * 1000
            yield b'"}'

        streamed = client.put(
            "/v1/articles/big", content=chunks(), headers={**fake_service.headers, "Content-Type": "application/json"}
        )
        assert "content-length" not in {k.lower() for k in streamed.request.headers}
        assert_error(streamed, 413, "over the limit of 4000 bytes")
        fits = client.put("/v1/articles/small", json=article(100), headers=fake_service.headers)
        assert fits.status_code == 201, fits.text
    assert dump(fake_service.services.settings.db)["articles"] != before["articles"]  # only the one that fit
    assert fake_service.services.store.get_article("big") is None


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"q": "tariffs", "k": 51}, ["k must be between 1 and 50"]),
        ({"q": "tariffs", "k": 0}, ["k must be between 1 and 50"]),
        ({"q": "x" * 2001}, ["2001 characters", "limit of 2000"]),
        ({"q": "   "}, ["q must not be empty"]),
        ({}, ["q: Field required"]),
    ],
)
def test_search_limits(fake_service: FakeService, params: dict, words: list[str]) -> None:
    with client_for(fake_service) as client:
        assert_error(client.get("/v1/search", params=params), 422, *words)


@pytest.mark.parametrize(
    ("path", "params", "editor"),
    [
        ("/v1/gaps", {"limit": 1001}, False),
        ("/v1/gaps", {"offset": schemas.MAX_OFFSET + 1}, False),
        ("/v1/review", {"limit": 201}, True),
        ("/v1/review", {"offset": -1}, True),
        ("/v1/audit", {"limit": 501}, True),
        ("/v1/audit", {"offset": 2**63}, True),  # once a 500: SQLite integers are 64-bit
    ],
)
def test_pagination_limits(fake_service: FakeService, path: str, params: dict, editor: bool) -> None:
    with client_for(fake_service) as client:
        response = client.get(path, params=params, headers=fake_service.headers if editor else {})
        name = next(iter(params))
        assert_error(response, 422, name)


def test_public_endpoints_are_rate_limited_per_client(fake_service: FakeService) -> None:
    with client_for(fake_service, rate_limit_per_minute=60, rate_limit_burst=3) as client:
        paths = ["/v1/articles/a0-tariffs/dive-deeper", "/v1/search?q=tariffs", "/v1/gaps"]
        assert [client.get(p).status_code for p in paths] == [200, 200, 200]
        for path in paths + ["/v1/articles/a0-tariffs", "/v1/questions/a0-tariffs-q1/suggestions"]:
            limited = client.get(path)
            assert_error(limited, 429, "limit is 60 a minute")
            assert 1 <= int(limited.headers["Retry-After"]) <= 60
        # Editors are not limited (they have tokens), nor is the service's health check.
        for _ in range(5):
            assert client.get("/v1/review", headers=fake_service.headers).status_code == 200
            assert client.get("/healthz").status_code == 200
        # The bucket is per client: another address still has its burst.
        app = client.app
    with TestClient(app, client=("192.0.2.7", 50000)) as other:
        assert other.get(paths[0]).status_code == 200


def test_the_default_limit_does_not_get_in_a_readers_way(fake_service: FakeService) -> None:
    with client_for(fake_service) as client:
        statuses = {client.get("/v1/articles/a0-tariffs/dive-deeper").status_code for _ in range(100)}
    assert statuses == {200}


def test_token_bucket_refills_at_the_configured_rate() -> None:
    now = [0.0]
    limiter = TokenBucketLimiter(per_minute=60, burst=2, max_clients=2, clock=lambda: now[0])
    assert limiter.take("a") == 0.0 and limiter.take("a") == 0.0
    assert limiter.take("a") == pytest.approx(1.0)  # one token a second
    now[0] += 0.5
    assert limiter.take("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.take("a") == 0.0
    limiter.take("b"), limiter.take("c")  # a is the least recently seen: forgotten, full burst again
    assert limiter.take("a") == 0.0 and limiter.take("a") == 0.0
