"""Editors' decisions on top of the model: the pure functions of editorial/decisions.py, and tokens."""

from __future__ import annotations

from dataclasses import replace

import pytest

from recommender.editorial.auth import find_editor, hash_token, new_token
from recommender.domain import Editor, EditorRecord
from recommender.editorial.decisions import DecisionError, apply_action, changed_reasons, default_target, effective
from recommender.domain import Decision
from recommender.domain import LinkRow


def links(*pairs: tuple[str, float]) -> list[LinkRow]:
    return [LinkRow("q", rank, article, score, score, 0.0, 0) for rank, (article, score) in enumerate(pairs)]


MODEL = links(("a", 0.9), ("b", 0.7), ("c", 0.55), ("d", 0.3))
ALL = {"a", "b", "c", "d", "x", "own"}


def order(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.link.article_id for r in result.ranked]


def act(decision: Decision, action: str, target: str | None) -> Decision:
    return apply_action(decision, action, target, own_article="own", candidates={"a", "b", "c", "d"}, exists=ALL)


EMPTY = Decision("own", "key")


# -- effective ranking ------------------------------------------------------------------------------
def test_without_a_decision_the_model_decides() -> None:
    result = effective("q", None, MODEL, 0.5, ALL)
    assert result.state == "suggested" and order(result) == ["a", "b", "c", "d"]
    assert result.answer is not None and result.answer.link.article_id == "a" and not result.answer.confirmed
    low = effective("q", None, links(("a", 0.4)), 0.5, ALL)
    assert low.state == "gap" and low.answer is None and not low.marked_gap
    assert effective("q", None, [], 0.5, ALL).state == "gap"


def test_a_rejected_fact_check_gives_way_to_the_next_and_never_comes_back() -> None:
    decision = act(EMPTY, "reject", "a")
    result = effective("q", decision, MODEL, 0.5, ALL)
    assert result.answer.link.article_id == "b" and "a" not in order(result)
    # relinking computed new links that rank it first again: still out
    relinked = links(("a", 0.95), ("c", 0.8), ("b", 0.6))
    assert order(effective("q", decision, relinked, 0.5, ALL)) == ["c", "b"]


def test_rejecting_every_candidate_leaves_a_gap() -> None:
    decision = EMPTY
    for target in "abcd":
        decision = act(decision, "reject", target)
    result = effective("q", decision, MODEL, 0.5, ALL)
    assert result.state == "gap" and result.answer is None and result.ranked == []
    partly = effective("q", act(act(EMPTY, "reject", "a"), "reject", "b"), MODEL, 0.6, ALL)
    assert partly.state == "gap"  # what is left scores below the threshold


def test_a_pin_shows_first_whatever_the_model_says() -> None:
    decision = replace(act(EMPTY, "pin", "x"), target_score=0.12)
    result = effective("q", decision, MODEL, 0.5, ALL)
    assert result.state == "pinned" and order(result) == ["x", "a", "b", "c", "d"]
    assert result.answer.pinned and result.answer.link.rank == -1 and result.answer.link.score == 0.12
    among = effective("q", act(EMPTY, "pin", "c"), MODEL, 0.5, ALL)
    assert order(among) == ["c", "a", "b", "d"] and among.answer.link.score == 0.55  # the model's own score
    # a pin below the gap threshold still shows: decisions win over the model
    assert effective("q", decision, links(("a", 0.1)), 0.5, ALL).answer.link.article_id == "x"


def test_a_deleted_pinned_fact_check_no_longer_shows() -> None:
    result = effective("q", act(EMPTY, "pin", "x"), MODEL, 0.5, ALL - {"x"})
    assert result.state == "suggested" and result.answer.link.article_id == "a" and "x" not in order(result)


def test_approve_flags_the_fact_check_and_puts_it_first() -> None:
    top = effective("q", act(EMPTY, "approve", "a"), MODEL, 0.5, ALL)
    assert top.state == "approved" and top.answer.approved and order(top) == ["a", "b", "c", "d"]
    second = effective("q", act(EMPTY, "approve", "b"), MODEL, 0.5, ALL)
    assert order(second) == ["b", "a", "c", "d"] and second.answer.link.article_id == "b"
    low = effective("q", act(EMPTY, "approve", "d"), MODEL, 0.5, ALL)
    assert low.answer.link.article_id == "d"  # an approved low score still shows


