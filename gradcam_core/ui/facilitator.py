"""The facilitator's page (issue 26): ``/facilitator``, a route of the app (``demo.route``, not in the
navbar). It opens a room, shows the Join QR code and the code in big letters, counts the phones live,
pushes exercises, reveals, moderates the photos, exports the results and closes the room.

The room's key lives only in this browser: once a room is open, the page's own address becomes
``/facilitator?room=CODE&key=KEY`` (``history.replaceState``), so a reload (or a second laptop given
that address) is back at the room. Every action sends the key; the service checks it (constant-time)
and never sends it to a phone. Every event here is page-only (the API is ``ui/room_api.py``).

The projector area shows counts while the answers arrive (never their content), the three pictures
and the sentence after the reveal, and the approved photos only.
"""
from __future__ import annotations

import base64
import html
import io
from typing import Any

import gradio as gr
import numpy as np

from gradcam_core import workshop
from gradcam_core.present.words import say
from gradcam_core.ui import room_phone
from gradcam_core.ui.common import PAGE_ONLY, ResultImage, SafeImage, by_name, user_errors

__all__ = ["ROUTE", "build", "join_address", "code_panel", "CSS", "KINDS", "picture_choices"]

ROUTE = "facilitator"
#: Seconds between two count polls: a join or an answer shows on the projector within this plus one
#: request (the issue: within 1 s). One facilitator's page polls, through Gradio (~13 ms of server
#: CPU a poll, 3 % of a core); the thirty phones poll the plain stamp route instead.
POLL_SECONDS = 0.5
KINDS = ("guess", "fool", "locked")

CSS = """
#fac-code .fac-box { display: flex; gap: 1.5em; align-items: center; flex-wrap: wrap; }
#fac-code .fac-qr { width: 264px; height: 264px; image-rendering: pixelated; background: #fff; }
#fac-code .fac-url { font-size: 1.4em; font-weight: 700; word-break: break-all; }
#fac-code .fac-big { font-size: 4em; font-weight: 800; letter-spacing: 0.15em; line-height: 1.1;
                     font-family: ui-monospace, Menlo, Consolas, monospace; }
#fac-counts { font-size: 1.6em; }
/* Gradio's "stop" red (#ef4444) under white text is 3.8:1; red-700 reaches AA (6.5:1) */
#fac-remove, #fac-close { background: #b91c1c !important; border-color: #b91c1c !important; color: #fff !important; }
#fac-projector { border: 2px solid var(--border-color-primary); border-radius: 10px; padding: 8px; }
"""

#: js of a load event: the room and key of the page's own address (after a reload).
ROOM_KEY_JS = ("() => { const p = new URLSearchParams(window.location.search); "
               "return [(p.get('room') || '').trim().toUpperCase(), (p.get('key') || '').trim()]; }")
#: js after a room opened (or closed): the address holds the room and key (or nothing).
REPLACE_JS = ("(code, key) => { const u = new URL(window.location.href); u.search = code && key ? "
              "'?room=' + encodeURIComponent(code) + '&key=' + encodeURIComponent(key) : ''; "
              "window.history.replaceState(null, '', u.toString()); }")


def _svc():
    from gradcam_core.services import rooms

    return rooms


def _get(obj: Any, name: str, default: Any = None) -> Any:
    return room_phone._get(obj, name, default)


# --------------------------------------------------------------------------- the join address
def join_address(base: str | None, code: str) -> str | None:
    """``<base>/?room=CODE``: what the Join QR code holds (None without a base address)."""
    if not base:
        return None
    return base.rstrip("/") + "/?room=" + code


def code_panel(code: str, url: str | None) -> str:
    """The projector's join panel: the QR code of the join address, the address and the code."""
    spelled = " ".join(code)
    if not url:
        return say("room_page.no_join_address", code=html.escape(code))
    png = base64.b64encode(workshop.qr_png(url, scale=8)).decode("ascii")
    return say("room_page.code_panel", url=html.escape(url, quote=True), png=png, code=html.escape(code),
               spelled=html.escape(spelled, quote=True))


