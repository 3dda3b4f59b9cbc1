"""Contract of recommender/store/questions.py (QuestionStore: questions, links, clusters), on both stores."""

from __future__ import annotations

from recommender.domain import QuestionRow
from recommender.store.base import Store
from tests.store.conftest import article, link, stored


def _corpus(store: Store) -> None:
    store.upsert([stored(article("a", ["First?", "Second?"])), stored(article("b", ["Third?"])), stored(article("c"))])


def test_questions_are_read_by_article_and_by_id(store: Store) -> None:
    _corpus(store)
    assert [q.id for q in store.questions_of("a")] == ["a-q1", "a-q2"]
    question = store.get_question("b-q1")
    assert isinstance(question, QuestionRow) and (question.article_id, question.position, question.text) == ("b", 1, "Third?")
    assert store.get_question("nope") is None and store.questions_of("nope") == []


def test_new_questions_wait_for_links_until_replace_links(store: Store) -> None:
    _corpus(store)
    assert store.questions_to_link() == ["a-q1", "a-q2", "b-q1"]
    generation = store.generation()
    store.replace_links({"a-q1": [link("a-q1", 0, "b", 0.8), link("a-q1", 1, "c", 0.4)], "a-q2": [], "gone-q1": []})
    assert store.generation() == generation + 1
    assert store.questions_to_link() == ["b-q1"]
    assert [r.article_id for r in store.links_of(["a-q1", "a-q2"])["a-q1"]] == ["b", "c"]
    assert store.links_of(["a-q2", "unknown"]) == {"a-q2": [], "unknown": []}
    store.mark_for_linking(["a-q2"])
    assert store.questions_to_link() == ["a-q2", "b-q1"]


def test_links_to_an_article_best_first_above_a_score(store: Store) -> None:
    _corpus(store)
    store.replace_links({"a-q1": [link("a-q1", 0, "c", 0.5)], "b-q1": [link("b-q1", 0, "c", 0.9), link("b-q1", 1, "a", 0.3)]})
    assert [(r.question_id, r.score) for r in store.links_to("c", 0.0)] == [("b-q1", 0.9), ("a-q1", 0.5)]
    assert [r.question_id for r in store.links_to("c", 0.6)] == ["b-q1"]
    assert store.last_candidate_scores() == {"a-q1": (1, 0.5), "b-q1": (2, 0.3)}


def test_best_links_has_every_question_with_its_top_link_or_none(store: Store) -> None:
    _corpus(store)
    store.replace_links({"a-q1": [link("a-q1", 0, "b", 0.7), link("a-q1", 1, "c", 0.2)]})
    best = [(q.id, r.article_id if r else None) for q, r in store.best_links()]
    assert best == [("a-q1", "b"), ("a-q2", None), ("b-q1", None)]


def test_clusters_are_replaced_or_updated_and_remember_their_fingerprint(store: Store) -> None:
    _corpus(store)
    assert store.all_clusters() == {} and store.cluster_fingerprint() is None
    _, decisions = store.counters()
    store.replace_clusters({"a-q1": "x", "b-q1": "x", "deleted-q1": "x"}, "f1")
    assert store.all_clusters() == {"a-q1": "x", "b-q1": "x"}  # a question deleted meanwhile is skipped
    assert store.cluster_fingerprint() == "f1"
    assert store.counters()[1] == decisions + 1  # the widget's other ETag counter
    store.update_clusters({"a-q2": "x", "b-q1": "y"}, ["a-q1"], "f2")
    assert store.all_clusters() == {"a-q2": "x", "b-q1": "y"} and store.cluster_fingerprint() == "f2"


def test_deleting_an_article_drops_its_questions_links_and_clusters(store: Store) -> None:
    _corpus(store)
    store.replace_links({"a-q1": [link("a-q1", 0, "b", 0.7)]})
    store.replace_clusters({"a-q1": "x", "b-q1": "x"}, "f")
    store.delete_article("a")
    assert store.get_question("a-q1") is None and store.all_clusters() == {"b-q1": "x"}
    assert store.links_to("b", 0.0) == []


def test_link_settings_are_recorded_with_a_relink_or_alone(store: Store) -> None:
    _corpus(store)
    assert store.link_settings() is None
    store.replace_links({"a-q1": [], "a-q2": [], "b-q1": []})
    assert store.relink_under('{"w": 1}') == 3
    assert store.link_settings() == '{"w": 1}' and store.questions_to_link() == ["a-q1", "a-q2", "b-q1"]
    store.replace_links({"a-q1": [], "a-q2": [], "b-q1": []})
    store.record_link_settings('{"w": 2}')  # links made elsewhere under these settings: nothing marked
    assert store.link_settings() == '{"w": 2}' and store.questions_to_link() == []
