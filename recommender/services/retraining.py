"""`recommender train --from-decisions`: fine-tune the encoder on what editors decided.

Approved and pinned links are positives, the links editors rejected are hard negatives (the
model's best wrong candidate when there is none); benchmark train pairs can be added. A seeded
share of the decided questions is held out: the model card reports the held-out decisions and
the benchmark's dev split before and after, and a gate says whether the new model is at least
as good as the live one on held-out data. Only a model that passed may replace the live one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from recommender.embedding.factory import create_encoder
from recommender.embedding.registry import resolve_model
from recommender.evaluation.benchmark import QueryRecord, load_qrels, load_queries
from recommender.evaluation.runner import evaluate, ranker_config
from recommender.index.builder import Document, build_ranker
from recommender.index.ranker import Ranker
from recommender.learning.calibration import CalibrationError, Example, examples_from_key, fit, training_examples
from recommender.domain import LinkRow
from recommender.training.examples import Triplet, mine_triplets, split_queries
from recommender.training.finetune import ModelCard, TrainConfig, now, train_encoder

if TYPE_CHECKING:
    from recommender.services import Services

log = logging.getLogger(__name__)
GATE_METRIC = "map@5"


class NotEnoughDecisions(ValueError):
    pass


@dataclass
class DecisionSet:
    """Decided questions as a benchmark: the approved (or pinned) fact check is the relevant one."""

    queries: list[QueryRecord] = field(default_factory=list)
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)
    rejected: dict[str, list[str]] = field(default_factory=dict)

    @property
    def rejections(self) -> int:
        return sum(len(v) for v in self.rejected.values())


def decision_set(services: Services) -> DecisionSet:
    out = DecisionSet()
    for status in services.reading.statuses():
        decision = status.decision
        if decision is None or decision.target is None:
            continue
        question = status.question
        out.queries.append(QueryRecord(question.id, question.text, (question.article_id,)))
        out.qrels[question.id] = {decision.target: 1}
        out.rejected[question.id] = list(decision.rejected)
    return out


def store_documents(services: Services) -> list[Document]:
    """The store's fact checks as rankable documents, passages as stored (same order as the index)."""
    data = services.store.load_index()
    passages: dict[str, list[str]] = {}
    for article_id, _, text in services.store.all_texts()[0]:
        passages.setdefault(article_id, []).append(text)
    return [
        Document(a.id, a.title, text, tuple(passages.get(a.id, ())) or (a.title,)) for a, text in zip(data.articles, data.texts)
    ]


def _measure(ranker: Ranker, sets: Mapping[str, tuple[Sequence[QueryRecord], Mapping]], prefix: str, into: dict) -> None:  # type: ignore[type-arg]
    for label, (queries, qrels) in sets.items():
        if not queries:
            continue
        metrics = evaluate(ranker, queries, qrels).metrics
        into.setdefault(label, {}).update({f"{prefix}:{k}": float(v) for k, v in metrics.items() if k != "queries"})
        into[label]["queries"] = float(metrics["queries"])


def gate(metrics: Mapping[str, Mapping[str, float]], labels: Sequence[str]) -> dict[str, object]:
    """Passed when every held-out set that was measured is at least as good after as before (MAP@5)."""
    measured = [label for label in labels if label in metrics and f"after:{GATE_METRIC}" in metrics[label]]
    if not measured:
        return {"passed": False, "reason": "no held-out data to judge the new model on"}
    worse = [
        f"{label}: {GATE_METRIC} {metrics[label][f'before:{GATE_METRIC}']:.4f} -> {metrics[label][f'after:{GATE_METRIC}']:.4f}"
        for label in measured
        if metrics[label][f"after:{GATE_METRIC}"] < metrics[label][f"before:{GATE_METRIC}"]
    ]
    if worse:
        return {"passed": False, "reason": "worse on held-out data: " + "; ".join(worse)}
    return {"passed": True, "reason": f"{GATE_METRIC} at least as good on " + ", ".join(measured)}


@dataclass(frozen=True)
class Benchmark:
    folder: Path  # corpus.jsonl, train.queries.jsonl, train.qrels, dev.queries.jsonl, dev.qrels

    def path(self, name: str) -> Path:
        return self.folder / name


