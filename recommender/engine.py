"""The Engine wires store, encoder, index and linker: the one object the CLI and the API use."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from tqdm import tqdm

from recommender.articles.model import Article
from recommender.config import Settings
from recommender.embedding.base import Encoder
from recommender.embedding.factory import create_encoder
from recommender.editorial.decisions import (
    Decision,
    DecisionError,
    Effective,
    apply_action,
    default_target,
    effective,
)
from recommender.embedding.passages import article_passages
from recommender.index.ranker import Hit, RankerConfig
from recommender.index.snapshot import Snapshot
from recommender.linking.linker import compute_links, could_enter
from recommender.linking.related import Item, drop_duplicates, one_per_answer, own_items, related_items
from recommender.store.base import ArticleRow, AuditEntry, LinkRow, QuestionRow, StoredArticle, VersionConflict
from recommender.store.sqlite import SQLiteStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestReport:
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    relinked: int


@dataclass(frozen=True)
class DiveDeeper:
    article: ArticleRow
    questions: list[Item]
    related: list[Item]


@dataclass(frozen=True)
class Gap:
    question: QuestionRow
    best: LinkRow | None
    marked: bool = False  # an editor marked it a gap (to commission a new fact check)


@dataclass(frozen=True)
class QuestionStatus:
    """One question with the model's candidates and the editors' decision applied on top."""

    question: QuestionRow
    decision: Decision | None
    links: list[LinkRow]  # the model's candidates, as computed
    effective: Effective


class Engine:
    def __init__(self, settings: Settings, store: SQLiteStore, encoder: Encoder) -> None:
        self.settings = settings
        self.store = store
        self.encoder = encoder
        self.ranker_config = RankerConfig(settings.method, settings.dense_weight, settings.lexical_saturation, settings.clean_queries)
        self._write_lock = threading.Lock()
        self._snapshot_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        self._reencode_if_needed()
        self.relink()

    @classmethod
    def open(cls, settings: Settings, encoder: Encoder | None = None) -> Engine:
        encoder = encoder or create_encoder(settings.model, settings.models_dir, backend=settings.backend)
        return cls(settings, SQLiteStore(settings.db, encoder.model_id), encoder)

    def close(self) -> None:
        self.store.close()

    # -- index snapshot ----------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The current index; rebuilt when the database changed (also by another process)."""
        now = time.monotonic()
        current = self._snapshot
        if current is not None and now - self._checked_at < self.settings.refresh_seconds:
            return current
        self._checked_at = now
        if current is not None and current.generation == self.store.generation():
            return current
        return self._rebuild()

    def _rebuild(self) -> Snapshot:
        with self._snapshot_lock:
            generation = self.store.generation()
            if self._snapshot is not None and self._snapshot.generation == generation:
                return self._snapshot
            snapshot = Snapshot.build(self.store.load_index(), self.encoder, self.ranker_config)
            self._snapshot = snapshot  # one reference swap: readers see the old or the new index
            return snapshot

    # -- writes ------------------------------------------------------------------------------
    def ingest(self, articles: Sequence[Article], progress: bool = False) -> IngestReport:
        """Store new and changed articles (all or nothing), then relink what they affect."""
        with self._write_lock:
            hashes = self.store.content_hashes()
            added, updated, unchanged = [], [], []
            changed: list[tuple[Article, str]] = []
            for article in articles:
                digest = article.content_hash()
                old = hashes.get(article.id)
                if old == digest:
                    unchanged.append(article.id)
                    continue
                (updated if old else added).append(article.id)
                changed.append((article, digest))
            if changed:
                self.store.upsert(self._embed(changed, progress))
            relinked = self._relink_locked({a.id for a, _ in changed}) if changed else self._relink_locked(set())
        return IngestReport(added, updated, unchanged, relinked)

    def delete(self, article_id: str) -> bool:
        with self._write_lock:
            deleted = self.store.delete_article(article_id)
            if deleted:
                self._relink_locked(set())
        return deleted

    def relink(self) -> int:
        """Link every question marked for linking (e.g. after a crash mid-ingest)."""
        with self._write_lock:
            return self._relink_locked(set())

    def relink_all(self) -> int:
        with self._write_lock:
            self.store.mark_for_linking([q.id for q in self._rebuild().questions])
            return self._relink_locked(set())

    def _relink_locked(self, changed: set[str]) -> int:
        snapshot = self._rebuild()
        pending = set(self.store.questions_to_link())
        if changed:
            stored = self.store.last_candidate_scores()
            pending |= could_enter(snapshot, changed, stored, self.settings.candidates)
        if not pending:
            return 0
        links = compute_links(snapshot, sorted(pending), self.settings.candidates)
        self.store.replace_links(links)
        self._rebuild()
        return len(links)

    def _embed(self, changed: list[tuple[Article, str]], progress: bool) -> list[StoredArticle]:
        split = [article_passages(a, self.encoder.count_tokens, self.encoder.max_tokens) or [a.title] for a, _ in changed]
        texts = sorted({p for passages in split for p in passages})
        known = self.store.passage_vectors_by_text(texts)
        missing = [t for t in texts if t not in known]
        questions = [q for a, _ in changed for q in a.questions]
        bar = tqdm(total=len(missing) + len(questions), desc="embedding", unit="text", disable=not progress)
        for start in range(0, len(missing), 64):
            batch = missing[start : start + 64]
            known.update(zip(batch, self.encoder.encode(batch)))
            bar.update(len(batch))
        question_vectors = self.encoder.encode(questions) if questions else np.zeros((0, self.encoder.dim), np.float32)
        bar.update(len(questions))
        bar.close()
        items, offset = [], 0
        for (article, digest), passages in zip(changed, split):
            count = len(article.questions)
            items.append(
                StoredArticle(
                    article=article,
                    content_hash=digest,
                    passages=passages,
                    passage_vectors=np.stack([known[p] for p in passages]),
                    question_vectors=question_vectors[offset : offset + count],
                )
            )
            offset += count
        return items

    def _reencode_if_needed(self) -> None:
        """Vectors from another encoder are re-made with this one before anything is served."""
        foreign = self.store.stored_model_ids() - {self.encoder.model_id}
        if not foreign:
            return
        log.warning("re-encoding the database: stored vectors come from %s", sorted(foreign))
        passages, questions = self.store.all_texts()
        passage_vectors = self.encoder.encode([t for _, _, t in passages])
        question_vectors = self.encoder.encode([t for _, t in questions])
        self.store.reencode(
            self.encoder.model_id,
            {(a, p): v for (a, p, _), v in zip(passages, passage_vectors)},
            {q: v for (q, _), v in zip(questions, question_vectors)},
        )

    # -- reads -------------------------------------------------------------------------------
    def search(self, text: str, k: int, exclude: Sequence[str] = ()) -> list[Hit]:
        return self.snapshot().ranker.rank(text, k, exclude)

    def suggestions(self, question_id: str) -> tuple[QuestionRow, list[LinkRow]] | None:
        """Ranked fact checks after editors' decisions: pinned first, then approved, never a rejected one."""
        found = self.status(question_id)
        if found is None:
            return None
        return found.question, [r.link for r in found.effective.ranked]

    def is_gap(self, links: Sequence[LinkRow]) -> bool:
        return not links or links[0].score < self.settings.gap_threshold

    def dive_deeper(self, article_id: str) -> DiveDeeper | None:
        article = self.store.get_article_row(article_id)
        if article is None:
            return None
        snapshot = self.snapshot()
        own = self.store.questions_of(article_id)
        incoming = self.store.links_to(article_id, 0.0)
        other_ids = [link.question_id for link in incoming]
        links = self.store.links_of([q.id for q in own] + other_ids)
        questions = {q.id: q for q in snapshot.questions}
        for question_id in other_ids:
            if question_id not in questions and (row := self.store.get_question(question_id)):
                questions[question_id] = row
        statuses = self._statuses(own + [questions[q] for q in other_ids if q in questions], links)
        answers = {s.question.id: s.effective.answer for s in statuses}
        rejected = {s.question.id: set(s.decision.rejected) for s in statuses if s.decision}
        incoming = [link for link in incoming if link.article_id not in rejected.get(link.question_id, ())]
        mine = own_items(own, answers)
        related = related_items(article_id, incoming, questions, answers, snapshot, self.settings.related_threshold)
        related = drop_duplicates(related, snapshot, self.settings.duplicate_threshold, seen=own)
        related = one_per_answer(related, taken=mine)
        return DiveDeeper(article, mine, related[: self.settings.max_related])

    def gaps(self) -> list[Gap]:
        """Questions nothing answers: marked so by an editor first, then the worst-answered first.

        Rejected fact checks do not count; pinned, approved and hidden questions are no gaps.
        """
        found = [
            Gap(s.question, s.effective.model_best, s.effective.marked_gap)
            for s in self.statuses()
            if s.effective.state == "gap"
        ]
        found.sort(key=lambda g: (not g.marked, g.best.score if g.best else -1.0, g.question.id))
        return found

    def articles(self, ids: Sequence[str]) -> dict[str, ArticleRow]:
        return self.store.article_rows(ids)

    def article_url(self, article: ArticleRow) -> str | None:
        return article.url

    # -- editorial decisions -----------------------------------------------------------------
    def counters(self) -> tuple[int, int]:
        """(generation, decisions): changes whenever what the widget shows may have changed."""
        return self.store.counters()

    def status(self, question_id: str) -> QuestionStatus | None:
        question = self.store.get_question(question_id)
        return self._statuses([question])[0] if question is not None else None

    def statuses(self, article_id: str | None = None) -> list[QuestionStatus]:
        """Every question (or one article's) with its candidates and decision."""
        if article_id is not None:
            return self._statuses(self.store.questions_of(article_id))
        return self._statuses([q for q, _ in self.store.best_links()])

    def _statuses(
        self, questions: Sequence[QuestionRow], links: dict[str, list[LinkRow]] | None = None
    ) -> list[QuestionStatus]:
        missing = [q.id for q in questions if links is None or q.id not in links]
        links = {**(links or {}), **(self.store.links_of(missing) if missing else {})}
        decisions = self.store.decisions_for([(q.article_id, q.key) for q in questions])
        targets = {t for d in decisions.values() if (t := d.pinned or d.approved)}
        existing = set(self.store.article_rows(sorted(targets))) if targets else set()
        out = []
        for question in questions:
            decision = decisions.get((question.article_id, question.key))
            ranked = links.get(question.id, [])
            out.append(
                QuestionStatus(
                    question,
                    decision,
                    ranked,
                    effective(question.id, decision, ranked, self.settings.gap_threshold, existing),
                )
            )
        return out

    def decide(
        self,
        question_id: str,
        action: str,
        article_id: str | None,
        editor: str,
        expected_version: int | None = None,
    ) -> QuestionStatus:
        """Apply one editor action; raises LookupError, DecisionError or VersionConflict."""
        return self.decide_many([(question_id, article_id)], action, editor, expected_version)[0]

    def decide_many(
        self,
        items: Sequence[tuple[str, str | None]],
        action: str,
        editor: str,
        expected_version: int | None = None,
    ) -> list[QuestionStatus]:
        """Apply one action to (question id, fact check or None) items, all or nothing, with audit entries.

        With `expected_version` (one item only) a decision at another version raises VersionConflict;
        without it, a concurrent change is retried on top of the new state.
        """
        for attempt in range(3):
            try:
                return self._decide_once(items, action, editor, expected_version)
            except VersionConflict:
                if expected_version is not None or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _decide_once(
        self, items: Sequence[tuple[str, str | None]], action: str, editor: str, expected_version: int | None
    ) -> list[QuestionStatus]:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        questions = []
        for n, (question_id, _) in enumerate(items):
            question = self.store.get_question(question_id)
            if question is None:
                where = f"items.{n}: " if len(items) > 1 else ""
                raise LookupError(f"{where}question {question_id!r} not found")
            questions.append(question)
        statuses = self._statuses(questions)
        wanted = {t for _, t in items if t} | {link.article_id for s in statuses for link in s.links}
        wanted |= {t for s in statuses if s.decision for t in (s.decision.pinned, s.decision.approved) if t}
        rows = self.store.article_rows(sorted(wanted))
        pending: dict[tuple[str, str], Decision] = {}
        changes: list[tuple[int, Decision, AuditEntry]] = []
        for n, ((_, target), status) in enumerate(zip(items, statuses)):
            question = status.question
            key = (question.article_id, question.key)
            base = pending.get(key) or status.decision or Decision(question.article_id, question.key)
            if expected_version is not None and base.version != expected_version:
                raise VersionConflict(question.article_id, question.key, base.version)
            current = effective(question.id, base, status.links, self.settings.gap_threshold, rows)
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
                raise DecisionError(f"items.{n}: {exc}" if len(items) > 1 else str(exc)) from None
            if new.target is None:
                new = replace(new, target_hash=None, target_score=None)
            elif action in ("approve", "pin") or new.target != base.target:
                new = replace(
                    new,
                    target_hash=rows[new.target].content_hash,
                    target_score=self._score(question, new.target, status.links),
                )
            new = replace(new, version=base.version + 1, updated_by=editor, updated_at=now)
            entry = AuditEntry(
                at=now,
                editor=editor,
                action=action,
                question_id=question.id,
                question_key=question.key,
                article_id=question.article_id,
                target_id=chosen,
                before=base.state(),
                after=new.state(),
            )
            changes.append((base.version, new, entry))
            pending[key] = new
        self.store.save_decisions(changes)
        return self._statuses(questions)

    def _score(self, question: QuestionRow, target: str, links: Sequence[LinkRow]) -> float | None:
        """The model's score of a fact check for a question, also when it is not a stored candidate."""
        for link in links:
            if link.article_id == target:
                return link.score
        snapshot = self.snapshot()
        vector = snapshot.question_vector(question.id)
        hits = snapshot.ranker.rank_batch(
            [question.text],
            snapshot.ranker.size,
            [[question.article_id]],
            vectors=vector[None, :] if vector is not None else None,
        )[0]
        return next((h.score for h in hits if h.doc_id == target), None)
