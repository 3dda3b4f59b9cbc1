"""Near-duplicate questions across the site, clustered on their vectors.

Questions are linked when their cosine reaches the threshold (a sparse graph built block by block,
so memory grows with the duplicates, not with the square of the questions); each connected group is then
split by average-linkage agglomerative clustering, so a chain of small rewordings cannot glue
two different questions together. Identical wordings (same key) always share a cluster.
Fitting uses scikit-learn (the `learn` extra); serving reads the stored clusters.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommender.evaluation.metrics import f1
from recommender.index.products import all_products, as_int8


def sklearn_available() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def cluster_questions(
    ids: Sequence[str], keys: Sequence[str], vectors: np.ndarray, threshold: float
) -> dict[str, str]:
    """Question id -> cluster id (the cluster's smallest question id), for clusters of two or more."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from sklearn.cluster import AgglomerativeClustering

    n = len(ids)
    if n < 2:
        return {}
    vectors = np.asarray(vectors, dtype=np.float32)
    radius = max(1.0 - threshold, 0.0)
    # The threshold graph in blocks (normalised vectors: cosine = dot product), with the numbers the
    # incremental update multiplies (index/products.py); a matrix product is ten times faster than a
    # generic radius search and needs one block of memory.
    codes = as_int8(vectors)
    rows_list, cols_list = [], []
    for first_row, first_column, block in all_products(codes, codes):
        r, c = np.nonzero(block >= threshold - 1e-6)
        rows_list.append(r + first_row)
        cols_list.append(c + first_column)
    by_key: dict[str, int] = {}
    for i, key in enumerate(keys):
        first = by_key.setdefault(key, i)
        if first != i:  # identical wording: always linked
            rows_list.append(np.array([i]))
            cols_list.append(np.array([first]))
    rows, cols = np.concatenate(rows_list), np.concatenate(cols_list)
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    labels = np.arange(n)  # singleton clusters by default
    for comp in np.unique(component):
        members = np.flatnonzero(component == comp)
        if len(members) < 2:
            continue
        if len(members) == 2:
            labels[members] = members[0]
            continue
        sub = vectors[members].copy()
        for i, m in enumerate(members):  # identical wordings: one vector, so they merge first
            sub[i] = vectors[by_key[keys[m]]]
        found = AgglomerativeClustering(
            n_clusters=None, metric="cosine", linkage="average", distance_threshold=radius + 1e-6
        ).fit(sub).labels_
        for label in np.unique(found):
            chosen = members[found == label]
            labels[chosen] = chosen[0]
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(int(label), []).append(i)
    out: dict[str, str] = {}
    for members in groups.values():
        if len(members) > 1:
            name = min(ids[i] for i in members)
            out.update({ids[i]: name for i in members})
    return out


# -- choosing the threshold on judged pairs ------------------------------------------------------
@dataclass(frozen=True)
class PairScore:
    threshold: float
    precision: float
    recall: float
    clusters: int

    @property
    def f1(self) -> float:
        return f1(self.precision, self.recall)


def read_pairs(path: Path) -> list[tuple[str, str, int]]:
    """(question a, question b, 1 if the same question else 0) from a TSV with a header row; '#' lines are comments."""
    with path.open() as handle:
        lines = [line for line in handle if line.strip() and not line.startswith("#")]
    out = []
    for n, row in enumerate(csv.reader(lines[1:], delimiter="\t"), start=2):
        if len(row) != 3 or row[2] not in ("0", "1"):
            raise ValueError(f"{path}: data row {n}: expected question_a<TAB>question_b<TAB>0|1")
        out.append((row[0], row[1], int(row[2])))
    return out


def pair_score(clusters: Mapping[str, str], ids: Iterable[str], same: Iterable[tuple[str, str]], threshold: float) -> PairScore:
    """Pairwise precision and recall of a clustering of `ids`: a pair is predicted the same when both
    share a cluster; `same` lists every pair that truly is (any other pair is different)."""
    truth = {frozenset(p) for p in same}
    members: dict[str, list[str]] = {}
    for question in ids:
        if question in clusters:
            members.setdefault(clusters[question], []).append(question)
    predicted = {frozenset((a, b)) for group in members.values() for i, a in enumerate(group) for b in group[i + 1 :]}
    hits = len(predicted & truth)
    return PairScore(
        threshold,
        hits / len(predicted) if predicted else 1.0,
        hits / len(truth) if truth else 1.0,
        len(members),
    )


def sweep(
    ids: Sequence[str],
    keys: Sequence[str],
    vectors: np.ndarray,
    pairs: Sequence[tuple[str, str, int]],
    thresholds: Sequence[float],
) -> list[PairScore]:
    same = [(a, b) for a, b, label in pairs if label]
    return [pair_score(cluster_questions(ids, keys, vectors, t), ids, same, t) for t in thresholds]


def best_threshold(scores: Sequence[PairScore], min_precision: float = 0.0) -> PairScore:
    """Best pairwise F1 among the thresholds whose precision reaches `min_precision` (the most precise one when
    none does); ties go to the higher threshold. Precision first: a merged pair is offered one decision, so a
    wrong merge puts a wrong answer in front of editors, while a missed one only costs a second review item."""
    eligible = [s for s in scores if s.precision >= min_precision]
    if not eligible:
        eligible = [max(scores, key=lambda s: (s.precision, s.threshold))]
    return max(eligible, key=lambda s: (round(s.f1, 6), s.threshold))
