"""Torch-free encoder backend: an ONNX export of the model, run by ONNX Runtime.

Texts are tokenised with `tokenizers`, the transformer runs in ONNX Runtime, pooling and
normalisation are numpy: serving needs neither torch, transformers nor sentence-transformers
(this module must never import them). The export itself is written by
recommender.embedding.export (`recommender models export`) into ``models/<name>-onnx/``:

    model.onnx                  fp32 with ONNX Runtime's transformer fusions, the same vectors as torch (to ~1e-6)
    model-int8.onnx             optional, row-wise int8 (recommender.embedding.int8; cosine to torch ~0.9995)
    tokenizer.json              the model's tokenizer
    sentence_bert_config.json   max_seq_length, do_lower_case
    1_Pooling/config.json       pooling mode and dimension
    export.json                 source model id, versions, deviation from torch (the manifest)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recommender.embedding.base import normalize_rows

MODEL_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
MANIFEST = "export.json"
# Bump when the export changes in a way that must invalidate existing exports. 2: eager attention traced and
# fused, row-wise int8 (format 1: SDPA attention unfused, dynamic int8 run one text at a time).
FORMAT = 2
# The model id variant of the int8 model's vectors, recorded with its file in the manifest: a file of another
# scheme is made again. "int8row2": row-wise with LayerNorm outliers in fp32 and GELU inputs shifted
# (recommender.embedding.int8); "int8row" was plain row-wise, "int8" format 1's dynamic int8.
INT8_VARIANT = "int8row2"
SAME_AS_TORCH = 1e-5  # fp32 vectors this close to torch's share its model id (no re-encoding)
POOLING_MODES = ("mean", "cls", "max")


def export_folder(model_name: str, models_dir: Path) -> Path:
    return Path(models_dir) / f"{model_name}-onnx"


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The export's export.json, or None when there is no usable export of this format."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return None
    return manifest


def int8_current(folder: Path, manifest: dict[str, Any] | None) -> bool:
    """Whether the export holds an int8 model of the current scheme (INT8_VARIANT)."""
    if manifest is None or not (Path(folder) / INT8_FILE).exists():
        return False
    return manifest.get("files", {}).get(INT8_FILE, {}).get("variant") == INT8_VARIANT


def onnx_model_id(manifest: dict[str, Any], int8: bool) -> str:
    """The model id of an export's vectors.

    fp32 vectors that match torch to SAME_AS_TORCH keep the torch id, so a database built with either
    backend is served by the other without re-encoding; int8 vectors differ (cosine ~0.998) and get
    their own id, so they are never mixed with full-precision ones, nor with another int8 scheme's.
    """
    source = manifest["source"]["model_id"]
    if int8:
        return f"{source}+{INT8_VARIANT}"
    deviation = manifest.get("files", {}).get(MODEL_FILE, {}).get("max_abs_deviation")
    return source if deviation is not None and deviation <= SAME_AS_TORCH else f"{source}+onnx"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}


def _pooling(config: dict[str, Any]) -> tuple[str, int | None]:
    """(mode, dimension) from 1_Pooling/config.json, in the sentence-transformers 6 or the older format."""
    dim = config.get("embedding_dimension", config.get("word_embedding_dimension"))
    mode = config.get("pooling_mode")
    if mode is None:
        flags = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token", "max": "pooling_mode_max_tokens"}
        chosen = [name for name, key in flags.items() if config.get(key)]
        others = [k for k, v in config.items() if k.startswith("pooling_mode_") and v and k not in flags.values()]
        if len(chosen) != 1 or others:
            raise ValueError(f"unsupported pooling configuration {config}")
        mode = chosen[0]
    if mode not in POOLING_MODES:
        raise ValueError(f"unsupported pooling mode {mode!r} (supported: {', '.join(POOLING_MODES)})")
    return str(mode), int(dim) if dim is not None else None


def _batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Row indices, longest first, in batches of at most `batch_size` of similar length.

    A batch is padded to its longest text, so a batch also ends where the length halves (below 32
    tokens padding is cheap and ignored): padding at most doubles the work, where a mixed batch of 64
    could pad short questions to 256 tokens.
    """
    order = np.argsort([-n for n in lengths], kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    for end in range(1, len(order) + 1):
        if end == len(order) or end - start == batch_size or 2 * max(lengths[order[end]], 16) < lengths[order[start]]:
            batches.append(order[start:end])
            start = end
    return batches


class OnnxEncoder:
    """The Encoder protocol on ONNX Runtime (CPU). `threads`: intra-op threads, None = ONNX Runtime's default."""

    def __init__(
        self, folder: Path, model_id: str, threads: int | None = None, *, model_file: str = MODEL_FILE
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = Path(folder)
        settings = _read_json(folder / "sentence_bert_config.json")
        self._pooling, dim = _pooling(_read_json(folder / "1_Pooling" / "config.json") or {"pooling_mode": "mean"})
        self.model_id = model_id
        self.max_tokens = int(settings.get("max_seq_length") or 512)
        self._lower_case = bool(settings.get("do_lower_case", False))

        tokenizer_file = str(folder / "tokenizer.json")
        self._tokenizer = Tokenizer.from_file(tokenizer_file)
        padding = self._tokenizer.padding or {}
        self._pad_id = int(padding.get("pad_id", self._tokenizer.token_to_id("[PAD]") or 0))
        self._tokenizer.no_padding()  # batches are padded here, after sorting by length
        self._tokenizer.enable_truncation(self.max_tokens)  # counts the special tokens, like transformers
        self._counter = Tokenizer.from_file(tokenizer_file)  # count_tokens must not truncate
        self._counter.no_padding()
        self._counter.no_truncation()

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(folder / model_file), options, providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]
        unknown = set(self._inputs) - {"input_ids", "attention_mask", "token_type_ids"}
        if unknown:
            raise ValueError(f"{folder / model_file}: unexpected model inputs {sorted(unknown)}")
        output = self._session.get_outputs()[0]
        self._output = output.name
        if dim is None:
            known = isinstance(output.shape[-1], int)
            dim = output.shape[-1] if known else self._embed([self._tokenizer.encode("a")]).shape[1]
        self.dim = int(dim)

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        texts = [t.lower() for t in texts] if self._lower_case else list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        batches = _batches([len(e.ids) for e in encodings], batch_size)
        if progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc="encoding", unit="batch")
        for rows in batches:
            vectors[rows] = self._embed([encodings[i] for i in rows])
        return normalize_rows(vectors)

    def count_tokens(self, text: str) -> int:
        if self._lower_case:
            text = text.lower()
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def _embed(self, batch: list[Any]) -> np.ndarray:
        """Pooled, not yet normalised vectors of a batch of tokenizer Encodings."""
        length = max(len(e.ids) for e in batch)
        ids = np.full((len(batch), length), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.int64)
        types = np.zeros((len(batch), length), dtype=np.int64)
        for row, encoding in enumerate(batch):
            size = len(encoding.ids)
            ids[row, :size] = encoding.ids
            mask[row, :size] = encoding.attention_mask
            types[row, :size] = encoding.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = self._session.run([self._output], {name: feed[name] for name in self._inputs})[0]
        if self._pooling == "cls":
            return hidden[:, 0]
        weights = mask.astype(hidden.dtype)[:, :, None]
        if self._pooling == "max":
            return np.where(weights > 0, hidden, -1e9).max(axis=1)
        return (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
