"""The workshop rooms' API (issue 26): typed, state-free ``gr.api`` endpoints, every ``api_name``
starting ``room_``, for ``gradio_client`` scripts (docs/room_client_example.py runs a whole round)
and for anyone who builds their own room pages.

Each endpoint checks its arguments (``coerce.checked_api``) and shows a refusal as the page does
(``common.user_errors``: a ``gr.Error`` with the catalogue's sentence). The facilitator's endpoints
take the room's key; the phones' ones take the room's code and the phone's own ``pid`` (from
``room_join``) and never answer with the key. Who is "local" (may open a room without a password)
is read from the request: its client address and ``X-Forwarded-For`` (HAProxy sets it).

The work is :mod:`gradcam_core.services.rooms`; this module only turns its results into JSON.
"""
import csv  # no ``from __future__ import annotations``: Gradio reads these hints as objects
import io
import json
import threading
from pathlib import Path
from typing import Any, Callable

import gradio as gr
import numpy as np
from cachetools import LRUCache
from gradio.data_classes import FileData

from gradcam_core.present import codec
from gradcam_core.present import room_view as view_words
from gradcam_core.present.words import say
from gradcam_core.services import rooms as svc
from gradcam_core.ui.coerce import checked_api
from gradcam_core.ui.common import user_errors
from gradcam_core.ui.files import _out_dir

#: Every endpoint, by API name.
ENDPOINTS = ("room_open", "room_join", "room_version", "room_view", "room_status", "room_push", "room_answer",
             "room_reveal", "room_submit", "room_queue", "room_moderate", "room_results", "room_close")

#: Set by :func:`register`: whether the app runs in workshop mode, and its join address.
_settings: dict = {"workshop": False, "join_url": None}


# --------------------------------------------------------------------------- the request
def request_is_local(request: gr.Request | None) -> bool:
    """Whether a request comes from this machine (see :func:`services.rooms.is_local`)."""
    if request is None:
        return False
    client = getattr(request, "client", None)
    host = getattr(client, "host", None)
    headers = getattr(request, "headers", None) or {}
    return svc.is_local(host, headers.get("x-forwarded-for"))


def session_of(request: gr.Request | None) -> str:
    """What the rate limits count by: the Gradio session (a page load, a gradio_client Client)."""
    return str(getattr(request, "session_hash", None) or "")


def base_url(request: gr.Request | None) -> str:
    """The address phones open: the workshop's join address (the LAN or share link) when there is
    one, else the address this request came to."""
    url = _settings["join_url"]
    url = url() if callable(url) else url
    if url:
        return str(url).rstrip("/")
    headers = getattr(request, "headers", None) or {}
    host = (headers.get("x-forwarded-host") or headers.get("host") or "127.0.0.1").split(",")[0].strip()
    proto = (headers.get("x-forwarded-proto") or "http").split(",")[0].strip()
    return f"{proto}://{host}"


def own_url(request: gr.Request | None) -> str:
    """The address this request came to (the facilitator's own machine)."""
    headers = getattr(request, "headers", None) or {}
    host = (headers.get("x-forwarded-host") or headers.get("host") or "127.0.0.1").split(",")[0].strip()
    proto = (headers.get("x-forwarded-proto") or "http").split(",")[0].strip()
    return f"{proto}://{host}"


def allowed(request: gr.Request | None) -> tuple[bool, str | None, bool]:
    """(rooms allowed here, catalogue key of why not, a password is needed) for this request (the
    facilitator page asks this to show or hide its password box)."""
    local = request_is_local(request)
    ok, why = svc.rooms_allowed(local, _settings["workshop"])
    return ok, why, svc.needs_password(local, _settings["workshop"])


# --------------------------------------------------------------------------- JSON forms
def score_json(s: Any) -> dict | None:
    if s is None:
        return None
    return {"cells": [int(v) for v in s.cells], "hottest": [int(v) for v in s.hottest], "hit": bool(s.hit),
            "heat_share": round(float(s.heat_share), 6), "area_share": round(float(s.area_share), 6),
            "empty": bool(s.empty)}


