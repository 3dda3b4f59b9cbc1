"""Shared pieces of the reliability tests: a small fake-encoder service, a real service process, DB dumps."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from recommender.articles.model import Article, Section
from recommender.config import Settings
from recommender.services import Services
from tests.conftest import add_editor
from tests.fakes import HashingEncoder
from tests.server import Server, running

TOPICS = ["tariffs", "vaccines", "inflation", "elections", "climate", "crime", "housing", "energy"]


def small_articles(count: int = 8, prefix: str = "a") -> list[Article]:
    """Articles with questions that answer each other (so links, gaps and related questions exist)."""
    articles = []
    for n in range(count):
        topic, other = TOPICS[n % len(TOPICS)], TOPICS[(n + 1) % len(TOPICS)]
        articles.append(
            Article(
                id=f"{prefix}{n}-{topic}",
                title=f"Do {topic} claims hold up? Article {n}",
                summary=f"What the evidence says about {topic} and who it affects, number {n}.",
                sections=[Section(heading=f"The {topic} numbers", text=f"Data on {topic} rates, costs and {other}.")],
                questions=[f"What about {other} claims in case {n}?", f"Who pays for {topic} number {n}?"],
                url=f"https://example.org/{prefix}{n}",
                topic=topic,
            )
        )
    return articles


@dataclass
class FakeService:
    services: Services
    token: str
    headers: dict[str, str] = field(default_factory=dict)


@pytest.fixture()
def fake_service(tmp_path: Path) -> Iterator[FakeService]:
    # Low thresholds: the hashing encoder scores lower than the real model, and tests want answers.
    settings = Settings(
        db=tmp_path / "fake.db", refresh_seconds=0, gap_threshold=0.05, related_threshold=0.05,
        related_topic_threshold=-1.0,  # the hashing encoder's article similarities mean little
    )
    services = Services.start(settings, encoder=HashingEncoder())
    services.catalog.ingest(small_articles())
    token = add_editor(services.store, "alice")
    yield FakeService(services, token, {"Authorization": f"Bearer {token}"})
    services.close()


def dump(db: Path) -> dict[str, list[tuple]]:
    """Every row of every content table, sorted: two equal dumps mean an unchanged database."""
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}  # noqa: S608
    finally:
        conn.close()


@pytest.fixture(scope="package")
def served_sample(sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real service over a copy of the sample database, rate limit off (the tests send bursts).

    One process for the package's tests (starting one costs tens of seconds on a busy machine); each
    test reads the state it starts from (decision versions, ETags) instead of assuming a fresh one."""
    folder = tmp_path_factory.mktemp("served")
    db = folder / "served.db"
    shutil.copy(sample_db, db)
    with running(folder / "server.log", db, RECOMMENDER_RATE_LIMIT_PER_MINUTE="0") as server:
        yield server
