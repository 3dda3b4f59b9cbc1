"""Limits on free-text queries, defined once for the API's search and the CLI's `suggest`."""

from __future__ import annotations

from recommender.config import Settings


class QueryError(ValueError):
    """A query or k the service refuses; the message is what the caller is told."""


def check_query(text: str, k: int, settings: Settings) -> str:
    """The query stripped, if it and `k` are within the limits; else QueryError naming the problem.

    The length counts the text as sent (what the OpenAPI schema's maxLength says), not stripped."""
    if not text.strip():
        raise QueryError("q must not be empty")
    if len(text) > settings.max_query_chars:
        raise QueryError(f"q is {len(text)} characters, over the limit of {settings.max_query_chars}")
    if not 1 <= k <= settings.max_search_k:
        raise QueryError(f"k must be between 1 and {settings.max_search_k}")
    return text.strip()
