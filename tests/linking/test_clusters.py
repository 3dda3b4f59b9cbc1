"""Duplicate-question clusters and the choice of their threshold, as pure functions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recommender.linking.clusters import best_threshold, cluster_questions, pair_score, read_pairs, sweep


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
