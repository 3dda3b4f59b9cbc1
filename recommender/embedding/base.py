"""The encoder seam: everything above it sees only this protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors.

    `model_id` names the model *and* its weights: vectors made by different encoders are never mixed.
    """

    model_id: str
    dim: int
    max_tokens: int

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int:
        """Word-piece tokens of `text`, without the special tokens the model adds."""
        ...


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms
