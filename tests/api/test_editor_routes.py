"""Editor endpoints over the sample corpus and the real model: decisions, auth, audit, review, caching."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from recommender.api import create_app
from recommender.articles.model import Article, normalize_question
from recommender.services import Services
from recommender.editorial.review import group_clusters, queue
from tests.conftest import BOTH_STORES, add_editor

pytestmark = pytest.mark.slow


@pytest.fixture(params=BOTH_STORES)
def store_backend(request: pytest.FixtureRequest) -> str:
    """Every route test runs on SQLite and on PostgreSQL."""
    return request.param


@dataclass
class Env:
    client: TestClient
    services: Services
    alice: dict[str, str]
    bob: dict[str, str]
    publisher: dict[str, str]
    tokens: list[str]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture()
def env(writable_sample_services: Services) -> Iterator[Env]:
    services = writable_sample_services
    # These tests are about decisions: every answered suggestion goes live, as without a pending band
    # (the band between the review and auto-approve thresholds is tested in tests/services/test_models.py).
    services.models.set_thresholds(auto_approve=services.settings.review_threshold)
    tokens = [add_editor(services.store, name) for name in ("alice", "bob", "publisher")]
    with TestClient(create_app(services.settings, services=services)) as client:
        yield Env(client, services, *(bearer(t) for t in tokens), tokens=tokens)


def review(env: Env, kind: str = "unreviewed", **params: object) -> dict:
    response = env.client.get("/v1/review", params={"kind": kind, "limit": 200, **params}, headers=env.alice)
    assert response.status_code == 200, response.text
    return response.json()


def decide(
    env: Env, question_id: str, action: str, article_id: str | None = None, who: dict | None = None, **headers: str
):  # type: ignore[no-untyped-def]
    body = {"action": action} | ({"article_id": article_id} if article_id else {})
    return env.client.post(
        f"/v1/questions/{question_id}/decision", json=body, headers={**(who or env.alice), **headers}
    )


def widget(env: Env, article_id: str) -> dict[str, dict]:
    """Question id -> item, own and related questions alike."""
    body = env.client.get(f"/v1/articles/{article_id}/dive-deeper").json()
    return {q["id"]: q for q in body["questions"] + body["related"]}


def solid_question(env: Env) -> dict:
    """An unreviewed question whose second candidate would also go live (so a rejection has a live successor)."""
    threshold = env.services.models.thresholds.live_score
    items = [i for i in review(env)["items"] if len(i["candidates"]) >= 3 and i["candidates"][1]["score"] >= threshold]
    assert items, "the sample needs a question with two good candidates"
    return items[-1]


def outsider(env: Env, item: dict) -> str:
    """A fact check that is neither the question's own article nor among its candidates."""
    taken = {c["id"] for c in item["candidates"]} | {item["question"]["article_id"]}
    return next(a.id for a in env.services.holder.snapshot().articles.values() if a.id not in taken)


