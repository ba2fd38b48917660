"""Tab 1 · MNIST · LeNet: pick, draw or photograph a digit; every Grad-CAM step on relu2 (or conv2, pool2)."""
from __future__ import annotations

import functools
import html
import inspect
from dataclasses import dataclass, field, replace
from typing import Any

import gradio as gr
import numpy as np

from gradcam_core.base.inputs import DEFAULT_PLACEMENT, PLACEMENTS
from gradcam_core.present import colour_choice, mnist_view, photo_texts
from gradcam_core.present.method_texts import LENET_DEFAULT_LAYER, LENET_LAYERS, lenet_layer_label
from gradcam_core.present.mnist_view import MnistView
from gradcam_core.present.words import say, text_of
from gradcam_core.services import mnist as svc
from gradcam_core.services.mnist import CUT_SIDE, PHOTO_SIDE, PhotoRefused  # noqa: F401 - the tab's sizes, as before
from gradcam_core.ui.coerce import ChoiceDropdown, CoercedNumber, CoercedSlider
from gradcam_core.ui import a11y, cell_panel, colour_menu, trust
from gradcam_core.ui.mnist_js import DRAW_IF_OPEN, NEW_PHOTO_JS, PHOTO_JS, SELECT_BRUSH, STEPS_OPENED
from gradcam_core.ui.kept import KeptResults
from gradcam_core.ui.serving import SLOW, SLOW_LIMIT, LinkRequest, kept_state
from gradcam_core.ui.common import (PAGE_ONLY, ParsedDropdown, ParsedRadio, by_name, ResultImage, SafeImage, SafeSketchpad,
                                     scroll_js, step_sections, user_errors)

LAYER = LENET_DEFAULT_LAYER  # relu2: the rectified maps, the Grad-CAM convention (see method_texts)
LAYERS = list(LENET_LAYERS)  # conv2, relu2, pool2
PAGE = svc.PAGE
TARGETS = ["predicted"] + svc.CLASSES


def _named_choices(values: list[str]) -> list[tuple[str, str]]:
    """A menu's (label, value) pairs: the named choices ("predicted", "strongest") labelled in the
    reader's language, the digits and channel numbers as they are; the values stay the codes."""
    return [(say(f"ui.mnist.choice.{v}") if v in ("predicted", "strongest") else v, v) for v in values]
CONCURRENCY = "lenet"
#: the map placement picker: (label, value) for each of analysis.cell.PLACEMENTS
def placement_choices() -> list[tuple[str, str]]:
    return [(say("ui.mnist.placement_receptive_choice"), "receptive field"),
            (say("ui.mnist.placement_stretched_choice"), "stretched")]

#: each page session's last explained digit (its ``services.mnist.DigitResult``), from which the steps
#: are drawn when they are opened (issue 27); a session's state holds its key. A result is ~16 kB
#: pickled (LeNet's maps and gradients, the 28×28 digit), so 1024 sessions keep ~16 MB.
KEPT = KeptResults(capacity=1024)


def n_digits() -> int:
    return svc.n_digits()


@functools.lru_cache(maxsize=32)
def grid_page(page: int) -> list[tuple[np.ndarray, str]]:
    """Thumbnails of held-out digits page*50 … page*50+49 with their index and label."""
    return [(mnist_view.thumbnail(image), f"#{i} · {label}") for i, image, label in svc.page_of_digits(page)]


def n_pages() -> int:
    return svc.n_pages()


#: the values a view can set besides the result (a control moved by a tap or a link)
MOVED = ("index", "target", "channel", "layer", "cmap", "placement")


def shown(view: MnistView, ui: "MnistComponents", steps: bool = True) -> dict:
    """A view's values by the names of :meth:`MnistComponents.names` (the moved controls only when
    a handler set them); the images' text alternatives go to the tab's alt store by image.
    ``steps``: with the eight steps (the API's full answer; drawn here), or without (the page's
    answer while its steps are closed, issue 27)."""
    out = {"label": view.label, "overlay": view.overlay, "numbers": view.numbers, "seen": view.seen,
           "digit": view.digit, "link": view.link, "explained": view.explained}
    if steps:
        out.update({f"step{k}": v for k, v in enumerate(view.steps)})
    alts = view.alts if steps else view.first_alts  # (view.alts draws the steps)
    if ui.alts is not None and alts:  # the images' text alternatives, set on the page by a11y.wire_alts
        texts = [(ui.overlay, alts.get("overlay")), (ui.seen, alts.get("seen")),
                 *zip(ui.steps[1::3], alts.get("steps", []))]
        out["alts"] = {img._id: text for img, text in texts if text}
    out.update({name: getattr(view, name) for name in MOVED if getattr(view, name) is not None})
    present = ui.names()
    return {name: value for name, value in out.items() if name in present}


