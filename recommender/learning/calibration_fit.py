"""Fitting the live model's calibrator from editors' decisions and an answer key: what `recommender
calibrate` does between reading the database and printing, as a function of records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from recommender.config import Settings
from recommender.learning.calibration import (
    Calibrator,
    Method,
    DecidedQuestion,
    brier,
    examples_from_decisions,
    examples_from_key,
    fit,
    training_examples,
)
from recommender.domain import LinkRow


@dataclass(frozen=True)
class FittedCalibration:
    calibrator: Calibrator
    source: str  # what it learnt from, e.g. "3 editor decisions + 40 answer-key labels"
    brier: float  # in sample: how well it fits what it saw, not how it generalises
    review_score: float  # the score at the review probability (RECOMMENDER_REVIEW_THRESHOLD): below it a gap
    live_score: float  # the score at the auto-approve probability: from it a link goes live


def ranking_of(settings: Settings) -> dict[str, object]:
    """The ranking settings the scores come from: a calibrator is only valid for these."""
    return {
        "method": settings.method,
        "dense_weight": settings.dense_weight,
        "lexical_saturation": settings.lexical_saturation,
        "proximity_window": settings.proximity_window,
        "proximity_weight": settings.proximity_weight,
    }


def fit_calibration(
    statuses: Sequence[DecidedQuestion],
    key_links: Mapping[str, Sequence[LinkRow]],
    qrels: Mapping[str, Mapping[str, int]],
    method: Method,
    model_id: str,
    settings: Settings,
) -> FittedCalibration:
    """Fit on editors' decisions, filled in from the answer key (`qrels`, judged on the stored
    candidates `key_links`) when there are fewer than RECOMMENDER_CALIBRATION_MIN_DECISIONS.

    Raises CalibrationError when approved or rejected links are missing."""
    decided = examples_from_decisions(statuses)
    from_key = examples_from_key(key_links, qrels, settings.top_k)
    examples, source = training_examples(decided, from_key, settings.calibration_min_decisions)
    scores = [e.score for e in examples]
    labels = [e.label for e in examples]
    calibrator = fit(scores, labels, method, model_id, source, ranking_of(settings))
    return FittedCalibration(
        calibrator,
        source,
        brier(calibrator.predict(scores), labels),
        calibrator.score_for(settings.review_threshold),
        calibrator.score_for(settings.auto_approve_threshold),
    )
