"""The phone's room panel (issue 26): the main page opened with ``?room=CODE`` shows it at the top.

Without ``room`` in the address nothing of it is shown and the page makes no room request: the room
code is read in the browser (a js-only load event) and only a code starts the panel's events.

What a phone does, all page-only events (``api_visibility="private"``; the API is ``ui/room_api.py``):

- **join**: a nickname (optional: the service gives a friendly default) → ``rooms.join``. The code,
  the phone's id and its nickname stay in the browser (``gr.BrowserState``, a fixed storage key and
  secret, so a reload, a restart or another replica reads it back): a reload is back in the room
  under the same nickname, with no question asked.
- **live**: a ``gr.Timer`` (:data:`POLL_SECONDS`) whose tick runs in the browser only
  (:data:`STAMP_JS`) reads the room's phone stamp from a plain route (``serving.RoomStamp``: one read
  of the store, no Gradio event); when the stamp changed (a new exercise, the reveal, the room gone),
  the phone's view is fetched, and only the parts that changed are sent (the picture only for a new
  exercise, the reveal once).
- **guess**: the tap grid (:func:`tap_grid`): the picture with the model's grid, one ``<button>``
  per cell, ≤ :data:`MAX_CELLS` chosen; **Send** sends them (sending again replaces the answer).
  After the reveal: the phone's own cells on the Grad-CAM and its score sentence.
- **fool**: a photo → the model's top-5 and overlay at once; it goes to the facilitator's queue.
- **locked**: only the pushed tab and the listed controls stay visible (:func:`lock_css`, keyed by
  the elem_ids of :data:`LOCKABLE`); the exercise's deep link goes through the page's query box.
"""
from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass
from typing import Any, Sequence

import gradio as gr
import numpy as np

from gradcam_core.present import codec
from gradcam_core.present.words import say
from gradcam_core.ui.common import PAGE_ONLY, ResultImage, SafeImage, user_errors
from gradcam_core.ui.serving import ROOM_STAMP_PATH

__all__ = ["PANEL_ID", "POLL_SECONDS", "MAX_CELLS", "LOCKABLE", "TABS", "lockable_choices", "lock_css",
           "grid_value", "tap_grid", "RoomPanel", "build", "wire", "CSS", "ROOM_CODE_JS", "plain"]

PANEL_ID = "room-panel"
#: Seconds between two version polls of a phone (the issue: a pushed exercise within 2 s).
POLL_SECONDS = 1.5
#: At most this many cells per answer (analysis.pointing.MAX_CELLS; the service checks it too).
MAX_CELLS = 3
#: localStorage key of the phone's room ({code, pid, nickname}). The secret is fixed (or
#: $GRADCAM_ROOMS_BROWSER_SECRET) so that a restarted server and every replica can read it back:
#: it guards nothing a person could not read in their own browser anyway.
STORAGE_KEY = "gradcam-room"
BROWSER_SECRET = os.environ.get("GRADCAM_ROOMS_BROWSER_SECRET") or "gradcam-explorer-room-v1"

#: The tabs a locked view can show (gr.Tab ids of app.py).
TABS = ("mnist", "imagenet", "spurious")
#: The controls a locked view can keep (elem_ids on the tabs) → catalogue key of their name.
#: A locked view hides every one of these but the chosen ones, and every tab but its own.
LOCKABLE: dict[str, dict[str, str]] = {
    "mnist": {"mnist-inputs": "room_page.control.mnist_inputs", "mnist-target": "room_page.control.target",
              "mnist-channel": "room_page.control.channel", "mnist-layer": "room_page.control.layer",
              "mnist-cmap": "room_page.control.cmap", "mnist-placement": "room_page.control.placement",
              "mnist-cell": "room_page.control.cell"},
    "imagenet": {"imagenet-photo": "room_page.control.photo", "imagenet-examples": "room_page.control.examples",
                 "imagenet-model": "room_page.control.model", "imagenet-layer": "room_page.control.layer",
                 "imagenet-method": "room_page.control.method", "imagenet-target": "room_page.control.target",
                 "imagenet-target2": "room_page.control.target2", "imagenet-alpha": "room_page.control.alpha",
                 "imagenet-norm": "room_page.control.norm", "imagenet-cmap": "room_page.control.cmap",
                 "imagenet-cell": "room_page.control.cell"},
    "spurious": {},
}

