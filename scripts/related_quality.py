"""Precision of the related questions the widget shows, on the hand-labelled key, and the thresholds behind it.

    .venv/bin/python scripts/related_quality.py [--db PATH] [--no-write]

Ingests data/sample/articles into a fresh database with the configured (default: real) encoder, or
reads --db, asks the services for every article's dive-deeper answer (`Services.dive_deeper`, exactly
what the widget shows) and judges each related question against data/sample/eval/related.tsv:
on-topic, loose (same broad area, another subject) or off-topic share, and how many shown pairs the
key does not judge (these must be labelled: a precision over unjudged pairs means nothing). The
same for a sweep of RECOMMENDER_RELATED_THRESHOLD and RECOMMENDER_RELATED_TOPIC_THRESHOLD; the
table goes into docs/quality.md.
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

from recommender.articles.loader import load_paths  # noqa: E402
from recommender.config import Settings  # noqa: E402
from recommender.services import Services  # noqa: E402
from recommender.evaluation.related import (  # noqa: E402
    RelatedQuality,
    judge,
    read_related_key,
    related_quality,
    shown_related,
)
from scripts.docs_table import publish  # noqa: E402

COMMAND = ".venv/bin/python scripts/related_quality.py"
QUALITY = ROOT / "docs" / "quality.md"
KEY = ROOT / "data" / "sample" / "eval" / "related.tsv"
THRESHOLDS = (0.36, 0.40, 0.42, 0.44, 0.46)
TOPIC_FLOORS = (-1.0, 0.55, 0.62, 0.67, 0.70)


def measure(services: Services, articles: list[str], key: dict, threshold: float, topic: float) -> RelatedQuality:
    update = {"related_threshold": threshold, "related_topic_threshold": topic}
    services.reading.settings = services.reading.settings.model_copy(update=update)
    return related_quality(judge(shown_related(services.reading, articles), key), len(articles))


def row(threshold: float, topic: float, q: RelatedQuality, mark: str = "") -> str:
    floor = "off" if topic <= -1 else f"{topic:.2f}"
    return (
        f"| {threshold:.2f} | {floor} | {q.shown} | {q.articles_with_related} | {q.on_topic_share:.3f} | "
        f"{q.loose_share:.3f} | {q.off_topic_share:.3f} | {len(q.unjudged)} |{mark}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, help="an ingested sample database (default: ingest into a temp file)")
    parser.add_argument("--no-write", action="store_true", help="print the table only, leave docs/quality.md alone")
    args = parser.parse_args()
    key = read_related_key(KEY)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db=args.db or Path(tmp) / "sample.db", models_dir=ROOT / "models")
        services = Services.start(settings)
        try:
            if args.db is None:
                services.catalog.ingest([i.article for i in load_paths([ROOT / "data/sample/articles"])])
            articles = sorted(services.holder.snapshot().articles)
            current = measure(services, articles, key, settings.related_threshold, settings.related_topic_threshold)
            sweep = [(t, f, measure(services, articles, key, t, f)) for t in THRESHOLDS for f in TOPIC_FLOORS]
        finally:
            services.close()
    lines = [
        f"{len(articles)} articles, {len(key)} judged (article, question) pairs in `data/sample/eval/related.tsv`; "
        f"model {settings.model}. Shares are of the related questions shown (`ReadingService.dive_deeper`).",
        "",
        f"**Current settings** (related_threshold {settings.related_threshold}, related_topic_threshold "
        f"{settings.related_topic_threshold}): {current.shown} related questions shown under "
        f"{current.articles_with_related} articles; on-topic {current.on_topic_share:.3f}, loose "
        f"{current.loose_share:.3f}, off-topic {current.off_topic_share:.3f}, unjudged {len(current.unjudged)}.",
        "",
        "| related_threshold | topic floor | shown | articles | on-topic | loose | off-topic | unjudged |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t, f, q in sweep:
        is_current = abs(t - settings.related_threshold) < 1e-9 and abs(f - settings.related_topic_threshold) < 1e-9
        lines.append(row(t, f, q, "  <- current" if is_current else ""))
    if current.unjudged:
        lines += ["", "Unjudged pairs shown with the current settings (label them in related.tsv):"]
        lines += [f"- {s.article_id}\t{s.question}" for s in current.unjudged]
    publish(QUALITY, "related", "\n".join(lines), COMMAND, write=not args.no_write)


if __name__ == "__main__":
    main()
