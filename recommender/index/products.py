"""Products of quantised vectors, computed on their int8 codes.

Every vector the index scores with is int8 codes times one float32 scale (store/vectors.py); a float
vector (a query, a passage read from PostgreSQL) is quantised the same way first. The product of two
such vectors is (codes . codes) * (scale * scale): the dot product of the codes is an integer (at
most 127^2 * dim in size) and is computed exactly, then multiplied once by the product of the two
scales. So a product depends on the two vectors alone, bit for bit: not on the shape of the matrix
product it is part of, nor on which side is the row. An upsert scoring one article against every
question gets the very numbers the ranker gets ranking each question against every article.

The integer products run on ONNX Runtime's MatMulInteger (recommender/index/data/int8_products.onnx,
written by scripts/make_products_graph.py): 8-bit multiply-adds summed in int32, two to three times
faster here than widening the codes to float32 for a float product, on one thread against two
(docs/performance.md, "Integer products"). Products wide on both sides (a full clustering) are the
exception: `all_products` serves them with the exact float32 path.
Its fast kernel takes unsigned rows, so the codes go in as code + 128 with a zero point of 128. On a
CPU whose kernel is not exact (without VNNI, x86 sums pairs of u8 x s8 products in saturating 16-bit
lanes), the codes are multiplied as float32 instead: every partial sum is an integer below 2^24, so
that is exact as well and gives the same numbers, only slower. Which one runs is checked once per
process against integer arithmetic (`integer_backend`).

Quantising a query's float vector did not change any ranking metric on the shared benchmarks (to
four decimals; the stored question vectors were int8 already).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from recommender.store.vectors import LEVELS, Int8Rows

GRAPH = Path(__file__).resolve().parent / "data" / "int8_products.onnx"
KERNEL_ROWS = 16384  # rows per call: 6 MB of shifted codes at 384 dimensions, and few calls
EXACT_FLOAT_DIM = int(2**24 // LEVELS**2)  # float32 sums of code products stay exact up to this many dimensions
# all_products' blocks: 512 x 4096 products (8 MB) stay in cache between the product, its scaling and the
# caller's pass over it (blocks of 100+ MB did not).
WIDE_ROWS, WIDE_COLUMNS = 512, 4096


def as_int8(vectors: np.ndarray | Int8Rows) -> Int8Rows:
    """Quantised rows of float vectors (one vector or a matrix); quantised rows as they are."""
    if isinstance(vectors, Int8Rows):
        return vectors
    return Int8Rows.of(np.atleast_2d(np.asarray(vectors, dtype=np.float32)))


def products(rows: np.ndarray | Int8Rows, columns: np.ndarray | Int8Rows) -> np.ndarray:
    """(len(rows), len(columns)) float32: each row times each column, exactly as the module says."""
    left, right = as_int8(rows), as_int8(columns)
    if left.dim != right.dim:
        raise ValueError(f"vectors of {left.dim} and {right.dim} dimensions cannot be multiplied")
    out = np.empty((len(left), len(right)), dtype=np.float32)
    if not len(left) or not len(right):
        return out
    session = integer_backend()
    columns_t = np.ascontiguousarray(right.codes.T)
    shifted = np.empty((min(KERNEL_ROWS, len(left)), left.dim), dtype=np.uint8)
    for start in range(0, len(left), KERNEL_ROWS):
        codes = left.codes[start : start + KERNEL_ROWS]
        block = out[start : start + len(codes)]
        # One rounding: the product of the two scales (the same whichever side is the row) times the
        # integer, which float32 holds exactly; written in place, so a wide block needs no temporary.
        np.multiply(left.scales[start : start + len(codes), None], right.scales[None, :], out=block)
        integers = _code_products(session, codes, columns_t, shifted[: len(codes)])
        np.multiply(block, integers, out=block, dtype=np.float32, casting="unsafe")
    return out


def all_products(
    rows: Int8Rows, columns: Int8Rows, row_block: int = WIDE_ROWS, column_block: int = WIDE_COLUMNS
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Every row times every column, as blocks (first row, first column, products): the numbers of
    `products`, for products too wide for the one-thread integer kernel to pay (a full clustering
    multiplies every question by every other). A chunk of columns is widened to float32 once and each
    block of rows multiplied by it on every core; exact as well, every partial sum being an integer
    below 2^24."""
    if rows.dim != columns.dim or rows.dim > EXACT_FLOAT_DIM:
        for start in range(0, len(rows), row_block):
            yield start, 0, products(rows[start : start + row_block], columns)
        return
    for first_column in range(0, len(columns), column_block):
        right = columns[first_column : first_column + column_block]
        wide = right.codes.T.astype(np.float32)
        for start in range(0, len(rows), row_block):
            left = rows[start : start + row_block]
            block = np.multiply(left.scales[:, None], right.scales[None, :])
            np.multiply(block, left.codes.astype(np.float32) @ wide, out=block)
            yield start, first_column, block


def _code_products(session: Any, codes: np.ndarray, columns_t: np.ndarray, shifted: np.ndarray) -> np.ndarray:
    """codes (n, dim) int8 times columns_t (dim, k) int8, exactly."""
    if session is None:
        wide = np.float32 if codes.shape[1] <= EXACT_FLOAT_DIM else np.float64
        return codes.astype(wide) @ columns_t.astype(wide)
    np.bitwise_xor(codes.view(np.uint8), np.uint8(0x80), out=shifted)  # code + 128 as uint8
    return session.run(None, {"rows": shifted, "columns": columns_t})[0]


@cache
def integer_backend() -> Any:
    """The ONNX Runtime session for the integer products, or None when its kernel is not exact here
    (or cannot run): the float32 path is used then. Checked once per process on extreme codes."""
    try:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # One thread: the products are memory-bound block by block, and a server has other requests to run.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(GRAPH.read_bytes(), options, providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - no runtime, no graph: the float path is exact, only slower
        return None
    return session if _exact(session) else None


def _exact(session: Any) -> bool:
    """Whether the kernel matches integer arithmetic where saturation would show: rows and columns
    at the extremes (every pair of products at +-127^2) and random codes."""
    dim = 64
    rng = np.random.default_rng(0)
    codes = np.concatenate(
        [np.full((1, dim), 127), np.full((1, dim), -127), rng.integers(-127, 128, (30, dim))]
    ).astype(np.int8)
    columns = np.concatenate([np.full((dim, 1), 127), np.full((dim, 1), -127), rng.integers(-127, 128, (dim, 6))], axis=1)
    columns = columns.astype(np.int8)
    expected = codes.astype(np.int64) @ columns.astype(np.int64)
    try:
        found = _code_products(session, codes, columns, np.empty(codes.shape, dtype=np.uint8))
    except Exception:  # noqa: BLE001
        return False
    return bool(np.array_equal(found.astype(np.int64), expected))
