"""Retrieval metrics for one query's ranking, and their average over a benchmark (pure functions).

A ranking is a sequence of document ids, best first. Relevance is either a collection of relevant
ids or a mapping id -> grade; only grades > 0 count as relevant (a grade of 0 is a judged
non-relevant document). A document repeated in a ranking counts only at its first position.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np

Relevance = Mapping[str, int] | Collection[str]

METRIC_KEYS: tuple[str, ...] = ("map@5", "mrr", "recall@1", "recall@5", "recall@10", "ndcg@10")


def grades(relevant: Relevance) -> dict[str, int]:
    """The relevant documents and their grades (> 0); a plain collection means grade 1 each."""
    if isinstance(relevant, Mapping):
        return {doc: int(g) for doc, g in relevant.items() if g > 0}
    return {doc: 1 for doc in relevant}


def _hits(ranking: Sequence[str], relevant: Mapping[str, int], k: int | None = None) -> list[int]:
    """Grade of each position of `ranking` (cut at k); 0 for non-relevant and repeated documents."""
    seen: set[str] = set()
    out: list[int] = []
    for doc in ranking[:k] if k is not None else ranking:
        out.append(relevant.get(doc, 0) if doc not in seen else 0)
        seen.add(doc)
    return out


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def average_precision_at_k(ranking: Sequence[str], relevant: Relevance, k: int = 5) -> float:
    """AP@k as the CheckThat! scorer computes it.

    Sum of precision@i over the ranks i <= k that hold a relevant document, divided by
    min(number of relevant documents, k). 0 when there is no relevant document.
    """
    _check_k(k)
    rel = grades(relevant)
    if not rel:
        return 0.0
    found = 0
    total = 0.0
    for i, grade in enumerate(_hits(ranking, rel, k), start=1):
        if grade > 0:
            found += 1
            total += found / i
    return total / min(len(rel), k)


def reciprocal_rank(ranking: Sequence[str], relevant: Relevance) -> float:
    """1 / rank of the first relevant document; 0 if none is in the ranking."""
    rel = grades(relevant)
    for i, grade in enumerate(_hits(ranking, rel), start=1):
        if grade > 0:
            return 1.0 / i
    return 0.0


def recall_at_k(ranking: Sequence[str], relevant: Relevance, k: int) -> float:
    """Share of the relevant documents found in the top k; 0 when there is no relevant document."""
    _check_k(k)
    rel = grades(relevant)
    if not rel:
        return 0.0
    return sum(1 for g in _hits(ranking, rel, k) if g > 0) / len(rel)


def ndcg_at_k(ranking: Sequence[str], relevant: Relevance, k: int = 10) -> float:
    """nDCG@k with linear gains (gain = grade) and a log2(rank + 1) discount.

    The ideal ranking is every judged relevant document sorted by grade; 0 when there is none.
    """
    _check_k(k)
    rel = grades(relevant)
    if not rel:
        return 0.0
    gains = np.asarray(_hits(ranking, rel, k), dtype=np.float64)
    ideal = np.asarray(sorted(rel.values(), reverse=True)[:k], dtype=np.float64)
    dcg = float((gains / np.log2(np.arange(2, len(gains) + 2))).sum())
    idcg = float((ideal / np.log2(np.arange(2, len(ideal) + 2))).sum())
    return dcg / idcg


def f1(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall (0 when both are 0)."""
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def query_metrics(ranking: Sequence[str], relevant: Relevance) -> dict[str, float]:
    """Every reported metric for one query."""
    return {
        "map@5": average_precision_at_k(ranking, relevant, 5),
        "mrr": reciprocal_rank(ranking, relevant),
        "recall@1": recall_at_k(ranking, relevant, 1),
        "recall@5": recall_at_k(ranking, relevant, 5),
        "recall@10": recall_at_k(ranking, relevant, 10),
        "ndcg@10": ndcg_at_k(ranking, relevant, 10),
    }


def aggregate(
    rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]
) -> dict[str, float | int]:
    """Mean of each metric over the queries of `qrels` with at least one relevant document.

    A judged query missing from `rankings` counts as an empty ranking (scores 0); rankings of
    queries without a relevant document are ignored. Returns the METRIC_KEYS plus "queries",
    the number of queries averaged over (all metrics are 0.0 when it is 0).
    """
    judged = [q for q, docs in qrels.items() if grades(docs)]
    if not judged:
        return {**{key: 0.0 for key in METRIC_KEYS}, "queries": 0}
    per_query = [query_metrics(rankings.get(q, ()), qrels[q]) for q in judged]
    means: dict[str, float | int] = {key: float(np.mean([m[key] for m in per_query])) for key in METRIC_KEYS}
    means["queries"] = len(judged)
    return means
