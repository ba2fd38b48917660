"""How the app is served to many phones at once: which work waits in which queue, compressed
responses, and stopping work for browsers that have left.

- Quick work (one explanation, a re-draw) and slow work (Score-CAM, the trust panel's checks,
  model comparison) wait in separate Gradio queues (``concurrency_id``), so a slow job never
  holds a worker that a quick one needs. Waiting users see their position in the queue.
- Responses are gzip-compressed (Starlette's middleware, which leaves the server-sent event
  streams alone, so queue updates still arrive as they happen).
- When a browser leaves, Gradio drops its queued jobs; a slow job already running checks
  :func:`cancel_check` between batches and stops. What Gradio keeps of a closed session (its
  copy of the page config and of every result shown) is dropped after :data:`SESSION_GRACE`.

Session lifetime, and which of Gradio's hooks serve (Gradio 6.31's ``state_holder.py``):

- ``demo.unload`` serves and is used: :func:`mark_closed` learns there that a browser left.
- ``gr.State(time_to_live=…, delete_callback=…)`` serves for what a ``gr.State`` holds, and is
  used for the keys into the kept results (:func:`kept_state`): when Gradio deletes such a state,
  its ``delete_callback`` releases the result it points to at once.
- It does not serve to forget a closed session, for three reasons, so :func:`forget_closed_sessions`
  still drops the session from ``StateHolder.session_data`` itself:
  1. ``time_to_live`` and ``delete_callback`` act only on ``SessionState.state_data`` (the values of
     ``gr.State`` components). The megabytes are elsewhere: ``SessionState.blocks_config`` and
     ``config_values``, Gradio's copy of the page config and of every result the page was shown.
     Gradio deletes the ``SessionState`` itself only when more than ``state_session_capacity``
     (10 000) sessions exist.
  2. For a closed session Gradio replaces every state's ``time_to_live`` by
     ``SessionState.STATE_TTL_WHEN_CLOSED`` (3600 s): a shorter grace cannot be set through it.
  3. There is no public call to drop one session; ``StateHolder.delete_state(session)`` is used
     first, so that every ``delete_callback`` still runs, then the entry is removed under
     ``StateHolder.lock``.
"""
from __future__ import annotations

import datetime
import os
import threading
import time
from typing import Any, Callable

import gradio as gr
from cachetools import LRUCache

from gradcam_core.ui.kept import KeptResults

#: Concurrency group of slow work and how many such jobs run at once. On a 2-core server one
#: slow job at a time leaves a core for quick work.
SLOW = "slow"
SLOW_LIMIT = 1


def app_kwargs() -> dict[str, Any]:
    """Keyword arguments for ``Blocks.launch(app_kwargs=...)``: gzip for pages, config and JSON, and
    the phones' room poll (:class:`RoomStamp`), answered before Gradio."""
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import GZipMiddleware

    # level 6: most of the size gain of 9 at a fraction of the CPU; tiny responses are not worth it
    return {"middleware": [Middleware(RoomStamp), Middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)]}


#: The path of the phones' room poll, at the app's root (a page under a proxy's prefix asks
#: ``<root>/room_stamp``: only the path's end is matched).
ROOM_STAMP_PATH = "/room_stamp"


