"""Tap a cell of the map: its sum term by term, and what covering it does to the class score.

One panel per tab, mounted by the tab (a few lines of wiring there)::

    panel = cell_panel.build_panel("mnist")                 # where the breakdown should appear
    cell_panel.wire_mnist(panel, [step5_img, step6_img, overlay], digit_state, explained_state, run)
    panel = cell_panel.build_panel("imagenet")
    cell_panel.wire_imagenet(panel, overlay, heatmap, state, whole, run, recall=_recall)  # the tab's look-up

A tap on one of the images (Gradio's ``select`` event gives the pixel) fills the panel, opens it
and scrolls it to the top of the screen. The public API, on the session's last explanation:
``/mnist_inspect_cell(row, col)`` and ``/imagenet_inspect_cell(row, col)``, each returning one
JSON (see :func:`gradcam_core.cell_view.report`). The numbers and words come from
:mod:`gradcam_core.analysis.cell` and :mod:`gradcam_core.present.cell_view`; this module only finds the explanation and places the results.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Sequence

import gradio as gr

from gradcam_core.analysis import cell
from gradcam_core.present import cell_view
from gradcam_core.present.token_texts import layout_of
from gradcam_core.present.words import say
from gradcam_core.ui.coerce import CoercedNumber
from gradcam_core.services import imagenet_checks as imagenet_svc
from gradcam_core.services import mnist as mnist_svc
from gradcam_core.ui.common import ResultImage, by_name, user_errors

__all__ = ["CellPanel", "build_panel", "wire_mnist", "wire_imagenet", "mnist_inspect", "imagenet_inspect",
           "MNIST_BASELINE", "IMAGENET_BASELINE", "MNIST_BOX"]

#: What a covered cell becomes: the trust panel's default baseline on each tab (trust.py).
MNIST_BASELINE = mnist_svc.CELL_BASELINE
IMAGENET_BASELINE = "blur"
#: Where the 8×8 (or 4×4) map sits in the MNIST tab's step 5, step 6 and overlay pictures: the
#: top 280×280 square (steps.build_steps' display_size; a colour bar may follow below it).
MNIST_BOX = (0, 0, 280, 280)
#: Terms shown one by one on ImageNet models (hundreds of channels); the rest are one bar.
IMAGENET_TOP = 10
GAP = 6  # px between two classes' pictures side by side (imagenet._side_by_side)

def no_imagenet() -> str:
    return say("ui.cell.no_imagenet")


@dataclass
class CellPanel:
    """The panel's components (outputs of every tap, in :meth:`outputs` order)."""

    prefix: str
    accordion: Any
    row: Any
    col: Any
    show: Any
    summary: Any
    bars: Any
    maps: Any
    cover: Any
    numbers: Any
    api: Any
    how: Any = None  # how to read it: in the words of the tapped map's layout (a token grid: dimensions)

    def named(self) -> dict:
        """What a tap fills, by name (the handlers return {name: value}; see _views): every
        component but the button, the hidden API button and the prefix."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("prefix", "show", "api") and getattr(self, f.name) is not None}

    def outputs(self) -> list:
        return list(self.named().values())

    def on(self, fn: Any) -> Any:
        """``fn`` (returning {name: value}) as an event returning {component: value}."""
        return by_name(fn, self.named())


def build_panel(prefix: str, where: str = "") -> CellPanel:
    """The panel, closed until the first tap; ``where`` names the pictures to tap."""
    with gr.Accordion(say("ui.cell.title"), open=False,
                      elem_id=f"{prefix}-cell") as acc:
        gr.Markdown(say("ui.cell.intro", where=where or say("ui.cell.the_map")), elem_classes="tight-md")
        with gr.Row(equal_height=True):
            row = CoercedNumber(label=say("ui.cell.row_label"), precision=0, scale=1, min_width=70)
            col = CoercedNumber(label=say("ui.cell.col_label"), precision=0, scale=1, min_width=70)
            show = gr.Button(say("ui.cell.show_button"), scale=1, min_width=90)
        # after a tap the page scrolls here: the numbers, then the bars, fill the screen
        summary = gr.Markdown(elem_id=f"{prefix}-cell-sum", elem_classes="tight-md", label=say("ui.cell.summary_label"))
        bars = ResultImage(label=say("ui.cell.bars_label"), interactive=False, show_label=True,
                           buttons=["download", "fullscreen"])
        how = gr.Markdown(say("ui.cell.how_to_read", text=cell_view.read_text()), elem_classes=["tight-md", "imagenet-small"])
        maps = ResultImage(label=say("ui.cell.maps_label"), interactive=False,
                           show_label=True, elem_classes="step-image", buttons=["download", "fullscreen"])
        cover = gr.Markdown(elem_classes="tight-md", label=say("ui.cell.cover_label"))
        with gr.Accordion(say("ui.cell.numbers_title"), open=False):
            numbers = gr.JSON(label=say("ui.cell.numbers_label"), show_label=False)
        api = gr.Button(visible=False)
    return CellPanel(prefix, acc, row, col, show, summary, bars, maps, cover, numbers, api, how)


# =========================================================================== what the panel shows
def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _views(result, ct: cell.CellTerms, rep: dict, top) -> dict:
    """The panel's values by name (see CellPanel.named) for one inspected cell."""
    occ = rep.get("occlusion")
    h, w = ct.grid
    summary = (say("ui.cell.summary", row=ct.row, col=ct.col, h=h, w=w, cls=rep['class'], equation=rep['equation'],
                   reading=rep['reading']))
    cover = ""
    if occ:
        c = occ["covered"]
        fp = occ.get("footprint")
        seen = ""
        if fp:
            s_ = fp["support"]
            seen = (say("ui.cell.sees", top=s_['top'], bottom=s_['bottom'] - 1, left=s_['left'], right=s_['right'] - 1,
                        energy=fp['energy_in_box']))
        cover = (say("ui.cell.cover", seen=seen, top=c['top'], bottom=c['bottom'] - 1, left=c['left'], right=c['right'] - 1,
                     baseline=occ['baseline'], score_before=occ['score_before'], prob_before=occ['prob_before'],
                     score_after=occ['score_after'], prob_after=occ['prob_after'],
                     n_random=len(occ['random_scores_after']), random_median=occ['random_median_after'],
                     random_median_prob=occ['random_median_prob_after'], random_spread=occ['random_spread'],
                     reading=rep['occlusion_reading']))
    return {"accordion": gr.Accordion(open=True), "row": ct.row, "col": ct.col, "summary": summary,
            "bars": cell_view.waterfall_image(ct, top, layout=layout_of(result)),
            "maps": cell_view.channel_maps_image(result, ct),
            "cover": cover, "numbers": rep,
            "how": say("ui.cell.how_to_read", text=cell_view.read_text(layout_of(result)))}


