"""What the rest of the service needs from storage; backends implement this protocol."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from recommender.articles.model import Article
from recommender.editorial.auth import EditorRecord, Role


class EncoderMismatch(RuntimeError):
    """Vectors of one encoder would be mixed with another's."""


class StoreUnavailable(RuntimeError):
    """The database cannot be used: unreachable, a schema newer than the code, a missing privilege."""


class StaleStage(RuntimeError):
    """Staged vectors do not cover the current rows (something changed during a model switch)."""


@dataclass(frozen=True)
class StoredArticle:
    """An article with everything derived from it, written in one transaction."""

    article: Article
    content_hash: str
    passages: Sequence[str]
    passage_vectors: np.ndarray
    question_vectors: np.ndarray


@dataclass(frozen=True)
class ArticleRow:
    id: str
    title: str
    checked_on: dt.date | None
    url: str | None
    topic: str | None
    content_hash: str


@dataclass(frozen=True)
class QuestionRow:
    id: str
    article_id: str
    position: int
    text: str
    key: str


@dataclass(frozen=True)
class LinkRow:
    question_id: str
    rank: int
    article_id: str
    score: float
    dense: float
    lexical: float
    passage: int


@dataclass(frozen=True)
class IndexData:
    """Everything an in-memory index needs, read in one consistent snapshot."""

    generation: int
    articles: list[ArticleRow]
    texts: list[str]  # whole article text, for lexical indexing
    passage_vectors: list[np.ndarray]  # per article, in `articles` order
    questions: list[QuestionRow]
    question_vectors: np.ndarray


@dataclass(frozen=True)
class Activity:
    """When the database last changed, for operators (`recommender status`). Times are ISO 8601, UTC."""

    index_changed_at: str | None  # the generation last moved: an article or link write (None: never recorded)
    last_ingest_at: str | None  # the newest article write (ingest, API upsert or import)
    staged: int  # vectors staged by a model switch or reindex and not swapped in yet


class Store(Protocol):
    model_id: str

    def generation(self) -> int: ...
    def stored_model_ids(self) -> set[str]: ...
    def content_hashes(self) -> dict[str, str]: ...
    def passage_vectors_by_text(self, texts: Sequence[str]) -> dict[str, np.ndarray]: ...
    def upsert(self, items: Sequence[StoredArticle]) -> None: ...
    def delete_article(self, article_id: str) -> bool: ...
    def mark_for_linking(self, question_ids: Sequence[str]) -> None: ...
    def reencode(
        self, model_id: str, passage_vectors: dict[tuple[str, int], np.ndarray], question_vectors: dict[str, np.ndarray]
    ) -> None: ...
    def all_texts(self) -> tuple[list[tuple[str, int, str]], list[tuple[str, str]]]: ...
    def load_index(self) -> IndexData: ...
    def questions_to_link(self) -> list[str]: ...
    def replace_links(self, links: dict[str, list[LinkRow]]) -> None: ...
    def last_candidate_scores(self) -> dict[str, tuple[int, float]]: ...
    def get_article(self, article_id: str) -> Article | None: ...
    def get_article_row(self, article_id: str) -> ArticleRow | None: ...
    def article_rows(self, ids: Sequence[str]) -> dict[str, ArticleRow]: ...
    def get_question(self, question_id: str) -> QuestionRow | None: ...
    def questions_of(self, article_id: str) -> list[QuestionRow]: ...
    def links_of(self, question_ids: Sequence[str]) -> dict[str, list[LinkRow]]: ...
    def links_to(self, article_id: str, min_score: float) -> list[LinkRow]: ...
    def passage_text(self, article_id: str, position: int) -> str | None: ...
    def best_links(self) -> list[tuple[QuestionRow, LinkRow | None]]: ...
    def counts(self) -> dict[str, int]: ...
    def activity(self) -> Activity: ...
    # editorial: decisions keyed by (article id, question key), their audit log, editor tokens
    def counters(self) -> tuple[int, int]: ...
    def get_decision(self, article_id: str, key: str) -> Decision | None: ...
    def decisions_for(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Decision]: ...
    def all_decisions(self) -> dict[tuple[str, str], Decision]: ...
    def save_decisions(self, changes: Sequence[tuple[int, Decision, AuditEntry]]) -> None: ...
    def audit_entries(
        self,
        question: tuple[str, str] | None = None,
        question_id: str | None = None,
        article_id: str | None = None,
        editor: str | None = None,
        limit: int = 100,
        offset: int = 0,
        action: str | None = None,
    ) -> tuple[int, list[AuditEntry]]: ...
    def add_editor(self, name: str, token_hash: str, role: Role = "editor") -> None: ...
    def revoke_editor(self, name: str) -> bool: ...
    def editor_records(self) -> list[EditorRecord]: ...
    # learning: superseded fact checks, duplicate-question clusters, background model switch
    def superseded_map(self) -> dict[str, str]: ...
    def set_superseded(self, article_id: str, by_article_id: str | None, entry: AuditEntry) -> None: ...
    def all_clusters(self) -> dict[str, str]: ...
    def cluster_fingerprint(self) -> str | None: ...
    def replace_clusters(self, clusters: dict[str, str], fingerprint: str) -> None: ...
    def update_clusters(self, assign: Mapping[str, str], unassign: Collection[str], fingerprint: str) -> None: ...
    def live_model(self) -> tuple[str | None, str | None]: ...
    def stage_vectors(
        self,
        model_id: str,
        passages: Sequence[tuple[str, int, str, np.ndarray]],
        questions: Sequence[tuple[str, str, np.ndarray]],
    ) -> None: ...
    def unstaged_texts(self, model_id: str) -> tuple[list[tuple[str, int, str]], list[tuple[str, str]]]: ...
    def load_staged_index(self, model_id: str) -> IndexData: ...
    def swap_model(self, model_id: str, name: str, links: dict[str, list[LinkRow]], generation: int) -> None: ...
    def discard_staged(self) -> None: ...
    # reliability: crash-safe relinking after ingest, backup and restore
    def add_pending_articles(self, hashes: Mapping[str, str]) -> None: ...
    def pending_articles(self) -> dict[str, str]: ...
    def clear_pending_articles(self, hashes: Mapping[str, str]) -> None: ...
    def consistent_read(self) -> AbstractContextManager[None]: ...
    def dump(self) -> Dump: ...
    def restore(self, data: Restore, replace: bool = False) -> None: ...
    def close(self) -> None: ...


