"""Search and filters of the editors' queue: pure functions over hand-made statuses (fast)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from recommender.domain import ArticleRow, Decision, LinkRow, QuestionRow
from recommender.editorial.decisions import Effective, effective
from recommender.editorial.filters import (
    FilterError,
    ReviewFilter,
    apply_filter,
    band_of,
    parse_filter,
    state_names,
)
from recommender.editorial.review import ReviewItem
from recommender.learning.calibration import Thresholds

CUTS = Thresholds(gap_score=0.4, live_score=0.6)
ALL = {"own-a", "own-b", "fc-measles", "fc-vote", "fc-other"}


@dataclass(frozen=True)
class FakeStatus:
    question: QuestionRow
    decision: Decision | None
    links: list[LinkRow]
    effective: Effective


def status(qid: str, article: str, text: str, scores: dict[str, float], decision: Decision | None = None) -> FakeStatus:
    links = [LinkRow(qid, rank, a, s, s, 0.0, 0) for rank, (a, s) in enumerate(scores.items())]
    return FakeStatus(
        QuestionRow(qid, article, 0, text, text.lower()),
        decision,
        links,
        effective(qid, decision, links, CUTS.gap_score, ALL, CUTS.live_score),
    )


def row(aid: str, title: str, topic: str | None = None, day: str | None = None) -> ArticleRow:
    return ArticleRow(aid, title, dt.date.fromisoformat(day) if day else None, None, topic, "h")


ARTICLES = {
    "own-a": row("own-a", "Vaccines and autism: what the studies say", "health", "2024-03-01"),
    "own-b": row("own-b", "Postal voting in the election", "politics", "2023-11-20"),
    "fc-measles": row("fc-measles", "Measles outbreaks after vaccine scares", "health", "2022-05-05"),
    "fc-vote": row("fc-vote", "Do dead people vote?", "politics", "2021-01-01"),
    "fc-other": row("fc-other", "Something else", None, None),
}
LIVE = status("own-a-q1", "own-a", "Does the MMR vaccine cause autism?", {"fc-measles": 0.8})
WAITING = status("own-a-q2", "own-a", "Why did measles come back?", {"fc-measles": 0.5})
GAP = status("own-b-q1", "own-b", "Who counts postal ballots?", {"fc-vote": 0.2})
REJECTED = status(
    "own-b-q2", "own-b", "Can the dead vote by post?", {"fc-vote": 0.9, "fc-other": 0.7},
    Decision("own-b", "k", rejected=("fc-vote",)),
)
HIDDEN = status("own-b-q3", "own-b", "Is voting safe?", {"fc-vote": 0.9}, Decision("own-b", "k", hidden=True))
ITEMS = [ReviewItem(s, []) for s in (LIVE, WAITING, GAP, REJECTED, HIDDEN)]


def ids(f: ReviewFilter) -> list[str]:
    return [i.status.question.id for i in apply_filter(ITEMS, f, ARTICLES, CUTS)]


def test_no_filter_keeps_everything_in_order() -> None:
    assert parse_filter().empty
    assert ids(parse_filter()) == ["own-a-q1", "own-a-q2", "own-b-q1", "own-b-q2", "own-b-q3"]


def test_text_search_covers_question_own_title_and_answer_title_without_case_or_accents() -> None:
    assert ids(parse_filter(q="MMR")) == ["own-a-q1"]  # question text
    assert ids(parse_filter(q="ballots")) == ["own-b-q1"]
    assert ids(parse_filter(q="studies")) == ["own-a-q1", "own-a-q2"]  # own article's title
    assert ids(parse_filter(q="OUTBREAKS")) == ["own-a-q1", "own-a-q2"]  # the answer's (or best suggestion's) title
    assert ids(parse_filter(q="something")) == ["own-b-q2"]  # the answer after the rejection; not a runner-up
    assert ids(parse_filter(q="mmr autism")) == ["own-a-q1"]  # every word must occur
    assert ids(parse_filter(q="mmr ballots")) == []
    assert ids(parse_filter(q="vacciné")) == ["own-a-q1", "own-a-q2"]


def test_states_as_editors_name_them() -> None:
    assert state_names(LIVE) == {"unreviewed", "live"}
    assert state_names(WAITING) == {"unreviewed", "waiting"}
    assert state_names(GAP) == {"gap"}
    assert state_names(REJECTED) == {"unreviewed", "live", "rejected"}  # the next candidate went live
    assert state_names(HIDDEN) == {"hidden"}
    assert ids(parse_filter(state="waiting")) == ["own-a-q2"]
    assert ids(parse_filter(state="gap,hidden")) == ["own-b-q1", "own-b-q3"]
    assert ids(parse_filter(state="rejected")) == ["own-b-q2"]


def test_topic_and_checked_on_range_read_the_questions_own_article() -> None:
    assert ids(parse_filter(topic="Health")) == ["own-a-q1", "own-a-q2"]
    assert ids(parse_filter(checked_from="2024-01-01")) == ["own-a-q1", "own-a-q2"]
    assert ids(parse_filter(checked_to="2023-11-20")) == ["own-b-q1", "own-b-q2", "own-b-q3"]
    assert ids(parse_filter(checked_from="2023-11-21", checked_to="2024-02-29")) == []
    assert ids(parse_filter(topic="politics", q="ballots")) == ["own-b-q1"]
    assert ids(parse_filter(topic="health", q="ballots")) == []


def test_confidence_bands_cut_at_the_gap_and_live_thresholds() -> None:
    assert [band_of(s, CUTS) for s in (LIVE, WAITING, GAP)] == ["high", "medium", "low"]
    assert band_of(REJECTED, CUTS) == "high"  # 0.7 left after the rejection of the 0.9
    assert ids(parse_filter(confidence="medium")) == ["own-a-q2"]
    assert ids(parse_filter(confidence="low")) == ["own-b-q1"]


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"state": "live,approvedd"}, "state"),
        ({"checked_from": "2024-13-01"}, "from"),
        ({"checked_to": "yesterday"}, "to"),
        ({"checked_to": ""}, "to"),
        ({"confidence": "0.5"}, "confidence"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_bad_values_name_the_parameter(kwargs: dict[str, str], parameter: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(**kwargs)
    assert caught.value.parameter == parameter and str(caught.value).startswith(f"{parameter}: ")
