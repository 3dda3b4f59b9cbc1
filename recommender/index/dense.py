"""Exact dense retrieval over passage vectors; a document scores as its best passage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from recommender.index.rows import RowBuffer


@dataclass(frozen=True)
class DenseIndex:
    """Passage vectors grouped by document: rows offsets[d]:offsets[d+1] belong to document d.

    `appended` adds documents after the last one, sharing the rows already there (see RowBuffer):
    a replaced document keeps its rows until the next full build, and the Ranker masks it.
    """

    vectors: np.ndarray  # (passages, dim) float32, L2-normalised
    offsets: np.ndarray  # (documents + 1,) int64
    _rows: RowBuffer | None = field(default=None, repr=False, compare=False)
    _ends: RowBuffer | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_groups(cls, groups: Sequence[np.ndarray], dim: int) -> DenseIndex:
        sizes = np.array([len(g) for g in groups], dtype=np.int64)
        if (sizes == 0).any():
            raise ValueError("every document needs at least one passage vector")
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        ends = RowBuffer.of(offsets)
        tiled = _tiled_base(groups, int(offsets[-1]), dim)
        if tiled is not None:  # the store read every vector into one matrix: use it, no second copy
            rows = RowBuffer(tiled, int(offsets[-1]))
            return cls(rows.view(int(offsets[-1])), ends.view(len(offsets)), rows, ends)
        rows = RowBuffer.empty(int(offsets[-1]), (dim,), np.float32)
        matrix = rows.view(int(offsets[-1]))
        for start, group in zip(offsets[:-1], groups):
            matrix[start : start + len(group)] = group
        return cls(matrix, ends.view(len(offsets)), rows, ends)

    @property
    def size(self) -> int:
        return len(self.offsets) - 1

    def appended(self, groups: Sequence[np.ndarray]) -> DenseIndex:
        """A new index with one more document per group; this one is unchanged."""
        if not groups:
            return self
        if any(len(g) == 0 for g in groups):
            raise ValueError("every document needs at least one passage vector")
        rows = self._rows if self._rows is not None else RowBuffer.of(self.vectors)
        ends = self._ends if self._ends is not None else RowBuffer.of(self.offsets)
        count = int(self.offsets[-1])
        new_rows = np.concatenate(groups).astype(np.float32)
        rows = rows.extend(count, new_rows)
        new_ends = count + np.cumsum([len(g) for g in groups]).astype(np.int64)
        ends = ends.extend(len(self.offsets), new_ends)
        total = count + len(new_rows)
        return DenseIndex(rows.view(total), ends.view(len(self.offsets) + len(groups)), rows, ends)

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """(queries, documents) best-passage cosine."""
        if self.size == 0:
            return np.zeros((len(queries), 0), dtype=np.float32)
        sims = queries @ self.vectors.T
        return np.maximum.reduceat(sims, self.offsets[:-1], axis=1)

    def passages(self, doc: int) -> np.ndarray:
        return self.vectors[self.offsets[doc] : self.offsets[doc + 1]]

    def best_passage(self, query: np.ndarray, doc: int) -> tuple[int, float]:
        """Which passage of `doc` matched `query` best, and its cosine."""
        sims = self.passages(doc) @ query
        best = int(np.argmax(sims))
        return best, float(sims[best])

    def centroid(self, doc: int) -> np.ndarray:
        """The normalised mean of a document's passage vectors (its topic, roughly)."""
        mean = self.passages(doc).mean(axis=0)
        norm = float(np.linalg.norm(mean))
        return mean / norm if norm else mean


def _tiled_base(groups: Sequence[np.ndarray], rows: int, dim: int) -> np.ndarray | None:
    """The float32 matrix `groups` are consecutive row slices of, from its first row (else None).

    Rows after the last group are spare capacity the index may append into.
    """
    if not groups:
        return None
    base = groups[0].base
    if not isinstance(base, np.ndarray) or base.dtype != np.float32 or base.ndim != 2 or base.shape[1] != dim:
        return None
    if not base.flags.c_contiguous or not base.flags.writeable or len(base) < rows:
        return None
    address = base.__array_interface__["data"][0]
    stride = base.strides[0]
    for group in groups:
        if group.base is not base or group.__array_interface__["data"][0] != address:
            return None
        address += len(group) * stride
    return base
