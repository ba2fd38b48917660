"""Workshop rooms (issue 26), raw: a facilitator opens a room, phones join it, the facilitator pushes
an exercise (guess where the model looks, fool the model, a locked view), reveals, moderates and
exports. Numbers, codes and arrays come back; words are :mod:`gradcam_core.present.room_view`'s and
the catalogue's (``[room]``), the pages are ``ui/room_phone.py`` and ``ui/facilitator.py``, the
typed API is ``ui/room_api.py``.

What is kept where:

* the store (:mod:`gradcam_core.rooms`, SQLite by default, Redis with ``GRADCAM_ROOMS_URL``) holds
  the room, its people, answers, submissions and blobs; nothing of a room lives only in this
  process, so a restart (even ``kill -9``) or another replica sees the same room;
* the room's current exercise is a plain dict in the room (:meth:`Exercise.to_dict`), with the raw
  CAM of its picture, so a reveal needs no model; its picture is the blob ``ex-<id>.png``;
* every exercise pushed is also kept in the blob ``exercises.json`` (the results export reads it).

Security: the facilitator key is ``secrets.token_urlsafe(24)``, kept only as its SHA-256 and compared
with ``hmac.compare_digest``; nothing a phone receives carries it. Joins, answers and submissions are
rate-limited per session (a fixed window in a ``cachetools.TTLCache``).

Settings (read when used, so a test or a host can change them):

- ``GRADCAM_FACILITATOR_PASSWORD`` (unset): on a public deployment, rooms need it (off without);
- ``GRADCAM_MAX_ROOMS`` (20): open rooms a server holds at most;
- ``GRADCAM_ROOM_MAX_PEOPLE`` (200): phones one room takes at most;
- ``GRADCAM_ROOM_HOURS`` (4): a room expires this long after it was opened;
- ``GRADCAM_ROOM_UPLOAD_MB`` (50): megabytes of pictures one room may hold;
- ``GRADCAM_ROOM_JOINS_PER_MINUTE`` (10): joins one session may make per minute;
- ``GRADCAM_ROOM_ANSWERS_PER_MINUTE`` (30): answers and photo submissions one session may send per minute.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import ipaddress
import json
import os
import re
import secrets
import tempfile
import threading
import time
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from cachetools import LRUCache, TTLCache
from PIL import Image

from gradcam_core.analysis import pointing
from gradcam_core.base import inputs
from gradcam_core.base.errors import Refusal, Term
from gradcam_core.data.examples import load_manifest
from gradcam_core.models.registry import get_model
from gradcam_core.rooms import store as _store_mod
from gradcam_core.services import imagenet as _imagenet
from gradcam_core.services import mnist as _mnist

CODE_ALPHABET = "ACDEFHJKMNPRTUVWXY3479"  # no 0/O, 1/I/L, 2/Z, 5/S, 8/B, G/6 (the contract listed a 6: left out)
CODE_LENGTH = 5
#: a nickname is cut to this many characters
NICKNAME_MAX = 24
MAX_CELLS = pointing.MAX_CELLS
#: the tabs a locked view may show, and how many controls it may keep visible
TABS = ("mnist", "imagenet", "spurious")
MAX_CONTROLS = 40
MAX_LINK = 2000
#: the friendly default nicknames: an animal (catalogue ``room.animal.<key>``) and a number
ANIMALS = ("otter", "heron", "badger", "lynx", "puffin", "gecko", "koala", "walrus", "falcon", "beaver",
           "dolphin", "panda", "tapir", "ibis", "marten", "newt", "orca", "quokka", "raven", "yak")
#: how many tries to draw an unused room code before giving up (23^5 = 6.4 million codes)
CODE_TRIES = 20
#: what each phone's rate limit counts in (seconds)
RATE_WINDOW = 60.0
DIGIT_MODEL = "lenet"
#: the layer a digit exercise is explained at: pool2's 4×4 cells step 4 input pixels apart, so on a
#: 390-px phone each cell is a finger-sized button of about 50 px; relu2's 8×8 cells (the MNIST tab's
#: default) step 2 pixels apart, 22-px buttons, too small to tap one and not its neighbour
DIGIT_LAYER = "pool2"
KINDS = ("guess", "fool", "locked")
ACTIONS = {"approve": "approved", "remove": "removed"}

_PID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_SID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


# --------------------------------------------------------------------------- settings
def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if value > 0 else default


def max_rooms() -> int:
    return int(_env_number("GRADCAM_MAX_ROOMS", 20))


def max_people() -> int:
    return int(_env_number("GRADCAM_ROOM_MAX_PEOPLE", 200))


def room_ttl() -> float:
    """Seconds a room lives after it is opened (``GRADCAM_ROOM_HOURS``, default 4 hours)."""
    return _env_number("GRADCAM_ROOM_HOURS", 4.0) * 3600.0


def upload_cap() -> int:
    """Bytes of pictures one room may hold (``GRADCAM_ROOM_UPLOAD_MB``, default 50 MB)."""
    return int(_env_number("GRADCAM_ROOM_UPLOAD_MB", 50.0) * 1024 * 1024)


def joins_per_minute() -> int:
    return int(_env_number("GRADCAM_ROOM_JOINS_PER_MINUTE", 10))


def answers_per_minute() -> int:
    return int(_env_number("GRADCAM_ROOM_ANSWERS_PER_MINUTE", 30))


def facilitator_password() -> str:
    return os.environ.get("GRADCAM_FACILITATOR_PASSWORD", "")


# --------------------------------------------------------------------------- the store (one per process)
_store: Any = None
_store_lock = threading.Lock()


def store() -> Any:
    """This process's room store (opened on first use from ``GRADCAM_ROOMS_URL`` / ``GRADCAM_ROOMS_DIR``)."""
    global _store
    if _store is None:
        with _store_lock:
            if _store is None:
                _store = _store_mod.open_store()
    return _store


