"""Parser for the site's plain-text fact checks.

The shape (see README): optional banner lines, ``Fact check: <question>``, ``Checked on
<Month D, YYYY>``, an ``Executive Summary`` paragraph (older articles: ``1. Summary of the
results``), numbered sections, and a closing ``Want to dive deeper?`` block with one question
per line. The parser is tolerant of what publishing does to text (CRLF, extra blank lines,
banners, a missing date or question block) and strict about what would corrupt the record.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from recommender.articles.model import Article, ArticleError, Section, error_message

_TITLE = re.compile(r"^\s*fact[\s-]*check\s*:\s*(?P<title>.*?)\s*$", re.IGNORECASE)
_CHECKED = re.compile(r"^\s*checked\s+on\b\s*:?\s*(?P<date>.*?)\s*$", re.IGNORECASE)
_EXEC_SUMMARY = re.compile(r"^\s*executive\s+summary\s*:?\s*$", re.IGNORECASE)
_OLD_SUMMARY = re.compile(r"^\s*summary\s+of\s+(the\s+)?results\s*\.?\s*$", re.IGNORECASE)
_NUMBERED = re.compile(r"^\s*(?P<n>\d{1,3})\s*[.)]\s+(?P<heading>\S.*?)\s*$")
_DIVE_DEEPER = re.compile(r"^\s*want\s+to\s+dive\s+deeper\s*\??\s*:?\s*$", re.IGNORECASE)
_DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y", "%d %B %Y", "%Y-%m-%d")


def decode(data: bytes, source: str) -> str:
    """Bytes to text with LF line endings; binary or non-UTF-8 input is an error naming the line."""
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise ArticleError("binary data (NUL byte); expected a UTF-8 text file", source, line)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ArticleError(f"not valid UTF-8 (byte {exc.start})", source, line) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_date(value: str) -> dt.date | None:
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", value.strip().rstrip("."))
    cleaned = re.sub(r"\s+", " ", cleaned).replace("Sept ", "Sep ").replace("Sept. ", "Sep ")
    cleaned = cleaned.replace(". ", " ")
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    return None


@dataclass
class _Block:
    heading: str
    line: int
    paragraphs: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        if text.strip():
            self.current.append(text.strip())
        else:
            self.flush()

    def flush(self) -> None:
        if self.current:
            self.paragraphs.append(" ".join(self.current))
            self.current = []

    def text(self) -> str:
        self.flush()
        return "\n\n".join(self.paragraphs)


def parse_text(text: str, article_id: str, source: str | None = None) -> Article:
    """Parse one article in the site's plain-text format."""
    source = source or article_id
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")

    title_at = next((i for i, line in enumerate(lines) if _TITLE.match(line)), None)
    if title_at is None:
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        if first is None:
            raise ArticleError("empty file", source, 1)
        raise ArticleError("no 'Fact check: <question>' line found", source, first + 1)
    title = _TITLE.match(lines[title_at]).group("title")  # type: ignore[union-attr]
    if not title:
        raise ArticleError("'Fact check:' line has no question or claim", source, title_at + 1)

    checked_on: dt.date | None = None
    checked_line = title_at + 1
    summary = _Block("summary", title_at + 1)
    sections: list[_Block] = []
    questions: list[tuple[int, str]] = []
    in_questions = False
    expected = 1

    for index in range(title_at + 1, len(lines)):
        line, number = lines[index], index + 1
        if in_questions:
            if line.strip():
                questions.append((number, line.strip()))
            continue
        if _DIVE_DEEPER.match(line):
            in_questions = True
            continue
        checked = _CHECKED.match(line)
        if checked and checked_on is None and not sections and not summary.paragraphs:
            checked_on = parse_date(checked.group("date"))
            checked_line = number
            if checked_on is None:
                raise ArticleError(f"unreadable date {checked.group('date')!r} (expected e.g. 'October 4, 2025')", source, number)
            continue
        if _EXEC_SUMMARY.match(line) and not sections:
            continue
        numbered = _NUMBERED.match(line)
        if numbered and int(numbered.group("n")) == expected:
            heading = numbered.group("heading")
            expected += 1
            if expected == 2 and _OLD_SUMMARY.match(heading):
                continue  # older articles: "1. Summary of the results" is the summary
            sections.append(_Block(heading, number))
            continue
        if sections:
            sections[-1].add(line)
        else:
            summary.add(line)

    summary_text = summary.text()
    try:
        return Article(
            id=article_id,
            title=title,
            checked_on=checked_on,
            summary=summary_text,
            sections=[Section(heading=s.heading, text=s.text()) for s in sections],
            questions=[q for _, q in questions],
        )
    except ValidationError as exc:
        lines_of = _Lines(title_at + 1, checked_line, summary.line, [s.line for s in sections], [n for n, _ in questions])
        raise _located(exc, source, lines_of) from None


@dataclass(frozen=True)
class _Lines:
    """Where each part of the article is in the file (1-based line numbers)."""

    title: int
    checked_on: int
    summary: int
    sections: list[int]
    questions: list[int]


def _located(exc: ValidationError, source: str, lines: _Lines) -> ArticleError:
    """The article model's first complaint, at the line of the file it is about."""
    err = exc.errors()[0]
    loc, ctx = err["loc"], err.get("ctx") or {}
    field = loc[0] if loc else None
    if field == "questions" and "n" in ctx:
        line = lines.questions[ctx["n"] - 1]
        kind = err["type"]
        if kind == "question_duplicate":
            return ArticleError(f"duplicate question (same as line {lines.questions[ctx['first'] - 1]})", source, line)
        if kind == "question_no_words":
            return ArticleError("question has no words", source, line)
        return ArticleError(err["msg"].replace(f"question {ctx['n']} ", "question ", 1), source, line)
    if field == "sections" and len(loc) > 1 and isinstance(loc[1], int):
        return ArticleError(error_message(err), source, lines.sections[loc[1]])
    line = {"checked_on": lines.checked_on, "summary": lines.summary}.get(str(field), lines.title)
    return ArticleError(error_message(err), source, line)


def format_text(article: Article) -> str:
    """Render an article back into the site's plain-text format (round-trips through parse_text)."""
    out = [f"Fact check: {article.title}", ""]
    if article.checked_on:
        out += [f"Checked on {article.checked_on.strftime('%B')} {article.checked_on.day}, {article.checked_on.year}", ""]
    if article.summary:
        out += ["Executive Summary", "", article.summary, ""]
    for n, section in enumerate(article.sections, start=1):
        out += [f"{n}. {section.heading}", ""]
        if section.text:
            out += [section.text, ""]
    if article.questions:
        out += ["Want to dive deeper?", *article.questions]
    return "\n".join(out) + "\n"
