"""Search latency in process: `Ranker.rank` (embed the query + rank) on a 10k-document corpus, per backend.

    RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/bench_query.py [--queries 300]

Uses checkthat2020's 10,375 fact checks and its dev and train tweets when present, otherwise a
synthetic corpus of the same size made from the sample articles. Documents are split and indexed
exactly as `evaluate` does (passage vectors from the embedding cache, <cache>/backend-<name>/, as
bench_backends_quality.py fills it). One query at a time, as a reader's search arrives; each query
is run on every backend in turn, so load from other processes hits all of them alike (torch's
OpenMP threads wait passively, so its idle threads do not slow the others down). Prints
p50/p90/p99 of the whole call and of the query embedding alone, and writes the table into
docs/performance.md. Tweets get no term-pair evidence (index/proximity.py), so a second table times
readers' questions (site-titles dev when present, then the sample key's) on the configured backend and
on BM25 alone, with term proximity as configured and without it.
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
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# torch's OpenMP threads otherwise keep spinning after each call and slow the next backend down.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

from recommender.config import Settings  # noqa: E402
from recommender.embedding.cache import EmbeddingCache  # noqa: E402
from recommender.embedding.factory import create_encoder  # noqa: E402
from recommender.evaluation.benchmark import load_corpus, load_queries  # noqa: E402
from recommender.evaluation.runner import ranker_config  # noqa: E402
from recommender.index.builder import benchmark_document, build_ranker  # noqa: E402
from scripts.docs_table import PERFORMANCE, publish  # noqa: E402

COMMAND = "RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/bench_query.py"

BACKENDS = ("torch", "onnx", "onnx-int8")
TARGET_MS = 20.0


def corpus_and_queries(bench: Path, count: int) -> tuple[list[tuple[str, str, str]], list[str], str]:
    if (bench / "corpus.jsonl").exists():
        corpus = [(r.id, r.title, r.text) for r in load_corpus(bench / "corpus.jsonl")]
        texts = [q.text for q in load_queries(bench / "dev.queries.jsonl")]
        texts += [q.text for q in load_queries(bench / "train.queries.jsonl")]
        return corpus, texts[:count], "checkthat2020 (10,375 fact checks; dev then train tweets as queries)"
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


def question_texts(count: int) -> tuple[list[str], str]:
    """Readers' questions: the kind of query that gets term-pair evidence."""
    site = ROOT.parent / "shared/benchmarks/site-titles/dev.queries.jsonl"
    texts = [q.text for q in load_queries(site)] if site.exists() else []
    label = "site-titles dev, then the sample key's questions" if texts else "the sample key's questions"
    texts += [q.text for q in load_queries(ROOT / "data/sample/eval/queries.jsonl")]
    return texts[:count], label


