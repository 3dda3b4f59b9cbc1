"""Handing freed heap back to the system during and after a full build.

A full build at 100k articles frees hundreds of MB of short-lived objects (tokenised chunks, the rows
read from the store, a previous snapshot). glibc keeps freed memory inside its heap, where the many
small holes left between live blocks are never returned by itself, so the next stage of the build (and
a server afterwards) would sit on top of them: the first start's peak RSS was the sum of its stages'.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None


def release_freed_memory() -> None:
    """Return the free pages of the heap to the system (glibc's malloc_trim, which also releases
    whole free pages between live blocks); a no-op where there is no glibc. Milliseconds: called
    between the stages of a full build and after it, never on a request."""
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None) if libc is not None else None
    if trim is not None:
        trim(0)
