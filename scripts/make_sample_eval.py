"""Generate data/sample/eval/corpus.jsonl and queries.jsonl from data/sample/articles.

The hand-made answer key (answers.qrels) refers to question ids `<article id>-q<N>`; generating
the rest from the articles means the three files never drift apart. Run: `make sample-eval`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recommender.articles.loader import load_paths  # noqa: E402
from recommender.evaluation.sample import corpus_record, query_records  # noqa: E402


def main() -> None:
    articles = sorted((item.article for item in load_paths([ROOT / "data/sample/articles"])), key=lambda a: a.id)
    out = ROOT / "data/sample/eval"
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for article in articles:
            handle.write(json.dumps(corpus_record(article), ensure_ascii=False) + "\n")
    queries = [q for article in articles for q in query_records(article)]
    with (out / "queries.jsonl").open("w", encoding="utf-8") as handle:
        for query in queries:
            handle.write(json.dumps(query, ensure_ascii=False) + "\n")
    print(f"{len(articles)} articles, {len(queries)} questions -> {out}")


if __name__ == "__main__":
    main()
