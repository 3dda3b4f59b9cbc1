"""SQL of a background model switch (the ModelStore part): staged vectors, the live model, the swap.

Vectors of another encoder are staged beside the live ones while those serve; `swap_model` moves
them in with the links computed from them in one transaction, refused (StaleStage) when anything
was written since those links were computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from recommender.domain import LinkRow, StaleStage
from recommender.store.core import text_hash
from recommender.store.questions import SqlQuestions


class SqlModels(SqlQuestions):
    def _swap_vectors(self, conn: Any, model_id: str) -> None:
        """Make the staged vectors of `model_id` the live ones (inside `swap_model`'s transaction)."""
        raise NotImplementedError

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
