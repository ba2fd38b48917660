"""The ImageNet tab's work, without gradio: photo in, every picture and number out.

The UI only places what these functions return on the page:

* :func:`explain_photo` — one forward pass of an ImageNet model on a photo: top-5, the CAM
  of one class (or two, side by side, from the *same* forward pass), the overlay, the raw
  heat map with a colour bar in real units, the teaching steps and the numbers for the API.
* :func:`restyle` — the same explanation drawn with another normalisation, colormap or
  opacity, without running the model again.
* :func:`compare_models` — one photo, one class, the CAM of every available model.
* :func:`find_classes` / :func:`parse_class` — the 1000 ImageNet classes by part of a name.
* :func:`write_downloads` / :func:`write_pngs` — PNG files in a temporary folder.

Example photos (``examples/``) are recognised by their content and their raw explanation is
cached lazily (first use computes it, later ones only re-draw), so even Score-CAM on an
example is instant the second time.  Uploaded photos are never kept.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from PIL import Image

from . import inputs, render
from . import weights as W
from .engine import CAMResult
from .images import ImageError, load_image
from .examples import CATEGORY_ORDER, load_manifest
from . import methods as _methods
from .guided import guided_image
from .methods import METHODS, ScoreCAM, make_cam
from .models import REGISTRY, ModelSpec, ModelUnavailableError, default_model_key, imagenet_categories
from .postprocess import normalize, upsample
from .method_texts import fill, method_text
from .steps import Step, build_steps

__all__ = [
    "GUIDED",
    "NORMS",
    "CMAPS",
    "METHOD_NOTES",
    "NORM_NOTE",
    "HEAT_NOTE",
    "Explanation",
    "TooSlowError",
    "SCORE_CAM_EXACT",
    "is_slow_method",
    "score_cam_forwards",
    "score_cam_seconds",
    "format_duration",
    "ClassView",
    "Comparison",
    "Panel",
    "method_names",
    "model_status",
    "model_choices",
    "unavailable_note",
    "layer_choices",
    "class_choices",
    "class_label",
    "find_classes",
    "parse_class",
    "load_photo",
    "explain_photo",
    "explain_source",
    "restyle",
    "compare_models",
    "write_downloads",
    "write_pngs",
    "overlay_panel",
    "crop_box",
    "whole_photo_overlay",
    "NOT_SEEN_CAPTION",
    "heatmap_image",
    "examples_by_category",
    "example_credit",
    "attribution_note",
]

GUIDED = _methods.GuidedGradCAM.name
NORMS, CMAPS = inputs.NORMS, inputs.CMAPS
MAX_SIDE = 1024  # photos are downscaled to this before anything else
SCORE_CAM_EXACT = "Score-CAM (exact)"
#: Masked inputs per forward inside Score-CAM, and its default channel subset ("Score-CAM" keeps
#: the top SCORE_CAM_MAX_CHANNELS channels by activation variance); see gradcam_core.methods.
SCORE_CAM_BATCH = _methods.SCORE_CAM_BATCH
SCORE_CAM_MAX_CHANNELS = _methods.SCORE_CAM_MAX_CHANNELS
#: Measured on this 2-core machine (EfficientNet-Lite0, 224×224 photos, 2 torch threads): seconds
#: per masked forward pass (exact Score-CAM of chelsea_cat.jpg, 1 280 forwards in 47.4 s at load
#: average 1.3, batches of 32, contiguous; batches of 16 with channels-last inputs, used now, timed
#: faster on the loaded machine, so this errs long), and the rank correlation (Spearman ρ of the 7×7 maps,
#: after ReLU, before normalisation) of the default top-96 subset with exact Score-CAM on 9 of the
#: shipped example photos, predicted class: (mean, min, photos).  bench/bench_scorecam.py prints
#: both.  The cost and fidelity texts are computed from these.
SCORE_CAM_SECONDS_PER_FORWARD = 0.037
SCORE_CAM_RHO = (0.993, 0.984, 9)
#: The layer those texts quote: EfficientNet-Lite0's default layer and its channel count.
SCORE_CAM_REFERENCE = ("EfficientNet-Lite0", "_head_act", 1280)
#: The UI stops a Score-CAM run that would take longer than this (seconds); 0 = no limit.
SCORE_CAM_LIMIT = float(os.environ.get("GRADCAM_SCORE_CAM_LIMIT", "180") or 0)


def is_slow_method(name) -> bool:
    """True for the methods that run many forward passes per explanation: "Score-CAM" (one per
    kept channel) and "Score-CAM (exact)" (one per channel).  The UI gives them their own queue."""
    cls = METHODS.get(str(name)) if name is not None else None
    return cls is not None and issubclass(cls, ScoreCAM)


def score_cam_forwards(method: str, channels: int) -> int:
    """Masked forward passes that ``method`` runs on a layer of ``channels`` channels (one photo)."""
    if METHODS[method] is _methods.ScoreCAMExact:
        return int(channels)
    return min(int(channels), SCORE_CAM_MAX_CHANNELS)


def score_cam_seconds(method: str, channels: int = SCORE_CAM_REFERENCE[2]) -> float:
    """Estimated time of ``method`` on EfficientNet-Lite0: forwards × measured seconds per forward."""
    return score_cam_forwards(method, channels) * SCORE_CAM_SECONDS_PER_FORWARD


def format_duration(seconds: float) -> str:
    """A duration for people: "47 s", or "3.2 min" from 120 s on."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _score_cam_cost(method: str) -> str:
    """What ``method`` costs on the reference layer, computed from the measured figures."""
    title, layer, channels = SCORE_CAM_REFERENCE
    n = score_cam_forwards(method, channels)
    return (f"{_thousands(n)} extra forward passes on {title}'s last layer (`{layer}`, {_thousands(channels)} "
            f"channels): about {format_duration(score_cam_seconds(method, channels))} with 2 CPU threads "
            f"({_thousands(n)} × {SCORE_CAM_SECONDS_PER_FORWARD * 1e3:.0f} ms, measured)")


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")


