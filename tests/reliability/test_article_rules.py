"""One set of article rules for every way in (issue 13 points 1, 2 and 8; issue 18 point 2).

Each bad article is tried through a text file, a JSON Lines file, PUT /v1/articles/{id} and
`recommender import`: each refuses it naming the field (and file and line), and stores nothing.
A write may never store what a read cannot load: GET, /demo/ and export keep working.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from typer.testing import CliRunner

from recommender import cli
from recommender.api import create_app
from recommender.articles.model import MAX_QUESTION_CHARS, Article, validation_message
from tests.reliability.conftest import FakeService, dump

runner = CliRunner()
BODY = {"summary": "Importers pay most of it, studies find."}
LONG = "Why " + "x" * 9_996  # the 10,000-character question of issue 13.8

# name: (article fields besides the id, what the refusal says, what a text file's refusal says or None:
# the text format cannot carry it (URLs; NUL bytes are refused as binary data; a blank heading is no heading)
BAD: dict[str, tuple[dict[str, Any], str, str | None]] = {
    "blank_title": (
        {"title": "   ", "questions": ["Who pays for tariffs?"], **BODY},
        "title: empty (or only spaces)",
        "'Fact check:' line has no question or claim",
    ),
    "duplicate_question": (
        {"title": "T", "questions": ["Who pays for tariffs?", "who pays for TARIFFS"], **BODY},
        "questions: question 2 is the same as question 1",
        "duplicate question (same as line 7)",
    ),
    "wordless_question": (
        {"title": "T", "questions": ["Fine?", "?!?"], **BODY},
        "questions: question 2 has no words",
        "question has no words",
    ),
    "nul_in_title": ({"title": "Who pays\x00?", **BODY}, "title: contains a control character (NUL)", None),
    "nul_in_question": (
        {"title": "T", "questions": ["Who\x00 pays?"], **BODY},
        "questions: question 1 contains a control character (NUL)",
        None,
    ),
    "control_in_title": (
        {"title": "Who\x1b[2J pays?", **BODY},
        "title: contains a control character (U+001B)",
        "title: contains a control character (U+001B)",
    ),
    "control_in_summary": (
        {"title": "T", "summary": "Bell \x07 here."},
        "summary: contains a control character (U+0007)",
        "summary: contains a control character (U+0007)",
    ),
    "lone_surrogate": ({"title": "T \ud800", **BODY}, "title: contains an unpaired surrogate", None),
    "javascript_url": (
        {"title": "T", "url": "javascript:alert(1)", **BODY},
        "url: must be an absolute http:// or https:// address",
        None,
    ),
    "data_url": ({"title": "T", "url": "data:text/html,<b>x</b>", **BODY}, "url: must be an absolute http", None),
    "relative_url": ({"title": "T", "url": "/fact-checks/x", **BODY}, "url: must be an absolute http", None),
    "long_question": (
        {"title": "T", "questions": [LONG], **BODY},
        f"questions: question 1 is 10000 characters, over the limit of {MAX_QUESTION_CHARS}",
        f"question is 10000 characters, over the limit of {MAX_QUESTION_CHARS}",
    ),
    "blank_heading": (
        {"title": "T", "sections": [{"heading": "  ", "text": "Some text."}]},
        "sections.0.heading: empty (or only spaces)",
        None,
    ),
    "no_body": (  # issue 18.2: a file holding only its title line
        {"title": "Only a title here?"},
        "the article has no body: it needs a summary or at least one section with text",
        "the article has no body",
    ),
    "heading_only": (
        {"title": "T", "sections": [{"heading": "A heading", "text": " "}]},
        "the article has no body",
        "the article has no body",
    ),
}
CASES = [pytest.param(fields, message, text, id=name) for name, (fields, message, text) in BAD.items()]


def _text_file(fields: dict[str, Any]) -> str:
    """The article in the site's text format."""
    lines = [f"Fact check: {fields['title']}", ""]
    if fields.get("summary"):
        lines += ["Executive Summary", fields["summary"], ""]
    for n, section in enumerate(fields.get("sections", []), start=1):
        lines += [f"{n}. {section['heading']}", section["text"], ""]
    if fields.get("questions"):
        lines += ["Want to dive deeper?", *fields["questions"]]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("fields", "message", "text_message"), CASES)
