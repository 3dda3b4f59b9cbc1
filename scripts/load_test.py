"""Bounded loopback load test: widget reads, searches and editor writes against a running service.

    # against a service you started (rate limit off: RECOMMENDER_RATE_LIMIT_PER_MINUTE=0), with an editor token
    .venv/bin/python scripts/load_test.py --base-url http://127.0.0.1:8000 --token dd_...
    # or let the script serve a copy of a database on a free loopback port and make its own token
    .venv/bin/python scripts/load_test.py --serve-db var/recommender.db --requests 5000 --concurrency 16

The mix is 90% widget reads (`GET /v1/articles/{id}/dive-deeper`), 5% searches (`GET /v1/search`)
and 5% editor writes (`POST /v1/questions/{id}/decision`, hide and unhide in turn). Each worker
writes only its own questions, so no write is refused for a conflict; after the run every question
written is read back: its decision version must have gone up once per acknowledged write and its
hidden flag must be the last one acknowledged, else the write counts as lost. The run stops after
`--requests` requests or `--duration` seconds, whichever comes first, and only ever talks to a
loopback address. Prints throughput, p50/p99 latency and error counts (and JSON with --json).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
MIX = (("widget", 0.90), ("search", 0.05), ("write", 0.05))


@dataclass
class Result:
    requests: int = 0
    seconds: float = 0.0
    throughput: float = 0.0  # requests per second
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # kind -> p50, p99, max
    counts: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    writes_acknowledged: int = 0
    writes_lost: int = 0
    lost_samples: list[str] = field(default_factory=list)
    concurrency: int = 0


def require_loopback(base_url: str) -> None:
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise SystemExit(f"refusing to load {base_url}: only loopback addresses (127.0.0.0/8, ::1, localhost)")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass
class Workload:
    articles: list[str]
    questions: list[str]
    texts: list[str]


async def discover(client: httpx.AsyncClient, headers: dict[str, str]) -> Workload:
    """Articles and questions to use, from the review queues (the editor token reads them)."""
    questions: dict[str, tuple[str, str]] = {}
    for kind in ("unreviewed", "gaps", "changed"):
        offset = 0
        while True:
            response = await client.get(
                "/v1/review", params={"kind": kind, "limit": 200, "offset": offset}, headers=headers
            )
            response.raise_for_status()
            body = response.json()
            for item in body["items"]:
                q = item["question"]
                questions[q["id"]] = (q["article_id"], q["text"])
            offset += 200
            if offset >= body["total"]:
                break
    if not questions:
        raise SystemExit("the service has no questions to work with: ingest some articles first")
    ids = sorted(questions)
    return Workload(sorted({a for a, _ in questions.values()}), ids, [t for _, t in questions.values()])


async def run_load(
    base_url: str, token: str, requests: int = 1000, concurrency: int = 8, duration: float = 60.0, seed: int = 7
) -> Result:
    require_loopback(base_url)
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=limits) as client:
        work = await discover(client, headers)
        rng = random.Random(seed)
        mine = {w: work.questions[w::concurrency] for w in range(concurrency)}  # each worker writes its own
        start_state: dict[str, tuple[int, bool]] = {}
        for question_id in [q for qs in mine.values() for q in qs]:
            response = await client.get(f"/v1/questions/{question_id}/decision", headers=headers)
            response.raise_for_status()
            decision = response.json()["decision"]
            start_state[question_id] = (decision["version"], decision["hidden"])
        hidden = {q: h for q, (_, h) in start_state.items()}
        acknowledged: dict[str, int] = defaultdict(int)
        latencies: dict[str, list[float]] = defaultdict(list)
        counts: dict[str, int] = defaultdict(int)
        errors: list[str] = []
        issued = 0
        started = time.perf_counter()
        deadline = started + duration

        async def one(worker: int, kind: str, wrng: random.Random) -> None:
            if kind == "write" and mine[worker]:
                question_id = wrng.choice(mine[worker])
                action = "unhide" if hidden[question_id] else "hide"
                t0 = time.perf_counter()
                response = await client.post(
                    f"/v1/questions/{question_id}/decision", json={"action": action}, headers=headers
                )
                latencies[kind].append(time.perf_counter() - t0)
                if response.status_code == 200:
                    acknowledged[question_id] += 1
                    hidden[question_id] = action == "hide"
                    return
            elif kind == "search":
                t0 = time.perf_counter()
                response = await client.get("/v1/search", params={"q": wrng.choice(work.texts), "k": 5})
                latencies[kind].append(time.perf_counter() - t0)
            else:
                kind = "widget"
                t0 = time.perf_counter()
                response = await client.get(f"/v1/articles/{wrng.choice(work.articles)}/dive-deeper")
                latencies[kind].append(time.perf_counter() - t0)
            if response.status_code != 200:
                errors.append(f"{kind} {response.request.url.path}: {response.status_code} {response.text[:200]}")

        async def worker(n: int) -> None:
            nonlocal issued
            wrng = random.Random(rng.random())
            while issued < requests and time.perf_counter() < deadline:
                issued += 1
                draw, kind = wrng.random(), "widget"
                for name, share in MIX:
                    if draw < share:
                        kind = name
                        break
                    draw -= share
                counts[kind] += 1
                try:
                    await one(n, kind, wrng)
                except httpx.HTTPError as exc:
                    errors.append(f"{kind}: {type(exc).__name__} {exc}")

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        elapsed = time.perf_counter() - started

        lost: list[str] = []
        for question_id, (version, was_hidden) in start_state.items():
            response = await client.get(f"/v1/questions/{question_id}/decision", headers=headers)
            decision = response.json()["decision"]
            expected_version = version + acknowledged[question_id]
            if decision["version"] != expected_version or decision["hidden"] != hidden[question_id]:
                lost.append(
                    f"{question_id}: version {decision['version']} (expected {expected_version}), "
                    f"hidden {decision['hidden']} (expected {hidden[question_id]})"
                )
    total = sum(counts.values())
    every = [x for values in latencies.values() for x in values]
    latency = {
        kind: {"p50": percentile(v, 0.50) * 1000, "p99": percentile(v, 0.99) * 1000, "max": max(v) * 1000}
        for kind, v in [*sorted(latencies.items()), ("all", every)]
        if v
    }
    return Result(
        requests=total,
        seconds=elapsed,
        throughput=total / elapsed if elapsed else 0.0,
        latency_ms=latency,
        counts=dict(counts),
        errors=len(errors),
        error_samples=errors[:10],
        writes_acknowledged=sum(acknowledged.values()),
        writes_lost=len(lost),
        lost_samples=lost[:10],
        concurrency=concurrency,
    )


def report(result: Result) -> str:
    lines = [
        f"{result.requests} requests in {result.seconds:.1f} s with {result.concurrency} clients: "
        f"{result.throughput:.1f} requests/s; {result.errors} errors; "
        f"{result.writes_acknowledged} editor writes acknowledged, {result.writes_lost} lost",
        "",
        "| request | count | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, figures in result.latency_ms.items():
        count = result.requests if kind == "all" else result.counts.get(kind, 0)
        lines.append(f"| {kind} | {count} | {figures['p50']:.1f} | {figures['p99']:.1f} | {figures['max']:.1f} |")
    for sample in result.error_samples + result.lost_samples:
        lines.append(f"  ! {sample}")
    return "\n".join(lines)


# -- --serve-db: a throwaway service over a copy of a database ---------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_copy(db: Path, workdir: Path) -> tuple[subprocess.Popen, str, str]:
    sys.path.insert(0, str(ROOT))
    from recommender.editorial.auth import hash_token, new_token
    from recommender.store.sqlite import SQLiteStore

    copy = workdir / "load.db"
    shutil.copy(db, copy)
    store = SQLiteStore(copy, model_id="-")
    token = new_token()
    store.add_editor(f"load-{os.getpid()}", hash_token(token))
    store.close()
    port = _free_port()
    env = {**os.environ, "RECOMMENDER_DB": str(copy), "RECOMMENDER_RATE_LIMIT_PER_MINUTE": "0", "HF_HUB_OFFLINE": "1"}
    log = (workdir / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "recommender.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service exited: {(workdir / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return process, base, token
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the service did not start in 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="A running service (loopback only).")
    parser.add_argument("--token", help="An editor token of that service (for discovery and writes).")
    parser.add_argument("--serve-db", type=Path, help="Serve a copy of this database instead (makes its own token).")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=120.0, help="Stop after this many seconds at the latest.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()
    process = None
    workdir = Path(tempfile.mkdtemp(prefix="load-"))
    try:
        if args.serve_db:
            process, base, token = serve_copy(args.serve_db, workdir)
        elif args.base_url and args.token:
            base, token = args.base_url, args.token
        else:
            parser.error("give --base-url and --token, or --serve-db")
        result = asyncio.run(run_load(base, token, args.requests, args.concurrency, args.duration, args.seed))
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n")
    sys.exit(1 if result.errors or result.writes_lost else 0)


if __name__ == "__main__":
    main()
