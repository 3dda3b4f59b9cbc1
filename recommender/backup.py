"""Backup and restore as JSON Lines: `recommender export` and `recommender import`.

One record a line, `{"type": ..., "data": {...}}`, after a header line:

- `header`: format name and version, when, from which model (informational);
- `article`: an article exactly as ingested (the `Article` fields);
- `decision`: an editor decision, keyed by the question's article and wording key, with its version;
- `audit`: one audit-log entry, with its id (so history and ordering survive);
- `superseded`: an editor's word that a newer fact check replaces an older one;
- `editor`: an editor with the SHA-256 hash of their token, never the token.

Vectors and links are not exported: they are derived, and import recomputes them with the current
encoder, so a backup also moves a database to another model. Editors are exported (with
`--no-editors` they are left out) so that a restored service accepts the same tokens at once:
the hash of a 256-bit random token can neither be reversed nor sent in its place, so the file
grants no access by itself; revoked editors stay revoked.

Import reads and validates every line before it writes anything (errors name the file and line),
refuses a database that already holds articles, decisions, audit entries or editors unless
`replace` (`--force`), and writes everything in one transaction, then relinks.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from recommender.articles.jsonl import json_line_error
from recommender.articles.model import ID_PATTERN, Article, validation_message
from recommender.domain import AuditEntry, Decision, Editor, EditorRecord, MIGRATED_ROLE, Role, Superseded
from recommender.editorial.auth import NAME_PATTERN
from recommender.store.base import Dump

FORMAT = "dive-deeper-backup"
VERSION = 1
MAX_ERRORS = 50  # listed before giving up on a hopeless file


class BackupError(ValueError):
    """A backup that cannot be imported; `errors` lists every problem as 'file:line: message'."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))


# -- record schemas: what each line must hold ----------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HeaderData(_Strict):
    format: Literal["dive-deeper-backup"]
    version: Literal[1]
    exported_at: str
    model: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)


class DecisionData(_Strict):
    article_id: Annotated[str, Field(pattern=ID_PATTERN)]
    key: Annotated[str, Field(min_length=1, max_length=2000)]
    pinned: str | None = None
    approved: str | None = None
    rejected: list[str] = Field(default_factory=list)
    hidden: bool = False
    gap: bool = False
    version: Annotated[int, Field(ge=1)]
    updated_by: str | None = None
    updated_at: str | None = None
    target_hash: str | None = None
    target_score: float | None = None


class AuditData(_Strict):
    id: Annotated[int, Field(ge=1)]
    at: str
    editor: str
    action: str
    question_id: str
    question_key: str
    article_id: str
    target_id: str | None = None
    before: dict[str, Any]
    after: dict[str, Any]
    role: Role | None = None  # absent in backups made before roles


class EditorData(_Strict):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    created_at: str
    revoked_at: str | None = None
    token_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    # Absent in backups made before roles: such tokens could do everything, as after the migration.
    role: Role = MIGRATED_ROLE


class SupersededData(_Strict):
    article_id: Annotated[str, Field(pattern=ID_PATTERN)]
    by_article_id: Annotated[str, Field(pattern=ID_PATTERN)]
    updated_by: str
    updated_at: str


_SCHEMAS: dict[str, type[BaseModel]] = {
    "header": HeaderData,
    "article": Article,
    "decision": DecisionData,
    "audit": AuditData,
    "editor": EditorData,
    "superseded": SupersededData,
}