#: js of a load event: the room code in the page's address (``?room=``), upper-cased, else "".
ROOM_CODE_JS = "() => (new URLSearchParams(window.location.search).get('room') || '').trim().toUpperCase()"

#: The timer's tick, in the browser only: read the room's phone stamp from the plain route
#: (``serving.RoomStamp``, no Gradio event) and return it; the hidden stamp box's ``change`` then
#: asks the server for the view, so an idle phone costs one store read per tick. On a network error
#: the last stamp is kept (no change, no event); a room that has gone answers 404 ("gone").
STAMP_JS = """async (code, last) => {
  if (!code) return last;
  const root = ((window.gradio_config && window.gradio_config.root) || window.location.origin).replace(/\\/+$/, '');
  try {
    const r = await fetch(root + '%s?code=' + encodeURIComponent(code), {cache: 'no-store'});
    if (r.status === 404) return 'gone';
    if (!r.ok) return last;
    const j = await r.json();
    return (j && typeof j.stamp === 'string') ? j.stamp : last;
  } catch (e) { return last; }
}"""

CSS = f"""
#{PANEL_ID} {{ border: 2px solid var(--color-accent); border-radius: 10px; padding: 4px !important; }}
#room-grid, #room-grid .html-container, #room-grid .tg-wrap {{ padding: 0 !important; margin: 0 !important; }}
#room-grid .tg {{ position: relative; display: grid; width: 100%; max-width: 560px; margin: 0 auto;
  background-size: 100% 100%; background-repeat: no-repeat; touch-action: manipulation; }}
#room-grid .tg-cell {{ min-height: 0 !important; border: 0; border-radius: 0; padding: 0; margin: 0;
  background: transparent; cursor: pointer; -webkit-tap-highlight-color: transparent; }}
#room-grid .tg-cell[aria-pressed="true"] {{ background: rgba(194, 65, 12, 0.38); outline: 4px solid #c2410c;
  outline-offset: -4px; }}
#room-grid .tg-cell:focus-visible {{ outline: 4px solid #1d4ed8 !important; outline-offset: -4px; }}
#room-grid .tg-cell:disabled {{ cursor: default; }}
#room-grid .tg-note {{ margin: 0.4em 0 0; min-height: 1.4em; font-weight: 600; }}
#room-own-text p {{ margin: 0.3em 0; }}
"""

# the tap grid: a JS template (Handlebars first, then a JS template literal; no backticks, no double
# braces). value = {src, h, w, rows, cols, aspect, cells, max, names, chosen, full, note, label, locked}
GRID_TEMPLATE = """<div class="tg-wrap">${value && value.h ? '<div class="tg" role="group" aria-label="' + value.label
+ '" style="background-image:url(' + value.src + ');aspect-ratio:' + value.aspect + ';grid-template-columns:' + value.cols
+ ';grid-template-rows:' + value.rows + '">' + Array.from({length: value.h * value.w},
(_, i) => '<button type="button" class="tg-cell" data-cell="' + i + '" aria-pressed="'
+ ((value.cells || []).indexOf(i) >= 0 ? 'true' : 'false') + '" aria-label="' + value.names[i] + '"'
+ (value.locked ? ' disabled' : '') + '></button>').join('') + '</div><p class="tg-note" role="status">'
+ (value.note || value.chosen[(value.cells || []).length] || '') + '</p>' : ''}</div>"""

