"""Tab 1 · MNIST · LeNet: pick, draw or photograph a digit; every Grad-CAM step on relu2 (or conv2, pool2)."""
from __future__ import annotations

import functools
import html
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import numpy as np

from gradcam_core.present import alt_text, colour_choice, paint, photo_texts
from gradcam_core.data.deeplink import decode_digit, encode_digit, query_string
from gradcam_core.cam.engine import GradCAM
from gradcam_core.data.images import load_image, shown_size
from gradcam_core.analysis.ink_share import dataset_share, share_of_result
from gradcam_core.inputs import parse_box, parse_target
from gradcam_core.models.lenet import CLASSES
from gradcam_core.models.registry import get_model, lenet_model
from gradcam_core.present.method_texts import (LENET_DEFAULT_LAYER, LENET_LAYERS, ink_text, lenet_layer_label, lenet_layer_note,
                            lenet_zero_gradient_note, near_ink_sentence)
from gradcam_core.analysis import cell as cell_analysis
from gradcam_core.data.mnist import preprocess_digit, test_digits, to_tensor
from gradcam_core.present.steps import build_steps, result_numbers
from gradcam_core.present.words import say
from gradcam_core.ui.coerce import ChoiceDropdown, CoercedNumber, CoercedSlider
from gradcam_core.ui import a11y, cell_panel, colour_menu, trust
from gradcam_core.ui.serving import SLOW, SLOW_LIMIT, LinkRequest
from gradcam_core.ui.common import (PAGE_ONLY, ParsedDropdown, ParsedRadio, by_name, ResultImage, SafeImage, SafeSketchpad,
                                     scroll_js, step_sections, step_values, user_errors)

LAYER = LENET_DEFAULT_LAYER  # relu2: the rectified maps, the Grad-CAM convention (see method_texts)
LAYERS = list(LENET_LAYERS)  # conv2, relu2, pool2
PAGE = 50
TARGETS = ["predicted"] + CLASSES
CONCURRENCY = "lenet"
#: the map placement picker: (label, value) for each of analysis.cell.PLACEMENTS
PLACEMENT_CHOICES = [(say("ui.mnist.placement_receptive_choice"), "receptive field"),
                     (say("ui.mnist.placement_stretched_choice"), "stretched")]

def model():
    """The shared LeNet of the model registry, loaded once per process (never modified: the engine
    restores every flag)."""
    return lenet_model()


def n_digits() -> int:
    return len(test_digits()[1])


@functools.lru_cache(maxsize=32)
def grid_page(page: int) -> list[tuple[np.ndarray, str]]:
    """Thumbnails of held-out digits page*50 … page*50+49 with their index and label."""
    images, labels = test_digits()
    start = page * PAGE
    out = []
    for i in range(start, min(start + PAGE, len(labels))):
        out.append((paint.enlarge(255 - images[i], 56), f"#{i} · {labels[i]}"))
    return out


def n_pages() -> int:
    return (n_digits() + PAGE - 1) // PAGE


def _target(choice) -> int | None:
    """The one target parser (gradcam_core.inputs), on MNIST's ten classes: the CLI's too."""
    return parse_target(choice, CLASSES, "MNIST")


def _layer(choice) -> str:
    """The registry LeNet's layer parser: the picker's layers, or any module with a feature map (as the CLI)."""
    return get_model("lenet").resolve_layer(choice)