@dataclass
class MnistComponents:
    """The tab's components that handlers fill (built by :func:`build`)."""

    index: Any = None
    target: Any = None
    channel: Any = None
    layer: Any = None
    cmap: Any = None  # the heat map's colour map (issue 17)
    placement: Any = None  # where each cell is drawn: at what it sees, or stretched (issue 24)
    label: Any = None
    overlay: Any = None
    numbers: Any = None
    seen: Any = None
    digit: Any = None
    link: Any = None
    steps: list = field(default_factory=list)
    explained: Any = None  # gr.State: {"target", "layer"} of the last result (for the cell panel)
    alts: Any = None  # gr.State: the images' text alternatives (gradcam_core.ui.a11y), for the API's events
    alt_box: Any = None  # the page's events send them here instead, set in the browser (a11y.alt_box)
    kept: Any = None  # gr.State: the key of the page's last result in KEPT (None: the first view)
    draw_steps: Any = None  # a button in the page, never seen: pressed (by DRAW_IF_OPEN) to draw the open steps

    def names(self) -> dict:
        """{name: component} of every component a handler may fill (see :func:`shown`)."""
        out = {name: getattr(self, name) for name in (*MOVED, "label", "overlay", "numbers", "seen", "digit", "link",
                                                       "explained", "alts", "kept")}
        out.update({f"step{k}": c for k, c in enumerate(self.steps)})
        return {name: c for name, c in out.items() if c is not None}

    def page_names(self) -> dict:
        """:meth:`names` for the page's own events: the text alternatives go into the page's alt box
        (JSON, set in the browser: no second request per answer, issue 27), not into the alt state."""
        out = self.names()
        if self.alt_box is not None:
            out["alts"] = self.alt_box
        return out

    def result_outputs(self) -> list:
        """The outputs of every explaining event, in the API's (positional) order."""
        return [self.label, self.overlay, self.numbers, self.seen, self.digit, *self.steps, self.link]

    def page_outputs(self) -> list:
        """The outputs of the page's own explaining events (issue 27): no steps; the kept key last."""
        return [self.label, self.overlay, self.numbers, self.seen, self.digit, self.link, self.explained,
                self.alt_box if self.alt_box is not None else self.alts, self.kept]


def explain_array(digit: np.ndarray, target_choice: Any = "predicted", channel: Any = None, source: str = "current", layer: Any = None,
                  cmap: Any = None, placement: Any = None) -> MnistView:
    """Everything the tab shows, for one 28×28 digit in [0, 1], on ``layer`` (default relu2), the heat
    drawn with ``cmap`` (default jet; the overlay, steps 6-8 and their text alternatives) and placed
    by ``placement`` ("receptive field", the default: each cell at the centre of what it sees; or
    "stretched"). ``source``: where the digit came from ("current", "link", …: services.mnist.Source)."""
    return mnist_view.view(svc.explain_digit(digit, target_choice, channel, layer, cmap, placement, source=source))


@user_errors
def explain_index(index: Any, target_choice: Any = "predicted", channel: Any = None, layer: Any = None, cmap: Any = None, placement: Any = None) -> MnistView:
    return mnist_view.view(svc.explain_index(index, target_choice, channel, layer, cmap, placement))


@user_errors
def explain_drawing(sketch: Any, target_choice: Any = "predicted", channel: Any = None, layer: Any = None,
                    cmap: Any = None, placement: Any = None) -> MnistView:
    return mnist_view.view(svc.explain_drawing(sketch, target_choice, channel, layer, cmap, placement))


def _said_in_the_line(exc: Exception) -> gr.Error:
    """A refusal that the page says in the photo's own line, right under the button and next to
    the offer (see :func:`offer_after_refusal`): no toast over the photo the box is drawn on. An
    API caller gets the same message as before."""
    return gr.Error(html.escape(text_of(exc)), visible=False, print_exception=False)


@user_errors
def explain_upload(path: Any, target_choice: Any = "predicted", channel: Any = None, layer: Any = None, cmap: Any = None, placement: Any = None) -> MnistView:
    try:
        return mnist_view.view(svc.explain_upload(path, target_choice, channel, layer, cmap, placement))
    except PhotoRefused as exc:
        raise _said_in_the_line(exc) from None


@user_errors
def explain_crop(path: Any, box: Any, target_choice: Any = "predicted", channel: Any = None, layer: Any = None, cmap: Any = None,
                 placement: Any = None) -> MnistView:
    """The part of the photo inside ``box`` ("x0, y0, x1, y1" in the photo's pixels), read as an
    upload of that part is read. Its refusals, a bad box's included, are said in the page's line
    (:func:`after_box_refusal`)."""
    try:
        return mnist_view.view(svc.explain_crop(path, box, target_choice, channel, layer, cmap, placement))
    except (ValueError, FileNotFoundError) as exc:
        raise _said_in_the_line(exc) from None