def class_json(cs: Any) -> dict:
    return {"answered": int(cs.answered), "grid": [int(v) for v in cs.grid], "hits": int(cs.hits),
            "popular": [int(v) for v in cs.popular], "heat_popular": round(float(cs.heat_popular), 6),
            "area_popular": round(float(cs.area_popular), 6), "mean_heat_share": round(float(cs.mean_heat_share), 6),
            "empty": bool(cs.empty), "counts": np.asarray(cs.counts).astype(int).tolist()}


#: an exercise's picture as a PNG data URL, by (room, exercise): encoded once, not on every phone's poll
_pictures: LRUCache = LRUCache(maxsize=64)
_pictures_lock = threading.Lock()


def picture_url(code: str, view: Any) -> str | None:
    """The phone's picture of ``view`` (a services.rooms.PhoneView) as a PNG data URL, or None."""
    if view.image is None or not view.exercise:
        return None
    key = (svc.normal_code(code), view.exercise["id"])
    with _pictures_lock:
        url = _pictures.get(key)
    if url is None:
        url = codec.png_data_url(view.image)
        with _pictures_lock:
            _pictures[key] = url
    return url


def _cam_json(cam: np.ndarray | None) -> list | None:
    return None if cam is None else np.round(np.asarray(cam, dtype=float), 6).tolist()


def csv_text(rows: list[dict]) -> str:
    """The results' rows as CSV; a cell a spreadsheet would run as a formula (=, +, -, @ first) is
    written with a leading apostrophe."""
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(svc.CSV_COLUMNS))
    w.writeheader()
    for row in rows:
        w.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r") else v)
                    for k, v in row.items()})
    return out.getvalue()


def write_results(code: str, key: str, folder: str | Path | None = None) -> tuple[str, str, dict]:
    """The room's results as files: (JSON path, CSV path, the results)."""
    res = svc.results(code, key)
    d = _out_dir(folder)
    jpath = d / f"room-{res['room']}.json"
    cpath = d / f"room-{res['room']}.csv"
    jpath.write_text(json.dumps(res, indent=1, ensure_ascii=False), encoding="utf-8")
    cpath.write_text(csv_text(svc.results_rows(res)), encoding="utf-8")
    return str(jpath), str(cpath), res


def _file(path: str) -> dict:
    return FileData(path=path, orig_name=Path(path).name).model_dump()


def _path_of(photo: Any) -> Any:
    if isinstance(photo, FileData):
        return photo.path
    if isinstance(photo, dict):
        return photo.get("path") or photo.get("url")
    return photo


# --------------------------------------------------------------------------- the endpoints
@user_errors
def room_open(password: str = "", request: gr.Request = None) -> dict:
    """Open a workshop room. On the facilitator's laptop (a request from this machine, or the app
    started with --workshop) anyone may; on a public server only with the facilitator password its
    host set (GRADCAM_FACILITATOR_PASSWORD).

    Args:
        password: The facilitator password (only needed on a public server).

    Returns:
        The room's code (for the phones), its facilitator key (every facilitator action needs it),
        the phones' join address and the facilitator's own address.
    """
    local = request_is_local(request)
    opened = svc.open_room(password or None, local, _settings["workshop"], session_of(request))
    return {"code": opened.code, "key": opened.key, "expires": opened.expires,
            "join_url": f"{base_url(request)}/?room={opened.code}",
            "facilitator_url": f"{own_url(request)}/facilitator?room={opened.code}&key={opened.key}"}


@user_errors
def room_join(code: str, nickname: str = "", pid: str = "", request: gr.Request = None) -> dict:
    """Join a room as a participant (no account: an optional nickname, else a friendly default).

    Args:
        code: The room's code, as shown on the projector.
        nickname: An optional nickname (at most 24 characters).
        pid: The pid this phone got when it joined before: it is back under its nickname.

    Returns:
        The phone's pid (send it with every later call) and its nickname.
    """
    person = svc.join(code, nickname, pid or None, session_of(request))
    return {"pid": person.pid, "nickname": person.nickname}


@user_errors
def room_version(code: str) -> dict:
    """The room's version: it changes whenever something a phone shows changes (poll it, then call
    room_view only when it changed).

    Args:
        code: The room's code.

    Returns:
        The version (null when the room is unknown, closed or expired).
    """
    return {"version": svc.version(code)}


