"""Integer products on int8 codes against the float32 paths, at the shapes an upsert and linking use.

    .venv/bin/python scripts/bench_products.py

Rows are random int8 codes with per-row scales (the stored passage or question vectors of a 100k
database: ~500k passages, ~300k questions, 384 dimensions); columns are a few query vectors (one
upsert's questions or passages) or a linking batch. Three ways to get the same scores:

- `integer kernel`: recommender/index/products.py as served (ONNX Runtime MatMulInteger, one thread);
- `float32 on codes`: the same function's fallback (codes widened to float32 block by block, exact);
- `widen + float query`: what the index did before products.py, the codes widened to float32 and
  multiplied by the unquantised float query (not exact in the integer sense: rounding depends on shape).

The last row is a full clustering's threshold graph (every question times every other, 30k questions:
a 10k-article site): `products` by blocks of 1,024 rows on the kernel, `all_products` (the float32
path with a chunk of columns widened once, which the clustering uses), and the float vectors
multiplied block by block as before.

Times are the median of several runs of one call, single process; the BLAS of the float paths may use
both cores, the kernel uses one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from recommender.index import products as products_module  # noqa: E402
from recommender.index.products import KERNEL_ROWS, all_products, as_int8, integer_backend, products  # noqa: E402
from recommender.store.vectors import Int8Rows  # noqa: E402
from scripts.docs_table import PERFORMANCE, publish  # noqa: E402

DIM = 384
GRAPH_ROWS = 30_000  # questions of a 10k-article site
SHAPES = [  # (rows, columns, what it is)
    (500_000, 3, "a new article's 3 questions against every passage (100k articles)"),
    (300_000, 5, "an article's 5 passages against every question (100k articles)"),
    (300_000, 3, "the duplicate search's first step (3 questions against every question)"),
    (500_000, 64, "a linking batch of 64 questions against every passage"),
]


def _rows(count: int, rng: np.random.Generator) -> Int8Rows:
    return Int8Rows(rng.integers(-127, 128, (count, DIM), dtype=np.int8), rng.uniform(0.005, 0.02, count).astype(np.float32))


def _widened(rows: Int8Rows, queries: np.ndarray) -> np.ndarray:
    out = np.empty((len(rows), len(queries)), dtype=np.float32)
    for start in range(0, len(rows), KERNEL_ROWS):
        block = rows.codes[start : start + KERNEL_ROWS].astype(np.float32) @ queries.T
        out[start : start + len(block)] = block * rows.scales[start : start + KERNEL_ROWS, None]
    return out


def _median_ms(call: Callable[[], object], runs: int) -> float:
    call()  # warm: first-touch pages, the session's buffers
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def _float_path(rows: Int8Rows, columns: Int8Rows) -> np.ndarray:
    saved = products_module.integer_backend
    products_module.integer_backend = lambda: None  # type: ignore[assignment]
    try:
        return products(rows, columns)
    finally:
        products_module.integer_backend = saved


def _graph_row(rng: np.random.Generator, runs: int) -> str:
    vectors = rng.standard_normal((GRAPH_ROWS, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    codes = as_int8(vectors)

    def kernel() -> None:
        for start in range(0, GRAPH_ROWS, 1024):
            np.nonzero(products(codes[start : start + 1024], codes) >= 0.9)

    def blocked() -> None:
        for _, _, block in all_products(codes, codes):
            np.nonzero(block >= 0.9)

    def widened() -> None:
        for start in range(0, GRAPH_ROWS, 1024):
            np.nonzero(vectors[start : start + 1024] @ vectors.T >= 0.9)

    times = [_median_ms(f, runs) for f in (kernel, blocked, widened)]
    sample = codes[:700]
    same = all(np.array_equal(block, products(sample[r : r + len(block)], sample[c : c + block.shape[1]]))
               for r, c, block in all_products(sample, sample, 256, 300))
    return (f"| {GRAPH_ROWS:,} x {GRAPH_ROWS:,} | a full clustering's threshold graph (blocks, each compared with the threshold) | "
            f"{times[0]:.0f} | {times[1]:.0f} (all_products) | {times[2]:.0f} | {times[2] / times[0]:.1f}x | {'yes' if same else '**no**'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if integer_backend() is None:
        sys.exit("the integer kernel is not exact (or cannot run) on this CPU: products fall back to float32 here")
    rng = np.random.default_rng(0)
    table = [
        "| rows x columns | what | integer kernel ms | float32 on codes ms | widen + float query ms | kernel speed-up vs before | same scores (kernel = fallback) |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for count, width, what in SHAPES:
        rows = _rows(count, rng)
        queries = rng.standard_normal((width, DIM)).astype(np.float32)
        columns = as_int8(queries)
        kernel = _median_ms(lambda: products(rows, columns), args.runs)
        fallback = _median_ms(lambda: _float_path(rows, columns), args.runs)
        widened = _median_ms(lambda: _widened(rows, queries), args.runs)
        same = np.array_equal(products(rows, columns), _float_path(rows, columns))
        table.append(f"| {count:,} x {width} | {what} | {kernel:.0f} | {fallback:.0f} | {widened:.0f} | "
                     f"{widened / kernel:.1f}x | {'yes' if same else '**no**'} |")
        print(table[-1], file=sys.stderr)
    table.append(_graph_row(rng, max(1, args.runs // 2)))
    print(table[-1], file=sys.stderr)
    load = os.getloadavg()[0]
    content = (f"{DIM} dimensions, median of {args.runs} runs. 1-minute load average at the end: {load:.1f} "
               "(2 CPUs, shared).\n\n" + "\n".join(table))
    publish(PERFORMANCE, "products", content, ".venv/bin/python scripts/bench_products.py", write=not args.no_write)


if __name__ == "__main__":
    main()
