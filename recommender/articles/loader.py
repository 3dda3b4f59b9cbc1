"""Read articles from files and folders; every input is parsed before anything is stored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from recommender.articles.jsonl import parse_jsonl
from recommender.articles.model import Article, ArticleError, is_valid_id
from recommender.articles.text_format import decode, parse_text

SUFFIXES = (".txt", ".jsonl")


@dataclass(frozen=True)
class Loaded:
    article: Article
    source: str


class LoadErrors(Exception):
    """All the problems found in a batch of inputs (nothing of the batch is stored)."""

    def __init__(self, errors: list[ArticleError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def patterns() -> str:
    return " and ".join(f"*{suffix}" for suffix in SUFFIXES)


def expand(paths: Sequence[Path]) -> list[Path]:
    """The article files named or under the folders named; a folder without any is an error (a typo or
    the wrong folder would otherwise report '0 added' and look like success)."""
    files: list[Path] = []
    errors: list[ArticleError] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
            if not found:
                errors.append(ArticleError(f"no article files found (looked for {patterns()}, in subfolders too)", str(path)))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            errors.append(ArticleError("no such file or folder", str(path)))
    if errors:
        raise LoadErrors(errors)
    return files


def load_file(path: Path, max_bytes: int) -> list[Loaded]:
    """The articles of one file. `max_bytes` bounds one article: a text file, or a line of JSON Lines
    (a CMS export holds thousands of articles in one .jsonl file)."""
    source = str(path)
    if path.suffix == ".jsonl":
        return [Loaded(a, source) for a in parse_jsonl(decode(path.read_bytes(), source), source, max_bytes)]
    size = path.stat().st_size
    if size > max_bytes:
        raise ArticleError(f"file is {size} bytes, over the limit of {max_bytes}", source)
    text = decode(path.read_bytes(), source)
    if not is_valid_id(path.stem):
        raise ArticleError(f"file name {path.stem!r} is not a valid article id (letters, digits, . _ -)", source)
    return [Loaded(parse_text(text, path.stem, source), source)]


def load_paths(paths: Sequence[Path], max_bytes: int = 1_000_000) -> list[Loaded]:
    """Parse every article under `paths`; raise LoadErrors listing every bad input."""
    errors: list[ArticleError] = []
    loaded: list[Loaded] = []
    seen: dict[str, str] = {}
    for path in expand(paths):
        try:
            items = load_file(path, max_bytes)
        except ArticleError as exc:
            errors.extend(exc.problems)  # a JSON Lines file reports every bad line
            continue
        except OSError as exc:
            errors.append(ArticleError(f"cannot read: {exc.strerror}", str(path)))
            continue
        for item in items:
            if item.article.id in seen:
                errors.append(ArticleError(f"duplicate article id {item.article.id!r} (also in {seen[item.article.id]})", item.source))
                continue
            seen[item.article.id] = item.source
            loaded.append(item)
    if errors:
        raise LoadErrors(errors)
    return loaded
