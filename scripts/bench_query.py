"""Query latency of `Ranker.rank` (embed the query + rank) on a 10k-document corpus.

    .venv/bin/python scripts/bench_query.py [--queries 200] [--benchmark DIR]

Uses checkthat2020's 10,375 fact checks and dev tweets when present, otherwise a synthetic
corpus of the same size made from the sample articles. One query at a time, as a reader's
search arrives; prints p50/p90/p99 per method and writes the table into docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from recommender.config import Settings  # noqa: E402
from recommender.embedding.cache import EmbeddingCache  # noqa: E402
from recommender.embedding.factory import create_encoder  # noqa: E402
from recommender.evaluation.benchmark import load_corpus, load_queries  # noqa: E402
from recommender.evaluation.runner import ranker_config  # noqa: E402
from recommender.index.builder import benchmark_document, build_ranker  # noqa: E402
from scripts.docs_table import replace_block  # noqa: E402


def corpus_and_queries(bench: Path, count: int) -> tuple[list[tuple[str, str, str]], list[str], str]:
    if (bench / "corpus.jsonl").exists():
        corpus = [(r.id, r.title, r.text) for r in load_corpus(bench / "corpus.jsonl")]
        queries = [q.text for q in load_queries(bench / "dev.queries.jsonl")][:count]
        return corpus, queries, "checkthat2020 (10,375 fact checks, dev tweets)"
    sample = load_corpus(ROOT / "data/sample/eval/corpus.jsonl")
    rng = random.Random(7)
    corpus = []
    for i in range(10_000):
        base = sample[i % len(sample)]
        words = base.text.split()
        rng.shuffle(words)
        corpus.append((f"s{i}", base.title, " ".join(words[:60])))
    queries = [q.text for q in load_queries(ROOT / "data/sample/eval/queries.jsonl")][:count]
    return corpus, queries, "synthetic (10,000 documents from the sample corpus)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", type=Path, default=ROOT.parent / "shared/benchmarks/checkthat2020")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    settings = Settings()
    encoder = create_encoder(settings.model, settings.models_dir, backend=settings.backend)
    corpus, queries, label = corpus_and_queries(args.benchmark, args.queries)
    docs = [benchmark_document(i, t, x, encoder) for i, t, x in corpus]
    cache = EmbeddingCache(settings.cache_dir, encoder.model_id)
    rows = [f"Corpus: {label}; encoder `{encoder.model_id}`; {len(queries)} queries, one at a time.\n",
            "| method | p50 ms | p90 ms | p99 ms | of which query embedding p50 ms |", "|---|---:|---:|---:|---:|"]
    for method in ("lexical", "dense", "default"):
        ranker = build_ranker(docs, encoder, ranker_config(method, settings), cache)
        ranker.rank(queries[0], 10)  # warm up
        total, embed = [], []
        for query in queries:
            start = time.perf_counter()
            ranker.rank(query, 10)
            total.append((time.perf_counter() - start) * 1000)
            if method != "lexical":
                start = time.perf_counter()
                encoder.encode([query])
                embed.append((time.perf_counter() - start) * 1000)
        p = np.percentile(total, [50, 90, 99])
        emb = f"{np.percentile(embed, 50):.1f}" if embed else "-"
        rows.append(f"| {method} | {p[0]:.1f} | {p[1]:.1f} | {p[2]:.1f} | {emb} |")
    cache.close()
    table = "\n".join(rows)
    print(table)
    replace_block(ROOT / "docs/performance.md", "query-latency", table, "python scripts/bench_query.py")


if __name__ == "__main__":
    main()
