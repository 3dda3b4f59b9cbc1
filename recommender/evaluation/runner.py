"""Rank a benchmark's queries with the production Ranker and score the rankings.

`run_benchmark` builds the index exactly as the service does (build_ranker, benchmark_document)
so the numbers measure what is served; passage and query vectors go through the on-disk
EmbeddingCache, so a rerun with the same model embeds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from recommender.config import Settings
from recommender.embedding.base import Encoder
from recommender.embedding.cache import EmbeddingCache, encode_cached
from recommender.evaluation.benchmark import QueryRecord, load_corpus, load_qrels, load_queries
from recommender.evaluation.metrics import METRIC_KEYS, aggregate, grades
from recommender.index.builder import benchmark_document, build_ranker
from recommender.index.query import clean_query
from recommender.index.base import RankingIndex
from recommender.index.ranker import METHODS, RankerConfig

DEFAULT_METHOD = "default"
_LABELS = {
    "map@5": "MAP@5",
    "mrr": "MRR",
    "recall@1": "R@1",
    "recall@5": "R@5",
    "recall@10": "R@10",
    "ndcg@10": "nDCG@10",
}


@dataclass(frozen=True)
class EvalResult:
    """metrics: METRIC_KEYS means plus "queries" (how many were averaged over);
    skipped: queries without any relevant document (not ranked, not averaged);
    rankings: query id -> ranked doc ids, for every query that was scored."""

    metrics: dict[str, float | int]
    skipped: int
    rankings: dict[str, list[str]] = field(default_factory=dict)


def evaluate(
    ranker: RankingIndex,
    queries: Sequence[QueryRecord],
    qrels: Mapping[str, Mapping[str, int]],
    k: int = 10,
    batch_size: int = 64,
    progress: bool = False,
    query_vectors: np.ndarray | None = None,
) -> EvalResult:
    """Rank the queries that have a relevant document (top `k`, excludes honoured) and score them.

    `query_vectors` (one row per query, aligned with `queries`) skips query encoding.
    Judgements of queries not in `queries` are ignored, so a subset can be evaluated.
    """
    if k < 10:
        raise ValueError(f"k must be at least 10 to report recall@10 and nDCG@10, got {k}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if query_vectors is not None and len(query_vectors) != len(queries):
        raise ValueError(f"{len(query_vectors)} query vectors for {len(queries)} queries")
    scored = [i for i, q in enumerate(queries) if grades(qrels.get(q.id, {}))]
    rankings: dict[str, list[str]] = {}
    bar = tqdm(total=len(scored), desc=f"ranking ({ranker.config.method})", unit="query", disable=not progress)
    for start in range(0, len(scored), batch_size):
        batch = [queries[i] for i in scored[start : start + batch_size]]
        vectors = None
        if query_vectors is not None and ranker.config.method != "lexical":
            vectors = query_vectors[scored[start : start + batch_size]]
        hits = ranker.rank_batch([q.text for q in batch], k, [q.exclude for q in batch], vectors=vectors)
        for query, ranked in zip(batch, hits):
            rankings[query.id] = [hit.doc_id for hit in ranked]
        bar.update(len(batch))
    bar.close()
    judged = {queries[i].id: qrels[queries[i].id] for i in scored}
    return EvalResult(aggregate(rankings, judged), len(queries) - len(scored), rankings)


def ranker_config(method: str, settings: Settings) -> RankerConfig:
    """The configuration `method` names: "default" is settings.method; every method uses the settings' weights."""
    chosen = settings.method if method == DEFAULT_METHOD else method
    if chosen not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join((DEFAULT_METHOD, *METHODS))}")
    return RankerConfig.of(settings, chosen)  # type: ignore[arg-type]


def run_benchmark(
    corpus_path: Path | str,
    queries_path: Path | str,
    qrels_path: Path | str,
    methods: Sequence[str],
    settings: Settings,
    encoder_factory: Callable[[], Encoder],
    progress: bool = False,
    database_url: str | None = None,
) -> dict[str, EvalResult]:
    """Evaluate each method on one benchmark; the files are read once, the encoder made only if needed.

    With `database_url` the documents are loaded into that (scratch) PostgreSQL database and ranked
    there by the service's PostgreSQL backend (evaluation/postgres.py) instead of in memory."""
    configs = {method: ranker_config(method, settings) for method in methods}
    corpus = load_corpus(corpus_path)
    queries = load_queries(queries_path)
    qrels = load_qrels(qrels_path)

    encoder: Encoder | None = None
    cache: EmbeddingCache | None = None
    query_vectors: np.ndarray | None = None
    if database_url or any(config.method != "lexical" for config in configs.values()):
        encoder = encoder_factory()
        cache = EmbeddingCache(Path(settings.cache_dir), encoder.model_id)
    try:
        docs = [benchmark_document(r.id, r.title, r.text, encoder) for r in corpus]
        if encoder is not None:
            # Vectors of the text the Ranker will rank (cleaned when the settings say so).
            texts = [clean_query(q.text) if settings.clean_queries else q.text for q in queries]
            query_vectors = encode_cached(encoder, texts, cache, progress=progress, label="embedding queries")
        results: dict[str, EvalResult] = {}
        for method, config in configs.items():
            if database_url:
                from recommender.evaluation.postgres import postgres_ranker

                assert encoder is not None
                ranker, store = postgres_ranker(database_url, docs, encoder, config, settings, cache, progress)
                try:
                    results[method] = evaluate(ranker, queries, qrels, progress=progress, query_vectors=query_vectors)
                finally:
                    store.close()  # type: ignore[attr-defined]
                continue
            ranker = build_ranker(docs, encoder if config.method != "lexical" else None, config, cache, progress)
            results[method] = evaluate(ranker, queries, qrels, progress=progress, query_vectors=query_vectors)
        return results
    finally:
        if cache is not None:
            cache.close()


def format_table(results: Mapping[str, EvalResult]) -> str:
    """A Markdown table, one row per method, metrics to 3 decimals."""
    header = ["method", *(_LABELS[key] for key in METRIC_KEYS), "queries"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([" --- "] + [" ---: "] * (len(header) - 1)) + "|"]
    for method, result in results.items():
        cells = [method, *(f"{float(result.metrics[key]):.3f}" for key in METRIC_KEYS), str(result.metrics["queries"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def to_json(results: Mapping[str, EvalResult]) -> dict[str, dict[str, float | int]]:
    """{"<method>": {"map@5", "mrr", "recall@1", "recall@5", "recall@10", "ndcg@10", "queries"}}."""
    return {
        method: {**{key: float(result.metrics[key]) for key in METRIC_KEYS}, "queries": int(result.metrics["queries"])}
        for method, result in results.items()
    }
