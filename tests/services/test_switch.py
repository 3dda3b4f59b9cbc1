"""A changed encoder is re-embedded in the background while the old vectors serve (fake encoders)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from recommender.config import Settings
from recommender.embedding.versions import EncoderUnavailable, load_encoder_of, parse_model_id
from recommender.services import Services
from tests.conftest import BOTH_STORES
from tests.fakes import HashingEncoder
from tests.services.test_models import CORPUS, art

OLD, NEW = "old@1", "new@2"


@pytest.fixture(params=BOTH_STORES)
def store_backend(request: pytest.FixtureRequest) -> str:
    return request.param


class GatedEncoder(HashingEncoder):
    """A slow new model: each encode waits until the test opens the gate (so it can act mid-switch)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.gate = threading.Event()
        self.entered = threading.Event()

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        self.entered.set()
        assert self.gate.wait(30), "the test never opened the gate"
        return super().encode(texts, batch_size, progress)


@pytest.fixture()
def old_db(settings: Settings) -> Settings:
    """A database embedded with the old encoder, with one editor decision."""
    services = Services.start(settings, encoder=HashingEncoder(model_id=OLD))
    services.catalog.ingest(CORPUS)
    services.editorial.decide("owls-q1", "reject", "tariffs", "alice")
    services.close()
    return settings


def test_the_old_vectors_serve_while_the_new_encoder_embeds_in_the_background(old_db: Settings) -> None:
    new = GatedEncoder(dim=128, model_id=NEW)
    services = Services.start(old_db, encoder=new, reembed="background", previous=HashingEncoder(model_id=OLD))
    try:
        decisions = services.store.all_decisions()
        job = services.models.switch_job
        assert job is not None and job.running and job.model_id == NEW
        assert new.entered.wait(10)
        # Mid-switch: served by the old encoder, consistently with the stored vectors.
        assert services.holder.encoder.model_id == OLD and services.models.model_name == "old"
        assert services.store.stored_model_ids() == {OLD}
        page = services.reading.dive_deeper("owls")
        assert page is not None and page.questions
        assert services.reading.search("who pays tariffs", 3)[0].doc_id.startswith("tariffs")
        # An edit arriving meanwhile is embedded by the old encoder now and staged by the catch-up.
        services.catalog.ingest([art("late", "Do late articles get linked?", "Tariffs written during the switch are paid by importers.", ["Who pays import tariffs late?"])])
        assert services.store.stored_model_ids() == {OLD}
        new.gate.set()
        assert job.wait(60).state == "done", job.error
        assert job.done >= job.total > 0
        assert services.store.stored_model_ids() == {NEW} and services.holder.encoder is new
        assert services.store.live_model() == (old_db.model, NEW)  # the configured name
        assert services.models.pending_encoder is None
        assert services.store.all_decisions() == decisions
        late_q = services.store.questions_of("late")[0]
        assert services.store.links_of([late_q.id])[late_q.id], "the late article's question was linked after the swap"
        snapshot = services.holder.snapshot()
        row = [q.id for q in snapshot.questions].index(late_q.id)
        np.testing.assert_allclose(snapshot.question_vectors[row], HashingEncoder(dim=128).encode([late_q.text])[0], atol=1e-6)
        assert services.reading.search("who pays tariffs", 3)[0].doc_id.startswith("tariffs")
    finally:
        new.gate.set()
        services.close()


def test_later_serves_the_old_vectors_until_reembed_is_asked(old_db: Settings) -> None:
    services = Services.start(old_db, encoder=HashingEncoder(dim=64, model_id=NEW), reembed="later", previous=HashingEncoder(model_id=OLD))
    try:
        assert services.models.switch_job is None and services.holder.encoder.model_id == OLD
        services.catalog.ingest([art("extra", "Extra", "An extra article about owls.", ["Do owls sleep?"])])
        job = services.models.reembed(background=False)
        assert job is not None and job.state == "done", job and job.error
        assert services.store.stored_model_ids() == {NEW}
        assert services.models.reembed() is None  # nothing left to do
    finally:
        services.close()