# -- auth ------------------------------------------------------------------------------------------
def test_editor_endpoints_need_a_valid_unrevoked_token(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    question = env.services.holder.snapshot().questions[0].id
    calls = [
        ("GET", "/v1/review", None),
        ("GET", "/v1/audit", None),
        ("GET", "/v1/coverage", None),
        ("GET", "/v1/editors/me", None),
        ("GET", f"/v1/questions/{question}/decision", None),
        ("POST", f"/v1/questions/{question}/decision", {"action": "hide"}),
        ("POST", "/v1/decisions/bulk", {"action": "approve", "items": [{"question_id": question}]}),
        ("PUT", "/v1/articles/new-one", {"title": "T"}),
        ("DELETE", "/v1/articles/new-one", None),
    ]
    for method, path, body in calls:
        for headers in (
            {},
            bearer("dd_not-a-token"),
            {"Authorization": "Basic YWxpY2U6eA=="},
            {"Authorization": "Bearer"},
        ):
            response = env.client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert "token" in response.json()["detail"]
    assert env.client.get("/v1/editors/me", headers=env.bob).json()["name"] == "bob"
    env.services.store.revoke_editor("bob")
    for method, path, body in calls:
        response = env.client.request(method, path, json=body, headers=env.bob)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["detail"] == "the token of editor 'bob' was revoked"
    assert env.services.store.all_decisions() == {}
    assert env.client.get("/v1/articles/new-one").status_code == 404
    # the widget and the other read-only endpoints stay public
    for path in (
        "/v1/articles/economy-tariffs-who-pays/dive-deeper",
        f"/v1/questions/{question}/suggestions",
        "/v1/search?q=tariffs",
        "/v1/gaps",
        "/widget.js",
        "/demo/",
        "/editor/",
        "/healthz",
    ):
        assert env.client.get(path).status_code == 200, path
    assert not any(token in caplog.text for token in env.tokens)


# -- decisions -------------------------------------------------------------------------------------
def test_reject_shows_the_next_suggestion_and_never_brings_the_rejected_back(env: Env) -> None:
    item = solid_question(env)
    question, article = item["question"]["id"], item["question"]["article_id"]
    first, second = item["candidates"][0]["id"], item["candidates"][1]["id"]
    assert widget(env, article)[question]["answer"]["id"] == first
    response = decide(env, question, "reject")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["decision"]["rejected"] == [first] and body["decision"]["version"] == 1
    assert body["state"] == "suggested" and body["answer"]["id"] == second
    assert widget(env, article)[question]["answer"]["id"] == second
    env.services.linking.relink_all()
    suggestions = env.client.get(f"/v1/questions/{question}/suggestions").json()
    assert first not in [c["id"] for c in suggestions["candidates"]]
    assert suggestions["candidates"][0]["id"] == second
    assert widget(env, article)[question]["answer"]["id"] == second
    # rejecting an explicit candidate works too; rejecting an unknown article does not
    third = item["candidates"][2]["id"]
    assert decide(env, question, "reject", third).json()["decision"]["rejected"] == [first, third]
    assert decide(env, question, "reject", "no-such-article").status_code == 422


def test_every_decision_type(env: Env) -> None:
    item = solid_question(env)
    question, article = item["question"]["id"], item["question"]["article_id"]
    top = item["candidates"][0]["id"]

    approved = decide(env, question, "approve").json()
    assert approved["state"] == "approved" and approved["decision"]["approved"] == top
    assert approved["candidates"][0]["approved"] and approved["candidates"][0]["id"] == top
    assert widget(env, article)[question]["confirmed"] is True
    assert question not in {i["question"]["id"] for i in review(env)["items"]}

    other = outsider(env, item)
    pinned = decide(env, question, "pin", other).json()
    assert pinned["state"] == "pinned" and pinned["answer"]["id"] == other
    assert (
        pinned["candidates"][0] | {"pinned": True} == pinned["candidates"][0] and pinned["decision"]["approved"] is None
    )
    assert widget(env, article)[question]["answer"]["id"] == other
    suggestions = env.client.get(f"/v1/questions/{question}/suggestions").json()
    assert suggestions["state"] == "pinned" and suggestions["candidates"][0]["id"] == other

    hidden = decide(env, question, "hide").json()
    assert hidden["state"] == "hidden" and hidden["answer"] is None and hidden["decision"]["pinned"] == other
    assert question not in widget(env, article)
    assert decide(env, question, "unhide").json()["state"] == "pinned"
    assert widget(env, article)[question]["answer"]["id"] == other

    gap = decide(env, question, "gap").json()
    assert gap["state"] == "gap" and gap["decision"]["gap"] and gap["decision"]["pinned"] is None
    assert question not in widget(env, article)
    gaps = env.client.get("/v1/gaps", params={"limit": 1000}).json()["gaps"]
    assert gaps[0]["question"]["id"] == question and gaps[0]["marked"]
    assert review(env, "gaps")["items"][0]["question"]["id"] == question

    cleared = decide(env, question, "clear").json()
    assert cleared["state"] == "suggested" and cleared["answer"]["id"] == top and cleared["decision"]["version"] == 6
    assert widget(env, article)[question]["answer"]["id"] == top
    assert widget(env, article)[question]["confirmed"] is False


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"action": "publish"}, 422, "action"),
        ({"action": "pin"}, 422, "pin needs an article_id"),
        ({"action": "pin", "article_id": "bad id!"}, 422, "article_id"),
        ({"action": "pin", "article_id": "no-such-article"}, 422, "not found"),
        ({"action": "hide", "article_id": "health-mmr-autism"}, 422, "takes no article_id"),
        ({"action": "approve", "extra": 1}, 422, "extra"),
    ],
)
def test_bad_decisions_are_named_and_change_nothing(env: Env, body: dict, status: int, message: str) -> None:
    question = solid_question(env)["question"]["id"]
    response = env.client.post(f"/v1/questions/{question}/decision", json=body, headers=env.alice)
    assert response.status_code == status and message in response.json()["detail"], response.text
    assert env.services.store.all_decisions() == {}


