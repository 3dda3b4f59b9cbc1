"""The store contract suite: every test taking `store` runs on SQLite and on PostgreSQL.

PostgreSQL runs are skipped, with the reason, when scripts/start_postgres.sh cannot start a server.
Records are built here with small deterministic vectors (no encoder): these tests are about storage.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from recommender.articles.model import Article, Section
from recommender.config import Settings
from recommender.domain import AuditEntry, LinkRow, StoredArticle
from recommender.store.base import Store
from recommender.store.factory import open_store
from tests.conftest import BOTH_STORES

DIM = 4
MODEL = "m@1"


@pytest.fixture(params=BOTH_STORES)
def store_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture()
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(settings, MODEL)
    yield opened
    opened.close()


@pytest.fixture()
def other_store(settings: Settings) -> Iterator[Store]:
    """A second connection to the same database (another process's view)."""
    opened = open_store(settings, MODEL)
    yield opened
    opened.close()


def vector(text: str, dim: int = DIM) -> np.ndarray:
    """A unit vector that depends only on `text`."""
    values = np.random.default_rng(zlib.crc32(text.encode())).standard_normal(dim).astype(np.float32)
    return values / np.linalg.norm(values)


def article(article_id: str, questions: Sequence[str] = (), body: str = "", checked_on: dt.date | None = None) -> Article:
    return Article(
        id=article_id,
        title=f"Title of {article_id}",
        summary=f"Summary of {article_id}.",
        sections=[Section(heading="Details", text=body or f"Body of {article_id}.")],
        questions=list(questions),
        checked_on=checked_on,
    )


def stored(item: Article, passages: Sequence[str] | None = None, dim: int = DIM, content_hash: str | None = None) -> StoredArticle:
    texts = list(passages) if passages is not None else [item.body_text()]
    return StoredArticle(
        article=item,
        content_hash=content_hash or item.content_hash(),
        passages=texts,
        passage_vectors=np.stack([vector(t, dim) for t in texts]) if texts else np.zeros((0, dim), np.float32),
        question_vectors=(
            np.stack([vector(q, dim) for q in item.questions]) if item.questions else np.zeros((0, dim), np.float32)
        ),
    )


def link(question_id: str, rank: int, article_id: str, score: float) -> LinkRow:
    return LinkRow(question_id, rank, article_id, score, dense=score, lexical=0.0, passage=0)


def entry(editor: str = "ann", action: str = "approve", question: str = "a-q1", key: str = "k", article_id: str = "a",
          target: str | None = "b", at: str = "2026-01-01T00:00:00+00:00") -> AuditEntry:
    return AuditEntry(at=at, editor=editor, action=action, question_id=question, question_key=key, article_id=article_id,
                      target_id=target, before={}, after={"approved": target})
