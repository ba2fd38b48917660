"""Tab 1 · MNIST · LeNet: pick, draw or photograph a digit; every Grad-CAM step on relu2 (or conv2, pool2)."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import numpy as np

from gradcam_core.present import alt_text, colour_choice, render
from gradcam_core.data.deeplink import decode_digit, encode_digit, query_string
from gradcam_core.cam.engine import GradCAM
from gradcam_core.data.images import load_image
from gradcam_core.analysis.ink_share import dataset_share, share_of_result
from gradcam_core.inputs import parse_target
from gradcam_core.models.lenet import CLASSES
from gradcam_core.models.registry import get_model, lenet_model
from gradcam_core.present.method_texts import (LENET_DEFAULT_LAYER, LENET_LAYERS, ink_text, lenet_layer_label, lenet_layer_note,
                            lenet_zero_gradient_note, near_ink_sentence)
from gradcam_core.analysis import cell as cell_analysis
from gradcam_core.data.mnist import preprocess_digit, test_digits, to_tensor
from gradcam_core.present.steps import build_steps, result_numbers
from gradcam_core.ui import a11y, cell_panel, colour_menu, trust
from gradcam_core.ui.serving import SLOW, SLOW_LIMIT, LinkRequest
from gradcam_core.ui.common import ParsedDropdown, ParsedRadio, ResultImage, SafeImage, SafeSketchpad, scroll_js, step_sections, step_values, user_errors

LAYER = LENET_DEFAULT_LAYER  # relu2: the rectified maps, the Grad-CAM convention (see method_texts)
LAYERS = list(LENET_LAYERS)  # conv2, relu2, pool2
PAGE = 50
TARGETS = ["predicted"] + CLASSES
CONCURRENCY = "lenet"
#: the map placement picker: (label, value) for each of analysis.cell.PLACEMENTS
PLACEMENT_CHOICES = [("at what each cell sees (receptive-field centre)", "receptive field"),
                     ("stretched over the digit (the usual drawing)", "stretched")]

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
        out.append((render.enlarge(255 - images[i], 56), f"#{i} · {labels[i]}"))
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
    seen = render.enlarge((digit * 255).astype(np.uint8), 168)
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
        raise ValueError("Enter a digit index.")
    try:
        i = int(float(index))
    except (TypeError, ValueError):
        raise ValueError(f"The index must be a whole number, not {index!r}.") from None
    n = n_digits()
    if not 0 <= i < n:
        raise ValueError(f"There are {n} test digits: choose an index from 0 to {n - 1}.")
    return i


@user_errors
def explain_index(index, target_choice="predicted", channel=None, layer=None, cmap=None, placement=None):
    i = _index(index)
    images, labels = test_digits()
    return explain_array(images[i].astype(np.float32) / 255.0, target_choice, channel,
                         source=f"held-out MNIST digit #{i} (true label {labels[i]})", layer=layer, cmap=cmap,
                         placement=placement)


@user_errors
def explain_drawing(sketch, target_choice="predicted", channel=None, layer=None, cmap=None, placement=None):
    if sketch is None:
        raise ValueError("The canvas is empty: draw a digit first.")
    image = sketch.get("composite") if isinstance(sketch, dict) else sketch
    if image is None:
        raise ValueError("The canvas is empty: draw a digit first.")
    if isinstance(image, str):  # Gradio could not decode it: our loader says why
        image = load_image(image, max_side=1024)
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 4 and image[..., 3].max() == 0:
        raise ValueError("The canvas is empty: draw a digit first.")
    try:
        digit = preprocess_digit(image, drawing=True)  # from the canvas: a drawing, even edge to edge
    except ValueError as exc:
        raise ValueError(f"Could not find a digit in the drawing: {exc}") from None
    return explain_array(digit, target_choice, channel, source="drawing", layer=layer, cmap=cmap, placement=placement)


@user_errors
def explain_upload(path, target_choice="predicted", channel=None, layer=None, cmap=None, placement=None):
    if path is None:
        raise ValueError("Upload or photograph a handwritten digit first.")
    img = load_image(path, max_side=1024)
    try:
        digit = get_model("lenet").digit(img)
    except ValueError as exc:  # "No digit found: ..." already says it; others get the context
        msg = str(exc)
        raise ValueError(msg if msg.startswith("No digit found") else
                         f"Could not find a digit in this photo: {msg}") from None
    return explain_array(digit, target_choice, channel, source="upload", layer=layer, cmap=cmap, placement=placement)


@user_errors
def explain_state(digit, target_choice="predicted", channel=None, layer=None, cmap=None, placement=None):
    if digit is None:
        raise ValueError("Choose, draw or upload a digit first.")
    return explain_array(np.asarray(digit, dtype=np.float32), target_choice, channel, source="current digit",
                         layer=layer, cmap=cmap, placement=placement)


@user_errors
def explain_from_link(request: gr.Request):
    """First view: the result a deep link describes, or held-out digit #0."""
    params = dict(request.query_params) if request is not None else {}
    target = params.get("target", "predicted")
    if target not in TARGETS:
        gr.Warning(f"The link's target {target!r} is not a digit; showing the predicted class.")
        target = "predicted"
    channel = params.get("channel", "strongest")
    if channel not in ["strongest"] + [str(k) for k in range(16)]:
        channel = "strongest"
    layer = params.get("layer", LAYER)
    if layer not in LAYERS:
        gr.Warning(f"The link's layer {layer!r} is not one of {', '.join(LAYERS)}; showing {LAYER}.")
        layer = LAYER
    cmap = params.get("cmap") or colour_choice.DEFAULT
    if cmap not in colour_choice.CMAPS:
        gr.Warning(f"The link's colour map {cmap!r} is not one of {', '.join(colour_choice.CMAPS)}; showing "
                   f"{colour_choice.DEFAULT}.")
        cmap = colour_choice.DEFAULT
    placement = params.get("placement") or cell_analysis.DEFAULT_PLACEMENT
    if placement not in cell_analysis.PLACEMENTS:
        placement = cell_analysis.DEFAULT_PLACEMENT
    index = 0
    if params.get("tab", "mnist") == "mnist" and params.get("d"):
        try:
            digit = decode_digit(params["d"])
            view = explain_array(digit, target, channel, source="shared link", layer=layer, cmap=cmap,
                                 placement=placement)
            view.target, view.channel, view.layer, view.cmap, view.placement = target, channel, layer, cmap, placement
            return view
        except ValueError as exc:
            gr.Warning(f"{exc} Showing digit #0 instead.")
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
        raise ValueError("The page must be a number.") from None
    if not 0 <= p < n_pages():
        raise ValueError(f"Pages go from 1 to {n_pages()}.")
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
    """Pick / Draw / Photo: (index, go_index, page, grid, draw_tab, sketch, go_draw, upload, go_upload)."""
    with gr.Tabs():
        with gr.Tab("Pick", id="mnist-pick"):
            with gr.Row(equal_height=True):
                index = gr.Number(value=0, label=f"Digit index (0–{n_digits() - 1})", precision=0, minimum=0,
                                  maximum=n_digits() - 1, scale=2)
                go_index = gr.Button("Explain", variant="primary", scale=1)
            page = gr.Slider(1, n_pages(), value=1, step=1, label="Page of 50 held-out digits")
            grid = gr.Gallery(value=grid_page(0), columns=5, height="auto", allow_preview=False,
                              label="Tap a digit", show_label=True, object_fit="contain", elem_classes="digit-grid",
                              format="png")
        with gr.Tab("Draw", id="mnist-draw") as draw_tab:
            sketch = SafeSketchpad(
                label="Draw one digit, large, in the middle",
                type="numpy",
                image_mode="RGBA",
                canvas_size=(280, 280),
                brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"),
                layers=False,
                transforms=(),
                elem_id="mnist-sketch",
            )
            go_draw = gr.Button("Read my drawing", variant="primary")
        with gr.Tab("Photo", id="mnist-photo"):
            upload = SafeImage(label="Photo of one handwritten digit (dark ink on paper)", type="filepath",
                              sources=["upload", "webcam", "clipboard"], height=280)
            go_upload = gr.Button("Read my photo", variant="primary")
    return index, go_index, page, grid, draw_tab, sketch, go_draw, upload, go_upload