def question_latency(
    corpus: list[tuple[str, str, str]], settings: Settings, threads: int, count: int
) -> list[str]:
    """Rows of the questions table: each ranker with and without term proximity, on the same questions."""
    questions, label = question_texts(count)
    off = settings.model_copy(update={"proximity_window": 0})
    encoder = create_encoder(settings.model, settings.models_dir, backend=settings.backend, threads=threads)
    docs = [benchmark_document(i, t, x, encoder) for i, t, x in corpus]
    cache = EmbeddingCache(settings.cache_dir / f"backend-{settings.backend}", encoder.model_id)
    rankers = {
        f"{settings.backend}, term proximity (window {settings.proximity_window}, weight {settings.proximity_weight:g})":
            build_ranker(docs, encoder, ranker_config("default", settings), cache),
        f"{settings.backend}, no term proximity": build_ranker(docs, encoder, ranker_config("default", off), cache),
        "lexical only, term proximity": build_ranker(docs, None, ranker_config("lexical", settings)),
        "lexical only, no term proximity": build_ranker(docs, None, ranker_config("lexical", off)),
    }
    cache.close()
    times: dict[str, list[float]] = {name: [] for name in rankers}
    for ranker in rankers.values():
        ranker.rank(questions[0], 10)  # warm up
    for question in questions:
        for name, ranker in rankers.items():
            began = time.perf_counter()
            ranker.rank(question, 10)
            times[name].append((time.perf_counter() - began) * 1000)
    rows = [
        "",
        f"Readers' questions ({label}; {len(questions)}, one at a time, each on every ranker in turn) on the same corpus:",
        "",
        "| ranker | p50 ms | p90 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    for name, found in times.items():
        p = np.percentile(found, [50, 90, 99])
        rows.append(f"| {name} | {p[0]:.1f} | {p[1]:.1f} | {p[2]:.1f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", type=Path, default=ROOT.parent / "shared/benchmarks/checkthat2020")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    settings = Settings()
    corpus, queries, label = corpus_and_queries(args.benchmark, args.queries)
    rankers, encoders = {}, {}
    for backend in BACKENDS:
        threads = args.threads if backend != "torch" else None
        encoder = create_encoder(settings.model, settings.models_dir, backend=backend, threads=threads)
        docs = [benchmark_document(i, t, x, encoder) for i, t, x in corpus]
        cache = EmbeddingCache(settings.cache_dir / f"backend-{backend}", encoder.model_id)
        rankers[backend] = build_ranker(docs, encoder, ranker_config("default", settings), cache, progress=True)
        cache.close()
        encoders[backend] = encoder
        rankers[backend].rank(queries[0], 10)  # warm up
    lexical = build_ranker(docs, None, ranker_config("lexical", settings))
    total = {b: [] for b in BACKENDS}
    cpu = {b: [] for b in BACKENDS}
    embed = {b: [] for b in BACKENDS}
    lexical_ms = []
    load_before = os.getloadavg()[0]
    for query in queries:
        for backend in BACKENDS:
            began, began_cpu = time.perf_counter(), time.process_time()
            rankers[backend].rank(query, 10)
            total[backend].append((time.perf_counter() - began) * 1000)
            cpu[backend].append((time.process_time() - began_cpu) * 1000)
            began = time.perf_counter()
            encoders[backend].encode([query])
            embed[backend].append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        lexical.rank(query, 10)
        lexical_ms.append((time.perf_counter() - began) * 1000)
    passages = rankers["torch"].dense.vectors.shape[0] if rankers["torch"].dense is not None else 0
    rows = [
        f"Corpus: {label}, {len(corpus):,} documents, {passages:,} passage vectors; {len(queries)} queries, one at a "
        f"time, each on every backend in turn; method `default` ({settings.method}); {args.threads} threads; "
        f"1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (shared machine).",
        "",
        "| backend | p50 ms | p90 ms | p99 ms | of which query embedding p50 ms | CPU time p50 ms | p50 <= 20 ms |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for backend in BACKENDS:
        p = np.percentile(total[backend], [50, 90, 99])
        rows.append(
            f"| {backend} | {p[0]:.1f} | {p[1]:.1f} | {p[2]:.1f} | {np.percentile(embed[backend], 50):.1f} | "
            f"{np.percentile(cpu[backend], 50):.1f} | {'yes' if p[0] <= TARGET_MS else 'no'} |"
        )
    p = np.percentile(lexical_ms, [50, 90, 99])
    rows.append(f"| (lexical only, no encoder) | {p[0]:.1f} | {p[1]:.1f} | {p[2]:.1f} | - | - | |")
    rows += question_latency(corpus, settings, args.threads, args.queries)
    rows.append("")
    rows.append(
        "Wall-clock times include waiting for a CPU: with the machine's load average several times its two "
        "CPUs, a call waits most of its time. CPU time (of every thread of this process) is what the call "
        "costs on an otherwise idle machine, where it is an upper bound of the wall-clock time for the "
        "one-threaded parts."
    )
    table = "\n".join(rows)
    publish(PERFORMANCE, "query-latency", table, COMMAND, write=not args.no_write)


if __name__ == "__main__":
    main()
