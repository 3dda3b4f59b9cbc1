"""`recommender status`: counts, encoder, index age, queues and staleness, read without changing anything."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender import cli
from recommender.config import Settings
from recommender.services import Services
from recommender.domain import Decision
from recommender.store.factory import open_store
from recommender.store.postgres import redact
from tests.conftest import BOTH_STORES
from tests.fakes import HashingEncoder

runner = CliRunner()


@pytest.fixture(params=BOTH_STORES)
def store_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture()
def status_db(settings: Settings, sample_articles, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:  # type: ignore[no-untyped-def]
    """The sample ingested with the fake encoder; the command reads it through RECOMMENDER_* like in production."""
    services = Services.start(settings, encoder=HashingEncoder())
    services.catalog.ingest(sample_articles[:6])
    services.close()
    monkeypatch.setenv("RECOMMENDER_DB", str(settings.db))
    if settings.database_url:
        monkeypatch.setenv("RECOMMENDER_DATABASE_URL", settings.database_url)
    monkeypatch.setattr(cli.context, "load_encoder", lambda settings, name: HashingEncoder())
    yield settings


def status_json() -> dict:
    result = runner.invoke(cli.app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_status_reports_counts_encoder_and_a_fresh_index(status_db: Settings, sample_articles) -> None:  # type: ignore[no-untyped-def]
    report = status_json()
    articles = sample_articles[:6]
    assert report["counts"]["articles"] == 6
    assert report["counts"]["questions"] == sum(len(a.questions) for a in articles)
    assert report["counts"]["passages"] > 6 and report["counts"]["links"] > 0
    questions = report["questions"]
    assert questions["answered"] > 0
    assert questions["answered"] + questions["gaps"] + questions["hidden"] <= report["counts"]["questions"]
    assert report["encoder"] == {"model": Settings().model, "model_id": "hashing-test@1", "backend": "HashingEncoder", "error": None}
    assert report["stored_model_ids"] == ["hashing-test@1"]
    assert report["stale"] is False and report["stale_reasons"] == []
    assert report["queues"]["articles_pending"] == 0 and report["queues"]["questions_to_link"] == 0
    assert report["queues"]["review_unreviewed"] >= questions["waiting_review"]
    index = report["index"]
    assert 0 <= index["age_seconds"] < 120
    changed = dt.datetime.fromisoformat(index["changed_at"])
    assert changed >= dt.datetime.fromisoformat(index["last_ingest_at"])  # relinking came after the articles
    if status_db.database_url:
        assert report["database"] == {"backend": "postgres", "location": redact(status_db.database_url)}
    else:
        assert report["database"] == {"backend": "sqlite", "location": str(status_db.db)}

    human = runner.invoke(cli.app, ["status"])
    assert human.exit_code == 0, human.output
    assert "links      current" in human.output
    assert f"{report['counts']['articles']} articles" in human.output and "hashing-test@1" in human.output


def test_status_says_what_is_stale_and_changes_nothing(status_db: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(status_db, "hashing-test@1")
    try:
        waiting = [q.id for q, _ in store.best_links()][:3]
        store.mark_for_linking(waiting)
        # A relink owed for a stored version counts; a record of a version never written cannot become
        # fresh (a crash mid-PUT by an older release) and does not.
        article, stored = next(iter(store.content_hashes().items()))
        store.add_pending_articles({article: stored, "never-written": "some-hash"})
        generation = store.generation()
    finally:
        store.close()
    monkeypatch.setattr(cli.context, "load_encoder", lambda settings, name: HashingEncoder(model_id="hashing-test@2"))
    report = status_json()
    assert report["stale"] is True
    reasons = " | ".join(report["stale_reasons"])
    assert "3 questions waiting to be linked" in reasons
    assert "1 articles whose relinking did not complete" in reasons
    assert "vectors from hashing-test@1, not the configured encoder hashing-test@2" in reasons
    assert report["queues"]["questions_to_link"] == 3 and report["queues"]["articles_pending"] == 1
    assert "STALE: 3 questions waiting" in runner.invoke(cli.app, ["status"]).output

    store = open_store(status_db, "hashing-test@1")
    try:  # an Services would have relinked and re-encoded: status only read
        assert store.generation() == generation and sorted(store.questions_to_link()) == sorted(waiting)
        assert store.stored_model_ids() == {"hashing-test@1"}
    finally:
        store.close()


def test_other_ranking_settings_make_the_links_stale_until_relink_recomputes_them(
    status_db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECOMMENDER_DENSE_WEIGHT", "0.3")
    report = status_json()
    assert report["stale"] is True
    assert any("other ranking settings" in reason for reason in report["stale_reasons"]), report["stale_reasons"]
    monkeypatch.setattr(cli.context, "open_services", lambda settings: Services.start(settings, encoder=HashingEncoder()))
    relinked = runner.invoke(cli.app, ["relink"])
    assert relinked.exit_code == 0, relinked.output
    assert "links current" in relinked.output
    after = status_json()
    assert after["stale"] is False, after["stale_reasons"]
    verified = runner.invoke(cli.app, ["verify"])
    assert verified.exit_code == 0, verified.output


def test_relink_all_recomputes_every_question_and_needs_a_database(
    status_db: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.context, "open_services", lambda settings: Services.start(settings, encoder=HashingEncoder()))
    result = runner.invoke(cli.app, ["relink", "--all"])
    assert result.exit_code == 0, result.output
    assert f"every question relinked ({status_json()['counts']['questions']})" in result.output
    if not status_db.database_url:
        monkeypatch.setenv("RECOMMENDER_DB", str(tmp_path / "absent.db"))
        missing = runner.invoke(cli.app, ["relink"])
        assert missing.exit_code != 0 and "no database at" in missing.output


def test_index_time_moves_with_the_generation_not_with_decisions(status_db: Settings) -> None:
    store = open_store(status_db, "hashing-test@1")
    try:
        before = store.activity()
        assert before.index_changed_at is not None and before.staged == 0
        question = next(q for q, _ in store.best_links())
        store.save_decisions([])  # nothing to write
        from recommender.domain import AuditEntry

        decision = Decision(question.article_id, question.key, hidden=True, version=1, updated_by="alice", updated_at="2026-01-01T00:00:00+00:00")
        entry = AuditEntry("2026-01-01T00:00:00+00:00", "alice", "hide", question.id, question.key, question.article_id, None, {}, {})
        store.save_decisions([(0, decision, entry)])
        assert store.activity().index_changed_at == before.index_changed_at  # a decision is no index change
        store.mark_for_linking([question.id])
        after = store.activity()
        assert after.index_changed_at > before.index_changed_at
        assert after.last_ingest_at == before.last_ingest_at  # no article was written
    finally:
        store.close()


def test_status_without_a_database_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOMMENDER_DB", str(tmp_path / "nothing.db"))
    result = runner.invoke(cli.app, ["status"])
    assert result.exit_code == 1
    assert "no database at" in result.output and not (tmp_path / "nothing.db").exists()


def test_migration_dates_an_older_database_by_its_newest_article(status_db: Settings) -> None:
    import sqlite3

    if status_db.database_url:
        pytest.skip("the SQLite file's migration (PostgreSQL's runs in tests/store on a fresh database)")
    with sqlite3.connect(status_db.db) as conn:  # as the database was before migration 5
        conn.execute("DELETE FROM meta WHERE key = 'generation_at'")
        for table in ("editors", "audit"):  # and before migration 6 (roles), which runs again too
            conn.execute(f"ALTER TABLE {table} DROP COLUMN role")  # noqa: S608 (fixed names)
        conn.execute("PRAGMA user_version = 4")  # migration 8's indexes stay: built ahead, it keeps them
        newest = conn.execute("SELECT MAX(updated_at) FROM articles").fetchone()[0]
    store = open_store(status_db, "hashing-test@1")
    try:
        assert store.activity().index_changed_at == newest
    finally:
        store.close()


def test_a_bad_setting_names_the_variable(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "RECOMMENDER_DB": str(tmp_path / "x.db"), "RECOMMENDER_LOG_LEVEL": "chatty"}
    result = subprocess.run([sys.executable, "-m", "recommender.cli", "status"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: RECOMMENDER_LOG_LEVEL='CHATTY': Input should be 'DEBUG'")
    assert "Traceback" not in result.stderr


def test_status_recomputes_links_and_reports_differences(status_db: Settings) -> None:
    report = status_json()
    assert report["verification"]["checked"] == min(200, report["verification"]["questions"]) > 0
    assert report["verification"]["links_differ"] == 0 and report["stale"] is False
    store = open_store(status_db, "hashing-test@1")
    try:
        question = next(q for q, link in store.best_links() if link is not None)
        store.replace_links({question.id: []})  # what a lost write would leave
    finally:
        store.close()
    result = runner.invoke(cli.app, ["status", "--json", "--verify-sample", "1000"])
    report = json.loads(result.output)
    assert report["verification"]["links_differ"] == 1 and report["stale"] is True
    assert "1 of" in " ".join(report["stale_reasons"])
