"""Retrieval quality per encoder backend (torch, onnx fp32, onnx int8): what the default backend is chosen on.

    RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/bench_backends_quality.py [--no-write]

Runs what `recommender evaluate` runs (the service's Ranker, default method) on checkthat2020 dev
(when ../shared/benchmarks/checkthat2020 is present) and on the sample answer key, once per backend.
Each backend embeds into its own cache folder (<cache dir>/backend-<name>/): onnx fp32 vectors carry
the torch model id, so a shared cache would silently score torch's vectors twice. Prints a table and
writes it into docs/performance.md (section `backend-quality`), with the rule the default follows:
the fastest backend whose MAP@5 is at most 0.005 below torch's on every benchmark.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recommender.config import Settings  # noqa: E402
from recommender.embedding.factory import create_encoder  # noqa: E402
from recommender.evaluation.runner import run_benchmark  # noqa: E402
from scripts.docs_table import PERFORMANCE, publish  # noqa: E402

COMMAND = "RECOMMENDER_CACHE_DIR=/tmp/evalcache .venv/bin/python scripts/bench_backends_quality.py"

BACKENDS = ("torch", "onnx", "onnx-int8")  # slowest to fastest (docs/performance.md, encoder backends)
TOLERANCE = 0.005


def benchmarks(shared: Path) -> dict[str, tuple[Path, Path, Path]]:
    found = {}
    ct = shared / "checkthat2020"
    if (ct / "corpus.jsonl").exists():
        found["checkthat2020 dev"] = (ct / "corpus.jsonl", ct / "dev.queries.jsonl", ct / "dev.qrels")
    sample = ROOT / "data" / "sample" / "eval"
    found["sample answer key"] = (sample / "corpus.jsonl", sample / "queries.jsonl", sample / "answers.qrels")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "benchmarks")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    base = Settings()
    sets = benchmarks(args.shared)
    scores: dict[tuple[str, str], float] = {}
    model_ids: dict[str, str] = {}
    for backend in BACKENDS:
        settings = base.model_copy(update={"backend": backend, "cache_dir": base.cache_dir / f"backend-{backend}"})
        encoder = create_encoder(settings.model, settings.models_dir, backend=backend)
        model_ids[backend] = encoder.model_id
        for name, (corpus, queries, qrels) in sets.items():
            started = time.perf_counter()
            result = run_benchmark(corpus, queries, qrels, ["default"], settings, lambda: encoder)["default"]
            scores[backend, name] = float(result.metrics["map@5"])
            print(f"{backend:>9} {name:<18} MAP@5 {scores[backend, name]:.3f} ({time.perf_counter() - started:.0f} s)",
                  file=sys.stderr)

    names = list(sets)
    rows = [
        f"Method `default` ({base.method}, dense_weight {base.dense_weight}, lexical_saturation "
        f"{base.lexical_saturation}); model `{base.model}`. MAP@5, and the difference to torch in brackets.",
        "",
        "| backend | model id | " + " | ".join(names) + " | within 0.005 of torch |",
        "|---|---|" + "---:|" * len(names) + "---|",
    ]
    eligible = []
    for backend in BACKENDS:
        cells, ok = [], True
        for name in names:
            delta = scores[backend, name] - scores["torch", name]
            ok &= delta >= -TOLERANCE
            cells.append(f"{scores[backend, name]:.3f}" + ("" if backend == "torch" else f" ({delta:+.3f})"))
        if ok:
            eligible.append(backend)
        rows.append(f"| {backend} | `{model_ids[backend]}` | " + " | ".join(cells) + f" | {'yes' if ok else 'no'} |")
    chosen = eligible[-1]
    rows += [
        "",
        f"Rule: the fastest backend whose MAP@5 is at most {TOLERANCE} below torch's on every benchmark "
        "(a gain counts as within). "
        f"Chosen: **{chosen}**, the default of `RECOMMENDER_BACKEND` (see recommender/config.py).",
    ]
    table = "\n".join(rows)
    publish(PERFORMANCE, "backend-quality", table, COMMAND, write=not args.no_write)


if __name__ == "__main__":
    main()