# =========================================================================== MNIST
def _mnist_report(run: mnist_svc.CellRun) -> tuple[dict, Any, cell.CellTerms]:
    rep = cell_view.report(run.terms, run.occlusion, run.name, model="lenet", layer=run.result.layer)
    return rep, run.result, run.terms


def mnist_inspect(digit: Any, explained: Any, row: Any, col: Any, result: Any = None) -> tuple[dict, Any, cell.CellTerms]:
    """(JSON report, CAM result, terms) of cell (row, col) of the session's last MNIST explanation:
    ``digit`` (28×28 in [0, 1]) and ``explained`` = {"target", "layer"} (mnist_tab keeps both);
    ``result``: its (input, CAM result), when already run."""
    return _mnist_report(mnist_svc.inspect_cell(digit, explained, row, col, given=result))


@user_errors
def mnist_api(row: Any, col: Any, digit: Any, explained: Any) -> dict:
    """API ``/mnist_inspect_cell(row, col)``: the JSON of one cell of the last MNIST explanation."""
    return mnist_inspect(digit, explained, row, col)[0]


@user_errors
def _mnist_show(row, col, digit, explained):
    rep, res, ct = mnist_inspect(digit, explained, row, col)
    return _views(res, ct, rep, None)


def mnist_tap_cell(found: Any, explained: Any, x: Any, y: Any, placed: bool = False) -> tuple[int, int]:
    """The (row, col) under a tap at (x, y) of an MNIST picture (``found``: the explanation's
    (input, CAM result)): step 5 and 6 draw the map as blocks; the overlay (``placed``) draws each
    cell where the explanation placed it (explained["placement"])."""
    return mnist_svc.cell_at(found, (explained or {}).get("placement"), x, y, MNIST_BOX, placed)


