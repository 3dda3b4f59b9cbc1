"""Questions as served: the model's candidates with superseded fact checks followed, fresher ones
preferred on close calls, and the editors' decision on top.

A function of the store, not of a service, so `recommender status` reads the same states without
opening the services (whose startup re-encodes and relinks: writes a status check must not make).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from recommender.editorial.decisions import Effective, effective
from recommender.domain import Decision
from recommender.editorial.freshness import follow_superseded, prefer_recent, successor
from recommender.learning.calibration import Thresholds
from recommender.store.base import Store
from recommender.domain import LinkRow, QuestionRow


@dataclass(frozen=True)
class QuestionStatus:
    """One question with the model's candidates and the editors' decision applied on top."""

    question: QuestionRow
    decision: Decision | None
    links: list[LinkRow]  # the model's candidates, as served (superseded followed, fresher preferred)
    effective: Effective


def question_statuses(
    store: Store,
    questions: Sequence[QuestionRow],
    thresholds: Thresholds,
    freshness_margin: float,
    dates: Mapping[str, dt.date | None],
    links: dict[str, list[LinkRow]] | None = None,
) -> list[QuestionStatus]:
    """Questions with their candidates as served and the editors' decisions applied (`links`: already read)."""
    missing = [q.id for q in questions if links is None or q.id not in links]
    links = {**(links or {}), **(store.links_of(missing) if missing else {})}
    decisions = store.decisions_for([(q.article_id, q.key) for q in questions])
    superseded = store.superseded_map()
    targets = {t for d in decisions.values() if (t := d.pinned or d.approved)}
    targets |= {successor(t, superseded) for t in targets}
    existing = set(store.article_rows(sorted(targets))) if targets else set()
    out = []
    for question in questions:
        decision = decisions.get((question.article_id, question.key))
        ranked = prefer_recent(follow_superseded(links.get(question.id, []), superseded, question.article_id), dates, freshness_margin)
        shown = _follow(decision, superseded) if decision is not None and superseded else decision
        state = effective(
            question.id, shown, ranked, thresholds.gap_score, existing, live_threshold=thresholds.live_score  # type: ignore[arg-type]
        )
        out.append(QuestionStatus(question, decision, ranked, state))
    return out


def _follow(decision: Decision, superseded: dict[str, str]) -> Decision:
    """A decision whose pinned or approved fact check was superseded shows the successor instead."""
    pinned = successor(decision.pinned, superseded) if decision.pinned else None
    approved = successor(decision.approved, superseded) if decision.approved else None
    if (pinned, approved) == (decision.pinned, decision.approved):
        return decision
    return replace(decision, pinned=pinned, approved=approved)
