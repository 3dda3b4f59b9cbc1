"""recommender/store/base.py: both stores implement every method of the Store protocol, with its parameters."""

from __future__ import annotations

import inspect

import pytest

from recommender.store import base
from recommender.store.postgres import PostgresStore
from recommender.store.sqlite import SQLiteStore

PARTS = [base.ArticleStore, base.QuestionStore, base.DecisionStore, base.EditorStore, base.ModelStore, base.BackupStore]


def _methods(cls: type) -> dict[str, list[str]]:
    return {
        name: list(inspect.signature(member).parameters)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_the_protocol_is_its_parts_and_close() -> None:
    from_parts = {name for part in PARTS for name in _methods(part)}
    assert set(_methods(base.Store)) == from_parts | {"close"}
    # No method is in two parts: each belongs to one aggregate.
    assert sum(len(_methods(part)) for part in PARTS) == len(from_parts)


@pytest.mark.parametrize("store_class", [SQLiteStore, PostgresStore], ids=["sqlite", "postgres"])
def test_a_store_has_every_protocol_method_with_its_parameters(store_class: type) -> None:
    wanted, found = _methods(base.Store), _methods(store_class)
    assert {name: found.get(name) for name in wanted} == wanted
