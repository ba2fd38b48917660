"""The "Can I trust it?" panel: cascading randomisation and deletion/insertion, on screen.

Mount it inside a tab, after that tab's own components exist::

    trust.build_mnist_panel(digit_state, target)                       # inside the MNIST tab
    trust.build_imagenet_panel(image, model_dd, layer_dd, target_dd)   # inside the ImageNet tab

The panel reads the tab's components (never writes them) and has its own buttons, progress
and outputs.  API names: ``trust_mnist_cascade``, ``trust_mnist_cascade_view``,
``trust_mnist_curves`` (and ``trust_imagenet_…``).  The numbers come from
:mod:`gradcam_core.analysis.sanity`; this module only parses inputs and draws.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, Callable

import gradio as gr
import numpy as np

from gradcam_core.base import home
from gradcam_core.present import grids, paint

from gradcam_core.analysis import sanity
from gradcam_core.services import imagenet_checks as imagenet_svc
from gradcam_core.services import mnist as mnist_svc
from gradcam_core.present import charts
from gradcam_core.present import verdicts
from gradcam_core.base.errors import Term
from gradcam_core.present.words import lazy, number, say
from gradcam_core.ui.coerce import ChoiceDropdown, ChoiceRadio, CoercedSlider
from gradcam_core.ui.common import ResultImage, by_name, user_errors
from gradcam_core.ui.kept import KeptResults
from gradcam_core.ui.serving import kept_state, progress_callback

#: the cascade's pictures for switching methods without recomputing (shared by all sessions)
KEPT = KeptResults(capacity=24)

__all__ = [
    "build_mnist_panel",
    "build_imagenet_panel",
    "TrustPanel",
    "CascadeView",
    "CurvesView",
    "mnist_cascade",
    "mnist_curves",
    "imagenet_cascade",
    "imagenet_curves",
    "mnist_aggregate",
]

def baseline_choices() -> list[tuple[str, str]]:
    return [(say("ui.trust.baseline_zero"), "zero"), (say("ui.trust.baseline_blur"), "blur"),
            (say("ui.trust.baseline_mean"), "mean")]
TILE_MNIST = 140  # gallery tile (px) of a 28×28 map (5 px per pixel)
IMAGENET_MAX_STEPS = 30  # 3 rankings × 2 curves × 29 + 1 = 175 forwards of a 224×224 model at most
def intro() -> str:
    return say("ui.trust.intro")
#: deletion/insertion over 200 held-out digits, written by tools/trust_aggregate.py
AGGREGATE_FILE = home.path("weights") / "trust_aggregate_mnist.json"


# =========================================================================== parsing
def _steps(value, lo: int = 4, hi: int = sanity.MAX_STEPS) -> int:
    try:
        s = int(round(float(value)))
    except (TypeError, ValueError):
        raise ValueError(say("ui.trust.steps_not_number", value=value)) from None
    if not lo <= s <= hi:
        raise ValueError(say("ui.trust.steps_range", lo=lo, hi=hi))
    return s


def _baseline(value) -> str:
    if value not in sanity.BASELINES:
        raise ValueError(say("ui.trust.unknown_baseline", value=value, choices=', '.join(sanity.BASELINES)))
    return value


def _method(value) -> str:
    return value if value in sanity.METHODS else "Grad-CAM"


# =========================================================================== drawing
def _stage_caption(stages: list[str], k: int) -> str:
    if k == 0:
        return say("ui.trust.original_model")
    return say("ui.trust.stage_randomised", first=stages[1]) if k == 1 else say("ui.trust.stages_randomised", first=stages[1], last=stages[k])


def _tile(method: str, m: np.ndarray, picture: np.ndarray, size: int | None) -> np.ndarray:
    if method == "Grad-CAM":
        img = paint.overlay(picture, m, alpha=0.5)
    else:
        img = paint.colorize(m, "gray", 0.0, 1.0)
    return paint.enlarge(img, size) if size else img


def _gallery_items(cas: sanity.Cascade, picture: np.ndarray, size: int | None) -> dict[str, list]:
    """Per method: (tile with its numbers drawn above it, caption).  The numbers are on the
    tile too because a phone-width gallery truncates captions after the stage name."""
    out = {}
    for method, rows in cas.results.items():
        items = []
        for k, st in enumerate(rows):
            tile = _tile(method, st.map, picture, size)
            rho, ssim = number(st.spearman, ".2f"), number(st.ssim, ".2f")  # in the reader's language
            numbers = say("ui.trust.reference") if k == 0 else f"ρ {rho} · SSIM {ssim}"
            tile = grids.caption_image(tile, numbers, font_size=13)
            cap = _stage_caption(cas.stages, k)
            if k:
                cap += f" · ρ={rho} · SSIM={ssim}"
            items.append((tile, cap))
        out[method] = items
    return out


def _cascade_table(cas: sanity.Cascade) -> list[list]:
    rows = []
    for k, name in enumerate(cas.stages):
        label = say("ui.trust.cascade_none") if k == 0 else ("…→" if k > 1 else "") + name
        rows.append([label] + [round(float(cas.results[m][k].spearman), 2) for m in sanity.METHODS])
    return rows


def cascade_headers() -> list[str]:
    return [say("ui.trust.header_randomised"), "Grad-CAM", say("ui.trust.header_guided_gc"), say("ui.trust.header_guided_bp")]


def auc_headers() -> list[str]:
    return [say("ui.trust.header_ranking"), say("ui.trust.header_deletion"), say("ui.trust.header_insertion")]


#: worded when read, in the reader's language (module constants would be worded once, at import)
__getattr__ = lazy(BASELINE_CHOICES=baseline_choices, INTRO=intro, CASCADE_HEADERS=cascade_headers, AUC_HEADERS=auc_headers)




def _auc_rows(curves: sanity.Curves) -> list[list]:
    """[ranking, deletion AUC, insertion AUC] rows, the comparison's name worded (charts.ranking_name)."""
    return [[charts.ranking_name(name), *rest] for name, *rest in curves.table()]


