"""Switching the live encoder without a pause: re-embed beside the live vectors, then swap at once.

1. stage: every passage and question is encoded by the new model into staging rows, in batches,
   newest articles first (checked_on, then last update: the ones readers see most), while the old
   vectors keep serving (ingest goes on with the old model meanwhile);
2. catch up: whatever changed during staging is staged too;
3. swap: under the index's write lock, links are computed from the staged vectors and moved in
   with them in one store transaction (`swap_model`); the models service then swaps encoder, calibrator
   and index reference. Editors' decisions are keyed apart and never touched.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from typing import Literal, Protocol

from recommender.config import Settings
from recommender.embedding.base import Encoder
from recommender.index.holder import IndexHolder
from recommender.store.base import Store
from recommender.domain import StaleStage

log = logging.getLogger(__name__)
State = Literal["staging", "swapping", "done", "failed"]


class Switchable(Protocol):
    """What a switch works on (the models service): the store, the index, and serving the new encoder."""

    settings: Settings
    store: Store
    holder: IndexHolder

    def use_encoder(self, encoder: Encoder, name: str) -> None: ...


@dataclass
class SwitchJob:
    """Progress of one model switch (read by `GET /v1/models`)."""

    name: str
    model_id: str = ""
    state: State = "staging"
    done: int = 0
    total: int = 0
    error: str | None = None
    started: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    finished: str | None = None
    # A re-embedding after a configuration change: done once every stored vector is the new encoder's,
    # also when another process sharing the database made it so (no second pass over everything).
    only_if_foreign: bool = False
    thread: threading.Thread | None = field(default=None, repr=False, compare=False)

    @property
    def running(self) -> bool:
        return self.state in ("staging", "swapping")

    def wait(self, timeout: float | None = None) -> SwitchJob:
        if self.thread is not None:
            self.thread.join(timeout)
        return self


def _stage(models: Switchable, encoder: Encoder, job: SwitchJob, batch: int) -> int:
    """Stage vectors for every row that has none for its current text; returns how many were staged."""
    store = models.store
    passages, questions = store.unstaged_texts(encoder.model_id)
    job.total = job.done + len(passages) + len(questions)
    for start in range(0, len(passages), batch):
        chunk = passages[start : start + batch]
        vectors = encoder.encode([t for _, _, t in chunk])
        store.stage_vectors(encoder.model_id, [(a, p, t, v) for (a, p, t), v in zip(chunk, vectors)], [])
        job.done += len(chunk)
    for start in range(0, len(questions), batch):
        chunk_q = questions[start : start + batch]
        vectors = encoder.encode([t for _, t in chunk_q])
        store.stage_vectors(encoder.model_id, [], [(q, t, v) for (q, t), v in zip(chunk_q, vectors)])
        job.done += len(chunk_q)
    return len(passages) + len(questions)


def _done_elsewhere(models: Switchable, encoder: Encoder, job: SwitchJob) -> bool:
    """Another process swapped this encoder in already: serve with it and end the job."""
    if not job.only_if_foreign or models.store.stored_model_ids() != {encoder.model_id}:
        return False
    log.info("the database already holds %s vectors only: switch done elsewhere", encoder.model_id)
    models.store.discard_staged()
    models.use_encoder(encoder, job.name)
    job.state = "done"
    return True


def run_switch(models: Switchable, encoder: Encoder, job: SwitchJob, batch: int = 256, attempts: int = 5) -> None:
    """Stage, catch up and swap (see the module docstring); records the outcome in `job`."""
    from recommender.index.snapshot import Snapshot
    from recommender.linking.linker import compute_links

    job.model_id = encoder.model_id
    try:
        if _done_elsewhere(models, encoder, job):
            return
        _stage(models, encoder, job, batch)
        for attempt in range(attempts):
            with models.holder.write_lock:  # no in-process write between the last catch-up and the swap
                if _done_elsewhere(models, encoder, job):
                    return
                job.state = "swapping"
                # Catch-up: rows written during staging (with the old encoder) are staged now, under the
                # lock, so no edit of this process is lost; another process's edit fails the swap below.
                _stage(models, encoder, job, batch)
                try:
                    data = models.store.load_staged_index(encoder.model_id)
                    snapshot = Snapshot.build(data, encoder, models.holder.ranker_config)
                    links = compute_links(snapshot, [q.id for q in snapshot.questions], models.settings.candidates)
                    models.store.swap_model(encoder.model_id, job.name, links, data.generation)
                except StaleStage as exc:  # another process wrote meanwhile: stage that too, try again
                    log.info("model switch to %s: %s (attempt %d)", job.name, exc, attempt + 1)
                    job.state = "staging"
                    continue
                models.use_encoder(encoder, job.name)
            job.state = "done"
            return
        raise StaleStage(f"the database kept changing; gave up after {attempts} attempts")
    except Exception as exc:  # noqa: BLE001 - a background job reports, it does not raise
        log.exception("model switch to %s failed", job.name)
        job.state = "failed"
        job.error = str(exc)
        try:
            models.store.discard_staged()
        except Exception:  # noqa: BLE001
            log.exception("could not discard staged vectors")
    finally:
        job.finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
