"""Every setting of the service, read from ``RECOMMENDER_*`` environment variables.

This is the one place configuration is documented; README.md links here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Method = Literal["dense", "lexical", "hybrid"]
Backend = Literal["auto", "torch", "onnx", "onnx-int8"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


PACKAGE_DIR = Path(__file__).resolve().parent


def default_models_dir() -> Path:
    """The checkout's models/ when the package runs from a source checkout (`pip install -e`, `make
    install`), found from the package rather than the current directory; else ./models."""
    checkout = PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "models").is_dir():
        return checkout / "models"
    return Path("models")


class Settings(BaseSettings):
    """Service configuration. Each field is the variable ``RECOMMENDER_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="RECOMMENDER_", extra="ignore")

    db: Path = Field(
        Path("var/recommender.db"), description="SQLite database file (created if missing); unused when `database_url` is set."
    )
    index_dir: Path | None = Field(
        None,
        description="Folder of the SQLite mode's index files (int8 vectors, BM25 postings; memory-mapped and shared by "
        "the workers of one machine, rewritten by every full build). Default: beside the database, `<db>.index`. "
        "Unused with `database_url`.",
    )
    database_url: str | None = Field(
        None,
        description="PostgreSQL (with pgvector) to store everything in instead of the SQLite file, e.g. "
        "`postgresql://user:password@host:5432/recommender`. The schema is created and migrated on start; several "
        "API processes may share it. See docs/operations.md.",
    )
    database_read_url: str | None = Field(
        None,
        description="Optional read replica of `database_url` for the widget's lookups and public suggestions; "
        "writes, editors' reads and the index's change check stay on the primary. Replica data may lag a little "
        "(see docs/operations.md).",
    )
    database_pool_min: int = Field(1, ge=0, le=100, description="PostgreSQL connections each process keeps open (per pool).")
    database_pool_max: int = Field(
        10, ge=1, le=1000, description="Most PostgreSQL connections each process opens (per pool: primary, replica)."
    )
    database_timeout: float = Field(
        30.0, gt=0, description="Seconds to wait for a PostgreSQL connection (connecting, or a free one in the pool)."
    )
    ranking_backend: Literal["auto", "memory", "postgres"] = Field(
        "auto",
        description="Where ranking happens. `memory`: every passage vector and posting in each process, exact. "
        "`postgres`: candidates from PostgreSQL (pgvector HNSW over passages, BM25 over stored term frequencies), "
        "each rescored exactly; a process keeps only article rows and questions (needs `database_url`). "
        "`auto`: `postgres` when `database_url` is set, else `memory`. See docs/performance.md.",
    )
    ranking_dense_candidates: int = Field(
        200, ge=1, le=10000, description="`postgres` ranking: passages taken from the HNSW index per query (their "
        "articles are candidates); also pgvector's `hnsw.ef_search` when larger than `ranking_ef_search`.",
    )
    ranking_lexical_candidates: int = Field(
        100, ge=0, le=10000, description="`postgres` ranking: articles of highest BM25 taken as candidates per query."
    )
    ranking_lexical_postings: int = Field(
        1000, ge=0, le=10_000_000, description="`postgres` ranking: per query term, how many of its postings (best "
        "saturated term frequency first) the lexical candidates are summed from; 0 reads every posting (exact BM25 "
        "order, but a common term's postings grow with the corpus). Scores of candidates stay exact either way.",
    )
    ranking_parallel_queries: int = Field(
        2, ge=1, le=64, description="`postgres` ranking: how many connections the candidate queries of one batch "
        "(the questions a write relinks) are split over at once; the pool (`database_pool_max`) must have them free.",
    )
    ranking_ef_search: int = Field(
        200, ge=1, le=1000, description="`postgres` ranking: pgvector's `hnsw.ef_search` (wider: better recall, slower)."
    )
    model: str = Field(
        "minilm-l6-adapted",
        description="Encoder name from the model registry (recommender/embedding/registry.json, shipped with the "
        "package, plus `models_dir`/registry.json if present), or a folder under `models_dir` holding a trained model.",
    )
    models_dir: Path = Field(
        None,  # type: ignore[assignment]  # resolved by _models_dir: the default depends on the install
        validate_default=True,
        description="Folder of trained models, ONNX exports and fitted calibrators (and an optional registry.json "
        "adding encoders). Default: the `models/` folder of the checkout the package runs from (so commands work "
        "from any directory), or `./models` for an install outside a checkout (the image sets `/app/models`).",
    )
    backend: Backend = Field(
        "onnx-int8",
        description=(
            "Encoder runtime. `torch`: sentence-transformers (the reference). `onnx`: ONNX Runtime on the fused "
            "fp32 export in models/<model>-onnx/ (same vectors as torch, no torch needed). `onnx-int8`: its "
            "row-wise int8 quantisation (the default: the fastest backend whose MAP@5 is within 0.005 of torch's "
            "on checkthat2020 dev and the sample answer key, see docs/performance.md; vectors independent of "
            "their batch; they get their own model id, so a database made with another backend is re-embedded). "
            "`auto`: `onnx` if a current export exists or torch is not installed, else `torch`. Exports are "
            "made by `recommender models export`, or on demand for "
            "`onnx`/`onnx-int8` where torch is installed (so `make run` needs no extra step)."
        ),
    )
    cache_dir: Path = Field(Path(".cache"), description="Embedding cache for `evaluate` (keyed by model and text).")
    method: Method = Field("hybrid", description="Ranking method used by the service, `suggest` and `evaluate`.")
    dense_weight: float = Field(0.45, ge=0, le=1, description="Hybrid score = dense_weight*cosine + (1-dense_weight)*lexical.")
    lexical_saturation: float = Field(
        40.0, gt=0, description="BM25 score s becomes s/(s+this) so lexical evidence is bounded in [0,1)."
    )
    lexical_average_length: float = Field(
        300.0,
        gt=0,
        description="BM25's average document length (in indexed words), fixed rather than taken from the corpus so "
        "that one article's lexical score never depends on the others (see recommender/index/term_weights.py); about "
        "the length of one of the site's articles.",
    )
    proximity_window: int = Field(
        4,
        ge=0,
        le=16,
        description="Lexical evidence for two terms of a short query standing close together in a fact check: terms at "
        "most this many minus one indexed words apart form a pair, scored like a BM25 term with the two words' idf "
        "summed (recommender/index/proximity.py); 0 or 1: off. Separates pages that share a question's words from "
        "the page that shares its phrasing (docs/quality.md).",
    )
    proximity_max_terms: int = Field(
        10,
        ge=0,
        description="Only queries with at most this many distinct indexed words get pair evidence (questions and "
        "headlines; in a long post most close pairs are incidental).",
    )
    proximity_weight: float = Field(0.5, ge=0, description="A pair's idf = this x (idf of one word + idf of the other).")
    clean_queries: bool = Field(True, description="Strip links, @handles and tweet trailers from queries before ranking.")
    top_k: int = Field(3, ge=1, le=20, description="Fact checks linked to each question.")
    candidates: int = Field(10, ge=1, le=50, description="Candidates stored per question (review, related questions).")
    gap_threshold: float = Field(
        0.40,
        description="Raw-score gap threshold, used only when no calibrator applies (`calibration` = `none`, or no "
        "calibrator fits the encoder): a question whose best fact check scores below this is a gap, every other "
        "suggestion goes live (chosen on the sample answer key). With a calibrator, `review_threshold` decides.",
    )
    calibration: str = Field(
        "auto",
        description="Calibrator turning scores into the probability that an editor approves a link "
        "(recommender/learning/calibration.py). `auto`: models/calibration/<model>.json (`recommender calibrate`), "
        "else models/<model>/calibration.json (`recommender train`), else the one shipped for the default model; "
        "a path: that JSON file; `none`: raw scores and `gap_threshold`.",
    )
    calibration_method: Literal["isotonic", "logistic"] = Field(
        "logistic", description="How `recommender calibrate` fits: logistic (smooth, robust with few decisions) or isotonic."
    )
    calibration_min_decisions: int = Field(
        50, ge=2, description="Fewer labelled links from editors than this: `recommender calibrate` adds the answer key."
    )
    review_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Calibrated probability below which a question is a gap (nothing shown; listed for a new fact "
        "check). 0.5 is a raw score of 0.453 with the shipped calibrator (docs/learning.md).",
    )
    auto_approve_threshold: float = Field(
        0.9,
        ge=0,
        le=1,
        description="Calibrated probability from which a suggestion goes live unreviewed; between `review_threshold` "
        "and this it waits in the review queue and the widget leaves it out until an editor approves it (0.9: every "
        "such link on the sample answer key was right; docs/learning.md).",
    )
    cluster_threshold: float = Field(
        0.95,
        ge=0,
        le=1,
        description="Cosine of question vectors from which questions form one duplicate cluster (average linkage; "
        "chosen by scripts/cluster_threshold.py on the sample's judged pairs, hard negatives included: the best F1 "
        "with pairwise precision at least 0.95, since a cluster is offered one decision).",
    )
    freshness_margin: float = Field(
        0.02,
        ge=0,
        le=1,
        description="Among the candidates within this of the best score, the most recently checked one answers (listed first, "
        "flagged `fresher`); the others keep their score order.",
    )
    related_threshold: float = Field(
        0.40,
        description="Minimum stored score of an article for another article's question (the fused link score, the "
        "scale of `gap_threshold`) for the question to be shown as related to it: the article nearly answers it "
        "itself, so it is on its subject (chosen on data/sample/eval/related.tsv by scripts/related_quality.py).",
    )
    related_topic_threshold: float = Field(
        0.67,
        ge=-1,
        le=1,
        description="Minimum subject similarity (cosine of passage centroids) between an article and the fact check a "
        "related question leads to: the reader is sent to something on this article's subject, not merely its "
        "category (-1 turns the floor off; chosen with `related_threshold`).",
    )
    duplicate_threshold: float = Field(
        0.85, description="Cosine between two questions above which they count as the same question."
    )
    max_related: int = Field(6, ge=0, le=50, description="Related questions from other articles per article.")
    max_search_k: int = Field(50, ge=1, description="Largest k accepted by /v1/search.")
    max_query_chars: int = Field(2000, ge=1, description="Longest query accepted by /v1/search.")
    max_article_bytes: int = Field(1_000_000, ge=1, description="Largest article accepted: a text file, one line of a JSON Lines file, or a request body.")
    rate_limit_per_minute: int = Field(
        1200,
        ge=0,
        description="Requests a minute each client address may make to the public GET endpoints (widget, search, "
        "suggestions, gaps, articles) on average; more get 429 with Retry-After. 0 turns the limit off.",
    )
    rate_limit_burst: int = Field(
        120, ge=1, description="Requests a client may make at once before the per-minute rate applies."
    )
    ingest_batch_size: int = Field(
        100,
        ge=1,
        description="Articles embedded and stored per transaction by an ingest: a crash loses at most the batch in "
        "progress, and running the ingest again completes the rest.",
    )
    reindex_batch_size: int = Field(
        256, ge=1, description="Passages or questions re-embedded per transaction by `recommender reindex`."
    )
    watch_interval: float = Field(
        2.0,
        gt=0,
        description="Seconds between passes of `recommender watch` over the CMS export folder; a file is read once "
        "its size and modification time held still for one interval.",
    )
    refresh_seconds: float = Field(
        1.0, ge=0, description="How often a server checks the database for writes made by other processes."
    )
    host: str = Field("127.0.0.1", description="Address `serve` binds to.")
    port: int = Field(8000, description="Port `serve` listens on.")
    proxy_headers: bool = Field(
        False,
        description="Take the client address (per-client rate limit, logs) and scheme from `X-Forwarded-For` and "
        "`X-Forwarded-Proto`, but only on connections from `forwarded_allow_ips`. Off: the address is the socket's, "
        "so no client can pick its own by sending the header. Turn on only behind a reverse proxy that sets the "
        "header (`serve --proxy-headers`; docs/operations.md).",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1,::1",
        description="With `proxy_headers`: comma-separated addresses or networks of the reverse proxies whose "
        "`X-Forwarded-*` headers are trusted, e.g. `172.18.0.0/16` for a proxy container (`*` trusts any "
        "peer: only when nothing but the proxy can reach the service).",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="When set, `GET /metrics` needs `Authorization: Bearer <this>` (401 otherwise). Unset (the "
        "default): /metrics answers anyone who reaches it, so keep it off the public site at the proxy.",
    )
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="When set, `/metrics` is served only on this port (a separate listener on `metrics_host`, for "
        "the monitoring network) and the API port answers 404 for it. Not with `serve --workers` above 1.",
    )
    metrics_host: str | None = Field(
        None, description="Address the `metrics_port` listener binds to (default: `host`)."
    )
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
    widget_cache_entries: int = Field(
        10_000,
        ge=0,
        description="Rendered widget responses kept in memory per process (one per article, valid until the next "
        "write or editor decision), so repeated reads skip the database. 0 turns it off; off anyway with a read "
        "replica.",
    )
    demo_article: str | None = Field(None, description="Article shown at /demo/ (default: the first one with questions).")
    log_level: LogLevel = Field(
        "INFO",
        description="Level of the JSON log lines `serve` writes to stderr (one per request at INFO; DEBUG, INFO, "
        "WARNING, ERROR or CRITICAL, any case).",
    )

    @field_validator("database_url", "database_read_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            raise ValueError("must be a PostgreSQL URL starting with postgresql://")
        return value.strip()

    @field_validator("models_dir", mode="before")
    @classmethod
    def _models_dir(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return default_models_dir()
        return value

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _blank_token(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        return value