# taps (a touch is a click), arrow keys move the focus (one cell of the grid in the tab order),
# Enter/Space are the button's own click
GRID_JS = r"""
let focus = 0;
const cells = () => [...element.querySelectorAll('.tg-cell')];
const roving = () => { const cs = cells(); if (!cs.length) return; focus = Math.min(focus, cs.length - 1);
  cs.forEach((c, i) => c.tabIndex = i === focus ? 0 : -1); };
const set = (v) => { props.value = v; setTimeout(roving, 0); };
element.addEventListener('click', (e) => {
  const b = e.target.closest && e.target.closest('.tg-cell');
  const v = props.value;
  if (!b || !v || !v.h || v.locked) return;
  const i = Number(b.dataset.cell); focus = i;
  const chosen = (v.cells || []).slice();
  const at = chosen.indexOf(i);
  if (at >= 0) { chosen.splice(at, 1); set(Object.assign({}, v, {cells: chosen, note: ''})); return; }
  if (chosen.length >= v.max) { set(Object.assign({}, v, {note: v.full})); return; }
  chosen.push(i); set(Object.assign({}, v, {cells: chosen, note: ''}));
});
element.addEventListener('keydown', (e) => {
  const b = e.target.closest && e.target.closest('.tg-cell');
  const v = props.value;
  if (!b || !v || !v.h) return;
  const i = Number(b.dataset.cell), r = Math.floor(i / v.w), c = i % v.w;
  const to = {ArrowLeft: [r, c - 1], ArrowRight: [r, c + 1], ArrowUp: [r - 1, c], ArrowDown: [r + 1, c],
              Home: [r, 0], End: [r, v.w - 1]}[e.key];
  if (!to) return;
  e.preventDefault();
  const nr = Math.max(0, Math.min(v.h - 1, to[0])), nc = Math.max(0, Math.min(v.w - 1, to[1]));
  focus = nr * v.w + nc; roving();
  const t = cells()[focus]; if (t) t.focus();
});
watch('value', roving);
roving();
"""


def plain(text: Any) -> str:
    """A person's text (a nickname) safe inside Markdown: HTML escaped, Markdown's marks backslashed."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~>])", r"\\\1", html.escape(str(text or ""), quote=True))


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """A field of the service's objects (a dataclass, or the plain dict an exercise is stored as)."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


# --------------------------------------------------------------------------- the tap grid
def _cell_names(grid: tuple[int, int]) -> list[str]:
    from gradcam_core.present import room_view

    h, w = grid
    return [html.escape(room_view.cell_name(i, (h, w)), quote=True) for i in range(h * w)]


def _tracks(edges: Sequence[float]) -> str:
    """CSS grid tracks (``fr``) from cell edges given as fractions of the picture (0 … 1)."""
    return " ".join(f"{max(float(b) - float(a), 1e-4):.5f}fr" for a, b in zip(edges[:-1], edges[1:]))


def grid_value(picture: np.ndarray | None, grid: Sequence[int] | None, cells: Sequence[int] = (), locked: bool = False,
               max_cells: int = MAX_CELLS, centres: Any = None) -> dict:
    """The tap grid's value: ``picture`` (uint8 RGB, drawn with its grid) as a data URL, the grid
    (h, w) and where its cells lie (``centres``: ``room_view.centre_fractions``, for cells laid where
    they look; None: equal cells), the chosen ``cells`` (flat indices) and every word the grid shows
    or names (cell names, "n of 3 chosen", the message of a 4th tap). ``locked``: after the reveal,
    the cells no longer toggle."""
    from gradcam_core.present import room_view

    if picture is None or not grid:
        return {"h": 0}
    h, w = int(grid[0]), int(grid[1])
    pic = np.asarray(picture)
    rows, cols = room_view.edge_fractions((h, w), centres)
    return {"src": codec.png_data_url(pic), "h": h, "w": w, "rows": _tracks(rows), "cols": _tracks(cols),
            "aspect": round(pic.shape[1] / max(1, pic.shape[0]), 4),
            "cells": [int(c) for c in cells if 0 <= int(c) < h * w][:max_cells], "max": int(max_cells),
            "names": _cell_names((h, w)),
            "chosen": [say("room_page.chosen", n=n, max=max_cells) for n in range(max_cells + 1)],
            "full": say("room_page.full", max=max_cells), "note": "",
            "label": html.escape(say("room_page.grid_label", h=h, w=w, max=max_cells), quote=True),
            "locked": bool(locked)}


def chosen_cells(value: Any) -> list[int]:
    """The cells chosen on the grid (its value as the browser sends it); refuses anything else."""
    cells = value.get("cells") if isinstance(value, dict) else None
    if not isinstance(cells, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in cells):
        raise gr.Error(say("room_page.error.no_grid"), print_exception=False)
    if not cells:
        raise gr.Error(say("room_page.error.no_cells"), print_exception=False)
    return cells


