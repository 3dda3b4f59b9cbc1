"""How long PostgreSQL schema migration 11 (the passages' HNSW index over halfvec) takes on a loaded database.

    .venv/bin/python scripts/bench_pg_migration.py [--size 100000] [--maintenance-work-mem 1GB]

Works on the database scripts/bench_pg_scale.py --build made (`pg_scale_<size>` on the test server):
drops the index, sets the schema version back by one and opens a PostgresStore, whose start applies
the migration (the index build is all of it), timed. `--maintenance-work-mem` is passed to the
store's connections as an operator would for the first start of the new version (PGOPTIONS);
without it the server's own setting applies. The database is left as it was (index built, version
current). Prints one line; docs/operations.md quotes it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from recommender.store.pgvector import HNSW_INDEX  # noqa: E402
from recommender.store.postgres import MIGRATIONS, PostgresStore  # noqa: E402
from scripts.bench_pg_scale import database_url  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--maintenance-work-mem", help="e.g. 1GB (default: the server's setting)")
    args = parser.parse_args()
    if args.maintenance_work_mem:
        os.environ["PGOPTIONS"] = f"-c maintenance_work_mem={args.maintenance_work_mem}"
    url = database_url(args.size)
    with psycopg.connect(url, autocommit=True) as conn:
        setting = conn.execute("SHOW maintenance_work_mem").fetchone()[0]  # type: ignore[index]
        passages = conn.execute("SELECT count(*) FROM passages").fetchone()[0]  # type: ignore[index]
        model = conn.execute("SELECT model_id FROM passages LIMIT 1").fetchone()[0]  # type: ignore[index]
        conn.execute(f"DROP INDEX IF EXISTS {HNSW_INDEX}")
        conn.execute("UPDATE schema_version SET version = %s", (len(MIGRATIONS) - 1,))
    began = time.perf_counter()
    PostgresStore(url, model).close()
    print(f"migration {len(MIGRATIONS)} on {args.size:,} articles ({passages:,} passages), "
          f"maintenance_work_mem {setting}: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
