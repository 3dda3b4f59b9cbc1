"""Every setting of the service, read from ``RECOMMENDER_*`` environment variables.

This is the one place configuration is documented; README.md links here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Method = Literal["dense", "lexical", "hybrid"]
Backend = Literal["auto", "torch", "onnx", "onnx-int8"]


class Settings(BaseSettings):
    """Service configuration. Each field is the variable ``RECOMMENDER_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="RECOMMENDER_", extra="ignore")

    db: Path = Field(Path("var/recommender.db"), description="SQLite database file (created if missing).")
    model: str = Field(
        "all-MiniLM-L6-v2",
        description="Encoder name from models/registry.json, or a folder under models/ holding a trained model.",
    )
    models_dir: Path = Field(Path("models"), description="Model registry folder.")
    backend: Backend = Field(
        "auto",
        description=(
            "Encoder runtime. `torch`: sentence-transformers (the reference). `onnx`: ONNX Runtime on the export "
            "in models/<model>-onnx/ (same vectors as torch, about twice as fast, no torch needed). `onnx-int8`: "
            "its int8 quantisation (about 4x faster than torch, cosine to torch ~0.99, vectors get their own model "
            "id so the database is re-encoded). `auto`: `onnx` if a current export exists or torch is not "
            "installed, else `torch`. Exports are made by `recommender models export`, or on demand for "
            "`onnx`/`onnx-int8` where torch is installed."
        ),
    )
    cache_dir: Path = Field(Path(".cache"), description="Embedding cache for `evaluate` (keyed by model and text).")
    method: Method = Field("hybrid", description="Ranking method used by the service, `suggest` and `evaluate`.")
    dense_weight: float = Field(0.55, ge=0, le=1, description="Hybrid score = dense_weight*cosine + (1-dense_weight)*lexical.")
    lexical_saturation: float = Field(
        12.0, gt=0, description="BM25 score s becomes s/(s+this) so lexical evidence is bounded in [0,1)."
    )
    clean_queries: bool = Field(True, description="Strip links, @handles and tweet trailers from queries before ranking.")
    top_k: int = Field(3, ge=1, le=20, description="Fact checks linked to each question.")
    candidates: int = Field(10, ge=1, le=50, description="Candidates stored per question (review, related questions).")
    gap_threshold: float = Field(
        0.46, description="A question whose best fact check scores below this is a gap (chosen on the sample answer key)."
    )
    related_threshold: float = Field(
        0.40, description="Minimum score of an article for another article's question to count as related to it."
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
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Site origins allowed to call the public (GET) endpoints from a browser, comma-separated, "
        "e.g. `https://www.example.org,https://example.org`; `*` for any.",
    )
    widget_max_items: int = Field(5, ge=1, le=50, description="Questions the widget shows unless its `data-max` says otherwise.")
    widget_timeout_ms: int = Field(
        3000, ge=100, le=60_000, description="The widget gives up (and renders nothing) after this many milliseconds."
    )
    widget_cache_control: str = Field(
        "public, max-age=60, stale-while-revalidate=600",
        description="Cache-Control of the widget's responses (they also carry an ETag).",
    )
    demo_article: str | None = Field(None, description="Article shown at /demo/ (default: the first one with questions).")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        return value
