"""Quality of the service's stored links, measured against a hand-made answer key.

Unlike `evaluate` (which re-ranks a benchmark), this reads the links the running service
computed and stored, so it measures exactly what readers and editors see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from recommender.evaluation.metrics import f1, recall_at_k, reciprocal_rank
from recommender.domain import LinkRow


@dataclass(frozen=True)
class LinkQuality:
    answered: int  # questions the key says some article answers
    recall_at_3: float
    mrr: float
    gaps: int  # questions the key says nothing answers
    gap_threshold: float
    gap_precision: float
    gap_recall: float

    @property
    def gap_f1(self) -> float:
        return f1(self.gap_precision, self.gap_recall)


def relevant_of(qrels: Mapping[str, Mapping[str, int]], question_id: str) -> dict[str, int]:
    return {doc: grade for doc, grade in qrels.get(question_id, {}).items() if grade > 0}


def link_quality(
    links: Mapping[str, Sequence[LinkRow]], qrels: Mapping[str, Mapping[str, int]], gap_threshold: float
) -> LinkQuality:
    """Recall@3/MRR over answered questions; precision/recall of gap detection over all judged ones."""
    recalls, rrs = [], []
    predicted_gap, true_gap = [], []
    for question_id, judged in qrels.items():
        if question_id not in links:
            continue
        ranked = [link.article_id for link in links[question_id]]
        relevant = relevant_of(qrels, question_id)
        best = links[question_id][0].score if links[question_id] else -1.0
        predicted_gap.append(best < gap_threshold)
        true_gap.append(not relevant)
        if relevant:
            recalls.append(recall_at_k(ranked, relevant, 3))
            rrs.append(reciprocal_rank(ranked, relevant))
    predicted, actual = np.array(predicted_gap), np.array(true_gap)
    hits = int((predicted & actual).sum())
    return LinkQuality(
        answered=len(recalls),
        recall_at_3=float(np.mean(recalls)) if recalls else 0.0,
        mrr=float(np.mean(rrs)) if rrs else 0.0,
        gaps=int(actual.sum()),
        gap_threshold=gap_threshold,
        gap_precision=hits / int(predicted.sum()) if predicted.any() else 0.0,
        gap_recall=hits / int(actual.sum()) if actual.any() else 0.0,
    )


def sweep_gap_threshold(
    links: Mapping[str, Sequence[LinkRow]], qrels: Mapping[str, Mapping[str, int]], thresholds: Sequence[float]
) -> list[LinkQuality]:
    return [link_quality(links, qrels, t) for t in thresholds]
