"""One definition per count: status, the review queue, coverage, /v1/gaps and /metrics agree."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from recommender import cli
from recommender.api import create_app
from recommender.services import Services
from tests.conftest import add_editor

pytestmark = pytest.mark.slow


def metric(text: str, name: str) -> float:
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ") or line.startswith(name + "{")))


def test_every_view_counts_the_same_questions(writable_sample_services: Services, real_encoder, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    services = writable_sample_services
    token = {"Authorization": f"Bearer {add_editor(services.store, 'counter')}"}
    with TestClient(create_app(services.settings, services=services)) as client:
        first = client.get("/v1/review", params={"kind": "unreviewed", "limit": 1}, headers=token).json()
        question = first["items"][0]["question"]["id"]
        assert client.post(f"/v1/questions/{question}/decision", json={"action": "hide"}, headers=token).status_code == 200
        unreviewed = client.get("/v1/review", params={"kind": "unreviewed", "limit": 1}, headers=token).json()
        gap_queue = client.get("/v1/review", params={"kind": "gaps", "limit": 1}, headers=token).json()
        coverage = client.get("/v1/coverage", headers=token).json()["counts"]
        gaps = client.get("/v1/gaps", params={"limit": 1}).json()
        metrics = client.get("/metrics").text
    monkeypatch.setenv("RECOMMENDER_DB", str(services.settings.db))
    if services.settings.database_url:
        monkeypatch.setenv("RECOMMENDER_DATABASE_URL", services.settings.database_url)
    monkeypatch.setattr(cli.context, "load_encoder", lambda settings, name: real_encoder)
    result = CliRunner().invoke(cli.app, ["status", "--json", "--verify-sample", "0"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)

    to_review = {
        "status": status["queues"]["review_unreviewed"],
        "queue": unreviewed["questions"],
        "coverage": coverage["unreviewed"],
        "metrics": metric(metrics, "dive_deeper_review_queue_pending"),
    }
    assert len(set(to_review.values())) == 1 and to_review["queue"] > 0, to_review
    assert unreviewed["total"] <= unreviewed["questions"]  # items: duplicate clusters are one item
    gap_counts = {
        "status": status["questions"]["gaps"],
        "queue": gap_queue["questions"],
        "coverage": coverage["gaps"],
        "api": gaps["total"],
        "metrics": metric(metrics, 'dive_deeper_questions_by_state{state="gap"}'),
    }
    assert len(set(gap_counts.values())) == 1 and gap_counts["api"] > 0, gap_counts
    assert status["questions"]["waiting_review"] == coverage["pending"]
    assert status["questions"]["answered"] == coverage["answered"]
    assert status["questions"]["hidden"] == coverage["hidden"] >= 1
