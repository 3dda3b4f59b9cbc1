"""On-disk embedding cache keyed by (model id, text hash): a rerun embeds only new texts."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from recommender.embedding.base import Encoder


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    def __init__(self, directory: Path, model_id: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        safe = re.sub(r"[^A-Za-z0-9._@-]", "_", model_id)
        self.path = directory / f"embeddings-{safe}.sqlite"
        self._db = sqlite3.connect(self.path)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for key, blob in self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
                [(k, np.asarray(v, np.float32).tobytes()) for k, v in items.items()],
            )

    def close(self) -> None:
        self._db.close()


def encode_cached(
    encoder: Encoder,
    texts: Sequence[str],
    cache: EmbeddingCache | None,
    batch_size: int = 256,
    progress: bool = False,
    label: str = "embedding",
) -> np.ndarray:
    """Encode `texts`, reusing cached vectors; new vectors are written back batch by batch.

    An adapted encoder (embedding.adapter) reuses its base encoder's cache: its vectors are the base's
    vectors mapped by the adapter, so refitting an adapter never re-runs the transformer."""
    base, adapter = getattr(encoder, "base", None), getattr(encoder, "adapter", None)
    if cache is not None and base is not None and adapter is not None:
        base_cache = EmbeddingCache(cache.directory, base.model_id)
        try:
            vectors = encode_cached(base, texts, base_cache, batch_size, progress, label)
        finally:
            base_cache.close()
        return adapter.apply(vectors) if len(texts) else np.zeros((0, encoder.dim), np.float32)
    keys = [text_key(t) for t in texts]
    known = cache.get_many(sorted(set(keys))) if cache else {}
    missing = sorted({k: t for k, t in zip(keys, texts) if k not in known}.items())
    if missing:
        bar = tqdm(total=len(missing), desc=label, unit="text", disable=not progress)
        for start in range(0, len(missing), batch_size):
            batch = missing[start : start + batch_size]
            vectors = encoder.encode([t for _, t in batch])
            fresh = {k: v for (k, _), v in zip(batch, vectors)}
            known.update(fresh)
            if cache:
                cache.put_many(fresh)
            bar.update(len(batch))
        bar.close()
    if not texts:
        return np.zeros((0, encoder.dim), np.float32)
    return np.stack([known[k] for k in keys]).astype(np.float32)
