"""JSON Lines: one article object per line, with the same fields as `Article`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from recommender.articles.model import Article, ArticleError, ArticleErrors, validation_message


def json_line_error(exc: json.JSONDecodeError) -> str:
    """What is wrong with one line of JSON, where, and what was expected ('expecting ...' from the decoder);
    the caller names the file and line."""
    return f"invalid JSON at column {exc.colno}: {exc.msg.lower()}"


def parse_jsonl(text: str, source: str, max_bytes: int | None = None) -> list[Article]:
    """Every article of the file; raise ArticleErrors listing every bad line (nothing of the file is used then).

    `max_bytes` bounds one line (one article), as the size limit bounds one text file."""
    articles: list[Article] = []
    errors: list[ArticleError] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        if max_bytes is not None and (size := len(line.encode("utf-8", "surrogatepass"))) > max_bytes:
            errors.append(ArticleError(f"line is {size} bytes, over the limit of {max_bytes} per article", source, number))
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(ArticleError(json_line_error(exc), source, number))
            continue
        if not isinstance(record, dict):
            errors.append(ArticleError("expected a JSON object", source, number))
            continue
        try:
            articles.append(Article.model_validate(record))
        except ValidationError as exc:
            errors.append(ArticleError(validation_message(exc), source, number))
    if errors:
        raise ArticleErrors(errors)
    return articles


def write_jsonl(articles: Iterable[Article], path: Path) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for article in articles:
            out.write(article.model_dump_json(exclude_none=True) + "\n")
            count += 1
    return count