@user_errors
def explain_state(digit: Any, target_choice: Any = "predicted", channel: Any = None, layer: Any = None, cmap: Any = None, placement: Any = None) -> MnistView:
    return explain_array(digit, target_choice, channel, "current", layer, cmap, placement)


@user_errors
def explain_from_link(request: gr.Request) -> MnistView:
    """First view: the result a deep link describes, or held-out digit #0."""
    params = dict(request.query_params) if request is not None else {}
    target = params.get("target", "predicted")
    if target not in TARGETS:
        gr.Warning(say("ui.mnist.link_target_not_digit", target=target))
        target = "predicted"
    channel = params.get("channel", "strongest")
    if channel not in ["strongest"] + [str(k) for k in range(16)]:
        channel = "strongest"
    layer = params.get("layer", LAYER)
    if layer not in LAYERS:
        gr.Warning(say("ui.mnist.link_layer_unknown", layer=layer, layers=', '.join(LAYERS), default=LAYER))
        layer = LAYER
    cmap = params.get("cmap") or colour_choice.DEFAULT
    if cmap not in colour_choice.CMAPS:
        gr.Warning(say("ui.mnist.link_cmap_unknown", cmap=cmap, cmaps=', '.join(colour_choice.CMAPS), default=colour_choice.DEFAULT))
        cmap = colour_choice.DEFAULT
    placement = params.get("placement") or DEFAULT_PLACEMENT
    if placement not in PLACEMENTS:
        placement = DEFAULT_PLACEMENT
    moved = dict(target=target, channel=channel, layer=layer, cmap=cmap, placement=placement)
    index = 0
    if params.get("tab", "mnist") == "mnist" and params.get("d"):
        try:
            digit = svc.digit_of_link(params["d"])
            res = svc.explain_digit(digit, target, channel, layer, cmap, placement, source="link")
            return replace(mnist_view.view(res), **moved)
        except ValueError as exc:
            gr.Warning(say("ui.mnist.link_digit_fallback", exc=text_of(exc)))
    elif params.get("digit"):
        try:
            index = svc.parse_index(params["digit"])
        except ValueError as exc:
            gr.Warning(text_of(exc))
    return replace(mnist_view.view(svc.explain_index(index, target, channel, layer, cmap, placement)), index=index,
                   **moved)


LINK_KEYS = ("d", "digit", "target", "channel", "layer", "cmap", "placement")


def explain_from_query(query: Any) -> MnistView | None:
    """:func:`explain_from_link` for the page's query string; None when it is not an MNIST link
    (the page already shows digit #0)."""
    params = LinkRequest(query).query_params
    if params.get("tab", "mnist") != "mnist" or not any(k in params for k in LINK_KEYS):
        return None
    return explain_from_link(LinkRequest(query))


def _from_query_event(ui: "MnistComponents"):
    def mnist_from_link(query, kept=None):
        view = explain_from_query(query)
        return _to_box(shown_page(view, ui, kept), ui) if view is not None else {}  # {}: by_name sends one gr.skip()

    return by_name(mnist_from_link, ui.page_names())


@user_errors
def show_page(page: Any) -> list:
    return grid_page(svc.parse_page(page))


@user_errors
def pick_from_grid(page: Any, target_choice: Any, channel: Any, evt: gr.SelectData, layer: Any = None, cmap: Any = None, placement: Any = None) -> MnistView:
    i = (int(page) - 1) * PAGE + int(evt.index)
    return replace(explain_index(i, target_choice, channel, layer, cmap, placement), index=i)


def shown_page(view: MnistView, ui: MnistComponents, kept: Any = None) -> dict:
    """The page's answer (issue 27): the prediction, the overlay, what LeNet sees, the numbers and
    the link, not the eight steps: they are drawn (:func:`open_steps`) when their accordion is
    opened, or right after this answer while it is open, from the result kept here under a new key
    (the session's previous one, ``kept``, is let go).

    The steps are not among the answer's outputs at all: Gradio turns each output an answer leaves
    out into a component update (a new component and its JSON schema, ~1 ms each), which for the
    24 step outputs costs more than drawing them."""
    KEPT.discard(kept if isinstance(kept, str) else None)
    out = shown(view, ui, steps=False)
    out["kept"] = KEPT.put(view.result)
    return {name: value for name, value in out.items() if name in ui.names()}


