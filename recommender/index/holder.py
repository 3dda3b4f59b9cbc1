"""The process's current index snapshot: when it is rebuilt, how a write carries it over, the write lock.

Readers take `snapshot()` (one reference, never mutated); a write runs through `write()` under the
snapshot lock so the next snapshot is derived from the current one and what was written
(Snapshot.apply, milliseconds) instead of a full build. Every service shares one holder.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TypeVar

import numpy as np

from recommender.embedding.base import Encoder
from recommender.index.backend import IndexBackend, MemoryBackend
from recommender.index.files import IndexFiles
from recommender.index.floors import CandidateFloors
from recommender.index.heap import release_freed_memory
from recommender.index.questions import QuestionChange
from recommender.index.base import RankerConfig
from recommender.index.snapshot import Snapshot
from recommender.store.base import Store
from recommender.domain import LinkRow, StoredArticle

T = TypeVar("T")
log = logging.getLogger(__name__)
# A write of up to this many articles (or this share of the index) updates the snapshot in place of a
# full build; beyond that, building afresh is about as fast and leaves no dead rows behind.
INCREMENTAL_MINIMUM = 200
INCREMENTAL_FRACTION = 0.05
# Question changes remembered for updating duplicate clusters (the oldest dropped first): enough to
# reach back to the last clustering of any process that writes; a worker that only follows others
# never takes them, and losing the oldest only means a full clustering should it ever need them.
HISTORY_KEPT = 1000

# (the questions before a change, as QuestionTable.identity; the change)
QuestionHistory = list[tuple[tuple[int, int], QuestionChange]]


class IndexHolder:
    def __init__(
        self,
        store: Store,
        encoder: Encoder,
        ranker_config: RankerConfig,
        refresh_seconds: float,
        before_build: Callable[[], None] | None = None,
        backend: IndexBackend | None = None,
        files: IndexFiles | None = None,
    ) -> None:
        self.store = store
        self.backend = backend or MemoryBackend()  # where ranking happens (index/backend.py)
        self.encoder = encoder  # the encoder of the stored vectors (a model switch replaces it)
        self.ranker_config = ranker_config
        self.refresh_seconds = refresh_seconds
        # Called before a full build (the models service follows a switch made by another process).
        self.before_build = before_build
        # Where full builds are saved and memory-mapped from (SQLite mode; None: built in memory each time).
        self.files = files
        # Held by every write of this process: ingest, delete, relink, decisions that relink, a model swap.
        self.write_lock = threading.Lock()
        self._snapshot_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        self._floors: CandidateFloors | None = None  # of the snapshot's generation (see candidate_floors)
        # How the snapshot's questions came to be, change by change (its own writes and the ones it
        # followed), since the last take_question_history or the last full build that changed them.
        self._history: QuestionHistory = []

    @property
    def current(self) -> Snapshot | None:
        """The snapshot as held, without checking the store (None before the first build)."""
        return self._snapshot

    def snapshot(self) -> Snapshot:
        """The current index; rebuilt when the database changed (also by another process)."""
        now = time.monotonic()
        current = self._snapshot
        if current is not None and now - self._checked_at < self.refresh_seconds:
            return current
        self._checked_at = now
        if current is not None and current.generation == self.store.generation():
            return current
        if current is not None and self.write_lock.locked():
            return current  # a write of this process is under way and updates the snapshot itself
        return self.rebuild()

    def rebuild(self) -> Snapshot:
        """The snapshot of the store's current generation: the one kept up to date by this process's
        writes (see write), carried over another process's few writes (see `_follow`), or a full build
        (many or unknown changes, dead rows piled up, the first build)."""
        with self._snapshot_lock:
            generation = self.store.generation()
            current = self._snapshot
            if current is not None and current.generation == generation and not current.needs_compaction:
                return current
            if current is not None and current.generation < generation:
                followed = self._catch_up(current)
                if followed is not None:
                    return followed
            if current is not None and current.generation > generation:
                return current  # asked from inside an older consistent read: never swap the index back
            if self.before_build is not None:
                self.before_build()
            snapshot = self._build()
            if current is None or current.generation != snapshot.generation:
                self._history = []  # changed behind this process's back, not known question by question
            self._snapshot = snapshot  # one reference swap: readers see the old or the new index
            release_freed_memory()
            return snapshot

    def _catch_up(self, current: Snapshot) -> Snapshot | None:
        """Under the snapshot lock: `current` followed to the store's generation and made the snapshot
        (None: not possible, a full build is needed), the questions the other processes changed added
        to the history."""
        followed = self._follow(current)
        if followed is None:
            return None
        self._snapshot, change = followed
        if change is not None:
            self._remember(current, change)
        return self._snapshot

    def _follow(self, current: Snapshot) -> tuple[Snapshot, QuestionChange | None] | None:
        """`current` carried over the writes other processes made since its generation, as this
        process carries its own (Snapshot.apply): the articles they changed are read back from the
        store. None when that is not known or not small, or when dead rows call for a full build."""
        if current.needs_compaction:
            return None
        changes = self.store.changes_since(current.generation, self._incremental_limit(current))
        if changes is None:
            return None
        if not changes.written and not changes.deleted:
            return current.at(changes.generation), None  # links only
        followed = current.apply(changes.written, changes.deleted, changes.generation, derived=False)
        if followed.needs_compaction:
            return None
        return followed, question_change(current, followed, changes.written, changes.deleted)

    def _remember(self, before: Snapshot, change: QuestionChange) -> None:
        self._history.append((before.table.identity, change))
        if len(self._history) > HISTORY_KEPT:
            del self._history[0]

    @staticmethod
    def _incremental_limit(current: Snapshot | None) -> int:
        """How many articles one write may change for the snapshot to be carried over it."""
        return int(max(INCREMENTAL_MINIMUM, INCREMENTAL_FRACTION * len(current.articles))) if current else 0

    def _build(self) -> Snapshot:
        """A full build: mapped from the index files when they hold exactly the store's content, else
        read from the store (and saved as files, then mapped, so the built copy is let go)."""
        if self.files is None or not isinstance(self.backend, MemoryBackend):
            return Snapshot.build(self.backend.load(self.store), self.encoder, self.ranker_config, self.backend)
        mapped = self.files.load(self.store.load_index(vectors=False), self.encoder, self.ranker_config)
        if mapped is not None:
            return mapped
        data = self.store.load_index()
        built = Snapshot.build(data, self.encoder, self.ranker_config, consume=True)  # the bodies go once indexed
        try:
            self.files.save(built, data, self.encoder, self.ranker_config)
        except OSError as error:  # e.g. a read-only folder: serve from memory, as without files
            log.warning("index files not written to %s (%s)", self.files.root, error)
            return built
        rows = replace(data, texts=[], passage_vectors=[], question_vectors=np.zeros((0, 0), np.float32))
        del built, data  # let the built arrays go before the mapped ones are read: one copy at a time
        mapped = self.files.load(rows, self.encoder, self.ranker_config)
        return mapped if mapped is not None else Snapshot.build(self.store.load_index(), self.encoder, self.ranker_config)

    def write(self, write: Callable[[], T], written: Sequence[StoredArticle] = (), deleted: Sequence[str] = ()) -> T:
        """Run one store write that adds one to the generation, and carry the snapshot over to it.

        When the generation moved by exactly this write (no other process wrote meanwhile), the next
        snapshot is derived from the current one and what was written (Snapshot.apply); otherwise the
        snapshot is left as it was and the next rebuild follows this write with the others' (or builds
        afresh). Large writes build afresh too. A snapshot behind other processes' writes is first
        carried over them (see `_follow`).
        """
        with self._snapshot_lock:
            current = self._snapshot
            before = self.store.generation()
            if current is not None and current.generation < before:
                current = self._catch_up(current) or current
            result = write()
            after = self.store.generation()
            small = len(written) + len(deleted) <= self._incremental_limit(current)
            if current is not None and current.generation == before and after == before + 1 and small:
                self._snapshot = current.apply(written, deleted, after) if written or deleted else current.at(after)
                if written or deleted:
                    self._remember(current, question_change(current, self._snapshot, written, deleted))
                if self._floors is not None and self._floors.generation == before:
                    # Links changed only where questions are relinked next anyway (see entering_hits).
                    self._floors = self._floors.carried(after, self._snapshot.table)
            # Otherwise the snapshot (and its history) stays at `current`: following the store from
            # there reads this write back with the others' (or a full build starts the history afresh).
        return result

    def use_encoder(self, encoder: Encoder) -> Snapshot:
        """Serve another encoder's vectors (now live in the store): swap it in and rebuild."""
        self.encoder = encoder
        self.store.model_id = encoder.model_id
        return self.rebuild()

    def stored_hashes(self, article_ids: Sequence[str]) -> dict[str, str]:
        """Stored content hashes: from the snapshot when it is current (no pass over the table for a
        one-article upsert), else from the store."""
        snapshot = self._snapshot
        if len(article_ids) <= INCREMENTAL_MINIMUM and snapshot is not None and snapshot.generation == self.store.generation():
            return {a: row.content_hash for a in article_ids if (row := snapshot.articles.get(a))}
        return self.store.content_hashes()

    def candidate_floors(self, snapshot: Snapshot) -> CandidateFloors:
        """Stored candidate counts and lowest scores by question row: read from the store once, then
        kept up to date with the links this process writes (read again after another process wrote)."""
        if self._floors is None or self._floors.generation != snapshot.generation:
            self._floors = CandidateFloors(snapshot.generation, snapshot.table, self.store.last_candidate_scores())
        return self._floors

    def remember_links(self, links: Mapping[str, list[LinkRow]]) -> None:
        """Links this process just wrote: kept in the floors when nothing else wrote since."""
        if self._floors is not None and self._snapshot is not None and self._floors.generation == self._snapshot.generation:
            self._floors.remember(self._snapshot.table, links)
        else:
            self._floors = None  # another process wrote too: read them again when next needed

    def question_history(self) -> QuestionHistory:
        """The snapshot's question changes since the last take_question_history, left in place: each
        with the questions before it (QuestionTable.identity; not the snapshot itself, which would keep
        an older index in memory). Stored clusters made for any of those states, by this process or by
        another one, are brought up to date by the changes from there on (services/linking.py)."""
        return list(self._history)

    def take_question_history(self) -> tuple[Snapshot | None, QuestionHistory]:
        """The snapshot and its question history (see question_history), together; starts a new history."""
        with self._snapshot_lock:
            history, self._history = self._history, []
            return self._snapshot, history


def question_change(before: Snapshot, after: Snapshot, written: Sequence[StoredArticle], deleted: Sequence[str]) -> QuestionChange:
    """The questions a write removed (as they were) and added, for updating duplicate clusters."""
    articles = {item.article.id for item in written} | set(deleted)
    table = before.table
    removed = tuple(
        (table.rows[r].id, table.rows[r].key, table.vectors[r].copy()) for a in articles for r in table.by_article.get(a, ())
    )
    added = tuple(after.table.rows[r].id for a in articles for r in after.table.by_article.get(a, ()))
    return QuestionChange(removed, added)
