"""`recommender train` on benchmark pairs: mine triplets, fine-tune, measure before and after."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from recommender.config import Settings
from recommender.embedding.base import Encoder
from recommender.embedding.cache import EmbeddingCache
from recommender.embedding.factory import create_encoder
from recommender.embedding.registry import resolve_model
from recommender.evaluation.benchmark import QueryRecord, load_corpus, load_qrels, load_queries
from recommender.evaluation.runner import evaluate, ranker_config
from recommender.index.builder import Document, benchmark_document, build_ranker
from recommender.index.ranker import Ranker
from recommender.training.examples import mine_triplets, split_queries
from recommender.training.finetune import ModelCard, TrainConfig, now, train_encoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalSet:
    label: str
    queries: Path
    qrels: Path


def _ranker(docs: Sequence[Document], encoder: Encoder, settings: Settings, progress: bool) -> Ranker:
    cache = EmbeddingCache(settings.cache_dir, encoder.model_id)
    try:
        return build_ranker(docs, encoder, ranker_config("default", settings), cache, progress)
    finally:
        cache.close()


def _measure(ranker: Ranker, sets: dict[str, tuple[list[QueryRecord], dict]], prefix: str, into: dict) -> None:  # type: ignore[type-arg]
    for label, (queries, qrels) in sets.items():
        metrics = evaluate(ranker, queries, qrels).metrics
        into.setdefault(label, {}).update({f"{prefix}:{k}": float(v) for k, v in metrics.items() if k != "queries"})
        into[label]["queries"] = float(metrics["queries"])


def train_from_benchmark(
    corpus: Path,
    queries: Path,
    qrels: Path,
    name: str,
    settings: Settings,
    config: TrainConfig,
    held_out: float = 0.1,
    eval_sets: Sequence[EvalSet] = (),
    progress: bool = False,
) -> ModelCard:
    base_spec = resolve_model(settings.model, settings.models_dir)
    encoder = create_encoder(settings.model, settings.models_dir)
    records = load_corpus(corpus)
    all_queries = load_queries(queries)
    judgements = load_qrels(qrels)
    train_queries, held = split_queries(
        [q for q in all_queries if any(g > 0 for g in judgements.get(q.id, {}).values())], held_out, config.seed
    )
    docs = [benchmark_document(r.id, r.title, r.text, encoder) for r in records]
    base = _ranker(docs, encoder, settings, progress)
    triplets = mine_triplets(base, {d.id: d for d in docs}, train_queries, judgements)
    sets: dict[str, tuple[list[QueryRecord], dict]] = {}  # type: ignore[type-arg]
    if held:
        sets["held-out train"] = (held, judgements)
    for extra in eval_sets:
        sets[extra.label] = (load_queries(extra.queries), load_qrels(extra.qrels))
    metrics: dict[str, dict[str, float]] = {}
    _measure(base, sets, "before", metrics)

    out = settings.models_dir / name
    train_encoder(base_spec.path, triplets, out, config)
    tuned = create_encoder(name, settings.models_dir)
    tuned_docs = [benchmark_document(r.id, r.title, r.text, tuned) for r in records]
    _measure(_ranker(tuned_docs, tuned, settings, progress), sets, "after", metrics)

    card = ModelCard(
        name=name,
        base_model=encoder.model_id,
        created=now(),
        data={
            "corpus": f"{corpus} ({len(records)} documents)",
            "training queries": f"{queries} ({len(train_queries)} used, {len(held)} held out)",
            "qrels": str(qrels),
            "triplets": len(triplets),
            "hard negatives": "best-ranked non-relevant document under the base model (hybrid)",
        },
        config={**asdict(config), "method": settings.method, "held_out": held_out},
        metrics=metrics,
    )
    card.write(out)
    return card