def test_pinning_the_questions_own_article_or_an_unknown_question(env: Env) -> None:
    item = solid_question(env)
    response = decide(env, item["question"]["id"], "pin", item["question"]["article_id"])
    assert response.status_code == 422 and "own article" in response.json()["detail"]
    response = decide(env, "nope-q1", "hide")
    assert response.status_code == 404 and response.json()["detail"] == "question 'nope-q1' not found"
    approve_outsider = decide(env, item["question"]["id"], "approve", outsider(env, item))
    assert approve_outsider.status_code == 422 and "pin it instead" in approve_outsider.json()["detail"]


def test_if_match_guards_against_lost_updates(env: Env) -> None:
    question = solid_question(env)["question"]["id"]
    current = env.client.get(f"/v1/questions/{question}/decision", headers=env.alice)
    assert current.headers["etag"] == '"0"' and current.json()["decision"]["version"] == 0
    first = decide(env, question, "hide", **{"If-Match": '"0"'})
    assert first.status_code == 200 and first.headers["etag"] == '"1"'
    stale = decide(env, question, "unhide", who=env.bob, **{"If-Match": '"0"'})
    assert stale.status_code == 409
    assert stale.json()["version"] == 1 and "version 1" in stale.json()["detail"]
    assert env.client.get(f"/v1/questions/{question}/decision", headers=env.alice).json()["state"] == "hidden"
    assert decide(env, question, "unhide", who=env.bob, **{"If-Match": 'W/"1"'}).status_code == 200
    assert decide(env, question, "hide", **{"If-Match": "soon"}).status_code == 422
    assert decide(env, question, "hide", **{"If-Match": "*"}).status_code == 200


