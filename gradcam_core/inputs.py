"""The one place that parses what people type or send: target class, layer, method,
normalisation, colour map, map placement, opacity, photo source and data: URLs.  No gradio import.

The UI (``gradcam_core/ui``), the HTTP API (the same handlers) and the command line
(``gradcam_core/cli.py``) all call these functions, so all three accept and reject exactly the
same values, with the same message.  Every rejection is a ``ValueError`` whose text tells a
person what to type instead (the UI turns it into a ``gr.Error``, the CLI into exit code 2).
"""
from __future__ import annotations

import base64
import binascii
import difflib
import re
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = [
    "PREDICTED_WORDS", "NORMS", "CMAPS", "parse_target", "find_classes", "parse_layer", "parse_method",
    "parse_norm", "parse_cmap", "parse_alpha", "photo_source", "data_url_bytes", "is_data_url", "parse_box",
    "PLACEMENTS", "DEFAULT_PLACEMENT", "parse_placement",
]

#: what means "explain the predicted class" (the UI's dropdown says "predicted", the CLI "auto")
PREDICTED_WORDS = ("", "predicted", "auto", "pred", "top1", "top-1", "none", "-", "—")
NORMS = {"max": "max (0 stays 0)", "minmax": "min–max (fill the scale)"}
#: the colour maps the UI offers; any other matplotlib colour map name is accepted too
CMAPS = ["jet", "turbo", "cividis", "inferno", "viridis", "magma", "gray"]  # cividis: colour-blind safe (issue 17)


# --------------------------------------------------------------------------- target class
def _fold(s: str) -> str:
    return re.sub(r"[\s_]+", " ", s.strip().casefold())


def find_classes(query: str | None, categories: Sequence[str]) -> list[tuple[int, str]]:
    """Classes whose name contains ``query`` (case-insensitive), or whose index it is.

    An empty query lists all.  Whole-word matches come first ("cat" → "tiger cat" before
    "catamaran").
    """
    q = (query or "").strip().lower()
    m = re.match(r"^(\d+)\s*(?:·.*)?$", q)
    if m:
        i = int(m.group(1))
        return [(i, categories[i])] if 0 <= i < len(categories) else []
    if not q:
        return list(enumerate(categories))
    word = re.compile(r"\b" + re.escape(q) + r"\b")
    hits = [(i, c) for i, c in enumerate(categories) if q in c.lower()]
    hits.sort(key=lambda ic: (word.search(ic[1].lower()) is None, ic[0]))
    return hits


def parse_target(value: Any, categories: Sequence[str], dataset: str = "ImageNet", *,
                 predicted: bool = True, what: str = "Class") -> int | None:
    """A class from the UI, the API or the CLI.

    None / "predicted" / "auto" → None (only with ``predicted``); 207, 207.0, "207",
    "207 · golden retriever", an exact name or an unambiguous part of a name → 207.
    ``dataset`` names the class list in messages ("ImageNet", "MNIST"); ``what`` names the value.
    """
    n = len(categories)
    choose = (f"give {'predicted, ' if predicted else ''}an index 0 to {n - 1}"
              + (", or part of a class name, e.g. 'retriever'" if any(not c.isdigit() for c in categories) else ""))
    if value is None or (isinstance(value, str) and value.strip().lower() in PREDICTED_WORDS):
        if predicted:
            return None
        raise ValueError(f"{what} is missing; {choose}.")
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a class, not {value!r}; {choose}.")
    if isinstance(value, (int, np.integer)):
        i = int(value)
    elif isinstance(value, (float, np.floating)):
        if not float(value).is_integer():
            raise ValueError(f"{what} must be a whole class index, not {float(value):g}; {choose}.")
        i = int(value)
    elif isinstance(value, str):
        text = value.strip()
        m = re.match(r"^([+-]?\d+)(?:\.0*)?(?:\s*·.*)?$", text)
        if m:
            i = int(m.group(1))
        else:
            exact = [j for j, c in enumerate(categories) if _fold(c) == _fold(text)]
            hits = exact or [j for j, _ in find_classes(text, categories)]
            if len(hits) == 1:
                return hits[0]
            if not hits:
                close = difflib.get_close_matches(_fold(text), [_fold(c) for c in categories], n=3, cutoff=0.75)
                similar = f" (similar names: {', '.join(repr(c) for c in close)})" if close else ""
                raise ValueError(f"No {dataset} class matches {text!r}{similar}; {choose}.")
            some = ", ".join(f"{j} · {categories[j]}" for j in hits[:6])
            raise ValueError(f"{text!r} matches {len(hits)} classes ({some}{' …' if len(hits) > 6 else ''}); "
                             "pick one.")
    else:
        raise ValueError(f"{what} must be a class, not {value!r}; {choose}.")
    if not 0 <= i < n:
        raise ValueError(f"{what} {i} is out of range: {dataset} classes go from 0 to {n - 1}.")
    return i


