"""The learning features through the services and the API, on a fake encoder (fast)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from recommender.api import create_app
from recommender.articles.model import Article, Section
from recommender.config import Settings
from recommender.editorial.decisions import DecisionError
from recommender.services import Services
from recommender.learning.calibration import Calibrator
from recommender.domain import StaleStage
from tests.conftest import add_editor
from tests.fakes import HashingEncoder


def art(article_id: str, title: str, body: str, questions: list[str], checked_on: dt.date | None = None) -> Article:
    return Article(
        id=article_id,
        title=title,
        summary=body,
        sections=[Section(heading="Details", text=body)],
        questions=questions,
        checked_on=checked_on,
    )


CORPUS = [
    art("tariffs", "Who pays import tariffs?", "Importers pay tariffs to customs; prices rise for buyers.", ["Do owls turn their heads?"], dt.date(2020, 1, 1)),
    art("tariffs-2025", "Who pays import tariffs in 2025?", "Importers pay tariffs to customs; prices rise for buyers in 2025.", [], dt.date(2025, 1, 1)),
    art("owls", "Can owls turn their heads fully?", "Owls rotate their necks 270 degrees thanks to extra vertebrae.", ["Who pays import tariffs?", "Do importers pay the tariffs?"]),
    art("bananas", "Why do bananas ripen so fast?", "Bananas release ethylene gas which speeds ripening.", ["Who pays import tariffs?", "Can owls turn their heads fully?"]),
    art("moon", "Did people land on the Moon?", "Apollo astronauts landed six times and left mirrors behind.", ["Why do bananas ripen so fast?"]),
]


@pytest.fixture()
def calibrated(settings: Settings, tmp_path: Path) -> Settings:
    """Settings with a calibrator fitted (by hand) on the fake encoder's scores: p = 0.5 at score 0.3."""
    path = tmp_path / "calibrator.json"
    Calibrator("logistic", "hashing-test@1", coef=20.0, intercept=-6.0).save(path)
    # the hashing encoder's article similarities mean little: no subject floor for related questions
    update = {"related_threshold": 0.05, "related_topic_threshold": -1.0, "freshness_margin": 0.0}
    return settings.model_copy(update={"calibration": str(path), **update})


@pytest.fixture()
def services(calibrated: Settings) -> Iterator[Services]:
    services = Services.start(calibrated, encoder=HashingEncoder())
    services.catalog.ingest(CORPUS)
    yield services
    services.close()


def best(services: Services, question_id: str) -> float:
    status = services.reading.status(question_id)
    assert status is not None
    return max(link.score for link in status.links)


def reopen(services: Services, **update: object) -> Services:
    services.close()
    return Services.start(services.settings.model_copy(update=update), encoder=HashingEncoder())


def test_confidence_and_the_three_bands(services: Services) -> None:
    assert services.models.calibrator is not None
    scores = {q.id: best(services, q.id) for q in services.holder.snapshot().questions}
    low, high = sorted(scores, key=scores.get)[0], sorted(scores, key=scores.get)[-1]  # type: ignore[arg-type]
    assert services.reading.confidence(scores[high]) == pytest.approx(services.models.calibrator.probability(scores[high]), abs=1e-4)
    p_low, p_high = services.models.calibrator.probability(scores[low]), services.models.calibrator.probability(scores[high])
    middle = (p_low + p_high) / 2
    # everything between the thresholds waits for review: nothing live, nothing a gap
    services = reopen(services, review_threshold=p_low * 0.99, auto_approve_threshold=min(p_high * 1.01, 1.0))
    states = {q: services.reading.status(q).effective.state for q in scores}  # type: ignore[union-attr]
    assert set(states.values()) == {"pending"}
    assert all(services.reading.dive_deeper(a.id).questions == [] for a in CORPUS)  # type: ignore[union-attr]
    from recommender.editorial.review import coverage, queue

    assert {i.status.question.id for i in queue(services.reading.statuses(), "unreviewed", {})} == set(scores)
    assert coverage(services.reading.statuses()).pending == len(scores)
    # an editor's approval puts a pending question live
    services.editorial.decide(low, "approve", None, "alice")
    assert services.reading.status(low).effective.state == "approved"  # type: ignore[union-attr]
    shown = services.reading.dive_deeper(services.store.get_question(low).article_id)  # type: ignore[union-attr]
    assert low in {i.question.id for i in shown.questions}  # type: ignore[union-attr]
    # raising the review threshold above the middle makes the weakest a gap, the strongest live with a low auto threshold
    services = reopen(services, review_threshold=middle, auto_approve_threshold=middle)
    weakest = min((q for q in scores if q != low), key=scores.get)  # type: ignore[arg-type]
    if services.models.calibrator.probability(scores[weakest]) < middle:  # type: ignore[union-attr]
        assert services.reading.status(weakest).effective.state == "gap"  # type: ignore[union-attr]
    assert services.reading.status(high).effective.state == "suggested"  # type: ignore[union-attr]
    services.close()


