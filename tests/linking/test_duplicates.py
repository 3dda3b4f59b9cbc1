"""Updating duplicate clusters after a write gives what clustering every question again gives."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.index.questions import QuestionTable
from recommender.index.questions import QuestionChange
from recommender.linking.duplicates import update_clusters
from recommender.domain import QuestionRow

pytest.importorskip("sklearn")
from recommender.linking.clusters import cluster_questions  # noqa: E402

THRESHOLD = 0.85


def _questions(rng: np.random.Generator, article: str, topics: np.ndarray, picks: list[int]) -> tuple[list[QuestionRow], np.ndarray]:
    rows, vectors = [], []
    for n, topic in enumerate(picks, start=1):
        vector = topics[topic] + rng.normal(scale=0.02, size=topics.shape[1])  # near-duplicates of a topic
        key = f"topic {topic}" if topic % 5 == 0 else f"{article} {n}"  # some identical wordings too
        rows.append(QuestionRow(f"{article}-q{n}", article, n, key, key))
        vectors.append(vector / np.linalg.norm(vector))
    return rows, np.array(vectors, dtype=np.float32)


def _full(table: QuestionTable) -> dict[str, str]:
    live = sorted(np.flatnonzero(table.alive), key=lambda r: (table.rows[r].article_id, table.rows[r].position))
    return cluster_questions([table.rows[r].id for r in live], [table.rows[r].key for r in live], table.vectors[live], THRESHOLD)


def test_update_equals_a_full_run() -> None:
    rng = np.random.default_rng(3)
    topics = rng.normal(size=(30, 16))
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    rows, vectors = [], []
    for a in range(40):
        r, v = _questions(rng, f"a{a:02d}", topics, list(rng.integers(0, 30, size=3)))
        rows += r
        vectors.append(v)
    table = QuestionTable.build(rows, np.concatenate(vectors), [[] for _ in rows], 16)
    stored = _full(table)
    assert stored  # the data has duplicates
    # One write: article a03 rewritten (other topics), a07 deleted, a new article a99.
    changes = []
    for article, picks in (("a03", [1, 2, 5]), ("a07", None), ("a99", [5, 10, 11])):
        removed = tuple((table.rows[r].id, table.rows[r].key, table.vectors[r].copy()) for r in table.by_article.get(article, ()))
        new_rows, new_vectors = _questions(rng, article, topics, picks) if picks else ([], np.zeros((0, 16), np.float32))
        table = table.updated([article], new_rows, new_vectors, [[] for _ in new_rows])
        changes.append(QuestionChange(removed, tuple(q.id for q in new_rows)))
    assert update_clusters(table, changes, THRESHOLD).applied(stored) == _full(table)
