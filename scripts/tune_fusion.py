"""Choose the hybrid fusion weights on the checkthat2020 TRAIN split (never dev).

    .venv/bin/python scripts/tune_fusion.py [--benchmark ../shared/benchmarks/checkthat2020] [--model NAME]

Scores every train query against the whole corpus once (dense and BM25), then sweeps
dense_weight x lexical_saturation, with and without query cleaning, and prints the best
settings by train MAP@5. Put the winner into recommender/config.py's defaults.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from recommender.config import Settings  # noqa: E402
from recommender.embedding.cache import EmbeddingCache, encode_cached  # noqa: E402
from recommender.embedding.factory import create_encoder  # noqa: E402
from recommender.evaluation.benchmark import load_corpus, load_qrels, load_queries  # noqa: E402
from recommender.evaluation.metrics import aggregate  # noqa: E402
from recommender.index.builder import benchmark_document, build_ranker  # noqa: E402
from recommender.index.fusion import combine, saturate  # noqa: E402
from recommender.index.query import clean_query  # noqa: E402
from recommender.index.ranker import RankerConfig  # noqa: E402

WEIGHTS = [round(w, 2) for w in np.arange(0.30, 1.001, 0.05)]
SATURATIONS = [2.0, 5.0, 8.0, 12.0, 20.0, 30.0, 40.0, 60.0]


def top_k(scores: np.ndarray, doc_ids: list[str], k: int = 10) -> list[list[str]]:
    """Top k per row with the Ranker's tie-break (document id): the benchmark has exact duplicates."""
    by_id = np.empty(len(doc_ids), dtype=np.int64)
    by_id[sorted(range(len(doc_ids)), key=doc_ids.__getitem__)] = np.arange(len(doc_ids))
    order = np.lexsort((np.broadcast_to(by_id, scores.shape), -scores), axis=1)[:, :k]
    return [[doc_ids[i] for i in row] for row in order]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", type=Path, default=ROOT.parent / "shared/benchmarks/checkthat2020")
    parser.add_argument("--model", default=None, help="encoder name (default: RECOMMENDER_MODEL)")
    parser.add_argument("--split", default="train", choices=["train"], help="tuning uses train only")
    args = parser.parse_args()
    settings = Settings()
    encoder = create_encoder(args.model or settings.model, settings.models_dir)
    cache = EmbeddingCache(settings.cache_dir, encoder.model_id)
    corpus = load_corpus(args.benchmark / "corpus.jsonl")
    queries = load_queries(args.benchmark / f"{args.split}.queries.jsonl")
    qrels = load_qrels(args.benchmark / f"{args.split}.qrels")
    queries = [q for q in queries if any(g > 0 for g in qrels.get(q.id, {}).values())]
    docs = [benchmark_document(r.id, r.title, r.text, encoder) for r in corpus]
    ranker = build_ranker(docs, encoder, RankerConfig.of(settings, "hybrid"), cache, progress=True)
    assert ranker.dense is not None and ranker.lexical is not None
    results = []
    for clean in (False, True):
        texts = [clean_query(q.text) if clean else q.text for q in queries]
        dense = ranker.dense.scores(encode_cached(encoder, texts, cache, progress=True, label="queries"))
        bm25 = np.stack([ranker.lexical.scores(t) for t in texts])
        for method, rows in (("dense", dense), ("lexical", bm25)):
            rankings = dict(zip([q.id for q in queries], top_k(rows, ranker.doc_ids)))
            results.append((aggregate(rankings, qrels)["map@5"], method, clean, None, None))
        for weight, half in itertools.product(WEIGHTS, SATURATIONS):
            scores = combine(dense, saturate(bm25, half), weight)
            rankings = dict(zip([q.id for q in queries], top_k(scores, ranker.doc_ids)))
            results.append((aggregate(rankings, qrels)["map@5"], "hybrid", clean, weight, half))
    print(f"model {encoder.model_id}; {len(queries)} {args.split} queries\n")
    print("| MAP@5 (train) | method | clean queries | dense_weight | lexical_saturation |\n|---|---|---|---|---|")
    for map5, method, clean, weight, half in sorted(results, key=lambda r: -r[0])[:15]:
        print(f"| {map5:.4f} | {method} | {clean} | {weight if weight is not None else '-'} | {half if half is not None else '-'} |")
    for method in ("dense", "lexical"):
        for map5, m, clean, _, _ in results:
            if m == method:
                print(f"{method:8s} clean={clean!s:5s} MAP@5 {map5:.4f}")


if __name__ == "__main__":
    main()
