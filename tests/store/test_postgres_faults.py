"""PostgreSQL going away: at start a message naming the URL (no password) and exit 1; mid-run a 503,
a reconnect on the next request, and nothing half-written."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from recommender.api import create_app
from recommender.cli.app import app as cli
from recommender.config import Settings
from recommender.domain import StoreUnavailable
from recommender.services import Services
from recommender.store.postgres import PostgresStore
from tests.pg import PgServer
from tests.store.conftest import article, stored

pytestmark = pytest.mark.postgres


def closed_port_url() -> str:
    with socket.socket() as sock:  # a port nothing listens on (bound, then released)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://writer:s3cret-pw@127.0.0.1:{port}/news"


@pytest.mark.parametrize("command", [["status"], ["serve"]])
def test_an_unreachable_database_at_start_names_the_url_without_its_password(command: list[str]) -> None:
    url = closed_port_url()
    result = CliRunner().invoke(cli, command, env={"RECOMMENDER_DATABASE_URL": url, "RECOMMENDER_DATABASE_TIMEOUT": "2"})
    assert result.exit_code == 1, result.output
    assert "s3cret-pw" not in result.stderr
    port = url.rsplit(":", 1)[1].split("/")[0]
    assert f"postgresql://writer@127.0.0.1:{port}/news" in result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr


@pytest.fixture()
def pg_database(pg_server: PgServer) -> Iterator[tuple[PgServer, str]]:
    name = pg_server.create()
    yield pg_server, name
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
    pg_server.drop(name)


def cut_off(server: PgServer, name: str, allow: bool) -> None:
    """Refuse (or allow again) new connections to the database and end the open ones: what a lost
    server looks like to this process."""
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {'true' if allow else 'false'}")
        if not allow:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))


def test_a_lost_database_is_a_503_then_the_next_request_reconnects(pg_database, fake_encoder) -> None:  # type: ignore[no-untyped-def]
    server, name = pg_database
    settings = Settings(database_url=server.url_of(name), refresh_seconds=0, database_timeout=2)
    services = Services.start(settings, encoder=fake_encoder)
    services.catalog.ingest([article("a1", ["Is the water safe?"], body="Tap water is safe to drink.")])
    try:
        with TestClient(create_app(settings, services)) as client:
            assert client.get("/v1/articles/a1/dive-deeper").status_code == 200
            cut_off(server, name, allow=False)
            lost = client.get("/v1/articles/a1/dive-deeper")
            assert lost.status_code == 503, lost.text
            assert "database is unavailable" in lost.json()["detail"]
            assert "Retry-After" in lost.headers
            cut_off(server, name, allow=True)
            again = client.get("/v1/articles/a1/dive-deeper")
            assert again.status_code == 200, again.text
    finally:
        services.close()


def test_a_write_cut_off_halfway_leaves_nothing_behind(pg_database, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    server, name = pg_database
    store = PostgresStore(server.url_of(name), "m@1", timeout=2)
    try:
        store.upsert([stored(article("kept", ["Old question?"]))])
        generation = store.generation()
        original = PostgresStore._write_questions

        def lose_connection(self, conn, item):  # type: ignore[no-untyped-def]
            original(self, conn, item)  # the article row and its passages are written by now
            with psycopg.connect(server.url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))

        monkeypatch.setattr(PostgresStore, "_write_questions", lose_connection)
        with pytest.raises(StoreUnavailable, match="unreachable"):
            store.upsert([stored(article("kept", ["New question?"], body="Changed body.")), stored(article("new"))])
        monkeypatch.undo()
        assert store.generation() == generation
        assert store.get_article("new") is None
        assert [q.text for q in store.questions_of("kept")] == ["Old question?"]
    finally:
        store.close()