# --------------------------------------------------------------------------- choices
def picture_choices() -> list[tuple[str, str]]:
    """The pictures a guess exercise can use: the example photos and a few held-out digits."""
    from gradcam_core.services import imagenet as isvc

    out = [(e["title"], "example:" + e["file"]) for e in isvc.examples_by_category()]
    out += [(f"digit:{i}", f"digit:{i}") for i in (0, 1, 2, 3, 7)]
    return out


def model_choices(default_key: str = "room_page.model_default") -> list[tuple[str, str]]:
    """The models a picture can be explained with; the first, "" (its label ``default_key``), lets the
    service choose: the ImageNet tab's model (LeNet for a digit), or the exercise's own model."""
    from gradcam_core.services import imagenet as isvc

    return [(say(default_key), "")] + [(str(label), key) for label, key in isvc.model_choices()]


# --------------------------------------------------------------------------- handlers ({name: value})
def first_view(request: gr.Request | None = None) -> dict:
    """On load: the password box only where it is needed; rooms off (and how to turn them on)."""
    from gradcam_core.ui import room_api

    allowed, why, password = room_api.allowed(request)
    if not allowed:
        return {"off": gr.Markdown(say(why) if why else "", visible=True), "open": gr.Button(visible=False),
                "password": gr.Textbox(visible=False)}
    return {"password": gr.Textbox(visible=bool(password))}


def _room_shown(code: str, key: str, request: gr.Request | None) -> dict:
    from gradcam_core.ui import room_api

    url = join_address(room_api.base_url(request), code)
    return {"start": gr.Column(visible=False), "room_box": gr.Column(visible=True), "code_box": code, "key_box": key,
            "code_html": code_panel(code, url), "timer": gr.Timer(active=True), "seen": {}}


def open_room(password: Any, request: gr.Request | None = None) -> dict:
    """Open a room (the laptop rule or the host's password: ``rooms.open_room``)."""
    from gradcam_core.ui import room_api

    opened = _svc().open_room(str(password or "") or None, room_api.request_is_local(request),
                              bool(room_api._settings.get("workshop")), room_api.session_of(request))
    return _room_shown(opened.code, opened.key, request)


def resume(code: Any, key: Any, request: gr.Request | None = None) -> dict:
    """A reload of ``/facilitator?room=CODE&key=KEY``: back at the room (its key is checked)."""
    code, key = str(code or "").strip().upper(), str(key or "").strip()
    if not code or not key:
        return {}
    svc = _svc()
    svc.check_key(code, key)
    out = _room_shown(code, key, request)
    out.update(refresh(code, key, {}))
    st = svc.status(code, key)
    if _get(st, "kind") == "guess" and _get(st, "revealed"):  # a reload after the reveal: shown again
        out.update(_revealed_view(svc.revealed(code, key)))
    return out


def _counts_text(st: Any) -> str:
    from gradcam_core.present import room_view

    text = room_view.counts_text(int(_get(st, "people", 0)), int(_get(st, "answered", 0)))
    pending = int(_get(st, "pending", 0) or 0)
    return text + ("  \n" + say("room_page.counts_pending", pending=pending) if pending else "")


def refresh(code: Any, key: Any, seen: Any) -> dict:
    """The timer: counts (within a second), and on a new version the queue and the approved photos."""
    if not code or not key:
        return {"timer": gr.Timer(active=False)}
    try:
        st = _svc().status(code, key)
    except ValueError:  # closed or expired
        return {"timer": gr.Timer(active=False), "counts": say("room_page.closed", code=room_phone.plain(code))}
    seen = seen if isinstance(seen, dict) else {}
    now = {"people": _get(st, "people"), "answered": _get(st, "answered"), "pending": _get(st, "pending"),
           "version": _get(st, "version")}
    if now == seen:
        return {}
    out = {"counts": _counts_text(st), "seen": now}
    if now.get("version") != seen.get("version"):
        out.update(_queue_and_gallery(code, key))
    return out