def use_store(new: Any = None) -> None:
    """Replace this process's store (tests; ``None``: open it again from the environment on next use)."""
    global _store
    with _store_lock:
        _store = new
    with _image_lock:
        _images.clear()
    with _rate_lock:
        _rates.clear()


# --------------------------------------------------------------------------- rate limits
_rates: TTLCache = TTLCache(maxsize=100_000, ttl=2 * RATE_WINDOW)
_rate_lock = threading.Lock()


def _limit(kind: str, session: str | None, per_minute: int) -> None:
    """Count one ``kind`` action of ``session`` in the current minute; refuse past ``per_minute``."""
    now = time.time()
    window = int(now // RATE_WINDOW)
    key = (kind, session or "", window)
    with _rate_lock:
        n = _rates.get(key, 0) + 1
        _rates[key] = n
    if n > per_minute:
        wait = max(1, int(np.ceil((window + 1) * RATE_WINDOW - now)))
        raise Refusal(f"room.too_fast_{kind}", limit=per_minute, seconds=wait)


# --------------------------------------------------------------------------- who may open a room
def is_local(client_host: str | None, forwarded_for: str | None) -> bool:
    """A request from this machine: the client is a loopback address and, if a proxy forwarded it,
    every address it was forwarded for is loopback too (HAProxy on the laptop, a phone behind it is not)."""
    def loopback(host: str | None) -> bool:
        host = (host or "").strip().strip("[]")
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    if not loopback(client_host):
        return False
    return all(loopback(h) for h in (forwarded_for or "").split(",") if h.strip())


def rooms_allowed(local: bool, workshop: bool) -> tuple[bool, str | None]:
    """(True, None) where rooms can be opened: the facilitator's laptop (``--workshop`` or a request
    from this machine), or a public deployment whose host set ``GRADCAM_FACILITATOR_PASSWORD``;
    (False, "room.off_public") on a public one without it (the sentence says how to turn them on)."""
    if local or workshop or facilitator_password():
        return True, None
    return False, "room.off_public"


def needs_password(local: bool, workshop: bool) -> bool:
    """Whether opening a room here asks for the facilitator password (a public deployment that has one)."""
    return not (local or workshop) and bool(facilitator_password())


# --------------------------------------------------------------------------- codes and keys
def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normal_code(code: Any) -> str:
    """A room code as typed (any case, spaces or dashes around) → its canonical form; "" when empty."""
    if code is None:
        return ""
    return re.sub(r"[\s-]+", "", str(code)).upper()[:64]


def _room(code: Any) -> tuple[str, Any]:
    """(code, Room) of an open room; Refusal room.no_code / room.unknown_code."""
    c = normal_code(code)
    if not c:
        raise Refusal("room.no_code")
    if len(c) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in c):
        raise Refusal("room.unknown_code", code=c[:CODE_LENGTH + 4])
    room = store().room(c)
    if room is None:
        raise Refusal("room.unknown_code", code=c)
    return c, room


def check_key(code: str, key: str) -> Any:
    """The room, when ``key`` is its facilitator key (constant-time comparison of the SHA-256);
    Refusal room.no_code / room.unknown_code / room.no_key / room.wrong_key."""
    _, room = _room(code)
    if not key or not str(key).strip():
        raise Refusal("room.no_key")
    if not hmac.compare_digest(_hash_key(str(key).strip()), room.key_hash):
        raise Refusal("room.wrong_key")
    return room


@dataclass(frozen=True)
class Opened:
    code: str
    key: str
    expires: float


def open_room(password: str | None, local: bool, workshop: bool, session: str | None = None) -> Opened:
    """Open a room: its code and its facilitator key (shown once, to the facilitator only).

    On the facilitator's laptop (``local`` or ``workshop``) anyone may; on a public deployment only
    with ``GRADCAM_FACILITATOR_PASSWORD`` (compared in constant time), and without one rooms are off
    there. At most ``GRADCAM_MAX_ROOMS`` rooms are open at once."""
    if not (local or workshop):
        expected = facilitator_password()
        if not expected:
            raise Refusal("room.off_public")
        _limit("password", session, 10)
        if not password:
            raise Refusal("room.password_needed")
        if not hmac.compare_digest(hashlib.sha256(str(password).encode()).digest(),
                                   hashlib.sha256(expected.encode()).digest()):
            raise Refusal("room.wrong_password")
    st = store()
    st.purge_expired()
    key = secrets.token_urlsafe(24)
    for _ in range(CODE_TRIES):
        code = _new_code()
        room = st.create_room(code, _hash_key(key), room_ttl(), max_rooms())
        if room is not None:
            return Opened(code=room.code, key=key, expires=room.expires)
    raise Refusal("room.no_free_code")


