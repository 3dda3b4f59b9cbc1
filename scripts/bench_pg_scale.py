"""A worker ranking inside PostgreSQL at 10k-1M articles: RSS, open time, search p50, upsert p50.

    RECOMMENDER_CACHE_DIR=/tmp/evalcache RECOMMENDER_MODEL=all-MiniLM-L6-v2 \
        .venv/bin/python scripts/bench_pg_scale.py --sizes 100000 [--build] [--memory-too] [--no-write]

`--build` loads each size into a database `pg_scale_<size>` on the test server (scripts/start_postgres.sh)
with scripts/synthetic_corpus.py's articles and *derived* vectors (the real model's vectors of the
checkthat2020 texts each passage holds, plus noise per variant: encoding 500k passages would take a
day here), then writes links so that a server starts with nothing pending: sampled ones (each question links
to the variants of the fact check it was taken from, scores drawn from a uniform profile), or with
`--links-from DB` those of a SQLite database of the same corpus linked exactly
(`synthetic_corpus.py --articles 100000 --out /tmp/perf/db-100k.db --links-only exact`). Term
rows are written by the first server that opens the database (PgRanker.open) and counted in its open time.

Each measurement starts one `recommender serve` process (default settings: on PostgreSQL the
`postgres` ranking backend; `--memory-too` also the in-memory one) and reports: open time (spawn to a
200 from /healthz), RSS after start and after the load, 30 searches after an untimed round of the
same 10 queries (p50 over HTTP, query encoding included), 200 widget reads, and 10 upserts of one article over HTTP (PUT: embed, store, write term
rows, find and relink the affected questions) with their p50: five new articles (deleted again at the
end, untimed) and five rewrites of existing ones, each a checkthat2020 fact check drawn at random.
The server encodes with the backend its database's vectors are labelled with (`encoder_backend`), and
the table says which, with the PostgreSQL server's shared_buffers (PG_SHARED_BUFFERS in
scripts/start_postgres.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from recommender.config import Settings  # noqa: E402
from recommender.editorial.auth import hash_token, new_token  # noqa: E402
from recommender.store.pgvector import HNSW_INDEX, hnsw_statement  # noqa: E402
from scripts.docs_table import PERFORMANCE, publish  # noqa: E402
from scripts.serverproc import free_port, rss_kib  # noqa: E402

COMMAND = ("RECOMMENDER_CACHE_DIR=/tmp/evalcache "
           ".venv/bin/python scripts/bench_pg_scale.py --sizes 100000` and `--sizes 1000000")
QUERIES = [
    "who pays for tariffs", "is the measles vaccine safe", "did crime go up last year", "do wind turbines kill birds",
    "is 5g harmful to health", "was the moon landing faked", "are vaccines linked to autism", "did the election have fraud",
    "is climate change caused by humans", "do masks work against covid",
]


def server_url() -> str:
    return (ROOT / "var" / "pgtest" / "url").read_text().strip()


def database_url(size: int) -> str:
    return server_url().rsplit("/", 1)[0] + f"/pg_scale_{size}"


def build(size: int, links_from: Path | None = None, maintenance_work_mem: str = "1GB") -> dict:
    """Load `size` synthetic articles with derived vectors into pg_scale_<size>, with sampled links or
    those of `links_from`; the HNSW index is built with `maintenance_work_mem` (its graph must fit in
    it, or the build slows down many times: ~1 GB per million passages)."""
    from recommender.embedding.factory import create_encoder
    from recommender.services import Services
    from recommender.store.postgres import PostgresStore
    from scripts.synthetic_corpus import Corpus, DerivedVectors, KnownVectors, fact_checks, source_vectors

    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS pg_scale_{size} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE pg_scale_{size}")
    settings = Settings()
    encoder = create_encoder(settings.model, settings.models_dir, backend=settings.backend)
    checks, _ = fact_checks()
    corpus = Corpus(checks)
    titles, claims = source_vectors(checks, encoder, settings.cache_dir)
    corpus.set_neighbours(titles)
    vectors = DerivedVectors(corpus, titles, claims)
    store = PostgresStore(database_url(size), encoder.model_id)
    started = time.perf_counter()
    batch = []
    for i in range(size):
        batch.append(vectors.stored(i, encoder.count_tokens, encoder.max_tokens))
        if len(batch) == 2000 or i == size - 1:
            if i < 2000:  # the service's own write: creates the vector columns' types and the HNSW index
                store.upsert(batch)
                with psycopg.connect(database_url(size), autocommit=True) as conn:
                    conn.execute(f"DROP INDEX IF EXISTS {HNSW_INDEX}")  # built once at the end
            else:
                copy_articles(database_url(size), encoder.model_id, batch)
            batch = []
            print(f"\rstored {i + 1:,}/{size:,}", end="", file=sys.stderr)
    print(file=sys.stderr)
    stored_seconds = time.perf_counter() - started
    began = time.perf_counter()
    with psycopg.connect(database_url(size), autocommit=True) as conn:
        conn.execute(f"SET maintenance_work_mem = '{maintenance_work_mem}'")
        conn.execute(hnsw_statement(encoder.dim))
    hnsw_seconds = time.perf_counter() - began
    if links_from is not None:
        copy_links(links_from, store)
    else:
        sampled_links(store, corpus, checks, size)
    record_links(size, "exact" if links_from is not None else "sampled")
    store.clear_pending_articles(store.pending_articles())
    store.close()
    # Clusters: record the fingerprint of "no clusters" so a server does not cluster 3 questions x size on open.
    fake = KnownVectors(encoder.model_id, encoder.dim, encoder.count_tokens, encoder.max_tokens)
    services = Services.open(settings.model_copy(update={"database_url": database_url(size)}), encoder=fake)
    snapshot = services.holder.rebuild()  # also writes the term rows (PgRanker.open)
    services.store.replace_clusters({}, services.linking._fingerprint(snapshot))
    # ... and the ranking settings as the links' own, or a server's start relinks every question (hours).
    services.store.record_link_settings(services.linking.link_settings())
    services.close()
    # Planner statistics for the bulk-loaded tables, as autovacuum gathers them soon after a large load:
    # measured right after the load without them, search and upsert were three times slower at 10k.
    with psycopg.connect(database_url(size), autocommit=True) as conn:
        conn.execute("ANALYZE")
    return {"articles": size, "store_seconds": round(stored_seconds), "hnsw_seconds": round(hnsw_seconds),
            "total_seconds": round(time.perf_counter() - started)}


def sampled_links(store, corpus, checks, size: int) -> None:  # type: ignore[no-untyped-def]
    """Each question links to the variants of the fact check it was taken from, scores from a uniform
    profile (fast, but every question's lowest candidate is lower than exact linking gives, so an upsert
    enters ~10x more questions than on a real site: see docs/performance.md, "Benchmark corpora")."""
    from recommender.domain import LinkRow

    rng = random.Random(13)
    n = len(checks)
    links: dict[str, list[LinkRow]] = {}
    for i in range(size):
        article = corpus.article(i)
        _, _, asked = corpus.recipe(i)
        by_title = {checks[j].title: j for j in asked}
        for question in article.question_records():
            source = by_title[question.text]
            targets = [f"a{k:06d}" for k in range(source, size, n) if k != i][:10]
            while len(targets) < 10:
                other = f"a{rng.randrange(size):06d}"
                if other != article.id and other not in targets:
                    targets.append(other)
            top = rng.uniform(0.55, 0.9)
            links[question.id] = [
                LinkRow(question.id, rank, target, top - 0.03 * rank, top - 0.03 * rank, 0.2, 0)
                for rank, target in enumerate(targets)
            ]
        if len(links) >= 20_000 or i == size - 1:
            store.replace_links(links)
            links = {}


def record_links(size: int, how: str) -> None:
    """Note on the database how its links were made (the upsert figures depend on it; the table says it)."""
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(f"COMMENT ON DATABASE pg_scale_{size} IS 'links: {how}'")


def recorded_links(size: int) -> str:
    """How the links of pg_scale_<size> were made ("-" when the database predates the note)."""
    with psycopg.connect(server_url(), autocommit=True) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                           (f"pg_scale_{size}",)).fetchone()
    note = row[0] if row and row[0] else ""
    return note.removeprefix("links: ") if note.startswith("links: ") else "-"


def copy_links(path: Path, store) -> None:  # type: ignore[no-untyped-def]
    """The links of a SQLite database of the same synthetic corpus (e.g. /tmp/perf/db-100k.db, linked
    exactly by `synthetic_corpus.py --links-only exact`), written question by question in chunks."""
    import sqlite3

    from recommender.domain import LinkRow

    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    links: dict[str, list[LinkRow]] = {}
    for row in source.execute(
        "SELECT question_id, rank, article_id, score, dense, lexical, passage FROM links ORDER BY question_id, rank"
    ):
        if row[0] not in links and len(links) >= 20_000:
            store.replace_links(links)
            links = {}
        links.setdefault(row[0], []).append(LinkRow(*row))
    if links:
        store.replace_links(links)
    source.close()


def copy_articles(url: str, model_id: str, items: list) -> None:  # type: ignore[type-arg]
    """A bulk load of new articles with COPY (what upsert writes, without its per-article statements)."""
    import datetime as dt

    from pgvector.psycopg import register_vector

    from recommender.store.core import text_hash

    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(url) as conn:
        register_vector(conn)
        with conn.cursor() as cur:
            with cur.copy("COPY articles (id, title, checked_on, summary, sections, url, topic, body, content_hash, "
                          "updated_at) FROM STDIN") as copy:
                for item in items:
                    a = item.article
                    copy.write_row((a.id, a.title, a.checked_on, a.summary, json.dumps([x.model_dump() for x in a.sections]),
                                    a.url, a.topic, a.body_text(), item.content_hash, now))
            with cur.copy("COPY passages (article_id, position, text, text_hash, model_id, vector) FROM STDIN "
                          "WITH (FORMAT BINARY)") as copy:
                copy.set_types(["text", "int4", "text", "text", "text", "vector"])
                for item in items:
                    for n, (text, vector) in enumerate(zip(item.passages, item.passage_vectors)):
                        copy.write_row((item.article.id, n, text, text_hash(text), model_id, vector))
            with cur.copy("COPY questions (id, article_id, position, text, key, model_id, vector, needs_link) FROM STDIN "
                          "WITH (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "int4", "text", "text", "text", "vector", "bool"])
                for item in items:
                    for q, vector in zip(item.article.question_records(), item.question_vectors):
                        copy.write_row((q.id, q.article_id, q.position, q.text, q.key, model_id, vector, False))


def encoder_backend(model_id: str) -> str:
    """The encoder backend whose vectors carry `model_id` (the fp32 export shares the model's id)."""
    return "onnx-int8" if "+int8" in model_id else "onnx"


def shared_buffers(url: str) -> str:
    """The server's page cache (scripts/start_postgres.sh, PG_SHARED_BUFFERS): what search latency at
    scale depends on most, besides the OS cache."""
    from recommender.store.postgres import PostgresStore

    store = PostgresStore(url, "-")
    try:
        return str(store._rows("SHOW shared_buffers")[0][0])
    finally:
        store.close()


def get(port: int, path: str, timeout: float = 120) -> tuple[int, float]:
    began = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as answer:
        answer.read()
        return answer.status, (time.perf_counter() - began) * 1000


def measure(size: int, backend: str) -> str:
    url = database_url(size)
    token = new_token()
    from recommender.store.postgres import PostgresStore

    store = PostgresStore(url, "-")
    name = f"bench-{os.getpid()}"
    store.revoke_editor(name)
    store.add_editor(name, hash_token(token), "publisher")
    ids = [r[0] for r in store._rows("SELECT id FROM articles ORDER BY id LIMIT 200")]
    # Rewrites go to articles picked at random: an article rewritten by an earlier run may hold a fact
    # check that hundreds of questions link to, and rewriting it again relinks all of them.
    rewritten = [r[0] for r in store._rows("SELECT id FROM articles WHERE id LIKE 'a%%' ORDER BY random() LIMIT 5")]
    sizes = store._rows(
        "SELECT pg_database_size(current_database()), pg_total_relation_size('passages'), "
        "pg_total_relation_size('article_terms'), pg_total_relation_size('questions')"
    )[0]
    encoder = encoder_backend(store._rows("SELECT model_id FROM passages LIMIT 1")[0][0])
    store.close()
    port = free_port()
    # The encoder the derived vectors are labelled with: with any other, the server would start
    # re-embedding every article in the background (and every figure would measure that).
    env = {**os.environ, "RECOMMENDER_DATABASE_URL": url, "RECOMMENDER_RANKING_BACKEND": backend,
           "RECOMMENDER_BACKEND": encoder, "RECOMMENDER_RATE_LIMIT_PER_MINUTE": "0"}
    log_path = Path(f"/tmp/pg_scale_{size}_{backend}.log")
    command = [str(ROOT / ".venv" / "bin" / "recommender"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    began = time.perf_counter()
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited ({process.returncode}); see {log_path}")
            try:
                if get(port, "/healthz", 5)[0] == 200:
                    break
            except OSError:
                time.sleep(0.5)
        opened = time.perf_counter() - began
        after_start = rss_kib(process.pid)[0]
        # One untimed round first: the first query of a just-started process pays its lazy set-up
        # (connections, the encoder's first run) and the database's cold pages.
        for q in QUERIES:
            get(port, f"/v1/search?q={q.replace(' ', '%20')}&k=10")
        searches = [get(port, f"/v1/search?q={q.replace(' ', '%20')}&k=10")[1] for q in QUERIES * 3]
        widgets = [get(port, f"/v1/articles/{a}/dive-deeper")[1] for a in ids]
        upserts = []
        # Each upsert is one fact check of checkthat2020 (headline as title and question, claim as
        # summary): distinct texts, so that they do not all link to each other. A rewrite turns an
        # existing article into another fact check; every run picks other ones (an unchanged article
        # is not written at all).
        from scripts.synthetic_corpus import fact_checks

        checks = fact_checks()[0]
        picked = random.Random(int(time.time())).sample(range(len(checks)), 10)
        for n in range(10):
            target = rewritten[n // 2] if n % 2 else f"bench-new-{n}"
            check = checks[picked[n]]
            body = json.dumps({"id": target, "title": check.title, "summary": check.claim,
                               "questions": [check.title]}).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/articles/{target}", data=body, method="PUT",
                                             headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(request, timeout=600) as answer:
                answer.read()
            upserts.append((time.perf_counter() - t0) * 1000)
        now, peak = rss_kib(process.pid)
        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz").read())
        # The new articles go again (not timed), so that every run starts from the same articles: left in,
        # they would link to each other's questions and each run would relink more of them.
        for n in range(0, 10, 2):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/articles/bench-new-{n}", method="DELETE",
                                             headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=600) as answer:
                answer.read()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(60)
    hnsw = health.get("ranking", {}).get("hnsw", "-")
    return (
        f"| {size:,} | {backend} ({hnsw}), encoder {encoder}, {recorded_links(size)} links | {opened:.1f} | {after_start / 1024:.0f} | {peak / 1024:.0f} | "
        f"{statistics.median(searches):.0f} | {statistics.median(widgets):.1f} | {statistics.median(upserts):.0f} | "
        f"{max(upserts):.0f} | {sizes[0] / 2**30:.1f} ({sizes[1] / 2**30:.1f} / {sizes[2] / 2**30:.1f} / {sizes[3] / 2**30:.1f}) |"
    )


def kept_rows(sizes: list[int], rows: list[str]) -> list[str]:
    """The table's rows: those just measured, and those of other sizes already published (a 1M run
    does not erase the 100k row), by size."""
    text = PERFORMANCE.read_text() if PERFORMANCE.exists() else ""
    block = text.split("<!-- pg-scale:start -->")[-1].split("<!-- pg-scale:end -->")[0] if "<!-- pg-scale:start -->" in text else ""
    older = [line for line in block.splitlines() if line.startswith("| ") and line[2:].split(" ")[0].replace(",", "").isdigit()
             and int(line[2:].split(" ")[0].replace(",", "")) not in sizes]
    return sorted(older + rows, key=lambda line: int(line[2:].split(" ")[0].replace(",", "")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--build", action="store_true", help="(re)load the databases first")
    parser.add_argument("--links-from", type=Path, help="copy the links of this SQLite database of the same corpus (e.g. "
                        "linked exactly by synthetic_corpus.py --links-only exact): with --build instead of sampling them, "
                        "without it into the database loaded before")
    parser.add_argument("--maintenance-work-mem", default="1GB", help="for the HNSW build with --build (its graph must "
                        "fit: ~1 GB per million passages, 5 passages an article)")
    parser.add_argument("--memory-too", action="store_true", help="also measure the in-memory backend")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        if args.build:
            print(json.dumps(build(size, args.links_from, args.maintenance_work_mem)), file=sys.stderr)
        elif args.links_from is not None:  # a database loaded before (e.g. while the SQLite one was being linked)
            from recommender.store.postgres import PostgresStore

            with psycopg.connect(database_url(size)) as conn:
                model_id = conn.execute("SELECT model_id FROM passages LIMIT 1").fetchone()[0]
            store = PostgresStore(database_url(size), model_id)
            copy_links(args.links_from, store)
            store.close()
            record_links(size, "exact")
        for backend in ("postgres", "memory") if args.memory_too else ("postgres",):
            rows.append(measure(size, backend))
            print(rows[-1], file=sys.stderr)
    table = "\n".join([
        f"One `recommender serve` process on PostgreSQL (model `{Settings().model}`), synthetic articles with derived "
        f"vectors (scripts/synthetic_corpus.py); 1-minute load average at the end {os.getloadavg()[0]:.1f} "
        "(2 shared cores; the PostgreSQL server runs on the same machine, shared_buffers "
        f"{shared_buffers(database_url(args.sizes[0]))}).",
        "",
        "| articles | ranking backend (HNSW), encoder | open s | RSS after start MB | peak RSS MB | search p50 ms | widget p50 ms | upsert p50 ms | upsert max ms | database GB (passages + HNSW / term rows / questions) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
        *kept_rows(args.sizes, rows),
    ])
    publish(PERFORMANCE, "pg-scale", table, COMMAND, write=not args.no_write)


if __name__ == "__main__":
    main()
