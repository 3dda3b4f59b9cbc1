"""The schema and its migrations, defined once and rendered for SQLite and for PostgreSQL.

Columns have abstract types that recommender/store/ddl.py renders as each dialect's DDL (SQLite
stores dates, JSON and vectors as text and blobs; PostgreSQL as DATE, JSON and pgvector columns).

STEPS is the ordered history; a database records how many of its dialect's versions it has
(SQLite: PRAGMA user_version; PostgreSQL: the schema_version table). Both dialects have the same
versions except one early step: PostgreSQL's first version already held the partial index that
SQLite got as version 4, so that step is folded into PostgreSQL's version 1 (`folded`). Steps added
from now on are one version in both. Never edit a shipped step: append one.
Why a small renderer and not SQLAlchemy Core + Alembic: docs/architecture.md ("Schema and migrations").
"""

from __future__ import annotations

from collections.abc import Sequence

from recommender.store.ddl import (
    BOOL,
    DATE,
    INT,
    JSON,
    KEY,
    REAL,
    SERIAL,
    TEXT,
    TIMESTAMP,
    VECTOR,
    AddColumn,
    Column,
    Dialect,
    Index,
    Sql,
    Step,
    Table,
    set_meta,
)

# BM25's saturated term frequency tf / (tf + k1 (1 - b + b len / avgdl)) with the fixed k1 = 1.5,
# b = 0.75 and reference length 300 (index/lexical.py, index/term_weights.py): a posting's weight
# before idf, by which a term's postings are ordered for the lexical candidates.
TERM_IMPACT = "tf::real / (tf::real + 0.375::real + 0.00375::real * length::real)"


