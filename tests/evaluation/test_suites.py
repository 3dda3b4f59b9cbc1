"""The shared benchmarks (site-titles, checkthat2020) and the sample key: found by path, skipped when
absent, and runnable by `recommender evaluate` like any benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender import cli
from recommender.evaluation.suites import SHARED, known_splits, present_splits

SITE = next(s for s in known_splits() if s.benchmark == "site-titles")


def test_absent_splits_are_not_listed(tmp_path: Path) -> None:
    (tmp_path / "site-titles").mkdir()
    for name in ("corpus.jsonl", "dev.queries.jsonl", "dev.qrels"):
        (tmp_path / "site-titles" / name).write_text("")
    splits = known_splits(shared=tmp_path, sample=tmp_path / "no-sample")
    assert [s.name for s in present_splits(splits)] == ["site-titles dev"]
    assert {s.name for s in splits} == {"site-titles dev", "checkthat2020 dev", "checkthat2020 train", "sample key"}


def test_the_sample_key_is_always_there() -> None:
    assert "sample key" in [s.name for s in present_splits()]


@pytest.mark.skipif(not SITE.present, reason=f"{SHARED / 'site-titles'} is absent (shared benchmarks not mounted)")
def test_evaluate_runs_site_titles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOMMENDER_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "metrics.json"
    args = ["evaluate", "--corpus", str(SITE.corpus), "--queries", str(SITE.queries), "--qrels", str(SITE.qrels)]
    result = CliRunner().invoke(cli.app, [*args, "--method", "lexical", "--json", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text())["lexical"]
    assert metrics["queries"] == 111
    # BM25 alone, as the benchmark's README measured it (0.784): the files are read as they are meant
    assert 0.74 <= metrics["mrr"] <= 0.83
