"""Pure functions that put editors' decisions on top of the model's ranked candidates.

Effective ranking of one question: the pinned fact check first, then the approved one, then the
model's candidates minus every rejected fact check. `hidden` keeps the question out of the widget;
`gap` marks it as needing a new fact check. Decisions always win over the model.
"""

from __future__ import annotations

import math
from collections.abc import Container, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from recommender.domain import Decision, LinkRow

__all__ = [
    "ACTIONS",
    "DecisionError",
    "Effective",
    "Ranked",
    "apply_action",
    "changed_reasons",
    "default_target",
    "effective",
    "restore",
]

Action = Literal["approve", "reject", "pin", "hide", "unhide", "gap", "clear"]
ACTIONS: tuple[str, ...] = ("approve", "reject", "pin", "hide", "unhide", "gap", "clear")
# suggested: the model's answer is live unreviewed; pending: it waits for an editor (not shown yet).
State = Literal["pinned", "approved", "suggested", "pending", "gap", "hidden"]


class DecisionError(ValueError):
    """An action that cannot apply (unknown target, own article, nothing to approve...)."""


@dataclass(frozen=True)
class Ranked:
    link: LinkRow
    pinned: bool = False
    approved: bool = False

    @property
    def confirmed(self) -> bool:
        return self.pinned or self.approved


@dataclass(frozen=True)
class Effective:
    """One question after decisions: the ranking to show editors and the answer readers get."""

    state: State
    ranked: list[Ranked] = field(default_factory=list)
    answer: Ranked | None = None  # what the widget links to; None for gaps and hidden questions
    marked_gap: bool = False  # the gap was declared by an editor (not only a low model score)

    @property
    def model_best(self) -> LinkRow | None:
        """The model's best candidate left after rejections, whatever the editors chose."""
        links = [r.link for r in self.ranked if r.link.rank >= 0 and not r.pinned]
        return min(links, key=lambda link: link.rank) if links else None


def _chosen_link(question_id: str, target: str, links: Sequence[LinkRow], score: float | None) -> LinkRow:
    found = next((link for link in links if link.article_id == target), None)
    if found is not None:
        return found
    # Not among the model's candidates: the score recorded when the editor chose it, no passage.
    value = score if score is not None and math.isfinite(score) else 0.0
    return LinkRow(question_id, -1, target, value, value, 0.0, -1)


def effective(
    question_id: str,
    decision: Decision | None,
    links: Sequence[LinkRow],
    gap_threshold: float,
    existing: Container[str] = (),
    live_threshold: float | None = None,
) -> Effective:
    """Apply a decision to the model's ranked links.

    Undecided questions: best score below `gap_threshold` is a gap, from `live_threshold` (default:
    the gap threshold) the answer goes live unreviewed, in between it is pending (waits for review).

    `existing` holds the ids of fact checks that still exist among the pinned/approved targets: a
    deleted target no longer shows (the review queue lists the question as changed).
    Ranked links keep the model's rank; a chosen target that is not a model candidate has rank -1.
    """
    decision = decision or Decision("", "")
    rejected = set(decision.rejected)
    pinned = decision.pinned if decision.pinned and decision.pinned in existing else None
    approved = decision.approved if decision.approved and decision.approved in existing else None
    if approved in rejected or approved == pinned:
        approved = None
    ranked: list[Ranked] = []
    if pinned:
        ranked.append(Ranked(_chosen_link(question_id, pinned, links, decision.target_score), pinned=True))
    if approved:
        ranked.append(Ranked(_chosen_link(question_id, approved, links, decision.target_score), approved=True))
    ranked.extend(
        Ranked(link) for link in links if link.article_id not in rejected and link.article_id not in (pinned, approved)
    )
    if decision.hidden:
        return Effective("hidden", ranked, None, marked_gap=decision.gap)
    if decision.gap:
        return Effective("gap", ranked, None, marked_gap=True)
    if pinned:
        return Effective("pinned", ranked, ranked[0])
    if approved:
        return Effective("approved", ranked, ranked[0])
    best = max((r.link.score for r in ranked), default=None)
    if best is None or best < gap_threshold:
        return Effective("gap", ranked, None)
    if live_threshold is not None and best < live_threshold:
        return Effective("pending", ranked, None)
    return Effective("suggested", ranked, ranked[0])


