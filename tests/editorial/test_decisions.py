"""Editors' decisions on top of the model: pure functions, then the engine with a fake encoder (fast)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from recommender.articles.model import Article, Section
from recommender.config import Settings
from recommender.domain import Decision, Editor, EditorRecord, LinkRow, VersionConflict
from recommender.editorial.auth import find_editor, hash_token, new_token
from recommender.editorial.decisions import DecisionError, apply_action, changed_reasons, default_target, effective
from recommender.editorial.review import coverage, queue
from recommender.engine import Engine
from tests.fakes import HashingEncoder


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


# -- the engine, with a fake encoder ----------------------------------------------------------------
def art(article_id: str, title: str, body: str, questions: list[str]) -> Article:
    return Article(
        id=article_id, title=title, summary=body, sections=[Section(heading="Details", text=body)], questions=questions
    )


CORPUS = [
    art(
        "tariffs",
        "Who pays import tariffs?",
        "Importers pay tariffs to customs; prices rise for buyers.",
        ["Why do bananas ripen?"],
    ),
    art("tariffs-farmers", "Did tariffs hurt farmers?", "Retaliatory tariffs cut farm exports; importers paid.", []),
    art(
        "bananas",
        "Why do bananas ripen so fast?",
        "Bananas release ethylene gas which speeds ripening.",
        ["Who pays tariffs on imports?"],
    ),
    art(
        "owls",
        "Can owls turn their heads fully?",
        "Owls rotate their necks 270 degrees thanks to extra vertebrae.",
        ["Do importers pay tariffs?", "Can owls see colour at night?"],
    ),
]


@pytest.fixture()
def engine(settings: Settings) -> Engine:
    engine = Engine.open(
        settings.model_copy(update={"gap_threshold": 0.05, "related_threshold": 0.05, "related_topic_threshold": -1.0}),
        encoder=HashingEncoder(),
    )
    engine.ingest(CORPUS)
    yield engine  # type: ignore[misc]
    engine.close()


def shown(engine: Engine, article_id: str) -> dict[str, str]:
    result = engine.dive_deeper(article_id)
    assert result is not None
    return {item.question.text: item.answer.article_id for item in result.questions}


def test_engine_applies_decisions_in_suggestions_widget_and_gaps(engine: Engine) -> None:
    question, model = engine.suggestions("bananas-q1")  # type: ignore[misc]
    top = model[0].article_id
    engine.decide("bananas-q1", "reject", None, "alice")
    _, after = engine.suggestions("bananas-q1")  # type: ignore[misc]
    assert top not in [link.article_id for link in after]
    assert shown(engine, "bananas")[question.text] == after[0].article_id
    engine.decide("bananas-q1", "pin", "owls", "alice")
    assert shown(engine, "bananas")[question.text] == "owls"
    assert engine.dive_deeper("bananas").questions[0].confirmed  # type: ignore[union-attr]
    engine.decide("bananas-q1", "gap", None, "alice")
    assert question.text not in shown(engine, "bananas")
    gap = engine.gaps()[0]
    assert gap.question.id == "bananas-q1" and gap.marked
    engine.decide("bananas-q1", "approve", after[0].article_id, "alice")
    assert "bananas-q1" not in {g.question.id for g in engine.gaps()}
    engine.decide("bananas-q1", "hide", None, "alice")
    assert question.text not in shown(engine, "bananas")
    assert "bananas-q1" not in {g.question.id for g in engine.gaps()}


def test_related_questions_follow_decisions(engine: Engine) -> None:
    related = engine.dive_deeper("tariffs-farmers").related  # type: ignore[union-attr]
    assert related, "the fixture needs a related question"
    item = related[0]
    engine.decide(item.question.id, "hide", None, "alice")
    assert item.question.id not in {i.question.id for i in engine.dive_deeper("tariffs-farmers").related}  # type: ignore[union-attr]
    engine.decide(item.question.id, "unhide", None, "alice")
    third = next(
        a.id for a in CORPUS if a.id not in (item.question.article_id, "tariffs-farmers", item.answer.article_id)
    )
    engine.decide(item.question.id, "pin", third, "alice")
    again = {i.question.id: i for i in engine.dive_deeper("tariffs-farmers").related}  # type: ignore[union-attr]
    assert again[item.question.id].answer.article_id == third and again[item.question.id].confirmed
    # rejecting this very article for the question: it is no longer related to it
    engine.decide(item.question.id, "reject", "tariffs-farmers", "alice")
    assert item.question.id not in {i.question.id for i in engine.dive_deeper("tariffs-farmers").related}  # type: ignore[union-attr]


def test_decisions_survive_reingest_reordering_rewording_relinking_and_a_new_model(
    engine: Engine, settings: Settings
) -> None:
    engine.decide("owls-q1", "pin", "tariffs-farmers", "alice")
    engine.decide("owls-q2", "hide", None, "alice")
    engine.decide("bananas-q1", "reject", None, "alice")
    rejected = engine.store.get_decision("bananas", engine.store.get_question("bananas-q1").key).rejected  # type: ignore[union-attr]
    reworded = CORPUS[3].model_copy(
        update={
            "questions": ["can OWLS see colour at night", "  Do importers  pay tariffs!? "],
            "summary": "Owls rotate their necks.",
        }
    )
    engine.ingest([reworded])
    engine.relink_all()
    assert engine.status("owls-q2").effective.state == "pinned"  # type: ignore[union-attr]  # moved from q1
    assert engine.status("owls-q1").effective.state == "hidden"  # type: ignore[union-attr]
    engine.close()
    other = Engine.open(
        settings.model_copy(update={"gap_threshold": 0.05}), encoder=HashingEncoder(dim=128, model_id="other@1")
    )
    try:
        assert other.status("owls-q2").effective.answer.link.article_id == "tariffs-farmers"  # type: ignore[union-attr]
        assert rejected[0] not in [link.article_id for link in other.suggestions("bananas-q1")[1]]  # type: ignore[index]
    finally:
        other.close()


def test_a_real_rewording_does_not_inherit_the_decision(engine: Engine) -> None:
    engine.decide("owls-q2", "hide", None, "alice")
    engine.ingest(
        [CORPUS[3].model_copy(update={"questions": ["Do importers pay tariffs?", "Can owls see in the dark?"]})]
    )
    assert engine.status("owls-q2").decision is None  # type: ignore[union-attr]


def test_versions_audit_and_counters(engine: Engine) -> None:
    generation, decisions = engine.counters()
    first = engine.decide("owls-q1", "hide", None, "alice", expected_version=0)
    assert first.decision.version == 1  # type: ignore[union-attr]
    assert engine.counters() == (generation, decisions + 1)  # no index rebuild for a decision
    with pytest.raises(VersionConflict) as conflict:
        engine.decide("owls-q1", "unhide", None, "bob", expected_version=0)
    assert conflict.value.current == 1
    engine.decide("owls-q1", "unhide", None, "bob", expected_version=1)
    total, entries = engine.store.audit_entries(editor="bob")
    assert (
        total == 1 and entries[0].action == "unhide" and entries[0].before["hidden"] and not entries[0].after["hidden"]
    )
    total, _ = engine.store.audit_entries(question=("owls", engine.store.get_question("owls-q1").key))  # type: ignore[union-attr]
    assert total == 2


def test_bulk_is_all_or_nothing(engine: Engine) -> None:
    with pytest.raises(LookupError, match="items.1: question 'nope-q1' not found"):
        engine.decide_many([("owls-q1", None), ("nope-q1", None)], "reject", "alice")
    with pytest.raises(DecisionError, match="items.1: .*own article"):
        engine.decide_many([("owls-q1", None), ("owls-q2", "owls")], "reject", "alice")
    assert engine.store.all_decisions() == {}
    done = engine.decide_many([("owls-q1", None), ("owls-q2", None), ("owls-q1", None)], "reject", "alice")
    assert len(done[0].decision.rejected) == 2  # type: ignore[union-attr]  # the same question twice: two rejections
    assert engine.store.audit_entries()[0] == 3


def test_review_queue_and_coverage(engine: Engine) -> None:
    statuses = engine.statuses()
    unreviewed = queue(statuses, "unreviewed", {})
    scores = [i.status.effective.answer.link.score for i in unreviewed]  # type: ignore[union-attr]
    assert scores == sorted(scores) and len(unreviewed) == sum(s.effective.state == "suggested" for s in statuses) == 3
    engine.decide("owls-q1", "approve", None, "alice")
    engine.decide("owls-q2", "gap", None, "alice")
    statuses = engine.statuses()
    assert "owls-q1" not in {i.status.question.id for i in queue(statuses, "unreviewed", {})}
    assert queue(statuses, "gaps", {})[0].status.question.id == "owls-q2"
    target = engine.status("owls-q1").decision.approved  # type: ignore[union-attr]
    assert queue(statuses, "changed", {target: engine.articles([target])[target].content_hash}) == []
    assert queue(statuses, "changed", {})[0].reasons[0].endswith("was deleted")
    numbers = coverage(statuses)
    assert numbers.questions == 4 and numbers.approved == 1 and numbers.gaps == 1 and numbers.answered == 3
    assert sum(n for _, _, n in numbers.histogram) == 4
    with pytest.raises(ValueError, match="unknown kind"):
        queue(statuses, "later", {})
