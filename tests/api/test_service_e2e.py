"""The real service: `recommender serve` in its own process, spoken to over HTTP."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from recommender.articles.model import Article, Section
from recommender.config import Settings
from recommender.services import Services
from tests.conftest import ROOT
from tests.server import running

pytestmark = pytest.mark.slow


@pytest.fixture()
def service(sample_db: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    db = tmp_path / "service.db"
    shutil.copy(sample_db, db)
    with running(tmp_path / "server.log", db) as server:
        yield server.base, db


def test_dive_deeper_over_http(service: tuple[str, Path]) -> None:
    base, _ = service
    response = httpx.get(f"{base}/v1/articles/health-measles-outbreaks-2025/dive-deeper", timeout=10)
    assert response.status_code == 200
    body = response.json()
    answers = {q["text"]: q["answer"]["id"] for q in body["questions"]}
    assert any(target == "health-mmr-autism" for target in answers.values()), answers
    assert "server" not in {k.lower() for k in response.headers}
    assert httpx.get(f"{base}/v1/articles/missing/dive-deeper", timeout=10).status_code == 404
    assert httpx.get(f"{base}/docs", timeout=10).status_code == 200


def test_writes_of_another_process_are_served(service: tuple[str, Path], real_encoder) -> None:  # type: ignore[no-untyped-def]
    base, db = service
    writer = Services.start(Settings(db=db, models_dir=ROOT / "models"), encoder=real_encoder)
    writer.catalog.ingest(
        [
            Article(
                id="science-flat-earth",
                title="Is the Earth flat?",
                summary="No. Ships vanish hull first over the horizon and satellites photograph a round planet [1].",
                sections=[Section(heading="Why some people believe it", text="Distrust of institutions drives the belief [2].")],
                questions=["Was the moon landing faked?"],
            )
        ]
    )
    writer.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = httpx.get(f"{base}/v1/search", params={"q": "is the earth flat", "k": 1}, timeout=10).json()
        if found["results"] and found["results"][0]["id"] == "science-flat-earth":
            break
        time.sleep(0.5)
    else:
        pytest.fail("the server never saw the other process's write")
    widget = httpx.get(f"{base}/v1/articles/science-flat-earth/dive-deeper", timeout=10).json()
    assert widget["questions"][0]["answer"]["id"] == "science-moon-landing"


def test_serve_logs_json_lines_without_secrets(service: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = service
    response = httpx.get(
        f"{base}/v1/search",
        params={"q": "who pays for tariffs flamingo"},
        headers={"X-Request-ID": "e2e-request-1", "Authorization": "Bearer not-a-real-token-123"},
        timeout=10,
    )
    assert response.status_code == 200 and response.headers["x-request-id"] == "e2e-request-1"
    metrics = httpx.get(f"{base}/metrics", timeout=10)
    assert 'dive_deeper_http_requests_total{method="GET",route="/v1/search",status="200"} 1.0' in metrics.text
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "e2e-request-1" not in (tmp_path / "server.log").read_text():
        time.sleep(0.1)
    text = (tmp_path / "server.log").read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is JSON, uvicorn's too
    [access] = [line for line in lines if line.get("request_id") == "e2e-request-1"]
    assert access["route"] == "/v1/search" and access["status"] == 200 and access["logger"] == "recommender.access"
    assert "flamingo" not in text and "not-a-real-token-123" not in text