@dataclass
class MnistView:
    """What the tab shows for one digit, by name; :meth:`updates` turns it into the
    ``{component: value}`` dict a Gradio event returns (outputs not named there stay as they are).

    ``index``, ``target``, ``channel``, ``layer``, ``cmap`` are set only when a handler also moves a
    control (a tap on the grid sets the index; a deep link sets the others)."""

    label: dict
    overlay: Any
    numbers: dict
    seen: np.ndarray
    digit: np.ndarray
    steps: list  # [markdown, image, code] * 8, as common.step_sections() lays them out
    link: str
    index: int | None = None
    target: str | None = None
    channel: str | None = None
    layer: str | None = None
    cmap: str | None = None
    placement: str | None = None
    explained: dict | None = None  # {"target", "layer"} of this result: what a tapped cell re-reads
    alts: dict = field(default_factory=dict)  # text alternatives: "overlay", "seen", "steps" (8)

    def as_list(self) -> list:
        """The values in the API's positional order (MnistComponents.result_outputs, no gr.State)."""
        return [self.label, self.overlay, self.numbers, self.seen, self.digit, *self.steps, self.link]

    def __getitem__(self, i):  # for callers written against the old positional list
        return self.as_list()[i]

    def updates(self, ui: "MnistComponents") -> dict:
        out = {ui.label: self.label, ui.overlay: self.overlay, ui.numbers: self.numbers, ui.seen: self.seen,
               ui.digit: self.digit, ui.link: self.link, **dict(zip(ui.steps, self.steps))}
        if ui.alts is not None and self.alts:  # the images' text alternatives, set on the page by a11y.wire_alts
            texts = [(ui.overlay, self.alts.get("overlay")), (ui.seen, self.alts.get("seen")),
                     *zip(ui.steps[1::3], self.alts.get("steps", []))]
            out[ui.alts] = {img._id: text for img, text in texts if text}
        for name in ("index", "target", "channel", "layer", "cmap", "placement"):
            if getattr(self, name) is not None and getattr(ui, name) is not None:
                out[getattr(ui, name)] = getattr(self, name)
        if ui.explained is not None and self.explained is not None:
            out[ui.explained] = self.explained
        return out


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
    alts: Any = None  # gr.State: the images' text alternatives (gradcam_core.ui.a11y)

    def result_outputs(self) -> list:
        """The outputs of every explaining event, in the API's (positional) order."""
        return [self.label, self.overlay, self.numbers, self.seen, self.digit, *self.steps, self.link]


def explain_array(digit: np.ndarray, target_choice="predicted", channel=None, source: str = "", layer=None,
                  cmap=None, placement=None) -> MnistView:
    """Everything the tab shows, for one 28×28 digit in [0, 1], on ``layer`` (default relu2), the heat
    drawn with ``cmap`` (default jet; the overlay, steps 6-8 and their text alternatives) and placed
    by ``placement`` ("receptive field", the default: each cell at the centre of what it sees; or
    "stretched")."""
    layer = _layer(layer)
    cmap = colour_choice.parse(cmap)
    placement = cell_analysis.parse_placement(placement)
    x = to_tensor(digit)
    result = GradCAM(model(), layer)(x, target=_target(target_choice))
    ch = None if channel in (None, "", -1, "strongest") else int(channel)
    centres = cell_analysis.placement_centres(model(), layer, tuple(result.cam.shape[-2:]), (1, 28, 28), placement)
    this = share_of_result(result, digit, centres=centres)
    ds = dataset_share(layer, placement=placement)
    notes = {"features": lenet_layer_note(layer),
             "overlay": ink_text(this.heat_on_ink, this.ink_area, ds.heat_on_ink, ds.ink_area, ds.n_digits,
                                 this_ink=this.ink_pixels)}
    steps = build_steps(result, digit, channel=ch, max_channels=16, notes=notes, cmap=cmap,
                        zero_gradient_reason=lenet_zero_gradient_note(layer), centres=centres)
    probs = result.probs[0].numpy()
    label = {CLASSES[i]: float(probs[i]) for i in range(10)}
    numbers = result_numbers(result, CLASSES)
    numbers["source"] = source
    numbers["placement"] = placement
    numbers["heat_on_ink"] = {"digit": this.heat_on_ink, "ink_area": this.ink_area, "ink_pixels": this.ink_pixels,
                              "test_set": ds.heat_on_ink, "test_set_ink_area": ds.ink_area,
                              "test_set_digits": ds.n_digits}
    seen = paint.enlarge((digit * 255).astype(np.uint8), 168)
    link = query_string(tab="mnist", d=encode_digit(digit), target=target_choice or "predicted",
                        channel=channel if channel not in (None, "") else "strongest", layer=layer,
                        cmap=None if cmap == colour_choice.DEFAULT else cmap,
                        placement=None if placement == cell_analysis.DEFAULT_PLACEMENT else placement)
    overlay_extra = " ".join(t for t in (notes_alt(this), colour_choice.colour_sentence(cmap)) if t)
    alts = {"overlay": alt_text.describe_result(result, extra=overlay_extra, centres=centres),
            "seen": alt_text.digit_alt(digit),
            "steps": colour_choice.with_colour(alt_text.step_alts(steps, result, centres=centres), steps, cmap)}
    return MnistView(label=label, overlay=steps["overlay"].image, numbers=numbers, seen=seen, digit=digit,
                     steps=step_values(steps), link=link,
                     explained={"target": int(result.targets[0]), "layer": layer, "placement": placement}, alts=alts)


