"""Questions: ranked suggestions per question, gaps, and free-text search."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from recommender.api import schemas
from recommender.api.convert import candidates, fact_check, question_ref, ranked_candidates
from recommender.api.deps import EngineDep, SettingsDep
from recommender.api.ratelimit import RATE_LIMIT_RESPONSES, RATE_LIMITED
from recommender.queries import QueryError, check_query
from recommender.domain import LinkRow
from recommender.store.replica import replica_reads

router = APIRouter(prefix="/v1", tags=["questions"], dependencies=[RATE_LIMITED], responses=RATE_LIMIT_RESPONSES)
# What the schema says of `q` (openapi.py adds its maxLength from the settings), checked here.
_HAS_TEXT = re.compile(schemas.HAS_TEXT)
QuestionId = Path(min_length=1, max_length=200, description="Question id (`<article id>-q<n>`)")


@router.get(
    "/questions/{question_id}/suggestions",
    response_model=schemas.SuggestionsResponse,
    responses={404: {"model": schemas.ErrorBody}},
)
def suggestions(engine: EngineDep, question_id: str = QuestionId) -> schemas.SuggestionsResponse:
    """Ranked fact checks for one dive-deeper question (never its own article), editors' decisions applied."""
    with replica_reads():  # a read replica may serve this lookup (docs/operations.md)
        found = engine.status(question_id)
        if found is None:
            raise HTTPException(404, f"question {question_id!r} not found")
        return schemas.SuggestionsResponse(
            question=question_ref(found.question),
            gap=found.effective.state == "gap",
            state=found.effective.state,
            candidates=ranked_candidates(engine, found.effective.ranked),
        )


@router.get("/search", response_model=schemas.SearchResponse, responses={422: {"model": schemas.ErrorBody}})
def search(
    engine: EngineDep,
    settings: SettingsDep,
    q: Annotated[
        str,
        Query(
            description="A question or claim in plain text (not only spaces; RECOMMENDER_MAX_QUERY_CHARS at most).",
            min_length=1,
            json_schema_extra={"pattern": schemas.HAS_TEXT},
        ),
    ],
    k: Annotated[int, Query(description="How many fact checks to return (RECOMMENDER_MAX_SEARCH_K at most).")] = 5,
) -> schemas.SearchResponse:
    """Free text to ranked fact checks."""
    if not _HAS_TEXT.search(q):  # the schema's reading of "blank", which differs from str.strip() at the edges
        raise HTTPException(422, "q must not be empty")
    try:  # the same limits as `recommender suggest`
        text = check_query(q, k, settings)
    except QueryError as exc:
        raise HTTPException(422, str(exc)) from None
    hits = engine.search(text, k)
    links = [LinkRow("", rank, h.doc_id, h.score, h.dense, h.lexical, h.passage) for rank, h in enumerate(hits)]
    return schemas.SearchResponse(query=text, answered=not engine.is_gap(links), results=candidates(engine, links))


@router.get("/gaps", response_model=schemas.GapsResponse)
def gaps(
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=schemas.MAX_OFFSET)] = 0,
) -> schemas.GapsResponse:
    """Questions nothing answers well: those editors marked first, then worst first."""
    found = engine.gaps()
    page = found[offset : offset + limit]
    rows = engine.articles([g.best.article_id for g in page if g.best])
    items = []
    for gap in page:
        best = rows.get(gap.best.article_id) if gap.best else None
        items.append(
            schemas.GapItem(
                question=question_ref(gap.question),
                best=fact_check(best, gap.best.score) if best and gap.best else None,
                marked=gap.marked,
            )
        )
    return schemas.GapsResponse(total=len(found), gaps=items)
