"""Storage and relinking behaviour, with a fake encoder so it runs in milliseconds, on both stores."""

from __future__ import annotations

import sqlite3

import psycopg
import numpy as np
import pytest

from recommender.articles.model import Article, Section
from recommender.config import Settings
from recommender.engine import Engine
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


def links_of(engine: Engine, question_id: str) -> list[str]:
    return [link.article_id for link in engine.store.links_of([question_id])[question_id]]


def test_ingest_links_every_question_never_to_its_own_article(fake_engine: Engine) -> None:
    report = fake_engine.ingest(CORPUS)
    assert sorted(report.added) == ["bananas", "owls", "tariffs"]
    assert links_of(fake_engine, "bananas-q1")[0] == "tariffs"
    assert links_of(fake_engine, "tariffs-q1")[0] == "bananas"
    for question in fake_engine.snapshot().questions:
        assert question.article_id not in links_of(fake_engine, question.id)
        assert len(links_of(fake_engine, question.id)) == 2  # the two other articles


def test_reingest_unchanged_changes_and_embeds_nothing(fake_engine: Engine, fake_encoder: HashingEncoder) -> None:
    fake_engine.ingest(CORPUS)
    generation, embedded = fake_engine.store.generation(), fake_encoder.encoded
    report = fake_engine.ingest(CORPUS)
    assert report.unchanged == ["tariffs", "bananas", "owls"] and not report.added and not report.updated
    assert report.relinked == 0
    assert fake_encoder.encoded == embedded
    assert fake_engine.store.generation() == generation


def test_edit_reembeds_only_changed_passages_and_relinks_incoming_questions(fake_engine: Engine, fake_encoder: HashingEncoder) -> None:
    fake_engine.ingest(CORPUS)
    before = fake_engine.store.links_of(["bananas-q1"])["bananas-q1"][0]
    embedded = fake_encoder.encoded
    edited = CORPUS[0].model_copy(update={"summary": "Importers, not exporters, pay every tariff; customs collects it."})
    report = fake_engine.ingest([edited])
    assert report.updated == ["tariffs"]
    # title and the unchanged section are reused; only the new summary passage and the question are embedded
    assert fake_encoder.encoded - embedded == 1 + len(edited.questions)
    assert fake_engine.store.questions_to_link() == []
    # an edit that changes what the article answers moves the questions that pointed at it
    fake_engine.ingest([edited.model_copy(update={"title": "Why is the sky blue?", "summary": "Scattering.", "sections": []})])
    after = {link.article_id: link.score for link in fake_engine.store.links_of(["bananas-q1"])["bananas-q1"]}
    assert after["tariffs"] < before.score - 0.2


def test_new_article_enters_other_questions_links(fake_engine: Engine) -> None:
    fake_engine.ingest(CORPUS)
    assert links_of(fake_engine, "owls-q2")[0] != "night"
    fake_engine.ingest([art("night", "Can owls see colour at night?", "Owls see colour poorly at night; rods dominate.", ["Who pays tariffs?"])])
    assert links_of(fake_engine, "owls-q2")[0] == "night"


def test_delete_removes_the_article_from_every_suggestion(fake_engine: Engine) -> None:
    fake_engine.ingest(CORPUS)
    assert fake_engine.delete("tariffs")
    assert not fake_engine.delete("tariffs")
    for question in fake_engine.snapshot().questions:
        assert "tariffs" not in links_of(fake_engine, question.id)
    assert fake_engine.store.get_question("tariffs-q1") is None
    assert fake_engine.dive_deeper("tariffs") is None
    assert "tariffs" not in [h.doc_id for h in fake_engine.search("who pays tariffs", 5)]


def test_changed_questions_replace_old_ones(fake_engine: Engine) -> None:
    fake_engine.ingest(CORPUS)
    fake_engine.ingest([CORPUS[2].model_copy(update={"questions": ["Why do bananas go brown?"]})])
    assert fake_engine.store.get_question("owls-q2") is None
    assert fake_engine.store.get_question("owls-q1").text == "Why do bananas go brown?"  # type: ignore[union-attr]
    assert links_of(fake_engine, "owls-q1")[0] == "bananas"


def test_a_failed_write_stores_nothing(fake_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_engine.ingest(CORPUS[:1])
    generation = fake_engine.store.generation()
    broken = fake_engine.encoder.encode

    questions = [q for a in CORPUS[1:] for q in a.questions]

    def fail_on_questions(texts, **kwargs):  # type: ignore[no-untyped-def]
        # One vector short for the last article: its write fails after the first one's succeeded.
        vectors = broken(texts)
        return vectors[:-1] if list(texts) == questions else vectors

    monkeypatch.setattr(fake_engine.encoder, "encode", fail_on_questions)
    with pytest.raises(ValueError):
        fake_engine.ingest(CORPUS[1:])
    assert fake_engine.store.generation() == generation
    assert sorted(fake_engine.store.content_hashes()) == ["tariffs"]


def test_store_refuses_to_mix_encoders(settings: Settings) -> None:
    store = open_store(settings, "model-a@1")
    engine = Engine(settings, store, HashingEncoder(model_id="model-a@1"))
    engine.ingest(CORPUS)
    engine.close()
    other = open_store(settings, "model-b@1")
    with pytest.raises(EncoderMismatch):
        other.load_index()
    other.close()


def test_switching_encoder_reencodes_everything(settings: Settings) -> None:
    first = Engine(settings, open_store(settings, "model-a@1"), HashingEncoder(model_id="model-a@1"))
    first.ingest(CORPUS)
    first.close()
    second_encoder = HashingEncoder(dim=128, model_id="model-b@1")
    second = Engine(settings, open_store(settings, "model-b@1"), second_encoder)
    assert second.store.stored_model_ids() == {"model-b@1"}
    assert second.snapshot().question_vectors.shape[1] == 128
    assert links_of(second, "bananas-q1")[0] == "tariffs"
    second.close()


def test_pending_links_are_finished_on_open(settings: Settings) -> None:
    """A crash between storing an article and linking it leaves questions marked; opening relinks them."""
    engine = Engine(settings, open_store(settings, "m@1"), HashingEncoder(model_id="m@1"))
    engine.ingest(CORPUS)
    engine.close()
    raw_execute(settings, "DELETE FROM links", "UPDATE questions SET needs_link = TRUE")
    reopened = Engine(settings, open_store(settings, "m@1"), HashingEncoder(model_id="m@1"))
    assert reopened.store.questions_to_link() == []
    assert links_of(reopened, "bananas-q1")[0] == "tariffs"
    reopened.close()


def test_another_process_write_is_seen(settings: Settings) -> None:
    reader = Engine(settings, open_store(settings, "m@1"), HashingEncoder(model_id="m@1"))
    writer = Engine(settings, open_store(settings, "m@1"), HashingEncoder(model_id="m@1"))
    writer.ingest(CORPUS)
    assert reader.snapshot().ranker.size == 3
    assert np.isclose(reader.search("who pays tariffs", 1)[0].score, writer.search("who pays tariffs", 1)[0].score)
    reader.close()
    writer.close()
