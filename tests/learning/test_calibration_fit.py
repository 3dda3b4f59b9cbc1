"""learning/calibration_fit.py: `recommender calibrate`'s fitting as a function of records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from recommender.config import Settings
from recommender.learning.calibration import CalibrationError, brier
from recommender.learning.calibration_fit import fit_calibration, ranking_of
from recommender.domain import Decision, LinkRow, QuestionRow


@dataclass(frozen=True)
class FakeStatus:
    question: QuestionRow
    decision: Decision | None
    links: list[LinkRow]


def decided(n: int, seed: int = 3) -> list[FakeStatus]:
    """n questions with one candidate each, approved more often the higher it scores."""
    rng = np.random.default_rng(seed)
    out = []
    for i, score in enumerate(rng.uniform(0.2, 0.8, n)):
        approved = rng.uniform() < 1 / (1 + np.exp(-(20 * score - 10)))
        question = QuestionRow(f"q{i}", f"a{i}", 1, f"text {i}", f"text {i}")
        decision = Decision(f"a{i}", f"text {i}", approved="x") if approved else Decision(f"a{i}", f"text {i}", rejected=("x",))
        out.append(FakeStatus(question, decision, [LinkRow(f"q{i}", 0, "x", float(score), float(score), 0.0, 0)]))
    return out


def key_of(n: int) -> tuple[dict[str, list[LinkRow]], dict[str, dict[str, int]]]:
    links = {f"k{i}": [LinkRow(f"k{i}", 0, "good", 0.5 + i / (2 * n), 0.0, 0.0, 0), LinkRow(f"k{i}", 1, "bad", 0.3, 0.0, 0.0, 0)] for i in range(n)}
    return links, {question: {"good": 1} for question in links}


def test_enough_decisions_fit_alone_and_the_cut_scores_match_the_probabilities() -> None:
    settings = Settings(calibration_min_decisions=50, review_threshold=0.5, auto_approve_threshold=0.9)
    statuses = decided(300)
    links, qrels = key_of(20)
    fitted = fit_calibration(statuses, links, qrels, "logistic", "m@1", settings)
    assert fitted.source == "300 editor decisions"  # the key is only a stand-in for editors
    assert fitted.calibrator.model_id == "m@1" and fitted.calibrator.ranking == ranking_of(settings)
    assert fitted.calibrator.examples == 300
    scores = [s.links[0].score for s in statuses]
    labels = [int(s.decision.approved is not None) for s in statuses]  # type: ignore[union-attr]
    assert fitted.brier == pytest.approx(brier(fitted.calibrator.predict(scores), labels))
    assert fitted.brier < brier(np.full(len(labels), np.mean(labels)), labels)  # better than the base rate
    assert fitted.review_score == pytest.approx(0.5, abs=0.05)  # P(approved) = 0.5 at 20*s - 10 = 0
    assert fitted.review_score < fitted.live_score
    assert fitted.calibrator.probability(fitted.live_score) >= 0.9 > fitted.calibrator.probability(fitted.live_score - 1e-3)


def test_the_answer_key_fills_in_when_decisions_are_few() -> None:
    settings = Settings(calibration_min_decisions=50)
    links, qrels = key_of(20)
    fitted = fit_calibration(decided(5), links, qrels, "isotonic", "m@1", settings.model_copy(update={"top_k": 2}))
    assert fitted.source == "5 editor decisions + 40 answer-key labels"  # top 2 of 20 judged questions
    assert fitted.calibrator.method == "isotonic" and fitted.calibrator.examples == 45
    one = fit_calibration(decided(5), links, qrels, "isotonic", "m@1", settings.model_copy(update={"top_k": 1}))
    assert one.source == "5 editor decisions + 20 answer-key labels"


def test_only_approvals_cannot_be_fitted() -> None:
    approvals = [s for s in decided(100) if s.decision and s.decision.approved]
    with pytest.raises(CalibrationError, match="approved and rejected"):
        fit_calibration(approvals, {}, {}, "logistic", "m@1", Settings(calibration_min_decisions=2))
