"""Encoder throughput: torch vs ONNX Runtime fp32 vs int8, in one process, on a fixed number of threads.

    .venv/bin/python scripts/bench_encoders.py [--threads 2] [--models-dir models] [--levers] [--no-write]

--levers adds the export of format 1 side by side (built in a temporary folder, never served): the
model's SDPA attention traced and left unfused, and dynamic int8 on it run one text at a time (its
activation scale spans the whole input, so batching would make a vector depend on its batch mates).

Measures sentences per second on (a) 500 short questions (data/sample/eval/queries.jsonl, cycled)
and (b) 300 passages of about 200 tokens (data/sample/eval/corpus.jsonl split like the service
splits articles), plus each backend's agreement with torch. Exports the model first if needed
(models/<name>-onnx/). Prints a Markdown table and writes it into docs/performance.md between
the markers below, leaving the rest of that file alone.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from recommender.embedding.export import export_onnx  # noqa: E402
from recommender.embedding.factory import create_encoder  # noqa: E402
from recommender.embedding.registry import resolve_model  # noqa: E402
from recommender.embedding.onnx import INT8_FILE, MODEL_FILE, export_folder  # noqa: E402
from recommender.embedding.passages import pack  # noqa: E402

START, END = "<!-- encoders:start -->", "<!-- encoders:end -->"
EVAL = ROOT / "data" / "sample" / "eval"


def questions(n: int) -> list[str]:
    texts = [json.loads(line)["text"] for line in (EVAL / "queries.jsonl").read_text().splitlines() if line.strip()]
    return list(itertools.islice(itertools.cycle(texts), n))


def passages(n: int, count_tokens) -> list[str]:  # type: ignore[no-untyped-def]
    """Corpus texts packed into passages of at most 220 tokens; those of 160+ tokens (about 200 on average)."""
    docs = [json.loads(line) for line in (EVAL / "corpus.jsonl").read_text().splitlines() if line.strip()]
    found = [p for d in docs for p in pack(d["text"], "", count_tokens, 220) if count_tokens(p) >= 160]
    return list(itertools.islice(itertools.cycle(found), n))


def measure(encoders: dict, sets: dict[str, list[str]], repeats: int, chunk: int = 50):  # type: ignore[no-untyped-def]
    """Texts per second of every (encoder, set) in each of `repeats` rounds, and the vectors.

    The machine may be shared, so runs are interleaved finely: each chunk of `chunk` texts is timed on
    every encoder in turn, and all encoders see about the same load from other processes.
    """
    for encoder in encoders.values():
        for texts in sets.values():
            encoder.encode(texts[:chunk])  # warm-up
    rates: dict[tuple[str, str], list[float]] = {(e, s): [] for e in encoders for s in sets}
    vectors: dict[tuple[str, str], np.ndarray] = {}
    for _ in range(repeats):
        for name, texts in sets.items():
            seconds = dict.fromkeys(encoders, 0.0)
            parts: dict[str, list[np.ndarray]] = {label: [] for label in encoders}
            for start in range(0, len(texts), chunk):
                for label, encoder in encoders.items():
                    began = time.perf_counter()
                    parts[label].append(encoder.encode(texts[start : start + chunk], batch_size=64))
                    seconds[label] += time.perf_counter() - began
            for label in encoders:
                rates[label, name].append(len(texts) / seconds[label])
                vectors[label, name] = np.vstack(parts[label])
    return rates, vectors


class OneTextPerRun:
    """Format 1's int8 rule: every text in its own run (the encoder still sorts and pads nothing)."""

    def __init__(self, encoder) -> None:  # type: ignore[no-untyped-def]
        self.encoder, self.model_id = encoder, encoder.model_id

    def encode(self, texts, batch_size: int = 64):  # type: ignore[no-untyped-def]
        return self.encoder.encode(texts, batch_size=1)


