"""What only the PostgreSQL store has: migrations under a lock, the HNSW index, pools, replicas, errors.

Behaviour shared with SQLite is tested on both stores (test_engine_store.py, tests/api/*).
"""

from __future__ import annotations

import datetime as dt
import inspect
import threading

import numpy as np
import psycopg
import pytest
from pydantic import ValidationError

from recommender.config import Settings
from recommender.services import Services
from recommender.domain import AuditEntry, Decision, VersionConflict
from recommender.store.postgres import MIGRATIONS, PostgresStore, redact
from recommender.store.replica import replica_reads
from recommender.store.sqlite import SQLiteStore
from recommender.store.vectors import Int8Rows, quantize
from tests.fakes import HashingEncoder
from tests.pg import PgServer
from tests.services.test_catalog import CORPUS

pytestmark = pytest.mark.postgres


@pytest.fixture()
def store_backend() -> str:
    return "postgres"


def test_postgres_store_has_every_public_method_of_the_sqlite_store() -> None:
    def public(cls: type) -> dict[str, list[str]]:
        return {
            name: list(inspect.signature(member).parameters)
            for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")
        }

    sqlite, postgres = public(SQLiteStore), public(PostgresStore)
    missing = sorted(set(sqlite) - set(postgres))
    assert not missing, f"PostgresStore lacks {missing}"
    assert {name: postgres[name] for name in sqlite} == sqlite  # same parameters too


def test_processes_starting_together_migrate_once(database_url: str) -> None:
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []
    stores: list[PostgresStore] = []

    def start() -> None:
        barrier.wait()
        try:
            stores.append(PostgresStore(database_url, "m@1", pool_min=0, pool_max=1))
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert [s.schema_version() for s in stores] == [len(MIGRATIONS)] * 4
    assert [s.generation() for s in stores] == [0] * 4
    for store in stores:
        store.close()


def test_a_schema_newer_than_the_code_is_refused(database_url: str) -> None:
    PostgresStore(database_url, "m@1").close()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(RuntimeError, match="schema version 99, newer than this code"):
        PostgresStore(database_url, "m@1")


def test_vectors_are_typed_and_passages_have_an_hnsw_index(settings: Settings) -> None:
    services = Services.start(settings, encoder=HashingEncoder())
    services.catalog.ingest(CORPUS)
    services.close()
    with psycopg.connect(settings.database_url or "") as conn:
        types = dict(
            conn.execute(
                "SELECT attrelid::regclass::text, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attname = 'vector' AND attrelid IN ('passages'::regclass, 'questions'::regclass)"
            ).fetchall()
        )
        index = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'passages_halfvec_hnsw'").fetchone()
    assert types == {"passages": "vector(256)", "questions": "vector(256)"}
    assert index is not None and "hnsw" in index[0] and "halfvec(256)" in index[0] and "halfvec_cosine_ops" in index[0]


