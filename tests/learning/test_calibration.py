"""Calibration as pure functions: fitting, the JSON artefact, thresholds, labelled examples."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from recommender.learning.calibration import (
    CalibrationError,
    Calibrator,
    Example,
    brier,
    examples_from_decisions,
    examples_from_key,
    expected_calibration_error,
    find_calibrator,
    fit,
    reliability,
    thresholds_for,
    training_examples,
)
from recommender.domain import Decision, LinkRow, QuestionRow


def noisy_data(n: int = 400, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0.2, 0.8, n)
    truth = 1 / (1 + np.exp(-(20 * scores - 10)))  # P(approved) rises steeply around 0.5
    return scores, (rng.uniform(size=n) < truth).astype(int)


@pytest.mark.parametrize("method", ["logistic", "isotonic"])
def test_a_fitted_calibrator_is_monotone_and_survives_json(method: str, tmp_path: Path) -> None:
    scores, labels = noisy_data()
    calibrator = fit(scores, labels, method, "m@1", "test")  # type: ignore[arg-type]
    grid = np.linspace(0, 1, 101)
    probs = calibrator.predict(grid)
    assert np.all(np.diff(probs) >= -1e-12) and probs.min() >= 0 and probs.max() <= 1
    assert calibrator.probability(0.25) < 0.2 < 0.8 < calibrator.probability(0.75)
    # better than guessing the base rate
    assert brier(calibrator.predict(scores), labels) < brier(np.full(len(labels), labels.mean()), labels)
    calibrator.save(tmp_path / "c.json")
    loaded = Calibrator.load(tmp_path / "c.json")
    assert np.allclose(loaded.predict(grid), probs)
    assert json.loads((tmp_path / "c.json").read_text())["format"] == 1


def test_score_for_inverts_the_calibrator() -> None:
    calibrator = Calibrator("logistic", "m@1", coef=20.0, intercept=-10.0)
    cut = calibrator.score_for(0.5)
    assert cut == pytest.approx(0.5, abs=1e-6)
    assert calibrator.probability(cut) >= 0.5 > calibrator.probability(cut - 1e-4)
    assert calibrator.score_for(0.0) == -math.inf
    assert calibrator.score_for(1.0) == math.inf
    steps = Calibrator("isotonic", "m@1", x=(0.3, 0.4, 0.6), y=(0.0, 0.5, 1.0))
    assert steps.score_for(0.5) == pytest.approx(0.4, abs=1e-6)


def test_thresholds_become_scores_and_raw_mode_keeps_the_gap_threshold() -> None:
    calibrator = Calibrator("logistic", "m@1", coef=20.0, intercept=-10.0)
    t = thresholds_for(calibrator, 0.5, 0.9, raw_gap=0.46)
    assert t.gap_score == pytest.approx(0.5, abs=1e-6)
    assert t.live_score == pytest.approx((math.log(9) + 10) / 20, abs=1e-6)
    assert t.review_probability == 0.5 and t.auto_probability == 0.9
    assert thresholds_for(calibrator, 0.9, 0.5, 0.46).live_score == thresholds_for(calibrator, 0.9, 0.5, 0.46).gap_score
    raw = thresholds_for(None, 0.5, 0.9, raw_gap=0.46)
    assert (raw.gap_score, raw.live_score, raw.review_probability) == (0.46, 0.46, None)


def test_fitting_needs_both_kinds_of_label() -> None:
    with pytest.raises(CalibrationError, match="approved and rejected"):
        fit([0.1, 0.9], [1, 1], "logistic", "m@1")
    with pytest.raises(CalibrationError, match="unknown calibration method"):
        fit([0.1, 0.9], [0, 1], "magic", "m@1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data, problem",
    [
        ({"format": 2, "method": "logistic", "model_id": "m"}, "format"),
        ({"format": 1, "method": "spline", "model_id": "m"}, "method"),
        ({"format": 1, "method": "isotonic", "model_id": "m", "x": [0.5, 0.1], "y": [0, 1]}, "ascend"),
        ({"format": 1, "method": "isotonic", "model_id": "m", "x": [0.1], "y": [2]}, "ascend"),
        ({"format": 1, "method": "logistic"}, "not a calibrator"),
    ],
)
def test_bad_calibrator_files_are_named(data: dict, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match=problem) as caught:
        Calibrator.load(path)
    assert str(path) in str(caught.value)


def test_brier_and_reliability_on_known_values() -> None:
    assert brier([1.0, 0.0], [1, 0]) == 0.0
    assert brier([0.5, 0.5], [1, 0]) == 0.25
    bins = reliability([0.05, 0.05, 0.95, 0.95], [0, 1, 1, 1], bins=10)
    assert [(b.count, b.observed) for b in bins] == [(2, 0.5), (2, 1.0)]
    assert expected_calibration_error(bins) == pytest.approx((2 * 0.45 + 2 * 0.05) / 4)


def test_the_right_calibrator_is_found(tmp_path: Path) -> None:
    models = tmp_path / "models"
    assert find_calibrator("auto", models, "mine", "mine@1") is None
    Calibrator("logistic", "other@9", coef=1).save(models / "calibration" / "mine.json")
    assert find_calibrator("auto", models, "mine", "mine@1") is None  # fitted on another encoder: skipped
    Calibrator("logistic", "mine@1", coef=2).save(models / "mine" / "calibration.json")
    for variant in ("+onnx", "+int8", "+int8row", "+int8row2"):  # every backend's scores of these weights
        assert find_calibrator("auto", models, "mine", f"mine@1{variant}").coef == 2  # type: ignore[union-attr]
    assert find_calibrator("auto", models, "mine", "mine@2+int8row2") is None  # other weights
    Calibrator("logistic", "mine@1", coef=3).save(models / "calibration" / "mine.json")
    assert find_calibrator("auto", models, "mine", "mine@1").coef == 3  # type: ignore[union-attr]
    assert find_calibrator("none", models, "mine", "mine@1") is None
    with pytest.raises(CalibrationError, match="fitted on mine@1"):
        find_calibrator(str(models / "calibration" / "mine.json"), models, "mine", "x@2")


def test_the_shipped_calibrator_fits_the_default_model() -> None:
    found = find_calibrator("auto", Path("/nonexistent"), "all-MiniLM-L6-v2", "all-MiniLM-L6-v2@4c6203507e0b")
    assert found is not None and found.probability(0.3) < 0.5 < found.probability(0.6)


def test_the_shipped_calibrator_fits_the_default_encoder(real_encoder) -> None:  # type: ignore[no-untyped-def]
    from recommender.config import Settings

    found = find_calibrator("auto", Path("/nonexistent"), Settings().model, real_encoder.model_id)
    assert found is not None, real_encoder.model_id  # on the default backend's vectors too


@dataclass
class FakeStatus:
    question: QuestionRow
    decision: Decision | None
    links: list[LinkRow]


def link(question: str, rank: int, article: str, score: float) -> LinkRow:
    return LinkRow(question, rank, article, score, score, 0.0, 0)


def test_examples_from_decisions() -> None:
    q = QuestionRow("a-q1", "a", 1, "text", "text")
    links = [link("a-q1", 0, "x", 0.7), link("a-q1", 1, "y", 0.6), link("a-q1", 2, "z", 0.5)]
    statuses = [
        FakeStatus(q, Decision("a", "text", approved="y", rejected=("x",)), links),
        FakeStatus(QuestionRow("b-q1", "b", 1, "t2", "t2"), Decision("b", "t2", pinned="far", target_score=0.3), []),
        FakeStatus(QuestionRow("c-q1", "c", 1, "t3", "t3"), Decision("c", "t3", gap=True, rejected=("x",)), [link("c-q1", 0, "x", 0.8), link("c-q1", 1, "w", 0.4)]),
        FakeStatus(QuestionRow("d-q1", "d", 1, "t4", "t4"), None, links),
        FakeStatus(QuestionRow("e-q1", "e", 1, "t5", "t5"), Decision("e", "t5", hidden=True), links),
    ]
    found = {(e.question_id, e.article_id): (e.score, e.label) for e in examples_from_decisions(statuses)}
    assert found == {
        ("a-q1", "y"): (0.6, 1),
        ("a-q1", "x"): (0.7, 0),
        ("b-q1", "far"): (0.3, 1),  # pinned outside the candidates: the score recorded when pinned
        ("c-q1", "x"): (0.8, 0),
        ("c-q1", "w"): (0.4, 0),  # a gap: the best candidate left is wrong too
    }


def test_the_answer_key_fills_in_when_decisions_are_few() -> None:
    links = {"q": [link("q", 0, "a", 0.7), link("q", 1, "b", 0.5)]}
    key = examples_from_key(links, {"q": {"a": 2, "b": 0}}, top_k=2)
    assert [(e.article_id, e.label, e.source) for e in key] == [("a", 1, "key"), ("b", 0, "key")]
    decisions = [Example("q", "a", 0.7, 0, "decision")]  # the editor disagrees with the key
    merged, source = training_examples(decisions, key, min_decisions=5)
    assert [(e.article_id, e.label) for e in merged] == [("a", 0), ("b", 0)]
    assert "1 editor decisions + 1 answer-key labels" == source
    enough = [Example("q", "a", 0.7, 0, "decision"), Example("r", "c", 0.9, 1, "decision")]
    assert training_examples(enough, key, min_decisions=2) == (enough, "2 editor decisions")
