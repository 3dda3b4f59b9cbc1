"""The editorial service with a fake encoder (fast): decisions in every read, versions, audit, bulk, review."""

from __future__ import annotations

import pytest

from recommender.articles.model import Article, Section
from recommender.config import Settings
from recommender.editorial.decisions import DecisionError
from recommender.editorial.review import coverage, queue
from recommender.services import Services
from recommender.domain import VersionConflict
from tests.fakes import HashingEncoder


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
def services(settings: Settings) -> Services:
    services = Services.start(
        settings.model_copy(update={"gap_threshold": 0.05, "related_threshold": 0.05, "related_topic_threshold": -1.0}),
        encoder=HashingEncoder(),
    )
    services.catalog.ingest(CORPUS)
    yield services  # type: ignore[misc]
    services.close()


def shown(services: Services, article_id: str) -> dict[str, str]:
    result = services.reading.dive_deeper(article_id)
    assert result is not None
    return {item.question.text: item.answer.article_id for item in result.questions}


def test_engine_applies_decisions_in_suggestions_widget_and_gaps(services: Services) -> None:
    question, model = services.reading.suggestions("bananas-q1")  # type: ignore[misc]
    top = model[0].article_id
    services.editorial.decide("bananas-q1", "reject", None, "alice")
    _, after = services.reading.suggestions("bananas-q1")  # type: ignore[misc]
    assert top not in [link.article_id for link in after]
    assert shown(services, "bananas")[question.text] == after[0].article_id
    services.editorial.decide("bananas-q1", "pin", "owls", "alice")
    assert shown(services, "bananas")[question.text] == "owls"
    assert services.reading.dive_deeper("bananas").questions[0].confirmed  # type: ignore[union-attr]
    services.editorial.decide("bananas-q1", "gap", None, "alice")
    assert question.text not in shown(services, "bananas")
    gap = services.reading.gaps()[0]
    assert gap.question.id == "bananas-q1" and gap.marked
    services.editorial.decide("bananas-q1", "approve", after[0].article_id, "alice")
    assert "bananas-q1" not in {g.question.id for g in services.reading.gaps()}
    services.editorial.decide("bananas-q1", "hide", None, "alice")
    assert question.text not in shown(services, "bananas")
    assert "bananas-q1" not in {g.question.id for g in services.reading.gaps()}


def test_related_questions_follow_decisions(services: Services) -> None:
    related = services.reading.dive_deeper("tariffs-farmers").related  # type: ignore[union-attr]
    assert related, "the fixture needs a related question"
    item = related[0]
    services.editorial.decide(item.question.id, "hide", None, "alice")
    assert item.question.id not in {i.question.id for i in services.reading.dive_deeper("tariffs-farmers").related}  # type: ignore[union-attr]
    services.editorial.decide(item.question.id, "unhide", None, "alice")
    third = next(
        a.id for a in CORPUS if a.id not in (item.question.article_id, "tariffs-farmers", item.answer.article_id)
    )
    services.editorial.decide(item.question.id, "pin", third, "alice")
    again = {i.question.id: i for i in services.reading.dive_deeper("tariffs-farmers").related}  # type: ignore[union-attr]
    assert again[item.question.id].answer.article_id == third and again[item.question.id].confirmed
    # rejecting this very article for the question: it is no longer related to it
    services.editorial.decide(item.question.id, "reject", "tariffs-farmers", "alice")
    assert item.question.id not in {i.question.id for i in services.reading.dive_deeper("tariffs-farmers").related}  # type: ignore[union-attr]


