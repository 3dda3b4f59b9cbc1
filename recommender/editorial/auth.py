"""Editor tokens: random, shown once, stored only as SHA-256 hashes, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

TOKEN_PREFIX = "dd_"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
_NAME_RE = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class Editor:
    name: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class EditorRecord:
    editor: Editor
    token_hash: str


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def valid_name(name: str) -> bool:
    return bool(_NAME_RE.match(name))


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