@dataclass
class CascadeView:
    """What the randomisation check shows: the chosen method's pictures, the ρ table, the reading,
    and the session's key to every method's pictures (``state``)."""

    gallery: list
    table: list[list]
    reading: str
    state: dict


@dataclass
class CurvesView:
    """What the deletion/insertion check shows: the curves, the area table and the reading."""

    plot: np.ndarray
    table: list[list]
    reading: str


def _curves_outputs(curves: sanity.Curves, class_name: str, aggregate: dict | None = None,
                    settings: dict | None = None) -> CurvesView:
    reading = verdicts.reading_curves(curves, aggregate=aggregate, settings=settings)
    return CurvesView(charts.curves_figure(curves, class_name), _auc_rows(curves), reading)


@functools.lru_cache(maxsize=8)
def mnist_aggregate(layer: str) -> dict | None:
    """The summary over held-out digits for ``layer`` from :data:`AGGREGATE_FILE`, with its
    "settings" (layer, baseline, steps, target) and "what"; None if the file is missing.  If the
    file has no entry for ``layer``, the first layer's summary is returned: its settings then
    differ and :func:`verdicts.reading_aggregate` says so instead of quoting it."""
    try:
        data = json.loads(AGGREGATE_FILE.read_text(encoding="utf-8"))
        layers = data["layers"]
        key = layer if layer in layers else next(iter(layers))
        agg = dict(layers[key]["summary"])
        agg["what"] = Term("lang.held_out_digits")  # worded when read: in the reader's language
        agg["one"] = Term("lang.digit")
        agg["settings"] = {"layer": key, "baseline": data["baseline"], "steps": int(data["steps"]),
                           "target": data["target"],
                           # a file from before issue 24 ranked the pixels by the stretched map
                           "placement": data.get("placement", "stretched")}
        return agg
    except (OSError, ValueError, KeyError, StopIteration, TypeError):
        return None


def _cascade_outputs(cas: sanity.Cascade, picture: np.ndarray, method: str, size: int | None) -> CascadeView:
    items = _gallery_items(cas, picture, size)
    readings = {m: verdicts.reading_cascade(cas, m) for m in cas.results}
    # the session keeps a key; the pictures of every method live in a shared, bounded store
    state = {"key": KEPT.put({"items": items, "readings": readings})}
    return CascadeView(items[method], _cascade_table(cas), readings[method], state)


def _progress_fn(progress) -> Callable[[float, str], None] | None:
    return progress_callback(progress)


# =========================================================================== MNIST
def mnist_cascade(digit: Any, target_choice: Any = "predicted", method: Any = "Grad-CAM", seed: Any = 0, progress: Any = None) -> Any:
    """The cascade on one digit (:class:`CascadeView`)."""
    cas, d = mnist_svc.cascade(digit, target_choice, seed=int(seed), progress=_progress_fn(progress))
    return _cascade_outputs(cas, d, _method(method), TILE_MNIST)


