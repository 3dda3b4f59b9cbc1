"""One setting picks the store: PostgreSQL when `database_url` is set, else the SQLite file `db`."""

from __future__ import annotations

from recommender.config import Settings
from recommender.store.base import Store


def open_store(settings: Settings, model_id: str) -> Store:
    """The configured store, migrated and ready; `model_id` is the encoder whose vectors it holds."""
    if settings.database_url:
        # Imported here: psycopg is only loaded by deployments that use PostgreSQL.
        from recommender.store.postgres import PostgresStore

        return PostgresStore(
            settings.database_url,
            model_id,
            read_url=settings.database_read_url,
            pool_min=settings.database_pool_min,
            pool_max=settings.database_pool_max,
            timeout=settings.database_timeout,
        )
    from recommender.store.sqlite import SQLiteStore

    return SQLiteStore(settings.db, model_id)


def describe_store(settings: Settings) -> str:
    """Where the data lives, for messages (no password)."""
    if settings.database_url:
        from recommender.store.postgres import redact

        return redact(settings.database_url)
    return str(settings.db.absolute())  # absolute: a relative RECOMMENDER_DB depends on the current directory


def check_reachable(settings: Settings) -> None:
    """Raise StoreUnavailable (naming the URL, password masked) when the configured PostgreSQL does not
    answer: `serve` says so and exits 1 before uvicorn starts (its failed startup would exit 3 with a traceback)."""
    if not settings.database_url:
        return
    from recommender.store.postgres import probe

    probe(settings.database_url, settings.database_timeout)
