"""Liveness and a glance at what is loaded."""

from __future__ import annotations

from fastapi import APIRouter

from recommender.api import schemas
from recommender.api.deps import ReadingDep

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=schemas.Health)
def healthz(reading: ReadingDep) -> schemas.Health:
    counts = reading.counts()
    return schemas.Health(
        status="ok",
        model=reading.models.encoder.model_id,
        articles=counts["articles"],
        questions=counts["questions"],
        pending=counts["pending"],
        ranking=reading.ranking_status(),
    )
