"""PostgreSQL store with pgvector: SQLiteStore's methods and semantics, shared by several processes.

Selected by `RECOMMENDER_DATABASE_URL` (see recommender/store/factory.py). The tables are SQLite's;
vectors are pgvector `vector(dim)` columns, passages with an HNSW index (cosine) for
`nearest_passages`. The service's ranking still uses its exact in-memory snapshot. The SQL both
dialects share is in recommender/store/sql.py (SqlStore); this file holds what is PostgreSQL's own.

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
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg.types.json import Json
from psycopg_pool import ConnectionPool

from recommender.articles.model import Article
from recommender.domain import EncoderMismatch, LinkRow, StaleStage, StoredArticle, StoreUnavailable
from recommender.store.base import IndexData
from recommender.store.replica import replica_allowed
from recommender.store.sql import INDEX_ARTICLES, SqlStore, index_data
from recommender.store.sql import text_hash as _text_hash

log = logging.getLogger(__name__)

# Ordered migrations: index i brings the schema from version i to i+1. Never edit a shipped one.
# Identifiers are COLLATE "C" so ORDER BY sorts as SQLite does, whatever the database's locale.
# Vector columns start without a dimension: the first write fixes it to the encoder's (see _fit_dim).
MIGRATIONS: list[str] = [
    """
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE TABLE meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE articles (
        id TEXT COLLATE "C" PRIMARY KEY,
        title TEXT NOT NULL,
        checked_on DATE,
        summary TEXT NOT NULL,
        sections JSON NOT NULL,
        url TEXT,
        topic TEXT,
        body TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE passages (
        article_id TEXT COLLATE "C" NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        text TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        model_id TEXT NOT NULL,
        vector vector NOT NULL,
        PRIMARY KEY (article_id, position)
    );
    CREATE INDEX passages_text_hash ON passages(text_hash);
    CREATE TABLE questions (
        id TEXT COLLATE "C" PRIMARY KEY,
        article_id TEXT COLLATE "C" NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        text TEXT NOT NULL,
        key TEXT COLLATE "C" NOT NULL,
        model_id TEXT NOT NULL,
        vector vector NOT NULL,
        needs_link BOOLEAN NOT NULL DEFAULT TRUE
    );
    CREATE INDEX questions_article ON questions(article_id);
    CREATE INDEX questions_key ON questions(key);
    CREATE INDEX questions_needs_link ON questions(id) WHERE needs_link;
    CREATE TABLE links (
        question_id TEXT COLLATE "C" NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
        rank INTEGER NOT NULL,
        article_id TEXT COLLATE "C" NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        score DOUBLE PRECISION NOT NULL,
        dense DOUBLE PRECISION NOT NULL,
        lexical DOUBLE PRECISION NOT NULL,
        passage INTEGER NOT NULL,
        PRIMARY KEY (question_id, rank)
    );
    CREATE INDEX links_article ON links(article_id);
    INSERT INTO meta (key, value) VALUES ('generation', '0');
    """,
    # 2: editorial decisions, their audit log and editor tokens (as SQLite's migration 2).
    """
    CREATE TABLE decisions (
        article_id TEXT COLLATE "C" NOT NULL,
        question_key TEXT COLLATE "C" NOT NULL,
        pinned TEXT,
        approved TEXT,
        rejected JSON NOT NULL DEFAULT '[]',
        hidden BOOLEAN NOT NULL DEFAULT FALSE,
        gap BOOLEAN NOT NULL DEFAULT FALSE,
        target_hash TEXT,
        target_score DOUBLE PRECISION,
        version INTEGER NOT NULL,
        updated_by TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (article_id, question_key)
    );
    CREATE TABLE audit (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at TEXT NOT NULL,
        editor TEXT COLLATE "C" NOT NULL,
        action TEXT NOT NULL,
        question_id TEXT COLLATE "C" NOT NULL,
        question_key TEXT COLLATE "C" NOT NULL,
        article_id TEXT COLLATE "C" NOT NULL,
        target_id TEXT COLLATE "C",
        before JSON NOT NULL,
        after JSON NOT NULL
    );
    CREATE INDEX audit_question ON audit(article_id, question_key);
    CREATE INDEX audit_question_id ON audit(question_id);
    CREATE INDEX audit_target ON audit(target_id);
    CREATE INDEX audit_editor ON audit(editor);
    CREATE TABLE editors (
        name TEXT COLLATE "C" PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    INSERT INTO meta (key, value) VALUES ('decisions', '0');
    """,
    # 3: learning (as SQLite's migration 3): superseded fact checks, duplicate-question clusters, and
    # vectors of another encoder staged in the background (their own size, so no dimension here).
    """
    CREATE TABLE superseded (
        article_id TEXT COLLATE "C" PRIMARY KEY,
        by_article_id TEXT COLLATE "C" NOT NULL,
        updated_by TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE question_clusters (
        question_id TEXT COLLATE "C" PRIMARY KEY REFERENCES questions(id) ON DELETE CASCADE,
        cluster TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX question_clusters_cluster ON question_clusters(cluster);
    CREATE TABLE staged_passages (
        model_id TEXT COLLATE "C" NOT NULL,
        article_id TEXT COLLATE "C" NOT NULL,
        position INTEGER NOT NULL,
        text_hash TEXT NOT NULL,
        vector vector NOT NULL,
        PRIMARY KEY (model_id, article_id, position)
    );
    CREATE TABLE staged_questions (
        model_id TEXT COLLATE "C" NOT NULL,
        question_id TEXT COLLATE "C" NOT NULL,
        text_hash TEXT NOT NULL,
        vector vector NOT NULL,
        PRIMARY KEY (model_id, question_id)
    );
    """,
    # 4: `generation_at` in meta (as SQLite's migration 5): when the generation last moved, kept by
    # every write from now on; a database made before gets its newest article write as the best bound.
    """
    INSERT INTO meta (key, value)
        SELECT 'generation_at', to_char(latest AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
        FROM (SELECT MAX(updated_at) AS latest FROM articles) AS newest WHERE latest IS NOT NULL;
    """,
    # 5: roles on tokens (as SQLite's migration 6): existing tokens become `admin`; the audit log
    # records the role each decision was made with (NULL for entries older than roles).
    """
    ALTER TABLE editors ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'
        CHECK (role IN ('publisher', 'editor', 'admin'));
    ALTER TABLE audit ADD COLUMN role TEXT;
    """,
]

# Advisory lock keys: (application, purpose). The first number keeps clear of other applications.
_LOCK_APP = 0x44495645  # "DIVE"
_LOCK_MIGRATE = 0
_LOCK_WRITE = 1
HNSW_MAX_DIM = 2000  # pgvector's limit for an HNSW index on `vector`


@dataclass(frozen=True)
class PassageHit:
    """One passage found by the HNSW index: its article, position and cosine to the query."""

    article_id: str
    position: int
    cosine: float


def conninfo(url: str) -> str:
    """Accept SQLAlchemy-style driver names too (postgresql+psycopg://...)."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres+psycopg://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def redact(url: str) -> str:
    """The URL without its password, for logs and messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(conninfo(url))
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable URL)"
    host, port, dbname, user = info.get("host", ""), info.get("port"), info.get("dbname", ""), info.get("user")
    return f"postgresql://{user + '@' if user else ''}{host}{':' + str(port) if port else ''}/{dbname}"


def _f32(vector: np.ndarray) -> np.ndarray:
    return np.asarray(vector, dtype=np.float32)


def _array(value: Any) -> np.ndarray:
    """A loaded pgvector value as a float32 array."""
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=np.float32)


class PostgresStore(SqlStore):
    placeholder = "%s"
    NEEDS_LINK = "needs_link"
    VECTOR = "vector_send(vector)"  # pgvector's binary form, see _read_matrix
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
        with pool.connection() as conn:
            yield conn

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
    def _write(self, counter: str | None = "generation") -> Iterator[psycopg.Connection]:
        """One transaction; bumps `counter` in meta (generation: articles and links changed)."""
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_APP, _LOCK_WRITE))
            yield conn
            if counter is not None:
                self._bump(conn, counter)

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
                        conn.execute("UPDATE schema_version SET version = %s", (step + 1,))
                    log.info("migrated %s to schema version %d", redact(self.url), step + 1)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (_LOCK_APP, _LOCK_MIGRATE))

    # -- SqlStore hooks ----------------------------------------------------------------------
    def _in(self, values: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
        if values:
            yield "= ANY(?)", [list(values)]

    def _read_matrix(self, conn: psycopg.Connection, query: str, table: str) -> tuple[np.ndarray, list[tuple]]:
        return _read_matrix(conn, query)

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
    def _vector_param(vector: np.ndarray) -> np.ndarray:
        return _f32(vector)

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

    def schema_version(self) -> int:
        return self._rows("SELECT version FROM schema_version")[0][0]

    def close(self) -> None:
        if self._read_pool is not self._pool:
            self._read_pool.close()
        self._pool.close()

    # -- vector columns ----------------------------------------------------------------------
    @staticmethod
    def _column_dim(conn: psycopg.Connection, table: str) -> int | None:
        """The dimension of `table.vector`, None while it has none yet."""
        row = conn.execute(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'vector'", (table,)
        ).fetchone()
        return row[0] if row and row[0] > 0 else None

    def _fit_dim(self, conn: psycopg.Connection, table: str, dim: int, retype: bool = False) -> None:
        """Give `table.vector` the encoder's dimension (and passages their HNSW index).

        Done on the first write, and by `reencode` (retype) when the new encoder has another size.
        Vectors of another size with rows present are refused like SQLite refuses another encoder.
        """
        current = self._column_dim(conn, table)
        if current == dim:
            return
        if current is not None and not retype:
            if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:  # noqa: S608 (fixed names)
                raise EncoderMismatch(f"the database holds {current}-dimensional vectors, not {dim}; re-encode it first")
        if table == "passages":
            conn.execute("DROP INDEX IF EXISTS passages_vector_hnsw")
        conn.execute(f"ALTER TABLE {table} ALTER COLUMN vector TYPE vector({dim})")
        if table == "passages" and dim <= HNSW_MAX_DIM:
            conn.execute("CREATE INDEX passages_vector_hnsw ON passages USING hnsw (vector vector_cosine_ops)")

    @staticmethod
    def _drop_dim(conn: psycopg.Connection, table: str) -> None:
        """Another size: drop the dimension (and index) while rows change; _fit_dim sets the new one."""
        if table == "passages":
            conn.execute("DROP INDEX IF EXISTS passages_vector_hnsw")
        conn.execute(f"ALTER TABLE {table} ALTER COLUMN vector TYPE vector")

    # -- metadata ----------------------------------------------------------------------------
    def passage_vectors_by_text(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors already stored for identical passage texts (by this encoder): no re-embedding."""
        hashes = {_text_hash(t): t for t in texts}
        if not hashes:
            return {}
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT DISTINCT ON (text_hash) text_hash, vector FROM passages WHERE model_id = %s AND text_hash = ANY(%s)",
                (self.model_id, list(hashes)),
                binary=True,
            ).fetchall()
        return {hashes[text_hash]: _array(vector) for text_hash, vector in rows}

    # -- writes ------------------------------------------------------------------------------
    def _prepare_articles(self, conn: psycopg.Connection, items: Sequence[StoredArticle]) -> None:
        for table, dims in (
            ("passages", {np.shape(i.passage_vectors)[1] for i in items if len(i.passage_vectors)}),
            ("questions", {np.shape(i.question_vectors)[1] for i in items if len(i.question_vectors)}),
        ):
            if len(dims) > 1:
                raise EncoderMismatch(f"{table} vectors of several sizes in one write: {sorted(dims)}")
            if dims:
                self._fit_dim(conn, table, int(dims.pop()))

    def _write_questions(self, conn: psycopg.Connection, item: StoredArticle) -> None:
        article = item.article
        conn.execute("DELETE FROM questions WHERE article_id = %s", (article.id,))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO questions (id, article_id, position, text, key, model_id, vector, needs_link) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, TRUE)",
                [
                    (q.id, q.article_id, q.position, q.text, q.key, self.model_id, _f32(vec))
                    for q, vec in zip(article.question_records(), item.question_vectors)
                ],
            )

    def replace_links(self, links: dict[str, list[LinkRow]]) -> None:
        with self._write() as conn:
            present = {
                r[0] for r in conn.execute("SELECT id FROM questions WHERE id = ANY(%s)", (list(links),)).fetchall()
            }
            ids = [q for q in links if q in present]  # others were deleted meanwhile
            conn.execute("DELETE FROM links WHERE question_id = ANY(%s)", (ids,))
            self._insert_links(conn, (r for q in ids for r in links[q]))
            conn.execute("UPDATE questions SET needs_link = FALSE WHERE id = ANY(%s)", (ids,))

    def _unfit_vectors(self, conn: psycopg.Connection, vectors: Mapping[str, Mapping[Any, np.ndarray]]) -> None:
        for table, rows in vectors.items():
            dims = {int(np.shape(v)[0]) for v in rows.values()}
            if len(dims) == 1 and self._column_dim(conn, table) not in dims:
                self._drop_dim(conn, table)

    def _fit_vectors(self, conn: psycopg.Connection, vectors: Mapping[str, Mapping[Any, np.ndarray]]) -> None:
        for table, rows in vectors.items():
            if rows:
                self._fit_dim(conn, table, int(np.shape(next(iter(rows.values())))[0]), retype=True)

    # -- reads -------------------------------------------------------------------------------
    def nearest_passages(
        self, vector: np.ndarray, k: int, ef_search: int | None = None, exact: bool = False
    ) -> list[PassageHit]:
        """The k passages nearest to `vector` by cosine, through the HNSW index (approximate).

        `ef_search` widens the index search (pgvector's default 40; at least k is used); `exact`
        scans every passage instead, the reference to measure the index's recall against.
        """
        query = _f32(vector)
        with self._conn(replica=True) as conn, conn.transaction():
            conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(max(k, ef_search or 40)),))
            if exact:
                conn.execute("SELECT set_config('enable_indexscan', 'off', true)")
            rows = conn.execute(
                "SELECT article_id, position, 1 - (vector <=> %s::vector) FROM passages "
                "ORDER BY vector <=> %s::vector LIMIT %s",
                (query, query, k),
            ).fetchall()
        return [PassageHit(a, p, float(c)) for a, p, c in rows]

    def get_article(self, article_id: str) -> Article | None:
        with self._read(replica=True) as conn:
            return self._get_article(conn, article_id)

    # -- learning: model switching ----------------------------------------------------------
    def load_staged_index(self, model_id: str) -> IndexData:
        """The index as it will be after `swap_model(model_id)`: live rows, staged vectors.
        Raises StaleStage when a row has no staged vector for its current text."""
        with self._read() as conn:
            generation = self._counter(conn, "generation")
            article_rows = conn.execute(INDEX_ARTICLES).fetchall()
            missing = conn.execute(
                """SELECT (SELECT COUNT(*) FROM passages p LEFT JOIN staged_passages s ON s.model_id = %s
                             AND s.article_id = p.article_id AND s.position = p.position AND s.text_hash = p.text_hash
                           WHERE s.model_id IS NULL)""",
                (model_id,),
            ).fetchone()[0]
            staged_q = conn.execute(
                """SELECT q.text, s.text_hash FROM questions q
                   LEFT JOIN staged_questions s ON s.model_id = %s AND s.question_id = q.id""",
                (model_id,),
            ).fetchall()
            missing += sum(1 for text, h in staged_q if h != _text_hash(text))
            if missing:
                raise StaleStage(f"{missing} passages or questions have no staged vector of {model_id}")
            passages = _read_matrix(
                conn,
                """SELECT p.article_id, vector_send(s.vector) FROM passages p JOIN staged_passages s
                   ON s.model_id = %s AND s.article_id = p.article_id AND s.position = p.position
                   ORDER BY p.article_id, p.position""",
                (model_id,),
            )
            questions = _read_matrix(
                conn,
                """SELECT q.id, q.article_id, q.position, q.text, q.key, vector_send(s.vector) FROM questions q
                   JOIN staged_questions s ON s.model_id = %s AND s.question_id = q.id
                   ORDER BY q.article_id, q.position""",
                (model_id,),
            )
        articles = [self._article_row(r[:6]) for r in article_rows]
        return index_data(generation, article_rows, articles, passages, questions)

    def _swap_vectors(self, conn: psycopg.Connection, model_id: str) -> None:
        dims = {
            table: conn.execute(
                f"SELECT DISTINCT vector_dims(vector) FROM {staged} WHERE model_id = %s", (model_id,)  # noqa: S608
            ).fetchall()
            for table, staged in (("passages", "staged_passages"), ("questions", "staged_questions"))
        }
        for table, found in dims.items():
            if len(found) == 1 and self._column_dim(conn, table) != found[0][0]:
                self._drop_dim(conn, table)
        conn.execute(
            """UPDATE passages SET model_id = %s, vector = s.vector FROM staged_passages s
               WHERE s.model_id = %s AND s.article_id = passages.article_id AND s.position = passages.position""",
            (model_id, model_id),
        )
        conn.execute(
            """UPDATE questions SET model_id = %s, needs_link = FALSE, vector = s.vector FROM staged_questions s
               WHERE s.model_id = %s AND s.question_id = questions.id""",
            (model_id, model_id),
        )
        for table, found in dims.items():
            if len(found) == 1:
                self._fit_dim(conn, table, found[0][0], retype=True)


def _read_matrix(conn: psycopg.Connection, query: str, params: Sequence[Any] = ()) -> tuple[np.ndarray, list[tuple]]:
    """(vectors, the other columns of each row) of a query whose last column is `vector_send(...)`.

    As SQLite's: one float32 matrix with a quarter more rows than needed, left unused (untouched,
    so not resident), for the in-memory index to append to without copying. vector_send gives
    pgvector's binary form (2-byte dimension, 2 unused bytes, big-endian float4s): no per-row parsing.
    """
    matrix = np.empty((0, 0), dtype=np.float32)
    others: list[tuple] = []
    row = 0
    with conn.cursor() as cursor:
        cursor.execute(query, params)
        count = cursor.rowcount if cursor.rowcount >= 0 else 0
        while batch := cursor.fetchmany(4096):
            blobs = b"".join(r[-1] for r in batch)
            if row == 0:
                dim = (len(batch[0][-1]) - 4) // 4
                matrix = np.empty((count + count // 4 + 16, dim), dtype=np.float32)
            raw = np.frombuffer(blobs, dtype=np.uint8).reshape(len(batch), -1)[:, 4:]
            matrix[row : row + len(batch)] = np.ascontiguousarray(raw).view(">f4")
            others.extend(r[:-1] for r in batch)
            row += len(batch)
    return matrix[:row], others




def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
