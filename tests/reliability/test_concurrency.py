"""Concurrency against the real service process: two editors deciding on the same question at once
(one wins, the other gets 409, nothing overwritten), and widget reads that keep succeeding while
another process re-ingests every article. Also what the running process shows: no server header,
security headers, and no token in its log."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from recommender.articles.loader import load_paths
from recommender.articles.text_format import format_text
from recommender.store.sqlite import SQLiteStore
from tests.conftest import SAMPLE, add_editor
from tests.server import Server, cli_process, environment

pytestmark = pytest.mark.slow


def tokens(db: Path, *names: str) -> list[str]:
    store = SQLiteStore(db, model_id="-")
    try:
        return [add_editor(store, name) for name in names]
    finally:
        store.close()


def test_two_editors_deciding_at_once_one_wins_the_other_gets_409(served_sample: Server) -> None:
    base = served_sample.base
    alice, bob = tokens(served_sample.db, "alice", "bob")
    review = httpx.get(
        f"{base}/v1/review", params={"limit": 10}, headers={"Authorization": f"Bearer {alice}"}, timeout=30
    )
    questions = [item["question"]["id"] for item in review.json()["items"]][:6]
    assert len(questions) == 6
    for question_id in questions:
        url = f"{base}/v1/questions/{question_id}/decision"
        seen = httpx.get(url, headers={"Authorization": f"Bearer {alice}"}, timeout=30)
        version = seen.json()["decision"]["version"]
        audit_url = f"{base}/v1/audit"
        history = httpx.get(
            audit_url, params={"question_id": question_id}, headers={"Authorization": f"Bearer {alice}"}, timeout=30
        )
        entries_before = history.json()["total"]
        assert seen.headers["ETag"] == f'"{version}"'
        barrier = threading.Barrier(2)
        results: dict[str, httpx.Response] = {}

        def decide(name: str, token: str, action: str) -> None:
            with httpx.Client(timeout=30) as client:
                barrier.wait()  # both requests leave together
                results[name] = client.post(
                    url,
                    json={"action": action},
                    headers={"Authorization": f"Bearer {token}", "If-Match": f'"{version}"'},
                )

        threads = [
            threading.Thread(target=decide, args=("alice", alice, "approve")),
            threading.Thread(target=decide, args=("bob", bob, "hide")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        statuses = sorted(r.status_code for r in results.values())
        assert statuses == [200, 409], {n: (r.status_code, r.text) for n, r in results.items()}
        winner = next(n for n, r in results.items() if r.status_code == 200)
        loser = results["bob" if winner == "alice" else "alice"]
        assert loser.json()["version"] == version + 1 and "changed meanwhile" in loser.json()["detail"]
        final = httpx.get(url, headers={"Authorization": f"Bearer {alice}"}, timeout=30).json()["decision"]
        assert final["version"] == version + 1 and final["updated_by"] == winner
        assert final["hidden"] == (winner == "bob")  # the winner's action, not a merge of both
        assert (final["approved"] is not None) == (winner == "alice")
        audit = httpx.get(
            audit_url, params={"question_id": question_id}, headers={"Authorization": f"Bearer {alice}"}, timeout=30
        )
        assert audit.json()["total"] == entries_before + 1 and audit.json()["items"][0]["editor"] == winner

    # What the running process shows: no server header, security headers, and tokens in no log line.
    response = httpx.get(f"{base}/v1/articles/health-measles-outbreaks-2025/dive-deeper", timeout=30)
    assert "server" not in response.headers and response.headers["X-Content-Type-Options"] == "nosniff"
    page = httpx.get(f"{base}/demo/", timeout=30)
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"] and "server" not in page.headers
    httpx.get(f"{base}/v1/review", headers={"Authorization": f"Bearer {alice}x"}, timeout=30)  # a wrong token
    time.sleep(0.5)
    log = served_sample.log.read_text()
    assert "POST /v1/questions/" in log  # the access log is on
    for token in (alice, bob):
        assert token not in log and token[3:20] not in log


def test_widget_reads_keep_succeeding_during_a_re_ingest(served_sample: Server, tmp_path: Path) -> None:
    base = served_sample.base
    folder = tmp_path / "changed"
    folder.mkdir()
    articles = [item.article for item in load_paths([SAMPLE / "articles"])]
    watched = [a.id for a in articles if a.questions][:8]
    others = [a for a in articles if a.id not in watched][:16]
    for article in [a for a in articles if a.id in watched] + others:  # 24 articles change: re-embedded, relinked
        changed = article.model_copy(update={"summary": article.summary + " Updated with a note from the desk."})
        (folder / f"{article.id}.txt").write_text(format_text(changed))
    before = {a: httpx.get(f"{base}/v1/articles/{a}/dive-deeper", timeout=30).headers["ETag"] for a in watched}

    env = environment(RECOMMENDER_DB=str(served_sample.db), RECOMMENDER_INGEST_BATCH_SIZE="8")
    ingest = cli_process("ingest", str(folder), env=env)
    failures: list[str] = []
    done = threading.Event()
    counts = [0] * 4

    def reader(n: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            i = 0
            while not done.is_set():
                article_id = watched[(i + n) % len(watched)]
                i += 1
                try:
                    response = client.get(f"/v1/articles/{article_id}/dive-deeper")
                    body = response.json()
                    if response.status_code != 200 or body["article"]["id"] != article_id or not body["questions"]:
                        failures.append(f"{article_id}: {response.status_code} {response.text[:200]}")
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    failures.append(f"{article_id}: {type(exc).__name__}: {exc}")
                counts[n] += 1

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        out, err = ingest.communicate(timeout=600)
        time.sleep(2.5)  # past the server's refresh interval: reads of the new index too
    finally:
        done.set()
        for thread in threads:
            thread.join(60)
    assert ingest.returncode == 0, err
    assert "0 added, 24 updated" in out
    assert not failures, failures[:5]
    assert sum(counts) > 20, counts  # the readers really ran during the ingest
    after = {a: httpx.get(f"{base}/v1/articles/{a}/dive-deeper", timeout=30).headers["ETag"] for a in watched}
    assert all(after[a] != before[a] for a in watched)  # the server serves the new index
