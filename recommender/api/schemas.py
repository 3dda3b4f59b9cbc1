"""Response and request bodies (the OpenAPI schema at /docs comes from these)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from recommender.articles.model import (
    ID_PATTERN,
    MAX_QUESTION_CHARS,
    MAX_QUESTIONS,
    MAX_SECTIONS,
    MAX_SUMMARY_CHARS,
    MAX_TITLE_CHARS,
    MAX_TOPIC_CHARS,
    MAX_URL_CHARS,
    Section,
    normalize_question,
)
from recommender.domain import Role


# "Has a character that is not whitespace", spelled out: JSON Schema patterns are ECMAScript regexes,
# whose \s differs from Python's (str.strip() also strips \x1c-\x1f and \x85; ECMAScript also \ufeff),
# so one class that both read alike keeps the schema, the fuzzer and the server in agreement.
HAS_TEXT = "[^\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]"




def _has_word_pattern() -> str:
    """A pattern for "has a character that may be a word": any character but whitespace and the Latin-1
    ones that are never part of a word (`?`, `!`, `-`, control characters...) as the question key
    (normalize_question) sees them. Exact up to U+00FF; wider, only a key can tell (422 then)."""
    never = [c for c in map(chr, range(256)) if not normalize_question(c)]
    ranges: list[list[int]] = []
    for code in map(ord, never):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    spelled = "".join(f"\\x{a:02x}" if a == b else f"\\x{a:02x}-\\x{b:02x}" for a, b in ranges)
    return "[^" + spelled + HAS_TEXT[2:]


HAS_WORD = _has_word_pattern()


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
    pinned: bool = Field(False, description="An editor pinned this fact check to the question.")
    approved: bool = Field(False, description="An editor approved this suggestion.")
    fresher: bool = Field(
        False,
        description="Listed first although a candidate below scores higher: it was checked more recently and scores "
        "within `freshness_margin` of the best (every other candidate is in score order, after pinned and approved).",
    )
    confidence: float | None = Field(
        None, description="Calibrated probability that an editor approves this link (none: no calibrator fits the model)."
    )


class DiveDeeperQuestion(BaseModel):
    id: str
    text: str
    answer: FactCheck | None = Field(
        description="The fact check to link to; null only for the article's own questions nothing answers yet "
        "(with include_unanswered)."
    )
    source: ArticleRef | None = Field(None, description="For related questions: the article the question comes from.")
    relevance: float | None = Field(
        None, description="For related questions: the stored score of this article for the question."
    )
    confirmed: bool = Field(False, description="An editor pinned or approved this answer.")


class DiveDeeperResponse(BaseModel):
    article: ArticleRef
    questions: list[DiveDeeperQuestion] = Field(
        description="The article's own questions that have an answer, in the article's order; with "
        "include_unanswered also those without one (answer null; not hidden ones)."
    )
    related: list[DiveDeeperQuestion] = Field(description="Questions from other articles relevant to this one.")


class QuestionRef(BaseModel):
    id: str
    text: str
    article_id: str


class SuggestionsResponse(BaseModel):
    question: QuestionRef
    gap: bool
    state: str = Field(description="pinned, approved, suggested, gap or hidden (editors' decisions applied).")
    candidates: list[Candidate] = Field(description="Pinned first, then approved, then the model's; never a rejected one.")


class SearchResponse(BaseModel):
    query: str
    answered: bool = Field(
        description="Whether the best result scores as an answer (at or above the gap threshold). When false, the "
        "results are only the closest fact checks: nothing on the site answers this text yet."
    )
    results: list[Candidate]


class GapItem(BaseModel):
    question: QuestionRef
    best: FactCheck | None
    marked: bool = Field(False, description="An editor marked the question a gap.")


class GapsResponse(BaseModel):
    total: int
    gaps: list[GapItem]


# What the article model accepts as a URL (check_url), as a pattern the schema can state: http(s), a host,
# then printable ASCII only (a client percent-encodes the rest).
URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?([/?#][!-~]*)?$"


class ArticleIn(BaseModel):
    """An article as the publishing system sends it; the id comes from the URL.

    The limits below are stated in the OpenAPI schema only (json_schema_extra): they are enforced
    once, by the article model (recommender/articles/model.py), for every way in, with its messages.
    """

    model_config = {"extra": "forbid"}

    id: str | None = Field(None, description="Optional; must equal the id in the URL when given (422 otherwise).")
    title: str = Field(
        json_schema_extra={"minLength": 1, "maxLength": MAX_TITLE_CHARS, "pattern": HAS_TEXT}, description="Not blank."
    )
    checked_on: dt.date | None = Field(None, description="YYYY-MM-DD, not in the future.")
    summary: str = Field("", json_schema_extra={"maxLength": MAX_SUMMARY_CHARS})
    sections: list[Section] = Field(default_factory=list, json_schema_extra={"maxItems": MAX_SECTIONS})
    questions: list[Annotated[str, Field(json_schema_extra={"minLength": 1, "maxLength": MAX_QUESTION_CHARS, "pattern": HAS_WORD})]] = Field(
        default_factory=list,
        json_schema_extra={"maxItems": MAX_QUESTIONS, "uniqueItems": True},
        description="Each with words; no question twice (case, punctuation and spacing ignored).",
    )
    url: str | None = Field(
        None,
        json_schema_extra={"maxLength": MAX_URL_CHARS, "pattern": URL_PATTERN},
        description="An absolute http:// or https:// address.",
    )
    topic: str | None = Field(None, json_schema_extra={"maxLength": MAX_TOPIC_CHARS})

    @field_validator("checked_on", mode="before")
    @classmethod
    def _date_text(cls, value: object) -> object:
        # JSON has no dates: pydantic would take a number as seconds since 1970; only YYYY-MM-DD is one.
        if value is not None and not isinstance(value, str | dt.date):
            raise ValueError("must be a date as text, YYYY-MM-DD")
        return value


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
    ranking: dict[str, str] = Field(
        default_factory=dict,
        description="The ranking backend (`memory` or `postgres`); on PostgreSQL whether the passages' HNSW index "
        "is `ready`, `building` or `missing` (meanwhile dense candidates come from an exact scan).",
    )


# Largest page offset accepted anywhere: deeper pages are no use, and SQLite integers are 64-bit.
MAX_OFFSET = 1_000_000


class ErrorBody(BaseModel):
    detail: str


# -- editors -------------------------------------------------------------------------------------
DecisionAction = Literal["approve", "reject", "pin", "hide", "unhide", "gap", "clear"]
BulkAction = Literal["approve", "reject"]
ArticleIdField = Annotated[str, Field(pattern=ID_PATTERN, max_length=128)]


class UndoIn(BaseModel):
    model_config = {"extra": "forbid"}

    version: int = Field(ge=1, le=10**18, description="The decision version the action to undo produced (its ETag).")


class DecisionIn(BaseModel):
    model_config = {"extra": "forbid"}

    action: DecisionAction
    article_id: ArticleIdField | None = Field(
        None,
        description="The fact check acted on: required for pin; approve and reject default to the one shown now; "
        "clear with it forgets only what concerns that fact check.",
    )


class BulkItem(BaseModel):
    model_config = {"extra": "forbid"}

    question_id: str = Field(min_length=1, max_length=200)
    article_id: ArticleIdField | None = None


class BulkIn(BaseModel):
    model_config = {"extra": "forbid"}

    action: BulkAction
    items: list[BulkItem] = Field(min_length=1, max_length=500)


class DecisionState(BaseModel):
    version: int = Field(description="Send it back as If-Match to change the decision only if nobody else did.")
    pinned: str | None = None
    approved: str | None = None
    rejected: list[str] = Field(default_factory=list)
    hidden: bool = False
    gap: bool = False
    updated_by: str | None = None
    updated_at: str | None = None


class ClusterMember(BaseModel):
    question: QuestionRef
    state: str
    decided: bool = Field(description="An editor made a decision on this question itself.")


class OfferItem(BaseModel):
    question_id: str
    action: str
    article_id: str | None = None


class ClusterOut(BaseModel):
    id: str
    members: list[ClusterMember] = Field(description="The other questions of the cluster (same question, other wording).")
    offer_from: str | None = Field(None, description="The question whose decision is offered to the undecided members.")
    offer: list[OfferItem] = Field(
        default_factory=list,
        description="Decisions that would repeat it on the undecided members; accept with POST /v1/clusters/{id}/apply.",
    )


class ClusterApplyIn(BaseModel):
    model_config = {"extra": "forbid"}

    from_question_id: str = Field(min_length=1, max_length=200, description="The decided question whose decision to repeat.")
    question_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        None, max_length=500, description="Only these members (default: every undecided member)."
    )


class SupersedeIn(BaseModel):
    model_config = {"extra": "forbid"}

    by_article_id: ArticleIdField | None = Field(
        description="The newer fact check that replaces this one; null: not superseded any more."
    )


class SupersedeOut(BaseModel):
    article_id: str
    superseded_by: str | None
    superseded: dict[str, str] = Field(description="Every superseded fact check and its successor.")


class QuestionReview(BaseModel):
    question: QuestionRef
    source: ArticleRef | None = Field(None, description="The article the question belongs to.")
    state: str = Field(description="pinned, approved, suggested, gap or hidden.")
    answer: FactCheck | None = Field(None, description="What the widget links the question to (none: not shown).")
    why: str | None = Field(None, description="The passage of the answer (or best candidate) that matched best.")
    decision: DecisionState
    candidates: list[Candidate]
    reasons: list[str] = Field(default_factory=list, description="Why a changed item needs another look.")
    confidence: float | None = Field(
        None, description="Calibrated probability that an editor approves the best candidate (none: uncalibrated)."
    )
    cluster: ClusterOut | None = Field(None, description="The question's duplicate cluster, if it has one.")


class BulkOut(BaseModel):
    items: list[QuestionReview]


class ReviewResponse(BaseModel):
    kind: str
    total: int = Field(description="Items in the queue (a duplicate cluster is one item): what `limit`/`offset` page through.")
    questions: int = Field(
        description="Questions in those items, cluster members included: the count status, coverage and /v1/gaps give."
    )
    limit: int
    offset: int
    items: list[QuestionReview]


class AuditItem(BaseModel):
    id: int
    at: str
    editor: str
    action: str
    question_id: str
    question_key: str
    article_id: str = Field(description="The question's own article.")
    target_id: str | None = Field(None, description="The fact check acted on.")
    role: str | None = Field(None, description="The editor's role when deciding (none: before roles existed).")
    before: dict
    after: dict
    question_text: str | None = Field(None, description="The question's text now (none: the question is gone).")
    article_title: str | None = Field(None, description="The question's own article's title.")
    target_title: str | None = Field(None, description="The title of the fact check acted on.")


class AuditResponse(BaseModel):
    total: int
    items: list[AuditItem]


class HistogramBin(BaseModel):
    start: float
    end: float
    count: int


class CoverageResponse(BaseModel):
    questions: int
    counts: dict[str, int] = Field(description="answered, approved (incl. pinned), rejected, gaps, hidden, unreviewed")
    shares: dict[str, float] = Field(description="The counts as shares of all questions.")
    gap_threshold: float = Field(description="Best score below which a question is a gap (from review_threshold when calibrated).")
    live_threshold: float = Field(description="Best score from which a suggestion goes live unreviewed.")
    review_threshold: float | None = Field(None, description="The gap threshold as a calibrated probability.")
    auto_approve_threshold: float | None = Field(None, description="The live threshold as a calibrated probability.")
    histogram: list[HistogramBin] = Field(description="Questions by the score of their best model candidate.")


class EditorOut(BaseModel):
    name: str
    created_at: str
    role: Role = Field(description="publisher (PUT/DELETE articles), editor (review, decisions, audit) or admin (all).")


class ConflictBody(ErrorBody):
    version: int


# -- models ----------------------------------------------------------------------------------------
class ModelUseIn(BaseModel):
    model_config = {"extra": "forbid"}

    name: Annotated[str, Field(pattern=ID_PATTERN, max_length=128)]
    force: bool = Field(False, description="Switch even when the model card does not show it at least as good.")


class SwitchOut(BaseModel):
    name: str
    model_id: str
    state: str = Field(description="staging, swapping, done or failed")
    done: int
    total: int
    error: str | None = None
    started: str
    finished: str | None = None


class ModelInfo(BaseModel):
    name: str
    gate: dict | None = Field(None, description="The model card's verdict: at least as good as its base on held-out data?")
    created: str | None = None


class ModelsOut(BaseModel):
    live: str
    model_id: str
    calibrator: dict | None = Field(None, description="The calibrator in use (none: raw scores).")
    switch: SwitchOut | None = None
    trained: list[ModelInfo] = Field(description="Models under models/ with a model card.")
