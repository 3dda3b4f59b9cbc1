"""A thin facade over recommender.services during the move to services (callers are being moved)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from recommender.config import Settings
from recommender.editorial.statuses import QuestionStatus, question_statuses
from recommender.embedding.base import Encoder
from recommender.services import DiveDeeper, Gap, IngestReport, Reembed, Services

__all__ = ["DiveDeeper", "Engine", "Gap", "IngestReport", "QuestionStatus", "question_statuses"]

_READING = {"search", "suggestions", "dive_deeper", "gaps", "articles", "counters", "status", "statuses", "question_statuses", "clusters"}
_CATALOG = {"ingest", "delete", "restore", "is_empty"}
_LINKING = {"relink", "relink_all", "verify", "recluster", "cluster_members"}
_EDITORIAL = {"decide", "decide_many", "decide_each", "undo"}
_MODELS = {"switch_model", "reembed", "reindex", "set_thresholds", "confidence", "calibrator", "thresholds", "model_name",
           "switch_job", "pending_encoder", "encoder"}


class Engine:
    def __init__(self, services: Services) -> None:
        self.services = services

    @classmethod
    def open(cls, settings: Settings, encoder: Encoder | None = None, reembed: Reembed = "now", previous: Encoder | None = None) -> Engine:
        return cls(Services.start(settings, encoder, reembed, previous))

    @property
    def store(self) -> Any:
        return self.services.store

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def ranker_config(self) -> Any:
        return self.services.holder.ranker_config

    def snapshot(self) -> Any:
        return self.services.holder.snapshot()

    def is_gap(self, links: Sequence[Any]) -> bool:
        return not self.services.reading.answers(links)

    def supersede(self, article_id: str, by_article_id: str | None, editor: str) -> None:
        self.services.editorial.supersede(article_id, by_article_id, editor)

    def close(self) -> None:
        self.services.close()

    def __getattr__(self, name: str) -> Any:
        s = self.__dict__["services"]
        for names, service in ((_READING, s.reading), (_CATALOG, s.catalog), (_LINKING, s.linking), (_EDITORIAL, s.editorial), (_MODELS, s.models)):
            if name in names:
                return getattr(service, name)
        raise AttributeError(name)
