"""The index's vector rows: int8 codes (see store/vectors.py), a read-only base and an appended tail.

The base is what a full build made: read from the store, or memory-mapped from the index files
(index/files.py), which every worker of the machine then shares page for page. Rows an upsert adds
go to a small in-memory tail (RowBuffer: shared by successive snapshots, copied only when full), so
the base is never copied and never written. Every read hands out float32: rows are widened block by
block, so a product with every row holds one block of float32 at a time, never the whole matrix.
A row reads the same float32 values whichever way it is read (one row, a block, a selection):
scores of the same vectors agree exactly between an incremental update and a full build.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from recommender.index.products import as_int8, products
from recommender.index.rows import RowBuffer
from recommender.store.vectors import Int8Rows, dequantize, quantize

BLOCK_ROWS = 4096  # rows widened at a time: 6 MB of float32 at 384 dimensions (larger blocks: more RSS, no faster)


class VectorRows:
    def __init__(
        self,
        base: Int8Rows,
        tail_codes: RowBuffer | None = None,
        tail_scales: RowBuffer | None = None,
        tail: int = 0,
        base_norms: list[np.ndarray] | None = None,
    ) -> None:
        self.base = base
        self._tail_codes = tail_codes
        self._tail_scales = tail_scales
        self._tail = tail
        # The base rows' L2 norms, computed on first use and shared by every VectorRows appended to this
        # one (the base never changes): a box, so a copy made before the first use still gets them.
        self._base_norms = base_norms if base_norms is not None else []

    @classmethod
    def of(cls, rows: np.ndarray | Int8Rows, dim: int) -> VectorRows:
        """Rows given as float32 (quantised here) or already quantised (kept as they are, no copy)."""
        if isinstance(rows, Int8Rows):
            return cls(rows)
        rows = np.asarray(rows, dtype=np.float32).reshape(-1, dim)
        return cls(Int8Rows.of(rows))

    @classmethod
    def empty(cls, dim: int) -> VectorRows:
        return cls(Int8Rows(np.zeros((0, dim), np.int8), np.zeros(0, np.float32)))

    def __len__(self) -> int:
        return len(self.base) + self._tail

    @property
    def dim(self) -> int:
        return self.base.dim

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), self.dim)

    @property
    def nbytes(self) -> int:
        """Bytes of codes and scales (base and tail)."""
        return len(self) * (self.dim + 4)

    def appended(self, rows: np.ndarray | Int8Rows) -> VectorRows:
        """These rows followed by `rows`; this object is unchanged (the tail buffer is shared)."""
        if len(rows) == 0:
            return self
        added = rows if isinstance(rows, Int8Rows) else Int8Rows.of(np.asarray(rows, np.float32).reshape(-1, self.dim))
        if self._tail_codes is None or self._tail_scales is None:
            return VectorRows(self.base, RowBuffer.of(added.codes), RowBuffer.of(added.scales), len(added), self._base_norms)
        codes = self._tail_codes.extend(self._tail, added.codes)
        scales = self._tail_scales.extend(self._tail, added.scales)
        return VectorRows(self.base, codes, scales, self._tail + len(added), self._base_norms)

    def quantized(self, start: int, stop: int) -> Int8Rows:
        """Rows start:stop as codes and scales (views, or one copy where they cross into the tail)."""
        start, stop = max(0, start), min(stop, len(self))
        split = len(self.base)
        if stop <= split:
            return self.base[start:stop]
        tail = self._tail_parts()
        if start >= split:
            return tail[start - split : stop - split]
        return Int8Rows(
            np.concatenate([self.base.codes[start:], tail.codes[: stop - split]]),
            np.concatenate([self.base.scales[start:], tail.scales[: stop - split]]),
        )

    def _tail_parts(self) -> Int8Rows:
        assert self._tail_codes is not None and self._tail_scales is not None
        return Int8Rows(self._tail_codes.view(self._tail), self._tail_scales.view(self._tail))

    def rows(self, start: int, stop: int) -> np.ndarray:
        """float32 rows start:stop."""
        part = self.quantized(start, stop)
        return dequantize(part.codes, part.scales)

    def take(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """float32 rows at `indices` (any order, repeats allowed)."""
        picked = self.take_quantized(indices)
        return dequantize(picked.codes, picked.scales)

    def take_quantized(self, indices: Sequence[int] | np.ndarray) -> Int8Rows:
        """The rows at `indices` as codes and scales (copies)."""
        index = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(index) and (index.min() < 0 or index.max() >= len(self)):
            raise IndexError(f"row index out of range 0..{len(self) - 1}")
        split = len(self.base)
        codes = np.empty((len(index), self.dim), np.int8)
        scales = np.empty(len(index), np.float32)
        low = index < split
        codes[low], scales[low] = self.base.codes[index[low]], self.base.scales[index[low]]
        if not low.all():
            tail = self._tail_parts()
            high = index[~low] - split
            codes[~low], scales[~low] = tail.codes[high], tail.scales[high]
        return Int8Rows(codes, scales)

    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            position = int(index) + (len(self) if index < 0 else 0)
            if not 0 <= position < len(self):
                raise IndexError(f"row {index} out of range")
            return self.rows(position, position + 1)[0]
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            return self.rows(start, stop) if step == 1 else self.take(np.arange(start, stop, step))
        return self.take(np.asarray(index))

    def blocks(self, size: int = BLOCK_ROWS) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, float32 rows) over every row, `size` at a time."""
        for start in range(0, len(self), size):
            yield start, self.rows(start, min(start + size, len(self)))

    def dense(self) -> np.ndarray:
        """Every row as float32 (a full copy: for small indexes and tests)."""
        return self.rows(0, len(self))

    def __matmul__(self, other: np.ndarray) -> np.ndarray:
        """rows @ other, (rows, k) float32, computed block by block (equal to `dense() @ other` up to
        float32 rounding: callers compare such products within linker.SCORE_TOLERANCE)."""
        other = np.asarray(other, dtype=np.float32)
        out = np.empty((len(self), *other.shape[1:]), dtype=np.float32)
        for start in range(0, len(self), BLOCK_ROWS):
            part = self.quantized(start, start + BLOCK_ROWS)
            product = part.codes.astype(np.float32) @ other
            # Scaled after the product (rows x k), not before (rows x dim): one pass less over the block.
            product *= part.scales.reshape(-1, *([1] * (product.ndim - 1)))
            out[start : start + len(part)] = product
        return out


    def products(self, columns: np.ndarray | Int8Rows) -> np.ndarray:
        """Every row times each column on the int8 codes (index/products.py): (rows, columns) float32,
        each product a function of its two vectors alone."""
        right = as_int8(columns)
        out = np.empty((len(self), len(right)), dtype=np.float32)
        split = len(self.base)
        if split:
            out[:split] = products(self.base, right)
        if self._tail:
            out[split:] = products(self._tail_parts(), right)
        return out

    def norms(self) -> np.ndarray:
        """Each row's L2 norm (the base's computed once, the tail's each time: it is small)."""
        if not self._base_norms:
            self._base_norms.append(_norms(self.base))
        if not self._tail:
            return self._base_norms[0]
        return np.concatenate([self._base_norms[0], _norms(self._tail_parts())])


def _norms(rows: Int8Rows) -> np.ndarray:
    norms = np.empty(len(rows), dtype=np.float32)
    for start in range(0, len(rows), BLOCK_ROWS):
        part = rows[start : start + BLOCK_ROWS]
        block = part.codes.astype(np.float32)
        norms[start : start + len(part)] = np.sqrt(np.einsum("ij,ij->i", block, block)) * np.abs(part.scales)
    return norms


def quantized_rows(rows: np.ndarray) -> np.ndarray:
    """float32 rows as the index will hold them (quantised and widened back): for tests and tools."""
    codes, scales = quantize(rows)
    return dequantize(codes, scales)
