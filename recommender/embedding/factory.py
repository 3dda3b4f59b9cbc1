"""Pick and load an encoder by name from the model registry (models/registry.json)."""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path

from recommender.embedding.base import Encoder


class ModelNotFound(LookupError):
    pass


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: Path


def resolve_model(name: str, models_dir: Path) -> ModelSpec:
    """Where the model called `name` lives: a registry entry or a trained folder models/<name>/."""
    registry_file = models_dir / "registry.json"
    registry = json.loads(registry_file.read_text()) if registry_file.exists() else {"encoders": {}}
    entry = registry.get("encoders", {}).get(name)
    if entry and "package" in entry:
        module = importlib.import_module(entry["package"])
        return ModelSpec(name, Path(module.get_model_path()))
    if entry and "path" in entry:
        return ModelSpec(name, (models_dir / entry["path"]).resolve())
    local = models_dir / name
    if (local / "config.json").exists() or (local / "modules.json").exists():
        return ModelSpec(name, local.resolve())
    known = ", ".join(sorted(registry.get("encoders", {}))) or "none"
    raise ModelNotFound(f"unknown model {name!r}: not in {registry_file} (known: {known}) nor a folder {local}")


def model_id_for(spec: ModelSpec) -> str:
    """Name plus a fingerprint of the weights, so retraining into the same folder changes the id."""
    digest = hashlib.sha256()
    for weights in sorted(spec.path.glob("*.safetensors")) + sorted(spec.path.glob("*.bin")):
        stat = weights.stat()
        digest.update(f"{weights.name}:{stat.st_size}".encode())
        with weights.open("rb") as handle:
            digest.update(handle.read(1 << 20))
    return f"{spec.name}@{digest.hexdigest()[:12]}"


def create_encoder(name: str, models_dir: Path) -> Encoder:
    from recommender.embedding.sentence_transformers import SentenceTransformerEncoder

    spec = resolve_model(name, models_dir)
    return SentenceTransformerEncoder(spec.path, model_id_for(spec))