def steps_of(kept: Any) -> tuple[list, list[str]] | None:
    """The eight steps ([markdown, image, code] * 8) and their text alternatives of the page's kept
    result ``kept`` (None: the first view, digit #0); None when that result is no longer kept."""
    res = first_view().result if kept is None else KEPT.get(kept if isinstance(kept, str) else None)
    return None if res is None else mnist_view.draw_steps(res)


def open_steps(kept: Any, ui: MnistComponents) -> dict:
    """The steps accordion opened: its steps drawn from the kept result (the model is not run
    again). An evicted result clears the steps and says to explain the digit again."""
    drawn = steps_of(kept)
    if drawn is None:
        msg = say("ui.mnist.steps_gone")
        gr.Warning(msg)
        return {"step0": msg, **{f"step{k}": None for k in range(1, 24)}}
    steps, alts = drawn
    out = {f"step{k}": v for k, v in enumerate(steps)}
    if ui.alts is not None:
        out["alts"] = {img._id: text for img, text in zip(ui.steps[1::3], alts) if text}
    return {name: value for name, value in out.items() if name in ui.names()}


def _page(fn, ui: MnistComponents):
    """``fn`` (a handler returning a :class:`MnistView`) as the page's own event: its inputs, then
    the key of the session's kept result (:func:`shown_page`)."""
    params = list(inspect.signature(fn).parameters.values())
    extra = [inspect.Parameter("kept", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)]

    def page_event(*args, **kwargs):
        kept = kwargs.pop("kept", None)
        if len(args) > len(params):
            args, kept = args[:-1], args[-1]
        return _to_box(shown_page(fn(*args, **kwargs), ui, kept), ui)

    page_event.__name__ = f"{fn.__name__}_page"
    page_event.__signature__ = inspect.Signature(params + extra)
    page_event.__annotations__ = {**fn.__annotations__, "kept": "Any"}  # gr.Request, gr.SelectData: injected by type
    return by_name(page_event, ui.page_names())


def _to_box(out: dict, ui: MnistComponents) -> dict:
    """A page event's ``{name: value}`` with its text alternatives as the alt box's JSON (a11y.alt_json)."""
    if ui.alt_box is not None and "alts" in out:
        out = {**out, "alts": a11y.alt_json(out["alts"])}
    return out


def _shown(fn, ui: MnistComponents):
    """``fn`` (a handler returning a :class:`MnistView`) as an event function returning a
    ``{component: value}`` dict (:func:`ui.common.by_name`); the signature stays ``fn``'s, so the
    API's parameters do too."""

    @functools.wraps(fn)
    def named(*args, **kwargs):
        return shown(fn(*args, **kwargs), ui)

    return by_name(named, ui.names())


def _input_tabs():
    """Pick / Draw / Photo: (index, go_index, page, grid, draw_tab, sketch, go_draw, upload, go_upload, crop)."""
    with gr.Tabs(elem_id="mnist-inputs"):
        with gr.Tab(say("ui.mnist.tab_pick"), id="mnist-pick"):
            with gr.Row(equal_height=True):
                index = CoercedNumber(value=0, label=say("ui.mnist.index_label", last=n_digits() - 1), precision=0, minimum=0,
                                  maximum=n_digits() - 1, scale=2)
                go_index = gr.Button(say("ui.mnist.explain_button"), variant="primary", scale=1)
            page = CoercedSlider(1, n_pages(), value=1, step=1, label=say("ui.mnist.page_label"))
            grid = gr.Gallery(value=grid_page(0), columns=5, height="auto", allow_preview=False,
                              label=say("ui.mnist.grid_label"), show_label=True, object_fit="contain", elem_classes="digit-grid",
                              format="png")
        with gr.Tab(say("ui.mnist.tab_draw"), id="mnist-draw") as draw_tab:
            sketch = SafeSketchpad(
                label=say("ui.mnist.sketch_label"),
                type="numpy",
                image_mode="RGBA",
                canvas_size=(280, 280),
                brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"),
                layers=False,
                transforms=(),
                elem_id="mnist-sketch",
            )
            go_draw = gr.Button(say("ui.mnist.read_drawing_button"), variant="primary")
        with gr.Tab(say("ui.mnist.tab_photo"), id="mnist-photo"):
            upload = SafeImage(label=say("ui.mnist.upload_label"), type="filepath",
                              sources=["upload", "webcam", "clipboard"], height=280, elem_id="mnist-upload")
            go_upload = gr.Button(say("ui.mnist.read_photo_button"), variant="primary")
            crop = _crop_offer()
    return index, go_index, page, grid, draw_tab, sketch, go_draw, upload, go_upload, crop


