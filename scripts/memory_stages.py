"""Where a first start's memory goes: resident set size stage by stage of a full index build.

    .venv/bin/python scripts/memory_stages.py [--db /tmp/perf/db-100k.db] [--no-write]

A server that finds no valid index files (its first start, or after another process wrote) builds the
index from the database as `IndexHolder._build` does: read every row, build the passage vectors and
BM25 (with term positions), build the question table, save the index files. This script runs those
stages one after another in one process, with the functions the server calls, and samples this
process's RSS every 10 ms: per stage, RSS when it starts, its peak, and RSS when it ends. The
stage whose peak is highest is the first start's peak (`scripts/bench_memory.py` measures the real
server; the two agree within some MB, the server also holds the web app).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recommender.config import Settings  # noqa: E402
from scripts.bench_memory import model_of  # noqa: E402
from scripts.docs_table import PERFORMANCE, publish  # noqa: E402

COMMAND = ".venv/bin/python scripts/memory_stages.py"
T = TypeVar("T")


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Stage:
    name: str
    before: float
    peak: float = 0.0
    after: float = 0.0
    seconds: float = 0.0


class Sampler:
    """A thread that keeps the highest RSS seen since the current stage began."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.stages: list[Stage] = []
        self._peak = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            value = rss_mb()
            with self._lock:
                self._peak = max(self._peak, value)
            time.sleep(self.interval)

    def stage(self, name: str, run: Callable[[], T]) -> T:
        with self._lock:
            self._peak = before = rss_mb()
        began = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - began
        after = rss_mb()
        with self._lock:
            peak = max(self._peak, after)
        self.stages.append(Stage(name, before, peak, after, seconds))
        return result

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def measure(db: Path) -> tuple[Sampler, int]:
    from recommender.embedding.factory import create_encoder
    from recommender.index.backend import MemoryBackend
    from recommender.index.files import IndexFiles
    from recommender.index.heap import release_freed_memory
    from recommender.index.layered import Layered
    from recommender.index.questions import QuestionTable
    from recommender.index.ranker import RankerConfig
    from recommender.index.snapshot import Snapshot, question_tokens
    from recommender.store.sqlite import SQLiteStore

    sampler = Sampler()
    settings = Settings(model=model_of(db))
    encoder = sampler.stage(
        "libraries and encoder loaded", lambda: create_encoder(settings.model, settings.models_dir, backend=settings.backend)
    )
    config = RankerConfig.of(settings)
    store = SQLiteStore(db, encoder.model_id)
    data = sampler.stage("rows and vectors read from the store", store.load_index)
    store.close()
    articles = len(data.articles)
    ranker = sampler.stage(
        "passage vectors, BM25 postings, term positions", lambda: MemoryBackend().ranking(data, encoder, config, True)
    )
    sampler.stage("freed heap returned", release_freed_memory)
    tokens = sampler.stage("questions tokenised", lambda: question_tokens(ranker, data.questions))
    table = sampler.stage(
        "question table (vectors, lookups, term pairs)",
        lambda: QuestionTable.build(data.questions, data.question_vectors, tokens, encoder.dim, config.proximity),
    )
    snapshot = Snapshot(data.generation, ranker, Layered({a.id: a for a in data.articles}), table)
    folder = Path(tempfile.mkdtemp(prefix="memory-stages-"))
    try:
        sampler.stage("index files written", lambda: IndexFiles(folder).save(snapshot, data, encoder, config))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    sampler.stop()
    return sampler, articles


def table(db: Path, sampler: Sampler, articles: int) -> str:
    lines = [
        f"Full build of `{db.name}` ({articles:,} articles, default settings), one process, RSS sampled every"
        f" {sampler.interval * 1000:.0f} ms; load average {os.getloadavg()[0]:.1f}. The highest peak is the first"
        f" start's (peak RSS over all stages: {max(s.peak for s in sampler.stages):.0f} MB).",
        "",
        "| stage | s | RSS before MB | peak MB | RSS after MB |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {s.name} | {s.seconds:.1f} | {s.before:.0f} | {s.peak:.0f} | {s.after:.0f} |" for s in sampler.stages]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, default=Path("/tmp/perf/db-100k.db"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not args.db.exists():
        sys.exit(f"{args.db}: no such database (make one with scripts/synthetic_corpus.py)")
    sampler, articles = measure(args.db)
    publish(PERFORMANCE, "memory-stages", table(args.db, sampler, articles), COMMAND, write=not args.no_write)


if __name__ == "__main__":
    main()
