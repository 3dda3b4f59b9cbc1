"""SQL of editors' decisions, their audit log and superseded fact checks (the DecisionStore part).

Decisions are keyed by the question's own article and its wording key, apart from computed rows:
ingest, relinking and re-encoding never touch them. Their writes bump the `decisions` counter, not
`generation` (no index rebuild for an editor's click), and check each decision's version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from recommender.domain import AuditEntry, Decision, VersionConflict
from recommender.store.core import SqlCore

DECISION_COLUMNS = (
    "article_id, question_key, pinned, approved, rejected, hidden, gap, version, updated_by, updated_at, "
    "target_hash, target_score"
)
AUDIT_COLUMNS = "id, at, editor, action, question_id, question_key, article_id, target_id, before, after, role"


class SqlDecisions(SqlCore):
    def _decision(self, row: Sequence) -> Decision:
        return Decision(
            article_id=row[0],
            key=row[1],
            pinned=row[2],
            approved=row[3],
            rejected=tuple(self._from_json(row[4])),
            hidden=bool(row[5]),
            gap=bool(row[6]),
            version=row[7],
            updated_by=row[8],
            updated_at=row[9],
            target_hash=row[10],
            target_score=row[11],
        )

    def _audit_entry(self, r: Sequence) -> AuditEntry:
        return AuditEntry(
            id=r[0], at=r[1], editor=r[2], action=r[3], question_id=r[4], question_key=r[5], article_id=r[6],
            target_id=r[7], before=self._from_json(r[8]), after=self._from_json(r[9]), role=r[10],
        )

    def counters(self) -> tuple[int, int]:
        """(generation, decisions): what a cached widget response depends on.

        Read from the replica when the caller serves replica data, so an ETag never runs ahead
        of the content it labels.
        """
        rows = dict(self._fetch("SELECT key, value FROM meta WHERE key IN ('generation', 'decisions')", replica=True))
        return int(rows["generation"]), int(rows.get("decisions", 0))

    def get_decision(self, article_id: str, key: str) -> Decision | None:
        return self.decisions_for([(article_id, key)]).get((article_id, key))

    def decisions_for(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Decision]:
        """Decisions of the given (article id, question key) pairs that have one."""
        wanted = set(pairs)
        rows = self._fetch_in(
            f"SELECT {DECISION_COLUMNS} FROM decisions WHERE article_id {{in}}",
            sorted({a for a, _ in wanted}),
            replica=True,
        )
        found: dict[tuple[str, str], Decision] = {}
        for decision in map(self._decision, rows):
            if (decision.article_id, decision.key) in wanted:
                found[(decision.article_id, decision.key)] = decision
        return found

    def all_decisions(self) -> dict[tuple[str, str], Decision]:
        rows = self._fetch(f"SELECT {DECISION_COLUMNS} FROM decisions")
        return {(d.article_id, d.key): d for d in map(self._decision, rows)}

    def save_decisions(self, changes: Sequence[tuple[int, Decision, AuditEntry]]) -> None:
        """Store (expected version, new decision, audit entry) triples, all or nothing.

        Raises VersionConflict when a stored decision is not at the expected version.
        """
        with self._write("decisions") as conn:
            for expected, decision, entry in changes:
                row = self._exec(
                    conn,
                    "SELECT version FROM decisions WHERE article_id = ? AND question_key = ?",
                    (decision.article_id, decision.key),
                ).fetchone()
                current = row[0] if row else 0
                if current != expected:
                    raise VersionConflict(decision.article_id, decision.key, current)
                self._insert_decision(conn, decision, upsert=True)
                self._insert_audit(conn, entry)

    def _insert_decision(self, conn: Any, decision: Decision, upsert: bool = False) -> None:
        conflict = (
            """ ON CONFLICT (article_id, question_key) DO UPDATE SET pinned=excluded.pinned,
                 approved=excluded.approved, rejected=excluded.rejected, hidden=excluded.hidden,
                 gap=excluded.gap, target_hash=excluded.target_hash, target_score=excluded.target_score,
                 version=excluded.version, updated_by=excluded.updated_by, updated_at=excluded.updated_at"""
            if upsert
            else ""
        )
        self._exec(
            conn,
            """INSERT INTO decisions (article_id, question_key, pinned, approved, rejected, hidden, gap,
                   target_hash, target_score, version, updated_by, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""" + conflict,
            (
                decision.article_id, decision.key, decision.pinned, decision.approved,
                self._json(list(decision.rejected), ensure_ascii=True), decision.hidden, decision.gap,
                decision.target_hash, decision.target_score, decision.version, decision.updated_by,
                decision.updated_at,
            ),
        )

    def _insert_audit(self, conn: Any, entry: AuditEntry) -> None:
        self._exec(
            conn,
            # The role the editor acts with, read in the same transaction (callers pass names, not roles).
            """INSERT INTO audit (at, editor, action, question_id, question_key, article_id, target_id, before, after, role)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(CAST(? AS TEXT), (SELECT role FROM editors WHERE name = ?)))""",
            (
                entry.at, entry.editor, entry.action, entry.question_id, entry.question_key, entry.article_id,
                entry.target_id, self._json(entry.before), self._json(entry.after), entry.role, entry.editor,
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
        action: str | None = None,
    ) -> tuple[int, list[AuditEntry]]:
        """(total, newest first page) of audit entries matching every given filter.

        `question` is (own article id, wording key): the question's whole history, across reordering
        and trivial rewording; `article_id` matches the question's article or the fact check acted on.
        """
        where: list[str] = []
        params: list[Any] = []
        for condition, values, wanted in (
            ("article_id = ? AND question_key = ?", question, question is not None),
            ("question_id = ?", (question_id,), question_id is not None),
            ("(article_id = ? OR target_id = ?)", (article_id, article_id), article_id is not None),
            ("editor = ?", (editor,), editor is not None),
            ("action = ?", (action,), action is not None),
        ):
            if wanted:
                where.append(condition)
                params.extend(values)  # type: ignore[arg-type]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._read() as conn:
            total = self._exec(conn, f"SELECT COUNT(*) FROM audit {clause}", params).fetchone()[0]
            rows = self._exec(
                conn, f"SELECT {AUDIT_COLUMNS} FROM audit {clause} ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset]
            ).fetchall()
        return int(total), [self._audit_entry(r) for r in rows]

    # -- superseded fact checks ---------------------------------------------------------------
    def superseded_map(self) -> dict[str, str]:
        """Fact check -> the newer fact check an editor said replaces it."""
        return dict(self._fetch("SELECT article_id, by_article_id FROM superseded", replica=True))

    def set_superseded(self, article_id: str, by_article_id: str | None, entry: AuditEntry) -> None:
        """Mark `article_id` superseded by `by_article_id` (None: no longer), with an audit entry."""
        with self._write("decisions") as conn:
            if by_article_id is None:
                self._exec(conn, "DELETE FROM superseded WHERE article_id = ?", (article_id,))
            else:
                self._exec(
                    conn,
                    """INSERT INTO superseded (article_id, by_article_id, updated_by, updated_at) VALUES (?, ?, ?, ?)
                       ON CONFLICT (article_id) DO UPDATE SET by_article_id=excluded.by_article_id,
                         updated_by=excluded.updated_by, updated_at=excluded.updated_at""",
                    (article_id, by_article_id, entry.editor, entry.at),
                )
            self._insert_audit(conn, entry)