STEPS: list[Step] = [
    Step(
        "articles, their passages and questions with vectors, computed links; `generation` counts their writes",
        [
            Sql(None, "CREATE EXTENSION IF NOT EXISTS vector"),
            Table("meta", [Column("key", KEY, primary=True), Column("value", TEXT)]),
            Table(
                "articles",
                [
                    Column("id", KEY, primary=True),
                    Column("title", TEXT),
                    Column("checked_on", DATE, null=True),
                    Column("summary", TEXT),
                    Column("sections", JSON),
                    Column("url", TEXT, null=True),
                    Column("topic", TEXT, null=True),
                    Column("body", TEXT),
                    Column("content_hash", TEXT),
                    Column("updated_at", TIMESTAMP),
                ],
            ),
            Table(
                "passages",
                [
                    Column("article_id", KEY, references="articles(id)"),
                    Column("position", INT),
                    Column("text", TEXT),
                    Column("text_hash", TEXT),
                    Column("model_id", TEXT),
                    Column("vector", VECTOR),
                ],
                primary_key=("article_id", "position"),
            ),
            Index("passages_text_hash", "passages", ["text_hash"]),
            Table(
                "questions",
                [
                    Column("id", KEY, primary=True),
                    Column("article_id", KEY, references="articles(id)"),
                    Column("position", INT),
                    Column("text", TEXT),
                    Column("key", KEY),
                    Column("model_id", TEXT),
                    Column("vector", VECTOR),
                    Column("needs_link", BOOL, default=True),
                ],
            ),
            Index("questions_article", "questions", ["article_id"]),
            Index("questions_key", "questions", ["key"]),
            Table(
                "links",
                [
                    Column("question_id", KEY, references="questions(id)"),
                    Column("rank", INT),
                    Column("article_id", KEY, references="articles(id)"),
                    Column("score", REAL),
                    Column("dense", REAL),
                    Column("lexical", REAL),
                    Column("passage", INT),
                ],
                primary_key=("question_id", "rank"),
            ),
            Index("links_article", "links", ["article_id"]),
            set_meta("generation", "0"),
        ],
    ),
    Step(
        # Decisions are keyed by the question's own article and its wording key, apart from computed
        # rows: ingest, relinking and re-encoding never touch them. Their writes bump `decisions`,
        # not `generation` (no index rebuild for an editor's click).
        "editorial decisions, their audit log and editor tokens",
        [
            Table(
                "decisions",
                [
                    Column("article_id", KEY),
                    Column("question_key", KEY),
                    Column("pinned", TEXT, null=True),
                    Column("approved", TEXT, null=True),
                    Column("rejected", JSON, default="[]"),
                    Column("hidden", BOOL, default=False),
                    Column("gap", BOOL, default=False),
                    Column("target_hash", TEXT, null=True),
                    Column("target_score", REAL, null=True),
                    Column("version", INT),
                    Column("updated_by", TEXT),
                    Column("updated_at", TEXT),
                ],
                primary_key=("article_id", "question_key"),
            ),
            Table(
                "audit",
                [
                    Column("id", SERIAL),
                    Column("at", TEXT),
                    Column("editor", KEY),
                    Column("action", TEXT),
                    Column("question_id", KEY),
                    Column("question_key", KEY),
                    Column("article_id", KEY),
                    Column("target_id", KEY, null=True),
                    Column("before", JSON),
                    Column("after", JSON),
                ],
            ),
            Index("audit_question", "audit", ["article_id", "question_key"]),
            Index("audit_question_id", "audit", ["question_id"]),
            Index("audit_target", "audit", ["target_id"]),
            Index("audit_editor", "audit", ["editor"]),
            Table(
                "editors",
                [
                    Column("name", KEY, primary=True),
                    Column("token_hash", TEXT, unique=True),
                    Column("created_at", TEXT),
                    Column("revoked_at", TEXT, null=True),
                ],
            ),
            set_meta("decisions", "0"),
        ],
    ),
    Step(
        # `superseded`: an editor's word that a newer fact check replaces an older one. `question_clusters`:
        # near-duplicate questions across the site. `staged_*`: vectors of another encoder made in the
        # background while the live ones serve (their own size: no dimension on PostgreSQL either).
        "superseded fact checks, duplicate-question clusters, staged vectors of a model switch",
        [
            Table(
                "superseded",
                [
                    Column("article_id", KEY, primary=True),
                    Column("by_article_id", KEY),
                    Column("updated_by", TEXT),
                    Column("updated_at", TEXT),
                ],
            ),
            Table(
                "question_clusters",
                [Column("question_id", KEY, primary=True, references="questions(id)"), Column("cluster", KEY)],
            ),
            Index("question_clusters_cluster", "question_clusters", ["cluster"]),
            Table(
                "staged_passages",
                [
                    Column("model_id", KEY),
                    Column("article_id", KEY),
                    Column("position", INT),
                    Column("text_hash", TEXT),
                    Column("vector", VECTOR),
                ],
                primary_key=("model_id", "article_id", "position"),
            ),
            Table(
                "staged_questions",
                [Column("model_id", KEY), Column("question_id", KEY), Column("text_hash", TEXT), Column("vector", VECTOR)],
                primary_key=("model_id", "question_id"),
            ),
        ],
    ),
    Step(
        "finding the questions to relink after a write was a scan of every question",
        [Index("questions_needs_link", "questions", ["id"], where_true="needs_link")],
        folded={"postgresql": 1},
    ),
    Step(
        # Kept by every write from now on; a database made before has no record of it: its newest
        # article write is the best known bound.
        "`generation_at` in meta: when the generation last moved (the index's age for `recommender status`)",
        [
            Sql(
                """INSERT INTO meta (key, value)
    SELECT 'generation_at', latest FROM (SELECT MAX(updated_at) AS latest FROM articles) WHERE latest IS NOT NULL""",
                """INSERT INTO meta (key, value)
    SELECT 'generation_at', to_char(latest AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
    FROM (SELECT MAX(updated_at) AS latest FROM articles) AS newest WHERE latest IS NOT NULL""",
            )
        ],
    ),
    Step(
        # Every token made before could do everything, so existing ones become `admin` (MIGRATED_ROLE);
        # the audit log records the role each decision was made with (NULL for entries older than roles).
        "roles on editor tokens",
        [
            AddColumn(
                "editors", Column("role", TEXT, default="admin", check="role IN ('publisher', 'editor', 'admin')")
            ),
            AddColumn("audit", Column("role", TEXT, null=True)),
        ],
    ),
    Step(
        # PostgreSQL ranks in the database (recommender/store/pgranking.py): per-article term frequencies
        # for BM25 candidates and exact rescoring. Derived rows, filled by the index layer; SQLite keeps
        # its lexical index in memory and gets nothing here.
        "term frequencies of each article for ranking inside PostgreSQL",
        [
            Sql(
                None,
                """CREATE TABLE article_lengths (
    article_id TEXT COLLATE "C" PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    content_hash TEXT NOT NULL,
    length INTEGER NOT NULL
);
CREATE TABLE article_terms (
    term TEXT COLLATE "C" NOT NULL,
    article_id TEXT COLLATE "C" NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    tf INTEGER NOT NULL,
    length INTEGER NOT NULL,
    PRIMARY KEY (term, article_id) INCLUDE (tf, length)
);
CREATE INDEX article_terms_article ON article_terms (article_id)""",
            )
        ],
    ),
    Step(
        # Every start asks which models the stored vectors are of (a re-encode is needed when another
        # one's are there): without these it read every vector row, half a second at 100k articles.
        "which models' vectors are stored was a scan of every passage and question",
        [
            Index("passages_model", "passages", ["model_id"], if_missing=True),
            Index("questions_model", "questions", ["model_id"], if_missing=True),
        ],
    ),
    Step(
        # A lexical candidate query summed every posting of each query term: a term in half the articles
        # is 50k rows at 100k articles (~120 ms), 500k at 1M. Read in this order, each term's best
        # postings come first (pgranking.py, `postings`).
        "lexical candidates read each term's best postings, not all of them",
        [Sql(None, f"CREATE INDEX IF NOT EXISTS article_terms_impact ON article_terms (term, ({TERM_IMPACT}) DESC) INCLUDE (article_id, tf, length)")],
    ),
    Step(
        # Term proximity (recommender/index/proximity.py) needs each article's terms in text order, which
        # term rows do not keep. NULL until the index layer rewrites the article's term rows: a start
        # finds such articles stale and writes them (PgRanker.open).
        "each article's terms in text order, for term proximity",
        [Sql(None, "ALTER TABLE article_lengths ADD COLUMN IF NOT EXISTS terms TEXT")],
    ),
    Step(
        # A process that sees the generation moved (another worker wrote) rebuilt its whole index: 4-30 s
        # at 100k articles, for every article upsert and link write of every other worker. Each write now
        # records which articles it changed (none: links only; NULL: anything may have), so a process
        # follows a few changed articles the way it follows its own writes (store/articles.py,
        # `changes_since`). `changes_from`: the generation from which the record is complete.
        "a process following another one's writes rebuilt its whole index",
        [
            # Written to run again on a database whose version was set back (tests/test_status.py does).
            Sql(
                "CREATE TABLE IF NOT EXISTS index_changes (generation INTEGER NOT NULL, article_id TEXT)",
                'CREATE TABLE IF NOT EXISTS index_changes (generation INTEGER NOT NULL, article_id TEXT COLLATE "C")',
            ),
            Index("index_changes_generation", "index_changes", ["generation"], if_missing=True),
            Sql(
                _CHANGES_FROM := "INSERT INTO meta (key, value) SELECT 'changes_from', value FROM meta WHERE key = 'generation'"
                " ON CONFLICT (key) DO NOTHING",
                _CHANGES_FROM,
            ),
        ],
    ),
    Step(
        # The passages' HNSW index held float32 vectors: ~2 GB at 100k articles, ~20 GB at 1M, the part of the
        # database a search must keep cached. Over `halfvec` it is half that at the same recall (store/pgvector.py);
        # an index built ahead under the new name (CONCURRENTLY, docs/operations.md) is kept.
        "the passages' HNSW index over half-precision vectors",
        [
            Sql(
                None,
                """DO $$ DECLARE dim integer := (SELECT atttypmod FROM pg_attribute
                                      WHERE attrelid = 'passages'::regclass AND attname = 'vector');
BEGIN
    IF dim BETWEEN 1 AND 4000 THEN
        EXECUTE format('CREATE INDEX IF NOT EXISTS passages_halfvec_hnsw ON passages '
                       'USING hnsw ((vector::halfvec(%s)) halfvec_cosine_ops)', dim);
    END IF;
    DROP INDEX IF EXISTS passages_vector_hnsw;
END $$""",
            )
        ],
    ),
]


def versions(dialect: Dialect, steps: Sequence[Step] = STEPS) -> list[list[str]]:
    """The statements of each schema version of `dialect`: index i brings version i to i+1."""
    grouped: list[list[str]] = []
    for step in steps:
        statements = [s for s in (op.render(dialect) for op in step.operations) if s is not None]
        folded = step.folded.get(dialect)
        if folded is not None:
            grouped[folded - 1].extend(statements)
        else:
            grouped.append(statements)
    return grouped


def purposes(dialect: Dialect, steps: Sequence[Step] = STEPS) -> list[str]:
    """What each schema version of `dialect` is for (its steps' `why`), aligned with versions()."""
    grouped: list[list[str]] = []
    for step in steps:
        folded = step.folded.get(dialect)
        if folded is not None:
            grouped[folded - 1].append(step.why)
        else:
            grouped.append([step.why])
    return ["; ".join(whys) for whys in grouped]


def migrations(dialect: Dialect) -> list[str]:
    """Each version's statements as one script (`;`-separated), in the order they are applied."""
    return [";\n".join(statements) + ";\n" for statements in versions(dialect)]
