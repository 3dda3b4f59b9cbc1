"""What the site's widget reads: one lookup, no model call."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Path

from recommender.api import schemas
from recommender.api.convert import article_ref, dive_deeper_items
from recommender.api.deps import EngineDep
from recommender.articles.model import ID_PATTERN

router = APIRouter(prefix="/v1", tags=["widget"])
ArticleId = Path(pattern=ID_PATTERN, description="Article id")


@router.get(
    "/articles/{article_id}/dive-deeper",
    response_model=schemas.DiveDeeperResponse,
    responses={404: {"model": schemas.ErrorBody}},
)
def dive_deeper(article_id: str, engine: EngineDep) -> schemas.DiveDeeperResponse:
    """The article's answered questions and related questions, each with its best fact check."""
    result = engine.dive_deeper(article_id)
    if result is None:
        raise HTTPException(404, f"article {article_id!r} not found")
    return schemas.DiveDeeperResponse(
        article=article_ref(result.article),
        questions=dive_deeper_items(engine, result.questions, related=False),
        related=dive_deeper_items(engine, result.related, related=True),
    )