def _mnist_tapped(digit, explained, evt, placed: bool):
    x, y = (evt.index if isinstance(evt.index, (list, tuple)) else (None, None))[:2]
    rep, res, ct = _mnist_report(mnist_svc.tapped_cell(digit, explained, x, y, MNIST_BOX, placed))
    return _views(res, ct, rep, None)


@user_errors
def _mnist_tap(digit, explained, evt: gr.SelectData):
    return _mnist_tapped(digit, explained, evt, False)


@user_errors
def _mnist_tap_placed(digit, explained, evt: gr.SelectData):
    return _mnist_tapped(digit, explained, evt, True)


def _scroll_js(elem_id: str) -> str:
    """Bring ``#elem_id`` to the top of the screen, and keep it there while the page settles.

    Unlike common.scroll_js it waits until the element has a height (the first tap opens the
    closed panel: inside a closed accordion it measures 0 px at the top of the page), and it
    corrects the position for a second or so: step pictures above the panel that were never on
    screen load lazily as the page moves past them, and push the panel down. The correction
    stops at the user's first touch, wheel or key: someone who scrolls back up at once to tap
    another picture is never pulled down again."""
    return (f"() => {{ let n = 0, fixes = 0, stop = false; const e = () => document.getElementById('{elem_id}'); "
            "const kinds = ['touchstart', 'wheel', 'keydown', 'mousedown']; "
            "const halt = () => { stop = true; kinds.forEach(k => window.removeEventListener(k, halt, true)); }; "
            "kinds.forEach(k => window.addEventListener(k, halt, {capture: true, passive: true})); "
            "const to = () => { const r = e().getBoundingClientRect(); "
            "window.scrollTo({top: Math.max(0, r.top + window.scrollY - 8), behavior: 'instant'}); }; "
            "const fix = () => { if (stop || !e()) return halt(); const t = e().getBoundingClientRect().top; "
            "if (Math.abs(t - 8) > 4) to(); if (fixes++ < 12) setTimeout(fix, 150); else halt(); }; "
            "const go = () => { if (stop || !e()) return halt(); if (e().getBoundingClientRect().height === 0 && n++ < 40) "
            "{ setTimeout(go, 50); return; } to(); setTimeout(fix, 150); }; setTimeout(go, 30); }")


def _scroll(panel: CellPanel) -> dict:
    return dict(fn=None, inputs=None, outputs=None, js=_scroll_js(f"{panel.prefix}-cell-sum"), queue=False)


def wire_mnist(panel: CellPanel, images: Sequence, digit_state: Any, explained_state: Any, common: dict,
               placed: Sequence = ()) -> None:
    """Taps on ``images`` (step 5, step 6, the overlay) and the panel's button; the API endpoint.
    ``placed``: the images among them that draw the map over the digit (the overlay), where a tap
    follows the explanation's map placement."""
    inputs = [digit_state, explained_state]
    for img in images:
        tap = _mnist_tap_placed if any(img is p for p in placed) else _mnist_tap
        img.select(panel.on(tap), inputs, panel.outputs(), api_visibility="private", **common
                   ).success(**_scroll(panel))
    panel.show.click(panel.on(_mnist_show), [panel.row, panel.col] + inputs, panel.outputs(), api_visibility="private",
                     **common).success(**_scroll(panel))
    panel.api.click(mnist_api, [panel.row, panel.col] + inputs, panel.numbers, api_name="mnist_inspect_cell",
                    **common)


# =========================================================================== ImageNet
def _recall(state, recall):
    """The tab's explanation behind the session's state ({"key", "tag"}); ``recall``: the tab's
    own look-up (imagenet_tab._recall, handed over by wire_imagenet: no import cycle)."""
    if not isinstance(state, dict):
        raise ValueError(no_imagenet())
    return recall(state)


def imagenet_inspect(expl: Any, row: Any, col: Any, view: int = 0) -> tuple[dict, Any, cell.CellTerms]:
    """(JSON report, CAM result, terms) of cell (row, col) of class ``view`` (0: the first class)
    of an ImageNet explanation (``imagenet.Explanation``)."""
    ct, occ = imagenet_svc.inspect_cell(expl, row, col, view, baseline=IMAGENET_BASELINE)
    rep = cell_view.report(ct, occ, expl.views[view].name, top=IMAGENET_TOP, model=expl.model_key, layer=expl.layer,
                           layout=layout_of(expl.views[view].result))  # a token grid: dimensions, not channels
    return rep, expl.views[view].result, ct


