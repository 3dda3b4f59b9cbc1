"""Articles: read, upsert and delete (the publishing system's side)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Path, Response, status
from pydantic import ValidationError

from recommender.api import schemas
from recommender.api.convert import question_ref
from recommender.api.deps import AuthFirstRoute, CatalogDep, PublisherDep, ReadingDep
from recommender.api.ratelimit import RATE_LIMIT_RESPONSES, RATE_LIMITED
from recommender.articles.model import ID_PATTERN, Article, validation_message

router = APIRouter(prefix="/v1", tags=["articles"], route_class=AuthFirstRoute)
ArticleId = Path(pattern=ID_PATTERN, max_length=128, description="Article id")


@router.get(
    "/articles/{article_id}",
    response_model=schemas.ArticleOut,
    dependencies=[RATE_LIMITED],
    responses={404: {"model": schemas.ErrorBody}, **RATE_LIMIT_RESPONSES},
)
def get_article(reading: ReadingDep, article_id: str = ArticleId) -> schemas.ArticleOut:
    article = reading.article(article_id)
    if article is None:
        raise HTTPException(404, f"article {article_id!r} not found")
    return schemas.ArticleOut(
        id=article.id,
        title=article.title,
        checked_on=article.checked_on,
        summary=article.summary,
        sections=article.sections,
        questions=[question_ref(q) for q in reading.questions_of(article_id)],
        url=article.url,
        topic=article.topic,
    )


@router.put(
    "/articles/{article_id}",
    response_model=schemas.UpsertResponse,
    responses={
        201: {"model": schemas.UpsertResponse},
        401: {"model": schemas.ErrorBody},
        403: {"model": schemas.ErrorBody},
        422: {"model": schemas.ErrorBody},
    },
)
def put_article(
    body: schemas.ArticleIn, response: Response, catalog: CatalogDep, editor: PublisherDep, article_id: str = ArticleId
) -> schemas.UpsertResponse:
    """Create or replace an article (publisher token needed); relinks its questions and every question it may answer.

    Editors' decisions on its questions are kept (they are keyed by article and wording)."""
    if body.id is not None and body.id != article_id:
        raise HTTPException(422, f"body id {body.id!r} does not match the URL id {article_id!r}")
    try:  # the article model's rules, the same for text files, JSON Lines and import
        article = Article.model_validate({**body.model_dump(exclude={"id"}), "id": article_id})
    except ValidationError as exc:
        raise HTTPException(422, validation_message(exc)) from None
    report = catalog.ingest([article])
    if report.added:
        response.status_code = status.HTTP_201_CREATED
        state = "added"
    else:
        state = "updated" if report.updated else "unchanged"
    return schemas.UpsertResponse(id=article_id, status=state, relinked=report.relinked)


@router.delete(
    "/articles/{article_id}",
    status_code=204,
    responses={401: {"model": schemas.ErrorBody}, 403: {"model": schemas.ErrorBody}, 404: {"model": schemas.ErrorBody}},
)
def delete_article(catalog: CatalogDep, editor: PublisherDep, article_id: str = ArticleId) -> Response:
    """Remove an article (publisher token needed); questions that linked to it are relinked at once."""
    if not catalog.delete(article_id):
        raise HTTPException(404, f"article {article_id!r} not found")
    return Response(status_code=204)
