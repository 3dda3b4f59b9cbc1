"""cli/editors.py: tokens are shown once and stored hashed; names are one printable line; roles."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender import cli

runner = CliRunner()


def test_editors_add_list_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from recommender.editorial.auth import find_editor
    from recommender.store.sqlite import SQLiteStore

    db = tmp_path / "editors.db"
    monkeypatch.setenv("RECOMMENDER_DB", str(db))
    added = runner.invoke(cli.app, ["editors", "add", "alice"])
    assert added.exit_code == 0, added.output
    token = added.stdout.strip()
    assert token.startswith("dd_") and len(token) > 40 and "shown only now" in added.stderr
    assert runner.invoke(cli.app, ["editors", "add", "publisher", "--role", "publisher"]).exit_code == 0
    again = runner.invoke(cli.app, ["editors", "add", "alice"])
    assert again.exit_code == 1 and "already has an active token" in again.stderr
    bad = runner.invoke(cli.app, ["editors", "add", "no spaces"])
    assert bad.exit_code == 1 and "must be 1-64 letters" in bad.stderr

    store = SQLiteStore(db, "-")
    try:
        assert token not in db.read_bytes().decode("latin-1")  # stored hashed
        assert find_editor(store.editor_records(), token).name == "alice"  # type: ignore[union-attr]
    finally:
        store.close()

    listed = runner.invoke(cli.app, ["editors", "list"])
    assert listed.exit_code == 0 and "alice\teditor\t" in listed.output and "publisher\tpublisher\t" in listed.output
    assert token not in listed.output and "active" in listed.output

    revoked = runner.invoke(cli.app, ["editors", "revoke", "alice"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert runner.invoke(cli.app, ["editors", "revoke", "alice"]).exit_code == 1
    assert runner.invoke(cli.app, ["editors", "revoke", "nobody"]).exit_code == 1
    assert "revoked 20" in runner.invoke(cli.app, ["editors", "list"]).output
    store = SQLiteStore(db, "-")
    try:
        assert find_editor(store.editor_records(), token).active is False  # type: ignore[union-attr]
    finally:
        store.close()
    renewed = runner.invoke(cli.app, ["editors", "add", "alice"])
    assert renewed.exit_code == 0 and renewed.stdout.strip() != token


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("carol\n", "line break"),  # was accepted: a second "carol" beside the first
        ("carol\r", "line break"),
        (" carol", "whitespace"),
        ("carol ", "whitespace"),
        ("car\tol", "control character"),
        ("carol\u200b", "control character"),
        ("", "must be 1-64"),
    ],
)
def test_editor_names_are_one_printable_line(
    name: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recommender.store.sqlite import SQLiteStore

    db = tmp_path / "editors.db"
    monkeypatch.setenv("RECOMMENDER_DB", str(db))
    assert runner.invoke(cli.app, ["editors", "add", "carol"]).exit_code == 0
    refused = runner.invoke(cli.app, ["editors", "add", name])
    assert refused.exit_code == 1 and problem in refused.stderr, refused.stderr
    store = SQLiteStore(db, "-")
    try:
        assert [r.editor.name for r in store.editor_records()] == ["carol"]
    finally:
        store.close()


def test_editors_get_a_role(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from recommender.store.sqlite import SQLiteStore

    db = tmp_path / "editors.db"
    monkeypatch.setenv("RECOMMENDER_DB", str(db))
    for args in (["alice"], ["cms", "--role", "publisher"], ["root", "--role", "admin"]):
        assert runner.invoke(cli.app, ["editors", "add", *args]).exit_code == 0
    bad = runner.invoke(cli.app, ["editors", "add", "bob", "--role", "owner"])
    assert bad.exit_code == 1 and "role 'owner' is not one of publisher, editor, admin" in bad.stderr
    store = SQLiteStore(db, "-")
    try:
        assert {r.editor.name: r.editor.role for r in store.editor_records()} == {
            "alice": "editor",
            "cms": "publisher",
            "root": "admin",
        }
    finally:
        store.close()
    listed = runner.invoke(cli.app, ["editors", "list"]).output.splitlines()
    assert [line.split("\t")[:2] for line in listed] == [["alice", "editor"], ["cms", "publisher"], ["root", "admin"]]
