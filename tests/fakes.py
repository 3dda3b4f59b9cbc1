"""A deterministic, model-free encoder for fast unit tests (hashed bag of words)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np


class HashingEncoder:
    """Vectors from hashed word counts: similar wording gives similar vectors, like a (very) small model."""

    def __init__(self, dim: int = 256, model_id: str = "hashing-test@1", max_tokens: int = 64) -> None:
        self.model_id = model_id
        self.dim = dim
        self.max_tokens = max_tokens
        self.calls: list[int] = []  # batch sizes, so tests can see what was (re-)embedded

    def _words(self, text: str) -> list[str]:
        return re.findall(r"\w+", text.lower())

    def count_tokens(self, text: str) -> int:
        return len(self._words(text))

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in self._words(text):
                bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
                out[row, bucket % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms

    @property
    def encoded(self) -> int:
        return sum(self.calls)
