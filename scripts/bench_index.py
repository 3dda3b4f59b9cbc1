"""Vector index comparison: exact numpy (the service's) vs faiss HNSW / IVF vs pgvector HNSW (vector, halfvec, binary + rerank).

    RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/bench_index.py [--sizes 10000 100000]

Vectors: passage-like vectors derived from the real model's vectors of checkthat2020 texts (see
scripts/synthetic_corpus.py: title, claim and mixed-context passages, with per-variant noise beyond
the 10,375 fact checks); queries: 300 question vectors of the same corpus. For each index: build
time, query p50 (one query at a time, top 10 by inner product = cosine), recall@10 against exact.
faiss runs in process (faiss-cpu, the `bench` extra); pgvector runs in a throwaway PostgreSQL
(scripts/start_postgres.sh with PGTEST_DIR=/tmp/perf/pgbench) over loopback, so its query time
includes a round trip. A missing library or server gives a row marked "not measured" with the reason.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from recommender.config import Settings  # noqa: E402
from recommender.embedding.base import normalize_rows  # noqa: E402
from recommender.embedding.factory import create_encoder  # noqa: E402
from scripts.docs_table import PERFORMANCE, publish  # noqa: E402
from scripts.synthetic_corpus import VARIANT_NOISE, Corpus, fact_checks, source_vectors  # noqa: E402

COMMAND = "RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/bench_index.py"

K = 10


def derived(corpus: Corpus, titles: np.ndarray, claims: np.ndarray, count: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
    """(count passage vectors, `queries` question vectors): five passages an article, as the corpus has."""
    rng = np.random.default_rng(5)
    rows, n, i = [], len(corpus.checks), 0
    while sum(len(r) for r in rows) < count:
        source, sections, _ = corpus.recipe(i)
        block = np.stack([titles[source], claims[source], *(claims[c].mean(axis=0) for c in sections)])
        if i >= n:
            noise = rng.standard_normal(block.shape).astype(np.float32)
            block = block + VARIANT_NOISE * noise / np.linalg.norm(noise, axis=1, keepdims=True)
        rows.append(normalize_rows(block))
        i += 1
    picks = rng.choice(i, size=queries, replace=False)
    asked = []
    for p in picks:
        question = corpus.recipe(int(p))[2][0]
        noise = rng.standard_normal(titles.shape[1]).astype(np.float32)
        asked.append(titles[question] + 0.1 * noise / np.linalg.norm(noise))
    return np.concatenate(rows)[:count], normalize_rows(np.stack(asked))


def exact_search(vectors: np.ndarray, q: np.ndarray) -> np.ndarray:
    scores = vectors @ q
    top = np.argpartition(-scores, K)[:K]
    return top[np.argsort(-scores[top])]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth)]))


def _megabytes(vectors: np.ndarray, index: object) -> float:
    """What an in-process index holds: the float32 matrix, or the faiss index as serialised."""
    if index is None:
        return vectors.nbytes / 2**20
    import faiss

    return len(faiss.serialize_index(index)) / 2**20


def in_process_rows(vectors: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, list[tuple[str, str, float, float, float, float]]]:
    """Exact numpy and the faiss indexes, timed query by query in turn (so machine load hits all alike)."""
    searchers: list[tuple[str, str, float, object]] = [("exact numpy (the service)", "float32 matrix, q @ M.T", 0.0, None)]
    try:
        import faiss
    except ImportError:
        faiss = None
    if faiss is not None:
        faiss.omp_set_num_threads(2)
        dim = vectors.shape[1]
        nlist = int(4 * np.sqrt(len(vectors)))
        began = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        hnsw.add(vectors)
        hnsw.hnsw.efSearch = 64
        searchers.append(("faiss HNSW", "M=32, efConstruction=80, efSearch=64", time.perf_counter() - began, hnsw))
        began = time.perf_counter()
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(vectors)
        ivf.add(vectors)
        ivf.nprobe = 16
        searchers.append(("faiss IVF-Flat", f"nlist={nlist}, nprobe=16", time.perf_counter() - began, ivf))
    found: list[list[np.ndarray]] = [[] for _ in searchers]
    times: list[list[float]] = [[] for _ in searchers]
    for q in queries:
        for n, (_, _, _, index) in enumerate(searchers):
            began = time.perf_counter()
            ids = exact_search(vectors, q) if index is None else index.search(q[None, :], K)[1][0]  # type: ignore[attr-defined]
            times[n].append(time.perf_counter() - began)
            found[n].append(ids)
    truth = np.stack(found[0])
    rows = [
        (name, params, build, float(np.median(times[n])) * 1000, recall(np.stack(found[n]), truth), _megabytes(vectors, index))
        for n, (name, params, build, index) in enumerate(searchers)
    ]
    if faiss is None:
        rows.append(("faiss", "not measured: faiss-cpu not installed (pip install '.[bench]')", 0, 0, 0, 0))
    return truth, rows


# pgvector's index variants: (name, parameters, index expression and operator class, ORDER BY of a query,
# rerank): halfvec keeps half the bytes per vector in the graph; the binary one keeps one bit per
# dimension and reranks its RERANK nearest by the full vectors (both as large deployments do).
RERANK = 100
_VARIANTS = (
    ("pgvector HNSW", "vector", "embedding vector_ip_ops", "embedding <#> %s::vector({dim})", False),
    ("pgvector HNSW, halfvec", "halfvec", "(embedding::halfvec({dim})) halfvec_ip_ops",
     "embedding::halfvec({dim}) <#> %s::halfvec({dim})", False),
    ("pgvector HNSW, binary + rerank", f"bit, rerank {RERANK}", "(binary_quantize(embedding)::bit({dim})) bit_hamming_ops",
     "binary_quantize(embedding)::bit({dim}) <~> binary_quantize(%s::vector({dim}))", True),
)


def pgvector_rows(vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, size: int) -> list[tuple[str, str, float, float, float, float]]:
    name = "pgvector HNSW"
    try:
        import psycopg
        from pgvector.psycopg import register_vector
    except ImportError as exc:
        return [(name, f"not measured: {exc}", 0, 0, 0, 0)]
    env = {**os.environ, "PGTEST_DIR": "/tmp/perf/pgbench"}
    started = subprocess.run(["bash", str(ROOT / "scripts" / "start_postgres.sh")], capture_output=True, text=True, env=env)
    if started.returncode != 0:
        return [(name, f"not measured: PostgreSQL did not start ({started.stderr.strip().splitlines()[-1:]})", 0, 0, 0, 0)]
    url = started.stdout.strip().splitlines()[-1]
    dim = vectors.shape[1]
    out = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
        table = f"bench_{size}"
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, embedding vector({dim}))")
        with conn.cursor().copy(f"COPY {table} (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for i, v in enumerate(vectors):
                copy.write_row((i, v))
        conn.execute("SET maintenance_work_mem = '512MB'")
        for label, kind, opclass, order, rerank in _VARIANTS:
            index = f"{table}_hnsw"
            began = time.perf_counter()
            conn.execute(f"CREATE INDEX {index} ON {table} USING hnsw ({opclass.format(dim=dim)}) WITH (m = 16, ef_construction = 64)")
            build = time.perf_counter() - began
            megabytes = conn.execute("SELECT pg_relation_size(%s::regclass)", (index,)).fetchone()[0] / 2**20
            ordered = order.format(dim=dim)
            sql = f"SELECT id FROM {table} ORDER BY {ordered} LIMIT {K}"
            if rerank:
                sql = (f"SELECT id FROM (SELECT id, embedding FROM {table} ORDER BY {ordered} LIMIT {RERANK}) c "
                       f"ORDER BY embedding <#> %s::vector({dim}) LIMIT {K}")
            # The binary index must search at least as deep as it reranks: one depth, RERANK.
            for ef in (RERANK,) if rerank else (40, 100):
                conn.execute(f"SET hnsw.ef_search = {ef}")
                found, times = [], []
                for q in queries:
                    began = time.perf_counter()
                    rows = conn.execute(sql, (q, q) if rerank else (q,)).fetchall()
                    times.append(time.perf_counter() - began)
                    found.append([r[0] for r in rows] + [-1] * (K - len(rows)))
                out.append((label, f"{kind}, m=16, ef_construction=64, ef_search={ef}", build, float(np.median(times)) * 1000,
                            recall(np.array(found), truth), megabytes))
            conn.execute(f"DROP INDEX {index}")
        conn.execute(f"DROP TABLE {table}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    encoder = create_encoder(settings.model, settings.models_dir, backend=settings.backend)
    checks, label = fact_checks()
    titles, claims = source_vectors(checks, encoder, settings.cache_dir)
    corpus = Corpus(checks)
    corpus.set_neighbours(titles)
    lines = []
    for size in args.sizes:
        vectors, queries = derived(corpus, titles, claims, size, args.queries)
        truth, rows = in_process_rows(vectors, queries)
        if not args.no_postgres:
            rows += pgvector_rows(vectors, queries, truth, size)
        for name, params, build, p50, rec, megabytes in rows:
            if params.startswith("not measured"):
                lines.append(f"| {size:,} | {name} | {params} | - | - | - | - |")
            else:
                lines.append(f"| {size:,} | {name} | {params} | {build:.2f} | {megabytes:.0f} | {p50:.2f} | {rec:.3f} |")
            print(lines[-1], file=sys.stderr)
    table = "\n".join(
        [
            f"Vectors derived from `{encoder.model_id}` vectors of {label} (dim {encoder.dim}), "
            f"{args.queries} question vectors as queries, top {K} by inner product; 2 threads; "
            f"1-minute load average at the end {os.getloadavg()[0]:.1f} (shared machine).",
            "",
            "| vectors | index | parameters | build s | index MB | query p50 ms | recall@10 vs exact |",
            "|---:|---|---|---:|---:|---:|---:|",
            *lines,
        ]
    )
    publish(PERFORMANCE, "index", table, COMMAND, write=not args.no_write)


if __name__ == "__main__":
    main()