@dataclass
class CropOffer:
    """The Photo tab's offer to read a box of the photo (issue 23): shown after a refusal or an
    unsure read, right under "Read my photo"; the box is drawn with a finger on the photo itself."""

    column: Any
    note: Any  # the one line: what happened, and what to do
    box: Any  # "x0, y0, x1, y1" in the photo's pixels: filled by the finger, or typed
    go: Any


def _crop_offer() -> CropOffer:
    with gr.Column(visible=False, elem_id="mnist-crop") as column:
        note = gr.Markdown(elem_id="mnist-crop-note", elem_classes="tight-md")
        with gr.Row(equal_height=True):
            box = gr.Textbox(label=say("ui.mnist.box_label"), max_lines=1,
                             placeholder=say("ui.mnist.box_placeholder"), elem_id="mnist-crop-box", scale=2,
                             min_width=150)
            go = gr.Button(say("ui.mnist.read_box_button"), variant="primary", scale=1, min_width=110, elem_id="mnist-crop-go")
    return CropOffer(column, note, box, go)


def _probs(label) -> dict:
    """{class: probability} from the Prediction component's value (gr.Label preprocessed)."""
    return label if isinstance(label, dict) else {}


def offer_after_read(label: Any) -> dict:
    """After a whole photo was read: the crop offer with its line when the read is unsure, else none."""
    probs = _probs(label)
    line = photo_texts.upload_line(*photo_texts.top1(probs)) if probs else None
    return {"column": gr.Column(visible=line is not None), "note": line or "", "box": ""}


def _refusal(kinds, fn, *args) -> str | None:
    """The message of the refusal (an exception of ``kinds``) that ``fn(*args)`` gives: the inputs an
    event just refused are read again with the same settings (a refusal costs the preprocessing
    only); None when they read fine now or fail otherwise (the event already said so)."""
    try:
        fn(*args)
    except kinds as exc:
        return text_of(exc)
    except Exception:  # noqa: BLE001 - the event itself already said what went wrong
        return None
    return None


def offer_after_refusal(path: Any, target_choice: Any = "predicted", channel: Any = None, layer: Any = None, cmap: Any = None, placement: Any = None) -> dict:
    """After the reader refused a whole photo: its message and the offer, with the photo kept (the
    box is drawn on it). Nothing of the refused photo can be shown, so the previous digit's
    prediction, heat map and "What LeNet sees" are cleared rather than left next to the refusal.
    A file that is not a picture, or a bad setting, gets no offer (its toast said why)."""
    if path is None:
        return {}
    try:
        img = svc.photo(path)
    except (ValueError, FileNotFoundError):  # not a picture: there is nothing to draw a box on
        return {"column": gr.Column(visible=False)}
    msg = _refusal((PhotoRefused,), svc.digit_of_photo, img)
    if msg is None:
        return {}
    return {"column": gr.Column(visible=True), "note": photo_texts.refusal_line(msg), "box": "",
            "label": None, "overlay": None, "seen": None}


def after_box_read(label: Any) -> dict:
    probs = _probs(label)
    return {"note": photo_texts.box_line(*photo_texts.top1(probs))} if probs else {}


def after_box_refusal(path: Any, box: Any, target_choice: Any = "predicted", channel: Any = None, layer: Any = None, cmap: Any = None,
                      placement: Any = None) -> dict:
    """After the box was refused (a bad box, or no digit inside it): the message in the line (the
    only place it is shown: :func:`explain_crop`); the previous read is cleared for the same reason
    as in :func:`offer_after_refusal`."""
    msg = _refusal((ValueError, FileNotFoundError), svc.explain_crop, path, box, target_choice, channel, layer, cmap,
                   placement)
    if msg is None:
        return {}
    return {"note": photo_texts.box_refusal_line(msg), "label": None, "overlay": None, "seen": None}