def test_hidden_and_gap_show_nothing_but_keep_the_ranking_for_editors() -> None:
    hidden = effective("q", act(EMPTY, "hide", None), MODEL, 0.5, ALL)
    assert hidden.state == "hidden" and hidden.answer is None and order(hidden) == ["a", "b", "c", "d"]
    gap = effective("q", act(EMPTY, "gap", None), MODEL, 0.5, ALL)
    assert gap.state == "gap" and gap.marked_gap and gap.answer is None and gap.model_best.article_id == "a"
    unhidden = act(act(EMPTY, "hide", None), "unhide", None)
    assert effective("q", unhidden, MODEL, 0.5, ALL).state == "suggested"


def test_actions_replace_each_other_sensibly() -> None:
    approved = act(EMPTY, "approve", "b")
    pinned = act(approved, "pin", "x")
    assert pinned.pinned == "x" and pinned.approved is None
    assert act(pinned, "approve", "a").pinned is None
    rejected = act(approved, "reject", "b")
    assert rejected.approved is None and rejected.rejected == ("b",)
    assert act(rejected, "approve", "b").rejected == ()  # approving takes a rejection back
    assert act(act(EMPTY, "reject", "x"), "pin", "x").rejected == ()
    gap = act(pinned, "gap", None)
    assert gap.gap and gap.pinned is None
    assert act(gap, "approve", "a").gap is False
    assert act(act(EMPTY, "reject", "a"), "reject", "a").rejected == ("a",)


def test_clear_forgets_everything_or_one_fact_check() -> None:
    decision = act(act(act(act(EMPTY, "reject", "a"), "reject", "b"), "pin", "x"), "hide", None)
    assert act(decision, "clear", None).empty
    partial = act(decision, "clear", "a")
    assert partial.rejected == ("b",) and partial.pinned == "x" and partial.hidden
    assert act(decision, "clear", "x").pinned is None


@pytest.mark.parametrize(
    ("action", "target", "message"),
    [
        ("pin", None, "pin needs an article_id"),
        ("pin", "own", "own article"),
        ("pin", "nope", "not found"),
        ("reject", "nope", "not found"),
        ("approve", "x", "not among the suggestions"),
        ("approve", None, "approve needs a suggestion"),
        ("hide", "a", "takes no article_id"),
        ("gap", "a", "takes no article_id"),
        ("publish", None, "unknown action"),
    ],
)
def test_impossible_actions_name_the_problem(action: str, target: str | None, message: str) -> None:
    with pytest.raises(DecisionError, match=message):
        act(EMPTY, action, target)


def test_approve_and_reject_default_to_what_the_widget_shows() -> None:
    assert default_target("approve", effective("q", None, MODEL, 0.5, ALL)) == "a"
    assert default_target("reject", effective("q", act(EMPTY, "pin", "x"), MODEL, 0.5, ALL)) == "x"
    # a model gap: approving confirms its best candidate anyway
    assert default_target("approve", effective("q", None, links(("c", 0.2)), 0.5, ALL)) == "c"
    assert default_target("approve", effective("q", None, [], 0.5, ALL)) is None
    assert default_target("hide", effective("q", None, MODEL, 0.5, ALL)) is None


def test_changed_reasons() -> None:
    approved = replace(act(EMPTY, "approve", "a"), target_hash="h1")
    assert changed_reasons(approved, MODEL, {"a": "h1"}) == []
    assert "edited" in changed_reasons(approved, MODEL, {"a": "h2"})[0]
    assert "deleted" in changed_reasons(approved, MODEL, {})[0]
    assert "no longer suggests" in changed_reasons(approved, links(("b", 0.9)), {"a": "h1"})[0]
    pinned = replace(act(EMPTY, "pin", "x"), target_hash="hx")
    assert changed_reasons(pinned, MODEL, {"x": "hx"}) == []  # a pin never depended on the model
    assert "pinned fact check 'x' was deleted" in changed_reasons(pinned, MODEL, {})[0]
    assert changed_reasons(act(EMPTY, "reject", "a"), MODEL, {}) == []
    assert changed_reasons(None, MODEL, {}) == []


# -- tokens ---------------------------------------------------------------------------------------
def test_tokens_are_random_and_only_their_hash_identifies_an_editor() -> None:
    first, second = new_token(), new_token()
    assert first != second and len(first) > 40
    records = [
        EditorRecord(Editor("alice", "t"), hash_token(first)),
        EditorRecord(Editor("bob", "t", revoked_at="t2"), hash_token(second)),
    ]
    assert find_editor(records, first) == Editor("alice", "t")
    assert find_editor(records, second).active is False  # type: ignore[union-attr]
    assert find_editor(records, first + "x") is None
    assert hash_token(first) != first and len(hash_token(first)) == 64
