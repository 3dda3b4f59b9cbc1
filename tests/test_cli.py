"""The `recommender` command: errors name the file and line and store nothing; reads print answers."""

from __future__ import annotations

import json

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender import cli
from recommender.config import Settings
from recommender.engine import Engine
from tests.conftest import ROOT

runner = CliRunner()


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recommender.cli", *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=300
    )


def test_ingest_with_a_bad_file_names_it_and_stores_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(ROOT / "data/sample/articles/economy-tariffs-who-pays.txt", folder)
    (folder / "broken.txt").write_text("Fact check: Is it?\n\nChecked on Smarch 3, 2024\n")
    db = tmp_path / "cli.db"
    result = run(["ingest", str(folder)], {"RECOMMENDER_DB": str(db)})
    assert result.returncode == 1
    assert f"{folder / 'broken.txt'}:3: unreadable date" in result.stderr
    assert "nothing stored" in result.stderr
    assert not db.exists()


@pytest.fixture()
def cli_env(sample_db: Path, tmp_path: Path, real_encoder, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    db = tmp_path / "cli.db"
    shutil.copy(sample_db, db)
    monkeypatch.setenv("RECOMMENDER_DB", str(db))
    monkeypatch.setenv("RECOMMENDER_MODELS_DIR", str(ROOT / "models"))
    monkeypatch.setattr(cli.context, "open_engine", lambda settings: Engine.open(settings, encoder=real_encoder))
    return db


@pytest.mark.slow
def test_suggest_links_and_gaps(cli_env: Path) -> None:
    suggested = runner.invoke(cli.app, ["suggest", "Who pays for tariffs?", "-k", "2"])
    assert suggested.exit_code == 0, suggested.output
    assert suggested.output.splitlines()[0].split()[2] == "economy-tariffs-who-pays"
    links = runner.invoke(cli.app, ["links", "economy-inflation-2022-causes"])
    assert links.exit_code == 0 and "-> " in links.output and "related questions:" in links.output
    assert runner.invoke(cli.app, ["links", "nope"]).exit_code == 1
    gaps = runner.invoke(cli.app, ["gaps", "--limit", "3"])
    assert gaps.exit_code == 0 and "gaps (best score below" in gaps.output
    assert runner.invoke(cli.app, ["suggest", "  "]).exit_code == 1
    # Nothing on the site answers this: said plainly, not a list that looks like answers.
    unanswered = runner.invoke(cli.app, ["suggest", "How many moons does Neptune have?", "-k", "2"])
    assert unanswered.exit_code == 0 and unanswered.output.startswith("no fact check answers this; best match ")
    assert json.loads(runner.invoke(cli.app, ["suggest", "Who pays for tariffs?", "--json"]).output)["answered"] is True


@pytest.mark.slow
def test_ingest_reports_unchanged_and_updated(cli_env: Path, tmp_path: Path) -> None:
    source = ROOT / "data/sample/articles/economy-tariffs-who-pays.txt"
    again = runner.invoke(cli.app, ["ingest", str(source), "--no-progress"])
    assert again.exit_code == 0 and "0 added, 0 updated, 1 unchanged" in again.output
    edited = tmp_path / "economy-tariffs-who-pays.txt"
    edited.write_text(source.read_text().replace("Checked on", "Checked on", 1) + "Who collects tariffs at the border?\n")
    result = runner.invoke(cli.app, ["ingest", str(edited), "--no-progress"])
    assert result.exit_code == 0 and "1 updated" in result.output
    assert Settings().db == cli_env


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


def test_ingest_of_a_folder_without_articles_fails_naming_the_patterns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18.3: '0 added' and exit 0 looked like success."""
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "notes.md").write_text("not an article")
    monkeypatch.setenv("RECOMMENDER_DB", str(tmp_path / "x.db"))
    monkeypatch.setattr(cli.context, "open_engine", lambda settings: pytest.fail("nothing to ingest: the engine must not open"))
    result = runner.invoke(cli.app, ["ingest", str(empty)])
    assert result.exit_code == 1
    assert f"error: {empty}: no article files found (looked for *.txt and *.jsonl, in subfolders too)" in result.output
    assert not (tmp_path / "x.db").exists()


def test_the_model_registry_is_found_from_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18.1: from another directory, without RECOMMENDER_MODELS_DIR, the default encoder is known."""
    from recommender.embedding.factory import resolve_model

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECOMMENDER_MODELS_DIR", raising=False)
    settings = Settings()
    assert settings.models_dir == ROOT / "models"  # the checkout's, not ./models
    assert resolve_model(settings.model, tmp_path / "no-models-here").path.is_dir()  # the packaged registry
    help_text = runner.invoke(cli.app, ["--help"], env={"RECOMMENDER_DB": "data.db", "COLUMNS": "300"}).output
    assert f"Database: {tmp_path / 'data.db'}" in help_text and "RECOMMENDER_DB" in help_text


@pytest.mark.slow
def test_ingest_works_from_any_directory(tmp_path: Path) -> None:
    """Issue 18.1 end to end: a new user runs the command from their home folder."""
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "RECOMMENDER_MODELS_DIR"}
    article = ROOT / "data/sample/articles/economy-tariffs-who-pays.txt"
    result = subprocess.run(
        [sys.executable, "-m", "recommender.cli", "ingest", "--no-progress", str(article)],
        cwd=elsewhere, env={**env, "RECOMMENDER_DB": "var/mine.db"}, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert f"1 added, 0 updated, 0 unchanged" in result.stdout and str(elsewhere / "var/mine.db") in result.stdout
    assert not (elsewhere / "models").exists()  # no stray export made in the current directory


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


def test_serve_passes_the_proxy_settings_to_uvicorn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 by default: serve always says whether to trust it."""
    import uvicorn

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    monkeypatch.setenv("RECOMMENDER_DB", str(tmp_path / "serve.db"))
    assert runner.invoke(cli.app, ["serve"]).exit_code == 0
    assert calls[-1]["proxy_headers"] is False
    flags = ["serve", "--proxy-headers", "--forwarded-allow-ips", "10.0.0.0/8"]
    assert runner.invoke(cli.app, flags).exit_code == 0
    assert calls[-1]["proxy_headers"] is True and calls[-1]["forwarded_allow_ips"] == "10.0.0.0/8"
    monkeypatch.setenv("RECOMMENDER_PROXY_HEADERS", "true")
    monkeypatch.setenv("RECOMMENDER_FORWARDED_ALLOW_IPS", "172.18.0.2")
    assert runner.invoke(cli.app, ["serve"]).exit_code == 0
    assert calls[-1]["proxy_headers"] is True and calls[-1]["forwarded_allow_ips"] == "172.18.0.2"
    both = runner.invoke(cli.app, ["serve", "--workers", "2", "--metrics-port", "9100"])
    assert both.exit_code == 1 and "--metrics-port needs a single worker" in both.stderr
