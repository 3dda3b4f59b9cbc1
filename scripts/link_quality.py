"""Link quality of the service on the sample answer key, and the gap threshold it suggests.

    .venv/bin/python scripts/link_quality.py [--db PATH]

Ingests data/sample/articles into a fresh database (or reads --db), reads the stored links and
prints Recall@3 / MRR over answered questions and gap precision/recall for a sweep of
thresholds; the threshold with the best gap F1 is the suggested RECOMMENDER_GAP_THRESHOLD.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from recommender.articles.loader import load_paths  # noqa: E402
from recommender.config import Settings  # noqa: E402
from recommender.services import Services  # noqa: E402
from recommender.evaluation.benchmark import load_qrels  # noqa: E402
from recommender.evaluation.links import link_quality, sweep_gap_threshold  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, help="an already ingested database (default: ingest into a temp file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db=args.db or Path(tmp) / "sample.db", models_dir=ROOT / "models")
        services = Services.start(settings)
        if args.db is None:
            services.catalog.ingest([i.article for i in load_paths([ROOT / "data/sample/articles"])])
        qrels = load_qrels(ROOT / "data/sample/eval/answers.qrels")
        questions = [q.id for q in services.holder.snapshot().questions]
        links = services.store.links_of(questions)
        services.close()
    current = link_quality(links, qrels, settings.gap_threshold)
    print(f"method={settings.method} model={settings.model}")
    print(f"answered questions: {current.answered}  Recall@3 {current.recall_at_3:.3f}  MRR {current.mrr:.3f}")
    print(f"gaps in the key: {current.gaps} of {len(qrels)}")
    print("\n| gap threshold | precision | recall | F1 |\n|---|---|---|---|")
    sweep = sweep_gap_threshold(links, qrels, [round(t, 2) for t in np.arange(0.30, 0.71, 0.02)])
    for q in sweep:
        marker = "  <- current" if abs(q.gap_threshold - settings.gap_threshold) < 1e-9 else ""
        print(f"| {q.gap_threshold:.2f} | {q.gap_precision:.3f} | {q.gap_recall:.3f} | {q.gap_f1:.3f} |{marker}")
    best = max(sweep, key=lambda q: (q.gap_f1, -abs(q.gap_threshold - 0.5)))
    print(f"\nbest gap F1 {best.gap_f1:.3f} at threshold {best.gap_threshold:.2f}")


if __name__ == "__main__":
    main()
