"""Editor tokens: random, shown once, stored only as SHA-256 hashes, compared in constant time.

Each token has a role: `publisher` (the publishing system: PUT/DELETE articles), `editor` (review,
decisions, audit) or `admin` (models, editors, thresholds, and everything the other two may do).
Tokens made before roles existed became `admin` on migration, so they keep every right they had.
The records (Editor, EditorRecord, Role) are in recommender/domain.py.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from recommender.domain import Editor, EditorRecord

TOKEN_PREFIX = "dd_"
# One printable line. Python's `$` also matches before a final newline (`carol\n` became a second
# "carol"), so Python code matches it with fullmatch; pydantic's (Rust) regex reads `$` as the end.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
_NAME_RE = re.compile(NAME_PATTERN)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def valid_name(name: str) -> bool:
    return _NAME_RE.fullmatch(name) is not None


def name_problem(name: str) -> str | None:
    """Why `name` is no editor name (None when it is one): one printable line, no surrounding space."""
    if not name.isprintable():
        return f"editor name {name!r} has a line break or another control character"
    if name != name.strip():
        return f"editor name {name!r} has leading or trailing whitespace"
    if not valid_name(name):
        return f"editor name {name!r} must be 1-64 letters, digits or . _ @ - and start with a letter or digit"
    return None


def find_editor(records: list[EditorRecord], token: str) -> Editor | None:
    """The editor whose token this is (active or revoked), or None.

    Every stored hash is compared with hmac.compare_digest and the loop never stops early, so the
    time taken does not depend on which hash, if any, matches.
    """
    digest = hash_token(token)
    found: Editor | None = None
    for record in records:
        if hmac.compare_digest(record.token_hash, digest):
            found = record.editor
    return found
