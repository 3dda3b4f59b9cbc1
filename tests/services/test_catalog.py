"""Storage and relinking behaviour, with a fake encoder so it runs in milliseconds, on both stores."""

from __future__ import annotations

import sqlite3

import psycopg
import numpy as np
import pytest

from recommender.articles.model import Article, Section
from recommender.config import Settings
from recommender.services import Services
from recommender.domain import EncoderMismatch
from recommender.store.factory import open_store
from tests.conftest import BOTH_STORES
from tests.fakes import HashingEncoder


@pytest.fixture(params=BOTH_STORES)
def store_backend(request: pytest.FixtureRequest) -> str:
    return request.param


def raw_execute(settings: Settings, *statements: str) -> None:
    """Statements straight on the database, behind the store's back (to simulate a crash)."""
    if settings.database_url:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)  # type: ignore[arg-type]
        return
    raw = sqlite3.connect(settings.db)
    for statement in statements:
        raw.execute(statement)
    raw.commit()
    raw.close()


def art(article_id: str, title: str, body: str, questions: list[str]) -> Article:
    return Article(id=article_id, title=title, summary=body, sections=[Section(heading="Details", text=body)], questions=questions)


CORPUS = [
    art("tariffs", "Who pays import tariffs?", "Importers pay tariffs to customs; prices rise for buyers.", ["Why do bananas ripen?"]),
    art("bananas", "Why do bananas ripen so fast?", "Bananas release ethylene gas which speeds ripening.", ["Who pays tariffs on imports?"]),
    art("owls", "Can owls turn their heads fully?", "Owls rotate their necks 270 degrees thanks to extra vertebrae.", ["Do importers pay tariffs?", "Can owls see colour at night?"]),
]


def links_of(services: Services, question_id: str) -> list[str]:
    return [link.article_id for link in services.store.links_of([question_id])[question_id]]


def test_ingest_links_every_question_never_to_its_own_article(fake_services: Services) -> None:
    report = fake_services.catalog.ingest(CORPUS)
    assert sorted(report.added) == ["bananas", "owls", "tariffs"]
    assert links_of(fake_services, "bananas-q1")[0] == "tariffs"
    assert links_of(fake_services, "tariffs-q1")[0] == "bananas"
    for question in fake_services.holder.snapshot().questions:
        assert question.article_id not in links_of(fake_services, question.id)
        assert len(links_of(fake_services, question.id)) == 2  # the two other articles


def test_reingest_unchanged_changes_and_embeds_nothing(fake_services: Services, fake_encoder: HashingEncoder) -> None:
    fake_services.catalog.ingest(CORPUS)
    generation, embedded = fake_services.store.generation(), fake_encoder.encoded
    report = fake_services.catalog.ingest(CORPUS)
    assert report.unchanged == ["tariffs", "bananas", "owls"] and not report.added and not report.updated
    assert report.relinked == 0
    assert fake_encoder.encoded == embedded
    assert fake_services.store.generation() == generation


def test_edit_reembeds_only_changed_passages_and_relinks_incoming_questions(fake_services: Services, fake_encoder: HashingEncoder) -> None:
    fake_services.catalog.ingest(CORPUS)
    before = fake_services.store.links_of(["bananas-q1"])["bananas-q1"][0]
    embedded = fake_encoder.encoded
    edited = CORPUS[0].model_copy(update={"summary": "Importers, not exporters, pay every tariff; customs collects it."})
    report = fake_services.catalog.ingest([edited])
    assert report.updated == ["tariffs"]
    # title and the unchanged section are reused; only the new summary passage and the question are embedded
    assert fake_encoder.encoded - embedded == 1 + len(edited.questions)
    assert fake_services.store.questions_to_link() == []
    # an edit that changes what the article answers moves the questions that pointed at it
    fake_services.catalog.ingest([edited.model_copy(update={"title": "Why is the sky blue?", "summary": "Scattering.", "sections": []})])
    after = {link.article_id: link.score for link in fake_services.store.links_of(["bananas-q1"])["bananas-q1"]}
    assert after["tariffs"] < before.score - 0.2


