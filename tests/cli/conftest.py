"""Shared by the CLI tests: the command in a subprocess, and the sample database behind the real model."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from recommender import cli
from recommender.services import Services
from tests.conftest import ROOT


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recommender.cli", *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=300
    )


@pytest.fixture()
def cli_env(sample_db: Path, tmp_path: Path, real_encoder, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    db = tmp_path / "cli.db"
    shutil.copy(sample_db, db)
    monkeypatch.setenv("RECOMMENDER_DB", str(db))
    monkeypatch.setenv("RECOMMENDER_MODELS_DIR", str(ROOT / "models"))
    monkeypatch.setattr(cli.context, "open_services", lambda settings: Services.start(settings, encoder=real_encoder))
    return db
