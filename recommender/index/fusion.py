"""How dense and lexical evidence combine into one score (pure functions).

Both parts are absolute (not normalised per query), so one threshold means the same thing for
every question: that is what makes gap detection possible.
"""

from __future__ import annotations

import numpy as np


def saturate(bm25: np.ndarray, half: float) -> np.ndarray:
    """Map BM25 scores to [0, 1): a score of `half` becomes 0.5."""
    bm25 = np.maximum(bm25, 0.0)
    return bm25 / (bm25 + half)


def combine(dense: np.ndarray, lexical: np.ndarray, dense_weight: float) -> np.ndarray:
    return dense_weight * dense + (1.0 - dense_weight) * lexical