# --------------------------------------------------------------------------- joining
def clean_nickname(nickname: Any) -> str:
    """A nickname as kept: control and format characters removed, white space collapsed, at most
    :data:`NICKNAME_MAX` characters ("" when nothing is left). It is kept as typed otherwise: the
    pages escape it where they show it."""
    if nickname is None:
        return ""
    text = unicodedata.normalize("NFC", str(nickname)[:1000])
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    return " ".join(text.split())[:NICKNAME_MAX].strip()


def default_nickname(taken: set[str] | None = None) -> str:
    """A friendly default ("Otter 17"): an animal from the catalogue and a number, not yet taken."""
    taken = taken or set()
    name = ""
    for _ in range(50):
        name = f"{Term('room.animal.' + secrets.choice(ANIMALS))} {secrets.randbelow(90) + 10}"
        if name not in taken:
            return name
    return name


def join(code: str, nickname: str | None, pid: str | None, session: str | None) -> Any:
    """A phone joins (or, with the ``pid`` it kept, comes back under its nickname).

    Rate-limited per session; at most ``GRADCAM_ROOM_MAX_PEOPLE`` people per room. Returns the
    store's Person (its ``pid`` is the phone's own, to keep in its browser)."""
    _limit("join", session, joins_per_minute())
    c, _ = _room(code)
    st = store()
    name = clean_nickname(nickname)
    known = st.person(c, str(pid)) if pid and _PID.match(str(pid)) else None
    if known is not None and (not name or name == known.nickname):
        return st.join(c, known.pid, known.nickname, max_people())
    taken = {p.nickname for p in st.people(c) if known is None or p.pid != known.pid}
    name = unique_nickname(name, taken) if name else default_nickname(taken)
    return st.join(c, known.pid if known is not None else secrets.token_urlsafe(16), name, max_people())


def unique_nickname(name: str, taken: set[str]) -> str:
    """``name``, or ``name 2``, ``name 3`` … when someone in the room already has it (within the cap),
    so the projector, the results and the reveal tell two people apart."""
    if name not in taken:
        return name
    for n in range(2, 1000):
        suffix = f" {n}"
        candidate = name[:NICKNAME_MAX - len(suffix)].rstrip() + suffix
        if candidate not in taken:
            return candidate
    return name


def _person(code: str, pid: Any) -> Any:
    if not pid or not _PID.match(str(pid)):
        raise Refusal("room.not_joined")
    person = store().person(code, str(pid))
    if person is None:
        raise Refusal("room.not_joined")
    return person


# --------------------------------------------------------------------------- exercises
@dataclass
class Exercise:
    """One exercise, as kept in the room (a plain dict: :meth:`to_dict` / :meth:`from_dict`)."""

    id: str
    kind: str  # "guess" | "fool" | "locked"
    model: str = ""
    model_title: str = ""
    target: int | None = None
    class_name: str = ""
    grid: tuple[int, int] = (0, 0)
    image_blob: str = ""
    cam: list = field(default_factory=list)  # the raw (h, w) CAM, list of lists
    revealed: bool = False
    against: dict | None = None  # {model, model_title, target, class_name, cam} after "show against"
    tab: str = ""
    controls: list = field(default_factory=list)
    link: str = ""
    picture: str = ""  # what was pushed ("example:…", "digit:…", "upload")
    at: float = 0.0
    #: where each cell sits when not on the stretched grid: [row centres, column centres] in the model
    #: input's pixels (LeNet's receptive-field centres on its 28 × 28 frame), and that frame's (h, w);
    #: pictures and the tap grid use ``present.room_view.centre_fractions(centres, frame)``. None: stretched.
    centres: list | None = None
    frame: list | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["grid"] = list(self.grid)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Exercise":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        ex = cls(**known)
        ex.grid = tuple(int(v) for v in (ex.grid or (0, 0)))
        return ex

    def cam_array(self) -> np.ndarray:
        """The CAM the class's taps are scored against now: the one shown against, else its own."""
        src = self.against["cam"] if self.against else self.cam
        return np.asarray(src, dtype=np.float64).reshape(self.grid)

    def own_cam(self) -> np.ndarray:
        return np.asarray(self.cam, dtype=np.float64).reshape(self.grid)

    def shown(self) -> dict:
        """What a phone may know of it (no key, no CAM before the reveal)."""
        out = {"id": self.id, "kind": self.kind, "grid": list(self.grid), "tab": self.tab,
               "controls": list(self.controls), "link": self.link or None, "revealed": self.revealed,
               "centres": self.centres, "frame": self.frame}
        if self.kind in ("guess", "fool"):
            out.update(model=self.model, model_title=self.model_title)
        if self.kind == "guess":
            out.update(target=self.target, class_name=self.class_name)
            if self.revealed and self.against:
                out.update(against={k: self.against[k] for k in ("model", "model_title", "target", "class_name")})
        return out


