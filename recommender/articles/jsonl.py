"""JSON Lines: one article object per line, with the same fields as `Article`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from recommender.articles.model import Article, ArticleError


def parse_jsonl(text: str, source: str) -> Iterator[Article]:
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ArticleError(f"invalid JSON: {exc.msg} (column {exc.colno})", source, number) from None
        if not isinstance(record, dict):
            raise ArticleError("expected a JSON object", source, number)
        try:
            yield Article.model_validate(record)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ArticleError(f"{where}: {err['msg']}" if where else err["msg"], source, number) from None


def write_jsonl(articles: Iterable[Article], path: Path) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for article in articles:
            out.write(article.model_dump_json(exclude_none=True) + "\n")
            count += 1
    return count
