"""Editors: decisions on suggestions, the review queue, the audit log and coverage (bearer token needed)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Path, Query, Response

from recommender.api import schemas
from recommender.api.convert import question_reviews
from recommender.api.deps import AnyRoleDep, AuthFirstRoute, EditorDep, EditorialDep, ReadingDep
from recommender.articles.model import ID_PATTERN
from recommender.editorial.decisions import DecisionError
from recommender.editorial.filters import BANDS, STATE_PATTERN, FilterError, apply_filter, article_ids, parse_filter
from recommender.editorial.review import coverage, group_clusters, queue
from recommender.editorial.statuses import QuestionStatus
from recommender.services.reading import ReadingService

ReviewKind = Literal["unreviewed", "changed", "gaps", "all"]
_AUTH_ERRORS = {401: {"model": schemas.ErrorBody}, 403: {"model": schemas.ErrorBody}}
router = APIRouter(prefix="/v1", tags=["editors"], responses=_AUTH_ERRORS, route_class=AuthFirstRoute)
# If-Match: `*`, or a decision version as the ETag gives it ("3"), also bare or weak (3, W/"3").
IF_MATCH_PATTERN = r'^[ \t]*(?:\*|(?:W/)?"?[0-9]{1,18}"?)[ \t]*$'
_VERSION = re.compile(r'^[ \t]*(?:W/)?"?([0-9]{1,18})"?[ \t]*$')
QuestionId = Path(min_length=1, max_length=200, description="Question id (`<article id>-q<n>`)")


def _review(reading: ReadingService, status: QuestionStatus, response: Response | None = None) -> schemas.QuestionReview:
    if response is not None:
        response.headers["ETag"] = f'"{status.decision.version if status.decision else 0}"'
    return question_reviews(reading.reviews([(status, [])]))[0]


@contextmanager
def _decision_errors() -> Iterator[None]:
    """The editorial service's errors as responses: 404 unknown question or article, 422 an action that
    cannot apply. A VersionConflict becomes 409 in app.py (with the current version in body and ETag)."""
    try:
        yield
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except DecisionError as exc:
        raise HTTPException(422, str(exc)) from None


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    found = _VERSION.match(if_match)
    if not found:
        raise HTTPException(422, f'If-Match must be a decision version such as "3", not {if_match!r}')
    return int(found.group(1))


@router.get("/editors/me", response_model=schemas.EditorOut)
def me(editor: AnyRoleDep) -> schemas.EditorOut:
    """Who the token belongs to and its role (the review page's sign-in check); any role."""
    return schemas.EditorOut(name=editor.name, created_at=editor.created_at, role=editor.role)


@router.get(
    "/questions/{question_id}/decision",
    response_model=schemas.QuestionReview,
    responses={404: {"model": schemas.ErrorBody}},
)
def get_decision(reading: ReadingDep, editor: EditorDep, response: Response, question_id: str = QuestionId) -> schemas.QuestionReview:
    """A question as editors see it: its decision (version in the ETag), answer and every candidate."""
    status = reading.status(question_id)
    if status is None:
        raise HTTPException(404, f"question {question_id!r} not found")
    return _review(reading, status, response)


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
    editorial: EditorialDep,
    reading: ReadingDep,
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
    with _decision_errors():
        status = editorial.decide(question_id, body.action, body.article_id, editor.name, expected)
    return _review(reading, status, response)


@router.post(
    "/questions/{question_id}/decision/undo",
    response_model=schemas.QuestionReview,
    responses={404: {"model": schemas.ErrorBody}, 409: {"model": schemas.ConflictBody}, 422: {"model": schemas.ErrorBody}},
)
def undo(  # type: ignore[no-untyped-def]
    body: schemas.UndoIn, editorial: EditorialDep, reading: ReadingDep, editor: EditorDep, response: Response, question_id: str = QuestionId
):
    """Undo the decision that produced `version`: the question's state before it comes back. The audit log
    keeps the undone decision and records the undo; 409 if someone decided on the question since."""
    with _decision_errors():
        status = editorial.undo(question_id, body.version, editor.name)
    return _review(reading, status, response)


@router.post(
    "/decisions/bulk",
    response_model=schemas.BulkOut,
    responses={404: {"model": schemas.ErrorBody}, 409: {"model": schemas.ConflictBody}, 422: {"model": schemas.ErrorBody}},
)
def decide_bulk(body: schemas.BulkIn, editorial: EditorialDep, reading: ReadingDep, editor: EditorDep):  # type: ignore[no-untyped-def]
    """Approve or reject for a list of questions, all or nothing (an error names the item; 404: no such question)."""
    items = [(item.question_id, item.article_id) for item in body.items]
    with _decision_errors():
        statuses = editorial.decide_many(items, body.action, editor.name)
    return schemas.BulkOut(items=question_reviews(reading.reviews([(s, []) for s in statuses])))


@router.get(
    "/review",
    response_model=schemas.ReviewResponse,
    responses={404: {"model": schemas.ErrorBody}, 422: {"model": schemas.ErrorBody}},
)
def review(
    reading: ReadingDep,
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
    if article_id is not None and reading.article_row(article_id) is None:
        raise HTTPException(404, f"article {article_id!r} not found")
    statuses = reading.statuses(article_id)
    targets = {t for s in statuses if s.decision and (t := s.decision.target)}
    hashes = {a: row.content_hash for a, row in reading.articles(sorted(targets)).items()}
    found = queue(statuses, kind, hashes)
    if not wanted.empty:
        found = apply_filter(found, wanted, reading.articles(article_ids([i.status for i in found])), reading.thresholds)
    if kind != "changed":
        found = group_clusters(found, reading.clusters())  # one item per duplicate cluster
    page = found[offset : offset + limit]
    return schemas.ReviewResponse(
        kind=kind,
        total=len(found),
        questions=sum(1 + len(item.members) for item in found),
        limit=limit,
        offset=offset,
        items=question_reviews(reading.reviews([(item.status, item.reasons) for item in page])),
    )


AUDIT_CSV_COLUMNS = (
    "id", "at", "editor", "role", "action", "question_id", "question_text", "article_id", "article_title",
    "target_id", "target_title", "before", "after",
)


@router.get("/audit", response_model=schemas.AuditResponse, responses={200: {"content": {"text/csv": {}}}})
def audit(
    editorial: EditorialDep,
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
    total, lines = editorial.audit(question_id, article_id, editor_name, action, limit, offset)
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
            question_text=line.question_text,
            article_title=line.article_title,
            target_title=line.target_title,
        )
        for line in lines
        for e in (line.entry,)
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
def coverage_numbers(reading: ReadingDep, editor: EditorDep) -> schemas.CoverageResponse:
    """The dashboard: how many questions are answered, approved, rejected, gaps; best-score histogram."""
    found = coverage(reading.statuses())
    thresholds = reading.thresholds
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
        gap_threshold=thresholds.gap_score,
        live_threshold=thresholds.live_score,
        review_threshold=thresholds.review_probability,
        auto_approve_threshold=thresholds.auto_probability,
        histogram=[schemas.HistogramBin(start=a, end=b, count=n) for a, b, n in found.histogram],
    )


@router.post(
    "/clusters/{cluster_id}/apply",
    response_model=schemas.BulkOut,
    responses={404: {"model": schemas.ErrorBody}, 409: {"model": schemas.ConflictBody}, 422: {"model": schemas.ErrorBody}},
)
def apply_to_cluster(  # type: ignore[no-untyped-def]
    cluster_id: str, body: schemas.ClusterApplyIn, editorial: EditorialDep, reading: ReadingDep, editor: EditorDep
):
    """Accept a cluster's offer: repeat one question's decision on the other questions of its duplicate
    cluster (all of its undecided members, or `question_ids`), all or nothing, audited per question."""
    with _decision_errors():
        done = editorial.apply_to_cluster(cluster_id, body.from_question_id, body.question_ids, editor.name)
    return schemas.BulkOut(items=question_reviews(reading.reviews([(s, []) for s in done])))


@router.put(
    "/articles/{article_id}/superseded-by",
    response_model=schemas.SupersedeOut,
    responses={404: {"model": schemas.ErrorBody}, 422: {"model": schemas.ErrorBody}},
)
def supersede(
    article_id: Annotated[str, Path(pattern=ID_PATTERN, max_length=128)],
    body: schemas.SupersedeIn,
    editorial: EditorialDep,
    editor: EditorDep,
) -> schemas.SupersedeOut:
    """Mark a fact check superseded by a newer one (or, with null, not any more): every suggestion of
    the older one follows the newer one (or drops it where the newer one is already suggested). Audited."""
    with _decision_errors():
        current = editorial.supersede(article_id, body.by_article_id, editor.name)
    return schemas.SupersedeOut(article_id=article_id, superseded_by=current.get(article_id), superseded=current)
