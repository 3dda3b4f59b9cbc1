"""SQL of questions, their computed links and duplicate-question clusters (the QuestionStore part).

A question waits for relinking (`needs_link`) from the write that changed it, or the article its
links point at, until `replace_links` stores its new links. Cluster writes bump the `decisions`
counter, the widget's other ETag counter.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from recommender.domain import LinkRow, QuestionRow
from recommender.store.core import SqlCore

LINK_COLUMNS = "question_id, rank, article_id, score, dense, lexical, passage"


class SqlQuestions(SqlCore):
    def _assign_clusters(self, conn: Any, clusters: Mapping[str, str], upsert: bool) -> None:
        """Insert (question id -> cluster) rows of questions still present; `upsert`: replace existing ones."""
        raise NotImplementedError

    def mark_for_linking(self, question_ids: Sequence[str]) -> None:
        with self._write(changed=()) as conn:
            for condition, params in self._in(list(question_ids)):
                self._exec(conn, f"UPDATE questions SET needs_link = ? WHERE id {condition}", [True, *params])

    def _insert_links(self, conn: Any, rows: Iterable[LinkRow]) -> None:
        self._many(
            conn,
            f"INSERT INTO links ({LINK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(r.question_id, r.rank, r.article_id, r.score, r.dense, r.lexical, r.passage) for r in rows],
        )

    def questions_to_link(self) -> list[str]:
        return [r[0] for r in self._fetch(f"SELECT id FROM questions WHERE {self.NEEDS_LINK} ORDER BY id")]

    def last_candidate_scores(self) -> dict[str, tuple[int, float]]:
        """Per question: how many candidates are stored and the lowest stored score."""
        rows = self._fetch("SELECT question_id, COUNT(*), MIN(score) FROM links GROUP BY question_id")
        return {q: (n, s) for q, n, s in rows}

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

    def best_links(self) -> list[tuple[QuestionRow, LinkRow | None]]:
        rows = self._fetch(
            """SELECT q.id, q.article_id, q.position, q.text, q.key,
                      l.question_id, l.rank, l.article_id, l.score, l.dense, l.lexical, l.passage
               FROM questions q LEFT JOIN links l ON l.question_id = q.id AND l.rank = 0
               ORDER BY q.article_id, q.position"""
        )
        return [(QuestionRow(*r[:5]), LinkRow(*r[5:]) if r[5] is not None else None) for r in rows]

    # -- what the stored links were computed with ----------------------------------------------
    def link_settings(self) -> str | None:
        """The ranking settings the stored links come from (see `relink_under`); None before the first start."""
        rows = self._fetch("SELECT value FROM meta WHERE key = 'link_settings'")
        return rows[0][0] if rows else None

    def relink_under(self, settings: str) -> int:
        """Mark every question for linking and record `settings` as what its links will come from, in one
        transaction: a crash before the relink finishes leaves the questions marked, never the old links
        under the new settings' name. Returns how many questions were marked."""
        with self._write(changed=()) as conn:
            marked = self._exec(conn, "UPDATE questions SET needs_link = ?", [True]).rowcount
            self._set_meta(conn, "link_settings", settings)
        return max(int(marked), 0)

    def record_link_settings(self, settings: str) -> None:
        """Record `settings` as what the stored links come from, marking nothing: for links computed
        outside a service's start under exactly these settings (e.g. a benchmark database's, linked by
        scripts/synthetic_corpus.py). A service relinks through `relink_under`."""
        with self._write(changed=()) as conn:
            self._set_meta(conn, "link_settings", settings)

    # -- duplicate-question clusters ----------------------------------------------------------
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