def test_the_article_model_refuses(fields: dict[str, Any], message: str, text_message: str | None) -> None:
    with pytest.raises(ValidationError) as caught:
        Article.model_validate({"id": "x", **fields})
    assert message in validation_message(caught.value)


@pytest.mark.parametrize(("fields", "message", "text_message"), CASES)
def test_the_api_refuses_with_422_naming_the_field(
    fake_service: FakeService, fields: dict[str, Any], message: str, text_message: str | None
) -> None:
    db = fake_service.services.settings.db
    before = dump(db)
    with TestClient(create_app(fake_service.services.settings, services=fake_service.services)) as client:
        # json.dumps escapes a lone surrogate as \\ud800, as a client would have to
        headers = {**fake_service.headers, "Content-Type": "application/json"}
        response = client.put("/v1/articles/blank-repro", content=json.dumps(fields), headers=headers)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert dump(db) == before


@pytest.mark.parametrize(("fields", "message", "text_message"), CASES)
def test_json_lines_ingest_refuses_naming_file_and_line(
    fields: dict[str, Any],
    message: str,
    text_message: str | None,
    fake_service: FakeService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = tmp_path / "rows.jsonl"
    good = {"id": "fine", "title": "Fine", **BODY}
    rows.write_text(json.dumps(good) + "\n" + json.dumps({"id": "bad", **fields}) + "\n")
    db = fake_service.services.settings.db
    before = dump(db)
    monkeypatch.setenv("RECOMMENDER_DB", str(db))
    monkeypatch.setattr(cli.context, "open_services", lambda settings: pytest.fail("bad input must be refused before the services opens"))
    result = runner.invoke(cli.app, ["ingest", str(rows)])
    assert result.exit_code == 1
    assert f"{rows}:2: {message}" in result.output, result.output
    assert dump(db) == before


@pytest.mark.parametrize(("fields", "message", "text_message"), CASES)
def test_a_text_file_is_refused_naming_the_line(
    fields: dict[str, Any],
    message: str,
    text_message: str | None,
    fake_service: FakeService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if text_message is None:
        pytest.skip("the text format cannot carry this")
    path = tmp_path / "bad.txt"
    path.write_text(_text_file(fields))
    monkeypatch.setenv("RECOMMENDER_DB", str(fake_service.services.settings.db))
    monkeypatch.setattr(cli.context, "open_services", lambda settings: pytest.fail("bad input must be refused before the services opens"))
    result = runner.invoke(cli.app, ["ingest", str(path)])
    assert result.exit_code == 1
    assert f"{path}:" in result.output and "nothing stored" in result.output, result.output
    problem = result.output.split(f"{path}:", 1)[1].split("\n", 1)[0]
    assert problem.split(": ", 1)[0].isdigit() and text_message in problem, problem


@pytest.mark.parametrize(("fields", "message", "text_message"), CASES)
def test_import_refuses_naming_the_line(
    fields: dict[str, Any],
    message: str,
    text_message: str | None,
    fake_service: FakeService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = {"type": "header", "data": {"format": "dive-deeper-backup", "version": 1, "exported_at": "now"}}
    backup = tmp_path / "backup.jsonl"
    backup.write_text("\n".join(json.dumps(r) for r in [header, {"type": "article", "data": {"id": "bad", **fields}}]) + "\n")
    db = fake_service.services.settings.db
    before = dump(db)
    monkeypatch.setenv("RECOMMENDER_DB", str(db))
    monkeypatch.setattr(cli.context, "open_services", lambda settings: pytest.fail("a bad backup must not open the services"))
    result = runner.invoke(cli.app, ["import", "--force", str(backup)])
    assert result.exit_code == 1
    assert f"{backup}:2: article: {message}" in result.output, result.output
    assert dump(db) == before


def test_issue_13_blank_title_repro_leaves_reads_and_export_working(
    fake_service: FakeService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PUT blank-repro is refused; GET, /demo/ and `recommender export` then work (they answered 500 before)."""
    settings = fake_service.services.settings
    with TestClient(create_app(settings, services=fake_service.services), raise_server_exceptions=False) as client:
        put = client.put(
            "/v1/articles/blank-repro",
            json={"title": "   ", "questions": ["Who pays for tariffs?"]},
            headers=fake_service.headers,
        )
        assert put.status_code == 422 and put.json()["detail"].startswith("title: "), put.text
        assert client.get("/v1/articles/blank-repro").status_code == 404
        assert client.get("/demo/a0-tariffs").status_code == 200
    monkeypatch.setenv("RECOMMENDER_DB", str(settings.db))
    result = runner.invoke(cli.app, ["export", str(tmp_path / "backup.jsonl")])
    assert result.exit_code == 0, result.output


def test_an_article_stored_before_the_rules_still_reads_and_exports(
    fake_service: FakeService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database written by an older version may hold what the rules now refuse: reads keep working."""
    legacy = Article.model_construct(
        id="legacy-blank", title="", checked_on=None, summary="", sections=[], questions=["Who pays?", "who PAYS"],
        url=None, topic=None,
    )
    fake_service.services.catalog.ingest([legacy])
    settings = fake_service.services.settings
    with TestClient(create_app(settings, services=fake_service.services), raise_server_exceptions=False) as client:
        got = client.get("/v1/articles/legacy-blank")
        assert got.status_code == 200 and got.json()["title"] == "", got.text
        assert client.get("/demo/legacy-blank").status_code == 200
        assert client.get("/v1/articles/legacy-blank/dive-deeper").status_code == 200
    monkeypatch.setenv("RECOMMENDER_DB", str(settings.db))
    backup = tmp_path / "backup.jsonl"
    assert runner.invoke(cli.app, ["export", str(backup)]).exit_code == 0
    # ... and import names the line to fix instead of storing it again.
    imported = runner.invoke(cli.app, ["import", "--force", str(backup)])
    assert imported.exit_code == 1 and "article: title: empty (or only spaces)" in imported.output, imported.output


def test_json_lines_reports_every_bad_line_and_stores_nothing_of_the_file(
    fake_service: FakeService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = tmp_path / "cms.jsonl"
    lines = [
        {"id": "ok-1", "title": "Fine", **BODY},
        {"id": "jl-blank", "title": "   "},
        {"id": "ok-2", "title": "Also fine", **BODY},
        {"id": "dup", "title": "T", "questions": ["Who pays for tariffs?", "who pays for TARIFFS"], **BODY},
        {"id": "js", "title": "T", "url": "javascript:alert(1)", **BODY},
    ]
    rows.write_text("\n".join(json.dumps(r) for r in lines) + "\n{broken\n")
    db = fake_service.services.settings.db
    before = dump(db)
    monkeypatch.setenv("RECOMMENDER_DB", str(db))
    monkeypatch.setattr(cli.context, "open_services", lambda settings: pytest.fail("bad input must be refused before the services opens"))
    result = runner.invoke(cli.app, ["ingest", str(rows)])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert [e.split(f"{rows}:")[1].split(":")[0] for e in errors] == ["2", "4", "5", "6"], result.output
    assert "nothing stored: 4 problem(s)" in result.output
    assert dump(db) == before


def test_the_cli_refuses_the_query_the_api_refuses(
    fake_service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13.8: one definition of the limits, so `suggest` and /v1/search refuse the same text."""
    settings = fake_service.services.settings
    monkeypatch.setenv("RECOMMENDER_DB", str(settings.db))
    monkeypatch.setattr(cli.context, "open_services", lambda s: pytest.fail("a refused query must not open the services"))
    with TestClient(create_app(settings, services=fake_service.services)) as client:
        for text in (LONG, "   "):
            api = client.get("/v1/search", params={"q": text})
            result = runner.invoke(cli.app, ["suggest", text])
            assert api.status_code == 422 and result.exit_code == 1, (api.text, result.output)
            assert api.json()["detail"] in result.output
