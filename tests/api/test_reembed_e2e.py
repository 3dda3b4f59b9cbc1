"""A real server started on vectors of another encoder serves throughout its background re-embedding;
`recommender reembed` does the same in the foreground. Real model, two backends (ONNX fp32 vs int8)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from recommender import cli
from recommender.articles.model import Article
from recommender.config import Settings
from recommender.embedding.factory import create_encoder
from recommender.services import Services
from tests.conftest import ROOT
from tests.server import launch

pytestmark = pytest.mark.slow
ARTICLE = "health-measles-outbreaks-2025"


def stored_ids(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT model_id FROM passages UNION SELECT model_id FROM questions")}


@pytest.fixture()
def fp32_db(tmp_path: Path, sample_articles: list[Article]) -> tuple[Path, str]:
    """A small corpus embedded with the ONNX fp32 backend; the service's default backend is onnx-int8."""
    encoder = create_encoder(Settings().model, ROOT / "models", backend="onnx")  # the default model, on fp32
    assert not encoder.model_id.endswith("+int8row2")
    chosen = [a for a in sample_articles if a.id.startswith("health-")][:10]
    assert ARTICLE in {a.id for a in chosen}
    db = tmp_path / "fp32.db"
    services = Services.start(Settings(db=db, models_dir=ROOT / "models"), encoder=encoder)
    services.catalog.ingest(chosen)
    # Hide its last question: its first is the one it shows (related questions no longer pad an article
    # whose own questions are gaps or hidden, and the requests below need something to show).
    services.editorial.decide(services.store.questions_of(ARTICLE)[-1].id, "hide", None, "alice")
    services.close()
    return db, encoder.model_id


def test_reembed_command_switches_to_the_configured_backend(fp32_db: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    db, old_id = fp32_db
    monkeypatch.setenv("RECOMMENDER_DB", str(db))
    monkeypatch.setenv("RECOMMENDER_MODELS_DIR", str(ROOT / "models"))
    monkeypatch.setenv("RECOMMENDER_BACKEND", "onnx-int8")
    before = sqlite3.connect(db).execute("SELECT article_id, question_key, hidden, version FROM decisions").fetchall()
    # A one-shot command leaves the vectors alone (a server might be re-embedding them).
    result = CliRunner().invoke(cli.app, ["suggest", "Is measles spreading?"])
    assert result.exit_code == 0, result.output
    assert stored_ids(db) == {old_id}
    result = CliRunner().invoke(cli.app, ["reembed", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert f"now serving {old_id}+int8row2" in result.output
    assert stored_ids(db) == {f"{old_id}+int8row2"}
    assert sqlite3.connect(db).execute("SELECT article_id, question_key, hidden, version FROM decisions").fetchall() == before
    again = CliRunner().invoke(cli.app, ["reembed"])
    assert again.exit_code == 0 and "nothing to do" in again.output


def test_a_server_configured_with_another_encoder_serves_while_it_re_embeds(fp32_db: tuple[Path, str], tmp_path: Path) -> None:
    db, old_id = fp32_db
    # not waiting for /healthz: the requests from the first one on are what this test watches
    server = launch(
        tmp_path / "server.log",
        db,
        RECOMMENDER_BACKEND="onnx-int8",
        RECOMMENDER_REINDEX_BATCH_SIZE="8",  # many small batches: the switch takes a while
    )
    try:
        statuses: list[int] = []
        ids_seen: list[set[str]] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                pytest.fail(f"server exited: {server.log_tail()}")
            try:
                response = httpx.get(f"{server.base}/v1/articles/{ARTICLE}/dive-deeper", timeout=5)
            except httpx.HTTPError:
                time.sleep(0.2)  # not listening yet
                continue
            statuses.append(response.status_code)
            assert response.status_code == 200, response.text
            assert response.json()["questions"] or response.json()["related"]
            ids_seen.append(stored_ids(db))
            if ids_seen[-1] == {f"{old_id}+int8row2"}:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"the new model never went live: {server.log_tail()}")
        assert {old_id} in ids_seen, "the server answered only after the switch: nothing shows it served meanwhile"
        assert set(statuses) == {200}
        assert httpx.get(f"{server.base}/v1/articles/{ARTICLE}/dive-deeper", timeout=5).status_code == 200
        assert "re-embedding running in the background" in server.log.read_text()
    finally:
        server.stop()
