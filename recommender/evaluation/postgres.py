"""`recommender evaluate --database-url`: a benchmark ranked inside PostgreSQL by the service's PgRanker.

The benchmark's documents are split and embedded exactly as for the in-memory run (benchmark_document,
the same EmbeddingCache), written into a scratch database as articles (recommender/store/pgranking.py,
`load_benchmark`; a database holding real articles is refused), and ranked by the same PgRanker the
service uses on PostgreSQL: HNSW and BM25 candidates, exact rescoring. So the difference between the
two runs is the candidate stage's recall, nothing else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from recommender.config import Settings
from recommender.embedding.base import Encoder
from recommender.embedding.cache import EmbeddingCache, encode_cached
from recommender.index.base import RankerConfig
from recommender.index.builder import Document
from recommender.index.pg_ranker import PgOptions, PgRanker


def postgres_ranker(
    url: str,
    docs: Sequence[Document],
    encoder: Encoder,
    config: RankerConfig,
    settings: Settings,
    cache: EmbeddingCache | None = None,
    progress: bool = False,
) -> tuple[PgRanker, object]:
    """(the ranker, its store: close it when done) over `docs` loaded into the database at `url`."""
    from recommender.store.postgres import PostgresStore

    flat = [p for d in docs for p in d.passages]
    vectors = encode_cached(encoder, flat, cache, progress=progress, label="embedding passages")
    rows = []
    start = 0
    digest = hashlib.sha256(encoder.model_id.encode())
    for d in docs:
        rows.append((d.id, d.title, d.text, d.passages, vectors[start : start + len(d.passages)]))
        start += len(d.passages)
        digest.update(f"\0{d.id}\0{d.title}\0{d.text}\0{len(d.passages)}".encode())
    store = PostgresStore(url, encoder.model_id, timeout=settings.database_timeout)
    try:
        store.load_benchmark(digest.hexdigest(), rows)
        options = PgOptions.of(settings)
        ranker = PgRanker.open(store, [d.id for d in docs], encoder, config, options)
    except BaseException:
        store.close()
        raise
    return ranker, store
