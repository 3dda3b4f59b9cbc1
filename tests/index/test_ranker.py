"""Ranker behaviour on a tiny corpus with the fake encoder (no model needed)."""

from __future__ import annotations

import numpy as np

from recommender.index.builder import Document, build_ranker
from recommender.index.fusion import combine, saturate
from recommender.index.ranker import RankerConfig
from tests.fakes import HashingEncoder

DOCS = [
    Document("tariffs", "Who pays tariffs", "importers pay tariffs to customs", ("Who pays tariffs", "importers pay tariffs to customs")),
    Document("owls", "Owl necks", "owls turn their heads 270 degrees", ("Owl necks", "owls turn their heads 270 degrees")),
    Document("moon", "Moon landing", "apollo astronauts walked on the moon", ("Moon landing", "apollo astronauts walked on the moon")),
]


def test_every_method_ranks_the_obvious_answer_first() -> None:
    for method in ("dense", "lexical", "hybrid"):
        ranker = build_ranker(DOCS, HashingEncoder(), RankerConfig(method))  # type: ignore[arg-type]
        hits = ranker.rank("do importers pay the tariffs", 3)
        assert hits[0].doc_id == "tariffs", method
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_exclude_is_never_ranked_and_k_is_capped() -> None:
    ranker = build_ranker(DOCS, HashingEncoder(), RankerConfig("hybrid"))
    hits = ranker.rank("tariffs", 10, exclude=["tariffs"])
    assert [h.doc_id for h in hits if h.doc_id == "tariffs"] == []
    assert len(hits) == 2


def test_best_passage_is_reported() -> None:
    ranker = build_ranker(DOCS, HashingEncoder(), RankerConfig("dense"))
    assert ranker.rank("apollo astronauts walked", 1)[0].passage == 1


def test_hybrid_score_is_the_documented_combination() -> None:
    config = RankerConfig("hybrid", dense_weight=0.6, lexical_saturation=5.0)
    ranker = build_ranker(DOCS, HashingEncoder(), config)
    hit = ranker.rank("owls heads", 1)[0]
    assert np.isclose(hit.score, 0.6 * hit.dense + 0.4 * hit.lexical)
    assert 0 <= hit.lexical < 1


def test_fusion_functions() -> None:
    assert np.allclose(saturate(np.array([0.0, 5.0, -1.0]), 5.0), [0.0, 0.5, 0.0])
    assert np.allclose(combine(np.array([1.0]), np.array([0.0]), 0.7), [0.7])


def test_best_passages_of_many_documents_match_one_at_a_time() -> None:
    from recommender.index.dense import DenseIndex

    rng = np.random.default_rng(3)
    groups = [rng.normal(size=(int(n), 16)).astype(np.float32) for n in rng.integers(1, 6, 40)]
    groups[7] = np.repeat(groups[7][:1], 3, axis=0)  # tied passages: the first one wins, as argmax says
    index = DenseIndex.from_groups(groups, 16)
    query = rng.normal(size=16).astype(np.float32)
    docs = [39, 0, 7, 12, 7, 25]
    assert index.best_passages(query, docs).tolist() == [index.best_passage(query, d)[0] for d in docs]
    assert index.best_passages(query, []).tolist() == []
