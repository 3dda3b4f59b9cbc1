"""cli/catalog.py: ingest errors name the file and line and store nothing; reports count what changed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender import cli
from recommender.config import Settings
from tests.cli.conftest import run
from tests.conftest import ROOT

runner = CliRunner()


def test_ingest_with_a_bad_file_names_it_and_stores_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(ROOT / "data/sample/articles/economy-tariffs-who-pays.txt", folder)
    (folder / "broken.txt").write_text("Fact check: Is it?\n\nChecked on Smarch 3, 2024\n")
    db = tmp_path / "cli.db"
    result = run(["ingest", str(folder)], {"RECOMMENDER_DB": str(db)})
    assert result.returncode == 1
    assert f"{folder / 'broken.txt'}:3: unreadable date" in result.stderr
    assert "nothing stored" in result.stderr
    assert not db.exists()


@pytest.mark.slow
def test_ingest_reports_unchanged_and_updated(cli_env: Path, tmp_path: Path) -> None:
    source = ROOT / "data/sample/articles/economy-tariffs-who-pays.txt"
    again = runner.invoke(cli.app, ["ingest", str(source), "--no-progress"])
    assert again.exit_code == 0 and "0 added, 0 updated, 1 unchanged" in again.output
    edited = tmp_path / "economy-tariffs-who-pays.txt"
    edited.write_text(source.read_text().replace("Checked on", "Checked on", 1) + "Who collects tariffs at the border?\n")
    result = runner.invoke(cli.app, ["ingest", str(edited), "--no-progress"])
    assert result.exit_code == 0 and "1 updated" in result.output
    assert Settings().db == cli_env


def test_ingest_of_a_folder_without_articles_fails_naming_the_patterns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18.3: '0 added' and exit 0 looked like success."""
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "notes.md").write_text("not an article")
    monkeypatch.setenv("RECOMMENDER_DB", str(tmp_path / "x.db"))
    monkeypatch.setattr(cli.context, "open_services", lambda settings: pytest.fail("nothing to ingest: the services must not open"))
    result = runner.invoke(cli.app, ["ingest", str(empty)])
    assert result.exit_code == 1
    assert f"error: {empty}: no article files found (looked for *.txt and *.jsonl, in subfolders too)" in result.output
    assert not (tmp_path / "x.db").exists()


@pytest.mark.slow
def test_ingest_works_from_any_directory(tmp_path: Path) -> None:
    """Issue 18.1 end to end: a new user runs the command from their home folder."""
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "RECOMMENDER_MODELS_DIR"}
    article = ROOT / "data/sample/articles/economy-tariffs-who-pays.txt"
    result = subprocess.run(
        [sys.executable, "-m", "recommender.cli", "ingest", "--no-progress", str(article)],
        cwd=elsewhere, env={**env, "RECOMMENDER_DB": "var/mine.db"}, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "1 added, 0 updated, 0 unchanged" in result.stdout and str(elsewhere / "var/mine.db") in result.stdout
    assert not (elsewhere / "models").exists()  # no stray export made in the current directory
