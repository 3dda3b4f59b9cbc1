"""Training triplets (query, a passage that answers it, a passage that does not).

Positives and hard negatives are the passages the current model matches best inside the
relevant and the top-ranked non-relevant documents, so the model learns from the same unit it
is scored on.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from recommender.evaluation.benchmark import QueryRecord
from recommender.index.builder import Document
from recommender.index.query import clean_query
from recommender.index.ranker import Ranker


@dataclass(frozen=True)
class Triplet:
    query_id: str
    anchor: str
    positive: str
    negative: str


def split_queries(queries: Sequence[QueryRecord], held_out: float, seed: int) -> tuple[list[QueryRecord], list[QueryRecord]]:
    """A seeded split: (train, held-out). The held-out part judges the model, never trains it."""
    shuffled = list(queries)
    random.Random(seed).shuffle(shuffled)
    cut = int(round(len(shuffled) * held_out))
    return shuffled[cut:], shuffled[:cut]


def mine_triplets(
    ranker: Ranker,
    docs: Mapping[str, Document],
    queries: Sequence[QueryRecord],
    qrels: Mapping[str, Mapping[str, int]],
    negatives_from: int = 10,
    rejected: Mapping[str, Sequence[str]] | None = None,
) -> list[Triplet]:
    """One triplet per (query, relevant document); the negative is an editor-rejected document when
    there is one, else the best-ranked document that is not relevant."""
    if ranker.dense is None or ranker.encoder is None:
        raise ValueError("mining needs a dense ranker")
    rejected = rejected or {}
    texts = [clean_query(q.text) for q in queries]
    vectors = ranker.encoder.encode(texts)
    ranked = ranker.rank_batch(texts, negatives_from, [q.exclude for q in queries], vectors=vectors)
    position = {doc_id: i for i, doc_id in enumerate(ranker.doc_ids)}
    triplets: list[Triplet] = []
    for query, text, vector, hits in zip(queries, texts, vectors, ranked):
        relevant = {d for d, grade in qrels.get(query.id, {}).items() if grade > 0 and d in position}
        if not relevant:
            continue
        negative_ids = [d for d in rejected.get(query.id, ()) if d in position and d not in relevant]
        negative_ids += [h.doc_id for h in hits if h.doc_id not in relevant and h.doc_id not in query.exclude]
        if not negative_ids:
            continue
        negative = _best_passage(ranker, docs, position, negative_ids[0], vector)
        for doc_id in sorted(relevant):
            triplets.append(Triplet(query.id, text, _best_passage(ranker, docs, position, doc_id, vector), negative))
    return triplets


def _best_passage(ranker: Ranker, docs: Mapping[str, Document], position: Mapping[str, int], doc_id: str, vector) -> str:  # type: ignore[no-untyped-def]
    assert ranker.dense is not None
    passage, _ = ranker.dense.best_passage(vector, position[doc_id])
    return docs[doc_id].passages[passage]