def test_bulk_approve_and_reject_all_or_nothing(env: Env) -> None:
    items = review(env)["items"][:4]
    ids = [i["question"]["id"] for i in items]
    bad = env.client.post(
        "/v1/decisions/bulk",
        json={"action": "approve", "items": [{"question_id": ids[0]}, {"question_id": "nope-q9"}]},
        headers=env.alice,
    )
    assert bad.status_code == 404 and bad.json()["detail"] == "items.1: question 'nope-q9' not found"
    assert env.services.store.all_decisions() == {}
    assert (
        env.client.post(
            "/v1/decisions/bulk", json={"action": "hide", "items": [{"question_id": ids[0]}]}, headers=env.alice
        ).status_code
        == 422
    )
    assert (
        env.client.post("/v1/decisions/bulk", json={"action": "approve", "items": []}, headers=env.alice).status_code
        == 422
    )

    done = env.client.post(
        "/v1/decisions/bulk",
        json={"action": "approve", "items": [{"question_id": q} for q in ids[:3]]},
        headers=env.alice,
    )
    assert done.status_code == 200, done.text
    assert [i["state"] for i in done.json()["items"]] == ["approved"] * 3
    assert [i["decision"]["approved"] for i in done.json()["items"]] == [i["candidates"][0]["id"] for i in items[:3]]
    rejected = env.client.post(
        "/v1/decisions/bulk",
        json={
            "action": "reject",
            "items": [{"question_id": ids[2]}, {"question_id": ids[3], "article_id": items[3]["candidates"][1]["id"]}],
        },
        headers=env.bob,
    ).json()["items"]
    assert (
        rejected[0]["decision"]["rejected"] == [items[2]["candidates"][0]["id"]]
        and rejected[0]["decision"]["approved"] is None
    )
    assert rejected[1]["decision"]["rejected"] == [items[3]["candidates"][1]["id"]]
    assert env.client.get("/v1/audit", params={"editor": "bob"}, headers=env.alice).json()["total"] == 2


def test_audit_log_records_and_filters(env: Env) -> None:
    items = review(env)["items"]
    first, second = items[0], items[1]
    q1, q2 = first["question"]["id"], second["question"]["id"]
    decide(env, q1, "approve")
    decide(env, q1, "hide", who=env.bob)
    decide(env, q2, "reject")

    def audit(**params: object) -> dict:
        response = env.client.get("/v1/audit", params=params, headers=env.alice)
        assert response.status_code == 200, response.text
        return response.json()

    everything = audit()
    assert everything["total"] == 3 and [e["action"] for e in everything["items"]] == ["reject", "hide", "approve"]
    latest = everything["items"][1]
    assert latest["editor"] == "bob" and latest["question_id"] == q1 and latest["at"]
    assert latest["before"]["approved"] == first["candidates"][0]["id"] and latest["before"]["hidden"] is False
    assert latest["after"]["hidden"] is True and latest["after"]["version"] == 2
    assert [e["action"] for e in audit(question_id=q1)["items"]] == ["hide", "approve"]
    assert audit(editor="bob")["total"] == 1 and audit(editor="nobody")["total"] == 0
    by_article = audit(article_id=first["question"]["article_id"])
    assert {e["question_id"] for e in by_article["items"]} >= {q1}
    by_target = audit(article_id=second["candidates"][0]["id"])
    assert any(e["target_id"] == second["candidates"][0]["id"] for e in by_target["items"])
    page = audit(limit=1, offset=1)
    assert page["total"] == 3 and page["items"][0]["action"] == "hide"
    assert env.client.get("/v1/audit", params={"limit": 0}, headers=env.alice).status_code == 422


# -- review queue ----------------------------------------------------------------------------------
def test_review_search_and_filters_narrow_the_queue(env: Env) -> None:
    everything = review(env, "all")
    assert everything["total"] > review(env)["total"] > 0
    measles = review(env, "all", q="MEASLES")
    texts = [
        " ".join([i["question"]["text"], i["source"]["title"], i["candidates"][0]["title"]]).lower()
        for i in measles["items"]
    ]
    assert 0 < measles["total"] < everything["total"] and all("measles" in t for t in texts)
    gaps = review(env, "all", state="gap")
    assert gaps["total"] > 0 and all(i["state"] == "gap" for i in gaps["items"])
    assert review(env, "all", state="gap", confidence="high")["total"] == 0  # a gap scores low or an editor said so
    day = env.services.store.get_article_row(everything["items"][0]["question"]["article_id"]).checked_on
    dated = review(env, "all", **{"from": day.isoformat(), "to": day.isoformat()})
    rows = env.services.reading.articles([i["question"]["article_id"] for i in dated["items"]])
    assert dated["total"] > 0 and {r.checked_on for r in rows.values()} == {day}
    # a decision moves a question between states
    question = measles["items"][0]["question"]["id"]
    target = measles["items"][0]["candidates"][0]["id"]
    assert decide(env, question, "reject", target).status_code == 200
    rejected = review(env, "all", state="rejected")
    assert question in {i["question"]["id"] for i in rejected["items"]} | {
        m["question"]["id"] for i in rejected["items"] if i["cluster"] for m in i["cluster"]["members"]
    }


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"state": "approvedd"}, "state: unknown state 'approvedd'"),
        ({"from": "2024-02-30"}, "from: "),
        ({"to": "soon"}, "to: "),
        ({"confidence": "0.9"}, "confidence: unknown band"),
        ({"q": "x" * 201}, "q: at most 200"),
    ],
)
def test_review_bad_filter_values_are_422_naming_the_parameter(env: Env, params: dict, named: str) -> None:
    response = env.client.get("/v1/review", params=params, headers=env.alice)
    assert response.status_code == 422 and response.json()["detail"].startswith(named), response.text


