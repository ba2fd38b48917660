"""Tab 2 · ImageNet: your own photo through real ImageNet models — every step, any layer,
several CAM methods.  All the work is in ``gradcam_core.services.imagenet``; this module only places
its results on the page.

API (every endpoint is prefixed ``imagenet_``; see ``build``): the main one is
``/imagenet_explain`` (photo, model, layer, method, target, second target, normalisation,
colormap, opacity → summary, top-5, overlay (two classes side by side), raw map, step gallery, step
texts, PNG downloads, numbers).
"""
from __future__ import annotations

from typing import Any, Callable

import functools
import html
import inspect
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from gradcam_core.services import imagenet as svc
from gradcam_core.services import models

from gradcam_core.ui.coerce import (ChoiceDropdown, ChoiceRadio, CoercedCheckbox, CoercedSlider,
                                     checked_api)
from gradcam_core.ui import files as outfiles

from gradcam_core.present import imagenet_text as itext

from gradcam_core.present import imagenet_view as view
from gradcam_core.present.method_texts import method_text
from gradcam_core.ui import cell_panel, fetch_panel, trust
from gradcam_core.present import alt_text
from gradcam_core.present.colour_vision import heat_choices, heat_map_note
from gradcam_core.present.words import lazy, say
from gradcam_core.ui import a11y
from gradcam_core.ui.common import PAGE_ONLY, ResultImage, by_name, scroll_js, user_errors
from gradcam_core.ui.imagenet_extras import (MAX_CLASS_HITS, NO_SECOND, PREDICTED, SCORE_CAM_WARNING,  # noqa: F401
                                              SLOW_SET, _slow, compare, find_classes, list_models, pick_example,
                                              search_target, search_target2, is_no_second, named_choice)
from gradcam_core.ui.kept import KeptResults
from gradcam_core.ui.serving import SLOW, SLOW_LIMIT, LinkRequest, kept_state, progress_callback

CONCURRENCY = "imagenet"  # model runs: at most `concurrency_limit` at once, whatever the model
RENDER_CONCURRENCY = "imagenet-render"  # re-drawing only: never waits behind a long Score-CAM

CSS = """
.imagenet-small, .imagenet-small p, .imagenet-small li { font-size: 0.85em; }
.imagenet-examples .thumbnail-item { min-width: 0; }
.imagenet-map .image-frame { width: 100%; }
.imagenet-map .image-frame img { object-fit: contain; max-height: 70vh; }
"""

def all_available() -> str:
    return say("ui.imagenet.all_available")


def intro() -> str:
    return say("ui.imagenet.intro")


def expired() -> str:
    return say("ui.imagenet.expired")


#: worded when read, in the reader's language (module constants would be worded once, at import)
__getattr__ = lazy(ALL_AVAILABLE=all_available, INTRO=intro, EXPIRED=expired)

# --------------------------------------------------------------------------- helpers

#: Raw results for re-drawing (a new colour map, opacity…) without a new model run, shared by all
#: sessions: a session's state is only {"key", "tag"} (see kept.py). 48 results ≈ 150 MB at most.
KEPT = KeptResults(capacity=48)


def _for_state(expl: svc.Explanation, tag=None) -> dict:
    """What the session keeps for re-drawing: a key to the raw results (``expl`` as the service
    returned it, never drawn: present draws on a copy), and the request that produced them."""
    return {"key": KEPT.put(expl), "tag": tag}


def _recall(state) -> svc.Explanation:
    expl = KEPT.get(state.get("key")) if isinstance(state, dict) else None
    if expl is None:
        raise ValueError(expired())
    return expl


def _gallery(expl: svc.Explanation, paths: list[str]) -> list[tuple[str, str]]:
    return [(p, s.caption) for p, s in zip(paths, expl.steps.values())]


def _drawn(expl: svc.Explanation, with_steps: bool = True):
    """What the page shows of a drawn explanation: (overlay, heat map, step gallery, downloads). The
    overlay and the heat map go out as pictures (sent inline as PNG data URLs, see ResultImage); the
    gallery's steps and the downloads are written as PNG files once."""
    overlay = view.overlay_panel(expl)
    d = outfiles._out_dir(None)
    paths = outfiles.write_pngs([s.image for s in expl.steps.values()], d, stem="view") if with_steps else []
    gallery = _gallery(expl, paths) if with_steps else None
    return overlay, (expl.heatmap if with_steps else None), gallery, outfiles.write_downloads(expl, d)


#: what an explanation fills, by name (the API returns them in this order)
EXPLAIN_OUTPUTS = ["summary", "label", "overlay", "heatmap", "steps", "steps_md", "downloads", "numbers", "state",
                   "alts"]  # (the last two are gr.States: not among the API's outputs)
N_EXPLAIN_OUTPUTS = len(EXPLAIN_OUTPUTS)
#: what a link restores before its result
LINK_INPUTS = ["photo", "model", "layer", "method", "target", "target2", "norm", "cmap", "alpha"]


def _full_outputs(expl: svc.Explanation, label: dict, request_key=None, raw: svc.Explanation | None = None) -> dict:
    """Everything an explanation fills, by name (``expl`` drawn; ``label``: its top-5; ``raw``: the
    service's result, kept for re-drawing)."""
    overlay, heatmap, gallery, downloads = _drawn(expl)
    summary, steps_md = itext.summary(expl), itext.steps_markdown(expl)
    alts = {"overlay": alt_text.explanation_alt(expl), "heatmap": alt_text.explanation_alt(expl, "heatmap")}
    return {"summary": summary, "label": label, "overlay": overlay, "heatmap": heatmap, "alts": alts,
            "steps": gallery, "steps_md": steps_md, "downloads": downloads, "numbers": expl.numbers,
            "state": _for_state(raw if raw is not None else expl, request_key)}


#: what a page's answer leaves for later: drawn when their part of the page is opened (see _lazy_parts)
LAZY_OUTPUTS = ["heatmap", "steps", "steps_md", "downloads", "numbers"]


