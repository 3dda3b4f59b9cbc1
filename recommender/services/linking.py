"""Keeping links and duplicate clusters equal to a full recomputation after every write."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Mapping, Sequence

from recommender.config import Settings
from recommender.editorial.statuses import question_statuses
from recommender.index.holder import IndexHolder, QuestionHistory
from recommender.index.questions import QuestionChange
from recommender.index.snapshot import Snapshot
from recommender.linking.clusters import cluster_questions, sklearn_available
from recommender.linking.duplicates import cluster_starts, update_clusters
from recommender.index.ranker import Hit
from recommender.linking.linker import (
    RideAlong,
    compute_links,
    entering_hits,
    link_settings,
    merged_links,
    rewritten_links,
)
from recommender.linking.verify import Verification, verify_links
from recommender.services.models import ModelsService
from recommender.store.base import Store
from recommender.domain import LinkRow, QuestionRow

log = logging.getLogger(__name__)


class LinkingService:
    def __init__(self, settings: Settings, store: Store, holder: IndexHolder, models: ModelsService) -> None:
        self.settings = settings
        self.store = store
        self.holder = holder
        self.models = models
        self._clusters: tuple[tuple[int, int], dict[str, str]] | None = None  # (counters, question -> cluster)

    def relink(self) -> int:
        """Link every question marked for linking (e.g. after a crash mid-ingest)."""
        with self.holder.write_lock:
            return self.relink_locked(set())

    def link_settings(self) -> str:
        """What the links this process computes depend on besides the content (linker.link_settings)."""
        return link_settings(self.holder.ranker_config, self.settings.candidates)

    def relink_if_settings_changed(self) -> int:
        """Links stay a function of (articles, decisions, model, settings): when the stored links were
        computed under other ranking settings (or by a version that did not record them), every question
        is marked and relinked now, before anything is served. Returns how many questions got new links."""
        current = self.link_settings()
        stored = self.store.link_settings()
        if stored == current:
            return 0
        with self.holder.write_lock:
            marked = self.holder.write(lambda: self.store.relink_under(current))
            if marked:
                was = f"the stored links were computed under {stored}" if stored else (
                    "the database records no ranking settings: it predates them or was never linked"
                )
                log.warning("relinking all %d questions under the ranking settings %s (%s)", marked, current, was)
            return self.relink_locked(set())

    def relink_all(self) -> int:
        """Recompute the links of every question (what `recommender relink --all` asks for)."""
        with self.holder.write_lock:
            ids = [q.id for q in self.holder.rebuild().questions]
            self.holder.write(lambda: self.store.mark_for_linking(ids))
            return self.relink_locked(set())

    def warm_up(self) -> None:
        """Pay now what the first write after a start would: reading every stored candidate floor (a pass
        over all links, seconds at 100k articles) and importing the clustering libraries."""
        with self.holder.write_lock:
            self.holder.candidate_floors(self.holder.rebuild())
        if sklearn_available():
            # What cluster_questions imports on its first call (~1.3 s); the import is the point.
            from scipy.sparse.csgraph import connected_components  # noqa: F401
            from sklearn.cluster import AgglomerativeClustering  # noqa: F401

    def relink_locked(self, changed: set[str]) -> int:
        """Relink what the articles `changed` (and any pending from an earlier write) may affect; the
        caller holds the write lock. Returns how many questions got new links."""
        recorded = self.store.pending_articles()  # also those of an ingest that died before relinking
        changed = changed | set(recorded)
        snapshot = self.holder.rebuild()
        pending = set(self.store.questions_to_link())
        merged: dict[str, list[LinkRow]] = {}
        ride_along = None
        if changed:
            floors = self.holder.candidate_floors(snapshot)
            # The duplicate search after the write starts with a pass over the question rows too: one pass.
            changes = [change for _, change in self.holder.question_history()]
            if changes:
                ride_along = RideAlong(snapshot.table, cluster_starts(snapshot.table, changes).vectors)
            rewritten = self._rewritten(snapshot, changed, pending)
            pending -= rewritten  # scored below like any other question, then merged or ranked again
            entering = entering_hits(snapshot, changed, floors, self.settings.candidates, pending, ride_along)
            merged, again = self._merged(entering, rewritten, changed)
            pending |= again
        links = compute_links(snapshot, sorted(pending), self.settings.candidates) if pending else {}
        links.update(merged)
        if links:
            self.holder.write(lambda: self.store.replace_links(links))
            self.holder.remember_links(links)
        # Forget a pending article only once the version recorded for it was linked (another process
        # may be writing a newer one right now).
        done = {a: h for a, h in recorded.items() if (row := snapshot.articles.get(a)) and row.content_hash == h}
        self.store.clear_pending_articles(done)
        self.holder.rebuild()
        self.recluster_if_needed(ride_along)
        return len(links)

    def _rewritten(self, snapshot: Snapshot, changed: Collection[str], pending: Collection[str]) -> set[str]:
        """The pending questions whose links can be updated from a changed article's new hit
        (linker.rewritten_links): those pending only because their stored list holds an article this
        write changed. When anything else is pending (a re-encode, `relink --all`, an earlier crash
        that left questions unlinked), the stored scores may be stale as a whole: none qualifies."""
        if not pending:
            return set()
        linked = {link.question_id for a in changed for link in self.store.links_to(a, float("-inf"))}
        own = {snapshot.table.rows[r].id for a in changed for r in snapshot.table.by_article.get(a, ())}
        if not set(pending) <= linked | own:
            return set()
        return {q for q in linked - own if q in pending}

    def _merged(
        self,
        entering: Mapping[str, list[Hit]],
        rewritten: Collection[str] = (),
        changed: Collection[str] = (),
    ) -> tuple[dict[str, list[LinkRow]], set[str]]:
        """(new links, questions to rank again) for the questions a changed article enters: its hit is
        merged into the stored list where that equals ranking the question again (see merged_links).
        A list the merge leaves as it was is in neither (nothing to write).

        On an approximate ranker (PostgreSQL's candidates) the merge is what ranking the question again
        gives with its stored articles as extra candidates (`recommender verify` recomputes it so): the
        entering hit's score is exact, found for every question, whether or not the candidate stage
        would have reached the article."""
        if not entering and not rewritten:
            return {}, set()
        stored = self.store.links_of(sorted(set(entering) | set(rewritten)))
        merged: dict[str, list[LinkRow]] = {}
        again: set[str] = set()
        for question_id in sorted(set(entering) | set(rewritten)):
            before, hits = stored.get(question_id, []), entering.get(question_id, [])
            if question_id in rewritten:
                rows = rewritten_links(question_id, before, hits, changed, self.settings.candidates)
            else:
                rows = merged_links(question_id, before, hits, self.settings.candidates)
            if rows is None:
                again.add(question_id)
            elif question_id in rewritten or rows != sorted(before, key=lambda link: link.rank):
                merged[question_id] = rows  # a rewritten one is written even unchanged: that clears its mark
        return merged, again

    def verify(
        self, sample: int | None = None, seed: int = 0, examples: int = 5, include: Collection[str] = ()
    ) -> Verification:
        """Stored links against a recomputation over the current index (see linking/verify.py);
        questions in `include` are checked with the sample."""

        def shown(questions: Sequence[QuestionRow], links: Mapping[str, list[LinkRow]]) -> dict[str, str | None]:
            statuses = question_statuses(
                self.store, questions, self.models.thresholds, self.settings.freshness_margin, snapshot.checked_on, dict(links)
            )
            return {s.question.id: s.effective.answer.link.article_id if s.effective.answer else None for s in statuses}

        with self.holder.write_lock:  # no relink halfway through the comparison
            snapshot = self.holder.rebuild()
            return verify_links(
                snapshot, self.store.links_of, shown, self.settings.candidates, sample, seed, examples, include
            )

    # -- duplicate-question clusters ---------------------------------------------------------
    def clusters(self) -> dict[str, str]:
        """Question id -> duplicate cluster id (questions in a cluster of two or more)."""
        counters = self.store.counters()
        cached = self._clusters
        if cached is not None and cached[0] == counters:
            return cached[1]
        found = self.store.all_clusters()
        self._clusters = (counters, found)
        return found

    def cluster_members(self, question_id: str) -> list[QuestionRow]:
        """The other questions of a question's cluster."""
        clusters = self.clusters()
        cluster = clusters.get(question_id)
        if cluster is None:
            return []
        ids = sorted(q for q, c in clusters.items() if c == cluster and q != question_id)
        return [row for q in ids if (row := self.store.get_question(q)) is not None]

    def recluster(self, snapshot: Snapshot | None = None, fingerprint: str | None = None) -> dict[str, str]:
        snapshot = snapshot or self.holder.rebuild()
        questions = snapshot.questions
        found = cluster_questions(
            [q.id for q in questions], [q.key for q in questions], snapshot.question_vectors, self.settings.cluster_threshold
        )
        self.store.replace_clusters(found, fingerprint or self._fingerprint(snapshot))
        return found

    def recluster_if_needed(self, ride_along: RideAlong | None = None) -> None:
        """Recompute duplicate clusters when the questions changed (scikit-learn is a base dependency;
        an install without it keeps the stored clusters and the widget's cosine duplicate filter).
        `ride_along`: the duplicate search's first product, when relinking already made it."""
        snapshot, history = self.holder.take_question_history()
        snapshot = snapshot or self.holder.rebuild()
        fingerprint = self._fingerprint(snapshot)
        stored = self.store.cluster_fingerprint()
        if stored == fingerprint or not sklearn_available():
            return
        changes = self._changes_since(stored, history)
        if changes:
            # The stored clusters were current for the questions before these changes (made by this
            # process or by the one whose writes it followed): redo only what the changes touch.
            products = None
            if ride_along is not None:
                products = ride_along.products_for(snapshot.table, cluster_starts(snapshot.table, changes).vectors)
            diff = update_clusters(snapshot.table, changes, self.settings.cluster_threshold, products)
            self.store.update_clusters(diff.assign, diff.unassign, fingerprint)
        else:
            self.recluster(snapshot, fingerprint)

    def _changes_since(self, stored: str | None, history: QuestionHistory) -> list[QuestionChange] | None:
        """The changes of `history` after the questions the stored clusters were made for (None: the
        history does not reach back to them, a full clustering is needed)."""
        if stored is None:
            return None
        for start, (before, _) in enumerate(history):
            if self._fingerprint_of(before) == stored:
                return [change for _, change in history[start:]]
        return None

    def _fingerprint(self, snapshot: Snapshot) -> str:
        """Which questions (ids and wordings), model and threshold the clusters come from. The question
        part is the table's order-independent digest, kept up to date by each write (no pass over all)."""
        return self._fingerprint_of(snapshot.table.identity)

    def _fingerprint_of(self, questions: tuple[int, int]) -> str:
        live, digest = questions
        key = f"2|{self.holder.encoder.model_id}|{self.settings.cluster_threshold}|{live}|{digest:016x}"
        return hashlib.sha256(key.encode()).hexdigest()