def test_undo_restores_the_previous_state_and_the_audit_log_keeps_both(env: Env) -> None:
    item = review(env)["items"][0]
    question, shown = item["question"]["id"], item["answer"]["id"]
    before = env.client.get(f"/v1/questions/{question}/decision", headers=env.alice).json()
    approved = decide(env, question, "approve")
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    rejected = decide(env, question, "reject", shown)
    version = rejected.json()["decision"]["version"]
    assert shown in rejected.json()["decision"]["rejected"]

    undo = env.client.post(f"/v1/questions/{question}/decision/undo", json={"version": version}, headers=env.bob)
    assert undo.status_code == 200, undo.text
    assert undo.json()["state"] == "approved" and undo.json()["answer"]["id"] == shown
    assert undo.json()["decision"]["rejected"] == [] and undo.headers["ETag"] == f'"{version + 1}"'
    entries = env.client.get("/v1/audit", params={"question_id": question}, headers=env.alice).json()["items"]
    assert [(e["action"], e["editor"]) for e in entries] == [("undo", "bob"), ("reject", "alice"), ("approve", "alice")]
    assert entries[0]["target_id"] == shown and entries[0]["after"]["approved"] == shown
    assert entries[0]["question_text"] == item["question"]["text"] and entries[0]["role"] == "admin"
    assert entries[0]["article_title"] == item["source"]["title"]
    assert entries[0]["target_title"] == item["answer"]["title"]
    undos = env.client.get("/v1/audit", params={"action": "undo"}, headers=env.alice).json()
    assert undos["total"] == 1 and undos["items"][0]["editor"] == "bob"
    by_bob = env.client.get("/v1/audit", params={"editor": "bob", "action": "reject"}, headers=env.alice).json()
    assert by_bob["total"] == 0
    assert env.client.get("/v1/audit", params={"action": "delete"}, headers=env.alice).status_code == 422
    exported = env.client.get("/v1/audit", params={"question_id": question, "format": "csv"}, headers=env.alice)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["action"] for r in rows] == ["undo", "reject", "approve"]
    assert rows[1]["question_text"] == item["question"]["text"] and rows[1]["target_title"] == item["answer"]["title"]
    assert json.loads(rows[0]["after"])["approved"] == shown and rows[0]["role"] == "admin"
    # stale: the question moved on since the version to undo
    stale = env.client.post(f"/v1/questions/{question}/decision/undo", json={"version": version}, headers=env.alice)
    assert stale.status_code == 409 and stale.json()["version"] == version + 1
    # undoing the undo redoes the rejection
    redo = env.client.post(f"/v1/questions/{question}/decision/undo", json={"version": version + 1}, headers=env.alice)
    assert redo.status_code == 200 and shown in redo.json()["decision"]["rejected"]
    assert before["state"] == "suggested" and before["decision"]["version"] == 0
    # a question nobody decided on has nothing to undo
    fresh = review(env)["items"][1]["question"]["id"]
    nothing = env.client.post(f"/v1/questions/{fresh}/decision/undo", json={"version": 1}, headers=env.alice)
    assert nothing.status_code == 409
    missing = env.client.post("/v1/questions/nope-q1/decision/undo", json={"version": 1}, headers=env.alice)
    assert missing.status_code == 404