def _page_outputs(expl: svc.Explanation, label: dict, request_key=None, raw: svc.Explanation | None = None) -> dict:
    """What a page's answer fills (issue 27: draw only what is on the screen): the summary, the top-5
    and the overlay (``expl`` with its overlays drawn), the kept state and the text alternatives. The
    raw map, the steps, the downloads and the numbers are emptied (never a previous photo's), and
    drawn from the kept result when their part of the page is opened (:func:`open_parts`)."""
    alts = {"overlay": alt_text.explanation_alt(expl), "heatmap": alt_text.explanation_alt(expl, "heatmap")}
    return {"summary": itext.summary(expl), "label": label, "overlay": view.overlay_panel(expl), "alts": alts,
            "heatmap": None, "steps": None, "steps_md": "", "downloads": None, "numbers": None,
            "state": _for_state(raw if raw is not None else expl, request_key)}


def _request_key(src, model_key, layer, method, target, target2):
    """What decides the model run (not the drawing); used to drop repeated identical requests.
    ``src``: the photo's source (svc.photo_of)."""
    return (src if isinstance(src, str) and len(src) < 4096 else id(src), model_key, layer, method,
            str(target), str(target2))


def _explain(src, key, slow: bool, model_key, layer, method, target, target2, norm, cmap, alpha, request=None,
             progress=None, whole=False, lazy: bool = False):
    """Run the model on the photo (``src``: its source, parsed once) and draw everything (any
    method); ``key``: the request's key (kept with the result); ``whole``: the overlay on the whole photo;
    ``lazy``: draw only what a page's answer shows (:func:`_page_outputs`; the API draws everything).
    One pass: the service runs and returns the raw result, present draws it, the tab places it."""
    if slow:
        gr.Warning(SCORE_CAM_WARNING, duration=8)
    second = None if target2 is None or is_no_second(target2) else target2
    raw = svc.explain_source(
        src, model_key, layer, method, target, second, norm=norm, cmap=cmap, alpha=alpha,
        progress=progress_callback(progress, request) if slow else None,
        time_limit=models.SCORE_CAM_LIMIT or None, whole=bool(whole),
    )
    label = raw.label()
    if lazy:
        return _page_outputs(view.draw_overlays(raw), label, key, raw)
    return _full_outputs(view.draw(raw), label, key, raw)


def _explain_photo(photo, model_key, layer, method, target, target2, norm, cmap, alpha, request, progress, whole,
                   slow: bool):
    second = None if is_no_second(target2) else target2  # read with the method's queue, before the service
    src = svc.photo_of(photo)
    key = _request_key(src, model_key, layer, method, target, target2)
    return _explain(src, key, slow, model_key, layer, method, target, second, norm, cmap, alpha, request, progress,
                    whole)


@user_errors
def explain(photo: Any, model_key: Any, layer: Any, method: Any, target: Any, target2: Any, norm: Any, cmap: Any, alpha: Any, request: gr.Request = None,
            progress: gr.Progress = gr.Progress(), whole: Any = False) -> dict:
    """API ``/imagenet_explain``: quick methods. The slow ones (Score-CAM) wait in their own queue,
    so that they never hold a worker that quick requests need: ``/imagenet_explain_slow``."""
    if _slow(method):
        raise ValueError(say("ui.imagenet.slow_method_queue", method=method))
    return _explain_photo(photo, model_key, layer, method, target, target2, norm, cmap, alpha, request, progress,
                          whole, False)


@user_errors
def explain_slow(photo: Any, model_key: Any, layer: Any, method: Any, target: Any, target2: Any, norm: Any, cmap: Any, alpha: Any, request: gr.Request = None,
                 progress: gr.Progress = gr.Progress(), whole: Any = False) -> dict:
    """API ``/imagenet_explain_slow``: any method, in the queue for slow work (one at a time)."""
    return _explain_photo(photo, model_key, layer, method, target, target2, norm, cmap, alpha, request, progress,
                          whole, _slow(method))


SLOW_METHODS = sorted(SLOW_SET)


def _route_js(kind: str) -> str:
    """A js-only event body: send this request to the quick or the slow queue, by method.

    It writes a fresh token into one of two hidden boxes; each box's ``.change`` runs the
    explanation in its own concurrency group. The other box is left alone (``undefined``: Gradio's page
    skips that output), not set to its own value: Gradio fires ``.change`` on any value set, even the
    same, and the other queue's handler would be called for nothing with every answer (issue 27). ``kind`` "force" (the Explain button) runs even an
    identical request again; "auto" (a new photo or setting) skips one the page already shows."""
    import json

    return (f"(method, quick, slow) => {{ const t = '{kind}:' + Date.now() + ':' + Math.random(); "
            f"return {json.dumps(SLOW_METHODS)}.includes(method) ? [undefined, t] : [t, undefined]; }}")


def _run(slow: bool, token, photo, model_key, layer, method, target, target2, norm, cmap, alpha, state, request,
         progress, whole=False):
    """The explanation behind the hidden boxes: silent when there is nothing to do (no photo, a model
    that cannot run — choosing it said why —, or the very request the page already shows: gradio 6's
    dropdowns report one pick twice, click and blur)."""
    skip = {}  # outputs left as they are
    if photo is None or _slow(method) != slow:
        return skip
    if models.is_known(model_key) and not models.is_available(model_key):
        return skip
    return _run_photo(slow, token, photo, model_key, layer, method, target, target2, norm, cmap, alpha, state,
                      request, progress, whole)


@user_errors
def _run_photo(slow: bool, token, photo, model_key, layer, method, target, target2, norm, cmap, alpha, state,
               request, progress, whole):
    second = None if is_no_second(target2) else target2  # read with the method's queue, before the service
    src = svc.photo_of(photo)
    key = _request_key(src, model_key, layer, method, target, target2)
    if not str(token or "").startswith("force") and isinstance(state, dict) and state.get("tag") == key:
        return {}
    return _explain(src, key, slow, model_key, layer, method, target, second, norm, cmap, alpha, request, progress,
                    whole, lazy=True)