def mnist_curves(digit: Any, target_choice: Any = "predicted", baseline: Any = "zero", steps: Any = 20, progress: Any = None, placement: Any = None) -> Any:
    """Deletion/insertion on one digit (:class:`CurvesView`), the pixels ranked by the map as drawn
    with ``placement`` (default: each cell at the centre of what it sees)."""
    steps, baseline = _steps(steps), _baseline(baseline)
    run = mnist_svc.curves(digit, target_choice, baseline, steps, placement, progress=_progress_fn(progress))
    settings = {"layer": run.layer, "baseline": baseline, "steps": steps,
                "target": "predicted" if run.predicted else "another class", "placement": run.placement}
    return _curves_outputs(run.curves, str(run.curves.target), mnist_aggregate(run.layer), settings)


# =========================================================================== ImageNet
def imagenet_cascade(image: Any, model_value: Any, layer_value: Any = None, target_value: Any = "predicted", method: Any = "Grad-CAM", seed: Any = 0,
                     progress: Any = None) -> Any:
    cas, picture = imagenet_svc.cascade(image, model_value, layer_value, target_value, seed=int(seed),
                                        progress=_progress_fn(progress))
    return _cascade_outputs(cas, picture, _method(method), None)


def imagenet_curves(image: Any, model_value: Any, layer_value: Any = None, target_value: Any = "predicted", baseline: Any = "blur", steps: Any = 10,
                    progress: Any = None) -> Any:
    steps, baseline = _steps(steps, hi=IMAGENET_MAX_STEPS), _baseline(baseline)
    curves, name = imagenet_svc.curves(image, model_value, layer_value, target_value, baseline, steps,
                                       progress=_progress_fn(progress))
    return _curves_outputs(curves, name)


# =========================================================================== events
# Explicit signatures: Gradio maps inputs to parameters and finds gr.Progress by default value.
@user_errors
def _mnist_cascade_event(digit, target_choice, method, request: gr.Request = None, progress: gr.Progress = gr.Progress()):
    return mnist_cascade(digit, target_choice, method, progress=progress_callback(progress, request))


@user_errors
def _mnist_curves_event(digit, target_choice, baseline, steps, placement=None, request: gr.Request = None,
                        progress: gr.Progress = gr.Progress()):
    return mnist_curves(digit, target_choice, baseline, steps, progress=progress_callback(progress, request),
                        placement=placement)


@user_errors
def _imagenet_cascade_event(image, model_value, layer_value, target_value, method, request: gr.Request = None,
                            progress: gr.Progress = gr.Progress()):
    return imagenet_cascade(image, model_value, layer_value, target_value, method,
                            progress=progress_callback(progress, request))


@user_errors
def _imagenet_curves_event(image, model_value, layer_value, target_value, baseline, steps,
                           request: gr.Request = None, progress: gr.Progress = gr.Progress()):
    return imagenet_curves(image, model_value, layer_value, target_value, baseline, steps,
                           progress=progress_callback(progress, request))


# =========================================================================== the panel
@dataclass
class TrustPanel:
    """The panel's own components (for tests, or to wire more events)."""

    accordion: gr.Accordion
    cascade_button: gr.Button
    method: gr.Radio
    gallery: gr.Gallery
    cascade_table: gr.Dataframe
    cascade_reading: gr.Markdown
    cascade_state: gr.State
    baseline: gr.Dropdown
    steps: gr.Slider
    curves_button: gr.Button
    curves_plot: gr.Image
    auc_table: gr.Dataframe
    curves_reading: gr.Markdown


@dataclass
class MethodView:
    """The cascade's pictures and reading for another method (nothing recomputed)."""

    gallery: list
    reading: str


@user_errors
def _view_event(method, state) -> MethodView:
    """Switch the gallery between methods without recomputing."""
    if not state:
        return MethodView([], "")
    method = _method(method)
    kept = KEPT.get(state.get("key")) if isinstance(state, dict) else None
    if kept is None:
        raise ValueError(say("ui.trust.maps_expired"))
    return MethodView(kept["items"][method], kept["readings"][method])


def _onto(fn, components: dict):
    """``fn`` (an event returning a view dataclass) as an event returning ``{component: value}``:
    ``components`` maps each field of the view to its component. The signature (inputs, request,
    progress) stays ``fn``'s: Gradio reads it through ``__wrapped__``."""

    @functools.wraps(fn)
    def fields(*args, **kwargs):
        return vars(fn(*args, **kwargs))

    return by_name(fields, components)


