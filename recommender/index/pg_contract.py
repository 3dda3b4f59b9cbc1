"""What the PostgreSQL ranker reads from and writes to its store, and how it is tuned.

PgRanker (index/pg_ranker.py) reaches recommender/store/pgranking.py only through RankingStore: the
index layer names what it needs without importing the store's SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from recommender.index.lexical import terms_of

if TYPE_CHECKING:
    from recommender.config import Settings

# (vector or None, terms with repeats, their idf) and (article id, best passage's inner product, its
# position, length, term -> tf of the query's terms): what RankingStore.ranked_candidates takes and gives.
Query = tuple[np.ndarray | None, Sequence[str], Sequence[float]]
Candidate = tuple[str, float, int, int, dict[str, int]]


class RankingStore(Protocol):
    """What PgRanker reads and writes (recommender/store/pgranking.py)."""

    def hnsw_state(self) -> str: ...
    def stale_term_articles(self, limit: int = 2000) -> list[tuple[str, str, str]]: ...
    def write_terms(self, rows: Sequence[tuple[str, str, int, Mapping[str, int], Sequence[str]]]) -> None: ...
    def document_terms(self, article_ids: Sequence[str]) -> dict[str, tuple[int, dict[str, int], list[str]]]: ...
    def dense_candidates(self, vectors: np.ndarray, passages: int, ef_search: int, exact: bool = False) -> list[list[str]]: ...
    def lexical_candidates(
        self,
        terms: Sequence[str],
        weights: Sequence[float],
        limit: int,
        k1: float,
        b: float,
        average_length: float,
        postings: int = 0,
    ) -> list[str]: ...
    def candidate_rows(
        self, article_ids: Sequence[str], terms: Sequence[str], vectors: bool = True, sequences: bool = False
    ) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, dict[str, int], list[str]]]]: ...
    def ranked_candidates(
        self,
        queries: Sequence[Query],
        passages: int,
        lexical: int,
        ef_search: int,
        bm25: tuple[float, float, float],
        exact: bool = False,
        postings: int = 0,
    ) -> list[list[Candidate]]: ...
    def term_sequences(self, article_ids: Sequence[str]) -> dict[str, list[str]]: ...


@dataclass(frozen=True)
class PgOptions:
    dense_candidates: int = 200
    lexical_candidates: int = 100
    ef_search: int = 200
    lexical_postings: int = 1000  # per query term, its best postings read for lexical candidates (0: all)
    parallel_queries: int = 2  # connections one batch of queries is split over

    @classmethod
    def of(cls, settings: Settings) -> PgOptions:
        return cls(
            settings.ranking_dense_candidates,
            settings.ranking_lexical_candidates,
            settings.ranking_ef_search,
            settings.ranking_lexical_postings,
            settings.ranking_parallel_queries,
        )


def term_rows(items: Sequence[tuple[str, str, str]]) -> list[tuple[str, str, int, dict[str, int], list[str]]]:
    """(id, content hash, length, term -> tf, terms in text order) of (id, content hash, text)."""
    rows = []
    for (article_id, content_hash, _), terms in zip(items, terms_of([i[2] for i in items])):
        counts: dict[str, int] = {}
        for term in terms:
            if term:
                counts[term] = counts.get(term, 0) + 1
        rows.append((article_id, content_hash, len(terms), counts, list(terms)))
    return rows
