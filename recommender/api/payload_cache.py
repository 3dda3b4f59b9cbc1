"""Rendered widget responses kept in memory, so a repeated read is a dictionary lookup.

The widget's ETag is built from the database's counters (generation, decisions), the article id and the
settings; a body computed under some counters is the answer for as long as they do not move (any
article write or editor decision moves one). So bodies are kept per article together with the
counters they were computed under, and a lookup with other counters misses. Least recently used
articles are dropped beyond `capacity`. With a read replica the cache is off: the replica may still
lag behind the counters read from the primary, and a body cached then would outlive the lag.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class PayloadCache:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, tuple[Hashable, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, version: Hashable) -> bytes | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] != version:
                return None
            self._items.move_to_end(key)
            return found[1]

    def put(self, key: str, version: Hashable, body: bytes) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            self._items[key] = (version, body)
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
