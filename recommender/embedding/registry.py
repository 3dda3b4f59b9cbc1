"""The model registry: which encoders exist by name (registry.json beside this module, shipped with the
package, plus an optional RECOMMENDER_MODELS_DIR/registry.json, plus trained folders models/<name>/),
where their weights are, and the model id their vectors carry."""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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