def _score_cam_fidelity() -> str:
    mean, low, photos = SCORE_CAM_RHO
    if not photos:
        return ""
    return (f" On {photos} of the example photos its map ranks the cells like exact Score-CAM's with "
            f"Spearman ρ {mean:.2f} on average (lowest {low:.2f}).")
#: Maps with more cells than this are left out of the JSON (a 112×112 map is 12 544 numbers).
JSON_MAX_CELLS = 28 * 28
STEPS_MAX_CHANNELS = 16

NORM_NOTE = (
    "**max** divides the map by its peak: zero stays zero, so a weak map looks weak; "
    "**min–max** stretches every map to fill the colour scale, so its layout always shows — "
    "and so does noise."
)

HEAT_NOTE = (
    "The raw map keeps the method's own units (before normalisation). For Grad-CAM they are logit "
    "units: on a network that ends in global average pooling and one linear layer, the cells of the "
    "signed map (step 5) add up to the class logit minus its bias."
)

#: What each method computes, from gradcam_core.method_texts (the Score-CAM entries add their cost).
METHOD_NOTES: dict[str, str] = {
    "Grad-CAM": method_text("Grad-CAM").summary,
    "Grad-CAM++": method_text("Grad-CAM++").summary,
    "HiResCAM": method_text("HiResCAM").summary,
    "XGrad-CAM": method_text("XGrad-CAM").summary,
    "LayerCAM": method_text("LayerCAM").summary,
    "Score-CAM": "No gradients: each channel's map, scaled to 0–1, masks the photo and the model scores "
                 "the masked photo for the class; the weights are a softmax over those scores, so a channel "
                 "whose masked photo scores higher weighs more. To be quick it runs only the top "
                 f"{SCORE_CAM_MAX_CHANNELS} of the layer's channels, those whose maps vary most across the "
                 "photo (“Faster Score-CAM”); the others weigh 0. "
                 f"{_score_cam_cost('Score-CAM')}.{_score_cam_fidelity()}",
    SCORE_CAM_EXACT: "Score-CAM on every channel of the layer, as in the paper: the weights are a softmax "
                     "over all the channels' masked-photo scores. "
                     f"{_score_cam_cost(SCORE_CAM_EXACT)}"
                     + (f"; runs that would take over {format_duration(SCORE_CAM_LIMIT)} are stopped." if SCORE_CAM_LIMIT
                        else "."),
    "Eigen-CAM": method_text("Eigen-CAM").summary,
    "Counterfactual": method_text("Counterfactual").summary,
    GUIDED: method_text(GUIDED).summary,
}

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


# the one parser of each kind lives in gradcam_core.inputs (shared with the CLI)
_check_norm, _check_cmap, _check_alpha = inputs.parse_norm, inputs.parse_cmap, inputs.parse_alpha


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
            "layers": [{"name": l.name, "label": l.label, "size": list(l.size)} for l in spec.layers],
        })
    return out


def _short_reason(key: str, spec: ModelSpec) -> str:
    from .fetch import note as fetch_note  # a fetch in progress, or a refused file (fetch.py)

    if fetch_note(key):
        return fetch_note(key)
    if key in W.TORCHVISION_MODELS and W.find_weights(key) is None:
        return f"no weights file in weights/ — run `{W.download_command(key)}`"
    return spec.reason


