"""What readers see equals a recomputation: 100+ articles published, edited and deleted through the API,
the server killed mid-write and restarted, then `recommender verify`; the same after export and import."""

from __future__ import annotations

import random
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from recommender.articles.loader import load_paths
from recommender.articles.model import Article, normalize_question
from recommender.store.sqlite import SQLiteStore
from tests.conftest import SAMPLE, add_editor
from tests.server import CLI, environment, start_server

pytestmark = pytest.mark.slow
OPERATIONS = 110


def body(rng: random.Random, base: Article, donor: Article) -> dict:
    """A new fact check made of two sample articles' pieces: it competes with them for real questions."""
    sections = [*rng.sample(base.sections, k=max(1, len(base.sections) - 1)), rng.choice(donor.sections)]
    questions: dict[str, str] = {}
    for text in rng.sample([*base.questions, *donor.questions], k=min(3, len(base.questions) + len(donor.questions))):
        questions.setdefault(normalize_question(text), text)
    return {
        "title": rng.choice([base.title, donor.title]),
        "checked_on": str(rng.choice([base.checked_on, donor.checked_on]) or "2025-01-01"),
        "summary": " ".join(rng.sample(f"{base.summary} {donor.summary}".split(), k=25)) + ".",
        "sections": [{"heading": s.heading, "text": s.text} for s in sections],
        "questions": list(questions.values())[:2],
    }


def verify(db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "verify"], env=environment(RECOMMENDER_DB=str(db)), capture_output=True, text=True, timeout=600
    )


@pytest.mark.costly(85)
def test_published_edited_deleted_and_crashed_links_equal_a_recomputation(sample_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    shutil.copy(sample_db, db)
    store = SQLiteStore(db, model_id="-")
    token = add_editor(store, "publisher")
    store.close()
    headers = {"Authorization": f"Bearer {token}"}
    sample = [item.article for item in load_paths([SAMPLE / "articles"])]
    rng = random.Random(12)
    env = {"RECOMMENDER_RATE_LIMIT_PER_MINUTE": "0"}
    server = start_server(tmp_path / "server.log", db, **env)
    published: list[str] = []
    written = 0
    try:
        for n in range(OPERATIONS):
            roll = rng.random()
            if n == OPERATIONS // 2:
                # SIGKILL while a write is under way: it is either stored whole or not at all.
                doomed = f"crash-{n}"
                put = threading.Thread(
                    target=lambda: httpx.put(
                        f"{server.base}/v1/articles/{doomed}",
                        json=body(rng, rng.choice(sample), rng.choice(sample)),
                        headers=headers,
                        timeout=60,
                    ),
                    daemon=True,
                )
                put.start()
                time.sleep(0.3)
                server.stop(kill=True)
                put.join(timeout=60)
                server = start_server(tmp_path / "server2.log", db, **env)
                continue
            if published and roll < 0.15:
                victim = published.pop(rng.randrange(len(published)))
                response = httpx.delete(f"{server.base}/v1/articles/{victim}", headers=headers, timeout=60)
            else:
                if published and roll < 0.35:
                    article_id = rng.choice(published)  # an edit
                else:
                    article_id = f"gen-{n:03d}"
                    published.append(article_id)
                payload = body(rng, rng.choice(sample), rng.choice(sample))
                response = httpx.put(f"{server.base}/v1/articles/{article_id}", json=payload, headers=headers, timeout=60)
            assert response.status_code in (200, 201, 204), response.text
            written += 1
        assert httpx.get(f"{server.base}/v1/articles/{published[0]}/dive-deeper", timeout=30).status_code == 200
    finally:
        server.stop()
    assert written >= 100

    checked = verify(db)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 with links that differ from a recomputation, 0 whose shown answer differs" in checked.stdout

    backup = tmp_path / "backup.jsonl"
    exported = subprocess.run([*CLI, "export", str(backup)], env=environment(RECOMMENDER_DB=str(db)), capture_output=True, text=True, timeout=600)
    assert exported.returncode == 0, exported.stderr
    restored = tmp_path / "restored.db"
    imported = subprocess.run(
        [*CLI, "import", str(backup)], env=environment(RECOMMENDER_DB=str(restored)), capture_output=True, text=True, timeout=900
    )
    assert imported.returncode == 0, imported.stderr
    checked = verify(restored)
    assert checked.returncode == 0, checked.stdout + checked.stderr
