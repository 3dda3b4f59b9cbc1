"""Model cards of trained models (models/<name>/model_card.json): what `recommender train` wrote."""

from __future__ import annotations

import json
from pathlib import Path


def read_card(models_dir: Path, name: str) -> dict | None:  # type: ignore[type-arg]
    path = models_dir / name / "model_card.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def trained_models(models_dir: Path) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    out = []
    for folder in sorted(p for p in models_dir.iterdir() if p.is_dir()) if models_dir.is_dir() else []:
        card = read_card(models_dir, folder.name)
        if card is not None:
            out.append((folder.name, card))
    return out