def _current(code: str) -> Exercise | None:
    room = store().room(code)
    if room is None:
        raise Refusal("room.unknown_code", code=code)
    return Exercise.from_dict(room.exercise) if room.exercise else None


def _history(code: str) -> list[dict]:
    raw = store().blob(code, "exercises.json")
    if not raw:
        return []
    try:
        return list(json.loads(raw.decode("utf-8")))
    except (ValueError, UnicodeDecodeError):
        return []


def _keep_exercise(code: str, ex: Exercise) -> int:
    """Make ``ex`` the room's current exercise and record it in the room's history; the new version."""
    st = store()
    hist = [e for e in _history(code) if e.get("id") != ex.id] + [ex.to_dict()]
    st.put_blob(code, "exercises.json", json.dumps(hist).encode("utf-8"), upload_cap())
    return st.set_exercise(code, ex.to_dict())


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _jpeg(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).convert("RGB").save(buf, format="JPEG", quality=85)
    return buf.getvalue()


_images: LRUCache = LRUCache(maxsize=64)
_image_lock = threading.Lock()


def blob_image(code: str, name: str) -> np.ndarray | None:
    """A picture kept in the room (uint8 RGB), decoded once per process."""
    with _image_lock:
        hit = _images.get((code, name))
    if hit is not None:
        return hit
    data = store().blob(code, name)
    if data is None:
        return None
    with Image.open(io.BytesIO(data)) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    arr.setflags(write=False)
    with _image_lock:
        _images[(code, name)] = arr
    return arr


def _allowed_path(path: str) -> bool:
    """A server path a photo may come from: the temp folder (where Gradio keeps uploads)."""
    roots = [tempfile.gettempdir(), os.environ.get("GRADIO_TEMP_DIR", "")]
    try:
        real = Path(path).resolve()
    except (OSError, RuntimeError):
        return False
    for root in filter(None, roots):
        try:
            real.relative_to(Path(root).resolve())
            return True
        except ValueError:
            continue
    return False


def photo_source(photo: Any) -> Any:
    """An uploaded photo's source for the ImageNet loader: a data: URL, bytes, an array, or a path in
    the upload folder (a path elsewhere on the server is refused: a phone must not read the server's files)."""
    src = inputs.photo_source(photo)
    if isinstance(src, (str, Path)) and not inputs.is_data_url(src):
        if not _allowed_path(str(src)):
            raise Refusal("room.upload_path")
    return src


def _example_path(name: str) -> str:
    name = name.strip()
    for e in load_manifest():
        if name in (e["file"], Path(e["file"]).name, Path(e["file"]).stem):
            return e["path"]
    choices = ", ".join(Path(e["file"]).name for e in load_manifest())
    raise Refusal("room.unknown_example", name=name[:80], choices=choices)


