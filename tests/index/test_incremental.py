"""Writes carry the in-memory snapshot over incrementally; it must equal a full build of the store."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.articles.model import Article, Section
from recommender.config import Settings
from recommender.services import Services
from recommender.index.query import clean_query
from recommender.index.snapshot import Snapshot
from recommender.linking.linker import compute_links, document_scores

@pytest.fixture()
def settings(settings: Settings) -> Settings:
    """These tests are about the in-memory ranker's snapshots: on PostgreSQL too (RECOMMENDER_TEST_STORE)."""
    return settings.model_copy(update={"ranking_backend": "memory"})


QUERIES = ["Who pays for tariffs?", "measles vaccination", "warmest year", "wind turbines whales", "zebra imports"]


def _full(services: Services) -> Snapshot:
    return Snapshot.build(services.store.load_index(), services.holder.encoder, services.holder.ranker_config)


def _by_id(snapshot: Snapshot, queries: list[str]) -> dict[str, np.ndarray]:
    """Each live document's scores for the queries, keyed by document id (positions differ)."""
    _, _, scores = snapshot.ranker.score_matrix(queries, snapshot.ranker.encode(queries))
    return {doc: scores[:, p] for doc, p in ((d, snapshot.ranker.position(d)) for d in snapshot.ranker.doc_ids) if p is not None}


def _article(article_id: str, body: str, questions: list[str]) -> Article:
    return Article(id=article_id, title=f"Fact check {article_id}", summary=body,
                   sections=[Section(heading="Details", text=body + " More details follow.")], questions=questions)


def test_writes_update_the_snapshot_incrementally_and_equal_a_full_build(fake_services: Services, sample_articles) -> None:  # type: ignore[no-untyped-def]
    services = fake_services
    services.catalog.ingest(sample_articles[:30])
    services.holder.snapshot()
    built = {"count": 0}
    original = Snapshot.build

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        built["count"] += 1
        return original(*args, **kwargs)

    Snapshot.build = counting  # type: ignore[method-assign]
    try:
        services.catalog.ingest([_article("zebra-1", "Zebra imports face new tariffs, importers pay.", ["Do zebras pay tariffs?"])])
        services.catalog.ingest([sample_articles[3].model_copy(update={"summary": "Rewritten summary about whales and wind."})])
        services.catalog.delete(sample_articles[5].id)
        services.catalog.ingest(sample_articles[30:33])
        current = services.holder.snapshot()
    finally:
        Snapshot.build = original  # type: ignore[method-assign]
    assert built["count"] == 0  # no full build for small writes
    assert current.generation == services.store.generation()
    assert current.ranker.size > current.ranker.live_size  # replaced and deleted rows stay dead
    live = {d: i for i, d in enumerate(current.ranker.doc_ids) if current.ranker.alive[i]}  # carried, not rebuilt
    assert current.ranker.live_size == len(live) and all(current.ranker.position(d) == i for d, i in live.items())

    full = _full(services)
    assert set(current.articles) == set(full.articles) and current.articles == full.articles
    assert current.questions == full.questions
    np.testing.assert_array_equal(current.question_vectors, full.question_vectors)
    incremental, fresh = _by_id(current, QUERIES), _by_id(full, QUERIES)
    assert incremental.keys() == fresh.keys()
    for doc, scores in fresh.items():
        np.testing.assert_allclose(incremental[doc], scores, rtol=1e-5, atol=1e-6, err_msg=doc)
    assert [h.doc_id for h in current.ranker.rank("zebra tariffs", 5)] == [h.doc_id for h in full.ranker.rank("zebra tariffs", 5)]
    assert sample_articles[5].id not in {h.doc_id for h in current.ranker.rank(sample_articles[5].title, 72)}


def test_question_scores_equal_the_rankers(fake_services: Services, sample_articles) -> None:  # type: ignore[no-untyped-def]
    fake_services.catalog.ingest(sample_articles[:20])
    fake_services.catalog.ingest([_article("zebra-1", "Zebra imports face new tariffs, importers pay.", ["Do zebras pay tariffs?"])])
    snapshot = fake_services.holder.snapshot()
    table = snapshot.table
    rows = np.flatnonzero(table.alive)
    texts = [table.rows[r].text for r in rows]
    _, _, expected = snapshot.ranker.score_matrix(
        [clean_query(t) for t in texts], table.vectors[rows]
    )
    docs = ["zebra-1", sample_articles[0].id]
    found = {scores.doc_id: scores.fused for scores in document_scores(snapshot, docs)}
    assert sorted(found) == sorted(docs)
    for doc in docs:
        position = snapshot.ranker.position(doc)
        np.testing.assert_allclose(found[doc][table.alive], expected[:, position], rtol=1e-5, atol=1e-6)


def test_relinking_after_an_upsert_is_exact(fake_services: Services, sample_articles) -> None:  # type: ignore[no-untyped-def]
    """Every question whose top candidates a new article now joins is relinked (nothing missed by pruning)."""
    services = fake_services
    services.catalog.ingest(sample_articles)
    new = _article("tariff-explainer", sample_articles[0].summary + " " + sample_articles[1].summary,
                   ["Who pays for tariffs?"])
    services.catalog.ingest([new])
    snapshot = services.holder.snapshot()
    stored = services.store.links_of([q.id for q in snapshot.questions])
    fresh = compute_links(snapshot, [q.id for q in snapshot.questions], services.settings.candidates)
    for question in snapshot.questions:
        if any(link.article_id == new.id for link in fresh[question.id]):
            assert any(link.article_id == new.id for link in stored[question.id]), question.id


