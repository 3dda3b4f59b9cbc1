"""Time to upsert one article and relink what it affects, at 10k and 100k articles.

    RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/bench_upsert.py [--sizes 10000 100000]

Databases come from scripts/synthetic_corpus.py (built once, kept in --work; vectors derived from the
real model's vectors of checkthat2020 texts, links computed by the service's linker). Each run copies
the database, opens an Services on it (a full index build: the startup cost) and times `Services.ingest`
of one article at a time, end to end: embed (the derived vectors, so ~0 s: encoder time is measured by
bench_ingest.py), store, carry the in-memory index over, find and relink the affected questions, write
the links. Alternately a new article is added and an existing one rewritten (other context and
questions). The same articles are then upserted with the index rebuilt in full after every write (the
behaviour before incremental snapshots), in the same process, for comparison.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from recommender.index import holder as holder_module  # noqa: E402
from recommender.config import Settings  # noqa: E402
from recommender.embedding.factory import create_encoder  # noqa: E402
from recommender.services import Services  # noqa: E402
from scripts.bench_memory import model_of  # noqa: E402
from scripts.docs_table import PERFORMANCE, publish  # noqa: E402
from scripts.synthetic_corpus import (  # noqa: E402
    EXACT_LINKS_UP_TO,
    DerivedVectors,
    KnownVectors,
    build_database,
    links_kind,
    upsert_material,
)

VERIFY_SAMPLE = 2000  # questions recomputed besides those linking to an upserted article, above EXACT_LINKS_UP_TO
COMMAND = "RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/bench_upsert.py"


def _remove(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(f"{db}.index", ignore_errors=True)  # each run opens with a full build (which writes them)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


STEPS = (  # (module, attribute, label): what --steps times, wall clock, per upsert
    ("recommender.services.catalog", "CatalogService._embed", "embed"),
    ("recommender.index.holder", "IndexHolder.write", "store + carry the snapshot over"),
    ("recommender.services.linking", "entering_hits", "score it for every question"),
    ("recommender.services.linking", "LinkingService._merged", "merge entering hits"),
    ("recommender.services.linking", "compute_links", "rank questions"),
    ("recommender.services.linking", "LinkingService.recluster_if_needed", "duplicate clusters"),
)


def timed_steps(totals: dict[str, list[float]]) -> list[tuple[object, str, object]]:
    """Wrap each of STEPS so its wall time is added to totals[label][-1]; returns what to restore."""
    import importlib

    saved = []
    for module_name, path, label in STEPS:
        owner: object = importlib.import_module(module_name)
        *outer, name = path.split(".")
        for part in outer:
            owner = getattr(owner, part)
        real = getattr(owner, name)

        def wrapper(*args, __real=real, __label=label, **kwargs):  # type: ignore[no-untyped-def]
            began = time.perf_counter()
            try:
                return __real(*args, **kwargs)
            finally:
                totals[__label][-1] += (time.perf_counter() - began) * 1000

        saved.append((owner, name, real))
        setattr(owner, name, wrapper)
    return saved


def run(db: Path, size: int, vectors: DerivedVectors, rewrites: DerivedVectors, encoder, count: int, full: bool, profile: cProfile.Profile | None = None, steps: bool = False) -> dict:  # type: ignore[no-untyped-def]
    work = db.with_name(f"{db.stem}-run.db")
    _remove(work)  # a stale -wal beside a fresh copy would corrupt it
    shutil.copy(db, work)
    fake = KnownVectors(encoder.model_id, encoder.dim, encoder.count_tokens, encoder.max_tokens)
    started = time.perf_counter()
    services = Services.start(Settings(db=work, refresh_seconds=0), encoder=fake)
    opened = time.perf_counter() - started
    saved = holder_module.INCREMENTAL_MINIMUM, holder_module.INCREMENTAL_FRACTION
    if full:  # every write rebuilds the whole index, as before incremental snapshots
        holder_module.INCREMENTAL_MINIMUM, holder_module.INCREMENTAL_FRACTION = -1, 0.0
    times, cpu, relinked = [], [], []
    upserted: set[str] = set()
    totals: dict[str, list[float]] = {label: [] for *_, label in STEPS} if steps else {}
    restore = timed_steps(totals) if steps else []
    try:
        for n in range(count):
            # Alternate: a new article (a variant beyond the corpus), and a rewrite of an existing one.
            item = vectors.stored(size + n, encoder.count_tokens, encoder.max_tokens) if n % 2 == 0 else \
                rewrites.stored((n * 7919) % size, encoder.count_tokens, encoder.max_tokens)
            fake.add(item)
            upserted.add(item.article.id)
            began, began_cpu = time.perf_counter(), time.process_time()
            for label in totals:
                totals[label].append(0.0)
            if profile is not None:
                profile.enable()
            report = services.catalog.ingest([item.article])
            if profile is not None:
                profile.disable()
            times.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
            relinked.append(report.relinked)
        for owner, name, real in restore:
            setattr(owner, name, real)
        restore = []
        if steps:
            for kind, first in (("new article", 0), ("rewrite", 1)):
                median = {label: statistics.median(values[first::2]) for label, values in totals.items()}
                print(f"{size:,}, {kind}, median ms by step: " + ", ".join(f"{k} {v:.0f}" for k, v in median.items())
                      + f"; whole upsert {statistics.median(times[first::2]):.0f}", file=sys.stderr)
        verified = None
        if not full and links_kind(db) == "exact":  # sampled links: nothing to compare with
            if size <= EXACT_LINKS_UP_TO:
                check = services.linking.verify()
                verified = f"{check.links_differ} of {check.checked:,} differ"
            else:
                # Every question is hours here: a sample, plus every question now linking to an upserted article.
                touched = {link.question_id for a in upserted for link in services.store.links_to(a, float("-inf"))}
                check = services.linking.verify(sample=VERIFY_SAMPLE, include=touched)
                verified = f"{check.links_differ} of {check.checked:,} differ ({len(touched):,} linking to the upserted articles, the rest sampled)"
    finally:
        for owner, name, real in restore:
            setattr(owner, name, real)
        holder_module.INCREMENTAL_MINIMUM, holder_module.INCREMENTAL_FRACTION = saved
        services.close()
        _remove(work)
    return {"open": opened, "times": times, "cpu": cpu, "relinked": relinked, "verified": verified}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--upserts", type=int, default=40)
    parser.add_argument("--full-upserts", type=int, default=6, help="Upserts timed with full rebuilds (slow).")
    parser.add_argument("--work", type=Path, default=Path("/tmp/perf"))
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--profile", action="store_true", help="Print where the incremental upserts' time goes (cProfile).")
    parser.add_argument("--steps", action="store_true", help="Print the median wall time of each step of an incremental upsert.")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows, labels, kinds = [], [], []
    for size in args.sizes:
        db = args.work / f"db-{size // 1000}k.db"
        # The encoder whose vectors the database holds (a database built before a default change keeps its own).
        settings = Settings(model=model_of(db)) if db.exists() else Settings()
        encoder = create_encoder(settings.model, settings.models_dir, backend=settings.backend)
        vectors, rewrites, label = upsert_material(encoder, settings.cache_dir)
        labels.append(f"`{encoder.model_id}` at {size:,}")
        if not db.exists():
            print(f"building {db} (once; kept for later runs)", file=sys.stderr)
            print(build_database(db, size, encoder, settings.cache_dir), file=sys.stderr)
        kinds.append(f"{links_kind(db)} at {size:,}")
        counts = None
        for mode, count in (("incremental", args.upserts), ("full rebuild per write", args.full_upserts)):
            if mode != "incremental" and size > 20_000:
                # A full rebuild plus a full duplicate clustering of 300k questions per write: hours.
                rows.append(f"| {size:,} | {mode} | | | not run: a full rebuild and a full clustering of every question per write take hours here | | | | | |")
                continue
            profile = cProfile.Profile() if args.profile and mode == "incremental" else None
            result = run(db, size, vectors, rewrites, encoder, count, full=mode != "incremental", profile=profile,
                         steps=args.steps and mode == "incremental")
            if profile is not None:
                print(f"where {count} incremental upserts at {size:,} spend their time:", file=sys.stderr)
                pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(r"recommender", 25)
            t, r, c = result["times"], result["relinked"], result["cpu"]
            rows.append(
                f"| {size:,} | {mode} | {result['open']:.1f} | {len(t)} | {percentile(t, 50):.0f} | "
                f"{percentile(t, 90):.0f} | {max(t):.0f} | {percentile(c, 50):.0f} | {statistics.median(r):.0f} / {max(r)} | "
                f"{result['verified'] or ('-' if mode != 'incremental' else 'not checked: sampled links')} |"
            )
            print(rows[-1], file=sys.stderr)
        del counts
    load = os.getloadavg()[0]
    table = "\n".join(
        [
            f"Corpus: articles from {label}, ~5 passages and 3 questions each, derived vectors "
            f"(dim {encoder.dim}, labelled {', '.join(labels)}), links by the service's linker ({', '.join(kinds)}; see synthetic_corpus.py). "
            f"Times in ms for `Services.ingest([article])`; half new articles, half rewrites of existing ones; "
            f"after the incremental run every question's links are recomputed and compared (`verify`). "
            f"1-minute load average at the end: {load:.1f} (2 CPUs, shared: wall-clock times include waiting "
            f"for a CPU; CPU time is what an upsert costs this process, all threads).",
            "",
            "| articles | index update | open (full build) s | upserts | p50 ms | p90 ms | max ms | CPU time p50 ms | questions relinked p50 / max | links vs a recomputation after |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
            *rows,
        ]
    )
    publish(PERFORMANCE, "upsert", table, COMMAND, write=not args.no_write)


if __name__ == "__main__":
    main()