def run_quick(token: Any, photo: Any, model_key: Any, layer: Any, method: Any, target: Any, target2: Any, norm: Any, cmap: Any, alpha: Any, state: Any = None,
              request: gr.Request = None, progress: gr.Progress = gr.Progress(), whole: Any = False) -> dict:
    return _run(False, token, photo, model_key, layer, method, target, target2, norm, cmap, alpha, state, request,
                progress, whole)


def run_slow(token: Any, photo: Any, model_key: Any, layer: Any, method: Any, target: Any, target2: Any, norm: Any, cmap: Any, alpha: Any, state: Any = None,
             request: gr.Request = None, progress: gr.Progress = gr.Progress(), whole: Any = False) -> dict:
    return _run(True, token, photo, model_key, layer, method, target, target2, norm, cmap, alpha, state, request,
                progress, whole)


@user_errors
def restyle(state: Any, norm: Any, cmap: Any, alpha: Any, whole: Any = False) -> dict:
    """New normalisation or colormap: redraw everything from the kept results (no model run)."""
    if state is None:
        return {}
    expl = view.restyle(_recall(state), norm, cmap, alpha, whole=bool(whole))
    overlay, heatmap, gallery, downloads = _drawn(expl)
    return {"overlay": overlay, "heatmap": heatmap, "steps": gallery, "steps_md": itext.steps_markdown(expl),
            "downloads": downloads, "numbers": expl.numbers}


def _on_page(fn: Callable[..., dict]) -> Callable[..., dict]:
    """``fn`` for the page's own answer events: its overlay (a photo) is sent as an inline JPEG
    (view.jpeg_data_url; ResultImage passes a data URL on as it is) instead of a PNG: 6× fewer bytes,
    a fraction of the encoding. The API's endpoints keep their PNG. The images' text alternatives go
    as JSON into the page's alt box (a11y.alt_box: set in the browser, no second request); the API's
    events keep the alt state."""

    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def page(*args, **kwargs):
        out = fn(*args, **kwargs)
        if isinstance(out, dict) and out.get("overlay") is not None:
            call = signature.bind(*args, **kwargs)
            call.apply_defaults()
            out = {**out, "overlay": view.jpeg_data_url(out["overlay"], whole=call.arguments.get("whole") is True)}
        if isinstance(out, dict) and "alts" in out:  # the texts go to the page's alt box, set there by js
            out = {**out, "alts": a11y.alt_json(out["alts"])}
        return out

    return page


def _alts_as_json(fn: Callable[..., dict]) -> Callable[..., dict]:
    """``fn`` for a page-only event whose texts go to the page's alt box (a11y.alt_json), the rest as it is."""

    @functools.wraps(fn)
    def page(*args, **kwargs):
        out = fn(*args, **kwargs)
        if isinstance(out, dict) and "alts" in out:
            out = {**out, "alts": a11y.alt_json(out["alts"])}
        return out

    return page


#: the parts of the page drawn when opened: name → what it fills
LAZY_PARTS = {"steps": ["steps", "steps_md"], "raw": ["heatmap"], "downloads": ["downloads", "numbers"]}


def _lazy_parts(state, parts, norm, cmap, alpha, whole) -> dict:
    """The named ``parts`` (LAZY_PARTS' keys) of the session's kept result, drawn in the page's current
    style, exactly as a full answer draws them; the model does not run. No result yet: nothing; a
    result no longer kept: a message asking for a new run (EXPIRED)."""
    if not isinstance(state, dict) or not parts:
        return {}
    expl = view.styled(_recall(state), norm, cmap, alpha, whole=bool(whole))
    out: dict = {}
    if "steps" in parts:
        drawn = view.draw_steps(expl)
        paths = outfiles.write_pngs([s.image for s in drawn.steps.values()], outfiles._out_dir(None), stem="view")
        out.update(steps=_gallery(drawn, paths), steps_md=itext.steps_markdown(drawn))
    if "raw" in parts:
        out["heatmap"] = view.heatmap_image(expl)
    if "downloads" in parts:
        out.update(downloads=outfiles.write_downloads(expl, outfiles._out_dir(None)), numbers=view.numbers(expl))
    return out


@user_errors
def open_steps(state: Any, norm: Any, cmap: Any, alpha: Any, whole: Any = False) -> dict:
    """The steps' accordion opened: the step gallery and its texts, from the kept result."""
    return _lazy_parts(state, ["steps"], norm, cmap, alpha, whole)


@user_errors
def open_raw(state: Any, norm: Any, cmap: Any, alpha: Any, whole: Any = False) -> dict:
    """The raw map's accordion opened: the raw map with its colour bar, from the kept result."""
    return _lazy_parts(state, ["raw"], norm, cmap, alpha, whole)


@user_errors
def open_downloads(state: Any, norm: Any, cmap: Any, alpha: Any, whole: Any = False) -> dict:
    """The downloads' accordion opened: the three PNG files and the numbers, from the kept result."""
    return _lazy_parts(state, ["downloads"], norm, cmap, alpha, whole)


@user_errors
def open_parts(state: Any, steps_open: Any, raw_open: Any, downloads_open: Any, norm: Any, cmap: Any, alpha: Any,
               whole: Any = False) -> dict:
    """After a page's answer (a second event, chained): the parts whose accordion is open, redrawn
    for the new result."""
    parts = [n for n, on in (("steps", steps_open), ("raw", raw_open), ("downloads", downloads_open)) if on is True]
    return _lazy_parts(state, parts, norm, cmap, alpha, whole)


def _page_overlay(expl: svc.Explanation) -> str:
    """The overlay of ``expl`` (styled, not drawn) as the page gets it: an inline JPEG."""
    return view.jpeg_data_url(view.overlay_panel(view.draw_overlays(expl)), whole=bool(expl.whole))


@user_errors
def restyle_page(state: Any, norm: Any, cmap: Any, alpha: Any, whole: Any = False, steps_open: Any = False,
                 raw_open: Any = False, downloads_open: Any = False) -> dict:
    """The page's :func:`restyle` (a new normalisation or colour map): the overlay, and only the parts
    whose accordion is open; the closed ones are emptied (drawn in the new style when opened)."""
    if state is None:
        return {}
    expl = view.styled(_recall(state), norm, cmap, alpha, whole=bool(whole))
    parts = [n for n, on in (("steps", steps_open), ("raw", raw_open), ("downloads", downloads_open)) if on is True]
    return {"overlay": _page_overlay(expl), "heatmap": None, "steps": None, "steps_md": "", "downloads": None,
            "numbers": None, **_lazy_parts(state, parts, norm, cmap, alpha, whole)}