def notes_alt(share) -> str:
    """The overlay's text alternative ends with the heat on the ink (gradcam_core.ink_share)."""
    return near_ink_sentence(share.heat_on_ink, share.ink_area, alt_text.percent)


def _index(index) -> int:
    if index is None or index == "":
        raise ValueError(say("ui.mnist.enter_index"))
    try:
        i = int(float(index))
    except (TypeError, ValueError):
        raise ValueError(say("ui.mnist.index_not_whole", index=index)) from None
    n = n_digits()
    if not 0 <= i < n:
        raise ValueError(say("ui.mnist.index_range", n=n, last=n - 1))
    return i


@user_errors
def explain_index(index, target_choice="predicted", channel=None, layer=None, cmap=None, placement=None):
    i = _index(index)
    images, labels = test_digits()
    return explain_array(images[i].astype(np.float32) / 255.0, target_choice, channel,
                         source=say("ui.mnist.source_held_out", i=i, label=labels[i]), layer=layer, cmap=cmap,
                         placement=placement)


@user_errors
def explain_drawing(sketch, target_choice="predicted", channel=None, layer=None, cmap=None, placement=None):
    if sketch is None:
        raise ValueError(say("ui.mnist.canvas_empty"))
    image = sketch.get("composite") if isinstance(sketch, dict) else sketch
    if image is None:
        raise ValueError(say("ui.mnist.canvas_empty"))
    if isinstance(image, str):  # Gradio could not decode it: our loader says why
        image = load_image(image, max_side=1024)
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 4 and image[..., 3].max() == 0:
        raise ValueError(say("ui.mnist.canvas_empty"))
    try:
        digit = preprocess_digit(image, drawing=True)  # from the canvas: a drawing, even edge to edge
    except ValueError as exc:
        raise ValueError(say("ui.mnist.no_digit_in_drawing", exc=exc)) from None
    return explain_array(digit, target_choice, channel, source="drawing", layer=layer, cmap=cmap, placement=placement)


#: a photo is read at most this large (its longer side, pixels), uploaded whole or cut by a box
PHOTO_SIDE = 1024
#: a box is cut from the photo decoded at most this large (its longer side, pixels), the box scaled
#: to it: 1.5× the reader's own PHOTO_SIDE, so the part keeps more detail than the whole upload had.
#: Decoded whole, a 49-megapixel JPEG took 374 MB more peak memory than its upload (34 MB); at 1536
#: the JPEG decoder's own reduction applies and a box takes +43 MB (a 12-megapixel photo: +39 MB,
#: its upload +32 MB; measured in one process each, 2026-12-07)
CUT_SIDE = 1536


class PhotoRefused(ValueError):
    """The reader found no digit in a photo (or in the part inside a box)."""


def read_photo(img, target_choice="predicted", channel=None, layer=None, cmap=None,
               source: str = "upload", placement=None) -> MnistView:
    """The one photo reader of the tab: a whole upload and the part inside a box both come here
    (``img``: a PIL image, at most PHOTO_SIDE on its longer side). PhotoRefused when no digit is found."""
    try:
        digit = get_model("lenet").digit(img)
    except ValueError as exc:  # "No digit found: ..." already says it; others get the context
        msg = str(exc)
        raise PhotoRefused(msg if msg.startswith("No digit found") else
                           say("ui.mnist.no_digit_in_photo", msg=msg)) from None
    return explain_array(digit, target_choice, channel, source=source, layer=layer, cmap=cmap, placement=placement)


def _said_in_the_line(exc: Exception) -> gr.Error:
    """A refusal that the page says in the photo's own line, right under the button and next to
    the offer (see :func:`offer_after_refusal`): no toast over the photo the box is drawn on. An
    API caller gets the same message as before."""
    return gr.Error(html.escape(str(exc)), visible=False, print_exception=False)


@user_errors
def explain_upload(path, target_choice="predicted", channel=None, layer=None, cmap=None, placement=None):
    if path is None:
        raise ValueError(say("ui.mnist.upload_first"))
    img = load_image(path, max_side=PHOTO_SIDE)
    try:
        return read_photo(img, target_choice, channel, layer, cmap, placement=placement)
    except PhotoRefused as exc:
        raise _said_in_the_line(exc) from None


