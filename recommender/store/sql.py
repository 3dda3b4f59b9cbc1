"""What SQLiteStore and PostgresStore share: every method whose SQL is the same in both dialects.

Shared SQL is written once with `?` placeholders; `_sql` rewrites it for drivers that use `%s`
(psycopg), doubling a literal `%` and leaving `?` inside string literals alone. Each subclass
supplies the connection hooks (`_write`, `_read`, `_rows`, `_bump`), `_in` (a chunked `IN (...)`
or `= ANY(...)`), the few value conversions where the dialects store a type differently (JSON,
dates, timestamps, vectors) and the steps whose SQL really differs (question upserts, cluster
inserts, fitting pgvector columns, swapping staged vectors in). Schema and migrations, connections,
PRAGMAs, advisory locks, pools and replicas stay in the subclasses.

Together with a subclass this implements recommender.store.base.Store.

Reads pass `replica=True` exactly where PostgresStore may serve them from a read replica
(SQLiteStore has none and ignores it); every other read goes to the primary.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from recommender.articles.model import Article
from recommender.domain import (
    ArticleRow,
    AuditEntry,
    Decision,
    DEFAULT_ROLE,
    Editor,
    EditorRecord,
    EncoderMismatch,
    LinkRow,
    QuestionRow,
    Role,
    StaleStage,
    StoredArticle,
    Superseded,
    VersionConflict,
)
from recommender.store.base import Activity, Dump, IndexData, Restore

DECISION_COLUMNS = (
    "article_id, question_key, pinned, approved, rejected, hidden, gap, version, updated_by, updated_at, "
    "target_hash, target_score"
)
AUDIT_COLUMNS = "id, at, editor, action, question_id, question_key, article_id, target_id, before, after, role"
LINK_COLUMNS = "question_id, rank, article_id, score, dense, lexical, passage"
EDITOR_COLUMNS = "name, created_at, revoked_at, token_hash, role"
# The articles of an in-memory index: ArticleRow's columns, then the body (for lexical indexing).
INDEX_ARTICLES = "SELECT id, title, checked_on, url, topic, content_hash, body FROM articles ORDER BY id"


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
    passages: tuple[np.ndarray, list[tuple]],
    questions: tuple[np.ndarray, list[tuple]],
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


class SqlStore:
    model_id: str
    # "?" (sqlite3) or "%s" (psycopg): the driver's parameter style.
    placeholder = "?"
    # The condition for questions waiting to be relinked, as the partial index on them is written.
    NEEDS_LINK = "needs_link"
    # The vector column as the matrix readers (`_read_matrix`) want it.
    VECTOR = "vector"
    # Article order of a re-embedding (unstaged_texts): what readers see most is staged first.
    NEWEST_FIRST = "a.checked_on IS NULL, a.checked_on DESC, a.updated_at DESC"

    # -- dialect hooks -----------------------------------------------------------------------
    def _write(self, counter: str | None = "generation") -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _read(self, replica: bool = False) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[Any] = (), replica: bool = False) -> list[tuple]:
        """Rows of one query in the driver's own SQL; `replica`: may come from a read replica."""
        raise NotImplementedError

    def _bump(self, conn: Any, counter: str) -> None:
        raise NotImplementedError

    def _in(self, values: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
        """(condition on a column, its parameters) pieces matching `values`: `IN (?, ...)` or `= ANY(?)`."""
        raise NotImplementedError

    def _read_matrix(self, conn: Any, query: str, table: str) -> tuple[np.ndarray, list[tuple]]:
        raise NotImplementedError

    def _prepare_articles(self, conn: Any, items: Sequence[StoredArticle]) -> None:
        """Before `items` are written (PostgreSQL fits its vector columns to them)."""

    def _write_questions(self, conn: Any, item: StoredArticle) -> None:
        """Replace the questions of `item.article` (their upsert differs between the dialects)."""
        raise NotImplementedError

    def _unfit_vectors(self, conn: Any, vectors: Mapping[str, Mapping[Any, np.ndarray]]) -> None:
        """Before `reencode` writes new vectors ({table: {key: vector}}) (PostgreSQL: of another size)."""

    def _fit_vectors(self, conn: Any, vectors: Mapping[str, Mapping[Any, np.ndarray]]) -> None:
        """After `reencode` wrote them."""

    def _swap_vectors(self, conn: Any, model_id: str) -> None:
        """Make the staged vectors of `model_id` the live ones (inside `swap_model`'s transaction)."""
        raise NotImplementedError

    def _assign_clusters(self, conn: Any, clusters: Mapping[str, str], upsert: bool) -> None:
        """Insert (question id -> cluster) rows of questions still present; `upsert`: replace existing ones."""
        raise NotImplementedError

    @staticmethod
    def _vector_param(vector: np.ndarray) -> Any:
        """A vector as the driver writes it."""
        raise NotImplementedError

    def _restored_audit(self, conn: Any) -> None:
        """After audit rows were written with explicit ids (restore)."""

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

    # -- row mapping -------------------------------------------------------------------------
    def _article_row(self, row: Sequence) -> ArticleRow:
        return ArticleRow(
            id=row[0], title=row[1], checked_on=self._date(row[2]), url=row[3], topic=row[4], content_hash=row[5]
        )

    def _decision(self, row: Sequence) -> Decision:
        return Decision(
            article_id=row[0],
            key=row[1],
            pinned=row[2],
            approved=row[3],
            rejected=tuple(self._from_json(row[4])),
            hidden=bool(row[5]),
            gap=bool(row[6]),
            version=row[7],
            updated_by=row[8],
            updated_at=row[9],
            target_hash=row[10],
            target_score=row[11],
        )

    def _audit_entry(self, r: Sequence) -> AuditEntry:
        return AuditEntry(
            id=r[0], at=r[1], editor=r[2], action=r[3], question_id=r[4], question_key=r[5], article_id=r[6],
            target_id=r[7], before=self._from_json(r[8]), after=self._from_json(r[9]), role=r[10],
        )

    @staticmethod
    def _editor_record(r: Sequence) -> EditorRecord:
        return EditorRecord(Editor(r[0], r[1], r[2], r[4]), r[3])

    # -- metadata ----------------------------------------------------------------------------
    def generation(self) -> int:
        # Always the primary: a snapshot must never be older than what this process wrote.
        return int(self._fetch("SELECT value FROM meta WHERE key = 'generation'")[0][0])

    def stored_model_ids(self) -> set[str]:
        rows = self._fetch("SELECT DISTINCT model_id FROM passages UNION SELECT DISTINCT model_id FROM questions")
        return {r[0] for r in rows}

    def _foreign_models(self, conn: Any) -> set[str]:
        rows = self._exec(conn, "SELECT DISTINCT model_id FROM passages UNION SELECT DISTINCT model_id FROM questions")
        return {r[0] for r in rows} - {self.model_id}

    def content_hashes(self) -> dict[str, str]:
        return dict(self._fetch("SELECT id, content_hash FROM articles"))

    # -- writes ------------------------------------------------------------------------------
    def upsert(self, items: Sequence[StoredArticle]) -> None:
        """Store articles with their passages and questions, all or nothing.

        Questions of a changed article, and questions whose links point at it, are marked for
        relinking in the same transaction, so a crash before relinking loses no work.
        """
        with self._write() as conn:
            self._write_articles(conn, items)
            # In the same transaction: a crash after this commit leaves the relink owed on record, and
            # one before it leaves nothing behind (no record of a version that was never written).
            self._set_pending(conn, {**self._pending(conn), **{i.article.id: i.content_hash for i in items}})

    def _write_articles(self, conn: Any, items: Sequence[StoredArticle]) -> None:
        self._prepare_articles(conn, items)
        now = self._temporal(dt.datetime.now(dt.UTC))
        for item in items:
            article = item.article
            if len(item.passages) != len(item.passage_vectors):
                raise ValueError("one vector per passage")
            if len(article.questions) != len(item.question_vectors):
                raise ValueError("one vector per question")
            self._exec(
                conn,
                "UPDATE questions SET needs_link = ? WHERE id IN (SELECT question_id FROM links WHERE article_id = ?)",
                (True, article.id),
            )
            self._exec(
                conn,
                """INSERT INTO articles (id, title, checked_on, summary, sections, url, topic, body, content_hash, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET title=excluded.title, checked_on=excluded.checked_on,
                     summary=excluded.summary, sections=excluded.sections, url=excluded.url, topic=excluded.topic,
                     body=excluded.body, content_hash=excluded.content_hash, updated_at=excluded.updated_at""",
                (
                    article.id,
                    article.title,
                    self._temporal(article.checked_on),
                    article.summary,
                    self._json([s.model_dump() for s in article.sections]),
                    article.url,
                    article.topic,
                    article.body_text(),
                    item.content_hash,
                    now,
                ),
            )
            self._exec(conn, "DELETE FROM passages WHERE article_id = ?", (article.id,))
            self._many(
                conn,
                "INSERT INTO passages (article_id, position, text, text_hash, model_id, vector) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (article.id, i, text, text_hash(text), self.model_id, self._vector_param(vec))
                    for i, (text, vec) in enumerate(zip(item.passages, item.passage_vectors))
                ],
            )
            self._write_questions(conn, item)

    def delete_article(self, article_id: str) -> bool:
        """Remove an article (questions pointing at it are marked for relinking); a missing one changes
        nothing, not even the generation, so caches and ETags stay valid."""
        if not self._fetch("SELECT 1 FROM articles WHERE id = ?", (article_id,)):
            return False
        with self._write() as conn:
            self._exec(
                conn,
                "UPDATE questions SET needs_link = ? WHERE id IN (SELECT question_id FROM links WHERE article_id = ?)",
                (True, article_id),
            )
            deleted = self._exec(conn, "DELETE FROM articles WHERE id = ?", (article_id,)).rowcount
        return deleted > 0

    def mark_for_linking(self, question_ids: Sequence[str]) -> None:
        with self._write() as conn:
            for condition, params in self._in(list(question_ids)):
                self._exec(conn, f"UPDATE questions SET needs_link = ? WHERE id {condition}", [True, *params])

    def reencode(
        self, model_id: str, passage_vectors: dict[tuple[str, int], np.ndarray], question_vectors: dict[str, np.ndarray]
    ) -> None:
        """Swap every vector to another encoder at once and mark every question for relinking."""
        vectors = {"passages": passage_vectors, "questions": question_vectors}
        with self._write() as conn:
            self._unfit_vectors(conn, vectors)
            self._many(
                conn,
                "UPDATE passages SET vector = ?, model_id = ? WHERE article_id = ? AND position = ?",
                [(self._vector_param(v), model_id, a, p) for (a, p), v in passage_vectors.items()],
            )
            self._many(
                conn,
                "UPDATE questions SET vector = ?, model_id = ?, needs_link = ? WHERE id = ?",
                [(self._vector_param(v), model_id, True, q) for q, v in question_vectors.items()],
            )
            self._fit_vectors(conn, vectors)
        self.model_id = model_id

    def _insert_links(self, conn: Any, rows: Iterable[LinkRow]) -> None:
        self._many(
            conn,
            f"INSERT INTO links ({LINK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(r.question_id, r.rank, r.article_id, r.score, r.dense, r.lexical, r.passage) for r in rows],
        )

    # -- reads -------------------------------------------------------------------------------
    def all_texts(self) -> tuple[list[tuple[str, int, str]], list[tuple[str, str]]]:
        """(article, position, passage text) and (question id, text): what re-encoding needs."""
        with self._read() as conn:
            passages = self._exec(
                conn, "SELECT article_id, position, text FROM passages ORDER BY article_id, position"
            ).fetchall()
            questions = self._exec(conn, "SELECT id, text FROM questions ORDER BY id").fetchall()
        return passages, questions

    def load_index(self) -> IndexData:
        with self._read() as conn:
            foreign = self._foreign_models(conn)
            if foreign:
                raise EncoderMismatch(
                    f"the database holds vectors of {sorted(foreign)}, not of {self.model_id}; re-encode it first"
                )
            generation = self._counter(conn, "generation")
            article_rows = self._exec(conn, INDEX_ARTICLES).fetchall()
            # Vectors go straight into one matrix each (with spare rows for the index to append to):
            # per-row arrays and their blobs would hold every vector two or three times at once.
            passages = self._read_matrix(
                conn, f"SELECT article_id, {self.VECTOR} FROM passages ORDER BY article_id, position", "passages"
            )
            questions = self._read_matrix(
                conn,
                f"SELECT id, article_id, position, text, key, {self.VECTOR} FROM questions ORDER BY article_id, position",
                "questions",
            )
        articles = [self._article_row(r[:6]) for r in article_rows]
        return index_data(generation, article_rows, articles, passages, questions)

    def questions_to_link(self) -> list[str]:
        return [r[0] for r in self._fetch(f"SELECT id FROM questions WHERE {self.NEEDS_LINK} ORDER BY id")]

    def last_candidate_scores(self) -> dict[str, tuple[int, float]]:
        """Per question: how many candidates are stored and the lowest stored score."""
        rows = self._fetch("SELECT question_id, COUNT(*), MIN(score) FROM links GROUP BY question_id")
        return {q: (n, s) for q, n, s in rows}

    def _get_article(self, conn: Any, article_id: str) -> Article | None:
        row = self._exec(
            conn, "SELECT id, title, checked_on, summary, sections, url, topic FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        if row is None:
            return None
        questions = [
            r[0]
            for r in self._exec(conn, "SELECT text FROM questions WHERE article_id = ? ORDER BY position", (article_id,))
        ]
        # As stored: every way in validated it, and a rule added since must not make it unreadable.
        return Article.from_stored(
            id=row[0],
            title=row[1],
            checked_on=self._date(row[2]),
            summary=row[3],
            sections=list(self._from_json(row[4])),
            url=row[5],
            topic=row[6],
            questions=questions,
        )

    def get_article_row(self, article_id: str) -> ArticleRow | None:
        return self.article_rows([article_id]).get(article_id)

    def article_rows(self, ids: Sequence[str]) -> dict[str, ArticleRow]:
        rows = self._fetch_in(
            "SELECT id, title, checked_on, url, topic, content_hash FROM articles WHERE id {in}",
            list(dict.fromkeys(ids)),
            replica=True,
        )
        return {row[0]: self._article_row(row) for row in rows}

    def get_question(self, question_id: str) -> QuestionRow | None:
        rows = self._fetch(
            "SELECT id, article_id, position, text, key FROM questions WHERE id = ?", (question_id,), replica=True
        )
        return QuestionRow(*rows[0]) if rows else None

    def questions_of(self, article_id: str) -> list[QuestionRow]:
        rows = self._fetch(
            "SELECT id, article_id, position, text, key FROM questions WHERE article_id = ? ORDER BY position",
            (article_id,),
            replica=True,
        )
        return [QuestionRow(*r) for r in rows]

    def links_of(self, question_ids: Sequence[str]) -> dict[str, list[LinkRow]]:
        found: dict[str, list[LinkRow]] = {q: [] for q in question_ids}
        rows = self._fetch_in(
            f"SELECT {LINK_COLUMNS} FROM links WHERE question_id {{in}} ORDER BY question_id, rank",
            list(found),
            replica=True,
        )
        for row in rows:
            found[row[0]].append(LinkRow(*row))
        return found

    def links_to(self, article_id: str, min_score: float) -> list[LinkRow]:
        rows = self._fetch(
            f"SELECT {LINK_COLUMNS} FROM links WHERE article_id = ? AND score >= ? ORDER BY score DESC, question_id, rank",
            (article_id, min_score),
            replica=True,
        )
        return [LinkRow(*r) for r in rows]

    def passage_text(self, article_id: str, position: int) -> str | None:
        rows = self._fetch(
            "SELECT text FROM passages WHERE article_id = ? AND position = ?", (article_id, position), replica=True
        )
        return rows[0][0] if rows else None

    def best_links(self) -> list[tuple[QuestionRow, LinkRow | None]]:
        rows = self._fetch(
            """SELECT q.id, q.article_id, q.position, q.text, q.key,
                      l.question_id, l.rank, l.article_id, l.score, l.dense, l.lexical, l.passage
               FROM questions q LEFT JOIN links l ON l.question_id = q.id AND l.rank = 0
               ORDER BY q.article_id, q.position"""
        )
        return [(QuestionRow(*r[:5]), LinkRow(*r[5:]) if r[5] is not None else None) for r in rows]

    def counts(self) -> dict[str, int]:
        row = self._fetch(
            f"""SELECT (SELECT COUNT(*) FROM articles), (SELECT COUNT(*) FROM passages),
                      (SELECT COUNT(*) FROM questions), (SELECT COUNT(*) FROM links),
                      (SELECT COUNT(*) FROM questions WHERE {self.NEEDS_LINK})"""
        )[0]
        return dict(zip(("articles", "passages", "questions", "links", "pending"), map(int, row)))

    def activity(self) -> Activity:
        with self._read() as conn:
            changed = self._exec(conn, "SELECT value FROM meta WHERE key = 'generation_at'").fetchone()
            ingested = self._exec(conn, "SELECT MAX(updated_at) FROM articles").fetchone()[0]
            staged = self._exec(
                conn, "SELECT (SELECT COUNT(*) FROM staged_passages) + (SELECT COUNT(*) FROM staged_questions)"
            ).fetchone()[0]
        return Activity(changed[0] if changed else None, self._timestamp(ingested), int(staged))

    # -- editorial ---------------------------------------------------------------------------
    def counters(self) -> tuple[int, int]:
        """(generation, decisions): what a cached widget response depends on.

        Read from the replica when the caller serves replica data, so an ETag never runs ahead
        of the content it labels.
        """
        rows = dict(self._fetch("SELECT key, value FROM meta WHERE key IN ('generation', 'decisions')", replica=True))
        return int(rows["generation"]), int(rows.get("decisions", 0))

    def get_decision(self, article_id: str, key: str) -> Decision | None:
        return self.decisions_for([(article_id, key)]).get((article_id, key))

    def decisions_for(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Decision]:
        """Decisions of the given (article id, question key) pairs that have one."""
        wanted = set(pairs)
        rows = self._fetch_in(
            f"SELECT {DECISION_COLUMNS} FROM decisions WHERE article_id {{in}}",
            sorted({a for a, _ in wanted}),
            replica=True,
        )
        found: dict[tuple[str, str], Decision] = {}
        for decision in map(self._decision, rows):
            if (decision.article_id, decision.key) in wanted:
                found[(decision.article_id, decision.key)] = decision
        return found

    def all_decisions(self) -> dict[tuple[str, str], Decision]:
        rows = self._fetch(f"SELECT {DECISION_COLUMNS} FROM decisions")
        return {(d.article_id, d.key): d for d in map(self._decision, rows)}

    def save_decisions(self, changes: Sequence[tuple[int, Decision, AuditEntry]]) -> None:
        """Store (expected version, new decision, audit entry) triples, all or nothing.

        Raises VersionConflict when a stored decision is not at the expected version.
        """
        with self._write("decisions") as conn:
            for expected, decision, entry in changes:
                row = self._exec(
                    conn,
                    "SELECT version FROM decisions WHERE article_id = ? AND question_key = ?",
                    (decision.article_id, decision.key),
                ).fetchone()
                current = row[0] if row else 0
                if current != expected:
                    raise VersionConflict(decision.article_id, decision.key, current)
                self._insert_decision(conn, decision, upsert=True)
                self._insert_audit(conn, entry)

    def _insert_decision(self, conn: Any, decision: Decision, upsert: bool = False) -> None:
        conflict = (
            """ ON CONFLICT (article_id, question_key) DO UPDATE SET pinned=excluded.pinned,
                 approved=excluded.approved, rejected=excluded.rejected, hidden=excluded.hidden,
                 gap=excluded.gap, target_hash=excluded.target_hash, target_score=excluded.target_score,
                 version=excluded.version, updated_by=excluded.updated_by, updated_at=excluded.updated_at"""
            if upsert
            else ""
        )
        self._exec(
            conn,
            """INSERT INTO decisions (article_id, question_key, pinned, approved, rejected, hidden, gap,
                   target_hash, target_score, version, updated_by, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""" + conflict,
            (
                decision.article_id, decision.key, decision.pinned, decision.approved,
                self._json(list(decision.rejected), ensure_ascii=True), decision.hidden, decision.gap,
                decision.target_hash, decision.target_score, decision.version, decision.updated_by,
                decision.updated_at,
            ),
        )

    def _insert_audit(self, conn: Any, entry: AuditEntry) -> None:
        self._exec(
            conn,
            # The role the editor acts with, read in the same transaction (callers pass names, not roles).
            """INSERT INTO audit (at, editor, action, question_id, question_key, article_id, target_id, before, after, role)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(CAST(? AS TEXT), (SELECT role FROM editors WHERE name = ?)))""",
            (
                entry.at, entry.editor, entry.action, entry.question_id, entry.question_key, entry.article_id,
                entry.target_id, self._json(entry.before), self._json(entry.after), entry.role, entry.editor,
            ),
        )

    def audit_entries(
        self,
        question: tuple[str, str] | None = None,
        question_id: str | None = None,
        article_id: str | None = None,
        editor: str | None = None,
        limit: int = 100,
        offset: int = 0,
        action: str | None = None,
    ) -> tuple[int, list[AuditEntry]]:
        """(total, newest first page) of audit entries matching every given filter.

        `question` is (own article id, wording key): the question's whole history, across reordering
        and trivial rewording; `article_id` matches the question's article or the fact check acted on.
        """
        where: list[str] = []
        params: list[Any] = []
        for condition, values, wanted in (
            ("article_id = ? AND question_key = ?", question, question is not None),
            ("question_id = ?", (question_id,), question_id is not None),
            ("(article_id = ? OR target_id = ?)", (article_id, article_id), article_id is not None),
            ("editor = ?", (editor,), editor is not None),
            ("action = ?", (action,), action is not None),
        ):
            if wanted:
                where.append(condition)
                params.extend(values)  # type: ignore[arg-type]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._read() as conn:
            total = self._exec(conn, f"SELECT COUNT(*) FROM audit {clause}", params).fetchone()[0]
            rows = self._exec(
                conn, f"SELECT {AUDIT_COLUMNS} FROM audit {clause} ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset]
            ).fetchall()
        return int(total), [self._audit_entry(r) for r in rows]

    def add_editor(self, name: str, token_hash: str, role: Role = DEFAULT_ROLE) -> None:
        """Create an editor, or give a revoked one a new token (and `role`); an active editor is an error."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._write(None) as conn:
            row = self._exec(conn, "SELECT revoked_at FROM editors WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] is None:
                raise ValueError(f"editor {name!r} already has an active token; revoke it first")
            self._exec(
                conn,
                """INSERT INTO editors (name, token_hash, created_at, revoked_at, role) VALUES (?, ?, ?, NULL, ?)
                   ON CONFLICT (name) DO UPDATE SET token_hash=excluded.token_hash, created_at=excluded.created_at,
                     revoked_at=NULL, role=excluded.role""",
                (name, token_hash, now, role),
            )

    def revoke_editor(self, name: str) -> bool:
        """Revoke an editor's token; False when there is no active editor of that name."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._write(None) as conn:
            changed = self._exec(
                conn, "UPDATE editors SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now, name)
            ).rowcount
        return changed > 0

    def editor_records(self) -> list[EditorRecord]:
        # Always the primary: a revoked token must stop working at once.
        rows = self._fetch(f"SELECT {EDITOR_COLUMNS} FROM editors ORDER BY name")
        return [self._editor_record(r) for r in rows]

    # -- reliability: crash-safe relinking, backup and restore --------------------------------
    # Articles written whose effect on *other* questions' links (could they enter them?) is not
    # computed yet. Recorded in their write's transaction, cleared after the relink: a crash in between
    # leaves them here and the next open relinks what they may affect. Kept in meta (no migration).
    _PENDING = "SELECT value FROM meta WHERE key = 'pending_articles'"

    def _pending(self, conn: Any) -> dict[str, str]:
        row = self._exec(conn, self._PENDING).fetchone()
        return dict(json.loads(row[0])) if row else {}

    def _set_pending(self, conn: Any, hashes: dict[str, str]) -> None:
        self._set_meta(conn, "pending_articles", json.dumps(hashes, sort_keys=True))

    def add_pending_articles(self, hashes: Mapping[str, str]) -> None:
        """Record (article id -> content hash) about to be written."""
        with self._write(None) as conn:
            self._set_pending(conn, {**self._pending(conn), **hashes})

    def pending_articles(self) -> dict[str, str]:
        """Recorded articles whose version is stored: the relinks still owed (see clear_pending_articles)."""
        with self._read() as conn:
            pending = self._pending(conn)
            stored = dict(self._exec(conn, "SELECT id, content_hash FROM articles").fetchall()) if pending else {}
        return {a: h for a, h in pending.items() if stored.get(a) == h}

    def clear_pending_articles(self, hashes: Mapping[str, str]) -> None:
        """Forget pending articles, each only if still recorded with the same content hash, and records
        whose version is no longer stored (deleted or replaced since: nothing can make them fresh; a
        record made by an older version of this code before a write that never happened, too)."""
        with self._write(None) as conn:
            pending = self._pending(conn)
            stored = dict(self._exec(conn, "SELECT id, content_hash FROM articles").fetchall()) if pending else {}
            kept = {a: h for a, h in pending.items() if hashes.get(a) != h and stored.get(a) == h}
            if kept != pending:
                self._set_pending(conn, kept)

    def dump(self) -> Dump:
        """Articles and the whole editorial record, in one read transaction."""
        with self._read() as conn:
            ids = [r[0] for r in self._exec(conn, "SELECT id FROM articles ORDER BY id")]
            articles = [a for a in (self._get_article(conn, i) for i in ids) if a is not None]
            decisions = [
                self._decision(r)
                for r in self._exec(conn, f"SELECT {DECISION_COLUMNS} FROM decisions ORDER BY article_id, question_key")
            ]
            audit = [self._audit_entry(r) for r in self._exec(conn, f"SELECT {AUDIT_COLUMNS} FROM audit ORDER BY id")]
            editors = [
                self._editor_record(r) for r in self._exec(conn, f"SELECT {EDITOR_COLUMNS} FROM editors ORDER BY name")
            ]
            superseded = [
                Superseded(*r)
                for r in self._exec(
                    conn, "SELECT article_id, by_article_id, updated_by, updated_at FROM superseded ORDER BY article_id"
                )
            ]
        return Dump(articles, decisions, audit, editors, superseded)

    def restore(self, data: Restore, replace: bool = False) -> None:
        """Write a backup in one transaction; `replace` first empties every table it fills."""
        with self._write() as conn:
            if replace:
                for table in ("links", "questions", "passages", "articles", "decisions", "audit", "editors", "superseded"):
                    self._exec(conn, f"DELETE FROM {table}")  # noqa: S608 (fixed names)
                self._set_pending(conn, {})
                # Derived from the questions just deleted: make the next write recompute them.
                self._exec(conn, "DELETE FROM meta WHERE key = 'cluster_fingerprint'")
            self._write_articles(conn, data.articles)
            for decision in data.decisions:
                self._insert_decision(conn, decision)
            self._many(
                conn,
                f"INSERT INTO audit ({AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (e.id, e.at, e.editor, e.action, e.question_id, e.question_key, e.article_id, e.target_id,
                     self._json(e.before), self._json(e.after), e.role)
                    for e in data.audit
                ],
            )
            self._many(
                conn,
                "INSERT INTO editors (name, token_hash, created_at, revoked_at, role) VALUES (?, ?, ?, ?, ?)",
                [(r.editor.name, r.token_hash, r.editor.created_at, r.editor.revoked_at, r.editor.role) for r in data.editors],
            )
            self._many(
                conn,
                "INSERT INTO superseded (article_id, by_article_id, updated_by, updated_at) VALUES (?, ?, ?, ?)",
                [(s.article_id, s.by_article_id, s.updated_by, s.updated_at) for s in data.superseded],
            )
            self._restored_audit(conn)
            self._bump(conn, "decisions")

    # -- learning: superseded fact checks, duplicate clusters, model switching ----------------
    def superseded_map(self) -> dict[str, str]:
        """Fact check -> the newer fact check an editor said replaces it."""
        return dict(self._fetch("SELECT article_id, by_article_id FROM superseded", replica=True))

    def set_superseded(self, article_id: str, by_article_id: str | None, entry: AuditEntry) -> None:
        """Mark `article_id` superseded by `by_article_id` (None: no longer), with an audit entry."""
        with self._write("decisions") as conn:
            if by_article_id is None:
                self._exec(conn, "DELETE FROM superseded WHERE article_id = ?", (article_id,))
            else:
                self._exec(
                    conn,
                    """INSERT INTO superseded (article_id, by_article_id, updated_by, updated_at) VALUES (?, ?, ?, ?)
                       ON CONFLICT (article_id) DO UPDATE SET by_article_id=excluded.by_article_id,
                         updated_by=excluded.updated_by, updated_at=excluded.updated_at""",
                    (article_id, by_article_id, entry.editor, entry.at),
                )
            self._insert_audit(conn, entry)

    def all_clusters(self) -> dict[str, str]:
        """Question id -> cluster id, for questions in a cluster of two or more."""
        return dict(self._fetch("SELECT question_id, cluster FROM question_clusters", replica=True))

    def cluster_fingerprint(self) -> str | None:
        """What the stored clusters were computed from (see `replace_clusters`)."""
        rows = self._fetch("SELECT value FROM meta WHERE key = 'cluster_fingerprint'")
        return rows[0][0] if rows else None

    def replace_clusters(self, clusters: dict[str, str], fingerprint: str) -> None:
        """Replace every cluster assignment at once (questions deleted meanwhile are skipped) and record
        `fingerprint` (questions, model and threshold they came from) so unchanged input is not reclustered."""
        with self._write("decisions") as conn:
            self._set_meta(conn, "cluster_fingerprint", fingerprint)
            self._exec(conn, "DELETE FROM question_clusters")
            self._assign_clusters(conn, clusters, upsert=False)

    def update_clusters(self, assign: Mapping[str, str], unassign: Collection[str], fingerprint: str) -> None:
        """Change some cluster assignments (the rest stay) and record `fingerprint`, in one transaction:
        what an incremental recluster after a write needs, where replace_clusters rewrites them all."""
        with self._write("decisions") as conn:
            self._set_meta(conn, "cluster_fingerprint", fingerprint)
            for condition, params in self._in(list(unassign)):
                self._exec(conn, f"DELETE FROM question_clusters WHERE question_id {condition}", params)
            self._assign_clusters(conn, assign, upsert=True)

    def live_model(self) -> tuple[str | None, str | None]:
        """(name, model id) recorded by the last `swap_model`; (None, None) before any switch."""
        rows = dict(self._fetch("SELECT key, value FROM meta WHERE key IN ('model_name', 'model_id')"))
        return rows.get("model_name"), rows.get("model_id")

    def stage_vectors(
        self,
        model_id: str,
        passages: Sequence[tuple[str, int, str, np.ndarray]],
        questions: Sequence[tuple[str, str, np.ndarray]],
    ) -> None:
        """Keep vectors of another encoder beside the live ones: (article, position, text, vector) and
        (question id, text, vector). Serving is untouched; no counter moves."""
        with self._write(None) as conn:
            self._many(
                conn,
                """INSERT INTO staged_passages (model_id, article_id, position, text_hash, vector) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (model_id, article_id, position) DO UPDATE SET text_hash=excluded.text_hash, vector=excluded.vector""",
                [(model_id, a, p, text_hash(t), self._vector_param(v)) for a, p, t, v in passages],
            )
            self._many(
                conn,
                """INSERT INTO staged_questions (model_id, question_id, text_hash, vector) VALUES (?, ?, ?, ?)
                   ON CONFLICT (model_id, question_id) DO UPDATE SET text_hash=excluded.text_hash, vector=excluded.vector""",
                [(model_id, q, text_hash(t), self._vector_param(v)) for q, t, v in questions],
            )

    def unstaged_texts(self, model_id: str) -> tuple[list[tuple[str, int, str]], list[tuple[str, str]]]:
        """Passages and questions that have no staged vector of `model_id` for their current text,
        newest articles first (by checked_on, then last update; undated ones last)."""
        with self._read() as conn:
            passages = self._exec(
                conn,
                f"""SELECT p.article_id, p.position, p.text FROM passages p JOIN articles a ON a.id = p.article_id
                   LEFT JOIN staged_passages s ON s.model_id = ? AND s.article_id = p.article_id
                     AND s.position = p.position AND s.text_hash = p.text_hash
                   WHERE s.model_id IS NULL ORDER BY {self.NEWEST_FIRST}, p.article_id, p.position""",  # noqa: S608
                (model_id,),
            ).fetchall()
            questions = [
                (q, t)
                for q, t, h in self._exec(
                    conn,
                    f"""SELECT q.id, q.text, s.text_hash FROM questions q JOIN articles a ON a.id = q.article_id
                       LEFT JOIN staged_questions s ON s.model_id = ? AND s.question_id = q.id
                       ORDER BY {self.NEWEST_FIRST}, q.article_id, q.position""",  # noqa: S608
                    (model_id,),
                )
                if h != text_hash(t)
            ]
        return passages, questions

    def swap_model(self, model_id: str, name: str, links: dict[str, list[LinkRow]], generation: int) -> None:
        """Make the staged vectors of `model_id` live, with `links` computed from them, in one transaction.

        `generation` is the one the links were computed at: a write since then raises StaleStage
        (stage what changed and try again). Decisions are not touched.
        """
        with self._write() as conn:
            current = self._counter(conn, "generation")
            if current != generation:
                raise StaleStage(f"the database changed during the switch (generation {generation} -> {current})")
            self._swap_vectors(conn, model_id)
            self._exec(conn, "DELETE FROM links")
            self._insert_links(conn, (r for rows in links.values() for r in rows))
            self._set_meta(conn, "model_name", name)
            self._set_meta(conn, "model_id", model_id)
            self._exec(conn, "DELETE FROM staged_passages")
            self._exec(conn, "DELETE FROM staged_questions")
        self.model_id = model_id

    def discard_staged(self) -> None:
        """Forget staged vectors (an abandoned or failed switch)."""
        with self._write(None) as conn:
            self._exec(conn, "DELETE FROM staged_passages")
            self._exec(conn, "DELETE FROM staged_questions")