def _submission_label(sub: Any) -> str:
    meta = _get(sub, "meta") or {}
    status = _get(sub, "status", "pending")
    return say("room_page.queue_item", nickname=str(meta.get("nickname", "?")), top1=str(meta.get("top1_name", meta.get("top1", "?"))),
               prob=float(meta.get("prob", 0.0) or 0.0), status=say(f"room_page.status.{status}"))


def _queue_and_gallery(code: str, key: str) -> dict:
    svc = _svc()
    subs = svc.queue(code, key, None)
    choices = [(_submission_label(s), _get(s, "sid")) for s, _img in subs if _get(s, "status") != "removed"]
    shown = [(_image(img), None) for _s, img in svc.gallery(code)]
    return {"queue": gr.Dropdown(choices=choices, value=choices[0][1] if choices else None),
            "gallery": shown}


def _image(data: bytes) -> Any:
    from PIL import Image

    return Image.open(io.BytesIO(data)).convert("RGB")


def preview(code: Any, key: Any, sid: Any) -> dict:
    """The chosen photo of the queue (only on this page: never on the projector until approved)."""
    if not code or not key or not sid:
        return {"preview": None}
    from gradcam_core.present import room_view

    for sub, img in _svc().queue(code, key, None):
        if _get(sub, "sid") == sid and img:
            photo = np.asarray(_image(img))
            cam = (_get(sub, "meta") or {}).get("cam")
            if cam:
                return {"preview": room_view.cam_picture(photo, np.asarray(cam, dtype=np.float32))}
            return {"preview": photo}
    return {"preview": None}


def tab_title(tab: Any) -> str:
    """A tab's code ("mnist", "imagenet", "spurious") as its tab is titled in the reader's language
    (an unknown code is shown as given)."""
    key = f"ui.app.tab_{'shortcuts' if tab == 'spurious' else tab}"
    return say(key) if tab in room_phone.TABS else str(tab)


def push(code: Any, key: Any, kind: Any, picture: Any, upload: Any, model: Any, target: Any, tab: Any, controls: Any,
         link: Any) -> dict:
    svc = _svc()
    if not code or not key:
        raise gr.Error(say("room_page.no_room"), print_exception=False)
    if kind == "fool":
        svc.push_fool(code, key)
        msg = say("room_page.pushed_fool")
    elif kind == "locked":
        ex = svc.push_locked(code, key, str(tab or ""), list(controls or []), str(link or ""))
        msg = say("room_page.pushed_locked", tab=tab_title(_get(ex, "tab", tab)))
    else:
        pic = f"upload:{upload}" if upload else str(picture or "")
        ex = svc.push_guess(code, key, pic, str(model or "") or None, str(target or "") or None)
        msg = say("room_page.pushed_guess", model=room_phone.plain(_get(ex, "model_title", "")),
                  class_name=room_phone.plain(_get(ex, "class_name", "")))
    return {"pushed": msg, "projector_md": say("room_page.projector_waiting"), "reveal_img": None, "reveal_cam": None,
            "reveal_overlap": None,
            "against_box": gr.Column(visible=False)}


def reveal(code: Any, key: Any, model: Any = None, target: Any = None) -> dict:
    """Reveal (or, after it, the same taps against another class or model): the three pictures
    side by side, the sentence from the numbers, the text alternative; the picture is kept for the
    downloads."""

    if not code or not key:
        raise gr.Error(say("room_page.no_room"), print_exception=False)
    r = _svc().reveal(code, key, str(model or "") or None, str(target or "") or None)
    return _revealed_view(r)