def _resized(cam: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """A CAM on another model's grid brought onto the exercise's grid (area average when shrinking,
    bilinear when growing), so the same taps can be scored against it."""
    if cam.shape == tuple(grid):
        return cam
    t = torch.as_tensor(cam, dtype=torch.float32)[None, None]
    grow = grid[0] > cam.shape[0] or grid[1] > cam.shape[1]
    out = torch.nn.functional.interpolate(t, size=tuple(grid), mode="bilinear" if grow else "area",
                                          **({"align_corners": False} if grow else {}))
    return out[0, 0].clamp_min(0).numpy().astype(np.float64)


@dataclass(frozen=True)
class _Explained:
    model: str
    model_title: str
    target: int
    class_name: str
    image: np.ndarray  # uint8 RGB: what the model saw (the grid's cells are equal parts of it)
    cam: np.ndarray  # (h, w) raw
    source: bytes | None = None  # an upload's photo, re-encoded: kept so the reveal can use another class/model
    centres: list | None = None  # [row centres, column centres] in the input's pixels; None: the stretched grid
    frame: list | None = None  # the model input's (h, w) the centres are in


def _explain(picture: str, model: str | None, target: Any, kept: bytes | None = None) -> _Explained:
    """The picture an exercise shows and its CAM for (model, target); target None → predicted.
    ``kept``: an upload's photo as the room keeps it (then ``picture`` is "upload")."""
    kind, _, rest = (picture or "").partition(":")
    kind = kind.strip().lower()
    target = None if target in (None, "", "predicted") else target
    if kind == "digit":
        if model not in (None, "", DIGIT_MODEL):
            raise Refusal("room.digit_model", model=str(model)[:40])
        settings = _mnist.parse_settings(target if target is not None else "predicted", None, DIGIT_LAYER)
        digit, source = _mnist.held_out(rest.strip())
        res = _mnist.run(digit, settings, source)
        cam = res.result.cam[0].detach().numpy().astype(np.float64)
        gray = np.clip(np.asarray(res.digit) * 255.0, 0, 255).astype(np.uint8)  # 28 × 28: present enlarges it
        t = int(res.result.targets[0])
        centres = None
        if res.centres is not None:
            centres = [[round(float(v), 4) for v in axis] for axis in res.centres]
        return _Explained(DIGIT_MODEL, str(get_model(DIGIT_MODEL).title), t, str(t),
                          np.stack([gray] * 3, axis=-1), cam, None, centres, [int(v) for v in gray.shape])
    if model in (None, ""):
        model = None
    elif model == DIGIT_MODEL:
        raise Refusal("room.photo_model")
    source = None
    if kind == "example":
        expl = _imagenet.explain_source(_example_path(rest), model, None, "Grad-CAM", target)
    elif kind == "upload":
        pil = _imagenet.load_photo(kept if kept is not None else photo_source(rest.strip()))
        source = kept if kept is not None else _jpeg(np.asarray(pil.convert("RGB")))
        expl = _imagenet.explain_photo(pil, model, None, "Grad-CAM", target)
    else:
        raise Refusal("room.bad_picture", picture=str(picture)[:40])
    view = expl.views[0]
    return _Explained(expl.model_key, str(expl.model_title), int(view.target), str(view.name),
                      np.asarray(expl.image, dtype=np.uint8), view.result.cam[0].detach().numpy().astype(np.float64),
                      source)


def push_guess(code: str, key: str, picture: str, model: str | None = None, target: str | int | None = None) -> Exercise:
    """Push "where does the model look?": the picture (``example:<file>``, ``digit:<index>`` for LeNet,
    ``upload:<path or data: URL>``), the model and the class (None/"predicted": the predicted one).
    The phones get the picture with the model's grid; the CAM is kept for the reveal."""
    check_key(code, key)
    c = normal_code(code)
    got = _explain(picture, model, target)
    ex_id = secrets.token_hex(4)
    blob = f"ex-{ex_id}.png"
    st = store()
    st.put_blob(c, blob, _png(got.image), upload_cap())
    if got.source is not None:
        st.put_blob(c, f"ex-{ex_id}.src", got.source, upload_cap())
    ex = Exercise(id=ex_id, kind="guess", model=got.model, model_title=got.model_title, target=got.target,
                  class_name=got.class_name, grid=tuple(int(v) for v in got.cam.shape), image_blob=blob,
                  cam=got.cam.tolist(), picture=_picture_label(picture), at=time.time(), centres=got.centres,
                  frame=got.frame)
    _keep_exercise(c, ex)
    return ex


def _picture_label(picture: str) -> str:
    """What the results record of a pushed picture (an upload's data is not repeated)."""
    kind, _, rest = (picture or "").partition(":")
    return "upload" if kind.strip().lower() == "upload" else f"{kind.strip().lower()}:{rest.strip()[:200]}"


def push_fool(code: str, key: str, model: str | None = None) -> Exercise:
    """Push "fool the model": each phone submits a photo and sees its own top-5 and map at once;
    the projector shows only what the facilitator approves."""
    check_key(code, key)
    c = normal_code(code)
    spec = _imagenet.get_spec(model or None)
    ex = Exercise(id=secrets.token_hex(4), kind="fool", model=spec.key, model_title=str(spec.title), at=time.time())
    _keep_exercise(c, ex)
    return ex


def push_locked(code: str, key: str, tab: str, controls: Sequence[str] | str, link: str = "") -> Exercise:
    """Push a locked view: the phones show only ``tab`` with only ``controls`` visible (as TF
    Playground's "hide controls" links), opened on ``link`` (a deep link's query string) if given."""
    check_key(code, key)
    c = normal_code(code)
    tab = str(tab or "").strip().lower()
    if tab not in TABS:
        raise Refusal("room.bad_tab", tab=tab[:40], choices=", ".join(TABS))
    if isinstance(controls, str):
        controls = [s for s in re.split(r"[,\s]+", controls) if s]
    controls = [str(s).strip() for s in controls if str(s).strip()]
    if len(controls) > MAX_CONTROLS or any(len(s) > 64 or not re.match(r"^[A-Za-z0-9_.-]+$", s) for s in controls):
        raise Refusal("room.bad_controls", limit=MAX_CONTROLS)
    link = str(link or "").strip().lstrip("?")
    if len(link) > MAX_LINK or "://" in link or link.startswith(("/", "javascript:")) or "\n" in link:
        raise Refusal("room.bad_link")
    ex = Exercise(id=secrets.token_hex(4), kind="locked", tab=tab, controls=controls, link=link, at=time.time())
    _keep_exercise(c, ex)
    return ex


# --------------------------------------------------------------------------- answering
def parse_cells(cells: Any, grid: tuple[int, int]) -> list[int]:
    """Cells as a list of ints or text ("3,10,17"): 1 to :data:`MAX_CELLS` whole numbers on the grid,
    each once, sorted."""
    if isinstance(cells, str):
        parts = [p for p in re.split(r"[\s,;]+", cells.strip()) if p]
    elif isinstance(cells, (list, tuple)):
        parts = list(cells)
    else:
        raise Refusal("room.no_cells", most=MAX_CELLS)
    if not parts:
        raise Refusal("room.no_cells", most=MAX_CELLS)
    if len(parts) > 4 * MAX_CELLS:
        raise Refusal("room.too_many_cells", most=MAX_CELLS)
    n = grid[0] * grid[1]
    out = set()
    for p in parts:
        if isinstance(p, bool) or isinstance(p, float) and not float(p).is_integer():
            raise Refusal("room.not_a_cell", value=str(p)[:20], last=n - 1)
        try:
            v = int(p) if not isinstance(p, str) else int(p.strip())
        except (TypeError, ValueError, OverflowError):
            raise Refusal("room.not_a_cell", value=str(p)[:20], last=n - 1) from None
        if not 0 <= v < n:
            raise Refusal("room.not_a_cell", value=str(v)[:20], last=n - 1)
        out.add(v)
    if len(out) > MAX_CELLS:
        raise Refusal("room.too_many_cells", most=MAX_CELLS)
    return sorted(out)


def _open_exercise(code: str, pid: str, session: str | None, kind: str) -> tuple[str, Any, "Exercise"]:
    """What a phone's answer or photo goes into: (the room's code, the person, the current exercise),
    once the session's rate limit allows it and the current exercise is of ``kind``."""
    _limit("answer", session, answers_per_minute())
    c, _ = _room(code)
    person = _person(c, pid)
    ex = _current(c)
    if ex is None or ex.kind != kind:
        raise Refusal("room.no_guess" if kind == "guess" else "room.no_fool")
    return c, person, ex


def answer(code: str, pid: str, cells: Sequence[int] | str, session: str | None) -> list[int]:
    """A phone's guess: up to three cells of the current guess exercise; sending again replaces it.
    Only while the exercise is open (after the reveal: a clear refusal)."""
    c, person, ex = _open_exercise(code, pid, session, "guess")
    if ex.revealed:
        raise Refusal("room.answers_closed")
    chosen = parse_cells(cells, ex.grid)
    store().put_answer(c, ex.id, person.pid, {"cells": chosen})
    return chosen


# --------------------------------------------------------------------------- reveal
@dataclass
class Reveal:
    exercise: Exercise
    image: np.ndarray
    cam: np.ndarray  # (h, w): the CAM the taps are scored against (the other class/model's, if any)
    class_score: Any  # pointing.ClassScore
    scores: dict  # pid → pointing.Score
    class_name: str
    model_title: str
    nicknames: dict = field(default_factory=dict)  # pid → nickname


def _taps(code: str, ex_id: str) -> dict[str, list[int]]:
    return {a.pid: [int(v) for v in (a.body or {}).get("cells", [])] for a in store().answers(code, ex_id)}


def _scored(code: str, ex: Exercise) -> Reveal:
    cam = ex.cam_array()
    taps = _taps(code, ex.id)
    image = blob_image(code, ex.image_blob)
    if image is None:
        raise Refusal("room.no_guess")
    who = ex.against or {"class_name": ex.class_name, "model_title": ex.model_title}
    return Reveal(exercise=ex, image=image, cam=cam, class_score=pointing.score_class(cam, list(taps.values())),
                  scores={pid: pointing.score(cam, cells) for pid, cells in taps.items()},
                  class_name=who["class_name"], model_title=who["model_title"],
                  nicknames={p.pid: p.nickname for p in store().people(code)})


def reveal(code: str, key: str, model: str | None = None, target: Any = None) -> Reveal:
    """Reveal the current guess exercise (answers close); with ``model``/``target``: the same taps
    scored against that class or model's CAM on the same picture (the grid stays the exercise's;
    another model's map is brought onto it). Both empty again: back to the exercise's own CAM."""
    check_key(code, key)
    c = normal_code(code)
    ex = _current(c)
    if ex is None or ex.kind != "guess":
        raise Refusal("room.no_guess")
    model = (model or "").strip() or None
    target = None if target in (None, "") else target
    if model is None and target is None:
        ex.against = None
    else:
        if target is None:  # another model, the same class
            target = ex.target
        kept = None
        if ex.picture == "upload":
            kept = store().blob(c, f"ex-{ex.id}.src")
            if kept is None:
                raise Refusal("room.no_guess")
        got = _explain(ex.picture, model or ex.model, target, kept)
        ex.against = {"model": got.model, "model_title": got.model_title, "target": got.target,
                      "class_name": got.class_name, "cam": _resized(got.cam, ex.grid).tolist()}
    ex.revealed = True
    _keep_exercise(c, ex)
    return _scored(c, ex)


def revealed(code: str, key: str) -> Reveal:
    """The current reveal again, without changing anything (the facilitator's page after a reload)."""
    check_key(code, key)
    c = normal_code(code)
    ex = _current(c)
    if ex is None or ex.kind != "guess" or not ex.revealed:
        raise Refusal("room.not_revealed")
    return _scored(c, ex)


def reveals(code: str, key: str) -> list[Reveal]:
    """Every revealed guess exercise of the room, oldest first, scored as it was last shown (its own
    CAM, or the other class/model it was last set against): what the results' slides are drawn from,
    so the downloads hold one picture of each reveal even after the facilitator's page reloaded."""
    room = check_key(code, key)
    out = []
    for d in _history(room.code):
        ex = Exercise.from_dict(d)
        if ex.kind == "guess" and ex.revealed and blob_image(room.code, ex.image_blob) is not None:
            out.append(_scored(room.code, replace(ex, against=None)))  # the class's taps on the exercise's own map
            if ex.against:
                out.append(_scored(room.code, ex))  # and against the other class or model it was last set against
    return out


# --------------------------------------------------------------------------- what a phone sees
@dataclass
class PhoneView:
    version: int
    nickname: str
    exercise: dict | None  # Exercise.shown(): id, kind, grid, tab, controls, link, class …
    image: np.ndarray | None
    my_cells: list
    revealed: bool
    my_score: Any  # pointing.Score | None
    cam: np.ndarray | None  # only after the reveal
    my_submission: dict | None = None  # {sid, status, top1, prob} in a fool exercise


def version(code: str) -> int | None:
    """The room's version (changes on every write a phone or the facilitator should see); None when
    the room is unknown, closed or expired. The cheapest read: what the facilitator's page polls."""
    c = normal_code(code)
    if len(c) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in c):
        return None
    return store().version(c)


