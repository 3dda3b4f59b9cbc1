"""Exact dense retrieval over passage vectors; a document scores as its best passage."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DenseIndex:
    """Passage vectors grouped by document: rows offsets[d]:offsets[d+1] belong to document d."""

    vectors: np.ndarray  # (passages, dim) float32, L2-normalised
    offsets: np.ndarray  # (documents + 1,) int64

    @classmethod
    def from_groups(cls, groups: list[np.ndarray], dim: int) -> DenseIndex:
        sizes = np.array([len(g) for g in groups], dtype=np.int64)
        if (sizes == 0).any():
            raise ValueError("every document needs at least one passage vector")
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        vectors = np.concatenate(groups).astype(np.float32) if groups else np.zeros((0, dim), np.float32)
        return cls(np.ascontiguousarray(vectors), offsets)

    @property
    def size(self) -> int:
        return len(self.offsets) - 1

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """(queries, documents) best-passage cosine."""
        if self.size == 0:
            return np.zeros((len(queries), 0), dtype=np.float32)
        sims = queries @ self.vectors.T
        return np.maximum.reduceat(sims, self.offsets[:-1], axis=1)

    def best_passage(self, query: np.ndarray, doc: int) -> tuple[int, float]:
        """Which passage of `doc` matched `query` best, and its cosine."""
        sims = self.vectors[self.offsets[doc] : self.offsets[doc + 1]] @ query
        best = int(np.argmax(sims))
        return best, float(sims[best])
