"""/metrics (Prometheus) and the JSON access log: names, values that move, request ids, no secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from recommender.api.app import create_app
from recommender.api.logs import ACCESS_LOGGER, JsonFormatter, request_id_from
from recommender.config import Settings
from recommender.services import Services
from recommender.services.switch import SwitchJob
from tests.conftest import add_editor

WIDGET_ROUTE = "/v1/articles/{article_id}/dive-deeper"


def scrape(client: TestClient) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics as {(name, labels): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture()
def client(fake_services: Services, sample_articles, settings: Settings) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    fake_services.catalog.ingest(sample_articles)
    app = create_app(settings.model_copy(update={"rate_limit_per_minute": 0}), services=fake_services)
    with TestClient(app) as test_client:
        yield test_client


def test_metrics_count_widget_requests_cache_hits_and_304s(client: TestClient, sample_articles) -> None:  # type: ignore[no-untyped-def]
    article = sample_articles[0].id
    before = scrape(client)
    names = {name for name, _ in before}
    for expected in (
        "dive_deeper_articles",
        "dive_deeper_questions",
        "dive_deeper_passages",
        "dive_deeper_questions_by_state",
        "dive_deeper_review_queue_pending",
        "dive_deeper_articles_pending",
        "dive_deeper_embedding_queued",
        "dive_deeper_embedding_done",
        "dive_deeper_embedding_switches_failed_total",
        "dive_deeper_encoder_info",
        "dive_deeper_widget_responses_total",
    ):
        assert expected in names, expected
    assert value(before, "dive_deeper_articles") == len(sample_articles)
    assert value(before, "dive_deeper_questions") == sum(len(a.questions) for a in sample_articles)
    answered = value(before, "dive_deeper_questions_by_state", state="answered")
    gaps = value(before, "dive_deeper_questions_by_state", state="gap")
    assert answered > 0 and answered + gaps <= value(before, "dive_deeper_questions")
    assert value(before, "dive_deeper_encoder_info", backend="HashingEncoder", model=Settings().model, model_id="hashing-test@1") == 1

    first = client.get(f"/v1/articles/{article}/dive-deeper")
    assert first.status_code == 200
    assert client.get(f"/v1/articles/{article}/dive-deeper").status_code == 200
    assert client.get(f"/v1/articles/{article}/dive-deeper", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert client.get("/no/such/path/anywhere").status_code == 404
    after = scrape(client)

    requests = "dive_deeper_http_requests_total"
    assert value(after, requests, method="GET", route=WIDGET_ROUTE, status="200") == 2
    assert value(after, requests, method="GET", route=WIDGET_ROUTE, status="304") == 1
    assert value(after, requests, method="GET", route="<unmatched>", status="404") == 1
    assert value(after, requests, method="GET", route="/metrics", status="200") == 1  # the first scrape
    latency = "dive_deeper_http_request_duration_seconds_count"
    assert value(after, latency, method="GET", route=WIDGET_ROUTE, status="200") == 2
    for outcome, count in (("rendered", 1), ("cache_hit", 1), ("not_modified", 1)):
        assert value(after, "dive_deeper_widget_responses_total", outcome=outcome) == count, outcome
    # Route templates only: neither an article id nor a junk path becomes a label.
    assert not [labels for _, labels in after for _, v in labels if article in v or "such" in v]


def test_gauges_follow_the_engine(client: TestClient, fake_services: Services, sample_articles) -> None:  # type: ignore[no-untyped-def]
    fake_services.catalog.delete(sample_articles[0].id)
    scraped = scrape(client)
    assert value(scraped, "dive_deeper_articles") == len(sample_articles) - 1
    assert value(scraped, "dive_deeper_links_checked") == 200 and value(scraped, "dive_deeper_links_differing") == 0
    lost = {q.id: [] for q in fake_services.holder.snapshot().questions if fake_services.store.links_of([q.id])[q.id]}
    fake_services.store.replace_links(lost)  # lost relinks: the next generation's check sees them
    assert value(scrape(client), "dive_deeper_links_differing") == 200

    fake_services.models.switch_job = SwitchJob("other-model", "other@1", state="staging", done=3, total=10)
    running = scrape(client)
    assert value(running, "dive_deeper_embedding_queued") == 7
    assert value(running, "dive_deeper_embedding_done") == 3
    assert value(running, "dive_deeper_embedding_running") == 1
    fake_services.models.switch_job.state = "failed"
    failed = scrape(client)
    assert value(failed, "dive_deeper_embedding_queued") == 0
    assert value(failed, "dive_deeper_embedding_switches_failed_total") == 1
    assert value(scrape(client), "dive_deeper_embedding_switches_failed_total") == 1  # the same failure, once
    fake_services.models.switch_job = SwitchJob("third", "third@1", state="failed")
    assert value(scrape(client), "dive_deeper_embedding_switches_failed_total") == 2


def test_apps_have_their_own_registries(fake_services: Services, settings: Settings) -> None:
    first, second = create_app(settings, services=fake_services), create_app(settings, services=fake_services)
    assert first.state.metrics.registry is not second.state.metrics.registry
    with TestClient(first) as client:
        assert "/metrics" not in client.get("/openapi.json").json()["paths"]


@pytest.fixture()
def access_lines() -> Iterator[io.StringIO]:
    """What the access logger writes, formatted as `serve` formats it."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(ACCESS_LOGGER)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield out
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_one_json_line_per_request_with_its_request_id(client: TestClient, access_lines: io.StringIO, sample_articles) -> None:  # type: ignore[no-untyped-def]
    article = sample_articles[0].id
    response = client.get(f"/v1/articles/{article}/dive-deeper", headers={"X-Request-ID": "edge-42.a:b"})
    assert response.headers["x-request-id"] == "edge-42.a:b"
    generated = client.get("/healthz", headers={"X-Request-ID": "x" * 129})  # too long: replaced
    new_id = generated.headers["x-request-id"]
    assert new_id != "x" * 129 and len(new_id) == 32
    lines = [json.loads(line) for line in access_lines.getvalue().splitlines()]
    assert len(lines) == 2
    widget, health = lines
    assert {k: widget[k] for k in ("method", "route", "status", "request_id", "level")} == {
        "method": "GET",
        "route": WIDGET_ROUTE,
        "status": 200,
        "request_id": "edge-42.a:b",
        "level": "INFO",
    }
    assert isinstance(widget["duration_ms"], float) and widget["duration_ms"] >= 0
    assert health["route"] == "/healthz" and health["request_id"] == new_id