class VersionConflict(RuntimeError):
    """A decision changed since the version the caller read (optimistic concurrency)."""

    def __init__(self, article_id: str, key: str, current: int) -> None:
        self.article_id = article_id
        self.key = key
        self.current = current
        super().__init__(f"the decision changed meanwhile: it is at version {current}")


@dataclass(frozen=True)
class AuditEntry:
    """One editor decision: who, when, what, and the decision before and after."""

    at: str
    editor: str
    action: str
    question_id: str
    question_key: str
    article_id: str  # the question's own article
    target_id: str | None  # the fact check acted on, if any
    before: dict
    after: dict
    id: int = 0
    role: str | None = None  # the editor's role then (None: made before roles; filled in from the editor when written)


@dataclass(frozen=True)
class Decision:
    """What editors decided about one question (keyed by source article + wording key)."""

    article_id: str
    key: str
    pinned: str | None = None
    approved: str | None = None
    rejected: tuple[str, ...] = ()
    hidden: bool = False
    gap: bool = False
    version: int = 0  # 0: nothing stored yet; each stored change adds one (optimistic concurrency)
    updated_by: str | None = None
    updated_at: str | None = None
    # The pinned/approved fact check as it was when the editor chose it, to notice later changes.
    target_hash: str | None = None
    target_score: float | None = None

    @property
    def target(self) -> str | None:
        return self.pinned or self.approved

    @property
    def reviewed(self) -> bool:
        """An editor settled what the widget shows for this question."""
        return bool(self.pinned or self.approved or self.hidden or self.gap)

    @property
    def empty(self) -> bool:
        return not (self.pinned or self.approved or self.rejected or self.hidden or self.gap)

    def state(self) -> dict:
        """The editorial part, as stored in the audit log (before/after)."""
        return {
            "pinned": self.pinned,
            "approved": self.approved,
            "rejected": list(self.rejected),
            "hidden": self.hidden,
            "gap": self.gap,
            "version": self.version,
        }


@dataclass(frozen=True)
class Superseded:
    article_id: str
    by_article_id: str
    updated_by: str
    updated_at: str


@dataclass(frozen=True)
class Dump:
    """Everything a backup holds, read in one consistent snapshot (vectors and links are derived)."""

    articles: list[Article]
    decisions: list[Decision]
    audit: list[AuditEntry]
    editors: list[EditorRecord]
    superseded: list[Superseded]


@dataclass(frozen=True)
class Restore:
    """What `restore` writes in one transaction: articles with fresh vectors, and the editorial record."""

    articles: Sequence[StoredArticle]
    decisions: Sequence[Decision]
    audit: Sequence[AuditEntry]
    editors: Sequence[EditorRecord]
    superseded: Sequence[Superseded]
