"""Compute and refresh question -> fact check links."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from recommender.index.fusion import combine
from recommender.index.ranker import Hit
from recommender.index.snapshot import Snapshot
from recommender.store.base import LinkRow


def link_rows(question_id: str, hits: Sequence[Hit]) -> list[LinkRow]:
    return [
        LinkRow(question_id, rank, h.doc_id, h.score, h.dense, h.lexical, h.passage)
        for rank, h in enumerate(hits)
    ]


def could_enter(
    snapshot: Snapshot,
    changed: Collection[str],
    stored: dict[str, tuple[int, float]],
    candidates: int,
) -> set[str]:
    """Questions whose stored candidates a changed article might now join.

    Exact pruning: lexical evidence is bounded by 1, so a question whose dense score for every
    changed article cannot lift the combined score above its lowest stored candidate is skipped.
    """
    ranker = snapshot.ranker
    positions = [i for i, doc in enumerate(ranker.doc_ids) if doc in changed]
    if not positions or not snapshot.questions:
        return set()
    method = ranker.config.method
    if method == "lexical" or ranker.dense is None:
        return {q.id for q in snapshot.questions}
    dense = ranker.dense
    best = np.full(len(snapshot.questions), -np.inf, dtype=np.float32)
    for doc in positions:
        block = dense.vectors[dense.offsets[doc] : dense.offsets[doc + 1]]
        best = np.maximum(best, (snapshot.question_vectors @ block.T).max(axis=1))
    bound = best if method == "dense" else combine(best, np.float32(1.0), ranker.config.dense_weight)
    affected: set[str] = set()
    for question, upper in zip(snapshot.questions, bound):
        if question.article_id in changed:
            continue  # its own article is never a candidate
        count, lowest = stored.get(question.id, (0, -np.inf))
        if count < candidates or upper > lowest:
            affected.add(question.id)
    return affected


def compute_links(
    snapshot: Snapshot, question_ids: Sequence[str], candidates: int, batch: int = 256
) -> dict[str, list[LinkRow]]:
    """Rank every given question (never against its own article) with the stored question vectors."""
    by_id = {q.id: q for q in snapshot.questions}
    wanted = [by_id[q] for q in question_ids if q in by_id]
    links: dict[str, list[LinkRow]] = {}
    for start in range(0, len(wanted), batch):
        chunk = wanted[start : start + batch]
        vectors = np.stack([snapshot.question_vectors[snapshot.question_row[q.id]] for q in chunk])
        results = snapshot.ranker.rank_batch(
            [q.text for q in chunk], candidates, [[q.article_id] for q in chunk], vectors=vectors
        )
        for question, hits in zip(chunk, results):
            links[question.id] = link_rows(question.id, hits)
    return links
