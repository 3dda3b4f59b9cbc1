"""SQL of articles with their passages, vectors and pending relinks (the ArticleStore part).

An article write replaces its passages and questions in one transaction and marks for relinking
every question whose links point at it; `reencode` swaps every vector to another encoder at once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from recommender.articles.model import Article
from recommender.domain import ArticleRow, EncoderMismatch, QuestionRow, StoredArticle
from recommender.store.base import Activity, IndexChanges, IndexData
from recommender.store.core import INDEX_ARTICLES, SqlCore, index_data, text_hash

INDEX_ROWS = INDEX_ARTICLES.replace(", body FROM", " FROM")
INDEX_QUESTIONS = "SELECT id, article_id, position, text, key FROM questions ORDER BY article_id, position"


class SqlArticles(SqlCore):
    # -- dialect hooks -----------------------------------------------------------------------
    def _prepare_articles(self, conn: Any, items: Sequence[StoredArticle]) -> None:
        """Before `items` are written (PostgreSQL fits its vector columns to them)."""

    def _write_questions(self, conn: Any, item: StoredArticle) -> None:
        """Replace the questions of `item.article` (their upsert differs between the dialects)."""
        raise NotImplementedError

    def _unfit_vectors(self, conn: Any, vectors: Mapping[str, Mapping[Any, np.ndarray]]) -> None:
        """Before `reencode` writes new vectors ({table: {key: vector}}) (PostgreSQL: of another size)."""

    def _fit_vectors(self, conn: Any, vectors: Mapping[str, Mapping[Any, np.ndarray]]) -> None:
        """After `reencode` wrote them."""

    # -- metadata ----------------------------------------------------------------------------
    def generation(self) -> int:
        # Always the primary: a snapshot must never be older than what this process wrote.
        return int(self._fetch("SELECT value FROM meta WHERE key = 'generation'")[0][0])

    def changes_since(self, generation: int, limit: int) -> IndexChanges | None:
        """What changed in the indexed content after `generation` (another process's writes, for a
        process to follow them without a full build); None when that is not known (the record does not
        reach back that far, or a write changed anything: a restore, a model swap) or more than `limit`
        articles changed."""
        with self._read() as conn:
            current = self._counter(conn, "generation")
            since = self._exec(conn, "SELECT value FROM meta WHERE key = 'changes_from'").fetchone()
            if since is None or generation < int(since[0]) or generation > current:
                return None
            rows = self._exec(
                conn, "SELECT DISTINCT article_id FROM index_changes WHERE generation > ? AND generation <= ?", (generation, current)
            ).fetchall()
            ids = [r[0] for r in rows]
            if None in ids or len(ids) > limit:
                return None
            written = [item for a in sorted(ids) if (item := self._stored_article(conn, a)) is not None]
        present = {item.article.id for item in written}
        return IndexChanges(current, written, sorted(a for a in ids if a not in present))

    def _stored_article(self, conn: Any, article_id: str) -> StoredArticle | None:
        """An article as stored, with its passages and the stored vectors (float32, as written)."""
        article = self._get_article(conn, article_id)
        if article is None:
            return None
        content_hash = self._exec(conn, "SELECT content_hash FROM articles WHERE id = ?", (article_id,)).fetchone()[0]
        passages = self._exec(
            conn, "SELECT text, vector FROM passages WHERE article_id = ? ORDER BY position", (article_id,)
        ).fetchall()
        questions = self._exec(
            conn, "SELECT vector FROM questions WHERE article_id = ? ORDER BY position", (article_id,)
        ).fetchall()
        return StoredArticle(
            article=article,
            content_hash=content_hash,
            passages=[p[0] for p in passages],
            passage_vectors=_matrix([self._vector_value(p[1]) for p in passages]),
            question_vectors=_matrix([self._vector_value(q[0]) for q in questions]),
        )

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
        with self._write(changed=[i.article.id for i in items]) as conn:
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
        with self._write(changed=[article_id]) as conn:
            self._exec(
                conn,
                "UPDATE questions SET needs_link = ? WHERE id IN (SELECT question_id FROM links WHERE article_id = ?)",
                (True, article_id),
            )
            deleted = self._exec(conn, "DELETE FROM articles WHERE id = ?", (article_id,)).rowcount
        return deleted > 0

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

    # -- reads -------------------------------------------------------------------------------
    def all_texts(self) -> tuple[list[tuple[str, int, str]], list[tuple[str, str]]]:
        """(article, position, passage text) and (question id, text): what re-encoding needs."""
        with self._read() as conn:
            passages = self._exec(
                conn, "SELECT article_id, position, text FROM passages ORDER BY article_id, position"
            ).fetchall()
            questions = self._exec(conn, "SELECT id, text FROM questions ORDER BY id").fetchall()
        return passages, questions

    def load_index(self, vectors: bool = True) -> IndexData:
        """Everything the in-memory index needs; with `vectors=False` only the article and question
        rows (no vectors, no bodies: the index files hold the rest, see index/files.py)."""
        with self._read() as conn:
            generation = self._counter(conn, "generation")
            if not vectors:
                # No vectors read, so none to check against the encoder (a scan of every vector row): the
                # index files are made for one model id (index/files.py, fingerprint).
                articles = [self._article_row(r) for r in self._exec(conn, INDEX_ROWS).fetchall()]
                questions = self._exec(conn, INDEX_QUESTIONS).fetchall()
                return IndexData(generation, articles, [], [], [QuestionRow(*r) for r in questions], np.zeros((0, 0), np.float32))
            foreign = self._foreign_models(conn)
            if foreign:
                raise EncoderMismatch(
                    f"the database holds vectors of {sorted(foreign)}, not of {self.model_id}; re-encode it first"
                )
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

    def passage_text(self, article_id: str, position: int) -> str | None:
        rows = self._fetch(
            "SELECT text FROM passages WHERE article_id = ? AND position = ?", (article_id, position), replica=True
        )
        return rows[0][0] if rows else None

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

    # -- reliability: crash-safe relinking, backup and restore --------------------------------
    # Articles written whose effect on *other* questions' links (could they enter them?) is not
    # computed yet. Recorded in their write's transaction, cleared after the relink: a crash in between
    # leaves them here and the next open relinks what they may affect. Kept in meta (no migration).
    _PENDING = "SELECT value FROM meta WHERE key = 'pending_articles'"

    def _hashes_of(self, conn: Any, article_ids: list[str]) -> dict[str, str]:
        """Stored content hashes of these articles only (a pass over every article costs an upsert
        tens of milliseconds at 100k)."""
        hashes: dict[str, str] = {}
        for condition, params in self._in(article_ids):
            hashes.update(self._exec(conn, f"SELECT id, content_hash FROM articles WHERE id {condition}", params).fetchall())
        return hashes

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
            stored = self._hashes_of(conn, list(pending))
        return {a: h for a, h in pending.items() if stored.get(a) == h}

    def clear_pending_articles(self, hashes: Mapping[str, str]) -> None:
        """Forget pending articles, each only if still recorded with the same content hash, and records
        whose version is no longer stored (deleted or replaced since: nothing can make them fresh; a
        record made by an older version of this code before a write that never happened, too)."""
        with self._write(None) as conn:
            pending = self._pending(conn)
            stored = self._hashes_of(conn, list(pending))
            kept = {a: h for a, h in pending.items() if hashes.get(a) != h and stored.get(a) == h}
            if kept != pending:
                self._set_pending(conn, kept)


def _matrix(rows: list[np.ndarray]) -> np.ndarray:
    return np.stack(rows).astype(np.float32, copy=False) if rows else np.zeros((0, 0), np.float32)
