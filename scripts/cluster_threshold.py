"""Choose RECOMMENDER_CLUSTER_THRESHOLD on the sample corpus's recurring questions.

    .venv/bin/python scripts/cluster_threshold.py [--write-docs]

Embeds every dive-deeper question of data/sample/articles with the configured model, clusters
them at a sweep of cosine thresholds (recommender/linking/clusters.py, the service's own code)
and scores each clustering against data/sample/eval/duplicates.tsv (pairs judged by hand):
pairwise precision (merged pairs that are the same question) and recall (same-question pairs
merged). Prints the table and the best threshold (best F1 among those with precision of at least
MIN_PRECISION: a cluster is offered one decision, so a wrong merge is worse than a missed one) and
whether the pairs named in issue 12 stay apart; --write-docs puts it into docs/learning.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from recommender.articles.loader import load_paths  # noqa: E402
from recommender.config import Settings  # noqa: E402
from recommender.embedding.factory import create_encoder  # noqa: E402
from recommender.linking.clusters import best_threshold, cluster_questions, read_pairs, sweep  # noqa: E402
from scripts.docs_table import replace_block  # noqa: E402

MIN_PRECISION = 0.95
# Questions that share words and a topic but ask different things (issue 12): never one cluster.
APART = [("Why did prices rise so fast in 2022?", "Why did interest rates rise so quickly in 2022 and 2023?")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/learning.md")
    args = parser.parse_args()
    settings = Settings(models_dir=ROOT / "models")
    questions = [q for item in load_paths([ROOT / "data/sample/articles"]) for q in item.article.question_records()]
    encoder = create_encoder(settings.model, settings.models_dir, backend=settings.backend)
    vectors = encoder.encode([q.text for q in questions])
    pairs = read_pairs(ROOT / "data/sample/eval/duplicates.tsv")
    same = sum(label for *_, label in pairs)
    thresholds = [round(t, 3) for t in np.arange(0.60, 0.96, 0.025)]
    ids, keys = [q.id for q in questions], [q.key for q in questions]
    scores = sweep(ids, keys, vectors, pairs, thresholds)
    best = best_threshold(scores, MIN_PRECISION)
    current = cluster_questions(ids, keys, vectors, settings.cluster_threshold)
    by_text = {q.text: q.id for q in questions}
    lines = [
        f"{len(questions)} questions, {len(pairs)} judged pairs ({same} the same question); model {settings.model}.",
        "",
        "| cosine threshold | pairwise precision | pairwise recall | F1 | clusters |",
        "|---:|---:|---:|---:|---:|",
    ]
    for s in scores:
        mark = " **best**" if s is best else ""
        lines.append(f"| {s.threshold:.3f} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f}{mark} | {s.clusters} |")
    lines += [
        "",
        f"Best pairwise F1 with precision >= {MIN_PRECISION}: {best.f1:.3f} at {best.threshold:.3f} (precision "
        f"{best.precision:.3f}, recall {best.recall:.3f}); current setting: {settings.cluster_threshold}.",
    ]
    for a, b in APART:
        qa, qb = by_text[a], by_text[b]
        merged = qa in current and current.get(qa) == current.get(qb)
        lines.append(f"At the current setting \"{a}\" and \"{b}\" are {'MERGED' if merged else 'apart'}.")
    table = "\n".join(lines)
    print(table)
    if args.write_docs:
        replace_block(ROOT / "docs/learning.md", "clusters", table, "scripts/cluster_threshold.py --write-docs")


if __name__ == "__main__":
    main()