@user_errors
def opacity_page(state: Any, norm: Any, cmap: Any, alpha: Any, whole: Any = False, downloads_open: Any = False) -> dict:
    """The page's :func:`change_opacity` (opacity, whole photo): the overlay, and the downloads if open."""
    if state is None:
        return {}
    expl = view.styled(_recall(state), norm, cmap, alpha, whole=bool(whole))
    return {"overlay": _page_overlay(expl), "downloads": None,
            **_lazy_parts(state, ["downloads"] if downloads_open is True else [], norm, cmap, alpha, whole)}


@user_errors
def change_opacity(state: Any, norm: Any, cmap: Any, alpha: Any, whole: Any = False) -> dict:
    """New opacity, or the whole photo on/off: only the overlay (and the downloads) are redrawn."""
    if state is None:
        return {}
    expl = view.restyle(_recall(state), norm, cmap, alpha, steps=False, whole=bool(whole))
    overlay, _, _, downloads = _drawn(expl, with_steps=False)
    return {"overlay": overlay, "downloads": downloads}


@user_errors
def change_model(model_key: Any) -> dict:
    """New model: its layers (default selected) and a note (with the methods not offered for it and
    why); a warning if it cannot run here."""
    spec = svc.get_spec(model_key)
    models.fetch_on_select(spec.key)  # missing weights: fetched in the background if possible
    if not spec.available:
        why = svc._short_reason(spec.key, spec).replace("`", "")
        gr.Warning(say("ui.imagenet.model_not_available", title=spec.title, why=why), duration=10)
    layers = gr.Dropdown(choices=svc.layer_choices(spec.key), value=spec.default_layer)
    return {"layer": layers, "model_note": _model_note(spec.key)}


@user_errors
def model_methods(model_key: Any, method: Any = None) -> dict:
    """New model (the page's own step after :func:`change_model`): the methods offered for it, the
    chosen one kept when it is offered, else Grad-CAM (issue 29: no guided backprop on a GELU
    network; the model's note says why)."""
    offered = svc.offered_methods(svc.get_spec(model_key).key)
    return {"method": gr.Dropdown(choices=offered, value=method if method in offered else "Grad-CAM")}


@user_errors
def make_link(photo: Any, model_key: Any, layer: Any, method: Any, target: Any, target2: Any, norm: Any, cmap: Any, alpha: Any) -> str:
    """The query string of a link that reopens this result. Only now is an uploaded photo kept
    on the server (examples are referenced by name and need no copy)."""
    src = svc.photo_of(photo)
    svc.load_photo(src)  # only pictures are kept and linked: same loader and refusals as Explain
    if not isinstance(src, str) or src.startswith("data:") or not Path(src).is_file():
        raise ValueError(say("ui.imagenet.photo_not_linkable"))
    return svc.photo_link(src, model=model_key, layer=layer, method=method, target=target, target2=target2,
                          norm=norm, cmap=cmap, alpha=alpha)


@user_errors
def explain_from_link(request: gr.Request, progress: gr.Progress = gr.Progress()) -> dict:
    """On page load: if the URL is an ImageNet link, restore its inputs and show its result."""
    params = dict(request.query_params) if request is not None else {}
    if params.get("tab") != "imagenet" or not params.get("photo"):
        return {}
    try:
        path = svc.recall_photo(params["photo"])
    except ValueError as exc:
        gr.Warning(str(exc), duration=12)
        return {}
    model_key = params.get("model") or models.default_key()
    if not models.is_known(model_key):
        gr.Warning(say("ui.imagenet.link_unknown_model", model_key=model_key))
        model_key = models.default_key()
    spec = svc.get_spec(model_key)
    layer = params.get("layer") if params.get("layer") in spec.layer_names else spec.default_layer
    method = params.get("method") if params.get("method") in svc.method_names() else "Grad-CAM"
    target = params.get("target") or PREDICTED
    target2 = params.get("target2") or NO_SECOND
    norm = params.get("norm") if params.get("norm") in svc.NORMS else "max"
    cmap = params.get("cmap") if params.get("cmap") in svc.CMAPS else "jet"
    try:
        alpha = min(1.0, max(0.0, float(params.get("alpha", 0.5))))
    except ValueError:
        alpha = 0.5
    run = explain_slow if _slow(method) else explain
    outs = run(path, model_key, layer, method, target, target2, norm, cmap, alpha, progress=progress)
    restored = dict(zip(LINK_INPUTS, [path, model_key, gr.Dropdown(choices=svc.layer_choices(model_key), value=layer),
                                      method, target, target2, norm, cmap, alpha]))
    return restored | outs


def explain_from_query(query: Any, progress: gr.Progress = gr.Progress()) -> dict:
    """:func:`explain_from_link` for the page's query string."""
    return explain_from_link(LinkRequest(query), progress=progress)


def _model_note(model_key: str | None) -> str:
    """One line on the selected model: what it is, or why it cannot run here; then the methods not
    offered for it, each with the registry's reason (issue 29)."""
    spec = svc.get_spec(model_key)
    if spec.available:
        note = say("ui.imagenet.model_note", title=spec.title, description=spec.description)
    else:
        note = say("ui.imagenet.model_cannot_run", title=spec.title, reason=svc._short_reason(spec.key, spec))
    excluded = svc.excluded_methods(spec)
    if excluded:
        lines = "; ".join(say("transformer.method_excluded_line", method=m, why=why) for m, why in excluded.items())
        note += "\n\n" + say("transformer.method_excluded_note", title=spec.title, lines=lines)
    return note


def method_note(method: Any) -> str:
    """What the method computes (gradcam_core.present.method_texts, through METHOD_NOTES)."""
    text = (itext.method_note(method) if method in itext.METHODS else "") or method_text(method).summary
    if method == models.SCORE_CAM_EXACT:  # the quick Score-CAM's note states its cost already
        text += say("ui.imagenet.slow_note", warning=SCORE_CAM_WARNING)
    return text


