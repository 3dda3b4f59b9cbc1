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


def _plain_touched(table: QuestionTable, changes: list[QuestionChange], threshold: float) -> list[int]:
    """The breadth-first search with a product of every row per step (what touched_rows must equal)."""
    seen = {r for c in changes for q in c.added if (r := table.row_of.get(q)) is not None}
    frontier = sorted(seen)
    extra = [v for c in changes for _, _, v in c.removed]
    keys = [table.rows[r].key for r in frontier] + [k for c in changes for _, k, _ in c.removed]
    while frontier or extra:
        vectors = np.concatenate(([table.vectors[frontier]] if frontier else []) + ([np.stack(extra)] if extra else []))
        hits = set(np.flatnonzero(table.alive & (table.vectors.products(vectors).max(axis=1) >= threshold - 1e-6)).tolist())
        for key in keys:
            hits.update(table.by_key.get(key, ()))
        frontier, extra = sorted(hits - seen), []
        keys = [table.rows[r].key for r in frontier]
        seen.update(frontier)
    return sorted(r for r in seen if table.alive[r])


def test_touched_rows_follow_chains_and_wordings_as_a_product_with_every_row_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chains of near duplicates (each step within the threshold, the ends far apart) and identical
    wordings far from each other: every step after the first multiplies only the rows the angle bound
    leaves, and finds what multiplying every row finds."""
    from recommender.index.vectors import VectorRows
    from recommender.linking.duplicates import touched_rows

    rng = np.random.default_rng(5)
    dim = 16
    rows, vectors = [], []

    def add(article: str, vector: np.ndarray, key: str) -> None:
        rows.append(QuestionRow(f"{article}-q{len(rows)}", article, len(rows), key, key))
        vectors.append(vector / np.linalg.norm(vector))

    for chain in range(3):  # each link turns by ~16 degrees: cosine 0.96 between neighbours only
        a, b = rng.normal(size=dim), rng.normal(size=dim)
        b -= (a @ b) / (a @ a) * a
        a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
        for step in range(9):
            t = step * np.radians(16)
            add(f"c{chain}-{step}", np.cos(t) * a + np.sin(t) * b, f"chain {chain} {step}")
    far = rng.normal(size=dim)
    add("far-0", far, "chain 0 8")  # worded as the end of chain 0, elsewhere in the space
    add("far-1", far + rng.normal(scale=0.05, size=dim), "far 1")  # and a near duplicate of that one
    for n in range(400):
        add(f"noise-{n}", rng.normal(size=dim), f"noise {n}")
    table = QuestionTable.build(rows, np.array(vectors, np.float32), [[] for _ in rows], dim)
    plain = []  # products of every row (after the first step's): the bound did not save them
    real_products = VectorRows.products
    monkeypatch.setattr(VectorRows, "products", lambda self, other: plain.append(len(self)) or real_products(self, other))
    sizes = {}
    for article in ("c0-0", "c1-4", "noise-7"):  # a new question worded anew, with the vector of that one
        new_rows = [QuestionRow(f"new-{article}", f"new-{article}", 1, "new", "new")]
        start = table.rows[table.by_article[article][0]]
        changed = table.updated([f"new-{article}"], new_rows, np.array([table.vector(start.id)]), [[]])
        changes = [QuestionChange((), (new_rows[0].id,))]
        plain.clear()
        found = sorted(touched_rows(changed, changes, 0.95))
        passes = len(plain) - 1  # the first step's product with every row is one of them
        assert found == _plain_touched(changed, changes, 0.95)
        sizes[article] = (len(found), passes)
    # chain 0 end to end, the far question worded as its end, and that one's near duplicate; a question
    # near nothing costs no product of every row after the first step, a chain only its far steps
    assert sizes["c0-0"][0] == 1 + 9 + 2 and sizes["c1-4"][0] == 1 + 9 and sizes["noise-7"] == (2, 0)
    assert sizes["c0-0"][1] < 9


def test_row_norms_are_computed_once_and_carried_to_appended_rows() -> None:
    from recommender.index.vectors import VectorRows

    rng = np.random.default_rng(2)
    base = VectorRows.of(rng.normal(size=(50, 8)).astype(np.float32), 8)
    grown = base.appended(rng.normal(size=(3, 8)).astype(np.float32))  # made before the base's norms exist
    np.testing.assert_allclose(grown.norms(), np.linalg.norm(grown.dense(), axis=1), rtol=1e-6)
    assert base._base_norms and base._base_norms is grown._base_norms  # computed by one, kept for both
    np.testing.assert_array_equal(base.norms(), grown.norms()[:50])
