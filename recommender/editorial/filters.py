"""Search and filters for the editors' queue: parse the query parameters, then keep the matching items.

Pure functions over question statuses and article rows, so the route only parses and calls, and the
rules are tested without a server. Every filter narrows: an item must pass all of them.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from recommender.editorial.review import ReviewItem
from recommender.editorial.statuses import QuestionStatus
from recommender.domain import ArticleRow

# What an editor asks for, not the service's internal states (see `state_names`).
STATES: tuple[str, ...] = ("unreviewed", "waiting", "live", "gap", "hidden", "rejected")
# Bands of the best model score, cut at the thresholds the dashboard shows: low (a gap), medium
# (waits for review), high (goes live unreviewed). Without a calibrator medium is empty.
BANDS: tuple[str, ...] = ("low", "medium", "high")
Band = Literal["low", "medium", "high"]
MAX_QUERY = 200


class FilterError(ValueError):
    """A filter value that cannot apply; `parameter` names the query parameter at fault."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


class Cuts(Protocol):
    """recommender.learning.calibration.Thresholds"""

    gap_score: float
    live_score: float


@dataclass(frozen=True)
class ReviewFilter:
    words: tuple[str, ...] = ()  # every word must occur in the question, its article's or its answer's title
    states: frozenset[str] = frozenset()  # any of them (empty: every state)
    topic: str | None = None  # the question's own article's topic, case-insensitive
    checked_from: dt.date | None = None  # the question's own article checked on or after
    checked_to: dt.date | None = None  # ...and on or before
    band: Band | None = None

    @property
    def empty(self) -> bool:
        return self == ReviewFilter()


def fold(text: str) -> str:
    """Lower case without accents: "Vacuna" finds "vacúna"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# As the OpenAPI schema states them (format: date, and STATE_PATTERN): the server accepts exactly those.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_STATE = "(?:" + "|".join(STATES) + ")"
STATE_PATTERN = f"^ *(?:{_STATE} *)?(?:, *(?:{_STATE} *)?)*$"


def _date(parameter: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FilterError(parameter, f"{value!r} is not a date (YYYY-MM-DD)") from None


def parse_filter(
    q: str | None = None,
    state: str | None = None,
    topic: str | None = None,
    checked_from: str | None = None,
    checked_to: str | None = None,
    confidence: str | None = None,
) -> ReviewFilter:
    """The filter from raw query parameters (`state`: comma-separated); raises FilterError."""
    if q is not None and len(q) > MAX_QUERY:
        raise FilterError("q", f"at most {MAX_QUERY} characters, not {len(q)}")
    words = tuple(fold(q).split()) if q else ()
    states = frozenset(s.strip(" ") for s in (state or "").split(",") if s.strip(" "))
    unknown = sorted(states - set(STATES))
    if unknown:
        raise FilterError("state", f"unknown state {unknown[0]!r}; expected any of {', '.join(STATES)}")
    start, end = _date("from", checked_from), _date("to", checked_to)
    band = confidence  # (from after to simply matches nothing)
    if band is not None and band not in BANDS:
        raise FilterError("confidence", f"unknown band {band!r}; expected one of {', '.join(BANDS)}")
    return ReviewFilter(words, states, topic.strip() or None if topic else None, start, end, band)  # type: ignore[arg-type]


def state_names(status: QuestionStatus) -> set[str]:
    """The editor's names for a question's state (a question can be several: live and rejected)."""
    effective = status.effective
    names = set()
    if effective.state in ("suggested", "pending"):
        names.add("unreviewed")
    if effective.state == "pending":
        names.add("waiting")
    if effective.answer is not None:
        names.add("live")
    if effective.state in ("gap", "hidden"):
        names.add(effective.state)
    if status.decision is not None and status.decision.rejected:
        names.add("rejected")
    return names


def band_of(status: QuestionStatus, cuts: Cuts) -> Band | None:
    """The band of the model's best score left after rejections (None: no candidate at all)."""
    best = status.effective.model_best
    if best is None:
        return None
    if best.score < cuts.gap_score:
        return "low"
    return "medium" if best.score < cuts.live_score else "high"


def matches(f: ReviewFilter, status: QuestionStatus, articles: Mapping[str, ArticleRow], cuts: Cuts) -> bool:
    """Whether one question passes; `articles` holds its own article and its candidates' rows."""
    own = articles.get(status.question.article_id)
    if f.states and not (f.states & state_names(status)):
        return False
    if f.topic is not None and (own is None or own.topic is None or fold(own.topic) != fold(f.topic)):
        return False
    if f.checked_from or f.checked_to:
        day = own.checked_on if own else None
        if day is None or (f.checked_from and day < f.checked_from) or (f.checked_to and day > f.checked_to):
            return False
    if f.band is not None and band_of(status, cuts) != f.band:
        return False
    if f.words:
        # the fact check the widget shows (else the best suggestion): the runners-up would match too much
        first = status.effective.answer.link if status.effective.answer else status.effective.model_best
        answer = articles.get(first.article_id) if first else None
        haystack = fold(" ".join([status.question.text, own.title if own else "", answer.title if answer else ""]))
        if not all(word in haystack for word in f.words):
            return False
    return True


def article_ids(statuses: Sequence[QuestionStatus]) -> list[str]:
    """Every article a filter may read for these questions: their own and their answer (or best suggestion)."""
    ids = {s.question.article_id for s in statuses}
    for s in statuses:
        first = s.effective.answer.link if s.effective.answer else s.effective.model_best
        if first is not None:
            ids.add(first.article_id)
    return sorted(ids)


def apply_filter(
    items: Sequence[ReviewItem], f: ReviewFilter, articles: Mapping[str, ArticleRow], cuts: Cuts
) -> list[ReviewItem]:
    """The items that pass, in their order."""
    if f.empty:
        return list(items)
    return [item for item in items if matches(f, item.status, articles, cuts)]
