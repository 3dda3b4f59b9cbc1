"""Security: editor auth (missing, wrong, revoked tokens; constant-time comparison; tokens never
logged), SQL built only with parameters (hostile ids and query strings), escaped text (stored XSS
through a hostile question), and security headers. The browser test in tests/browser/ checks the
widget and review page render such text as text; the served process's headers and logs are
checked in test_concurrency.py."""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from recommender.api import create_app
from recommender.api.routes.pages import EDITOR_CSP
from recommender.editorial import auth
from recommender.domain import Editor, EditorRecord
from recommender.editorial.auth import find_editor, hash_token
from tests.conftest import ROOT, add_editor
from tests.reliability.conftest import FakeService, dump


@pytest.fixture()
def client(fake_service: FakeService) -> Iterator[TestClient]:
    with TestClient(create_app(fake_service.services.settings, services=fake_service.services)) as test_client:
        yield test_client


def editor_operations(client: TestClient) -> list[tuple[str, str]]:
    """Every operation the published schema marks as needing the editor token."""
    found = []
    for path, item in client.get("/openapi.json").json()["paths"].items():
        for method, operation in item.items():
            if any("EditorToken" in requirement for requirement in operation.get("security", [])):
                concrete = path.replace("{article_id}", "a0-tariffs").replace("{question_id}", "a0-tariffs-q1")
                found.append((method.upper(), concrete.replace("{", "").replace("}", "")))
    return found


