"""The one place that parses what people type or send: target class, layer, method,
normalisation, colour map, map placement, opacity, photo source and data: URLs.  No gradio import.

The UI (``gradcam_core/ui``), the HTTP API (the same handlers) and the command line
(``gradcam_core/cli.py``) all call these functions, so all three accept and reject exactly the
same values, with the same message.  Every rejection is a ``Refusal`` (a ``ValueError``): a
catalogue key and its numbers, whose sentence (``present.words.text_of``) tells a person what to
type instead (the UI turns it into a ``gr.Error``, the CLI into exit code 2).  The layer parser
is ``models.layers.parse_layer``: it tries a layer on the model.
"""
from __future__ import annotations

import base64
import binascii
import difflib
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from gradcam_core.base.errors import Refusal, Term, one_of

__all__ = [
    "PREDICTED_WORDS", "NORMS", "CMAPS", "parse_target", "find_classes", "parse_method",
    "parse_norm", "parse_cmap", "parse_alpha", "photo_source", "data_url_bytes", "is_data_url", "parse_box",
    "PLACEMENTS", "DEFAULT_PLACEMENT", "parse_placement",
]

#: what means "explain the predicted class" (the UI's dropdown says "predicted", the CLI "auto")
PREDICTED_WORDS = ("", "predicted", "auto", "pred", "top1", "top-1", "none", "-", "—")
#: the normalisations the API takes → the catalogue key of the label people see (``say(NORMS[n])``)
NORMS = {"max": "input.norm_max", "minmax": "input.norm_minmax"}
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


def _predicted_words() -> set[str]:
    """:data:`PREDICTED_WORDS` and the reader's language's own words for the predicted class
    (catalogue ``input.words.predicted``, e.g. French « prédite »)."""
    found = set(PREDICTED_WORDS)
    text = str(Term("input.words.predicted"))
    if text != "input.words.predicted":  # worded (the catalogue is loaded)
        found.update(w.strip().casefold() for w in text.split(",") if w.strip())
    return found


def _choice(predicted: bool, categories: Sequence[str]) -> str:
    """Which "give …" a class refusal ends with: predicted allowed or not, names or only indexes."""
    return ("predicted" if predicted else "index") + ("_or_name" if any(not c.isdigit() for c in categories) else "")


def parse_target(value: Any, categories: Sequence[str], dataset: str = "ImageNet", *,
                 predicted: bool = True, what: str = "Class") -> int | None:
    """A class from the UI, the API or the CLI.

    None / "predicted" / "auto" → None (only with ``predicted``); 207, 207.0, "207",
    "207 · golden retriever", an exact name or an unambiguous part of a name → 207.
    ``dataset`` names the class list in messages ("ImageNet", "MNIST"); ``what`` names the value.
    A refusal is ``Refusal("error.class.<what went wrong>.<what to give>", …)`` with the numbers.
    """
    n = len(categories)
    choice = _choice(predicted, categories)
    if value is None or (isinstance(value, str) and value.strip().casefold() in _predicted_words()):
        if predicted:
            return None
        raise Refusal(f"error.class.missing.{choice}", what=what, last=n - 1)
    if isinstance(value, bool):
        raise Refusal(f"error.class.not_class.{choice}", what=what, value=value, last=n - 1)
    if isinstance(value, (int, np.integer)):
        i = int(value)
    elif isinstance(value, (float, np.floating)):
        if not float(value).is_integer():
            raise Refusal(f"error.class.not_whole.{choice}", what=what, value=float(value), last=n - 1)
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
                if close:
                    raise Refusal(f"error.class.no_match_similar.{choice}", dataset=dataset, text=text,
                                  names=", ".join(repr(c) for c in close), last=n - 1)
                raise Refusal(f"error.class.no_match.{choice}", dataset=dataset, text=text, last=n - 1)
            some = ", ".join(f"{j} · {categories[j]}" for j in hits[:6])
            raise Refusal("error.class.ambiguous_more" if len(hits) > 6 else "error.class.ambiguous",
                          text=text, count=len(hits), some=some)
    else:
        raise Refusal(f"error.class.not_class.{choice}", what=what, value=value, last=n - 1)
    if not 0 <= i < n:
        raise Refusal("error.class.out_of_range", what=what, index=i, dataset=dataset, last=n - 1)
    return i


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
        raise Refusal("error.method.unknown", text=text, choices=", ".join(choices))
    return found


