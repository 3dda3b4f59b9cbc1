"""Build a Ranker from documents: split, embed (with an optional cache), index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from recommender.embedding.base import Encoder
from recommender.embedding.cache import EmbeddingCache, encode_cached
from recommender.embedding.passages import document_passages
from recommender.index.dense import DenseIndex
from recommender.index.lexical import LexicalIndex
from recommender.index.ranker import Ranker, RankerConfig


@dataclass(frozen=True)
class Document:
    """A rankable fact check: `passages` are embedded, `text` is indexed lexically."""

    id: str
    title: str
    text: str
    passages: tuple[str, ...]


def benchmark_document(doc_id: str, title: str, text: str, encoder: Encoder | None) -> Document:
    """A benchmark record ({"id","title","text"}) as a Document, split like an article."""
    full = "\n".join(p for p in (title, text) if p)
    if encoder is None:
        return Document(doc_id, title, full, (full,))
    # Blank lines separate blocks (the sample corpus writes one section per block).
    blocks = [("", block) for block in text.split("\n\n") if block.strip()]
    passages = document_passages(title, blocks, encoder.count_tokens, encoder.max_tokens)
    return Document(doc_id, title, full, tuple(passages) or (full or doc_id,))


def build_ranker(
    docs: Sequence[Document],
    encoder: Encoder | None,
    config: RankerConfig,
    cache: EmbeddingCache | None = None,
    progress: bool = False,
) -> Ranker:
    dense = None
    if config.method != "lexical":
        if encoder is None:
            raise ValueError(f"method {config.method!r} needs an encoder")
        flat = [p for d in docs for p in d.passages]
        vectors = encode_cached(encoder, flat, cache, progress=progress, label="embedding passages")
        groups: list[np.ndarray] = []
        start = 0
        for d in docs:
            groups.append(vectors[start : start + len(d.passages)])
            start += len(d.passages)
        dense = DenseIndex.from_groups(groups, encoder.dim)
    lexical = LexicalIndex([d.text for d in docs], config.average_length) if config.method != "dense" else None
    return Ranker([d.id for d in docs], encoder, config, dense=dense, lexical=lexical)