def phone_stamp(code: str) -> str | None:
    """What every phone's view hangs on, as a short string that changes only when it changes: the
    current exercise and whether it is revealed (None: the room is unknown, closed or expired).
    Joins and the other phones' answers leave it alone (they change :func:`version`), so thirty
    phones polling it make a server event only when there is something new to show them."""
    c = normal_code(code)
    if len(c) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in c):
        return None
    room = store().room(c)
    if room is None:
        return None
    ex = room.exercise or {}
    return f"{ex.get('id') or '-'}.{int(bool(ex.get('revealed')))}"


def phone_view(code: str, pid: str) -> PhoneView:
    """What one phone sees now: its nickname, the exercise (never the key; the CAM only after the
    reveal), its own cells and, after the reveal, its own score."""
    c, room = _room(code)
    person = _person(c, pid)
    ex = Exercise.from_dict(room.exercise) if room.exercise else None
    if ex is None:
        return PhoneView(room.version, person.nickname, None, None, [], False, None, None)
    image = blob_image(c, ex.image_blob) if ex.image_blob else None
    cells: list[int] = []
    if ex.kind == "guess":
        cells = _taps(c, ex.id).get(person.pid, [])
    score = cam = None
    if ex.kind == "guess" and ex.revealed:
        # a phone's own score is always on the map the class guessed (the exercise's class and model):
        # "against another class or model" is the projector's comparison, and a phone that reloads after
        # one must not show that map's score under the exercise's class name
        cam = ex.own_cam()
        score = pointing.score(cam, cells) if cells else None
    mine = None
    if ex.kind == "fool":
        for s in store().submissions(c, ex.id):
            if s.pid == person.pid:
                mine = {"sid": s.sid, "status": s.status, "top1": s.meta.get("top1_name"), "prob": s.meta.get("prob")}
    return PhoneView(room.version, person.nickname, ex.shown(), image, cells, bool(ex.revealed), score, cam, mine)


