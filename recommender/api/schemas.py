"""Response and request bodies (the OpenAPI schema at /docs comes from these)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from recommender.articles.model import Section


class ArticleRef(BaseModel):
    id: str
    title: str
    url: str | None = None
    checked_on: dt.date | None = None


class FactCheck(ArticleRef):
    score: float = Field(description="Similarity of the fact check to the question (hybrid score, 0-1).")


class Candidate(FactCheck):
    rank: int
    dense: float
    lexical: float
    passage: str | None = Field(None, description="The passage of the fact check that matched best.")


class DiveDeeperQuestion(BaseModel):
    id: str
    text: str
    answer: FactCheck
    source: ArticleRef | None = Field(None, description="For related questions: the article the question comes from.")
    relevance: float | None = Field(None, description="For related questions: how relevant this article is to it.")


class DiveDeeperResponse(BaseModel):
    article: ArticleRef
    questions: list[DiveDeeperQuestion] = Field(description="The article's own questions that have an answer.")
    related: list[DiveDeeperQuestion] = Field(description="Questions from other articles relevant to this one.")


class QuestionRef(BaseModel):
    id: str
    text: str
    article_id: str


class SuggestionsResponse(BaseModel):
    question: QuestionRef
    gap: bool
    candidates: list[Candidate]


class SearchResponse(BaseModel):
    query: str
    results: list[Candidate]


class GapItem(BaseModel):
    question: QuestionRef
    best: FactCheck | None


class GapsResponse(BaseModel):
    total: int
    gaps: list[GapItem]


class ArticleIn(BaseModel):
    """An article as the publishing system sends it; the id comes from the URL."""

    model_config = {"extra": "forbid"}

    id: str | None = Field(None, description="Optional; must equal the id in the URL when given.")
    title: str
    checked_on: dt.date | None = None
    summary: str = ""
    sections: list[Section] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)
    url: str | None = None
    topic: str | None = None


class ArticleOut(BaseModel):
    id: str
    title: str
    checked_on: dt.date | None
    summary: str
    sections: list[Section]
    questions: list[QuestionRef]
    url: str | None
    topic: str | None


class UpsertResponse(BaseModel):
    id: str
    status: str = Field(description="added, updated or unchanged")
    relinked: int = Field(description="Questions whose links were recomputed.")


class Health(BaseModel):
    status: str
    model: str
    articles: int
    questions: int
    pending: int


class ErrorBody(BaseModel):
    detail: str
