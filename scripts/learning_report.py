"""Does the recommender learn from its editors? Simulate the loop and plot held-out quality.

    RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/learning_report.py \
        [--benchmark ../shared/benchmarks/checkthat2020] [--sample-points 0,30,60,all] \
        [--checkthat-points 0,200,720] [--work /tmp/learning] [--write-docs]

Sample corpus: the questions of data/sample/articles are split (seeded, by question) into a
train half and a held-out half. A simulated editor works the train half from the answer key
(rejects wrong suggestions top down, approves the right one, marks gaps); after N decisions,
stored through the service (Services.decide_each), `train_from_decisions` fine-tunes the base model
(1 epoch) and the held-out half is ranked with it (MAP@5, MRR, R@1 against the key), and a
calibrator fitted on those N decisions alone is scored on the held-out half's links (Brier).
checkthat2020: the same editor works N train tweets (top-10 candidates of the base model), the
triplets come from the same mining code (editor rejections as hard negatives), and dev is
measured. Writes docs/img/learning_curve.png; --write-docs updates docs/learning.md.
Single seed: differences of about 0.01 are within run-to-run noise.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from recommender.articles.loader import load_paths  # noqa: E402
from recommender.config import Settings  # noqa: E402
from recommender.embedding.factory import create_encoder  # noqa: E402
from recommender.embedding.registry import resolve_model  # noqa: E402
from recommender.services import Services  # noqa: E402
from recommender.evaluation.benchmark import QueryRecord, load_qrels, load_queries  # noqa: E402
from recommender.evaluation.runner import evaluate, ranker_config  # noqa: E402
from recommender.index.builder import build_ranker  # noqa: E402
from recommender.learning.replay import benchmark_ranker, rank_queries, simulate_editor  # noqa: E402
from recommender.learning.calibration import CalibrationError, brier, examples_from_decisions, fit  # noqa: E402
from recommender.services.retraining import store_documents, train_from_decisions  # noqa: E402
from recommender.training.examples import mine_triplets  # noqa: E402
from recommender.training.finetune import TrainConfig, train_encoder  # noqa: E402
from scripts.docs_table import replace_block  # noqa: E402

COMMAND = "scripts/learning_report.py --benchmark ../shared/benchmarks/checkthat2020 --write-docs"
SEED = 13


def _points(text: str) -> list[int | None]:
    return [None if p == "all" else int(p) for p in text.split(",")]


def sample_loop(work: Path, points: list[int | None], config: TrainConfig) -> list[dict]:  # type: ignore[type-arg]
    settings = Settings(db=work / "sample.db", models_dir=work / "models", calibration="none", refresh_seconds=0)
    (work / "models").mkdir(parents=True, exist_ok=True)
    services = Services.start(settings.model_copy(update={"models_dir": ROOT / "models"}))
    services.catalog.ingest([i.article for i in load_paths([ROOT / "data/sample/articles"])])
    qrels = load_qrels(ROOT / "data/sample/eval/answers.qrels")
    questions = sorted(services.holder.snapshot().questions, key=lambda q: q.id)
    random.Random(SEED).shuffle(questions)
    half = len(questions) // 2
    train, held = questions[:half], questions[half:]
    links = services.store.links_of([q.id for q in questions])
    # What the editor does with each train question (in the seeded order), from the answer key.
    plan = []
    for q in train:
        decision = simulate_editor(q.id, [link.article_id for link in links[q.id]][:3], qrels.get(q.id, {}))
        if decision is not None:
            plan.append(decision)
    held_queries = [QueryRecord(q.id, q.text, (q.article_id,)) for q in held]
    base_docs = store_documents(services)
    services.close()
    template = work / "sample.db"
    rows = []
    for n in points:
        count = len(plan) if n is None else min(n, len(plan))
        db = work / f"sample-{count}.db"
        shutil.copy(template, db)
        services = Services.start(settings.model_copy(update={"db": db, "models_dir": ROOT / "models"}))
        items = []
        for d in plan[:count]:
            items += [(d.query_id, "reject", r) for r in d.rejected]
            items += [(d.query_id, "approve", d.approved)] if d.approved else [(d.query_id, "gap", None)] if d.gap else []
        if items:
            services.editorial.decide_each(items, "simulated-editor")
        approved = sum(1 for d in plan[:count] if d.approved)
        started = time.monotonic()
        if approved >= 2:
            name = f"sample-decisions-{count}"
            services.settings = services.settings.model_copy(update={"models_dir": work / "models"})
            # train_from_decisions resolves the base model by name in the registry shipped with the package
            train_from_decisions(services, name, config, held_out=0.0)
            encoder = create_encoder(name, work / "models", backend="torch")
        else:
            encoder = services.holder.encoder
        ranker = build_ranker(base_docs, encoder, ranker_config("default", settings))
        metrics = evaluate(ranker, held_queries, qrels).metrics
        # calibration learnt from these decisions only, judged on the held-out half's links
        examples = examples_from_decisions(services.reading.statuses())
        held_hits = ranker.rank_batch([q.text for q in held], 3, [[q.article_id] for q in held])
        held_x = [h.score for hits in held_hits for h in hits]
        held_y = [int(qrels.get(q.id, {}).get(h.doc_id, 0) > 0) for q, hits in zip(held, held_hits) for h in hits]
        try:
            calibrator = fit([e.score for e in examples], [e.label for e in examples], "logistic", encoder.model_id)
            score = brier(calibrator.predict(held_x), held_y)
        except CalibrationError:
            score = float("nan")
        services.close()
        rows.append(
            {
                "decisions": count,
                "approved": approved,
                "labelled links": len(examples),
                "map@5": float(metrics["map@5"]),
                "mrr": float(metrics["mrr"]),
                "recall@1": float(metrics["recall@1"]),
                "brier": score,
                "queries": int(metrics["queries"]),
                "seconds": round(time.monotonic() - started),
            }
        )
        print(f"sample: {rows[-1]}", file=sys.stderr, flush=True)
    return rows


def checkthat_loop(benchmark: Path, work: Path, points: list[int | None], config: TrainConfig) -> list[dict]:  # type: ignore[type-arg]
    settings = Settings(models_dir=ROOT / "models")
    base_encoder = create_encoder(settings.model, settings.models_dir, backend="torch")
    base = benchmark_ranker(benchmark / "corpus.jsonl", settings, base_encoder)
    train = load_queries(benchmark / "train.queries.jsonl")
    random.Random(SEED).shuffle(train)
    train_qrels = load_qrels(benchmark / "train.qrels")
    dev, dev_qrels = load_queries(benchmark / "dev.queries.jsonl"), load_qrels(benchmark / "dev.qrels")
    hits = rank_queries(base, train, settings, 10)
    decisions = [simulate_editor(q.id, [h.doc_id for h in found], train_qrels.get(q.id, {})) for q, found in zip(train, hits)]
    rows = []
    for n in points:
        count = len(train) if n is None else min(n, len(train))
        started = time.monotonic()
        chosen = [(q, d) for q, d in zip(train[:count], decisions[:count]) if d is not None and d.approved]
        if chosen:
            queries = [q for q, _ in chosen]
            qrels = {q.id: {d.approved: 1} for q, d in chosen}  # type: ignore[dict-item]
            rejected = {q.id: list(d.rejected) for q, d in chosen}
            triplets = mine_triplets(base.ranker, base.docs, queries, qrels, rejected=rejected)
            out = work / "models" / f"ct-decisions-{count}"
            train_encoder(resolve_model(settings.model, settings.models_dir).path, triplets, out, config)
            encoder = create_encoder(out.name, work / "models", backend="torch")
            ranker = benchmark_ranker(benchmark / "corpus.jsonl", settings, encoder).ranker
        else:
            ranker = base.ranker
        metrics = evaluate(ranker, dev, dev_qrels).metrics
        rows.append(
            {
                "decisions": count,
                "approved": len(chosen),
                "map@5": float(metrics["map@5"]),
                "mrr": float(metrics["mrr"]),
                "recall@1": float(metrics["recall@1"]),
                "queries": int(metrics["queries"]),
                "seconds": round(time.monotonic() - started),
            }
        )
        print(f"checkthat: {rows[-1]}", file=sys.stderr, flush=True)
    return rows


def plot(sample: list[dict], checkthat: list[dict], path: Path) -> None:  # type: ignore[type-arg]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("sample corpus: held-out half", sample)] + ([("checkthat2020 dev", checkthat)] if checkthat else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), dpi=110, squeeze=False)
    for ax, (title, rows) in zip(axes[0], panels):
        x = [r["decisions"] for r in rows]
        for key, label in (("map@5", "MAP@5"), ("mrr", "MRR"), ("recall@1", "R@1")):
            ax.plot(x, [r[key] for r in rows], marker="o", label=label)
        ax.set_title(title)
        ax.set_xlabel("simulated editor decisions used for fine-tuning")
        ax.set_ylabel("held-out quality")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def table(rows: list[dict], with_brier: bool) -> str:  # type: ignore[type-arg]
    head = "| decisions | approved links | MAP@5 | MRR | R@1 |" + (" Brier (calibrated on the decisions) |" if with_brier else "") + " queries | seconds |"
    sep = "|" + "---:|" * (head.count("|") - 1)
    lines = [head, sep]
    for r in rows:
        cells = [str(r["decisions"]), str(r["approved"]), f"{r['map@5']:.4f}", f"{r['mrr']:.4f}", f"{r['recall@1']:.4f}"]
        if with_brier:
            cells.append("-" if np.isnan(r["brier"]) else f"{r['brier']:.4f}")
        cells += [str(r["queries"]), str(r["seconds"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", type=Path)
    parser.add_argument("--sample-points", default="0,30,60,all")
    parser.add_argument("--checkthat-points", default="0,200,720")
    parser.add_argument("--work", type=Path, default=Path("/tmp/learning"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    config = TrainConfig(epochs=args.epochs, batch_size=16)
    sample = sample_loop(args.work, _points(args.sample_points), config)
    checkthat = checkthat_loop(args.benchmark, args.work, _points(args.checkthat_points), TrainConfig(epochs=args.epochs)) if args.benchmark else []
    png = ROOT / "docs/img/learning_curve.png"
    plot(sample, checkthat, png)
    text = "\n".join(
        [
            "Sample corpus (held-out half of the questions, answer key; fine-tuned on the train half's decisions, 1 epoch):",
            "",
            table(sample, with_brier=True),
            *(
                [
                    "",
                    "checkthat2020 dev (197 tweets; fine-tuned on N simulated decisions over train tweets, 1 epoch):",
                    "",
                    table(checkthat, with_brier=False),
                ]
                if checkthat
                else []
            ),
            "",
            "Plot: [img/learning_curve.png](img/learning_curve.png).",
        ]
    )
    print(text)
    if args.write_docs:
        replace_block(ROOT / "docs/learning.md", "learning", text, COMMAND)


if __name__ == "__main__":
    main()
