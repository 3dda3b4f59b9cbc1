"""What shows under an article: its own answered questions, then related questions from other articles."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from recommender.index.snapshot import Snapshot
from recommender.domain import LinkRow, QuestionRow


@dataclass(frozen=True)
class Item:
    question: QuestionRow
    answer: LinkRow  # the fact check the question links to
    relevance: float  # own questions: 1.0; related: how well this article matches the question
    confirmed: bool = False  # an editor pinned or approved this answer


class Answer(Protocol):
    """What a question shows, after editors' decisions (recommender.editorial.decisions.Ranked)."""

    link: LinkRow

    @property
    def confirmed(self) -> bool: ...


def own_items(questions: Sequence[QuestionRow], answers: Mapping[str, Answer | None]) -> list[Item]:
    """The article's own questions with their answer; gaps and hidden questions (no answer) are left out."""
    items = []
    for question in questions:
        answer = answers.get(question.id)
        if answer is not None:
            items.append(Item(question, answer.link, 1.0, answer.confirmed))
    return items


def own_unanswered(
    questions: Sequence[QuestionRow],
    answers: Mapping[str, Answer | None],
    hidden: Collection[str],
    clusters: Mapping[str, str],
    taken: Sequence[QuestionRow] = (),
) -> list[QuestionRow]:
    """The article's own questions without an answer to show (gaps, waiting for review), in order.

    Hidden ones stay out (an editor hid them), and so does one whose duplicate cluster is already
    shown (`taken`, or an earlier one of these): the same question twice, once answered, once not,
    would only confuse a reader."""
    used = {clusters[q.id] for q in taken if q.id in clusters}
    out = []
    for question in questions:
        if answers.get(question.id) is not None or question.id in hidden:
            continue
        cluster = clusters.get(question.id)
        if cluster is not None:
            if cluster in used:
                continue
            used.add(cluster)
        out.append(question)
    return out


def related_items(
    article_id: str,
    incoming: Sequence[LinkRow],
    questions: Mapping[str, QuestionRow],
    answers: Mapping[str, Answer | None],
    snapshot: Snapshot,
    min_relevance: float,
    min_topic: float = -1.0,
) -> list[Item]:
    """Questions of other articles on this article's subject, answered by a third article.

    Relevance is the question's own stored score for this article (the fused score every link has,
    on the absolute scale of the gap threshold): this article nearly answers it too. `min_topic` is a
    second floor, not a weight: the fact check the reader is sent to must be on this article's
    subject (cosine of the two articles' passage centroids). The old rule averaged the two, so a
    question in the same broad category could carry a weak one over the floor (issue 12: on the
    hand-labelled key, 13% of what the widget showed was off topic and 83% only loosely related).
    On that key the answer's subject separates on-topic from loosely related questions far better
    than the subject of the article the question comes from, which is why the floor is on the answer.
    Nothing is padded: an article with no such question shows none. A question whose answer is
    this very article is left out too: the reader already has it.
    """
    items = []
    for link in incoming:
        question = questions.get(link.question_id)
        answer = answers.get(link.question_id)
        if question is None or question.article_id == article_id or answer is None:
            continue
        if answer.link.article_id == article_id:
            continue
        if link.score < min_relevance:
            continue
        if snapshot.article_similarity(article_id, answer.link.article_id) < min_topic:
            continue
        items.append(Item(question, answer.link, link.score, answer.confirmed))
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


def one_per_answer(items: Sequence[Item], taken: Sequence[Item] = ()) -> list[Item]:
    """At most one related question per fact check, and none for a fact check the article's own
    questions already lead to: six ways of asking the same thing are one link's worth to a reader."""
    used = {item.answer.article_id for item in taken}
    kept = []
    for item in items:
        if item.answer.article_id not in used:
            kept.append(item)
            used.add(item.answer.article_id)
    return kept


def one_per_cluster(
    items: Sequence[Item], clusters: Mapping[str, str], taken: Sequence[QuestionRow] = ()
) -> list[Item]:
    """At most one question per duplicate cluster, and none from a cluster already shown (`taken`)."""
    used = {clusters[q.id] for q in taken if q.id in clusters}
    kept = []
    for item in items:
        cluster = clusters.get(item.question.id)
        if cluster is None:
            kept.append(item)
        elif cluster not in used:
            kept.append(item)
            used.add(cluster)
    return kept