def test_every_editor_endpoint_rejects_missing_wrong_and_revoked_tokens(
    client: TestClient, fake_service: FakeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    revoked = add_editor(fake_service.services.store, "mallory")
    fake_service.services.store.revoke_editor("mallory")
    operations = editor_operations(client)
    assert {
        ("POST", "/v1/questions/a0-tariffs-q1/decision"),
        ("PUT", "/v1/articles/a0-tariffs"),
        ("DELETE", "/v1/articles/a0-tariffs"),
        ("GET", "/v1/review"),
        ("GET", "/v1/audit"),
    } <= set(operations)
    before = dump(fake_service.services.settings.db)
    cases = {
        "missing": ({}, 401, "missing editor token"),
        "not bearer": ({"Authorization": f"Basic {fake_service.token}"}, 401, "missing editor token"),
        "wrong": ({"Authorization": "Bearer dd_" + "x" * 43}, 401, "invalid editor token"),
        "empty": ({"Authorization": "Bearer "}, 401, "missing editor token"),
        "revoked": ({"Authorization": f"Bearer {revoked}"}, 403, "was revoked"),
    }
    for method, path in operations:
        for name, (headers, status, words) in cases.items():
            response = client.request(method, path, headers=headers, json={"action": "hide"})
            assert response.status_code == status, (method, path, name, response.text)
            assert words in response.json()["detail"], (method, path, name)
            if status == 401:
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert dump(fake_service.services.settings.db) == before
    for token in (fake_service.token, revoked):
        assert token not in caplog.text


def test_tokens_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every stored hash is compared with hmac.compare_digest, whichever matches (no early exit)."""
    records = [EditorRecord(Editor(f"e{n}", "t"), hash_token(f"token-{n}")) for n in range(5)]
    calls: list[tuple[str, str]] = []
    real = auth.hmac.compare_digest

    def counting(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    for token, expected in (("token-0", "e0"), ("token-4", "e4"), ("nobody", None)):
        calls.clear()
        found = find_editor(records, token)
        assert (found.name if found else None) == expected
        assert len(calls) == len(records)
        assert all(b == hash_token(token) for _, b in calls)  # the hash is compared, never the token


HOSTILE = [
    "' OR '1'='1",
    "a0-tariffs' --",
    "1; DROP TABLE articles; --",
    '" OR 1=1 --',
    "%' UNION SELECT token_hash, name, 1, 1, 1, 1 FROM editors --",
    "a0-tariffs-q1' OR 'x'='x",
    "\\'; DELETE FROM decisions; --",
    "../../../etc/passwd",
    "%00\x00",
    "*",
    "%",
    "_",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_ids_and_query_strings_change_nothing_and_leak_nothing(
    client: TestClient, fake_service: FakeService, hostile: str
) -> None:
    db = fake_service.services.settings.db
    before = dump(db)
    h = quote(hostile, safe="")
    auth_headers = fake_service.headers
    requests = [
        ("GET", f"/v1/articles/{h}/dive-deeper", {}, None),
        ("GET", f"/v1/articles/{h}", {}, None),
        ("GET", f"/v1/questions/{h}/suggestions", {}, None),
        ("GET", f"/v1/search?q={h}&k=5", {}, None),
        ("GET", f"/v1/audit?editor={h}&question_id={h}&article_id={h}", auth_headers, None),
        ("GET", f"/v1/review?article_id={h}", auth_headers, None),
        ("GET", f"/v1/questions/{h}/decision", auth_headers, None),
        ("POST", f"/v1/questions/{h}/decision", auth_headers, {"action": "approve"}),
        ("POST", "/v1/questions/a0-tariffs-q1/decision", auth_headers, {"action": "pin", "article_id": hostile}),
        ("POST", "/v1/decisions/bulk", auth_headers, {"action": "reject", "items": [{"question_id": hostile}]}),
        ("DELETE", f"/v1/articles/{h}", auth_headers, None),
        ("GET", f"/demo/{h}", {}, None),
    ]
    hashes = [r.token_hash for r in fake_service.services.store.editor_records()]
    for method, path, headers, body in requests:
        response = client.request(method, path, headers=headers, json=body)
        assert response.status_code < 500, (method, path, response.text)
        if response.status_code == 200 and path.startswith("/v1/audit"):
            assert response.json()["total"] == 0, path  # a filter, never a wildcard or an injection
        if response.status_code >= 400:
            assert response.json()["detail"], (method, path)
        assert not any(x in response.text for x in hashes + [fake_service.token])
    assert dump(db) == before


SQL_CALLS = {"execute", "executemany", "executescript"}
# The only values ever formatted into SQL text: placeholder lists ("?,?,?"), WHERE clauses made of
# fixed column names with placeholders, fixed column lists, fixed table names and integers.
SQL_FORMATTED_OK = {
    "marks",
    "clause",
    "placeholders",  # "?, ?, ?" / "col = ? AND ..." built from fixed names
    "_DECISION_COLUMNS",
    "_AUDIT_COLUMNS",
    "conflict",  # fixed column lists and clauses
    "table",
    "staged",  # fixed table names from a literal tuple
    "step + 1",
    "dim",  # integers (schema version, vector dimension)
    "NEWEST_FIRST",  # a fixed ORDER BY clause
    "order",  # pgvector.nearest_order: a fixed ORDER BY clause around an integer dimension
    "HNSW_INDEX",  # a fixed index name
}


def _leaves(node: ast.expr) -> list[ast.expr]:
    return _leaves(node.left) + _leaves(node.right) if isinstance(node, ast.BinOp) else [node]


def test_sql_is_built_only_with_parameters() -> None:
    """Static check of every store module: SQL passed to execute is a constant, or an f-string whose
    formatted values are on the list above (never a request value); no %-formatting or .format()."""
    problems = []
    for path in sorted((ROOT / "recommender" / "store").glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS
            ):
                continue
            if not node.args:
                continue
            sql = node.args[0]
            where = f"{path.name}:{node.lineno}"
            if isinstance(sql, ast.JoinedStr):
                for value in sql.values:
                    if isinstance(value, ast.FormattedValue) and ast.unparse(value.value) not in SQL_FORMATTED_OK:
                        problems.append(f"{where}: formats {ast.unparse(value.value)!r} into SQL")
            elif isinstance(sql, ast.BinOp):  # concatenation: only literals and fixed fragments
                for leaf in _leaves(sql):
                    if not (isinstance(leaf, ast.Constant) or ast.unparse(leaf) in SQL_FORMATTED_OK):
                        problems.append(f"{where}: concatenates {ast.unparse(leaf)!r} into SQL")
            elif isinstance(sql, ast.Call) and getattr(sql.func, "attr", "") == "format":
                problems.append(f"{where}: SQL built by .format(): {ast.unparse(sql)[:60]!r}")
    assert not problems, "\n".join(problems)


def test_a_hostile_article_is_escaped_on_every_page(client: TestClient, fake_service: FakeService) -> None:
    evil = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    body = {
        "title": f"Title {evil}",
        "summary": f"Summary {evil}",
        "sections": [{"heading": f"H {evil}", "text": f"T {evil}"}],
        "questions": [f"Who pays for tariffs {evil}?"],
        "url": "javascript:alert(3)",
    }
    # A script URL is refused at the door (issue 13.2); the rest is data and stays escaped.
    refused = client.put("/v1/articles/evil", json=body, headers=fake_service.headers)
    assert refused.status_code == 422 and refused.json()["detail"].startswith("url: "), refused.text
    body["url"] = 'https://example.org/evil?x="><script>alert(4)</script>'
    assert client.put("/v1/articles/evil", json=body, headers=fake_service.headers).status_code == 201
    page = client.get("/demo/evil")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'; script-src 'self';")
    widget = client.get("/v1/articles/evil/dive-deeper")
    assert widget.headers["content-type"] == "application/json"
    assert widget.headers["X-Content-Type-Options"] == "nosniff"
    assert evil in widget.text.replace("\\u003c", "<").replace(
        '\\"', '"'
    )  # data stays data; the widget sets textContent
    review = client.get("/v1/review", params={"article_id": "evil", "kind": "gaps"}, headers=fake_service.headers)
    assert review.headers["content-type"] == "application/json"


@pytest.mark.parametrize("path", ["/", "/demo/", "/demo/a0-tariffs", "/editor/", "/docs"])
def test_pages_carry_a_content_security_policy_and_may_not_be_framed(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    if path == "/editor/":
        assert csp == EDITOR_CSP  # the review page keeps its stricter policy
    if path not in ("/docs", "/editor/"):
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_api_responses_and_the_widget_script_carry_headers(client: TestClient) -> None:
    for path in (
        "/v1/articles/a0-tariffs/dive-deeper",
        "/v1/search?q=x",
        "/v1/articles/nope/dive-deeper",
        "/nope",
        "/healthz",
    ):
        response = client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'", path
        assert "server" not in response.headers and "x-powered-by" not in response.headers
    script = client.get("/widget.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    assert "Cross-Origin-Resource-Policy" not in script.headers  # sites on other origins embed it


def test_find_editor_is_what_the_api_uses() -> None:
    source = (ROOT / "recommender" / "services" / "editorial.py").read_text()
    assert "find_editor(" in source and "compare_digest" in Path(auth.__file__).read_text()