def train_from_decisions(
    services: Services,
    name: str,
    config: TrainConfig,
    held_out: float = 0.2,
    benchmark: Path | None = None,
    with_benchmark_pairs: bool = False,
    key: Path | None = None,
    progress: bool = False,
) -> ModelCard:
    """Fine-tune the live model on editors' decisions into models/<name>/ (see the module docstring)."""
    from recommender.learning.replay import benchmark_ranker

    settings = services.settings
    decided = decision_set(services)
    if len(decided.queries) < 2:
        raise NotEnoughDecisions(
            f"training needs at least 2 questions with an approved or pinned fact check; the database has {len(decided.queries)}"
        )
    train_q, held_q = split_queries(decided.queries, held_out, config.seed)
    docs = store_documents(services)
    by_id = {d.id: d for d in docs}
    base = services.holder.snapshot().ranker
    triplets: list[Triplet] = mine_triplets(base, by_id, train_q, decided.qrels, rejected=decided.rejected)
    sets: dict[str, tuple[Sequence[QueryRecord], Mapping]] = {"held-out decisions": (held_q, decided.qrels)}  # type: ignore[type-arg]
    data: dict[str, object] = {
        "editor decisions": f"{len(decided.queries)} questions with an approved or pinned fact check "
        f"({len(train_q)} trained on, {len(held_q)} held out), {decided.rejections} rejected links as hard negatives",
        "triplets from decisions": len(triplets),
    }
    metrics: dict[str, dict[str, float]] = {}
    _measure(base, sets, "before", metrics)

    bench_sets: dict[str, tuple[Sequence[QueryRecord], Mapping]] = {}  # type: ignore[type-arg]
    if benchmark is not None:
        bench = Benchmark(benchmark)
        base_bench = benchmark_ranker(bench.path("corpus.jsonl"), settings, services.holder.encoder)
        bench_sets[f"{benchmark.name} dev"] = (load_queries(bench.path("dev.queries.jsonl")), load_qrels(bench.path("dev.qrels")))
        _measure(base_bench.ranker, bench_sets, "before", metrics)
        if with_benchmark_pairs:
            pairs = mine_triplets(
                base_bench.ranker, base_bench.docs, load_queries(bench.path("train.queries.jsonl")), load_qrels(bench.path("train.qrels"))
            )
            triplets += pairs
            data["triplets from benchmark train pairs"] = f"{len(pairs)} ({bench.path('train.qrels')})"
    if not triplets:
        raise NotEnoughDecisions("no training examples: every decided question was held out or had no negative")

    out = settings.models_dir / name
    train_encoder(resolve_model(services.models.model_name, settings.models_dir).path, triplets, out, config)
    tuned = create_encoder(name, settings.models_dir, backend="torch")
    tuned_ranker = build_ranker(docs, tuned, ranker_config("default", settings))
    _measure(tuned_ranker, sets, "after", metrics)
    if benchmark is not None:
        tuned_bench = benchmark_ranker(Benchmark(benchmark).path("corpus.jsonl"), settings, tuned)
        _measure(tuned_bench.ranker, bench_sets, "after", metrics)

    notes = []
    calibrator = _calibrate(services, tuned_ranker, decided, key, tuned.model_id)
    if isinstance(calibrator, str):
        notes.append(f"no calibrator: {calibrator}")
    else:
        calibrator.save(out / "calibration.json")
        notes.append(f"calibrator: {calibrator.method} on {calibrator.source} (models/{name}/calibration.json)")
    card = ModelCard(
        name=name,
        base_model=services.holder.encoder.model_id,
        created=now(),
        data={**data, "total triplets": len(triplets), "hard negatives": "editor-rejected links, else the best-ranked wrong candidate"},
        config={**asdict(config), "method": settings.method, "held_out": held_out},
        metrics=metrics,
        notes=notes,
        gate=gate(metrics, ["held-out decisions", *bench_sets]),
    )
    card.write(out)
    return card


def _calibrate(services: Services, ranker: Ranker, decided: DecisionSet, key: Path | None, model_id: str):  # type: ignore[no-untyped-def]
    """A calibrator for the new model: its scores for the decided links (plus the answer key's when few)."""
    settings = services.settings
    questions = {q.id: q for q in decided.queries}
    key_qrels = load_qrels(key) if key is not None else {}
    wanted = [q for q in services.holder.snapshot().questions if q.id in questions or q.id in key_qrels]
    hits = ranker.rank_batch([q.text for q in wanted], settings.top_k, [[q.article_id] for q in wanted])
    links = {
        q.id: [LinkRow(q.id, r, h.doc_id, h.score, h.dense, h.lexical, h.passage) for r, h in enumerate(found)]
        for q, found in zip(wanted, hits)
    }
    from_decisions: list[Example] = []
    for question_id, judged in decided.qrels.items():
        verdicts = {**{d: 0 for d in decided.rejected.get(question_id, ())}, **judged}
        for link in links.get(question_id, []):
            if link.article_id in verdicts:
                from_decisions.append(Example(question_id, link.article_id, link.score, verdicts[link.article_id], "decision"))
    key_examples = examples_from_key({q: v for q, v in links.items() if q in key_qrels}, key_qrels, settings.top_k)
    examples, source = training_examples(from_decisions, key_examples, settings.calibration_min_decisions)
    try:
        return fit([e.score for e in examples], [e.label for e in examples], settings.calibration_method, model_id, source)
    except CalibrationError as exc:
        return str(exc)
