"""SQL of backup and restore (the BackupStore part): every aggregate's rows in one transaction.

Vectors and links are derived: a dump holds articles and the whole editorial record, and `restore`
writes articles with fresh vectors (see recommender/backup.py for the file format).
"""

from __future__ import annotations

from typing import Any

from recommender.domain import Superseded
from recommender.store.articles import SqlArticles
from recommender.store.base import Dump, Restore
from recommender.store.decisions import AUDIT_COLUMNS, DECISION_COLUMNS, SqlDecisions
from recommender.store.editors import EDITOR_COLUMNS, SqlEditors


class SqlDump(SqlArticles, SqlDecisions, SqlEditors):
    def _restored_audit(self, conn: Any) -> None:
        """After audit rows were written with explicit ids (restore)."""

    def dump(self) -> Dump:
        """Articles and the whole editorial record, in one read transaction."""
        with self._read() as conn:
            ids = [r[0] for r in self._exec(conn, "SELECT id FROM articles ORDER BY id")]
            articles = [a for a in (self._get_article(conn, i) for i in ids) if a is not None]
            decisions = [
                self._decision(r)
                for r in self._exec(conn, f"SELECT {DECISION_COLUMNS} FROM decisions ORDER BY article_id, question_key")
            ]
            audit = [self._audit_entry(r) for r in self._exec(conn, f"SELECT {AUDIT_COLUMNS} FROM audit ORDER BY id")]
            editors = [
                self._editor_record(r) for r in self._exec(conn, f"SELECT {EDITOR_COLUMNS} FROM editors ORDER BY name")
            ]
            superseded = [
                Superseded(*r)
                for r in self._exec(
                    conn, "SELECT article_id, by_article_id, updated_by, updated_at FROM superseded ORDER BY article_id"
                )
            ]
        return Dump(articles, decisions, audit, editors, superseded)

    def restore(self, data: Restore, replace: bool = False) -> None:
        """Write a backup in one transaction; `replace` first empties every table it fills."""
        with self._write() as conn:
            if replace:
                for table in ("links", "questions", "passages", "articles", "decisions", "audit", "editors", "superseded"):
                    self._exec(conn, f"DELETE FROM {table}")  # noqa: S608 (fixed names)
                self._set_pending(conn, {})
                # Derived from the questions just deleted: make the next write recompute them.
                self._exec(conn, "DELETE FROM meta WHERE key = 'cluster_fingerprint'")
            self._write_articles(conn, data.articles)
            for decision in data.decisions:
                self._insert_decision(conn, decision)
            self._many(
                conn,
                f"INSERT INTO audit ({AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (e.id, e.at, e.editor, e.action, e.question_id, e.question_key, e.article_id, e.target_id,
                     self._json(e.before), self._json(e.after), e.role)
                    for e in data.audit
                ],
            )
            self._many(
                conn,
                "INSERT INTO editors (name, token_hash, created_at, revoked_at, role) VALUES (?, ?, ?, ?, ?)",
                [(r.editor.name, r.token_hash, r.editor.created_at, r.editor.revoked_at, r.editor.role) for r in data.editors],
            )
            self._many(
                conn,
                "INSERT INTO superseded (article_id, by_article_id, updated_by, updated_at) VALUES (?, ?, ?, ?)",
                [(s.article_id, s.by_article_id, s.updated_by, s.updated_at) for s in data.superseded],
            )
            self._restored_audit(conn)
            self._bump(conn, "decisions")
