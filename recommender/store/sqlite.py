"""SQLite store: one file, WAL mode, every write one transaction.

Articles, their passages (with vectors), their questions (with vectors) and computed links
live here. A `generation` counter goes up with every write of them, so other processes (a CLI
ingest next to a running server) notice changes and reload their in-memory index. Editors'
decisions, their audit log and editor tokens live here too, keyed apart from computed rows;
decision writes bump a `decisions` counter instead (widget ETags use both).

The SQL both dialects share is in recommender/store/sql.py (SqlStore, one mixin per aggregate) and
the schema in recommender/store/schema.py; this file holds what is SQLite's own: connections and
PRAGMAs, applying migrations, vector blobs, question upserts, staged-vector swaps.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from recommender.articles.model import Article
from recommender.domain import LinkRow, QuestionRow, StaleStage, StoredArticle
from recommender.store.base import IndexData
from recommender.store.core import INDEX_ARTICLES
from recommender.store.core import text_hash as _text_hash
from recommender.store.schema import migrations
from recommender.store.sql import SqlStore
from recommender.store.vectors import Int8Rows, quantize

# Schema version i+1 is MIGRATIONS[i], rendered from the one definition both dialects share.
MIGRATIONS: list[str] = migrations("sqlite")


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def _vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


class SQLiteStore(SqlStore):
    placeholder = "?"
    NEEDS_LINK = "needs_link = 1"  # as the partial index questions_needs_link is written

    def __init__(self, path: Path, model_id: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.model_id = model_id
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._migrate()

    # -- connections -------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # One connection per thread: FastAPI runs sync endpoints in a thread pool.
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self, counter: str | None = "generation", changed: Collection[str] | None = None) -> Iterator[sqlite3.Connection]:
        """One transaction; bumps `counter` in meta (generation: articles and links changed; `changed`:
        see SqlCore._write)."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            if counter is not None:
                self._bump(conn, counter)
                if counter == "generation":
                    self._log_changes(conn, changed)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _bump(self, conn: sqlite3.Connection, counter: str) -> None:
        conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = ?", (counter,))
        if counter == "generation":
            self._set_meta(conn, "generation_at", dt.datetime.now(dt.UTC).isoformat())

    @contextmanager
    def _read(self, replica: bool = False) -> Iterator[sqlite3.Connection]:
        """One read transaction (a WAL snapshot); inside another one it simply joins it. No replicas."""
        conn = self._conn()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    @contextmanager
    def consistent_read(self) -> Iterator[None]:
        """Every read of this thread inside sees the same committed state (no write half-seen)."""
        with self._read():
            yield

    def _migrate(self) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise RuntimeError(f"{self.path} has schema version {version}, newer than this code ({len(MIGRATIONS)})")
            for step in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {step + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # -- SqlStore hooks ----------------------------------------------------------------------
    def _rows(self, sql: str, params: Sequence[Any] = (), replica: bool = False) -> list[tuple]:
        return self._conn().execute(sql, params).fetchall()

    def _in(self, values: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
        for start in range(0, len(values), 500):  # SQLite's limit on parameters of one statement
            chunk = list(values[start : start + 500])
            yield f"IN ({','.join('?' * len(chunk))})", chunk

    def _read_matrix(self, conn: sqlite3.Connection, query: str, table: str) -> tuple[Int8Rows, list[tuple]]:
        return _read_matrix(conn, query, table)

    def _assign_clusters(self, conn: sqlite3.Connection, clusters: Mapping[str, str], upsert: bool) -> None:
        conflict = " ON CONFLICT(question_id) DO UPDATE SET cluster = excluded.cluster" if upsert else ""
        conn.executemany(
            "INSERT INTO question_clusters (question_id, cluster) SELECT ?, ? WHERE EXISTS "
            "(SELECT 1 FROM questions WHERE id = ?)" + conflict,
            [(q, c, q) for q, c in clusters.items()],
        )

    @staticmethod
    def _vector_param(vector: np.ndarray) -> bytes:
        return _blob(vector)

    @staticmethod
    def _vector_value(value: bytes) -> np.ndarray:
        return _vector(value)

    @staticmethod
    def _json(value: Any, ensure_ascii: bool = False) -> str:
        return json.dumps(value, ensure_ascii=ensure_ascii)

    @staticmethod
    def _from_json(value: str) -> Any:
        return json.loads(value)

    @staticmethod
    def _date(value: str | None) -> dt.date | None:
        return dt.date.fromisoformat(value) if value else None

    @staticmethod
    def _timestamp(value: str | None) -> str | None:
        return value

    @staticmethod
    def _temporal(value: dt.date | None) -> str | None:
        return value.isoformat() if value else None

    # -- metadata ----------------------------------------------------------------------------
    def passage_vectors_by_text(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors already stored for identical passage texts (by this encoder): no re-embedding."""
        hashes = {_text_hash(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        keys = list(hashes)
        conn = self._conn()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            # `+model_id` keeps SQLite off the model_id index (one value for nearly every row, so a
            # scan of all passages): the text_hash index finds the few rows asked for.
            rows = conn.execute(
                f"SELECT text_hash, vector FROM passages WHERE +model_id = ? AND text_hash IN ({marks})",
                [self.model_id, *chunk],
            )
            for text_hash, blob in rows:
                found[hashes[text_hash]] = _vector(blob)
        return found

    # -- writes ------------------------------------------------------------------------------
    def _write_questions(self, conn: sqlite3.Connection, item: StoredArticle) -> None:
        article = item.article
        # A question kept (same id, same wording key) keeps its links until it is relinked, so
        # readers are not shown an empty block while an ingest runs; any other goes, links and all.
        records = article.question_records()
        kept = {(q.id, q.key) for q in records}
        existing = conn.execute("SELECT id, key FROM questions WHERE article_id = ?", (article.id,)).fetchall()
        conn.executemany("DELETE FROM questions WHERE id = ?", [(i,) for i, k in existing if (i, k) not in kept])
        conn.executemany(
            """INSERT INTO questions (id, article_id, position, text, key, model_id, vector, needs_link)
               VALUES (?, ?, ?, ?, ?, ?, ?, 1)
               ON CONFLICT(id) DO UPDATE SET position=excluded.position, text=excluded.text, key=excluded.key,
                 model_id=excluded.model_id, vector=excluded.vector, needs_link=1""",
            [
                (q.id, q.article_id, q.position, q.text, q.key, self.model_id, _blob(vec))
                for q, vec in zip(records, item.question_vectors)
            ],
        )

    def replace_links(self, links: dict[str, list[LinkRow]]) -> None:
        with self._write(changed=()) as conn:  # links only: no indexed content changes
            for question_id, rows in links.items():
                if conn.execute("SELECT 1 FROM questions WHERE id = ?", (question_id,)).fetchone() is None:
                    continue  # deleted meanwhile
                conn.execute("DELETE FROM links WHERE question_id = ?", (question_id,))
                self._insert_links(conn, rows)
                conn.execute("UPDATE questions SET needs_link = 0 WHERE id = ?", (question_id,))

    # -- reads -------------------------------------------------------------------------------
    def get_article(self, article_id: str) -> Article | None:
        return self._get_article(self._conn(), article_id)

    # -- learning: model switching ----------------------------------------------------------
    def load_staged_index(self, model_id: str) -> IndexData:
        """The index as it will be after `swap_model(model_id)`: live rows, staged vectors.
        Raises StaleStage when a row has no staged vector for its current text."""
        with self._read() as conn:
            generation = self._counter(conn, "generation")
            article_rows = conn.execute(INDEX_ARTICLES).fetchall()
            passage_rows = conn.execute(
                """SELECT p.article_id, s.vector FROM passages p LEFT JOIN staged_passages s
                   ON s.model_id = ? AND s.article_id = p.article_id AND s.position = p.position AND s.text_hash = p.text_hash
                   ORDER BY p.article_id, p.position""",
                (model_id,),
            ).fetchall()
            question_rows = conn.execute(
                """SELECT q.id, q.article_id, q.position, q.text, q.key, s.vector, s.text_hash FROM questions q
                   LEFT JOIN staged_questions s ON s.model_id = ? AND s.question_id = q.id
                   ORDER BY q.article_id, q.position""",
                (model_id,),
            ).fetchall()
        missing = sum(1 for _, blob in passage_rows if blob is None)
        missing += sum(1 for r in question_rows if r[5] is None or r[6] != _text_hash(r[3]))
        if missing:
            raise StaleStage(f"{missing} passages or questions have no staged vector of {model_id}")
        groups: dict[str, list[np.ndarray]] = {}
        for article_id, blob in passage_rows:
            groups.setdefault(article_id, []).append(_vector(blob))
        articles = [self._article_row(r[:6]) for r in article_rows]
        questions = [QuestionRow(r[0], r[1], r[2], r[3], r[4]) for r in question_rows]
        q_vectors = np.stack([_vector(r[5]) for r in question_rows]) if question_rows else np.zeros((0, 0), np.float32)
        return IndexData(generation, articles, [r[6] for r in article_rows], [np.stack(groups[a.id]) for a in articles], questions, q_vectors)

    def _swap_vectors(self, conn: sqlite3.Connection, model_id: str) -> None:
        conn.execute(
            """UPDATE passages SET model_id = ?, vector = (SELECT s.vector FROM staged_passages s
                 WHERE s.model_id = ? AND s.article_id = passages.article_id AND s.position = passages.position)""",
            (model_id, model_id),
        )
        conn.execute(
            """UPDATE questions SET model_id = ?, needs_link = 0, vector = (SELECT s.vector FROM staged_questions s
                 WHERE s.model_id = ? AND s.question_id = questions.id)""",
            (model_id, model_id),
        )


def _read_matrix(conn: sqlite3.Connection, query: str, table: str) -> tuple[Int8Rows, list[tuple]]:
    """(vectors, the other columns of each row) of a query whose last column is a vector blob.

    Vectors are quantised as they are read, a batch at a time (store/vectors.py): the float32 vectors
    of a large database are never all in memory at once.
    """
    count = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    first = conn.execute(f"SELECT vector FROM {table} LIMIT 1").fetchone()
    dim = len(first[0]) // 4 if first else 0
    codes = np.empty((count, dim), dtype=np.int8)
    scales = np.empty(count, dtype=np.float32)
    others: list[tuple] = []
    cursor = conn.execute(query)
    row = 0
    while batch := cursor.fetchmany(4096):
        if row + len(batch) > count:
            raise RuntimeError(f"{table} grew while it was read outside one transaction")
        part = np.frombuffer(b"".join(r[-1] for r in batch), dtype=np.float32).reshape(-1, dim)
        codes[row : row + len(batch)], scales[row : row + len(batch)] = quantize(part)
        others.extend(r[:-1] for r in batch)
        row += len(batch)
    return Int8Rows(codes[:row], scales[:row]), others
