"""Which ranking backend a process uses, picked from the settings (`ranking_backend`).

    memory    the in-memory Ranker over every passage vector and posting (exact; SQLite's only choice)
    postgres  PgRanker: candidates from PostgreSQL, scored exactly (needs `database_url`)

A backend says what to load from the store for a snapshot (`load`) and builds the ranking index over
it (`ranking`); the index holder and the snapshot use nothing else, so callers of `Ranker.rank`
(search, suggestions, the linker, evaluation) run unchanged on either.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from recommender.embedding.base import Encoder
from recommender.index.base import RankerConfig, RankingIndex
from recommender.index.dense import DenseIndex
from recommender.index.lexical import LexicalIndex
from recommender.index.ranker import Ranker
from recommender.store.base import IndexData

if TYPE_CHECKING:
    from recommender.config import Settings
    from recommender.index.pg_ranker import PgOptions


class RankingBackendError(ValueError):
    """The settings ask for a ranking backend this store cannot serve."""


class IndexBackend(ABC):
    name: str

    @abstractmethod
    def load(self, store: Any) -> IndexData:
        """What a snapshot of this backend holds, read from the store in one consistent snapshot."""

    @abstractmethod
    def ranking(self, data: IndexData, encoder: Encoder, config: RankerConfig, consume: bool = False) -> RankingIndex:
        """The ranking index over `data`; `consume`: the caller is done with `data.texts`, which may be
        emptied as they are indexed (they are the largest part of a full build)."""


class MemoryBackend(IndexBackend):
    name = "memory"

    def load(self, store: Any) -> IndexData:
        return store.load_index()

    def ranking(self, data: IndexData, encoder: Encoder, config: RankerConfig, consume: bool = False) -> RankingIndex:
        dense = DenseIndex.from_groups(data.passage_vectors, encoder.dim)
        lexical = LexicalIndex(data.texts, config.average_length, consume=consume, proximity=config.proximity)
        return Ranker([a.id for a in data.articles], encoder, config, dense=dense, lexical=lexical)


class PostgresBackend(IndexBackend):
    name = "postgres"

    def __init__(self, store: Any, options: PgOptions) -> None:
        self.store = store
        self.options = options

    def load(self, store: Any) -> IndexData:
        return store.load_index_rows()

    def ranking(self, data: IndexData, encoder: Encoder, config: RankerConfig, consume: bool = False) -> RankingIndex:
        from recommender.index.pg_ranker import PgRanker

        return PgRanker.open(self.store, [a.id for a in data.articles], encoder, config, self.options)


def create_backend(settings: Settings, store: Any) -> IndexBackend:
    """The backend the settings ask for (`auto`: postgres on PostgreSQL, else memory)."""
    choice = settings.ranking_backend
    if choice == "auto":
        choice = "postgres" if settings.database_url else "memory"
    if choice == "memory":
        return MemoryBackend()
    if not hasattr(store, "load_index_rows"):
        raise RankingBackendError(
            "RECOMMENDER_RANKING_BACKEND=postgres needs RECOMMENDER_DATABASE_URL (ranking inside PostgreSQL); "
            "on SQLite use memory or auto"
        )
    from recommender.index.pg_ranker import PgOptions

    options = PgOptions.of(settings)
    return PostgresBackend(store, options)
