"""A linear adapter on an encoder's vectors: what a stronger model taught the served one, in 0.6 MB.

An adapter is a square float32 matrix A (dim x dim, stored as a .npy file, never a pickle) with a JSON
card beside it (same stem, .json). The adapted vector of a text is normalise(base_vector @ A): one small
matrix product per text, so search and ingest cost what the base encoder costs, and a text's vector
depends on the text only (never on the other texts of its batch).

The adapter was fitted on the vectors of one base encoder (`base_model_id` in the card): loading it on
top of other weights is refused, since the map would then be meaningless.

Adapted vectors are not the base encoder's: they carry their own model id (see `adapted_model_id`), so a
database built without the adapter, or with another one, is re-encoded rather than mixed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recommender.embedding.base import Encoder, normalize_rows

CARD_FORMAT = 1


class AdapterError(ValueError):
    """An adapter file is missing, malformed or was fitted on another encoder; the message names the file."""


@dataclass(frozen=True)
class Adapter:
    matrix: np.ndarray  # (dim, dim) float32
    fingerprint: str  # 12 hex digits of the matrix bytes' sha256
    card: dict[str, Any]
    path: Path

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def base_model_id(self) -> str:
        return str(self.card["base_model_id"])

    @classmethod
    def load(cls, path: Path) -> Adapter:
        path = Path(path)
        card_path = path.with_suffix(".json")
        try:
            matrix = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise AdapterError(f"{path}: no such adapter file") from None
        except ValueError as exc:
            raise AdapterError(f"{path}: not a .npy array ({exc})") from None
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
            raise AdapterError(f"{path}: expected a square matrix, got shape {matrix.shape}")
        if matrix.dtype != np.float32:
            raise AdapterError(f"{path}: expected float32, got {matrix.dtype}")
        if not np.isfinite(matrix).all():
            raise AdapterError(f"{path}: the matrix holds NaN or infinite values")
        try:
            card = json.loads(card_path.read_text())
        except FileNotFoundError:
            raise AdapterError(f"{card_path}: the adapter's card is missing") from None
        except ValueError as exc:
            raise AdapterError(f"{card_path}: not JSON ({exc})") from None
        if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
            raise AdapterError(f"{card_path}: expected a JSON object with \"format\": {CARD_FORMAT}")
        if not isinstance(card.get("base_model_id"), str) or "@" not in card["base_model_id"]:
            raise AdapterError(f'{card_path}: "base_model_id" must name the encoder it was fitted on (NAME@WEIGHTS)')
        matrix = np.ascontiguousarray(matrix)
        fingerprint = hashlib.sha256(matrix.tobytes()).hexdigest()[:12]
        return cls(matrix, fingerprint, card, path)

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"adapter {self.path.name} maps {self.dim}-dimensional vectors, got shape {vectors.shape}")
        return normalize_rows(vectors @ self.matrix)


def weights_of(model_id: str) -> str:
    """The WEIGHTS part of NAME@WEIGHTS[+VARIANT] (see embedding.versions)."""
    return model_id.rpartition("@")[2].partition("+")[0]


def adapted_model_id(name: str, base_model_id: str, adapter: Adapter) -> str:
    """NAME@WEIGHTS[+VARIANT] where WEIGHTS fingerprints the base weights and the adapter together and the
    base's backend variant is kept, so embedding.versions reads the id as it reads any other."""
    weights = hashlib.sha256(f"{weights_of(base_model_id)}:{adapter.fingerprint}".encode()).hexdigest()[:12]
    variant = base_model_id.rpartition("@")[2].partition("+")[2]
    return f"{name}@{weights}" + (f"+{variant}" if variant else "")


class AdaptedEncoder:
    """The Encoder protocol: the base encoder's vectors mapped by the adapter and re-normalised."""

    def __init__(self, base: Encoder, adapter: Adapter, name: str) -> None:
        if adapter.dim != base.dim:
            raise AdapterError(f"{adapter.path}: maps {adapter.dim} dimensions, the encoder {base.model_id} has {base.dim}")
        if weights_of(adapter.base_model_id) != weights_of(base.model_id):
            raise AdapterError(
                f"{adapter.path}: fitted on {adapter.base_model_id}, but the base encoder is {base.model_id}"
            )
        self.base = base
        self.adapter = adapter
        self.model_id = adapted_model_id(name, base.model_id, adapter)
        self.dim = base.dim
        self.max_tokens = base.max_tokens

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        return self.adapter.apply(self.base.encode(texts, batch_size=batch_size, progress=progress))

    def count_tokens(self, text: str) -> int:
        return self.base.count_tokens(text)
