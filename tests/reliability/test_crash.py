"""Crashes: the ingest and the re-index killed with SIGKILL half-way, then restarted.

After the kill the database is consistent (every article fully old or fully new, no orphan
passages, questions or links, no decision lost) and the service answers as before; the next open
finishes the relinking the dead process owed, and running the command again completes its work.
"""

from __future__ import annotations

import random
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from recommender.api import create_app
from recommender.articles.jsonl import write_jsonl
from recommender.articles.loader import load_paths
from recommender.articles.model import Article, Section
from recommender.config import Settings
from recommender.services import Services
from recommender.linking.linker import compute_links
from recommender.store.sqlite import SQLiteStore
from tests.conftest import ROOT, SAMPLE
from tests.fakes import HashingEncoder
from tests.reliability.conftest import dump, small_articles
from tests.reliability.test_backup import rounded
from tests.server import CLI, cli_process, environment, start_server

SYLLABLES = ["zor", "blat", "quen", "tive", "mor", "plex", "vand", "rith", "gol", "snee", "trup", "wix"]


def nonsense(rng: random.Random, words: int) -> str:
    return " ".join("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))) for _ in range(words))


def generated(count: int) -> list[Article]:
    """Articles about nothing the sample covers: they must not change what its widget shows."""
    rng = random.Random(0)
    return [
        Article(
            id=f"gen-{n:04d}",
            title=f"Is the {nonsense(rng, 3)} true?",
            summary=nonsense(rng, 30) + ".",
            sections=[Section(heading=nonsense(rng, 3), text=nonsense(rng, 40) + ".")],
            questions=[f"Does {nonsense(rng, 4)} {nonsense(rng, 2)}?" for _ in range(2)],
        )
        for n in range(count)
    ]


def cli_env(db: Path, **extra: str) -> dict[str, str]:
    return environment(RECOMMENDER_DB=str(db), **extra)


def read(db: Path, sql: str) -> Any:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return None  # busy or not created yet: ask again
    finally:
        conn.close()


def kill_when(process: subprocess.Popen, ready, timeout: float = 300) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL the process as soon as `ready()` (it has started writing); fail if it finished first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            assert process.returncode == -signal.SIGKILL
            return
        if process.poll() is not None:
            pytest.fail(f"finished before it could be killed: {process.stderr.read() if process.stderr else ''}")
        time.sleep(0.02)
    process.kill()
    pytest.fail("never started writing")


def check_consistent(db: Path, versions: dict[str, set[str]], encoder) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Integrity, no orphans, every article fully one of its allowed versions; returns id -> hash."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        orphans = {
            "passages": "SELECT COUNT(*) FROM passages WHERE article_id NOT IN (SELECT id FROM articles)",
            "questions": "SELECT COUNT(*) FROM questions WHERE article_id NOT IN (SELECT id FROM articles)",
            "links of questions": "SELECT COUNT(*) FROM links WHERE question_id NOT IN (SELECT id FROM questions)",
            "links to articles": "SELECT COUNT(*) FROM links WHERE article_id NOT IN (SELECT id FROM articles)",
            "articles without passages": "SELECT COUNT(*) FROM articles WHERE id NOT IN (SELECT article_id FROM passages)",
        }
        for name, sql in orphans.items():
            assert conn.execute(sql).fetchone()[0] == 0, name
        stored = dict(conn.execute("SELECT id, content_hash FROM articles"))
    finally:
        conn.close()
    store = SQLiteStore(db, encoder.model_id)  # the store alone: opening an services would relink
    try:
        for article_id, content_hash in stored.items():
            assert content_hash in versions.get(article_id, set()), f"{article_id}: an unknown version"
            rebuilt = store.get_article(article_id)
            assert rebuilt is not None and rebuilt.content_hash() == content_hash, f"{article_id}: rows of two versions"
    finally:
        store.close()
    return stored


def links_are_current(services: Services) -> None:
    """Stored links equal links computed afresh over the current index (dense scores need no corpus stats)."""
    snapshot = services.holder.snapshot()
    ids = [q.id for q in snapshot.questions]
    fresh = compute_links(snapshot, ids, services.settings.candidates)
    stored = services.store.links_of(ids)
    stale = [
        q
        for q in ids
        if {(r.article_id, round(r.score, 4)) for r in stored[q]}
        != {(r.article_id, round(r.score, 4)) for r in fresh[q]}
    ]
    assert not stale, f"{len(stale)} questions with stale links, e.g. {stale[:3]}"
    assert services.store.counts()["pending"] == 0
    # A version recorded as pending is forgotten once it is stored and linked. A batch the killed
    # ingest recorded but never wrote stays recorded (harmless: it is only relinked again) until an
    # ingest stores it.
    linked = {a: h for a, h in services.store.pending_articles().items() if (r := snapshot.articles.get(a)) and r.content_hash == h}
    assert not linked, f"stored and linked, yet still pending: {sorted(linked)[:3]}"