def tap_grid(elem_id: str = "room-grid") -> gr.HTML:
    """The tap grid component (empty until an exercise arrives)."""
    # (first value "": the page's config holds no grid until an exercise arrives)
    return gr.HTML("", html_template=GRID_TEMPLATE, js_on_load=GRID_JS, elem_id=elem_id,
                   apply_default_css=False, container=False, padding=False)


# --------------------------------------------------------------------------- locked views
def lockable_choices(tab: str | None = None) -> list[tuple[str, str]]:
    """(name, elem_id) of the controls a locked view can keep: of one tab, or of all."""
    tabs = [tab] if tab else list(LOCKABLE)
    return [(say(key), elem_id) for t in tabs for elem_id, key in LOCKABLE.get(t, {}).items()]


def lock_css(tab: str | None, controls: Sequence[str] = ()) -> str:
    """The ``<style>`` of a locked view: every tab but ``tab`` and every lockable control not in
    ``controls`` hidden (empty for no locked view). Only known ids and tabs go into the CSS."""
    if not tab or tab not in TABS:
        return ""
    keep = set(controls or ())
    tabs = [f'.tab-wrapper button[data-tab-id="{t}"]' for t in TABS if t != tab]
    hidden = [f"#{c}" for t in LOCKABLE.values() for c in t if c not in keep]
    rules = ", ".join(tabs + hidden)
    return f"<style>{rules} {{ display: none !important; }}</style>"


