"""Duplicate clusters, threshold choice, freshness and superseded fact checks, as pure functions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from recommender.learning.clusters import best_threshold, cluster_questions, pair_score, read_pairs, sweep
from recommender.learning.freshness import follow_superseded, fresher, prefer_recent, successor
from recommender.domain import LinkRow


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_close_questions_share_a_cluster_and_far_ones_do_not() -> None:
    vectors = np.stack([unit(1, 0, 0), unit(1, 0.1, 0), unit(0, 1, 0), unit(0, 0, 1)])
    found = cluster_questions(["a", "b", "c", "d"], ["ka", "kb", "kc", "kd"], vectors, threshold=0.9)
    assert found == {"a": "a", "b": "a"}


def test_identical_wording_always_shares_a_cluster() -> None:
    vectors = np.stack([unit(1, 0, 0), unit(0, 1, 0)])  # as if the vectors disagreed
    assert cluster_questions(["x-q1", "y-q2"], ["same", "same"], vectors, threshold=0.99) == {"x-q1": "x-q1", "y-q2": "x-q1"}


def test_a_chain_of_small_rewordings_does_not_glue_different_questions() -> None:
    # a~b and b~c at 0.9, but a and c far apart: average linkage keeps c out of a's cluster
    angles = [0.0, 0.45, 0.9]
    vectors = np.stack([unit(np.cos(t), np.sin(t), 0) for t in angles])
    found = cluster_questions(["a", "b", "c"], ["a", "b", "c"], vectors, threshold=0.89)
    assert len(found) == 2 and "c" not in found or found["a"] != found["c"]


def test_pair_scores_and_threshold_choice() -> None:
    score = pair_score({"a": "a", "b": "a", "c": "a"}, ["a", "b", "c", "d"], [("a", "b"), ("c", "d")], 0.8)
    assert score.precision == pytest.approx(1 / 3) and score.recall == 0.5 and score.clusters == 1
    vectors = np.stack([unit(1, 0, 0), unit(1, 0.2, 0), unit(1, 0.9, 0), unit(0, 0, 1)])
    pairs = [("a", "b", 1), ("a", "c", 0), ("b", "c", 0)]
    scores = sweep(["a", "b", "c", "d"], ["a", "b", "c", "d"], vectors, pairs, [0.5, 0.9, 0.999])
    best = best_threshold(scores)
    assert best.threshold == 0.9 and best.f1 == 1.0


def test_read_pairs_names_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text("# comment\nquestion_a\tquestion_b\tsame\na\tb\t1\nc\td\tyes\n")
    with pytest.raises(ValueError, match="data row 3"):
        read_pairs(path)


def test_the_sample_pairs_file_reads() -> None:
    pairs = read_pairs(Path(__file__).resolve().parents[2] / "data/sample/eval/duplicates.tsv")
    assert len(pairs) > 100 and {label for *_, label in pairs} == {0, 1}


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