def _read_box(path, box, target_choice="predicted", channel=None, layer=None, cmap=None,
              placement=None) -> MnistView:
    if path is None:
        raise ValueError(say("ui.mnist.upload_first_then_box"))
    photo = load_image(path, max_side=CUT_SIDE)
    width, height = shown_size(path)  # the box is in the photo's own pixels, as shown (EXIF-rotated)
    x0, y0, x1, y1 = parse_box(box, width, height)
    kx, ky = photo.width / width, photo.height / height  # 1 unless the photo is larger than CUT_SIDE
    cut = (int(np.floor(x0 * kx)), int(np.floor(y0 * ky)), int(np.ceil(x1 * kx)), int(np.ceil(y1 * ky)))
    part = load_image(photo.crop(cut), max_side=PHOTO_SIDE)
    return read_photo(part, target_choice, channel, layer, cmap, source=say("ui.mnist.source_box", x0=x0, y0=y0, x1=x1, y1=y1),
                      placement=placement)


@user_errors
def explain_crop(path, box, target_choice="predicted", channel=None, layer=None, cmap=None, placement=None):
    """The part of the photo inside ``box`` ("x0, y0, x1, y1" in the photo's pixels), read as an
    upload of that part is read (:func:`read_photo`). Its refusals, a bad box's included, are said
    in the page's line (:func:`after_box_refusal`)."""
    try:
        return _read_box(path, box, target_choice, channel, layer, cmap, placement)
    except (ValueError, FileNotFoundError) as exc:
        raise _said_in_the_line(exc) from None


@user_errors
def explain_state(digit, target_choice="predicted", channel=None, layer=None, cmap=None, placement=None):
    if digit is None:
        raise ValueError(say("ui.mnist.choose_first"))
    return explain_array(np.asarray(digit, dtype=np.float32), target_choice, channel, source=say("ui.mnist.source_current"),
                         layer=layer, cmap=cmap, placement=placement)


@user_errors
def explain_from_link(request: gr.Request):
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
    placement = params.get("placement") or cell_analysis.DEFAULT_PLACEMENT
    if placement not in cell_analysis.PLACEMENTS:
        placement = cell_analysis.DEFAULT_PLACEMENT
    index = 0
    if params.get("tab", "mnist") == "mnist" and params.get("d"):
        try:
            digit = decode_digit(params["d"])
            view = explain_array(digit, target, channel, source=say("ui.mnist.source_link"), layer=layer, cmap=cmap,
                                 placement=placement)
            view.target, view.channel, view.layer, view.cmap, view.placement = target, channel, layer, cmap, placement
            return view
        except ValueError as exc:
            gr.Warning(say("ui.mnist.link_digit_fallback", exc=exc))
    elif params.get("digit"):
        try:
            index = _index(params["digit"])
        except ValueError as exc:
            gr.Warning(str(exc))
    view = explain_index(index, target, channel, layer, cmap, placement)
    view.index, view.target, view.channel, view.layer, view.cmap = index, target, channel, layer, cmap
    view.placement = placement
    return view


LINK_KEYS = ("d", "digit", "target", "channel", "layer", "cmap", "placement")


def explain_from_query(query) -> MnistView | None:
    """:func:`explain_from_link` for the page's query string; None when it is not an MNIST link
    (the page already shows digit #0)."""
    params = LinkRequest(query).query_params
    if params.get("tab", "mnist") != "mnist" or not any(k in params for k in LINK_KEYS):
        return None
    return explain_from_link(LinkRequest(query))


def _from_query_event(ui: "MnistComponents"):
    def mnist_from_link(query):
        view = explain_from_query(query)
        return view.updates(ui) if view is not None else gr.skip()  # (an empty dict would be one value)

    return mnist_from_link


@user_errors
def show_page(page):
    try:
        p = int(page) - 1
    except (TypeError, ValueError):
        raise ValueError(say("ui.mnist.page_not_number")) from None
    if not 0 <= p < n_pages():
        raise ValueError(say("ui.mnist.page_range", pages=n_pages()))
    return grid_page(p)


@user_errors
def pick_from_grid(page, target_choice, channel, evt: gr.SelectData, layer=None, cmap=None, placement=None):
    i = (int(page) - 1) * PAGE + int(evt.index)
    view = explain_index(i, target_choice, channel, layer, cmap, placement)
    view.index = i
    return view


_SELECT_BRUSH = """() => { const pick = (n) => { const b = document.querySelector('#mnist-sketch button[aria-label="Brush"]');
    if (b) { b.click(); } else if (n > 0) { setTimeout(() => pick(n - 1), 150); } }; setTimeout(() => pick(20), 100); }"""