def test_without_a_fitting_calibrator_the_raw_gap_threshold_decides(settings: Settings) -> None:
    services = Services.start(settings.model_copy(update={"gap_threshold": 0.0}), encoder=HashingEncoder())
    services.catalog.ingest(CORPUS)
    assert services.models.calibrator is None and services.reading.confidence(0.5) is None
    assert services.models.thresholds.gap_score == services.models.thresholds.live_score == 0.0
    assert {s.effective.state for s in services.reading.statuses()} == {"suggested"}
    services.close()


def test_a_superseded_fact_check_hands_its_suggestions_to_the_newer_one(services: Services) -> None:
    before = services.reading.status("owls-q1")
    assert before is not None and "tariffs" in [link.article_id for link in before.links]
    services.editorial.supersede("tariffs", "tariffs-2025", "alice")
    after = services.reading.status("owls-q1")
    ids = [link.article_id for link in after.links]  # type: ignore[union-attr]
    assert "tariffs" not in ids and ids.count("tariffs-2025") == 1
    total, entries = services.store.audit_entries(article_id="tariffs")
    assert entries[0].action == "supersede" and entries[0].target_id == "tariffs-2025"
    # an approved answer follows too
    services.editorial.supersede("tariffs", None, "alice")
    services.editorial.decide("owls-q1", "approve", "tariffs", "alice")
    services.editorial.supersede("tariffs", "tariffs-2025", "alice")
    assert services.reading.status("owls-q1").effective.answer.link.article_id == "tariffs-2025"  # type: ignore[union-attr]
    with pytest.raises(DecisionError, match="cycle"):
        services.editorial.supersede("tariffs-2025", "tariffs", "alice")
    with pytest.raises(DecisionError, match="itself"):
        services.editorial.supersede("moon", "moon", "alice")
    with pytest.raises(LookupError, match="nope"):
        services.editorial.supersede("moon", "nope", "alice")


def test_the_more_recent_of_two_close_fact_checks_is_suggested_first(calibrated: Settings) -> None:
    services = Services.start(calibrated.model_copy(update={"freshness_margin": 0.5}), encoder=HashingEncoder())
    services.catalog.ingest(CORPUS)
    ids = [link.article_id for link in services.reading.status("owls-q1").links]  # type: ignore[union-attr]
    assert ids.index("tariffs-2025") < ids.index("tariffs")
    services.close()


def test_duplicates_cluster_and_the_widget_shows_one_per_cluster(services: Services) -> None:
    clusters = services.reading.clusters()
    # owls-q1 and bananas-q1 are the same wording; clustering needs scikit-learn (the learn extra)
    assert clusters["owls-q1"] == clusters["bananas-q1"]
    assert [q.id for q in services.linking.cluster_members("owls-q1")] == [
        q for q in sorted(clusters) if clusters[q] == clusters["owls-q1"] and q != "owls-q1"
    ]
    services = reopen(services, review_threshold=0.0, auto_approve_threshold=0.0)
    for article in CORPUS:
        result = services.reading.dive_deeper(article.id)
        shown = [i.question.id for i in result.questions + result.related]  # type: ignore[union-attr]
        seen = [clusters[q] for q in shown if q in clusters]
        assert len(seen) == len(set(seen)), (article.id, shown)
    services.close()


@pytest.fixture()
def api(services: Services) -> Iterator[tuple[TestClient, Services, dict[str, str]]]:
    token = add_editor(services.store, "alice")
    with TestClient(create_app(services.settings, services=services)) as client:
        yield client, services, {"Authorization": f"Bearer {token}"}