def _revealed_view(r: Any) -> dict:
    """The reveal's three pictures apart (side by side on the projector, stacked on a phone), the
    sentence and the text alternatives; the captioned slide of each reveal is drawn for the
    downloads (:func:`results`), from the store."""
    from gradcam_core.present import room_view

    cs = r.class_score
    image, cam = np.asarray(r.image), np.asarray(r.cam)
    where = room_phone.centres_of(r.exercise)  # LeNet's cells where they look; None: equal cells
    text = room_view.reveal_text(cs, r.class_name, r.model_title)
    alt = room_view.reveal_alt(cs, r.class_name)
    cam_label = say("reveal.caption_cam", method="Grad-CAM", name=r.class_name)
    return {"reveal_img": gr.update(value=room_view.taps_picture(image, cs.counts, where), alt_text=alt),
            "reveal_cam": gr.update(value=room_view.cam_picture(image, cam, centres=where), label=cam_label,
                                    alt_text=cam_label),
            "reveal_overlap": gr.update(value=room_view.overlap_picture(image, cam, cs.counts, where),
                                        alt_text=say("reveal.caption_overlap")),
            "projector_md": text,
            "against_box": gr.Column(visible=True)}


def moderate(code: Any, key: Any, sid: Any, action: str) -> dict:
    if not code or not key or not sid:
        raise gr.Error(say("room_page.no_room"), print_exception=False)
    _svc().moderate(code, key, sid, action)
    out = _queue_and_gallery(code, key)
    out["queue"] = gr.Dropdown(choices=out["queue"].choices, value=sid)
    return out


def results(code: Any, key: Any) -> dict:
    if not code or not key:
        raise gr.Error(say("room_page.no_room"), print_exception=False)
    from gradcam_core.ui import room_api

    jpath, cpath, _res = room_api.write_results(code, key)
    return {"results": [cpath, jpath] + room_api.write_slides(code, key)}


def close(code: Any, key: Any) -> dict:
    if not code or not key:
        raise gr.Error(say("room_page.no_room"), print_exception=False)
    _svc().close(code, key)
    return {"counts": say("room_page.closed", code=room_phone.plain(code)), "timer": gr.Timer(active=False),
            "room_box": gr.Column(visible=True), "start": gr.Column(visible=True), "code_box": "", "key_box": ""}


def _kind_changed(kind: Any) -> dict:
    return {"guess_opts": gr.Column(visible=kind == "guess"), "locked_opts": gr.Column(visible=kind == "locked")}


def _tab_changed(tab: Any) -> dict:
    return {"controls": gr.CheckboxGroup(choices=room_phone.lockable_choices(tab if tab in room_phone.TABS else None),
                                         value=[])}


