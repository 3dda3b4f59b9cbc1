"""`ruff check` (settings under [tool.ruff] in pyproject.toml) passes on the package, tests and scripts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists() and (found := shutil.which("ruff")) is None:
        pytest.skip("ruff is not installed (the dev extra installs it: `make test`)")
    command = [str(ruff if ruff.exists() else found), "check", "--no-cache", "recommender", "tests", "scripts"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