def test_without_the_old_encoder_the_database_is_re_encoded_at_open(old_db: Settings, caplog: pytest.LogCaptureFixture) -> None:
    # No `previous`, and "old" is no model under models/: it cannot be loaded, so the old behaviour applies.
    services = Services.start(old_db.model_copy(update={"models_dir": Path("/nonexistent")}), encoder=HashingEncoder(model_id=NEW), reembed="background")
    try:
        assert services.models.switch_job is None
        assert services.store.stored_model_ids() == {NEW} and services.holder.encoder.model_id == NEW
        assert "cannot load the encoder of old@1" in caplog.text and "re-encoding the whole database" in caplog.text
        assert services.reading.dive_deeper("owls") is not None
    finally:
        services.close()


def test_restaging_goes_newest_article_first(settings: Settings) -> None:
    services = Services.start(settings, encoder=HashingEncoder(model_id=OLD))
    try:
        services.catalog.ingest([
            art("a-2019", "Old", "Old text.", ["Old question?"], dt.date(2019, 5, 1)),
            art("b-undated", "Undated", "Undated text.", ["Undated question?"]),
            art("c-2024", "New", "New text.", ["New question?"], dt.date(2024, 5, 1)),
            art("d-2021", "Middle", "Middle text.", ["Middle question?"], dt.date(2021, 5, 1)),
        ])
        passages, questions = services.store.unstaged_texts(NEW)
        order = list(dict.fromkeys(a for a, _, _ in passages))
        assert order == ["c-2024", "d-2021", "a-2019", "b-undated"]
        assert [t for _, t in questions] == ["New question?", "Middle question?", "Old question?", "Undated question?"]
    finally:
        services.close()


def test_a_switch_finished_by_another_process_is_followed_not_redone(old_db: Settings) -> None:
    old, new = HashingEncoder(model_id=OLD), HashingEncoder(dim=64, model_id=NEW)
    first = Services.start(old_db, encoder=new, reembed="later", previous=old)
    second = Services.start(old_db, encoder=HashingEncoder(dim=64, model_id=NEW), reembed="later", previous=old)
    try:
        assert first.models.reembed(background=False).state == "done"  # type: ignore[union-attr]
        encoded = second.models.pending_encoder[1]  # type: ignore[index]
        job = second.models.reembed(background=False)
        assert job is not None and job.state == "done" and job.done == 0
        assert encoded.encoded == 0  # type: ignore[attr-defined]
        assert second.holder.encoder.model_id == NEW and second.reading.dive_deeper("owls") is not None
    finally:
        first.close()
        second.close()


def test_model_ids_name_the_model_its_weights_and_backend() -> None:
    int8 = parse_model_id("all-MiniLM-L6-v2@4c6203507e0b+int8row2")
    assert (int8.name, int8.weights, int8.variant, int8.backends) == ("all-MiniLM-L6-v2", "4c6203507e0b", "int8row2", ("onnx-int8",))
    # earlier int8 schemes: no backend makes those vectors any more, so a database of them is re-embedded
    for variant in ("int8", "int8row"):
        retired = parse_model_id(f"all-MiniLM-L6-v2@4c6203507e0b+{variant}")
        assert retired.backends == () and "retired" in retired.backend
    plain = parse_model_id("all-MiniLM-L6-v2@4c6203507e0b")
    assert plain.backends == ("auto", "torch") and plain.variant == ""
    assert parse_model_id("my-model@0123456789ab+onnx").backends == ("onnx",)
    with pytest.raises(EncoderUnavailable, match="my-model"):
        load_encoder_of("my-model@0123456789ab+int8row2", Path("/nonexistent"))
    with pytest.raises(EncoderUnavailable, match="no backend makes these vectors now"):
        load_encoder_of("my-model@0123456789ab+int8", Path("/nonexistent"))