# --------------------------------------------------------------------------- layout
def build(demo: gr.Blocks) -> dict:
    """The page's contents, inside ``with demo.route(...)``. Workshop mode and the address phones
    open (the LAN address or share link; else the address this page was opened at) are the room
    API's settings (``room_api.register``)."""
    c: dict = {}
    gr.Markdown(say("room_page.title"))
    gr.Markdown(say("room_page.intro"), elem_classes="tight-md")
    with gr.Column() as c["start"]:
        c["off"] = gr.Markdown(visible=False, elem_classes="tight-md")
        c["password"] = gr.Textbox(label=say("room_page.password_label"), type="password", visible=False,
                                   info=say("room_page.password_info"), elem_id="fac-password", max_lines=1)
        c["open"] = gr.Button(say("room_page.open_button"), variant="primary", elem_id="fac-open")
    with gr.Column(visible=False) as c["room_box"]:
        c["code_html"] = gr.HTML("", elem_id="fac-code", js_on_load=None)
        gr.Markdown(say("room_page.keep_link"), elem_classes="tight-md")
        with gr.Column(elem_id="fac-projector"):
            gr.Markdown("### " + say("room_page.projector_title"))
            c["counts"] = gr.Markdown(elem_id="fac-counts")
            c["projector_md"] = gr.Markdown(say("room_page.projector_waiting"), elem_classes="tight-md",
                                            elem_id="fac-sentence")
            with gr.Row(elem_classes="fac-reveal-row"):
                c["reveal_img"] = ResultImage(label=say("reveal.caption_taps"), interactive=False, min_width=260,
                                              buttons=["fullscreen"], elem_id="fac-reveal-taps")
                c["reveal_cam"] = ResultImage(label=say("reveal.caption_cam_plain", method="Grad-CAM"),
                                              interactive=False, min_width=260, buttons=["fullscreen"],
                                              elem_id="fac-reveal-cam")
                c["reveal_overlap"] = ResultImage(label=say("reveal.caption_overlap"), interactive=False, min_width=260,
                                                  buttons=["fullscreen"], elem_id="fac-reveal-overlap")
            c["gallery"] = gr.Gallery(label=say("room_page.gallery_label"), columns=3, height="auto", elem_id="fac-gallery",
                                      allow_preview=True, interactive=False, format="png")
        c["kind"] = gr.Radio([(say(f"room_page.kind.{k}"), k) for k in KINDS], value="guess",
                             label=say("room_page.kind_label"), elem_id="fac-kind")
        with gr.Column() as c["guess_opts"]:
            c["picture"] = gr.Dropdown(picture_choices(), value=picture_choices()[0][1], allow_custom_value=True,
                                       label=say("room_page.picture_label"), info=say("room_page.picture_info"),
                                       elem_id="fac-picture")
            c["upload"] = SafeImage(label=say("room_page.upload_label"), type="filepath", sources=["upload"],
                                    height=180, elem_id="fac-upload")
            with gr.Row():
                c["model"] = gr.Dropdown(model_choices(), value="", label=say("room_page.model_label"), elem_id="fac-model")
                c["target"] = gr.Textbox("predicted", label=say("room_page.class_label"), info=say("room_page.class_info"),
                                         max_lines=1, elem_id="fac-class")
        with gr.Column(visible=False) as c["locked_opts"]:
            c["tab"] = gr.Dropdown([(tab_title(t), t) for t in room_phone.TABS], value="mnist",
                                   label=say("room_page.tab_label"))
            c["controls"] = gr.CheckboxGroup(room_phone.lockable_choices("mnist"), label=say("room_page.controls_label"))
            c["link"] = gr.Textbox(label=say("room_page.link_label"), info=say("room_page.link_info"), max_lines=1)
        c["push"] = gr.Button(say("room_page.push_button"), variant="primary", elem_id="fac-push")
        c["pushed"] = gr.Markdown(elem_classes="tight-md", elem_id="fac-pushed")
        c["reveal"] = gr.Button(say("room_page.reveal_button"), variant="primary", elem_id="fac-reveal")
        with gr.Column(visible=False) as c["against_box"]:
            gr.Markdown("#### " + say("room_page.against_title"))
            with gr.Row():
                c["against_model"] = gr.Dropdown(model_choices("room_page.model_same"), value="",
                                                 label=say("room_page.model_label"))
                c["against_target"] = gr.Textbox("predicted", label=say("room_page.class_label"),
                                                 info=say("room_page.class_info"), max_lines=1)
            c["against"] = gr.Button(say("room_page.against_button"))
        gr.Markdown("### " + say("room_page.queue_title"))
        c["queue"] = gr.Dropdown([], label=say("room_page.queue_label"), elem_id="fac-queue")
        c["preview"] = ResultImage(label=say("room_page.queue_preview_label"), interactive=False)
        with gr.Row():
            c["approve"] = gr.Button(say("room_page.approve_button"), elem_id="fac-approve")
            c["remove"] = gr.Button(say("room_page.remove_button"), variant="stop", elem_id="fac-remove")
        c["results_btn"] = gr.Button(say("room_page.results_button"))
        c["results"] = gr.File(label=say("room_page.results_label"), file_count="multiple", interactive=False,
                               elem_id="fac-results")
        c["close"] = gr.Button(say("room_page.close_button"), variant="stop", elem_id="fac-close")
    c["code_box"] = gr.Textbox(visible=False)
    c["key_box"] = gr.Textbox(visible=False)
    c["seen"] = gr.State({})
    c["timer"] = gr.Timer(POLL_SECONDS, active=False)
    _wire(demo, c)
    return c


