"""Offline evaluation: load a benchmark, rank it with the production Ranker, report MAP@5 and friends."""

from recommender.evaluation.benchmark import (
    BenchmarkFormatError,
    CorpusRecord,
    QueryRecord,
    load_corpus,
    load_qrels,
    load_queries,
)
from recommender.evaluation.metrics import (
    aggregate,
    average_precision_at_k,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
)
from recommender.evaluation.runner import EvalResult, evaluate, format_table, run_benchmark, to_json

__all__ = [
    "BenchmarkFormatError",
    "CorpusRecord",
    "EvalResult",
    "QueryRecord",
    "aggregate",
    "average_precision_at_k",
    "evaluate",
    "format_table",
    "load_corpus",
    "load_qrels",
    "load_queries",
    "ndcg_at_k",
    "recall_at_k",
    "reciprocal_rank",
    "run_benchmark",
    "to_json",
]