def _shown(fn, ui: MnistComponents):
    """``fn`` (a handler returning a :class:`MnistView`) as an event function returning a
    ``{component: value}`` dict; the signature stays ``fn``'s, so the API's parameters do too."""

    @functools.wraps(fn)
    def event(*args, **kwargs):
        return fn(*args, **kwargs).updates(ui)

    return event


def _input_tabs():
    """Pick / Draw / Photo: (index, go_index, page, grid, draw_tab, sketch, go_draw, upload, go_upload, crop)."""
    with gr.Tabs():
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


def offer_after_read(label) -> dict:
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
        return str(exc)
    except Exception:  # noqa: BLE001 - the event itself already said what went wrong
        return None
    return None


def offer_after_refusal(path, target_choice="predicted", channel=None, layer=None, cmap=None, placement=None) -> dict:
    """After the reader refused a whole photo: its message and the offer, with the photo kept (the
    box is drawn on it). Nothing of the refused photo can be shown, so the previous digit's
    prediction, heat map and "What LeNet sees" are cleared rather than left next to the refusal.
    A file that is not a picture, or a bad setting, gets no offer (its toast said why)."""
    if path is None:
        return {}
    try:
        img = load_image(path, max_side=PHOTO_SIDE)
    except (ValueError, FileNotFoundError):  # not a picture: there is nothing to draw a box on
        return {"column": gr.Column(visible=False)}
    msg = _refusal((PhotoRefused,), read_photo, img, target_choice, channel, layer, cmap, "upload", placement)
    if msg is None:
        return {}
    return {"column": gr.Column(visible=True), "note": photo_texts.refusal_line(msg), "box": "",
            "label": None, "overlay": None, "seen": None}


def after_box_read(label) -> dict:
    probs = _probs(label)
    return {"note": photo_texts.box_line(*photo_texts.top1(probs))} if probs else {}


def after_box_refusal(path, box, target_choice="predicted", channel=None, layer=None, cmap=None,
                      placement=None) -> dict:
    """After the box was refused (a bad box, or no digit inside it): the message in the line (the
    only place it is shown: :func:`explain_crop`); the previous read is cleared for the same reason
    as in :func:`offer_after_refusal`."""
    msg = _refusal((ValueError, FileNotFoundError), _read_box, path, box, target_choice, channel, layer, cmap,
                   placement)
    if msg is None:
        return {}
    return {"note": photo_texts.box_refusal_line(msg), "label": None, "overlay": None, "seen": None}


