"""Fetching torchvision weights by ourselves: ResNet-50 in the background at start, the others
when someone first selects them.

* At start (``start_background()``, called by ``app.py``) the weights source is probed in a
  background thread (``weights.probe``, at most ``weights.PROBE_TIMEOUT`` = 2.5 s, and nothing
  waits for it). If it answers, ResNet-50's file is fetched; EfficientNet-Lite0 serves
  meanwhile, and once the file is in place ``models.default_model_key()`` returns ResNet-50,
  so new page loads open on it.
* ``GRADCAM_ALLOW_DOWNLOAD=0`` (or false/no/off) opts out: no probe, no download.
* ``GRADCAM_WEIGHTS_URL``: a base URL where torchvision's file names are looked up instead of
  torchvision's own host (a company mirror, a USB stick served on a workshop's LAN with
  ``python -m http.server``).
* The download is ``torch.hub.download_url_to_file``: it streams into a temporary file, checks
  the SHA-256 prefix in torchvision's file name and only then moves the file into place. The file
  is then loaded into its model once, before it gets its final name. A damaged or foreign file is
  deleted, and the reason is kept for ``/imagenet_models`` and the page.
* What ``download_url_to_file`` has no parameter for is added around it (:class:`_HubHooks`), for
  the thread that fetches only: a read timeout (its ``urlopen`` has none, so a source that stops
  sending would hold the file's lock for ever) and the bytes done (it reports them only to a
  ``tqdm`` bar on stderr; the page shows them).
* One download per file: ``filelock.FileLock`` on a ``.lock`` file next to it, which other threads
  of this process and other processes sharing the folder (replicas) wait for.

Progress goes to the log ("Fetching ResNet-50 weights: 43 % (42.0 of 97.8 MiB)") and to the
page (``page_note()``).
"""
from __future__ import annotations

import inspect
import logging
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch.hub
from filelock import FileLock

from gradcam_core.models import weights as W

WEIGHTS_URL_ENV = "GRADCAM_WEIGHTS_URL"
#: fetched at start when the source answers; the others on first selection
AUTO_KEYS = ("resnet50",)
#: a failed fetch is tried again on a new selection only after this many seconds
RETRY_AFTER = 300.0
CHUNK = 1 << 20  # the log's progress step when the size is unknown (a multiple of torch.hub's read size)
READ_TIMEOUT = 30.0  # seconds without a byte before a download is given up

log = logging.getLogger("gradcam.fetch")

TITLES = {"resnet18": "ResNet-18", "resnet50": "ResNet-50", "vgg16": "VGG-16", "densenet121": "DenseNet-121",
          "vit_b_16": "ViT-B/16", "swin_t": "Swin-T", "convnext_tiny": "ConvNeXt-Tiny"}


class FetchRefused(W.WeightsError):
    """A fetch that failed or was refused, as a catalogue key (``fetch.bad.*``) and its values, which
    ``present.words.text_of`` words (``str()`` too, once ``present.words`` is loaded)."""


class ChecksumError(FetchRefused):
    """The fetched file's SHA-256 does not start with the hash in its torchvision name."""


# --------------------------------------------------------------------------- settings
def opted_out() -> bool:
    """``GRADCAM_ALLOW_DOWNLOAD=0``: never fetch anything by ourselves."""
    return os.environ.get(W.ALLOW_DOWNLOAD_ENV, "").strip().lower() in {"0", "false", "no", "off"}


def base_url() -> str:
    """``$GRADCAM_WEIGHTS_URL`` without its trailing slash ("" = torchvision's own host)."""
    return os.environ.get(WEIGHTS_URL_ENV, "").strip().rstrip("/")


def source_url(w: W.tvm.WeightsEnum) -> str:
    """Where the file of torchvision weights *w* is fetched from."""
    base = base_url()
    return f"{base}/{W.weights_filename(w)}" if base else w.url


def expected_sha256_prefix(filename: str) -> str | None:
    """The hash prefix torchvision puts in its file names (``resnet50-11ad3fa6.pth`` → ``11ad3fa6``)."""
    m = W._HASH_IN_NAME.search(filename)
    return m.group(1) if m else None


def title(key: str) -> str:
    return TITLES.get(key, key)


