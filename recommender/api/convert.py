"""Engine records to response bodies."""

from __future__ import annotations

from recommender.api import schemas
from recommender.engine import Engine
from recommender.linking.related import Item
from recommender.store.base import ArticleRow, LinkRow, QuestionRow


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
            )
        )
    return out
