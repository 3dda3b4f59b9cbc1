"""Shared fixtures: the sample corpus, a fake encoder for unit tests, the real model for the rest."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from recommender.articles.loader import load_paths  # noqa: E402
from recommender.articles.model import Article  # noqa: E402
from recommender.config import Settings  # noqa: E402
from recommender.editorial.auth import hash_token, new_token  # noqa: E402
from recommender.engine import Engine  # noqa: E402
from recommender.store.sqlite import SQLiteStore  # noqa: E402
from tests.fakes import HashingEncoder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SHARED = ROOT.parent / "shared"


def add_editor(store: SQLiteStore, name: str) -> str:
    """A new editor token (what `recommender editors add NAME` prints)."""
    token = new_token()
    store.add_editor(name, hash_token(token))
    return token


@pytest.fixture(scope="session")
def sample_articles() -> list[Article]:
    return [item.article for item in load_paths([SAMPLE / "articles"])]


@pytest.fixture()
def fake_encoder() -> HashingEncoder:
    return HashingEncoder()


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(db=tmp_path / "test.db", cache_dir=tmp_path / "cache", refresh_seconds=0)


@pytest.fixture()
def fake_engine(settings: Settings, fake_encoder: HashingEncoder) -> Iterator[Engine]:
    engine = Engine.open(settings, encoder=fake_encoder)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def real_encoder():  # type: ignore[no-untyped-def]
    from recommender.embedding.factory import create_encoder

    return create_encoder("all-MiniLM-L6-v2", ROOT / "models")


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory, real_encoder, sample_articles) -> Path:  # type: ignore[no-untyped-def]
    """The sample corpus ingested once with the real model; tests copy the file before writing."""
    path = tmp_path_factory.mktemp("sample") / "sample.db"
    engine = Engine.open(Settings(db=path, models_dir=ROOT / "models"), encoder=real_encoder)
    engine.ingest(sample_articles)
    engine.close()
    return path


@pytest.fixture(scope="session")
def sample_engine(sample_db: Path, real_encoder) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """Read-only engine over the sample corpus (do not write through it)."""
    engine = Engine.open(Settings(db=sample_db, models_dir=ROOT / "models"), encoder=real_encoder)
    yield engine
    engine.close()


@pytest.fixture()
def writable_sample_engine(sample_db: Path, tmp_path: Path, real_encoder) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    path = tmp_path / "copy.db"
    shutil.copy(sample_db, path)
    engine = Engine.open(Settings(db=path, models_dir=ROOT / "models", refresh_seconds=0), encoder=real_encoder)
    yield engine
    engine.close()