def test_review_queue_kinds_and_changed_suggestions(env: Env, sample_articles: list[Article]) -> None:
    unreviewed = review(env)
    # lowest confidence first: by the best candidate (pending items have no answer shown yet)
    scores = [max(c["score"] for c in i["candidates"]) for i in unreviewed["items"]]
    assert scores == sorted(scores) and unreviewed["total"] >= len(unreviewed["items"]) > 0
    item = unreviewed["items"][0]
    assert item["source"]["id"] == item["question"]["article_id"] and item["why"] and item["candidates"][0]["passage"]
    page = review(env, limit=5, offset=5)
    assert [i["question"]["id"] for i in page["items"]] == [i["question"]["id"] for i in unreviewed["items"][5:10]]
    mine = review(env, article_id=item["question"]["article_id"])
    assert {i["question"]["article_id"] for i in mine["items"]} == {item["question"]["article_id"]}
    assert env.client.get("/v1/review", params={"kind": "later"}, headers=env.alice).status_code == 422
    assert env.client.get("/v1/review", params={"article_id": "nope"}, headers=env.alice).status_code == 404
    gaps = review(env, "gaps")
    assert all(i["state"] == "gap" for i in gaps["items"])
    # duplicate questions come as one item: as many items as clusters (and loners) among the gaps
    grouped = group_clusters(queue(env.services.reading.statuses(), "gaps", {}), env.services.reading.clusters())
    assert gaps["total"] == len(grouped) and sum(1 + len(i.members) for i in grouped) == len(env.services.reading.gaps())
    assert review(env, "changed")["total"] == 0

    # approve a suggestion, then edit its fact check: the question needs another look
    question = item["question"]["id"]
    target = decide(env, question, "approve").json()["decision"]["approved"]
    assert review(env, "changed")["total"] == 0
    article = next(a for a in sample_articles if a.id == target)
    edited = article.model_dump(mode="json", exclude={"id"}) | {
        "summary": article.summary + " Updated with new figures."
    }
    assert env.client.put(f"/v1/articles/{target}", json=edited, headers=env.publisher).json()["status"] == "updated"
    changed = review(env, "changed")
    assert [i["question"]["id"] for i in changed["items"]] == [question]
    assert "edited" in changed["items"][0]["reasons"][0]
    decide(env, question, "approve", target)  # the editor looked again and confirms
    assert review(env, "changed")["total"] == 0

    # a pinned fact check that gets deleted: the pin no longer shows and the question is listed
    other = solid_question(env)
    pin_target = outsider(env, other)
    decide(env, other["question"]["id"], "pin", pin_target)
    assert widget(env, other["question"]["article_id"])[other["question"]["id"]]["answer"]["id"] == pin_target
    assert env.client.delete(f"/v1/articles/{pin_target}", headers=env.publisher).status_code == 204
    shown = widget(env, other["question"]["article_id"]).get(other["question"]["id"])
    assert shown is None or shown["answer"]["id"] != pin_target
    changed = review(env, "changed")["items"]
    reasons = {i["question"]["id"]: i["reasons"] for i in changed}
    assert "deleted" in reasons[other["question"]["id"]][0]


