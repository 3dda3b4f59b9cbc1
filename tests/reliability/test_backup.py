"""`recommender export` / `recommender import`: a backup restores the same widget output and review
state into an empty database; a bad backup is refused line by line and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from recommender import cli
from recommender.api import create_app
from recommender.config import Settings
from recommender.services import Services
from tests.conftest import ROOT, add_editor
from tests.fakes import HashingEncoder
from tests.reliability.conftest import dump, small_articles

runner = CliRunner()


def rounded(value: Any) -> Any:
    """Scores to 4 places: re-embedding in other batches may move the last float bits."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def service_state(services: Services, token: str) -> dict[str, Any]:
    """What readers and editors see: every widget response, every review queue, audit and coverage."""
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(services.settings, services=services)) as client:
        state: dict[str, Any] = {}
        for article_id in sorted(services.holder.snapshot().articles):
            response = client.get(f"/v1/articles/{article_id}/dive-deeper")
            assert response.status_code == 200, response.text
            state[f"widget {article_id}"] = response.json()
        for kind in ("unreviewed", "changed", "gaps"):
            response = client.get("/v1/review", params={"kind": kind, "limit": 200}, headers=headers)
            assert response.status_code == 200, response.text
            state[f"review {kind}"] = response.json()
        state["audit"] = client.get("/v1/audit", params={"limit": 500}, headers=headers).json()
        state["coverage"] = client.get("/v1/coverage", headers=headers).json()
        state["me"] = client.get("/v1/editors/me", headers=headers).json()
    return rounded(state)


@pytest.fixture()
def use_db(monkeypatch: pytest.MonkeyPatch, real_encoder):  # type: ignore[no-untyped-def]
    """Point the CLI at a database (with the session's model, loaded once)."""
    monkeypatch.setenv("RECOMMENDER_MODELS_DIR", str(ROOT / "models"))
    monkeypatch.setattr(cli.context, "open_services", lambda settings: Services.start(settings, encoder=real_encoder))

    def use(db: Path, database_url: str | None = None) -> None:
        monkeypatch.setenv("RECOMMENDER_DB", str(db))
        if database_url:  # the services' PostgreSQL database (RECOMMENDER_TEST_STORE=postgres)
            monkeypatch.setenv("RECOMMENDER_DATABASE_URL", database_url)
        else:
            monkeypatch.delenv("RECOMMENDER_DATABASE_URL", raising=False)

    return use


def decide_some(services: Services) -> None:
    """One decision of every kind, and a decision changed twice (versions and audit history)."""
    statuses = [s for s in services.reading.statuses() if s.links]
    answered = [s for s in statuses if s.effective.answer is not None]
    first, second, third, fourth, fifth = answered[:5]
    services.editorial.decide(first.question.id, "approve", None, "alice")
    services.editorial.decide(second.question.id, "reject", None, "alice")
    services.editorial.decide(third.question.id, "pin", third.links[-1].article_id, "bob")
    services.editorial.decide(fourth.question.id, "hide", None, "bob")
    services.editorial.decide(fifth.question.id, "gap", None, "alice")
    services.editorial.decide(first.question.id, "clear", None, "bob")
    services.editorial.decide(first.question.id, "approve", None, "bob")


@pytest.mark.slow
@pytest.mark.costly(38)
def test_export_then_import_restores_widget_and_review_state(
    writable_sample_services: Services,
    tmp_path: Path,
    use_db,
    real_encoder,  # type: ignore[no-untyped-def]
    request: pytest.FixtureRequest,
) -> None:
    source = writable_sample_services
    token = add_editor(source.store, "alice", "editor")
    add_editor(source.store, "bob", "admin")
    decide_some(source)  # the audit log records alice's and bob's roles
    source.store.revoke_editor("bob")
    assert {e.role for e in source.store.audit_entries(limit=100)[1]} == {"editor", "admin"}
    before = service_state(source, token)
    backup = tmp_path / "backup.jsonl"
    use_db(source.settings.db, source.settings.database_url)
    exported = runner.invoke(cli.app, ["export", str(backup)])
    assert exported.exit_code == 0, exported.output
    kinds = [json.loads(line)["type"] for line in backup.read_text().splitlines()]
    assert kinds[0] == "header" and {"article", "decision", "audit", "editor"} <= set(kinds)
    assert token not in backup.read_text()  # token hashes only

    restored_db, restored_url = tmp_path / "restored.db", None
    if source.settings.database_url:  # restored into the same kind of store: rankings are the backend's
        server = request.getfixturevalue("pg_server")
        name = server.create()
        restored_url = server.url_of(name)
        request.addfinalizer(lambda: server.drop(name))
    use_db(restored_db, restored_url)
    imported = runner.invoke(cli.app, ["import", str(backup)])
    assert imported.exit_code == 0, imported.output
    restored = Services.start(
        Settings(db=restored_db, database_url=restored_url, models_dir=ROOT / "models", refresh_seconds=0),
        encoder=real_encoder,
    )
    try:
        after = service_state(restored, token)  # the same token still signs in
        assert after == before
        assert restored.store.all_decisions() == source.store.all_decisions()
        assert [r.editor for r in restored.store.editor_records()] == [r.editor for r in source.store.editor_records()]
        assert restored.store.counts()["pending"] == 0
    finally:
        restored.close()