def _build(prefix: str, inputs: list, cascade_fn, curves_fn, *, baseline: str, steps: int, max_steps: int,
           concurrency_id: str, concurrency_limit, open: bool, note: str, preprocess: bool = True,
           curves_tail: list | None = None) -> TrustPanel:
    with gr.Accordion(say("ui.trust.title"), open=open) as acc:
        gr.Markdown(intro() + (" " + note if note else ""), elem_classes="tight-md")
        gr.Markdown(say("ui.trust.cascade_heading"), elem_classes="tight-md")
        cascade_button = gr.Button(say("ui.trust.cascade_button"), variant="primary")
        method = ChoiceRadio(list(sanity.METHODS), value="Grad-CAM", label=say("ui.trust.method_label"))
        gallery = gr.Gallery(columns=2, height="auto", allow_preview=True, object_fit="contain", format="png",
                             label=say("ui.trust.gallery_label"), show_label=False, buttons=[],
                             elem_classes="step-image")
        cascade_table = gr.Dataframe(headers=cascade_headers(), interactive=False, wrap=True,
                                     label=say("ui.trust.table_label"))
        cascade_reading = gr.Markdown(elem_classes="tight-md")
        cascade_state = kept_state(KEPT)

        gr.Markdown(say("ui.trust.curves_heading"), elem_classes="tight-md")
        with gr.Row():
            baseline_dd = ChoiceDropdown(baseline_choices(), value=baseline, label=say("ui.trust.baseline_label"), scale=1)
            steps_sl = CoercedSlider(4, max_steps, value=steps, step=1, label=say("ui.trust.steps_label"), scale=1)
        curves_button = gr.Button(say("ui.trust.curves_button"), variant="primary")
        curves_plot = ResultImage(label=say("ui.trust.plot_label"), interactive=False,
                                  show_label=True)
        auc_table = gr.Dataframe(headers=auc_headers(), interactive=False, wrap=True,
                                 label=say("ui.trust.auc_label"))
        curves_reading = gr.Markdown(elem_classes="tight-md")

    common = dict(concurrency_id=concurrency_id, concurrency_limit=concurrency_limit, preprocess=preprocess)
    shown = {"gallery": gallery, "table": cascade_table, "reading": cascade_reading, "state": cascade_state}
    cascade_button.click(_onto(cascade_fn, shown), inputs + [method], list(shown.values()),
                         api_name=f"{prefix}cascade", **common)
    switched = {"gallery": gallery, "reading": cascade_reading}
    method.change(_onto(_view_event, switched), [method, cascade_state], list(switched.values()),
                  api_name=f"{prefix}cascade_view", concurrency_id=f"{prefix}view", concurrency_limit=None,
                  show_progress="hidden")
    drawn = {"plot": curves_plot, "table": auc_table, "reading": curves_reading}
    curves_button.click(_onto(curves_fn, drawn), inputs + [baseline_dd, steps_sl] + list(curves_tail or []),
                        list(drawn.values()),
                        api_name=f"{prefix}curves", **common)
    return TrustPanel(acc, cascade_button, method, gallery, cascade_table, cascade_reading, cascade_state,
                      baseline_dd, steps_sl, curves_button, curves_plot, auc_table, curves_reading)


def build_mnist_panel(digit_state: Any, target: Any, *, placement: Any = None, concurrency_id: str = "lenet",
                      concurrency_limit: int | None | str = "default", open: bool = False) -> TrustPanel:
    """The panel for the MNIST tab.  ``digit_state``: the gr.State holding the current 28×28
    digit in [0, 1]; ``target``: the "predicted"/"0"…"9" dropdown; ``placement``: the tab's *Map
    placement* radio (deletion/insertion rank the pixels by the map as drawn; the API's optional
    last input of ``trust_mnist_curves``).  Call it inside the tab."""
    return _build("trust_mnist_", [digit_state, target], _mnist_cascade_event, _mnist_curves_event,
                  baseline="zero", steps=20, curves_tail=[placement] if placement is not None else None,
                  max_steps=sanity.MAX_STEPS, concurrency_id=concurrency_id, concurrency_limit=concurrency_limit,
                  open=open, note=say("ui.trust.mnist_note", layer=mnist_svc.DEFAULT_LAYER))


def build_imagenet_panel(image: Any, model: Any, layer: Any, target: Any, *, concurrency_id: str = "imagenet",
                         concurrency_limit: int | None | str = "default", open: bool = False) -> TrustPanel:
    """The panel for the ImageNet tab.  ``image``: the photo component (its events run with
    preprocess=False, like the tab's: the raw file payload goes to ``imagenet.load_photo``);
    ``model``: dropdown of model keys (or titles); ``layer``: dropdown of layer names (or
    their labels; empty = the model's default); ``target``: "predicted", a class index,
    "207 · name" or a class name.  Call it inside the tab, after those components."""
    return _build("trust_imagenet_", [image, model, layer, target], _imagenet_cascade_event,
                  _imagenet_curves_event,
                  baseline="blur", steps=10, max_steps=IMAGENET_MAX_STEPS, concurrency_id=concurrency_id,
                  concurrency_limit=concurrency_limit, open=open, preprocess=False,
                  note=say("ui.trust.imagenet_note"))