def clear_credit() -> str:
    return ""


#: the browser's :func:`clear_credit` (the page's upload event runs it with no request)
CLEAR_CREDIT_JS = "() => ''"


def refresh_models(model_key: Any) -> dict:
    """On page load ({name: value}): availability may have changed since start (a weights file was added or
    fetched: then the page opens on the new default, e.g. ResNet-50), and fetching's progress."""
    if model_key == _BUILT_DEFAULT.get("key"):
        model_key = models.default_key()
    return {"model": gr.Dropdown(choices=svc.model_choices(), value=model_key), "model_note": _model_note(model_key),
            "unavailable": svc.unavailable_note() or all_available(), **fetch_panel.on_load()}


_BUILT_DEFAULT: dict = {}  # the model the page is built with (page loads switch to a newer default)


# --------------------------------------------------------------------------- layout
def _credits_markdown(entries) -> str:
    lines = [say("ui.imagenet.credit_line", title=html.escape(e['title']), category=e['category'],
                 credit=html.escape(e['credit']), licence=html.escape(e['licence']), package=e['package'])
             for e in entries]
    return "\n".join(lines)


def _photo_and_result() -> dict:
    """Intro, photo, Explain, and the result right under the photo (so after an upload on a phone the
    top 5 and the overlay are on screen; the events also scroll to it)."""
    gr.Markdown(intro(), elem_classes="tight-md")
    photo = gr.Image(label=say("ui.imagenet.photo_label"), type="filepath", sources=["upload", "webcam", "clipboard"],
                     image_mode=None, height=260, format="png", elem_id="imagenet-photo")
    go = gr.Button(say("ui.imagenet.explain_button"), variant="primary")
    credit = gr.Markdown("", elem_classes=["tight-md", "imagenet-small"])

    # The result comes right under the photo, so after an upload on a phone the top 5 and the
    # overlay are on screen (the events also scroll to it): photo → result → examples → settings → steps.
    with gr.Column(elem_id="imagenet-result", elem_classes="result-block"):
        label = gr.Label(num_top_classes=5, label=say("ui.imagenet.top5_label"), elem_id="imagenet-label", elem_classes="compact-label")
        overlay = ResultImage(label=say("ui.imagenet.overlay_label"), interactive=False,
                              elem_classes="imagenet-map", buttons=["download", "fullscreen"])
        summary = gr.Markdown(elem_classes="tight-md", label=say("ui.imagenet.summary_label"))  # (labels name API outputs)
    return dict(photo=photo, go=go, credit=credit, label=label, overlay=overlay, summary=summary)


def _examples(entries) -> dict:
    """The example photos and their credits."""
    with gr.Accordion(say("ui.imagenet.examples_title"), open=True):
        examples = gr.Gallery(
            value=[(e["path"], e["title"].split(" (")[0]) for e in entries],
            label=say("ui.imagenet.examples_label") + ", ".join(dict.fromkeys(e["category"] for e in entries)), columns=3,
            height="auto", allow_preview=False, object_fit="cover", elem_classes="imagenet-examples",
            interactive=False, elem_id="imagenet-examples",
        )
        gr.Markdown(svc.attribution_note(entries), elem_classes=["tight-md", "imagenet-small"])
        with gr.Accordion(say("ui.imagenet.credits_title"), open=False):
            gr.Markdown(_credits_markdown(entries), elem_classes="imagenet-small")
    return dict(examples=examples)


def _settings(default, spec) -> dict:
    """Model, layer, method, classes, opacity, normalisation, colour map and the raw map."""
    model = ChoiceDropdown(svc.model_choices(), value=default, label=say("ui.imagenet.model_label"), filterable=False,
                           elem_id="imagenet-model")
    model_note = gr.Markdown(_model_note(default), elem_classes=["tight-md", "imagenet-small"])
    fetch_md, fetch_timer = fetch_panel.build()
    with gr.Accordion(say("ui.imagenet.unavailable_title"), open=False):
        unavailable_md = gr.Markdown(svc.unavailable_note() or all_available(), elem_classes="imagenet-small")
    layer = ChoiceDropdown(svc.layer_choices(default), value=spec.default_layer, label=say("ui.imagenet.layer_label"), filterable=False,
                        info=say("ui.imagenet.layer_info"), elem_id="imagenet-layer")
    method = ChoiceDropdown(svc.method_names(), value="Grad-CAM", label=say("ui.imagenet.method_label"), filterable=False,
                            elem_id="imagenet-method")
    m_note = gr.Markdown(method_note("Grad-CAM"), elem_classes=["tight-md", "imagenet-small"])
    # The 1 000 class names are searched on the server as you type, not sent with the page (they
    # were 250 KB of every page load, and a copy in every session's memory).
    target = ChoiceDropdown([named_choice(PREDICTED)], value=PREDICTED, label=say("ui.imagenet.target_label"), allow_custom_value=True,
                         filterable=True, info=say("ui.imagenet.target_info"), elem_id="imagenet-target")
    target2 = ChoiceDropdown([named_choice(NO_SECOND)], value=NO_SECOND, label=say("ui.imagenet.target2_label"),
                          allow_custom_value=True, filterable=True,
                          info=say("ui.imagenet.target2_info"), elem_id="imagenet-target2")
    alpha = CoercedSlider(0, 1, value=0.5, step=0.05, label=say("ui.imagenet.alpha_label"), elem_id="imagenet-alpha")
    whole = CoercedCheckbox(value=False, label=say("ui.imagenet.whole_label"),
                        info=say("ui.imagenet.whole_info"))
    with gr.Row():
        norm = ChoiceRadio([(say(v), k) for k, v in svc.NORMS.items()], value="max", label=say("ui.imagenet.norm_label"), min_width=200,
                           elem_id="imagenet-norm")
        cmap = ChoiceDropdown(heat_choices(), value="jet", label=say("ui.imagenet.cmap_label"), filterable=False, min_width=120,
                              elem_id="imagenet-cmap")
    gr.Markdown(itext.norm_note() + "\n\n" + heat_map_note(), elem_classes=["tight-md", "imagenet-small"])
    # drawn when opened (issue 27): it sits below the settings, off a phone's screen
    with gr.Accordion(say("ui.imagenet.raw_title"), open=False, elem_id="imagenet-raw-acc") as raw_acc:
        heatmap = ResultImage(label=say("ui.imagenet.heatmap_label"), interactive=False, elem_classes="imagenet-map",
                              buttons=["download", "fullscreen"])
        gr.Markdown(itext.heat_note(), elem_classes=["tight-md", "imagenet-small"])
    return dict(raw_acc=raw_acc, model=model, model_note=model_note, fetch_md=fetch_md, fetch_timer=fetch_timer,
                unavailable_md=unavailable_md, layer=layer, method=method,
                m_note=m_note, target=target, target2=target2, alpha=alpha, whole=whole, norm=norm, cmap=cmap,
                heatmap=heatmap)