def _wire(demo: gr.Blocks, c: dict) -> None:
    on = lambda fn: by_name(user_errors(fn), c)  # noqa: E731
    quiet = dict(queue=False, show_progress="hidden", **PAGE_ONLY)

    room_outs = [c[k] for k in ("start", "room_box", "code_box", "key_box", "code_html", "timer", "seen")]
    demo.load(on(first_view), None, [c["off"], c["open"], c["password"]], **quiet)
    demo.load(None, None, [c["code_box"], c["key_box"]], js=ROOM_KEY_JS, queue=False, **PAGE_ONLY)
    c["key_box"].change(on(resume), [c["code_box"], c["key_box"]],
                        room_outs + [c[k] for k in ("counts", "queue", "gallery", "reveal_img", "reveal_cam",
                                                    "reveal_overlap", "projector_md", "against_box")],
                        **quiet)
    c["open"].click(on(open_room), [c["password"]], room_outs, queue=False, **PAGE_ONLY).success(
        None, [c["code_box"], c["key_box"]], None, js=REPLACE_JS, queue=False, **PAGE_ONLY)
    c["timer"].tick(on(refresh), [c["code_box"], c["key_box"], c["seen"]],
                    [c["counts"], c["seen"], c["timer"], c["queue"], c["gallery"]], **quiet)
    c["kind"].change(on(_kind_changed), [c["kind"]], [c["guess_opts"], c["locked_opts"]], **quiet)
    c["tab"].change(on(_tab_changed), [c["tab"]], [c["controls"]], **quiet)
    c["push"].click(on(push), [c[k] for k in ("code_box", "key_box", "kind", "picture", "upload", "model", "target", "tab",
                                             "controls", "link")],
                    [c[k] for k in ("pushed", "projector_md", "reveal_img", "reveal_cam", "reveal_overlap", "against_box")],
                    **PAGE_ONLY)
    reveal_outs = [c[k] for k in ("reveal_img", "reveal_cam", "reveal_overlap", "projector_md", "against_box")]

    def first_reveal(code, key):
        return reveal(code, key, None, None)

    c["reveal"].click(on(first_reveal), [c["code_box"], c["key_box"]], reveal_outs, **PAGE_ONLY)
    c["against"].click(on(reveal), [c["code_box"], c["key_box"], c["against_model"], c["against_target"]],
                       reveal_outs, **PAGE_ONLY)
    c["queue"].change(on(preview), [c["code_box"], c["key_box"], c["queue"]], [c["preview"]], **quiet)

    def approve(code, key, sid):
        return moderate(code, key, sid, "approve")

    def remove(code, key, sid):
        return moderate(code, key, sid, "remove")

    mod_outs = [c["queue"], c["gallery"]]
    c["approve"].click(on(approve), [c["code_box"], c["key_box"], c["queue"]], mod_outs, queue=False, **PAGE_ONLY)
    c["remove"].click(on(remove), [c["code_box"], c["key_box"], c["queue"]], mod_outs, queue=False, **PAGE_ONLY)
    c["results_btn"].click(on(results), [c["code_box"], c["key_box"]], [c["results"]], **PAGE_ONLY)
    c["close"].click(on(close), [c["code_box"], c["key_box"]],
                     [c[k] for k in ("counts", "timer", "room_box", "start", "code_box", "key_box")],
                     queue=False, **PAGE_ONLY).success(None, [c["code_box"], c["key_box"]], None, js=REPLACE_JS,
                                                        queue=False, **PAGE_ONLY)
