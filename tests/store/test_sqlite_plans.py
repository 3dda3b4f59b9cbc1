"""SQLite's query plans on the write path: no lookup falls back to a scan of every vector row.

SQLite plans without statistics (nothing runs ANALYZE), so an index on a column with one value for
nearly every row (model_id) looks as good to it as a selective one. Migration 8's model_id indexes
once turned the passage lookup by text into a scan of all passages: 330 ms per upsert at 100k.
"""

from __future__ import annotations

import sqlite3

import pytest

from recommender.config import Settings
from recommender.store.factory import open_store
from recommender.store.sqlite import SQLiteStore
from tests.store.conftest import MODEL, article, stored

# Indexes that every row of a table shares a key of: fine for DISTINCT model_id, a scan for anything else.
UNSELECTIVE = ("passages_model", "questions_model")


@pytest.fixture()
def store_backend() -> str:
    return "sqlite"


def _plans(conn: sqlite3.Connection, statements: list[str]) -> dict[str, str]:
    plans = {}
    for sql in statements:
        if not sql.lstrip().upper().startswith("SELECT") or "DISTINCT model_id" in sql:
            continue
        rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
        plans[sql] = " | ".join(row[-1] for row in rows)
    return plans


def test_lookups_on_the_write_path_use_selective_indexes(settings: Settings) -> None:
    store = open_store(settings, MODEL)
    assert isinstance(store, SQLiteStore)
    store.upsert([stored(article(f"a{i}", [f"Question {i}?"]), passages=[f"text {i}", "shared"]) for i in range(3)])
    conn = store._conn()
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        assert set(store.passage_vectors_by_text(["shared", "text 1", "never stored"])) == {"shared", "text 1"}
        store.upsert([stored(article("a1", ["Question one, reworded?"]), passages=["text 1", "new"])])
        store.questions_of("a1")
        store.questions_to_link()
    finally:
        conn.set_trace_callback(None)
    plans = _plans(conn, statements)
    assert any("text_hash IN" in sql for sql in plans), "the passage lookup by text was not traced"
    slow = {sql: plan for sql, plan in plans.items() if any(name in plan for name in UNSELECTIVE)}
    assert not slow, f"lookups planned on an index every row shares: {slow}"
    store.close()
