"""Peak memory (RSS) of the server at 10k and 100k articles, and what the index holds.

    .venv/bin/python scripts/bench_memory.py [--dbs /tmp/perf/db-10k.db /tmp/perf/db-100k.db]

Starts `recommender serve` (one process, default settings, 127.0.0.1) on a copy of each benchmark
database (scripts/synthetic_corpus.py) twice: first without index files (a full build from the
database, which writes them), then again (the files memory-mapped, see recommender/index/files.py).
The second server gets 200 widget reads, 20 searches and one article upsert (PUT, which carries the
index over incrementally); each server's current and peak resident set size come from /proc. The
encoder is the one whose vectors the database holds. A second part builds the same index in this
process and reports the size of its parts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
from scripts.serverproc import process_age, rss_kib, server  # noqa: E402

COMMAND = ".venv/bin/python scripts/bench_memory.py"

TARGET_MB = 1536


def index_parts(db: Path) -> dict[str, float]:
    """MB held by each part of the in-memory index, built here as the server builds it."""
    from recommender.embedding.factory import create_encoder
    from recommender.index.ranker import RankerConfig
    from recommender.index.snapshot import Snapshot
    from recommender.store.sqlite import SQLiteStore

    settings = Settings(model=model_of(db))
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
        "passage vectors": dense.vectors.nbytes * mb,
        "question vectors": table.vectors.nbytes * mb,
        "BM25 postings": (lexical._docs.nbytes + lexical._tfs.nbytes + lexical._indptr.nbytes) * mb,
        "question BM25 tokens": (table.token_ids.nbytes + table.token_ends.nbytes) * mb,
        "term positions": sum(
            a.nbytes for name, a in lexical.arrays().items() if name in ("sequence", "starts", "positions", "position_ptr")
        ) * mb,
        "question term pairs": (table.pairs.keys.nbytes + table.pairs.rows.nbytes) * mb,
        "passages / questions / articles": dense.vectors.shape[0],
        "questions": len(table),
        "articles": len(snapshot.articles),
    }


def model_of(db: Path) -> str:
    """The registry name of the encoder whose vectors `db` holds (its model id without the revision)."""
    conn = sqlite3.connect(db)
    row = conn.execute("SELECT model_id FROM passages LIMIT 1").fetchone()
    conn.close()
    return row[0].split("@")[0] if row else Settings().model


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
        # Bring the database to today's schema once: a server's start on each copy is then a restart, not
        # an upgrade (a new migration's index build would be timed as start-up otherwise).
        from recommender.store.sqlite import SQLiteStore

        SQLiteStore(db, model_of(db)).close()
        conn = sqlite3.connect(db)
        articles = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        ids = [r[0] for r in conn.execute("SELECT id FROM articles ORDER BY id LIMIT 200")]
        conn.close()
        token = new_token()
        index_dir = db.with_name(f"{db.stem}-bench.index")
        shutil.rmtree(index_dir, ignore_errors=True)
        env = {"RECOMMENDER_MODEL": model_of(db), "RECOMMENDER_INDEX_DIR": str(index_dir)}
        with server(db, env=env) as (port, process):  # no index files yet: a full build writes them
            first_startup = process_age(process.pid)
            first_peak = rss_kib(process.pid)[1]
        files_mb = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file()) / 2**20
        with server(db, env=env) as (port, process):
            startup = process_age(process.pid)
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
        shutil.rmtree(index_dir, ignore_errors=True)
        ok = "yes" if max(peak, first_peak) / 1024 <= TARGET_MB else "no"
        rows.append(
            f"| {articles:,} | {first_startup:.1f} | {first_peak / 1024:.0f} | {startup:.1f} | {after_start[0] / 1024:.0f} | "
            f"{now / 1024:.0f} | {peak / 1024:.0f} | {put_ms:.0f} ({status}) | {files_mb:.0f} | {ok} |"
        )
        print(rows[-1], file=sys.stderr)
        found = index_parts(db)
        parts.append(
            f"| {found['articles']:,} | {found['passages / questions / articles']:,} | {found['questions']:,} | "
            f"{found['passage vectors']:.0f} | {found['question vectors']:.0f} | "
            f"{found['BM25 postings']:.0f} | {found['question BM25 tokens']:.0f} | {found['term positions']:.0f} | "
            f"{found['question term pairs']:.0f} |"
        )
    table = "\n".join(
        [
            f"One server process, default settings (`{Settings().backend}` backend, the encoder of the database's "
            f"vectors), on copies of the synthetic databases; 1-minute load average at the end "
            f"{os.getloadavg()[0]:.1f} (shared machine). First start: no index files, a full build from the database "
            "writes them; start: the next start, which maps them (then 200 widget reads, 20 searches, one upsert).",
            "",
            "| articles | first start s | its peak RSS MB | start s (files mapped) | RSS after start MB | RSS at the end MB "
            "| peak RSS MB | one upsert over HTTP ms | index files MB | peak <= 1.5 GB |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
            *rows,
            "",
            "What the index holds (MB; vectors as int8 codes and a float32 scale a row):",
            "",
            "| articles | passages | questions | passage vectors | question vectors | BM25 postings | question tokens "
            "| term positions (proximity) | question term pairs |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *parts,
        ]
    )
    publish(PERFORMANCE, "memory", table, COMMAND, write=not args.no_write)


if __name__ == "__main__":
    main()