# --------------------------------------------------------------------------- layer
_probed: dict[tuple[int, str], str | None] = {}


def _probe(model, name: str, input_shape: tuple[int, ...]) -> str | None:
    """None when GradCAM on ``name`` gives a usable (N, K, h, w) map, else the engine's reason."""
    key = (id(model), name)
    if key not in _probed:
        import torch

        from gradcam_core.cam.engine import GradCAM

        try:
            GradCAM(model, name)(torch.zeros((1, *input_shape)), target=0)
            _probed[key] = None
        except ValueError as e:
            _probed[key] = str(e)
    return _probed[key]


def parse_layer(value: Any, layers: Iterable[tuple[str, Iterable[str]]], default: str, title: str, *,
                model=None, input_shape: tuple[int, ...] | None = None) -> str:
    """The module name of a layer.

    ``layers``: (module name, labels people see for it) of the layers in the picker; empty →
    ``default``; a name or a label → its name.  Any other module name of ``model`` is accepted
    when it outputs a feature map (tried once on a blank input of ``input_shape``).
    """
    layers = [(name, tuple(labels)) for name, labels in layers]
    names = [name for name, _ in layers]
    if value in (None, ""):
        return default
    text = str(value).strip()
    for name, labels in layers:
        if text == name or text in labels:
            return name
    choose = f"choose one of: {', '.join(names)}"
    modules = dict(model.named_modules()) if model is not None else {}
    if text and text in modules:
        why = _probe(model, text, input_shape) if input_shape is not None else None
        if why is None:
            return text
        raise ValueError(f"{title} has no layer {text!r} that can be used here ({why.rstrip('.')}); {choose}.")
    close = difflib.get_close_matches(text, list(modules) or names, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise ValueError(f"{title} has no layer {text!r}{hint}; {choose}"
                     + (" (or any module name of the model that outputs a feature map)." if modules else "."))


# --------------------------------------------------------------------------- method, norm, colours
def _method_key(s: str) -> str:
    return re.sub(r"[^a-z0-9+]", "", s.lower()).replace("plusplus", "++").replace("pp", "++")


def parse_method(value: Any, choices: Sequence[str], default: str = "Grad-CAM") -> str:
    """One of ``choices``, given exactly or loosely ('gradcam++', 'score-cam', 'eigencam')."""
    if value in (None, ""):
        return default
    text = str(value)
    if text in choices:
        return text
    table = {_method_key(k): k for k in choices}
    table.update({_method_key(k).replace("cam", ""): k for k in choices
                  if _method_key(k) not in ("counterfactual", "gradcam")})
    found = table.get(_method_key(text))
    if found is None:
        raise ValueError(f"Unknown method {text!r}; choose one of: {', '.join(choices)}.")
    return found


def parse_norm(value: Any) -> str:
    norm = "max" if value in (None, "") else str(value).replace("-", "").replace("–", "").strip().lower()
    if norm not in NORMS:
        raise ValueError(f"Unknown normalisation {norm!r}; choose 'max' or 'minmax'.")
    return norm


def parse_cmap(value: Any) -> str:
    """A colour map name: the UI's list, or any matplotlib colour map."""
    name = "jet" if value in (None, "") else str(value).strip()
    if name in CMAPS:
        return name
    import matplotlib

    if name not in matplotlib.colormaps:
        raise ValueError(f"Unknown colormap {name!r}; choose one of: {', '.join(CMAPS)} "
                         "(or any other matplotlib colour map).")
    return name


#: How a map is drawn over the input: each cell at the centre of what it sees ("receptive field",
#: the default for LeNet, which has no padding), or stretched evenly over the input ("stretched").
PLACEMENTS = ("receptive field", "stretched")
DEFAULT_PLACEMENT = "receptive field"


def parse_placement(value: Any) -> str:
    """One of :data:`PLACEMENTS` (None or "" → the default; case, hyphens and underscores are
    ignored: "receptive-field" is "receptive field"); a ValueError naming them otherwise."""
    if value in (None, ""):
        return DEFAULT_PLACEMENT
    v = re.sub(r"[\s_-]+", " ", str(value).strip().lower()) if isinstance(value, str) else None
    if v not in PLACEMENTS:
        raise ValueError(f"Unknown map placement {value!r}; choose {' or '.join(repr(p) for p in PLACEMENTS)} "
                         "(where each cell of the map is drawn: at the centre of what it sees, or stretched "
                         "evenly over the picture).")
    return v


def parse_alpha(value: Any) -> float:
    try:
        a = float(0.5 if value is None else value)
    except (TypeError, ValueError):
        raise ValueError(f"Opacity must be a number between 0 and 1, not {value!r}.") from None
    if not 0.0 <= a <= 1.0 or a != a:
        raise ValueError(f"Opacity must be between 0 and 1, not {a:g}.")
    return a


# --------------------------------------------------------------------------- photos, data URLs
NO_PHOTO = "Upload a photo, take one with the camera, paste one, or tap an example first."
PHOTO_LOST = "The photo did not arrive; please upload it again."


def photo_source(photo: Any) -> Any:
    """What a photo input carries → something :func:`gradcam_core.data.images.load_image` reads.

    The UI's photo events run with preprocess=False, so gradio never decodes an upload itself and
    a hostile file gets images.load_image's message.  Accepts a gradio file payload (a dict or an
    object with ``path``, or a ``data:`` URL in ``url``), a path, bytes, a PIL image or an array.
    """
    if photo is None or (isinstance(photo, str) and not photo.strip()):
        raise ValueError(NO_PHOTO)
    if isinstance(photo, dict):
        if photo.get("path"):
            return photo["path"]
        url = photo.get("url") or ""
        if is_data_url(url):
            return url
        raise ValueError(PHOTO_LOST)
    if isinstance(photo, (str, Path)):
        return str(photo)
    path = getattr(photo, "path", None)
    if path:
        return path
    if isinstance(photo, (bytes, bytearray, np.ndarray)) or hasattr(photo, "convert"):
        return photo
    raise ValueError(PHOTO_LOST)


def is_data_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("data:")


def data_url_bytes(url: str) -> bytes:
    """The bytes in a ``data:…;base64,`` URL (the one decoder of the app)."""
    try:
        head, payload = url.split(",", 1)
        if not head.startswith("data:") or not head.endswith(";base64"):
            raise ValueError
        return base64.b64decode(payload, validate=False)
    except (AttributeError, ValueError, binascii.Error):
        raise ValueError("could not read this image (the data: URL is damaged)") from None



# --------------------------------------------------------------------------- a box on a photo
#: the smallest box side (pixels) the reader can use: gradcam_core.data.images.MIN_SIDE
MIN_BOX_SIDE = 8
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:inf(?:inity)?|nan)", re.I)
BOX_HELP = "x0, y0, x1, y1: the left, top, right and bottom edges in pixels from the photo's top-left corner"