#: After a read on the Photo tab: (1) once per page, a finger (or mouse) drawing a box on the
#: uploaded photo fills the box field, in the photo's own pixels (object-fit: contain letterboxes
#: the picture inside its <img>); (2) while the offer is shown the photo takes touches for drawing
#: (touch-action: none), otherwise it scrolls the page as before; (3) the page scrolls to the photo
#: when the offer is shown (photo, line, box and the result under it fill a phone's screen), else,
#: after a result, to the result (after a failure with no offer it stays where the toast is read).
_PHOTO_JS = r"""() => { const afterResult = __AFTER_RESULT__; setTimeout(() => {
  const offered = () => { const c = document.getElementById('mnist-crop'); return !!c && c.offsetParent !== null; };
  const photo = () => document.querySelector('#mnist-upload img');
  if (!window.__mnistBox) {
    window.__mnistBox = true;
    let start = null, mark = null, dragged = false;
    const area = (img) => {
      const r = img.getBoundingClientRect(), nw = img.naturalWidth, nh = img.naturalHeight;
      const fit = getComputedStyle(img).objectFit;
      if (fit === 'fill' || !nw || !nh) return {x: r.left, y: r.top, w: r.width, h: r.height, nw, nh};
      let s = Math.min(r.width / nw, r.height / nh);
      if (fit === 'none') s = 1; else if (fit === 'scale-down') s = Math.min(s, 1);
      const w = nw * s, h = nh * s;
      return {x: r.left + (r.width - w) / 2, y: r.top + (r.height - h) / 2, w, h, nw, nh};
    };
    const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
    const draw = (s, x, y) => {
      const a = s.a, parent = s.img.parentElement;
      if (getComputedStyle(parent).position === 'static') parent.style.position = 'relative';
      if (!mark || mark.parentElement !== parent) {
        if (mark) mark.remove();
        mark = document.createElement('div'); mark.id = 'mnist-crop-mark';
        mark.style.cssText = 'position:absolute;border:2px solid #c2410c;background:rgba(194,65,12,0.12);' +
                             'pointer-events:none;z-index:5;box-sizing:border-box';
        parent.appendChild(mark);
      }
      const x0 = clamp(Math.min(s.x, x), a.x, a.x + a.w), x1 = clamp(Math.max(s.x, x), a.x, a.x + a.w);
      const y0 = clamp(Math.min(s.y, y), a.y, a.y + a.h), y1 = clamp(Math.max(s.y, y), a.y, a.y + a.h);
      const pr = parent.getBoundingClientRect();
      Object.assign(mark.style, {left: (x0 - pr.left) + 'px', top: (y0 - pr.top) + 'px',
                                 width: (x1 - x0) + 'px', height: (y1 - y0) + 'px'});
      return [x0, y0, x1, y1];
    };
    const put = (text) => {
      const el = document.querySelector('#mnist-crop-box textarea, #mnist-crop-box input');
      if (!el) return;
      el.value = text; el.dispatchEvent(new Event('input', {bubbles: true}));
    };
    document.addEventListener('pointerdown', (e) => {
      const img = photo();
      if (!img || !offered() || !img.naturalWidth) return;
      const a = area(img);
      if (e.clientX < a.x || e.clientX > a.x + a.w || e.clientY < a.y || e.clientY > a.y + a.h) return;
      e.preventDefault(); e.stopPropagation();
      start = {x: e.clientX, y: e.clientY, img, a}; dragged = false;
    }, true);
    document.addEventListener('pointermove', (e) => {
      if (!start) return;
      e.preventDefault(); dragged = true; draw(start, e.clientX, e.clientY);
    }, true);
    document.addEventListener('pointerup', (e) => {
      if (!start) return;
      const s = start; start = null;
      e.preventDefault(); e.stopPropagation();
      const [x0, y0, x1, y1] = draw(s, e.clientX, e.clientY), kx = s.a.nw / s.a.w, ky = s.a.nh / s.a.h;
      const box = [(x0 - s.a.x) * kx, (y0 - s.a.y) * ky, (x1 - s.a.x) * kx, (y1 - s.a.y) * ky].map(Math.round);
      if (box[2] - box[0] < 2 || box[3] - box[1] < 2) { if (mark) { mark.remove(); mark = null; } return; }
      put(box.join(', '));
    }, true);
    document.addEventListener('pointercancel', () => { start = null; }, true);
    document.addEventListener('click', (e) => {  // the end of a drag is not a click on the photo
      if (dragged && e.target && e.target.closest && e.target.closest('#mnist-upload')) {
        e.preventDefault(); e.stopPropagation(); dragged = false; }
    }, true);
  }
  const on = offered(), img = photo();
  if (img) { const t = on ? 'none' : ''; img.style.touchAction = t; img.parentElement.style.touchAction = t; }
  if (!on) { const m = document.getElementById('mnist-crop-mark'); if (m) m.remove(); }
  const e = on ? document.getElementById('mnist-upload') : afterResult ? document.getElementById('mnist-result') : null;
  if (e) window.scrollTo({top: Math.max(0, e.getBoundingClientRect().top + window.scrollY - 8), behavior: 'smooth'});
}, 120); }"""

#: A new photo (or none): the old box and its mark go.
_NEW_PHOTO_JS = r"""() => { const m = document.getElementById('mnist-crop-mark'); if (m) m.remove(); }"""


def _wire_crop(ui: MnistComponents, upload, go_upload, crop: CropOffer, concurrency_limit) -> None:
    """Read my photo (the public /mnist_explain_upload, unchanged), then the crop offer; Read the
    box (the public /mnist_explain_crop: photo + box), then its line. The follow-ups are page-only."""
    outputs = ui.result_outputs() + [ui.explained, ui.alts]
    tail = [ui.target, ui.channel, ui.layer, ui.cmap, ui.placement]
    common = dict(concurrency_id=CONCURRENCY, concurrency_limit=concurrency_limit)
    names = {"column": crop.column, "note": crop.note, "box": crop.box, "label": ui.label, "overlay": ui.overlay,
             "seen": ui.seen}
    private = PAGE_ONLY
    after = dict(fn=None, inputs=None, outputs=None, js=_PHOTO_JS.replace("__AFTER_RESULT__", "true"), queue=False,
                 **private)
    after_failure = dict(after, js=_PHOTO_JS.replace("__AFTER_RESULT__", "false"))
    offer_outs = [crop.column, crop.note, crop.box]
    cleared = [ui.label, ui.overlay, ui.seen]

    read = go_upload.click(_shown(explain_upload, ui), [upload] + tail, outputs, api_name="mnist_explain_upload",
                           **common)
    read.success(by_name(offer_after_read, names), [ui.label], offer_outs, queue=False, **private).then(**after)
    read.failure(by_name(offer_after_refusal, names), [upload] + tail, offer_outs + cleared, **common, **private
                 ).then(**after_failure)

    # the button, or Enter in the box field (a typed box): the same reading; the API has the button's
    for trigger, api in [(crop.go.click, dict(api_name="mnist_explain_crop")), (crop.box.submit, private)]:
        box = trigger(_shown(explain_crop, ui), [upload, crop.box] + tail, outputs, **api, **common)
        box.success(by_name(after_box_read, names), [ui.label], [crop.note], queue=False, **private).then(**after)
        box.failure(by_name(after_box_refusal, names), [upload, crop.box] + tail, [crop.note] + cleared, **common,
                    **private).then(**after_failure)

    def hide_offer():  # a new photo (or none): the old offer and its box go
        return {crop.column: gr.Column(visible=False), crop.box: ""}

    upload.change(hide_offer, None, [crop.column, crop.box], queue=False, js=_NEW_PHOTO_JS, show_progress="hidden",
                  **private)


