"""The SQL core both stores build on: connection hooks, placeholder rewriting, meta counters.

Shared SQL is written once with `?` placeholders; `_sql` rewrites it for drivers that use `%s`
(psycopg), doubling a literal `%` and leaving `?` inside string literals alone. Each dialect
(recommender/store/sqlite.py, postgres.py) supplies the connection hooks (`_write`, `_read`, `_rows`,
`_bump`), `_in` (a chunked `IN (...)` or `= ANY(...)`) and the few value conversions where the
dialects store a type differently (JSON, dates, timestamps, vectors). The SQL of each aggregate is a
mixin over this core: articles.py, questions.py, decisions.py, editors.py, models.py, dump.py; sql.py
composes them into SqlStore. Schema and migrations are schema.py, one definition for both dialects.

Reads pass `replica=True` exactly where PostgresStore may serve them from a read replica
(SQLiteStore has none and ignores it); every other read goes to the primary.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from recommender.domain import ArticleRow, QuestionRow
from recommender.store.base import IndexData
from recommender.store.vectors import Int8Rows

# The articles of an in-memory index: ArticleRow's columns, then the body (for lexical indexing).
INDEX_ARTICLES = "SELECT id, title, checked_on, url, topic, content_hash, body FROM articles ORDER BY id"
# The record of what each generation changed (index_changes) keeps this many generations: a process
# further behind than that builds its index afresh. Pruned every CHANGES_PRUNED_EVERY generations.
CHANGES_KEPT = 10_000
CHANGES_PRUNED_EVERY = 1_000


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1024)
def percent_placeholders(sql: str) -> str:
    """`sql` with `?` placeholders as `%s` (outside string literals) and every literal `%` doubled."""
    out: list[str] = []
    quoted = False
    for char in sql:
        if char == "'":
            quoted = not quoted
        if char == "%":
            out.append("%%")
        elif char == "?" and not quoted:
            out.append("%s")
        else:
            out.append(char)
    return "".join(out)


def index_data(
    generation: int,
    article_rows: Sequence[Sequence],
    articles: list[ArticleRow],
    passages: tuple[np.ndarray | Int8Rows, list[tuple]],
    questions: tuple[np.ndarray | Int8Rows, list[tuple]],
) -> IndexData:
    """IndexData from article rows (body last) and the (matrix, other columns) of passages and questions."""
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


class SqlCore:
    model_id: str
    # "?" (sqlite3) or "%s" (psycopg): the driver's parameter style.
    placeholder = "?"
    # The condition for questions waiting to be relinked, as the partial index on them is written.
    NEEDS_LINK = "needs_link"
    # The vector column as the matrix readers (`_read_matrix`) want it.
    VECTOR = "vector"
    # Article order of a re-embedding (unstaged_texts): what readers see most is staged first.
    NEWEST_FIRST = "a.checked_on IS NULL, a.checked_on DESC, a.updated_at DESC"

    def _write(self, counter: str | None = "generation", changed: Collection[str] | None = None) -> AbstractContextManager[Any]:
        """One write transaction that bumps `counter`; a generation bump records the articles whose
        indexed content it `changed` (None: any may have, () none: links only; see `_log_changes`)."""
        raise NotImplementedError

    def _read(self, replica: bool = False) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[Any] = (), replica: bool = False) -> list[tuple]:
        """Rows of one query in the driver's own SQL; `replica`: may come from a read replica."""
        raise NotImplementedError

    def _bump(self, conn: Any, counter: str) -> None:
        raise NotImplementedError

    def _log_changes(self, conn: Any, changed: Collection[str] | None) -> None:
        """Record what the generation just reached changed (inside the write's transaction, after the
        bump): one row per article, one NULL row for "anything", nothing for a links-only write. Rows
        older than CHANGES_KEPT generations are let go now and then (`changes_from` moves up)."""
        generation = self._counter(conn, "generation")
        rows = [(generation, None)] if changed is None else [(generation, a) for a in sorted(set(changed))]
        if rows:
            self._many(conn, "INSERT INTO index_changes (generation, article_id) VALUES (?, ?)", rows)
        if generation % CHANGES_PRUNED_EVERY == 0 and generation > CHANGES_KEPT:
            oldest = generation - CHANGES_KEPT
            self._exec(conn, "DELETE FROM index_changes WHERE generation <= ?", (oldest,))
            if oldest > self._counter(conn, "changes_from"):
                self._set_meta(conn, "changes_from", str(oldest))

    def _in(self, values: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
        """(condition on a column, its parameters) pieces matching `values`: `IN (?, ...)` or `= ANY(?)`."""
        raise NotImplementedError

    def _read_matrix(self, conn: Any, query: str, table: str) -> tuple[np.ndarray | Int8Rows, list[tuple]]:
        raise NotImplementedError

    @staticmethod
    def _vector_param(vector: np.ndarray) -> Any:
        """A vector as the driver writes it."""
        raise NotImplementedError

    @staticmethod
    def _vector_value(value: Any) -> np.ndarray:
        """A vector column's value, as the driver reads it, as float32."""
        raise NotImplementedError

    @staticmethod
    def _json(value: Any, ensure_ascii: bool = False) -> Any:
        raise NotImplementedError

    @staticmethod
    def _from_json(value: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def _date(value: Any) -> dt.date | None:
        raise NotImplementedError

    @staticmethod
    def _timestamp(value: Any) -> str | None:
        raise NotImplementedError

    @staticmethod
    def _temporal(value: dt.date | None) -> Any:
        """A date or time as the driver writes it."""
        raise NotImplementedError

    # -- SQL helpers -------------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else percent_placeholders(sql)

    def _exec(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        return conn.execute(self._sql(sql), params)

    def _many(self, conn: Any, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        cursor = conn.cursor()
        try:
            cursor.executemany(self._sql(sql), list(rows))
        finally:
            cursor.close()

    def _fetch(self, sql: str, params: Sequence[Any] = (), replica: bool = False) -> list[tuple]:
        return self._rows(self._sql(sql), params, replica)

    def _fetch_in(self, sql: str, values: Sequence[Any], replica: bool = False) -> list[tuple]:
        """Rows of `sql`, whose `{in}` is a condition matching any of `values`."""
        rows: list[tuple] = []
        for condition, params in self._in(values):
            rows.extend(self._fetch(sql.format(**{"in": condition}), params, replica))
        return rows

    def _counter(self, conn: Any, key: str) -> int:
        return int(self._exec(conn, "SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    def _set_meta(self, conn: Any, key: str, value: str) -> None:
        self._exec(
            conn,
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _article_row(self, row: Sequence) -> ArticleRow:
        return ArticleRow(
            id=row[0], title=row[1], checked_on=self._date(row[2]), url=row[3], topic=row[4], content_hash=row[5]
        )
