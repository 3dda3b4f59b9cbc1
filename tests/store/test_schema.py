"""recommender/store/schema.py: one definition, both dialects' migrations, existing databases upgraded unchanged.

Databases are built with the hand-written migrations the code had before (legacy_schema.py) at
every version, with rows in them, then opened by today's stores: each must reach exactly the schema
a fresh database gets today (SQLite: the DDL recorded in sqlite_master; PostgreSQL: columns, types,
collations, defaults, constraints and indexes from the catalog) and keep its rows.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from recommender.store import schema
from recommender.store.schema import INT, TEXT, AddColumn, Column, Index, Sql, Step, Table, migrations, purposes, versions
from recommender.store.sqlite import SQLiteStore
from tests.pg import PgServer
from tests.store import legacy_schema

ARTICLE = (
    "INSERT INTO articles (id, title, checked_on, summary, sections, url, topic, body, content_hash, updated_at) "
    "VALUES ('a1', 'T', '2024-01-02', 'S', '[]', NULL, NULL, 'B', 'h1', '2024-01-03T00:00:00+00:00')"
)
EDITOR = "INSERT INTO editors (name, token_hash, created_at, revoked_at) VALUES ('old', 'hash', '2024-01-01', NULL)"


def _normal(sql: str) -> str:
    sql = re.sub(r"\s+", " ", sql).strip()
    return re.sub(r"\s*([(),])\s*", r"\1", sql)


def test_the_rendered_migrations_are_the_hand_written_ones_statement_for_statement() -> None:
    for legacy, dialect in ((legacy_schema.SQLITE, "sqlite"), (legacy_schema.POSTGRESQL, "postgresql")):
        rendered = migrations(dialect)  # type: ignore[arg-type]
        # Steps added after the move to one definition exist only in schema.py.
        assert len(rendered) >= len(legacy), dialect
        for version, (old, new) in enumerate(zip(legacy, rendered), start=1):
            old_statements = sorted(_normal(s) for s in old.split(";") if s.strip())
            new_statements = sorted(_normal(s) for s in new.split(";") if s.strip())
            assert new_statements == old_statements, f"{dialect} version {version}"


def test_a_step_added_later_is_one_version_in_each_dialect_with_its_own_types() -> None:
    step = Step(
        "a later step",
        [
            Table("notes", [Column("id", schema.KEY, primary=True), Column("flag", schema.BOOL, default=True)]),
            Index("notes_flag", "notes", ["id"], where_true="flag"),
            AddColumn("editors", Column("note", TEXT, null=True)),
            Sql("SELECT 1", None),
        ],
    )
    sqlite_versions = versions("sqlite", [*schema.STEPS, step])
    pg_versions = versions("postgresql", [*schema.STEPS, step])
    assert len(sqlite_versions) == len(schema.STEPS) + 1 and len(pg_versions) == len(schema.STEPS)
    assert sqlite_versions[-1] == [
        "CREATE TABLE notes (\n    id TEXT PRIMARY KEY,\n    flag INTEGER NOT NULL DEFAULT 1\n)",
        "CREATE INDEX notes_flag ON notes(id) WHERE flag = 1",
        "ALTER TABLE editors ADD COLUMN note TEXT",
        "SELECT 1",
    ]
    assert pg_versions[-1] == [
        'CREATE TABLE notes (\n    id TEXT COLLATE "C" PRIMARY KEY,\n    flag BOOLEAN NOT NULL DEFAULT TRUE\n)',
        "CREATE INDEX notes_flag ON notes(id) WHERE flag",
        "ALTER TABLE editors ADD COLUMN note TEXT",
    ]
    assert Column("n", INT, default=0).render("postgresql") == "n INTEGER NOT NULL DEFAULT 0"
    assert Column("s", TEXT, default="it's").render("sqlite") == "s TEXT NOT NULL DEFAULT 'it''s'"


# -- SQLite ----------------------------------------------------------------------------------------
def _sqlite_schema(path: Path) -> tuple[int, list[tuple[str, str, str]]]:
    conn = sqlite3.connect(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name").fetchall()
    finally:
        conn.close()
    return version, [(kind, name, _normal(sql)) for kind, name, sql in rows]


def _legacy_sqlite(path: Path, version: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for migration in legacy_schema.SQLITE[:version]:
        conn.executescript(migration)
    conn.execute(f"PRAGMA user_version = {version}")
    if version >= 1:
        conn.execute(ARTICLE)
    if version >= 2:
        conn.execute(EDITOR)
    conn.close()


@pytest.mark.parametrize("version", range(len(legacy_schema.SQLITE) + 1))
def test_a_sqlite_database_made_by_the_old_code_upgrades_to_todays_schema(tmp_path: Path, version: int) -> None:
    SQLiteStore(tmp_path / "fresh.db", "m@1").close()
    _legacy_sqlite(tmp_path / "old.db", version)
    store = SQLiteStore(tmp_path / "old.db", "m@1")
    try:
        if version >= 1:
            assert store.content_hashes() == {"a1": "h1"}
        if 1 <= version < 5:  # migration 5 found the article and recorded its time as the index's age
            assert store.activity().index_changed_at == "2024-01-03T00:00:00+00:00"
        if version >= 2:
            assert [(r.editor.name, r.editor.role) for r in store.editor_records()] == [("old", "admin")]
    finally:
        store.close()
    assert _sqlite_schema(tmp_path / "old.db") == _sqlite_schema(tmp_path / "fresh.db")
    assert _sqlite_schema(tmp_path / "fresh.db")[0] == len(migrations("sqlite"))


# -- PostgreSQL ------------------------------------------------------------------------------------
CATALOG = {
    "columns": """SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), co.collname,
                         a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity
                  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
                  LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 100
                  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                  WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1, 2""",
    "constraints": """SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k
                      JOIN pg_class c ON c.oid = k.conrelid
                      JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' ORDER BY 1, 2""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2",
    "version": "SELECT version FROM schema_version",
}


