"""The editors' review queue and coverage numbers, assembled from question statuses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from recommender.editorial.decisions import changed_reasons
from recommender.editorial.statuses import QuestionStatus

Kind = Literal["unreviewed", "changed", "gaps", "all"]
KINDS: tuple[str, ...] = ("unreviewed", "changed", "gaps", "all")


@dataclass(frozen=True)
class ReviewItem:
    status: QuestionStatus
    reasons: list[str]  # why a "changed" item needs another look
    members: tuple[QuestionStatus, ...] = ()  # other questions of its duplicate cluster in the same queue


def group_clusters(items: Sequence[ReviewItem], clusters: Mapping[str, str]) -> list[ReviewItem]:
    """One item per duplicate cluster: the most urgent member leads, the others ride along as members."""
    out: list[ReviewItem] = []
    lead: dict[str, int] = {}
    for item in items:
        cluster = clusters.get(item.status.question.id)
        if cluster is None:
            out.append(item)
        elif cluster in lead:
            first = out[lead[cluster]]
            out[lead[cluster]] = ReviewItem(first.status, first.reasons, (*first.members, item.status))
        else:
            lead[cluster] = len(out)
            out.append(item)
    return out


def queue(statuses: Sequence[QuestionStatus], kind: str, hashes: dict[str, str]) -> list[ReviewItem]:
    """Items of one kind of the review queue, most urgent first.

    unreviewed: a model suggestion nobody confirmed, live or waiting for review; lowest confidence first.
    changed: an approved or pinned fact check was edited or deleted, or the model dropped the approved
    one (`hashes`: current content hash of each existing fact check); oldest decision first.
    gaps: nothing answers the question (an editor said so, or no candidate scores well); marked ones
    first, then the worst-answered.
    all: every question, by id (what the search over all questions narrows).
    """
    if kind == "all":
        return sorted((ReviewItem(s, []) for s in statuses), key=lambda i: i.status.question.id)
    if kind == "unreviewed":
        found = [ReviewItem(s, []) for s in statuses if s.effective.state in ("suggested", "pending")]
        found.sort(key=lambda i: (max(r.link.score for r in i.status.effective.ranked), i.status.question.id))
        return found
    if kind == "changed":
        found = []
        for s in statuses:
            reasons = changed_reasons(s.decision, s.links, hashes)
            if reasons:
                found.append(ReviewItem(s, reasons))
        found.sort(key=lambda i: (i.status.decision.updated_at or "", i.status.question.id))  # type: ignore[union-attr]
        return found
    if kind == "gaps":
        found = [ReviewItem(s, []) for s in statuses if s.effective.state == "gap"]

        def order(item: ReviewItem) -> tuple:
            best = item.status.effective.model_best
            return (not item.status.effective.marked_gap, best.score if best else -1.0, item.status.question.id)

        found.sort(key=order)
        return found
    raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


@dataclass(frozen=True)
class Coverage:
    questions: int
    answered: int  # the widget shows an answer
    approved: int  # an editor approved or pinned the answer
    rejected: int  # at least one suggestion was rejected
    gaps: int
    hidden: int
    unreviewed: int  # live or pending suggestions nobody reviewed
    pending: int  # of those, the ones waiting for review (not shown)
    histogram: list[tuple[float, float, int]]  # (from, to, questions whose best model score falls there)

    def share(self, count: int) -> float:
        return round(count / self.questions, 4) if self.questions else 0.0


def coverage(statuses: Sequence[QuestionStatus], bins: int = 10) -> Coverage:
    counts = {"answered": 0, "approved": 0, "rejected": 0, "gaps": 0, "hidden": 0, "unreviewed": 0, "pending": 0}
    histogram = [0] * bins
    for s in statuses:
        state = s.effective.state
        counts["answered"] += s.effective.answer is not None
        counts["approved"] += state in ("approved", "pinned")
        counts["rejected"] += bool(s.decision and s.decision.rejected)
        counts["gaps"] += state == "gap"
        counts["hidden"] += state == "hidden"
        counts["unreviewed"] += state in ("suggested", "pending")
        counts["pending"] += state == "pending"
        if s.links:
            score = min(max(s.links[0].score, 0.0), 1.0)
            histogram[min(int(score * bins), bins - 1)] += 1
    edges = [(round(i / bins, 4), round((i + 1) / bins, 4), n) for i, n in enumerate(histogram)]
    return Coverage(questions=len(statuses), histogram=edges, **counts)