def _wire_crop(ui: MnistComponents, upload, go_upload, crop: CropOffer, concurrency_limit, api: dict) -> None:
    """Read my photo (the public /mnist_explain_upload, unchanged), then the crop offer; Read the
    box (the public /mnist_explain_crop: photo + box), then its line. The follow-ups are page-only.
    The page reads with its own lazy events (:func:`_page`); the API's endpoints, with the full
    answer, sit on the hidden buttons ``api`` ("upload", "crop")."""
    outputs = ui.result_outputs() + [ui.explained, ui.alts]
    page_outputs = ui.page_outputs()
    lazy = [ui.kept]
    tail = [ui.target, ui.channel, ui.layer, ui.cmap, ui.placement]
    common = dict(concurrency_id=CONCURRENCY, concurrency_limit=concurrency_limit)
    names = {"column": crop.column, "note": crop.note, "box": crop.box, "label": ui.label, "overlay": ui.overlay,
             "seen": ui.seen}
    private = PAGE_ONLY
    after = dict(fn=None, inputs=None, outputs=None, js=PHOTO_JS.replace("__AFTER_RESULT__", "true"), queue=False,
                 **private)
    after_failure = dict(after, js=PHOTO_JS.replace("__AFTER_RESULT__", "false"))
    offer_outs = [crop.column, crop.note, crop.box]
    cleared = [ui.label, ui.overlay, ui.seen]

    api["upload"].click(_shown(explain_upload, ui), [upload] + tail, outputs, api_name="mnist_explain_upload", **common)
    api["crop"].click(_shown(explain_crop, ui), [upload, crop.box] + tail, outputs, api_name="mnist_explain_crop",
                      **common)
    read = go_upload.click(_page(explain_upload, ui), [upload] + tail + lazy, page_outputs,
                           api_name="mnist_page_upload", **common, **private)
    read.success(**_draw_if_open())
    read.success(by_name(offer_after_read, names), [ui.label], offer_outs, queue=False, **private).then(**after)
    read.failure(by_name(offer_after_refusal, names), [upload] + tail, offer_outs + cleared, **common, **private
                 ).then(**after_failure)

    # the button, or Enter in the box field (a typed box): the same reading; the API has the button's
    for trigger in (crop.go.click, crop.box.submit):
        box = trigger(_page(explain_crop, ui), [upload, crop.box] + tail + lazy, page_outputs, **common, **private)
        box.success(**_draw_if_open())
        box.success(by_name(after_box_read, names), [ui.label], [crop.note], queue=False, **private).then(**after)
        box.failure(by_name(after_box_refusal, names), [upload, crop.box] + tail, [crop.note] + cleared, **common,
                    **private).then(**after_failure)

    def hide_offer():  # a new photo (or none): the old offer and its box go
        return {crop.column: gr.Column(visible=False), crop.box: ""}

    upload.change(hide_offer, None, [crop.column, crop.box], queue=False, js=NEW_PHOTO_JS, show_progress="hidden",
                  **private)


def _result_and_settings(ui: MnistComponents, first: MnistView | None):
    """The result (right under the input, so after a tap on a phone the prediction and the overlay
    are on screen; the events also scroll to it), the settings, the numbers and the link.
    ``first``: the first view (digit #0), sent with the page itself."""
    with gr.Column(elem_id="mnist-result", elem_classes="result-block"):
        with gr.Row(equal_height=False, elem_classes="result-pair"):
            alts = first.first_alts if first else {}
            ui.overlay = ResultImage(first and first.overlay, label=say("ui.mnist.overlay_label"), height=170,
                                     alt_text=alts.get("overlay"),
                                     interactive=False, elem_classes="step-image", min_width=140)
            ui.seen = ResultImage(first and first.seen, label=say("ui.mnist.seen_label"), height=170,
                                  alt_text=alts.get("seen"),
                                  interactive=False, elem_classes="step-image", min_width=140)
        ui.label = gr.Label(first and first.label, num_top_classes=10, label=say("ui.mnist.prediction_label"),
                            elem_id="mnist-label", elem_classes="compact-label")
    with gr.Row():
        # ParsedDropdown: any value reaches the one parser (gradcam_core.base.inputs), so the API and the
        # CLI accept and reject the same values with the same message
        ui.target = ParsedDropdown(_named_choices(TARGETS), value="predicted", label=say("ui.mnist.target_label"),
                                info=say("ui.mnist.target_info"), scale=2, elem_id="mnist-target")
        ui.channel = ChoiceDropdown(_named_choices(["strongest"] + [str(k) for k in range(16)]), value="strongest",
                                 label=say("ui.mnist.channel_label"), info=say("ui.mnist.channel_info"), scale=2,
                                 elem_id="mnist-channel")
        ui.layer = ParsedDropdown([(lenet_layer_label(n), n) for n in LAYERS], value=LAYER, label=say("ui.mnist.layer_label"),
                               info=say("ui.mnist.layer_info"), filterable=False, scale=2, elem_id="mnist-layer")
        ui.cmap = colour_menu.dropdown(scale=2, elem_id="mnist-cmap")
    colour_menu.note()
    ui.placement = ParsedRadio(placement_choices(), value=DEFAULT_PLACEMENT, label=say("ui.mnist.placement_label"),
                            info=say("ui.mnist.placement_info"), elem_id="mnist-placement")
    with gr.Accordion(say("ui.mnist.numbers_title"), open=False):
        ui.numbers = gr.JSON(first and first.numbers, label=say("ui.mnist.numbers_label"), show_label=False)
    with gr.Row():
        ui.link = gr.Textbox(first and first.link, label=say("ui.mnist.link_query_label"), visible=False)
        copy_link = gr.Button(say("ui.mnist.copy_link_button"), size="sm", variant="secondary", elem_id="mnist-copy-link")
    link_box = gr.Textbox(label=say("ui.mnist.link_label"), visible=True, elem_id="mnist-link-box",
                          interactive=False, buttons=["copy"], max_lines=2)
    return copy_link, link_box


