"""Keep the duplicate-question clusters current after a write without clustering every question again.

linking.clusters.cluster_questions joins questions whose cosine reaches the threshold or whose
wording key is equal, takes the connected components of that graph and splits each one by
agglomerative clustering. A write changes only the components its questions touch (as they are
now, and as they were through the questions it removed). Those are found by a breadth-first search
over the same graph from the changed questions (one matrix product of the frontier with every
question per step) and clustered again by cluster_questions, in the order a full run sees them;
every other cluster stays as stored. The result is the full run's, for the cost of a few matrix
products instead of one per pair of questions (seconds at 10k articles, minutes at 100k).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from recommender.index.products import products as code_products
from recommender.index.questions import QuestionChange, QuestionTable

# cluster_questions uses sklearn's cosine distance <= 1 - threshold + 1e-6; the same edge here.
_SLACK = 1e-6
_ANGLE_MARGIN = 1e-3  # radians: float32 rounding of the angles, with room to spare


@dataclass(frozen=True)
class Starts:
    """Where the search for touched components starts: the rows of the questions added, and the
    vectors (added ones' first, then the removed ones' as they were) and wording keys of all."""

    added: list[int]
    vectors: np.ndarray  # (starts, dim) float32
    keys: list[str]


def cluster_starts(table: QuestionTable, changes: Sequence[QuestionChange]) -> Starts:
    added = [r for c in changes for q in c.added if (r := table.row_of.get(q)) is not None]
    removed_vectors = [v for c in changes for _, _, v in c.removed]
    keys = [table.rows[r].key for r in added] + [k for c in changes for _, k, _ in c.removed]
    parts = ([table.vectors[added]] if added else []) + ([np.stack(removed_vectors).astype(np.float32)] if removed_vectors else [])
    vectors = np.concatenate(parts) if parts else np.zeros((0, table.vectors.dim), np.float32)
    return Starts(added, vectors, keys)


def touched_rows(
    table: QuestionTable, changes: Sequence[QuestionChange], threshold: float, products: np.ndarray | None = None
) -> list[int]:
    """Live rows of every component (cosine >= threshold or equal key) that the changes touch.

    Breadth-first from the changed questions (the starts). The first step multiplies every row by the
    starts and keeps each row's angle to its nearest start. An edge spans at most the angle of the
    threshold (for vectors of the norms present), so a row one step beyond a frontier lies within the
    frontier's largest angle from a start plus that edge angle (the triangle inequality on the sphere):
    later steps multiply only the rows within that bound, not every row again. The rows reached are
    exactly those of a product with every row. Products are on the int8 codes (index/products.py), as
    a full clustering makes them. `products`: that first product (table.vectors.products(
    cluster_starts(...).vectors)) when the caller already made it in a pass it shared.
    """
    floor = threshold - _SLACK
    start = cluster_starts(table, changes)
    added, starts, keys = start.added, start.vectors, start.keys
    if not len(starts):
        return []
    if products is None:
        products = table.vectors.products(starts)
    norms = table.vectors.norms()
    start_norms = np.linalg.norm(starts, axis=1)
    safe = np.maximum(norms[:, None] * start_norms[None, :], 1e-12)
    angle = np.arccos(np.clip((products / safe).max(axis=1), -1.0, 1.0))  # each row's angle to its nearest start
    biggest = max(float(norms.max(initial=0.0)), float(start_norms.max(initial=0.0)), 1e-6)
    # The widest angle an edge can span (a floor at or below 0 bounds nothing: every step multiplies every row).
    edge = float(np.arccos(np.clip(floor / biggest**2, -1.0, 1.0))) if floor > 0 else float(np.pi)
    seen: set[int] = set(added)
    hits = set(np.flatnonzero(table.alive & (products.max(axis=1) >= floor)).tolist())
    while True:
        for key in keys:
            hits.update(table.by_key.get(key, ()))
        frontier = sorted(hits - seen)
        if not frontier:
            break
        seen.update(frontier)
        keys = [table.rows[r].key for r in frontier]
        reach = float(angle[frontier].max()) + edge + _ANGLE_MARGIN
        vectors = table.vectors.take_quantized(frontier)
        candidates = np.flatnonzero(table.alive & (angle <= reach)) if reach < np.pi else None
        if candidates is None or len(candidates) > len(table) // 4:  # a long chain: the bound no longer saves
            hits = set(np.flatnonzero(table.alive & (table.vectors.products(vectors).max(axis=1) >= floor)).tolist())
            continue
        hits = set()
        if len(candidates):
            close = code_products(table.vectors.take_quantized(candidates), vectors).max(axis=1) >= floor
            hits = set(candidates[close].tolist())
    return [r for r in seen if table.alive[r]]


@dataclass(frozen=True)
class ClusterDiff:
    """New cluster ids of the touched questions (`assign`) and touched ones now in no cluster (`unassign`)."""

    assign: dict[str, str]
    unassign: set[str]

    def applied(self, stored: Mapping[str, str]) -> dict[str, str]:
        return {**{q: c for q, c in stored.items() if q not in self.unassign}, **self.assign}


def update_clusters(
    table: QuestionTable, changes: Sequence[QuestionChange], threshold: float, products: np.ndarray | None = None
) -> ClusterDiff:
    """How the stored clusters change with `changes` (they were current before them); `products` as
    for touched_rows."""
    from recommender.linking.clusters import cluster_questions

    rows = touched_rows(table, changes, threshold, products)
    ordered = sorted(rows, key=lambda r: (table.rows[r].article_id, table.rows[r].position))  # as a full run orders them
    assign = (
        cluster_questions(
            [table.rows[r].id for r in ordered], [table.rows[r].key for r in ordered], table.vectors[ordered], threshold
        )
        if ordered
        else {}
    )
    touched = {table.rows[r].id for r in rows} | {q for c in changes for q, _, _ in c.removed}
    return ClusterDiff(assign, touched - set(assign))
