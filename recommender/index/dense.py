"""Exact dense retrieval over passage vectors; a document scores as its best passage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from recommender.index.products import KERNEL_ROWS, as_int8, products
from recommender.index.rows import RowBuffer
from recommender.index.vectors import VectorRows
from recommender.store.vectors import Int8Rows


@dataclass(frozen=True)
class DenseIndex:
    """Passage vectors grouped by document: rows offsets[d]:offsets[d+1] belong to document d.

    Vectors are held as int8 codes (index/vectors.py) and scored block by block. `appended` adds
    documents after the last one, sharing the rows already there: a replaced document keeps its rows
    until the next full build, and the Ranker masks it.
    """

    vectors: VectorRows  # (passages, dim), quantised from L2-normalised float32
    offsets: np.ndarray  # (documents + 1,) int64
    _ends: RowBuffer | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_groups(cls, groups: Sequence[np.ndarray | Int8Rows], dim: int) -> DenseIndex:
        sizes = np.array([len(g) for g in groups], dtype=np.int64)
        if (sizes == 0).any():
            raise ValueError("every document needs at least one passage vector")
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        return cls.of(_joined(groups, int(offsets[-1]), dim), offsets)

    @classmethod
    def of(cls, vectors: VectorRows, offsets: np.ndarray) -> DenseIndex:
        """An index over rows already grouped (e.g. mapped from the index files)."""
        if len(offsets) == 0 or int(offsets[-1]) != len(vectors):
            raise ValueError(f"offsets end at {int(offsets[-1]) if len(offsets) else None}, rows are {len(vectors)}")
        ends = RowBuffer.of(np.asarray(offsets, dtype=np.int64))
        return cls(vectors, ends.view(len(offsets)), ends)

    @property
    def size(self) -> int:
        return len(self.offsets) - 1

    def appended(self, groups: Sequence[np.ndarray]) -> DenseIndex:
        """A new index with one more document per group; this one is unchanged."""
        if not groups:
            return self
        if any(len(g) == 0 for g in groups):
            raise ValueError("every document needs at least one passage vector")
        ends = self._ends if self._ends is not None else RowBuffer.of(self.offsets)
        count = int(self.offsets[-1])
        rows = self.vectors.appended(np.concatenate(groups).astype(np.float32))
        new_ends = count + np.cumsum([len(g) for g in groups]).astype(np.int64)
        ends = ends.extend(len(self.offsets), new_ends)
        return DenseIndex(rows, ends.view(len(self.offsets) + len(groups)), ends)

    def scores(self, queries: np.ndarray | Int8Rows) -> np.ndarray:
        """(queries, documents) best-passage cosine, over blocks of whole documents; products on the
        int8 codes (index/products.py), so a score is a function of the query and the passage alone."""
        columns = as_int8(queries)
        out = np.empty((len(columns), self.size), dtype=np.float32)
        if self.size == 0:
            return out
        # Document boundaries near every KERNEL_ROWS passages: a block never splits a document.
        cuts = np.unique(np.searchsorted(self.offsets, np.arange(0, int(self.offsets[-1]), KERNEL_ROWS), side="right") - 1)
        bounds = [*cuts.tolist(), self.size]
        for first, last in zip(bounds[:-1], bounds[1:]):
            if last <= first:
                continue
            start, stop = int(self.offsets[first]), int(self.offsets[last])
            sims = products(self.vectors.quantized(start, stop), columns)  # (passages, queries)
            out[:, first:last] = np.maximum.reduceat(sims, self.offsets[first:last] - start, axis=0).T
        return out

    def passages(self, doc: int) -> np.ndarray:
        return self.vectors.rows(int(self.offsets[doc]), int(self.offsets[doc + 1]))

    def passage_codes(self, doc: int) -> Int8Rows:
        """A document's passage vectors as the index holds them (codes and scales)."""
        return self.vectors.quantized(int(self.offsets[doc]), int(self.offsets[doc + 1]))

    def best_passage(self, query: np.ndarray, doc: int) -> tuple[int, float]:
        """Which passage of `doc` matched `query` best, and its cosine."""
        sims = products(self.passage_codes(doc), query)[:, 0]
        best = int(np.argmax(sims))
        return best, float(sims[best])

    def best_passages(self, query: np.ndarray | Int8Rows, docs: Sequence[int]) -> np.ndarray:
        """best_passage's passage for each of `docs`, from one product over all their passages (a
        product depends on its two vectors alone, so the answer is best_passage's, only cheaper)."""
        docs = np.asarray(docs, dtype=np.int64)
        if not len(docs):
            return np.zeros(0, dtype=np.int64)
        starts, stops = self.offsets[docs], self.offsets[docs + 1]
        counts = stops - starts
        firsts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rows = np.repeat(starts - firsts, counts) + np.arange(int(counts.sum()))
        sims = products(self.vectors.take_quantized(rows), as_int8(query))[:, 0]
        # First maximum within each document, as np.argmax takes it.
        best = np.maximum.reduceat(sims, firsts)
        hit = sims == np.repeat(best, counts)
        first_hit = np.minimum.reduceat(np.where(hit, np.arange(len(sims)), len(sims)), firsts)
        return first_hit - firsts

    def centroid(self, doc: int) -> np.ndarray:
        """The normalised mean of a document's passage vectors (its topic, roughly)."""
        mean = self.passages(doc).mean(axis=0)
        norm = float(np.linalg.norm(mean))
        return mean / norm if norm else mean


def _joined(groups: Sequence[np.ndarray | Int8Rows], rows: int, dim: int) -> VectorRows:
    """One VectorRows of every group in order: the store's matrix itself when the groups are its
    consecutive slices (the SQLite store reads all vectors into one), else a quantised copy."""
    if groups and all(isinstance(g, Int8Rows) for g in groups):
        parts = [g for g in groups if isinstance(g, Int8Rows)]
        codes = _tiled_base([g.codes for g in parts], rows)
        scales = _tiled_base([g.scales for g in parts], rows)
        if codes is not None and scales is not None:
            return VectorRows(Int8Rows(codes[:rows], scales[:rows]))
        return VectorRows(Int8Rows(np.concatenate([g.codes for g in parts]), np.concatenate([g.scales for g in parts])))
    if not groups:
        return VectorRows.empty(dim)
    dense = [g.dequantized() if isinstance(g, Int8Rows) else np.asarray(g, np.float32) for g in groups]
    return VectorRows.of(np.concatenate(dense), dim)


def _tiled_base(parts: Sequence[np.ndarray], rows: int) -> np.ndarray | None:
    """The array `parts` are consecutive row slices of, from its first row (else None)."""
    base = parts[0].base
    if not isinstance(base, np.ndarray) or base.dtype != parts[0].dtype or len(base) < rows:
        return None
    if not base.flags.c_contiguous:
        return None
    address = base.__array_interface__["data"][0]
    stride = base.strides[0]
    if address != parts[0].__array_interface__["data"][0]:
        return None
    for part in parts:
        if part.base is not base or part.__array_interface__["data"][0] != address:
            return None
        address += len(part) * stride
    return base