def _details() -> dict:
    """Steps, compare, downloads and numbers, the link."""
    # the steps, the downloads and the numbers are drawn when their accordion is opened (issue 27)
    with gr.Accordion(say("ui.imagenet.steps_title"), open=False, elem_id="imagenet-steps-acc") as steps_acc:
        steps = gr.Gallery(label=say("ui.imagenet.steps_label"), columns=2, height="auto", object_fit="contain",
                           format="png", elem_classes="imagenet-steps", interactive=False)
        with gr.Accordion(say("ui.imagenet.steps_text_title"), open=False):
            steps_md = gr.Markdown(label=say("ui.imagenet.steps_text_label"))

    with gr.Accordion(say("ui.imagenet.compare_title"), open=False):
        compare_btn = gr.Button(say("ui.imagenet.compare_button"))
        compare_gallery = gr.Gallery(label=say("ui.imagenet.compare_gallery_label"), columns=2, height="auto",
                                     object_fit="contain", format="png", interactive=False)
        compare_md = gr.Markdown(elem_classes=["tight-md", "imagenet-small"])

    with gr.Accordion(say("ui.imagenet.downloads_title"), open=False, elem_id="imagenet-downloads-acc") as downloads_acc:
        downloads = gr.File(label=say("ui.imagenet.downloads_label"), file_count="multiple",
                            interactive=False)
        numbers = gr.JSON(label=say("ui.imagenet.numbers_label"), open=False)

    with gr.Row():
        link_query = gr.Textbox(visible=False)
        link_btn = gr.Button(say("ui.imagenet.copy_link_button"), size="sm", variant="secondary", elem_id="imagenet-copy-link")
    link_box = gr.Textbox(label=say("ui.imagenet.link_label"), interactive=False, elem_id="imagenet-link-box",
                          buttons=["copy"], max_lines=3,
                          info=say("ui.imagenet.link_info"))
    return dict(steps_acc=steps_acc, downloads_acc=downloads_acc, steps=steps, steps_md=steps_md, compare_btn=compare_btn, compare_gallery=compare_gallery,
                compare_md=compare_md, downloads=downloads, numbers=numbers, link_query=link_query,
                link_btn=link_btn, link_box=link_box)


def _hidden() -> dict:
    """The state, and the hidden boxes/buttons: two route each request to the quick or the slow
    queue (see _route_js); two carry the public API endpoints, which the page itself never calls."""
    state = kept_state(KEPT)  # its result leaves the shared store when Gradio drops the state
    # Two hidden boxes route each request to the quick or the slow queue (see _route_js); two hidden
    # buttons carry the public API endpoints, which the page itself never calls.
    with gr.Row(visible=False):
        quick_req = gr.Textbox(visible=False)
        slow_req = gr.Textbox(visible=False)
        api_quick = gr.Button(visible=False)
        api_slow = gr.Button(visible=False)
        # the public redraw endpoints (full answers); the page redraws lazily through its own events
        api_draw = {f"api_{n}": gr.Button(visible=False) for n in ("restyle", "opacity", "whole")}
        # which lazily drawn parts are open (set in the browser by their accordions), and a token whose
        # change redraws the open ones after an answer (see _wire_lazy)
        opened = {f"{n}_open": gr.Checkbox(False, visible=False) for n in LAZY_PARTS}
        lazy_req = gr.Textbox(visible=False)
    return dict(state=state, alts=a11y.alt_state(), alt_box=a11y.alt_box(), quick_req=quick_req, slow_req=slow_req, api_quick=api_quick,
                api_slow=api_slow, lazy_req=lazy_req, **opened, **api_draw)


def build(demo: gr.Blocks, concurrency_limit: int = 2, query: gr.Textbox | None = None) -> None:
    """Add the ImageNet tab's contents inside the current ``gr.Tab``. ``query``: a hidden box that
    receives the page's query string (see serving.LINK_QUERY_JS); without it, links are read at
    page load."""
    default = _BUILT_DEFAULT["key"] = models.default_key()
    spec = models.spec(default)
    entries = svc.examples_by_category()
    c = _photo_and_result()
    # right under the result: a tap on the overlay (or the raw map further down) fills it
    cells = cell_panel.build_panel("imagenet", say("ui.imagenet.cell_panel_where"))
    c.update({**_examples(entries), **_settings(default, spec), **_details()})
    trust.build_imagenet_panel(c["photo"], c["model"], c["layer"], c["target"], concurrency_id=SLOW,
                               concurrency_limit=SLOW_LIMIT)
    c.update(_hidden())
    _wire(demo, c, concurrency_limit, query)
    cell_panel.wire_imagenet(cells, c["overlay"], c["heatmap"], c["state"], c["whole"],
                             dict(concurrency_id=CONCURRENCY, concurrency_limit=concurrency_limit), _recall)


