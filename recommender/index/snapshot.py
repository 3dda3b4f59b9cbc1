"""An immutable, in-memory view of the store: the Ranker plus what serving needs next to it.

Readers always see one whole index, never a half-built one: a write makes a new Snapshot and the
the holder swaps one reference. A full build reads everything from the store; `apply` derives the next
snapshot from this one and the articles just written (appending their rows, marking the replaced
ones dead), which is what keeps a one-article upsert in milliseconds at 10k-100k articles. Dead rows
and the lexical overlay are folded away by the next full build, which the index holder runs once
`needs_compaction` says they pile up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from recommender.embedding.base import Encoder
from recommender.index.backend import IndexBackend, MemoryBackend
from recommender.index.base import RankerConfig, RankingIndex
from recommender.index.heap import release_freed_memory
from recommender.index.article_rows import ArticleRows, CheckedOn, merge_into
from recommender.index.layered import Layered
from recommender.index.query import clean_query
from recommender.index.questions import QuestionTable
from recommender.domain import ArticleRow, QuestionRow, StoredArticle
from recommender.store.base import IndexData

COMPACT_FRACTION = 0.2  # dead rows or overlay documents beyond this share of the index: build afresh
COMPACT_MINIMUM = 500  # ...but never for fewer than this many (a small index rebuilds in no time anyway)


@dataclass(frozen=True)
class Snapshot:
    generation: int
    ranker: RankingIndex
    articles: Mapping[str, ArticleRow]  # Layered: an upsert derives the next one from its own changes
    table: QuestionTable

    @classmethod
    def build(
        cls, data: IndexData, encoder: Encoder, config: RankerConfig, backend: IndexBackend | None = None, consume: bool = False
    ) -> Snapshot:
        """The snapshot of `data` (as the backend loaded it), ranked by the backend (default: in memory);
        `consume`: `data.texts` may be emptied as they are indexed (see IndexBackend.ranking)."""
        ranker = (backend or MemoryBackend()).ranking(data, encoder, config, consume)
        release_freed_memory()  # the lexical build's freed chunks: the question table is built next
        table = QuestionTable.build(
            data.questions, data.question_vectors, question_tokens(ranker, data.questions), encoder.dim, config.proximity
        )
        return cls(data.generation, ranker, Layered(ArticleRows(data.articles), adopt=True), table)

    def apply(
        self, written: Sequence[StoredArticle], deleted: Sequence[str], generation: int, derived: bool = True
    ) -> Snapshot:
        """The snapshot after `written` articles were stored and `deleted` ones removed (this one is
        unchanged). `derived`: this process wrote them, so the backend writes what it derives from them
        (PostgreSQL's term rows); False when following another process's writes."""
        touched = {item.article.id for item in written} | set(deleted)
        dim = self.table.vectors.dim
        ranker = self.ranker.with_changes(
            [(item.article.id, _rows(item.passage_vectors, dim), item.article.body_text(), item.content_hash) for item in written],
            removed=touched,
            derived=derived,
        )
        rows: dict[str, ArticleRow] = {}
        questions: list[QuestionRow] = []
        vectors = []
        for item in written:
            article = item.article
            rows[article.id] = ArticleRow(
                article.id, article.title, article.checked_on, article.url, article.topic, item.content_hash
            )
            questions += [QuestionRow(q.id, q.article_id, q.position, q.text, q.key) for q in article.question_records()]
            vectors.append(_rows(item.question_vectors, dim))
        tokens = question_tokens(ranker, questions)
        stacked = np.concatenate(vectors) if vectors else np.zeros((0, self.table.vectors.shape[1]), np.float32)
        table = self.table.updated(touched, questions, stacked, tokens)
        articles = Layered.of(self.articles).with_changes(rows, [a for a in deleted if a not in rows], fold=merge_into)
        return Snapshot(generation, ranker, articles, table)

    def at(self, generation: int) -> Snapshot:
        """The same index under a later generation (a write that changed no indexed content, e.g. links)."""
        return replace(self, generation=generation)

    @property
    def needs_compaction(self) -> bool:
        """Enough dead rows or overlay documents piled up that a full build pays for itself."""
        return self.ranker.stale > max(COMPACT_MINIMUM, COMPACT_FRACTION * self.ranker.size)

    # -- questions -----------------------------------------------------------------------------
    @cached_property
    def questions(self) -> list[QuestionRow]:
        """Every live question, by article and position."""
        live = [self.table.rows[r] for r in np.flatnonzero(self.table.alive)]
        return sorted(live, key=lambda q: (q.article_id, q.position))

    @cached_property
    def first_article_with_questions(self) -> str | None:
        """The first article id, in id order, that has a live question (without making every row)."""
        return min(self.table.by_article, default=None)

    @cached_property
    def question_vectors(self) -> np.ndarray:
        """(questions, dim), aligned with `questions` (a copy: prefer question_vector for a few)."""
        return self.table.vectors[[self.table.row_of[q.id] for q in self.questions]]

    def question_vector(self, question_id: str) -> np.ndarray | None:
        return self.table.vector(question_id)

    # -- articles ------------------------------------------------------------------------------
    @cached_property
    def checked_on(self) -> Mapping[str, dt.date | None]:
        """Article id -> the date it was checked (read from the rows: no copy of every article's)."""
        return CheckedOn(self.articles)

    def article_similarity(self, a: str, b: str) -> float:
        """Topical closeness of two articles (cosine of their passage centroids)."""
        ca, cb = self.ranker.centroid(a), self.ranker.centroid(b)
        if ca is None or cb is None:
            return 0.0
        return float(ca @ cb)


def question_tokens(ranker: RankingIndex, questions: Sequence[QuestionRow]) -> list[list[int]]:
    """BM25 token ids of each question as the ranker will see it (cleaned, when it cleans queries)."""
    texts = [clean_query(q.text) if ranker.config.clean_queries else q.text for q in questions]
    return ranker.text_ids(texts)


def _rows(vectors: np.ndarray, dim: int) -> np.ndarray:
    """`vectors` as a (rows, dim) float32 matrix, also when there are none (read back as (0, 0))."""
    matrix = np.asarray(vectors, np.float32)
    return matrix.reshape(-1, dim) if matrix.size else np.zeros((0, dim), np.float32)
