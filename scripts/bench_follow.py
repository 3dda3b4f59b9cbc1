"""What a process pays to follow another process's writes (several workers on one database).

    RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/bench_follow.py [--sizes 10000 100000]
        [--database-url postgresql://.../pg_scale_100000 --pg-size 100000]

Two services on a copy of each benchmark database (scripts/synthetic_corpus.py), as two workers
would be: the writer upserts one article at a time (half new articles, half rewrites of existing ones,
as scripts/bench_upsert.py does), and after each write the follower reads its index once
(`IndexHolder.snapshot`), which finds the generation moved. Timed: that read, which carries the
follower's snapshot over the changed articles read back from the database (`IndexHolder._follow`);
a links-only write (the follower moves its snapshot to the new generation); and, for comparison, the
full build every such read was before (the index files are stale after another process's write, so
it is a build from the database). At the end the follower's index is compared with a full build
(the top 20 of a few queries, ids and scores).

With --database-url the two services rank inside that PostgreSQL database instead (one made by
scripts/bench_pg_scale.py --build; the rewrites stay in it, the new articles are deleted again).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from recommender.config import Settings  # noqa: E402
from recommender.embedding.factory import create_encoder  # noqa: E402
from recommender.index.snapshot import Snapshot  # noqa: E402
from recommender.services import Services  # noqa: E402
from scripts.bench_memory import model_of  # noqa: E402
from scripts.bench_upsert import percentile  # noqa: E402
from scripts.docs_table import PERFORMANCE, publish  # noqa: E402
from scripts.synthetic_corpus import KnownVectors, upsert_material  # noqa: E402

COMMAND = "RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/bench_follow.py"
QUERIES = ["Who pays for tariffs?", "measles vaccination", "warmest year on record", "wind turbines kill birds"]


def _remove(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(f"{db}.index", ignore_errors=True)


def same_rankings(follower: Snapshot, full: Snapshot) -> bool:
    """The same top 20 (ids and scores) for each of QUERIES in both."""
    for query in QUERIES:
        mine, theirs = follower.ranker.rank(query, 20), full.ranker.rank(query, 20)
        if [h.doc_id for h in mine] != [h.doc_id for h in theirs]:
            return False
        if not np.allclose([h.score for h in mine], [h.score for h in theirs], rtol=1e-5, atol=1e-6):
            return False
    return True


def run(db: Path | None, size: int, count: int, url: str | None = None) -> str:
    """One row of the table: SQLite database `db` (copied), or the PostgreSQL database at `url`."""
    settings = Settings(model=model_of(db)) if db is not None else Settings()
    encoder = create_encoder(settings.model, settings.models_dir, backend=settings.backend)
    vectors, rewrites, _ = upsert_material(encoder, settings.cache_dir)
    work = db.with_name(f"{db.stem}-follow.db") if db is not None else None
    if db is not None and work is not None:
        _remove(work)
        shutil.copy(db, work)
    fake = KnownVectors(encoder.model_id, encoder.dim, encoder.count_tokens, encoder.max_tokens)
    where = {"database_url": url} if url else {"db": work}
    run_settings = Settings(**where, model=settings.model, refresh_seconds=0)  # type: ignore[arg-type]
    added: list[str] = []
    follower = Services.start(run_settings, encoder=fake)
    writer = Services.open(run_settings, encoder=fake)  # another worker on the same database
    try:
        follower.holder.snapshot()
        follows = []
        for n in range(count):
            item = vectors.stored(size + n, encoder.count_tokens, encoder.max_tokens) if n % 2 == 0 else \
                rewrites.stored((n * 7919) % size, encoder.count_tokens, encoder.max_tokens)
            fake.add(item)
            if n % 2 == 0:
                added.append(item.article.id)
            writer.catalog.ingest([item.article])
            began = time.perf_counter()
            snapshot = follower.holder.snapshot()
            follows.append((time.perf_counter() - began) * 1000)
            assert snapshot.generation == follower.store.generation(), "the follower is behind"
        writer.store.mark_for_linking([])  # a links-only write
        began = time.perf_counter()
        follower.holder.snapshot()
        links_only = (time.perf_counter() - began) * 1000
        backend = follower.holder.backend
        full = Snapshot.build(backend.load(follower.store), follower.holder.encoder, follower.holder.ranker_config, backend)
        equal = same_rankings(follower.holder.snapshot(), full)
        del full
        follower.holder._snapshot = None  # what each of those reads was before: a full build
        began = time.perf_counter()
        follower.holder.snapshot()
        rebuild = time.perf_counter() - began
    finally:
        for article_id in added if url else ():
            writer.catalog.delete(article_id)
        writer.close()
        follower.close()
        if work is not None:
            _remove(work)
    return (
        f"| {'PostgreSQL' if url else 'SQLite'} | {size:,} | {count} | {percentile(follows, 50):.0f} | {percentile(follows, 90):.0f} | {max(follows):.0f} | "
        f"{links_only:.1f} | {rebuild:.1f} | {'yes' if equal else '**no**'} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000], help="SQLite databases (none: only --database-url)")
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--work", type=Path, default=Path("/tmp/perf"))
    parser.add_argument("--database-url", help="also follow on this PostgreSQL database (bench_pg_scale.py --build)")
    parser.add_argument("--pg-size", type=int, default=100_000, help="how many articles --database-url holds")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        db = args.work / f"db-{size // 1000}k.db"
        if not db.exists():
            rows.append(f"| SQLite | {size:,} | not measured: no {db} (scripts/synthetic_corpus.py) | | | | | | |")
            continue
        rows.append(run(db, size, args.writes))
        print(rows[-1], file=sys.stderr)
    if args.database_url:
        rows.append(run(None, args.pg_size, args.writes, args.database_url))
        print(rows[-1], file=sys.stderr)
    table = "\n".join(
        [
            "Two services on one database (one writer, one follower; default settings, so on PostgreSQL both rank "
            "inside it; derived vectors); "
            f"1-minute load average at the end {os.getloadavg()[0]:.1f} (2 shared CPUs).",
            "",
            "| database | articles | writes followed | follow one write p50 ms | p90 ms | max ms | follow a links-only write ms "
            "| full build s (each follow before) | follower ranks as a full build |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
            *rows,
        ]
    )
    publish(PERFORMANCE, "follow", table, COMMAND, write=not args.no_write)


if __name__ == "__main__":
    main()
