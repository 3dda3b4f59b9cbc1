"""Engine records to response bodies."""

from __future__ import annotations

from collections.abc import Sequence

from recommender.api import schemas
from recommender.editorial.decisions import Ranked
from recommender.engine import Engine, QuestionStatus
from recommender.learning.freshness import fresher
from recommender.linking.related import Item
from recommender.domain import ArticleRow, Decision, LinkRow, QuestionRow


def article_ref(row: ArticleRow) -> schemas.ArticleRef:
    return schemas.ArticleRef(id=row.id, title=row.title, url=row.url, checked_on=row.checked_on)


def fact_check(row: ArticleRow, score: float) -> schemas.FactCheck:
    return schemas.FactCheck(id=row.id, title=row.title, url=row.url, checked_on=row.checked_on, score=round(score, 4))


def question_ref(row: QuestionRow) -> schemas.QuestionRef:
    return schemas.QuestionRef(id=row.id, text=row.text, article_id=row.article_id)


def candidates(engine: Engine, links: list[LinkRow], with_passages: bool = True) -> list[schemas.Candidate]:
    rows = engine.articles([link.article_id for link in links])
    out = []
    for link in links:
        row = rows.get(link.article_id)
        if row is None:
            continue
        passage = engine.store.passage_text(link.article_id, link.passage) if with_passages and link.passage >= 0 else None
        out.append(
            schemas.Candidate(
                **fact_check(row, link.score).model_dump(),
                rank=link.rank,
                dense=round(link.dense, 4),
                lexical=round(link.lexical, 4),
                passage=passage,
                confidence=engine.confidence(link.score),
            )
        )
    return out


def dive_deeper_items(engine: Engine, items: list[Item], related: bool) -> list[schemas.DiveDeeperQuestion]:
    ids = [i.answer.article_id for i in items] + [i.question.article_id for i in items]
    rows = engine.articles(ids)
    out = []
    for item in items:
        answer = rows.get(item.answer.article_id)
        if answer is None:
            continue
        source = rows.get(item.question.article_id) if related else None
        out.append(
            schemas.DiveDeeperQuestion(
                id=item.question.id,
                text=item.question.text,
                answer=fact_check(answer, item.answer.score),
                source=article_ref(source) if source else None,
                relevance=round(item.relevance, 4) if related else None,
                confirmed=item.confirmed,
            )
        )
    return out


def unanswered_items(questions: Sequence[QuestionRow]) -> list[schemas.DiveDeeperQuestion]:
    """The article's own questions nothing answers yet, for a site that lists them as 'not checked yet'."""
    return [schemas.DiveDeeperQuestion(id=q.id, text=q.text, answer=None) for q in questions]


def ranked_candidates(
    engine: Engine, ranked: Sequence[Ranked], rows: dict[str, ArticleRow] | None = None, with_passages: bool = True
) -> list[schemas.Candidate]:
    """Candidates in the effective order (decisions applied); `rank` is the position in it."""
    rows = rows if rows is not None else engine.articles([r.link.article_id for r in ranked])
    model = [r.link for r in ranked if not r.pinned and not r.approved]
    moved = model[0].article_id if fresher(model) else None  # moved up by prefer_recent
    out = []
    for entry in ranked:
        link = entry.link
        row = rows.get(link.article_id)
        if row is None:
            continue
        passage = engine.store.passage_text(link.article_id, link.passage) if with_passages and link.passage >= 0 else None
        out.append(
            schemas.Candidate(
                **fact_check(row, link.score).model_dump(),
                rank=len(out),
                dense=round(link.dense, 4),
                lexical=round(link.lexical, 4),
                passage=passage,
                pinned=entry.pinned,
                approved=entry.approved,
                fresher=link.article_id == moved and not entry.pinned and not entry.approved,
                confidence=engine.confidence(link.score),
            )
        )
    return out


def decision_state(decision: Decision | None) -> schemas.DecisionState:
    if decision is None:
        return schemas.DecisionState(version=0)
    return schemas.DecisionState(
        version=decision.version,
        pinned=decision.pinned,
        approved=decision.approved,
        rejected=list(decision.rejected),
        hidden=decision.hidden,
        gap=decision.gap,
        updated_by=decision.updated_by,
        updated_at=decision.updated_at,
    )


def question_reviews(
    engine: Engine, items: Sequence[tuple[QuestionStatus, Sequence[str]]]
) -> list[schemas.QuestionReview]:
    """Questions as editors see them: source, answer, why, decision and every candidate."""
    ids = [s.question.article_id for s, _ in items] + [r.link.article_id for s, _ in items for r in s.effective.ranked]
    rows = engine.articles(ids)
    out = []
    for status, reasons in items:
        candidates = ranked_candidates(engine, status.effective.ranked, rows)
        answer = status.effective.answer
        answer_row = rows.get(answer.link.article_id) if answer else None
        source = rows.get(status.question.article_id)
        out.append(
            schemas.QuestionReview(
                question=question_ref(status.question),
                source=article_ref(source) if source else None,
                state=status.effective.state,
                answer=fact_check(answer_row, answer.link.score) if answer and answer_row else None,
                why=candidates[0].passage if candidates else None,
                decision=decision_state(status.decision),
                candidates=candidates,
                reasons=list(reasons),
                confidence=max((c.confidence for c in candidates if c.confidence is not None), default=None),
                cluster=cluster_out(engine, status),
            )
        )
    return out


def cluster_out(engine: Engine, status: QuestionStatus) -> schemas.ClusterOut | None:
    """The question's duplicate cluster, with the decision of its most recently decided member offered to the rest."""
    from recommender.learning.offers import offer, source_of

    cluster = engine.clusters().get(status.question.id)
    if cluster is None:
        return None
    members = engine.question_statuses(engine.cluster_members(status.question.id))
    everyone = [status, *members]
    source = source_of(everyone)
    items = offer(source, everyone) if source is not None else []
    return schemas.ClusterOut(
        id=cluster,
        members=[
            schemas.ClusterMember(
                question=question_ref(m.question),
                state=m.effective.state,
                decided=m.decision is not None and not m.decision.empty,
            )
            for m in members
        ],
        offer_from=source.question.id if source is not None and items else None,
        offer=[schemas.OfferItem(question_id=q, action=a, article_id=t) for q, a, t in items],
    )
