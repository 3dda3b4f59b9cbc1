"""A full ingest of a 10k-article corpus, end to end, through `recommender ingest`, per encoder backend.

    .venv/bin/python scripts/bench_full_ingest.py [--articles 10000] [--backends onnx onnx-int8]

The articles are those of scripts/synthetic_corpus.py (real text: checkthat2020 headlines and
claims, about five passages and three questions each), written once to a JSON Lines file. Each
backend ingests the file into a fresh SQLite database in its own `recommender ingest` process (parse,
split, embed, store, index, link, cluster), timed by the wall clock; the counts come from the
database afterwards. Backends run one after the other, so unlike bench_ingest.py their ratio is
exposed to changes in the machine's load: compare with that table for ratios.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recommender.articles.jsonl import write_jsonl  # noqa: E402
from recommender.config import Settings  # noqa: E402
from recommender.store.sqlite import SQLiteStore  # noqa: E402
from scripts.docs_table import PERFORMANCE, publish  # noqa: E402
from scripts.serverproc import remove_db  # noqa: E402
from scripts.synthetic_corpus import Corpus, fact_checks  # noqa: E402

COMMAND = ".venv/bin/python scripts/bench_full_ingest.py"


def ingest(backend: str, source: Path, db: Path) -> tuple[float, dict[str, int]]:
    """Wall-clock seconds of `recommender ingest source` into a fresh `db`, and what it stored."""
    remove_db(db)
    env = {**os.environ, "RECOMMENDER_DB": str(db), "RECOMMENDER_BACKEND": backend, "HF_HUB_OFFLINE": "1"}
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "recommender.cli", "ingest", str(source)], env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"ingest with {backend} failed:\n{done.stderr[-3000:]}")
    store = SQLiteStore(db, model_id="-")
    try:
        counts = store.counts()
    finally:
        store.close()
    remove_db(db)
    return seconds, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--backends", nargs="+", default=["onnx", "onnx-int8"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/perf"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    checks, label = fact_checks()
    source = args.work / f"articles-{args.articles}.jsonl"
    write_jsonl(Corpus(checks).articles(args.articles), source)
    default = Settings.model_fields["backend"].default
    rows = []
    load_before = os.getloadavg()[0]
    for backend in args.backends:
        seconds, counts = ingest(backend, source, args.work / f"full-ingest-{backend}.db")
        rows.append(
            f"| {backend}{' (default)' if backend == default else ''} | {counts['articles']:,} | "
            f"{counts['passages']:,} | {counts['questions']:,} | {counts['links']:,} | {seconds / 60:.1f} | "
            f"{counts['articles'] / seconds:.1f} | {counts['passages'] / seconds:.1f} |"
        )
        print(rows[-1], file=sys.stderr)
    table = "\n".join(
        [
            f"Articles: the first {args.articles:,} of scripts/synthetic_corpus.py ({label}), one JSON Lines file, "
            f"`recommender ingest FILE` into a fresh SQLite database per backend (one process each, default settings "
            f"otherwise); 1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (2 CPUs).",
            "",
            "| backend | articles | passages | questions | links | minutes | articles/s | passages/s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )
    publish(PERFORMANCE, "ingest-full", table, COMMAND, write=not args.no_write)


if __name__ == "__main__":
    main()
