"""The services the CLI and the API use, wired on one store and one index holder.

    catalog    ingest, delete, restore                      (writes articles, relinks)
    linking    relink, verify, duplicate clusters           (keeps links = a full recomputation)
    reading    widget, suggestions, search, gaps, statuses  (never writes)
    editorial  decide, undo, supersede, cluster offers, audit
    models     open policy, calibrator, re-encode, switch, reindex

`Services.open()` only connects and loads; `startup()` does the writes a server or a command needs
before serving: re-encode vectors of another model ("now"), relink what an earlier process left
pending, start a background re-embedding ("background").
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from recommender.config import Settings
from recommender.embedding.base import Encoder
from recommender.index.backend import create_backend
from recommender.index.files import index_files
from recommender.index.holder import IndexHolder
from recommender.index.ranker import RankerConfig
from recommender.services.catalog import CatalogService, IngestReport
from recommender.services.editorial import EditorialService
from recommender.services.linking import LinkingService
from recommender.services.models import ModelsService, Reembed, open_with_policy
from recommender.services.reading import DiveDeeper, Gap, ReadingService
from recommender.store.base import Store

log = logging.getLogger(__name__)

__all__ = ["DiveDeeper", "Gap", "IngestReport", "Reembed", "Services"]


@dataclass
class Services:
    settings: Settings
    store: Store
    holder: IndexHolder
    models: ModelsService
    linking: LinkingService
    catalog: CatalogService
    reading: ReadingService
    editorial: EditorialService
    reembed_mode: Reembed = "now"

    @classmethod
    def open(
        cls, settings: Settings, encoder: Encoder | None = None, reembed: Reembed = "now", previous: Encoder | None = None
    ) -> Services:
        """Services on the configured store and encoder (`encoder` overrides RECOMMENDER_MODEL/BACKEND);
        `reembed` says what happens when the stored vectors come from another encoder (see Reembed)."""
        opened = open_with_policy(settings, encoder, reembed, previous)
        store = opened.store
        try:
            backend = create_backend(settings, store)
        except Exception:
            store.close()
            raise
        holder = IndexHolder(
            store, opened.encoder, RankerConfig.of(settings), settings.refresh_seconds, backend=backend,
            files=index_files(settings),
        )
        try:
            models = ModelsService(settings, store, holder, opened.model_name, opened.pending)
        except Exception:
            store.close()
            raise
        linking = LinkingService(settings, store, holder, models)
        reading = ReadingService(settings, store, holder, models, linking)
        return cls(
            settings=settings,
            store=store,
            holder=holder,
            models=models,
            linking=linking,
            catalog=CatalogService(settings, store, holder, linking),
            reading=reading,
            editorial=EditorialService(store, reading),
            reembed_mode=reembed,
        )

    @classmethod
    def start(
        cls, settings: Settings, encoder: Encoder | None = None, reembed: Reembed = "now", previous: Encoder | None = None
    ) -> Services:
        """open() then startup(): what every command and the server need."""
        services = cls.open(settings, encoder, reembed, previous)
        try:
            services.startup()
        except BaseException:
            services.close()
            raise
        return services

    def startup(self) -> None:
        """Re-encode foreign vectors (unless served by their own encoder), relink everything if the ranking
        settings changed since the links were stored, else what is pending, and start the background
        re-embedding the open policy asked for."""
        self.models.reencode_if_needed()
        if not self.linking.relink_if_settings_changed():
            self.linking.relink()
        if self.reembed_mode == "background":
            self.models.reembed(background=True)

    def warm_up_in_background(self) -> threading.Thread:
        """Warm the write path (LinkingService.warm_up) on a thread, so the first publish after a start
        is as fast as the next ones; a failure is logged, the next write retries it on its own."""

        def run() -> None:
            try:
                self.linking.warm_up()
            except Exception:  # noqa: BLE001 - warming is an optimisation; writes do the same work when needed
                log.warning("warming the write path failed; the first write will do it", exc_info=True)

        thread = threading.Thread(target=run, name="warm-up", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.store.close()