def model_choices() -> list[tuple[str, str]]:
    """(label, key) for a dropdown; unavailable models stay listed, marked as such."""
    out = []
    for key, spec in REGISTRY.items():
        out.append((spec.title if spec.available else f"{spec.title} — unavailable", key))
    return out


def unavailable_note() -> str:
    """One Markdown line per unavailable model, with the reason ("" when all are available)."""
    lines = [f"- **{s['title']}**: {s['status']}" for s in model_status() if not s["available"]]
    return "\n".join(lines)


def get_spec(model_key: str) -> ModelSpec:
    if model_key in (None, ""):
        model_key = default_model_key()
    spec = REGISTRY.get(str(model_key))
    if spec is None:
        titles = {s.title.lower(): k for k, s in REGISTRY.items()}
        key = titles.get(str(model_key).lower())
        if key is None:
            raise ValueError(f"Unknown model {model_key!r}; choose one of: {', '.join(REGISTRY)}.")
        spec = REGISTRY[key]
    return spec


def _load(spec: ModelSpec) -> torch.nn.Module:
    ok, _ = spec.availability()
    if not ok:
        raise ValueError(f"{spec.title} is not available on this server: {_short_reason(spec.key, spec)}. "
                         f"Choose another model, e.g. {REGISTRY[default_model_key()].title}.")
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


def _check_layer(spec: ModelSpec, layer: str | None) -> str:
    """The registry's layer parser (gradcam_core.inputs.parse_layer), also accepting the picker's
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
    retriever" or an unambiguous part of a name → 207 (see :func:`gradcam_core.inputs.parse_target`)."""
    return inputs.parse_target(value, categories(), "ImageNet")


def _label_key(index: int) -> str:
    """A class name for gr.Label keys (unique: two ImageNet classes are both called 'crane')."""
    cats = categories()
    name = cats[index]
    return name if cats.count(name) == 1 else f"{name} ({index})"


# --------------------------------------------------------------------------- photos
def load_photo(src: Any) -> Image.Image:
    """A path, bytes, data: URL, PIL image or array → RGB PIL (downscaled); ImageError otherwise."""
    if src is None or (isinstance(src, str) and not src.strip()):
        raise ImageError("Upload a photo, take one with the camera, paste one, or pick an example first.")
    if inputs.is_data_url(src):
        try:
            src = inputs.data_url_bytes(src)
        except ValueError as e:
            raise ImageError(str(e)) from None
    return load_image(src, max_side=MAX_SIDE)


_example_hashes: dict[tuple[int, str], dict] | None = None
_example_lock = threading.Lock()


def _size_and_digest(src: Any, sizes: set[int] | None = None) -> tuple[int, str] | None:
    """(byte size, SHA-1) of a file or bytes; None when the size is not in ``sizes`` (no hashing)."""
    try:
        if isinstance(src, (str, Path)) and not str(src).startswith("data:"):
            p = Path(src)
            if not p.is_file():
                return None
            size = p.stat().st_size
            if sizes is not None and size not in sizes:
                return None
            return size, hashlib.sha1(p.read_bytes()).hexdigest()
        if isinstance(src, (bytes, bytearray)):
            if sizes is not None and len(src) not in sizes:
                return None
            return len(src), hashlib.sha1(bytes(src)).hexdigest()
    except OSError:
        return None
    return None


def example_for(src: Any) -> dict | None:
    """The manifest entry whose file has the same content as ``src`` (a path or bytes), if any.
    Only a file of exactly an example's size is hashed."""
    global _example_hashes
    with _example_lock:
        if _example_hashes is None:
            _example_hashes = {}
            for e in load_manifest():
                d = _size_and_digest(e["path"])
                if d:
                    _example_hashes[d] = e
    d = _size_and_digest(src, {size for size, _ in _example_hashes})
    return None if d is None else _example_hashes.get(d)


def examples_by_category() -> list[dict]:
    """Manifest entries (with "path"), ordered by category."""
    order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    entries = load_manifest()
    return sorted(entries, key=lambda e: (order.get(e.get("category"), 99), e.get("title", "")))


def _short_credit(credit: str) -> str:
    return re.split(r"\s\(|;", credit, maxsplit=1)[0].strip()


def example_credit(entry: dict) -> str:
    """Markdown line: title, category, credit, licence, source package."""
    return (f"**{entry['title']}** ({entry['category']}) — {entry['credit']}. "
            f"Licence: {entry['licence']}. From {entry['package']} (`{entry['function']}`).")


