"""Contract of recommender/store/decisions.py (DecisionStore: decisions, audit, superseded), on both stores."""

from __future__ import annotations

import dataclasses

import pytest

from recommender.domain import Decision, VersionConflict
from recommender.store.base import Store
from tests.store.conftest import entry


def _decision(version: int, approved: str | None = "b", key: str = "k", editor: str = "ann") -> Decision:
    return Decision("a", key, approved=approved, rejected=("c", "d"), version=version, updated_by=editor,
                    updated_at="2026-01-01T00:00:00+00:00", target_hash="h", target_score=0.5)


def test_a_decision_is_saved_with_its_audit_entry_and_read_back(store: Store, other_store: Store) -> None:
    store.add_editor("ann", "hash", "editor")
    generation, decisions = store.counters()
    store.save_decisions([(0, _decision(1), entry())])
    assert store.counters() == (generation, decisions + 1)  # no index rebuild for an editor's click
    assert other_store.get_decision("a", "k") == _decision(1)
    assert store.decisions_for([("a", "k"), ("a", "other"), ("x", "k")]) == {("a", "k"): _decision(1)}
    assert store.all_decisions() == {("a", "k"): _decision(1)}
    total, entries = store.audit_entries()
    assert total == 1 and entries[0].role == "editor"  # the role the editor acted with, filled in on write
    assert (entries[0].after, entries[0].target_id) == ({"approved": "b"}, "b") and entries[0].id > 0


def test_a_stale_version_is_a_conflict_and_nothing_of_the_batch_is_stored(store: Store) -> None:
    store.save_decisions([(0, _decision(1), entry())])
    with pytest.raises(VersionConflict) as raised:
        store.save_decisions([(0, _decision(1, key="fresh"), entry(key="fresh")), (0, _decision(2), entry())])
    assert raised.value.current == 1 and raised.value.key == "k"
    assert store.get_decision("a", "fresh") is None and store.audit_entries()[0] == 1
    store.save_decisions([(1, _decision(2, approved=None), entry())])
    assert store.get_decision("a", "k") == dataclasses.replace(_decision(2), approved=None)


def test_audit_entries_filter_and_page_newest_first(store: Store) -> None:
    store.save_decisions([
        (0, _decision(1, key="k1"), entry(editor="ann", key="k1", question="a-q1", target="b")),
        (0, _decision(1, key="k2"), entry(editor="bob", key="k2", question="a-q2", target="c", action="reject")),
        (1, _decision(2, key="k1"), entry(editor="bob", key="k1", question="a-q1", target="d")),
    ])
    total, page = store.audit_entries(limit=2)
    assert total == 3 and [e.target_id for e in page] == ["d", "c"]
    assert [e.target_id for e in store.audit_entries(limit=2, offset=2)[1]] == ["b"]
    assert [e.target_id for e in store.audit_entries(question=("a", "k1"))[1]] == ["d", "b"]
    assert [e.target_id for e in store.audit_entries(question_id="a-q2")[1]] == ["c"]
    assert [e.target_id for e in store.audit_entries(editor="bob", action="reject")[1]] == ["c"]
    assert [e.target_id for e in store.audit_entries(article_id="d")[1]] == ["d"]  # the fact check acted on
    assert store.audit_entries(article_id="a")[0] == 3  # the question's own article
    assert store.audit_entries(editor="nobody") == (0, [])


def test_superseded_fact_checks_are_set_and_cleared_with_an_audit_entry(store: Store) -> None:
    _, decisions = store.counters()
    store.set_superseded("old", "new", entry(action="supersede", target="new"))
    assert store.superseded_map() == {"old": "new"}
    store.set_superseded("old", "newer", entry(action="supersede", target="newer"))
    assert store.superseded_map() == {"old": "newer"}
    store.set_superseded("old", None, entry(action="unsupersede", target=None))
    assert store.superseded_map() == {}
    assert store.counters()[1] == decisions + 3
    assert [e.action for e in store.audit_entries()[1]] == ["unsupersede", "supersede", "supersede"]
