"""What the rest of the service needs from storage; backends implement this protocol."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from recommender.articles.model import Article


class EncoderMismatch(RuntimeError):
    """Vectors of one encoder would be mixed with another's."""


@dataclass(frozen=True)
class StoredArticle:
    """An article with everything derived from it, written in one transaction."""

    article: Article
    content_hash: str
    passages: Sequence[str]
    passage_vectors: np.ndarray
    question_vectors: np.ndarray


@dataclass(frozen=True)
class ArticleRow:
    id: str
    title: str
    checked_on: dt.date | None
    url: str | None
    topic: str | None
    content_hash: str


@dataclass(frozen=True)
class QuestionRow:
    id: str
    article_id: str
    position: int
    text: str
    key: str


@dataclass(frozen=True)
class LinkRow:
    question_id: str
    rank: int
    article_id: str
    score: float
    dense: float
    lexical: float
    passage: int


@dataclass(frozen=True)
class IndexData:
    """Everything an in-memory index needs, read in one consistent snapshot."""

    generation: int
    articles: list[ArticleRow]
    texts: list[str]  # whole article text, for lexical indexing
    passage_vectors: list[np.ndarray]  # per article, in `articles` order
    questions: list[QuestionRow]
    question_vectors: np.ndarray


class Store(Protocol):
    model_id: str

    def generation(self) -> int: ...
    def content_hashes(self) -> dict[str, str]: ...
    def passage_vectors_by_text(self, texts: Sequence[str]) -> dict[str, np.ndarray]: ...
    def upsert(self, items: Sequence[StoredArticle]) -> None: ...
    def delete_article(self, article_id: str) -> bool: ...
    def load_index(self) -> IndexData: ...
    def questions_to_link(self) -> list[str]: ...
    def replace_links(self, links: dict[str, list[LinkRow]]) -> None: ...
    def last_candidate_scores(self) -> dict[str, tuple[int, float]]: ...
    def get_article(self, article_id: str) -> Article | None: ...
    def get_article_row(self, article_id: str) -> ArticleRow | None: ...
    def article_rows(self, ids: Sequence[str]) -> dict[str, ArticleRow]: ...
    def get_question(self, question_id: str) -> QuestionRow | None: ...
    def questions_of(self, article_id: str) -> list[QuestionRow]: ...
    def links_of(self, question_ids: Sequence[str]) -> dict[str, list[LinkRow]]: ...
    def links_to(self, article_id: str, min_score: float) -> list[LinkRow]: ...
    def passage_text(self, article_id: str, position: int) -> str | None: ...
    def best_links(self) -> list[tuple[QuestionRow, LinkRow | None]]: ...
    def counts(self) -> dict[str, int]: ...
    def close(self) -> None: ...
