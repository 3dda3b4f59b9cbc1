"""Editors: decisions on suggestions, the review queue, the audit log and coverage (bearer token needed)."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Path, Query, Response
from fastapi.responses import JSONResponse

from recommender.api import schemas
from recommender.api.convert import question_reviews
from recommender.api.deps import AnyRoleDep, AuthFirstRoute, EditorDep, EngineDep
from recommender.articles.model import ID_PATTERN
from recommender.editorial.decisions import DecisionError
from recommender.editorial.filters import BANDS, STATE_PATTERN, FilterError, apply_filter, article_ids, parse_filter
from recommender.editorial.review import coverage, group_clusters, queue
from recommender.engine import QuestionStatus
from recommender.domain import VersionConflict

ReviewKind = Literal["unreviewed", "changed", "gaps", "all"]
_AUTH_ERRORS = {401: {"model": schemas.ErrorBody}, 403: {"model": schemas.ErrorBody}}
router = APIRouter(prefix="/v1", tags=["editors"], responses=_AUTH_ERRORS, route_class=AuthFirstRoute)
# If-Match: `*`, or a decision version as the ETag gives it ("3"), also bare or weak (3, W/"3").
IF_MATCH_PATTERN = r'^[ \t]*(?:\*|(?:W/)?"?[0-9]{1,18}"?)[ \t]*$'
_VERSION = re.compile(r'^[ \t]*(?:W/)?"?([0-9]{1,18})"?[ \t]*$')
QuestionId = Path(min_length=1, max_length=200, description="Question id (`<article id>-q<n>`)")


def _review(engine: EngineDep, status: QuestionStatus, response: Response | None = None) -> schemas.QuestionReview:
    if response is not None:
        response.headers["ETag"] = f'"{status.decision.version if status.decision else 0}"'
    return question_reviews(engine, [(status, [])])[0]


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    found = _VERSION.match(if_match)
    if not found:
        raise HTTPException(422, f'If-Match must be a decision version such as "3", not {if_match!r}')
    return int(found.group(1))


def _conflict(exc: VersionConflict) -> JSONResponse:
    return JSONResponse(
        {
            "detail": f"the decision changed meanwhile: it is at version {exc.current}; reload and try again",
            "version": exc.current,
        },
        status_code=409,
        headers={"ETag": f'"{exc.current}"'},
    )


@router.get("/editors/me", response_model=schemas.EditorOut)
def me(editor: AnyRoleDep) -> schemas.EditorOut:
    """Who the token belongs to and its role (the review page's sign-in check); any role."""
    return schemas.EditorOut(name=editor.name, created_at=editor.created_at, role=editor.role)


@router.get(
    "/questions/{question_id}/decision",
    response_model=schemas.QuestionReview,
    responses={404: {"model": schemas.ErrorBody}},
)
def get_decision(engine: EngineDep, editor: EditorDep, response: Response, question_id: str = QuestionId) -> schemas.QuestionReview:
    """A question as editors see it: its decision (version in the ETag), answer and every candidate."""
    status = engine.status(question_id)
    if status is None:
        raise HTTPException(404, f"question {question_id!r} not found")
    return _review(engine, status, response)


@router.post(
    "/questions/{question_id}/decision",
    response_model=schemas.QuestionReview,
    responses={
        404: {"model": schemas.ErrorBody},
        409: {"model": schemas.ConflictBody},
        422: {"model": schemas.ErrorBody},
    },
)
def decide(
    body: schemas.DecisionIn,
    engine: EngineDep,
    editor: EditorDep,
    response: Response,
    # `str`, not `str | None`: the schema then offers no null (a header cannot be null, only the text "null").
    if_match: Annotated[
        str,
        Header(
            description='The decision version you saw (the ETag, e.g. "3"; * for any); 409 if it changed since.',
            json_schema_extra={"pattern": IF_MATCH_PATTERN},
        ),
    ] = None,  # type: ignore[assignment]
    question_id: str = QuestionId,
):  # type: ignore[no-untyped-def]
    """Approve, reject, pin, hide, unhide, mark a gap, or clear; returns the question's new state.

    approve and reject without article_id act on the fact check the widget shows now. A rejected
    fact check never comes back for the question; a pinned one shows first whatever the model says.
    """
    expected = _expected_version(if_match)
    try:
        status = engine.decide(question_id, body.action, body.article_id, editor.name, expected)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except DecisionError as exc:
        raise HTTPException(422, str(exc)) from None
    except VersionConflict as exc:
        return _conflict(exc)
    return _review(engine, status, response)


@router.post(
    "/questions/{question_id}/decision/undo",
    response_model=schemas.QuestionReview,
    responses={404: {"model": schemas.ErrorBody}, 409: {"model": schemas.ConflictBody}, 422: {"model": schemas.ErrorBody}},
)
def undo(body: schemas.UndoIn, engine: EngineDep, editor: EditorDep, response: Response, question_id: str = QuestionId):  # type: ignore[no-untyped-def]
    """Undo the decision that produced `version`: the question's state before it comes back. The audit log
    keeps the undone decision and records the undo; 409 if someone decided on the question since."""
    try:
        status = engine.undo(question_id, body.version, editor.name)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except DecisionError as exc:
        raise HTTPException(422, str(exc)) from None
    except VersionConflict as exc:
        return _conflict(exc)
    return _review(engine, status, response)


@router.post(
    "/decisions/bulk",
    response_model=schemas.BulkOut,
    responses={404: {"model": schemas.ErrorBody}, 409: {"model": schemas.ConflictBody}, 422: {"model": schemas.ErrorBody}},
)
def decide_bulk(body: schemas.BulkIn, engine: EngineDep, editor: EditorDep):  # type: ignore[no-untyped-def]
    """Approve or reject for a list of questions, all or nothing (an error names the item; 404: no such question)."""
    items = [(item.question_id, item.article_id) for item in body.items]
    try:
        statuses = engine.decide_many(items, body.action, editor.name)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except DecisionError as exc:
        raise HTTPException(422, str(exc)) from None
    except VersionConflict as exc:
        return _conflict(exc)
    return schemas.BulkOut(items=question_reviews(engine, [(s, []) for s in statuses]))


@router.get(
    "/review",
    response_model=schemas.ReviewResponse,
    responses={404: {"model": schemas.ErrorBody}, 422: {"model": schemas.ErrorBody}},
)
def review(
    engine: EngineDep,
    editor: EditorDep,
    kind: Annotated[ReviewKind, Query(description="unreviewed, changed, gaps, or all questions")] = "unreviewed",
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=schemas.MAX_OFFSET)] = 0,
    article_id: Annotated[
        str | None, Query(pattern=ID_PATTERN, max_length=128, description="Only this article's questions.")
    ] = None,
    q: Annotated[
        str | None,
        Query(description="Words that must all occur in the question or an article title.", json_schema_extra={"maxLength": 200}),
    ] = None,
    state: Annotated[
        str | None,
        Query(
            description="Any of unreviewed, waiting, live, gap, hidden, rejected (comma-separated).",
            json_schema_extra={"pattern": STATE_PATTERN},
        ),
    ] = None,
    topic: Annotated[str | None, Query(max_length=100, description="The question's article's topic.")] = None,
    checked_from: Annotated[
        str | None,
        Query(alias="from", description="The question's article checked on or after (YYYY-MM-DD).", json_schema_extra={"format": "date"}),
    ] = None,
    checked_to: Annotated[
        str | None,
        Query(alias="to", description="The question's article checked on or before (YYYY-MM-DD).", json_schema_extra={"format": "date"}),
    ] = None,
    confidence: Annotated[
        str | None,
        Query(
            description="Band of the best model score: low (a gap), medium (waits for review), high (live).",
            json_schema_extra={"enum": list(BANDS)},
        ),
    ] = None,
) -> schemas.ReviewResponse:
    """The review queue: unreviewed suggestions, live or waiting for review (lowest confidence first),
    approved or pinned suggestions that changed since (fact check edited or deleted, or dropped by the
    model), gaps, or all questions; narrowed by search and filters (all must match).
    Duplicate questions come as one item (`cluster` lists the others)."""
    try:
        wanted = parse_filter(q, state, topic, checked_from, checked_to, confidence)
    except FilterError as exc:
        raise HTTPException(422, str(exc)) from None
    if article_id is not None and engine.store.get_article_row(article_id) is None:
        raise HTTPException(404, f"article {article_id!r} not found")
    statuses = engine.statuses(article_id)
    targets = {t for s in statuses if s.decision and (t := s.decision.target)}
    hashes = {a: row.content_hash for a, row in engine.articles(sorted(targets)).items()}
    found = queue(statuses, kind, hashes)
    if not wanted.empty:
        found = apply_filter(found, wanted, engine.articles(article_ids([i.status for i in found])), engine.thresholds)
    if kind != "changed":
        found = group_clusters(found, engine.clusters())  # one item per duplicate cluster
    page = found[offset : offset + limit]
    return schemas.ReviewResponse(
        kind=kind,
        total=len(found),
        questions=sum(1 + len(item.members) for item in found),
        limit=limit,
        offset=offset,
        items=question_reviews(engine, [(item.status, item.reasons) for item in page]),  # type: ignore[misc]
    )


