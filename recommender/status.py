"""`recommender status`: what the database holds and whether its links are current, read-only.

Read from the store without opening the services: their startup re-encodes vectors of another model and
relinks pending questions, exactly the states a status check is there to report, not to change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from recommender.config import Settings
from recommender.editorial.review import coverage
from recommender.embedding.base import Encoder
from recommender.index.backend import create_backend
from recommender.index.ranker import RankerConfig
from recommender.index.snapshot import Snapshot
from recommender.learning.calibration import CalibrationError, Thresholds, find_calibrator, thresholds_for
from recommender.linking.linker import link_settings
from recommender.linking.verify import Verification, verify_links
from recommender.domain import EncoderMismatch, LinkRow, QuestionRow
from recommender.store.base import Store


def encoder_backend(encoder: Encoder, configured: str) -> str:
    """The runtime an encoder actually runs on (`auto` resolved; a test double by its class name)."""
    while type(encoder).__name__ == "AdaptedEncoder":  # an adapter runs on its base encoder's runtime
        encoder = encoder.base  # type: ignore[attr-defined]
    kind = type(encoder).__name__
    if kind == "OnnxEncoder":
        return configured if configured in ("onnx", "onnx-int8") else "onnx"
    if kind == "SentenceTransformerEncoder":
        return "torch"
    return kind


def model_name(settings: Settings, store: Store) -> str:
    """The model a server would load: an explicit RECOMMENDER_MODEL, else the one the database was
    switched to, else the default (as the models service's open policy decides)."""
    if "model" in settings.model_fields_set:
        return settings.model
    return store.live_model()[0] or settings.model


@dataclass(frozen=True)
class EncoderStatus:
    model: str
    model_id: str | None  # None when the configured encoder cannot be loaded here (see error)
    backend: str | None
    error: str | None = None


@dataclass(frozen=True)
class DatabaseStatus:
    database: dict[str, str]  # backend (sqlite or postgres) and location (file, or URL without password)
    encoder: EncoderStatus
    stored_model_ids: list[str]
    counts: dict[str, int]  # articles, questions, passages, links
    questions: dict[str, int]  # answered, gaps, hidden, waiting_review
    queues: dict[str, int]  # review_unreviewed, articles_pending, questions_to_link, staged_vectors
    index: dict[str, Any]  # generation, changed_at, age_seconds, last_ingest_at
    verification: dict[str, int]  # questions, checked, links_differ, answers_differ ({} when not run)
    stale_reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        return bool(self.stale_reasons)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["stale"] = self.stale
        return data


def collect_status(
    settings: Settings,
    store: Store,
    location: str,
    encoder: Encoder | None,
    encoder_error: str | None = None,
    now: dt.datetime | None = None,
    verify: int | None = None,
) -> DatabaseStatus:
    """Everything `recommender status` shows. `encoder`: the configured one (None if it failed to load).

    `verify`: recompute the links of that many questions (a seeded sample) and report differences."""
    from recommender.editorial.statuses import question_statuses

    now = now or dt.datetime.now(dt.UTC)
    name = model_name(settings, store)
    stored = sorted(store.stored_model_ids())
    model_id = encoder.model_id if encoder is not None else (stored[0] if len(stored) == 1 else None)
    notes: list[str] = []
    with store.consistent_read():
        counts = store.counts()
        generation = store.generation()
        activity = store.activity()
        pending_articles = len(store.pending_articles())
        questions = [q for q, _ in store.best_links()]
        rows = store.article_rows(sorted(store.content_hashes()))
        thresholds = served_thresholds(settings, name, model_id, notes)
        dates = {article_id: row.checked_on for article_id, row in rows.items()}
        found = coverage(question_statuses(store, questions, thresholds, settings.freshness_margin, dates))
    links: dict[str, int] = {}
    if verify is not None and encoder is not None:
        checked = verify_database(settings, store, encoder, thresholds, sample=verify)
        links = {k: getattr(checked, k) for k in ("questions", "checked", "links_differ", "answers_differ")}

    stale: list[str] = []
    if counts["pending"]:
        stale.append(f"{counts['pending']} questions waiting to be linked")
    if pending_articles:
        stale.append(f"{pending_articles} articles whose relinking did not complete (an interrupted ingest)")
    if links.get("links_differ") or links.get("answers_differ"):
        stale.append(
            f"{links['links_differ']} of {links['checked']} questions checked have links that differ from a "
            f"recomputation ({links['answers_differ']} shown answers; `recommender verify` lists them)"
        )
    recorded = store.link_settings()
    if recorded != link_settings(RankerConfig.of(settings), settings.candidates) and counts["links"]:
        stale.append(
            "links computed under other ranking settings than the configured ones (relinked at the next start, "
            "or by `recommender relink`)" if recorded else "links stored by a version that did not record its "
            "ranking settings (relinked at the next start, or by `recommender relink`)"
        )
    foreign = [m for m in stored if m != model_id] if model_id else []
    if foreign:
        stale.append(f"vectors from {', '.join(foreign)}, not the configured encoder {model_id} (re-encoded at the next start)")
    if activity.staged:
        notes.append(f"{activity.staged} vectors staged by a model switch or reindex in progress or interrupted")

    age = None
    if activity.index_changed_at:
        age = round((now - dt.datetime.fromisoformat(activity.index_changed_at)).total_seconds(), 1)
    return DatabaseStatus(
        database={"backend": "postgres" if settings.database_url else "sqlite", "location": location},
        encoder=EncoderStatus(
            name,
            encoder.model_id if encoder is not None else None,
            encoder_backend(encoder, settings.backend) if encoder is not None else None,
            encoder_error,
        ),
        stored_model_ids=stored,
        counts={k: counts[k] for k in ("articles", "questions", "passages", "links")},
        questions={"answered": found.answered, "gaps": found.gaps, "hidden": found.hidden, "waiting_review": found.pending},
        queues={
            "review_unreviewed": found.unreviewed,
            "articles_pending": pending_articles,
            "questions_to_link": counts["pending"],
            "staged_vectors": activity.staged,
        },
        index={
            "generation": generation,
            "changed_at": activity.index_changed_at,
            "age_seconds": age,
            "last_ingest_at": activity.last_ingest_at,
        },
        verification=links,
        stale_reasons=stale,
        notes=notes,
    )


def served_thresholds(settings: Settings, name: str, model_id: str | None, notes: list[str]) -> Thresholds:
    """The thresholds a server on this database would use (calibrated when a calibrator fits)."""
    calibrator = None
    if model_id is not None:
        try:
            calibrator = find_calibrator(settings.calibration, settings.models_dir, name, model_id)
        except CalibrationError as exc:
            notes.append(f"calibrator: {exc} (the service would not start; counted with raw scores)")
    return thresholds_for(calibrator, settings.review_threshold, settings.auto_approve_threshold, settings.gap_threshold)


def verify_database(
    settings: Settings,
    store: Store,
    encoder: Encoder,
    thresholds: Thresholds,
    sample: int | None = None,
    examples: int = 5,
) -> Verification:
    """Stored links against a recomputation over the stored vectors, without opening the services (whose startup
    would relink what is pending first: the very state to report). Only the encoder's size is used."""
    from recommender.editorial.statuses import question_statuses

    stored = store.stored_model_ids()
    if len(stored) > 1:
        raise EncoderMismatch(f"the database holds vectors of {sorted(stored)}: re-encode it before verifying")
    store.model_id = next(iter(stored), encoder.model_id)  # the vectors are read as they are, whichever model
    # Ranked by the backend the service ranks with (PostgreSQL's rescoring is float32, the in-memory
    # index int8): a recomputation on another backend would differ within the quantisation error.
    backend = create_backend(settings, store)
    snapshot = Snapshot.build(backend.load(store), encoder, RankerConfig.of(settings), backend)

    def shown(questions: Sequence[QuestionRow], links: Mapping[str, list[LinkRow]]) -> dict[str, str | None]:
        statuses = question_statuses(store, questions, thresholds, settings.freshness_margin, snapshot.checked_on, dict(links))
        return {s.question.id: s.effective.answer.link.article_id if s.effective.answer else None for s in statuses}

    return verify_links(snapshot, store.links_of, shown, settings.candidates, sample, examples=examples)


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit} ago"
    return f"{seconds:.0f}s ago"


