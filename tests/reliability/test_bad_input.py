"""Bad input to the parser, the CLI ingest and the API: a clear error naming the problem (file and
line for files), and the database exactly as it was."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from recommender import cli
from recommender.api import create_app
from tests.reliability.conftest import FakeService, dump

runner = CliRunner()
GOOD = "Fact check: Is water wet?\nChecked on May 1, 2024\nExecutive Summary\nYes.\n1. Physics\nIt is.\nWant to dive deeper?\nIs ice wet?\n"


def _huge(folder: Path) -> Path:
    path = folder / "huge.txt"
    path.write_text(GOOD + "x" * 1_100_000)
    return path


def _binary(folder: Path) -> Path:
    path = folder / "binary.txt"
    path.write_bytes(b"Fact check: x\n\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    return path


def _latin1(folder: Path) -> Path:
    path = folder / "latin1.txt"
    path.write_bytes(GOOD.replace("Yes.", "Oui, c'est d\xe9j\xe0 vu.").encode("latin-1"))
    return path


def _empty(folder: Path) -> Path:
    path = folder / "empty.txt"
    path.write_text("\n\n   \n")
    return path


def _wordless_question(folder: Path) -> Path:
    path = folder / "wordless.txt"
    path.write_text(GOOD + "?!?\n")
    return path


def _empty_question_jsonl(folder: Path) -> Path:
    path = folder / "rows.jsonl"
    path.write_text(json.dumps({"id": "e1", "title": "T", "questions": ["Fine?", "   "]}) + "\n")
    return path


def _duplicate_question(folder: Path) -> Path:
    path = folder / "dupq.txt"
    path.write_text(GOOD + "IS ICE WET\n")
    return path


def _duplicate_ids(folder: Path) -> Path:
    path = folder / "dup.jsonl"
    rows = [{"id": "same", "title": "One"}, {"id": "other", "title": "Two"}, {"id": "same", "title": "Three"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "same.txt").write_text(GOOD)
    return path


def _future_date_text(folder: Path) -> Path:
    path = folder / "future.txt"
    path.write_text(GOOD.replace("May 1, 2024", "May 1, 2999"))
    return path


def _future_date_jsonl(folder: Path) -> Path:
    path = folder / "future.jsonl"
    path.write_text(
        json.dumps({"id": "f1", "title": "T"})
        + "\n"
        + json.dumps({"id": "f2", "title": "T", "checked_on": "2999-12-31"})
        + "\n"
    )
    return path


def _not_an_object(folder: Path) -> Path:
    path = folder / "list.jsonl"
    path.write_text('["an", "array"]\n')
    return path


CASES: list[tuple[Callable[[Path], Path], str]] = [
    (_huge, ": file is 1100"),  # over the limit of 1000000
    (_binary, ":4: binary data (NUL byte)"),
    (_latin1, ":4: not valid UTF-8"),
    (_empty, ":1: empty file"),
    (_wordless_question, ":9: question has no words"),
    (_empty_question_jsonl, ":1: questions: Value error, question 2 is empty"),
    (_duplicate_question, ":9: duplicate question (same as line 8)"),
    (_duplicate_ids, ": duplicate article id 'same'"),
    (_future_date_text, ":2: checked_on: Value error, checked_on 2999-05-01 is in the future"),
    (_future_date_jsonl, ":2: checked_on: Value error, checked_on 2999-12-31 is in the future"),
    (_not_an_object, ":1: expected a JSON object"),
]


@pytest.mark.parametrize(("make", "message"), CASES, ids=[c[0].__name__.strip("_") for c in CASES])
def test_cli_ingest_names_the_problem_and_changes_nothing(
    make: Callable[[Path], Path],
    message: str,
    fake_service: FakeService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "fine.txt").write_text(GOOD)  # good files beside a bad one are not stored either
    bad = make(folder)
    db = fake_service.engine.settings.db
    before = dump(db)
    monkeypatch.setenv("RECOMMENDER_DB", str(db))
    monkeypatch.setattr(
        cli, "_engine", lambda settings: pytest.fail("bad input must be refused before the engine opens")
    )
    result = runner.invoke(cli.app, ["ingest", str(folder)])
    assert result.exit_code == 1
    assert f"{bad}{message}" in result.output or (message.startswith(": dup") and message in result.output), (
        result.output
    )
    assert "nothing stored" in result.output
    assert dump(db) == before


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"title": "T", "questions": ["Fine?", "  "]}, 422, ["question 2 is empty"]),
        ({"title": "T", "questions": ["Same?", "same"]}, 422, ["the same question appears twice"]),
        ({"title": "T", "questions": ["?!"]}, 422, ["a question has no words"]),
        ({"title": "T", "checked_on": "2999-01-01"}, 422, ["checked_on", "in the future"]),
        ({"title": "T", "checked_on": "yesterday"}, 422, ["checked_on"]),
        ({"title": ""}, 422, ["title"]),
        ({"title": "T", "id": "other"}, 422, ["does not match the URL id"]),
        ({"title": "T", "extra": 1}, 422, ["extra", "not permitted"]),
        ({"title": "T", "questions": ["q?"] * 51}, 422, ["questions"]),
        (b"\xff\xfe not json", 400, ["request body is not readable JSON"]),
        (b'{"title": ', 422, ["JSON decode error"]),
        (b"\x00\x01\x02", 422, ["JSON"]),
        (b"", 422, ["Field required"]),
    ],
)
def test_api_upsert_names_the_problem_and_changes_nothing(
    fake_service: FakeService, body: object, status: int, words: list[str]
) -> None:
    db = fake_service.engine.settings.db
    before = dump(db)
    with TestClient(create_app(fake_service.engine.settings, engine=fake_service.engine)) as client:
        if isinstance(body, bytes):
            headers = {**fake_service.headers, "Content-Type": "application/json"}
            response = client.put("/v1/articles/a0-tariffs", content=body, headers=headers)
        else:
            response = client.put("/v1/articles/a0-tariffs", json=body, headers=fake_service.headers)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    for word in words:
        assert word in detail, detail
    assert dump(db) == before
