"""Shared fixtures: the sample corpus, a fake encoder for unit tests, the real model for the rest."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tests choose their store themselves: an operator's PostgreSQL in the environment must never be written to.
for _name in ("RECOMMENDER_DATABASE_URL", "RECOMMENDER_DATABASE_READ_URL"):
    os.environ.pop(_name, None)

from recommender.articles.loader import load_paths  # noqa: E402
from recommender.articles.model import Article  # noqa: E402
from recommender.config import Settings  # noqa: E402
from recommender.domain import Role  # noqa: E402
from recommender.editorial.auth import hash_token, new_token  # noqa: E402
from recommender.services import Services  # noqa: E402
from recommender.store.base import Store  # noqa: E402
from tests.fakes import HashingEncoder  # noqa: E402
from tests.pg import KnownVectors, PgServer, PostgresUnavailable, connect_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SHARED = ROOT.parent / "shared"
# The encoder backend of `real_encoder`: the service's default (or RECOMMENDER_BACKEND). Processes the
# tests start must load the same one, or they would re-encode the database they are handed at open.
TEST_BACKEND: str = Settings().backend


# Modules whose tests run on both stores override the `store_backend` fixture with these params:
#     @pytest.fixture(params=BOTH_STORES)
#     def store_backend(request): return request.param
BOTH_STORES = [pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)]


def add_editor(store: Store, name: str, role: Role = "admin") -> str:
    """A new token (what `recommender editors add NAME --role ROLE` prints); admin unless a test is about roles."""
    token = new_token()
    store.add_editor(name, hash_token(token), role)
    return token


@pytest.fixture(scope="session")
def sample_articles() -> list[Article]:
    return [item.article for item in load_paths([SAMPLE / "articles"])]


@pytest.fixture()
def fake_encoder() -> HashingEncoder:
    return HashingEncoder()


@pytest.fixture()
def store_backend() -> str:
    """The store a test runs on: SQLite, unless its module asks for both (BOTH_STORES).

    RECOMMENDER_TEST_STORE=postgres runs every test built on these fixtures on PostgreSQL instead.
    """
    return os.environ.get("RECOMMENDER_TEST_STORE", "sqlite")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The PostgreSQL + pgvector test server (scripts/start_postgres.sh); skips when it cannot start."""
    try:
        server = connect_server()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL with pgvector could not be started, so the PostgreSQL runs are skipped: {exc}")
    yield server
    server.drop_all_of_this_session()


@pytest.fixture()
def database_url(store_backend: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for SQLite; for PostgreSQL the URL of an empty database of this test's own."""
    if store_backend != "postgres":
        yield None
        return
    server: PgServer = request.getfixturevalue("pg_server")
    name = server.create()
    yield server.url_of(name)
    server.drop(name)


@pytest.fixture()
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(
        db=tmp_path / "test.db", database_url=database_url, cache_dir=tmp_path / "cache", refresh_seconds=0
    )


@pytest.fixture()
def fake_services(settings: Settings, fake_encoder: HashingEncoder) -> Iterator[Services]:
    services = Services.start(settings, encoder=fake_encoder)
    yield services
    services.close()


@pytest.fixture(scope="session")
def real_encoder():  # type: ignore[no-untyped-def]
    from recommender.embedding.factory import create_encoder

    # the served default (an adapter entry loads its base model plus the adapter)
    return create_encoder(Settings().model, ROOT / "models", backend=TEST_BACKEND)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory, real_encoder, sample_articles) -> Path:  # type: ignore[no-untyped-def]
    """The sample corpus ingested once with the real model; tests copy the file before writing.

    Under pytest-xdist (`make test` runs two workers) the first worker builds it and the other waits
    for it: encoding the sample is the costliest setup of the suite.
    """
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the workers' common base directory
    path = shared / f"sample-{real_encoder.model_id.replace('@', '-')}.db"
    with FileLock(str(path) + ".lock"):
        if not path.exists():
            building = path.with_suffix(".building")
            services = Services.start(Settings(db=building, models_dir=ROOT / "models"), encoder=real_encoder)
            services.catalog.ingest(sample_articles)
            services.close()
            building.rename(path)
    return path