# -- export ----------------------------------------------------------------------------------------
def _records(dump: Dump, model_id: str | None, editors: bool) -> Iterator[dict[str, Any]]:
    counts = {
        "article": len(dump.articles),
        "decision": len(dump.decisions),
        "audit": len(dump.audit),
        "superseded": len(dump.superseded),
        "editor": len(dump.editors) if editors else 0,
    }
    yield {
        "type": "header",
        "data": {
            "format": FORMAT,
            "version": VERSION,
            "model": model_id,
            "counts": counts,
            "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
    }
    for article in dump.articles:
        yield {"type": "article", "data": article.model_dump(mode="json", exclude_none=True)}
    for d in dump.decisions:
        data = DecisionData(**{**asdict(d), "rejected": list(d.rejected)})
        yield {"type": "decision", "data": data.model_dump(mode="json")}
    for e in dump.audit:
        yield {"type": "audit", "data": AuditData(**e.__dict__).model_dump(mode="json")}
    for s in dump.superseded:
        yield {"type": "superseded", "data": SupersededData(**s.__dict__).model_dump(mode="json")}
    if editors:
        for r in dump.editors:
            data = EditorData(
                name=r.editor.name,
                created_at=r.editor.created_at,
                revoked_at=r.editor.revoked_at,
                token_hash=r.token_hash,
                role=r.editor.role,
            )
            yield {"type": "editor", "data": data.model_dump(mode="json")}


def write_backup(dump: Dump, path: Path | None, model_id: str | None = None, editors: bool = True) -> dict[str, int]:
    """Write `dump` to `path` (atomically: a temporary file renamed at the end), or stdout when None."""
    counts: dict[str, int] = {}

    def lines() -> Iterator[str]:
        for record in _records(dump, model_id, editors):
            counts[record["type"]] = counts.get(record["type"], 0) + 1
            yield json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"

    if path is None:
        for line in lines():
            sys.stdout.write(line)
        sys.stdout.flush()
        return counts
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(lines())
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return counts


# -- import ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Backup:
    header: HeaderData
    dump: Dump


def read_backup(path: Path) -> Backup:
    """Parse and check every line; raise BackupError naming file and line for each problem."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BackupError([f"{source}: cannot read: {exc.strerror}"]) from None
    errors: list[str] = []
    header: HeaderData | None = None
    parsed: dict[str, list[tuple[int, BaseModel]]] = {name: [] for name in _SCHEMAS}
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if len(errors) >= MAX_ERRORS:
            errors.append(f"{source}: stopped after {MAX_ERRORS} errors")
            break
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            record = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            errors.append(f"{where}: not valid UTF-8 (byte {exc.start} of the line)")
            continue
        except json.JSONDecodeError as exc:
            errors.append(f"{where}: {json_line_error(exc)}")
            continue
        if not isinstance(record, dict) or set(record) != {"type", "data"} or not isinstance(record["data"], dict):
            errors.append(f'{where}: expected {{"type": ..., "data": {{...}}}}')
            continue
        kind = record["type"]
        if kind not in _SCHEMAS:
            errors.append(f"{where}: unknown record type {kind!r} (expected one of {', '.join(_SCHEMAS)})")
            continue
        if (kind == "header") != (header is None and not any(parsed.values())):
            errors.append(
                f"{where}: "
                + ("the header must be the first line" if kind == "header" else "the first line must be the header")
            )
            if kind != "header":
                header = header or HeaderData(format=FORMAT, version=VERSION, exported_at="")  # report once
            continue
        try:
            item = _SCHEMAS[kind].model_validate(record["data"])
        except ValidationError as exc:
            errors.append(f"{where}: {kind}: {validation_message(exc)}")
            continue
        if kind == "header":
            header = item  # type: ignore[assignment]
        else:
            parsed[kind].append((number, item))
    if header is None and not errors:
        errors.append(f"{source}: empty file (no header line)")
    errors.extend(_duplicates(source, parsed))
    if errors:
        raise BackupError(errors)
    assert header is not None
    return Backup(header, _to_dump(parsed))


def _duplicates(source: str, parsed: dict[str, list[tuple[int, BaseModel]]]) -> list[str]:
    keys = {
        "article": lambda a: a.id,
        "decision": lambda d: (d.article_id, d.key),
        "audit": lambda e: e.id,
        "editor": lambda e: e.name,
        "superseded": lambda s: s.article_id,
    }
    errors = []
    for kind, key in keys.items():
        seen: dict[object, int] = {}
        for number, item in parsed[kind]:
            k = key(item)
            if k in seen:
                errors.append(f"{source}:{number}: duplicate {kind} {k!r} (also on line {seen[k]})")
            else:
                seen[k] = number
    return errors


def _to_dump(parsed: dict[str, list[tuple[int, BaseModel]]]) -> Dump:
    def items(kind: str) -> list[Any]:
        return [item for _, item in parsed[kind]]

    decisions = [Decision(**{**d.model_dump(), "rejected": tuple(d.rejected)}) for d in items("decision")]
    audit = [AuditEntry(**e.model_dump()) for e in items("audit")]
    editors = [EditorRecord(Editor(e.name, e.created_at, e.revoked_at, e.role), e.token_hash) for e in items("editor")]
    superseded = [Superseded(**s.model_dump()) for s in items("superseded")]
    return Dump(items("article"), decisions, audit, editors, superseded)