def _pg_schema(url: str) -> dict[str, list[tuple]]:
    import psycopg

    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in CATALOG.items()}  # type: ignore[arg-type]


@pytest.mark.postgres
def test_postgres_databases_made_by_the_old_code_upgrade_to_todays_schema(pg_server: PgServer) -> None:
    import psycopg

    from recommender.store.postgres import PostgresStore

    fresh = pg_server.create()
    PostgresStore(pg_server.url_of(fresh), "m@1", pool_min=0, pool_max=1).close()
    expected = _pg_schema(pg_server.url_of(fresh))
    assert expected["version"] == [(len(migrations("postgresql")),)]
    pg_server.drop(fresh)
    for version in range(len(legacy_schema.POSTGRESQL) + 1):
        name = pg_server.create()
        url = pg_server.url_of(name)
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                for migration in legacy_schema.POSTGRESQL[:version]:
                    conn.execute(migration)  # type: ignore[arg-type]
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
                if version >= 1:
                    conn.execute(ARTICLE)  # type: ignore[arg-type]
                if version >= 2:
                    conn.execute(EDITOR)  # type: ignore[arg-type]
            store = PostgresStore(url, "m@1", pool_min=0, pool_max=1)
            try:
                if version >= 1:
                    assert store.content_hashes() == {"a1": "h1"}
                if 1 <= version < 4:  # as SQLite's migration 5
                    assert store.activity().index_changed_at == "2024-01-03T00:00:00.000000+00:00"
                if version >= 2:
                    assert [(r.editor.name, r.editor.role) for r in store.editor_records()] == [("old", "admin")]
            finally:
                store.close()
            assert _pg_schema(url) == expected, f"made at version {version}"
        finally:
            pg_server.drop(name)


def test_every_version_says_what_it_is_for() -> None:
    """purposes() names each version's steps (a failed migration's error quotes it), folded ones included."""
    for dialect in ("sqlite", "postgresql"):
        assert len(purposes(dialect)) == len(versions(dialect))  # type: ignore[arg-type]
    assert "finding the questions to relink" in purposes("postgresql")[0]
    assert purposes("postgresql")[-1] == "the passages' HNSW index over half-precision vectors"
