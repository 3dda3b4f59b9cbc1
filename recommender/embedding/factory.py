"""Load an encoder by name (see registry.py for the names) on a backend: ONNX Runtime (exported on demand)
or torch, with a shipped adapter on top where the registry entry has one."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, get_args

from recommender.config import Backend
from recommender.embedding.base import Encoder
from recommender.embedding.registry import ModelNotFound, ModelSpec, adapter_entry, model_id_for, resolve_model


BACKENDS: tuple[str, ...] = get_args(Backend)


class BackendUnavailable(RuntimeError):
    pass


def torch_available() -> bool:
    """Whether the torch backend (and an ONNX export) can run here, checked without importing torch."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "sentence_transformers"))


def create_encoder(name: str, models_dir: Path, backend: Backend = "auto", threads: int | None = None) -> Encoder:
    """Load the encoder `name` on `backend` (see Settings.backend).

    auto: the ONNX fp32 export if one matches the model (or torch is not installed), else torch.
    onnx / onnx-int8: the ONNX export, made on demand where torch is installed.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (one of {', '.join(BACKENDS)})")
    adapted = adapter_entry(name, models_dir)
    if adapted is not None:
        from recommender.embedding.adapter import AdaptedEncoder, Adapter

        base = create_encoder(adapted[0], models_dir, backend=backend, threads=threads)
        return AdaptedEncoder(base, Adapter.load(adapted[1]), name)
    if backend == "torch":
        return _torch_encoder(resolve_model(name, models_dir))
    from recommender.embedding.onnx import MODEL_FILE, export_folder, int8_current, read_manifest

    folder = export_folder(name, models_dir)
    manifest = read_manifest(folder)
    try:
        spec: ModelSpec | None = resolve_model(name, models_dir)
    except ImportError:  # the registry's model package is not installed: only the export can serve
        spec = None
    except ModelNotFound:
        if manifest is None:
            raise
        spec = None
    # The export is current when it was made from these weights; without the source, trust it.
    current = manifest is not None and (spec is None or manifest["source"]["model_id"] == model_id_for(spec))
    can_export = spec is not None and torch_available()
    command = f"recommender models export --name {name}"
    if backend == "auto":
        if current and (folder / MODEL_FILE).exists():
            return _onnx_encoder(folder, manifest, int8=False, threads=threads)
        if can_export:
            assert spec is not None
            return _torch_encoder(spec)
        raise BackendUnavailable(
            f"no usable encoder for {name!r}: torch is not installed and {folder} holds no ONNX export of "
            f"the current model; run `{command}` where torch is installed and ship {folder}"
        )
    int8 = backend == "onnx-int8"
    if not (current and (int8_current(folder, manifest) if int8 else (folder / MODEL_FILE).exists())):
        if not can_export:
            raise BackendUnavailable(
                f"backend {backend!r}: {folder} holds no {'int8 ' if int8 else ''}ONNX export of the current "
                f"model {name!r} and it cannot be made here (needs torch and the source model); "
                f"run `{command}{' --int8' if int8 else ''}` where torch is installed and ship {folder}"
            )
        from recommender.embedding.export import export_onnx

        export_onnx(name, models_dir, quantize=int8)
        manifest = read_manifest(folder)
    return _onnx_encoder(folder, manifest, int8=int8, threads=threads)


def _torch_encoder(spec: ModelSpec) -> Encoder:
    from recommender.embedding.sentence_transformers import SentenceTransformerEncoder

    return SentenceTransformerEncoder(spec.path, model_id_for(spec))


def _onnx_encoder(folder: Path, manifest: dict[str, Any] | None, int8: bool, threads: int | None) -> Encoder:
    from recommender.embedding.onnx import INT8_FILE, MODEL_FILE, OnnxEncoder, onnx_model_id

    if manifest is None:
        raise BackendUnavailable(f"{folder}: the export has no readable export.json")
    return OnnxEncoder(folder, onnx_model_id(manifest, int8), threads, model_file=INT8_FILE if int8 else MODEL_FILE)
