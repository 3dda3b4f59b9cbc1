"""merged_links and rewritten_links: a changed article's hit merged into stored links, or None where only ranking again is exact."""

from __future__ import annotations

from recommender.domain import LinkRow
from recommender.index.base import Hit
from recommender.linking.linker import SCORE_TOLERANCE, merged_links, rewritten_links


def stored(*scored: tuple[str, float]) -> list[LinkRow]:
    return [LinkRow("q", rank, doc, score, score, 0.0, 0) for rank, (doc, score) in enumerate(scored)]


def test_a_hit_above_the_lowest_takes_its_place_by_score_and_pushes_the_last_out() -> None:
    rows = merged_links("q", stored(("a", 0.9), ("b", 0.7), ("c", 0.5)), [Hit("new", 0.8, 0.8, 0.1, 2)], 3)
    assert rows is not None
    assert [(r.article_id, r.rank) for r in rows] == [("a", 0), ("new", 1), ("b", 2)]
    assert rows[1] == LinkRow("q", 1, "new", 0.8, 0.8, 0.1, 2)


def test_a_hit_below_the_lowest_leaves_the_list_as_it_was() -> None:
    before = stored(("a", 0.9), ("b", 0.7))
    assert merged_links("q", before, [Hit("new", 0.3, 0.3, 0.0, 0)], 2) == before


def test_several_changed_articles_merge_together() -> None:
    rows = merged_links("q", stored(("a", 0.9), ("b", 0.7)), [Hit("x", 0.95, 0.9, 0.0, 0), Hit("y", 0.8, 0.8, 0.0, 1)], 2)
    assert rows is not None and [r.article_id for r in rows] == ["x", "a"]


def test_near_ties_incomplete_lists_and_stale_hits_fall_back_to_ranking_again() -> None:
    full = stored(("a", 0.9), ("b", 0.7))
    assert merged_links("q", full, [Hit("new", 0.7 + SCORE_TOLERANCE / 2, 0.7, 0.0, 0)], 2) is None  # order is the ranker's
    assert merged_links("q", stored(("a", 0.9)), [Hit("new", 0.8, 0.8, 0.0, 0)], 2) is None  # the next one is unknown
    assert merged_links("q", full, [Hit("b", 0.95, 0.9, 0.0, 0)], 2) is None  # b's stored score is its old version's


def test_a_rewritten_articles_new_hit_takes_its_place_while_it_stays_above_the_floor() -> None:
    before = stored(("a", 0.9), ("b", 0.7), ("c", 0.5))
    # b rewritten, now scores 0.8: above every article that was not stored (all <= 0.5), so it moves up.
    rows = rewritten_links("q", before, [Hit("b", 0.8, 0.8, 0.1, 2)], {"b"}, 3)
    assert rows is not None and [(r.article_id, r.rank, r.score) for r in rows] == [("a", 0, 0.9), ("b", 1, 0.8), ("c", 2, 0.5)]
    assert rows[1].passage == 2
    # The lowest one rewritten to a higher score stays; rewritten below the floor, an unstored article may pass it.
    assert [r.article_id for r in rewritten_links("q", before, [Hit("c", 0.6, 0.6, 0.0, 0)], {"c"}, 3) or []] == ["a", "b", "c"]
    assert rewritten_links("q", before, [Hit("b", 0.4, 0.4, 0.0, 0)], {"b"}, 3) is None
    assert rewritten_links("q", before, [], {"b"}, 3) is None  # no longer reaches the floor (or deleted)
    assert rewritten_links("q", before, [Hit("b", 0.5 + SCORE_TOLERANCE / 2, 0.5, 0.0, 0)], {"b"}, 3) is None  # a tie at the floor
    assert rewritten_links("q", before, [Hit("b", 0.9 - SCORE_TOLERANCE / 2, 0.9, 0.0, 0)], {"b"}, 3) is None  # a tie with another
    assert rewritten_links("q", before[:2], [Hit("b", 0.8, 0.8, 0.0, 0)], {"b"}, 3) is None  # incomplete: the next is unknown


def test_bounds_on_the_codes_are_above_every_float_product_and_close_to_it() -> None:
    """PostgreSQL's float32 passages are first scored against every question on int8 codes: the bound
    must never fall below the float product (else a question the article enters would be missed)."""
    import numpy as np

    from recommender.index.questions import QuestionTable
    from recommender.linking import linker

    rng = np.random.default_rng(5)
    questions = rng.normal(size=(3000, 384)).astype(np.float32)
    questions[::7, 3] *= 40  # outlier components: coarse codes for those rows
    questions /= np.linalg.norm(questions, axis=1, keepdims=True)
    passages = rng.normal(size=(9, 384)).astype(np.float32)
    passages[0] = questions[11]  # a passage equal to a question: the highest product there is
    passages[1, 5] *= 60
    passages /= np.linalg.norm(passages, axis=1, keepdims=True)
    table = QuestionTable.build([], np.zeros((0, 384), np.float32), [], 384)
    table = table.updated([], [_question(n) for n in range(len(questions))], questions, [[] for _ in questions])
    exact = table.vectors @ passages.T
    bounds = linker._bounds(table, [passages[:4], passages[4:]])
    assert (bounds >= exact).all()
    assert float((bounds - exact).max()) < 0.05  # tight enough that few rows need their exact score
    rows = np.array([11, 0, 2999, 7])
    assert np.allclose(linker.exact_dense(table, rows, passages), exact[rows].max(axis=1), atol=1e-6)


def _question(n: int):  # type: ignore[no-untyped-def]
    from recommender.domain import QuestionRow

    return QuestionRow(f"q{n}", f"a{n}", 0, f"question {n}", f"question {n}")
