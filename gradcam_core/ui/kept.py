"""Results kept on the server between events, shared by all sessions and bounded.

A session's ``gr.State`` holds only a small key into this store, not the explanation itself:
Gradio keeps a closed session's state for an hour, so whole explanations there (activations,
gradients, the photo) cost megabytes per visitor of a public link. Here the oldest results go
first once the store is full; a re-draw of an evicted result asks for a new run.
"""
from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from typing import Any


class KeptResults:
    """A thread-safe LRU of ``capacity`` objects under random keys."""

    def __init__(self, capacity: int):
        self.capacity = int(capacity)
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, obj: Any) -> str:
        key = secrets.token_hex(8)
        with self._lock:
            self._items[key] = obj
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return key

    def get(self, key: str | None) -> Any | None:
        with self._lock:
            obj = self._items.get(key) if key else None
            if obj is not None:
                self._items.move_to_end(key)
            return obj

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
