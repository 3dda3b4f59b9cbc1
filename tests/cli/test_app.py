"""cli/app.py: the help says where the data is; the model registry is found from any directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender import cli
from recommender.config import Settings
from tests.conftest import ROOT

runner = CliRunner()


def test_the_model_registry_is_found_from_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18.1: from another directory, without RECOMMENDER_MODELS_DIR, the default encoder is known."""
    from recommender.embedding.registry import resolve_model

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECOMMENDER_MODELS_DIR", raising=False)
    settings = Settings()
    assert settings.models_dir == ROOT / "models"  # the checkout's, not ./models
    assert resolve_model(settings.model, tmp_path / "no-models-here").path.is_dir()  # the packaged registry
    help_text = runner.invoke(cli.app, ["--help"], env={"RECOMMENDER_DB": "data.db", "COLUMNS": "300"}).output
    assert f"Database: {tmp_path / 'data.db'}" in help_text and "RECOMMENDER_DB" in help_text
