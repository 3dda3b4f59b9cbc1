"""Measure what SQLAlchemy Core (+ Alembic) would cost the store, for docs/architecture.md.

    .venv/bin/python scripts/measure_sql_layer.py [--queries 20000]

The store's own layer (recommender/store/core.py: SQL strings with `?`, rewritten to `%s` for
psycopg) against SQLAlchemy Core on the same database and the same lookup the widget makes per
question (`get_question`: one row by primary key):
- import time: a fresh interpreter importing the SQLite store, SQLAlchemy, SQLAlchemy + Alembic;
- time per lookup on SQLite and, when the test server of scripts/start_postgres.sh runs, PostgreSQL:
  the store's method, Core with the statement built per call (how Core code reads), Core with one
  prebuilt statement (its compiled-statement cache at its best).
SQLAlchemy and Alembic are not dependencies: they are installed (pinned below) into a scratch folder
that is put on the measuring processes' path and removed afterwards. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["sqlalchemy==2.1.9", "alembic==1.20.1"]
IMPORTS = {
    "recommender.store.sqlite (today)": "import recommender.store.sqlite",
    "sqlalchemy": "import sqlalchemy",
    "sqlalchemy + alembic": "import sqlalchemy, alembic.command, alembic.migration",
}

LOOKUPS = r"""
import json, sys, tempfile, time
from pathlib import Path
import numpy as np
from recommender.articles.model import Article, Section
from recommender.domain import StoredArticle
from sqlalchemy import bindparam, create_engine, select, Table, Column, MetaData, Text, Integer

n, pg_url = int(sys.argv[1]), sys.argv[2] or None
items = [
    StoredArticle(
        Article(id=f"a{i}", title="t", summary="s", sections=[Section(heading="h", text="x")], questions=[f"Q {i}?"]),
        f"h{i}", ["x"], np.ones((1, 4), np.float32), np.ones((1, 4), np.float32),
    )
    for i in range(1000)
]
ids = [f"a{i % 1000}-q1" for i in range(n)]
questions = Table("questions", MetaData(), Column("id", Text, primary_key=True), Column("article_id", Text),
                  Column("position", Integer), Column("text", Text), Column("key", Text))

def timed(fn):
    fn(ids[:200])  # warm caches and pools
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        fn(ids)
        runs.append((time.perf_counter() - start) / len(ids) * 1e6)
    return min(runs)

def measure(store, url):
    store.upsert(items)
    engine = create_engine(url)
    prebuilt = select(questions).where(questions.c.id == bindparam("id"))
    def core_built(keys):
        with engine.connect() as conn:
            for key in keys:
                conn.execute(select(questions).where(questions.c.id == key)).first()
    def core_prebuilt(keys):
        with engine.connect() as conn:
            for key in keys:
                conn.execute(prebuilt, {"id": key}).first()
    def ours(keys):
        for key in keys:
            store.get_question(key)
    out = {"store": timed(ours), "core, built per call": timed(core_built), "core, prebuilt": timed(core_prebuilt)}
    engine.dispose()
    store.close()
    return out

result = {}
from recommender.store.sqlite import SQLiteStore
path = Path(tempfile.mkdtemp()) / "m.db"
result["SQLite"] = measure(SQLiteStore(path, "m@1"), f"sqlite:///{path}")
if pg_url:
    from recommender.store.postgres import PostgresStore
    result["PostgreSQL"] = measure(PostgresStore(pg_url, "m@1", pool_min=1, pool_max=1),
                                   pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
print(json.dumps(result))
"""


def import_ms(statement: str, env: dict[str, str], runs: int = 7) -> float:
    """Median wall time of a fresh interpreter running `statement`, less one running nothing."""

    def wall(code: str) -> float:
        out = subprocess.run(
            [sys.executable, "-c", f"import time; s = time.perf_counter(); {code}; print(time.perf_counter() - s)"],
            env=env, capture_output=True, text=True, check=True, cwd=ROOT,
        )
        return float(out.stdout.strip())

    return statistics.median(wall(statement) for _ in range(runs)) * 1000


def scratch_database(url: str) -> str | None:
    """A new empty database on the test server, or None when it does not run."""
    try:
        import psycopg

        with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
            conn.execute("DROP DATABASE IF EXISTS measure_sql_layer WITH (FORCE)")
            conn.execute("CREATE DATABASE measure_sql_layer")
        return url.rsplit("/", 1)[0] + "/measure_sql_layer"
    except Exception:  # noqa: BLE001 (no server: SQLite only)
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=20000)
    args = parser.parse_args()
    url_file = ROOT / "var" / "pgtest" / "url"
    pg_url = scratch_database(url_file.read_text().strip()) if url_file.exists() else None
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", scratch, *PACKAGES], check=True,
            capture_output=True,
        )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([scratch, str(ROOT)])}
        imports = {name: import_ms(code, env) for name, code in IMPORTS.items()}
        out = subprocess.run(
            [sys.executable, "-c", LOOKUPS, str(args.queries), pg_url or ""], env=env, capture_output=True, text=True,
            check=True, cwd=ROOT,
        )
        lookups = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"Import time (fresh interpreter, median of 7; {', '.join(PACKAGES)}):\n")
    print("| import | ms |\n| --- | ---: |")
    for name, ms in imports.items():
        print(f"| {name} | {ms:.0f} |")
    print(f"\nOne question by primary key, µs per lookup (best of 3 runs of {args.queries}):\n")
    print("| database | " + " | ".join(next(iter(lookups.values()))) + " |")
    print("| --- |" + " ---: |" * len(next(iter(lookups.values()))))
    for database, figures in lookups.items():
        print(f"| {database} | " + " | ".join(f"{v:.1f}" for v in figures.values()) + " |")
    if pg_url is None:
        print("\n(PostgreSQL not measured: start it with `bash scripts/start_postgres.sh`.)")


if __name__ == "__main__":
    main()