def test_coverage_numbers(env: Env) -> None:
    before = env.client.get("/v1/coverage", headers=env.alice).json()
    total = before["questions"]
    assert total == len(env.services.holder.snapshot().questions)
    assert before["counts"]["approved"] == 0 and before["counts"]["gaps"] == len(env.services.reading.gaps())
    counts = before["counts"]
    assert counts["answered"] + counts["gaps"] + counts["hidden"] + counts["pending"] == total  # pending: not shown yet
    assert sum(b["count"] for b in before["histogram"]) == total and len(before["histogram"]) == 10
    assert before["shares"]["answered"] == round(before["counts"]["answered"] / total, 4)
    item = solid_question(env)
    decide(env, item["question"]["id"], "approve")
    after = env.client.get("/v1/coverage", headers=env.alice).json()
    assert after["counts"]["approved"] == 1 and after["counts"]["unreviewed"] == before["counts"]["unreviewed"] - 1


# -- durability ------------------------------------------------------------------------------------
def test_decisions_survive_reingest_relinking_and_trivial_rewording(env: Env, sample_articles: list[Article]) -> None:
    by_article: dict[str, list[dict]] = {}
    for item in review(env)["items"]:
        by_article.setdefault(item["question"]["article_id"], []).append(item)
    article_id, items = next(
        (a, i) for a, i in by_article.items() if len(i) >= 2 and all(len(x["candidates"]) >= 2 for x in i)
    )
    q_reject, q_hide = items[0], items[1]
    rejected = q_reject["candidates"][0]["id"]
    decide(env, q_reject["question"]["id"], "reject")
    decide(env, q_hide["question"]["id"], "hide")
    other = solid_question(env)
    pin_target = outsider(env, other)
    decide(env, other["question"]["id"], "pin", pin_target)

    # a full re-ingest: every article changes (so every question is stored and linked anew), the
    # source article is deleted first and comes back with its questions reordered (rotated, so every
    # question's position, hence its id, changes) and trivially reworded
    original = next(a for a in sample_articles if a.id == article_id)
    texts = {q["question"]["id"]: q["question"]["text"] for q in items}
    rotated = original.questions[1:] + original.questions[:1]
    reworded = [f"  {t.upper().rstrip('?')} ?!" for t in rotated]
    env.services.catalog.delete(article_id)
    again = [a.model_copy(update={"summary": a.summary + " (Reviewed again.)"}) for a in sample_articles]
    report = env.services.catalog.ingest(
        [a if a.id != article_id else a.model_copy(update={"questions": reworded}) for a in again]
    )
    assert report.added == [article_id] and len(report.updated) == len(sample_articles) - 1
    env.services.linking.relink_all()

    mine = {q.key: q for q in env.services.store.questions_of(article_id)}
    moved = {qid: mine[normalize_question(text)].id for qid, text in texts.items()}
    assert moved[q_reject["question"]["id"]] != q_reject["question"]["id"]
    status = env.client.get(f"/v1/questions/{moved[q_reject['question']['id']]}/decision", headers=env.alice).json()
    assert status["decision"]["rejected"] == [rejected] and rejected not in [c["id"] for c in status["candidates"]]
    shown = widget(env, article_id)
    assert moved[q_hide["question"]["id"]] not in shown
    assert shown.get(moved[q_reject["question"]["id"]], {"answer": {"id": None}})["answer"]["id"] != rejected
    assert widget(env, other["question"]["article_id"])[other["question"]["id"]]["answer"]["id"] == pin_target
    # the history follows the question to its new id
    history = env.client.get(
        "/v1/audit", params={"question_id": moved[q_hide["question"]["id"]]}, headers=env.alice
    ).json()
    assert history["total"] == 1 and history["items"][0]["action"] == "hide"