def _wire(demo: gr.Blocks, c: dict, concurrency_limit: int, query) -> None:
    """The tab's events (handlers return {name: value}; see by_name)."""
    u = SimpleNamespace(**c)
    kinds = dict(run=dict(concurrency_id=CONCURRENCY, concurrency_limit=concurrency_limit),
                 slow=dict(concurrency_id=SLOW, concurrency_limit=SLOW_LIMIT),
                 draw=dict(concurrency_id=RENDER_CONCURRENCY, concurrency_limit=concurrency_limit))
    named = {n: c[n] for n in ("summary", "label", "overlay", "heatmap", "steps", "steps_md", "downloads", "numbers",
                               "state", "alts", "photo", "model", "layer", "method", "target", "target2", "norm",
                               "cmap", "alpha", "model_note", "compare_gallery", "compare_md", "credit")}
    a11y.wire_alts(u.alts, {"overlay": u.overlay, "heatmap": u.heatmap})  # the images' text alternatives on the page
    # the handlers return {name: value}; the events get {component: value} (the rest stays as it is)
    ev = {fn.__name__: by_name(fn, named) for fn in (explain, explain_slow, restyle, change_opacity, explain_from_link,
                                                      explain_from_query, change_model, model_methods, compare,
                                                      pick_example,
                                                      open_steps, open_raw, open_downloads, open_parts, restyle_page,
                                                      opacity_page)}
    # the page's own answers: the overlay as an inline JPEG (the API keeps its PNG)
    page_named = {**named, "alts": u.alt_box}
    ev.update({fn.__name__: by_name(_on_page(fn), page_named) for fn in (run_quick, run_slow)})
    # a link's answer (the page's own too): its texts also into the alt box (its answer is otherwise the full one)
    ev.update({fn.__name__: by_name(_alts_as_json(fn), page_named) for fn in (explain_from_link, explain_from_query)})
    a11y.wire_alt_box(u.alt_box, {"overlay": u.overlay, "heatmap": u.heatmap})
    _wire_explain(u, named, ev, kinds)
    _wire_settings(u, ev, kinds)
    _wire_lazy(u, ev, kinds)
    _wire_extras(demo, u, named, ev, kinds, query)


def _explain_inputs(u) -> list:
    """What an explanation (and a link to it) is made from, in the API's parameter order."""
    return [u.photo, u.model, u.layer, u.method, u.target, u.target2, u.norm, u.cmap, u.alpha]


def _wire_explain(u, named: dict, ev: dict, kinds: dict) -> None:
    """Explaining: the two API endpoints, and the page's route (photo, Explain button, settings) to
    the quick or the slow queue, then the scroll to the result."""
    explain_inputs = _explain_inputs(u)
    explain_outputs = [named[n] for n in EXPLAIN_OUTPUTS]
    # the page's answers: the same, with the texts for the images into the page's alt box (set in the browser)
    page_outputs = [u.alt_box if n == "alts" else named[n] for n in EXPLAIN_OUTPUTS]
    run, slow, draw = kinds["run"], kinds["slow"], kinds["draw"]
    # preprocess=False everywhere a photo goes in: gradio must not decode uploads itself (see svc.photo_of)
    u.api_quick.click(ev["explain"], explain_inputs, explain_outputs, api_name="imagenet_explain", preprocess=False,
                      **run)
    u.api_slow.click(ev["explain_slow"], explain_inputs, explain_outputs, api_name="imagenet_explain_slow",
                     preprocess=False, **slow)

    route = [u.method, u.quick_req, u.slow_req], [u.quick_req, u.slow_req]
    u.go.click(None, *route, js=_route_js("force"), api_name="imagenet_route_explain", queue=False)
    u.photo.change(None, *route, js=_route_js("auto"), api_name="imagenet_photo_change", queue=False)
    # a new photo of one's own clears the example's credit, in the browser (a server event cost a request per upload)
    u.photo.upload(None, None, u.credit, js=CLEAR_CREDIT_JS, api_visibility="private", queue=False)
    # a tap in the gallery (its event data is the tap): the page's own; from Python, send the photo itself
    u.examples.select(ev["pick_example"], None, [u.photo, u.credit], api_name="imagenet_pick_example", **PAGE_ONLY,
                      **draw)
    gr.on([u.layer.input, u.method.input, u.target.input, u.target2.input], None, *route, js=_route_js("auto"),
          api_name="imagenet_settings_change", queue=False)
    # once a result is shown, the page scrolls to it (just under the photo)
    show = dict(fn=None, inputs=None, outputs=None, js=scroll_js("imagenet-result"), queue=False)
    run_inputs = explain_inputs + [u.state, u.whole]  # whole: the LAST input (the overlay on the whole photo)
    # the page's own events (a hidden token, the session's last result): not in the API, which has
    # /imagenet_explain and /imagenet_explain_slow; here a request for the other queue or the result
    # the page already shows is skipped without a word, as the page needs (PAGE_ONLY)
    # after the answer, a second event redraws the lazily drawn parts that are open (_wire_lazy): only the
    # browser looks at which are open, so an answer with them all closed costs the server nothing more
    refresh = dict(fn=None, inputs=[u.steps_open, u.raw_open, u.downloads_open], outputs=u.lazy_req,
                   js=_REFRESH_JS, queue=False, **PAGE_ONLY)
    answer = u.quick_req.change(ev["run_quick"], [u.quick_req] + run_inputs, page_outputs, api_name="imagenet_run",
                                preprocess=False, trigger_mode="always_last", **PAGE_ONLY, **run)
    answer.success(api_name="imagenet_show_result", **show)
    answer.success(**refresh)
    answer = u.slow_req.change(ev["run_slow"], [u.slow_req] + run_inputs, page_outputs, api_name="imagenet_run_slow",
                               preprocess=False, trigger_mode="always_last", **PAGE_ONLY, **slow)
    answer.success(api_name="imagenet_show_result_slow", **show)
    answer.success(**refresh)
    u.model.change(ev["change_model"], u.model, [u.layer, u.model_note], api_name="imagenet_model_change", **draw).then(
        ev["model_methods"], [u.model, u.method], u.method, api_name="imagenet_model_methods", **PAGE_ONLY,
        **draw).then(
        None, *route, js=_route_js("auto"), api_name="imagenet_model_change_explain", queue=False)