@user_errors
def room_view(code: str, pid: str) -> dict:
    """What one phone sees now: the exercise (its picture and grid), its own cells and, after the
    reveal, the map and its own score.

    Args:
        code: The room's code.
        pid: The phone's pid (from room_join).

    Returns:
        version, nickname, exercise, image (a PNG data URL), my_cells, revealed; after the reveal my_score,
        its sentence and the map (cam).
    """
    v = svc.phone_view(code, pid)
    sentence = None
    if v.my_score is not None and v.exercise:
        shown = v.exercise.get("against") or v.exercise
        sentence = view_words.own_text(v.my_score, shown.get("class_name", ""))
    return {"version": v.version, "nickname": v.nickname, "exercise": v.exercise, "image": picture_url(code, v),
            "my_cells": [int(c) for c in v.my_cells], "revealed": v.revealed, "my_score": score_json(v.my_score),
            "sentence": sentence, "cam": _cam_json(v.cam), "my_submission": v.my_submission}


@user_errors
def room_status(code: str, key: str) -> dict:
    """The facilitator's live counts: phones joined, answers to the current exercise (never their
    content), submissions waiting for moderation.

    Args:
        code: The room's code.
        key: The room's facilitator key.

    Returns:
        people, answered, pending, version, the current exercise's kind and whether it is revealed.
    """
    s = svc.status(code, key)
    return {"people": s.people, "answered": s.answered, "pending": s.pending, "version": s.version,
            "kind": s.kind, "revealed": s.revealed}


@user_errors
def room_push(code: str, key: str, kind: str, picture: str = "", model: str = "", target: str = "",
              tab: str = "", controls: str = "", link: str = "") -> dict:
    """Push an exercise to every phone of the room: "guess" (where does the model look? the
    phones tap up to three cells), "fool" (the phones submit photos), or "locked" (a tab with only
    some controls).

    Args:
        code: The room's code.
        key: The room's facilitator key.
        kind: "guess", "fool" or "locked".
        picture: For guess: "example:<file>" (an example photo, e.g. example:chelsea_cat.jpg), "digit:<index>" (a held-out digit) or "upload:<data: URL>".
        model: The model (empty: the default; LeNet for a digit).
        target: The class to explain: empty or "predicted" for the model's own answer, or a class name or index.
        tab: For locked: mnist, imagenet or spurious.
        controls: For locked: the controls that stay visible, comma-separated.
        link: For locked: a deep link's query string to open the tab on.

    Returns:
        The exercise as the phones see it.
    """
    kind = (kind or "").strip().lower()
    if kind == "guess":
        ex = svc.push_guess(code, key, picture, model or None, target or None)
    elif kind == "fool":
        ex = svc.push_fool(code, key, model or None)
    elif kind == "locked":
        ex = svc.push_locked(code, key, tab, controls, link)
    else:
        svc.check_key(code, key)
        raise gr.Error(say("room.bad_kind", choices=", ".join(svc.KINDS)), print_exception=False)
    return {"exercise": ex.shown()}


@user_errors
def room_answer(code: str, pid: str, cells: list[int] | str, request: gr.Request = None) -> dict:
    """Send this phone's guess: up to three cells of the grid (flat indices row * width + column).
    Sending again replaces it; after the reveal no answer is taken.

    Args:
        code: The room's code.
        pid: The phone's pid (from room_join).
        cells: The cells, as a list of integers or as text like "3,10,17".

    Returns:
        The cells kept.
    """
    return {"cells": svc.answer(code, pid, cells, session_of(request))}


@user_errors
def room_reveal(code: str, key: str, model: str = "", target: str = "") -> dict:
    """Reveal the current guess exercise: the class's taps against the model's map, with each
    phone's own score. After the reveal, a model or class shows the same taps against its map.

    Args:
        code: The room's code.
        key: The room's facilitator key.
        model: Empty, or another model to show the same taps against.
        target: Empty, or another class to show the same taps against.

    Returns:
        The reveal's sentence and text alternative, its numbers, each nickname's score and the map.
    """
    r = svc.reveal(code, key, model or None, target or None)
    return reveal_json(r)


