"""Results kept on the server between events, shared by all sessions and bounded.

A session's ``gr.State`` holds only a small key into this store, not the explanation itself:
Gradio keeps a closed session's state for an hour, so whole explanations there (activations,
gradients, the photo) cost megabytes per visitor of a public link. Here the oldest results go
first once the store is full; a re-draw of an evicted result asks for a new run.
"""
from __future__ import annotations

import secrets
import threading
from typing import Any

from cachetools import LRUCache


class KeptResults:
    """A thread-safe LRU (``cachetools.LRUCache``) of ``capacity`` objects under random keys."""

    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self._items: LRUCache[str, Any] = LRUCache(maxsize=max(1, self.capacity))
        self._lock = threading.Lock()  # cachetools' caches are not thread-safe by themselves

    def put(self, obj: Any) -> str:
        """Keep ``obj`` (the least recently used one goes when full); returns its new key."""
        key = secrets.token_hex(8)
        with self._lock:
            self._items[key] = obj
        return key

    def get(self, key: str | None) -> Any | None:
        """The object under ``key`` (now the most recently used), or None when unknown or evicted."""
        if not key:
            return None
        with self._lock:
            return self._items.get(key)

    def discard(self, key: str | None) -> None:
        """Forget the object under ``key`` (nothing happens when it is unknown or already gone)."""
        if key:
            with self._lock:
                self._items.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