class RoomStamp:
    """ASGI middleware that answers ``GET …/room_stamp?code=CODE`` itself, as plain JSON
    (``{"stamp": "…"}``; 404 with ``{"stamp": null}`` for a room that is unknown, closed or expired),
    and passes every other request on to Gradio.

    Why not a Gradio event: a room's phones each ask every 1.5 s whether there is something new, and
    through Gradio one such call costs the server 13–18 ms of CPU (its request, session and
    pre/post-processing work), so thirty idle phones took a third of a core and slowed everyone's
    explanations (BENCHMARKS §16). Here the answer is one read of the rooms' store. The phone's page
    polls it from the browser (``room_phone.STAMP_JS``, a gr.Timer with a js-only tick) and makes a
    Gradio event only when the stamp changes (a new exercise, a reveal, the room gone)."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope.get("type") != "http" or not scope.get("path", "").endswith(ROOM_STAMP_PATH):
            await self.app(scope, receive, send)
            return
        import json
        from urllib.parse import parse_qs

        import anyio

        from gradcam_core.services import rooms

        code = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("code") or [""])[0][:64]
        try:
            stamp = await anyio.to_thread.run_sync(rooms.phone_stamp, code)
        except Exception:  # noqa: BLE001 - a store that cannot be read answers like a room that is not there
            stamp = None
        if scope.get("method") not in ("GET", "HEAD"):
            status, body = 405, b'{"stamp": null}'
        else:
            status, body = (200 if stamp is not None else 404), json.dumps({"stamp": stamp}).encode("ascii")
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"cache-control", b"no-store"),
                                (b"content-length", str(len(body)).encode("ascii"))]})
        await send({"type": "http.response.body", "body": body if scope.get("method") != "HEAD" else b""})


class Cancelled(Exception):
    """The browser that asked for this work has left; nobody will see the result."""


_MAX_REMEMBERED = 20_000
#: session → when its browser left (``time.monotonic()``); the longest-gone are forgotten first
_closed: LRUCache[str, float] = LRUCache(maxsize=_MAX_REMEMBERED)
_lock = threading.Lock()
_holders: dict[int, object] = {}  # Gradio's per-app session stores seen so far (one per app)

#: Seconds a closed session's data stays on the server (``GRADCAM_SESSION_GRACE``; default 15 min).
#: Gradio keeps it for an hour at 1–3 MB a session (its copy of the page config and of every
#: result shown); a phone that comes back within this time (from its camera app, or sleep)
#: finds its session as it left it.
SESSION_GRACE = float(os.environ.get("GRADCAM_SESSION_GRACE", "900") or 0)

#: gr.Blocks(delete_cache=…): every 10 minutes gradio deletes the result files (step pictures,
#: downloads, comparisons; ui/files.py writes them into gradio's cache) that are older than
#: ``GRADCAM_FILE_AGE`` seconds (default one hour: longer than SESSION_GRACE, so a phone that comes
#: back still finds the pictures its page shows). Without it gradio's cache only grows.
DELETE_CACHE = (600, int(float(os.environ.get("GRADCAM_FILE_AGE", "3600") or 3600)))


def mark_closed(request: gr.Request | None = None) -> None:
    """``demo.unload`` handler: remember that this browser session has gone (bounded memory), and
    forget the sessions whose browser left more than :data:`SESSION_GRACE` seconds ago."""
    sid = getattr(request, "session_hash", None)
    if not sid:
        return
    holder = getattr(getattr(getattr(request, "request", None), "app", None), "state_holder", None)
    with _lock:
        _closed[sid] = time.monotonic()
        if holder is not None and id(holder) not in _holders:
            _holders[id(holder)] = holder
            _start_sweeper()
    forget_closed_sessions()


def forget_closed_sessions(now: float | None = None) -> int:
    """Drop Gradio's data of sessions closed more than SESSION_GRACE seconds ago and not used
    since (``StateHolder.session_data`` holds it; Gradio itself only drops it past 10 000
    sessions: see this module's docstring for why ``gr.State(time_to_live=…)`` does not do it).
    Each session's ``gr.State`` values go through Gradio's own ``delete_state`` first, so their
    ``delete_callback`` runs. Returns how many were dropped."""
    now = time.monotonic() if now is None else now
    cutoff_wall = datetime.datetime.now() - datetime.timedelta(seconds=SESSION_GRACE)
    with _lock:
        due = [sid for sid, t in _closed.items() if now - t >= SESSION_GRACE]
        holders = list(_holders.values())
    dropped = 0
    for holder in holders:
        data = getattr(holder, "session_data", None)
        used = getattr(holder, "time_last_used", {})
        lock = getattr(holder, "lock", None)
        if data is None or lock is None:
            continue
        delete_state = getattr(holder, "delete_state", None)
        with lock:
            for sid in due:
                last = used.get(sid)
                if sid in data and (last is None or last <= cutoff_wall):
                    if delete_state is not None:
                        try:
                            delete_state(sid)  # every gr.State's delete_callback (kept results)
                        except Exception:  # noqa: BLE001 - a callback's failure must not keep the session
                            pass
                    del data[sid]
                    used.pop(sid, None)
                    dropped += 1
    if dropped:
        _give_back_memory()
    return dropped


def _give_back_memory() -> None:
    """Return the freed sessions' memory to the system: Python frees it to the C allocator, which
    keeps it in its arenas (RSS does not fall) unless asked (glibc's malloc_trim; elsewhere a no-op)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


#: How many malloc arenas the server's threads share (``GRADCAM_MALLOC_ARENAS``; 0: glibc's default, 8 per
#: core). With glibc's default, Gradio's worker threads each carve a visit's photos, maps and PNGs
#: (0.1–3 MB blocks) out of arenas of their own, which fragment: RSS grew by about 1 MB per visit after
#: every closed session had been dropped, and malloc_trim did not return it (BENCHMARKS §9). Two arenas
#: keep it flat at no measurable CPU cost; a fixed mmap threshold (below) does too, but costs 1.25–1.7×
#: the CPU of an ImageNet explanation (bench/bench_allocator.py).
MALLOC_ARENAS = 2

#: ``GRADCAM_MMAP_THRESHOLD`` (bytes; default 0, glibc's own moving threshold): blocks at least this large
#: get their own memory map, returned to the system when freed.
MMAP_THRESHOLD = 0


def tune_allocator(arenas: int | None = None, threshold: int | None = None) -> dict[str, int]:
    """Set glibc's allocator for a long-running server (``mallopt``): at most ``arenas`` malloc arenas
    (default $GRADCAM_MALLOC_ARENAS, else :data:`MALLOC_ARENAS`) and, if ``threshold`` > 0 (default
    $GRADCAM_MMAP_THRESHOLD, else :data:`MMAP_THRESHOLD`), a fixed mmap threshold. A setting is left
    alone when it is 0, when glibc's own variable (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_) is set:
    the operator chose, or off glibc. Returns what was set, e.g. ``{"arenas": 2}``."""
    import ctypes

    if arenas is None:
        arenas = int(float(os.environ.get("GRADCAM_MALLOC_ARENAS", MALLOC_ARENAS) or 0))
    if threshold is None:
        threshold = int(float(os.environ.get("GRADCAM_MMAP_THRESHOLD", MMAP_THRESHOLD) or 0))
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return {}
    done = {}
    M_ARENA_MAX, M_MMAP_THRESHOLD = -8, -3  # <malloc.h>
    if arenas > 0 and "MALLOC_ARENA_MAX" not in os.environ and mallopt(M_ARENA_MAX, int(arenas)):
        done["arenas"] = int(arenas)
    if threshold > 0 and "MALLOC_MMAP_THRESHOLD_" not in os.environ and mallopt(M_MMAP_THRESHOLD, int(threshold)):
        done["mmap_threshold"] = int(threshold)
    return done


#: Debug only (bench/bench_visits.py): with ``GRADCAM_MEMORY_PROBE=<file>``, the signal SIGUSR1 makes the
#: server collect garbage, trim the allocator and append one line to that file:
#: ``<n> <VmRSS kB> <sessions kept by Gradio> <of them closed>``. Unset (the default), nothing is installed.
MEMORY_PROBE_ENV = "GRADCAM_MEMORY_PROBE"


def install_memory_probe(path: str | None = None) -> bool:
    """Install the SIGUSR1 memory probe if ``path`` (default: $GRADCAM_MEMORY_PROBE) is set; returns
    whether it was. Call from the main thread (signal handlers can only be set there)."""
    import signal

    path = path if path is not None else os.environ.get(MEMORY_PROBE_ENV)
    if not path or not hasattr(signal, "SIGUSR1"):
        return False
    count = [0]

    def probe(signum, frame):  # runs in the main thread, between two bytecodes
        _give_back_memory()
        rss = 0
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        with _lock:
            holders = list(_holders.values())
        kept = sum(len(getattr(h, "session_data", {})) for h in holders)
        closed = sum(sum(bool(getattr(s, "is_closed", False)) for s in list(h.session_data.values()))
                     for h in holders if hasattr(h, "session_data"))
        count[0] += 1
        with open(path, "a") as f:
            f.write(f"{count[0]} {rss} {kept} {closed}\n")

    signal.signal(signal.SIGUSR1, probe)
    return True


def _start_sweeper() -> None:
    """Once per process: forget expired sessions every minute, even when nobody leaves."""
    global _sweeper
    if _sweeper is not None:
        return

    def loop():
        while True:
            time.sleep(max(1.0, min(60.0, SESSION_GRACE / 2 or 60.0)))
            try:
                forget_closed_sessions()
            except Exception:  # noqa: BLE001 - housekeeping must never take the server down
                pass

    _sweeper = threading.Thread(target=loop, name="forget-closed-sessions", daemon=True)
    _sweeper.start()


_sweeper: threading.Thread | None = None


#: Seconds a kept result's key lives in a session's ``gr.State`` after it was last set; Gradio then
#: deletes the state and :func:`kept_state`'s callback releases the result. An hour, as Gradio keeps
#: a closed session's states (``STATE_TTL_WHEN_CLOSED``): a re-draw after that asks for a new run.
KEPT_STATE_TTL = 3600


def kept_state(kept: KeptResults, value: Any = None, time_to_live: float = KEPT_STATE_TTL) -> gr.State:
    """A ``gr.State`` that holds a key into ``kept`` (a str, or a dict with a ``"key"``): when Gradio
    deletes it (``time_to_live`` seconds after it was last set, or with its session), the kept result
    goes too, instead of waiting to be pushed out of the shared store."""
    return gr.State(value, time_to_live=time_to_live, delete_callback=release_kept(kept))


def release_kept(kept: KeptResults) -> Callable[[Any], None]:
    """``delete_callback`` for a state holding a key into ``kept``: forget that result."""

    def release(value: Any) -> None:
        key = value.get("key") if isinstance(value, dict) else value
        if isinstance(key, str):
            kept.discard(key)

    return release


def closed_at(session_hash: str | None) -> float | None:
    """When the browser of this session last left (``time.monotonic()``), or None."""
    with _lock:
        return _closed.get(session_hash) if session_hash else None


def cancel_check(request: gr.Request | None) -> Callable[[], None] | None:
    """A function to call between batches of slow work: raises :class:`Cancelled` once the
    browser that asked for the work has left *after* asking (a phone that left and came back
    keeps its session id, and its new requests run). ``None`` when there is no session (API
    calls without one never get cancelled)."""
    sid = getattr(request, "session_hash", None)
    if not sid:
        return None
    started = time.monotonic()

    def check() -> None:
        left = closed_at(sid)
        if left is not None and left >= started:
            raise Cancelled(f"session {sid} closed")

    return check


def progress_callback(progress: Callable[..., Any] | None = None, request: gr.Request | None = None,
                      ) -> Callable[[float, str], None] | None:
    """``fn(fraction, text)`` for the core's slow loops: shows progress in the browser (cosmetic:
    a failure there never fails the run) and stops the run once its browser has left."""
    if getattr(progress, "is_progress_callback", False):  # already one of these
        return progress
    check = cancel_check(request)
    if progress is None and check is None:
        return None

    def cb(fraction: float, text: str) -> None:
        if check is not None:
            check()
        if progress is not None:
            try:
                progress(float(fraction), desc=text)
            except Exception:  # noqa: BLE001 - progress is cosmetic
                pass

    cb.is_progress_callback = True
    return cb


#: js for ``demo.load(None, None, query_box, js=LINK_QUERY_JS)``: the page's query string goes into
#: a hidden box, whose ``.change`` runs the deep-link handlers. A page opened without a link never
#: calls them, so Gradio builds no per-session copies of their outputs.
NO_LINK = "?"  # the box's first value, and what a page opened without a query string writes again
#: (a workshop room's ``room`` and ``key`` are no deep link: a phone opened at ``?room=CODE`` writes "?"
#: again and starts no link handler; the room panel reads its code itself, ui/room_phone.py)
LINK_QUERY_JS = ("() => { const p = new URLSearchParams(window.location.search); p.delete('room'); p.delete('key'); p.delete('lang'); "
                 "const q = p.toString(); return q ? '?' + q : '?'; }")


class LinkRequest:
    """A deep link's parameters where a handler expects ``request.query_params``."""

    def __init__(self, query: str | None) -> None:
        from urllib.parse import parse_qsl

        self.query_params = dict(parse_qsl((query or "").lstrip("?"), keep_blank_values=False))


#: Text that identifies the browser module of a component the first view needs at once: Gradio
#: loads every component's module in parallel over a phone's 6 connections, and the prediction's
#: (gr.Label) came last, ~1 s after the page was drawn (bench/bench_first_load.py).
_TEST_ID = 'data-testid="{}"'
FIRST_VIEW_MODULES = (_TEST_ID.format("label-output-value"),)
_PRELOAD = '<link rel="modulepreload" href="./assets/{}">'


def preload_head(markers: tuple[str, ...] = FIRST_VIEW_MODULES) -> str:
    """``<link rel="modulepreload">`` tags for Gradio's front-end modules that contain ``markers``,
    so the browser fetches them first. Empty if this Gradio's files are laid out differently."""
    from pathlib import Path

    assets = Path(gr.__file__).parent / "templates" / "frontend" / "assets"
    links = []
    try:
        for f in sorted(assets.glob("*.js")):
            if f.stat().st_size < 200_000:
                text = f.read_text(encoding="utf-8", errors="ignore")
                if any(m in text for m in markers):
                    links.append(_PRELOAD.format(f.name))
    except OSError:
        return ""
    return "\n".join(links)