@pytest.fixture(scope="session")
def sample_services(sample_db: Path, real_encoder) -> Iterator[Services]:  # type: ignore[no-untyped-def]
    """Read-only services over the sample corpus (do not write through it)."""
    services = Services.start(Settings(db=sample_db, models_dir=ROOT / "models"), encoder=real_encoder)
    yield services
    services.close()


@pytest.fixture(scope="session")
def sample_pg(pg_server: PgServer, sample_db: Path, real_encoder, sample_articles) -> str:  # type: ignore[no-untyped-def]
    """The sample corpus in a PostgreSQL database, made once and used as a template (copied per test).

    Its vectors are the SQLite sample's (KnownVectors): the same model, without encoding it all again.
    """
    name = pg_server.create()
    encoder = KnownVectors(real_encoder, sample_db)
    services = Services.start(Settings(database_url=pg_server.url_of(name), models_dir=ROOT / "models"), encoder=encoder)
    services.catalog.ingest(sample_articles)
    services.close()
    return name


@pytest.fixture()
def sample_settings(store_backend: str, tmp_path: Path, sample_db: Path, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings of a writable copy of the ingested sample, on this test's store backend."""
    if store_backend == "postgres":
        server: PgServer = request.getfixturevalue("pg_server")
        name = server.create(template=request.getfixturevalue("sample_pg"))
        yield Settings(database_url=server.url_of(name), models_dir=ROOT / "models", refresh_seconds=0)
        server.drop(name)
        return
    path = tmp_path / "copy.db"
    shutil.copy(sample_db, path)
    yield Settings(db=path, models_dir=ROOT / "models", refresh_seconds=0)


@pytest.fixture()
def writable_sample_services(sample_settings: Settings, real_encoder) -> Iterator[Services]:  # type: ignore[no-untyped-def]
    services = Services.start(sample_settings, encoder=real_encoder)
    yield services
    services.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Lanes by what a test needs, read from its fixtures: the real model (slow), PostgreSQL, a browser.

    `make test-fast` runs everything else (`-m "not slow and not postgres and not browser"`): the fake
    encoder, SQLite files and in-process apps only.
    """
    for item in items:
        needs = set(getattr(item, "fixturenames", ()))
        if "real_encoder" in needs:
            item.add_marker(pytest.mark.slow)
        if "pg_server" in needs:
            item.add_marker(pytest.mark.postgres)
        if item.path.parent.name == "browser":
            item.add_marker(pytest.mark.browser)
        # `make test` spreads tests over two workers test by test (--dist loadgroup); a module whose tests
        # share a module-scoped fixture (a server, a browser page) stays whole on one worker.
        fixtures = getattr(item, "_fixtureinfo", None)
        if fixtures is not None and any(defs[-1].scope == "module" for defs in fixtures.name2fixturedefs.values()):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    items[:] = run_order(items)


def _cost(item: pytest.Item) -> float:
    marker = item.get_closest_marker("costly")
    return float(marker.args[0]) if marker else 0.0


def _fast_lane(item: pytest.Item) -> bool:
    return not any(item.get_closest_marker(m) for m in ("slow", "postgres", "browser"))


def run_order(items: list[pytest.Item]) -> list[pytest.Item]:
    """The order `make test` hands tests to its workers (it passes --no-loadscope-reorder).

    Costliest first, so that no worker is left with a long test at the end while the other idles
    (longest-processing-time-first); but right after the costliest one come the fast-lane tests, which
    need no sample database: the other worker runs them while the first builds it (tests wait for it).
    """
    costly = sorted((i for i in items if _cost(i)), key=_cost, reverse=True)
    fast = [i for i in items if not _cost(i) and _fast_lane(i)]
    rest = [i for i in items if not _cost(i) and not _fast_lane(i)]
    return costly[:1] + fast + costly[1:] + rest
