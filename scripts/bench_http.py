"""Widget endpoint and search over HTTP: latency at fixed request rates, against `recommender serve`.

    RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/bench_http.py [--db /tmp/perf/db-10k.db]

Starts the real server (uvicorn, 1 and 2 worker processes) on 127.0.0.1 on a copy of the 10k-article
benchmark database (scripts/synthetic_corpus.py), rate limit off (one loopback client stands for
many readers). The load client (scripts/httpload.py) is open-loop: it schedules a fixed number of
requests at a fixed rate and measures each from its scheduled time, so a server falling behind shows.
Widget reads go to the 2,000 most popular articles (Zipf, s=1.1), after one warm-up pass over them;
`cache off` repeats the lowest rates with RECOMMENDER_WIDGET_CACHE_ENTRIES=0 (every read computed).
Client and server share the machine's 2 CPUs. Prints tables and writes them into docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from scripts.docs_table import PERFORMANCE, publish  # noqa: E402
from scripts.httpload import LoadResult, run_load  # noqa: E402
from scripts.serverproc import children, rss_kib, server  # noqa: E402

COMMAND = ".venv/bin/python scripts/bench_http.py"

TARGET_P99_MS = 10.0


def popular_paths(db: Path, count: int, requests: int, seed: int = 3) -> tuple[list[str], list[str]]:
    """(warm-up paths: each popular article once, request paths: Zipf-distributed over them)."""
    import sqlite3

    conn = sqlite3.connect(db)
    ids = [r[0] for r in conn.execute("SELECT id FROM articles ORDER BY id")]
    conn.close()
    rng = np.random.default_rng(seed)
    chosen = rng.choice(ids, size=min(count, len(ids)), replace=False)
    weights = 1.0 / np.arange(1, len(chosen) + 1) ** 1.1
    picks = rng.choice(chosen, size=requests, p=weights / weights.sum())
    return [f"/v1/articles/{a}/dive-deeper" for a in chosen], [f"/v1/articles/{a}/dive-deeper" for a in picks]


def search_paths(count: int) -> list[str]:
    from urllib.parse import quote

    source = ROOT / "data" / "sample" / "eval" / "queries.jsonl"
    texts = [json.loads(line)["text"] for line in source.read_text().splitlines() if line.strip()]
    return [f"/v1/search?k=5&q={quote(texts[i % len(texts)])}" for i in range(count)]


def row(label: str, result: LoadResult) -> str:
    bad = result.errors + sum(n for s, n in result.statuses.items() if s != 200)
    ok = "yes" if result.percentile(99) <= TARGET_P99_MS and not bad else "no"
    return (
        f"| {label} | {result.rate:.0f} | {result.sent} | {result.throughput:.0f} | {result.percentile(50):.1f} | "
        f"{result.percentile(99):.1f} | {max(result.latencies_ms, default=float('nan')):.1f} | {bad} | {ok} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, default=Path("/tmp/perf/db-10k.db"))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rates", type=float, nargs="+", default=[250, 500, 750, 1000])
    parser.add_argument("--seconds", type=float, default=6.0, help="Length of each rate step.")
    parser.add_argument("--popular", type=int, default=2000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not args.db.exists():
        raise SystemExit(f"{args.db}: build it first (scripts/bench_upsert.py or scripts/synthetic_corpus.py)")
    warm, paths = popular_paths(args.db, args.popular, int(max(args.rates) * args.seconds))
    rows, search_rows, memory = [], [], []
    for workers in args.workers:
        with server(args.db, workers) as (port, process):
            run_load(port, warm, 200, len(warm))  # every popular article computed (and cached) once
            for rate in args.rates:
                result = run_load(port, paths, rate, int(rate * args.seconds))
                rows.append(row(f"{workers} worker{'s' if workers > 1 else ''}, cache on", result))
                print(rows[-1], file=sys.stderr)
            if workers == 1:
                for rate in (5, 10, 20):
                    result = run_load(port, search_paths(int(rate * args.seconds * 2)), rate, int(rate * args.seconds * 2))
                    search_rows.append(row("1 worker, /v1/search", result).replace(f"| {'yes'} |", "| - |").replace("| no |", "| - |"))
                    print(search_rows[-1], file=sys.stderr)
            pids = [process.pid, *children(process.pid)]
            memory.append((workers, [rss_kib(p) for p in pids]))
    with server(args.db, 1, env={"RECOMMENDER_WIDGET_CACHE_ENTRIES": "0"}) as (port, _):
        for rate in [r for r in args.rates if r <= 500] or args.rates[:1]:
            result = run_load(port, paths, rate, int(rate * args.seconds))
            rows.append(row("1 worker, cache off", result))
            print(rows[-1], file=sys.stderr)
    best = {}
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[-1] == "yes":
            best[cells[0]] = max(best.get(cells[0], 0.0), float(cells[1]))
    load = os.getloadavg()[0]
    header = "| server | requested /s | requests | answered /s | p50 ms | p99 ms | max ms | errors or non-200 | p99 <= 10 ms |"
    table = "\n".join(
        [
            f"Database: `{args.db.name}` (scripts/synthetic_corpus.py); widget reads of {args.popular:,} popular articles "
            f"(Zipf), {args.seconds:.0f} s per step; client and server on the same 2 CPUs "
            f"(1-minute load average at the end {load:.1f}: other work shared the machine).",
            "",
            "### `GET /v1/articles/{id}/dive-deeper`",
            "",
            header,
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
            *rows,
            "",
            "Highest tested rate with p99 <= 10 ms and no errors: "
            + ("; ".join(f"{k}: {v:.0f}/s" for k, v in best.items()) or "none")
            + ".",
            "",
            "### `GET /v1/search` (embed the query + rank 10k articles)",
            "",
            header.replace("| p99 <= 10 ms |", "| |"),
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
            *search_rows,
            "",
            "Server memory after the runs (RSS now / peak, MB, per process): "
            + "; ".join(
                f"{w} worker{'s' if w > 1 else ''}: " + ", ".join(f"{now / 1024:.0f} / {peak / 1024:.0f}" for now, peak in m)
                for w, m in memory
            )
            + " (with workers, the first process is uvicorn's supervisor).",
        ]
    )
    publish(PERFORMANCE, "http", table, COMMAND, write=not args.no_write)


if __name__ == "__main__":
    main()
