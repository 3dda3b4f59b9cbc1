"""Calibration quality: Brier score and reliability of the approval probability, and the default calibrator.

    RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/calibration_report.py \
        [--benchmark ../shared/benchmarks/checkthat2020] [--write-default] [--write-docs]

Sample corpus: ingests data/sample/articles, labels the top-3 stored candidates of every
question with the answer key (data/sample/eval/answers.qrels; relevant = an editor would
approve) and scores isotonic and logistic calibration by 5-fold cross-validation grouped by
question (each probability comes from a calibrator that never saw the question). checkthat2020:
fitted on the train split, scored on dev. Writes docs/img/calibration.png (reliability plot);
--write-default saves the calibrator fitted on the whole sample key as the one shipped for the
default model (recommender/learning/calibrators/); --write-docs updates docs/learning.md.
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
from recommender.evaluation.benchmark import load_qrels, load_queries  # noqa: E402
from recommender.learning.calibration_fit import ranking_of  # noqa: E402
from recommender.learning.replay import benchmark_ranker, examples_from_hits, rank_queries  # noqa: E402
from recommender.learning.calibration import (  # noqa: E402
    PACKAGED,
    Calibrator,
    brier,
    examples_from_key,
    expected_calibration_error,
    fit,
    out_of_fold,
    reliability,
)
from scripts.docs_table import replace_block  # noqa: E402

COMMAND = "scripts/calibration_report.py --benchmark ../shared/benchmarks/checkthat2020 --write-default --write-docs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", type=Path, help="checkthat2020 folder (corpus, train and dev files)")
    parser.add_argument("--write-default", action="store_true")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    base = Settings(models_dir=ROOT / "models", calibration="none")
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        services = Services.start(base.model_copy(update={"db": Path(tmp) / "sample.db"}))
        services.catalog.ingest([i.article for i in load_paths([ROOT / "data/sample/articles"])])
        model_id = services.holder.encoder.model_id
        questions = services.holder.snapshot().questions
        links = services.store.links_of([q.id for q in questions])
        services.close()
    qrels = load_qrels(ROOT / "data/sample/eval/answers.qrels")
    examples = examples_from_key(links, qrels, top_k=base.top_k)
    scores = np.array([e.score for e in examples])
    labels = np.array([e.label for e in examples])
    groups = [e.question_id for e in examples]
    ranking = ranking_of(base)
    rows.append(_row("sample key: base rate (no model)", np.full(len(labels), labels.mean()), labels))
    rows.append(_row("sample key: raw score as probability", np.clip(scores, 0, 1), labels))
    for method in ("logistic", "isotonic"):
        probs = out_of_fold(scores, labels, groups, method)  # type: ignore[arg-type]
        rows.append(_row(f"sample key: {method}, 5-fold by question", probs, labels))
        curves[f"sample, {method} (cross-validated)"] = (probs, labels)
    default = fit(scores, labels, base.calibration_method, model_id, f"sample answer key, top-{base.top_k} candidates", ranking)
    if args.write_default:
        default.save(PACKAGED / f"{base.model}.json")
    thresholds = _threshold_table(default, links, qrels)

    if args.benchmark:
        from recommender.embedding.factory import create_encoder

        encoder = create_encoder(base.model, base.models_dir, backend=base.backend)
        ranked = benchmark_ranker(args.benchmark / "corpus.jsonl", base, encoder)
        split = {}
        for name in ("train", "dev"):
            queries = load_queries(args.benchmark / f"{name}.queries.jsonl")
            hits = rank_queries(ranked, queries, base, base.top_k)
            split[name] = examples_from_hits(queries, hits, load_qrels(args.benchmark / f"{name}.qrels"), base.top_k)
        train_x = [e.score for e in split["train"]]
        train_y = [e.label for e in split["train"]]
        dev_x = np.array([e.score for e in split["dev"]])
        dev_y = np.array([e.label for e in split["dev"]])
        for method in ("logistic", "isotonic"):
            fitted = fit(train_x, train_y, method, model_id)  # type: ignore[arg-type]
            rows.append(_row(f"checkthat2020 dev: {method} fitted on train", fitted.predict(dev_x), dev_y))
        curves["checkthat2020 dev, logistic (fitted on train)"] = (fit(train_x, train_y, "logistic", model_id).predict(dev_x), dev_y)
        rows.append(_row("checkthat2020 dev: the sample-key calibrator (other domain)", default.predict(dev_x), dev_y))
        curves["checkthat2020 dev, sample-key calibrator"] = (default.predict(dev_x), dev_y)

    png = ROOT / "docs/img/calibration.png"
    _plot(curves, png)
    table = "\n".join(
        [
            f"Examples: the top-{base.top_k} candidates of each question, labelled by the answer key "
            f"(sample: {len(labels)} links, {int(labels.sum())} approvable). Lower is better for Brier and ECE.",
            "",
            "| calibration | Brier | ECE (10 bins) | links |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            f"Shipped calibrator for `{base.model}`: {default.method}, coef {default.coef:.2f}, intercept "
            f"{default.intercept:.2f}, fitted on all {default.examples} sample links. What its thresholds mean on "
            "the sample (top-1 candidate of each question; precision = the key agrees with the link):",
            "",
            thresholds,
            "",
            "Reliability plot: [img/calibration.png](img/calibration.png).",
        ]
    )
    print(table)
    if args.write_docs:
        replace_block(ROOT / "docs/learning.md", "calibration", table, COMMAND)


def _row(label: str, probs: np.ndarray, labels: np.ndarray) -> str:
    ece = expected_calibration_error(reliability(probs, labels))
    return f"| {label} | {brier(probs, labels):.4f} | {ece:.4f} | {len(labels)} |"


def _threshold_table(calibrator: Calibrator, links: dict, qrels: dict) -> str:
    lines = ["| probability | score | top-1 links at or above | their precision | below (gaps) | key's gaps among them |", "|---:|---:|---:|---:|---:|---:|"]
    tops = [(rows[0].score, rows[0].article_id, q) for q, rows in links.items() if rows and q in qrels]
    for p in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
        cut = calibrator.score_for(p)
        above = [(s, a, q) for s, a, q in tops if s >= cut]
        below = [(s, a, q) for s, a, q in tops if s < cut]
        right = sum(qrels[q].get(a, 0) > 0 for _, a, q in above)
        gaps = sum(not any(g > 0 for g in qrels[q].values()) for _, _, q in below)
        precision = f"{right / len(above):.3f}" if above else "-"
        lines.append(f"| {p:.2f} | {cut:.3f} | {len(above)} | {precision} | {len(below)} | {gaps} |")
    return "\n".join(lines)


def _plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfectly calibrated")
    for label, (probs, labels) in curves.items():
        bins = reliability(probs, labels)
        ax.plot([b.mean_predicted for b in bins], [b.observed for b in bins], marker="o", label=label)
    ax.set_xlabel("predicted probability of approval")
    ax.set_ylabel("observed share approved (answer key)")
    ax.set_title("Reliability of calibrated confidence")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
