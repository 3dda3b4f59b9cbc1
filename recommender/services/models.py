"""Which encoder serves, and changing it: the open policy, re-encoding, model switches, the calibrator."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Literal

from recommender.config import Settings
from recommender.embedding.base import Encoder
from recommender.embedding.factory import create_encoder
from recommender.index.holder import IndexHolder
from recommender.learning.calibration import CalibrationError, Calibrator, Thresholds, find_calibrator, thresholds_for
from recommender.learning.cards import read_card, trained_models
from recommender.services.switch import SwitchJob, run_switch
from recommender.store.base import Store
from recommender.store.factory import open_store

log = logging.getLogger(__name__)
# What opening does when the stored vectors come from another encoder than the configured one:
# "now" re-encodes everything before serving (at startup); "background" serves with the encoder of the
# stored vectors and re-embeds beside them in a thread (the server); "later" serves with that encoder
# and leaves the switch to `reembed()` (one-shot commands: a server may be re-embedding right now).
Reembed = Literal["now", "background", "later"]


class GateNotPassed(ValueError):
    """A trained model whose card says it did not pass its quality gate (switch with force)."""


@dataclass(frozen=True)
class OpenedStore:
    """The store and the encoder to serve it with, as the open policy decided."""

    store: Store
    encoder: Encoder
    model_name: str
    pending: tuple[str, Encoder] | None  # the configured (name, encoder) while the stored vectors are another's


def open_with_policy(settings: Settings, encoder: Encoder | None, reembed: Reembed, previous: Encoder | None) -> OpenedStore:
    """The configured store and encoder (`encoder` overrides RECOMMENDER_MODEL/BACKEND).

    When the stored vectors come from another encoder, `reembed` says what happens (see Reembed).
    "background" and "later" need that encoder (`previous`, or loaded from the stored model id, see
    embedding/versions.py); when it cannot be loaded they fall back to "now" with a warning.
    """
    if encoder is None and "model" not in settings.model_fields_set:
        # A database switched to another model (`recommender models use`) keeps it until switched again;
        # an explicit RECOMMENDER_MODEL wins (and re-encodes at startup).
        settings = settings.model_copy(update={"model": _live_model_name(settings) or settings.model})
    encoder = encoder or create_encoder(settings.model, settings.models_dir, backend=settings.backend)
    store = open_store(settings, encoder.model_id)
    old = _encoder_of_stored_vectors(store, encoder, settings, previous) if reembed != "now" else None
    if old is None:
        return OpenedStore(store, encoder, settings.model, None)
    log.warning(
        "stored vectors come from %s, the configured encoder is %s: serving with the former until the "
        "re-embedding %s swaps the latter in",
        old.model_id,
        encoder.model_id,
        "running in the background" if reembed == "background" else "(`recommender reembed` or a server)",
    )
    store.model_id = old.model_id
    return OpenedStore(store, old, _stored_model_name(store, old), (settings.model, encoder))


class ModelsService:
    def __init__(
        self, settings: Settings, store: Store, holder: IndexHolder, model_name: str, pending: tuple[str, Encoder] | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.holder = holder
        self.model_name = model_name  # the name the encoder was loaded by (a switch changes it)
        self.pending_encoder = pending
        self.switch_job: SwitchJob | None = None
        self.calibrator: Calibrator | None = None
        self.thresholds: Thresholds = thresholds_for(None, settings.review_threshold, settings.auto_approve_threshold, settings.gap_threshold)
        holder.before_build = self.follow_live_model
        # Serving a previous encoder until the switch: a calibrator configured for the new one does not
        # fit it yet, which is no reason to refuse to serve.
        self.set_calibrator(strict=pending is None)

    @property
    def encoder(self) -> Encoder:
        return self.holder.encoder

    # -- calibrated confidence ---------------------------------------------------------------
    def set_calibrator(self, strict: bool = True) -> None:
        """strict (at open): a configured calibrator file that does not fit the encoder is an error;
        after a model switch it is skipped with a warning (the automatic lookup applies)."""
        s = self.settings
        model_id = self.encoder.model_id
        try:
            found = find_calibrator(s.calibration, s.models_dir, self.model_name, model_id)
        except CalibrationError:
            if strict:
                raise
            log.warning("RECOMMENDER_CALIBRATION does not fit %s any more: looking for one that does", model_id)
            found = find_calibrator("auto", s.models_dir, self.model_name, model_id)
        self.calibrator = found
        self.thresholds = thresholds_for(found, s.review_threshold, s.auto_approve_threshold, s.gap_threshold)
        if found is None and s.calibration != "none":
            log.warning("no calibrator fits %s: raw scores and gap_threshold decide", model_id)

    def set_thresholds(self, review: float | None = None, auto_approve: float | None = None) -> Thresholds:
        """Change the probability thresholds (RECOMMENDER_REVIEW/AUTO_APPROVE_THRESHOLD) of this process."""
        update = {k: v for k, v in (("review_threshold", review), ("auto_approve_threshold", auto_approve)) if v is not None}
        self.settings = self.settings.model_copy(update=update)
        s = self.settings
        self.thresholds = thresholds_for(self.calibrator, s.review_threshold, s.auto_approve_threshold, s.gap_threshold)
        return self.thresholds

    def confidence(self, score: float) -> float | None:
        """The calibrated probability that an editor approves a link of this score (None: uncalibrated)."""
        return None if self.calibrator is None else round(self.calibrator.probability(score), 4)

    # -- changing the encoder ----------------------------------------------------------------
    def reencode_if_needed(self) -> None:
        """Vectors from another encoder are re-made with this one before anything is served."""
        encoder = self.encoder
        foreign = self.store.stored_model_ids() - {encoder.model_id}
        if not foreign:
            return
        log.warning("re-encoding the database: stored vectors come from %s", sorted(foreign))
        passages, questions = self.store.all_texts()
        passage_vectors = encoder.encode([t for _, _, t in passages])
        question_vectors = encoder.encode([t for _, t in questions])
        self.store.reencode(
            encoder.model_id,
            {(a, p): v for (a, p, _), v in zip(passages, passage_vectors)},
            {q: v for (q, _), v in zip(questions, question_vectors)},
        )

    def switch_model(
        self, name: str, background: bool = True, encoder: Encoder | None = None, only_if_foreign: bool = False
    ) -> SwitchJob:
        """Re-embed everything with model `name` (or `encoder`) beside the live vectors and swap at once
        (see services/switch.py). Raises RuntimeError while another switch runs; loading errors raise here.
        `only_if_foreign`: stop as soon as every stored vector comes from `encoder` (another process
        sharing the database finished the same switch first)."""
        if self.switch_job is not None and self.switch_job.running:
            raise RuntimeError(f"a switch to {self.switch_job.name!r} is already running")
        encoder = encoder or create_encoder(name, self.settings.models_dir, backend=self.settings.backend)
        job = SwitchJob(name, encoder.model_id, only_if_foreign=only_if_foreign)
        self.switch_job = job
        if encoder.model_id == self.encoder.model_id:
            job.state, job.finished = "done", job.started
            return job
        batch = self.settings.reindex_batch_size
        if background:
            job.thread = threading.Thread(target=run_switch, args=(self, encoder, job, batch), name="model-switch", daemon=True)
            job.thread.start()
        else:
            run_switch(self, encoder, job, batch)
        return job

    def trained(self) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
        """(name, model card) of every model trained into the models folder."""
        return trained_models(self.settings.models_dir)

    def use(self, name: str, force: bool = False) -> SwitchJob:
        """Start switching to model `name` in the background; a trained model whose gate did not pass
        raises GateNotPassed unless `force` (see switch_model for the other errors)."""
        card = read_card(self.settings.models_dir, name)
        if card is not None and not (card.get("gate") or {}).get("passed", True) and not force:
            raise GateNotPassed(f"model {name!r} did not pass its gate ({card['gate'].get('reason')}); send force to switch anyway")
        return self.switch_model(name, background=True)

    def reembed(self, background: bool = True) -> SwitchJob | None:
        """Switch to the configured encoder when the stored vectors come from another one (see
        open_with_policy); None when there is nothing to do."""
        if self.pending_encoder is None:
            return None
        name, encoder = self.pending_encoder
        return self.switch_model(name, background=background, encoder=encoder, only_if_foreign=True)

    def reindex(self, batch_size: int | None = None, fresh: bool = False) -> SwitchJob:
        """Re-embed every passage and question with the current encoder and relink every question.

        A model switch to the same model: vectors are staged beside the live ones in batches, then
        swapped in with freshly computed links in one transaction, so readers never see a half-built
        index. After a crash the next reindex resumes from the staged batches (`fresh` discards them
        first). Raises RuntimeError when the run fails.
        """
        if fresh:
            self.store.discard_staged()
        # Opened on a previous encoder's vectors ("later"): re-embed with the configured one, as asked.
        name, encoder = self.pending_encoder or (self.model_name, self.encoder)
        job = SwitchJob(name, encoder.model_id)
        run_switch(self, encoder, job, batch=batch_size or self.settings.reindex_batch_size)
        if job.state != "done":
            raise RuntimeError(f"reindex failed: {job.error}")
        return job

    def use_encoder(self, encoder: Encoder, name: str) -> None:
        """Serve with another encoder whose vectors are now live (after a swap, here or in another process)."""
        if self.pending_encoder is not None and self.pending_encoder[1].model_id == encoder.model_id:
            self.pending_encoder = None
        self.model_name = name
        self.holder.encoder = encoder
        self.store.model_id = encoder.model_id
        self.set_calibrator(strict=False)
        self.holder.rebuild()

    def follow_live_model(self) -> None:
        """Another process switched the database's model: load that encoder before reading its vectors."""
        name, model_id = self.store.live_model()
        if not name or not model_id or model_id == self.encoder.model_id or self.store.stored_model_ids() != {model_id}:
            return
        log.warning("the database was switched to %s (%s): loading it", name, model_id)
        self.holder.encoder = create_encoder(name, self.settings.models_dir, backend=self.settings.backend)
        self.model_name = name
        self.store.model_id = self.encoder.model_id
        self.set_calibrator(strict=False)


