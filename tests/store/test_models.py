"""Contract of recommender/store/models.py (ModelStore: staged vectors, live model, swap), on both stores."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from recommender.domain import StaleStage
from recommender.store.base import Store
from recommender.store.vectors import Int8Rows
from tests.store.conftest import article, link, stored, vector

NEW = "m@2"


def _corpus(store: Store) -> None:
    store.upsert([
        stored(article("old", ["Old question?"], checked_on=dt.date(2020, 1, 1)), passages=["old p"]),
        stored(article("new", ["New question?"], checked_on=dt.date(2025, 1, 1)), passages=["new p0", "new p1"]),
    ])


def _stage_all(store: Store, dim: int = 6) -> None:
    passages, questions = store.unstaged_texts(NEW)
    store.stage_vectors(NEW, [(a, p, t, vector(t, dim)) for a, p, t in passages], [(q, t, vector(t, dim)) for q, t in questions])


def test_unstaged_texts_come_newest_first_and_shrink_as_they_are_staged(store: Store) -> None:
    _corpus(store)
    passages, questions = store.unstaged_texts(NEW)
    assert passages == [("new", 0, "new p0"), ("new", 1, "new p1"), ("old", 0, "old p")]
    assert questions == [("new-q1", "New question?"), ("old-q1", "Old question?")]
    generation = store.generation()
    store.stage_vectors(NEW, [("new", 0, "new p0", vector("new p0", 6))], [])
    assert store.generation() == generation  # serving is untouched
    assert store.unstaged_texts(NEW)[0] == passages[1:]
    assert store.activity().staged == 1


def test_a_staged_index_needs_every_current_text_staged(store: Store) -> None:
    _corpus(store)
    store.stage_vectors(NEW, [("new", 0, "new p0", vector("new p0", 6))], [])
    with pytest.raises(StaleStage):
        store.load_staged_index(NEW)
    _stage_all(store)
    store.upsert([stored(article("old", ["Old question, reworded?"]), passages=["old p"])])  # a text changed since
    with pytest.raises(StaleStage):
        store.load_staged_index(NEW)


def test_a_swap_makes_the_staged_vectors_and_their_links_live(store: Store) -> None:
    _corpus(store)
    assert store.live_model() == (None, None)
    _stage_all(store)
    staged = store.load_staged_index(NEW)
    assert staged.question_vectors.shape == (2, 6) and [a.id for a in staged.articles] == ["new", "old"]
    np.testing.assert_allclose(staged.passage_vectors[0][1], vector("new p1", 6), rtol=1e-6)
    store.swap_model(NEW, "new-model", {"old-q1": [link("old-q1", 0, "new", 0.9)]}, staged.generation)
    assert store.model_id == NEW and store.live_model() == ("new-model", NEW)
    assert store.stored_model_ids() == {NEW} and store.activity().staged == 0
    live = store.load_index()
    # The live index is read quantised by SQLite (store/vectors.py), exactly as the index quantises the
    # staged float32 vectors: the same float32 values either way.
    expected = Int8Rows.of(np.asarray(staged.question_vectors)).dequantized()
    found = live.question_vectors.dequantized() if isinstance(live.question_vectors, Int8Rows) else expected
    np.testing.assert_array_equal(found, expected)
    if not isinstance(live.question_vectors, Int8Rows):
        np.testing.assert_allclose(live.question_vectors, staged.question_vectors, rtol=1e-6)
    assert [r.article_id for r in store.links_of(["old-q1"])["old-q1"]] == ["new"]
    assert store.questions_to_link() == []


def test_a_swap_after_a_write_is_refused_and_changes_nothing(store: Store) -> None:
    _corpus(store)
    _stage_all(store)
    generation = store.load_staged_index(NEW).generation
    store.upsert([stored(article("third"))])
    with pytest.raises(StaleStage):
        store.swap_model(NEW, "new-model", {}, generation)
    assert store.live_model() == (None, None) and store.stored_model_ids() == {"m@1"}


def test_discarding_forgets_every_staged_vector(store: Store) -> None:
    _corpus(store)
    _stage_all(store)
    store.discard_staged()
    assert store.activity().staged == 0 and len(store.unstaged_texts(NEW)[0]) == 3
