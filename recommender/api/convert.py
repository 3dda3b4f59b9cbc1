"""Service records to response bodies (pure: nothing here reads the database)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from recommender.api import schemas
from recommender.linking.related import Item
from recommender.services.reading import ClusterView, QuestionReview, ShownCandidate
from recommender.domain import ArticleRow, Decision, QuestionRow


def article_ref(row: ArticleRow) -> schemas.ArticleRef:
    return schemas.ArticleRef(id=row.id, title=row.title, url=row.url, checked_on=row.checked_on)


def fact_check(row: ArticleRow, score: float) -> schemas.FactCheck:
    return schemas.FactCheck(id=row.id, title=row.title, url=row.url, checked_on=row.checked_on, score=round(score, 4))


def question_ref(row: QuestionRow) -> schemas.QuestionRef:
    return schemas.QuestionRef(id=row.id, text=row.text, article_id=row.article_id)


def candidate(shown: ShownCandidate) -> schemas.Candidate:
    link = shown.link
    return schemas.Candidate(
        **fact_check(shown.article, link.score).model_dump(),
        rank=shown.rank,
        dense=round(link.dense, 4),
        lexical=round(link.lexical, 4),
        passage=shown.passage,
        confidence=shown.confidence,
        pinned=shown.pinned,
        approved=shown.approved,
        fresher=shown.fresher,
    )


def candidates(shown: Sequence[ShownCandidate]) -> list[schemas.Candidate]:
    return [candidate(c) for c in shown]


def dive_deeper_items(items: Sequence[Item], rows: Mapping[str, ArticleRow], related: bool) -> list[schemas.DiveDeeperQuestion]:
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


def question_review(review: QuestionReview) -> schemas.QuestionReview:
    """A question as editors see it: source, answer, why, decision and every candidate."""
    status = review.status
    shown = candidates(review.candidates)
    answer = status.effective.answer
    return schemas.QuestionReview(
        question=question_ref(status.question),
        source=article_ref(review.source) if review.source else None,
        state=status.effective.state,
        answer=fact_check(review.answer, answer.link.score) if answer and review.answer else None,
        why=shown[0].passage if shown else None,
        decision=decision_state(status.decision),
        candidates=shown,
        reasons=review.reasons,
        confidence=max((c.confidence for c in shown if c.confidence is not None), default=None),
        cluster=cluster_out(review.cluster) if review.cluster else None,
    )


def question_reviews(reviews: Sequence[QuestionReview]) -> list[schemas.QuestionReview]:
    return [question_review(r) for r in reviews]


def cluster_out(cluster: ClusterView) -> schemas.ClusterOut:
    return schemas.ClusterOut(
        id=cluster.id,
        members=[
            schemas.ClusterMember(
                question=question_ref(m.question),
                state=m.effective.state,
                decided=m.decision is not None and not m.decision.empty,
            )
            for m in cluster.members
        ],
        offer_from=cluster.offer_from,
        offer=[schemas.OfferItem(question_id=q, action=a, article_id=t) for q, a, t in cluster.offer],
    )
