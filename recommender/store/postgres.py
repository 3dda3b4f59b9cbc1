"""PostgreSQL store with pgvector: SQLiteStore's methods and semantics, shared by several processes.

Selected by `RECOMMENDER_DATABASE_URL` (see recommender/store/factory.py). The tables are SQLite's;
vectors are pgvector `vector(dim)` columns, passages with an HNSW index (cosine) for
`nearest_passages`. The service's ranking still uses its exact in-memory snapshot.

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
import hashlib
import json
import logging
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg.types.json import Json
from psycopg_pool import ConnectionPool

from recommender.articles.model import Article, Section
from recommender.editorial.auth import Editor, EditorRecord
from recommender.store.base import (
    Activity,
    ArticleRow,
    AuditEntry,
    Decision,
    EncoderMismatch,
    IndexData,
    LinkRow,
    QuestionRow,
    Dump,
    Restore,
    StaleStage,
    StoredArticle,
    StoreUnavailable,
    Superseded,
    VersionConflict,
)
from recommender.store.replica import replica_allowed

log = logging.getLogger(__name__)

# Article order of a re-embedding (Store.unstaged_texts): what readers see most is staged first.
NEWEST_FIRST = "a.checked_on DESC NULLS LAST, a.updated_at DESC"

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


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _f32(vector: np.ndarray) -> np.ndarray:
    return np.asarray(vector, dtype=np.float32)


def _array(value: Any) -> np.ndarray:
    """A loaded pgvector value as a float32 array."""
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=np.float32)


class PostgresStore:
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
                _bump(conn, counter)

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

    # -- metadata ----------------------------------------------------------------------------
    def generation(self) -> int:
        # Always the primary: a snapshot must never be older than what this process wrote.
        with self._conn() as conn:
            return _counter(conn, "generation")

    def stored_model_ids(self) -> set[str]:
        rows = self._rows("SELECT DISTINCT model_id FROM passages UNION SELECT DISTINCT model_id FROM questions")
        return {r[0] for r in rows}

    def content_hashes(self) -> dict[str, str]:
        return dict(self._rows("SELECT id, content_hash FROM articles"))

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
    def upsert(self, items: Sequence[StoredArticle]) -> None:
        """Store articles with their passages and questions, all or nothing.

        Questions of a changed article, and questions whose links point at it, are marked for
        relinking in the same transaction, so a crash before relinking loses no work.
        """
        with self._write() as conn:
            self._write_articles(conn, items)

    def _write_articles(self, conn: psycopg.Connection, items: Sequence[StoredArticle]) -> None:
        now = dt.datetime.now(dt.UTC)
        for table, dims in (
            ("passages", {np.shape(i.passage_vectors)[1] for i in items if len(i.passage_vectors)}),
            ("questions", {np.shape(i.question_vectors)[1] for i in items if len(i.question_vectors)}),
        ):
            if len(dims) > 1:
                raise EncoderMismatch(f"{table} vectors of several sizes in one write: {sorted(dims)}")
            if dims:
                self._fit_dim(conn, table, int(dims.pop()))
        for item in items:
            article = item.article
            if len(item.passages) != len(item.passage_vectors):
                raise ValueError("one vector per passage")
            if len(article.questions) != len(item.question_vectors):
                raise ValueError("one vector per question")
            conn.execute(
                "UPDATE questions SET needs_link = TRUE WHERE id IN (SELECT question_id FROM links WHERE article_id = %s)",
                (article.id,),
            )
            conn.execute(
                """INSERT INTO articles (id, title, checked_on, summary, sections, url, topic, body, content_hash, updated_at)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (id) DO UPDATE SET title=excluded.title, checked_on=excluded.checked_on,
                     summary=excluded.summary, sections=excluded.sections, url=excluded.url, topic=excluded.topic,
                     body=excluded.body, content_hash=excluded.content_hash, updated_at=excluded.updated_at""",
                (
                    article.id,
                    article.title,
                    article.checked_on,
                    article.summary,
                    Json([s.model_dump() for s in article.sections]),
                    article.url,
                    article.topic,
                    article.body_text(),
                    item.content_hash,
                    now,
                ),
            )
            conn.execute("DELETE FROM passages WHERE article_id = %s", (article.id,))
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO passages (article_id, position, text, text_hash, model_id, vector) VALUES (%s, %s, %s, %s, %s, %s)",
                    [
                        (article.id, i, text, _text_hash(text), self.model_id, _f32(vec))
                        for i, (text, vec) in enumerate(zip(item.passages, item.passage_vectors))
                    ],
                )
                conn.execute("DELETE FROM questions WHERE article_id = %s", (article.id,))
                cur.executemany(
                    "INSERT INTO questions (id, article_id, position, text, key, model_id, vector, needs_link) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, TRUE)",
                    [
                        (q.id, q.article_id, q.position, q.text, q.key, self.model_id, _f32(vec))
                        for q, vec in zip(article.question_records(), item.question_vectors)
                    ],
                )

    def delete_article(self, article_id: str) -> bool:
        with self._write() as conn:
            conn.execute(
                "UPDATE questions SET needs_link = TRUE WHERE id IN (SELECT question_id FROM links WHERE article_id = %s)",
                (article_id,),
            )
            deleted = conn.execute("DELETE FROM articles WHERE id = %s", (article_id,)).rowcount
        return deleted > 0

    def mark_for_linking(self, question_ids: Sequence[str]) -> None:
        with self._write() as conn:
            conn.execute("UPDATE questions SET needs_link = TRUE WHERE id = ANY(%s)", (list(question_ids),))

    def replace_links(self, links: dict[str, list[LinkRow]]) -> None:
        with self._write() as conn:
            present = {
                r[0] for r in conn.execute("SELECT id FROM questions WHERE id = ANY(%s)", (list(links),)).fetchall()
            }
            ids = [q for q in links if q in present]  # others were deleted meanwhile
            conn.execute("DELETE FROM links WHERE question_id = ANY(%s)", (ids,))
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO links (question_id, rank, article_id, score, dense, lexical, passage) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        (r.question_id, r.rank, r.article_id, r.score, r.dense, r.lexical, r.passage)
                        for q in ids
                        for r in links[q]
                    ],
                )
            conn.execute("UPDATE questions SET needs_link = FALSE WHERE id = ANY(%s)", (ids,))

    def reencode(self, model_id: str, passage_vectors: dict[tuple[str, int], np.ndarray], question_vectors: dict[str, np.ndarray]) -> None:
        """Swap every vector to another encoder at once and mark every question for relinking."""
        with self._write() as conn:
            for table, vectors in (("passages", passage_vectors), ("questions", question_vectors)):
                dims = {int(np.shape(v)[0]) for v in vectors.values()}
                if len(dims) == 1 and self._column_dim(conn, table) not in dims:
                    # Another size: drop the dimension (and index) while rows change; _fit_dim sets the new one.
                    if table == "passages":
                        conn.execute("DROP INDEX IF EXISTS passages_vector_hnsw")
                    conn.execute(f"ALTER TABLE {table} ALTER COLUMN vector TYPE vector")
            with conn.cursor() as cur:
                cur.executemany(
                    "UPDATE passages SET vector = %s, model_id = %s WHERE article_id = %s AND position = %s",
                    [(_f32(v), model_id, a, p) for (a, p), v in passage_vectors.items()],
                )
                cur.executemany(
                    "UPDATE questions SET vector = %s, model_id = %s, needs_link = TRUE WHERE id = %s",
                    [(_f32(v), model_id, q) for q, v in question_vectors.items()],
                )
            for table, vectors in (("passages", passage_vectors), ("questions", question_vectors)):
                if vectors:
                    self._fit_dim(conn, table, int(np.shape(next(iter(vectors.values())))[0]), retype=True)
        self.model_id = model_id

    # -- reads -------------------------------------------------------------------------------
    def all_texts(self) -> tuple[list[tuple[str, int, str]], list[tuple[str, str]]]:
        """(article, position, passage text) and (question id, text): what re-encoding needs."""
        with self._read() as conn:
            passages = conn.execute("SELECT article_id, position, text FROM passages ORDER BY article_id, position").fetchall()
            questions = conn.execute("SELECT id, text FROM questions ORDER BY id").fetchall()
        return passages, questions

    def load_index(self) -> IndexData:
        with self._read() as conn:
            foreign = self._foreign_models(conn)
            if foreign:
                raise EncoderMismatch(
                    f"the database holds vectors of {sorted(foreign)}, not of {self.model_id}; re-encode it first"
                )
            generation = _counter(conn, "generation")
            article_rows = conn.execute(
                "SELECT id, title, checked_on, url, topic, content_hash, body FROM articles ORDER BY id"
            ).fetchall()
            passages = _read_matrix(
                conn, "SELECT article_id, vector_send(vector) FROM passages ORDER BY article_id, position"
            )
            questions = _read_matrix(
                conn,
                "SELECT id, article_id, position, text, key, vector_send(vector) FROM questions ORDER BY article_id, position",
            )
        return _index_data(generation, article_rows, passages, questions)

    def _foreign_models(self, conn: psycopg.Connection) -> set[str]:
        rows = conn.execute("SELECT DISTINCT model_id FROM passages UNION SELECT DISTINCT model_id FROM questions")
        return {r[0] for r in rows} - {self.model_id}

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

    def questions_to_link(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT id FROM questions WHERE needs_link ORDER BY id")]

    def last_candidate_scores(self) -> dict[str, tuple[int, float]]:
        """Per question: how many candidates are stored and the lowest stored score."""
        rows = self._rows("SELECT question_id, COUNT(*), MIN(score) FROM links GROUP BY question_id")
        return {q: (n, s) for q, n, s in rows}

    def get_article(self, article_id: str) -> Article | None:
        with self._read(replica=True) as conn:
            return self._get_article(conn, article_id)

    def _get_article(self, conn: psycopg.Connection, article_id: str) -> Article | None:
        row = conn.execute(
            "SELECT id, title, checked_on, summary, sections, url, topic FROM articles WHERE id = %s", (article_id,)
        ).fetchone()
        if row is None:
            return None
        questions = [
            r[0] for r in conn.execute("SELECT text FROM questions WHERE article_id = %s ORDER BY position", (article_id,))
        ]
        return Article(
            id=row[0],
            title=row[1],
            checked_on=row[2],
            summary=row[3],
            sections=[Section(**s) for s in row[4]],
            url=row[5],
            topic=row[6],
            questions=questions,
        )

    def get_article_row(self, article_id: str) -> ArticleRow | None:
        return self.article_rows([article_id]).get(article_id)

    def article_rows(self, ids: Sequence[str]) -> dict[str, ArticleRow]:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        rows = self._rows(
            "SELECT id, title, checked_on, url, topic, content_hash FROM articles WHERE id = ANY(%s)", (ids,), replica=True
        )
        return {row[0]: _article_row(row) for row in rows}

    def get_question(self, question_id: str) -> QuestionRow | None:
        rows = self._rows(
            "SELECT id, article_id, position, text, key FROM questions WHERE id = %s", (question_id,), replica=True
        )
        return QuestionRow(*rows[0]) if rows else None

    def questions_of(self, article_id: str) -> list[QuestionRow]:
        rows = self._rows(
            "SELECT id, article_id, position, text, key FROM questions WHERE article_id = %s ORDER BY position",
            (article_id,),
            replica=True,
        )
        return [QuestionRow(*r) for r in rows]

    def links_of(self, question_ids: Sequence[str]) -> dict[str, list[LinkRow]]:
        found: dict[str, list[LinkRow]] = {q: [] for q in question_ids}
        if not found:
            return found
        rows = self._rows(
            "SELECT question_id, rank, article_id, score, dense, lexical, passage FROM links "
            "WHERE question_id = ANY(%s) ORDER BY question_id, rank",
            (list(found),),
            replica=True,
        )
        for row in rows:
            found[row[0]].append(LinkRow(*row))
        return found

    def links_to(self, article_id: str, min_score: float) -> list[LinkRow]:
        rows = self._rows(
            "SELECT question_id, rank, article_id, score, dense, lexical, passage FROM links "
            "WHERE article_id = %s AND score >= %s ORDER BY score DESC, question_id, rank",
            (article_id, min_score),
            replica=True,
        )
        return [LinkRow(*r) for r in rows]

    def passage_text(self, article_id: str, position: int) -> str | None:
        rows = self._rows(
            "SELECT text FROM passages WHERE article_id = %s AND position = %s", (article_id, position), replica=True
        )
        return rows[0][0] if rows else None

    def best_links(self) -> list[tuple[QuestionRow, LinkRow | None]]:
        rows = self._rows(
            """SELECT q.id, q.article_id, q.position, q.text, q.key,
                      l.question_id, l.rank, l.article_id, l.score, l.dense, l.lexical, l.passage
               FROM questions q LEFT JOIN links l ON l.question_id = q.id AND l.rank = 0
               ORDER BY q.article_id, q.position"""
        )
        return [(QuestionRow(*r[:5]), LinkRow(*r[5:]) if r[5] is not None else None) for r in rows]

    def counts(self) -> dict[str, int]:
        row = self._rows(
            """SELECT (SELECT COUNT(*) FROM articles), (SELECT COUNT(*) FROM passages),
                      (SELECT COUNT(*) FROM questions), (SELECT COUNT(*) FROM links),
                      (SELECT COUNT(*) FROM questions WHERE needs_link)"""
        )[0]
        return dict(zip(("articles", "passages", "questions", "links", "pending"), map(int, row)))

    def activity(self) -> Activity:
        with self._read() as conn:
            changed = conn.execute("SELECT value FROM meta WHERE key = 'generation_at'").fetchone()
            ingested = conn.execute("SELECT MAX(updated_at) FROM articles").fetchone()[0]
            staged = conn.execute(
                "SELECT (SELECT COUNT(*) FROM staged_passages) + (SELECT COUNT(*) FROM staged_questions)"
            ).fetchone()[0]
        return Activity(
            changed[0] if changed else None, ingested.astimezone(dt.UTC).isoformat() if ingested else None, int(staged)
        )

    # -- editorial ---------------------------------------------------------------------------
    def counters(self) -> tuple[int, int]:
        """(generation, decisions): what a cached widget response depends on.

        Read from the replica when the caller serves replica data, so an ETag never runs ahead
        of the content it labels.
        """
        rows = dict(self._rows("SELECT key, value FROM meta WHERE key IN ('generation', 'decisions')", replica=True))
        return int(rows["generation"]), int(rows.get("decisions", 0))

    def get_decision(self, article_id: str, key: str) -> Decision | None:
        return self.decisions_for([(article_id, key)]).get((article_id, key))

    def decisions_for(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Decision]:
        """Decisions of the given (article id, question key) pairs that have one."""
        wanted = set(pairs)
        if not wanted:
            return {}
        articles = sorted({a for a, _ in wanted})
        rows = self._rows(
            f"SELECT {_DECISION_COLUMNS} FROM decisions WHERE article_id = ANY(%s)", (articles,), replica=True
        )
        found = {}
        for decision in map(_decision, rows):
            if (decision.article_id, decision.key) in wanted:
                found[(decision.article_id, decision.key)] = decision
        return found

    def all_decisions(self) -> dict[tuple[str, str], Decision]:
        rows = self._rows(f"SELECT {_DECISION_COLUMNS} FROM decisions")
        return {(d.article_id, d.key): d for d in map(_decision, rows)}

    def save_decisions(self, changes: Sequence[tuple[int, Decision, AuditEntry]]) -> None:
        """Store (expected version, new decision, audit entry) triples, all or nothing.

        Raises VersionConflict when a stored decision is not at the expected version.
        """
        with self._write("decisions") as conn:
            for expected, decision, entry in changes:
                row = conn.execute(
                    "SELECT version FROM decisions WHERE article_id = %s AND question_key = %s",
                    (decision.article_id, decision.key),
                ).fetchone()
                current = row[0] if row else 0
                if current != expected:
                    raise VersionConflict(decision.article_id, decision.key, current)
                _insert_decision(conn, decision, upsert=True)
                _insert_audit(conn, entry)

    def audit_entries(
        self,
        question: tuple[str, str] | None = None,
        question_id: str | None = None,
        article_id: str | None = None,
        editor: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[int, list[AuditEntry]]:
        """(total, newest first page) of audit entries matching every given filter.

        `question` is (own article id, wording key): the question's whole history, across reordering
        and trivial rewording; `article_id` matches the question's article or the fact check acted on.
        """
        where: list[str] = []
        params: list[Any] = []
        if question is not None:
            where.append("article_id = %s AND question_key = %s")
            params.extend(question)
        if question_id is not None:
            where.append("question_id = %s")
            params.append(question_id)
        if article_id is not None:
            where.append("(article_id = %s OR target_id = %s)")
            params.extend([article_id, article_id])
        if editor is not None:
            where.append("editor = %s")
            params.append(editor)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._read() as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM audit {clause}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT id, at, editor, action, question_id, question_key, article_id, target_id, before, after "
                f"FROM audit {clause} ORDER BY id DESC LIMIT %s OFFSET %s",
                [*params, limit, offset],
            ).fetchall()
        return int(total), [_audit_entry(r) for r in rows]

    def add_editor(self, name: str, token_hash: str) -> None:
        """Create an editor, or give a revoked one a new token; an active editor is an error."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._write(None) as conn:
            row = conn.execute("SELECT revoked_at FROM editors WHERE name = %s", (name,)).fetchone()
            if row is not None and row[0] is None:
                raise ValueError(f"editor {name!r} already has an active token; revoke it first")
            conn.execute(
                """INSERT INTO editors (name, token_hash, created_at, revoked_at) VALUES (%s, %s, %s, NULL)
                   ON CONFLICT (name) DO UPDATE SET token_hash=excluded.token_hash, created_at=excluded.created_at,
                     revoked_at=NULL""",
                (name, token_hash, now),
            )

    def revoke_editor(self, name: str) -> bool:
        """Revoke an editor's token; False when there is no active editor of that name."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._write(None) as conn:
            changed = conn.execute(
                "UPDATE editors SET revoked_at = %s WHERE name = %s AND revoked_at IS NULL", (now, name)
            ).rowcount
        return changed > 0

    def editor_records(self) -> list[EditorRecord]:
        # Always the primary: a revoked token must stop working at once.
        rows = self._rows("SELECT name, created_at, revoked_at, token_hash FROM editors ORDER BY name")
        return [EditorRecord(Editor(r[0], r[1], r[2]), r[3]) for r in rows]

    # -- reliability: crash-safe relinking, backup and restore --------------------------------
    # Articles written whose effect on *other* questions' links is not computed yet (see SQLiteStore).
    def _pending(self, conn: psycopg.Connection) -> dict[str, str]:
        row = conn.execute("SELECT value FROM meta WHERE key = 'pending_articles'").fetchone()
        return dict(json.loads(row[0])) if row else {}

    def _set_pending(self, conn: psycopg.Connection, hashes: dict[str, str]) -> None:
        _set_meta(conn, "pending_articles", json.dumps(hashes, sort_keys=True))

    def add_pending_articles(self, hashes: Mapping[str, str]) -> None:
        """Record (article id -> content hash) about to be written."""
        with self._write(None) as conn:
            self._set_pending(conn, {**self._pending(conn), **hashes})

    def pending_articles(self) -> dict[str, str]:
        with self._conn() as conn:
            return self._pending(conn)

    def clear_pending_articles(self, hashes: Mapping[str, str]) -> None:
        """Forget pending articles, each only if still recorded with the same content hash."""
        with self._write(None) as conn:
            pending = self._pending(conn)
            self._set_pending(conn, {a: h for a, h in pending.items() if hashes.get(a) != h})

    def dump(self) -> Dump:
        """Articles and the whole editorial record, in one read transaction."""
        with self._read() as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM articles ORDER BY id")]
            articles = [a for a in (self._get_article(conn, i) for i in ids) if a is not None]
            decisions = [
                _decision(r)
                for r in conn.execute(f"SELECT {_DECISION_COLUMNS} FROM decisions ORDER BY article_id, question_key")
            ]
            audit = [_audit_entry(r) for r in conn.execute(f"SELECT {_AUDIT_COLUMNS} FROM audit ORDER BY id")]
            editors = [
                EditorRecord(Editor(r[0], r[1], r[2]), r[3])
                for r in conn.execute("SELECT name, created_at, revoked_at, token_hash FROM editors ORDER BY name")
            ]
            superseded = [
                Superseded(*r)
                for r in conn.execute(
                    "SELECT article_id, by_article_id, updated_by, updated_at FROM superseded ORDER BY article_id"
                )
            ]
        return Dump(articles, decisions, audit, editors, superseded)

    def restore(self, data: Restore, replace: bool = False) -> None:
        """Write a backup in one transaction; `replace` first empties every table it fills."""
        with self._write() as conn:
            if replace:
                for table in ("links", "questions", "passages", "articles", "decisions", "audit", "editors", "superseded"):
                    conn.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed names)
                self._set_pending(conn, {})
                # Derived from the questions just deleted: make the next write recompute them.
                conn.execute("DELETE FROM meta WHERE key = 'cluster_fingerprint'")
            self._write_articles(conn, data.articles)
            for decision in data.decisions:
                _insert_decision(conn, decision)
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO audit ({_AUDIT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [
                        (e.id, e.at, e.editor, e.action, e.question_id, e.question_key, e.article_id, e.target_id,
                         Json(e.before, dumps=_dumps), Json(e.after, dumps=_dumps))
                        for e in data.audit
                    ],
                )
                cur.executemany(
                    "INSERT INTO editors (name, token_hash, created_at, revoked_at) VALUES (%s, %s, %s, %s)",
                    [(r.editor.name, r.token_hash, r.editor.created_at, r.editor.revoked_at) for r in data.editors],
                )
                cur.executemany(
                    "INSERT INTO superseded (article_id, by_article_id, updated_by, updated_at) VALUES (%s, %s, %s, %s)",
                    [(x.article_id, x.by_article_id, x.updated_by, x.updated_at) for x in data.superseded],
                )
            # Explicit ids were written: the next generated one must come after them.
            conn.execute(
                "SELECT setval(pg_get_serial_sequence('audit', 'id'), COALESCE((SELECT MAX(id) FROM audit), 0) + 1, false)"
            )
            _bump(conn, "decisions")

    # -- learning: superseded fact checks, duplicate clusters, model switching ----------------
    def superseded_map(self) -> dict[str, str]:
        """Fact check -> the newer fact check an editor said replaces it."""
        return dict(self._rows("SELECT article_id, by_article_id FROM superseded", replica=True))

    def set_superseded(self, article_id: str, by_article_id: str | None, entry: AuditEntry) -> None:
        """Mark `article_id` superseded by `by_article_id` (None: no longer), with an audit entry."""
        with self._write("decisions") as conn:
            if by_article_id is None:
                conn.execute("DELETE FROM superseded WHERE article_id = %s", (article_id,))
            else:
                conn.execute(
                    """INSERT INTO superseded (article_id, by_article_id, updated_by, updated_at) VALUES (%s, %s, %s, %s)
                       ON CONFLICT (article_id) DO UPDATE SET by_article_id=excluded.by_article_id,
                         updated_by=excluded.updated_by, updated_at=excluded.updated_at""",
                    (article_id, by_article_id, entry.editor, entry.at),
                )
            _insert_audit(conn, entry)

    def all_clusters(self) -> dict[str, str]:
        """Question id -> cluster id, for questions in a cluster of two or more."""
        return dict(self._rows("SELECT question_id, cluster FROM question_clusters", replica=True))

    def cluster_fingerprint(self) -> str | None:
        """What the stored clusters were computed from (see `replace_clusters`)."""
        rows = self._rows("SELECT value FROM meta WHERE key = 'cluster_fingerprint'")
        return rows[0][0] if rows else None

    def replace_clusters(self, clusters: dict[str, str], fingerprint: str) -> None:
        """Replace every cluster assignment at once (questions deleted meanwhile are skipped) and record
        `fingerprint` (questions, model and threshold they came from) so unchanged input is not reclustered."""
        with self._write("decisions") as conn:
            _set_meta(conn, "cluster_fingerprint", fingerprint)
            conn.execute("DELETE FROM question_clusters")
            conn.execute(
                """INSERT INTO question_clusters (question_id, cluster)
                   SELECT c.question_id, c.cluster FROM unnest(%s::text[], %s::text[]) AS c(question_id, cluster)
                   WHERE EXISTS (SELECT 1 FROM questions WHERE id = c.question_id)""",
                (list(clusters), list(clusters.values())),
            )

    def update_clusters(self, assign: Mapping[str, str], unassign: Collection[str], fingerprint: str) -> None:
        """Change some cluster assignments (the rest stay) and record `fingerprint`, in one transaction:
        what an incremental recluster after a write needs, where replace_clusters rewrites them all."""
        with self._write("decisions") as conn:
            _set_meta(conn, "cluster_fingerprint", fingerprint)
            conn.execute("DELETE FROM question_clusters WHERE question_id = ANY(%s::text[])", (list(unassign),))
            conn.execute(
                """INSERT INTO question_clusters (question_id, cluster)
                   SELECT c.question_id, c.cluster FROM unnest(%s::text[], %s::text[]) AS c(question_id, cluster)
                   WHERE EXISTS (SELECT 1 FROM questions WHERE id = c.question_id)
                   ON CONFLICT (question_id) DO UPDATE SET cluster = excluded.cluster""",
                (list(assign), list(assign.values())),
            )

    def update_clusters(self, assign: Mapping[str, str], unassign: Collection[str], fingerprint: str) -> None:
        """Change some cluster assignments (the rest stay) and record `fingerprint`, in one transaction:
        what an incremental recluster after a write needs, where replace_clusters rewrites them all."""
        with self._write("decisions") as conn:
            _set_meta(conn, "cluster_fingerprint", fingerprint)
            conn.execute("DELETE FROM question_clusters WHERE question_id = ANY(%s)", (list(unassign),))
            conn.execute(
                """INSERT INTO question_clusters (question_id, cluster)
                   SELECT c.question_id, c.cluster FROM unnest(%s::text[], %s::text[]) AS c(question_id, cluster)
                   WHERE EXISTS (SELECT 1 FROM questions WHERE id = c.question_id)
                   ON CONFLICT (question_id) DO UPDATE SET cluster = excluded.cluster""",
                (list(assign), list(assign.values())),
            )

    def live_model(self) -> tuple[str | None, str | None]:
        """(name, model id) recorded by the last `swap_model`; (None, None) before any switch."""
        rows = dict(self._rows("SELECT key, value FROM meta WHERE key IN ('model_name', 'model_id')"))
        return rows.get("model_name"), rows.get("model_id")

    def stage_vectors(
        self,
        model_id: str,
        passages: Sequence[tuple[str, int, str, np.ndarray]],
        questions: Sequence[tuple[str, str, np.ndarray]],
    ) -> None:
        """Keep vectors of another encoder beside the live ones: (article, position, text, vector) and
        (question id, text, vector). Serving is untouched; no counter moves."""
        with self._write(None) as conn, conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO staged_passages (model_id, article_id, position, text_hash, vector) VALUES (%s, %s, %s, %s, %s)
                   ON CONFLICT (model_id, article_id, position) DO UPDATE SET text_hash=excluded.text_hash, vector=excluded.vector""",
                [(model_id, a, p, _text_hash(t), _f32(v)) for a, p, t, v in passages],
            )
            cur.executemany(
                """INSERT INTO staged_questions (model_id, question_id, text_hash, vector) VALUES (%s, %s, %s, %s)
                   ON CONFLICT (model_id, question_id) DO UPDATE SET text_hash=excluded.text_hash, vector=excluded.vector""",
                [(model_id, q, _text_hash(t), _f32(v)) for q, t, v in questions],
            )

    def unstaged_texts(self, model_id: str) -> tuple[list[tuple[str, int, str]], list[tuple[str, str]]]:
        """Passages and questions that have no staged vector of `model_id` for their current text,
        newest articles first (by checked_on, then last update; undated ones last)."""
        with self._read() as conn:
            passages = conn.execute(
                f"""SELECT p.article_id, p.position, p.text FROM passages p JOIN articles a ON a.id = p.article_id
                   LEFT JOIN staged_passages s ON s.model_id = %s AND s.article_id = p.article_id
                     AND s.position = p.position AND s.text_hash = p.text_hash
                   WHERE s.model_id IS NULL ORDER BY {NEWEST_FIRST}, p.article_id, p.position""",  # noqa: S608
                (model_id,),
            ).fetchall()
            questions = [
                (q, t)
                for q, t, h in conn.execute(
                    f"""SELECT q.id, q.text, s.text_hash FROM questions q JOIN articles a ON a.id = q.article_id
                       LEFT JOIN staged_questions s ON s.model_id = %s AND s.question_id = q.id
                       ORDER BY {NEWEST_FIRST}, q.article_id, q.position""",  # noqa: S608
                    (model_id,),
                )
                if h != _text_hash(t)
            ]
        return passages, questions

    def load_staged_index(self, model_id: str) -> IndexData:
        """The index as it will be after `swap_model(model_id)`: live rows, staged vectors.
        Raises StaleStage when a row has no staged vector for its current text."""
        with self._read() as conn:
            generation = _counter(conn, "generation")
            article_rows = conn.execute(
                "SELECT id, title, checked_on, url, topic, content_hash, body FROM articles ORDER BY id"
            ).fetchall()
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
        return _index_data(generation, article_rows, passages, questions)

    def swap_model(self, model_id: str, name: str, links: dict[str, list[LinkRow]], generation: int) -> None:
        """Make the staged vectors of `model_id` live, with `links` computed from them, in one transaction.

        `generation` is the one the links were computed at: a write since then raises StaleStage
        (stage what changed and try again). Decisions are not touched.
        """
        with self._write() as conn:
            current = _counter(conn, "generation")
            if current != generation:
                raise StaleStage(f"the database changed during the switch (generation {generation} -> {current})")
            dims = {
                table: conn.execute(
                    f"SELECT DISTINCT vector_dims(vector) FROM {staged} WHERE model_id = %s", (model_id,)  # noqa: S608
                ).fetchall()
                for table, staged in (("passages", "staged_passages"), ("questions", "staged_questions"))
            }
            for table, found in dims.items():
                if len(found) == 1 and self._column_dim(conn, table) != found[0][0]:
                    # Another size: drop the dimension (and index) while rows change; _fit_dim sets the new one.
                    if table == "passages":
                        conn.execute("DROP INDEX IF EXISTS passages_vector_hnsw")
                    conn.execute(f"ALTER TABLE {table} ALTER COLUMN vector TYPE vector")
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
            conn.execute("DELETE FROM links")
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO links (question_id, rank, article_id, score, dense, lexical, passage) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [(r.question_id, r.rank, r.article_id, r.score, r.dense, r.lexical, r.passage) for rows in links.values() for r in rows],
                )
            _set_meta(conn, "model_name", name)
            _set_meta(conn, "model_id", model_id)
            conn.execute("DELETE FROM staged_passages")
            conn.execute("DELETE FROM staged_questions")
        self.model_id = model_id

    def discard_staged(self) -> None:
        """Forget staged vectors (an abandoned or failed switch)."""
        with self._write(None) as conn:
            conn.execute("DELETE FROM staged_passages")
            conn.execute("DELETE FROM staged_questions")


