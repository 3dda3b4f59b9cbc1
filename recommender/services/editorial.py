"""Editors' decisions: decide (one, many, each its own action), undo, supersede, cluster offers, audit.

Every change is audited and checked against the decision's version (optimistic concurrency): a
concurrent change raises VersionConflict, or is retried on top of the new state where the caller
gave no version. Errors: LookupError (unknown question or article), DecisionError, VersionConflict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from recommender.editorial.auth import find_editor
from recommender.editorial.decisions import DecisionError, apply_action, default_target, effective
from recommender.editorial.decisions import restore as restore_decision
from recommender.editorial.freshness import successor
from recommender.editorial.offers import offer
from recommender.editorial.statuses import QuestionStatus
from recommender.services.reading import ReadingService
from recommender.store.base import Store
from recommender.domain import ArticleRow, AuditEntry, Decision, Editor, LinkRow, QuestionRow, VersionConflict

_RETRIES = 3


@dataclass(frozen=True)
class AuditLine:
    """An audit entry with the texts an editor reads it by (None where the question or article is gone)."""

    entry: AuditEntry
    question_text: str | None
    article_title: str | None
    target_title: str | None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class EditorialService:
    def __init__(self, store: Store, reading: ReadingService) -> None:
        self.store = store
        self.reading = reading

    def editor_for_token(self, token: str) -> Editor | None:
        """The editor a bearer token belongs to (revoked ones too: the caller tells them apart)."""
        return find_editor(self.store.editor_records(), token)

    def decide(
        self, question_id: str, action: str, article_id: str | None, editor: str, expected_version: int | None = None
    ) -> QuestionStatus:
        """Apply one editor action; raises LookupError, DecisionError or VersionConflict."""
        return self.decide_many([(question_id, article_id)], action, editor, expected_version)[0]

    def decide_many(
        self, items: Sequence[tuple[str, str | None]], action: str, editor: str, expected_version: int | None = None
    ) -> list[QuestionStatus]:
        """Apply one action to (question id, fact check or None) items, all or nothing, with audit entries.

        With `expected_version` (one item only) a decision at another version raises VersionConflict;
        without it, a concurrent change is retried on top of the new state.
        """
        for attempt in range(_RETRIES):
            try:
                return self._decide_once(items, [action] * len(items), editor, expected_version)
            except VersionConflict:
                if expected_version is not None or attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def decide_each(self, items: Sequence[tuple[str, str, str | None]], editor: str) -> list[QuestionStatus]:
        """(question id, action, fact check or None) items, each with its own action, all or nothing."""
        for attempt in range(_RETRIES):
            try:
                return self._decide_once([(q, t) for q, _, t in items], [a for _, a, _ in items], editor, None)
            except VersionConflict:
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def undo(self, question_id: str, version: int, editor: str) -> QuestionStatus:
        """Undo the decision that brought the question to `version`: its state before comes back,
        audited as an `undo` entry (the undone entry stays). Raises LookupError, DecisionError
        (nothing to undo) or VersionConflict (someone decided since)."""
        question = self._question(question_id)
        status = self.reading.question_statuses([question])[0]
        base = status.decision or Decision(question.article_id, question.key)
        if base.version != version:
            raise VersionConflict(question.article_id, question.key, base.version)
        _, last = self.store.audit_entries((question.article_id, question.key), None, None, None, 1, 0)
        if not last or last[0].after.get("version") != version:
            raise DecisionError(f"nothing to undo at version {version} of question {question_id!r}")
        new = restore_decision(base, last[0].before)
        rows = self.store.article_rows([new.target] if new.target else [])
        new = self._with_target(new, base, question, status.links, rows)
        now = _now()
        new = replace(new, version=base.version + 1, updated_by=editor, updated_at=now)
        entry = _entry(now, editor, "undo", question, last[0].target_id, base, new)
        self.store.save_decisions([(base.version, new, entry)])
        return self.reading.question_statuses([question])[0]

    def apply_to_cluster(
        self, cluster_id: str, from_question_id: str, question_ids: Sequence[str] | None, editor: str
    ) -> list[QuestionStatus]:
        """Repeat one question's decision on the other (undecided) questions of its duplicate cluster, or
        on `question_ids` of it; all or nothing. LookupError: no such cluster; DecisionError: a bad id."""
        members = sorted(q for q, c in self.reading.clusters().items() if c == cluster_id)
        if not members:
            raise LookupError(f"cluster {cluster_id!r} not found")
        if from_question_id not in members:
            raise DecisionError(f"from_question_id: question {from_question_id!r} is not in cluster {cluster_id!r}")
        strangers = [q for q in question_ids or () if q not in members]
        if strangers:
            raise DecisionError(f"question_ids: {strangers[0]!r} is not in cluster {cluster_id!r}")
        rows = [row for q in members if (row := self.store.get_question(q)) is not None]
        statuses = self.reading.question_statuses(rows)
        source = next(s for s in statuses if s.question.id == from_question_id)
        if source.decision is None or source.decision.empty:
            raise DecisionError(f"from_question_id: question {from_question_id!r} has no decision to repeat")
        wanted = set(question_ids) if question_ids is not None else None
        items = [i for i in offer(source, statuses) if wanted is None or i[0] in wanted]
        if not items:
            return []
        try:
            done = self.decide_each(items, editor)
        except LookupError as exc:  # a member deleted meanwhile: the request named it, so it is the request's fault
            raise DecisionError(str(exc)) from None
        return list({s.question.id: s for s in done}.values())

    def supersede(self, article_id: str, by_article_id: str | None, editor: str) -> dict[str, str]:
        """Mark a fact check superseded by a newer one (None: not superseded any more), audited; returns
        every superseded fact check -> its successor. Raises LookupError for unknown articles and
        DecisionError for a self-reference or a cycle."""
        wanted = [article_id] + ([by_article_id] if by_article_id else [])
        rows = self.store.article_rows(wanted)
        for name in wanted:
            if name not in rows:
                raise LookupError(f"article {name!r} not found")
        current = self.store.superseded_map()
        if by_article_id is not None:
            if by_article_id == article_id:
                raise DecisionError("a fact check cannot supersede itself")
            if successor(by_article_id, current) == article_id:
                raise DecisionError(f"{by_article_id!r} is itself superseded by {article_id!r}: that would be a cycle")
        entry = AuditEntry(
            at=_now(),
            editor=editor,
            action="supersede" if by_article_id else "unsupersede",
            question_id="",
            question_key="",
            article_id=article_id,
            target_id=by_article_id,
            before={"superseded_by": current.get(article_id)},
            after={"superseded_by": by_article_id},
        )
        self.store.set_superseded(article_id, by_article_id, entry)
        return self.store.superseded_map()

    def audit(
        self,
        question_id: str | None = None,
        article_id: str | None = None,
        editor: str | None = None,
        action: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[int, list[AuditLine]]:
        """(total, one page of entries newest first). A question's history follows it across reordering
        and rewording (by article and wording key)."""
        question = None
        if question_id is not None and (row := self.store.get_question(question_id)) is not None:
            question, question_id = (row.article_id, row.key), None
        total, entries = self.store.audit_entries(question, question_id, article_id, editor, limit, offset, action)
        titles = self.store.article_rows(sorted({e.article_id for e in entries} | {e.target_id for e in entries if e.target_id}))
        texts: dict[str, str | None] = {}
        for e in entries:
            if e.question_id not in texts:
                found = self.store.get_question(e.question_id)
                texts[e.question_id] = found.text if found else None
        return total, [
            AuditLine(
                entry=e,
                question_text=texts[e.question_id],
                article_title=row.title if (row := titles.get(e.article_id)) else None,
                target_title=row.title if e.target_id and (row := titles.get(e.target_id)) else None,
            )
            for e in entries
        ]

    def _question(self, question_id: str, where: str = "") -> QuestionRow:
        question = self.store.get_question(question_id)
        if question is None:
            raise LookupError(f"{where}question {question_id!r} not found")
        return question

    def _with_target(
        self,
        new: Decision,
        base: Decision,
        question: QuestionRow,
        links: Sequence[LinkRow],
        rows: Mapping[str, ArticleRow],
        refresh: bool = False,
    ) -> Decision:
        """The decision with the hash and score of its target as they are now (so a later edit of the
        fact check or a drop by the model shows as 'changed'), taken when the target moved or `refresh`;
        none when it has no (existing) target."""
        if new.target is None or new.target not in rows:
            return replace(new, target_hash=None, target_score=None)
        if not refresh and new.target == base.target:
            return new
        return replace(new, target_hash=rows[new.target].content_hash, target_score=self.reading.score(question, new.target, links))

    def _decide_once(
        self, items: Sequence[tuple[str, str | None]], actions: Sequence[str], editor: str, expected_version: int | None
    ) -> list[QuestionStatus]:
        now = _now()
        several = len(items) > 1
        questions = [self._question(q, f"items.{n}: " if several else "") for n, (q, _) in enumerate(items)]
        statuses = self.reading.question_statuses(questions)
        wanted = {t for _, t in items if t} | {link.article_id for s in statuses for link in s.links}
        wanted |= {t for s in statuses if s.decision for t in (s.decision.pinned, s.decision.approved) if t}
        rows = self.store.article_rows(sorted(wanted))
        thresholds = self.reading.thresholds
        pending: dict[tuple[str, str], Decision] = {}
        changes: list[tuple[int, Decision, AuditEntry]] = []
        for n, ((_, target), status, action) in enumerate(zip(items, statuses, actions)):
            question = status.question
            key = (question.article_id, question.key)
            base = pending.get(key) or status.decision or Decision(question.article_id, question.key)
            if expected_version is not None and base.version != expected_version:
                raise VersionConflict(question.article_id, question.key, base.version)
            current = effective(
                question.id, base, status.links, thresholds.gap_score, rows, live_threshold=thresholds.live_score  # type: ignore[arg-type]
            )
            chosen = target or default_target(action, current)
            try:
                new = apply_action(
                    base,
                    action,
                    chosen,
                    own_article=question.article_id,
                    candidates={link.article_id for link in status.links},
                    exists=rows,
                )
            except DecisionError as exc:
                raise DecisionError(f"items.{n}: {exc}" if several else str(exc)) from None
            new = self._with_target(new, base, question, status.links, rows, refresh=action in ("approve", "pin"))
            new = replace(new, version=base.version + 1, updated_by=editor, updated_at=now)
            changes.append((base.version, new, _entry(now, editor, action, question, chosen, base, new)))
            pending[key] = new
        self.store.save_decisions(changes)
        return self.reading.question_statuses(questions)


def _entry(now: str, editor: str, action: str, question: QuestionRow, target: str | None, before: Decision, after: Decision) -> AuditEntry:
    return AuditEntry(
        at=now,
        editor=editor,
        action=action,
        question_id=question.id,
        question_key=question.key,
        article_id=question.article_id,
        target_id=target,
        before=before.state(),
        after=after.state(),
    )