def attribution_note(entries: Sequence[dict] | None = None) -> str:
    """The credits that must be shown (CC BY photos), as one short Markdown paragraph."""
    entries = examples_by_category() if entries is None else entries
    need = [e for e in entries if str(e.get("licence", "")).upper().startswith("CC BY")]
    parts = [f"*{e['title'].split(' (')[0]}*: {_short_credit(e['credit'])}, {e['licence'].split(' (')[0]}"
             for e in need]
    if not parts:
        return ""
    return "Photo credits: " + "; ".join(parts) + "."


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
    seconds: float = 0.0  # model time (forward + backward), not drawing
    cached: bool = False
    tag: Any = None  # free for callers (the UI marks which request produced it)
    photo: np.ndarray | None = None  # uint8 (h, w, 3): the whole photo, downscaled for display
    crop_box: tuple[float, float, float, float] | None = None  # what the model saw, in ``photo``'s pixels
    whole: bool = False  # draw the overlay on the whole photo (see whole_photo_overlay)
    # drawn by render():
    overlays: list[np.ndarray] = field(default_factory=list)
    heatmap: np.ndarray | None = None
    steps: dict[str, Step] = field(default_factory=dict)
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

    def summary(self) -> str:
        i, name, p = self.predicted
        h, w = self.result.cam.shape[-2:]
        parts = [f"**{self.model_title}** sees **{name}** ({p:.0%})."]
        mt = method_text(self.method)
        if mt.class_free:
            parts.append(f"{self.method} on `{self.layer}` ({h}×{w}): the layer's dominant pattern, class-free "
                         "(the same map whatever class you pick).")
        else:
            shown = " and ".join(f"**{v.name}** ({v.prob:.1%})" for v in self.views)
            parts.append(f"{self.method} on `{self.layer}` ({h}×{w}) for {shown}.")
        cap = fill(mt.overlay_caption, "the class" if len(self.views) == 1 else "each class")
        parts.append(f"Warm colours: {cap[0].lower() + cap[1:]}.")
        zero = [fill(mt.zero_text, f"**{v.name}**") for v in self.views if v.result.cam.max() == 0]
        parts += list(dict.fromkeys(zero))  # a class-free method's sentence once
        return " ".join(parts)

    def steps_markdown(self) -> str:
        """Every step's explanation, equation and code, for an accordion below the gallery."""
        note = METHOD_NOTES.get(self.method) or method_text(self.method).summary
        out = [f"**{self.method}.** {note}"]
        if "gradients" not in self.steps:
            out.append("This method uses no gradients: Grad-CAM's steps 2 and 3 do not apply, and steps 4 and "
                       "5 show how it weights and combines the maps instead.")
        elif "average" not in self.steps:
            out.append("Grad-CAM's step 3 (averaging each channel's gradients) does not apply: steps 4 and 5 "
                       "show how this method weights and combines the maps instead.")
        for s in self.steps.values():
            out.append(f"#### {s.title}\n\n{s.text}\n\n```python\n{s.code}\n```")
        return "\n\n".join(p for p in out if p)


def _numbers(expl: Explanation) -> dict:
    """JSON for API users: model, top-5, the explained class(es), weights, the map if small."""
    def one(v: ClassView) -> dict:
        r = v.result
        h, w = r.cam.shape[-2:]
        d = {
            "target": v.target,
            "target_name": v.name,
            "prob": round(v.prob, 6),
            "score": round(float(r.scores[0]), 6),
            "cam_max": float(r.cam[0].max()),
            "cam_shape": [int(h), int(w)],
            "weights": [round(float(x), 8) for x in r.weights[0]],
            "cam": ([[round(float(x), 6) for x in row] for row in r.cam[0]] if h * w <= JSON_MAX_CELLS else None),
        }
        return d

    out = {
        "model": expl.model_key,
        "layer": expl.layer,
        "method": expl.method,
        "normalisation": expl.norm,
        "predicted": expl.top5[0][0],
        "predicted_name": expl.top5[0][1],
        "top5": [{"class": i, "name": n, "prob": round(p, 6)} for i, n, p in expl.top5],
        **one(expl.views[0]),
    }
    if len(expl.views) > 1:
        out["second"] = one(expl.views[1])
    if expl.example:
        out["example"] = {k: expl.example.get(k) for k in ("file", "title", "credit", "licence")}
    return out


