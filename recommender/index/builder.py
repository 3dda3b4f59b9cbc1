"""Build a Ranker from documents: split, embed (with an optional cache), index."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from recommender.articles.model import Article, ArticleError
from recommender.articles.text_format import parse_text
from recommender.embedding.base import Encoder
from recommender.embedding.cache import EmbeddingCache, encode_cached
from recommender.embedding.passages import article_passages, document_passages
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
    """A benchmark record ({"id","title","text"}) as a Document, split like an article.

    A record whose text is a page in the site's own format (a "Checked on" line, an executive summary,
    numbered sections) is read by the service's article parser, so it gets exactly the passages the
    service gives that page when it is ingested (the date line and section numbers are not passages)."""
    full = "\n".join(p for p in (title, text) if p)
    if encoder is None:
        return Document(doc_id, title, full, (full,))
    page = site_page(doc_id, title, text)
    if page is not None:
        passages = article_passages(page, encoder.count_tokens, encoder.max_tokens)
        return Document(doc_id, title, full, tuple(passages) or (full or doc_id,))
    # Blank lines separate blocks (the sample corpus writes one section per block).
    blocks = [("", block) for block in text.split("\n\n") if block.strip()]
    passages = document_passages(title, blocks, encoder.count_tokens, encoder.max_tokens)
    return Document(doc_id, title, full, tuple(passages) or (full or doc_id,))


_SITE_PAGE = re.compile(r"^\s*(?:checked\s+on\b|executive\s+summary\b|1\.\s*summary\s+of\s+the\s+results)", re.I | re.M)


def site_page(doc_id: str, title: str, text: str) -> Article | None:
    """The record as an Article when its text opens like a page of the site (see articles.text_format)."""
    head = "\n".join(text.strip().split("\n")[:3])
    if not _SITE_PAGE.search(head):
        return None
    try:
        article = parse_text(f"Fact check: {title.strip() or doc_id}\n{text}", doc_id)
    except ArticleError:
        return None
    return article.model_copy(update={"title": title.strip()})  # no title: the placeholder is not a passage


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
    lexical = LexicalIndex([d.text for d in docs], config.average_length, proximity=config.proximity) if config.method != "dense" else None
    return Ranker([d.id for d in docs], encoder, config, dense=dense, lexical=lexical)
