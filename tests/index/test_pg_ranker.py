"""Ranking inside PostgreSQL (index/pg_ranker.py): candidates from the database, scores exactly the
in-memory Ranker's; the worker holds no passage vector; links stay equal to a recomputation."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient

from recommender.api import create_app
from recommender.config import Settings
from recommender.index.backend import MemoryBackend
from recommender.index.pg_ranker import PgRanker, terms_of
from recommender.index.ranker import Ranker
from recommender.index.snapshot import Snapshot
from recommender.index.term_weights import TermWeights
from recommender.linking.linker import compute_links
from recommender.services import Services
from recommender.store.pgvector import nearest_order
from tests.fakes import HashingEncoder
from tests.pg import PgServer

pytestmark = pytest.mark.postgres

QUERIES = [
    "Who pays for tariffs on imports?",
    "Is the measles vaccine safe for children?",
    "Did crime go up in the cities last year?",
    "wind turbines kill birds",
    "xyzzy nothing matches this",
]


@pytest.fixture(scope="module")
def ingested(pg_server: PgServer, sample_articles) -> str:  # type: ignore[no-untyped-def]
    """The sample ingested once with the fake encoder; each test gets a copy."""
    name = pg_server.create()
    services = Services.start(Settings(database_url=pg_server.url_of(name)), encoder=HashingEncoder())
    services.catalog.ingest(sample_articles)
    services.close()
    return name


@pytest.fixture()
def pg_services(pg_server: PgServer, ingested: str) -> Iterator[Services]:
    name = pg_server.create(template=ingested)
    services = Services.start(Settings(database_url=pg_server.url_of(name), refresh_seconds=0), encoder=HashingEncoder())
    yield services
    services.close()
    pg_server.drop(name)


# How far a fused score of the in-memory ranker (int8 passage codes, index/vectors.py) may be from the
# same score on float32 vectors, which PostgreSQL scores: dense weight × the cosine's quantisation error.
QUANTISED = 0.01


def memory_ranker(services: Services) -> Ranker:
    """The exact in-memory ranker over the same database."""
    snapshot = Snapshot.build(services.store.load_index(), services.holder.encoder, services.holder.ranker_config, MemoryBackend())
    assert isinstance(snapshot.ranker, Ranker)
    return snapshot.ranker


def test_the_postgres_backend_holds_no_passage_vector_nor_text(pg_services: Services) -> None:
    snapshot = pg_services.holder.snapshot()
    assert isinstance(snapshot.ranker, PgRanker)
    data = pg_services.store.load_index_rows()  # type: ignore[attr-defined]
    assert data.passage_vectors == [] and data.texts == []
    assert len(data.articles) == len(snapshot.articles) > 0


def test_scores_equal_the_in_memory_rankers_and_so_do_the_top_hits(pg_services: Services) -> None:
    exact = memory_ranker(pg_services)
    ranker = pg_services.holder.snapshot().ranker
    for query in QUERIES:
        expected = exact.rank(query, 40)
        found = ranker.rank(query, 10)
        want = {h.doc_id: h for h in expected}
        for got in found:
            assert got.doc_id in want, query
            assert got.score == pytest.approx(want[got.doc_id].score, abs=QUANTISED)
            assert got.lexical == pytest.approx(want[got.doc_id].lexical, abs=1e-6)
        # The sample is small: the candidate lists cover what matters, so the top 10 are the same but
        # for documents whose scores are closer than the int8 codes of the in-memory index can tell.
        clear = {h.doc_id for h in expected[:10] if h.score > expected[9].score + 2 * QUANTISED}
        assert clear <= {h.doc_id for h in found}, query
        for hit in expected[:3]:
            assert ranker.score(query, hit.doc_id) == pytest.approx(hit.score, abs=QUANTISED)
    assert ranker.score(QUERIES[0], expected[0].doc_id, exclude=[expected[0].doc_id]) is None


def test_term_pairs_count_on_postgresql_as_in_memory(pg_services: Services) -> None:
    """Proximity (index/proximity.py) moves lexical scores on this backend too, by the same amounts."""
    from dataclasses import replace

    from recommender.index.proximity import OFF

    ranker = pg_services.holder.snapshot().ranker
    assert isinstance(ranker, PgRanker) and ranker.config.proximity.on
    plain = PgRanker(ranker.store, ranker.live, ranker.encoder, replace(ranker.config, proximity=OFF), ranker.options)
    moved = 0
    for query in QUERIES:
        with_pairs = {h.doc_id: h.lexical for h in ranker.rank(query, 10)}
        without = {h.doc_id: h.lexical for h in plain.rank(query, 10)}
        moved += sum(1 for d in with_pairs.keys() & without.keys() if with_pairs[d] > without[d] + 1e-6)
    assert moved > 0


def test_only_candidates_are_ranked(pg_services: Services) -> None:
    """What is approximate: recall. Every hit comes from one of the two candidate lists."""
    ranker = pg_services.holder.snapshot().ranker
    assert isinstance(ranker, PgRanker)
    narrow = PgRanker(ranker.store, ranker.live, ranker.encoder, ranker.config, type(ranker.options)(1, 1, 1))
    store = pg_services.store
    for query in QUERIES[:4]:
        vector = ranker.encode([query])
        terms = [t for t in terms_of([query])[0] if t]
        dense = store.dense_candidates(vector, 4 * 3, 1)[0]  # type: ignore[attr-defined]
        lexical = store.lexical_candidates(terms, [narrow._weights.of(t) for t in terms], 3, 1.5, 0.75, 300.0)  # type: ignore[attr-defined]
        hits = narrow.rank(query, 3)
        assert hits and {h.doc_id for h in hits} <= set(dense) | set(lexical)
        assert len(set(dense) | set(lexical)) < narrow.live_size


def test_lexical_candidates_read_each_terms_best_postings(pg_services: Services) -> None:
    """`postings` bounds what a lexical candidate query reads: each query term's best postings by
    saturated tf (the article_terms_impact order); 0 reads all (BM25 order over every posting)."""
    store = pg_services.store
    query = "Who pays for tariffs on imports and do prices rise for consumers?"
    terms = [t for t in terms_of([query])[0] if t]
    weights = [TermWeights().of(t) for t in terms]
    every = store.lexical_candidates(terms, weights, 1000, 1.5, 0.75, 300.0)  # type: ignore[attr-defined]
    assert store.lexical_candidates(terms, weights, 1000, 1.5, 0.75, 300.0, postings=10**6) == every  # type: ignore[attr-defined]
    rows = store.document_terms(every)  # type: ignore[attr-defined]

    def impact(article: str, term: str) -> float:
        length, tfs, _ = rows[article]
        tf = tfs.get(term, 0)
        return tf / (tf + 0.375 + 0.00375 * length)

    best = {t: max(impact(a, t) for a in every) for t in set(terms)}
    narrow = store.lexical_candidates(terms, weights, 1000, 1.5, 0.75, 300.0, postings=1)  # type: ignore[attr-defined]
    assert 0 < len(narrow) <= len(set(terms)) < len(every)
    assert all(any(impact(a, t) == pytest.approx(best[t], rel=1e-6) for t in set(terms)) for a in narrow)


def test_queries_split_over_several_connections_rank_as_one_after_the_other(pg_services: Services) -> None:
    ranker = pg_services.holder.snapshot().ranker
    assert isinstance(ranker, PgRanker)
    options = type(ranker.options)
    one = PgRanker(ranker.store, ranker.live, ranker.encoder, ranker.config, options(parallel_queries=1))
    three = PgRanker(ranker.store, ranker.live, ranker.encoder, ranker.config, options(parallel_queries=3))
    excludes = [[], ["economy-tariffs-who-pays"], [], [], []]
    assert three.rank_batch(QUERIES, 5, excludes) == one.rank_batch(QUERIES, 5, excludes)


def test_also_scores_articles_the_candidate_stage_misses(pg_services: Services) -> None:
    """A recomputation of stored links (verify) scores the stored articles even when the approximate
    candidates miss them, with the score a full ranking gives them."""
    ranker = pg_services.holder.snapshot().ranker
    assert isinstance(ranker, PgRanker)
    narrow = PgRanker(ranker.store, ranker.live, ranker.encoder, ranker.config, type(ranker.options)(1, 1, 1))
    query = QUERIES[0]
    full = ranker.rank(query, ranker.live_size)
    missed = [h.doc_id for h in full[-2:]]  # the two worst: far from the few nearest candidates
    others = [ranker.live - set(missed)]
    assert narrow.rank_batch([query], 2, others) == [[]]  # the candidate stage does not reach them...
    hits = narrow.rank_batch([query], 2, others, also=[missed])  # ...`also` scores them all the same
    assert [(h.doc_id, h.score) for h in hits[0]] == [(h.doc_id, pytest.approx(h.score, abs=1e-5)) for h in full[-2:]]


def test_links_equal_a_recomputation_after_writes(pg_services: Services, sample_articles) -> None:  # type: ignore[no-untyped-def]
    services = pg_services
    changed = sample_articles[0].model_copy(update={"summary": sample_articles[1].summary + " Tariffs and vaccines."})
    services.catalog.ingest([changed])
    services.catalog.delete(sample_articles[2].id)
    assert services.linking.verify().ok
    # ... and equal to what the exact in-memory ranker gives (the candidate stage lost nothing here).
    snapshot = services.holder.snapshot()
    exact = Snapshot(snapshot.generation, memory_ranker(services), snapshot.articles, snapshot.table)
    questions = [q.id for q in snapshot.questions]
    stored = services.store.links_of(questions)
    recomputed = compute_links(exact, questions, services.settings.candidates)
    for question in questions:
        mine, theirs = stored.get(question, []), recomputed[question]
        assert [r.article_id for r in mine[:1]] == [r.article_id for r in theirs[:1]] or (
            len(theirs) > 1 and theirs[0].score - theirs[1].score < 2 * QUANTISED
        ), question
        for link, other in zip(mine, theirs):
            assert link.score == pytest.approx(other.score, abs=2 * QUANTISED)


def test_a_worker_follows_another_ones_writes_and_leaves_their_term_rows_to_it(  # type: ignore[no-untyped-def]
    pg_services: Services, sample_articles, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg_services.holder.snapshot()
    other = Services.open(pg_services.settings, encoder=HashingEncoder())  # another worker
    try:
        other.catalog.ingest([sample_articles[0].model_copy(update={"summary": "Zebra imports face new tariffs."})])
        other.catalog.delete(sample_articles[2].id)
    finally:
        other.close()
    store = pg_services.store
    writes: list[object] = []
    monkeypatch.setattr(store, "write_terms", lambda rows: writes.append(rows))
    monkeypatch.setattr(pg_services.holder, "_build", lambda: pytest.fail("a full build"))
    snapshot = pg_services.holder.snapshot()
    assert writes == [] and snapshot.generation == store.generation()
    assert not snapshot.ranker.contains(sample_articles[2].id)
    exact = memory_ranker(pg_services)
    for query in ("zebra tariffs", *QUERIES[:3]):
        assert [h.doc_id for h in snapshot.ranker.rank(query, 5)] == [h.doc_id for h in exact.rank(query, 5)], query


def test_term_rows_missing_or_stale_are_written_when_the_index_opens(pg_services: Services, pg_server: PgServer) -> None:
    store = pg_services.store
    with psycopg.connect(store.url, autocommit=True) as conn:  # type: ignore[attr-defined]
        conn.execute("DELETE FROM article_lengths WHERE article_id IN (SELECT id FROM articles ORDER BY id LIMIT 3)")
        conn.execute("UPDATE article_lengths SET content_hash = 'old' WHERE article_id = (SELECT MAX(id) FROM articles)")
        # a row written before term proximity (schema migration 9 adds the column as NULL)
        conn.execute("UPDATE article_lengths SET terms = NULL WHERE article_id = (SELECT id FROM articles ORDER BY id LIMIT 1 OFFSET 5)")
    assert len(store.stale_term_articles()) == 5  # type: ignore[attr-defined]
    exact = memory_ranker(pg_services)
    pg_services.holder.store.mark_for_linking([])  # a write from "another process": the next snapshot is built afresh
    pg_services.holder._snapshot = None
    ranker = pg_services.holder.snapshot().ranker
    assert store.stale_term_articles() == []  # type: ignore[attr-defined]
    assert [h.doc_id for h in ranker.rank(QUERIES[0], 5)] == [h.doc_id for h in exact.rank(QUERIES[0], 5)]


def test_terms_are_the_lexical_indexs_tokens() -> None:
    assert terms_of(["The cats were running to the vaccines!", "the"]) == [["cat", "were", "run", "vaccin"], [""]]


def test_while_the_hnsw_index_is_missing_search_scans_and_healthz_says_so(pg_services: Services) -> None:
    store = pg_services.store
    with psycopg.connect(store.url, autocommit=True) as conn:  # type: ignore[attr-defined]
        conn.execute("DROP INDEX passages_halfvec_hnsw")
    exact = memory_ranker(pg_services)
    pg_services.holder._snapshot = None  # a fresh process: nothing cached about the index
    ranker = pg_services.holder.snapshot().ranker
    assert ranker.status()["hnsw"] == "missing"
    assert [h.doc_id for h in ranker.rank(QUERIES[1], 5)] == [h.doc_id for h in exact.rank(QUERIES[1], 5)]
    with TestClient(create_app(pg_services.settings, pg_services)) as client:
        health = client.get("/healthz").json()
    assert health["ranking"]["backend"] == "postgres"
    assert health["ranking"]["hnsw"] == "missing"
    assert health["ranking"]["dense_candidates"] == "exact scan"


def test_the_dense_candidates_come_from_the_hnsw_index(pg_services: Services) -> None:
    store = pg_services.store
    vector = pg_services.holder.encoder.encode([QUERIES[0]])
    with psycopg.connect(store.url, autocommit=True) as conn:  # type: ignore[attr-defined]
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                f"EXPLAIN SELECT article_id FROM passages ORDER BY {nearest_order(len(vector[0]))} LIMIT 10",
                (str(np.asarray(vector[0]).tolist()),),
            )
        )
    assert "passages_halfvec_hnsw" in plan


def test_term_sequences_are_read_only_for_candidates_that_may_reach_the_top(pg_services: Services) -> None:
    """PgRanker._pair_plan: a candidate whose pair evidence cannot lift it to the top k is dropped
    before its terms in text order are read, and the top k stay those of scoring every candidate."""
    ranker = pg_services.holder.snapshot().ranker
    assert isinstance(ranker, PgRanker)
    store = ranker.store
    read: list[str] = []
    real = store.term_sequences

    def spy(article_ids):  # type: ignore[no-untyped-def]
        read.extend(article_ids)
        return real(article_ids)

    store.term_sequences = spy  # type: ignore[method-assign]
    try:
        queries = [q for q in QUERIES if ranker._query_pairs([t for t in terms_of([q])[0] if t]) is not None]
        assert queries
        read_all = read_top = 0
        for query in queries:
            read.clear()
            everything = ranker.rank(query, ranker.live_size)  # k = all: nothing can be dropped
            every = len(read)
            read_all += every
            for k in (1, 3):
                read.clear()
                assert ranker.rank(query, k) == everything[:k], (query, k)
                assert len(read) <= every
                read_top += len(read) if k == 1 else 0
        assert 0 < read_top < read_all / 2
    finally:
        del store.term_sequences