@functools.lru_cache(maxsize=1)
def first_view() -> MnistView:
    """Held-out digit #0, predicted class, strongest channel, default layer: what every visitor
    sees first. It is part of the page itself (the components' initial values), so a phone shows
    it as soon as the page is drawn, with no request to the server's queue, and no session keeps
    its own copy of it."""
    return explain_index(0, "predicted", "strongest", LAYER)


def build(demo: gr.Blocks, concurrency_limit: int = 2, query: gr.Textbox | None = None) -> None:
    """Add the MNIST tab's contents inside the current ``gr.Tab``. ``query``: a hidden box that
    receives the page's query string (see serving.LINK_QUERY_JS); a deep link is explained when it
    arrives, and a page without one shows :func:`first_view`, sent with the page."""
    ready, exc = svc.ready()
    if not ready:
        gr.Markdown(say("ui.mnist.weights_missing", exc=exc))
    first = first_view() if ready and query is not None else None
    gr.Markdown(
        say("ui.mnist.intro"),
        elem_classes="tight-md",
    )
    ui = MnistComponents(digit=gr.State(first.digit if first else None),
                         explained=gr.State(first.explained if first else None), alts=a11y.alt_state(),
                         alt_box=a11y.alt_box(), kept=kept_state(KEPT))
    index, go_index, page, grid, draw_tab, sketch, go_draw, upload, go_upload, crop = _input_tabs()
    ui.index = index
    copy_link, link_box = _result_and_settings(ui, first)
    # the steps: drawn when opened, from the session's kept result (issue 27); the first view's too
    with gr.Accordion(say("ui.mnist.steps_title"), open=False, elem_id="mnist-steps") as steps_box:
        gr.Markdown(say("ui.mnist.steps_heading"))
        ui.steps = step_sections(None)
        ui.draw_steps = gr.Button(visible="hidden", elem_id="mnist-steps-draw")
    panel = cell_panel.build_panel("mnist", say("ui.mnist.cell_panel_where"))  # taps on steps 5, 6, the overlay
    trust.build_mnist_panel(ui.digit, ui.target, placement=ui.placement, concurrency_id=SLOW,
                            concurrency_limit=SLOW_LIMIT)
    # the API's endpoints (the full answer, as before): on buttons the page never shows or presses
    with gr.Row(visible=False):
        api = {name: gr.Button(visible=False) for name in ("index", "submit", "drawing", "upload", "crop",
                                                          *(f"change_{c}" for c in MOVED[1:]))}
    _wire(demo, ui, concurrency_limit, ready, go_index, page, grid, draw_tab, sketch, go_draw, upload, go_upload,
          copy_link, link_box, query, api)
    _wire_steps(ui, steps_box, concurrency_limit)
    _wire_crop(ui, upload, go_upload, crop, concurrency_limit, api)
    cell_panel.wire_mnist(panel, [ui.steps[13], ui.steps[16], ui.overlay], ui.digit, ui.explained,
                          dict(concurrency_id=CONCURRENCY, concurrency_limit=concurrency_limit), placed=[ui.overlay])


def _wire_steps(ui: MnistComponents, steps_box, concurrency_limit) -> None:
    """Opening the steps draws them from the kept result; while they are open, each answer is
    followed by their drawing (the page presses the never-seen button: :data:`DRAW_IF_OPEN`). The
    page remembers whether they are open itself (no request when they are closed)."""
    step_outs = [*ui.steps, ui.alt_box if ui.alt_box is not None else ui.alts]
    draw = by_name(lambda kept: _to_box(open_steps(kept, ui), ui), ui.page_names())
    common = dict(concurrency_id=CONCURRENCY, concurrency_limit=concurrency_limit, **PAGE_ONLY)
    steps_box.expand(draw, [ui.kept], step_outs, api_name="mnist_open_steps", **common)
    steps_box.expand(None, None, None, js=STEPS_OPENED.replace("__OPEN__", "true"), queue=False, **PAGE_ONLY)
    steps_box.collapse(None, None, None, js=STEPS_OPENED.replace("__OPEN__", "false"), queue=False, **PAGE_ONLY)
    ui.draw_steps.click(draw, [ui.kept], step_outs, api_name="mnist_draw_open_steps", **common)


def _draw_if_open() -> dict:
    """The js-only follow-up of every page answer: the steps are drawn when they are open."""
    return dict(fn=None, inputs=None, outputs=None, js=DRAW_IF_OPEN, queue=False, **PAGE_ONLY)