# --------------------------------------------------------------------------- the facilitator's counts
@dataclass(frozen=True)
class Status:
    people: int
    answered: int
    pending: int
    version: int
    kind: str | None = None
    revealed: bool = False


def status(code: str, key: str) -> Status:
    """Live counts for the facilitator: phones joined, answers to the current exercise (a count,
    never their content), submissions waiting for moderation, the room's version."""
    room = check_key(code, key)
    c = room.code
    ex = Exercise.from_dict(room.exercise) if room.exercise else None
    st = store()
    people, answered = st.counts(c, ex.id if ex else None)
    if ex is not None and ex.kind == "fool":
        answered = len(st.submissions(c, ex.id))
    pending = len(st.submissions(c, None, "pending"))
    return Status(people, answered if ex else 0, pending, room.version, ex.kind if ex else None,
                  bool(ex and ex.revealed))


# --------------------------------------------------------------------------- fool the model
def submit(code: str, pid: str, photo: Any, session: str | None) -> tuple[Any, str]:
    """A phone's photo in a "fool the model" exercise: explained at once (the ImageNet service, which
    checks it like every upload) and queued for the facilitator (one per phone: a new one replaces
    it). The room keeps the crop the model saw, re-encoded (no metadata), within its byte cap."""
    c, person, ex = _open_exercise(code, pid, session, "fool")
    expl = _imagenet.explain_source(photo_source(photo), ex.model or None, None, "Grad-CAM", None)
    view = expl.views[0]
    top = expl.top5[0]
    meta = {"nickname": person.nickname, "model": expl.model_key, "model_title": str(expl.model_title),
            "top1": int(top[0]), "top1_name": str(top[1]), "prob": float(top[2]),
            "top5": [[int(i), str(n), float(p)] for i, n, p in expl.top5],
            "target": int(view.target), "cam": view.result.cam[0].detach().numpy().astype(float).round(6).tolist()}
    sid = store().add_submission(c, ex.id, person.pid, meta, _jpeg(expl.image), upload_cap())
    return expl, sid


def _submission(code: str, sid: Any) -> Any:
    if not sid or not _SID.match(str(sid)):
        raise Refusal("room.unknown_submission")
    for s in store().submissions(code):
        if s.sid == str(sid):
            return s
    raise Refusal("room.unknown_submission")


