"""PostgreSQL store with pgvector: SQLiteStore's methods and semantics, shared by several processes.

Selected by `RECOMMENDER_DATABASE_URL` (see recommender/store/factory.py). The tables are SQLite's;
vectors are pgvector `vector(dim)` columns, passages with an HNSW index (cosine) for
`nearest_passages`. The service's ranking still uses its exact in-memory snapshot. The SQL both
dialects share is in recommender/store/sql.py (SqlStore), the schema in recommender/store/schema.py
and the vector columns in recommender/store/pgvector.py; this file holds connections, pools,
replicas, advisory locks and applying migrations.

Semantics kept from SQLite:
- every write is one transaction; the `generation` / `decisions` counters in `meta` go up in that
  same transaction, so every process (other API workers, a CLI ingest) notices a change exactly as
  with SQLite. Writers are serialised by one transaction-level advisory lock, as SQLite's
  BEGIN IMMEDIATE serialises them: the checks inside a write (a decision's version, a model switch's
  generation) hold, and nothing can deadlock. Write transactions are short (embedding and ranking
  happen before them), so readers, which never wait, are what scales.
- `load_index` and `audit_entries` read one consistent snapshot (REPEATABLE READ).
- vectors of one encoder only (EncoderMismatch otherwise); `reencode` swaps them all at once.

Migrations are an ordered list applied under a session advisory lock with a `schema_version`
table, so processes starting together do not race. A read replica (`database_read_url`) serves
only the lookups a route marks with `replica_reads()` (see recommender/store/replica.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg.types.json import Json
from psycopg_pool import ConnectionPool, PoolTimeout

from recommender.articles.model import Article
from recommender.domain import LinkRow, StoredArticle, StoreUnavailable
from recommender.store.pgranking import PgRanking
from recommender.store.pgvector import as_f32
from recommender.store.replica import replica_allowed
from recommender.store.schema import migrations, purposes

log = logging.getLogger(__name__)

# Schema version i+1 is MIGRATIONS[i], rendered from the one definition both dialects share.
MIGRATIONS: list[str] = migrations("postgresql")
PURPOSES: list[str] = purposes("postgresql")

# Advisory lock keys: (application, purpose). The first number keeps clear of other applications.
_LOCK_APP = 0x44495645  # "DIVE"
_LOCK_MIGRATE = 0
_LOCK_WRITE = 1


def conninfo(url: str) -> str:
    """Accept SQLAlchemy-style driver names too (postgresql+psycopg://...)."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres+psycopg://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def connection_lost(exc: BaseException) -> bool:
    """Whether a psycopg error means the server went away (not a fault of the statement itself)."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = getattr(exc, "sqlstate", None)
    # No SQLSTATE: the client lost the socket; 08: connection exception; 57P01-3: shutdown, crash, starting up.
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def redact(url: str) -> str:
    """The URL without its password, for logs and messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(conninfo(url))
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable URL)"
    host, port, dbname, user = info.get("host", ""), info.get("port"), info.get("dbname", ""), info.get("user")
    return f"postgresql://{user + '@' if user else ''}{host}{':' + str(port) if port else ''}/{dbname}"


def probe(url: str, timeout: float) -> None:
    """Connect once and leave: StoreUnavailable naming the URL (no password) when that fails."""
    try:
        psycopg.connect(conninfo(url), connect_timeout=max(1, int(timeout))).close()
    except psycopg.Error as exc:
        raise StoreUnavailable(f"cannot connect to {redact(url)}: {str(exc).strip()}") from exc


