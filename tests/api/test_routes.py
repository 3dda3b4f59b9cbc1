"""Every route through FastAPI's TestClient, over the sample corpus and the real model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from recommender.api import create_app
from recommender.config import Settings
from recommender.services import Services
from tests.conftest import BOTH_STORES, add_editor

pytestmark = pytest.mark.slow


@pytest.fixture(params=BOTH_STORES)
def store_backend(request: pytest.FixtureRequest) -> str:
    """Every route test runs on SQLite and on PostgreSQL."""
    return request.param


@pytest.fixture()
def client(writable_sample_services: Services) -> Iterator[TestClient]:
    app = create_app(writable_sample_services.settings, services=writable_sample_services)
    token = add_editor(writable_sample_services.store, "publisher")  # PUT and DELETE need a token
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as test_client:
        yield test_client


def test_dive_deeper_lists_questions_with_answers(client: TestClient) -> None:
    body = client.get("/v1/articles/economy-tariffs-who-pays/dive-deeper").json()
    assert body["article"]["id"] == "economy-tariffs-who-pays"
    assert body["questions"], body
    for item in body["questions"] + body["related"]:
        assert item["answer"]["id"] != "economy-tariffs-who-pays"
        assert {"id", "title", "url", "checked_on", "score"} <= set(item["answer"])
    steel = next(q for q in body["questions"] if "steel" in q["text"])
    assert steel["answer"]["id"] == "economy-tariffs-steel-revenue"
    for item in body["related"]:
        assert item["source"]["id"] != "economy-tariffs-who-pays"


def test_gaps_are_left_out_of_the_widget(client: TestClient, writable_sample_services: Services) -> None:
    gap_ids = {g.question.id for g in writable_sample_services.reading.gaps()}
    assert gap_ids
    article_id = next(iter(gap_ids)).rsplit("-q", 1)[0]
    body = client.get(f"/v1/articles/{article_id}/dive-deeper").json()
    shown = {q["id"] for q in body["questions"] + body["related"]}
    assert not shown & gap_ids


def test_suggestions_are_ranked_and_exclude_the_source(client: TestClient) -> None:
    body = client.get("/v1/questions/economy-inflation-2022-causes-q1/suggestions").json()
    scores = [c["score"] for c in body["candidates"]]
    margin = Settings().freshness_margin  # a more recent fact check may overtake a close one
    assert all(a >= b - margin for a, b in zip(scores, scores[1:]))
    assert all(c["id"] != "economy-inflation-2022-causes" for c in body["candidates"])
    assert body["candidates"][0]["passage"]


def test_search(client: TestClient) -> None:
    body = client.get("/v1/search", params={"q": "did the moon landing really happen", "k": 3}).json()
    assert [r["id"] for r in body["results"]][0] == "science-moon-landing"
    assert len(body["results"]) == 3 and body["answered"] is True
    nothing = client.get("/v1/search", params={"q": "How many moons does Neptune have?", "k": 3}).json()
    assert nothing["answered"] is False and nothing["results"]  # the closest ones, marked as no answer
    assert [r["score"] for r in nothing["results"]] == sorted((r["score"] for r in nothing["results"]), reverse=True)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "  "}, "q must not be empty"),
        ({"q": "x" * 5000}, "over the limit"),
        ({"q": "tariffs", "k": 0}, "k must be between"),
        ({"q": "tariffs", "k": 10_000}, "k must be between"),
        ({"q": "tariffs", "k": "many"}, "k"),
        ({}, "q"),
    ],
)
def test_search_rejects_bad_input(client: TestClient, params: dict, message: str) -> None:
    response = client.get("/v1/search", params=params)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_unknown_ids_are_404_with_a_message(client: TestClient) -> None:
    for path in ("/v1/articles/nope/dive-deeper", "/v1/questions/nope-q1/suggestions", "/v1/articles/nope"):
        response = client.get(path)
        assert response.status_code == 404
        assert "not found" in response.json()["detail"]
    # Deleting what is not there changes nothing: no new generation, so every widget ETag stays valid.
    widget = "/v1/articles/economy-tariffs-who-pays/dive-deeper"
    etag = client.get(widget).headers["ETag"]
    assert client.delete("/v1/articles/nope").status_code == 404
    assert client.get(widget).headers["ETag"] == etag
    assert client.get(widget, headers={"If-None-Match": etag}).status_code == 304


def test_put_creates_updates_and_links_a_new_article(client: TestClient) -> None:
    article = {
        "title": "Do wind turbines kill large numbers of birds?",
        "checked_on": "2025-01-10",
        "summary": "Wind turbines kill birds, but far fewer than cats, windows or cars; siting matters most [1].",
        "sections": [{"heading": "How many birds die", "text": "US estimates put turbine deaths at hundreds of thousands a year [1]."}],
        "questions": ["Do offshore wind farms harm whales?"],
    }
    created = client.put("/v1/articles/climate-wind-birds", json=article)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "added"
    assert client.put("/v1/articles/climate-wind-birds", json=article).json()["status"] == "unchanged"
    own = client.get("/v1/questions/climate-wind-birds-q1/suggestions").json()
    assert own["candidates"][0]["id"] == "climate-wind-turbines-whales"
    # the question about birds that was a gap before now finds the new fact check
    birds = client.get("/v1/questions/climate-wind-turbines-whales-q4/suggestions").json()
    assert birds["candidates"][0]["id"] == "climate-wind-birds"
    updated = client.put("/v1/articles/climate-wind-birds", json={**article, "title": "Wind turbines and birds"})
    assert updated.status_code == 200 and updated.json()["status"] == "updated"
    assert client.delete("/v1/articles/climate-wind-birds").status_code == 204
    birds = client.get("/v1/questions/climate-wind-turbines-whales-q4/suggestions").json()
    assert all(c["id"] != "climate-wind-birds" for c in birds["candidates"])
    assert client.get("/v1/questions/climate-wind-birds-q1/suggestions").status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"title": ""}, "title"),
        ({"title": "T", "questions": ["ok?", "  "]}, "question 2 is empty"),
        ({"title": "T", "questions": ["Why?", "why"]}, "question 2 is the same as question 1"),
        ({"title": "T", "checked_on": "2999-01-01"}, "in the future"),
        ({"title": "T", "checked_on": "yesterday"}, "checked_on"),
        ({"title": "T", "unknown": 1}, "unknown"),
        ({"id": "other", "title": "T"}, "does not match"),
        ({"title": "T", "sections": [{"text": "no heading"}]}, "heading"),
    ],
)
def test_put_rejects_bad_bodies_and_stores_nothing(client: TestClient, body: dict, message: str) -> None:
    before = client.get("/healthz").json()
    response = client.put("/v1/articles/new-one", json=body)
    assert response.status_code == 422
    assert message in response.json()["detail"]
    assert client.get("/healthz").json() == before
    assert client.get("/v1/articles/new-one").status_code == 404


def test_bad_ids_and_bodies(client: TestClient) -> None:
    assert client.put("/v1/articles/bad%20id", json={"title": "T"}).status_code == 422
    response = client.put("/v1/articles/x", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    huge = client.put("/v1/articles/x", content=b"x" * 2_000_000, headers={"content-type": "application/json"})
    assert huge.status_code == 413 and "limit" in huge.json()["detail"]


def test_gaps_worst_first(client: TestClient) -> None:
    body = client.get("/v1/gaps", params={"limit": 500}).json()
    scores = [g["best"]["score"] for g in body["gaps"] if g["best"]]
    assert scores == sorted(scores)
    assert body["total"] == len(body["gaps"]) > 0
    assert client.get("/v1/gaps", params={"limit": 0}).status_code == 422


def test_health_and_openapi(client: TestClient) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["articles"] >= 60 and health["pending"] == 0
    assert "/v1/search" in client.get("/openapi.json").json()["paths"]
