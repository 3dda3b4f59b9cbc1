"""Split documents into passages the encoder can read whole.

all-MiniLM-L6-v2 silently truncates at 256 word pieces, so long summaries and sections are
cut at sentence boundaries into passages that fit; a document's score is then the best of its
passages (see index.dense).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from recommender.articles.model import Article

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[]?[A-Z0-9])")
TokenCounter = Callable[[str], int]


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def heading_lead(heading: str) -> str:
    """A heading as the start of a passage: 'What the IPCC said.' stays as it is (no '..'), 'Context' gets a full stop."""
    heading = heading.strip()
    if not heading:
        return ""
    return f"{heading} " if heading[-1] in ".!?:;…" else f"{heading}. "


def pack(text: str, prefix: str, count_tokens: TokenCounter, budget: int) -> list[str]:
    """Greedily pack sentences of `text` into passages of at most `budget` tokens, each led by `prefix`."""
    lead = heading_lead(prefix)
    room = budget - (count_tokens(lead) if lead else 0)
    if room < 16:  # a heading that eats the budget is not worth repeating
        lead, room = "", budget
    passages: list[str] = []
    current: list[str] = []
    used = 0
    for sentence in split_sentences(text):
        for piece, size in _fit(sentence, count_tokens, room):
            if current and used + size > room:
                passages.append(lead + " ".join(current))
                current, used = [], 0
            current.append(piece)
            used += size
    if current:
        passages.append(lead + " ".join(current))
    return passages


def _fit(sentence: str, count_tokens: TokenCounter, room: int) -> list[tuple[str, int]]:
    """The sentence and its size in tokens (counted once: tokenising is most of an ingest's packing);
    one longer than the budget is cut between words (rare: tables, run-on text)."""
    size = count_tokens(sentence)
    if size <= room:
        return [(sentence, size)]
    pieces: list[str] = []
    words = sentence.split()
    current: list[str] = []
    for word in words:
        if current and count_tokens(" ".join([*current, word])) > room:
            pieces.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        pieces.append(" ".join(current))
    return [(piece, count_tokens(piece)) for piece in pieces]


def document_passages(
    title: str, blocks: Sequence[tuple[str, str]], count_tokens: TokenCounter, max_tokens: int
) -> list[str]:
    """Title first, then each (heading, text) block packed under its heading."""
    budget = max_tokens - 2  # [CLS] and [SEP]
    passages = pack(title, "", count_tokens, budget) if title else []
    for heading, text in blocks:
        if text.strip():
            passages.extend(pack(text, heading, count_tokens, budget))
        elif heading.strip():
            passages.extend(pack(heading, "", count_tokens, budget))
    return passages


def article_passages(article: Article, count_tokens: TokenCounter, max_tokens: int) -> list[str]:
    blocks = [("", article.summary)] + [(s.heading, s.text) for s in article.sections]
    return document_passages(article.title, blocks, count_tokens, max_tokens)