def test_a_full_build_gives_the_memory_it_freed_back(fake_services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    from recommender.index import holder as holder_module

    calls: list[int] = []
    monkeypatch.setattr(holder_module, "release_freed_memory", lambda: calls.append(1))
    fake_services.holder._snapshot = None  # as after another process's write: the next read builds afresh
    fake_services.holder.rebuild()
    assert calls == [1]
    monkeypatch.undo()
    holder_module.release_freed_memory()  # runs where glibc is (a no-op elsewhere)


def test_document_scores_are_the_same_in_one_product_or_one_per_document(fake_services: Services, sample_articles, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import recommender.linking.linker as linker

    fake_services.catalog.ingest(sample_articles[:12])
    snapshot = fake_services.holder.snapshot()
    docs = [a.id for a in sample_articles[:6]]
    together = {s.doc_id: s for s in document_scores(snapshot, docs)}
    monkeypatch.setattr(linker, "BATCH_CELLS", 1)  # every document its own product
    apart = {s.doc_id: s for s in document_scores(snapshot, docs)}
    assert list(together) == list(apart) == docs
    for doc in docs:
        np.testing.assert_allclose(together[doc].dense, apart[doc].dense, rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(together[doc].lexical, apart[doc].lexical)


@pytest.mark.parametrize("method", ["lexical", "dense", "hybrid"])
def test_vectors_riding_along_change_no_document_score(settings: Settings, sample_articles, method: str) -> None:  # type: ignore[no-untyped-def]
    from recommender.linking.linker import RideAlong
    from tests.fakes import HashingEncoder

    services = Services.start(settings.model_copy(update={"method": method}), encoder=HashingEncoder())
    try:
        services.catalog.ingest(sample_articles[:8])
        snapshot = services.holder.snapshot()
        docs = [a.id for a in sample_articles[:3]]
        alone = {s.doc_id: s for s in document_scores(snapshot, docs)}
        extra = RideAlong(snapshot.table, snapshot.table.vectors[[0, 1]])
        along = {s.doc_id: s for s in document_scores(snapshot, docs, extra)}
        for doc in docs:
            np.testing.assert_allclose(alone[doc].fused, along[doc].fused, rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(alone[doc].dense, along[doc].dense, rtol=1e-6, atol=1e-7)
        assert extra.products is not None and extra.products.shape == (len(snapshot.table), 2)
        assert extra.products_for(snapshot.table, snapshot.table.vectors[[0, 1]]) is extra.products
        assert extra.products_for(snapshot.table, snapshot.table.vectors[[1, 0]]) is None  # other vectors
    finally:
        services.close()


def _count_full_builds(holder, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:  # type: ignore[no-untyped-def]
    built = {"count": 0}
    original = holder._build

    def counting() -> Snapshot:
        built["count"] += 1
        return original()

    monkeypatch.setattr(holder, "_build", counting)
    return built


def test_a_process_follows_another_ones_writes_without_a_full_build(  # type: ignore[no-untyped-def]
    fake_services: Services, settings: Settings, fake_encoder, sample_articles, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = fake_services
    services.catalog.ingest(sample_articles[:30])
    services.holder.snapshot()
    built = _count_full_builds(services.holder, monkeypatch)
    other = Services.open(settings, encoder=fake_encoder)  # another process on the same database
    try:
        other.catalog.ingest([_article("zebra-1", "Zebra imports face new tariffs, importers pay.", ["Do zebras pay tariffs?"])])
        other.catalog.ingest([sample_articles[3].model_copy(update={"summary": "Rewritten summary about whales and wind."})])
        other.catalog.delete(sample_articles[5].id)
        other.linking.relink()  # links only
    finally:
        other.close()
    current = services.holder.snapshot()
    assert built["count"] == 0  # carried over what the other process changed, as over its own writes
    assert current.generation == services.store.generation()
    full = _full(services)
    assert current.articles == full.articles and current.questions == full.questions
    np.testing.assert_array_equal(current.question_vectors, full.question_vectors)
    incremental, fresh = _by_id(current, QUERIES), _by_id(full, QUERIES)
    assert incremental.keys() == fresh.keys()
    for doc, scores in fresh.items():
        np.testing.assert_allclose(incremental[doc], scores, rtol=1e-5, atol=1e-6, err_msg=doc)
    # What the follower links from here on equals a recomputation (its question table came along too).
    services.catalog.ingest([_article("zebra-2", "Zebra tariffs again: who pays?", ["Are zebra tariffs paid by buyers?"])])
    assert built["count"] == 0
    result = services.linking.verify()
    assert result.ok and result.checked == result.questions > 0


def test_a_process_builds_afresh_when_another_one_changed_too_much_or_anything(  # type: ignore[no-untyped-def]
    fake_services: Services, settings: Settings, fake_encoder, sample_articles, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recommender.index import holder as holder_module

    fake_services.catalog.ingest(sample_articles[:10])
    fake_services.holder.snapshot()
    built = _count_full_builds(fake_services.holder, monkeypatch)
    monkeypatch.setattr(holder_module, "INCREMENTAL_MINIMUM", 1)
    monkeypatch.setattr(holder_module, "INCREMENTAL_FRACTION", 0.0)
    other = Services.open(settings, encoder=fake_encoder)
    try:
        other.catalog.ingest(sample_articles[10:12])  # two articles: over the limit of one
        assert set(fake_services.holder.snapshot().articles) == {a.id for a in sample_articles[:12]}
        assert built["count"] == 1
        other.store.reencode(other.store.model_id, {}, {})  # a write of anything: not known article by article
    finally:
        other.close()
    fake_services.holder.snapshot()
    assert built["count"] == 2
