"""What a ranking method costs on this machine: search latency and ingest throughput.

Measured with the service's own code: a search is `Ranker.rank` of one text the encoder has not seen
(query encoding included, no cache), ingest is splitting documents into passages and encoding them.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from recommender.embedding.base import Encoder
from recommender.index.builder import Document
from recommender.index.ranker import Ranker


@dataclass(frozen=True)
class Cost:
    search_p50_ms: float
    search_p95_ms: float
    ingest_docs_per_s: float | None  # None: the method embeds nothing (lexical)
    index_size: int  # documents in the index searched


def search_latency(ranker: Ranker, texts: Sequence[str], k: int = 10) -> tuple[float, float]:
    """(p50, p95) milliseconds of one `Ranker.rank` per text, after one warm-up search."""
    if not texts:
        raise ValueError("no texts to time")
    ranker.rank(texts[0], k)
    times = []
    for text in texts:
        started = time.perf_counter()
        ranker.rank(text, k)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def ingest_rate(encoder: Encoder, docs: Sequence[Document]) -> float:
    """Documents per second: encoding every passage of `docs` (already split), no cache."""
    passages = [p for d in docs for p in d.passages]
    if not passages:
        raise ValueError("no passages to encode")
    encoder.encode(passages[:2])  # warm-up: the first call pays for allocations
    started = time.perf_counter()
    encoder.encode(passages)
    return len(docs) / (time.perf_counter() - started)


def measure(ranker: Ranker, queries: Sequence[str], ingest_docs: Sequence[Document] = ()) -> Cost:
    p50, p95 = search_latency(ranker, queries)
    rate = ingest_rate(ranker.encoder, ingest_docs) if ranker.encoder is not None and ingest_docs else None
    return Cost(p50, p95, rate, ranker.live_size)