#: a js-only step after a page's answer: a new token (whose change redraws the open parts) when any
#: lazily drawn part is open; ``undefined`` when none is (the page skips the output: no change, no request)
_REFRESH_JS = ("(steps, raw, downloads) => (steps || raw || downloads) ? "
               "'refresh:' + Date.now() + ':' + Math.random() : undefined")


def _wire_lazy(u, ev: dict, kinds: dict) -> None:
    """The parts drawn when opened (issue 27): each accordion's expand draws its part from the kept
    result and marks it open in the browser (collapse: closed); after an answer, the open ones are
    redrawn (the token set by _REFRESH_JS)."""
    draw = kinds["draw"]
    look = [u.state, u.norm, u.cmap, u.alpha, u.whole]
    for part, acc, outs in (("steps", u.steps_acc, [u.steps, u.steps_md]), ("raw", u.raw_acc, [u.heatmap]),
                            ("downloads", u.downloads_acc, [u.downloads, u.numbers])):
        flag = getattr(u, f"{part}_open")
        acc.expand(None, None, flag, js="() => true", queue=False, **PAGE_ONLY)
        acc.collapse(None, None, flag, js="() => false", queue=False, **PAGE_ONLY)
        acc.expand(ev[f"open_{part}"], look, outs, api_name=f"imagenet_open_{part}", **PAGE_ONLY, **draw)
    u.lazy_req.change(ev["open_parts"], [u.state, u.steps_open, u.raw_open, u.downloads_open] + look[1:],
                      [u.heatmap, u.steps, u.steps_md, u.downloads, u.numbers], api_name="imagenet_open_parts",
                      trigger_mode="always_last", **PAGE_ONLY, **draw)


def _wire_settings(u, ev: dict, kinds: dict) -> None:
    """Settings that redraw without explaining again (colours, opacity, whole photo) or only help
    to choose (the method's note, the class search). The model's change is in _wire_explain:
    it explains again. (``.change``, not ``.input``, for the model: a click on an option fires
    ``.input`` twice.)"""
    draw = kinds["draw"]
    u.method.change(method_note, u.method, u.m_note, api_name="imagenet_method_note", queue=False)
    quiet = dict(queue=False, show_progress="hidden")
    u.target.key_up(search_target, None, u.target, api_name="imagenet_search_target", **quiet)
    u.target2.key_up(search_target2, None, u.target2, api_name="imagenet_search_target2", **quiet)
    look = [u.state, u.norm, u.cmap, u.alpha, u.whole]
    restyled = [u.overlay, u.heatmap, u.steps, u.steps_md, u.downloads, u.numbers]
    # the API: full redraws, as before (hidden buttons: the page never calls them)
    u.api_restyle.click(ev["restyle"], look, restyled, api_name="imagenet_restyle", trigger_mode="always_last", **draw)
    u.api_opacity.click(ev["change_opacity"], look, [u.overlay, u.downloads], api_name="imagenet_opacity",
                        trigger_mode="always_last", **draw)
    u.api_whole.click(ev["change_opacity"], look, [u.overlay, u.downloads], api_name="imagenet_whole_photo",
                      trigger_mode="always_last", **draw)
    # the page: the overlay (an inline JPEG) and only the open parts (issue 27)
    gr.on([u.norm.input, u.cmap.input], ev["restyle_page"], look + [u.steps_open, u.raw_open, u.downloads_open],
          restyled, api_name="imagenet_restyle_page", trigger_mode="always_last", **PAGE_ONLY, **draw)
    u.alpha.change(ev["opacity_page"], look + [u.downloads_open], [u.overlay, u.downloads, u.numbers],
                   api_name="imagenet_opacity_page", trigger_mode="always_last", show_progress="hidden", **PAGE_ONLY,
                   **draw)
    u.whole.input(ev["opacity_page"], look + [u.downloads_open], [u.overlay, u.downloads, u.numbers],
                  api_name="imagenet_whole_photo_page", trigger_mode="always_last", **PAGE_ONLY, **draw)


def _wire_extras(demo: gr.Blocks, u, named: dict, ev: dict, kinds: dict, query) -> None:
    """Model comparison, links (make one, open one), the API-only look-ups, and the model list
    with its background download."""
    explain_inputs = _explain_inputs(u)
    run, slow, draw = kinds["run"], kinds["slow"], kinds["draw"]
    u.compare_btn.click(ev["compare"], [u.photo, u.model, u.method, u.target, u.norm, u.cmap, u.alpha],
                        [u.compare_gallery, u.compare_md], api_name="imagenet_compare", preprocess=False, **slow)
    u.link_btn.click(make_link, explain_inputs, u.link_query, api_name="imagenet_make_link", preprocess=False,
                     **draw).success(
        None, u.link_query, u.link_box, api_name="imagenet_copy_link",
        js="""(q) => { const l = window.gradcamLang && window.gradcamLang !== 'en' && q ? '&lang=' + window.gradcamLang : '';
                       const u = window.location.origin + window.location.pathname + (q || '') + l;
                       try { navigator.clipboard.writeText(u); } catch (e) {} return u; }""")
    link_outputs = [named[n] for n in LINK_INPUTS] + [u.alt_box if n == "alts" else named[n] for n in EXPLAIN_OUTPUTS]
    if query is not None:  # the page's query string, read in the browser: only a link calls the server
        query.change(ev["explain_from_query"], query, link_outputs, api_name="imagenet_from_link", **PAGE_ONLY, **run)
    else:
        demo.load(ev["explain_from_link"], None, link_outputs, api_name="imagenet_from_link", **PAGE_ONLY, **run)
    gr.api(checked_api(find_classes), api_name="imagenet_find_classes", **draw)
    gr.api(list_models, api_name="imagenet_models", **draw)
    loaded = {"model": u.model, "model_note": u.model_note, "unavailable": u.unavailable_md, "box": u.fetch_md,
              "timer": u.fetch_timer}
    demo.load(by_name(refresh_models, loaded), u.model, list(loaded.values()), api_name="imagenet_refresh_models",
              queue=False)
    fetch_panel.wire(u.fetch_md, u.fetch_timer, u.model, u.model_note, u.unavailable_md, _model_note, all_available)
