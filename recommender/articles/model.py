"""Article records: what a fact check is, independent of the format it arrived in.

Every way an article comes in (text file, JSON Lines, PUT /v1/articles/{id}, `recommender import`)
builds an `Article`, so the rules below are the one definition of a valid article: what passes them
can be stored, read back, shown and exported. Reads from the store trust what was stored
(`Article.from_stored`), so a stricter rule later never makes a stored article unreadable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_ID_RE = re.compile(ID_PATTERN)

# The limits of an article, defined once: the parsers, the API and the CLI all enforce these.
MAX_TITLE_CHARS = 1000
MAX_SUMMARY_CHARS = 100_000
MAX_SECTIONS = 200
MAX_HEADING_CHARS = 1000
MAX_SECTION_CHARS = 200_000
MAX_QUESTIONS = 50
MAX_QUESTION_CHARS = 1000
MAX_URL_CHARS = 2000
MAX_TOPIC_CHARS = 200
URL_SCHEMES = ("http", "https")


class ArticleError(ValueError):
    """Input that is not a valid article; names the source and line when known."""

    def __init__(self, message: str, source: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.source = source
        self.line = line
        where = ""
        if source is not None:
            where = f"{source}:{line}: " if line is not None else f"{source}: "
        super().__init__(f"{where}{message}")

    @property
    def problems(self) -> list[ArticleError]:
        """Every problem this error stands for (one; several for `ArticleErrors`)."""
        return [self]


class ArticleErrors(ArticleError):
    """Several problems in one input (e.g. every bad line of a JSON Lines file)."""

    def __init__(self, errors: list[ArticleError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(first.message, first.source, first.line)
        self.args = ("\n".join(str(e) for e in errors),)

    def __str__(self) -> str:
        return self.args[0]

    @property
    def problems(self) -> list[ArticleError]:
        return list(self.errors)


def _error(kind: str, message: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, message, context or None)  # type: ignore[arg-type]


def _bad_characters(value: str, allowed: str) -> str | None:
    """A description of the first control character (or lone surrogate) not in `allowed`, else None."""
    for position, char in enumerate(value, start=1):
        if char in allowed:
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            name = "NUL" if char == "\x00" else f"U+{ord(char):04X}"
            return f"a control character ({name}) at character {position}"
        if category == "Cs":
            return f"an unpaired surrogate (U+{ord(char):04X}) at character {position}"
    return None


def one_line(value: str, max_chars: int, required: bool = True) -> str:
    """`value` stripped, checked for emptiness, length and control characters (tab allowed)."""
    value = value.strip()
    if required and not value:
        raise _error("empty", "empty (or only spaces)")
    if len(value) > max_chars:
        raise _error("too_long", f"{len(value)} characters, over the limit of {max_chars}")
    bad = _bad_characters(value, "\t")
    if bad:
        raise _error("control_character", f"contains {bad}")
    return value


def multi_line(value: str, max_chars: int) -> str:
    """`value` with CR/CRLF line ends made LF, checked for length and control characters (tab, LF allowed)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if len(value) > max_chars:
        raise _error("too_long", f"{len(value)} characters, over the limit of {max_chars}")
    bad = _bad_characters(value, "\t\n")
    if bad:
        raise _error("control_character", f"contains {bad}")
    return value


def check_url(value: str) -> str:
    """An absolute http(s) URL with a host: anything else (javascript:, data:, relative) is refused."""
    value = one_line(value, MAX_URL_CHARS)
    if any(char.isspace() for char in value):
        raise _error("url", "contains a space")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise _error("url", "not a valid URL: {reason}", reason=str(exc)) from None
    if parts.scheme.lower() not in URL_SCHEMES or not parts.netloc:
        raise _error("url", "must be an absolute http:// or https:// address, not {url}", url=repr(value[:100]))
    return value


def error_message(err: Mapping[str, Any]) -> str:
    """One error of a ValidationError as 'field: message' (list positions as in the input, from 0)."""
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])


def validation_message(exc: ValidationError) -> str:
    """Every problem of a ValidationError on one line: 'field: message; field: message'."""
    return "; ".join(dict.fromkeys(error_message(err) for err in exc.errors()))


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The limits are checked after stripping (validators below); the schema states them for clients.
    heading: str = Field(json_schema_extra={"minLength": 1, "maxLength": MAX_HEADING_CHARS})
    text: str = Field("", json_schema_extra={"maxLength": MAX_SECTION_CHARS})

    @field_validator("heading")
    @classmethod
    def _heading(cls, value: str) -> str:
        return one_line(value, MAX_HEADING_CHARS)

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        return multi_line(value, MAX_SECTION_CHARS)


