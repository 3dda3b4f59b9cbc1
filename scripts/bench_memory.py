"""Peak memory (RSS) of the server at 10k and 100k articles, and what the index holds.

    .venv/bin/python scripts/bench_memory.py [--dbs /tmp/perf/db-10k.db /tmp/perf/db-100k.db]

Starts `recommender serve` (one process, default settings, 127.0.0.1) on a copy of each benchmark
database (scripts/synthetic_corpus.py), times its start-up (the full index build), sends 200 widget
reads, 20 searches and one article upsert (PUT, which carries the index over incrementally), then
reads the process's current and peak resident set size from /proc. A second part builds the same
index in this process and reports the size of its parts.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recommender.config import Settings  # noqa: E402
from recommender.editorial.auth import hash_token, new_token  # noqa: E402
from scripts.docs_table import PERFORMANCE, publish  # noqa: E402
from scripts.httpload import run_load  # noqa: E402
from scripts.serverproc import rss_kib, server  # noqa: E402

COMMAND = ".venv/bin/python scripts/bench_memory.py"

TARGET_MB = 1536


def index_parts(db: Path) -> dict[str, float]:
    """MB held by each part of the in-memory index, built here as the server builds it."""
    from recommender.embedding.factory import create_encoder
    from recommender.index.ranker import RankerConfig
    from recommender.index.snapshot import Snapshot
    from recommender.store.sqlite import SQLiteStore

    settings = Settings()
    encoder = create_encoder(settings.model, settings.models_dir, backend=settings.backend)
    store = SQLiteStore(db, encoder.model_id)
    config = RankerConfig.of(settings)
    snapshot = Snapshot.build(store.load_index(), encoder, config)
    store.close()
    lexical = snapshot.ranker.lexical
    dense = snapshot.ranker.dense
    table = snapshot.table
    assert lexical is not None and dense is not None
    mb = 1 / 2**20
    return {
        "passage vectors (float32)": dense.vectors.nbytes * mb,
        "question vectors (float32)": table.vectors.nbytes * mb,
        "BM25 postings": (lexical._docs.nbytes + lexical._tfs.nbytes + lexical._indptr.nbytes) * mb,
        "question BM25 tokens": (table.token_ids.nbytes + table.token_ends.nbytes) * mb,
        "passages / questions / articles": dense.vectors.shape[0],
        "questions": len(table),
        "articles": len(snapshot.articles),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dbs", type=Path, nargs="+", default=[Path("/tmp/perf/db-10k.db"), Path("/tmp/perf/db-100k.db")])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows, parts = [], []
    for db in args.dbs:
        if not db.exists():
            rows.append(f"| `{db.name}` | not measured: database missing (scripts/synthetic_corpus.py) | | | | |")
            continue
        conn = sqlite3.connect(db)
        articles = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        ids = [r[0] for r in conn.execute("SELECT id FROM articles ORDER BY id LIMIT 200")]
        conn.close()
        token = new_token()
        began = time.perf_counter()
        with server(db) as (port, process):
            startup = time.perf_counter() - began
            after_start = rss_kib(process.pid)
            run_load(port, [f"/v1/articles/{a}/dive-deeper" for a in ids], 50, len(ids))
            run_load(port, ["/v1/search?q=who%20pays%20for%20tariffs&k=5"] * 20, 5, 20)
            # One upsert through the API, as the publishing system sends it.
            from recommender.store.sqlite import SQLiteStore

            store = SQLiteStore(db.with_name(f"{db.stem}-serve.db"), "-")
            store.add_editor("publisher", hash_token(token), "publisher")
            store.close()
            body = json.dumps({"id": "bench-new", "title": "Do tariffs raise prices?", "summary": "Importers pay tariffs.",
                               "questions": ["Who pays for tariffs?"]}).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/articles/bench-new", data=body, method="PUT",
                                             headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
            began = time.perf_counter()
            with urllib.request.urlopen(request, timeout=600) as answer:
                status = answer.status
            put_ms = (time.perf_counter() - began) * 1000
            now, peak = rss_kib(process.pid)
        ok = "yes" if peak / 1024 <= TARGET_MB else "no"
        rows.append(
            f"| {articles:,} | {startup:.0f} | {after_start[0] / 1024:.0f} | {now / 1024:.0f} | {peak / 1024:.0f} | "
            f"{put_ms:.0f} ({status}) | {ok} |"
        )
        print(rows[-1], file=sys.stderr)
        found = index_parts(db)
        parts.append(
            f"| {found['articles']:,} | {found['passages / questions / articles']:,} | {found['questions']:,} | "
            f"{found['passage vectors (float32)']:.0f} | {found['question vectors (float32)']:.0f} | "
            f"{found['BM25 postings']:.0f} | {found['question BM25 tokens']:.0f} |"
        )
    table = "\n".join(
        [
            f"One server process, default settings (`{Settings().backend}` encoder), on copies of the synthetic "
            f"databases; 1-minute load average at the end {os.getloadavg()[0]:.1f} (shared machine).",
            "",
            "| articles | start-up s | RSS after start MB | RSS at the end MB | peak RSS MB | one upsert over HTTP ms | peak <= 1.5 GB |",
            "|---:|---:|---:|---:|---:|---:|---|",
            *rows,
            "",
            "What the index holds (MB):",
            "",
            "| articles | passages | questions | passage vectors | question vectors | BM25 postings | question tokens |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            *parts,
        ]
    )
    publish(PERFORMANCE, "memory", table, COMMAND, write=not args.no_write)


if __name__ == "__main__":
    main()
