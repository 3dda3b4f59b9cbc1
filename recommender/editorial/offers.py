"""One decision per duplicate question: what an editor's decision on one question offers the rest of its cluster.

Offers are suggestions, never applied by themselves: an editor accepts them (POST /v1/clusters/{id}/apply).
"""

from __future__ import annotations

from collections.abc import Sequence

from recommender.editorial.statuses import QuestionStatus


def source_of(statuses: Sequence[QuestionStatus]) -> QuestionStatus | None:
    """The cluster member whose decision is offered: the most recently decided one."""
    decided = [s for s in statuses if s.decision is not None and not s.decision.empty]
    return max(decided, key=lambda s: (s.decision.updated_at or "", s.question.id), default=None)  # type: ignore[union-attr]


def offer(source: QuestionStatus, members: Sequence[QuestionStatus]) -> list[tuple[str, str, str | None]]:
    """(question id, action, fact check) items that repeat `source`'s decision on undecided `members`.

    An approved fact check is approved where the model offers it too, pinned elsewhere; a rejection
    is repeated where the fact check is a candidate; a gap or a hidden question is repeated as such.
    Members that have a decision of their own, and the source's own article, are left alone.
    """
    decision = source.decision
    if decision is None:
        return []
    items: list[tuple[str, str, str | None]] = []
    for member in members:
        question = member.question
        if member.question.id == source.question.id or (member.decision is not None and not member.decision.empty):
            continue
        candidates = {link.article_id for link in member.links}
        target = decision.target
        if target is not None and target != question.article_id:
            action = "pin" if decision.pinned or target not in candidates else "approve"
            items.append((question.id, action, target))
        elif decision.gap:
            items.append((question.id, "gap", None))
        for rejected in decision.rejected:
            if rejected in candidates:
                items.append((question.id, "reject", rejected))
        if decision.hidden:
            items.append((question.id, "hide", None))
    return items
