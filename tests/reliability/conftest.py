"""Shared pieces of the reliability tests: a small fake-encoder service, a real service process, DB dumps."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from recommender.articles.model import Article, Section
from recommender.config import Settings
from recommender.engine import Engine
from tests.conftest import ROOT, add_editor
from tests.fakes import HashingEncoder

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
    engine: Engine
    token: str
    headers: dict[str, str] = field(default_factory=dict)


@pytest.fixture()
def fake_service(tmp_path: Path) -> Iterator[FakeService]:
    # Low thresholds: the hashing encoder scores lower than the real model, and tests want answers.
    settings = Settings(db=tmp_path / "fake.db", refresh_seconds=0, gap_threshold=0.05, related_threshold=0.05)
    engine = Engine.open(settings, encoder=HashingEncoder())
    engine.ingest(small_articles())
    token = add_editor(engine.store, "alice")
    yield FakeService(engine, token, {"Authorization": f"Bearer {token}"})
    engine.close()


def dump(db: Path) -> dict[str, list[tuple]]:
    """Every row of every content table, sorted: two equal dumps mean an unchanged database."""
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}  # noqa: S608
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """`recommender serve` in its own process over loopback."""

    base: str
    db: Path
    process: subprocess.Popen
    log: Path

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
            self.process.wait(timeout=30)


# The encoder backend of tests.conftest's `real_encoder` (the service's default, Settings().backend): a
# process started by a test must load the same encoder, or it would re-embed the database it is handed.
SAME_ENCODER = {"RECOMMENDER_BACKEND": Settings().backend, "RECOMMENDER_MODELS_DIR": str(ROOT / "models"), "HF_HUB_OFFLINE": "1"}


def start_server(db: Path, log: Path, **env: str) -> Server:
    port = free_port()
    environment = {
        **os.environ,
        "RECOMMENDER_DB": str(db),
        **SAME_ENCODER,
        "PYTHONUNBUFFERED": "1",  # the log file is read while the server runs
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "recommender.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=environment,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    server = Server(f"http://127.0.0.1:{port}", db, process, log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited: {log.read_text()}")
        try:
            if httpx.get(f"{server.base}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    server.stop(kill=True)
    pytest.fail("server did not start in 120 s")


@pytest.fixture(scope="package")
def served_sample(sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real service over a copy of the sample database, rate limit off (the tests send bursts).

    One process for the package's tests (starting one costs tens of seconds on a busy machine); each
    test reads the state it starts from (decision versions, ETags) instead of assuming a fresh one."""
    folder = tmp_path_factory.mktemp("served")
    db = folder / "served.db"
    shutil.copy(sample_db, db)
    server = start_server(db, folder / "server.log", RECOMMENDER_RATE_LIMIT_PER_MINUTE="0")
    yield server
    server.stop()