# -- caching and CORS ------------------------------------------------------------------------------
def test_widget_responses_carry_an_etag_that_changes_with_decisions_and_updates(
    env: Env, sample_articles: list[Article]
) -> None:
    item = solid_question(env)
    article = item["question"]["article_id"]
    path = f"/v1/articles/{article}/dive-deeper"
    first = env.client.get(path)
    etag = first.headers["etag"]
    assert etag.startswith('W/"') and "max-age=60" in first.headers["cache-control"]
    assert "stale-while-revalidate=600" in first.headers["cache-control"]
    cached = env.client.get(path, headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b"" and cached.headers["etag"] == etag
    assert env.client.get(path, headers={"If-None-Match": '"other", ' + etag}).status_code == 304
    assert env.client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    other_article = env.client.get("/v1/articles/health-mmr-autism/dive-deeper").headers["etag"]
    assert other_article != etag

    decide(env, item["question"]["id"], "hide")
    after_decision = env.client.get(path, headers={"If-None-Match": etag})
    assert after_decision.status_code == 200 and after_decision.headers["etag"] != etag
    assert item["question"]["id"] not in {q["id"] for q in after_decision.json()["questions"]}

    etag = after_decision.headers["etag"]
    source = next(a for a in sample_articles if a.id == article)
    body = source.model_dump(mode="json", exclude={"id"}) | {"title": source.title + " (updated)"}
    assert env.client.put(f"/v1/articles/{article}", json=body, headers=env.publisher).status_code == 200
    after_update = env.client.get(path, headers={"If-None-Match": etag})
    assert after_update.status_code == 200 and after_update.headers["etag"] != etag
    assert after_update.json()["article"]["title"].endswith("(updated)")
    assert env.client.get("/v1/articles/nope/dive-deeper", headers={"If-None-Match": "*"}).status_code in (304, 404)


def test_cors_allows_the_configured_sites_to_read_only(writable_sample_services: Services) -> None:
    settings = writable_sample_services.settings.model_copy(update={"cors_origins": ["https://site.example"]})
    token = add_editor(writable_sample_services.store, "alice")
    with TestClient(create_app(settings, services=writable_sample_services)) as client:
        path = "/v1/articles/health-mmr-autism/dive-deeper"
        allowed = client.get(path, headers={"Origin": "https://site.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://site.example"
        assert "access-control-allow-credentials" not in allowed.headers
        assert "access-control-allow-origin" not in client.get(path, headers={"Origin": "https://evil.example"}).headers
        preflight = client.options(
            "/v1/decisions/bulk",
            headers={
                "Origin": "https://site.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status_code == 400
        review_preflight = client.options(
            "/v1/review",
            headers={
                "Origin": "https://site.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert review_preflight.status_code == 400  # no Authorization header from other sites
        assert client.get("/v1/review", headers=bearer(token)).status_code == 200


# -- pages -----------------------------------------------------------------------------------------
def test_pages_widget_script_demo_and_review_page(env: Env) -> None:
    script = env.client.get("/widget.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert '{"max": 5, "timeout": 3000}' in script.text and "innerHTML" not in script.text
    demo = env.client.get("/demo/")
    assert demo.status_code == 200 and 'data-dive-deeper="' in demo.text and 'src="../widget.js"' in demo.text
    page = env.client.get("/demo/health-mmr-autism")
    assert "vaccine" in page.text.lower() and 'data-dive-deeper="health-mmr-autism"' in page.text
    missing = env.client.get("/demo/nope")
    assert missing.status_code == 404 and missing.json()["detail"] == "article 'nope' not found"
    editor = env.client.get("/editor/")
    assert editor.status_code == 200 and "Sign in" in editor.text
    assert "frame-ancestors 'none'" in editor.headers["content-security-policy"]
    for module in ("editor", "core", "queue", "pin", "keyboard", "undo", "reports"):  # ES modules need a script type
        script = env.client.get(f"/editor/{module}.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"], module
    assert '<script type="module" src="editor.js">' in editor.text
    assert env.client.get("/editor", follow_redirects=False).headers["location"].endswith("/editor/")

    escaped = Article(id="xss-demo", title="<img src=x onerror=alert(1)> Title", summary="<b>bold?</b>", questions=[])
    env.services.catalog.ingest([escaped])
    text = env.client.get("/demo/xss-demo").text
    assert "<img src=x" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text and "<b>bold" not in text
