"""The records every layer shares: what the store reads and writes, editors' decisions, their audit.

Plain frozen dataclasses and the errors about them. This module imports nothing of ours at run time
(only the type of an article, for annotations), so every layer, the store included, may import it
and none of them has to import a higher one for a record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np

if TYPE_CHECKING:
    from recommender.articles.model import Article


# -- errors ----------------------------------------------------------------------------------------
class EncoderMismatch(RuntimeError):
    """Vectors of one encoder would be mixed with another's."""


class StoreUnavailable(RuntimeError):
    """The database cannot be used: unreachable, a schema newer than the code, a missing privilege."""


class StaleStage(RuntimeError):
    """Staged vectors do not cover the current rows (something changed during a model switch)."""


class VersionConflict(RuntimeError):
    """A decision changed since the version the caller read (optimistic concurrency)."""

    def __init__(self, article_id: str, key: str, current: int) -> None:
        self.article_id = article_id
        self.key = key
        self.current = current
        super().__init__(f"the decision changed meanwhile: it is at version {current}")


# -- articles, questions, links ----------------------------------------------------------------------
@dataclass(frozen=True)
class StoredArticle:
    """An article with everything derived from it, written in one transaction."""

    article: Article
    content_hash: str
    passages: Sequence[str]
    passage_vectors: np.ndarray
    question_vectors: np.ndarray


@dataclass(frozen=True, slots=True)  # slots: a large index holds one per article and question
class ArticleRow:
    id: str
    title: str
    checked_on: dt.date | None
    url: str | None
    topic: str | None
    content_hash: str


@dataclass(frozen=True, slots=True)
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


# -- editors ---------------------------------------------------------------------------------------
# `publisher` (the publishing system: PUT/DELETE articles), `editor` (review, decisions, audit) or
# `admin` (models, editors, thresholds, and everything the other two may do).
Role = Literal["publisher", "editor", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
DEFAULT_ROLE: Role = "editor"
# The role that every existing token got on migration (they could do everything before roles).
MIGRATED_ROLE: Role = "admin"


@dataclass(frozen=True)
class Editor:
    name: str
    created_at: str
    revoked_at: str | None = None
    role: Role = DEFAULT_ROLE

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def may(self, role: Role) -> bool:
        """An admin may do everything; a publisher or an editor only what their own role allows."""
        return self.role == role or self.role == "admin"


@dataclass(frozen=True)
class EditorRecord:
    editor: Editor
    token_hash: str


# -- editorial record ------------------------------------------------------------------------------
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
    """What editors decided about one question (keyed by source article + wording key).

    How a decision changes and what it does to a ranking is recommender/editorial/decisions.py.
    """

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
    """An editor's word that a newer fact check replaces an older one."""

    article_id: str
    by_article_id: str
    updated_by: str
    updated_at: str
