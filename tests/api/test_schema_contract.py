"""The published schema states what the server enforces, OPTIONS lists methods, errors show no server paths."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from recommender.api import create_app
from recommender.services import Services
from tests.conftest import add_editor


@pytest.fixture()
def client(fake_services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(fake_services.settings, services=fake_services)) as client:
        client.headers["Authorization"] = f"Bearer {add_editor(fake_services.store, 'admin')}"
        yield client


def _parameter(schema: dict, path: str, method: str, name: str) -> dict:
    return next(p for p in schema["paths"][path][method]["parameters"] if p["name"] == name)["schema"]


def test_the_schema_states_the_limits(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    settings = client.app.state.settings  # type: ignore[attr-defined]
    assert _parameter(schema, "/v1/review", "get", "kind")["enum"] == ["unreviewed", "changed", "gaps", "all"]
    q = _parameter(schema, "/v1/search", "get", "q")
    assert q["minLength"] == 1 and q["maxLength"] == settings.max_query_chars and q["pattern"].startswith("[^")
    k = _parameter(schema, "/v1/search", "get", "k")
    assert k["minimum"] == 1 and k["maximum"] == settings.max_search_k
    if_match = _parameter(schema, "/v1/questions/{question_id}/decision", "post", "if-match")
    assert if_match["type"] == "string" and "pattern" in if_match  # no null: a header is text
    assert _parameter(schema, "/v1/questions/{question_id}/suggestions", "get", "question_id")["minLength"] == 1
    components = schema["components"]["schemas"]
    assert components["BulkItem"]["properties"]["question_id"]["minLength"] == 1
    article = components["ArticleIn"]["properties"]
    assert article["title"]["minLength"] == 1 and "pattern" in article["title"]
    assert article["questions"]["maxItems"] == 50 and article["questions"]["uniqueItems"] is True
    assert article["questions"]["items"]["maxLength"] == 1000


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"q": "x" * 2001}, 422),
        ({"q": " " * 5}, 422),
        ({"q": "\x1d"}, 422),  # whitespace to Python (str.strip) though not to JSON Schema's \s
        ({"q": "tariffs", "k": 51}, 422),
        ({"q": "tariffs", "k": 50}, 200),
    ],
)
def test_search_enforces_what_the_schema_says(client: TestClient, params: dict, status: int) -> None:
    assert client.get("/v1/search", params=params).status_code == status


def test_a_review_kind_outside_the_enum_is_422_naming_the_values(client: TestClient) -> None:
    response = client.get("/v1/review", params={"kind": "everything"})
    assert response.status_code == 422 and "'unreviewed', 'changed', 'gaps' or 'all'" in response.json()["detail"]


def test_options_lists_the_allowed_methods(client: TestClient) -> None:
    for path, allowed in (
        ("/v1/articles/some-id", "GET, PUT, DELETE, OPTIONS"),
        ("/v1/articles/some-id/dive-deeper", "GET, OPTIONS"),
        ("/v1/questions/q-1/decision", "GET, POST, OPTIONS"),
        ("/v1/models/use", "POST, OPTIONS"),
    ):
        response = client.options(path)
        assert response.status_code == 204 and response.headers["allow"] == allowed, (path, response.headers)
    wrong = client.post("/v1/articles/some-id", json={})
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, PUT, DELETE, OPTIONS"
    assert "allowed: GET, PUT, DELETE, OPTIONS" in wrong.json()["detail"]


def test_model_switch_errors_show_no_server_paths(client: TestClient) -> None:
    models_dir = str(client.app.state.settings.models_dir.resolve())  # type: ignore[attr-defined]
    response = client.post("/v1/models/use", json={"name": "no-such-model"})
    assert response.status_code == 404, response.text
    detail = response.json()["detail"]
    assert "no-such-model" in detail and models_dir not in detail and "/" not in detail.replace("/v1/models", "")


def test_bulk_decisions_on_an_unknown_question_are_404(client: TestClient) -> None:
    response = client.post("/v1/decisions/bulk", json={"action": "approve", "items": [{"question_id": "nope-q1"}]})
    assert response.status_code == 404 and "nope-q1" in response.json()["detail"]
