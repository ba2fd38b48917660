"""ImageNet explanations, raw: a photo in, the model's top-5 and one CAMResult per explained class
out (no drawing, no prose, no gradio).

* :func:`explain_photo` / :func:`explain_source` — one forward pass of an ImageNet model on a
  photo: top-5 and the CAM of one class, or of two from the *same* forward pass.  Example photos
  (``examples/``) are recognised by content and their raw result is cached lazily, so even
  Score-CAM on an example is instant the second time.  Uploaded photos are never kept.
* :func:`compare_models` — one photo, one class, the CAM of every available model.
* the registry seen from the tab: :func:`model_status`, :func:`layer_choices`, classes
  (:func:`find_classes`, :func:`parse_class`).

Drawing is :mod:`gradcam_core.present.imagenet_view`; prose is
:mod:`gradcam_core.present.imagenet_text`; Score-CAM's cost and time guard are
:mod:`gradcam_core.cam.scorecam_budget`.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from cachetools import LRUCache
import numpy as np
import torch
from PIL import Image

from gradcam_core.base import inputs
from gradcam_core.cam import methods as _methods
from gradcam_core.cam.engine import CAMResult
from gradcam_core.cam.guided import guided_image
from gradcam_core.cam.methods import METHODS, make_cam
from gradcam_core.cam.scorecam_budget import SCORE_CAM_BATCH, TimeGuard
from gradcam_core.data import examples as _examples
from gradcam_core.data import deeplink as _deeplink
from gradcam_core.data.examples import example_for, load_manifest
from gradcam_core.data.images import ImageError, load_image
from gradcam_core.base.errors import Refusal, Term
from gradcam_core.models import weights as W
from gradcam_core.models.registry import (REGISTRY, ModelSpec, ModelUnavailableError, crop_box, default_model_key,
                                          imagenet_categories)

GUIDED = _methods.GuidedGradCAM.name


class NoPhoto(ImageError):
    """No photo was given (an ImageError, as the loader's own refusals, with a catalogue key)."""

NORMS, CMAPS = inputs.NORMS, inputs.CMAPS
MAX_SIDE = 1024  # photos are downscaled to this before anything else
# --------------------------------------------------------------------------- small helpers
_categories: list[str] | None = None


def categories() -> list[str]:
    global _categories
    if _categories is None:
        _categories = imagenet_categories()
    return _categories


def method_names() -> list[str]:
    """Every registered CAM method (Guided Grad-CAM included)."""
    return list(METHODS)


def _check_method(method: str) -> str:
    return inputs.parse_method(method, method_names())


# --------------------------------------------------------------------------- transformers (issue 29)
def layout(spec: ModelSpec, layer: str) -> str:
    """How the registry reshapes ``layer``'s output into a map ("cnn", "tokens", "channels_last"):
    part of the model's registry entry (``ModelSpec.layout_of``), never decided here."""
    of = getattr(spec, "layout_of", None)
    return str(of(layer)) if of is not None else "cnn"


def family(spec: ModelSpec) -> str:
    """"cnn", "vit", "swin" or "convnext" (the registry's)."""
    return str(getattr(spec, "family", "cnn") or "cnn")


def excluded_methods(spec: ModelSpec) -> dict[str, Term]:
    """The methods not offered for this model, each with why (a catalogue term): the registry's
    ``methods_excluded`` (keyed by a method's name or its text table's id, e.g. "guided")."""
    excluded = dict(getattr(spec, "methods_excluded", None) or {})
    out: dict[str, Term] = {}
    for name, cls in METHODS.items():
        own_id = str(getattr(cls, "text_key", "") or "").rsplit(".", 1)[-1]
        key = excluded.get(name) or excluded.get(own_id)
        if key:
            out[name] = Term(key)
    return out


def offered_methods(model_key: str | None) -> list[str]:
    """The methods offered for a model, in the registry's order (every method on a CNN)."""
    spec = get_spec(model_key)
    excluded = excluded_methods(spec)
    return [m for m in method_names() if m not in excluded]


def check_offered(spec: ModelSpec, method: str) -> None:
    """A Refusal, with the registry's reason, for a method not offered for this model."""
    why = excluded_methods(spec).get(method)
    if why is not None:
        raise Refusal("transformer.refusal.method_excluded", method=method, title=spec.title, why=why)


# the one parser of each kind lives in gradcam_core.base.inputs (shared with the CLI)


# --------------------------------------------------------------------------- models and layers
def model_status() -> list[dict]:
    """Every registry model: key, title, available, a short reason, layers (for people and the API)."""
    out = []
    for key, spec in REGISTRY.items():
        ok, why = spec.availability()
        out.append({
            "key": key,
            "title": spec.title,
            "available": ok,
            "status": why if ok else _short_reason(key, spec),
            "default_layer": spec.default_layer,
            "layers": [{"name": l.name, "label": l.label, "size": list(l.size), "layout": layout(spec, l.name)}
                       for l in spec.layers],
            "family": family(spec),
            "methods_excluded": {m: str(why) for m, why in excluded_methods(spec).items()},
        })
    return out


def _short_reason(key: str, spec: ModelSpec) -> str:
    from gradcam_core.models.fetch import note as fetch_note  # a fetch in progress, or a refused file (fetch.py)

    if fetch_note(key):
        return fetch_note(key)
    if key in W.TORCHVISION_MODELS and W.find_weights(key) is None:
        return str(Term("service.imagenet.no_weights", command=W.download_command(key)))
    return spec.reason


def model_choices() -> list[tuple[str, str]]:
    """(label, key) for a dropdown; unavailable models stay listed, marked as such."""
    out = []
    for key, spec in REGISTRY.items():
        out.append((spec.title if spec.available else str(Term("service.imagenet.unavailable_choice", title=spec.title)), key))
    return out


def unavailable_note() -> str:
    """One Markdown line per unavailable model, with the reason ("" when all are available)."""
    lines = [str(Term("service.imagenet.unavailable_line", title=s["title"], status=s["status"]))
             for s in model_status() if not s["available"]]
    return "\n".join(lines)


def get_spec(model_key: str) -> ModelSpec:
    if model_key in (None, ""):
        model_key = default_model_key()
    spec = REGISTRY.get(str(model_key))
    if spec is None:
        titles = {s.title.lower(): k for k, s in REGISTRY.items()}
        key = titles.get(str(model_key).lower())
        if key is None:
            raise Refusal("service.imagenet.unknown_model", model=model_key, choices=", ".join(REGISTRY))
        spec = REGISTRY[key]
    return spec


def _load(spec: ModelSpec) -> torch.nn.Module:
    ok, _ = spec.availability()
    if not ok:
        raise Refusal("service.imagenet.unavailable", title=spec.title, why=_short_reason(spec.key, spec),
                      other=REGISTRY[default_model_key()].title)
    try:
        return spec.load()
    except ModelUnavailableError as exc:
        raise ValueError(str(exc)) from None


def layer_label(spec: ModelSpec, name: str) -> str:
    try:
        info = spec.layer(name)
    except KeyError:  # a module outside the picker (accepted when it outputs a feature map)
        return name
    short = info.label.split(" (")[0]
    h, w = info.size
    return f"{short} · {h}×{w}"


def layer_choices(model_key: str) -> list[tuple[str, str]]:
    """(label, module name) of a model's listed layers, e.g. ("layer4 · 7×7", "layer4")."""
    spec = get_spec(model_key)
    return [(layer_label(spec, l.name), l.name) for l in spec.layers]


def check_layer(spec: ModelSpec, layer: str | None) -> str:
    """The registry's layer parser (gradcam_core.base.inputs.parse_layer), also accepting the picker's
    "layer4 · 7×7" labels; a model that cannot run here says why before a module name is tried."""
    picker_labels = lambda name: (layer_label(spec, name),)  # noqa: E731
    if layer not in (None, "") and str(layer).strip() not in spec.layer_names:
        _load(spec)
    return spec.resolve_layer(layer, picker_labels)


# --------------------------------------------------------------------------- classes
def class_label(index: int) -> str:
    """"207 · golden retriever"."""
    return f"{index} · {categories()[index]}"


def class_choices() -> list[str]:
    return [class_label(i) for i in range(len(categories()))]


def find_classes(query: str | None, limit: int | None = None) -> list[tuple[int, str]]:
    """ImageNet classes whose name contains ``query`` (case-insensitive), or whose index it is.

    An empty query lists all 1000.  Whole-word matches come first ("cat" → "tiger cat" before
    "catamaran").
    """
    hits = inputs.find_classes(query, categories())
    return hits[:limit] if limit else hits


def parse_class(value: Any) -> int | None:
    """A target from the UI or the API: None/"predicted" → None; 207, "207", "207 · golden
    retriever" or an unambiguous part of a name → 207 (see :func:`gradcam_core.base.inputs.parse_target`)."""
    return inputs.parse_target(value, categories(), "ImageNet")


def _label_key(index: int) -> str:
    """A class name for gr.Label keys (unique: two ImageNet classes are both called 'crane')."""
    cats = categories()
    name = cats[index]
    return name if cats.count(name) == 1 else f"{name} ({index})"


# --------------------------------------------------------------------------- photos
def load_photo(src: Any) -> Image.Image:
    """A path, bytes, data: URL, PIL image or array → RGB PIL (downscaled); ImageError otherwise."""
    return load_image(_photo_input(src), max_side=MAX_SIDE)


def _photo_input(src: Any) -> Any:
    """The photo as the loader takes it: nothing (or blank) is refused, a data: URL becomes its bytes."""
    if src is None or (isinstance(src, str) and not src.strip()):
        raise _no_photo()
    if inputs.is_data_url(src):
        try:
            return inputs.data_url_bytes(src)
        except ValueError as e:
            raise ImageError(str(e)) from None
    return src


def _no_photo() -> ImageError:
    return NoPhoto("service.imagenet.no_photo")


def photo_link(src: Any, **settings: Any) -> str:
    """The query string of a link that reopens this photo with these settings (the photo is kept
    on the server now: examples are referenced by name)."""
    return _deeplink.query_string(tab="imagenet", photo=_deeplink.remember_photo(src), **settings)


def recall_photo(token: str) -> str:
    """A link's photo (its path on the server); ValueError when it is no longer kept."""
    return _deeplink.recall_photo(token)


# --------------------------------------------------------------------------- example photos
def examples_by_category() -> list[dict]:
    return _examples.examples_by_category()


def example_credit(entry: dict) -> str:
    return _examples.example_credit(entry)


def attribution_note(entries: Sequence[dict] | None = None) -> str:
    return _examples.attribution_note(entries)


# --------------------------------------------------------------------------- results
@dataclass
class ClassView:
    """The explanation of one class."""

    result: CAMResult
    target: int
    name: str
    prob: float
    guided_backprop: np.ndarray | None = None  # uint8 (H, W, 3)
    guided_gradcam: np.ndarray | None = None


@dataclass
class Explanation:
    """One photo explained: the raw results and the style they are drawn in (the drawn fields are
    set on a new copy by :func:`gradcam_core.present.imagenet_view.draw`: the service leaves them empty)."""

    model_key: str
    model_title: str
    layer: str
    layer_label: str
    method: str
    image: np.ndarray  # uint8 (H, W, 3): exactly the crop the model saw
    top5: list[tuple[int, str, float]]
    views: list[ClassView]  # one per explained class (1 or 2), all from ONE forward pass
    norm: str = "max"
    cmap: str = "jet"
    alpha: float = 0.5
    example: dict | None = None
    default_layer: str = ""  # the model's default layer (what the texts suggest when this layer's map is empty)
    seconds: float = 0.0  # model time (forward + backward), not drawing
    cached: bool = False
    tag: Any = None  # free for callers (the UI marks which request produced it)
    photo: np.ndarray | None = None  # uint8 (h, w, 3): the whole photo, downscaled for display
    crop_box: tuple[float, float, float, float] | None = None  # what the model saw, in ``photo``'s pixels
    whole: bool = False  # draw the overlay on the whole photo (see whole_photo_overlay)
    # drawn by present.imagenet_view.draw (on a new copy):
    overlays: list[np.ndarray] = field(default_factory=list)
    heatmap: np.ndarray | None = None
    steps: dict = field(default_factory=dict)  # {key: present.steps.Step}
    numbers: dict = field(default_factory=dict)

    @property
    def result(self) -> CAMResult:
        return self.views[0].result

    @property
    def predicted(self) -> tuple[int, str, float]:
        return self.top5[0]

    def label(self) -> dict[str, float]:
        """Top-5 for gr.Label: {class name: probability}."""
        return {_label_key(i): p for i, _, p in self.top5}

# --------------------------------------------------------------------------- the model part
DISPLAY_PHOTO_SIDE = 640  # the whole photo is kept and drawn at most this large


def photo_for_display(pil: Any, box: tuple[float, float, float, float], max_side: int = DISPLAY_PHOTO_SIDE,
                      ) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The photo (uint8 RGB) downscaled to at most ``max_side``, and ``box`` in its pixels."""
    w, h = pil.size
    s = min(1.0, max_side / max(w, h))
    img = pil.convert("RGB")
    if s < 1.0:
        img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BILINEAR)
    sx, sy = img.size[0] / w, img.size[1] / h
    return np.asarray(img, dtype=np.uint8).copy(), (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)



CACHE_SIZE = 48
#: Example photos' results (image, views, seconds) by (file, model, model id, layer, method,
#: targets), the least recently used first to go; shared by Gradio's worker threads, hence the lock.
_cache: LRUCache[tuple, tuple] = LRUCache(maxsize=CACHE_SIZE)
_cache_lock = threading.Lock()


EXAMPLE_CACHE_ENV = "GRADCAM_EXAMPLE_CACHE"


def example_cache_mode() -> str:
    """How example photos' results are cached: "lazy" (on first use; the default), "eager"
    (also computed at start-up, see :func:`warm_example_cache`) or "off"."""
    mode = os.environ.get(EXAMPLE_CACHE_ENV, "lazy").strip().lower()
    return mode if mode in {"lazy", "eager", "off"} else "lazy"


def warm_example_cache(model_key: str | None = None) -> int:
    """Compute every example photo's default explanation now (eager caching); returns how many."""
    key = model_key or default_model_key()
    spec = get_spec(key)
    done = 0
    for entry in load_manifest():
        try:
            explain_source(entry["path"], key, spec.default_layer, "Grad-CAM", None, None)
            done += 1
        except Exception:  # noqa: BLE001 - a cache warm-up must never stop the app
            continue
    return done


def _run_model(spec: ModelSpec, model, x: torch.Tensor, layer: str, method: str, targets: list[int | None],
               progress: Callable | None, time_limit: float | None = None,
               ) -> tuple[list[CAMResult], list[tuple[np.ndarray, np.ndarray]] | None]:
    """One forward pass → one CAMResult per target, and the guided images (guided backprop, Guided
    Grad-CAM) of each when the method gives them (None otherwise)."""
    shape = layout(spec, layer)  # a token grid is reshaped by the engine, as the registry says
    title = spec.title  # the registry's two facts read together (one visit)
    guard = TimeGuard(progress, time_limit, str(Term("service.progress.layer_of", layer=layer, title=title)), method)  # used by Score-CAM only
    extra = {} if shape == "cnn" else {"layout": shape}
    cam = make_cam(method, model, layer, batch_size=SCORE_CAM_BATCH, progress=guard, on_plan=guard.plan, **extra)
    results = cam.explain_many(x, targets)
    if "guided_backprop" not in results[0].extras:
        return results, None
    return results, [(guided_image(r.extras["guided_backprop"][0]), guided_image(r.extras["guided_gradcam"][0]))
                     for r in results]


@dataclass(frozen=True)
class Settings:
    """One explanation's settings, parsed (by the one parser of each, gradcam_core.base.inputs)."""

    method: str
    norm: str
    cmap: str
    alpha: float
    target: int | None
    target2: int | None
    whole: bool


def parse_settings(method: Any = "Grad-CAM", target: Any = None, target2: Any = None, norm: Any = "max",
                   cmap: Any = "jet", alpha: Any = 0.5, whole: Any = False) -> Settings:
    return Settings(_check_method(method), inputs.parse_norm(norm), inputs.parse_cmap(cmap), inputs.parse_alpha(alpha),
                    parse_class(target), parse_class(target2), bool(whole))


def explain_photo(
    pil: Any,
    model_key: str | None = None,
    layer: str | None = None,
    method: str = "Grad-CAM",
    target: Any = None,
    target2: Any = None,
    norm: str = "max",
    cmap: str = "jet",
    alpha: float = 0.5,
    progress: Callable[[float, str], None] | None = None,
    example: dict | None = None,
    time_limit: float | None = None,
    whole: bool = False,
) -> Explanation:
    """Explain one photo (an RGB PIL image, see :func:`load_photo`) with one model.
    ``whole``: draw the overlay on the whole photo, the part the model did not see marked.

    ``target``: None / "predicted" or a class (index, "207 · golden retriever", or part of a
    name); ``target2``: an optional second class, explained from the SAME forward pass.
    ``progress(fraction, text)`` is called during Score-CAM; with ``time_limit`` (seconds) a
    Score-CAM run that would take longer is stopped early (TooSlowError).  Raises ValueError
    with a message for people on bad input, an unavailable model or an unknown layer / method.
    """
    settings = parse_settings(method, target, target2, norm, cmap, alpha, whole)
    return _explain(pil, model_key, layer, settings, progress, example, time_limit)


def _explain(pil, model_key, layer, s: Settings, progress, example, time_limit) -> Explanation:
    """The model's side, in one visit to the registry (the model, its weights, the layer, the
    input and the picture it sees), then one run of the engine."""
    spec = get_spec(model_key)
    check_offered(spec, s.method)
    model = _load(spec)
    layer = check_layer(spec, layer)
    label = layer_label(spec, layer)
    x = spec.preprocess(pil)
    image = np.ascontiguousarray(np.asarray(spec.display_image(pil), dtype=np.uint8))
    box = crop_box(spec, pil.size)
    title = spec.title  # read with the spec's other facts, before the run (the title is worded on reading)

    key = None
    if example is not None and example_cache_mode() != "off":
        key = (example.get("file"), spec.key, id(model), layer, s.method, s.target, s.target2)
    hit = _cached(key)
    cached = hit is not None
    if cached:
        image, views, seconds = hit
    else:
        targets = [s.target] if s.target2 is None else [s.target, s.target2]
        views, seconds = _explain_views(spec, model, x, layer, s.method, targets, progress, time_limit)
        _keep(key, (image, views, seconds))
    cats = categories()
    top = torch.topk(views[0].result.probs[0], 5)
    top5 = [(int(i), cats[int(i)], float(p)) for p, i in zip(top.values, top.indices)]
    photo, crop = photo_for_display(pil, box)
    return Explanation(
        model_key=spec.key, model_title=title, layer=layer, layer_label=label,
        method=s.method, image=image, top5=top5, views=views, norm=s.norm, cmap=s.cmap, alpha=s.alpha,
        example=example, seconds=seconds, cached=cached, whole=s.whole, photo=photo, crop_box=crop,
        default_layer=spec.default_layer,
    )


def _cached(key):
    """The example cache's (image, views, seconds) for ``key`` (None: not cached, or no key)."""
    if key is None:
        return None
    with _cache_lock:
        return _cache.get(key)  # a hit becomes the most recently used


def _keep(key, value) -> None:
    """Remember an example's result (bounded: the least recently used go first)."""
    if key is None:
        return
    with _cache_lock:
        _cache[key] = value


def _explain_views(spec, model, x: torch.Tensor, layer: str, method: str, targets: list, progress, time_limit):
    """Run the model on its input: (one ClassView per target, seconds)."""
    start = time.perf_counter()
    results, guided = _run_model(spec, model, x, layer, method, targets, progress, time_limit)
    seconds = time.perf_counter() - start
    cats = categories()
    views = []
    for j, r in enumerate(results):
        t = int(r.targets[0])
        v = ClassView(r, t, cats[t], float(r.probs[0, t]))
        if guided:
            v.guided_backprop, v.guided_gradcam = guided[j]
        views.append(v)
    return views, seconds


_LOOK_UP = object()  # explain_source's default example: found from the photo itself


def photo_of(photo: Any) -> Any:
    """What a photo input carries → its source (a path, a data: URL, bytes, an image): the one
    photo-source parser (gradcam_core.base.inputs); ValueError when there is none."""
    return inputs.photo_source(photo)


def explain_source(src: Any, model_key: str | None = None, layer: str | None = None, method: str = "Grad-CAM",
                   target: Any = None, target2: Any = None, norm: str = "max", cmap: str = "jet", alpha: float = 0.5,
                   progress: Callable[[float, str], None] | None = None, example: Any = _LOOK_UP,
                   time_limit: float | None = None, whole: bool = False) -> Explanation:
    """:func:`explain_photo` from a path / bytes / data: URL (a photo input's source, see
    :func:`photo_of`); example photos are cached lazily. One request is parsed once, in order: the
    photo's form and every setting (inputs), the photo (data), then the model (:func:`_explain`)."""
    src = _photo_input(src)
    settings = parse_settings(method, target, target2, norm, cmap, alpha, whole)
    pil = load_image(src, max_side=MAX_SIDE)
    if example is _LOOK_UP:
        example = example_for(src)
    return _explain(pil, model_key, layer, settings, progress, example, time_limit)


# --------------------------------------------------------------------------- compare models
@dataclass
class Panel:
    key: str
    title: str
    layer: str
    image: np.ndarray  # uint8: the crop this model saw
    cam: torch.Tensor  # (h, w) the raw map, not normalised
    prob: float  # probability of the compared class under this model
    rank: int  # 1 = this model's top class
    predicted_name: str
    cam_max: float
    layout: str = "cnn"  # what the map is read on: a CNN's cells or a transformer's patch tokens
    zero_grad_share: float | None = None  # share of exactly-zero gradients on its cells / tokens

    @property
    def caption(self) -> str:
        return f"{self.title} · {self.layer} · p={self.prob:.1%} (rank {self.rank})"


@dataclass
class Comparison:
    target: int
    name: str
    method: str
    panels: list[Panel]
    skipped: list[tuple[str, str]]  # (title, reason)
    norm: str = "max"
    cmap: str = "jet"
    alpha: float = 0.5

    def numbers(self) -> dict:
        return {
            "target": self.target, "target_name": self.name, "method": self.method,
            "models": [{"model": p.key, "layer": p.layer, "prob": round(p.prob, 6), "rank": p.rank,
                        "predicted_name": p.predicted_name, "cam_max": p.cam_max, "layout": p.layout,
                        "zero_grad_share": p.zero_grad_share} for p in self.panels],
            "skipped": [{"model": t, "reason": r} for t, r in self.skipped],
        }


def compare_models(
    pil: Any,
    keys: Sequence[str] | None = None,
    class_index: Any = None,
    method: str = "Grad-CAM",
    norm: str = "max",
    cmap: str = "jet",
    alpha: float = 0.5,
    progress: Callable[[float, str], None] | None = None,
    time_limit: float | None = None,
) -> Comparison:
    """The same photo and class through several models (default: every available one), each on its
    default layer.  ``class_index`` None: the first model's predicted class."""
    method = _check_method(method)
    method = getattr(METHODS[method], "map_method", method)  # compares maps: Guided Grad-CAM's is Grad-CAM's
    norm, cmap, alpha = inputs.parse_norm(norm), inputs.parse_cmap(cmap), inputs.parse_alpha(alpha)
    target = parse_class(class_index)
    if keys is None:
        keys = [k for k, s in REGISTRY.items() if s.available]
    keys = [get_spec(k).key for k in keys]
    if not keys:
        raise Refusal("service.imagenet.compare_none")
    cats = categories()
    panels, skipped = [], []
    n = len(keys)
    for j, key in enumerate(keys):
        spec = REGISTRY[key]
        ok, _ = spec.availability()
        if not ok:
            skipped.append((spec.title, _short_reason(key, spec)))
            continue
        why = excluded_methods(spec).get(method)
        if why is not None:  # a method not offered for this model (e.g. guided on a GELU network)
            skipped.append((spec.title, str(Term("transformer.refusal.compare_excluded", method=method, why=why))))
            continue
        model = _load(spec)
        sub = None
        if progress is not None:
            progress(j / n, str(Term("service.progress.model", title=spec.title, j=j + 1, n=n)))
            sub = (lambda f, text, j=j, t=spec.title: progress((j + f) / n, str(Term("service.progress.model_step", title=t, text=text))))  # noqa: E731
        x = spec.preprocess(pil)
        image = np.asarray(spec.display_image(pil), dtype=np.uint8)
        results, _ = _run_model(spec, model, x, spec.default_layer, method, [target], sub, time_limit)
        r = results[0]
        if target is None:
            target = int(r.targets[0])
        probs = r.probs[0]
        panels.append(Panel(
            key=key, title=spec.title, layer=spec.default_layer, image=image, cam=r.cam[0],
            prob=float(probs[target]), rank=int((probs > probs[target]).sum()) + 1,
            predicted_name=cats[int(probs.argmax())], cam_max=float(r.cam[0].max()),
            layout=layout(spec, spec.default_layer), zero_grad_share=getattr(r, "zero_grad_share", None),
        ))
    if not panels:
        raise Refusal("service.imagenet.compare_unavailable", reasons="; ".join(f"{t}: {w}" for t, w in skipped))
    return Comparison(target=int(target), name=cats[int(target)], method=method, panels=panels, skipped=skipped,
                      norm=norm, cmap=cmap, alpha=alpha)


