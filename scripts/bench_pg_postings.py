"""How many postings per query term the lexical candidates of ranking inside PostgreSQL read: time and
agreement with reading all of them, on a loaded benchmark database.

    RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/bench_pg_postings.py [--size 100000] \
        [--questions 200] [--postings 0 300 1000 3000] [--no-write]

Reads `pg_scale_<size>` (made by scripts/bench_pg_scale.py --build). For a seeded sample of its
questions (each ranked as the linker ranks it: its stored vector, its own article excluded), ranks
with the service's PgRanker once per value of `ranking_lexical_postings` (0 = every posting, the
reference) and reports the median and p90 time of one question's candidate query and rescoring, and
how many questions get the same top 10 (same articles in the same order) and the same best answer as
with every posting, and the recall of the reference's top 10. Writes the table into
docs/performance.md (section `pg-postings`).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from recommender.config import Settings  # noqa: E402
from recommender.index.base import RankerConfig  # noqa: E402
from recommender.index.pg_ranker import PgOptions, PgRanker  # noqa: E402
from recommender.store.postgres import PostgresStore  # noqa: E402
from scripts.docs_table import PERFORMANCE, publish  # noqa: E402

COMMAND = "RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/bench_pg_postings.py"
K = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--postings", type=int, nargs="+", default=[0, 300, 1000, 3000])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    server = (ROOT / "var" / "pgtest" / "url").read_text().strip()
    store = PostgresStore(server.rsplit("/", 1)[0] + f"/pg_scale_{args.size}", "-")
    try:
        buffers = store._rows("SHOW shared_buffers")[0][0]  # scripts/start_postgres.sh, PG_SHARED_BUFFERS
        ids = [r[0] for r in store._rows("SELECT id FROM articles ORDER BY id")]
        count = store._rows("SELECT COUNT(*) FROM questions")[0][0]
        picked = sorted(random.Random(1).sample(range(count), args.questions))
        rows = store._rows(
            "SELECT q.id, q.article_id, q.text, vector_send(q.vector) FROM "
            "(SELECT *, ROW_NUMBER() OVER (ORDER BY id) - 1 AS n FROM questions) q WHERE q.n = ANY(%s) ORDER BY q.id",
            (picked,),
        )
        questions = [(qid, article, text, np.frombuffer(raw[4:], dtype=">f4").astype(np.float32)) for qid, article, text, raw in rows]
        config = RankerConfig.of(settings)
        results: dict[int, list[list[str]]] = {}
        times: dict[int, list[float]] = {}
        for postings in [0, *[p for p in args.postings if p != 0]]:
            options = PgOptions(settings.ranking_dense_candidates, settings.ranking_lexical_candidates,
                                settings.ranking_ef_search, postings)
            ranker = PgRanker(store, ids, None if config.method == "lexical" else _NoEncoder(), config, options)
            ranker.rank_batch([questions[0][2]], K, [[questions[0][1]]], vectors=questions[0][3][None, :])  # warm
            results[postings], times[postings] = [], []
            for _, article, text, vector in questions:
                began = time.perf_counter()
                hits = ranker.rank_batch([text], K, [[article]], vectors=vector[None, :])[0]
                times[postings].append((time.perf_counter() - began) * 1000)
                results[postings].append([h.doc_id for h in hits])
            print(f"postings {postings}: median {statistics.median(times[postings]):.1f} ms", file=sys.stderr)
    finally:
        store.close()
    reference = results[0]
    lines = [
        f"{len(questions)} questions of the {args.size:,}-article benchmark database (seeded sample), each ranked as the "
        f"linker ranks it (top {K}, its own article excluded) by the PgRanker; candidates: "
        f"{settings.ranking_dense_candidates} nearest passages and the {settings.ranking_lexical_candidates} best BM25 "
        "articles, the latter summed from each query term's best `postings` postings (0: all). Time: one question's "
        f"candidate query and exact rescoring, over a connection to the local server (shared_buffers {buffers}).",
        "",
        f"| postings per term | median ms | p90 ms | same top {K} as all postings | same best answer | recall of its top {K} |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for postings in sorted(results, key=lambda p: (p == 0, p)):
        found = results[postings]
        same = sum(a == b for a, b in zip(found, reference))
        best = sum(a[:1] == b[:1] for a, b in zip(found, reference))
        recall = statistics.mean(len(set(a) & set(b)) / max(1, len(b)) for a, b in zip(found, reference))
        label = "all (0)" if postings == 0 else f"{postings:,}"
        lines.append(
            f"| {label} | {statistics.median(times[postings]):.1f} | {float(np.percentile(times[postings], 90)):.1f} | "
            f"{same} of {len(found)} | {best} of {len(found)} | {recall:.3f} |"
        )
    publish(PERFORMANCE, "pg-postings", "\n".join(lines), COMMAND, write=not args.no_write)


class _NoEncoder:
    """The questions come with their stored vectors: nothing is encoded (PgRanker only checks one is set)."""

    def encode(self, texts):  # type: ignore[no-untyped-def]
        raise AssertionError("every question is ranked with its stored vector")


if __name__ == "__main__":
    main()
