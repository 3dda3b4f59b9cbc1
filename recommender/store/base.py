"""What the rest of the service needs from storage, one protocol part per aggregate, and the store's own records.

The records every layer shares (ArticleRow, Decision, ...) are in recommender/domain.py; these are
what only storage hands out: an index's data in one snapshot, activity figures, a backup's content.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from recommender.articles.model import Article
from recommender.domain import (
    ArticleRow,
    AuditEntry,
    Decision,
    EditorRecord,
    LinkRow,
    QuestionRow,
    Role,
    StoredArticle,
    Superseded,
)
from recommender.store.vectors import Int8Rows


@dataclass(frozen=True)
class IndexData:
    """Everything an in-memory index needs, read in one consistent snapshot."""

    generation: int
    articles: list[ArticleRow]
    texts: list[str]  # whole article text, for lexical indexing
    passage_vectors: list[np.ndarray | Int8Rows]  # per article, in `articles` order (float32 or quantised)
    questions: list[QuestionRow]
    question_vectors: np.ndarray | Int8Rows


@dataclass(frozen=True)
class IndexChanges:
    """The indexed content that changed after some generation, up to `generation`, read in one
    consistent snapshot: articles written (as stored now) and ids no longer stored."""

    generation: int
    written: list[StoredArticle]
    deleted: list[str]


@dataclass(frozen=True)
class Activity:
    """When the database last changed, for operators (`recommender status`). Times are ISO 8601, UTC."""

    index_changed_at: str | None  # the generation last moved: an article or link write (None: never recorded)
    last_ingest_at: str | None  # the newest article write (ingest, API upsert or import)
    staged: int  # vectors staged by a model switch or reindex and not swapped in yet


class ArticleStore(Protocol):
    """Articles with their passages and vectors (store/articles.py); `generation` counts their writes."""

    model_id: str

    def generation(self) -> int: ...
    def changes_since(self, generation: int, limit: int) -> IndexChanges | None: ...
    def stored_model_ids(self) -> set[str]: ...
    def content_hashes(self) -> dict[str, str]: ...
    def passage_vectors_by_text(self, texts: Sequence[str]) -> dict[str, np.ndarray]: ...
    def upsert(self, items: Sequence[StoredArticle]) -> None: ...
    def delete_article(self, article_id: str) -> bool: ...
    def reencode(
        self, model_id: str, passage_vectors: dict[tuple[str, int], np.ndarray], question_vectors: dict[str, np.ndarray]
    ) -> None: ...
    def all_texts(self) -> tuple[list[tuple[str, int, str]], list[tuple[str, str]]]: ...
    def load_index(self, vectors: bool = True) -> IndexData: ...
    def get_article(self, article_id: str) -> Article | None: ...
    def get_article_row(self, article_id: str) -> ArticleRow | None: ...
    def article_rows(self, ids: Sequence[str]) -> dict[str, ArticleRow]: ...
    def passage_text(self, article_id: str, position: int) -> str | None: ...
    def counts(self) -> dict[str, int]: ...
    def activity(self) -> Activity: ...
    # crash-safe relinking after ingest: the relinks an article write still owes
    def add_pending_articles(self, hashes: Mapping[str, str]) -> None: ...
    def pending_articles(self) -> dict[str, str]: ...
    def clear_pending_articles(self, hashes: Mapping[str, str]) -> None: ...


class QuestionStore(Protocol):
    """Questions, their computed links and duplicate-question clusters (store/questions.py)."""

    def mark_for_linking(self, question_ids: Sequence[str]) -> None: ...
    def link_settings(self) -> str | None: ...
    def relink_under(self, settings: str) -> int: ...
    def record_link_settings(self, settings: str) -> None: ...
    def questions_to_link(self) -> list[str]: ...
    def replace_links(self, links: dict[str, list[LinkRow]]) -> None: ...
    def last_candidate_scores(self) -> dict[str, tuple[int, float]]: ...
    def get_question(self, question_id: str) -> QuestionRow | None: ...
    def questions_of(self, article_id: str) -> list[QuestionRow]: ...
    def links_of(self, question_ids: Sequence[str]) -> dict[str, list[LinkRow]]: ...
    def links_to(self, article_id: str, min_score: float) -> list[LinkRow]: ...
    def best_links(self) -> list[tuple[QuestionRow, LinkRow | None]]: ...
    def all_clusters(self) -> dict[str, str]: ...
    def cluster_fingerprint(self) -> str | None: ...
    def replace_clusters(self, clusters: dict[str, str], fingerprint: str) -> None: ...
    def update_clusters(self, assign: Mapping[str, str], unassign: Collection[str], fingerprint: str) -> None: ...


class DecisionStore(Protocol):
    """Decisions keyed by (article id, question key), their audit log, superseded fact checks
    (store/decisions.py); `counters` gives (generation, decisions), what a cached response depends on."""

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
    def superseded_map(self) -> dict[str, str]: ...
    def set_superseded(self, article_id: str, by_article_id: str | None, entry: AuditEntry) -> None: ...


class EditorStore(Protocol):
    """Editor tokens, as hashes, with their roles (store/editors.py)."""

    def add_editor(self, name: str, token_hash: str, role: Role = "editor") -> None: ...
    def revoke_editor(self, name: str) -> bool: ...
    def editor_records(self) -> list[EditorRecord]: ...


class ModelStore(Protocol):
    """A background model switch: staged vectors, the live model, the swap (store/models.py)."""

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


class BackupStore(Protocol):
    """Backup and restore in one transaction each, and consistent reads (store/dump.py)."""

    def consistent_read(self) -> AbstractContextManager[None]: ...
    def dump(self) -> Dump: ...
    def restore(self, data: Restore, replace: bool = False) -> None: ...


class Store(ArticleStore, QuestionStore, DecisionStore, EditorStore, ModelStore, BackupStore, Protocol):
    """Everything the service needs from storage: SQLiteStore (store/sqlite.py), PostgresStore (store/postgres.py)."""

    def close(self) -> None: ...


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
