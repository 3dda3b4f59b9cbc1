"""The widget's rendered-payload cache: same bytes as computing afresh, and never stale."""

from __future__ import annotations

from fastapi.testclient import TestClient

from recommender.api.app import create_app
from recommender.api.payload_cache import PayloadCache
from recommender.services import Services


def test_cache_evicts_least_recently_used_and_misses_on_other_counters() -> None:
    cache = PayloadCache(2)
    cache.put("a", (1, 0), b"A")
    cache.put("b", (1, 0), b"B")
    assert cache.get("a", (1, 0)) == b"A"
    cache.put("c", (1, 0), b"C")  # "b" was used least recently
    assert cache.get("b", (1, 0)) is None and cache.get("a", (1, 0)) == b"A"
    assert cache.get("a", (2, 0)) is None  # another generation: recompute
    off = PayloadCache(0)
    off.put("a", (1, 0), b"A")
    assert off.get("a", (1, 0)) is None


def test_widget_serves_cached_bodies_until_a_write(fake_services: Services, sample_articles, settings) -> None:  # type: ignore[no-untyped-def]
    fake_services.catalog.ingest(sample_articles)
    app = create_app(settings.model_copy(update={"rate_limit_per_minute": 0}), services=fake_services)
    article = sample_articles[0]
    with TestClient(app) as client:
        first = client.get(f"/v1/articles/{article.id}/dive-deeper")
        assert first.status_code == 200 and len(app.state.widget_cache) == 1
        calls = []
        original = fake_services.reading.dive_deeper
        fake_services.reading.dive_deeper = lambda article_id: calls.append(article_id) or original(article_id)  # type: ignore[method-assign]
        second = client.get(f"/v1/articles/{article.id}/dive-deeper")
        assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
        assert calls == []  # served from the cache
        fake_services.catalog.ingest([article.model_copy(update={"questions": ["Is this a brand new question?"]})])
        third = client.get(f"/v1/articles/{article.id}/dive-deeper")
        assert calls == [article.id] and third.headers["etag"] != first.headers["etag"]
        assert [q["text"] for q in third.json()["questions"]] in ([], ["Is this a brand new question?"])
        assert client.get("/v1/articles/nope/dive-deeper").status_code == 404


def test_include_unanswered_lists_the_articles_own_open_questions(fake_services: Services, sample_articles, settings) -> None:  # type: ignore[no-untyped-def]
    """Issue 18.5: off by default (answered questions only); on, the article's own unanswered questions come
    with answer null in the article's order, hidden ones never, under their own ETag and cache entry."""
    fake_services.catalog.ingest(sample_articles)
    app = create_app(settings.model_copy(update={"rate_limit_per_minute": 0}), services=fake_services)
    article = next(a for a in sample_articles if len(a.questions) >= 4)
    ids = [q.id for q in article.question_records()]
    # The reference article's case: none of its questions has an answer shown (two gaps, one hidden) but one.
    fake_services.editorial.decide(ids[0], "gap", None, "alice")
    fake_services.editorial.decide(ids[1], "hide", None, "alice")
    fake_services.editorial.decide(ids[2], "gap", None, "alice")
    url = f"/v1/articles/{article.id}/dive-deeper"
    with TestClient(app) as client:
        default = client.get(url)
        opted = client.get(url, params={"include_unanswered": "true"})
        assert default.status_code == opted.status_code == 200
        assert all(q["answer"] is not None for q in default.json()["questions"])
        assert ids[0] not in [q["id"] for q in default.json()["questions"]]
        own = opted.json()["questions"]
        unanswered = [q["id"] for q in own if q["answer"] is None]
        assert ids[0] in unanswered and ids[2] in unanswered and ids[1] not in [q["id"] for q in own]
        assert [q["id"] for q in own] == sorted((q["id"] for q in own), key=ids.index)  # the article's order
        assert [q for q in own if q["answer"] is not None] == default.json()["questions"]
        assert opted.json()["related"] == default.json()["related"]
        assert opted.headers["etag"] != default.headers["etag"]
        again = client.get(url, params={"include_unanswered": "true"}, headers={"If-None-Match": opted.headers["etag"]})
        assert again.status_code == 304
        assert client.get(url).content == default.content  # the two variants are cached apart
        assert client.get(url, params={"include_unanswered": "maybe"}).status_code == 422
