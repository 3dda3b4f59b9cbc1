"""Opening and closing what the commands work on: the one place that knows how.

`opened()` yields the services and closes them whatever happens; `opened_store()`
the database alone for commands that need no model. Tests replace `open_services` and `load_encoder`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from recommender.cli.errors import fail
from recommender.config import Settings

if TYPE_CHECKING:
    from recommender.embedding.base import Encoder
    from recommender.services import Services
    from recommender.store.base import Store


def open_services(settings: Settings) -> Services:
    from recommender.services import Services

    # One-shot commands work with the encoder of the stored vectors and leave a changed encoder to the
    # server's background re-embedding or `recommender reembed`: re-encoding at open here would rewrite
    # every vector under a server that may be re-embedding the same database right now.
    return Services.start(settings, reembed="later")


@contextmanager
def opened(settings: Settings) -> Iterator[Services]:
    """The services on these settings, closed on the way out (also on errors and `typer.Exit`)."""
    services = open_services(settings)
    try:
        yield services
    finally:
        services.close()


def open_store(settings: Settings) -> Store:
    """The database without loading a model: editor, backup and status commands touch no vectors."""
    from recommender.store.factory import open_store as open_configured

    return open_configured(settings, model_id="-")


@contextmanager
def opened_store(settings: Settings, existing: bool = False) -> Iterator[Store]:
    """The database alone, closed on the way out; `existing`: refuse to create a new SQLite file."""
    if existing and not settings.database_url and not settings.db.exists():
        fail(f"no database at {settings.db} (set RECOMMENDER_DB or RECOMMENDER_DATABASE_URL, or run `recommender ingest`)")
    store = open_store(settings)
    try:
        yield store
    finally:
        store.close()


def load_encoder(settings: Settings, name: str) -> Encoder:
    """The encoder a server would load (only its model id and runtime are used)."""
    from recommender.embedding.factory import create_encoder

    return create_encoder(name, settings.models_dir, backend=settings.backend)


def server_encoder(settings: Settings, store: Any) -> tuple[Encoder | None, str | None]:
    """The encoder a server on this database would load, or why it cannot be loaded here."""
    from recommender.embedding.factory import BackendUnavailable
    from recommender.embedding.registry import ModelNotFound
    from recommender.status import model_name

    try:
        return load_encoder(settings, model_name(settings, store)), None
    except (ModelNotFound, BackendUnavailable, ImportError, OSError) as exc:
        return None, str(exc)