def default_target(action: str, current: Effective) -> str | None:
    """approve/reject without a fact check act on what the widget shows (or would show) now."""
    if action not in ("approve", "reject"):
        return None
    if current.answer is not None:
        return current.answer.link.article_id
    return current.ranked[0].link.article_id if current.ranked else None  # a pending or gap question's best


def apply_action(
    decision: Decision,
    action: str,
    target: str | None,
    *,
    own_article: str,
    candidates: Container[str],
    exists: Container[str],
) -> Decision:
    """The decision after `action` (not yet versioned or stamped); raises DecisionError.

    `candidates` are the model's candidates for the question (approve picks one of them),
    `exists` the fact checks that exist (pin and reject accept any of them).
    """
    if action not in ACTIONS:
        raise DecisionError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    if action in ("approve", "reject", "pin"):
        if not target:
            what = "an article_id" if action == "pin" else "a suggestion (none left; pass article_id)"
            raise DecisionError(f"{action} needs {what}")
        if target == own_article:
            raise DecisionError(f"article {target!r} is the question's own article")
        if target not in exists:
            raise DecisionError(f"article {target!r} not found")
    elif target is not None and action != "clear":
        raise DecisionError(f"{action} takes no article_id")
    rejected = tuple(r for r in decision.rejected if r != target)
    if action == "approve":
        if target not in candidates and target not in (decision.approved, decision.pinned):
            raise DecisionError(f"article {target!r} is not among the suggestions for this question; pin it instead")
        return replace(decision, approved=target, pinned=None, rejected=rejected, gap=False)
    if action == "pin":
        return replace(decision, pinned=target, approved=None, rejected=rejected, gap=False)
    if action == "reject":
        return replace(
            decision,
            rejected=(*rejected, target),  # type: ignore[arg-type]
            pinned=None if decision.pinned == target else decision.pinned,
            approved=None if decision.approved == target else decision.approved,
        )
    if action == "hide":
        return replace(decision, hidden=True)
    if action == "unhide":
        return replace(decision, hidden=False)
    if action == "gap":
        return replace(decision, gap=True, pinned=None, approved=None)
    # clear: everything, or only what concerns one fact check
    if target is None:
        return replace(decision, pinned=None, approved=None, rejected=(), hidden=False, gap=False)
    return replace(
        decision,
        rejected=rejected,
        pinned=None if decision.pinned == target else decision.pinned,
        approved=None if decision.approved == target else decision.approved,
    )


def changed_reasons(
    decision: Decision | None,
    links: Sequence[LinkRow],
    target_hashes: dict[str, str],
) -> list[str]:
    """Why an approved or pinned suggestion needs another look (empty: it does not).

    `target_hashes` maps existing fact checks to their current content hash.
    """
    if decision is None or decision.target is None:
        return []
    target = decision.target
    if target not in target_hashes:
        return [f"the {'pinned' if decision.pinned else 'approved'} fact check {target!r} was deleted"]
    reasons = []
    if decision.target_hash is not None and target_hashes[target] != decision.target_hash:
        reasons.append(
            f"the fact check {target!r} was edited since it was {'pinned' if decision.pinned else 'approved'}"
        )
    if decision.approved and all(link.article_id != target for link in links):
        reasons.append(f"the model no longer suggests {target!r}")
    return reasons


def restore(decision: Decision, before: dict) -> Decision:
    """The decision with its editorial part put back as an audit entry's `before` recorded it (undo).

    Not yet versioned or stamped; the caller sets the chosen fact check's hash and score again.
    """
    return replace(
        decision,
        pinned=before.get("pinned"),
        approved=before.get("approved"),
        rejected=tuple(before.get("rejected") or ()),
        hidden=bool(before.get("hidden")),
        gap=bool(before.get("gap")),
    )
