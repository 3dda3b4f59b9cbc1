"""Pick and load an encoder by name from the model registry (registry.json beside this module, which
ships with the package, plus an optional RECOMMENDER_MODELS_DIR/registry.json)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from recommender.config import Backend
from recommender.embedding.base import Encoder


class ModelNotFound(LookupError):
    pass


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: Path


# The encoders the package knows, shipped inside it: found wherever the command runs from.
PACKAGED_REGISTRY = Path(__file__).resolve().parent / "registry.json"


def _registry(models_dir: Path) -> tuple[dict[str, dict[str, Any]], list[Path]]:
    """Known encoders: the packaged registry, then `models_dir/registry.json` if there is one (its
    entries add to or replace the packaged ones; its "path" entries are relative to `models_dir`)."""
    encoders: dict[str, dict[str, Any]] = {}
    files = [PACKAGED_REGISTRY]
    for entry in json.loads(PACKAGED_REGISTRY.read_text()).get("encoders", {}).items():
        encoders[entry[0]] = {**entry[1], "base": PACKAGED_REGISTRY.parent}
    local = models_dir / "registry.json"
    if local.is_file():
        files.append(local)
        for name, entry in json.loads(local.read_text()).get("encoders", {}).items():
            encoders[name] = {**entry, "base": models_dir}
    return encoders, files


def adapter_entry(name: str, models_dir: Path) -> tuple[str, Path] | None:
    """(adapted model name, adapter .npy path) when the registry entry `name` is another encoder plus a
    linear adapter (`"adapts"` and `"adapter"`, see recommender.embedding.adapter), else None."""
    entry = _registry(Path(models_dir))[0].get(name)
    if not entry or ("adapter" not in entry and "adapts" not in entry):
        return None
    if not isinstance(entry.get("adapts"), str) or not isinstance(entry.get("adapter"), str) or entry["adapts"] == name:
        raise ModelNotFound(
            f'registry entry {name!r}: an adapter entry needs "adapts" (another model\'s name) and "adapter" (a .npy path)'
        )
    return entry["adapts"], (entry["base"] / entry["adapter"]).resolve()


def base_model_name(name: str, models_dir: Path) -> str:
    """The model whose weights (and ONNX export) serve `name`: its base for an adapter entry, else itself."""
    seen = [name]
    while (adapted := adapter_entry(seen[-1], models_dir)) is not None:
        if adapted[0] in seen:
            raise ModelNotFound(f"registry entries adapt each other in a circle: {' -> '.join([*seen, adapted[0]])}")
        seen.append(adapted[0])
    return seen[-1]


def resolve_model(name: str, models_dir: Path) -> ModelSpec:
    """Where the model called `name` lives: a registry entry or a trained folder models/<name>/.

    For an adapter entry: its base model's weights (training or exporting it starts from those)."""
    models_dir = Path(models_dir)
    base = base_model_name(name, models_dir)
    if base != name:
        return resolve_model(base, models_dir)
    encoders, files = _registry(models_dir)
    entry = encoders.get(name)
    if entry and "package" in entry:
        module = importlib.import_module(entry["package"])
        return ModelSpec(name, Path(module.get_model_path()))
    if entry and "path" in entry:
        return ModelSpec(name, (entry["base"] / entry["path"]).resolve())
    local = models_dir / name
    if (local / "config.json").exists() or (local / "modules.json").exists():
        return ModelSpec(name, local.resolve())
    known = ", ".join(sorted(encoders)) or "none"
    registries = " or ".join(str(f) for f in files)
    raise ModelNotFound(f"unknown model {name!r}: not in {registries} (known: {known}) nor a folder {local.resolve()}")


def model_id_for(spec: ModelSpec) -> str:
    """Name plus a fingerprint of the weights, so retraining into the same folder changes the id."""
    digest = hashlib.sha256()
    for weights in sorted(spec.path.glob("*.safetensors")) + sorted(spec.path.glob("*.bin")):
        stat = weights.stat()
        digest.update(f"{weights.name}:{stat.st_size}".encode())
        with weights.open("rb") as handle:
            digest.update(handle.read(1 << 20))
    return f"{spec.name}@{digest.hexdigest()[:12]}"


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
    from recommender.embedding.onnx import INT8_FILE, MODEL_FILE, export_folder, read_manifest

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
    if not (current and (folder / (INT8_FILE if int8 else MODEL_FILE)).exists()):
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
