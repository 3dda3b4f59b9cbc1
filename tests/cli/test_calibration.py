"""cli/calibration.py: arguments and printing of `recommender calibrate` (the fitting is tested in
tests/learning/test_calibration_fit.py); a fake encoder, so no model is loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender import cli
from recommender.config import Settings
from recommender.services import Services
from recommender.learning.calibration import Calibrator
from tests.conftest import ROOT
from tests.fakes import HashingEncoder

runner = CliRunner()
KEY = ROOT / "data/sample/eval/answers.qrels"


@pytest.fixture()
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample_articles) -> Path:  # type: ignore[no-untyped-def]
    models = tmp_path / "models"
    monkeypatch.setenv("RECOMMENDER_DB", str(tmp_path / "calibrate.db"))
    monkeypatch.setenv("RECOMMENDER_MODELS_DIR", str(models))
    monkeypatch.setattr(cli.context, "open_services", lambda settings: Services.start(settings, encoder=HashingEncoder()))
    services = cli.context.open_services(Settings())
    services.catalog.ingest(sample_articles)
    services.close()
    return models


def test_calibrate_on_the_answer_key_writes_the_calibrator_and_prints_its_cut_scores(models: Path) -> None:
    result = runner.invoke(cli.app, ["calibrate", "--key", str(KEY), "--method", "isotonic"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("fitted isotonic on 0 editor decisions + ") and "answer-key labels; in-sample Brier 0." in lines[0]
    path = models / "calibration" / f"{Settings().model}.json"
    assert lines[1] == f"wrote {path} (used at the next start: RECOMMENDER_CALIBRATION=auto)"
    written = Calibrator.load(path)
    assert written.model_id == "hashing-test@1" and written.method == "isotonic"
    settings = Settings()
    assert lines[2:] == [
        f"  gap below probability {settings.review_threshold:.2f} = score {written.score_for(settings.review_threshold):.3f}",
        f"  live from probability {settings.auto_approve_threshold:.2f} = score {written.score_for(settings.auto_approve_threshold):.3f}",
    ]
    assert json.loads(path.read_text())["source"] in lines[0]


def test_calibrate_refuses_bad_arguments_before_opening_the_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOMMENDER_DB", str(tmp_path / "none.db"))
    monkeypatch.setattr(cli.context, "open_services", lambda settings: pytest.fail("bad arguments must not open the services"))
    method = runner.invoke(cli.app, ["calibrate", "--method", "bogus"])
    assert method.exit_code == 1 and "error: --method must be one of isotonic, logistic, not 'bogus'" in method.stderr
    missing = runner.invoke(cli.app, ["calibrate", "--key", str(tmp_path / "nope.qrels")])
    assert missing.exit_code == 1 and f"error: {tmp_path / 'nope.qrels'}: no such file" in missing.stderr
    bad = tmp_path / "bad.qrels"
    bad.write_text("q1 0 a 2\nq2 0 b lots\n")
    refused = runner.invoke(cli.app, ["calibrate", "--key", str(bad)])
    assert refused.exit_code == 1 and f"error: {bad}:2: relevance must be an integer, got 'lots'" in refused.stderr
    assert not (tmp_path / "none.db").exists()


def test_calibrate_without_labels_says_what_to_pass(models: Path) -> None:
    result = runner.invoke(cli.app, ["calibrate"])
    assert result.exit_code == 1
    assert "calibration needs approved and rejected links; got 0 approved of 0" in result.stderr
    assert "(pass --key with an answer key to fill in)" in result.stderr
    assert not (models / "calibration").exists()
