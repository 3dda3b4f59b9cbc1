"""Query cleaning: strip what social-media text carries that no fact check contains.

Tweets arrive as "text https://t.co/x pic.twitter.com/y — Name (@handle) Month D, YYYY".
Links, picture ids and the date only add noise to both BM25 and the encoder; the author's
name is kept, since many fact checks are about who said something. A reader's plain question
passes through unchanged.
"""

from __future__ import annotations

import re

_URL = re.compile(r"(?:https?://|www\.)\S+|pic\.twitter\.com/\S+|\b\w+\.\w{2,3}/\S+", re.IGNORECASE)
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_TRAILER = re.compile(
    rf"\s*[—–-]+\s*(?P<name>[^—–\n]{{0,80}}?)\s*\(@\w+\)\s*(?:(?:{_MONTHS})\s+\d{{1,2}},\s+\d{{4}})?\s*$"
)
_HANDLE = re.compile(r"(?<!\w)@(\w+)")
_HASHTAG = re.compile(r"(?<!\w)#(\w+)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPACES = re.compile(r"\s+")


def _split_tag(match: re.Match[str]) -> str:
    return _CAMEL.sub(" ", match.group(1).replace("_", " "))


def clean_query(text: str) -> str:
    """Tweet-shaped text to the claim it makes; anything else comes back with spaces folded."""
    cleaned = _TRAILER.sub(lambda m: f" {m.group('name')}", text)
    cleaned = _URL.sub(" ", cleaned)
    cleaned = _HASHTAG.sub(_split_tag, cleaned)
    cleaned = _HANDLE.sub(_split_tag, cleaned)
    cleaned = _SPACES.sub(" ", cleaned).strip()
    return cleaned or text.strip()


def is_post(text: str) -> bool:
    """Social-media text: a tweet's trailer, a link or picture id, an @handle or a #hashtag. A post's
    word order is a slogan's rather than a question's, so it gets no term-pair evidence
    (index/proximity.py); a reader's question or a headline does."""
    if "@" not in text and "#" not in text and "/" not in text and "www." not in text.lower():
        return False  # none of the patterns can match (checked for every question at every open)
    return bool(_TRAILER.search(text) or _URL.search(text) or _HANDLE.search(text) or _HASHTAG.search(text))