def format_status(status: DatabaseStatus) -> str:
    """The human-readable report."""
    enc = status.encoder
    encoder = f"{enc.model} ({enc.model_id}, {enc.backend})" if enc.model_id else f"{enc.model} (cannot load: {enc.error})"
    c, q, queues, index = status.counts, status.questions, status.queues, status.index
    lines = [
        f"database   {status.database['backend']} {status.database['location']}",
        f"encoder    {encoder}",
        f"vectors    {', '.join(status.stored_model_ids) or 'none yet'}",
        f"counts     {c['articles']} articles, {c['questions']} questions, {c['passages']} passages, {c['links']} links",
        f"questions  {q['answered']} answered, {q['gaps']} gaps, {q['hidden']} hidden, {q['waiting_review']} waiting for review",
        f"index      generation {index['generation']}, changed {index['changed_at'] or 'never recorded'} "
        f"({_ago(index['age_seconds'])}); last ingest {index['last_ingest_at'] or 'never'}",
        f"queues     {queues['review_unreviewed']} suggestions to review, {queues['articles_pending']} articles pending, "
        f"{queues['questions_to_link']} questions to link, {queues['staged_vectors']} vectors staged",
        "links      " + ("STALE: " + "; ".join(status.stale_reasons) if status.stale else "current"),
    ]
    if status.verification:
        v = status.verification
        lines.append(
            f"verified   {v['checked']} of {v['questions']} questions recomputed: {v['links_differ']} differ, "
            f"{v['answers_differ']} shown answers differ"
        )
    lines += [f"note       {note}" for note in status.notes]
    return "\n".join(lines)
