"""End to end: editors decide on the sample, `recommender train --from-decisions` fine-tunes (1 short
epoch), the model card reports held-out decisions and a gate, and `models use` switches the database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from recommender.config import Settings
from recommender.services import Services
from recommender.store.sqlite import SQLiteStore
from tests.conftest import ROOT, TEST_BACKEND

pytestmark = pytest.mark.slow


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recommender.cli", *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=900
    )


@pytest.mark.costly(70)
def test_train_from_decisions_then_switch(sample_db: Path, tmp_path: Path, real_encoder) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "decided.db"
    shutil.copy(sample_db, db)
    models = tmp_path / "models"
    models.mkdir()
    services = Services.start(Settings(db=db, models_dir=models), encoder=real_encoder)
    # A third of the sample is enough to train on and keeps the switch below (which re-encodes every
    # passage with the trained torch model) short.
    articles = sorted(services.holder.snapshot().articles)
    for article_id in articles:
        if article_id != "economy-tariffs-who-pays" and articles.index(article_id) % 3:
            services.catalog.delete(article_id)
    statuses = [s for s in services.reading.statuses() if len(s.links) >= 2][:8]
    items = [(s.question.id, "approve", s.links[0].article_id) for s in statuses]
    items += [(s.question.id, "reject", s.links[1].article_id) for s in statuses[:4]]
    services.editorial.decide_each(items, "alice")
    decisions = services.store.all_decisions()
    services.close()
    env = {
        "RECOMMENDER_DB": str(db),
        "RECOMMENDER_MODELS_DIR": str(models),
        "RECOMMENDER_CACHE_DIR": str(tmp_path / "cache"),
        "RECOMMENDER_BACKEND": TEST_BACKEND,  # the sample's encoder: no re-encoding at open
    }

    calibrated = run(["calibrate", "--key", str(ROOT / "data/sample/eval/answers.qrels")], env)
    assert calibrated.returncode == 0, calibrated.stderr[-2000:]
    assert "12 editor decisions + " in calibrated.stdout and "answer-key labels" in calibrated.stdout
    written = json.loads((models / "calibration" / f"{Settings().model}.json").read_text())
    assert written["model_id"] == real_encoder.model_id and written["method"] == "logistic"
    too_few = run(["calibrate"], env)  # 12 labelled links, all from decisions: fitted on them alone is allowed
    assert too_few.returncode == 0 and "12 editor decisions" in too_few.stdout

    nothing = run(["train", "--name", "x"], env)
    assert nothing.returncode == 1 and "--corpus, --queries and --qrels are needed (or --from-decisions)" in nothing.stderr

    trained = run(
        ["train", "--from-decisions", "--name", "tiny", "--epochs", "1", "--batch-size", "4", "--held-out", "0.25",
         "--key", str(ROOT / "data/sample/eval/answers.qrels")],
        env,
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    card = json.loads((models / "tiny" / "model_card.json").read_text())
    assert "8 questions with an approved or pinned fact check (6 trained on, 2 held out)" in card["data"]["editor decisions"]
    held = card["metrics"]["held-out decisions"]
    assert held["queries"] == 2.0 and "before:map@5" in held and "after:map@5" in held
    assert set(card["gate"]) == {"passed", "reason"}
    assert (models / "tiny" / "calibration.json").is_file()  # fitted on decisions + the key for the new model
    assert "## Gate" in (models / "tiny" / "README.md").read_text()

    switched = run(["models", "use", "tiny", "--force"], env)
    assert switched.returncode == 0, switched.stderr[-2000:]
    store = SQLiteStore(db, model_id="-")
    name, model_id = store.live_model()
    assert name == "tiny" and model_id is not None and model_id.startswith("tiny@")
    assert store.stored_model_ids() == {model_id}
    assert store.all_decisions() == decisions  # decisions untouched
    store.close()
    # later commands keep the switched model (no re-encoding back to the default)
    links = run(["links", "economy-tariffs-who-pays"], env)
    assert links.returncode == 0, links.stderr[-2000:]
    store = SQLiteStore(db, model_id="-")
    assert store.stored_model_ids() == {model_id}
    store.close()
