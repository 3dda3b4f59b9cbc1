"""Vectors as the in-memory index holds them: int8 codes and one float32 scale per row.

Row r stands for `codes[r] * scales[r]` (symmetric quantisation: the scale maps the row's largest
absolute component to 127). A quarter of float32's memory, and unlike float16 numpy widens int8 to
float32 with SIMD code, so scoring a block of rows costs little more than the float32 product.
Quantisation is a pure function of the one vector, so the index built from the store and the one
carried over by an upsert hold the very same codes (links stay equal to a full recomputation).

The store lives below the index layer and reads vectors straight into this form (in chunks), so
opening a large database never holds its float32 vectors all at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np

CODE = np.int8
LEVELS = 127.0


def quantize(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes int8 (n, dim), scales float32 (n,)) of float32 rows; a zero row gets scale 0."""
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim != 2:
        raise ValueError(f"expected a matrix of vectors, got shape {rows.shape}")
    peak = np.abs(rows).max(axis=1) if rows.shape[1] else np.zeros(len(rows), np.float32)
    scales = (peak / np.float32(LEVELS)).astype(np.float32)
    safe = np.where(scales > 0, scales, np.float32(1.0))
    codes = np.rint(rows / safe[:, None]).clip(-LEVELS, LEVELS).astype(CODE)
    return codes, scales


def dequantize(codes: np.ndarray, scales: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """float32 rows of int8 codes (into `out` when given: a reused block buffer)."""
    if out is None:
        out = np.empty(codes.shape, dtype=np.float32)
    np.copyto(out, codes, casting="unsafe")
    out *= scales[:, None]
    return out


@dataclass(frozen=True)
class Int8Rows:
    """Quantised rows as the store hands them over: slicing gives views, not copies."""

    codes: np.ndarray  # (n, dim) int8
    scales: np.ndarray  # (n,) float32

    @classmethod
    def of(cls, rows: np.ndarray) -> Int8Rows:
        return cls(*quantize(rows))

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def dim(self) -> int:
        return int(self.codes.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.codes), self.dim)

    @overload
    def __getitem__(self, index: slice) -> Int8Rows: ...
    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...
    def __getitem__(self, index: slice | int) -> Int8Rows | np.ndarray:
        """A slice: the rows as codes (views); one row: its float32 vector."""
        if isinstance(index, slice):
            return Int8Rows(self.codes[index], self.scales[index])
        return dequantize(self.codes[index : index + 1 or None], self.scales[index : index + 1 or None])[0]

    def dequantized(self) -> np.ndarray:
        return dequantize(self.codes, self.scales)
