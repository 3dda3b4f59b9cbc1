"""/metrics limited to a token (RECOMMENDER_METRICS_TOKEN) or a port of its own (--metrics-port)."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from pydantic import SecretStr

from recommender.api import create_app
from recommender.services import Services
from tests.server import free_port


def test_metrics_are_open_by_default(fake_services: Services) -> None:
    with TestClient(create_app(fake_services.settings, services=fake_services)) as client:
        assert client.get("/metrics").status_code == 200


def test_a_metrics_token_is_needed_when_set(fake_services: Services) -> None:
    settings = fake_services.settings.model_copy(update={"metrics_token": SecretStr("s3cret-scrape")})
    with TestClient(create_app(settings, services=fake_services)) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-scrape"}):
            refused = client.get("/metrics", headers=headers)
            assert refused.status_code == 401 and "metrics token" in refused.json()["detail"]
        allowed = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
        assert allowed.status_code == 200 and "dive_deeper_http_requests_total" in allowed.text


def test_a_metrics_port_serves_them_apart_from_the_api(fake_services: Services) -> None:
    port = free_port()
    settings = fake_services.settings.model_copy(update={"metrics_port": port, "metrics_host": "127.0.0.1"})
    with TestClient(create_app(settings, services=fake_services)) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 404  # not on the API port
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert scraped.status_code == 200 and 'route="/healthz"' in scraped.text
        assert httpx.get(f"http://127.0.0.1:{port}/v1/gaps", timeout=10).status_code == 404
    # Stopped with the app: the port is free again.
    try:
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
        raise AssertionError("the metrics listener outlived the app")
    except httpx.ConnectError:
        pass


def test_the_metrics_port_also_needs_the_token_when_set(fake_services: Services) -> None:
    port = free_port()
    settings = fake_services.settings.model_copy(
        update={"metrics_port": port, "metrics_host": "127.0.0.1", "metrics_token": SecretStr("tok")}
    )
    with TestClient(create_app(settings, services=fake_services)):
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).status_code == 401
        ok = httpx.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": "Bearer tok"}, timeout=10)
        assert ok.status_code == 200
