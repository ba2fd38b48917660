"""How the app is served to many phones at once: which work waits in which queue, compressed
responses, and stopping work for browsers that have left.

- Quick work (one explanation, a re-draw) and slow work (Score-CAM, the trust panel's checks,
  model comparison) wait in separate Gradio queues (``concurrency_id``), so a slow job never
  holds a worker that a quick one needs. Waiting users see their position in the queue.
- Responses are gzip-compressed (Starlette's middleware, which leaves the server-sent event
  streams alone, so queue updates still arrive as they happen).
- When a browser leaves, Gradio drops its queued jobs; a slow job already running checks
  :func:`cancel_check` between batches and stops.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import gradio as gr

#: Concurrency group of slow work and how many such jobs run at once. On a 2-core server one
#: slow job at a time leaves a core for quick work.
SLOW = "slow"
SLOW_LIMIT = 1


def app_kwargs() -> dict:
    """Keyword arguments for ``Blocks.launch(app_kwargs=...)``: gzip for pages, config and JSON."""
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import GZipMiddleware

    # level 6: most of the size gain of 9 at a fraction of the CPU; tiny responses are not worth it
    return {"middleware": [Middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)]}


class Cancelled(Exception):
    """The browser that asked for this work has left; nobody will see the result."""


_MAX_REMEMBERED = 20_000
_closed: OrderedDict[str, None] = OrderedDict()
_lock = threading.Lock()


def mark_closed(request: gr.Request | None = None) -> None:
    """``demo.unload`` handler: remember that this browser session has gone (bounded memory)."""
    sid = getattr(request, "session_hash", None)
    if not sid:
        return
    with _lock:
        _closed[sid] = None
        while len(_closed) > _MAX_REMEMBERED:
            _closed.popitem(last=False)


def is_closed(session_hash: str | None) -> bool:
    with _lock:
        return bool(session_hash) and session_hash in _closed


def cancel_check(request: gr.Request | None):
    """A function to call between batches of slow work: raises :class:`Cancelled` once the
    session that asked for the work has closed. ``None`` when there is no session (API calls
    without one never get cancelled)."""
    sid = getattr(request, "session_hash", None)
    if not sid:
        return None

    def check() -> None:
        if is_closed(sid):
            raise Cancelled(f"session {sid} closed")

    return check


def progress_callback(progress=None, request: gr.Request | None = None):
    """``fn(fraction, text)`` for the core's slow loops: shows progress in the browser (cosmetic:
    a failure there never fails the run) and stops the run once its browser has left."""
    if getattr(progress, "is_progress_callback", False):  # already one of these
        return progress
    check = cancel_check(request)
    if progress is None and check is None:
        return None

    def cb(fraction, text):
        if check is not None:
            check()
        if progress is not None:
            try:
                progress(float(fraction), desc=text)
            except Exception:  # noqa: BLE001 - progress is cosmetic
                pass

    cb.is_progress_callback = True
    return cb