def format1_encoders(model: str, models_dir: Path, threads: int, work: Path) -> tuple[dict, dict]:
    """Format 1's unfused fp32 export and its dynamic int8 (one text per run), built in `work`."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    from recommender.embedding.export import OPSET, _export_transformer, _write_configs
    from recommender.embedding.onnx import OnnxEncoder
    from recommender.embedding.registry import base_model_name, model_id_for
    from recommender.embedding.sentence_transformers import SentenceTransformerEncoder

    spec = resolve_model(base_model_name(model, models_dir), models_dir)
    reference = SentenceTransformerEncoder(spec.path, model_id_for(spec))
    _export_transformer(reference, work / "unfused.onnx", OPSET, fuse=False)
    _write_configs(reference, work)
    logging.disable(logging.WARNING)
    quantize_dynamic(str(work / "unfused.onnx"), str(work / "dynamic.onnx"), per_channel=True, weight_type=QuantType.QInt8)
    logging.disable(logging.NOTSET)
    unfused = "onnx fp32, unfused (format 1)"
    dynamic = "onnx int8 dynamic, one text per run (format 1)"
    encoders = {
        unfused: OnnxEncoder(work, reference.model_id, threads, model_file="unfused.onnx"),
        dynamic: OneTextPerRun(OnnxEncoder(work, reference.model_id + "+int8", threads, model_file="dynamic.onnx")),
    }
    sizes = {unfused: (work / "unfused.onnx").stat().st_size, dynamic: (work / "dynamic.onnx").stat().st_size}
    return encoders, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--passages", type=int, default=300)
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--levers", action="store_true", help="Also measure format 1's export (what each change gained).")
    parser.add_argument("--no-write", action="store_true", help="Print the table only.")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    export_onnx(args.model, args.models_dir, quantize=True)
    folder = export_folder(args.model, args.models_dir)
    encoders = {
        "torch (sentence-transformers)": create_encoder(args.model, args.models_dir, backend="torch"),
        "onnx fp32 (fused)": create_encoder(args.model, args.models_dir, backend="onnx", threads=args.threads),
        "onnx int8 (row-wise)": create_encoder(args.model, args.models_dir, backend="onnx-int8", threads=args.threads),
    }
    source = resolve_model(args.model, args.models_dir).path
    sizes = {
        "torch (sentence-transformers)": sum(f.stat().st_size for f in source.glob("*.safetensors")),
        "onnx fp32 (fused)": (folder / MODEL_FILE).stat().st_size,
        "onnx int8 (row-wise)": (folder / INT8_FILE).stat().st_size,
    }
    work = Path(tempfile.mkdtemp(prefix="bench-encoders-"))
    if args.levers:
        extra, extra_sizes = format1_encoders(args.model, args.models_dir, args.threads, work)
        encoders.update(extra)
        sizes.update(extra_sizes)
    reference = encoders["torch (sentence-transformers)"]
    short = questions(args.questions)
    long = passages(args.passages, reference.count_tokens)
    short_tokens = np.mean([reference.count_tokens(t) for t in short])
    long_tokens = np.mean([reference.count_tokens(t) for t in long])

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rates, results = measure(encoders, {"questions": short, "passages": long}, args.repeats)
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    torch_label = "torch (sentence-transformers)"
    median = {key: float(np.median(values)) for key, values in rates.items()}
    expected = np.vstack([results[torch_label, "questions"], results[torch_label, "passages"]])
    rows, speedups = [], []
    for label, encoder in encoders.items():
        vectors = np.vstack([results[label, "questions"], results[label, "passages"]])
        cosines = np.sum(vectors * expected, axis=1)
        rows.append(
            f"| {label} | `{encoder.model_id}` | {sizes[label] / 1e6:.0f} MB | {median[label, 'questions']:.0f} | "
            f"{median[label, 'passages']:.1f} | {float(np.abs(vectors - expected).max()):.1e} | "
            f"{cosines.min():.4f} / {cosines.mean():.4f} |"
        )
        if label != torch_label:
            speedups.append(
                f"{label} x{median[label, 'questions'] / median[torch_label, 'questions']:.1f} / "
                f"x{median[label, 'passages'] / median[torch_label, 'passages']:.1f}"
            )
    table = "\n".join(
        [
            f"Measured {date.today().isoformat()} by `scripts/bench_encoders.py` in one process: "
            f"{args.threads} threads "
            f"({os.cpu_count()} CPUs, {platform.machine()}; 1-minute load average {load_before:.1f} before, "
            f"{load_after:.1f} after), batch size 64, median of {args.repeats} rounds; in each round every chunk "
            "of 50 texts is timed on each backend in turn, so load from other processes hits all backends alike.",
            f"Questions: {len(short)} short questions (mean {short_tokens:.0f} tokens); passages: {len(long)} "
            f"passages (mean {long_tokens:.0f} tokens). Deviation and cosine: against the torch vectors of both sets.",
            "",
            "| backend | model id | model file | questions/s | passages/s | max abs deviation "
            "| cosine to torch min / mean |",
            "|---|---|---|---:|---:|---:|---:|",
            *rows,
            "",
            "Speed-up over torch (questions / passages): " + "; ".join(speedups) + ".",
        ]
    )
    print(table)
    shutil.rmtree(work, ignore_errors=True)
    if not args.no_write:
        write_section(args.doc, table)
        print(f"\nwritten to {args.doc}", file=sys.stderr)


def write_section(path: Path, table: str) -> None:
    block = f"{START}\n{table}\n{END}"
    text = path.read_text() if path.exists() else "# Performance\n"
    if START in text and END in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, count=1, flags=re.S)
    else:
        heading = "\n## Encoder backends\n\n" if "## Encoder backends" not in text else "\n"
        text = text.rstrip("\n") + "\n" + heading + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


if __name__ == "__main__":
    main()