def _result_and_settings(ui: MnistComponents, first: MnistView | None):
    """The result (right under the input, so after a tap on a phone the prediction and the overlay
    are on screen; the events also scroll to it), the settings, the numbers and the link.
    ``first``: the first view (digit #0), sent with the page itself."""
    with gr.Column(elem_id="mnist-result", elem_classes="result-block"):
        with gr.Row(equal_height=False, elem_classes="result-pair"):
            alts = first.alts if first else {}
            ui.overlay = ResultImage(first and first.overlay, label="Grad-CAM heat map", height=170,
                                     alt_text=alts.get("overlay"),
                                     interactive=False, elem_classes="step-image", min_width=140)
            ui.seen = ResultImage(first and first.seen, label="What LeNet sees (28×28)", height=170,
                                  alt_text=alts.get("seen"),
                                  interactive=False, elem_classes="step-image", min_width=140)
        ui.label = gr.Label(first and first.label, num_top_classes=10, label="Prediction (all 10 probabilities)",
                            elem_id="mnist-label", elem_classes="compact-label")
    with gr.Row():
        # ParsedDropdown: any value reaches the one parser (gradcam_core.inputs), so the API and the
        # CLI accept and reject the same values with the same message
        ui.target = ParsedDropdown(TARGETS, value="predicted", label="Explain which class?",
                                info="'predicted', or any other digit: what speaks for it", scale=2)
        ui.channel = gr.Dropdown(["strongest"] + [str(k) for k in range(16)], value="strongest",
                                 label="Channel for step 3", info="whose gradients are averaged", scale=2)
        ui.layer = ParsedDropdown([(lenet_layer_label(n), n) for n in LAYERS], value=LAYER, label="Layer",
                               info="which layer Grad-CAM reads (step 1 says why)", filterable=False, scale=2)
        ui.cmap = colour_menu.dropdown(scale=2)
    colour_menu.note()
    ui.placement = ParsedRadio(PLACEMENT_CHOICES, value=cell_analysis.DEFAULT_PLACEMENT, label="Map placement",
                            info="where each cell of the map is drawn over the digit (step 7 says why)")
    with gr.Accordion("Numbers (JSON: probabilities, weights, map)", open=False):
        ui.numbers = gr.JSON(first and first.numbers, label="Numbers", show_label=False)
    with gr.Row():
        ui.link = gr.Textbox(first and first.link, label="Link query", visible=False)
        copy_link = gr.Button("Copy a link to this result", size="sm", variant="secondary")
    link_box = gr.Textbox(label="Link (reopens this exact digit, class and channel)", visible=True,
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
        gr.Markdown(f"**The LeNet weights are missing.** {exc}")
    first = first_view() if ready and query is not None else None
    gr.Markdown(
        "A small network (LeNet) reads handwritten digits. Pick one, draw one or photograph one, "
        "and follow Grad-CAM from the network's feature maps to the heat map, step by step.",
        elem_classes="tight-md",
    )
    ui = MnistComponents(digit=gr.State(first.digit if first else None),
                         explained=gr.State(first.explained if first else None), alts=a11y.alt_state())
    index, go_index, page, grid, draw_tab, sketch, go_draw, upload, go_upload = _input_tabs()
    ui.index = index
    copy_link, link_box = _result_and_settings(ui, first)
    gr.Markdown("## Grad-CAM, step by step")
    panels = []  # the cell panel sits right under step 6 (taps on steps 5, 6 and the overlay fill it)
    ui.steps = step_sections(first.steps if first else None, alts=first.alts.get("steps") if first else None, after={6: lambda: panels.append(
        cell_panel.build_panel("mnist", "step 5, step 6 or the heat map above"))})
    trust.build_mnist_panel(ui.digit, ui.target, placement=ui.placement, concurrency_id=SLOW,
                            concurrency_limit=SLOW_LIMIT)
    _wire(demo, ui, concurrency_limit, ready, go_index, page, grid, draw_tab, sketch, go_draw, upload, go_upload,
          copy_link, link_box, query)
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
        (go_upload.click, explain_upload, upload, "mnist_explain_upload", "mnist_show_result_upload"),
    ]:
        trigger(_shown(fn, ui), [source] + inputs_tail, outputs, api_name=name, **common
                ).success(api_name=shown_name, **show)
    page.release(show_page, [page], [grid], api_name="mnist_grid_page", **common)
    grid.select(_shown(pick_from_grid, ui), [page, ui.target, ui.channel, ui.layer, ui.cmap, ui.placement],
                [ui.index] + outputs,
                api_name="mnist_pick_from_grid", **common).success(api_name="mnist_show_result_pick", **show)
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
        query.change(_from_query_event(ui), query, link_outputs, api_name="mnist_from_link", **common)
    elif ready:
        demo.load(_shown(explain_from_link, ui), None, link_outputs, api_name="mnist_initial", **common)