def parse_norm(value: Any) -> str:
    norm = "max" if value in (None, "") else str(value).replace("-", "").replace("–", "").strip().lower()
    if norm not in NORMS:
        raise Refusal("error.norm.unknown", norm=norm)
    return norm


def parse_cmap(value: Any) -> str:
    """A colour map name: the UI's list, or any matplotlib colour map."""
    name = "jet" if value in (None, "") else str(value).strip()
    if name in CMAPS:
        return name
    import matplotlib

    if name not in matplotlib.colormaps:
        raise Refusal("error.cmap.unknown", name=name, choices=", ".join(CMAPS))
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
        raise Refusal("error.placement.unknown", value=value, choices=one_of(repr(p) for p in PLACEMENTS))
    return v


def parse_alpha(value: Any) -> float:
    try:
        a = float(0.5 if value is None else value)
    except (TypeError, ValueError):
        raise Refusal("error.alpha.not_a_number", value=value) from None
    if not 0.0 <= a <= 1.0 or a != a:
        raise Refusal("error.alpha.out_of_range", alpha=a)
    return a


# --------------------------------------------------------------------------- photos, data URLs
NO_PHOTO = "error.photo.none"  # the catalogue keys of "no photo" and "the photo did not arrive"
PHOTO_LOST = "error.photo.lost"


def photo_source(photo: Any) -> Any:
    """What a photo input carries → something :func:`gradcam_core.data.images.load_image` reads.

    The UI's photo events run with preprocess=False, so gradio never decodes an upload itself and
    a hostile file gets images.load_image's message.  Accepts a gradio file payload (a dict or an
    object with ``path``, or a ``data:`` URL in ``url``), a path, bytes, a PIL image or an array.
    """
    if photo is None or (isinstance(photo, str) and not photo.strip()):
        raise Refusal(NO_PHOTO)
    if isinstance(photo, dict):
        if photo.get("path"):
            return photo["path"]
        url = photo.get("url") or ""
        if is_data_url(url):
            return url
        raise Refusal(PHOTO_LOST)
    if isinstance(photo, (str, Path)):
        return str(photo)
    path = getattr(photo, "path", None)
    if path:
        return path
    if isinstance(photo, (bytes, bytearray, np.ndarray)) or hasattr(photo, "convert"):
        return photo
    raise Refusal(PHOTO_LOST)


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
        raise Refusal("error.photo.data_url") from None



# --------------------------------------------------------------------------- a box on a photo
#: the smallest box side (pixels) the reader can use: gradcam_core.data.images.MIN_SIDE
MIN_BOX_SIDE = 8
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:inf(?:inity)?|nan)", re.I)


def parse_box(value: Any, width: int, height: int) -> tuple[int, int, int, int]:
    """A box on a ``width`` × ``height`` photo, as whole pixels (x0, y0, x1, y1), x1 and y1
    exclusive (PIL's ``crop``).  ``value``: "x0, y0, x1, y1" (commas, spaces, brackets all fine)
    or four numbers; a box drawn on the page is already in the photo's own pixels."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Refusal("error.box.missing")
    if isinstance(value, str):
        text = value.strip()
        parts = _NUMBER.findall(text)
        leftover = _NUMBER.sub(" ", text)
        if re.search(r"[^\s,;()\[\]]", leftover):
            raise Refusal("error.box.not_numbers", value=value)
    elif isinstance(value, (list, tuple, np.ndarray)):
        parts = list(np.asarray(value, dtype=object).ravel())
    else:
        raise Refusal("error.box.not_numbers", value=value)
    if len(parts) != 4:
        raise Refusal("error.box.count", count=len(parts), value=value)
    try:
        x0, y0, x1, y1 = (float(v) for v in parts)
    except (TypeError, ValueError):
        raise Refusal("error.box.not_numbers", value=value) from None
    if not all(np.isfinite([x0, y0, x1, y1])):
        raise Refusal("error.box.not_finite", value=value)
    if x1 <= x0 or y1 <= y0:
        raise Refusal("error.box.order", x0=x0, y0=y0, x1=x1, y1=y1)
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        raise Refusal("error.box.outside", x0=x0, y0=y0, x1=x1, y1=y1, width=width, height=height)
    box = (int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1)))
    w, h = box[2] - box[0], box[3] - box[1]
    if w < MIN_BOX_SIDE or h < MIN_BOX_SIDE:
        raise Refusal("error.box.too_small", width=w, height=h, min_side=MIN_BOX_SIDE)
    return box