def _display_heat(cam: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    return upsample(cam, size).numpy()


def _heat_range(heats: Sequence[np.ndarray], norm: str) -> tuple[float, float]:
    hi = max(float(h.max()) for h in heats)
    lo = 0.0 if norm == "max" else min(float(h.min()) for h in heats)
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def heatmap_image(expl: Explanation) -> np.ndarray:
    """The raw map(s), upsampled, in real units with a colour bar; two classes share one scale."""
    H, W_ = expl.image.shape[:2]
    heats = [_display_heat(v.result.cam[0], (H, W_)) for v in expl.views]
    lo, hi = _heat_range(heats, expl.norm)
    tiles = [render.colorize(h, expl.cmap, lo, hi) for h in heats]
    body = _side_by_side(tiles, [v.name for v in expl.views])
    label = f"{expl.method}, raw value" + (" (shared scale)" if len(heats) > 1 else "")
    return render.with_colorbar(body, lo, hi, cmap=expl.cmap, label=label)


def overlay_images(expl: Explanation) -> list[np.ndarray]:
    if expl.whole and expl.photo is not None and expl.crop_box is not None:
        return [whole_photo_overlay(expl.photo, expl.crop_box, v.result.cam[0], norm=expl.norm, alpha=expl.alpha,
                                    cmap=expl.cmap) for v in expl.views]
    H, W_ = expl.image.shape[:2]
    out = []
    for v in expl.views:
        heat = normalize(upsample(v.result.cam[0], (H, W_)), expl.norm).numpy()
        out.append(render.overlay(expl.image, heat, alpha=expl.alpha, cmap=expl.cmap))
    return out


NOT_SEEN_CAPTION = "Hatched: not seen by the model (outside its centre crop)"
DISPLAY_PHOTO_SIDE = 640  # the whole photo is kept and drawn at most this large


def crop_box(spec: ModelSpec, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the part of a photo of ``size`` = (width, height) that the
    model sees, in the photo's pixels: the inverse of the spec's resize and centre crop."""
    from .models import EfficientNetLite0Spec, LITE0_CROP_PADDING

    w, h = (int(s) for s in size)
    if isinstance(spec, EfficientNetLite0Spec):  # a centred square, then resized (see its display_image)
        n = spec.input_size[0]
        side = max(1, int(n / (n + LITE0_CROP_PADDING) * min(w, h)))
        top, left = (h - side + 1) // 2, (w - side + 1) // 2
        return float(left), float(top), float(left + side), float(top + side)
    t = spec.transforms()  # torchvision: resize the shorter side, then centre-crop (as TF.resize does)
    rs = t.resize_size[0] if isinstance(t.resize_size, (list, tuple)) else int(t.resize_size)
    ch, cw = (t.crop_size[0], t.crop_size[-1]) if isinstance(t.crop_size, (list, tuple)) else (t.crop_size,) * 2
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = rs, int(rs * long / short)
    nw, nh = (new_short, new_long) if w <= h else (new_long, new_short)
    top, left = int(round((nh - ch) / 2.0)), int(round((nw - cw) / 2.0))
    sx, sy = w / nw, h / nh
    return left * sx, top * sy, (left + cw) * sx, (top + ch) * sy


def photo_for_display(pil, box: tuple[float, float, float, float], max_side: int = DISPLAY_PHOTO_SIDE,
                      ) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The photo (uint8 RGB) downscaled to at most ``max_side``, and ``box`` in its pixels."""
    w, h = pil.size
    s = min(1.0, max_side / max(w, h))
    img = pil.convert("RGB")
    if s < 1.0:
        img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BILINEAR)
    sx, sy = img.size[0] / w, img.size[1] / h
    return np.asarray(img, dtype=np.uint8).copy(), (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)


def _mark_unseen(photo: np.ndarray) -> np.ndarray:
    """Dimmed, with light diagonal hatching: how the unseen part of the photo is drawn."""
    out = photo.astype(np.float32) * 0.45
    yy, xx = np.mgrid[0 : photo.shape[0], 0 : photo.shape[1]]
    lines = ((xx + yy) % 12) == 0
    out[lines] = 0.4 * out[lines] + 0.6 * 235.0
    return np.rint(out).astype(np.uint8)


def whole_photo_overlay(photo: np.ndarray, box: tuple[float, float, float, float], cam, *, norm: str = "max",
                        alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """The heat map mapped back through the model's resize and crop onto the whole ``photo``.

    Inside ``box`` (what the model saw, in ``photo``'s pixels) the map is upsampled to the box's
    size and blended as in the crop overlay; outside it the photo is dimmed and hatched, with the
    caption "not seen by the model" underneath (no caption when the model saw all of it)."""
    H, W_ = photo.shape[:2]
    l, t = max(0, int(round(box[0]))), max(0, int(round(box[1])))
    r, b = min(W_, int(round(box[2]))), min(H, int(round(box[3])))
    if r <= l or b <= t:
        raise ValueError("The model's crop lies outside the photo.")
    out = _mark_unseen(photo)
    heat = normalize(upsample(torch.as_tensor(cam, dtype=torch.float32), (b - t, r - l)), norm).numpy()
    out[t:b, l:r] = render.overlay(photo[t:b, l:r], heat, alpha=alpha, cmap=cmap)
    if (l, t, r, b) == (0, 0, W_, H):
        return out
    return _caption_below(out, NOT_SEEN_CAPTION)


def _caption_below(img: np.ndarray, text: str) -> np.ndarray:
    """``img`` with a one-line caption strip underneath (a page's label badge covers the top)."""
    strip = render.caption_image(np.zeros((1, img.shape[1], 3), np.uint8), text)[:-1]
    return np.concatenate([img, strip], axis=0)


def _side_by_side(tiles: Sequence[np.ndarray], captions: Sequence[str]) -> np.ndarray:
    tiles = [_caption_below(t, c) for t, c in zip(tiles, captions)]
    if len(tiles) == 1:
        return tiles[0]
    gap = np.full((tiles[0].shape[0], 6, 3), 255, np.uint8)
    return np.concatenate([tiles[0], gap, tiles[1]], axis=1)


def overlay_panel(expl: Explanation) -> np.ndarray:
    """The overlay(s) for the page: one per explained class, side by side, each captioned."""
    overlays = expl.overlays or overlay_images(expl)
    return _side_by_side(overlays, [f"{v.name} · {v.prob:.0%}" for v in expl.views])


def _steps(expl: Explanation) -> dict[str, Step]:
    v = expl.views[0]
    return build_steps(v.result, expl.image, max_channels=STEPS_MAX_CHANNELS, cmap=expl.cmap, norm=expl.norm,
                       alpha=expl.alpha, class_name=v.name)


def render_all(expl: Explanation, steps: bool = True) -> Explanation:
    """Fill the drawn fields of ``expl`` (in place) and return it."""
    expl.overlays = overlay_images(expl)
    expl.heatmap = heatmap_image(expl)
    if steps:
        expl.steps = _steps(expl)
    expl.numbers = _numbers(expl)
    return expl


def restyle(expl: Explanation, norm: str | None = None, cmap: str | None = None, alpha: float | None = None,
            steps: bool = True, whole: bool | None = None) -> Explanation:
    """The same explanation drawn anew (the model does not run): a new Explanation.
    ``whole``: draw the overlay on the whole photo (True) or on the model's crop (False)."""
    new = dataclasses.replace(
        expl,
        whole=expl.whole if whole is None else bool(whole),
        norm=_check_norm(norm if norm is not None else expl.norm),
        cmap=_check_cmap(cmap if cmap is not None else expl.cmap),
        alpha=_check_alpha(alpha if alpha is not None else expl.alpha),
        overlays=[], heatmap=None, steps=dict(expl.steps) if not steps else {}, numbers={},
    )
    return render_all(new, steps=steps)


# --------------------------------------------------------------------------- the model part
_cache: "OrderedDict[tuple, tuple]" = OrderedDict()
_cache_lock = threading.Lock()
CACHE_SIZE = 48


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


class TooSlowError(ValueError):
    """Score-CAM would run longer than the time allowed (the message says how long, and what to do)."""


class _TimeGuard:
    """A Score-CAM progress callback ``(done, total)``: passes ``progress(fraction, text)`` on and,
    with a ``limit`` (seconds; None or 0: never stops), extrapolates the total time after each batch
    and stops the run (TooSlowError) if it would exceed the limit.  ScoreCAM tells it the plan
    (forwards, kept, channels) first."""

    def __init__(self, progress: Callable | None, limit: float | None, what: str, method: str = "Score-CAM"):
        self.progress, self.limit, self.what, self.method = progress, limit, what, method
        self.forwards = self.kept = self.channels = None
        self.start = time.perf_counter()

    def plan(self, forwards: int, kept: int, channels: int) -> None:
        self.forwards, self.kept, self.channels = int(forwards), int(kept), int(channels)
        self.start = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        fraction = done / total
        if self.progress is not None:
            self.progress(fraction, _methods.progress_text(done, total, self.kept or 0, self.channels or 0))
        if not self.limit or not 0 < fraction < 1:
            return
        estimate = (time.perf_counter() - self.start) / fraction
        if estimate <= self.limit:
            return
        n = (f"{self.forwards} masked forward passes" if self.forwards is not None
             else "one masked forward pass per channel")
        if self.kept is not None and self.kept < (self.channels or 0):
            n += f" (the top {self.kept} of {self.channels} channels)"
        advice = "Pick an earlier layer (fewer channels) or another method."
        if METHODS.get(self.method) is _methods.ScoreCAMExact and self.forwards:
            quick = min(self.forwards, SCORE_CAM_MAX_CHANNELS)
            advice = (f"Pick “Score-CAM” (the top {quick} channels: about "
                      f"{format_duration(estimate * quick / self.forwards)} at this pace), an earlier layer "
                      "(fewer channels) or another method.")
        raise TooSlowError(
            f"{self.method} on {self.what} needs {n}: about {format_duration(estimate)} on this server, more "
            f"than the {format_duration(self.limit)} allowed, so it was stopped. {advice}"
        )


def _run_model(spec: ModelSpec, model, x: torch.Tensor, layer: str, method: str, targets: list[int | None],
               progress: Callable | None, time_limit: float | None = None,
               ) -> tuple[list[CAMResult], list[tuple[np.ndarray, np.ndarray]] | None]:
    """One forward pass → one CAMResult per target, and the guided images (guided backprop, Guided
    Grad-CAM) of each when the method gives them (None otherwise)."""
    guard = _TimeGuard(progress, time_limit, f"{layer} of {spec.title}", method)  # used by Score-CAM only
    cam = make_cam(method, model, layer, batch_size=SCORE_CAM_BATCH, progress=guard, on_plan=guard.plan)
    results = cam.explain_many(x, targets)
    if "guided_backprop" not in results[0].extras:
        return results, None
    return results, [(guided_image(r.extras["guided_backprop"][0]), guided_image(r.extras["guided_gradcam"][0]))
                     for r in results]


def explain_photo(
    pil,
    model_key: str | None = None,
    layer: str | None = None,
    method: str = "Grad-CAM",
    target: Any = None,
    target2: Any = None,
    norm: str = "max",
    cmap: str = "jet",
    alpha: float = 0.5,
    progress: Callable[[float, str], None] | None = None,
    steps: bool = True,
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
    spec = get_spec(model_key)
    layer = _check_layer(spec, layer)
    method = _check_method(method)
    norm, cmap, alpha = _check_norm(norm), _check_cmap(cmap), _check_alpha(alpha)
    t1, t2 = parse_class(target), parse_class(target2)
    model = _load(spec)

    key = None
    if example is not None and example_cache_mode() != "off":
        key = (example.get("file"), spec.key, id(model), layer, method, t1, t2)
        with _cache_lock:
            hit = _cache.get(key)
            if hit is not None:
                _cache.move_to_end(key)
    else:
        hit = None
    if hit is not None:
        image, views, seconds = hit
        cached = True
    else:
        x = spec.preprocess(pil)
        image = np.ascontiguousarray(np.asarray(spec.display_image(pil), dtype=np.uint8))
        targets = [t1] if t2 is None else [t1, t2]
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
        cached = False
        if key is not None:
            with _cache_lock:
                _cache[key] = (image, views, seconds)
                while len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)

    probs = views[0].result.probs[0]
    top = torch.topk(probs, 5)
    cats = categories()
    top5 = [(int(i), cats[int(i)], float(p)) for p, i in zip(top.values, top.indices)]
    expl = Explanation(
        model_key=spec.key, model_title=spec.title, layer=layer, layer_label=layer_label(spec, layer),
        method=method, image=image, top5=top5, views=views, norm=norm, cmap=cmap, alpha=alpha,
        example=example, seconds=seconds, cached=cached, whole=bool(whole),
    )
    expl.photo, expl.crop_box = photo_for_display(pil, crop_box(spec, pil.size))
    return render_all(expl, steps=steps)


def explain_source(src: Any, *args, **kwargs) -> Explanation:
    """:func:`explain_photo` from a path / bytes / data: URL; example photos are cached lazily."""
    if inputs.is_data_url(src):
        try:
            src = inputs.data_url_bytes(src)
        except ValueError as e:
            raise ImageError(str(e)) from None
    pil = load_photo(src)
    kwargs.setdefault("example", example_for(src))
    return explain_photo(pil, *args, **kwargs)


# --------------------------------------------------------------------------- compare models
@dataclass
class Panel:
    key: str
    title: str
    layer: str
    image: np.ndarray  # overlay, uint8
    prob: float  # probability of the compared class under this model
    rank: int  # 1 = this model's top class
    predicted_name: str
    cam_max: float

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

    def summary(self) -> str:
        lines = [f"**{self.method}** for **{class_label(self.target)}**, each model on its default layer."]
        for p in self.panels:
            lines.append(f"- {p.title}: p = {p.prob:.1%}, rank {p.rank}; its own top class: {p.predicted_name}")
        for title, why in self.skipped:
            lines.append(f"- {title}: not available ({why})")
        return "\n".join(lines)

    def numbers(self) -> dict:
        return {
            "target": self.target, "target_name": self.name, "method": self.method,
            "models": [{"model": p.key, "layer": p.layer, "prob": round(p.prob, 6), "rank": p.rank,
                        "predicted_name": p.predicted_name, "cam_max": p.cam_max} for p in self.panels],
            "skipped": [{"model": t, "reason": r} for t, r in self.skipped],
        }


def compare_models(
    pil,
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
    norm, cmap, alpha = _check_norm(norm), _check_cmap(cmap), _check_alpha(alpha)
    target = parse_class(class_index)
    if keys is None:
        keys = [k for k, s in REGISTRY.items() if s.available]
    keys = [get_spec(k).key for k in keys]
    if not keys:
        raise ValueError("Choose at least one model to compare.")
    cats = categories()
    panels, skipped = [], []
    n = len(keys)
    for j, key in enumerate(keys):
        spec = REGISTRY[key]
        ok, _ = spec.availability()
        if not ok:
            skipped.append((spec.title, _short_reason(key, spec)))
            continue
        model = _load(spec)
        sub = None
        if progress is not None:
            progress(j / n, f"{spec.title} ({j + 1}/{n})")
            sub = (lambda f, text, j=j: progress((j + f) / n, f"{spec.title}: {text}"))
        x = spec.preprocess(pil)
        image = np.asarray(spec.display_image(pil), dtype=np.uint8)
        results, _ = _run_model(spec, model, x, spec.default_layer, method, [target], sub, time_limit)
        r = results[0]
        if target is None:
            target = int(r.targets[0])
        probs = r.probs[0]
        heat = normalize(upsample(r.cam[0], r.input_size), norm).numpy()
        panels.append(Panel(
            key=key, title=spec.title, layer=spec.default_layer,
            image=render.overlay(image, heat, alpha=alpha, cmap=cmap),
            prob=float(probs[target]), rank=int((probs > probs[target]).sum()) + 1,
            predicted_name=cats[int(probs.argmax())], cam_max=float(r.cam[0].max()),
        ))
    if not panels:
        raise ValueError("No model is available to compare: " + "; ".join(f"{t}: {w}" for t, w in skipped))
    return Comparison(target=int(target), name=cats[int(target)], method=method, panels=panels, skipped=skipped)


# --------------------------------------------------------------------------- files
_OUT_ROOT = Path(tempfile.gettempdir()) / "gradcam_explorer_imagenet"
_OUT_TTL = 15 * 60  # seconds a request's files are kept (gradio copies them to its own cache first)
_out_lock = threading.Lock()
_last_prune = 0.0


def _out_dir(folder: str | Path | None) -> Path:
    global _last_prune
    if folder is not None:
        d = Path(folder)
        d.mkdir(parents=True, exist_ok=True)
        return d
    _OUT_ROOT.mkdir(parents=True, exist_ok=True)
    now = time.time()
    with _out_lock:
        if now - _last_prune > 60:
            _last_prune = now
            for old in _OUT_ROOT.iterdir():
                try:
                    if now - old.stat().st_mtime > _OUT_TTL:
                        shutil.rmtree(old, ignore_errors=True)
                except OSError:
                    pass
    return Path(tempfile.mkdtemp(dir=_OUT_ROOT))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "x"


def _save_png(arr, path: Path) -> str:
    render.to_pil(arr).save(path, format="PNG", compress_level=1)
    return str(path)


def write_pngs(images: Sequence[np.ndarray], folder: str | Path | None = None, stem: str = "image") -> list[str]:
    """Write images as fast PNGs into ``folder`` (default: a fresh temporary folder)."""
    d = _out_dir(folder)
    return [_save_png(a, d / f"{stem}-{i}.png") for i, a in enumerate(images)]


def write_downloads(expl: Explanation, folder: str | Path | None = None) -> list[str]:
    """Grayscale map, coloured heat map and overlay of the first class, as PNG files.

    The grayscale map is the normalised map at the input size (0 → black, 1 → white); the
    coloured one uses the chosen colormap; the overlay the chosen opacity.
    """
    d = _out_dir(folder)
    v = expl.views[0]
    H, W_ = expl.image.shape[:2]
    heat = normalize(upsample(v.result.cam[0], (H, W_)), expl.norm).numpy()
    gray = np.clip(np.rint(heat * 255), 0, 255).astype(np.uint8)
    stem = f"{_slug(expl.model_key)}_{_slug(expl.layer)}_{_slug(expl.method)}_{v.target}-{_slug(v.name)}"
    overlay = expl.overlays[0] if expl.overlays else overlay_images(expl)[0]
    return [
        _save_png(gray, d / f"{stem}_gray.png"),
        _save_png(render.colorize(heat, expl.cmap, 0.0, 1.0), d / f"{stem}_heatmap.png"),
        _save_png(overlay, d / f"{stem}_overlay.png"),
    ]