class PostgresStore(PgRanking):
    placeholder = "%s"
    NEEDS_LINK = "needs_link"
    NEWEST_FIRST = "a.checked_on DESC NULLS LAST, a.updated_at DESC"

    def __init__(
        self,
        url: str,
        model_id: str,
        read_url: str | None = None,
        pool_min: int = 1,
        pool_max: int = 10,
        timeout: float = 30.0,
    ) -> None:
        self.url = conninfo(url)
        self.model_id = model_id
        self._timeout = timeout
        self._local = threading.local()  # .pinned: (connection, is replica) inside consistent_read()
        self._migrate()
        self._pool = self._open_pool(self.url, "primary", pool_min, pool_max)
        self._read_pool = self._pool
        if read_url and conninfo(read_url) != self.url:
            self._read_pool = self._open_pool(conninfo(read_url), "replica", pool_min, pool_max)

    # -- connections -------------------------------------------------------------------------
    def _open_pool(self, url: str, name: str, pool_min: int, pool_max: int) -> ConnectionPool:
        pool = ConnectionPool(
            url,
            min_size=pool_min,
            max_size=max(pool_min, pool_max),
            kwargs={"autocommit": True, "connect_timeout": max(1, int(self._timeout))},
            configure=register_vector,
            # A connection is checked when taken: after a failover or a server restart the pool
            # reconnects instead of handing out a dead connection (one round trip per checkout).
            check=ConnectionPool.check_connection,
            timeout=self._timeout,
            name=f"recommender-{name}",
            open=False,
        )
        pool.open()
        try:
            pool.wait(timeout=self._timeout)
        except Exception as exc:
            pool.close()
            raise StoreUnavailable(f"cannot connect to {redact(url)} within {self._timeout:g} s: {exc}") from exc
        return pool

    def _pinned(self, replica: bool) -> psycopg.Connection | None:
        """This thread's consistent_read() connection, if it may serve this read: a replica's only
        serves replica-eligible lookups (the generation check and writes' reads stay on the primary)."""
        pinned = getattr(self._local, "pinned", None)
        if pinned is not None and (replica or not pinned[1]):
            return pinned[0]
        return None

    @contextmanager
    def _conn(self, replica: bool = False) -> Iterator[psycopg.Connection]:
        """A pooled connection (autocommit): from the replica pool only for marked lookups."""
        pinned = self._pinned(replica)
        if pinned is not None:
            yield pinned
            return
        pool = self._read_pool if replica and replica_allowed() else self._pool
        with self._reachable(pool), pool.connection() as conn:
            yield conn

    @contextmanager
    def _reachable(self, pool: ConnectionPool) -> Iterator[None]:
        """A lost server becomes StoreUnavailable (the API answers 503). The pool checks each
        connection it hands out, so the next request after the server is back reconnects."""
        try:
            yield
        except psycopg.Error as exc:
            if not connection_lost(exc):
                raise
            raise StoreUnavailable(f"the database {redact(pool.conninfo)} is unreachable: {str(exc).strip()}") from exc

    @contextmanager
    def consistent_read(self) -> Iterator[None]:
        """Every read of this thread inside sees the same committed state (no write half-seen)."""
        if getattr(self._local, "pinned", None) is not None:
            yield
            return
        replica = replica_allowed()
        with self._read(replica=replica) as conn:
            self._local.pinned = (conn, replica and self._read_pool is not self._pool)
            try:
                yield
            finally:
                self._local.pinned = None

    def _rows(self, sql: str, params: Sequence[Any] = (), replica: bool = False) -> list[tuple]:
        with self._conn(replica) as conn:
            return conn.execute(sql, params).fetchall()

    @contextmanager
    def _write(self, counter: str | None = "generation", changed: Collection[str] | None = None) -> Iterator[psycopg.Connection]:
        """One transaction; bumps `counter` in meta (generation: articles and links changed; `changed`:
        see SqlCore._write)."""
        # One transaction: a connection lost halfway rolls the whole write back on the server.
        with self._reachable(self._pool), self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_APP, _LOCK_WRITE))
            yield conn
            if counter is not None:
                self._bump(conn, counter)
                if counter == "generation":
                    self._log_changes(conn, changed)

    def _bump(self, conn: psycopg.Connection, counter: str) -> None:
        conn.execute("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = %s", (counter,))
        if counter == "generation":
            self._set_meta(conn, "generation_at", dt.datetime.now(dt.UTC).isoformat())

    @contextmanager
    def _read(self, replica: bool = False) -> Iterator[psycopg.Connection]:
        """One consistent snapshot for several queries; inside consistent_read() it joins that one."""
        pinned = self._pinned(replica)
        if pinned is not None:
            yield pinned
            return
        with self._conn(replica) as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield conn

    def _migrate(self) -> None:
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=max(1, int(self._timeout)))
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"cannot connect to {redact(self.url)}: {exc}") from exc
        with conn:
            # A session lock: a second process starting now waits here, then finds nothing to do.
            conn.execute("SELECT pg_advisory_lock(%s, %s)", (_LOCK_APP, _LOCK_MIGRATE))
            try:
                conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                row = conn.execute("SELECT version FROM schema_version").fetchone()
                if row is None:
                    conn.execute("INSERT INTO schema_version (version) VALUES (0)")
                version = row[0] if row else 0
                if version > len(MIGRATIONS):
                    raise StoreUnavailable(
                        f"{redact(self.url)} has schema version {version}, newer than this code ({len(MIGRATIONS)})"
                    )
                for step in range(version, len(MIGRATIONS)):
                    with conn.transaction():
                        try:
                            conn.execute(MIGRATIONS[step])  # type: ignore[arg-type]  # several statements, no parameters
                        except psycopg.errors.UndefinedFile as exc:  # no vector.control on the server
                            raise StoreUnavailable(
                                f"the pgvector extension is not installed on the server of {redact(self.url)} ({exc})"
                            ) from exc
                        except psycopg.errors.InsufficientPrivilege as exc:
                            raise StoreUnavailable(
                                f"migration {step + 1} on {redact(self.url)} needs a privilege this user lacks ({exc}); "
                                "on a managed server an administrator may have to run CREATE EXTENSION vector first"
                            ) from exc
                        except psycopg.errors.UndefinedObject as exc:  # e.g. no halfvec: pgvector before 0.7
                            raise StoreUnavailable(
                                f"migration {step + 1} ({PURPOSES[step]}) failed on {redact(self.url)}: {exc}; "
                                "it needs pgvector 0.7 or newer (ALTER EXTENSION vector UPDATE once a newer one is "
                                "installed on the server); the database is still at schema version "
                                f"{step}, nothing of this migration was applied"
                            ) from exc
                        conn.execute("UPDATE schema_version SET version = %s", (step + 1,))
                    log.info("migrated %s to schema version %d", redact(self.url), step + 1)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (_LOCK_APP, _LOCK_MIGRATE))

    # -- SqlStore hooks ----------------------------------------------------------------------
    def _in(self, values: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
        if values:
            yield "= ANY(?)", [list(values)]

    def _restored_audit(self, conn: psycopg.Connection) -> None:
        # Explicit ids were written: the next generated one must come after them.
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('audit', 'id'), COALESCE((SELECT MAX(id) FROM audit), 0) + 1, false)"
        )

    def _assign_clusters(self, conn: psycopg.Connection, clusters: Mapping[str, str], upsert: bool) -> None:
        conflict = " ON CONFLICT (question_id) DO UPDATE SET cluster = excluded.cluster" if upsert else ""
        conn.execute(
            """INSERT INTO question_clusters (question_id, cluster)
               SELECT c.question_id, c.cluster FROM unnest(%s::text[], %s::text[]) AS c(question_id, cluster)
               WHERE EXISTS (SELECT 1 FROM questions WHERE id = c.question_id)""" + conflict,
            (list(clusters), list(clusters.values())),
        )

    @staticmethod
    def _json(value: Any, ensure_ascii: bool = False) -> Json:
        return Json(value) if ensure_ascii else Json(value, dumps=_dumps)

    @staticmethod
    def _from_json(value: Any) -> Any:
        return value  # psycopg parses JSON columns

    @staticmethod
    def _date(value: dt.date | None) -> dt.date | None:
        return value

    @staticmethod
    def _timestamp(value: dt.datetime | None) -> str | None:
        return value.astimezone(dt.UTC).isoformat() if value else None

    @staticmethod
    def _temporal(value: dt.date | None) -> dt.date | None:
        return value

    def _where(self) -> str:
        return redact(self.url)

    def schema_version(self) -> int:
        return self._rows("SELECT version FROM schema_version")[0][0]

    def close(self) -> None:
        if self._read_pool is not self._pool:
            self._read_pool.close()
        self._pool.close()

    # -- writes ------------------------------------------------------------------------------
    def _write_questions(self, conn: psycopg.Connection, item: StoredArticle) -> None:
        article = item.article
        conn.execute("DELETE FROM questions WHERE article_id = %s", (article.id,))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO questions (id, article_id, position, text, key, model_id, vector, needs_link) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, TRUE)",
                [
                    (q.id, q.article_id, q.position, q.text, q.key, self.model_id, as_f32(vec))
                    for q, vec in zip(article.question_records(), item.question_vectors)
                ],
            )

    def replace_links(self, links: dict[str, list[LinkRow]]) -> None:
        with self._write(changed=()) as conn:  # links only: no indexed content changes
            present = {
                r[0] for r in conn.execute("SELECT id FROM questions WHERE id = ANY(%s)", (list(links),)).fetchall()
            }
            ids = [q for q in links if q in present]  # others were deleted meanwhile
            conn.execute("DELETE FROM links WHERE question_id = ANY(%s)", (ids,))
            self._insert_links(conn, (r for q in ids for r in links[q]))
            conn.execute("UPDATE questions SET needs_link = FALSE WHERE id = ANY(%s)", (ids,))


    # -- reads -------------------------------------------------------------------------------
    def get_article(self, article_id: str) -> Article | None:
        with self._read(replica=True) as conn:
            return self._get_article(conn, article_id)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
