"""Roles on tokens: publisher (articles), editor (decisions, review, audit), admin (models and all the rest).

Every protected operation of the OpenAPI schema is tried with a token of each role; a token made
before roles existed (a database migrated from the schema before them) is an admin's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from recommender.api import create_app
from recommender.editorial.auth import hash_token, new_token
from recommender.services import Services
from recommender.store import postgres, sqlite
from tests.conftest import BOTH_STORES, add_editor
from tests.reliability.conftest import small_articles

ARTICLE = {"title": "Who pays for tariffs?", "questions": ["Do importers pay tariffs?"]}


@pytest.fixture(params=BOTH_STORES)
def store_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@dataclass
class Roles:
    client: TestClient
    services: Services
    tokens: dict[str, dict[str, str]]  # role -> Authorization header


@pytest.fixture()
def roles(fake_services: Services) -> Iterator[Roles]:
    fake_services.catalog.ingest(small_articles())
    tokens = {role: {"Authorization": f"Bearer {add_editor(fake_services.store, role, role)}"} for role in ("publisher", "editor", "admin")}
    with TestClient(create_app(fake_services.settings, services=fake_services)) as client:
        yield Roles(client, fake_services, tokens)


def _question(services: Services) -> str:
    return services.store.questions_of("a0-tariffs")[0].id


# (method, path, json body, the role it needs); every protected operation of the schema is here (checked below).
def _operations(services: Services) -> list[tuple[str, str, dict | None, str]]:
    question = _question(services)
    return [
        ("PUT", "/v1/articles/{article_id}", ARTICLE, "publisher"),
        ("DELETE", "/v1/articles/{article_id}", None, "publisher"),
        ("GET", "/v1/questions/{question_id}/decision", None, "editor"),
        ("POST", "/v1/questions/{question_id}/decision", {"action": "hide"}, "editor"),
        ("POST", "/v1/questions/{question_id}/decision/undo", {"version": 1}, "editor"),
        ("POST", "/v1/decisions/bulk", {"action": "reject", "items": [{"question_id": question}]}, "editor"),
        ("GET", "/v1/review", None, "editor"),
        ("GET", "/v1/audit", None, "editor"),
        ("GET", "/v1/coverage", None, "editor"),
        ("POST", "/v1/clusters/{cluster_id}/apply", {"from_question_id": question}, "editor"),
        ("PUT", "/v1/articles/{article_id}/superseded-by", {"by_article_id": None}, "editor"),
        ("GET", "/v1/models", None, "admin"),
        ("POST", "/v1/models/use", {"name": "no-such-model"}, "admin"),
        ("GET", "/v1/editors/me", None, "any"),
    ]


def _url(template: str, services: Services) -> str:
    return (
        template.replace("{article_id}", "role-test")
        .replace("{question_id}", _question(services))
        .replace("{cluster_id}", "no-cluster")
    )


def test_every_protected_operation_is_covered(roles: Roles) -> None:
    schema = roles.client.get("/openapi.json").json()
    protected = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if operation.get("security")
    }
    assert protected == {(m, p) for m, p, _, _ in _operations(roles.services)}


def test_each_role_may_do_its_own_work_and_gets_403_naming_the_role_elsewhere(roles: Roles) -> None:
    for method, template, body, needed in _operations(roles.services):
        for role, headers in roles.tokens.items():
            allowed = needed == "any" or role in (needed, "admin")
            if template == "/v1/articles/{article_id}" and method == "DELETE" and allowed:
                roles.client.put(_url(template, roles.services), json=ARTICLE, headers=roles.tokens["admin"])
            response = roles.client.request(method, _url(template, roles.services), json=body, headers=headers)
            where = f"{role} {method} {template}: {response.status_code} {response.text}"
            if allowed:
                assert response.status_code not in (401, 403), where
            else:
                assert response.status_code == 403, where
                assert f"needs a token with the {needed} role" in response.json()["detail"], where
                assert f"has the {role} role" in response.json()["detail"], where


def test_the_audit_log_records_the_role(roles: Roles) -> None:
    question = _question(roles.services)
    for role in ("editor", "admin"):
        decided = roles.client.post(
            f"/v1/questions/{question}/decision", json={"action": "hide" if role == "editor" else "unhide"}, headers=roles.tokens[role]
        )
        assert decided.status_code == 200, decided.text
    items = roles.client.get("/v1/audit", params={"question_id": question}, headers=roles.tokens["editor"]).json()["items"]
    assert [(i["editor"], i["role"], i["action"]) for i in items] == [("admin", "admin", "unhide"), ("editor", "editor", "hide")]
    me = roles.client.get("/v1/editors/me", headers=roles.tokens["publisher"]).json()
    assert me["name"] == "publisher" and me["role"] == "publisher"


def test_a_protected_route_answers_401_before_it_reads_the_body(roles: Roles) -> None:
    """Before: FastAPI parsed the body first, so a caller without a token got 422 'JSON decode error'."""
    for headers in ({}, {"Authorization": "Bearer dd_wrong"}):
        response = roles.client.put(
            "/v1/articles/x", content=b"{not json", headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 401, response.text
        response = roles.client.post("/v1/models/use", json={"nope": 1}, headers=headers)
        assert response.status_code == 401, response.text
    wrong_role = roles.client.put(
        "/v1/articles/x", content=b"{not json", headers={**roles.tokens["editor"], "Content-Type": "application/json"}
    )
    assert wrong_role.status_code == 403
    parsed = roles.client.put(
        "/v1/articles/x", content=b"{not json", headers={**roles.tokens["publisher"], "Content-Type": "application/json"}
    )
    assert parsed.status_code == 422 and "not valid JSON" in parsed.json()["detail"]


# -- migration: tokens made before roles become admin -------------------------------------------------
def _role_step(migrations: list[str]) -> int:
    """The migration that added roles (found by content: other migrations may land before it)."""
    return next(i for i, sql in enumerate(migrations) if "ALTER TABLE editors ADD COLUMN role" in sql)


def test_sqlite_tokens_from_before_roles_become_admin(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    token = new_token()
    conn = sqlite3.connect(db, isolation_level=None)
    step = _role_step(sqlite.MIGRATIONS)
    for migration in sqlite.MIGRATIONS[:step]:
        conn.executescript(migration)
    conn.execute(f"PRAGMA user_version = {step}")
    conn.execute(
        "INSERT INTO editors (name, token_hash, created_at, revoked_at) VALUES ('old', ?, '2026-01-01T00:00:00+00:00', NULL)",
        (hash_token(token),),
    )
    conn.close()
    store = sqlite.SQLiteStore(db, "-")
    try:
        assert [(r.editor.name, r.editor.role) for r in store.editor_records()] == [("old", "admin")]
        store.add_editor("new", hash_token(new_token()))
        assert {r.editor.name: r.editor.role for r in store.editor_records()} == {"old": "admin", "new": "editor"}
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_tokens_from_before_roles_become_admin(pg_server) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    name = pg_server.create()
    url = pg_server.url_of(name)
    try:
        step = _role_step(postgres.MIGRATIONS)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            for migration in postgres.MIGRATIONS[:step]:
                conn.execute(migration)  # type: ignore[arg-type]
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (step,))
            conn.execute(
                "INSERT INTO editors (name, token_hash, created_at, revoked_at) VALUES ('old', 'h', '2026-01-01', NULL)"
            )
        store = postgres.PostgresStore(url, "-")
        try:
            assert [(r.editor.name, r.editor.role) for r in store.editor_records()] == [("old", "admin")]
        finally:
            store.close()
    finally:
        pg_server.drop(name)