# --------------------------------------------------------------------------- the panel
@dataclass
class RoomPanel:
    """The panel's components."""

    panel: Any
    code: Any          # hidden: the room code from the address
    saved: Any         # gr.BrowserState {code, pid, nickname}
    state: Any         # gr.State {code, pid, version, exercise, revealed, kind}
    status: Any
    join_box: Any
    nickname: Any
    join: Any
    guess_box: Any
    prompt: Any
    grid: Any
    send: Any
    own: Any
    own_text: Any
    fool_box: Any
    photo: Any
    submit: Any
    result: Any
    top5: Any
    overlay: Any
    sent: Any
    lock: Any
    timer: Any
    stamp: Any = None  # hidden: the room's phone stamp, as the browser last read it (STAMP_JS)

    def named(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def _svc():
    from gradcam_core.services import rooms

    return rooms


def _session(request: gr.Request | None) -> str:
    return str(getattr(request, "session_hash", None) or "")


def _https(request: gr.Request | None) -> bool:
    """Whether the phone opened the page over HTTPS (directly, or behind a proxy that says so)."""
    req = getattr(request, "request", None)
    headers = getattr(request, "headers", None) or {}
    proto = (headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower()
    scheme = getattr(getattr(req, "url", None), "scheme", "") or ""
    return proto == "https" or scheme == "https"


def _status_line(code: str, nickname: str | None, extra_key: str | None = None) -> str:
    line = say("room_page.joined", code=plain(code), nickname=plain(nickname))
    return line + ("\n\n" + say(extra_key) if extra_key else "")


def view_updates(view: Any, shown: dict, code: str, pid: str) -> tuple[dict, dict]:
    """({name: value} for the panel, the new ``shown`` state) from the service's ``PhoneView``:
    only what changed since ``shown`` (a new exercise: picture and prompt; the reveal: the own picture
    and sentence; a locked view: its CSS and link)."""
    ex = _get(view, "exercise")
    ex_id = _get(ex, "id")
    kind = _get(ex, "kind")
    revealed = bool(_get(view, "revealed", False))
    new = {"code": code, "pid": pid, "version": _get(view, "version"), "exercise": ex_id, "kind": kind,
           "revealed": revealed, "nickname": _get(view, "nickname")}
    out: dict = {}
    fresh = ex_id != shown.get("exercise")
    if fresh or shown.get("nickname") != new["nickname"]:
        extra = None if ex_id else "room_page.waiting"
        out["status"] = _status_line(code, new["nickname"], extra)
    if fresh:
        out["guess_box"] = gr.Column(visible=kind == "guess")
        out["fool_box"] = gr.Column(visible=kind == "fool")
        out["lock"] = ""
        if kind == "guess":
            grid = _get(ex, "grid")
            out["prompt"] = say("room_page.guess_prompt", model=plain(_get(ex, "model_title", "")),
                                class_name=plain(_get(ex, "class_name", "")), max=MAX_CELLS)
            out["grid"] = _guess_grid(view, grid, revealed)
            out["own"] = gr.update(value=None, visible=False)
            out["own_text"] = ""
            out["send"] = gr.Button(visible=not revealed)
        elif kind == "fool":
            out["top5"] = None
            out["overlay"] = None
            out["sent"] = say("room_page.submitted") if _get(view, "my_submission") else ""
        elif kind == "locked":
            out["lock"] = lock_css(_get(ex, "tab"), _get(ex, "controls") or ())
            out["_locked"] = (_get(ex, "tab"), _get(ex, "link") or "")
            out["status"] = _status_line(code, new["nickname"], "room_page.locked_note")
    if kind == "guess" and revealed and (fresh or not shown.get("revealed")):
        out.update(_revealed(view, ex))
    return out, new


def centres_of(ex: Any) -> Any:
    """Where an exercise's cells lie on its picture (``room_view.exercise_centres``)."""
    from gradcam_core.present import room_view

    return room_view.exercise_centres(ex)


def _guess_grid(view: Any, grid: Any, revealed: bool) -> dict:
    from gradcam_core.present import room_view

    image = _get(view, "image")
    if image is None or not grid:
        return {"h": 0}
    h, w = int(grid[0]), int(grid[1])
    centres = centres_of(_get(view, "exercise"))
    return grid_value(room_view.guess_picture(np.asarray(image), (h, w), centres), (h, w),
                      _get(view, "my_cells") or (), locked=revealed, centres=centres)


def _revealed(view: Any, ex: Any) -> dict:
    """After the reveal: the phone's own cells on the Grad-CAM, with the score sentence and the
    picture's text alternative (or, with no answer, a sentence that says so)."""
    from gradcam_core.present import room_view

    score = _get(view, "my_score")
    cam = _get(view, "cam")
    image = _get(view, "image")
    cells = list(_get(view, "my_cells") or ())
    out: dict = {"send": gr.Button(visible=False),
                 "prompt": say("room_page.revealed_prompt", model=plain(_get(ex, "model_title", "")),
                               class_name=plain(_get(ex, "class_name", "")))}
    grid = _get(ex, "grid")
    centres = centres_of(ex)
    if image is not None and grid:
        out["grid"] = grid_value(room_view.guess_picture(np.asarray(image), (int(grid[0]), int(grid[1])), centres),
                                 grid, cells, locked=True, centres=centres)
    if score is None or cam is None or image is None:
        out["own_text"] = say("room_page.no_answer")
        return out
    cam = np.asarray(cam, dtype=np.float32)
    out["own"] = gr.update(value=room_view.own_picture(np.asarray(image), cam, cells, centres=centres), visible=True,
                           alt_text=room_view.own_alt(score))
    out["own_text"] = room_view.own_text(score, str(_get(ex, "class_name", "")))
    return out


def _load(saved: Any, code: str) -> dict | None:
    """The phone's saved room ({code, pid, nickname}) when it is the room in the address."""
    if isinstance(saved, str):
        try:
            saved = json.loads(saved)
        except ValueError:
            saved = None
    if isinstance(saved, dict) and saved.get("code") == code and isinstance(saved.get("pid"), str) and saved["pid"]:
        return saved
    return None


def enter(code: Any, saved: Any, request: gr.Request | None = None) -> dict:
    """The page was opened with ``?room=CODE``: a phone that was in this room is back in it at once
    (its saved id and nickname); any other sees the join form."""
    code = str(code or "").strip().upper()
    if not code:
        return {}
    if _svc().version(code) is None:  # a mistyped code, or a room that was closed or has expired
        return {"panel": gr.Column(visible=True), "status": say("room_page.gone", code=plain(code))}
    mine = _load(saved, code)
    if mine is None:
        return {"panel": gr.Column(visible=True), "join_box": gr.Column(visible=True),
                "status": say("room_page.before_join", code=plain(code))}
    try:
        person = _svc().join(code, mine.get("nickname"), mine["pid"], _session(request))
    except ValueError:  # the room is gone (closed, expired) or full: start again with the form
        return {"panel": gr.Column(visible=True), "join_box": gr.Column(visible=True),
                "status": say("room_page.before_join", code=plain(code)), "saved": None}
    return _joined(code, person, request)


def _joined(code: str, person: Any, request: gr.Request | None) -> dict:
    pid, nickname = _get(person, "pid"), _get(person, "nickname")
    view = _svc().phone_view(code, pid)
    out, shown = view_updates(view, {}, code, pid)
    out.update({"panel": gr.Column(visible=True), "join_box": gr.Column(visible=False),
                "saved": {"code": code, "pid": pid, "nickname": nickname}, "state": shown,
                "timer": gr.Timer(active=True),
                "photo": gr.Image(sources=["upload", "webcam"] if _https(request) else ["upload"])})
    out.setdefault("status", _status_line(code, nickname, None if shown.get("exercise") else "room_page.waiting"))
    return out


@user_errors
def join(code: Any, nickname: Any, saved: Any, request: gr.Request | None = None) -> dict:
    """The Join button: joins under ``nickname`` (empty: a friendly default), or back under the
    saved id when this phone was here before."""
    code = str(code or "").strip().upper()
    mine = _load(saved, code)
    person = _svc().join(code, nickname, mine["pid"] if mine else None, _session(request))
    return _joined(code, person, request)


def poll(state: Any) -> dict:
    """The timer: the room's version only; the view when it changed. Errors are silent here (the
    next tick tries again); a room that has gone says so once and stops the timer."""
    if not isinstance(state, dict) or not state.get("code") or not state.get("pid"):
        return {"timer": gr.Timer(active=False)}
    code, pid = state["code"], state["pid"]
    svc = _svc()
    try:
        version = svc.version(code)
    except ValueError:
        version = None
    if version is None:
        return {"status": say("room_page.gone", code=plain(code)), "timer": gr.Timer(active=False),
                "guess_box": gr.Column(visible=False), "fool_box": gr.Column(visible=False), "lock": "",
                "state": {}}
    if version == state.get("version"):
        return {}
    try:
        view = svc.phone_view(code, pid)
    except ValueError:
        return {}
    out, shown = view_updates(view, state, code, pid)
    out["state"] = shown
    return out


@user_errors
def send(state: Any, grid: Any, request: gr.Request | None = None) -> dict:
    """Send the chosen cells (again: replaces the answer)."""
    if not isinstance(state, dict) or not state.get("pid"):
        raise gr.Error(say("room_page.error.not_joined"), print_exception=False)
    cells = chosen_cells(grid)
    kept = _svc().answer(state["code"], state["pid"], cells, _session(request))
    from gradcam_core.present import room_view

    h, w = int(grid.get("h") or 0), int(grid.get("w") or 0)
    names = room_view.cells_names([int(c) for c in kept], (h, w))
    value = dict(grid, cells=list(kept), note=say("room_page.sent", n=len(kept), cells=names))
    return {"grid": value}


@user_errors
def submit(state: Any, photo: Any, request: gr.Request | None = None) -> dict:
    """A photo for "fool the model": the model's top-5 and overlay at once; queued for the facilitator."""
    if not isinstance(state, dict) or not state.get("pid"):
        raise gr.Error(say("room_page.error.not_joined"), print_exception=False)
    if photo is None:
        raise gr.Error(say("room_page.error.no_photo"), print_exception=False)
    from gradcam_core.present import imagenet_view
    from gradcam_core.present.alt_text import explanation_alt

    expl, _sid = _svc().submit(state["code"], state["pid"], photo, _session(request))
    drawn = imagenet_view.draw(expl, steps=False)
    top5 = {name: float(p) for _i, name, p in expl.top5}
    return {"top5": top5, "overlay": gr.update(value=imagenet_view.overlay_panel(drawn), alt_text=explanation_alt(drawn)),
            "sent": say("room_page.submitted")}


def build() -> RoomPanel:
    """The panel (hidden until the page's address has a room code), inside the current Blocks; its
    events are added by :func:`wire` once the page's tabs exist."""
    with gr.Column(visible=False, elem_id=PANEL_ID) as panel:
        code = gr.Textbox(visible=False)
        status = gr.Markdown(elem_id="room-status", elem_classes="tight-md")
        with gr.Column(visible=False) as join_box:
            nickname = gr.Textbox(label=say("room_page.nickname_label"), placeholder=say("room_page.nickname_placeholder"),
                                  max_length=24, max_lines=1, elem_id="room-nickname")
            join_btn = gr.Button(say("room_page.join_button"), variant="primary", elem_id="room-join")
        with gr.Column(visible=False) as guess_box:
            prompt = gr.Markdown(elem_classes="tight-md")
            # after the reveal, the phone's own score and picture come first (on screen at once), the
            # locked grid of its taps below them
            own_text = gr.Markdown(elem_id="room-own-text", elem_classes="tight-md")
            own = ResultImage(label=say("room_page.own_label"), interactive=False, visible=False, elem_id="room-own",
                              buttons=["fullscreen"])
            grid = tap_grid()
            send_btn = gr.Button(say("room_page.send_button"), variant="primary", elem_id="room-send")
        with gr.Column(visible=False) as fool_box:
            gr.Markdown(say("room_page.fool_prompt"), elem_classes="tight-md")
            photo = SafeImage(label=say("room_page.photo_label"), type="filepath", sources=["upload"], height=240,
                              elem_id="room-photo")
            submit_btn = gr.Button(say("room_page.submit_button"), variant="primary", elem_id="room-submit")
            with gr.Column(elem_id="room-result") as result:
                top5 = gr.Label(num_top_classes=5, label=say("room_page.top5_label"), elem_classes="compact-label")
                overlay = ResultImage(label=say("room_page.overlay_label"), interactive=False)
                sent = gr.Markdown(elem_classes="tight-md")
        lock = gr.HTML("", elem_id="room-lock", js_on_load=None, container=False, padding=False)
        timer = gr.Timer(POLL_SECONDS, active=False)
        stamp = gr.Textbox("", visible=False)
    saved = gr.BrowserState(None, storage_key=STORAGE_KEY, secret=BROWSER_SECRET)
    state = gr.State({})
    p = RoomPanel(panel, code, saved, state, status, join_box, nickname, join_btn, guess_box, prompt, grid, send_btn,
                  own, own_text, fool_box, photo, submit_btn, result, top5, overlay, sent, lock, timer, stamp)
    return p


def wire(demo: gr.Blocks, p: RoomPanel, query: Any = None, tabs: Any = None) -> None:
    """The panel's events. ``query``: the page's deep-link box (a locked view's link goes there, and
    its own events open it); ``tabs``: the page's tabs (a locked view selects its tab)."""
    names = p.named()
    if query is not None:
        names["query"] = query
    if tabs is not None:
        names["tabs"] = tabs
    outs = [names[k] for k in ("panel", "status", "join_box", "guess_box", "prompt", "grid", "send", "own", "own_text",
                               "fool_box", "photo", "top5", "overlay", "sent", "lock", "timer", "saved", "state")]
    outs += [names[k] for k in ("query", "tabs") if k in names]

    def emit(fn):
        import functools

        @functools.wraps(fn)
        def event(*args, **kwargs):
            out = fn(*args, **kwargs)
            locked = out.pop("_locked", None)
            if locked is not None:
                tab, link = locked
                if "tabs" in names and tab in TABS:
                    out["tabs"] = gr.Tabs(selected=tab)
                if "query" in names and link:
                    out["query"] = link
            return {names[k]: v for k, v in out.items() if k in names} or gr.skip()

        return event

    quiet = dict(queue=False, show_progress="hidden", **PAGE_ONLY)
    demo.load(None, None, p.code, js=ROOM_CODE_JS, queue=False, **PAGE_ONLY)
    p.code.change(emit(enter), [p.code, p.saved], outs, **quiet)
    p.join.click(emit(join), [p.code, p.nickname, p.saved], outs, **quiet)
    p.nickname.submit(emit(join), [p.code, p.nickname, p.saved], outs, **quiet)
    # each tick reads the stamp in the browser (no server event); a new stamp asks for the view
    p.timer.tick(None, [p.code, p.stamp], [p.stamp], js=STAMP_JS % ROOM_STAMP_PATH, queue=False, **PAGE_ONLY)
    p.stamp.change(emit(poll), [p.state], outs, **quiet)
    p.send.click(emit(send), [p.state, p.grid], [p.grid], **quiet)
    p.submit.click(emit(submit), [p.state, p.photo], [p.top5, p.overlay, p.sent], **PAGE_ONLY)

