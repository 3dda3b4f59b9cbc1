"""The Engine wires store, encoder, index and linker: the one object the CLI and the API use."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from recommender.articles.model import Article
from recommender.config import Settings
from recommender.embedding.base import Encoder
from recommender.embedding.factory import create_encoder
from recommender.embedding.passages import article_passages
from recommender.index.ranker import Hit, RankerConfig
from recommender.index.snapshot import Snapshot
from recommender.linking.linker import compute_links, could_enter
from recommender.linking.related import Item, drop_duplicates, own_items, related_items
from recommender.store.base import ArticleRow, LinkRow, QuestionRow, StoredArticle
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


class Engine:
    def __init__(self, settings: Settings, store: SQLiteStore, encoder: Encoder) -> None:
        self.settings = settings
        self.store = store
        self.encoder = encoder
        self.ranker_config = RankerConfig(settings.method, settings.dense_weight, settings.lexical_saturation)
        self._write_lock = threading.Lock()
        self._snapshot_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        self._reencode_if_needed()
        self.relink()

    @classmethod
    def open(cls, settings: Settings, encoder: Encoder | None = None) -> Engine:
        encoder = encoder or create_encoder(settings.model, settings.models_dir)
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
        question = self.store.get_question(question_id)
        if question is None:
            return None
        return question, self.store.links_of([question_id])[question_id]

    def is_gap(self, links: Sequence[LinkRow]) -> bool:
        return not links or links[0].score < self.settings.gap_threshold

    def dive_deeper(self, article_id: str) -> DiveDeeper | None:
        article = self.store.get_article_row(article_id)
        if article is None:
            return None
        snapshot = self.snapshot()
        own = self.store.questions_of(article_id)
        incoming = self.store.links_to(article_id, self.settings.related_threshold)
        other_ids = [link.question_id for link in incoming]
        links = self.store.links_of([q.id for q in own] + other_ids)
        questions = {q.id: q for q in snapshot.questions}
        for question_id in other_ids:
            if question_id not in questions and (row := self.store.get_question(question_id)):
                questions[question_id] = row
        mine = own_items(own, links, self.settings.gap_threshold)
        related = related_items(article_id, incoming, questions, links, self.settings.gap_threshold)
        related = drop_duplicates(related, snapshot, self.settings.duplicate_threshold, seen=own)
        return DiveDeeper(article, mine, related[: self.settings.max_related])

    def gaps(self) -> list[Gap]:
        """Questions nothing answers well, worst first."""
        found = [
            Gap(question, best)
            for question, best in self.store.best_links()
            if best is None or best.score < self.settings.gap_threshold
        ]
        found.sort(key=lambda g: (g.best.score if g.best else -1.0, g.question.id))
        return found

    def articles(self, ids: Sequence[str]) -> dict[str, ArticleRow]:
        return self.store.article_rows(ids)

    def article_url(self, article: ArticleRow) -> str | None:
        return article.url