def test_import_refuses_a_database_in_use_unless_forced(
    fake_service,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    source = fake_service.services
    decide_some(source)
    before = service_state(source, fake_service.token)
    backup = tmp_path / "backup.jsonl"
    monkeypatch.setenv("RECOMMENDER_DB", str(source.settings.db))
    assert runner.invoke(cli.app, ["export", str(backup)]).exit_code == 0

    target = Services.start(source.settings.model_copy(update={"db": tmp_path / "busy.db"}), encoder=HashingEncoder())
    target.catalog.ingest(small_articles(3, prefix="other"))
    target.close()
    monkeypatch.setenv("RECOMMENDER_DB", str(tmp_path / "busy.db"))
    monkeypatch.setattr(cli.context, "open_services", lambda settings: Services.start(settings, encoder=HashingEncoder()))
    unchanged = dump(tmp_path / "busy.db")
    refused = runner.invoke(cli.app, ["import", str(backup)])
    assert refused.exit_code == 1 and "not empty" in refused.output and "--force" in refused.output
    assert dump(tmp_path / "busy.db") == unchanged

    forced = runner.invoke(cli.app, ["import", "--force", str(backup)])
    assert forced.exit_code == 0, forced.output
    restored = Services.start(source.settings.model_copy(update={"db": tmp_path / "busy.db"}), encoder=HashingEncoder())
    try:
        assert service_state(restored, fake_service.token) == before
        assert not any(a.startswith("other") for a in restored.holder.snapshot().articles)
    finally:
        restored.close()


def test_export_can_leave_editors_out(fake_service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RECOMMENDER_DB", str(fake_service.services.settings.db))
    backup = tmp_path / "b.jsonl"
    result = runner.invoke(cli.app, ["export", "--no-editors", str(backup)])
    assert result.exit_code == 0, result.output
    kinds = {json.loads(line)["type"] for line in backup.read_text().splitlines()}
    assert "editor" not in kinds and "article" in kinds


BAD_LINES = [
    ('{"type": "article", "data": {"id": "x", "title": "T"}}', "first line must be the header"),
    ('{"type": "article", "data": {"id": "bad id!", "title": "T"}}', "article: id: String should match pattern"),
    ('{"type": "article", "data": {"id": "a1", "title": "T", "questions": ["  "]}}', "question 1 is empty"),
    ('{"type": "article", "data": {"id": "a1", "title": "T", "checked_on": "2999-01-01"}}', "is in the future"),
    (
        '{"type": "decision", "data": {"article_id": "a1", "key": "k", "version": 0}}',
        "version: Input should be greater",
    ),
    ('{"type": "editor", "data": {"name": "x", "created_at": "t", "token_hash": "dd_plaintext"}}', "token_hash"),
    ('{"type": "nonsense", "data": {}}', "unknown record type 'nonsense'"),
    ('{"type": "article"}', 'expected {"type": ..., "data": {...}}'),
    ("{not json", "invalid JSON"),
]


@pytest.mark.parametrize(("line", "message"), BAD_LINES)
def test_a_bad_backup_line_is_named_and_nothing_is_imported(
    line: str,
    message: str,
    fake_service,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    header = '{"type": "header", "data": {"format": "dive-deeper-backup", "version": 1, "exported_at": "now"}}'
    good = '{"type": "article", "data": {"id": "a1", "title": "Fine"}}'
    lines = [good, line] if message == "first line must be the header" else [header, good, line]
    backup = tmp_path / "bad.jsonl"
    backup.write_text("\n".join(lines) + "\n")
    db = fake_service.services.settings.db
    before = dump(db)
    monkeypatch.setenv("RECOMMENDER_DB", str(db))
    monkeypatch.setattr(cli.context, "open_services", lambda settings: pytest.fail("a bad backup must not open the services"))
    result = runner.invoke(cli.app, ["import", "--force", str(backup)])
    assert result.exit_code == 1
    number = 1 if message == "first line must be the header" else len(lines)
    assert f"{backup}:{number}: " in result.output and message in result.output, result.output
    assert "nothing imported" in result.output
    assert dump(db) == before


def test_duplicate_and_non_utf8_lines_are_named(tmp_path: Path) -> None:
    from recommender.backup import BackupError, read_backup

    header = b'{"type": "header", "data": {"format": "dive-deeper-backup", "version": 1, "exported_at": "now"}}'
    article = b'{"type": "article", "data": {"id": "a1", "title": "Fine", "summary": "Yes."}}'
    backup = tmp_path / "dup.jsonl"
    backup.write_bytes(b"\n".join([header, article, article, b'{"type": "article", "data": {"id": "\xff"}}']))
    with pytest.raises(BackupError) as caught:
        read_backup(backup)
    assert f"{backup}:3: duplicate article 'a1' (also on line 2)" in caught.value.errors
    assert any(e.startswith(f"{backup}:4: not valid UTF-8") for e in caught.value.errors)
