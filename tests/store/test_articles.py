"""Contract of recommender/store/articles.py (ArticleStore), on both stores."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from recommender.config import Settings
from recommender.domain import EncoderMismatch
from recommender.store import core
from recommender.store.base import IndexChanges, Store
from recommender.store.factory import open_store
from recommender.store.vectors import Int8Rows
from tests.store.conftest import article, link, stored, vector


def test_an_article_is_read_back_as_written(store: Store) -> None:
    item = article("owls", ["Can owls turn their heads?", "Do owls see colour?"], checked_on=dt.date(2024, 5, 6))
    before = store.generation()
    store.upsert([stored(item, passages=["first passage", "second passage"])])
    assert store.generation() == before + 1
    assert store.get_article("owls") == item
    row = store.get_article_row("owls")
    assert row is not None and (row.title, row.checked_on, row.content_hash) == (item.title, dt.date(2024, 5, 6), item.content_hash())
    assert store.article_rows(["owls", "missing", "owls"]) == {"owls": row}
    assert store.content_hashes() == {"owls": item.content_hash()}
    assert store.passage_text("owls", 1) == "second passage" and store.passage_text("owls", 2) is None
    assert store.stored_model_ids() == {"m@1"}
    assert store.counts() == {"articles": 1, "passages": 2, "questions": 2, "links": 0, "pending": 2}
    assert store.get_article("missing") is None and store.get_article_row("missing") is None


def test_a_write_with_a_vector_missing_stores_nothing(store: Store) -> None:
    good = stored(article("good", ["Is this fine?"]))
    bad = stored(article("bad", ["One question?"]))
    bad = type(bad)(bad.article, bad.content_hash, bad.passages, bad.passage_vectors, bad.question_vectors[:0])
    with pytest.raises(ValueError, match="one vector per question"):
        store.upsert([good, bad])
    assert store.content_hashes() == {} and store.generation() == 0


def test_rewriting_an_article_replaces_its_passages_and_questions(store: Store) -> None:
    store.upsert([stored(article("a", ["Old question?", "Kept question?"]), passages=["p1", "p2"])])
    store.upsert([stored(article("a", ["New question?"]), passages=["only"])])
    assert [q.text for q in store.questions_of("a")] == ["New question?"]
    assert store.counts()["passages"] == 1 and store.passage_text("a", 0) == "only"


def test_deleting_an_article_marks_the_questions_linking_to_it(store: Store) -> None:
    store.upsert([stored(article("a", ["Who pays?"])), stored(article("b"))])
    store.replace_links({"a-q1": [link("a-q1", 0, "b", 0.9)]})
    assert store.questions_to_link() == []
    generation = store.generation()
    assert store.delete_article("missing") is False
    assert store.generation() == generation  # nothing changed: caches stay valid
    assert store.delete_article("b") is True
    assert store.generation() == generation + 1
    assert store.questions_to_link() == ["a-q1"] and store.links_of(["a-q1"]) == {"a-q1": []}
    assert store.get_article("b") is None


def test_vectors_of_identical_passages_are_found_by_text(store: Store) -> None:
    store.upsert([stored(article("a"), passages=["shared text", "own text"])])
    found = store.passage_vectors_by_text(["shared text", "never stored"])
    assert list(found) == ["shared text"]
    np.testing.assert_allclose(found["shared text"], vector("shared text"), rtol=1e-6)
    assert store.passage_vectors_by_text([]) == {}


def test_the_index_holds_every_vector_in_article_order(store: Store) -> None:
    store.upsert([stored(article("b", ["B one?"]), passages=["b0", "b1"]), stored(article("a", ["A one?", "A two?"]))])
    data = store.load_index()
    assert data.generation == store.generation()
    assert [a.id for a in data.articles] == ["a", "b"]
    assert [p.shape[0] for p in data.passage_vectors] == [1, 2]
    # SQLite hands vectors over quantised (store/vectors.py): within half a step of the stored ones.
    tolerance = 0.5 / 127 + 1e-6 if isinstance(data.question_vectors, Int8Rows) else 1e-6
    np.testing.assert_allclose(data.passage_vectors[1][1], vector("b1"), atol=tolerance)
    assert [q.id for q in data.questions] == ["a-q1", "a-q2", "b-q1"]
    np.testing.assert_allclose(data.question_vectors[2], vector("B one?"), atol=tolerance)
    assert "Body of a." in data.texts[0]


def test_vectors_of_another_encoder_are_refused_until_reencoded(store: Store, settings: Settings) -> None:
    store.upsert([stored(article("a", ["Why?"]), passages=["p"])])
    other = open_store(settings, "m@2")
    try:
        with pytest.raises(EncoderMismatch):
            other.load_index()
        passages, questions = other.all_texts()
        assert passages == [("a", 0, "p")] and questions == [("a-q1", "Why?")]
        other.replace_links({"a-q1": []})
        other.reencode("m@2", {("a", 0): vector("p", 6)}, {"a-q1": vector("Why?", 6)})
        assert other.model_id == "m@2" and other.stored_model_ids() == {"m@2"}
        assert other.questions_to_link() == ["a-q1"]  # every question is relinked after re-encoding
        assert other.load_index().question_vectors.shape == (1, 6)
    finally:
        other.close()


def test_a_write_owes_relinks_until_they_are_cleared(store: Store) -> None:
    item = stored(article("a"))
    store.upsert([item])
    assert store.pending_articles() == {"a": item.content_hash}
    store.clear_pending_articles({"a": "another version"})
    assert store.pending_articles() == {"a": item.content_hash}  # only the same version is cleared
    store.clear_pending_articles({"a": item.content_hash})
    assert store.pending_articles() == {}
    store.add_pending_articles({"b": "never written"})
    assert store.pending_articles() == {}  # recorded but not stored: nothing owed


def test_activity_tells_when_the_index_and_the_articles_last_changed(store: Store) -> None:
    assert store.activity().last_ingest_at is None and store.activity().staged == 0
    store.upsert([stored(article("a"))])
    activity = store.activity()
    assert activity.index_changed_at is not None and activity.last_ingest_at is not None
    assert dt.datetime.fromisoformat(activity.last_ingest_at) <= dt.datetime.now(dt.UTC)


def test_another_connection_sees_a_write_at_once(store: Store, other_store: Store) -> None:
    store.upsert([stored(article("a"))])
    assert other_store.generation() == store.generation() == 1
    assert other_store.content_hashes() == store.content_hashes()


def test_changes_since_a_generation_are_the_articles_written_and_deleted_then(store: Store, other_store: Store) -> None:
    store.upsert([stored(article("a", ["Is a true?"])), stored(article("b"))])
    start = store.generation()
    assert other_store.changes_since(start, 10) == IndexChanges(start, [], [])
    rewritten = stored(article("a", ["Is a true?", "Is a new?"], body="A rewritten body."), passages=["one", "two"])
    store.upsert([rewritten, stored(article("c"))])
    store.replace_links({"a-q1": [link("a-q1", 0, "b", 0.5)]})  # links only: no article changed
    store.delete_article("b")
    changes = other_store.changes_since(start, 10)
    assert changes is not None and changes.generation == store.generation() == start + 3
    assert [item.article for item in changes.written] == [rewritten.article, article("c")]
    assert changes.deleted == ["b"]
    a = changes.written[0]
    assert (a.content_hash, list(a.passages)) == (rewritten.content_hash, ["one", "two"])
    np.testing.assert_array_equal(a.passage_vectors, rewritten.passage_vectors)  # float32, as written
    np.testing.assert_array_equal(a.question_vectors, rewritten.question_vectors)
    links_only = other_store.changes_since(start + 1, 10)
    assert links_only is not None and (links_only.written, links_only.deleted) == ([], ["b"])
    assert other_store.changes_since(start, 2) is None  # three articles changed: more than the limit


def test_changes_are_unknown_before_the_record_or_after_a_write_of_anything(store: Store) -> None:
    store.upsert([stored(article("a"))])
    assert store.changes_since(-1, 10) is None  # from before the record began
    assert store.changes_since(store.generation() + 1, 10) is None  # from the future (another database?)
    before = store.generation()
    store.reencode("m@2", {("a", 0): vector("x")}, {})  # every vector swapped: anything may have changed
    assert store.changes_since(before, 10) is None
    after = store.generation()
    store.upsert([stored(article("b"))])
    later = store.changes_since(after, 10)
    assert later is not None and [item.article.id for item in later.written] == ["b"]


def test_the_record_of_changes_keeps_the_last_generations_only(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "CHANGES_KEPT", 3)
    monkeypatch.setattr(core, "CHANGES_PRUNED_EVERY", 2)
    for n in range(6):
        store.upsert([stored(article(f"a{n}"))])
    assert store.generation() == 6
    assert store.changes_since(2, 10) is None  # let go at generation 6: 6 - 3
    kept = store.changes_since(3, 10)
    assert kept is not None and [item.article.id for item in kept.written] == ["a3", "a4", "a5"]