def without_urls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_urls(v) for k, v in value.items() if k != "url"}
    if isinstance(value, list):
        return [without_urls(v) for v in value]
    return value


def widget(services: Services, article_ids: list[str]) -> dict[str, Any]:
    """What the widget shows for each article; fact-check URLs left out (the ingest test changes them)."""
    with TestClient(create_app(services.settings, services=services)) as client:
        return {a: without_urls(rounded(client.get(f"/v1/articles/{a}/dive-deeper").json())) for a in article_ids}


# -- the mechanism, deterministic and fast ----------------------------------------------------------
def test_a_crash_between_writing_and_relinking_is_finished_by_the_next_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(db=tmp_path / "c.db", method="dense", refresh_seconds=0, ingest_batch_size=2)
    services = Services.start(settings, encoder=HashingEncoder())
    services.catalog.ingest(small_articles(8))
    # New articles that answer questions of the old ones better than anything stored.
    answers = [
        Article(id=f"answer-{n}", title=f"Who pays for tariffs number {n}", summary=f"Who pays for tariffs number {n}.")
        for n in range(3)
    ]
    import recommender.services.linking as linking_module

    def die(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("the process dies here")

    monkeypatch.setattr(linking_module, "compute_links", die)
    with pytest.raises(KeyboardInterrupt):
        services.catalog.ingest(answers)
    monkeypatch.undo()
    services.store.close()  # no clean shutdown: the next process opens the file as it was left

    assert {"answer-0", "answer-1", "answer-2"} <= {row[0] for row in dump(settings.db)["articles"]}  # written
    reopened = Services.start(settings, encoder=HashingEncoder())
    try:
        links_are_current(reopened)
        best = reopened.store.links_of(["a0-tariffs-q2"])["a0-tariffs-q2"][0]
        assert best.article_id == "answer-0"  # an old question now linked to an article of the dead ingest
    finally:
        reopened.close()


# -- the real thing: CLI processes killed with SIGKILL ----------------------------------------------
@pytest.fixture()
def dense_sample(sample_db: Path, tmp_path: Path, real_encoder) -> Iterator[tuple[Path, Settings]]:  # type: ignore[no-untyped-def]
    """A copy of the sample database relinked with dense scores (exact to compare), with decisions."""
    db = tmp_path / "crash.db"
    shutil.copy(sample_db, db)
    settings = Settings(db=db, models_dir=ROOT / "models", method="dense", refresh_seconds=0)
    services = Services.start(settings, encoder=real_encoder)
    services.linking.relink_all()
    answered = [s for s in services.reading.statuses() if s.effective.answer is not None]
    services.editorial.decide(answered[0].question.id, "pin", answered[0].links[-1].article_id, "alice")
    services.editorial.decide(answered[1].question.id, "reject", None, "alice")
    services.editorial.decide(answered[2].question.id, "hide", None, "bob")
    services.close()
    yield db, settings


@pytest.mark.slow
@pytest.mark.costly(41)
def test_ingest_killed_half_way_leaves_a_consistent_database_and_completes(
    dense_sample: tuple[Path, Settings],
    tmp_path: Path,
    real_encoder,  # type: ignore[no-untyped-def]
) -> None:
    db, settings = dense_sample
    sample = {item.article.id: item.article for item in load_paths([SAMPLE / "articles"])}
    # Updates a reader can see in the widget (the fact check's link) without moving any score, so that
    # "answers as before" is exact: every other widget field must be unchanged.
    updated = [a.model_copy(update={"url": f"https://example.org/v2/{a.id}"}) for a in list(sample.values())[::3]]
    new = generated(100)  # 11 batches of 10 with the updates: the kill lands after the first, long before the last
    folder = tmp_path / "ingest"
    folder.mkdir()
    write_jsonl(sorted(updated + new, key=lambda a: a.id), folder / "batch.jsonl")  # JSON Lines keep every field
    versions = {a.id: {a.content_hash()} for a in sample.values()}
    for article in updated + new:
        versions.setdefault(article.id, set()).add(article.content_hash())
    untouched = sorted(sample)
    services = Services.start(settings, encoder=real_encoder)
    before_widget = widget(services, untouched)
    decisions = services.store.all_decisions()
    generation = services.store.generation()
    services.close()

    env = cli_env(db, RECOMMENDER_METHOD="dense", RECOMMENDER_INGEST_BATCH_SIZE="10")
    process = cli_process("ingest", str(folder), env=env)
    kill_when(
        process,
        lambda: (read(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'") or 0) > generation,
    )

    stored = check_consistent(db, versions, real_encoder)
    written = sum(1 for a in new if a.id in stored)
    assert 0 < written + sum(1 for a in updated if a.content_hash() == stored[a.id]) < len(new) + len(updated)

    # Restart the service: it opens the database, finishes the relinking and answers as before.
    log = tmp_path / "server.log"
    server = start_server(log, db, RECOMMENDER_METHOD="dense", RECOMMENDER_RATE_LIMIT_PER_MINUTE="0")
    try:
        for article_id in untouched:
            response = httpx.get(f"{server.base}/v1/articles/{article_id}/dive-deeper", timeout=30)
            assert without_urls(rounded(response.json())) == before_widget[article_id], article_id
        for article_id in stored:
            assert httpx.get(f"{server.base}/v1/articles/{article_id}/dive-deeper", timeout=30).status_code == 200
    finally:
        server.stop()
    services = Services.start(settings, encoder=real_encoder)
    try:
        links_are_current(services)
        assert services.store.all_decisions() == decisions
    finally:
        services.close()

    # Running the ingest again completes the rest.
    rerun = subprocess.run(
        [*CLI, "ingest", str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert rerun.returncode == 0, rerun.stderr
    stored = check_consistent(db, versions, real_encoder)
    assert all(stored[a.id] == a.content_hash() for a in updated + new)
    services = Services.start(settings, encoder=real_encoder)
    try:
        links_are_current(services)
        assert not services.store.pending_articles()
        assert services.store.all_decisions() == decisions
        assert widget(services, untouched) == before_widget
    finally:
        services.close()


@pytest.mark.slow
@pytest.mark.costly(20)
def test_reindex_killed_half_way_keeps_serving_the_old_index_and_resumes(
    sample_db: Path,
    tmp_path: Path,
    real_encoder,  # type: ignore[no-untyped-def]
) -> None:
    db = tmp_path / "reindex.db"
    shutil.copy(sample_db, db)
    settings = Settings(db=db, models_dir=ROOT / "models", refresh_seconds=0)
    live = ("articles", "passages", "questions", "links", "decisions")
    services = Services.start(settings, encoder=real_encoder)
    # A third of the sample: a reindex re-encodes every passage and question (twice here, in part).
    for n, article_id in enumerate(sorted(services.holder.snapshot().articles)):
        if n % 3:
            services.catalog.delete(article_id)
    ids = sorted(services.holder.snapshot().articles)
    before_widget = widget(services, ids)
    services.close()
    before = {t: rows for t, rows in dump(db).items() if t in live}
    total = read(db, "SELECT COUNT(*) FROM passages") + read(db, "SELECT COUNT(*) FROM questions")

    env = cli_env(db, RECOMMENDER_REINDEX_BATCH_SIZE="4")
    process = cli_process("reindex", env=env)
    staged = "SELECT (SELECT COUNT(*) FROM staged_passages) + (SELECT COUNT(*) FROM staged_questions)"
    kill_when(process, lambda: (read(db, staged) or 0) > 0)

    versions = {row[0]: {row[8]} for row in before["articles"]}
    check_consistent(db, versions, real_encoder)
    assert {t: rows for t, rows in dump(db).items() if t in live} == before  # the live index untouched
    assert 0 < read(db, staged) < total

    services = Services.start(settings, encoder=real_encoder)  # a restart serves the old index as it was
    try:
        assert widget(services, ids) == before_widget
    finally:
        services.close()

    rerun = subprocess.run(
        [*CLI, "reindex"],
        env={**env, "RECOMMENDER_REINDEX_BATCH_SIZE": "256"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert rerun.returncode == 0, rerun.stderr
    found = re.search(r": (\d+) passages and questions re-embedded", rerun.stdout)
    redone = int(found.group(1)) if found else 0
    assert redone < total, rerun.stdout  # it resumed from the staged batches
    assert read(db, staged) == 0
    check_consistent(db, versions, real_encoder)
    services = Services.start(settings, encoder=real_encoder)
    try:
        assert widget(services, ids) == before_widget
        assert services.store.counts()["pending"] == 0
    finally:
        services.close()


def test_readers_never_see_a_half_built_index_during_a_reindex(tmp_path: Path) -> None:
    """A reindex in one thread, readers in others: every reader sees the whole index before the swap or
    the whole index after it, never a mix. (Before and after may differ only where the hashing encoder's
    exact score ties are broken another way by a recomputation.)"""
    import threading

    settings = Settings(
        db=tmp_path / "r.db", refresh_seconds=0, gap_threshold=0.05, related_threshold=0.05,
        related_topic_threshold=-1.0,  # the hashing encoder's article similarities mean little
    )
    services = Services.start(settings, encoder=HashingEncoder())
    services.catalog.ingest(small_articles(12))
    ids = sorted(services.holder.snapshot().articles)

    def answers() -> dict[str, Any]:
        return {a: rounded(repr(services.reading.dive_deeper(a))) for a in ids}

    before = answers()
    seen: list[dict[str, Any]] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            seen.append(answers())

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        job = services.models.reindex(batch_size=2)
    finally:
        done.set()
        for thread in threads:
            thread.join(30)
    try:
        after = answers()
        assert job.state == "done" and job.done > 0
        assert seen  # each answer (one article's) is wholly from before or wholly from after the swap
        assert all(s[a] in (before[a], after[a]) for s in seen for a in ids)
        assert services.store.counts()["pending"] == 0
    finally:
        services.close()