def moderate(code: str, key: str, sid: str, action: str) -> None:
    """Approve a submission (it may appear on the projector) or remove it (also after approving)."""
    check_key(code, key)
    c = normal_code(code)
    new = ACTIONS.get(str(action or "").strip().lower())
    if new is None:
        raise Refusal("room.bad_action", choices=", ".join(ACTIONS))
    _submission(c, sid)
    store().set_status(c, str(sid), new)


def submission_image(code: str, sid: str) -> np.ndarray | None:
    return blob_image(code, f"sub-{sid}")


def queue(code: str, key: str, status_: str | None = "pending") -> list[tuple[Any, bytes]]:
    """The facilitator's moderation queue: submissions (``status_``: "pending", "approved",
    "removed" or None for all) with their pictures."""
    check_key(code, key)
    c = normal_code(code)
    st = store()
    return [(s, st.blob(c, f"sub-{s.sid}") or b"") for s in st.submissions(c, None, status_)]


def gallery(code: str) -> list[tuple[Any, bytes]]:
    """The approved submissions only, with their pictures: all the projector may show."""
    c, _ = _room(code)
    st = store()
    return [(s, st.blob(c, f"sub-{s.sid}") or b"") for s in st.submissions(c, None, "approved")]


# --------------------------------------------------------------------------- results
def _score_numbers(s: Any) -> dict:
    return {"hit": bool(s.hit), "heat_share": round(float(s.heat_share), 6), "area_share": round(float(s.area_share), 6)}


def _class_numbers(cs: Any) -> dict:
    return {"answered": int(cs.answered), "hits": int(cs.hits), "popular": [int(v) for v in cs.popular],
            "heat_popular": round(float(cs.heat_popular), 6), "area_popular": round(float(cs.area_popular), 6),
            "mean_heat_share": round(float(cs.mean_heat_share), 6), "empty": bool(cs.empty),
            "counts": np.asarray(cs.counts).astype(int).tolist()}


def results(code: str, key: str) -> dict:
    """The room's results: per exercise, its settings, the class's reveal numbers and per nickname
    the taps and their scores; the submissions with their top-1 and status."""
    room = check_key(code, key)
    c = room.code
    st = store()
    names = {p.pid: p.nickname for p in st.people(c)}
    out = []
    for d in _history(c):
        ex = Exercise.from_dict(d)
        item: dict = {"id": ex.id, "kind": ex.kind, "at": ex.at}
        if ex.kind == "guess":
            taps = _taps(c, ex.id)
            own = ex.own_cam()
            cs = pointing.score_class(own, list(taps.values()))
            item.update(model=ex.model, model_title=ex.model_title, target=ex.target, **{"class": ex.class_name},
                        picture=ex.picture, grid=list(ex.grid), revealed=ex.revealed, reveal=_class_numbers(cs))
            rows = []
            for pid, cells in taps.items():
                row = {"nickname": names.get(pid, ""), "cells": cells, **_score_numbers(pointing.score(own, cells))}
                if ex.against:
                    row["against"] = _score_numbers(pointing.score(ex.cam_array(), cells))
                rows.append(row)
            item["answers"] = sorted(rows, key=lambda r: r["nickname"].casefold())
            if ex.against:
                item["against"] = {k: ex.against[k] for k in ("model", "model_title", "target", "class_name")}
                item["against"]["reveal"] = _class_numbers(pointing.score_class(ex.cam_array(), list(taps.values())))
        elif ex.kind == "fool":
            item.update(model=ex.model, model_title=ex.model_title)
            item["submissions"] = [{"nickname": s.meta.get("nickname", names.get(s.pid, "")), "top1": s.meta.get("top1_name"),
                                    "top1_index": s.meta.get("top1"), "prob": s.meta.get("prob"), "status": s.status}
                                   for s in st.submissions(c, ex.id)]
        else:
            item.update(tab=ex.tab, controls=list(ex.controls), link=ex.link)
        out.append(item)
    return {"room": c, "created": room.created, "expires": room.expires, "people": len(names), "exercises": out}


CSV_COLUMNS = ("room", "exercise", "kind", "model", "class", "nickname", "cells", "hit", "heat_share", "area_share",
               "top1", "prob", "status")


def results_rows(res: dict) -> list[dict]:
    """One row per exercise × nickname (taps and scores, or a submission's top-1 and status)."""
    rows = []
    for ex in res["exercises"]:
        base = {"room": res["room"], "exercise": ex["id"], "kind": ex["kind"], "model": ex.get("model", ""),
                "class": ex.get("class", "")}
        for a in ex.get("answers", []):
            rows.append({**base, "nickname": a["nickname"], "cells": " ".join(str(v) for v in a["cells"]),
                         "hit": int(a["hit"]), "heat_share": a["heat_share"], "area_share": a["area_share"]})
        for s in ex.get("submissions", []):
            rows.append({**base, "nickname": s["nickname"], "top1": s["top1"], "prob": s["prob"], "status": s["status"]})
    return [{k: r.get(k, "") for k in CSV_COLUMNS} for r in rows]


def close(code: str, key: str) -> None:
    """Close the room: it and everything it holds (people, answers, pictures) are deleted."""
    room = check_key(code, key)
    store().close_room(room.code)
    with _image_lock:
        for k in [k for k in _images if k[0] == room.code]:
            _images.pop(k, None)
