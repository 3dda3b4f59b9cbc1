"""The Engine wires store, encoder, index and linker: the one object the CLI and the API use."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

import numpy as np
from tqdm import tqdm

from recommender.articles.model import Article
from recommender.config import Settings
from recommender.embedding.base import Encoder
from recommender.embedding.factory import create_encoder
from recommender.domain import Decision
from recommender.editorial.decisions import (
    DecisionError,
    Effective,
    apply_action,
    default_target,
    effective,
    restore as restore_decision,
)
from recommender.embedding.passages import article_passages
from recommender.index.ranker import Hit, RankerConfig
from recommender.index.snapshot import Snapshot
from recommender.learning.calibration import CalibrationError, Calibrator, Thresholds, find_calibrator, thresholds_for
from recommender.learning.clusters import cluster_questions, sklearn_available
from recommender.learning.freshness import follow_superseded, prefer_recent, successor
from recommender.learning.switch import SwitchJob, run_switch
from recommender.linking.duplicates import QuestionChange, update_clusters
from recommender.linking.floors import CandidateFloors
from recommender.linking.linker import compute_links, could_enter
from recommender.linking.related import (
    Item,
    drop_duplicates,
    one_per_answer,
    one_per_cluster,
    own_items,
    own_unanswered,
    related_items,
)
from recommender.linking.verify import Verification, verify_links
from recommender.domain import ArticleRow, AuditEntry, LinkRow, QuestionRow, StoredArticle, VersionConflict
from recommender.store.base import Dump, Restore
from recommender.store.base import Store
from recommender.store.factory import open_store

log = logging.getLogger(__name__)
T = TypeVar("T")
# What Engine.open does when the stored vectors come from another encoder than the configured one:
# "now" re-encodes everything before serving; "background" serves with the encoder of the stored vectors
# and re-embeds beside them in a thread (the server); "later" serves with that encoder and leaves the
# switch to `reembed()` (one-shot commands: a server may be re-embedding the same database right now).
Reembed = Literal["now", "background", "later"]
# A write of up to this many articles (or this share of the index) updates the snapshot in place of a
# full build; beyond that, building afresh is about as fast and leaves no dead rows behind.
INCREMENTAL_MINIMUM = 200
INCREMENTAL_FRACTION = 0.05


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
    # The article's own questions with no answer shown (gaps, waiting for review), hidden ones not:
    # the widget lists them as "not checked yet" when the site asks (include_unanswered).
    unanswered: tuple[QuestionRow, ...] = ()


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
    def __init__(self, settings: Settings, store: Store, encoder: Encoder, model_name: str | None = None) -> None:
        self.settings = settings
        self.store = store
        self.encoder = encoder
        self.ranker_config = RankerConfig.of(settings)
        self._write_lock = threading.Lock()
        self._snapshot_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._floors: CandidateFloors | None = None  # of the snapshot's generation (see _candidate_floors)
        # Questions changed by this process's writes since the stored clusters were current (None: unknown).
        self._question_changes: list[QuestionChange] | None = None
        self._clustered_fingerprint: str | None = None  # the fingerprint those clusters were computed for
        self._checked_at = 0.0
        self.model_name = model_name or settings.model  # the name the encoder was loaded by (a switch changes it)
        self.switch_job: SwitchJob | None = None
        # The configured (name, encoder) while the stored vectors still come from the previous one.
        self.pending_encoder: tuple[str, Encoder] | None = None
        self._clusters: tuple[tuple[int, int], dict[str, str]] | None = None  # (counters, question -> cluster)
        # Serving a previous encoder until the switch (see open): a calibrator configured for the new one
        # does not fit it yet, which is no reason to refuse to serve.
        self._set_calibrator(strict=model_name is None)
        self._reencode_if_needed()
        self.relink()

    @classmethod
    def open(
        cls, settings: Settings, encoder: Encoder | None = None, reembed: Reembed = "now", previous: Encoder | None = None
    ) -> Engine:
        """An engine on the configured store and encoder (`encoder` overrides RECOMMENDER_MODEL/BACKEND).

        When the stored vectors come from another encoder, `reembed` says what happens (see Reembed).
        "background" and "later" need that encoder (`previous`, or loaded from the stored model id, see
        embedding/versions.py); when it cannot be loaded they fall back to "now" with a warning.
        """
        if encoder is None and "model" not in settings.model_fields_set:
            # A database switched to another model (`recommender models use`) keeps it until switched again;
            # an explicit RECOMMENDER_MODEL wins (and re-encodes at open).
            settings = settings.model_copy(update={"model": _live_model_name(settings) or settings.model})
        encoder = encoder or create_encoder(settings.model, settings.models_dir, backend=settings.backend)
        store = open_store(settings, encoder.model_id)
        old = _encoder_of_stored_vectors(store, encoder, settings, previous) if reembed != "now" else None
        if old is None:
            return cls(settings, store, encoder)
        log.warning(
            "stored vectors come from %s, the configured encoder is %s: serving with the former until the "
            "re-embedding %s swaps the latter in",
            old.model_id,
            encoder.model_id,
            "running in the background" if reembed == "background" else "(`recommender reembed` or a server)",
        )
        store.model_id = old.model_id
        engine = cls(settings, store, old, model_name=_stored_model_name(store, old))
        engine.pending_encoder = (settings.model, encoder)
        if reembed == "background":
            engine.reembed(background=True)
        return engine

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
        if current is not None and self._write_lock.locked():
            return current  # a write of this process is under way and updates the snapshot itself
        return self._rebuild()

    def _rebuild(self) -> Snapshot:
        """The snapshot of the store's current generation: the one kept up to date by this process's
        writes (see _write_index), or a full build after another process wrote or dead rows piled up."""
        with self._snapshot_lock:
            generation = self.store.generation()
            current = self._snapshot
            if current is not None and current.generation == generation and not current.needs_compaction:
                return current
            if current is None or current.generation != generation:
                self._question_changes = None  # the store changed behind this process's back: cluster afresh
            if current is not None and current.generation > generation:
                return current  # asked from inside an older consistent read: never swap the index back
            self._follow_live_model()
            snapshot = Snapshot.build(self.store.load_index(), self.encoder, self.ranker_config)
            self._snapshot = snapshot  # one reference swap: readers see the old or the new index
            return snapshot

    def _write_index(
        self, write: Callable[[], T], written: Sequence[StoredArticle] = (), deleted: Sequence[str] = ()
    ) -> T:
        """Run one store write that adds one to the generation, and carry the snapshot over to it.

        When the generation moved by exactly this write (no other process wrote meanwhile), the next
        snapshot is derived from the current one and what was written (Snapshot.apply), which costs
        milliseconds where a full build reads and indexes everything; otherwise the snapshot is left
        stale and the next _rebuild builds afresh. Large writes build afresh too (cheaper than deltas).
        """
        with self._snapshot_lock:
            current = self._snapshot
            before = self.store.generation()
            result = write()
            after = self.store.generation()
            small = len(written) + len(deleted) <= max(INCREMENTAL_MINIMUM, INCREMENTAL_FRACTION * len(current.articles)) if current else False
            if current is not None and current.generation == before and after == before + 1 and small:
                self._snapshot = current.apply(written, deleted, after) if written or deleted else current.at(after)
                if (written or deleted) and self._question_changes is not None:
                    self._question_changes.append(_question_change(current, self._snapshot, written, deleted))
                if self._floors is not None and self._floors.generation == before:
                    # Links changed only where questions are relinked next anyway (see could_enter).
                    self._floors = self._floors.carried(after, self._snapshot.table)
            elif written or deleted or after != before + 1:
                self._question_changes = None  # not known question by question: cluster from scratch
        return result

    # -- writes ------------------------------------------------------------------------------
    def ingest(self, articles: Sequence[Article], progress: bool = False) -> IngestReport:
        """Store new and changed articles, then relink what they affect.

        Articles are embedded and stored in batches of `ingest_batch_size`, one transaction each:
        every article is either fully old or fully new, a crash loses at most the batch in progress,
        and running the same ingest again completes the rest (stored ones are unchanged by hash).
        Each batch's ids are recorded as pending in its own transaction, so the questions it may
        now answer are relinked even if the process dies before relinking (see `relink`).
        """
        with self._write_lock:
            hashes = self._content_hashes(articles)
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
            size = self.settings.ingest_batch_size
            for start in range(0, len(changed), size):
                batch = changed[start : start + size]
                items = self._embed(batch, progress)
                self._write_index(lambda: self.store.upsert(items), written=items)
            relinked = self._relink_locked({a.id for a, _ in changed})
        return IngestReport(added, updated, unchanged, relinked)

    def _content_hashes(self, articles: Sequence[Article]) -> dict[str, str]:
        """Stored content hashes: from the snapshot when it is current (no pass over the table for a
        one-article upsert), else from the store."""
        snapshot = self._snapshot
        if len(articles) <= INCREMENTAL_MINIMUM and snapshot is not None and snapshot.generation == self.store.generation():
            return {a.id: row.content_hash for a in articles if (row := snapshot.articles.get(a.id))}
        return self.store.content_hashes()

    def delete(self, article_id: str) -> bool:
        with self._write_lock:
            deleted = self._write_index(lambda: self.store.delete_article(article_id), deleted=[article_id])
            if deleted:
                self._relink_locked(set())
        return deleted

    def relink(self) -> int:
        """Link every question marked for linking (e.g. after a crash mid-ingest)."""
        with self._write_lock:
            return self._relink_locked(set())

    def relink_all(self) -> int:
        with self._write_lock:
            ids = [q.id for q in self._rebuild().questions]
            self._write_index(lambda: self.store.mark_for_linking(ids))
            return self._relink_locked(set())

    def restore(self, dump: Dump, replace: bool = False, progress: bool = False) -> int:
        """Write a backup in one transaction (articles embedded with this encoder, the editorial record
        as it was), then link every question; returns how many were linked. See backup.py."""
        with self._write_lock:
            items = self._embed([(a, a.content_hash()) for a in dump.articles], progress) if dump.articles else []
            self.store.restore(Restore(items, dump.decisions, dump.audit, dump.editors, dump.superseded), replace)
            return self._relink_locked(set())

    def is_empty(self) -> bool:
        """No articles, decisions, audit entries or editors: what `import` may fill without --force."""
        store = self.store
        return (
            store.counts()["articles"] == 0
            and not store.all_decisions()
            and store.audit_entries(limit=1)[0] == 0
            and not store.editor_records()
        )

    def reindex(self, batch_size: int | None = None, fresh: bool = False) -> SwitchJob:
        """Re-embed every passage and question with the current encoder and relink every question.

        A model switch to the same model (learning/switch.py): vectors are staged beside the live
        ones in batches of `batch_size` texts, one transaction each, then swapped in with freshly
        computed links in one transaction, so readers never see a half-built index. After a crash
        the live index is intact and the next reindex resumes from the staged batches (`fresh`
        discards them first). Raises RuntimeError when the run fails.
        """
        if fresh:
            self.store.discard_staged()
        # Opened on a previous encoder's vectors ("later"): re-embed with the configured one, as asked.
        name, encoder = self.pending_encoder or (self.model_name, self.encoder)
        job = SwitchJob(name, encoder.model_id)
        run_switch(self, encoder, job, batch=batch_size or self.settings.reindex_batch_size)
        if job.state != "done":
            raise RuntimeError(f"reindex failed: {job.error}")
        return job

    def _relink_locked(self, changed: set[str]) -> int:
        recorded = self.store.pending_articles()  # also those of an ingest that died before relinking
        changed = changed | set(recorded)
        snapshot = self._rebuild()
        pending = set(self.store.questions_to_link())
        if changed:
            floors = self._candidate_floors(snapshot)
            pending |= could_enter(snapshot, changed, floors, self.settings.candidates, pending)
        links = compute_links(snapshot, sorted(pending), self.settings.candidates) if pending else {}
        if links:
            self._write_index(lambda: self.store.replace_links(links))
            if self._floors is not None and self._snapshot is not None and self._floors.generation == self._snapshot.generation:
                self._floors.remember(self._snapshot.table, links)
            else:
                self._floors = None  # another process wrote too: read them again when next needed
        # Forget a pending article only once the version recorded for it was linked (another process
        # may be writing a newer one right now).
        done = {a: h for a, h in recorded.items() if (row := snapshot.articles.get(a)) and row.content_hash == h}
        self.store.clear_pending_articles(done)
        self._rebuild()
        self._recluster_if_needed()
        return len(links)

    def _candidate_floors(self, snapshot: Snapshot) -> CandidateFloors:
        """Stored candidate counts and lowest scores by question row: read from the store once, then
        kept up to date with the links this process writes (read again after another process wrote)."""
        if self._floors is None or self._floors.generation != snapshot.generation:
            self._floors = CandidateFloors(snapshot.generation, snapshot.table, self.store.last_candidate_scores())
        return self._floors

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

    def verify(self, sample: int | None = None, seed: int = 0, examples: int = 5) -> Verification:
        """Stored links against a recomputation over this engine's current index (see linking/verify.py)."""

        def shown(questions: Sequence[QuestionRow], links: Mapping[str, list[LinkRow]]) -> dict[str, str | None]:
            statuses = self._statuses(questions, dict(links))
            return {s.question.id: s.effective.answer.link.article_id if s.effective.answer else None for s in statuses}

        with self._write_lock:  # no relink halfway through the comparison
            snapshot = self._rebuild()
            return verify_links(snapshot, self.store.links_of, shown, self.settings.candidates, sample, seed, examples)

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
        """Nothing among `links` scores as an answer (the rule that makes an undecided question a gap)."""
        return not links or max(link.score for link in links) < self.thresholds.gap_score

    def dive_deeper(self, article_id: str) -> DiveDeeper | None:
        # One database snapshot for the whole answer: a relink committing meanwhile is seen whole or not at
        # all. The index is brought up to date first, outside it.
        self.snapshot()
        with self.store.consistent_read():
            return self._dive_deeper(article_id)

    def _dive_deeper(self, article_id: str) -> DiveDeeper | None:
        article = self.store.get_article_row(article_id)
        if article is None:
            return None
        snapshot = self.snapshot()
        own = self.store.questions_of(article_id)
        incoming = self.store.links_to(article_id, 0.0)
        other_ids = [link.question_id for link in incoming]
        links = self.store.links_of([q.id for q in own] + other_ids)
        table = snapshot.table
        questions = {q.id: q for q in own}
        for question_id in other_ids:
            row = table.row_of.get(question_id)
            if row is not None:
                questions[question_id] = table.rows[row]
            elif found := self.store.get_question(question_id):
                questions[question_id] = found
        statuses = self._statuses(own + [questions[q] for q in other_ids if q in questions], links)
        answers = {s.question.id: s.effective.answer for s in statuses}
        rejected = {s.question.id: set(s.decision.rejected) for s in statuses if s.decision}
        incoming = [link for link in incoming if link.article_id not in rejected.get(link.question_id, ())]
        clusters = self.clusters()
        mine = one_per_cluster(own_items(own, answers), clusters)
        floors = (self.settings.related_threshold, self.settings.related_topic_threshold)
        related = related_items(article_id, incoming, questions, answers, snapshot, *floors)
        related = drop_duplicates(related, snapshot, self.settings.duplicate_threshold, seen=own)
        related = one_per_cluster(related, clusters, taken=own)
        related = one_per_answer(related, taken=mine)
        hidden = {s.question.id for s in statuses if s.effective.state == "hidden"}
        unanswered = own_unanswered(own, answers, hidden, clusters, taken=[i.question for i in mine])
        return DiveDeeper(article, mine, related[: self.settings.max_related], tuple(unanswered))

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

    def question_statuses(self, questions: Sequence[QuestionRow]) -> list[QuestionStatus]:
        return self._statuses(questions)

    def _statuses(
        self, questions: Sequence[QuestionRow], links: dict[str, list[LinkRow]] | None = None
    ) -> list[QuestionStatus]:
        dates = self.snapshot().checked_on
        return question_statuses(self.store, questions, self.thresholds, self.settings.freshness_margin, dates, links)

    def _effective(
        self, question: QuestionRow, decision: Decision | None, links: Sequence[LinkRow], existing: object
    ) -> Effective:
        t = self.thresholds
        return effective(question.id, decision, links, t.gap_score, existing, live_threshold=t.live_score)  # type: ignore[arg-type]

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

    def undo(self, question_id: str, version: int, editor: str) -> QuestionStatus:
        """Undo the decision that brought the question to `version`: its state before comes back,
        audited as an `undo` entry (the undone entry stays). Raises LookupError, DecisionError
        (nothing to undo) or VersionConflict (someone decided since)."""
        question = self.store.get_question(question_id)
        if question is None:
            raise LookupError(f"question {question_id!r} not found")
        status = self._statuses([question])[0]
        base = status.decision or Decision(question.article_id, question.key)
        if base.version != version:
            raise VersionConflict(question.article_id, question.key, base.version)
        _, last = self.store.audit_entries((question.article_id, question.key), None, None, None, 1, 0)
        if not last or last[0].after.get("version") != version:
            raise DecisionError(f"nothing to undo at version {version} of question {question_id!r}")
        new = restore_decision(base, last[0].before)
        rows = self.store.article_rows([new.target] if new.target else [])
        if new.target is None or new.target not in rows:
            new = replace(new, target_hash=None, target_score=None)
        elif new.target != base.target:
            new = replace(
                new,
                target_hash=rows[new.target].content_hash,
                target_score=self._score(question, new.target, status.links),
            )
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        new = replace(new, version=base.version + 1, updated_by=editor, updated_at=now)
        entry = AuditEntry(
            at=now,
            editor=editor,
            action="undo",
            question_id=question.id,
            question_key=question.key,
            article_id=question.article_id,
            target_id=last[0].target_id,
            before=base.state(),
            after=new.state(),
        )
        self.store.save_decisions([(base.version, new, entry)])
        return self._statuses([question])[0]

    def decide_each(self, items: Sequence[tuple[str, str, str | None]], editor: str) -> list[QuestionStatus]:
        """(question id, action, fact check or None) items, each with its own action, all or nothing."""
        for attempt in range(3):
            try:
                return self._decide_once([(q, t) for q, _, t in items], [a for _, a, _ in items], editor, None)
            except VersionConflict:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _decide_once(
        self,
        items: Sequence[tuple[str, str | None]],
        action: str | Sequence[str],
        editor: str,
        expected_version: int | None,
    ) -> list[QuestionStatus]:
        actions = [action] * len(items) if isinstance(action, str) else list(action)
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
            action = actions[n]
            question = status.question
            key = (question.article_id, question.key)
            base = pending.get(key) or status.decision or Decision(question.article_id, question.key)
            if expected_version is not None and base.version != expected_version:
                raise VersionConflict(question.article_id, question.key, base.version)
            current = self._effective(question, base, status.links, rows)
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

    # -- learning: calibrated confidence, clusters, superseded fact checks, model switch ----------
    def _set_calibrator(self, strict: bool = True) -> None:
        """strict (at open): a configured calibrator file that does not fit the encoder is an error;
        after a model switch it is skipped with a warning (the automatic lookup applies)."""
        s = self.settings
        try:
            found = find_calibrator(s.calibration, s.models_dir, self.model_name, self.encoder.model_id)
        except CalibrationError:
            if strict:
                raise
            log.warning("RECOMMENDER_CALIBRATION does not fit %s any more: looking for one that does", self.encoder.model_id)
            found = find_calibrator("auto", s.models_dir, self.model_name, self.encoder.model_id)
        self.calibrator: Calibrator | None = found
        self.thresholds: Thresholds = thresholds_for(self.calibrator, s.review_threshold, s.auto_approve_threshold, s.gap_threshold)
        if self.calibrator is None and s.calibration != "none":
            log.warning("no calibrator fits %s: raw scores and gap_threshold decide", self.encoder.model_id)

    def set_thresholds(self, review: float | None = None, auto_approve: float | None = None) -> Thresholds:
        """Change the probability thresholds of this engine (RECOMMENDER_REVIEW/AUTO_APPROVE_THRESHOLD)."""
        update = {k: v for k, v in (("review_threshold", review), ("auto_approve_threshold", auto_approve)) if v is not None}
        self.settings = self.settings.model_copy(update=update)
        s = self.settings
        self.thresholds = thresholds_for(self.calibrator, s.review_threshold, s.auto_approve_threshold, s.gap_threshold)
        return self.thresholds

    def confidence(self, score: float) -> float | None:
        """The calibrated probability that an editor approves a link of this score (None: uncalibrated)."""
        return None if self.calibrator is None else round(self.calibrator.probability(score), 4)

    def clusters(self) -> dict[str, str]:
        """Question id -> duplicate cluster id (questions in a cluster of two or more)."""
        counters = self.store.counters()
        cached = self._clusters
        if cached is not None and cached[0] == counters:
            return cached[1]
        found = self.store.all_clusters()
        self._clusters = (counters, found)
        return found

    def _cluster_fingerprint(self, snapshot: Snapshot) -> str:
        """Which questions (ids and wordings), model and threshold the clusters come from. The question
        part is the table's order-independent digest, kept up to date by each write (no pass over all)."""
        import hashlib

        table = snapshot.table
        key = f"2|{self.encoder.model_id}|{self.settings.cluster_threshold}|{int(table.alive.sum())}|{table.digest:016x}"
        return hashlib.sha256(key.encode()).hexdigest()

    def _recluster_if_needed(self) -> None:
        """Recompute duplicate clusters when the questions changed (scikit-learn is a base dependency;
        an install without it keeps the stored clusters and the widget's cosine duplicate filter)."""
        snapshot = self._snapshot or self._rebuild()
        fingerprint = self._cluster_fingerprint(snapshot)
        stored = self.store.cluster_fingerprint()
        changes, self._question_changes = self._question_changes, []
        if stored == fingerprint or not sklearn_available():
            self._clustered_fingerprint = stored
            return
        if changes and stored is not None and stored == self._clustered_fingerprint:
            # The stored clusters were current before this process's writes: redo only what they touch.
            diff = update_clusters(snapshot.table, changes, self.settings.cluster_threshold)
            self.store.update_clusters(diff.assign, diff.unassign, fingerprint)
        else:
            self.recluster(snapshot, fingerprint)
        self._clustered_fingerprint = fingerprint

    def recluster(self, snapshot: Snapshot | None = None, fingerprint: str | None = None) -> dict[str, str]:
        snapshot = snapshot or self._rebuild()
        questions = snapshot.questions
        found = cluster_questions(
            [q.id for q in questions], [q.key for q in questions], snapshot.question_vectors, self.settings.cluster_threshold
        )
        self.store.replace_clusters(found, fingerprint or self._cluster_fingerprint(snapshot))
        return found

    def cluster_members(self, question_id: str) -> list[QuestionRow]:
        """The other questions of a question's cluster."""
        clusters = self.clusters()
        cluster = clusters.get(question_id)
        if cluster is None:
            return []
        ids = sorted(q for q, c in clusters.items() if c == cluster and q != question_id)
        return [row for q in ids if (row := self.store.get_question(q)) is not None]

    def supersede(self, article_id: str, by_article_id: str | None, editor: str) -> None:
        """Mark a fact check superseded by a newer one (None: not superseded any more), audited.
        Raises LookupError for unknown articles and DecisionError for a self-reference or a cycle."""
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
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        entry = AuditEntry(
            at=now,
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

    def switch_model(
        self, name: str, background: bool = True, encoder: Encoder | None = None, only_if_foreign: bool = False
    ) -> SwitchJob:
        """Re-embed everything with model `name` (or `encoder`) beside the live vectors and swap at once
        (see learning/switch.py). Raises RuntimeError while another switch runs; loading errors raise here.
        `only_if_foreign`: stop as soon as every stored vector comes from `encoder` (another process
        sharing the database finished the same switch first)."""
        if self.switch_job is not None and self.switch_job.running:
            raise RuntimeError(f"a switch to {self.switch_job.name!r} is already running")
        encoder = encoder or create_encoder(name, self.settings.models_dir, backend=self.settings.backend)
        job = SwitchJob(name, encoder.model_id, only_if_foreign=only_if_foreign)
        self.switch_job = job
        if encoder.model_id == self.encoder.model_id:
            job.state, job.finished = "done", job.started
            return job
        if background:
            job.thread = threading.Thread(
                target=run_switch, args=(self, encoder, job, self.settings.reindex_batch_size), name="model-switch", daemon=True
            )
            job.thread.start()
        else:
            run_switch(self, encoder, job, self.settings.reindex_batch_size)
        return job

    def reembed(self, background: bool = True) -> SwitchJob | None:
        """Switch to the configured encoder when the stored vectors come from another one (see open):
        staged newest articles first beside the live vectors, swapped in with fresh links at once.
        None when there is nothing to do."""
        if self.pending_encoder is None:
            return None
        name, encoder = self.pending_encoder
        return self.switch_model(name, background=background, encoder=encoder, only_if_foreign=True)

    def _use_encoder(self, encoder: Encoder, name: str) -> None:
        """Serve with another encoder whose vectors are now live (after a swap, here or in another process)."""
        if self.pending_encoder is not None and self.pending_encoder[1].model_id == encoder.model_id:
            self.pending_encoder = None
        self.encoder = encoder
        self.model_name = name
        self.store.model_id = encoder.model_id
        self._set_calibrator(strict=False)
        self._rebuild()

    def _follow_live_model(self) -> None:
        """Another process switched the database's model: load that encoder before reading its vectors."""
        name, model_id = self.store.live_model()
        if not name or not model_id or model_id == self.encoder.model_id or self.store.stored_model_ids() != {model_id}:
            return
        log.warning("the database was switched to %s (%s): loading it", name, model_id)
        self.encoder = create_encoder(name, self.settings.models_dir, backend=self.settings.backend)
        self.model_name = name
        self.store.model_id = self.encoder.model_id
        self._set_calibrator(strict=False)

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


def question_statuses(
    store: Store,
    questions: Sequence[QuestionRow],
    thresholds: Thresholds,
    freshness_margin: float,
    dates: dict[str, dt.date | None],
    links: dict[str, list[LinkRow]] | None = None,
) -> list[QuestionStatus]:
    """Questions with their candidates as served and the editors' decisions applied.

    A function of the store, not of an Engine, so `recommender status` can read the same states
    without opening an Engine (which would re-encode and relink: writes a status check must not make).
    """
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
        # As served: superseded fact checks replaced by their successor, then close calls given to
        # the more recently checked fact check.
        ranked = prefer_recent(follow_superseded(links.get(question.id, []), superseded, question.article_id), dates, freshness_margin)
        shown = _follow(decision, superseded) if decision is not None and superseded else decision
        state = effective(
            question.id, shown, ranked, thresholds.gap_score, existing, live_threshold=thresholds.live_score  # type: ignore[arg-type]
        )
        out.append(QuestionStatus(question, decision, ranked, state))
    return out


def _question_change(
    before: Snapshot, after: Snapshot, written: Sequence[StoredArticle], deleted: Sequence[str]
) -> QuestionChange:
    """The questions a write removed (as they were) and added, for updating duplicate clusters."""
    articles = {item.article.id for item in written} | set(deleted)
    table = before.table
    removed = tuple(
        (table.rows[r].id, table.rows[r].key, table.vectors[r].copy()) for a in articles for r in table.by_article.get(a, ())
    )
    added = tuple(after.table.rows[r].id for a in articles for r in after.table.by_article.get(a, ()))
    return QuestionChange(removed, added)


def _encoder_of_stored_vectors(store: Store, configured: Encoder, settings: Settings, previous: Encoder | None) -> Encoder | None:
    """The encoder that made the stored vectors, when they are not the configured one's and it can be
    loaded; None otherwise (the caller then re-encodes at open, as before)."""
    stored = store.stored_model_ids()
    if not stored or stored == {configured.model_id}:
        return None
    if len(stored) > 1:
        log.warning("stored vectors come from several encoders %s: re-encoding them all before serving", sorted(stored))
        return None
    (model_id,) = stored
    if previous is not None and previous.model_id == model_id:
        return previous
    from recommender.embedding.versions import EncoderUnavailable, load_encoder_of

    live_name, live_id = store.live_model()
    try:
        return load_encoder_of(model_id, settings.models_dir, name=live_name if live_id == model_id else None)
    except EncoderUnavailable as exc:
        log.warning("%s; re-encoding the whole database with %s before serving (no results until done)", exc, configured.model_id)
        return None


def _stored_model_name(store: Store, encoder: Encoder) -> str:
    from recommender.embedding.versions import parse_model_id

    live_name, live_id = store.live_model()
    return live_name if live_name and live_id == encoder.model_id else parse_model_id(encoder.model_id).name


def _live_model_name(settings: Settings) -> str | None:
    """The model a database was switched to, read without loading any model."""
    if not settings.database_url and not settings.db.exists():
        return None
    store = open_store(settings, model_id="-")
    try:
        return store.live_model()[0]
    finally:
        store.close()


def _follow(decision: Decision, superseded: dict[str, str]) -> Decision:
    """A decision whose pinned or approved fact check was superseded shows the successor instead."""
    pinned = successor(decision.pinned, superseded) if decision.pinned else None
    approved = successor(decision.approved, superseded) if decision.approved else None
    if (pinned, approved) == (decision.pinned, decision.approved):
        return decision
    return replace(decision, pinned=pinned, approved=approved)
