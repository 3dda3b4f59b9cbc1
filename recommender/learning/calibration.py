"""Calibrated confidence: the probability that an editor approves a link, from its raw score.

A calibrator is fitted with scikit-learn (isotonic or logistic regression on (score, approved?)
pairs) and saved as a small JSON artefact; serving evaluates it with numpy alone. Both kinds are
monotone in the score, so a probability threshold is also a score threshold (`score_for`): the
the service decides gaps and live links on raw scores, with no per-request model call.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from recommender.domain import Decision, LinkRow, QuestionRow

log = logging.getLogger(__name__)

Method = Literal["isotonic", "logistic"]
METHODS: tuple[str, ...] = ("isotonic", "logistic")
PACKAGED = Path(__file__).with_name("calibrators")  # calibrators shipped with the code (default model)
FORMAT = 1


class CalibrationError(ValueError):
    """A calibrator file that cannot be used, or training data that cannot fit one."""


@dataclass(frozen=True)
class Calibrator:
    """score -> probability of approval. isotonic: piecewise-linear through (x, y), clipped at the
    ends (scikit-learn's IsotonicRegression); logistic: 1 / (1 + exp(-(coef*score + intercept)))."""

    method: Method
    model_id: str  # the encoder whose scores it was fitted on
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    coef: float = 0.0
    intercept: float = 0.0
    source: str = ""  # what it was fitted on (decisions, answer key, benchmark)
    examples: int = 0
    positives: int = 0
    ranking: dict[str, object] = field(default_factory=dict)  # method and fusion weights the scores came from
    created: str = ""

    def predict(self, scores: Sequence[float] | np.ndarray) -> np.ndarray:
        values = np.asarray(scores, dtype=np.float64)
        if self.method == "isotonic":
            if not self.x:
                return np.full(values.shape, 0.0)
            return np.interp(values, np.asarray(self.x), np.asarray(self.y))
        return 1.0 / (1.0 + np.exp(-(self.coef * values + self.intercept)))

    def probability(self, score: float) -> float:
        return float(self.predict([score])[0])

    def score_for(self, probability: float, low: float = -1.0, high: float = 1.0) -> float:
        """The smallest score whose probability reaches `probability` (the calibrator is monotone):
        -inf when every score does, +inf when none does."""
        if self.probability(low) >= probability:
            return -math.inf
        if self.probability(high) < probability:
            return math.inf
        for _ in range(60):  # bisection: 2^-60 of the score range is far below float noise
            middle = (low + high) / 2
            if self.probability(middle) >= probability:
                high = middle
            else:
                low = middle
        return high

    def fits(self, model_id: str) -> bool:
        """Fitted on this encoder's scores. ONNX exports add +onnx/+int8 to the torch model's id;
        their scores differ by about 0.01, far below what calibration resolves."""
        return _base_id(self.model_id) == _base_id(model_id)

    def to_json(self) -> dict[str, object]:
        return {"format": FORMAT, **asdict(self)}

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_suffix(".json.new")
        staging.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        staging.replace(path)  # atomic: a reader sees the old or the new file, never half of one

    @classmethod
    def from_json(cls, data: Mapping[str, object], where: str = "calibrator") -> Calibrator:
        try:
            if data.get("format") != FORMAT:
                raise CalibrationError(f"{where}: format {data.get('format')!r}, expected {FORMAT}")
            method = data["method"]
            if method not in METHODS:
                raise CalibrationError(f"{where}: method {method!r}, expected one of {', '.join(METHODS)}")
            x = tuple(float(v) for v in data.get("x", ()))  # type: ignore[union-attr]
            y = tuple(float(v) for v in data.get("y", ()))  # type: ignore[union-attr]
            if len(x) != len(y) or any(b < a for a, b in zip(x, x[1:])) or any(not 0 <= v <= 1 for v in y):
                raise CalibrationError(f"{where}: x must ascend, y lie in [0, 1], and both have one value per point")
            return cls(
                method=method,  # type: ignore[arg-type]
                model_id=str(data["model_id"]),
                x=x,
                y=y,
                coef=float(data.get("coef", 0.0)),  # type: ignore[arg-type]
                intercept=float(data.get("intercept", 0.0)),  # type: ignore[arg-type]
                source=str(data.get("source", "")),
                examples=int(data.get("examples", 0)),  # type: ignore[call-overload]
                positives=int(data.get("positives", 0)),  # type: ignore[call-overload]
                ranking=dict(data.get("ranking", {})),  # type: ignore[call-overload]
                created=str(data.get("created", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, CalibrationError):
                raise
            raise CalibrationError(f"{where}: not a calibrator ({exc})") from None

    @classmethod
    def load(cls, path: Path) -> Calibrator:
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CalibrationError(f"{path}: cannot read a calibrator ({exc})") from None
        if not isinstance(data, dict):
            raise CalibrationError(f"{path}: not a calibrator (expected a JSON object)")
        return cls.from_json(data, str(path))


def _base_id(model_id: str) -> str:
    """The id without its backend variant (NAME@WEIGHTS[+VARIANT], embedding/versions.py)."""
    return re.sub(r"\+[A-Za-z0-9]+$", "", model_id)


# -- examples ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    """One labelled link: would an editor approve linking the question to the fact check?"""

    question_id: str
    article_id: str
    score: float
    label: int  # 1: approved (or relevant in an answer key), 0: rejected (or not relevant)
    source: str  # "decision" or "key"


class DecidedQuestion(Protocol):
    """What calibration reads of a question's status (editorial.statuses.QuestionStatus has it; learning
    sits below editorial, so it names the fields instead of importing the class)."""

    question: QuestionRow
    decision: Decision | None
    links: list[LinkRow]


def examples_from_decisions(statuses: Sequence[DecidedQuestion]) -> list[Example]:
    """Editors' verdicts on links: approved and pinned fact checks are positives (at the score the
    model gave them), rejected candidates negatives; a question marked a gap makes its best
    remaining candidate a negative. Hidden questions and undecided ones teach nothing."""
    out: list[Example] = []
    for status in statuses:
        decision = status.decision
        if decision is None:
            continue
        question, links = status.question, status.links
        by_article = {link.article_id: link for link in links}
        target = decision.target
        if target is not None:
            score = by_article[target].score if target in by_article else decision.target_score
            if score is not None and math.isfinite(score):
                out.append(Example(question.id, target, float(score), 1, "decision"))
        for rejected in decision.rejected:
            if rejected in by_article:
                out.append(Example(question.id, rejected, by_article[rejected].score, 0, "decision"))
        if decision.gap and target is None:
            remaining = [link for link in links if link.article_id not in decision.rejected]
            if remaining:
                out.append(Example(question.id, remaining[0].article_id, remaining[0].score, 0, "decision"))
    return out


def examples_from_key(
    links: Mapping[str, Sequence[LinkRow]], qrels: Mapping[str, Mapping[str, int]], top_k: int = 3
) -> list[Example]:
    """An answer key as editors' verdicts on the top `top_k` candidates of each judged question:
    relevant (grade > 0) is approved, anything else rejected."""
    out = []
    for question_id, judged in qrels.items():
        for link in list(links.get(question_id, ()))[:top_k]:
            out.append(Example(question_id, link.article_id, link.score, int(judged.get(link.article_id, 0) > 0), "key"))
    return out


def training_examples(
    decisions: Sequence[Example], key: Sequence[Example], min_decisions: int
) -> tuple[list[Example], str]:
    """Editors' decisions when there are enough of both kinds, else decisions plus the answer key.

    A decision outranks the key's verdict on the same link (the key is only a stand-in for editors).
    """
    labels = {e.label for e in decisions}
    if len(decisions) >= min_decisions and labels == {0, 1}:
        return list(decisions), f"{len(decisions)} editor decisions"
    decided = {(e.question_id, e.article_id) for e in decisions}
    merged = list(decisions) + [e for e in key if (e.question_id, e.article_id) not in decided]
    return merged, f"{len(decisions)} editor decisions + {len(merged) - len(decisions)} answer-key labels"


# -- fitting (scikit-learn, imported here only) ---------------------------------------------------
def fit(
    scores: Sequence[float],
    labels: Sequence[int],
    method: Method,
    model_id: str,
    source: str = "",
    ranking: Mapping[str, object] | None = None,
) -> Calibrator:
    """Fit a calibrator; needs positive and negative examples."""
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if method not in METHODS:
        raise CalibrationError(f"unknown calibration method {method!r}; expected one of {', '.join(METHODS)}")
    if len(x) < 2 or len(set(y.tolist())) < 2:
        raise CalibrationError(
            f"calibration needs approved and rejected links; got {int(y.sum())} approved of {len(y)}"
        )
    common = dict(
        model_id=model_id,
        source=source,
        examples=len(x),
        positives=int(y.sum()),
        ranking=dict(ranking or {}),
        created=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(x, y)
        return Calibrator(
            "isotonic",
            x=tuple(float(v) for v in model.X_thresholds_),
            y=tuple(float(v) for v in model.y_thresholds_),
            **common,  # type: ignore[arg-type]
        )
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=100.0).fit(x.reshape(-1, 1), y)  # weak regularisation: one feature
    return Calibrator("logistic", coef=float(model.coef_[0, 0]), intercept=float(model.intercept_[0]), **common)  # type: ignore[arg-type]


def out_of_fold(
    scores: Sequence[float], labels: Sequence[int], groups: Sequence[str], method: Method, folds: int = 5, seed: int = 13
) -> np.ndarray:
    """Probabilities for every example from a calibrator that never saw its group (question):
    an honest estimate of calibration quality on unseen questions."""
    from sklearn.model_selection import GroupKFold

    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    out = np.zeros(len(x))
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(x, y, np.asarray(groups)):
        out[test] = fit(x[train], y[train], method, "cv").predict(x[test])
    return out


def brier(probabilities: Sequence[float], labels: Sequence[int]) -> float:
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    return float(np.mean((p - y) ** 2)) if len(p) else float("nan")


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    mean_predicted: float
    observed: float  # share of positives


def reliability(probabilities: Sequence[float], labels: Sequence[int], bins: int = 10) -> list[ReliabilityBin]:
    """Predicted vs observed approval rate in equal-width probability bins (empty bins left out)."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    index = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            out.append(ReliabilityBin(b / bins, (b + 1) / bins, int(mask.sum()), float(p[mask].mean()), float(y[mask].mean())))
    return out


def expected_calibration_error(bins: Sequence[ReliabilityBin]) -> float:
    total = sum(b.count for b in bins)
    return sum(b.count * abs(b.mean_predicted - b.observed) for b in bins) / total if total else float("nan")


# -- which calibrator serves -----------------------------------------------------------------------
def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def calibrator_path(models_dir: Path, model: str) -> Path:
    """Where `recommender calibrate` writes the calibrator of a model."""
    return models_dir / "calibration" / f"{_safe(model)}.json"


def find_calibrator(setting: str, models_dir: Path, model: str, model_id: str) -> Calibrator | None:
    """The calibrator the service uses (see Settings.calibration), or None for raw scores.

    auto: models/calibration/<model>.json (from `recommender calibrate`), then models/<model>/calibration.json
    (written by `recommender train`), then the one shipped for the default model; a file that was
    fitted on another encoder is skipped with a warning. A path: that file, which must fit.
    """
    if setting == "none":
        return None
    if setting != "auto":
        found = Calibrator.load(Path(setting))
        if not found.fits(model_id):
            raise CalibrationError(f"{setting}: fitted on {found.model_id}, but the encoder is {model_id}")
        return found
    for path in (calibrator_path(models_dir, model), models_dir / model / "calibration.json", PACKAGED / f"{_safe(model)}.json"):
        if not path.is_file():
            continue
        try:
            found = Calibrator.load(path)
        except CalibrationError as exc:
            log.warning("ignoring calibrator: %s", exc)
            continue
        if found.fits(model_id):
            return found
        log.warning("ignoring calibrator %s: fitted on %s, the encoder is %s", path, found.model_id, model_id)
    return None


@dataclass(frozen=True)
class Thresholds:
    """Probability thresholds as raw-score thresholds (the calibrator is monotone).

    Best score below `gap_score`: a gap; from `live_score`: live unreviewed; between: waits for review.
    """

    gap_score: float
    live_score: float
    review_probability: float | None = None  # None: no calibrator (raw scores)
    auto_probability: float | None = None


def thresholds_for(calibrator: Calibrator | None, review: float, auto: float, raw_gap: float) -> Thresholds:
    """Without a calibrator the raw `gap_threshold` decides and every answered question goes live."""
    if calibrator is None:
        return Thresholds(raw_gap, raw_gap)
    gap = calibrator.score_for(review)
    return Thresholds(gap, max(gap, calibrator.score_for(auto)), review, auto)
