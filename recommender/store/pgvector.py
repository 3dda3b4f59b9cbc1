"""pgvector columns of the PostgreSQL store: typed to the encoder's dimension, an HNSW index, staged swaps.

Vector columns are created without a dimension: the first write fixes it to the encoder's, and
`reencode` or a model swap to an encoder of another size re-types it (dropping and re-creating the
passages' HNSW index, cosine). Matrices are read in pgvector's binary form (`vector_send`).

The HNSW index is over the vectors cast to `halfvec` (an expression index): half the bytes of a
`vector` index at the same recall (docs/performance.md, "Vector index"), which is what keeps the
graph in memory at a million articles. It only picks candidates; their scores come from the float32
column. A candidate query must order by the index's very expression (`nearest_order`) to use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from recommender.domain import EncoderMismatch, StaleStage, StoredArticle
from recommender.store.base import IndexData
from recommender.store.core import INDEX_ARTICLES, index_data
from recommender.store.core import text_hash as _text_hash
from recommender.store.sql import SqlStore
from recommender.store.vectors import Int8Rows, quantize

HNSW_INDEX = "passages_halfvec_hnsw"  # PostgreSQL schema migration 11 replaced `passages_vector_hnsw` (on `vector`)
HNSW_MAX_DIM = 4000  # pgvector's limit for an HNSW index on `halfvec`
_BATCH = 4096  # rows a server-side cursor hands over at a time


@dataclass(frozen=True)
class PassageHit:
    """One passage found by the HNSW index: its article, position and cosine to the query."""

    article_id: str
    position: int
    cosine: float


def hnsw_statement(dim: int) -> str:
    """CREATE INDEX for the passages' HNSW index at dimension `dim` (docs/operations.md gives it with
    CONCURRENTLY, to build ahead of schema migration 11 without holding writes)."""
    return f"CREATE INDEX {HNSW_INDEX} ON passages USING hnsw ((vector::halfvec({int(dim)})) halfvec_cosine_ops)"


def nearest_order(dim: int, exact: bool = False) -> str:
    """The ORDER BY of passages nearest to a query vector (one parameter): the HNSW index's expression,
    or with `exact` the float32 distance (a scan, the reference the index is measured against)."""
    if exact:
        return "vector <=> %s::vector"
    return f"vector::halfvec({int(dim)}) <=> %s::halfvec({int(dim)})"


def as_f32(vector: np.ndarray) -> np.ndarray:
    return np.asarray(vector, dtype=np.float32)


def _array(value: Any) -> np.ndarray:
    """A loaded pgvector value as a float32 array."""
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=np.float32)


class PgVectors(SqlStore):
    """The vector-column steps of PostgresStore (connections, pools and migrations: postgres.py)."""

    VECTOR = "vector_send(vector)"  # pgvector's binary form, see _read_matrix

    def _conn(self, replica: bool = False) -> Any:
        """A pooled connection (PostgresStore's; a replica's only for marked lookups)."""
        raise NotImplementedError

    def _read_matrix(self, conn: psycopg.Connection, query: str, table: str) -> tuple[Int8Rows, list[tuple]]:
        return _read_quantized(conn, query, table)

    @staticmethod
    def _vector_param(vector: np.ndarray) -> np.ndarray:
        return as_f32(vector)

    @staticmethod
    def _vector_value(value: Any) -> np.ndarray:
        return _array(value)

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
            conn.execute(f"DROP INDEX IF EXISTS {HNSW_INDEX}")
        conn.execute(f"ALTER TABLE {table} ALTER COLUMN vector TYPE vector({dim})")
        if table == "passages" and dim <= HNSW_MAX_DIM:
            conn.execute(hnsw_statement(dim))

    @staticmethod
    def _drop_dim(conn: psycopg.Connection, table: str) -> None:
        """Another size: drop the dimension (and index) while rows change; _fit_dim sets the new one."""
        if table == "passages":
            conn.execute(f"DROP INDEX IF EXISTS {HNSW_INDEX}")
        conn.execute(f"ALTER TABLE {table} ALTER COLUMN vector TYPE vector")

    def _prepare_articles(self, conn: psycopg.Connection, items: Sequence[StoredArticle]) -> None:
        for table, dims in (
            ("passages", {np.shape(i.passage_vectors)[1] for i in items if len(i.passage_vectors)}),
            ("questions", {np.shape(i.question_vectors)[1] for i in items if len(i.question_vectors)}),
        ):
            if len(dims) > 1:
                raise EncoderMismatch(f"{table} vectors of several sizes in one write: {sorted(dims)}")
            if dims:
                self._fit_dim(conn, table, int(dims.pop()))

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

    def nearest_passages(
        self, vector: np.ndarray, k: int, ef_search: int | None = None, exact: bool = False
    ) -> list[PassageHit]:
        """The k passages nearest to `vector` by cosine, through the HNSW index (approximate).

        `ef_search` widens the index search (pgvector's default 40; at least k is used); `exact`
        scans every passage instead, the reference to measure the index's recall against.
        """
        query = as_f32(vector)
        with self._conn(replica=True) as conn, conn.transaction():
            conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(max(k, ef_search or 40)),))
            if exact:
                conn.execute("SELECT set_config('enable_indexscan', 'off', true)")
            order = nearest_order(len(query), exact)
            rows = conn.execute(
                f"SELECT article_id, position, 1 - (vector <=> %s::vector) FROM passages ORDER BY {order} LIMIT %s",
                (query, query, k),
            ).fetchall()
        return [PassageHit(a, p, float(c)) for a, p, c in rows]

    # -- model switching ---------------------------------------------------------------------
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


def _read_quantized(conn: psycopg.Connection, query: str, table: str) -> tuple[Int8Rows, list[tuple]]:
    """(vectors as int8 codes, the other columns of each row) of a query over all of `table` whose last
    column is `vector_send(...)`, read inside the caller's transaction.

    What a process opening the index reads (every question, or every passage for the in-memory
    backend): streamed through a server-side cursor and quantised a batch at a time (store/vectors.py,
    the same codes the index would make), so neither the whole result nor its float32 vectors are ever
    in memory at once (at 100k articles they were ~1.3 GB on top of what the index keeps).
    """
    count = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608 (fixed names)
    codes = np.zeros((0, 0), dtype=np.int8)
    scales = np.zeros(0, dtype=np.float32)
    others: list[tuple] = []
    row = 0
    with conn.cursor(name=f"read_{table}") as cursor:
        cursor.itersize = _BATCH
        cursor.execute(query)
        while batch := cursor.fetchmany(_BATCH):
            if row + len(batch) > count:
                raise RuntimeError(f"{table} grew while it was read outside one transaction")
            if row == 0:
                dim = (len(batch[0][-1]) - 4) // 4
                codes, scales = np.empty((count, dim), dtype=np.int8), np.empty(count, dtype=np.float32)
            raw = np.frombuffer(b"".join(r[-1] for r in batch), dtype=np.uint8).reshape(len(batch), -1)[:, 4:]
            part = np.ascontiguousarray(raw).view(">f4").astype(np.float32)
            codes[row : row + len(batch)], scales[row : row + len(batch)] = quantize(part)
            others.extend(r[:-1] for r in batch)
            row += len(batch)
    return Int8Rows(codes[:row], scales[:row]), others


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