@pytest.mark.parametrize("header", ["two words", "quote\"d", "semi;colon", "", "ünïcode"])
def test_unsafe_request_ids_are_replaced(header: str) -> None:
    assert request_id_from(header) != header
    assert request_id_from(None) != request_id_from(None)


def test_tokens_and_search_text_stay_out_of_the_log(
    client: TestClient, fake_services: Services, access_lines: io.StringIO
) -> None:
    token = add_editor(fake_services.store, "alice")
    query = "who secretly pays for tariffs zebra"
    assert client.get("/v1/search", params={"q": query}, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/v1/review", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/v1/review", headers={"Authorization": "Bearer wrong-token-value"}).status_code == 401
    text = access_lines.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert [(line["route"], line["status"]) for line in lines] == [("/v1/search", 200), ("/v1/review", 200), ("/v1/review", 401)]
    for secret in (token, "wrong-token-value", "zebra", "secretly", "Bearer"):
        assert secret not in text, secret


def test_log_level_setting() -> None:
    assert Settings(log_level="debug").log_level == "DEBUG"
    assert Settings().log_level == "INFO"
    with pytest.raises(ValueError, match="log_level"):
        Settings(log_level="chatty")


def test_an_unhandled_error_is_counted_and_logged_with_its_request_id(fake_services: Services, settings: Settings) -> None:
    app = create_app(settings, services=fake_services)

    def boom() -> None:
        raise RuntimeError("something broke")

    app.add_api_route("/boom", boom)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("recommender")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.get("/boom", headers={"X-Request-ID": "boom-1"})
            anonymous = client.get("/boom")  # no id sent: the one generated is in the response too
            samples = scrape(client)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    # Issue 18.7: the 500 itself carries the id its log lines have.
    assert response.status_code == 500 and response.headers["X-Request-ID"] == "boom-1"
    assert anonymous.status_code == 500 and len(anonymous.headers["X-Request-ID"]) == 32
    assert value(samples, "dive_deeper_http_requests_total", method="GET", route="/boom", status="500") == 2
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["request_id"] for line in lines if line["level"] == "ERROR"] == ["boom-1", anonymous.headers["X-Request-ID"]]
    error = next(line for line in lines if line["level"] == "ERROR")
    assert error["request_id"] == "boom-1" and "something broke" in error["exception"]
    access = next(line for line in lines if line["logger"] == ACCESS_LOGGER and line["route"] == "/boom")
    assert access["status"] == 500 and access["request_id"] == "boom-1"
