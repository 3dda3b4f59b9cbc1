"""SQLite store: one file, WAL mode, every write one transaction.

Articles, their passages (with vectors), their questions (with vectors) and computed links
live here. A `generation` counter goes up with every write of them, so other processes (a CLI
ingest next to a running server) notice changes and reload their in-memory index. Editors'
decisions, their audit log and editor tokens live here too, keyed apart from computed rows;
decision writes bump a `decisions` counter instead (widget ETags use both).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from recommender.articles.model import Article, Section
from recommender.editorial.auth import Editor, EditorRecord
from recommender.store.base import (
    Activity,
    ArticleRow,
    AuditEntry,
    Decision,
    EncoderMismatch,
    IndexData,
    LinkRow,
    QuestionRow,
    StaleStage,
    Dump,
    Restore,
    StoredArticle,
    Superseded,
    VersionConflict,
)

# Article order of a re-embedding (Store.unstaged_texts): what readers see most is staged first.
NEWEST_FIRST = "a.checked_on IS NULL, a.checked_on DESC, a.updated_at DESC"

# Ordered migrations: index i brings the schema from version i to i+1. Never edit a shipped one.
MIGRATIONS: list[str] = [
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
]


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def _vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


class SQLiteStore:
    def __init__(self, path: Path, model_id: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.model_id = model_id
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._migrate()

    # -- connections -------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # One connection per thread: FastAPI runs sync endpoints in a thread pool.
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self, counter: str | None = "generation") -> Iterator[sqlite3.Connection]:
        """One transaction; bumps `counter` in meta (generation: articles and links changed)."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            if counter is not None:
                conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = ?", (counter,))
            if counter == "generation":
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('generation_at', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (dt.datetime.now(dt.UTC).isoformat(),),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction (a WAL snapshot); inside another one it simply joins it."""
        conn = self._conn()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    @contextmanager
    def consistent_read(self) -> Iterator[None]:
        """Every read of this thread inside sees the same committed state (no write half-seen)."""
        with self._read():
            yield

    def _migrate(self) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise RuntimeError(f"{self.path} has schema version {version}, newer than this code ({len(MIGRATIONS)})")
            for step in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {step + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # -- metadata ----------------------------------------------------------------------------
    def generation(self) -> int:
        row = self._conn().execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0])

    def stored_model_ids(self) -> set[str]:
        conn = self._conn()
        ids = {r[0] for r in conn.execute("SELECT DISTINCT model_id FROM passages")}
        ids |= {r[0] for r in conn.execute("SELECT DISTINCT model_id FROM questions")}
        return ids

    def content_hashes(self) -> dict[str, str]:
        return dict(self._conn().execute("SELECT id, content_hash FROM articles").fetchall())

    def passage_vectors_by_text(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors already stored for identical passage texts (by this encoder): no re-embedding."""
        hashes = {_text_hash(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        keys = list(hashes)
        conn = self._conn()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT text_hash, vector FROM passages WHERE model_id = ? AND text_hash IN ({marks})",
                [self.model_id, *chunk],
            )
            for text_hash, blob in rows:
                found[hashes[text_hash]] = _vector(blob)
        return found

    # -- writes ------------------------------------------------------------------------------
    def upsert(self, items: Sequence[StoredArticle]) -> None:
        """Store articles with their passages and questions, all or nothing.

        Questions of a changed article, and questions whose links point at it, are marked for
        relinking in the same transaction, so a crash before relinking loses no work.
        """
        with self._write() as conn:
            self._write_articles(conn, items)

    def _write_articles(self, conn: sqlite3.Connection, items: Sequence[StoredArticle]) -> None:
        now = dt.datetime.now(dt.UTC).isoformat()
        for item in items:
            article = item.article
            if len(item.passages) != len(item.passage_vectors):
                raise ValueError("one vector per passage")
            if len(article.questions) != len(item.question_vectors):
                raise ValueError("one vector per question")
            conn.execute(
                "UPDATE questions SET needs_link = 1 WHERE id IN (SELECT question_id FROM links WHERE article_id = ?)",
                (article.id,),
            )
            conn.execute(
                """INSERT INTO articles (id, title, checked_on, summary, sections, url, topic, body, content_hash, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(id) DO UPDATE SET title=excluded.title, checked_on=excluded.checked_on,
                     summary=excluded.summary, sections=excluded.sections, url=excluded.url, topic=excluded.topic,
                     body=excluded.body, content_hash=excluded.content_hash, updated_at=excluded.updated_at""",
                (
                    article.id,
                    article.title,
                    article.checked_on.isoformat() if article.checked_on else None,
                    article.summary,
                    json.dumps([s.model_dump() for s in article.sections], ensure_ascii=False),
                    article.url,
                    article.topic,
                    article.body_text(),
                    item.content_hash,
                    now,
                ),
            )
            conn.execute("DELETE FROM passages WHERE article_id = ?", (article.id,))
            conn.executemany(
                "INSERT INTO passages (article_id, position, text, text_hash, model_id, vector) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (article.id, i, text, _text_hash(text), self.model_id, _blob(vec))
                    for i, (text, vec) in enumerate(zip(item.passages, item.passage_vectors))
                ],
            )
            # A question kept (same id, same wording key) keeps its links until it is relinked, so
            # readers are not shown an empty block while an ingest runs; any other goes, links and all.
            records = article.question_records()
            kept = {(q.id, q.key) for q in records}
            existing = conn.execute("SELECT id, key FROM questions WHERE article_id = ?", (article.id,)).fetchall()
            conn.executemany("DELETE FROM questions WHERE id = ?", [(i,) for i, k in existing if (i, k) not in kept])
            conn.executemany(
                """INSERT INTO questions (id, article_id, position, text, key, model_id, vector, needs_link)
                   VALUES (?, ?, ?, ?, ?, ?, ?, 1)
                   ON CONFLICT(id) DO UPDATE SET position=excluded.position, text=excluded.text, key=excluded.key,
                     model_id=excluded.model_id, vector=excluded.vector, needs_link=1""",
                [
                    (q.id, q.article_id, q.position, q.text, q.key, self.model_id, _blob(vec))
                    for q, vec in zip(records, item.question_vectors)
                ],
            )

    def delete_article(self, article_id: str) -> bool:
        with self._write() as conn:
            conn.execute(
                "UPDATE questions SET needs_link = 1 WHERE id IN (SELECT question_id FROM links WHERE article_id = ?)",
                (article_id,),
            )
            deleted = conn.execute("DELETE FROM articles WHERE id = ?", (article_id,)).rowcount
        return deleted > 0

    def mark_for_linking(self, question_ids: Sequence[str]) -> None:
        with self._write() as conn:
            conn.executemany("UPDATE questions SET needs_link = 1 WHERE id = ?", [(q,) for q in question_ids])

    def replace_links(self, links: dict[str, list[LinkRow]]) -> None:
        with self._write() as conn:
            for question_id, rows in links.items():
                if conn.execute("SELECT 1 FROM questions WHERE id = ?", (question_id,)).fetchone() is None:
                    continue  # deleted meanwhile
                conn.execute("DELETE FROM links WHERE question_id = ?", (question_id,))
                conn.executemany(
                    "INSERT INTO links (question_id, rank, article_id, score, dense, lexical, passage) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(r.question_id, r.rank, r.article_id, r.score, r.dense, r.lexical, r.passage) for r in rows],
                )
                conn.execute("UPDATE questions SET needs_link = 0 WHERE id = ?", (question_id,))

    def reencode(self, model_id: str, passage_vectors: dict[tuple[str, int], np.ndarray], question_vectors: dict[str, np.ndarray]) -> None:
        """Swap every vector to another encoder at once and mark every question for relinking."""
        with self._write() as conn:
            conn.executemany(
                "UPDATE passages SET vector = ?, model_id = ? WHERE article_id = ? AND position = ?",
                [(_blob(v), model_id, a, p) for (a, p), v in passage_vectors.items()],
            )
            conn.executemany(
                "UPDATE questions SET vector = ?, model_id = ?, needs_link = 1 WHERE id = ?",
                [(_blob(v), model_id, q) for q, v in question_vectors.items()],
            )
        self.model_id = model_id

    # -- reads -------------------------------------------------------------------------------
    def all_texts(self) -> tuple[list[tuple[str, int, str]], list[tuple[str, str]]]:
        """(article, position, passage text) and (question id, text): what re-encoding needs."""
        conn = self._conn()
        passages = conn.execute("SELECT article_id, position, text FROM passages ORDER BY article_id, position").fetchall()
        questions = conn.execute("SELECT id, text FROM questions ORDER BY id").fetchall()
        return passages, questions

    def load_index(self) -> IndexData:
        with self._read() as conn:
            foreign = self._foreign_models(conn)
            if foreign:
                raise EncoderMismatch(
                    f"the database holds vectors of {sorted(foreign)}, not of {self.model_id}; re-encode it first"
                )
            generation = int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
            article_rows = conn.execute(
                "SELECT id, title, checked_on, url, topic, content_hash, body FROM articles ORDER BY id"
            ).fetchall()
            # Vectors go straight into one matrix each (with spare rows for the index to append to):
            # per-row arrays and their blobs would hold every vector two or three times at once.
            passages = _read_matrix(
                conn, "SELECT article_id, vector FROM passages ORDER BY article_id, position", "passages"
            )
            questions = _read_matrix(
                conn,
                "SELECT id, article_id, position, text, key, vector FROM questions ORDER BY article_id, position",
                "questions",
            )
        articles = [_article_row(r[:6]) for r in article_rows]
        matrix, owners = passages
        starts: dict[str, int] = {}
        counts: dict[str, int] = {}
        for row, owner in enumerate(owners):
            starts.setdefault(owner[0], row)
            counts[owner[0]] = counts.get(owner[0], 0) + 1
        vectors = [matrix[starts[a.id] : starts[a.id] + counts[a.id]] for a in articles]
        q_matrix, q_rows = questions
        question_list = [QuestionRow(*r) for r in q_rows]
        return IndexData(generation, articles, [r[6] for r in article_rows], vectors, question_list, q_matrix)

    def _foreign_models(self, conn: sqlite3.Connection) -> set[str]:
        ids = {r[0] for r in conn.execute("SELECT DISTINCT model_id FROM passages")}
        ids |= {r[0] for r in conn.execute("SELECT DISTINCT model_id FROM questions")}
        return ids - {self.model_id}

    def questions_to_link(self) -> list[str]:
        return [r[0] for r in self._conn().execute("SELECT id FROM questions WHERE needs_link = 1 ORDER BY id")]

    def last_candidate_scores(self) -> dict[str, tuple[int, float]]:
        """Per question: how many candidates are stored and the lowest stored score."""
        rows = self._conn().execute("SELECT question_id, COUNT(*), MIN(score) FROM links GROUP BY question_id")
        return {q: (n, s) for q, n, s in rows}

    def get_article(self, article_id: str) -> Article | None:
        return self._get_article(self._conn(), article_id)

    def _get_article(self, conn: sqlite3.Connection, article_id: str) -> Article | None:
        row = conn.execute(
            "SELECT id, title, checked_on, summary, sections, url, topic FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        if row is None:
            return None
        questions = [
            r[0] for r in conn.execute("SELECT text FROM questions WHERE article_id = ? ORDER BY position", (article_id,))
        ]
        return Article(
            id=row[0],
            title=row[1],
            checked_on=dt.date.fromisoformat(row[2]) if row[2] else None,
            summary=row[3],
            sections=[Section(**s) for s in json.loads(row[4])],
            url=row[5],
            topic=row[6],
            questions=questions,
        )

    def get_article_row(self, article_id: str) -> ArticleRow | None:
        return self.article_rows([article_id]).get(article_id)

    def article_rows(self, ids: Sequence[str]) -> dict[str, ArticleRow]:
        ids = list(dict.fromkeys(ids))
        found: dict[str, ArticleRow] = {}
        conn = self._conn()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(
                f"SELECT id, title, checked_on, url, topic, content_hash FROM articles WHERE id IN ({marks})", chunk
            ):
                found[row[0]] = _article_row(row)
        return found

    def get_question(self, question_id: str) -> QuestionRow | None:
        row = self._conn().execute(
            "SELECT id, article_id, position, text, key FROM questions WHERE id = ?", (question_id,)
        ).fetchone()
        return QuestionRow(*row) if row else None

    def questions_of(self, article_id: str) -> list[QuestionRow]:
        rows = self._conn().execute(
            "SELECT id, article_id, position, text, key FROM questions WHERE article_id = ? ORDER BY position",
            (article_id,),
        )
        return [QuestionRow(*r) for r in rows]

    def links_of(self, question_ids: Sequence[str]) -> dict[str, list[LinkRow]]:
        found: dict[str, list[LinkRow]] = {q: [] for q in question_ids}
        ids = list(found)
        conn = self._conn()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(
                f"SELECT question_id, rank, article_id, score, dense, lexical, passage FROM links "
                f"WHERE question_id IN ({marks}) ORDER BY question_id, rank",
                chunk,
            ):
                found[row[0]].append(LinkRow(*row))
        return found

    def links_to(self, article_id: str, min_score: float) -> list[LinkRow]:
        rows = self._conn().execute(
            "SELECT question_id, rank, article_id, score, dense, lexical, passage FROM links "
            "WHERE article_id = ? AND score >= ? ORDER BY score DESC, question_id, rank",
            (article_id, min_score),
        )
        return [LinkRow(*r) for r in rows]

    def passage_text(self, article_id: str, position: int) -> str | None:
        row = self._conn().execute(
            "SELECT text FROM passages WHERE article_id = ? AND position = ?", (article_id, position)
        ).fetchone()
        return row[0] if row else None

    def best_links(self) -> list[tuple[QuestionRow, LinkRow | None]]:
        rows = self._conn().execute(
            """SELECT q.id, q.article_id, q.position, q.text, q.key,
                      l.question_id, l.rank, l.article_id, l.score, l.dense, l.lexical, l.passage
               FROM questions q LEFT JOIN links l ON l.question_id = q.id AND l.rank = 0
               ORDER BY q.article_id, q.position"""
        )
        return [(QuestionRow(*r[:5]), LinkRow(*r[5:]) if r[5] is not None else None) for r in rows]

    def counts(self) -> dict[str, int]:
        conn = self._conn()
        return {
            "articles": conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0],
            "passages": conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0],
            "questions": conn.execute("SELECT COUNT(*) FROM questions").fetchone()[0],
            "links": conn.execute("SELECT COUNT(*) FROM links").fetchone()[0],
            "pending": conn.execute("SELECT COUNT(*) FROM questions WHERE needs_link = 1").fetchone()[0],
        }

    def activity(self) -> Activity:
        with self._read() as conn:
            changed = conn.execute("SELECT value FROM meta WHERE key = 'generation_at'").fetchone()
            ingested = conn.execute("SELECT MAX(updated_at) FROM articles").fetchone()[0]
            staged = conn.execute(
                "SELECT (SELECT COUNT(*) FROM staged_passages) + (SELECT COUNT(*) FROM staged_questions)"
            ).fetchone()[0]
        return Activity(changed[0] if changed else None, ingested, int(staged))

    # -- editorial ---------------------------------------------------------------------------
    def counters(self) -> tuple[int, int]:
        """(generation, decisions): what a cached widget response depends on."""
        rows = dict(self._conn().execute("SELECT key, value FROM meta WHERE key IN ('generation', 'decisions')"))
        return int(rows["generation"]), int(rows.get("decisions", 0))

    def get_decision(self, article_id: str, key: str) -> Decision | None:
        return self.decisions_for([(article_id, key)]).get((article_id, key))

    def decisions_for(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Decision]:
        """Decisions of the given (article id, question key) pairs that have one."""
        wanted = set(pairs)
        articles = sorted({a for a, _ in wanted})
        found: dict[tuple[str, str], Decision] = {}
        conn = self._conn()
        for start in range(0, len(articles), 500):
            chunk = articles[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(f"SELECT {_DECISION_COLUMNS} FROM decisions WHERE article_id IN ({marks})", chunk):
                decision = _decision(row)
                if (decision.article_id, decision.key) in wanted:
                    found[(decision.article_id, decision.key)] = decision
        return found

    def all_decisions(self) -> dict[tuple[str, str], Decision]:
        rows = self._conn().execute(f"SELECT {_DECISION_COLUMNS} FROM decisions")
        return {(d.article_id, d.key): d for d in map(_decision, rows)}

    def save_decisions(self, changes: Sequence[tuple[int, Decision, AuditEntry]]) -> None:
        """Store (expected version, new decision, audit entry) triples, all or nothing.

        Raises VersionConflict when a stored decision is not at the expected version.
        """
        with self._write("decisions") as conn:
            for expected, decision, entry in changes:
                row = conn.execute(
                    "SELECT version FROM decisions WHERE article_id = ? AND question_key = ?",
                    (decision.article_id, decision.key),
                ).fetchone()
                current = row[0] if row else 0
                if current != expected:
                    raise VersionConflict(decision.article_id, decision.key, current)
                conn.execute(
                    """INSERT INTO decisions (article_id, question_key, pinned, approved, rejected, hidden, gap,
                           target_hash, target_score, version, updated_by, updated_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT(article_id, question_key) DO UPDATE SET pinned=excluded.pinned,
                         approved=excluded.approved, rejected=excluded.rejected, hidden=excluded.hidden,
                         gap=excluded.gap, target_hash=excluded.target_hash, target_score=excluded.target_score,
                         version=excluded.version, updated_by=excluded.updated_by, updated_at=excluded.updated_at""",
                    (
                        decision.article_id,
                        decision.key,
                        decision.pinned,
                        decision.approved,
                        json.dumps(list(decision.rejected)),
                        int(decision.hidden),
                        int(decision.gap),
                        decision.target_hash,
                        decision.target_score,
                        decision.version,
                        decision.updated_by,
                        decision.updated_at,
                    ),
                )
                conn.execute(
                    """INSERT INTO audit (at, editor, action, question_id, question_key, article_id, target_id, before, after)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        entry.at,
                        entry.editor,
                        entry.action,
                        entry.question_id,
                        entry.question_key,
                        entry.article_id,
                        entry.target_id,
                        json.dumps(entry.before, ensure_ascii=False),
                        json.dumps(entry.after, ensure_ascii=False),
                    ),
                )

    def audit_entries(
        self,
        question: tuple[str, str] | None = None,
        question_id: str | None = None,
        article_id: str | None = None,
        editor: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[int, list[AuditEntry]]:
        """(total, newest first page) of audit entries matching every given filter.

        `question` is (own article id, wording key): the question's whole history, across reordering
        and trivial rewording; `article_id` matches the question's article or the fact check acted on.
        """
        where, params = [], []
        if question is not None:
            where.append("article_id = ? AND question_key = ?")
            params.extend(question)
        if question_id is not None:
            where.append("question_id = ?")
            params.append(question_id)
        if article_id is not None:
            where.append("(article_id = ? OR target_id = ?)")
            params.extend([article_id, article_id])
        if editor is not None:
            where.append("editor = ?")
            params.append(editor)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._read() as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM audit {clause}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT id, at, editor, action, question_id, question_key, article_id, target_id, before, after "
                f"FROM audit {clause} ORDER BY id DESC LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        entries = [
            AuditEntry(
                id=r[0], at=r[1], editor=r[2], action=r[3], question_id=r[4], question_key=r[5], article_id=r[6],
                target_id=r[7], before=json.loads(r[8]), after=json.loads(r[9]),
            )
            for r in rows
        ]
        return total, entries

    def add_editor(self, name: str, token_hash: str) -> None:
        """Create an editor, or give a revoked one a new token; an active editor is an error."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._write(None) as conn:
            row = conn.execute("SELECT revoked_at FROM editors WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] is None:
                raise ValueError(f"editor {name!r} already has an active token; revoke it first")
            conn.execute(
                """INSERT INTO editors (name, token_hash, created_at, revoked_at) VALUES (?, ?, ?, NULL)
                   ON CONFLICT(name) DO UPDATE SET token_hash=excluded.token_hash, created_at=excluded.created_at,
                     revoked_at=NULL""",
                (name, token_hash, now),
            )

    def revoke_editor(self, name: str) -> bool:
        """Revoke an editor's token; False when there is no active editor of that name."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._write(None) as conn:
            changed = conn.execute(
                "UPDATE editors SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now, name)
            ).rowcount
        return changed > 0

    def editor_records(self) -> list[EditorRecord]:
        rows = self._conn().execute("SELECT name, created_at, revoked_at, token_hash FROM editors ORDER BY name")
        return [EditorRecord(Editor(r[0], r[1], r[2]), r[3]) for r in rows]

    # -- reliability: crash-safe relinking, backup and restore --------------------------------
    # Articles written whose effect on *other* questions' links (could they enter them?) is not
    # computed yet. Recorded before their write, cleared after the relink: a crash in between
    # leaves them here and the next open relinks what they may affect. Kept in meta (no migration).
    def _pending(self, conn: sqlite3.Connection) -> dict[str, str]:
        row = conn.execute("SELECT value FROM meta WHERE key = 'pending_articles'").fetchone()
        return dict(json.loads(row[0])) if row else {}

    def _set_pending(self, conn: sqlite3.Connection, hashes: dict[str, str]) -> None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('pending_articles', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (json.dumps(hashes, sort_keys=True),),
        )

    def add_pending_articles(self, hashes: Mapping[str, str]) -> None:
        """Record (article id -> content hash) about to be written."""
        with self._write(None) as conn:
            self._set_pending(conn, {**self._pending(conn), **hashes})

    def pending_articles(self) -> dict[str, str]:
        return self._pending(self._conn())

    def clear_pending_articles(self, hashes: Mapping[str, str]) -> None:
        """Forget pending articles, each only if still recorded with the same content hash."""
        with self._write(None) as conn:
            pending = self._pending(conn)
            self._set_pending(conn, {a: h for a, h in pending.items() if hashes.get(a) != h})

    def dump(self) -> Dump:
        """Articles and the whole editorial record, in one read transaction."""
        with self._read() as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM articles ORDER BY id")]
            articles = [a for a in (self._get_article(conn, i) for i in ids) if a is not None]
            decisions = [_decision(r) for r in conn.execute(f"SELECT {_DECISION_COLUMNS} FROM decisions ORDER BY article_id, question_key")]
            audit = [
                AuditEntry(
                    id=r[0], at=r[1], editor=r[2], action=r[3], question_id=r[4], question_key=r[5], article_id=r[6],
                    target_id=r[7], before=json.loads(r[8]), after=json.loads(r[9]),
                )
                for r in conn.execute(
                    "SELECT id, at, editor, action, question_id, question_key, article_id, target_id, before, after "
                    "FROM audit ORDER BY id"
                )
            ]
            editors = [
                EditorRecord(Editor(r[0], r[1], r[2]), r[3])
                for r in conn.execute("SELECT name, created_at, revoked_at, token_hash FROM editors ORDER BY name")
            ]
            superseded = [
                Superseded(*r)
                for r in conn.execute("SELECT article_id, by_article_id, updated_by, updated_at FROM superseded ORDER BY article_id")
            ]
        return Dump(articles, decisions, audit, editors, superseded)

    def restore(self, data: Restore, replace: bool = False) -> None:
        """Write a backup in one transaction; `replace` first empties every table it fills."""
        with self._write() as conn:
            if replace:
                for table in ("links", "questions", "passages", "articles", "decisions", "audit", "editors", "superseded"):
                    conn.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed names)
                self._set_pending(conn, {})
                # Derived from the questions just deleted: make the next write recompute them.
                conn.execute("DELETE FROM meta WHERE key = 'cluster_fingerprint'")
            self._write_articles(conn, data.articles)
            for decision in data.decisions:
                self._insert_decision(conn, decision)
            conn.executemany(
                """INSERT INTO audit (id, at, editor, action, question_id, question_key, article_id, target_id, before, after)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    (e.id, e.at, e.editor, e.action, e.question_id, e.question_key, e.article_id, e.target_id,
                     json.dumps(e.before, ensure_ascii=False), json.dumps(e.after, ensure_ascii=False))
                    for e in data.audit
                ],
            )
            conn.executemany(
                "INSERT INTO editors (name, token_hash, created_at, revoked_at) VALUES (?, ?, ?, ?)",
                [(r.editor.name, r.token_hash, r.editor.created_at, r.editor.revoked_at) for r in data.editors],
            )
            conn.executemany(
                "INSERT INTO superseded (article_id, by_article_id, updated_by, updated_at) VALUES (?, ?, ?, ?)",
                [(s.article_id, s.by_article_id, s.updated_by, s.updated_at) for s in data.superseded],
            )
            conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'decisions'")

    def _insert_decision(self, conn: sqlite3.Connection, decision: Decision) -> None:
        conn.execute(
            """INSERT INTO decisions (article_id, question_key, pinned, approved, rejected, hidden, gap,
                   target_hash, target_score, version, updated_by, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                decision.article_id, decision.key, decision.pinned, decision.approved,
                json.dumps(list(decision.rejected)), int(decision.hidden), int(decision.gap), decision.target_hash,
                decision.target_score, decision.version, decision.updated_by, decision.updated_at,
            ),
        )

    # -- learning: superseded fact checks, duplicate clusters, model switching ----------------
    def superseded_map(self) -> dict[str, str]:
        """Fact check -> the newer fact check an editor said replaces it."""
        return dict(self._conn().execute("SELECT article_id, by_article_id FROM superseded"))

    def set_superseded(self, article_id: str, by_article_id: str | None, entry: AuditEntry) -> None:
        """Mark `article_id` superseded by `by_article_id` (None: no longer), with an audit entry."""
        with self._write("decisions") as conn:
            if by_article_id is None:
                conn.execute("DELETE FROM superseded WHERE article_id = ?", (article_id,))
            else:
                conn.execute(
                    """INSERT INTO superseded (article_id, by_article_id, updated_by, updated_at) VALUES (?, ?, ?, ?)
                       ON CONFLICT(article_id) DO UPDATE SET by_article_id=excluded.by_article_id,
                         updated_by=excluded.updated_by, updated_at=excluded.updated_at""",
                    (article_id, by_article_id, entry.editor, entry.at),
                )
            self._insert_audit(conn, entry)

    def _insert_audit(self, conn: sqlite3.Connection, entry: AuditEntry) -> None:
        conn.execute(
            """INSERT INTO audit (at, editor, action, question_id, question_key, article_id, target_id, before, after)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                entry.at, entry.editor, entry.action, entry.question_id, entry.question_key, entry.article_id,
                entry.target_id, json.dumps(entry.before, ensure_ascii=False), json.dumps(entry.after, ensure_ascii=False),
            ),
        )

    def all_clusters(self) -> dict[str, str]:
        """Question id -> cluster id, for questions in a cluster of two or more."""
        return dict(self._conn().execute("SELECT question_id, cluster FROM question_clusters"))

    def cluster_fingerprint(self) -> str | None:
        """What the stored clusters were computed from (see `replace_clusters`)."""
        row = self._conn().execute("SELECT value FROM meta WHERE key = 'cluster_fingerprint'").fetchone()
        return row[0] if row else None

    def replace_clusters(self, clusters: dict[str, str], fingerprint: str) -> None:
        """Replace every cluster assignment at once (questions deleted meanwhile are skipped) and record
        `fingerprint` (questions, model and threshold they came from) so unchanged input is not reclustered."""
        with self._write("decisions") as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('cluster_fingerprint', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (fingerprint,),
            )
            conn.execute("DELETE FROM question_clusters")
            conn.executemany(
                "INSERT INTO question_clusters (question_id, cluster) SELECT ?, ? WHERE EXISTS "
                "(SELECT 1 FROM questions WHERE id = ?)",
                [(q, c, q) for q, c in clusters.items()],
            )

    def update_clusters(self, assign: Mapping[str, str], unassign: Collection[str], fingerprint: str) -> None:
        """Change some cluster assignments (the rest stay) and record `fingerprint`, in one transaction:
        what an incremental recluster after a write needs, where replace_clusters rewrites them all."""
        with self._write("decisions") as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('cluster_fingerprint', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (fingerprint,),
            )
            conn.executemany("DELETE FROM question_clusters WHERE question_id = ?", [(q,) for q in unassign])
            conn.executemany(
                "INSERT INTO question_clusters (question_id, cluster) SELECT ?, ? WHERE EXISTS "
                "(SELECT 1 FROM questions WHERE id = ?) ON CONFLICT(question_id) DO UPDATE SET cluster = excluded.cluster",
                [(q, c, q) for q, c in assign.items()],
            )

    def live_model(self) -> tuple[str | None, str | None]:
        """(name, model id) recorded by the last `swap_model`; (None, None) before any switch."""
        rows = dict(self._conn().execute("SELECT key, value FROM meta WHERE key IN ('model_name', 'model_id')"))
        return rows.get("model_name"), rows.get("model_id")

    def stage_vectors(
        self,
        model_id: str,
        passages: Sequence[tuple[str, int, str, np.ndarray]],
        questions: Sequence[tuple[str, str, np.ndarray]],
    ) -> None:
        """Keep vectors of another encoder beside the live ones: (article, position, text, vector) and
        (question id, text, vector). Serving is untouched; no counter moves."""
        with self._write(None) as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO staged_passages (model_id, article_id, position, text_hash, vector) VALUES (?, ?, ?, ?, ?)",
                [(model_id, a, p, _text_hash(t), _blob(v)) for a, p, t, v in passages],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO staged_questions (model_id, question_id, text_hash, vector) VALUES (?, ?, ?, ?)",
                [(model_id, q, _text_hash(t), _blob(v)) for q, t, v in questions],
            )

    def unstaged_texts(self, model_id: str) -> tuple[list[tuple[str, int, str]], list[tuple[str, str]]]:
        """Passages and questions that have no staged vector of `model_id` for their current text,
        newest articles first (by checked_on, then last update; undated ones last)."""
        with self._read() as conn:
            staged_p = {
                (a, p): h
                for a, p, h in conn.execute(
                    "SELECT article_id, position, text_hash FROM staged_passages WHERE model_id = ?", (model_id,)
                )
            }
            staged_q = dict(
                conn.execute("SELECT question_id, text_hash FROM staged_questions WHERE model_id = ?", (model_id,))
            )
            passages = [
                (a, p, t)
                for a, p, t, h in conn.execute(
                    f"""SELECT p.article_id, p.position, p.text, p.text_hash FROM passages p JOIN articles a ON a.id = p.article_id
                        ORDER BY {NEWEST_FIRST}, p.article_id, p.position"""
                )
                if staged_p.get((a, p)) != h
            ]
            questions = [
                (q, t)
                for q, t in conn.execute(
                    f"""SELECT q.id, q.text FROM questions q JOIN articles a ON a.id = q.article_id
                        ORDER BY {NEWEST_FIRST}, q.article_id, q.position"""
                )
                if staged_q.get(q) != _text_hash(t)
            ]
        return passages, questions

    def load_staged_index(self, model_id: str) -> IndexData:
        """The index as it will be after `swap_model(model_id)`: live rows, staged vectors.
        Raises StaleStage when a row has no staged vector for its current text."""
        with self._read() as conn:
            generation = int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
            article_rows = conn.execute(
                "SELECT id, title, checked_on, url, topic, content_hash, body FROM articles ORDER BY id"
            ).fetchall()
            passage_rows = conn.execute(
                """SELECT p.article_id, s.vector FROM passages p LEFT JOIN staged_passages s
                   ON s.model_id = ? AND s.article_id = p.article_id AND s.position = p.position AND s.text_hash = p.text_hash
                   ORDER BY p.article_id, p.position""",
                (model_id,),
            ).fetchall()
            question_rows = conn.execute(
                """SELECT q.id, q.article_id, q.position, q.text, q.key, s.vector, s.text_hash FROM questions q
                   LEFT JOIN staged_questions s ON s.model_id = ? AND s.question_id = q.id
                   ORDER BY q.article_id, q.position""",
                (model_id,),
            ).fetchall()
        missing = sum(1 for _, blob in passage_rows if blob is None)
        missing += sum(1 for r in question_rows if r[5] is None or r[6] != _text_hash(r[3]))
        if missing:
            raise StaleStage(f"{missing} passages or questions have no staged vector of {model_id}")
        groups: dict[str, list[np.ndarray]] = {}
        for article_id, blob in passage_rows:
            groups.setdefault(article_id, []).append(_vector(blob))
        articles = [_article_row(r[:6]) for r in article_rows]
        questions = [QuestionRow(r[0], r[1], r[2], r[3], r[4]) for r in question_rows]
        q_vectors = np.stack([_vector(r[5]) for r in question_rows]) if question_rows else np.zeros((0, 0), np.float32)
        return IndexData(generation, articles, [r[6] for r in article_rows], [np.stack(groups[a.id]) for a in articles], questions, q_vectors)

    def swap_model(self, model_id: str, name: str, links: dict[str, list[LinkRow]], generation: int) -> None:
        """Make the staged vectors of `model_id` live, with `links` computed from them, in one transaction.

        `generation` is the one the links were computed at: a write since then raises StaleStage
        (stage what changed and try again). Decisions are not touched.
        """
        with self._write() as conn:
            current = int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
            if current != generation:
                raise StaleStage(f"the database changed during the switch (generation {generation} -> {current})")
            conn.execute(
                """UPDATE passages SET model_id = ?, vector = (SELECT s.vector FROM staged_passages s
                     WHERE s.model_id = ? AND s.article_id = passages.article_id AND s.position = passages.position)""",
                (model_id, model_id),
            )
            conn.execute(
                """UPDATE questions SET model_id = ?, needs_link = 0, vector = (SELECT s.vector FROM staged_questions s
                     WHERE s.model_id = ? AND s.question_id = questions.id)""",
                (model_id, model_id),
            )
            conn.execute("DELETE FROM links")
            conn.executemany(
                "INSERT INTO links (question_id, rank, article_id, score, dense, lexical, passage) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(r.question_id, r.rank, r.article_id, r.score, r.dense, r.lexical, r.passage) for rows in links.values() for r in rows],
            )
            for key, value in (("model_name", name), ("model_id", model_id)):
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )
            conn.execute("DELETE FROM staged_passages")
            conn.execute("DELETE FROM staged_questions")
        self.model_id = model_id

    def discard_staged(self) -> None:
        """Forget staged vectors (an abandoned or failed switch)."""
        with self._write(None) as conn:
            conn.execute("DELETE FROM staged_passages")
            conn.execute("DELETE FROM staged_questions")