AUDIT_CSV_COLUMNS = (
    "id", "at", "editor", "role", "action", "question_id", "question_text", "article_id", "article_title",
    "target_id", "target_title", "before", "after",
)


@router.get("/audit", response_model=schemas.AuditResponse, responses={200: {"content": {"text/csv": {}}}})
def audit(
    engine: EngineDep,
    editor: EditorDep,
    question_id: Annotated[str | None, Query(max_length=200, description="A question's whole history.")] = None,
    article_id: Annotated[
        str | None,
        Query(max_length=128, description="Decisions on the article's questions or about it as a fact check."),
    ] = None,
    editor_name: Annotated[
        str | None, Query(alias="editor", max_length=64, description="Decisions by this editor.")
    ] = None,
    action: Annotated[
        Literal["approve", "reject", "pin", "hide", "unhide", "gap", "clear", "undo"] | None,
        Query(description="Only this action."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=schemas.MAX_OFFSET)] = 0,
    format: Annotated[Literal["json", "csv"], Query(description="csv: the same entries as a spreadsheet.")] = "json",
):  # type: ignore[no-untyped-def]
    """Every decision with editor and role, time, question text, article titles, and the decision before
    and after; newest first. Filter by question, article, editor, action; `format=csv` to export."""
    question = None
    if question_id is not None and (row := engine.store.get_question(question_id)) is not None:
        question, question_id = (row.article_id, row.key), None  # its history across reordering and rewording
    total, entries = engine.store.audit_entries(question, question_id, article_id, editor_name, limit, offset, action)
    titles = engine.articles(sorted({e.article_id for e in entries} | {e.target_id for e in entries if e.target_id}))
    texts = {}
    for e in entries:
        if e.question_id not in texts:
            found = engine.store.get_question(e.question_id)
            texts[e.question_id] = found.text if found else None
    items = [
        schemas.AuditItem(
            id=e.id,
            at=e.at,
            editor=e.editor,
            action=e.action,
            question_id=e.question_id,
            question_key=e.question_key,
            article_id=e.article_id,
            target_id=e.target_id,
            role=e.role,
            before=e.before,
            after=e.after,
            question_text=texts[e.question_id],
            article_title=row.title if (row := titles.get(e.article_id)) else None,
            target_title=row.title if e.target_id and (row := titles.get(e.target_id)) else None,
        )
        for e in entries
    ]
    if format == "csv":
        return Response(
            audit_csv(items),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"', "X-Total-Count": str(total)},
        )
    return schemas.AuditResponse(total=total, items=items)


