"""The migrations as the code before recommender/store/schema.py wrote them by hand, kept verbatim.

Databases in the field were made by these: test_schema.py builds databases with them at every
version and checks that today's code upgrades each to exactly the schema it makes itself.
Copied from recommender/store/sqlite.py and postgres.py at commit 35be965; never edit.
"""

SQLITE: list[str] = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE articles (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        checked_on TEXT,
        summary TEXT NOT NULL,
        sections TEXT NOT NULL,
        url TEXT,
        topic TEXT,
        body TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE passages (
        article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        text TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        model_id TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (article_id, position)
    );
    CREATE INDEX passages_text_hash ON passages(text_hash);
    CREATE TABLE questions (
        id TEXT PRIMARY KEY,
        article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        text TEXT NOT NULL,
        key TEXT NOT NULL,
        model_id TEXT NOT NULL,
        vector BLOB NOT NULL,
        needs_link INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX questions_article ON questions(article_id);
    CREATE INDEX questions_key ON questions(key);
    CREATE TABLE links (
        question_id TEXT NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
        rank INTEGER NOT NULL,
        article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        score REAL NOT NULL,
        dense REAL NOT NULL,
        lexical REAL NOT NULL,
        passage INTEGER NOT NULL,
        PRIMARY KEY (question_id, rank)
    );
    CREATE INDEX links_article ON links(article_id);
    INSERT INTO meta (key, value) VALUES ('generation', '0');
    """,
    # 2: editorial decisions, their audit log and editor tokens. Decisions are keyed by the
    # question's own article and its wording key, apart from computed rows: ingest, relinking and
    # re-encoding never touch them. Their writes bump the `decisions` counter, not `generation`
    # (no index rebuild for an editor's click).
    """
    CREATE TABLE decisions (
        article_id TEXT NOT NULL,
        question_key TEXT NOT NULL,
        pinned TEXT,
        approved TEXT,
        rejected TEXT NOT NULL DEFAULT '[]',
        hidden INTEGER NOT NULL DEFAULT 0,
        gap INTEGER NOT NULL DEFAULT 0,
        target_hash TEXT,
        target_score REAL,
        version INTEGER NOT NULL,
        updated_by TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (article_id, question_key)
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        editor TEXT NOT NULL,
        action TEXT NOT NULL,
        question_id TEXT NOT NULL,
        question_key TEXT NOT NULL,
        article_id TEXT NOT NULL,
        target_id TEXT,
        before TEXT NOT NULL,
        after TEXT NOT NULL
    );
    CREATE INDEX audit_question ON audit(article_id, question_key);
    CREATE INDEX audit_question_id ON audit(question_id);
    CREATE INDEX audit_target ON audit(target_id);
    CREATE INDEX audit_editor ON audit(editor);
    CREATE TABLE editors (
        name TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    INSERT INTO meta (key, value) VALUES ('decisions', '0');
    """,
    # 3: learning. `superseded`: an editor's word that a newer fact check replaces an older one
    # (suggestions follow the newer one). `question_clusters`: near-duplicate questions across the
    # site (recomputed after ingest; writes bump `decisions`, the widget's other ETag counter).
    # `staged_*`: vectors of another encoder made in the background while the live ones serve;
    # `swap_model` moves them in with the new links in one transaction.
    """
    CREATE TABLE superseded (
        article_id TEXT PRIMARY KEY,
        by_article_id TEXT NOT NULL,
        updated_by TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE question_clusters (
        question_id TEXT PRIMARY KEY REFERENCES questions(id) ON DELETE CASCADE,
        cluster TEXT NOT NULL
    );
    CREATE INDEX question_clusters_cluster ON question_clusters(cluster);
    CREATE TABLE staged_passages (
        model_id TEXT NOT NULL,
        article_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        text_hash TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model_id, article_id, position)
    );
    CREATE TABLE staged_questions (
        model_id TEXT NOT NULL,
        question_id TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model_id, question_id)
    );
    """,
    # 4: finding the questions to relink after a write was a scan of every question.
    """
    CREATE INDEX questions_needs_link ON questions(id) WHERE needs_link = 1;
    """,
    # 5: `generation_at` in meta, when the generation last moved (the index's age for `recommender
    # status`), kept by every write from now on. A database made before has no record of it: its
    # newest article write is the best known bound.
    """
    INSERT INTO meta (key, value)
        SELECT 'generation_at', latest FROM (SELECT MAX(updated_at) AS latest FROM articles) WHERE latest IS NOT NULL;
    """,
    # 6: roles on tokens (recommender/editorial/auth.py). Every token made before could do everything,
    # so existing ones become `admin`; new ones get the role `editors add --role` names. The audit log
    # records the role each decision was made with (NULL for entries older than roles).
    """
    ALTER TABLE editors ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'
        CHECK (role IN ('publisher', 'editor', 'admin'));
    ALTER TABLE audit ADD COLUMN role TEXT;
    """,
    # 7: nothing on SQLite (PostgreSQL's term frequencies for ranking in the database; SQLite keeps
    # its lexical index in memory). The version moves anyway, so both dialects keep one numbering.
    "",
]


POSTGRESQL: list[str] = [
    """
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE TABLE meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE articles (
        id TEXT COLLATE "C" PRIMARY KEY,
        title TEXT NOT NULL,
        checked_on DATE,
        summary TEXT NOT NULL,
        sections JSON NOT NULL,
        url TEXT,
        topic TEXT,
        body TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE passages (
        article_id TEXT COLLATE "C" NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        text TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        model_id TEXT NOT NULL,
        vector vector NOT NULL,
        PRIMARY KEY (article_id, position)
    );
    CREATE INDEX passages_text_hash ON passages(text_hash);
    CREATE TABLE questions (
        id TEXT COLLATE "C" PRIMARY KEY,
        article_id TEXT COLLATE "C" NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        text TEXT NOT NULL,
        key TEXT COLLATE "C" NOT NULL,
        model_id TEXT NOT NULL,
        vector vector NOT NULL,
        needs_link BOOLEAN NOT NULL DEFAULT TRUE
    );
    CREATE INDEX questions_article ON questions(article_id);
    CREATE INDEX questions_key ON questions(key);
    CREATE INDEX questions_needs_link ON questions(id) WHERE needs_link;
    CREATE TABLE links (
        question_id TEXT COLLATE "C" NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
        rank INTEGER NOT NULL,
        article_id TEXT COLLATE "C" NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        score DOUBLE PRECISION NOT NULL,
        dense DOUBLE PRECISION NOT NULL,
        lexical DOUBLE PRECISION NOT NULL,
        passage INTEGER NOT NULL,
        PRIMARY KEY (question_id, rank)
    );
    CREATE INDEX links_article ON links(article_id);
    INSERT INTO meta (key, value) VALUES ('generation', '0');
    """,
    # 2: editorial decisions, their audit log and editor tokens (as SQLite's migration 2).
    """
    CREATE TABLE decisions (
        article_id TEXT COLLATE "C" NOT NULL,
        question_key TEXT COLLATE "C" NOT NULL,
        pinned TEXT,
        approved TEXT,
        rejected JSON NOT NULL DEFAULT '[]',
        hidden BOOLEAN NOT NULL DEFAULT FALSE,
        gap BOOLEAN NOT NULL DEFAULT FALSE,
        target_hash TEXT,
        target_score DOUBLE PRECISION,
        version INTEGER NOT NULL,
        updated_by TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (article_id, question_key)
    );
    CREATE TABLE audit (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at TEXT NOT NULL,
        editor TEXT COLLATE "C" NOT NULL,
        action TEXT NOT NULL,
        question_id TEXT COLLATE "C" NOT NULL,
        question_key TEXT COLLATE "C" NOT NULL,
        article_id TEXT COLLATE "C" NOT NULL,
        target_id TEXT COLLATE "C",
        before JSON NOT NULL,
        after JSON NOT NULL
    );
    CREATE INDEX audit_question ON audit(article_id, question_key);
    CREATE INDEX audit_question_id ON audit(question_id);
    CREATE INDEX audit_target ON audit(target_id);
    CREATE INDEX audit_editor ON audit(editor);
    CREATE TABLE editors (
        name TEXT COLLATE "C" PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    INSERT INTO meta (key, value) VALUES ('decisions', '0');
    """,
    # 3: learning (as SQLite's migration 3): superseded fact checks, duplicate-question clusters, and
    # vectors of another encoder staged in the background (their own size, so no dimension here).
    """
    CREATE TABLE superseded (
        article_id TEXT COLLATE "C" PRIMARY KEY,
        by_article_id TEXT COLLATE "C" NOT NULL,
        updated_by TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE question_clusters (
        question_id TEXT COLLATE "C" PRIMARY KEY REFERENCES questions(id) ON DELETE CASCADE,
        cluster TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX question_clusters_cluster ON question_clusters(cluster);
    CREATE TABLE staged_passages (
        model_id TEXT COLLATE "C" NOT NULL,
        article_id TEXT COLLATE "C" NOT NULL,
        position INTEGER NOT NULL,
        text_hash TEXT NOT NULL,
        vector vector NOT NULL,
        PRIMARY KEY (model_id, article_id, position)
    );
    CREATE TABLE staged_questions (
        model_id TEXT COLLATE "C" NOT NULL,
        question_id TEXT COLLATE "C" NOT NULL,
        text_hash TEXT NOT NULL,
        vector vector NOT NULL,
        PRIMARY KEY (model_id, question_id)
    );
    """,
    # 4: `generation_at` in meta (as SQLite's migration 5): when the generation last moved, kept by
    # every write from now on; a database made before gets its newest article write as the best bound.
    """
    INSERT INTO meta (key, value)
        SELECT 'generation_at', to_char(latest AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
        FROM (SELECT MAX(updated_at) AS latest FROM articles) AS newest WHERE latest IS NOT NULL;
    """,
    # 5: roles on tokens (as SQLite's migration 6): existing tokens become `admin`; the audit log
    # records the role each decision was made with (NULL for entries older than roles).
    """
    ALTER TABLE editors ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'
        CHECK (role IN ('publisher', 'editor', 'admin'));
    ALTER TABLE audit ADD COLUMN role TEXT;
    """,
    # 6: term frequencies of each article for ranking inside PostgreSQL (recommender/store/pgranking.py).
    """
    CREATE TABLE article_lengths (
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
    CREATE INDEX article_terms_article ON article_terms (article_id);
    """,
]
