"""Which reads may be served by a read replica: only those a route marks, for the widget's lookups.

Everything else (writes, the snapshot's generation check, editors' reads of what they just decided,
token checks) goes to the primary. The mark is a context variable, so it follows the request into the
thread that serves it and no store method needs another parameter. SQLite ignores it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_replica_ok: ContextVar[bool] = ContextVar("replica_reads", default=False)


@contextmanager
def replica_reads() -> Iterator[None]:
    """Within this block, lookups may come from the read replica (and so be slightly stale)."""
    token = _replica_ok.set(True)
    try:
        yield
    finally:
        _replica_ok.reset(token)


def replica_allowed() -> bool:
    return _replica_ok.get()