def test_new_article_enters_other_questions_links(fake_services: Services) -> None:
    fake_services.catalog.ingest(CORPUS)
    assert links_of(fake_services, "owls-q2")[0] != "night"
    fake_services.catalog.ingest([art("night", "Can owls see colour at night?", "Owls see colour poorly at night; rods dominate.", ["Who pays tariffs?"])])
    assert links_of(fake_services, "owls-q2")[0] == "night"


def test_delete_removes_the_article_from_every_suggestion(fake_services: Services) -> None:
    fake_services.catalog.ingest(CORPUS)
    assert fake_services.catalog.delete("tariffs")
    assert not fake_services.catalog.delete("tariffs")
    for question in fake_services.holder.snapshot().questions:
        assert "tariffs" not in links_of(fake_services, question.id)
    assert fake_services.store.get_question("tariffs-q1") is None
    assert fake_services.reading.dive_deeper("tariffs") is None
    assert "tariffs" not in [h.doc_id for h in fake_services.reading.search("who pays tariffs", 5)]


def test_changed_questions_replace_old_ones(fake_services: Services) -> None:
    fake_services.catalog.ingest(CORPUS)
    fake_services.catalog.ingest([CORPUS[2].model_copy(update={"questions": ["Why do bananas go brown?"]})])
    assert fake_services.store.get_question("owls-q2") is None
    assert fake_services.store.get_question("owls-q1").text == "Why do bananas go brown?"  # type: ignore[union-attr]
    assert links_of(fake_services, "owls-q1")[0] == "bananas"


def test_a_failed_write_stores_nothing(fake_services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_services.catalog.ingest(CORPUS[:1])
    generation = fake_services.store.generation()
    broken = fake_services.holder.encoder.encode

    questions = [q for a in CORPUS[1:] for q in a.questions]

    def fail_on_questions(texts, **kwargs):  # type: ignore[no-untyped-def]
        # One vector short for the last article: its write fails after the first one's succeeded.
        vectors = broken(texts)
        return vectors[:-1] if list(texts) == questions else vectors

    monkeypatch.setattr(fake_services.holder.encoder, "encode", fail_on_questions)
    with pytest.raises(ValueError):
        fake_services.catalog.ingest(CORPUS[1:])
    assert fake_services.store.generation() == generation
    assert sorted(fake_services.store.content_hashes()) == ["tariffs"]


def test_store_refuses_to_mix_encoders(settings: Settings) -> None:
    services = Services.start(settings, encoder=HashingEncoder(model_id="model-a@1"))
    services.catalog.ingest(CORPUS)
    services.close()
    other = open_store(settings, "model-b@1")
    with pytest.raises(EncoderMismatch):
        other.load_index()
    other.close()


def test_switching_encoder_reencodes_everything(settings: Settings) -> None:
    first = Services.start(settings, encoder=HashingEncoder(model_id="model-a@1"))
    first.catalog.ingest(CORPUS)
    first.close()
    second_encoder = HashingEncoder(dim=128, model_id="model-b@1")
    second = Services.start(settings, encoder=second_encoder)
    assert second.store.stored_model_ids() == {"model-b@1"}
    assert second.holder.snapshot().question_vectors.shape[1] == 128
    assert links_of(second, "bananas-q1")[0] == "tariffs"
    second.close()


def test_pending_links_are_finished_on_open(settings: Settings) -> None:
    """A crash between storing an article and linking it leaves questions marked; opening relinks them."""
    services = Services.start(settings, encoder=HashingEncoder(model_id="m@1"))
    services.catalog.ingest(CORPUS)
    services.close()
    raw_execute(settings, "DELETE FROM links", "UPDATE questions SET needs_link = TRUE")
    reopened = Services.start(settings, encoder=HashingEncoder(model_id="m@1"))
    assert reopened.store.questions_to_link() == []
    assert links_of(reopened, "bananas-q1")[0] == "tariffs"
    reopened.close()


def test_another_process_write_is_seen(settings: Settings) -> None:
    reader = Services.start(settings, encoder=HashingEncoder(model_id="m@1"))
    writer = Services.start(settings, encoder=HashingEncoder(model_id="m@1"))
    writer.catalog.ingest(CORPUS)
    assert reader.holder.snapshot().ranker.size == 3
    assert np.isclose(reader.reading.search("who pays tariffs", 1)[0].score, writer.reading.search("who pays tariffs", 1)[0].score)
    reader.close()
    writer.close()
