"""Contract of recommender/store/dump.py (BackupStore: dump, restore, consistent reads), on both stores."""

from __future__ import annotations

from recommender.domain import Decision
from recommender.store.base import Restore, Store
from tests.store.conftest import article, entry, stored


def _fill(store: Store) -> None:
    store.upsert([stored(article("a", ["Why?"])), stored(article("b"))])
    store.add_editor("ann", "hash", "admin")
    store.save_decisions([(0, Decision("a", "k", approved="b", version=1, updated_by="ann", updated_at="t"), entry())])
    store.set_superseded("b", "a", entry(action="supersede", target="a"))


def test_a_dump_restored_with_replace_gives_the_same_dump(store: Store) -> None:
    _fill(store)
    dumped = store.dump()
    assert [a.id for a in dumped.articles] == ["a", "b"] and len(dumped.audit) == 2
    items = [stored(a) for a in dumped.articles]
    store.upsert([stored(article("c"))])
    store.restore(Restore(items, dumped.decisions, dumped.audit, dumped.editors, dumped.superseded), replace=True)
    assert store.dump() == dumped
    assert store.pending_articles() == {}  # replace forgets what the emptied rows owed
    # Explicit audit ids were written: the next entry comes after them.
    store.save_decisions([(1, Decision("a", "k", version=2, updated_by="ann", updated_at="t"), entry(target=None))])
    assert [e.id for e in store.audit_entries()[1]] == [3, 2, 1]


def test_restore_without_replace_adds_to_what_is_there(store: Store) -> None:
    store.upsert([stored(article("kept"))])
    store.restore(Restore([stored(article("added"))], [], [], [], []))
    assert sorted(store.content_hashes()) == ["added", "kept"]


def test_a_consistent_read_sees_one_state(store: Store, other_store: Store) -> None:
    store.upsert([stored(article("a"))])
    with store.consistent_read():
        before = store.content_hashes()
        other_store.upsert([stored(article("b"))])
        assert store.content_hashes() == before
    assert sorted(store.content_hashes()) == ["a", "b"]