def audit_csv(items: list[schemas.AuditItem]) -> str:
    """Audit entries as CSV (before/after as JSON); cells a spreadsheet would run as formulas are quoted."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(AUDIT_CSV_COLUMNS)
    for item in items:
        values = item.model_dump()
        row = []
        for column in AUDIT_CSV_COLUMNS:
            value = values[column]
            text = json.dumps(value, sort_keys=True) if isinstance(value, dict) else "" if value is None else str(value)
            row.append("'" + text if text[:1] in ("=", "+", "-", "@") else text)
        writer.writerow(row)
    return out.getvalue()


@router.get("/coverage", response_model=schemas.CoverageResponse)
def coverage_numbers(engine: EngineDep, editor: EditorDep) -> schemas.CoverageResponse:
    """The dashboard: how many questions are answered, approved, rejected, gaps; best-score histogram."""
    found = coverage(engine.statuses())
    counts = {
        "answered": found.answered,
        "approved": found.approved,
        "rejected": found.rejected,
        "gaps": found.gaps,
        "hidden": found.hidden,
        "unreviewed": found.unreviewed,
        "pending": found.pending,
    }
    return schemas.CoverageResponse(
        questions=found.questions,
        counts=counts,
        shares={k: found.share(v) for k, v in counts.items()},
        gap_threshold=engine.thresholds.gap_score,
        live_threshold=engine.thresholds.live_score,
        review_threshold=engine.thresholds.review_probability,
        auto_approve_threshold=engine.thresholds.auto_probability,
        histogram=[schemas.HistogramBin(start=a, end=b, count=n) for a, b, n in found.histogram],
    )


@router.post(
    "/clusters/{cluster_id}/apply",
    response_model=schemas.BulkOut,
    responses={404: {"model": schemas.ErrorBody}, 409: {"model": schemas.ConflictBody}, 422: {"model": schemas.ErrorBody}},
)
def apply_to_cluster(cluster_id: str, body: schemas.ClusterApplyIn, engine: EngineDep, editor: EditorDep):  # type: ignore[no-untyped-def]
    """Accept a cluster's offer: repeat one question's decision on the other questions of its duplicate
    cluster (all of its undecided members, or `question_ids`), all or nothing, audited per question."""
    from recommender.learning.offers import offer

    clusters = engine.clusters()
    members = sorted(q for q, c in clusters.items() if c == cluster_id)
    if not members:
        raise HTTPException(404, f"cluster {cluster_id!r} not found")
    if body.from_question_id not in members:
        raise HTTPException(422, f"from_question_id: question {body.from_question_id!r} is not in cluster {cluster_id!r}")
    if body.question_ids is not None:
        strangers = [q for q in body.question_ids if q not in members]
        if strangers:
            raise HTTPException(422, f"question_ids: {strangers[0]!r} is not in cluster {cluster_id!r}")
    rows = [row for q in members if (row := engine.store.get_question(q)) is not None]
    statuses = engine.question_statuses(rows)
    source = next(s for s in statuses if s.question.id == body.from_question_id)
    if source.decision is None or source.decision.empty:
        raise HTTPException(422, f"from_question_id: question {body.from_question_id!r} has no decision to repeat")
    wanted = set(body.question_ids) if body.question_ids is not None else None
    items = [i for i in offer(source, statuses) if wanted is None or i[0] in wanted]
    if not items:
        return schemas.BulkOut(items=[])
    try:
        done = engine.decide_each(items, editor.name)
    except (LookupError, DecisionError) as exc:
        raise HTTPException(422, str(exc)) from None
    except VersionConflict as exc:
        return _conflict(exc)
    unique = list({s.question.id: s for s in done}.values())
    return schemas.BulkOut(items=question_reviews(engine, [(s, []) for s in unique]))


@router.put(
    "/articles/{article_id}/superseded-by",
    response_model=schemas.SupersedeOut,
    responses={404: {"model": schemas.ErrorBody}, 422: {"model": schemas.ErrorBody}},
)
def supersede(
    article_id: Annotated[str, Path(pattern=ID_PATTERN, max_length=128)],
    body: schemas.SupersedeIn,
    engine: EngineDep,
    editor: EditorDep,
) -> schemas.SupersedeOut:
    """Mark a fact check superseded by a newer one (or, with null, not any more): every suggestion of
    the older one follows the newer one (or drops it where the newer one is already suggested). Audited."""
    try:
        engine.supersede(article_id, body.by_article_id, editor.name)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except DecisionError as exc:
        raise HTTPException(422, str(exc)) from None
    current = engine.store.superseded_map()
    return schemas.SupersedeOut(article_id=article_id, superseded_by=current.get(article_id), superseded=current)