def _result_and_settings(ui: MnistComponents, first: MnistView | None):
    """The result (right under the input, so after a tap on a phone the prediction and the overlay
    are on screen; the events also scroll to it), the settings, the numbers and the link.
    ``first``: the first view (digit #0), sent with the page itself."""
    with gr.Column(elem_id="mnist-result", elem_classes="result-block"):
        with gr.Row(equal_height=False, elem_classes="result-pair"):
            alts = first.alts if first else {}
            ui.overlay = ResultImage(first and first.overlay, label=say("ui.mnist.overlay_label"), height=170,
                                     alt_text=alts.get("overlay"),
                                     interactive=False, elem_classes="step-image", min_width=140)
            ui.seen = ResultImage(first and first.seen, label=say("ui.mnist.seen_label"), height=170,
                                  alt_text=alts.get("seen"),
                                  interactive=False, elem_classes="step-image", min_width=140)
        ui.label = gr.Label(first and first.label, num_top_classes=10, label=say("ui.mnist.prediction_label"),
                            elem_id="mnist-label", elem_classes="compact-label")
    with gr.Row():
        # ParsedDropdown: any value reaches the one parser (gradcam_core.inputs), so the API and the
        # CLI accept and reject the same values with the same message
        ui.target = ParsedDropdown(TARGETS, value="predicted", label=say("ui.mnist.target_label"),
                                info=say("ui.mnist.target_info"), scale=2)
        ui.channel = ChoiceDropdown(["strongest"] + [str(k) for k in range(16)], value="strongest",
                                 label=say("ui.mnist.channel_label"), info=say("ui.mnist.channel_info"), scale=2)
        ui.layer = ParsedDropdown([(lenet_layer_label(n), n) for n in LAYERS], value=LAYER, label=say("ui.mnist.layer_label"),
                               info=say("ui.mnist.layer_info"), filterable=False, scale=2)
        ui.cmap = colour_menu.dropdown(scale=2)
    colour_menu.note()
    ui.placement = ParsedRadio(PLACEMENT_CHOICES, value=cell_analysis.DEFAULT_PLACEMENT, label=say("ui.mnist.placement_label"),
                            info=say("ui.mnist.placement_info"))
    with gr.Accordion(say("ui.mnist.numbers_title"), open=False):
        ui.numbers = gr.JSON(first and first.numbers, label=say("ui.mnist.numbers_label"), show_label=False)
    with gr.Row():
        ui.link = gr.Textbox(first and first.link, label=say("ui.mnist.link_query_label"), visible=False)
        copy_link = gr.Button(say("ui.mnist.copy_link_button"), size="sm", variant="secondary")
    link_box = gr.Textbox(label=say("ui.mnist.link_label"), visible=True,
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
    try:
        model()
        ready = True
    except FileNotFoundError as exc:
        ready = False
        gr.Markdown(say("ui.mnist.weights_missing", exc=exc))
    first = first_view() if ready and query is not None else None
    gr.Markdown(
        say("ui.mnist.intro"),
        elem_classes="tight-md",
    )
    ui = MnistComponents(digit=gr.State(first.digit if first else None),
                         explained=gr.State(first.explained if first else None), alts=a11y.alt_state())
    index, go_index, page, grid, draw_tab, sketch, go_draw, upload, go_upload, crop = _input_tabs()
    ui.index = index
    copy_link, link_box = _result_and_settings(ui, first)
    gr.Markdown(say("ui.mnist.steps_heading"))
    panels = []  # the cell panel sits right under step 6 (taps on steps 5, 6 and the overlay fill it)
    ui.steps = step_sections(first.steps if first else None, alts=first.alts.get("steps") if first else None, after={6: lambda: panels.append(
        cell_panel.build_panel("mnist", say("ui.mnist.cell_panel_where")))})
    trust.build_mnist_panel(ui.digit, ui.target, placement=ui.placement, concurrency_id=SLOW,
                            concurrency_limit=SLOW_LIMIT)
    _wire(demo, ui, concurrency_limit, ready, go_index, page, grid, draw_tab, sketch, go_draw, upload, go_upload,
          copy_link, link_box, query)
    _wire_crop(ui, upload, go_upload, crop, concurrency_limit)
    cell_panel.wire_mnist(panels[0], [ui.steps[13], ui.steps[16], ui.overlay], ui.digit, ui.explained,
                          dict(concurrency_id=CONCURRENCY, concurrency_limit=concurrency_limit), placed=[ui.overlay])


def _wire(demo, ui: MnistComponents, concurrency_limit, ready, go_index, page, grid, draw_tab, sketch, go_draw,
          upload, go_upload, copy_link, link_box, query=None) -> None:
    """The tab's events (every handler returns a MnistView, sent as a {component: value} dict)."""
    outputs = ui.result_outputs() + [ui.explained, ui.alts]  # (gr.States: not among the API's outputs)
    a11y.wire_alts(ui.alts, [ui.overlay, ui.seen, *ui.steps[1::3]])
    common = dict(concurrency_id=CONCURRENCY, concurrency_limit=concurrency_limit)
    inputs_tail = [ui.target, ui.channel, ui.layer, ui.cmap, ui.placement]  # layer, colour map, placement: optional last inputs
    # a new digit: once its result is shown, the page scrolls to it (just under the input)
    show = dict(fn=None, inputs=None, outputs=None, js=scroll_js("mnist-result"), queue=False)
    for trigger, fn, source, name, shown_name in [
        (go_index.click, explain_index, ui.index, "mnist_explain_index", "mnist_show_result_index"),
        (ui.index.submit, explain_index, ui.index, "mnist_explain_index_submit", "mnist_show_result_submit"),
        (go_draw.click, explain_drawing, sketch, "mnist_explain_drawing", "mnist_show_result_drawing"),
    ]:
        trigger(_shown(fn, ui), [source] + inputs_tail, outputs, api_name=name, **common
                ).success(api_name=shown_name, **show)
    page.release(show_page, [page], [grid], api_name="mnist_grid_page", **common)
    # a tap in the grid (its event data is the tap): the page's own; from Python, /mnist_explain_index
    grid.select(_shown(pick_from_grid, ui), [page, ui.target, ui.channel, ui.layer, ui.cmap, ui.placement],
                [ui.index] + outputs,
                api_name="mnist_pick_from_grid", **PAGE_ONLY, **common).success(api_name="mnist_show_result_pick", **show)
    for control, name in [(ui.target, "mnist_change_target"), (ui.channel, "mnist_change_channel"),
                          (ui.layer, "mnist_change_layer"), (ui.cmap, "mnist_change_cmap"),
                          (ui.placement, "mnist_change_placement")]:
        control.input(_shown(explain_state, ui), [ui.digit] + inputs_tail, outputs, api_name=name,
                      trigger_mode="always_last", **common)
    # Gradio's sketchpad starts with no tool selected ("select the draw tool to start"): pick the
    # brush as soon as the Draw tab opens, so a finger can draw straight away.
    draw_tab.select(None, None, None, api_name="mnist_draw_tab", js=_SELECT_BRUSH)
    copy_link.click(
        None, [ui.link], [link_box], api_name="mnist_copy_link",
        js="""(q) => { const u = window.location.origin + window.location.pathname + (q || '');
                       try { navigator.clipboard.writeText(u); } catch (e) {} return u; }""",
    )
    link_outputs = [ui.index, ui.target, ui.channel, ui.layer, ui.cmap, ui.placement] + outputs
    if ready and query is not None:  # only a page opened from a link asks the server
        query.change(_from_query_event(ui), query, link_outputs, api_name="mnist_from_link", **PAGE_ONLY, **common)
    elif ready:
        demo.load(_shown(explain_from_link, ui), None, link_outputs, api_name="mnist_initial", **PAGE_ONLY, **common)