def test_review_groups_a_cluster_and_offers_one_decision_for_all(api) -> None:  # type: ignore[no-untyped-def]
    client, services, auth = api
    cluster = services.reading.clusters()["owls-q1"]
    items = client.get("/v1/review", params={"kind": "unreviewed", "limit": 200}, headers=auth).json()["items"]
    in_cluster = [i for i in items if i["question"]["id"] in ("owls-q1", "bananas-q1")]
    assert len(in_cluster) == 1 and in_cluster[0]["cluster"]["id"] == cluster
    assert all(c["confidence"] is not None for c in in_cluster[0]["candidates"])
    assert in_cluster[0]["confidence"] == max(c["confidence"] for c in in_cluster[0]["candidates"])
    # decide one: the others are offered the same, not given it
    response = client.post("/v1/questions/owls-q1/decision", json={"action": "pin", "article_id": "tariffs"}, headers=auth)
    assert response.status_code == 200, response.text
    assert response.json()["cluster"]["offer"] == [{"question_id": "bananas-q1", "action": "pin", "article_id": "tariffs"}]
    assert services.reading.status("bananas-q1").decision is None  # type: ignore[union-attr]
    bad = client.post(f"/v1/clusters/{cluster}/apply", json={"from_question_id": "moon-q1"}, headers=auth)
    assert bad.status_code == 422 and "not in cluster" in bad.json()["detail"]
    assert client.post("/v1/clusters/nope/apply", json={"from_question_id": "owls-q1"}, headers=auth).status_code == 404
    done = client.post(f"/v1/clusters/{cluster}/apply", json={"from_question_id": "owls-q1"}, headers=auth)
    assert done.status_code == 200, done.text
    assert services.reading.status("bananas-q1").decision.pinned == "tariffs"  # type: ignore[union-attr]
    assert services.store.audit_entries(question_id="bananas-q1")[1][0].editor == "alice"


def test_supersede_and_models_over_the_api(api) -> None:  # type: ignore[no-untyped-def]
    client, services, auth = api
    assert client.put("/v1/articles/tariffs/superseded-by", json={"by_article_id": "x"}).status_code == 401
    response = client.put("/v1/articles/tariffs/superseded-by", json={"by_article_id": "tariffs-2025"}, headers=auth)
    assert response.status_code == 200 and response.json()["superseded"] == {"tariffs": "tariffs-2025"}
    assert client.put("/v1/articles/tariffs/superseded-by", json={"by_article_id": "nope"}, headers=auth).status_code == 404
    assert client.put("/v1/articles/tariffs-2025/superseded-by", json={"by_article_id": "tariffs"}, headers=auth).status_code == 422
    suggestions = client.get("/v1/questions/owls-q1/suggestions").json()["candidates"]
    assert "tariffs" not in [c["id"] for c in suggestions]
    models = client.get("/v1/models", headers=auth).json()
    assert models["model_id"] == "hashing-test@1" and models["calibrator"]["method"] == "logistic"
    missing = client.post("/v1/models/use", json={"name": "no-such-model"}, headers=auth)
    assert missing.status_code == 404 and "no-such-model" in missing.json()["detail"]
    coverage = client.get("/v1/coverage", headers=auth).json()
    assert coverage["review_threshold"] == services.settings.review_threshold
    assert coverage["gap_threshold"] == pytest.approx(services.models.thresholds.gap_score)


def test_switching_models_swaps_everything_at_once_and_keeps_decisions(services: Services) -> None:
    services.editorial.decide("owls-q1", "reject", "tariffs", "alice")
    decisions = services.store.all_decisions()
    generation = services.store.generation()
    other = HashingEncoder(dim=128, model_id="other@2")
    job = services.models.switch_model("other", background=True, encoder=other).wait(60)
    assert job.state == "done", job.error
    assert services.store.stored_model_ids() == {"other@2"} and services.holder.encoder is other
    assert services.store.live_model() == ("other", "other@2")
    assert services.store.all_decisions() == decisions
    assert services.store.generation() > generation
    assert services.holder.snapshot().question_vectors.shape[1] == 128
    assert "tariffs" not in [link.article_id for link in services.reading.suggestions("owls-q1")[1]]  # type: ignore[index]
    assert services.store.unstaged_texts("other@2")[0]  # staging rows are gone after the swap
    assert services.models.calibrator is None  # the calibrator was fitted on the old encoder's scores


def test_a_swap_refuses_a_stale_or_incomplete_stage(services: Services) -> None:
    store = services.store
    with pytest.raises(StaleStage):
        store.load_staged_index("new@1")
    passages, questions = store.unstaged_texts("new@1")
    enc = HashingEncoder(model_id="new@1")
    store.stage_vectors("new@1", [(a, p, t, v) for (a, p, t), v in zip(passages, enc.encode([t for *_, t in passages]))], [])
    store.stage_vectors("new@1", [], [(q, t, v) for (q, t), v in zip(questions, enc.encode([t for _, t in questions]))])
    data = store.load_staged_index("new@1")
    services.catalog.ingest([art("late", "A late article", "Written during the switch.", ["Is it late?"])])
    with pytest.raises(StaleStage):
        store.swap_model("new@1", "new", {}, data.generation)
    with pytest.raises(StaleStage):
        store.load_staged_index("new@1")  # the late article's rows have no staged vectors
    assert store.stored_model_ids() == {"hashing-test@1"}  # nothing changed