def _counter(conn: psycopg.Connection, key: str) -> int:
    return int(conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()[0])


def _bump(conn: psycopg.Connection, counter: str) -> None:
    conn.execute("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = %s", (counter,))
    if counter == "generation":
        _set_meta(conn, "generation_at", dt.datetime.now(dt.UTC).isoformat())


def _set_meta(conn: psycopg.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def _insert_decision(conn: psycopg.Connection, decision: Decision, upsert: bool = False) -> None:
    conflict = (
        """ ON CONFLICT (article_id, question_key) DO UPDATE SET pinned=excluded.pinned,
             approved=excluded.approved, rejected=excluded.rejected, hidden=excluded.hidden,
             gap=excluded.gap, target_hash=excluded.target_hash, target_score=excluded.target_score,
             version=excluded.version, updated_by=excluded.updated_by, updated_at=excluded.updated_at"""
        if upsert
        else ""
    )
    conn.execute(
        """INSERT INTO decisions (article_id, question_key, pinned, approved, rejected, hidden, gap,
               target_hash, target_score, version, updated_by, updated_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""" + conflict,
        (
            decision.article_id,
            decision.key,
            decision.pinned,
            decision.approved,
            Json(list(decision.rejected)),
            decision.hidden,
            decision.gap,
            decision.target_hash,
            decision.target_score,
            decision.version,
            decision.updated_by,
            decision.updated_at,
        ),
    )


def _insert_audit(conn: psycopg.Connection, entry: AuditEntry) -> None:
    conn.execute(
        """INSERT INTO audit (at, editor, action, question_id, question_key, article_id, target_id, before, after)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            entry.at,
            entry.editor,
            entry.action,
            entry.question_id,
            entry.question_key,
            entry.article_id,
            entry.target_id,
            Json(entry.before, dumps=_dumps),
            Json(entry.after, dumps=_dumps),
        ),
    )


_AUDIT_COLUMNS = "id, at, editor, action, question_id, question_key, article_id, target_id, before, after"


def _audit_entry(r: Sequence) -> AuditEntry:
    return AuditEntry(
        id=r[0], at=r[1], editor=r[2], action=r[3], question_id=r[4], question_key=r[5], article_id=r[6],
        target_id=r[7], before=r[8], after=r[9],
    )


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


def _index_data(
    generation: int, article_rows: list[tuple], passages: tuple[np.ndarray, list[tuple]], questions: tuple[np.ndarray, list[tuple]]
) -> IndexData:
    articles = [_article_row(r[:6]) for r in article_rows]
    matrix, owners = passages
    starts: dict[str, int] = {}
    counts: dict[str, int] = {}
    for row, owner in enumerate(owners):
        starts.setdefault(owner[0], row)
        counts[owner[0]] = counts.get(owner[0], 0) + 1
    vectors = [matrix[starts[a.id] : starts[a.id] + counts[a.id]] for a in articles]
    q_matrix, q_rows = questions
    question_list = [QuestionRow(*r) for r in q_rows]
    return IndexData(generation, articles, [r[6] for r in article_rows], vectors, question_list, q_matrix)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _article_row(row: Sequence) -> ArticleRow:
    return ArticleRow(id=row[0], title=row[1], checked_on=row[2], url=row[3], topic=row[4], content_hash=row[5])


_DECISION_COLUMNS = (
    "article_id, question_key, pinned, approved, rejected, hidden, gap, version, updated_by, updated_at, "
    "target_hash, target_score"
)


def _decision(row: Sequence) -> Decision:
    return Decision(
        article_id=row[0],
        key=row[1],
        pinned=row[2],
        approved=row[3],
        rejected=tuple(row[4]),
        hidden=bool(row[5]),
        gap=bool(row[6]),
        version=row[7],
        updated_by=row[8],
        updated_at=row[9],
        target_hash=row[10],
        target_score=row[11],
    )
