"""Everything readers and editors read: the widget's answer, suggestions, search, gaps, statuses, reviews.

Reads never write: opening the services and reading is safe on a database another process serves.
Results are records with the article rows, passages and confidences already attached, so the API
turns them into response bodies without reading anything else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from recommender.articles.model import Article
from recommender.config import Settings
from recommender.editorial.decisions import Ranked
from recommender.editorial.freshness import fresher
from recommender.editorial.offers import offer, source_of
from recommender.editorial.statuses import QuestionStatus, question_statuses
from recommender.index.holder import IndexHolder
from recommender.index.ranker import Hit
from recommender.index.snapshot import Snapshot
from recommender.learning.calibration import Thresholds
from recommender.linking.related import (
    Item,
    drop_duplicates,
    one_per_answer,
    one_per_cluster,
    own_items,
    own_unanswered,
    related_items,
)
from recommender.services.linking import LinkingService
from recommender.services.models import ModelsService
from recommender.store.base import Store
from recommender.domain import ArticleRow, LinkRow, QuestionRow
from recommender.store.replica import replica_reads


@dataclass(frozen=True)
class DiveDeeper:
    article: ArticleRow
    questions: list[Item]
    related: list[Item]
    # The article's own questions with no answer shown (gaps, waiting for review), hidden ones not:
    # the widget lists them as "not checked yet" when the site asks (include_unanswered).
    unanswered: tuple[QuestionRow, ...] = ()
    rows: Mapping[str, ArticleRow] = field(default_factory=dict)  # every answer's and source's article


@dataclass(frozen=True)
class Gap:
    question: QuestionRow
    best: LinkRow | None
    marked: bool = False  # an editor marked it a gap (to commission a new fact check)


@dataclass(frozen=True)
class ShownCandidate:
    """A candidate fact check as shown: its article, the link, the passage that matched, confidence."""

    article: ArticleRow
    link: LinkRow
    passage: str | None
    confidence: float | None
    rank: int
    pinned: bool = False
    approved: bool = False
    fresher: bool = False  # moved up by prefer_recent


@dataclass(frozen=True)
class ClusterView:
    id: str
    members: list[QuestionStatus]  # the other questions of the cluster
    offer_from: str | None  # the member whose decision is offered to the rest
    offer: list[tuple[str, str, str | None]]  # (question id, action, fact check)


@dataclass(frozen=True)
class QuestionReview:
    """A question as editors see it: source, answer, decision, every candidate, its duplicate cluster."""

    status: QuestionStatus
    reasons: list[str]
    source: ArticleRow | None
    answer: ArticleRow | None
    candidates: list[ShownCandidate]
    cluster: ClusterView | None


class ReadingService:
    def __init__(self, settings: Settings, store: Store, holder: IndexHolder, models: ModelsService, linking: LinkingService) -> None:
        self.settings = settings
        self.store = store
        self.holder = holder
        self.models = models
        self.linking = linking

    @property
    def thresholds(self) -> Thresholds:
        return self.models.thresholds

    @staticmethod
    @contextmanager
    def from_replica() -> Iterator[None]:
        """Reads inside may be served by the read replica (RECOMMENDER_DATABASE_READ_URL)."""
        with replica_reads():
            yield

    def snapshot(self) -> Snapshot:
        return self.holder.snapshot()

    # -- what changed, what is stored ----------------------------------------------------------
    def counters(self) -> tuple[int, int]:
        """(generation, decisions): changes whenever what the widget shows may have changed."""
        return self.store.counters()

    def counts(self) -> dict[str, int]:
        return self.store.counts()

    def ranking_status(self) -> dict[str, str]:
        """Which ranking backend serves, and on PostgreSQL whether its HNSW index is ready (for /healthz)."""
        return self.holder.snapshot().ranker.status()

    def pending_articles(self) -> int:
        """Articles stored by a write whose relinking has not completed yet."""
        return len(self.store.pending_articles())

    def article(self, article_id: str) -> Article | None:
        return self.store.get_article(article_id)

    def article_row(self, article_id: str) -> ArticleRow | None:
        return self.store.get_article_row(article_id)

    def articles(self, ids: Sequence[str]) -> dict[str, ArticleRow]:
        return self.store.article_rows(ids)

    def questions_of(self, article_id: str) -> list[QuestionRow]:
        return self.store.questions_of(article_id)

    def question(self, question_id: str) -> QuestionRow | None:
        return self.store.get_question(question_id)

    def stored_links(self, question_ids: Sequence[str]) -> dict[str, list[LinkRow]]:
        """The model's candidates as stored (before the superseded and freshness rules that statuses
        apply) of those of the questions that exist."""
        return self.store.links_of([q for q in question_ids if self.store.get_question(q) is not None])

    def superseded(self) -> dict[str, str]:
        """Superseded fact check -> its successor."""
        return self.store.superseded_map()

    def clusters(self) -> dict[str, str]:
        return self.linking.clusters()

    def confidence(self, score: float) -> float | None:
        return self.models.confidence(score)

    # -- ranking -------------------------------------------------------------------------------
    def search(self, text: str, k: int, exclude: Sequence[str] = ()) -> list[Hit]:
        return self.holder.snapshot().ranker.rank(text, k, exclude)

    def search_results(self, text: str, k: int) -> tuple[bool, list[ShownCandidate]]:
        """(answered, candidates) for free text: whether any hit scores as an answer, and the hits."""
        hits = self.search(text, k)
        links = [LinkRow("", rank, h.doc_id, h.score, h.dense, h.lexical, h.passage) for rank, h in enumerate(hits)]
        return self.answers(links), self.candidates(links)

    def answers(self, links: Sequence[LinkRow]) -> bool:
        """Something among `links` scores as an answer (what makes an undecided question no gap)."""
        return bool(links) and max(link.score for link in links) >= self.thresholds.gap_score

    def score(self, question: QuestionRow, target: str, links: Sequence[LinkRow]) -> float | None:
        """The model's score of a fact check for a question, also when it is not a stored candidate."""
        for link in links:
            if link.article_id == target:
                return link.score
        snapshot = self.holder.snapshot()
        vector = snapshot.question_vector(question.id)
        return snapshot.ranker.score(question.text, target, [question.article_id], vector)

    # -- questions with decisions ----------------------------------------------------------------
    def status(self, question_id: str) -> QuestionStatus | None:
        question = self.store.get_question(question_id)
        return self.question_statuses([question])[0] if question is not None else None

    def statuses(self, article_id: str | None = None) -> list[QuestionStatus]:
        """Every question (or one article's) with its candidates and decision."""
        if article_id is not None:
            return self.question_statuses(self.store.questions_of(article_id))
        return self.question_statuses([q for q, _ in self.store.best_links()])

    def question_statuses(self, questions: Sequence[QuestionRow], links: dict[str, list[LinkRow]] | None = None) -> list[QuestionStatus]:
        dates = self.holder.snapshot().checked_on
        return question_statuses(self.store, questions, self.thresholds, self.settings.freshness_margin, dates, links)

    def suggestions(self, question_id: str) -> tuple[QuestionRow, list[LinkRow]] | None:
        """Ranked fact checks after editors' decisions: pinned first, then approved, never a rejected one."""
        found = self.status(question_id)
        if found is None:
            return None
        return found.question, [r.link for r in found.effective.ranked]

    def gaps(self) -> list[Gap]:
        """Questions nothing answers: marked so by an editor first, then the worst-answered first.

        Rejected fact checks do not count; pinned, approved and hidden questions are no gaps.
        """
        found = [Gap(s.question, s.effective.model_best, s.effective.marked_gap) for s in self.statuses() if s.effective.state == "gap"]
        found.sort(key=lambda g: (not g.marked, g.best.score if g.best else -1.0, g.question.id))
        return found

    # -- the widget ------------------------------------------------------------------------------
    def dive_deeper(self, article_id: str) -> DiveDeeper | None:
        # One database snapshot for the whole answer: a relink committing meanwhile is seen whole or not at
        # all. The index is brought up to date first, outside it.
        self.holder.snapshot()
        with self.store.consistent_read():
            return self._dive_deeper(article_id)

    def _dive_deeper(self, article_id: str) -> DiveDeeper | None:
        article = self.store.get_article_row(article_id)
        if article is None:
            return None
        snapshot = self.holder.snapshot()
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
        statuses = self.question_statuses(own + [questions[q] for q in other_ids if q in questions], links)
        answers = {s.question.id: s.effective.answer for s in statuses}
        rejected = {s.question.id: set(s.decision.rejected) for s in statuses if s.decision}
        incoming = [link for link in incoming if link.article_id not in rejected.get(link.question_id, ())]
        clusters = self.linking.clusters()
        s = self.settings
        mine = one_per_cluster(own_items(own, answers), clusters)
        related = related_items(article_id, incoming, questions, answers, snapshot, s.related_threshold, s.related_topic_threshold)
        related = drop_duplicates(related, snapshot, s.duplicate_threshold, seen=own)
        related = one_per_cluster(related, clusters, taken=own)
        related = one_per_answer(related, taken=mine)[: s.max_related]
        hidden = {s.question.id for s in statuses if s.effective.state == "hidden"}
        unanswered = own_unanswered(own, answers, hidden, clusters, taken=[i.question for i in mine])
        shown = [*mine, *related]
        rows = self.store.article_rows(sorted({i.answer.article_id for i in shown} | {i.question.article_id for i in related}))
        return DiveDeeper(article, mine, related, tuple(unanswered), rows)

    # -- records for response bodies ---------------------------------------------------------------
    def candidates(self, links: Sequence[LinkRow], with_passages: bool = True) -> list[ShownCandidate]:
        """The model's candidates as stored (or searched), each with its fact check's row."""
        return self.ranked_candidates([Ranked(link) for link in links], with_passages=with_passages, by_model=True)

    def ranked_candidates(
        self,
        ranked: Sequence[Ranked],
        rows: Mapping[str, ArticleRow] | None = None,
        with_passages: bool = True,
        by_model: bool = False,
    ) -> list[ShownCandidate]:
        """Candidates in the effective order (decisions applied); `rank` is the position in it (the
        model's rank when `by_model`). Candidates whose fact check is gone are left out."""
        rows = rows if rows is not None else self.store.article_rows([r.link.article_id for r in ranked])
        model = [r.link for r in ranked if not r.pinned and not r.approved]
        moved = model[0].article_id if not by_model and fresher(model) else None
        out: list[ShownCandidate] = []
        for entry in ranked:
            link = entry.link
            row = rows.get(link.article_id)
            if row is None:
                continue
            passage = self.store.passage_text(link.article_id, link.passage) if with_passages and link.passage >= 0 else None
            out.append(
                ShownCandidate(
                    article=row,
                    link=link,
                    passage=passage,
                    confidence=self.models.confidence(link.score),
                    rank=link.rank if by_model else len(out),
                    pinned=entry.pinned,
                    approved=entry.approved,
                    fresher=link.article_id == moved and not entry.confirmed,
                )
            )
        return out

    def reviews(self, items: Sequence[tuple[QuestionStatus, Sequence[str]]]) -> list[QuestionReview]:
        """Questions as editors see them (the review queue, a decision's result)."""
        ids = [s.question.article_id for s, _ in items] + [r.link.article_id for s, _ in items for r in s.effective.ranked]
        rows = self.store.article_rows(ids)
        out = []
        for status, reasons in items:
            answer = status.effective.answer
            out.append(
                QuestionReview(
                    status=status,
                    reasons=list(reasons),
                    source=rows.get(status.question.article_id),
                    answer=rows.get(answer.link.article_id) if answer else None,
                    candidates=self.ranked_candidates(status.effective.ranked, rows),
                    cluster=self._cluster_view(status),
                )
            )
        return out

    def _cluster_view(self, status: QuestionStatus) -> ClusterView | None:
        """The question's duplicate cluster, with the decision of its most recently decided member offered to the rest."""
        cluster = self.linking.clusters().get(status.question.id)
        if cluster is None:
            return None
        members = self.question_statuses(self.linking.cluster_members(status.question.id))
        everyone = [status, *members]
        source = source_of(everyone)
        items = offer(source, everyone) if source is not None else []
        return ClusterView(cluster, members, source.question.id if source is not None and items else None, items)