def map_boxes(expl: Any, whole: bool = False) -> list[tuple[float, float, float, float]]:
    """Where each class's map lies in the tab's overlay (``whole``: drawn on the whole photo) or,
    with ``whole`` False, in its raw heat map: one (x0, y0, x1, y1) box per class, left to right
    (imagenet.overlay_panel / heatmap_image: pictures side by side, 6 px apart, captions below)."""
    if whole and expl.photo is not None and expl.crop_box is not None:
        H, W = expl.photo.shape[:2]
        l, t = max(0, int(round(expl.crop_box[0]))), max(0, int(round(expl.crop_box[1])))
        r, b = min(W, int(round(expl.crop_box[2]))), min(H, int(round(expl.crop_box[3])))
        return [(j * (W + GAP) + l, t, j * (W + GAP) + r, b) for j in range(len(expl.views))]
    H, W = expl.image.shape[:2]
    return [(j * (W + GAP), 0, j * (W + GAP) + W, H) for j in range(len(expl.views))]


def tap_to_cell(expl: Any, x: Any, y: Any, whole: bool = False) -> tuple[int, int, int]:
    """(class index, row, col) under the tapped pixel (x, y) of the overlay or heat map."""
    boxes = map_boxes(expl, whole)
    grid = tuple(expl.views[0].result.weighted.shape[-2:])
    for j, box in enumerate(boxes):
        try:
            r, c = cell.cell_of_pixel(x, y, box, grid)
            return j, r, c
        except ValueError:
            continue
    if whole:
        raise ValueError(say("ui.cell.outside_seen_part"))
    raise ValueError(say("ui.cell.not_on_map"))


def imagenet_api(row: Any, col: Any, state: Any, recall: Any) -> dict:
    """API ``/imagenet_inspect_cell(row, col)``: the JSON of one cell of the last ImageNet
    explanation's first class."""
    return imagenet_inspect(_recall(state, recall), row, col)[0]


def _tapped(state, evt, whole, recall):
    expl = _recall(state, recall)
    x, y = (evt.index if isinstance(evt.index, (list, tuple)) else (None, None))[:2]
    j, r, c = tap_to_cell(expl, x, y, whole)
    rep, res, ct = imagenet_inspect(expl, r, c, view=j)
    return _views(res, ct, rep, IMAGENET_TOP)


def wire_imagenet(panel: CellPanel, overlay: Any, heatmap: Any, state: Any, whole: Any, common: dict, recall: Any) -> None:
    """Taps on the overlay and the raw heat map, the panel's button, and the API endpoint.
    ``recall(state)``: the tab's explanation behind its state (imagenet_tab._recall)."""

    @user_errors
    def imagenet_inspect_cell(row, col, state):
        """API ``/imagenet_inspect_cell(row, col)``: the JSON of one cell of the last ImageNet
        explanation's first class."""
        return imagenet_api(row, col, state, recall)

    @user_errors
    def show(row, col, state):
        expl = _recall(state, recall)
        rep, res, ct = imagenet_inspect(expl, row, col)
        return _views(res, ct, rep, IMAGENET_TOP)

    @user_errors
    def tap_overlay(state, whole, evt: gr.SelectData):
        return _tapped(state, evt, bool(whole), recall)

    @user_errors
    def tap_heatmap(state, evt: gr.SelectData):
        return _tapped(state, evt, False, recall)

    outs = panel.outputs()
    overlay.select(panel.on(tap_overlay), [state, whole], outs, api_visibility="private", **common).success(**_scroll(panel))
    heatmap.select(panel.on(tap_heatmap), [state], outs, api_visibility="private", **common).success(**_scroll(panel))
    panel.show.click(panel.on(show), [panel.row, panel.col, state], outs, api_visibility="private",
                     **common).success(**_scroll(panel))
    panel.api.click(imagenet_inspect_cell, [panel.row, panel.col, state], panel.numbers,
                    api_name="imagenet_inspect_cell", **common)
