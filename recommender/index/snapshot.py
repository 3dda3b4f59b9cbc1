"""An immutable, in-memory view of the store: the Ranker plus what serving needs next to it.

The engine builds a new Snapshot after each write and swaps the reference, so a reader always
sees one whole index, never a half-built one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recommender.embedding.base import Encoder, normalize_rows
from recommender.index.dense import DenseIndex
from recommender.index.lexical import LexicalIndex
from recommender.index.ranker import Ranker, RankerConfig
from recommender.store.base import ArticleRow, IndexData, QuestionRow


@dataclass(frozen=True)
class Snapshot:
    generation: int
    ranker: Ranker
    articles: dict[str, ArticleRow]
    questions: list[QuestionRow]
    question_vectors: np.ndarray
    question_row: dict[str, int] = field(default_factory=dict)
    centroids: np.ndarray | None = None  # (articles, dim): normalised mean passage vector, ranker order
    article_row: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, data: IndexData, encoder: Encoder, config: RankerConfig) -> Snapshot:
        dense = DenseIndex.from_groups(data.passage_vectors, encoder.dim)
        lexical = LexicalIndex(data.texts)
        ranker = Ranker([a.id for a in data.articles], encoder, config, dense=dense, lexical=lexical)
        vectors = data.question_vectors if len(data.questions) else np.zeros((0, encoder.dim), np.float32)
        return cls(
            generation=data.generation,
            ranker=ranker,
            articles={a.id: a for a in data.articles},
            questions=data.questions,
            question_vectors=vectors,
            question_row={q.id: i for i, q in enumerate(data.questions)},
            centroids=normalize_rows(np.stack([g.mean(axis=0) for g in data.passage_vectors]))
            if data.passage_vectors
            else np.zeros((0, encoder.dim), np.float32),
            article_row={a.id: i for i, a in enumerate(data.articles)},
        )

    def article_similarity(self, a: str, b: str) -> float:
        """Topical closeness of two articles (cosine of their passage centroids)."""
        ra, rb = self.article_row.get(a), self.article_row.get(b)
        if ra is None or rb is None or self.centroids is None:
            return 0.0
        return float(self.centroids[ra] @ self.centroids[rb])

    def question_vector(self, question_id: str) -> np.ndarray | None:
        row = self.question_row.get(question_id)
        return None if row is None else self.question_vectors[row]
