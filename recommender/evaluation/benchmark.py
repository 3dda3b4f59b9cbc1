"""Read a benchmark: corpus.jsonl, queries .jsonl and TREC qrels (see docs on the benchmark format).

corpus:  {"id": str, "title": str (optional, may be empty), "text": str} per line
queries: {"id": str, "text": str, "exclude": [doc ids] (optional, never ranked for the query)}
qrels:   ``query_id 0 doc_id relevance`` whitespace separated; relevance > 0 is relevant,
         0 a judged non-relevant document.

Blank lines are skipped. Any malformed line raises BenchmarkFormatError naming file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recommender.articles.jsonl import json_line_error


class BenchmarkFormatError(ValueError):
    """A benchmark file does not follow the format; the message names the file and line."""

    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class CorpusRecord:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class QueryRecord:
    id: str
    text: str
    exclude: tuple[str, ...] = ()


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, stripped text) of each non-blank line."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as error:
                raise BenchmarkFormatError(path, number, f"not UTF-8 ({error.reason})") from None
            if line:
                yield number, line


def _objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in _lines(path):
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise BenchmarkFormatError(path, number, json_line_error(error)) from None
        if not isinstance(value, dict):
            raise BenchmarkFormatError(path, number, f"expected a JSON object, got {type(value).__name__}")
        yield number, value


def _identifier(path: Path, number: int, record: dict[str, Any], seen: set[str]) -> str:
    value = record.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise BenchmarkFormatError(path, number, f'"id" must be a non-empty string, got {value!r}')
    if value in seen:
        raise BenchmarkFormatError(path, number, f"duplicate id {value!r}")
    seen.add(value)
    return value


def _string(path: Path, number: int, record: dict[str, Any], field: str, default: str | None = None) -> str:
    value = record.get(field, default)
    if not isinstance(value, str):
        missing = "missing" if field not in record else f"must be a string, got {type(value).__name__}"
        raise BenchmarkFormatError(path, number, f'"{field}" {missing}')
    return value


def load_corpus(path: Path | str) -> list[CorpusRecord]:
    path = Path(path)
    seen: set[str] = set()
    records = []
    for number, record in _objects(path):
        doc_id = _identifier(path, number, record, seen)
        title = _string(path, number, record, "title", "")
        text = _string(path, number, record, "text")
        if not (title.strip() or text.strip()):
            raise BenchmarkFormatError(path, number, f"document {doc_id!r} has neither title nor text")
        records.append(CorpusRecord(doc_id, title, text))
    return records


def load_queries(path: Path | str) -> list[QueryRecord]:
    path = Path(path)
    seen: set[str] = set()
    records = []
    for number, record in _objects(path):
        query_id = _identifier(path, number, record, seen)
        text = _string(path, number, record, "text")
        exclude = record.get("exclude", [])
        if not isinstance(exclude, list) or not all(isinstance(d, str) for d in exclude):
            raise BenchmarkFormatError(path, number, '"exclude" must be a list of document id strings')
        records.append(QueryRecord(query_id, text, tuple(exclude)))
    return records


def load_qrels(path: Path | str) -> dict[str, dict[str, int]]:
    """query id -> {doc id: relevance}; a pair listed twice with different grades is an error."""
    path = Path(path)
    qrels: dict[str, dict[str, int]] = {}
    for number, line in _lines(path):
        fields = line.split()
        if len(fields) != 4:
            raise BenchmarkFormatError(
                path, number, f"expected 4 fields 'query_id 0 doc_id relevance', got {len(fields)}"
            )
        query_id, _, doc_id, grade_text = fields
        try:
            grade = int(grade_text)
        except ValueError:
            raise BenchmarkFormatError(path, number, f"relevance must be an integer, got {grade_text!r}") from None
        judged = qrels.setdefault(query_id, {})
        if judged.get(doc_id, grade) != grade:
            raise BenchmarkFormatError(
                path, number, f"({query_id}, {doc_id}) already judged {judged[doc_id]}, now {grade}"
            )
        judged[doc_id] = grade
    return qrels
