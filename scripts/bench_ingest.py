"""Ingest throughput per encoder backend, and what a full 10k-article ingest costs.

    RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/bench_ingest.py [--articles 200]

Articles are those of scripts/synthetic_corpus.py (real text: checkthat2020 headlines and claims,
about five passages and three questions each). Each backend ingests the same articles into its own
fresh database through `Services.ingest` (split, embed, store, index, link), in chunks of 25 taken in
turn by every backend, so load from other processes hits all alike. Encoding 10k articles on every
backend would take hours on two shared cores, so the real-encoder rows use the first `--articles`;
the full-ingest estimate adds their per-article encoder time to a measured ingest of all 10,000
articles with derived vectors (scripts/synthetic_corpus.py, no encoder time: store, index, link).
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

from recommender.config import Settings  # noqa: E402
from recommender.embedding.factory import create_encoder  # noqa: E402
from recommender.services import Services  # noqa: E402
from scripts.docs_table import PERFORMANCE, publish  # noqa: E402
from scripts.serverproc import remove_db  # noqa: E402
from scripts.synthetic_corpus import Corpus, DerivedVectors, KnownVectors, fact_checks, source_vectors  # noqa: E402

COMMAND = "RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/bench_ingest.py"

BACKENDS = ("torch", "onnx", "onnx-int8")
CHUNK = 25


def derived_ingest(count: int, work: Path, settings: Settings) -> tuple[float, dict]:
    """Seconds for Services.ingest of `count` articles whose vectors are known in advance (no encoder time)."""
    encoder = create_encoder(settings.model, settings.models_dir, backend=settings.backend)
    checks, _ = fact_checks()
    titles, claims = source_vectors(checks, encoder, settings.cache_dir)
    corpus = Corpus(checks)
    corpus.set_neighbours(titles)
    vectors = DerivedVectors(corpus, titles, claims)
    fake = KnownVectors(encoder.model_id, encoder.dim, encoder.count_tokens, encoder.max_tokens)
    articles = []
    for i in range(count):
        item = vectors.stored(i, encoder.count_tokens, encoder.max_tokens)
        fake.add(item)
        articles.append(item.article)
    db = work / "ingest-derived.db"
    remove_db(db)
    services = Services.start(Settings(db=db), encoder=fake)
    began = time.perf_counter()
    services.catalog.ingest(articles)
    seconds = time.perf_counter() - began
    counts = services.store.counts()
    services.close()
    remove_db(db)
    return seconds, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--full", type=int, default=10_000, help="Articles of the full ingest (derived vectors).")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/perf"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    settings = Settings()
    checks, label = fact_checks()
    articles = list(Corpus(checks).articles(args.articles))
    engines: dict[str, Services] = {}
    for backend in BACKENDS:
        db = args.work / f"ingest-{backend}.db"
        remove_db(db)
        encoder = create_encoder(settings.model, settings.models_dir, backend=backend,
                                 threads=args.threads if backend != "torch" else None)
        engines[backend] = Services.start(Settings(db=db, backend=backend), encoder=encoder)
    seconds = dict.fromkeys(BACKENDS, 0.0)
    load_before = os.getloadavg()[0]
    for start in range(0, len(articles), CHUNK):
        chunk = articles[start : start + CHUNK]
        for backend, services in engines.items():
            began = time.perf_counter()
            services.catalog.ingest(chunk)
            seconds[backend] += time.perf_counter() - began
        print(f"{start + len(chunk)}/{len(articles)} " + " ".join(f"{b} {s:.0f}s" for b, s in seconds.items()), file=sys.stderr)
    counts = {b: e.store.counts() for b, e in engines.items()}
    for backend, services in engines.items():
        services.close()
        remove_db(args.work / f"ingest-{backend}.db")
    load_after = os.getloadavg()[0]
    full_seconds, full_counts = derived_ingest(args.full, args.work, settings)
    rows = []
    for backend in BACKENDS:
        c = counts[backend]
        per_article = seconds[backend] / len(articles)
        estimate = full_seconds + per_article * args.full
        rows.append(
            f"| {backend} | {len(articles) / seconds[backend]:.2f} | {c['passages'] / seconds[backend]:.1f} | "
            f"{seconds['torch'] / seconds[backend]:.1f}x | {estimate / 60:.0f} min |"
        )
    table = "\n".join(
        [
            f"Articles: the first {len(articles)} of scripts/synthetic_corpus.py ({label}): "
            f"{counts['torch']['passages']} passages, {counts['torch']['questions']} questions; `Services.ingest` "
            f"in chunks of {CHUNK}, backends in turn; {args.threads} threads; 1-minute load average {load_before:.1f} "
            f"before, {load_after:.1f} after (shared machine).",
            "",
            "| backend | articles/s | passages/s | vs torch | full 10k ingest (estimate) |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
            f"Full-ingest estimate = measured ingest of {args.full:,} articles with derived vectors "
            f"({full_counts['passages']:,} passages, {full_counts['questions']:,} questions, {full_counts['links']:,} "
            f"links; store, index and link, no encoder time): {full_seconds:.0f} s, plus {args.full:,} x the backend's "
            f"seconds per article above (encoder time dominates; extrapolated, not measured end to end).",
        ]
    )
    publish(PERFORMANCE, "ingest", table, COMMAND, write=not args.no_write)


if __name__ == "__main__":
    main()
