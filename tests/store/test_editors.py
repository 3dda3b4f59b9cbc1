"""Contract of recommender/store/editors.py (EditorStore), on both stores."""

from __future__ import annotations

import pytest

from recommender.store.base import Store


def test_editors_are_added_revoked_and_renewed_with_a_role(store: Store, other_store: Store) -> None:
    store.add_editor("bob", "hash-1")
    store.add_editor("ann", "hash-2", "admin")
    records = other_store.editor_records()  # another connection: a new token works at once
    assert [(r.editor.name, r.editor.role, r.editor.active, r.token_hash) for r in records] == [
        ("ann", "admin", True, "hash-2"),
        ("bob", "editor", True, "hash-1"),
    ]
    with pytest.raises(ValueError, match="already has an active token"):
        store.add_editor("bob", "hash-3")
    assert store.revoke_editor("bob") is True and store.revoke_editor("bob") is False
    assert store.revoke_editor("nobody") is False
    bob = next(r.editor for r in other_store.editor_records() if r.editor.name == "bob")
    assert not bob.active and bob.revoked_at is not None  # a revoked token stops working at once
    store.add_editor("bob", "hash-4", "publisher")
    bob_record = next(r for r in store.editor_records() if r.editor.name == "bob")
    assert (bob_record.editor.active, bob_record.editor.role, bob_record.token_hash) == (True, "publisher", "hash-4")


def test_a_role_outside_the_three_is_refused_by_the_database(store: Store) -> None:
    with pytest.raises(Exception, match="(?i)check"):
        store.add_editor("eve", "hash", "owner")  # type: ignore[arg-type]
    assert store.editor_records() == []