def parse_box(value: Any, width: int, height: int) -> tuple[int, int, int, int]:
    """A box on a ``width`` × ``height`` photo, as whole pixels (x0, y0, x1, y1), x1 and y1
    exclusive (PIL's ``crop``).  ``value``: "x0, y0, x1, y1" (commas, spaces, brackets all fine)
    or four numbers; a box drawn on the page is already in the photo's own pixels."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("Draw a box around the digit on the photo first (or type " + BOX_HELP + ").")
    if isinstance(value, str):
        text = value.strip()
        parts = _NUMBER.findall(text)
        leftover = _NUMBER.sub(" ", text)
        if re.search(r"[^\s,;()\[\]]", leftover):
            raise ValueError(f"A box is four numbers ({BOX_HELP}), not {value!r}.")
    elif isinstance(value, (list, tuple, np.ndarray)):
        parts = list(np.asarray(value, dtype=object).ravel())
    else:
        raise ValueError(f"A box is four numbers ({BOX_HELP}), not {value!r}.")
    if len(parts) != 4:
        raise ValueError(f"A box is four numbers ({BOX_HELP}); got {len(parts)}: {value!r}.")
    try:
        x0, y0, x1, y1 = (float(v) for v in parts)
    except (TypeError, ValueError):
        raise ValueError(f"A box is four numbers ({BOX_HELP}), not {value!r}.") from None
    if not all(np.isfinite([x0, y0, x1, y1])):
        raise ValueError(f"The box's edges must be ordinary numbers, not {value!r}.")
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"The box's right and bottom edges must come after its left and top ones "
                         f"(x0 < x1 and y0 < y1); got x0={x0:g}, y0={y0:g}, x1={x1:g}, y1={y1:g}.")
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        raise ValueError(f"The box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) reaches outside the photo, which is "
                         f"{width}×{height} pixels: keep x between 0 and {width} and y between 0 and {height}.")
    box = (int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1)))
    w, h = box[2] - box[0], box[3] - box[1]
    if w < MIN_BOX_SIDE or h < MIN_BOX_SIDE:
        raise ValueError(f"The box is only {w}×{h} pixels: draw it around the whole digit (at least "
                         f"{MIN_BOX_SIDE} pixels on each side).")
    return box
