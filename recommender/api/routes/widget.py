"""What the site's widget reads: one lookup, no model call, cacheable (ETag + Cache-Control)."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from recommender import __version__
from recommender.api import schemas
from recommender.api.convert import article_ref, dive_deeper_items, unanswered_items
from recommender.api.deps import ReadingDep, SettingsDep
from recommender.api.payload_cache import PayloadCache
from recommender.api.ratelimit import RATE_LIMIT_RESPONSES, RATE_LIMITED
from recommender.articles.model import ID_PATTERN
from recommender.config import Settings
from recommender.services.reading import ReadingService

router = APIRouter(prefix="/v1", tags=["widget"], dependencies=[RATE_LIMITED], responses=RATE_LIMIT_RESPONSES)
ArticleId = Path(pattern=ID_PATTERN, description="Article id")


def _settings_tag(settings: Settings) -> str:
    """Code version and the settings that shape the payload: a restart with others changes every ETag."""
    shape = f"{__version__}|{settings.model}|{settings.method}|{settings.gap_threshold}|{settings.related_threshold}|"
    shape += f"{settings.duplicate_threshold}|{settings.max_related}|{settings.dense_weight}"
    shape += f"|{settings.calibration}|{settings.review_threshold}|{settings.auto_approve_threshold}"
    shape += f"|{settings.cluster_threshold}|{settings.freshness_margin}"
    return hashlib.sha256(shape.encode()).hexdigest()[:8]


def widget_etag(request: Request, generation: int, decisions: int, article_id: str, variant: str = "") -> str:
    state = request.app.state
    tag = getattr(state, "etag_tag", None)
    if tag is None:
        tag = state.etag_tag = _settings_tag(state.settings)
    digest = hashlib.sha256(f"{tag}|{article_id}|{variant}".encode()).hexdigest()[:10]
    return f'W/"{generation}.{decisions}.{digest}"'


def _matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison (RFC 9110): W/ prefixes do not matter; `*` matches anything."""
    wanted = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


@router.get(
    "/articles/{article_id}/dive-deeper",
    response_model=schemas.DiveDeeperResponse,
    responses={
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
        404: {"model": schemas.ErrorBody},
    },
)
async def dive_deeper(
    request: Request,
    reading: ReadingDep,
    settings: SettingsDep,
    article_id: str = ArticleId,
    include_unanswered: Annotated[
        bool,
        Query(
            description="Also list the article's own questions nothing answers yet (answer null), in the "
            "article's order, so the site can show them as 'not checked yet'. Off by default: readers get "
            "links only, and clients written for answered questions only keep working."
        ),
    ] = False,
    if_none_match: Annotated[str | None, Header()] = None,
):  # type: ignore[no-untyped-def]
    """The article's answered questions and related questions, each with its best fact check.

    Editors' decisions apply: pinned and approved answers, never a rejected one, no hidden question
    and no gap (unless include_unanswered). The ETag changes at once with any article update or editor decision.
    """
    variant = "unanswered" if include_unanswered else ""
    # Async so that a repeated read (304, or a body from the payload cache) is answered on the event
    # loop after one quick counters read; computing a body goes to the thread pool.
    with reading.from_replica():  # a read replica may serve the widget (docs/operations.md); the mark follows into the pool
        # Read the counters before the data: a write in between gives new data under the old ETag, which
        # only costs one extra download later, never a stale answer cached under a new ETag.
        generation, decisions = reading.counters()
        headers = {
            "ETag": widget_etag(request, generation, decisions, article_id, variant),
            "Cache-Control": settings.widget_cache_control,
        }
        metrics = request.app.state.metrics
        if if_none_match is not None and _matches(if_none_match, headers["ETag"]):
            metrics.observe_widget("not_modified")
            return Response(status_code=304, headers=headers)
        cache = _payload_cache(request, settings)
        key = f"{article_id}|{variant}"
        body = cache.get(key, (generation, decisions))
        if body is None:
            body = await run_in_threadpool(_render, reading, article_id, include_unanswered)
            if body is None:
                metrics.observe_widget("not_found")
                raise HTTPException(404, f"article {article_id!r} not found")
            cache.put(key, (generation, decisions), body)
            metrics.observe_widget("rendered")
        else:
            metrics.observe_widget("cache_hit")
    return Response(body, media_type="application/json", headers=headers)


def _render(reading: ReadingService, article_id: str, include_unanswered: bool = False) -> bytes | None:
    """The response body for an article (None when there is no such article)."""
    result = reading.dive_deeper(article_id)
    if result is None:
        return None
    questions = dive_deeper_items(result.questions, result.rows, related=False)
    if include_unanswered:
        position = {q.id: q.position for q in [*(i.question for i in result.questions), *result.unanswered]}
        questions = sorted([*questions, *unanswered_items(result.unanswered)], key=lambda q: position[q.id])
    return schemas.DiveDeeperResponse(
        article=article_ref(result.article),
        questions=questions,
        related=dive_deeper_items(result.related, result.rows, related=True),
    ).model_dump_json().encode()


def _payload_cache(request: Request, settings: Settings) -> PayloadCache:
    """The app's cache of rendered bodies (see payload_cache.py), made on first use."""
    state = request.app.state
    cache = getattr(state, "widget_cache", None)
    if cache is None:
        capacity = 0 if settings.database_read_url else settings.widget_cache_entries
        cache = state.widget_cache = PayloadCache(capacity)
    return cache
