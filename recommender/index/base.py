"""The ranking interface every index backend implements (recommender/index/backend.py picks one).

Two backends rank with the same fused score (index/fusion.py over the best passage's cosine and BM25
with fixed reference weights, index/term_weights.py):

    Ranker    (index/ranker.py)     every passage vector and posting in memory, exact
    PgRanker  (index/pg_ranker.py)  candidates from PostgreSQL (pgvector HNSW + BM25 over stored term
                                    frequencies), each candidate rescored exactly from its rows

Callers (search, suggestions, the linker, `recommender evaluate`) see only this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from recommender.index.proximity import OFF, Proximity
from recommender.index.query import clean_query, is_post
from recommender.store.vectors import Int8Rows

if TYPE_CHECKING:
    from recommender.config import Settings
    from recommender.embedding.base import Encoder

Method = Literal["dense", "lexical", "hybrid"]
METHODS: tuple[str, ...] = ("dense", "lexical", "hybrid")
# A document written: (id, passage vectors, text) and, from a store write, its content hash.
Added = tuple[str, np.ndarray, str] | tuple[str, np.ndarray, str, str]


@dataclass(frozen=True)
class RankerConfig:
    method: Method = "hybrid"
    dense_weight: float = 0.8
    lexical_saturation: float = 10.0
    clean_queries: bool = True  # strip links, handles and tweet trailers before ranking
    average_length: float = 300.0  # BM25's reference document length (see index/lexical.py)
    proximity: Proximity = OFF  # pair evidence for close query terms (see index/proximity.py)

    @classmethod
    def of(cls, settings: Settings, method: Method | None = None) -> RankerConfig:
        return cls(
            method or settings.method,
            settings.dense_weight,
            settings.lexical_saturation,
            settings.clean_queries,
            settings.lexical_average_length,
            Proximity(settings.proximity_window, settings.proximity_max_terms, settings.proximity_weight),
        )


@dataclass(frozen=True)
class Hit:
    doc_id: str
    score: float
    dense: float
    lexical: float
    passage: int  # position of the best-matching passage in the document (-1: lexical only)


@dataclass(frozen=True)
class Evidence:
    """What one document contributes to every question's score (see linking/linker.py)."""

    doc_id: str
    # (passages, dim) its passage vectors: the codes the in-memory index scores with, or float32 rows
    # (PostgreSQL's); None: no dense part
    passages: np.ndarray | Int8Rows | None
    weights: np.ndarray | None  # (vocabulary,) BM25 weight of one occurrence of each term id of text_ids
    # (sorted pair keys, weights): what a question holding each of its term pairs adds (index/proximity.py)
    pairs: tuple[np.ndarray, np.ndarray] | None = None


class RankingIndex(ABC):
    """Ranks documents for texts; immutable, so a changed one can be swapped in atomically."""

    config: RankerConfig
    encoder: Encoder | None
    # Every live document is scored for every text. False: candidates come from an approximate stage,
    # so a ranking may miss a document that `also` (rank_batch) would have scored higher.
    exhaustive: bool = True

    def encode(self, texts: Sequence[str]) -> np.ndarray | None:
        if self.config.method == "lexical" or self.encoder is None:
            return None
        return self.encoder.encode(texts)

    def rank(self, text: str, k: int, exclude: Collection[str] = ()) -> list[Hit]:
        return self.rank_batch([text], k, [exclude])[0]

    def rank_batch(
        self,
        texts: Sequence[str],
        k: int,
        excludes: Sequence[Collection[str]] | None = None,
        vectors: np.ndarray | None = None,
        also: Sequence[Collection[str]] | None = None,
    ) -> list[list[Hit]]:
        """Top `k` documents for each text; `vectors` skips encoding when the caller has them. `also`:
        per text, documents scored whether or not the candidate stage finds them (a non-exhaustive
        ranker's recomputation of links already stored: see linking/verify.py)."""
        if not texts:
            return []
        excludes = excludes if excludes is not None else [()] * len(texts)
        phrases = [not is_post(t) for t in texts]
        if self.config.clean_queries:
            texts = [clean_query(t) for t in texts]
        if vectors is None:
            vectors = self.encode(texts)
        return self._rank(texts, k, excludes, vectors, also, phrases)

    @abstractmethod
    def _rank(
        self,
        texts: Sequence[str],
        k: int,
        excludes: Sequence[Collection[str]],
        vectors: np.ndarray | None,
        also: Sequence[Collection[str]] | None = None,
        phrases: Sequence[bool] | None = None,
    ) -> list[list[Hit]]:
        """rank_batch on texts cleaned as the settings say, with their vectors (None: no dense part);
        `phrases`: per text, whether it may get term-pair evidence (not a social-media post; None: all)."""

    @abstractmethod
    def score(self, text: str, doc_id: str, exclude: Collection[str] = (), vector: np.ndarray | None = None) -> float | None:
        """One document's score for a text, as rank_batch would give it (None: not ranked, or excluded)."""

    @abstractmethod
    def with_changes(self, added: Sequence[Added], removed: Collection[str] = (), derived: bool = True) -> RankingIndex:
        """The index after documents (id, passage vectors, text[, content hash]) were added or replaced
        and `removed` went (this one is unchanged). `derived`: also store what the backend derives from
        them (False: another process did, when it wrote them)."""

    @abstractmethod
    def contains(self, doc_id: str) -> bool: ...

    @property
    @abstractmethod
    def live_size(self) -> int: ...

    @property
    @abstractmethod
    def size(self) -> int:
        """Positions held, replaced and deleted documents not folded away yet included."""

    @property
    @abstractmethod
    def stale(self) -> int:
        """Rows a full rebuild would fold away (dead or overlay documents; 0 when nothing piles up)."""

    @abstractmethod
    def text_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Term ids of texts (questions) as queries will see them; `Evidence.weights` is indexed by them."""

    @abstractmethod
    def evidence(self, doc_ids: Sequence[str]) -> Iterator[Evidence]:
        """Per live document of `doc_ids`: its passage vectors and term weights."""

    @abstractmethod
    def centroid(self, doc_id: str) -> np.ndarray | None:
        """The normalised mean of a document's passage vectors (None: unknown or no dense part)."""

    def status(self) -> dict[str, str]:
        """What /healthz reports about this backend."""
        return {"backend": "memory", "approximate": "no"}