class Article(BaseModel):
    """One fact check. `id` is stable: the file name without extension, or the CMS id.

    It needs a body: a summary or at least one section with text (a title alone is no fact check)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ID_PATTERN)
    title: str
    checked_on: dt.date | None = None
    summary: str = ""
    sections: list[Section] = Field(default_factory=list, max_length=MAX_SECTIONS)
    questions: list[str] = Field(default_factory=list, max_length=MAX_QUESTIONS)
    url: str | None = None
    topic: str | None = None

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        return one_line(value, MAX_TITLE_CHARS)

    @field_validator("summary")
    @classmethod
    def _summary(cls, value: str) -> str:
        return multi_line(value.strip(), MAX_SUMMARY_CHARS)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str | None) -> str | None:
        return None if value is None else one_line(value, MAX_TOPIC_CHARS, required=False)

    @field_validator("questions")
    @classmethod
    def _questions(cls, questions: list[str]) -> list[str]:
        """Each question: words, within the limit, one line; no question twice (the wording key that
        editors' decisions use: case, punctuation and spacing ignored). `n` in the error is 1-based."""
        cleaned: list[str] = []
        seen: dict[str, int] = {}
        for n, raw in enumerate(questions, start=1):
            question = raw.strip()
            if not question:
                raise _error("question_empty", "question {n} is empty", n=n)
            if len(question) > MAX_QUESTION_CHARS:
                raise _error(
                    "question_too_long",
                    "question {n} is {length} characters, over the limit of {limit}",
                    n=n, length=len(question), limit=MAX_QUESTION_CHARS,
                )
            bad = _bad_characters(question, "\t")
            if bad:
                raise _error("question_control_character", "question {n} contains {bad}", n=n, bad=bad)
            key = normalize_question(question)
            if not key:
                raise _error("question_no_words", "question {n} has no words", n=n)
            if key in seen:
                raise _error(
                    "question_duplicate",
                    "question {n} is the same as question {first} (case, punctuation and spacing ignored)",
                    n=n, first=seen[key],
                )
            seen[key] = n
            cleaned.append(question)
        return cleaned

    @field_validator("checked_on")
    @classmethod
    def _not_in_future(cls, value: dt.date | None) -> dt.date | None:
        # A day of slack for time zones: the CMS may publish "tomorrow" in UTC terms.
        if value is not None and value > dt.date.today() + dt.timedelta(days=1):
            raise _error("future_date", f"{value.isoformat()} is in the future")
        return value

    @model_validator(mode="after")
    def _has_body(self) -> Article:
        # A title alone is searchable but says nothing: it would be offered as the answer to
        # questions it cannot answer. A summary or one section with text is the least a fact check has.
        if not self.summary and not any(s.text.strip() for s in self.sections):
            raise _error("no_body", "the article has no body: it needs a summary or at least one section with text")
        return self

    @classmethod
    def from_stored(cls, **fields: Any) -> Article:
        """An article read back from the store, as it was stored (not validated again: it was on the way in)."""
        sections = [s if isinstance(s, Section) else Section.model_construct(**s) for s in fields.pop("sections", [])]
        defaults = {"checked_on": None, "summary": "", "questions": [], "url": None, "topic": None}
        return cls.model_construct(**{**defaults, **fields, "sections": sections})

    def content_hash(self) -> str:
        """Hash of everything that is stored; equal hashes mean re-ingesting changes nothing."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def question_records(self) -> list[Question]:
        return [
            Question(id=question_id(self.id, n), article_id=self.id, position=n, text=text)
            for n, text in enumerate(self.questions, start=1)
        ]

    def body_text(self) -> str:
        """The whole article as one text (for lexical indexing)."""
        parts = [self.title, self.summary]
        for section in self.sections:
            parts.extend([section.heading, section.text])
        return "\n".join(p for p in parts if p)


@dataclass(frozen=True)
class Question:
    """A dive-deeper question; its id is positional within its article."""

    id: str
    article_id: str
    position: int
    text: str

    @property
    def key(self) -> str:
        return normalize_question(self.text)


def question_id(article_id: str, position: int) -> str:
    return f"{article_id}-q{position}"


def is_valid_id(value: str) -> bool:
    return bool(_ID_RE.match(value))


def normalize_question(text: str) -> str:
    """Wording key that ignores case, punctuation and whitespace.

    Editor decisions are keyed on it, so a trivially reworded question keeps its decision.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    words = re.findall(r"\w+", folded)
    return " ".join(words)