def test_decisions_survive_reingest_reordering_rewording_relinking_and_a_new_model(
    services: Services, settings: Settings
) -> None:
    services.editorial.decide("owls-q1", "pin", "tariffs-farmers", "alice")
    services.editorial.decide("owls-q2", "hide", None, "alice")
    services.editorial.decide("bananas-q1", "reject", None, "alice")
    rejected = services.store.get_decision("bananas", services.store.get_question("bananas-q1").key).rejected  # type: ignore[union-attr]
    reworded = CORPUS[3].model_copy(
        update={
            "questions": ["can OWLS see colour at night", "  Do importers  pay tariffs!? "],
            "summary": "Owls rotate their necks.",
        }
    )
    services.catalog.ingest([reworded])
    services.linking.relink_all()
    assert services.reading.status("owls-q2").effective.state == "pinned"  # type: ignore[union-attr]  # moved from q1
    assert services.reading.status("owls-q1").effective.state == "hidden"  # type: ignore[union-attr]
    services.close()
    other = Services.start(
        settings.model_copy(update={"gap_threshold": 0.05}), encoder=HashingEncoder(dim=128, model_id="other@1")
    )
    try:
        assert other.reading.status("owls-q2").effective.answer.link.article_id == "tariffs-farmers"  # type: ignore[union-attr]
        assert rejected[0] not in [link.article_id for link in other.reading.suggestions("bananas-q1")[1]]  # type: ignore[index]
    finally:
        other.close()


def test_a_real_rewording_does_not_inherit_the_decision(services: Services) -> None:
    services.editorial.decide("owls-q2", "hide", None, "alice")
    services.catalog.ingest(
        [CORPUS[3].model_copy(update={"questions": ["Do importers pay tariffs?", "Can owls see in the dark?"]})]
    )
    assert services.reading.status("owls-q2").decision is None  # type: ignore[union-attr]


def test_versions_audit_and_counters(services: Services) -> None:
    generation, decisions = services.reading.counters()
    first = services.editorial.decide("owls-q1", "hide", None, "alice", expected_version=0)
    assert first.decision.version == 1  # type: ignore[union-attr]
    assert services.reading.counters() == (generation, decisions + 1)  # no index rebuild for a decision
    with pytest.raises(VersionConflict) as conflict:
        services.editorial.decide("owls-q1", "unhide", None, "bob", expected_version=0)
    assert conflict.value.current == 1
    services.editorial.decide("owls-q1", "unhide", None, "bob", expected_version=1)
    total, entries = services.store.audit_entries(editor="bob")
    assert (
        total == 1 and entries[0].action == "unhide" and entries[0].before["hidden"] and not entries[0].after["hidden"]
    )
    total, _ = services.store.audit_entries(question=("owls", services.store.get_question("owls-q1").key))  # type: ignore[union-attr]
    assert total == 2


def test_bulk_is_all_or_nothing(services: Services) -> None:
    with pytest.raises(LookupError, match="items.1: question 'nope-q1' not found"):
        services.editorial.decide_many([("owls-q1", None), ("nope-q1", None)], "reject", "alice")
    with pytest.raises(DecisionError, match="items.1: .*own article"):
        services.editorial.decide_many([("owls-q1", None), ("owls-q2", "owls")], "reject", "alice")
    assert services.store.all_decisions() == {}
    done = services.editorial.decide_many([("owls-q1", None), ("owls-q2", None), ("owls-q1", None)], "reject", "alice")
    assert len(done[0].decision.rejected) == 2  # type: ignore[union-attr]  # the same question twice: two rejections
    assert services.store.audit_entries()[0] == 3


def test_review_queue_and_coverage(services: Services) -> None:
    statuses = services.reading.statuses()
    unreviewed = queue(statuses, "unreviewed", {})
    scores = [i.status.effective.answer.link.score for i in unreviewed]  # type: ignore[union-attr]
    assert scores == sorted(scores) and len(unreviewed) == sum(s.effective.state == "suggested" for s in statuses) == 3
    services.editorial.decide("owls-q1", "approve", None, "alice")
    services.editorial.decide("owls-q2", "gap", None, "alice")
    statuses = services.reading.statuses()
    assert "owls-q1" not in {i.status.question.id for i in queue(statuses, "unreviewed", {})}
    assert queue(statuses, "gaps", {})[0].status.question.id == "owls-q2"
    target = services.reading.status("owls-q1").decision.approved  # type: ignore[union-attr]
    assert queue(statuses, "changed", {target: services.reading.articles([target])[target].content_hash}) == []
    assert queue(statuses, "changed", {})[0].reasons[0].endswith("was deleted")
    numbers = coverage(statuses)
    assert numbers.questions == 4 and numbers.approved == 1 and numbers.gaps == 1 and numbers.answered == 3
    assert sum(n for _, _, n in numbers.histogram) == 4
    with pytest.raises(ValueError, match="unknown kind"):
        queue(statuses, "later", {})
