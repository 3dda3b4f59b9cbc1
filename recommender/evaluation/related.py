"""Precision of the related questions the widget shows, against a hand-labelled key.

The key (data/sample/eval/related.tsv) judges (article, question) pairs: would a reader of the
article find the question on its subject? Questions are matched by their wording key (case,
punctuation and spacing ignored, as editors' decisions are), so the key survives re-ingest and
renumbering. What is measured is exactly what `ReadingService.dive_deeper` returns.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from recommender.articles.model import normalize_question

Label = Literal["on-topic", "loose", "off-topic"]
LABELS: tuple[Label, ...] = ("on-topic", "loose", "off-topic")


class RelatedKeyError(ValueError):
    """A malformed line in a related-questions key: names the file and the line."""


def read_related_key(path: Path) -> dict[tuple[str, str], Label]:
    """(article id, question wording key) -> label, from a TSV with a header row; '#' lines are comments."""
    key: dict[tuple[str, str], Label] = {}
    with path.open(encoding="utf-8") as handle:
        numbered = [(n, line) for n, line in enumerate(handle, start=1) if line.strip() and not line.startswith("#")]
    for n, row in [(n, next(csv.reader([line], delimiter="\t"))) for n, line in numbered[1:]]:
        if len(row) != 3 or row[2] not in LABELS:
            raise RelatedKeyError(f"{path}:{n}: expected article_id<TAB>question<TAB>{'|'.join(LABELS)}")
        pair = (row[0], normalize_question(row[1]))
        if key.get(pair, row[2]) != row[2]:
            raise RelatedKeyError(f"{path}:{n}: ({row[0]}, {row[1]!r}) already judged {key[pair]}, now {row[2]}")
        key[pair] = row[2]  # type: ignore[assignment]
    return key


@dataclass(frozen=True)
class Shown:
    """One related question under one article."""

    article_id: str
    question: str
    label: Label | None  # None: the key does not judge this pair


@dataclass(frozen=True)
class RelatedQuality:
    shown: int
    on_topic: int
    loose: int
    off_topic: int
    unjudged: tuple[Shown, ...] = field(default=())
    articles: int = 0  # articles judged
    articles_with_related: int = 0

    def share(self, count: int) -> float:
        return count / self.shown if self.shown else 0.0

    @property
    def on_topic_share(self) -> float:
        return self.share(self.on_topic)

    @property
    def loose_share(self) -> float:
        return self.share(self.loose)

    @property
    def off_topic_share(self) -> float:
        return self.share(self.off_topic)


def judge(shown: Iterable[tuple[str, str]], key: Mapping[tuple[str, str], Label]) -> list[Shown]:
    """Label each shown (article id, question text) pair from the key."""
    return [Shown(a, q, key.get((a, normalize_question(q)))) for a, q in shown]


def related_quality(judged: Sequence[Shown], articles: int) -> RelatedQuality:
    labels = [s.label for s in judged]
    return RelatedQuality(
        shown=len(judged),
        on_topic=labels.count("on-topic"),
        loose=labels.count("loose"),
        off_topic=labels.count("off-topic"),
        unjudged=tuple(s for s in judged if s.label is None),
        articles=articles,
        articles_with_related=len({s.article_id for s in judged}),
    )


class _DiveDeeper(Protocol):
    related: Sequence  # of recommender.linking.related.Item


class _Reading(Protocol):
    def dive_deeper(self, article_id: str) -> _DiveDeeper | None: ...


def shown_related(reading: _Reading, article_ids: Iterable[str]) -> list[tuple[str, str]]:
    """(article id, question text) of every related question the widget shows for these articles."""
    out = []
    for article_id in article_ids:
        result = reading.dive_deeper(article_id)
        if result is not None:
            out.extend((article_id, item.question.text) for item in result.related)
    return out