def reveal_json(r: Any) -> dict:
    """A reveal as JSON: the projector's sentence and text alternative, the numbers, each nickname's score."""
    return {"sentence": view_words.reveal_text(r.class_score, r.class_name, r.model_title),
            "alt": view_words.reveal_alt(r.class_score, r.class_name, cam=r.cam),
            "class_name": r.class_name, "model_title": r.model_title, "numbers": class_json(r.class_score),
            # by nickname: unique within a room (services.rooms.unique_nickname), so no two answers merge
            "scores": {r.nicknames.get(pid, pid): score_json(s) for pid, s in r.scores.items()},
            "cam": _cam_json(r.cam), "exercise": r.exercise.shown()}


@user_errors
def room_submit(code: str, pid: str, photo: FileData, request: gr.Request = None) -> dict:
    """Submit a photo in a "fool the model" exercise: it is explained at once (top-5) and waits for
    the facilitator's approval before it can appear on the projector.

    Args:
        code: The room's code.
        pid: The phone's pid (from room_join).
        photo: The photo (PNG, JPEG, WebP or HEIC).

    Returns:
        The top-5 classes with probabilities and the submission's id.
    """
    expl, sid = svc.submit(code, pid, _path_of(photo), session_of(request))
    return {"sid": sid, "model": expl.model_key,
            "top5": [{"class": i, "name": n, "prob": round(float(p), 6)} for i, n, p in expl.top5],
            "cam": _cam_json(expl.views[0].result.cam[0].detach().numpy())}


@user_errors
def room_queue(code: str, key: str, status: str = "pending") -> dict:
    """The submissions of the room with a status, for moderation.

    Args:
        code: The room's code.
        key: The room's facilitator key.
        status: "pending", "approved", "removed" or "all".

    Returns:
        The submissions: sid, nickname, top-1 class and probability, status.
    """
    wanted = None if status in ("", "all") else status
    if wanted not in (None, "pending", "approved", "removed"):
        raise gr.Error(say("room.bad_status"), print_exception=False)
    items = svc.queue(code, key, wanted)
    return {"submissions": [{"sid": s.sid, "nickname": s.meta.get("nickname", ""), "top1": s.meta.get("top1_name"),
                             "prob": s.meta.get("prob"), "status": s.status, "exercise": s.exercise_id}
                            for s, _ in items]}


@user_errors
def room_moderate(code: str, key: str, sid: str, action: str) -> dict:
    """Approve a submission (it may then appear on the projector) or remove it (also once approved).

    Args:
        code: The room's code.
        key: The room's facilitator key.
        sid: The submission's id (from room_queue).
        action: "approve" or "remove".

    Returns:
        The submission's new status.
    """
    svc.moderate(code, key, sid, action)
    return {"sid": sid, "status": svc.ACTIONS[action.strip().lower()]}


@user_errors
def room_results(code: str, key: str) -> dict:
    """The room's results: per exercise and nickname, the taps and their scores, and the
    submissions' predictions and status, as a JSON and a CSV file.

    Args:
        code: The room's code.
        key: The room's facilitator key.

    Returns:
        json and csv (files), and the results themselves.
    """
    jpath, cpath, res = write_results(code, key)
    return {"json": _file(jpath), "csv": _file(cpath), "results": res}


@user_errors
def room_close(code: str, key: str) -> dict:
    """Close the room: it and everything it holds (people, answers, pictures) are deleted.

    Args:
        code: The room's code.
        key: The room's facilitator key.

    Returns:
        closed: true.
    """
    svc.close(code, key)
    return {"closed": True}


def register(concurrency_limit: int = 2, join_url: str | Callable[[], str | None] | None = None) -> None:
    """Add the ``room_*`` endpoints to the Blocks being built. ``join_url``: the workshop's join
    address (or a function returning it); given, the app runs in workshop mode (anyone may open a
    room) and the rooms' join links use it."""
    _settings["workshop"] = join_url is not None
    _settings["join_url"] = join_url
    light = dict(concurrency_limit=None, concurrency_id="room_light")
    heavy = dict(concurrency_limit=concurrency_limit, concurrency_id="room_model")
    for fn, kw in ((room_open, light), (room_join, light), (room_version, light), (room_view, light),
                   (room_status, light), (room_push, heavy), (room_answer, light), (room_reveal, heavy),
                   (room_submit, heavy), (room_queue, light), (room_moderate, light), (room_results, light),
                   (room_close, light)):
        gr.api(checked_api(fn), api_name=fn.__name__, **kw)