# --------------------------------------------------------------------------- state
@dataclass
class FetchState:
    key: str
    phase: str  # "checking" (probing the source), "fetching", "done", "failed", "offline"
    url: str = ""
    done_bytes: int = 0
    total_bytes: int | None = None
    message: str = ""
    #: why it is "offline" or "failed", as a key and values (``present.fetch_text`` words it)
    reason: FetchRefused | None = None
    since: float = field(default_factory=time.monotonic)
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def percent(self) -> int | None:
        if not self.total_bytes:
            return None
        return min(100, int(100 * self.done_bytes / self.total_bytes))

    def progress_code(self) -> tuple[str, dict[str, Any]]:
        """The progress as a catalogue key (``fetch.checking``, ``fetch.so_far``, ``fetch.percent``)
        and its numbers (sizes in MiB)."""
        what = {"title": title(self.key)}
        if self.phase == "checking":
            return "fetch.checking", {**what, "url": self.url}
        pct = self.percent
        if pct is None:
            return "fetch.so_far", {**what, "done_mib": self.done_bytes / MIB}
        return "fetch.percent", {**what, "percent": pct, "done_mib": self.done_bytes / MIB,
                                 "total_mib": (self.total_bytes or 0) / MIB}

    def progress_text(self) -> str:
        """The progress in words (``present.fetch_text.progress_text`` words the same code)."""
        key, values = self.progress_code()
        return W.words(key, **values)


_states: dict[str, FetchState] = {}
_states_lock = threading.Lock()


def state(key: str) -> FetchState | None:
    with _states_lock:
        return _states.get(key)


def states() -> dict[str, FetchState]:
    with _states_lock:
        return dict(_states)


def busy() -> bool:
    """Is a fetch being checked or running (the page then polls for progress)?"""
    return any(s.phase in ("checking", "fetching") for s in states().values())


def reset() -> None:
    """Forget every fetch state (tests)."""
    with _states_lock:
        _states.clear()


MIB = 2**20


# --------------------------------------------------------------------------- download
class _HubHooks(threading.local):
    """What ``torch.hub.download_url_to_file`` has no parameter for, for the calling thread only:
    a read timeout for its ``urlopen`` and a callback for its ``tqdm`` bar. Other callers of
    ``torch.hub`` (no hooks set in their thread) get torch's own behaviour unchanged."""

    active: bool = False  # this thread is in _stream
    progress: Callable[[int, int | None], None] | None = None
    timeout: float | None = None
    done: int = 0
    total: int | None = None


_hooks = _HubHooks()
_hub_urlopen, _hub_tqdm = torch.hub.urlopen, torch.hub.tqdm


def _urlopen(req: Any, *args: Any, **kwargs: Any) -> Any:
    if _hooks.active and not args:
        kwargs.setdefault("timeout", _hooks.timeout)
    return _hub_urlopen(req, *args, **kwargs)


class _Progress:
    """Stands in for torch.hub's ``tqdm(total=…)`` bar: reports the bytes to this thread's callback."""

    def __init__(self, *args: Any, total: int | None = None, **kwargs: Any) -> None:
        self._bar = None if _hooks.active else _hub_tqdm(*args, total=total, **kwargs)
        if self._bar is None:
            _hooks.done, _hooks.total = 0, total
            if _hooks.progress is not None:
                _hooks.progress(0, total)

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)
            return
        _hooks.done += int(n)
        if _hooks.progress is not None:
            _hooks.progress(_hooks.done, _hooks.total)

    def __enter__(self) -> "_Progress":
        if self._bar is not None:
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


torch.hub.urlopen, torch.hub.tqdm = _urlopen, _Progress

_HUB_HASH = re.compile(r'got "([0-9a-f]+)"')  # download_url_to_file's RuntimeError on a wrong hash


#: newer filelock versions delete a lock file on release unless told not to (older ones always kept it):
#: kept, so a process waiting on it never locks a file that another has just replaced
_KEEP_LOCK_FILE = {"preserve_lock_file": True} if "preserve_lock_file" in inspect.signature(FileLock).parameters else {}


def _file_lock(path: Path) -> FileLock:
    """The lock of one destination file: other threads and processes fetching it wait."""
    return FileLock(path, **_KEEP_LOCK_FILE)


def _dest_dir(dest_dir: Path | None) -> Path:
    """The weights folder, or torch's hub cache when it cannot be written (both are searched)."""
    d = Path(dest_dir) if dest_dir is not None else W.weights_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
        if os.access(d, os.W_OK):
            return d
    except OSError:
        pass
    d = W.hub_checkpoints_dir()
    d.mkdir(parents=True, exist_ok=True)
    return d


