"""Every setting of the service, read from ``RECOMMENDER_*`` environment variables.

This is the one place configuration is documented; README.md links here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Method = Literal["dense", "lexical", "hybrid"]


class Settings(BaseSettings):
    """Service configuration. Each field is the variable ``RECOMMENDER_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="RECOMMENDER_", extra="ignore")

    db: Path = Field(Path("var/recommender.db"), description="SQLite database file (created if missing).")
    model: str = Field(
        "all-MiniLM-L6-v2",
        description="Encoder name from models/registry.json, or a folder under models/ holding a trained model.",
    )
    models_dir: Path = Field(Path("models"), description="Model registry folder.")
    cache_dir: Path = Field(Path(".cache"), description="Embedding cache for `evaluate` (keyed by model and text).")
    method: Method = Field("hybrid", description="Ranking method used by the service, `suggest` and `evaluate`.")
    dense_weight: float = Field(0.8, ge=0, le=1, description="Hybrid score = dense_weight*cosine + (1-dense_weight)*lexical.")
    lexical_saturation: float = Field(
        10.0, gt=0, description="BM25 score s becomes s/(s+this) so lexical evidence is bounded in [0,1)."
    )
    top_k: int = Field(3, ge=1, le=20, description="Fact checks linked to each question.")
    candidates: int = Field(10, ge=1, le=50, description="Candidates stored per question (review, related questions).")
    gap_threshold: float = Field(
        0.50, description="A question whose best fact check scores below this is a gap (chosen on the sample answer key)."
    )
    related_threshold: float = Field(
        0.45, description="Minimum score of an article for another article's question to count as related to it."
    )
    duplicate_threshold: float = Field(
        0.85, description="Cosine between two questions above which they count as the same question."
    )
    max_related: int = Field(6, ge=0, le=50, description="Related questions from other articles per article.")
    max_search_k: int = Field(50, ge=1, description="Largest k accepted by /v1/search.")
    max_query_chars: int = Field(2000, ge=1, description="Longest query accepted by /v1/search.")
    max_article_bytes: int = Field(1_000_000, ge=1, description="Largest article file or request body accepted.")
    refresh_seconds: float = Field(
        1.0, ge=0, description="How often a server checks the database for writes made by other processes."
    )
    host: str = Field("127.0.0.1", description="Address `serve` binds to.")
    port: int = Field(8000, description="Port `serve` listens on.")
