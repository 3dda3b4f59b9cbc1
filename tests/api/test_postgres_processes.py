"""Two `recommender serve` processes on one PostgreSQL: what one is told, the other serves at once.

Also the read-replica routing through the API, in process (a lagging replica is another database).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from recommender.api import create_app
from recommender.config import Settings
from recommender.services import Services
from recommender.store.postgres import PostgresStore
from tests.conftest import add_editor
from tests.pg import PgServer
from tests.server import launch

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ARTICLE = "health-measles-outbreaks-2025"


@pytest.fixture()
def store_backend() -> str:
    return "postgres"


@pytest.fixture(scope="module")
def two_services(
    pg_server: PgServer, sample_pg: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """Two servers on one copy of the sample (for the module: each test touches other articles)."""
    name = pg_server.create(template=sample_pg)
    settings = Settings(database_url=pg_server.url_of(name), refresh_seconds=0)
    store = PostgresStore(settings.database_url or "", model_id="-")
    tokens = {editor: add_editor(store, editor) for editor in ("alice", "publisher")}
    store.close()
    logs = tmp_path_factory.mktemp("servers")
    env = {
        "RECOMMENDER_DATABASE_URL": settings.database_url or "",
        "RECOMMENDER_REFRESH_SECONDS": str(settings.refresh_seconds),  # 0: every request checks the generation
    }
    started = [launch(logs / f"server-{n}.log", **env) for n in (1, 2)]  # both load the model at once
    try:
        for server in started:
            server.wait_ready()
        yield started[0].base, started[1].base, tokens
    finally:
        for server in started:
            server.stop()
        pg_server.drop(name)


def shown(base: str, article_id: str) -> tuple[dict[str, dict], str]:
    response = httpx.get(f"{base}/v1/articles/{article_id}/dive-deeper", timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    return {q["id"]: q for q in body["questions"] + body["related"]}, response.headers["etag"]


def test_a_decision_made_through_one_process_is_served_by_the_other(two_services) -> None:  # type: ignore[no-untyped-def]
    first, second, tokens = two_services
    alice = {"Authorization": f"Bearer {tokens['alice']}"}
    before, etag = shown(second, ARTICLE)
    question_id = next(q for q in before if q.startswith(ARTICLE))
    response = httpx.post(
        f"{first}/v1/questions/{question_id}/decision", json={"action": "hide"}, headers=alice, timeout=30
    )
    assert response.status_code == 200, response.text
    after, new_etag = shown(second, ARTICLE)
    assert question_id not in after
    assert new_etag != etag
    cached = httpx.get(f"{second}/v1/articles/{ARTICLE}/dive-deeper", headers={"If-None-Match": etag}, timeout=30)
    assert cached.status_code == 200  # the old ETag no longer matches on the other process either


def test_an_article_published_through_one_process_is_served_by_the_other(two_services) -> None:  # type: ignore[no-untyped-def]
    first, second, tokens = two_services
    publisher = {"Authorization": f"Bearer {tokens['publisher']}"}
    article = {
        "title": "Does the measles vaccine wear off in adults?",
        "summary": "Two doses of MMR protect most people for life; boosters are rarely needed.",
        "sections": [{"heading": "Evidence", "text": "Antibody studies decades after vaccination show lasting protection."}],
        "questions": ["Is measles dangerous for adults?"],
    }
    response = httpx.put(f"{first}/v1/articles/measles-vaccine-adults", json=article, headers=publisher, timeout=120)
    assert response.status_code in (200, 201), response.text
    # refresh_seconds is 0 here: the other process checks the generation counter on every request
    found = httpx.get(f"{second}/v1/search", params={"q": "does the measles vaccine wear off", "k": 1}, timeout=30)
    assert found.json()["results"][0]["id"] == "measles-vaccine-adults"
    assert shown(second, "measles-vaccine-adults")[0] is not None


def test_widget_reads_come_from_the_replica_and_editors_see_the_primary(
    sample_settings: Settings, pg_server: PgServer, real_encoder, request: pytest.FixtureRequest  # type: ignore[no-untyped-def]
) -> None:
    # A replica that lags: a copy of the sample made before the decision below (never updated).
    lagging = pg_server.create(template=request.getfixturevalue("sample_pg"))
    settings = sample_settings.model_copy(update={"database_read_url": pg_server.url_of(lagging)})
    services = Services.start(settings, encoder=real_encoder)
    token = add_editor(services.store, "alice")
    alice = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings, services=services)) as client:
        widget = client.get(f"/v1/articles/{ARTICLE}/dive-deeper").json()
        question_id = next(q["id"] for q in widget["questions"])
        response = client.post(f"/v1/questions/{question_id}/decision", json={"action": "hide"}, headers=alice)
        assert response.status_code == 200, response.text
        # the editor's own view reads the primary: the decision is there at once
        assert services.reading.status(question_id).decision.hidden  # type: ignore[union-attr]
        # the widget reads the (lagging) replica: the question is still shown until it catches up
        widget = client.get(f"/v1/articles/{ARTICLE}/dive-deeper").json()
        assert question_id in {q["id"] for q in widget["questions"]}
    services.close()
    # pointed at the same server (the usual replica once caught up), the widget shows the decision
    same = sample_settings.model_copy(update={"database_read_url": sample_settings.database_url})
    services = Services.start(same, encoder=real_encoder)
    with TestClient(create_app(same, services=services)) as client:
        widget = client.get(f"/v1/articles/{ARTICLE}/dive-deeper").json()
        assert question_id not in {q["id"] for q in widget["questions"]}
    services.close()
