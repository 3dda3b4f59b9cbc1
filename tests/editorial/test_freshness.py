"""Freshness and superseded fact checks: which of close candidates shows, and who takes over, as pure functions."""

from __future__ import annotations

import datetime as dt

from recommender.editorial.freshness import follow_superseded, fresher, prefer_recent, successor
from recommender.domain import LinkRow


def link(article: str, score: float, rank: int = 0) -> LinkRow:
    return LinkRow("q", rank, article, score, score, 0.0, 2)


def test_the_more_recent_of_two_close_candidates_ranks_first() -> None:
    dates = {"old": dt.date(2020, 1, 1), "new": dt.date(2025, 1, 1), "mid": dt.date(2023, 1, 1), "undated": None}
    ranked = [link("old", 0.70), link("new", 0.69), link("mid", 0.60)]
    assert [x.article_id for x in prefer_recent(ranked, dates, 0.02)] == ["new", "old", "mid"]
    assert [x.article_id for x in prefer_recent(ranked, dates, 0.0)] == ["old", "new", "mid"]  # margin 0: off
    far = [link("old", 0.70), link("new", 0.60)]
    assert [x.article_id for x in prefer_recent(far, dates, 0.02)] == ["old", "new"]
    unknown = [link("undated", 0.70), link("new", 0.69)]
    assert [x.article_id for x in prefer_recent(unknown, dates, 0.02)] == ["undated", "new"]
    # Only the newest close call moves up; everything after it stays in score order.
    dates |= {"a": dt.date(2021, 1, 1), "b": dt.date(2022, 1, 1)}
    chain = [link("old", 0.340), link("b", 0.324), link("a", 0.323), link("mid", 0.10)]
    moved = prefer_recent(chain, dates, 0.02)
    assert [x.article_id for x in moved] == ["b", "old", "a", "mid"]
    assert [x.score for x in moved[1:]] == sorted((x.score for x in moved[1:]), reverse=True)
    assert fresher(moved) and not fresher(chain)


def test_superseded_fact_checks_hand_over_to_the_newest() -> None:
    superseded = {"a": "b", "b": "c", "x": "y", "y": "x"}
    assert successor("a", superseded) == "c"
    assert successor("x", superseded) in ("x", "y")  # a cycle stops
    ranked = [link("a", 0.8, 0), link("d", 0.7, 1), link("c", 0.6, 2)]
    out = follow_superseded(ranked, superseded, own_article="q-article")
    assert [(x.article_id, x.score, x.passage) for x in out] == [("c", 0.8, -1), ("d", 0.7, 2)]
    assert [x.article_id for x in follow_superseded(ranked, {"d": "q-article"}, "q-article")] == ["a", "c"]
