"""What shows under an article: its own answered questions, then related questions from other articles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from recommender.index.snapshot import Snapshot
from recommender.store.base import LinkRow, QuestionRow


@dataclass(frozen=True)
class Item:
    question: QuestionRow
    answer: LinkRow  # the fact check the question links to
    relevance: float  # own questions: 1.0; related: how well this article matches the question


def own_items(questions: Sequence[QuestionRow], links: dict[str, list[LinkRow]], gap_threshold: float) -> list[Item]:
    """The article's own questions with their best fact check; gaps are left out."""
    items = []
    for question in questions:
        ranked = links.get(question.id, [])
        if ranked and ranked[0].score >= gap_threshold:
            items.append(Item(question, ranked[0], 1.0))
    return items


def related_items(
    article_id: str,
    incoming: Sequence[LinkRow],
    questions: dict[str, QuestionRow],
    links: dict[str, list[LinkRow]],
    gap_threshold: float,
) -> list[Item]:
    """Questions of other articles that this article is relevant to, answered by a third article.

    A question whose best answer is this very article is left out: the reader already has it.
    """
    items = []
    for link in incoming:
        question = questions.get(link.question_id)
        ranked = links.get(link.question_id, [])
        if question is None or question.article_id == article_id or not ranked:
            continue
        best = ranked[0]
        if best.article_id == article_id or best.score < gap_threshold:
            continue
        items.append(Item(question, best, link.score))
    items.sort(key=lambda item: (-item.relevance, item.question.id))
    return items


def drop_duplicates(
    items: Sequence[Item], snapshot: Snapshot, threshold: float, seen: Sequence[QuestionRow] = ()
) -> list[Item]:
    """Keep the first of each group of near-duplicate questions (cosine of question vectors)."""
    kept: list[Item] = []
    vectors = [v for q in seen if (v := snapshot.question_vector(q.id)) is not None]
    keys = {q.key for q in seen}
    for item in items:
        vector = snapshot.question_vector(item.question.id)
        if item.question.key in keys:
            continue
        if vector is not None and vectors and float(np.max(np.stack(vectors) @ vector)) >= threshold:
            continue
        kept.append(item)
        keys.add(item.question.key)
        if vector is not None:
            vectors.append(vector)
    return kept
