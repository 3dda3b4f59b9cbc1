import math

import pytest

from recommender.evaluation.metrics import (
    aggregate,
    f1,
    average_precision_at_k,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
)

RANKING = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]


def test_ap_single_relevant_at_rank_two():
    assert average_precision_at_k(RANKING[:5], {"b"}, 5) == pytest.approx(0.5)


def test_ap_two_relevant_at_ranks_one_and_three():
    assert average_precision_at_k(RANKING, {"a", "c"}, 5) == pytest.approx((1 + 2 / 3) / 2)


def test_ap_nothing_relevant_retrieved():
    assert average_precision_at_k(RANKING, {"z"}, 5) == 0.0
    assert average_precision_at_k([], {"a"}, 5) == 0.0
    assert average_precision_at_k(RANKING, set(), 5) == 0.0


def test_ap_ignores_relevant_below_k():
    assert average_precision_at_k(RANKING, {"f"}, 5) == 0.0


def test_ap_denominator_is_min_of_relevant_and_k():
    # 7 relevant, ranks 1, 2 and 4 in the top 5: (1 + 1 + 3/4) / min(7, 5)
    relevant = {"a", "b", "d", "x1", "x2", "x3", "x4"}
    assert average_precision_at_k(RANKING, relevant, 5) == pytest.approx((1 + 1 + 3 / 4) / 5)
    # all five ranks relevant -> a perfect 1.0 although two relevant documents are missing
    assert average_precision_at_k(RANKING, set(RANKING[:5]) | {"x1", "x2"}, 5) == pytest.approx(1.0)


def test_grade_zero_is_not_relevant_and_duplicates_count_once():
    assert average_precision_at_k(RANKING, {"a": 0, "b": 1}, 5) == pytest.approx(0.5)
    assert average_precision_at_k(["b", "b", "c"], {"b", "c"}, 5) == pytest.approx((1 + 2 / 3) / 2)


def test_reciprocal_rank():
    assert reciprocal_rank(RANKING, {"c", "e"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(RANKING, {"j"}) == pytest.approx(0.1)
    assert reciprocal_rank(RANKING, {"z"}) == 0.0


def test_recall():
    relevant = {"a", "d", "z"}
    assert recall_at_k(RANKING, relevant, 1) == pytest.approx(1 / 3)
    assert recall_at_k(RANKING, relevant, 3) == pytest.approx(1 / 3)
    assert recall_at_k(RANKING, relevant, 5) == pytest.approx(2 / 3)
    assert recall_at_k(RANKING, set(), 5) == 0.0


def test_ndcg_binary():
    # one relevant at rank 3: 1/log2(4) over ideal 1/log2(2)
    assert ndcg_at_k(RANKING, {"c"}, 10) == pytest.approx(0.5)
    assert ndcg_at_k(RANKING, {"a"}, 10) == pytest.approx(1.0)
    assert ndcg_at_k(RANKING, {"z"}, 10) == 0.0


def test_ndcg_graded():
    qrels = {"b": 2, "c": 3, "z": 1, "n": 0}
    dcg = 2 / math.log2(3) + 3 / math.log2(4)
    ideal = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKING, qrels, 10) == pytest.approx(dcg / ideal)
    # the ideal is cut at k as well
    assert ndcg_at_k(["c", "b"], qrels, 2) == pytest.approx(1.0)


def test_k_must_be_positive():
    with pytest.raises(ValueError):
        average_precision_at_k(RANKING, {"a"}, 0)


def test_aggregate_averages_over_queries_with_relevant_documents():
    rankings = {"q1": ["a", "b"], "q2": ["b", "a"], "q3": ["a"], "q4": ["a"]}
    qrels = {
        "q1": {"a": 1},
        "q2": {"a": 1},
        "q3": {"a": 0},  # judged, nothing relevant: not averaged
        "q5": {"x": 1},  # never ranked: counts as 0
    }
    result = aggregate(rankings, qrels)
    assert result["queries"] == 3
    assert result["map@5"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert result["mrr"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert result["recall@1"] == pytest.approx(1 / 3)
    assert result["recall@5"] == pytest.approx(2 / 3)
    assert result["recall@10"] == pytest.approx(2 / 3)
    assert result["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3)) / 3)
    assert set(result) == {"map@5", "mrr", "recall@1", "recall@5", "recall@10", "ndcg@10", "queries"}


def test_aggregate_without_judged_queries():
    result = aggregate({"q": ["a"]}, {"q": {"a": 0}})
    assert result["queries"] == 0
    assert result["map@5"] == 0.0


def test_f1_is_the_harmonic_mean() -> None:
    assert f1(0.5, 1.0) == pytest.approx(2 / 3)
    assert f1(0.8, 0.8) == pytest.approx(0.8)
    assert f1(0.0, 0.0) == 0.0