def _read_matrix(conn: sqlite3.Connection, query: str, table: str) -> tuple[np.ndarray, list[tuple]]:
    """(vectors, the other columns of each row) of a query whose last column is a vector blob.

    The matrix has a quarter more rows than needed, left unused (and, being untouched, not resident):
    the in-memory index appends new rows there without copying the matrix.
    """
    count = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    first = conn.execute(f"SELECT vector FROM {table} LIMIT 1").fetchone()
    dim = len(first[0]) // 4 if first else 0
    matrix = np.empty((count + count // 4 + 16, dim), dtype=np.float32)
    others: list[tuple] = []
    cursor = conn.execute(query)
    row = 0
    while batch := cursor.fetchmany(4096):
        matrix[row : row + len(batch)] = np.frombuffer(b"".join(r[-1] for r in batch), dtype=np.float32).reshape(-1, dim)
        others.extend(r[:-1] for r in batch)
        row += len(batch)
    return matrix[:row], others


def _article_row(row: Sequence) -> ArticleRow:
    return ArticleRow(
        id=row[0],
        title=row[1],
        checked_on=dt.date.fromisoformat(row[2]) if row[2] else None,
        url=row[3],
        topic=row[4],
        content_hash=row[5],
    )


_DECISION_COLUMNS = (
    "article_id, question_key, pinned, approved, rejected, hidden, gap, version, updated_by, updated_at, "
    "target_hash, target_score"
)


def _decision(row: Sequence) -> Decision:
    return Decision(
        article_id=row[0],
        key=row[1],
        pinned=row[2],
        approved=row[3],
        rejected=tuple(json.loads(row[4])),
        hidden=bool(row[5]),
        gap=bool(row[6]),
        version=row[7],
        updated_by=row[8],
        updated_at=row[9],
        target_hash=row[10],
        target_score=row[11],
    )
