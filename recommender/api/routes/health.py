"""Liveness and a glance at what is loaded."""

from __future__ import annotations

from fastapi import APIRouter

from recommender.api import schemas
from recommender.api.deps import EngineDep

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=schemas.Health)
def healthz(engine: EngineDep) -> schemas.Health:
    counts = engine.store.counts()
    return schemas.Health(
        status="ok",
        model=engine.encoder.model_id,
        articles=counts["articles"],
        questions=counts["questions"],
        pending=counts["pending"],
    )