def _wire(demo, ui: MnistComponents, concurrency_limit, ready, go_index, page, grid, draw_tab, sketch, go_draw,
          upload, go_upload, copy_link, link_box, query=None, api: dict | None = None) -> None:
    """The tab's events (every handler returns a MnistView, sent as a {component: value} dict). The
    page's own are lazy (:func:`_page`: no steps unless open); the API's endpoints answer in full
    from the hidden buttons ``api``."""
    outputs = ui.result_outputs() + [ui.explained, ui.alts]  # (gr.States: not among the API's outputs)
    page_outputs = ui.page_outputs()
    lazy = [ui.kept]
    a11y.wire_alts(ui.alts, [ui.overlay, ui.seen, *ui.steps[1::3]])
    a11y.wire_alt_box(ui.alt_box, {img._id: img for img in [ui.overlay, ui.seen, *ui.steps[1::3]]})
    common = dict(concurrency_id=CONCURRENCY, concurrency_limit=concurrency_limit)
    inputs_tail = [ui.target, ui.channel, ui.layer, ui.cmap, ui.placement]  # layer, colour map, placement: optional last inputs
    # a new digit: once its result is shown, the page scrolls to it (just under the input)
    show = dict(fn=None, inputs=None, outputs=None, js=scroll_js("mnist-result"), queue=False)
    for trigger, key, fn, source, name, shown_name in [
        (go_index.click, "index", explain_index, ui.index, "mnist_explain_index", "mnist_show_result_index"),
        (ui.index.submit, "submit", explain_index, ui.index, "mnist_explain_index_submit", "mnist_show_result_submit"),
        (go_draw.click, "drawing", explain_drawing, sketch, "mnist_explain_drawing", "mnist_show_result_drawing"),
    ]:
        api[key].click(_shown(fn, ui), [source] + inputs_tail, outputs, api_name=name, **common
                       ).success(api_name=shown_name, **show)
        answer = trigger(_page(fn, ui), [source] + inputs_tail + lazy, page_outputs, api_name=f"mnist_page_{key}",
                         **PAGE_ONLY, **common)
        answer.success(api_name=f"mnist_page_show_{key}", **PAGE_ONLY, **show)
        answer.success(**_draw_if_open())
    page.release(show_page, [page], [grid], api_name="mnist_grid_page", **common)
    # a tap in the grid (its event data is the tap): the page's own; from Python, /mnist_explain_index
    grid.select(_page(pick_from_grid, ui), [page, ui.target, ui.channel, ui.layer, ui.cmap, ui.placement] + lazy,
                [ui.index] + page_outputs,
                api_name="mnist_pick_from_grid", **PAGE_ONLY, **common).success(api_name="mnist_show_result_pick", **show
                                                                                 ).then(**_draw_if_open())
    for control, name in [(ui.target, "mnist_change_target"), (ui.channel, "mnist_change_channel"),
                          (ui.layer, "mnist_change_layer"), (ui.cmap, "mnist_change_cmap"),
                          (ui.placement, "mnist_change_placement")]:
        api[name.removeprefix("mnist_")].click(_shown(explain_state, ui), [ui.digit] + inputs_tail, outputs,
                                               api_name=name, **common)
        control.input(_page(explain_state, ui), [ui.digit] + inputs_tail + lazy, page_outputs,
                      api_name=name.replace("mnist_", "mnist_page_"), trigger_mode="always_last", **PAGE_ONLY,
                      **common).success(**_draw_if_open())
    # Gradio's sketchpad starts with no tool selected ("select the draw tool to start"): pick the
    # brush as soon as the Draw tab opens, so a finger can draw straight away.
    draw_tab.select(None, None, None, api_name="mnist_draw_tab", js=SELECT_BRUSH)
    copy_link.click(
        None, [ui.link], [link_box], api_name="mnist_copy_link",
        js="""(q) => { const l = window.gradcamLang && window.gradcamLang !== 'en' && q ? '&lang=' + window.gradcamLang : '';
                       const u = window.location.origin + window.location.pathname + (q || '') + l;
                       try { navigator.clipboard.writeText(u); } catch (e) {} return u; }""",
    )
    link_outputs = [ui.index, ui.target, ui.channel, ui.layer, ui.cmap, ui.placement] + page_outputs
    if ready and query is not None:  # only a page opened from a link asks the server
        query.change(_from_query_event(ui), [query] + lazy, link_outputs, api_name="mnist_from_link", **PAGE_ONLY, **common
                     ).success(**_draw_if_open())
    elif ready:
        demo.load(_page(explain_from_link, ui), lazy, link_outputs, api_name="mnist_initial", **PAGE_ONLY, **common
                  ).success(**_draw_if_open())