def test_a_migration_the_server_cannot_apply_is_named_and_leaves_nothing_half_done(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E.g. pgvector older than 0.7 has no halfvec (migration 11): a clear error naming the migration,
    the version the database stays at, and none of the migration's statements applied."""
    from recommender.domain import StoreUnavailable
    from recommender.store import postgres

    PostgresStore(database_url, "m@1").close()
    failing = "CREATE TABLE half_done (x integer);\nSELECT NULL::halfvec_of_an_old_pgvector(3);\n"
    monkeypatch.setattr(postgres, "MIGRATIONS", [*MIGRATIONS, failing])
    monkeypatch.setattr(postgres, "PURPOSES", [*postgres.PURPOSES, "a step this server cannot run"])
    with pytest.raises(StoreUnavailable) as raised:
        PostgresStore(database_url, "m@1")
    message = str(raised.value)
    assert f"migration {len(MIGRATIONS) + 1} (a step this server cannot run) failed" in message
    assert "pgvector 0.7 or newer" in message and f"still at schema version {len(MIGRATIONS)}" in message
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("SELECT to_regclass('half_done')").fetchone()[0] is None


def test_a_database_with_the_float32_hnsw_index_gets_the_halfvec_one(settings: Settings) -> None:
    """Migration 11 on a database made by the code before it: the index over `vector` is replaced by the
    one over `halfvec`, and nearest passages are found through it again."""
    services = Services.start(settings, encoder=HashingEncoder())
    services.catalog.ingest(CORPUS)
    services.close()
    url = settings.database_url or ""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP INDEX passages_halfvec_hnsw")
        conn.execute("CREATE INDEX passages_vector_hnsw ON passages USING hnsw (vector vector_cosine_ops)")
        conn.execute("UPDATE schema_version SET version = %s", (len(MIGRATIONS) - 1,))
    store = PostgresStore(url, "hashing-test@1")
    try:
        with psycopg.connect(url) as conn:
            names = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'passages'")}
        assert "passages_halfvec_hnsw" in names and "passages_vector_hnsw" not in names
        assert store.hnsw_state() == "ready"
        vector = np.asarray(HashingEncoder().encode([CORPUS[0].title])[0])
        assert store.nearest_passages(vector, 1)[0].article_id == store.nearest_passages(vector, 1, exact=True)[0].article_id
    finally:
        store.close()


def test_nearest_passages_finds_a_passage_by_its_own_vector(settings: Settings) -> None:
    encoder = HashingEncoder()
    services = Services.start(settings, encoder=encoder)
    services.catalog.ingest(CORPUS)
    store = services.store
    assert isinstance(store, PostgresStore)
    query = encoder.encode(["Owls rotate their necks 270 degrees thanks to extra vertebrae."])[0]
    approximate = store.nearest_passages(query, 3)
    exact = store.nearest_passages(query, 3, exact=True)
    assert approximate[0].article_id == "owls" and approximate[0].cosine == pytest.approx(1.0, abs=1e-5)
    assert [(h.article_id, h.position) for h in approximate] == [(h.article_id, h.position) for h in exact]
    assert all(a.cosine >= b.cosine for a, b in zip(approximate, approximate[1:]))
    services.close()


def test_a_start_reads_vectors_streamed_and_quantised_as_the_index_would(settings: Settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Opening the index reads every question (and, in memory, every passage) through a server-side
    cursor, a batch at a time, into the int8 codes the index would make of the float32 vectors."""
    from recommender.store import pgvector

    services = Services.start(settings, encoder=HashingEncoder())
    services.catalog.ingest(CORPUS)
    store = services.store
    assert isinstance(store, PostgresStore)
    monkeypatch.setattr(pgvector, "_BATCH", 2)  # several batches even on this small corpus
    data = store.load_index_rows()
    assert isinstance(data.question_vectors, Int8Rows) and len(data.question_vectors) == len(data.questions) > 2
    with store._read() as conn:
        floats, rows = pgvector._read_matrix(
            conn, "SELECT id, vector_send(vector) FROM questions ORDER BY article_id, position"
        )
    codes, scales = quantize(floats)
    assert [q.id for q in data.questions] == [r[0] for r in rows]
    assert np.array_equal(data.question_vectors.codes, codes) and np.array_equal(data.question_vectors.scales, scales)
    services.close()


def _decision(version: int, editor: str) -> tuple[int, Decision, AuditEntry]:
    now = dt.datetime.now(dt.UTC).isoformat()
    decision = Decision("owls", "k", hidden=True, version=version + 1, updated_by=editor, updated_at=now)
    entry = AuditEntry(now, editor, "hide", "owls-q1", "k", "owls", None, {}, decision.state())
    return version, decision, entry


def test_two_processes_deciding_at_once_conflict_like_on_sqlite(settings: Settings) -> None:
    first = PostgresStore(settings.database_url or "", "m@1")
    second = PostgresStore(settings.database_url or "", "m@1")
    first.save_decisions([_decision(0, "alice")])
    with pytest.raises(VersionConflict):
        second.save_decisions([_decision(0, "bob")])  # read version 0 too: the write must not go through
    assert second.get_decision("owls", "k").updated_by == "alice"  # type: ignore[union-attr]
    assert first.counters()[1] == second.counters()[1] == 1
    total, entries = second.audit_entries()
    assert total == 1 and entries[0].editor == "alice"
    first.close()
    second.close()


def test_lookups_go_to_the_replica_only_where_marked(settings: Settings, pg_server: PgServer) -> None:
    """A lagging replica (here: another database) serves marked lookups; everything else the primary."""
    primary = PostgresStore(settings.database_url or "", "m@1")
    primary.add_editor("alice", "hash-a")
    replica_url = pg_server.url_of(pg_server.create())
    PostgresStore(replica_url, "m@1").close()  # same schema, nothing in it: a replica far behind
    store = PostgresStore(settings.database_url or "", "m@1", read_url=replica_url)
    store.save_decisions([_decision(0, "alice")])
    assert store.get_decision("owls", "k") is not None  # unmarked: the primary, read-your-writes
    assert store.counters() == (0, 1)
    with replica_reads():
        assert store.get_decision("owls", "k") is None  # marked: the replica, which lags
        assert store.counters() == (0, 0)  # ETag counters from the same source as the data
        assert store.generation() == 0 and [r.editor.name for r in store.editor_records()] == ["alice"]  # primary
    for s in (store, primary):
        s.close()


def test_a_server_that_does_not_answer_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match=r"cannot connect to postgresql://someone@127\.0\.0\.1:1/nothing") as info:
        PostgresStore("postgresql://someone:secret@127.0.0.1:1/nothing", "m@1", timeout=2)
    assert "secret" not in str(info.value)
    assert redact("postgresql+psycopg://u:pw@db.example:5433/app") == "postgresql://u@db.example:5433/app"


def test_the_database_url_setting_must_be_postgresql() -> None:
    with pytest.raises(ValidationError, match="must be a PostgreSQL URL"):
        Settings(database_url="mysql://localhost/app")
    assert Settings(database_url="  ").database_url is None


def test_reencode_to_another_size_keeps_the_index(settings: Settings) -> None:
    Services.start(settings, encoder=HashingEncoder(model_id="a@1")).close()
    first = Services.start(settings, encoder=HashingEncoder(model_id="a@1"))
    first.catalog.ingest(CORPUS)
    first.close()
    second = Services.start(settings, encoder=HashingEncoder(dim=64, model_id="b@1"))
    store = second.store
    assert isinstance(store, PostgresStore)
    hits = store.nearest_passages(np.eye(64, dtype=np.float32)[0], 2)
    assert len(hits) == 2
    with psycopg.connect(settings.database_url or "") as conn:
        index = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'passages_halfvec_hnsw'").fetchone()
    assert index is not None and "halfvec(64)" in index[0]
    second.close()


def test_a_backup_moves_a_sqlite_database_to_postgresql_and_back(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The operator's way from the embedded store to PostgreSQL: dump on one, restore on the other."""
    sqlite_settings = settings.model_copy(update={"database_url": None, "db": tmp_path / "from.db"})
    source = Services.start(sqlite_settings, encoder=HashingEncoder())
    source.catalog.ingest(CORPUS)
    source.store.add_editor("alice", "hash-a")
    source.editorial.decide("owls-q1", "reject", "tariffs", "alice")
    source.editorial.decide("bananas-q1", "pin", "tariffs", "alice")
    source.store.set_superseded(
        "bananas", "owls", AuditEntry(dt.datetime.now(dt.UTC).isoformat(), "alice", "supersede", "", "", "bananas", "owls", {}, {})
    )
    dump = source.store.dump()
    target = Services.start(settings, encoder=HashingEncoder())
    assert target.catalog.is_empty()
    target.catalog.restore(dump)
    assert target.store.dump() == dump
    assert target.store.all_decisions() == source.store.all_decisions()
    assert _links(target) == _links(source)
    target.editorial.decide("owls-q2", "hide", None, "alice")  # the audit sequence continues after the restored ids
    ids = [e.id for e in target.store.audit_entries()[1]]
    assert len(set(ids)) == len(ids) == len(dump.audit) + 1
    back = Services.start(sqlite_settings.model_copy(update={"db": tmp_path / "back.db"}), encoder=HashingEncoder())
    back.catalog.restore(target.store.dump())
    assert back.store.dump() == target.store.dump()
    for services in (source, target, back):
        services.close()


def _links(services: Services) -> dict[str, dict[str, float]]:
    """Question -> {fact check: score}: ties may be stored in either order."""
    ids = [q.id for q, _ in services.store.best_links()]
    return {q: {link.article_id: round(link.score, 6) for link in links} for q, links in services.store.links_of(ids).items()}


def test_a_consistent_read_does_not_see_a_write_committed_meanwhile(settings: Settings) -> None:
    reader = PostgresStore(settings.database_url or "", "m@1")
    writer = PostgresStore(settings.database_url or "", "m@1")
    with reader.consistent_read():
        before = reader.counters()
        writer.save_decisions([_decision(0, "bob")])
        assert reader.counters() == before and reader.get_decision("owls", "k") is None
        assert reader.audit_entries()[0] == 0  # a read transaction inside joins the same snapshot
    assert reader.get_decision("owls", "k") is not None and reader.counters()[1] == before[1] + 1
    reader.close()
    writer.close()