def _encoder_of_stored_vectors(store: Store, configured: Encoder, settings: Settings, previous: Encoder | None) -> Encoder | None:
    """The encoder that made the stored vectors, when they are not the configured one's and it can be
    loaded; None otherwise (the caller then re-encodes at startup, as before)."""
    stored = store.stored_model_ids()
    if not stored or stored == {configured.model_id}:
        return None
    if len(stored) > 1:
        log.warning("stored vectors come from several encoders %s: re-encoding them all before serving", sorted(stored))
        return None
    (model_id,) = stored
    if previous is not None and previous.model_id == model_id:
        return previous
    from recommender.embedding.versions import EncoderUnavailable, load_encoder_of

    live_name, live_id = store.live_model()
    try:
        return load_encoder_of(model_id, settings.models_dir, name=live_name if live_id == model_id else None)
    except EncoderUnavailable as exc:
        log.warning("%s; re-encoding the whole database with %s before serving (no results until done)", exc, configured.model_id)
        return None


def _stored_model_name(store: Store, encoder: Encoder) -> str:
    from recommender.embedding.versions import parse_model_id

    live_name, live_id = store.live_model()
    return live_name if live_name and live_id == encoder.model_id else parse_model_id(encoder.model_id).name


def _live_model_name(settings: Settings) -> str | None:
    """The model a database was switched to, read without loading any model."""
    if not settings.database_url and not settings.db.exists():
        return None
    store = open_store(settings, model_id="-")
    try:
        return store.live_model()[0]
    finally:
        store.close()
