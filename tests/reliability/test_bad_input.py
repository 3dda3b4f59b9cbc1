"""Bad input to the parser, the CLI ingest and the API: a clear error naming the problem (file and
line for files), and the database exactly as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from recommender import cli
from recommender.api import create_app
from tests.reliability.conftest import FakeService, dump

runner = CliRunner()
GOOD = "Fact check: Is water wet?\nChecked on May 1, 2024\nExecutive Summary\nYes.\n1. Physics\nIt is.\nWant to dive deeper?\nIs ice wet?\n"


# Each case: the files of the folder to ingest, the bad one first (its path starts the message), and the message.
CASES: dict[str, tuple[dict[str, str | bytes], str]] = {
    "huge": ({"huge.txt": GOOD + "x" * 1_100_000}, ": file is 1100"),  # over the limit of 1000000
    "binary": ({"binary.txt": b"Fact check: x\n\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"}, ":4: binary data (NUL byte)"),
    "latin1": (
        {"latin1.txt": GOOD.replace("Yes.", "Oui, c'est d\xe9j\xe0 vu.").encode("latin-1")},
        ":4: not valid UTF-8",
    ),
    "empty": ({"empty.txt": "\n\n   \n"}, ":1: empty file"),
    "wordless_question": ({"wordless.txt": GOOD + "?!?\n"}, ":9: question has no words"),
    "empty_question_jsonl": (
        {"rows.jsonl": json.dumps({"id": "e1", "title": "T", "summary": "S.", "questions": ["Fine?", "   "]}) + "\n"},
        ":1: questions: question 2 is empty",
    ),
    "duplicate_question": ({"dupq.txt": GOOD + "IS ICE WET\n"}, ":9: duplicate question (same as line 8)"),
    "duplicate_ids": (
        {
            "dup.jsonl": "".join(
                json.dumps({"id": id_, "title": title, "summary": "S."}) + "\n"
                for id_, title in [("same", "One"), ("other", "Two"), ("same", "Three")]
            ),
            "same.txt": GOOD,
        },
        ": duplicate article id 'same'",
    ),
    "future_date_text": (
        {"future.txt": GOOD.replace("May 1, 2024", "May 1, 2999")},
        ":2: checked_on: 2999-05-01 is in the future",
    ),
    "future_date_jsonl": (
        {
            "future.jsonl": json.dumps({"id": "f1", "title": "T", "summary": "S."})
            + "\n"
            + json.dumps({"id": "f2", "title": "T", "summary": "S.", "checked_on": "2999-12-31"})
            + "\n"
        },
        ":2: checked_on: 2999-12-31 is in the future",
    ),
    "not_an_object": ({"list.jsonl": '["an", "array"]\n'}, ":1: expected a JSON object"),
}


@pytest.mark.parametrize(("files", "message"), list(CASES.values()), ids=list(CASES))
def test_cli_ingest_names_the_problem_and_changes_nothing(
    files: dict[str, str | bytes],
    message: str,
    fake_service: FakeService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "fine.txt").write_text(GOOD)  # good files beside a bad one are not stored either
    for name, content in files.items():
        path = folder / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    bad = folder / next(iter(files))
    db = fake_service.services.settings.db
    before = dump(db)
    monkeypatch.setenv("RECOMMENDER_DB", str(db))
    monkeypatch.setattr(
        cli.context, "open_services", lambda settings: pytest.fail("bad input must be refused before the services opens")
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
        ({"title": "T", "questions": ["Same?", "same"]}, 422, ["questions: question 2 is the same as question 1"]),
        ({"title": "T", "questions": ["?!"]}, 422, ["has no words"]),
        ({"title": "T", "checked_on": "2999-01-01"}, 422, ["checked_on", "in the future"]),
        ({"title": "T", "checked_on": "yesterday"}, 422, ["checked_on"]),
        ({"title": ""}, 422, ["title"]),
        ({"title": "T", "id": "other"}, 422, ["does not match the URL id"]),
        ({"title": "T", "extra": 1}, 422, ["extra", "not permitted"]),
        ({"title": "T", "questions": ["q?"] * 51}, 422, ["questions"]),
        (b"\xff\xfe not json", 400, ["request body is not readable JSON"]),
        (b'{"title": ', 422, ["request body is not valid JSON: line 1, column 11: expecting value"]),
        (b"\x00\x01\x02", 422, ["JSON"]),
        (b"", 422, ["Field required"]),
    ],
)
def test_api_upsert_names_the_problem_and_changes_nothing(
    fake_service: FakeService, body: object, status: int, words: list[str]
) -> None:
    db = fake_service.services.settings.db
    before = dump(db)
    with TestClient(create_app(fake_service.services.settings, services=fake_service.services)) as client:
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
