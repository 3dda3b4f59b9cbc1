"""docs/quality.md: every ranking method on checkthat2020 train and dev and on the sample answer key.

    .venv/bin/python scripts/quality_report.py [--tuned MODEL_NAME] [--benchmark DIR]

Each row adds one stage, so every stage shows what it earns: BM25, the encoder alone, their
fusion, then query cleaning (the service's `default`), then optionally a fine-tuned encoder
(`recommender train`, written to models/<name>/). Fusion weights were chosen on train only
(scripts/tune_fusion.py); dev is only reported. Sections whose files are absent are skipped.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from recommender.config import Settings  # noqa: E402
from recommender.embedding.factory import create_encoder  # noqa: E402
from recommender.evaluation.runner import EvalResult, format_table, run_benchmark  # noqa: E402

STAGES: list[tuple[str, str, dict[str, object]]] = [
    ("lexical (BM25)", "lexical", {"clean_queries": False}),
    ("dense (encoder)", "dense", {"clean_queries": False}),
    ("hybrid", "hybrid", {"clean_queries": False}),
    ("lexical + query cleaning", "lexical", {}),
    ("dense + query cleaning", "dense", {}),
    ("default (hybrid + query cleaning)", "default", {}),
]


def run(corpus: Path, queries: Path, qrels: Path, tuned: str | None) -> dict[str, EvalResult]:
    base = Settings()
    results: dict[str, EvalResult] = {}
    stages = list(STAGES)
    if tuned:
        stages.append((f"default + fine-tuned encoder ({tuned})", "default", {"model": tuned}))
    for label, method, overrides in stages:
        settings = base.model_copy(update=overrides)
        encoder_name = str(settings.model)
        result = run_benchmark(
            corpus, queries, qrels, [method], settings,
            lambda name=encoder_name: create_encoder(name, settings.models_dir, backend=settings.backend),
        )
        results[label] = result[method]
        print(f"  {label}: MAP@5 {result[method].metrics['map@5']:.3f}", file=sys.stderr)
    return results


def tie_sensitivity(corpus: Path, queries: Path, qrels: Path, model: str | None = None) -> str:
    """MAP@5 of `default` when exact score ties are broken against the relevant document.

    checkthat2020 holds exact duplicate fact checks; the Ranker breaks ties by document id,
    which happens to favour the judged copy. The pessimistic figure is the honest floor.
    """
    from recommender.embedding.cache import EmbeddingCache
    from recommender.evaluation.benchmark import load_corpus, load_qrels, load_queries
    from recommender.evaluation.metrics import aggregate
    from recommender.evaluation.runner import ranker_config
    from recommender.index.builder import benchmark_document, build_ranker

    settings = Settings()
    if model:
        settings = settings.model_copy(update={"model": model})
    encoder = create_encoder(settings.model, settings.models_dir, backend=settings.backend)
    cache = EmbeddingCache(settings.cache_dir, encoder.model_id)
    docs = [benchmark_document(r.id, r.title, r.text, encoder) for r in load_corpus(corpus)]
    ranker = build_ranker(docs, encoder, ranker_config("default", settings), cache)
    cache.close()
    judged = load_qrels(qrels)
    records = [q for q in load_queries(queries) if any(g > 0 for g in judged.get(q.id, {}).values())]
    hits = ranker.rank_batch([q.text for q in records], 50, [q.exclude for q in records])
    optimistic, pessimistic, tied = {}, {}, 0
    for query, ranked in zip(records, hits):
        relevant = {d for d, g in judged[query.id].items() if g > 0}
        optimistic[query.id] = [h.doc_id for h in ranked]
        worst = sorted(ranked, key=lambda h: (-round(h.score, 6), h.doc_id in relevant))
        pessimistic[query.id] = [h.doc_id for h in worst]
        tied += pessimistic[query.id][:5] != optimistic[query.id][:5]
    return (
        f"`{settings.model}`: exact score ties (near-duplicate fact checks that differ only in case or stop "
        f"words) change the top 5 of {tied} of {len(records)} queries: MAP@5 of `default` is {aggregate(optimistic, judged)['map@5']:.3f} with the Ranker's tie-break "
        f"(document id) and {aggregate(pessimistic, judged)['map@5']:.3f} with ties broken against the relevant "
        "document (the floor)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", type=Path, default=ROOT.parent / "shared/benchmarks/checkthat2020")
    parser.add_argument("--tuned", help="name of a fine-tuned model under models/ to add as a last row")
    parser.add_argument("--out", type=Path, default=ROOT / "docs/quality.md")
    args = parser.parse_args()
    settings = Settings()
    sections = []
    bench = args.benchmark
    sample = ROOT / "data/sample/eval"
    targets = [
        ("checkthat2020 dev (197 tweets; reported, never tuned on)", bench / "corpus.jsonl", bench / "dev.queries.jsonl", bench / "dev.qrels"),
        ("checkthat2020 train (800 tweets; fusion weights were chosen here)", bench / "corpus.jsonl", bench / "train.queries.jsonl", bench / "train.qrels"),
        ("sample answer key (dive-deeper questions -> sample articles)", sample / "corpus.jsonl", sample / "queries.jsonl", sample / "answers.qrels"),
    ]
    started = time.time()
    for title, corpus, queries, qrels in targets:
        if not (corpus.exists() and queries.exists() and qrels.exists()):
            print(f"skipping {title}: files absent", file=sys.stderr)
            continue
        print(title, file=sys.stderr)
        # the fine-tuned model learned from train: its train row would only show memorisation
        tuned = None if "train (" in title else args.tuned
        table = format_table(run(corpus, queries, qrels, tuned))
        note = ""
        if "dev (" in title:
            notes = [tie_sensitivity(corpus, queries, qrels)]
            if args.tuned:
                notes.append(tie_sensitivity(corpus, queries, qrels, args.tuned))
            note = "\n" + "\n\n".join(notes) + "\n"
        sections.append(f"## {title}\n\n{table}\n{note}")
    header = (
        "# Retrieval quality\n\n"
        "Produced by `.venv/bin/python scripts/quality_report.py"
        + (f" --tuned {args.tuned}" if args.tuned else "")
        + f"` (model `{settings.model}`, dense_weight {settings.dense_weight}, "
        f"lexical_saturation {settings.lexical_saturation}; {time.time() - started:.0f} s with a warm embedding cache).\n\n"
        "MAP@5 is the CheckThat! definition (precision at each relevant hit in the top 5, divided by "
        "min(#relevant, 5)). Reference points for checkthat2020 dev: BM25 0.695 and all-MiniLM-L6-v2 0.781 "
        "(measured by the benchmark's curators); best published system on the held-back test split: 0.929.\n\n"
        "Queries are ranked by the service's own code (`Ranker.rank`), documents split into passages as "
        "the service splits articles.\n"
    )
    body = header + "\n" + "\n".join(sections)
    if args.out.exists():
        # The hand-written notes and what other scripts write below them (related questions) stay.
        kept = re.search(r"<!-- notes:start -->.*", args.out.read_text(), re.S)
        if kept:
            body += "\n" + kept.group(0)
    args.out.write_text(body)
    print(body)


if __name__ == "__main__":
    main()
