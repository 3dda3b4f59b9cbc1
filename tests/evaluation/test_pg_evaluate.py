"""`recommender evaluate --database-url`: the same benchmark ranked inside PostgreSQL by PgRanker."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.config import Settings
from recommender.evaluation.runner import run_benchmark
from recommender.services import Services
from tests.fakes import HashingEncoder
from tests.pg import PgServer

pytestmark = pytest.mark.postgres

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "eval"
FILES = (SAMPLE / "corpus.jsonl", SAMPLE / "queries.jsonl", SAMPLE / "answers.qrels")


def test_ranking_in_postgres_gives_the_in_memory_rankings_on_the_sample(pg_server: PgServer, tmp_path: Path) -> None:
    name = pg_server.create()
    settings = Settings(cache_dir=tmp_path / "cache")
    encoder = HashingEncoder()
    try:
        exact = run_benchmark(*FILES, ["default", "lexical"], settings, lambda: encoder)
        pg = run_benchmark(*FILES, ["default", "lexical"], settings, lambda: encoder, database_url=pg_server.url_of(name))
        again = run_benchmark(*FILES, ["default"], settings, lambda: encoder, database_url=pg_server.url_of(name))
    finally:
        pg_server.drop(name)
    assert pg["lexical"].rankings == exact["lexical"].rankings
    assert pg["lexical"].metrics == exact["lexical"].metrics
    # In memory the passage vectors are int8 codes (index/vectors.py); PostgreSQL scores the float32
    # vectors: near-ties may swap, the quality may not move (issue 15: within 0.005 MAP@5).
    for metric, value in exact["default"].metrics.items():
        assert pg["default"].metrics[metric] == pytest.approx(value, abs=0.005), metric
    same = sum(a[:1] == b[:1] for a, b in zip(pg["default"].rankings.values(), exact["default"].rankings.values()))
    assert same >= 0.97 * len(exact["default"].rankings)
    assert again["default"].rankings == pg["default"].rankings  # loaded once, reused


def test_a_database_with_real_articles_is_refused(pg_server: PgServer, tmp_path: Path, sample_articles) -> None:  # type: ignore[no-untyped-def]
    name = pg_server.create()
    url = pg_server.url_of(name)
    services = Services.start(Settings(database_url=url), encoder=HashingEncoder())
    services.catalog.ingest(sample_articles[:2])
    services.close()
    try:
        with pytest.raises(ValueError, match="holds articles of its own"):
            run_benchmark(*FILES, ["default"], Settings(cache_dir=tmp_path / "c"), HashingEncoder, database_url=url)
        services = Services.start(Settings(database_url=url), encoder=HashingEncoder())
        assert services.store.counts()["articles"] == 2  # nothing lost
        services.close()
    finally:
        pg_server.drop(name)
