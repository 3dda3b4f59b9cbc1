"""Retrieval quality of ranking inside PostgreSQL against the exact in-memory path.

    RECOMMENDER_CACHE_DIR=/tmp/evalcache-pg .venv/bin/python scripts/bench_pg_quality.py [--database-url URL] [--no-write]

Runs what `recommender evaluate` runs, twice per benchmark (checkthat2020 dev when
../shared/benchmarks/checkthat2020 is present, and the sample answer key): in memory (exact), and
with `--database-url` semantics, i.e. the documents loaded into a scratch PostgreSQL database and ranked
by the service's PgRanker (pgvector HNSW + BM25 candidates, exact rescoring). Default database: a
scratch `pg_quality_scratch` on the test server (scripts/start_postgres.sh). Prints a table and writes
it into docs/performance.md (section `pg-quality`): MAP@5 of both, the difference, and how many
queries got exactly the same top 10.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from recommender.config import Settings  # noqa: E402
from recommender.embedding.factory import create_encoder  # noqa: E402
from recommender.evaluation.runner import run_benchmark  # noqa: E402
from scripts.bench_backends_quality import benchmarks  # noqa: E402
from scripts.docs_table import PERFORMANCE, publish  # noqa: E402

COMMAND = "RECOMMENDER_CACHE_DIR=/tmp/evalcache-pg .venv/bin/python scripts/bench_pg_quality.py"
TOLERANCE = 0.005


def scratch_url() -> str:
    """A scratch database on the test server (made empty here)."""
    server = (ROOT / "var" / "pgtest" / "url").read_text().strip()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS pg_quality_scratch WITH (FORCE)")
        conn.execute("CREATE DATABASE pg_quality_scratch")
    return server.rsplit("/", 1)[0] + "/pg_quality_scratch"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "benchmarks")
    parser.add_argument("--database-url", help="a scratch PostgreSQL database (default: one on the test server)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    url = args.database_url or scratch_url()
    encoder = create_encoder(settings.model, settings.models_dir, backend=settings.backend)
    rows = [
        f"Method `default` ({settings.method}); model `{encoder.model_id}`. PostgreSQL candidates per query: "
        f"{settings.ranking_dense_candidates} nearest passages (HNSW, ef_search {settings.ranking_ef_search}) and "
        f"{settings.ranking_lexical_candidates} best BM25 articles (summed from each term's "
        f"{settings.ranking_lexical_postings or 'every'} best postings), rescored exactly.",
        "",
        "| benchmark | MAP@5 exact (memory) | MAP@5 PostgreSQL | difference | R@10 exact | R@10 PostgreSQL | same top 10 | within 0.005 |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, (corpus, queries, qrels) in benchmarks(args.shared).items():
        started = time.perf_counter()
        exact = run_benchmark(corpus, queries, qrels, ["default"], settings, lambda: encoder)["default"]
        middle = time.perf_counter()
        pg = run_benchmark(corpus, queries, qrels, ["default"], settings, lambda: encoder, database_url=url)["default"]
        print(f"{name}: memory {middle - started:.0f} s, PostgreSQL {time.perf_counter() - middle:.0f} s", file=sys.stderr)
        a, b = float(exact.metrics["map@5"]), float(pg.metrics["map@5"])
        same = sum(exact.rankings[q] == pg.rankings.get(q) for q in exact.rankings)
        rows.append(
            f"| {name} | {a:.3f} | {b:.3f} | {b - a:+.3f} | {float(exact.metrics['recall@10']):.3f} | "
            f"{float(pg.metrics['recall@10']):.3f} | {same} of {len(exact.rankings)} | {'yes' if b >= a - TOLERANCE else 'no'} |"
        )
    publish(PERFORMANCE, "pg-quality", "\n".join(rows), COMMAND, write=not args.no_write)


if __name__ == "__main__":
    main()
