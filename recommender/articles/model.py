"""Article records: what a fact check is, independent of the format it arrived in."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_ID_RE = re.compile(ID_PATTERN)


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


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    heading: str = Field(min_length=1, max_length=1000)
    text: str = Field(default="", max_length=200_000)


class Article(BaseModel):
    """One fact check. `id` is stable: the file name without extension, or the CMS id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1, max_length=1000)
    checked_on: dt.date | None = None
    summary: str = Field(default="", max_length=100_000)
    sections: list[Section] = Field(default_factory=list, max_length=200)
    questions: list[str] = Field(default_factory=list, max_length=50)
    url: str | None = Field(default=None, max_length=2000)
    topic: str | None = Field(default=None, max_length=200)

    @field_validator("title", "summary")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("questions")
    @classmethod
    def _questions_non_empty(cls, questions: list[str]) -> list[str]:
        cleaned = [q.strip() for q in questions]
        for n, question in enumerate(cleaned, start=1):
            if not question:
                raise ValueError(f"question {n} is empty")
            if len(question) > 1000:
                raise ValueError(f"question {n} is longer than 1000 characters")
        return cleaned

    @field_validator("checked_on")
    @classmethod
    def _not_in_future(cls, value: dt.date | None) -> dt.date | None:
        # A day of slack for time zones: the CMS may publish "tomorrow" in UTC terms.
        if value is not None and value > dt.date.today() + dt.timedelta(days=1):
            raise ValueError(f"checked_on {value.isoformat()} is in the future")
        return value

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