def _stream(url: str, part: Path, progress: Callable[[int, int | None], None] | None) -> None:
    """Download *url* into *part* with ``torch.hub.download_url_to_file``, which checks the hash
    prefix in the URL's torchvision file name (ChecksumError on a mismatch; no file is left)."""
    name = urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]
    hash_prefix = expected_sha256_prefix(name)
    _hooks.active, _hooks.progress, _hooks.timeout, _hooks.done, _hooks.total = True, progress, READ_TIMEOUT, 0, None
    try:
        torch.hub.download_url_to_file(url, str(part), hash_prefix=hash_prefix, progress=False)
    except urllib.error.HTTPError as e:
        raise FetchRefused("fetch.bad.http", url=url, code=e.code) from e
    except RuntimeError as e:  # the hash does not match (a short file included: checked below)
        m = _HUB_HASH.search(str(e))
        if m is None:
            raise FetchRefused("fetch.bad.failed", url=url, why=str(e)) from e
        if _short():
            raise _short_error(url) from e
        want = hash_prefix or ""
        key = "fetch.bad.mirrored" if base_url() else "fetch.bad.checksum"  # GRADCAM_WEIGHTS_URL named, or not
        raise ChecksumError(key, url=url,
                            got=m.group(1)[:len(want)], want=want, env=WEIGHTS_URL_ENV, base=base_url(), name=name,
                            folder=str(W.weights_dir())) from e
    except (OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise FetchRefused("fetch.bad.failed", url=url, why=str(reason)) from e
    finally:
        _hooks.active, _hooks.progress, _hooks.timeout = False, None, None
    if _short():
        part.unlink(missing_ok=True)
        raise _short_error(url)


def _short() -> bool:
    """Did this thread's last download end before its Content-Length?"""
    return _hooks.total is not None and _hooks.done != _hooks.total


def _short_error(url: str) -> FetchRefused:
    return FetchRefused("fetch.bad.short", url=url, done=_hooks.done, total=_hooks.total)


def fetch_file(key: str, dest_dir: Path | None = None,
               progress: Callable[[int, int | None], None] | None = None) -> Path:
    """Fetch *key*'s torchvision weights file (its first candidate), verify it and return its path.

    Verified means: its SHA-256 starts with the hash in its file name, and it loads into the
    model (strict). Anything else is deleted and raised as WeightsError (ChecksumError for a
    hash mismatch), with a reason people can act on. The file only appears under its final
    name once verified, so nothing ever picks up half a file. If another thread or process is
    fetching the same file, this waits for it and returns its file: one download per file.
    """
    w = W.candidate_weights(key)[0]
    name = W.weights_filename(w)
    url = source_url(w)
    dest = _dest_dir(dest_dir)
    final = dest / name
    with _file_lock(dest / f".{name}.lock"):
        if final.is_file() and final.stat().st_size > 0:
            return final  # fetched meanwhile by another thread or process
        ok, msg = W.probe(url)
        if not ok:
            raise FetchRefused("fetch.bad.offline", title=title(key), url=url, why=msg, name=name, folder=str(W.weights_dir()))
        part = dest / f".{name}.{os.getpid()}.part"
        try:
            _stream(url, part, progress)
            try:
                W.build_torchvision(key, part)  # refuses files that do not fit the model
            except W.WeightsError as e:
                raise FetchRefused("fetch.bad.noload", url=url, title=title(key), why=e) from e
            os.replace(part, final)
        finally:
            part.unlink(missing_ok=True)
    return final


# --------------------------------------------------------------------------- background
def start(key: str) -> FetchState | None:
    """Fetch *key* in the background unless its file is present, we opted out, it is already
    being fetched, or it failed less than RETRY_AFTER seconds ago. Returns its state (None when
    nothing is or was done). Never waits for the network."""
    if key not in W.TORCHVISION_MODELS or opted_out():
        return None
    with _states_lock:
        st = _states.get(key)
        if st is not None:
            recent = time.monotonic() - st.since < RETRY_AFTER
            if st.phase in ("checking", "fetching") or (st.phase in ("failed", "offline") and recent):
                return st
        if W.find_weights(key) is not None:
            return st
        url = source_url(W.candidate_weights(key)[0])
        st = _states[key] = FetchState(key, "checking", url=url)
        st.thread = threading.Thread(target=_run, args=(st,), name=f"gradcam-fetch-{key}", daemon=True)
    st.thread.start()
    return st


def _set(st: FetchState, **changes) -> None:
    with _states_lock:
        for k, v in changes.items():
            setattr(st, k, v)
        st.since = time.monotonic()


def _run(st: FetchState) -> None:
    ok, msg = W.probe(st.url)
    if not ok:
        reason = FetchRefused("fetch.bad.unreachable", url=st.url, why=msg)
        _set(st, phase="offline", message=str(reason), reason=reason)
        log.info("Not fetching %s weights: %s", title(st.key), st.message)
        return
    _set(st, phase="fetching")
    logged = [-1]

    def progress(done: int, total: int | None) -> None:
        with _states_lock:
            st.done_bytes, st.total_bytes = done, total
        step = (st.percent or 0) // 10
        if step > logged[0] or (total is None and done // (10 * CHUNK) > logged[0]):
            logged[0] = step if total else done // (10 * CHUNK)
            log.info("%s", st.progress_text())

    log.info("Fetching %s weights from %s (EfficientNet-Lite0 serves meanwhile)", title(st.key), st.url)
    try:
        path = fetch_file(st.key, progress=progress)
    except W.WeightsError as e:
        reason = e if isinstance(e, FetchRefused) else FetchRefused("fetch.bad.other", why=e)
        _set(st, phase="failed", message=str(reason), reason=reason)
        log.warning("%s weights refused: %s", title(st.key), e)
        return
    except Exception as e:  # never let a background thread die silently
        reason = FetchRefused("fetch.bad.crashed", kind=type(e).__name__, why=str(e))
        _set(st, phase="failed", message=str(reason), reason=reason)
        log.exception("Fetching %s weights failed", title(st.key))
        return
    _set(st, phase="done", message=str(path))
    log.info("%s weights ready: %s (new pages open on it if it is the default)", title(st.key), path)


def start_background(keys: tuple[str, ...] = AUTO_KEYS) -> list[FetchState]:
    """At app start: fetch ResNet-50 in the background when the source answers. Returns at once."""
    if opted_out():
        log.info("Fetching weights is switched off (%s=0)", W.ALLOW_DOWNLOAD_ENV)
        return []
    return [s for s in (start(k) for k in keys) if s is not None]


def on_select(key: str) -> None:
    """Someone selected *key*: if its weights file is missing, start fetching it (no waiting)."""
    if key in W.TORCHVISION_MODELS and W.find_weights(key) is None:
        start(key)


# --------------------------------------------------------------------------- texts
# Kept for the callers that still read the notes here (ui/fetch_panel.py, imagenet.py): the words
# are the catalogue's [fetch] entries, worded as present.fetch_text.note/page_note word them (the
# same codes; tests/test_fetch.py checks both agree on every branch). Callers should move to
# present.fetch_text, then these two go.
def note(key: str) -> str:
    """Why *key* cannot run right now, when a fetch explains it ("" otherwise)."""
    st = state(key)
    if st is None or W.find_weights(key) is not None:
        return ""
    if st.phase in ("checking", "fetching"):
        return W.words("fetch.busy_note", progress=st.progress_text())
    if st.phase == "failed":
        return W.words("fetch.refused_note", title=title(key), reason=st.message)
    return ""


def page_note() -> str:
    """Markdown for the page: fetches in progress, refused files, and models fetched here."""
    lines = []
    for key, st in states().items():
        if st.phase in ("checking", "fetching"):
            lines.append(W.words("fetch.busy_page", progress=st.progress_text()))
        elif st.phase == "failed":
            lines.append(W.words("fetch.refused_page", title=title(key), reason=st.message))
        elif st.phase == "done" and key in AUTO_KEYS:
            lines.append(W.words("fetch.done_default", title=title(key)))
        elif st.phase == "done":
            lines.append(W.words("fetch.done_page", title=title(key)))
    return "\n\n".join(lines)


def download(key: str, dest_dir: Path | None = None, progress: bool = True) -> Path:
    """Fetch the default torchvision weights of *key* into the weights folder.

    Raises WeightsError with a readable message when offline or when the file does not match
    the SHA-256 prefix in torchvision's file name (see ``fetch.fetch_file``: one download per
    file, ``GRADCAM_WEIGHTS_URL`` honoured).
    """
    def show(done: int, total: int | None) -> None:
        pct = f"{100 * done // total:3d} %" if total else W._fmt_size(done)
        print(f"\r{key}: {pct}", end="", file=sys.stderr, flush=True)

    try:
        return fetch_file(key, dest_dir=dest_dir, progress=show if progress else None)
    finally:
        if progress:
            print(file=sys.stderr)
