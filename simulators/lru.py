"""`LRUCache`: the one bounded, thread-safe least-recently-used map of the simulators.

Used for the shared detections, each simulated vendor's answers, the AWS server's
request memo and the Azure server's faceId store (oldest entries go first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRUCache(Generic[V]):
    """At most `maxsize` entries; `get` refreshes an entry, `put` evicts the least recently
    used ones. `hits` and `misses` count `get` calls. Safe to share between threads."""

    def __init__(self, maxsize: int):
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The value (now the most recently used), or None."""
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
            else:
                self._data.move_to_end(key)
                self.hits += 1
            return value

    def peek(self, key: Hashable) -> V | None:
        """The value without refreshing it or counting a hit."""
        with self._lock:
            return self._data.get(key)

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def pop(self, key: Hashable) -> V | None:
        with self._lock:
            return self._data.pop(key, None)

    def __len__(self) -> int:
        return len(self._data)
