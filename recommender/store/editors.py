"""SQL of editor tokens (the EditorStore part): stored only as hashes, each with its role."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from recommender.domain import DEFAULT_ROLE, Editor, EditorRecord, Role
from recommender.store.core import SqlCore

EDITOR_COLUMNS = "name, created_at, revoked_at, token_hash, role"


class SqlEditors(SqlCore):
    @staticmethod
    def _editor_record(r: Sequence) -> EditorRecord:
        return EditorRecord(Editor(r[0], r[1], r[2], r[4]), r[3])

    def add_editor(self, name: str, token_hash: str, role: Role = DEFAULT_ROLE) -> None:
        """Create an editor, or give a revoked one a new token (and `role`); an active editor is an error."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._write(None) as conn:
            row = self._exec(conn, "SELECT revoked_at FROM editors WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] is None:
                raise ValueError(f"editor {name!r} already has an active token; revoke it first")
            self._exec(
                conn,
                """INSERT INTO editors (name, token_hash, created_at, revoked_at, role) VALUES (?, ?, ?, NULL, ?)
                   ON CONFLICT (name) DO UPDATE SET token_hash=excluded.token_hash, created_at=excluded.created_at,
                     revoked_at=NULL, role=excluded.role""",
                (name, token_hash, now, role),
            )

    def revoke_editor(self, name: str) -> bool:
        """Revoke an editor's token; False when there is no active editor of that name."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._write(None) as conn:
            changed = self._exec(
                conn, "UPDATE editors SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now, name)
            ).rowcount
        return changed > 0

    def editor_records(self) -> list[EditorRecord]:
        # Always the primary: a revoked token must stop working at once.
        rows = self._fetch(f"SELECT {EDITOR_COLUMNS} FROM editors ORDER BY name")
        return [self._editor_record(r) for r in rows]
