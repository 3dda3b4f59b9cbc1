"""The reading service with a fake encoder: it never writes, and its records carry what a response needs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from recommender.config import Settings
from recommender.services import Services
from tests.fakes import HashingEncoder
from tests.services.test_catalog import CORPUS


@pytest.fixture()
def services(settings: Settings) -> Iterator[Services]:
    services = Services.start(settings.model_copy(update={"gap_threshold": 0.05}), encoder=HashingEncoder())
    services.catalog.ingest(CORPUS)
    yield services
    services.close()


def test_reading_everything_writes_nothing(services: Services) -> None:
    reading = services.reading
    before = (services.store.generation(), services.store.counters(), services.store.dump())
    for article in CORPUS:
        reading.dive_deeper(article.id)
        reading.statuses(article.id)
    reading.reviews([(s, []) for s in reading.statuses()])
    reading.gaps()
    reading.search_results("who pays tariffs", 3)
    reading.stored_links(["bananas-q1", "nope-q1"])
    assert (services.store.generation(), services.store.counters(), services.store.dump()) == before


def test_search_results_carry_the_article_row_passage_and_whether_anything_answers(services: Services) -> None:
    answered, found = services.reading.search_results("Who pays import tariffs?", 2)
    assert answered and found[0].article.id == "tariffs" and found[0].article.title == "Who pays import tariffs?"
    assert found[0].passage and [c.rank for c in found] == [0, 1]
    strict = services.reading
    strict.models.thresholds = type(strict.thresholds)(**{**vars(strict.thresholds), "gap_score": 2.0})
    assert strict.search_results("Who pays import tariffs?", 2)[0] is False  # nothing reaches a score of 2


def test_dive_deeper_brings_the_row_of_every_article_it_names(services: Services) -> None:
    result = services.reading.dive_deeper("bananas")
    assert result is not None and result.questions
    named = {i.answer.article_id for i in [*result.questions, *result.related]} | {i.question.article_id for i in result.related}
    assert named <= set(result.rows)
    assert services.reading.dive_deeper("nope") is None


def test_reviews_list_candidates_in_the_effective_order_with_their_fact_checks(services: Services) -> None:
    status = services.reading.status("bananas-q1")
    assert status is not None
    (review,) = services.reading.reviews([(status, ["edited"])])
    assert review.reasons == ["edited"] and review.source is not None and review.source.id == "bananas"
    assert [c.link.article_id for c in review.candidates] == [r.link.article_id for r in status.effective.ranked]
    assert [c.rank for c in review.candidates] == list(range(len(review.candidates)))


def test_stored_links_skip_unknown_questions(services: Services) -> None:
    links = services.reading.stored_links(["bananas-q1", "nope-q1"])
    assert set(links) == {"bananas-q1"} and links["bananas-q1"][0].article_id == "tariffs"
