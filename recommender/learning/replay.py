"""Replaying a benchmark for the learning reports: rank it with scores, and simulate editors from its key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from recommender.config import Settings
from recommender.embedding.base import Encoder
from recommender.embedding.cache import EmbeddingCache, encode_cached
from recommender.evaluation.benchmark import QueryRecord, load_corpus
from recommender.evaluation.runner import ranker_config
from recommender.index.builder import Document, benchmark_document, build_ranker
from recommender.index.query import clean_query
from recommender.index.ranker import Hit, Ranker
from recommender.learning.calibration import Example


@dataclass
class BenchmarkRanker:
    ranker: Ranker
    docs: dict[str, Document]


def benchmark_ranker(corpus: Path, settings: Settings, encoder: Encoder) -> BenchmarkRanker:
    """The service's ranker over a benchmark corpus (passage vectors from the embedding cache)."""
    records = load_corpus(corpus)
    docs = [benchmark_document(r.id, r.title, r.text, encoder) for r in records]
    cache = EmbeddingCache(settings.cache_dir, encoder.model_id)
    try:
        ranker = build_ranker(docs, encoder, ranker_config("default", settings), cache)
    finally:
        cache.close()
    return BenchmarkRanker(ranker, {d.id: d for d in docs})


def rank_queries(ranked: BenchmarkRanker, queries: Sequence[QueryRecord], settings: Settings, k: int) -> list[list[Hit]]:
    texts = [clean_query(q.text) if settings.clean_queries else q.text for q in queries]
    encoder = ranked.ranker.encoder
    assert encoder is not None
    cache = EmbeddingCache(settings.cache_dir, encoder.model_id)
    try:
        vectors = encode_cached(encoder, texts, cache)
    finally:
        cache.close()
    return ranked.ranker.rank_batch(texts, k, [q.exclude for q in queries], vectors=vectors)


def examples_from_hits(
    queries: Sequence[QueryRecord], hits: Sequence[Sequence[Hit]], qrels: Mapping[str, Mapping[str, int]], top_k: int
) -> list[Example]:
    """The top `top_k` candidates of each judged query, labelled by the key (relevant = approved)."""
    out = []
    for query, found in zip(queries, hits):
        judged = qrels.get(query.id)
        if judged is None:
            continue
        for hit in list(found)[:top_k]:
            out.append(Example(query.id, hit.doc_id, hit.score, int(judged.get(hit.doc_id, 0) > 0), "key"))
    return out


@dataclass(frozen=True)
class SimulatedDecision:
    """What an editor following the answer key does with a question's suggestions."""

    query_id: str
    approved: str | None  # the relevant fact check, when the model offered it among its candidates
    rejected: tuple[str, ...]  # wrong candidates ranked above it (or the top one when nothing is right)
    gap: bool = False


def simulate_editor(
    query_id: str, candidates: Sequence[str], judged: Mapping[str, int]
) -> SimulatedDecision | None:
    """An editor reviewing the candidates top down: rejects wrong ones until a right one, approves it;
    marks a gap when the key says nothing answers and rejects the top suggestion. None: nothing to say
    (the right answer is not among the candidates, so a careful editor would pin it; left out here)."""
    relevant = {d for d, g in judged.items() if g > 0}
    if not relevant:
        return SimulatedDecision(query_id, None, tuple(candidates[:1]), gap=True)
    rejected = []
    for doc in candidates:
        if doc in relevant:
            return SimulatedDecision(query_id, doc, tuple(rejected))
        rejected.append(doc)
    return None
