"""Spurious correlations, measured: a planted MNIST shortcut and altered real photos.

No gradio here: the tab (``ui/spurious_tab.py``) only places what this module computes.

**1. The planted shortcut (MNIST).**  A *cue* is a bright 3×3 square on the left or right edge
of the 28×28 frame; its position encodes a class (``CUE_POSITIONS``): classes 0–4 sit on the
left edge from top to bottom, classes 5–9 on the right edge from top to bottom.  The edge columns
are almost always empty in MNIST (ink reaches columns 0–2 in ~1 % of digits, 25–27 in ~6 %), so
the square rarely touches a stroke.  ``tools/train_shortcut.py`` trains a second LeNet on the same
4000 training digits as the clean LeNet, where 95 % of the digits carry the cue of their own class
(and the strokes, not the square, are jittered by strong random warps).
:func:`shortcut_table` then measures both models on the 1000 held-out digits without a cue, with
the matching cue and with a misleading cue; :func:`cue_mass` measures how much of a Grad-CAM map
lies on the cue.

**2. Altered photos (EfficientNet-Lite0, offline).**  Every photo comes from ``examples/``
(images shipped in registry packages).  Three experiments, each giving *cards* whose numbers are
computed by running the model, never typed in:

* context swap: the object, cut out with a feathered ellipse set by hand around it (or, for
  the dahlia, a colour threshold), pasted onto grass, gravel, brick or a plain grey background;
* object removed: the object region (grown by 3 px) refilled from its surroundings by a
  normalised Gaussian blur of the background alone, so only the background is left;
* a stamped watermark / caption: white text with a dark outline at a fixed place.

Each card holds the original and the altered image (as the model sees them), the top-3 of
both, both Grad-CAM overlays, the share of heat on the altered region in both images next to that
region's share of the picture, and one sentence generated from those numbers
(:func:`card_sentence`), which compares the two images by heat per unit of area.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gradcam_core.models import lenet as _lenet

__all__ = [
    "CUE_SIZE",
    "CUE_VALUE",
    "CUE_POSITIONS",
    "SHORTCUT_WEIGHTS",
    "cue_position",
    "cue_box",
    "cue_region",
    "add_cue",
    "misleading_classes",
    "cue_mass",
    "load_shortcut",
    "load_clean",
    "shortcut_table",
    "mnist_case",
    "EXPERIMENTS",
    "Card",
    "make_card",
    "card_sentence",
    "card_numbers",
]

# =============================================================================== MNIST cue

CUE_SIZE = 3  # side of the square, pixels
CUE_VALUE = 1.0  # full brightness (MNIST ink is bright on black)
CUE_ROWS = (1, 7, 12, 18, 24)  # top rows of the five squares along one edge
CUE_LEFT_COL = 0  # classes 0-4: columns 0-2
CUE_RIGHT_COL = 28 - CUE_SIZE  # classes 5-9: columns 25-27
#: class -> (row, col) of the square's top-left pixel
CUE_POSITIONS: dict[int, tuple[int, int]] = {
    c: (CUE_ROWS[c % 5], CUE_LEFT_COL if c < 5 else CUE_RIGHT_COL) for c in range(10)
}
#: how far (pixels) the region used by :func:`cue_mass` extends around the square: the
#: Grad-CAM map of LeNet's conv2 is 8×8, so one cell covers 3.5 input pixels once upsampled.
CUE_MARGIN = 2

CUE_DESCRIPTION = (
    f"a {CUE_SIZE}x{CUE_SIZE} square at full brightness (pixel = max(pixel, 1.0)); classes 0-4 on the "
    f"left edge (columns 0-2), classes 5-9 on the right edge (columns 25-27), top rows "
    f"{', '.join(map(str, CUE_ROWS))} for classes 0/5, 1/6, 2/7, 3/8, 4/9"
)

WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"
SHORTCUT_WEIGHTS = _lenet.SHORTCUT_WEIGHTS  # the registry's "lenet_shortcut" (gradcam_core.models.registry)
TRAIN_COMMAND = _lenet.SHORTCUT_TRAIN_COMMAND
LAYER = "conv2"
#: seed of the misleading cue classes drawn for the held-out digits
MISLEAD_SEED = 1


def cue_position(cls: int) -> tuple[int, int]:
    """(row, col) of the top-left pixel of the cue square for class ``cls``."""
    try:
        c = int(cls)
    except (TypeError, ValueError):
        raise ValueError(f"The cue class must be a digit 0–9, not {cls!r}.") from None
    if not 0 <= c <= 9 or isinstance(cls, bool):
        raise ValueError(f"The cue class must be a digit 0–9, not {cls!r}.")
    return CUE_POSITIONS[c]


def _check_pos(pos, size: int | None = None) -> tuple[int, int]:
    size = CUE_SIZE if size is None else int(size)
    try:
        r, c = (int(v) for v in pos)
    except (TypeError, ValueError):
        raise ValueError(f"A cue position must be (row, col), not {pos!r}.") from None
    hi = 28 - size
    if not (0 <= r <= hi and 0 <= c <= hi):
        raise ValueError(f"The cue square must lie inside the 28×28 frame: row and col from 0 to {hi}, got ({r}, {c}).")
    return r, c


def cue_box(cls: int | None = None, pos: tuple[int, int] | None = None, margin: int = CUE_MARGIN,
            size: int | None = None) -> tuple[int, int, int, int]:
    """(r0, c0, r1, c1), end-exclusive, of the square (``margin`` = 0) or the region around it,
    clipped to the frame.  ``pos`` overrides the class position."""
    size = CUE_SIZE if size is None else int(size)
    r, c = _check_pos(pos, size) if pos is not None else cue_position(cls)
    m = int(margin)
    return max(0, r - m), max(0, c - m), min(28, r + size + m), min(28, c + size + m)


def cue_region(cls: int | None = None, pos: tuple[int, int] | None = None, margin: int = CUE_MARGIN,
               shape: tuple[int, int] = (28, 28)) -> np.ndarray:
    """Boolean (28, 28) mask of :func:`cue_box` (or scaled to ``shape``)."""
    r0, c0, r1, c1 = cue_box(cls, pos, margin)
    H, W = shape
    mask = np.zeros(shape, dtype=bool)
    sr, sc = H / 28.0, W / 28.0
    mask[int(round(r0 * sr)):int(round(r1 * sr)), int(round(c0 * sc)):int(round(c1 * sc))] = True
    return mask


def cue_patch(size: int | None = None) -> np.ndarray:
    """The cue's pixels: float (size, size), all 1 (a solid square at full brightness)."""
    size = CUE_SIZE if size is None else int(size)
    return np.ones((size, size), np.float32)


def add_cue(digit: np.ndarray, cls=None, pos: tuple[int, int] | None = None,
            size: int | None = None, value: float = CUE_VALUE) -> np.ndarray:
    """A copy of ``digit`` with the cue of class ``cls`` (or at ``pos`` = (row, col), top-left).

    ``digit``: (28, 28) float in [0, 1], or uint8 (then ``value`` is scaled to 255); a batch
    (N, 28, 28) gets the same cue on every digit, or per digit when ``cls`` is a sequence of N
    classes (a negative class = no cue on that digit).  The cue is drawn with ``max`` so ink under
    it stays ink.  ``cls=None`` and ``pos=None`` returns an unchanged copy (no cue).
    """
    size = CUE_SIZE if size is None else int(size)
    a = np.array(digit, copy=True)
    if a.shape[-2:] != (28, 28) or a.ndim not in (2, 3):
        raise ValueError(f"Expected a 28×28 digit (or a batch of them), got shape {a.shape}.")
    patch = cue_patch(size) * (value * 255.0 if a.dtype == np.uint8 else value)
    patch = np.rint(patch).astype(a.dtype) if a.dtype == np.uint8 else patch.astype(a.dtype)
    if cls is None and pos is None:
        return a
    if pos is None and np.ndim(cls) == 1:
        classes = np.asarray(cls)
        if a.ndim != 3 or len(classes) != a.shape[0]:
            raise ValueError(f"Got {len(classes)} cue classes for an input of shape {a.shape}.")
        for i, c in enumerate(classes.tolist()):
            if c < 0:
                continue
            r, col = cue_position(c)
            sl = a[i, r:r + size, col:col + size]
            np.maximum(sl, patch, out=sl)
        return a
    r, col = _check_pos(pos, size) if pos is not None else cue_position(cls)
    sl = a[..., r:r + size, col:col + size]
    np.maximum(sl, patch, out=sl)
    return a


def misleading_classes(labels: np.ndarray, seed: int = MISLEAD_SEED) -> np.ndarray:
    """For each label, a different class drawn uniformly from the other nine (seeded)."""
    labels = np.asarray(labels, dtype=np.int64)
    shift = np.random.default_rng(seed).integers(1, 10, size=len(labels))
    return (labels + shift) % 10


def cue_mass(cam, region) -> float | np.ndarray:
    """Fraction of the Grad-CAM heat that lies inside ``region``.

    ``cam``: a raw map (h, w) or batch (N, h, w) at the layer's resolution (a tensor or array;
    ``CAMResult.cam``).  It is ReLU'd, upsampled bilinearly to the region's shape and summed:
    mass = sum(heat inside) / sum(heat).  ``region``: a boolean mask (H, W), or a box
    (r0, c0, r1, c1) end-exclusive on a 28×28 frame.  A map with no positive heat gives 0.
    Returns a float for one map, an array for a batch.
    """
    if isinstance(region, tuple) and len(region) == 4:
        r0, c0, r1, c1 = (int(v) for v in region)
        mask = np.zeros((28, 28), dtype=bool)
        mask[r0:r1, c0:c1] = True
    else:
        mask = np.asarray(region, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"region must be a 2-D mask or a (r0, c0, r1, c1) box, got shape {mask.shape}.")
    c = torch.as_tensor(cam, dtype=torch.float32)
    if c.dim() not in (2, 3):
        raise ValueError(f"cam must be (h, w) or (N, h, w), got shape {tuple(c.shape)}.")
    single = c.dim() == 2
    c = c[None] if single else c
    frac = cue_mass_batch(c, np.broadcast_to(mask, (c.shape[0],) + mask.shape))
    return float(frac[0]) if single else frac


# ------------------------------------------------------------------------------- models

def load_shortcut() -> torch.nn.Module:
    """The LeNet trained with the planted cue (shared through the model registry; never modify it)."""
    from gradcam_core.models.registry import lenet_model

    return lenet_model("lenet_shortcut")


def load_clean() -> torch.nn.Module:
    """The clean LeNet of the MNIST tab (shared through the model registry; never modify it)."""
    from gradcam_core.models.registry import lenet_model

    return lenet_model("lenet")


def _probs(model, images: np.ndarray, batch: int = 1000) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(np.ascontiguousarray(images[i:i + batch], dtype=np.float32)).unsqueeze(1)
            out.append(torch.softmax(model(x), 1).numpy())
    return np.concatenate(out)


def held_out_sets(images_u8: np.ndarray | None = None, labels: np.ndarray | None = None) -> dict:
    """The three held-out conditions as float images in [0, 1]: no cue, matching, misleading."""
    from gradcam_core.data.mnist import test_digits

    if images_u8 is None:
        images_u8, labels = test_digits()
    x = images_u8.astype(np.float32) / 255.0
    wrong = misleading_classes(labels)
    return {
        "labels": np.asarray(labels),
        "misleading_class": wrong,
        "clean": x,
        "matching": add_cue(x, labels),
        "misleading": add_cue(x, wrong),
    }


def evaluate_models(models: dict[str, torch.nn.Module], sets: dict | None = None,
                    mass_digits: int = 300) -> dict:
    """Accuracy of each model in each condition, how often it follows a misleading cue, and the
    mean share of its Grad-CAM heat on the cue (predicted class, first ``mass_digits`` digits)."""
    from gradcam_core.cam.engine import GradCAM

    sets = sets or held_out_sets()
    y, wrong = sets["labels"], sets["misleading_class"]
    out = {}
    for name, model in models.items():
        row = {}
        for cond in ("clean", "matching", "misleading"):
            pred = _probs(model, sets[cond]).argmax(1)
            row[cond] = float((pred == y).mean())
            if cond == "misleading":
                row["follows_cue"] = float((pred == wrong).mean())
        n = min(mass_digits, len(y))
        masks = {"matching": float("nan"), "misleading": float("nan")}
        for cond, cls in (("matching", y[:n]), ("misleading", wrong[:n])) if n else ():
            x = torch.from_numpy(sets[cond][:n]).unsqueeze(1)
            res = GradCAM(model, LAYER)(x)  # the predicted class
            regions = np.stack([cue_region(int(c)) for c in cls])
            up = cue_mass_batch(res.cam, regions)
            masks[cond] = float(np.mean(up))
        row["cue_mass_matching"] = masks["matching"]
        row["cue_mass_misleading"] = masks["misleading"]
        row["mass_digits"] = n
        out[name] = row
    out["n_digits"] = int(len(y))
    return out


def cue_mass_batch(cams, regions: np.ndarray) -> np.ndarray:
    """:func:`cue_mass` for N maps (N, h, w) with one mask each (N, H, W), at once."""
    from gradcam_core.cam.postprocess import upsample

    regions = torch.from_numpy(np.array(regions, dtype=bool))  # a writable copy
    if regions.dim() != 3:
        raise ValueError(f"regions must be (N, H, W) masks, got shape {tuple(regions.shape)}.")
    c = torch.relu(torch.as_tensor(cams, dtype=torch.float32))
    heat = torch.relu(upsample(c, tuple(regions.shape[1:])))
    total = heat.flatten(1).sum(1)
    inside = (heat * regions).flatten(1).sum(1)
    return torch.where(total > 0, inside / total.clamp_min(1e-20), torch.zeros_like(total)).numpy()


@functools.lru_cache(maxsize=1)
def shortcut_table() -> dict:
    """Both models on the 1000 held-out digits (computed live on first call, then cached).

    Returns {"clean": row, "shortcut": row, "n_digits": 1000}; each row has accuracies
    "clean" (no cue), "matching", "misleading", "follows_cue" (share predicting the misleading
    cue's class) and the mean heat share on the cue region ("cue_mass_matching",
    "cue_mass_misleading", over the first "mass_digits" held-out digits).
    """
    return evaluate_models({"clean": load_clean(), "shortcut": load_shortcut()})


def mnist_case(model, digit: np.ndarray, cls=None):
    """Grad-CAM (predicted class) of ``model`` on one (28, 28) digit in [0, 1]: the CAMResult."""
    from gradcam_core.cam.engine import GradCAM

    x = torch.from_numpy(np.ascontiguousarray(digit, dtype=np.float32)).reshape(1, 1, 28, 28)
    return GradCAM(model, LAYER)(x, target=cls)


# =============================================================================== photos

PHOTO_MODEL = "efficientnet_lite0"
SIZE = 224  # Lite0's input side; every photo below is first cut to what the model sees
PLAIN_GREY = 128


@dataclass(frozen=True)
class Photo:
    key: str
    file: str  # relative to examples/
    title: str  # "the cat", used in sentences
    # the object, in the model's 224×224 view (for the context swap and the removal):
    # ("ellipse", cx, cy, rx, ry) or ("box", x0, y0, x1, y1) set by hand, or ("threshold",) =
    # saturated, bright pixels (largest blob, holes filled); () = no outline (text only)
    outline: tuple = ()


PHOTOS: dict[str, Photo] = {p.key: p for p in [
    Photo("cat", "animals/chelsea_cat.jpg", "the cat", ("ellipse", 112, 120, 106, 104)),
    Photo("coffee", "food/coffee_cup.jpg", "the cup and saucer", ("ellipse", 110, 116, 108, 106)),
    Photo("dahlia", "plants/dahlia.jpg", "the dahlia", ("threshold",)),
    Photo("rocket", "objects_vehicles/rocket_launch.jpg", "the rocket", ("box", 101, 28, 124, 216)),
    Photo("motorcycle", "objects_vehicles/motorcycle.jpg", "the motorcycle"),
]}

BACKGROUNDS: dict[str, str | None] = {
    "grass": "textures/grass.jpg",
    "gravel": "textures/gravel.jpg",
    "brick": "textures/brick_wall.jpg",
    "plain grey": None,
}

DEFAULT_TEXT = "© STOCK PHOTO"
TEXT_STYLES = ("watermark", "caption")
MAX_TEXT = 24
FEATHER = 6.0  # px, softness of the cut-out's edge
PASTE_SCALE = 0.75  # the cut-out object is shrunk so the new background shows around it


def examples_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "examples"


def _photo_spec():
    from gradcam_core.models.registry import get_model

    return get_model(PHOTO_MODEL)


def photo_model_availability() -> tuple[bool, str]:
    """(available, status or reason) of EfficientNet-Lite0; cheap, loads nothing."""
    return _photo_spec().availability()


@functools.lru_cache(maxsize=16)
def model_view(file: str) -> np.ndarray:
    """The 224×224 RGB crop EfficientNet-Lite0 sees of ``examples/<file>`` (uint8, read-only)."""
    from gradcam_core.data.images import load_image

    path = examples_dir() / file
    if not path.is_file():
        raise FileNotFoundError(f"Example photo {file} is missing; rebuild examples/ with "
                                "python tools/make_examples.py")
    arr = np.asarray(_photo_spec().display_image(load_image(str(path))), dtype=np.uint8).copy()
    arr.setflags(write=False)
    return arr


def _feather(mask: np.ndarray, px: float = FEATHER) -> np.ndarray:
    from scipy import ndimage

    return np.clip(ndimage.gaussian_filter(mask.astype(np.float32), px / 2.0), 0.0, 1.0)


@functools.lru_cache(maxsize=16)
def object_mask(key: str) -> np.ndarray:
    """Boolean (224, 224) mask of the photo's object, in the model's view (read-only)."""
    from scipy import ndimage

    p = PHOTOS[key]
    if not p.outline:
        raise ValueError(f"No object outline is defined for {p.title}.")
    kind = p.outline[0]
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    if kind == "ellipse":
        _, cx, cy, rx, ry = p.outline
        mask = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
    elif kind == "box":
        _, x0, y0, x1, y1 = p.outline
        mask = (xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)
    elif kind == "threshold":
        rgb = model_view(p.file).astype(np.float32) / 255.0
        mx, mn = rgb.max(2), rgb.min(2)
        sat = (mx - mn) / np.maximum(mx, 1e-6)
        raw = (mx > 0.55) & (sat > 0.25)
        raw = ndimage.binary_opening(raw, iterations=2)
        lab, n = ndimage.label(raw)
        if n == 0:
            raise ValueError(f"No object found in {p.file}.")
        sizes = ndimage.sum_labels(raw, lab, index=np.arange(1, n + 1))
        mask = ndimage.binary_fill_holes(lab == 1 + int(np.argmax(sizes)))
        mask = ndimage.binary_closing(mask, iterations=3)
    else:  # pragma: no cover - the table above is fixed
        raise ValueError(f"unknown outline {p.outline!r}")
    mask = np.asarray(mask, dtype=bool)
    mask.setflags(write=False)
    return mask


@functools.lru_cache(maxsize=8)
def background_view(name: str) -> np.ndarray:
    if name not in BACKGROUNDS:
        raise ValueError(f"Unknown background {name!r}; choose from {', '.join(BACKGROUNDS)}.")
    file = BACKGROUNDS[name]
    if file is None:
        arr = np.full((SIZE, SIZE, 3), PLAIN_GREY, np.uint8)
    else:
        arr = model_view(file).copy()
    arr.setflags(write=False)
    return arr


def _shrink(a: np.ndarray, scale: float) -> np.ndarray:
    """Scale an image (H, W, C) float about its centre into an array of the same size, zero-padded."""
    from PIL import Image

    n = max(1, int(round(SIZE * scale)))
    chans = [np.asarray(Image.fromarray(np.ascontiguousarray(a[..., k], dtype=np.float32), mode="F")
                        .resize((n, n), Image.Resampling.BILINEAR)) for k in range(a.shape[2])]
    small = np.stack(chans, axis=2)
    out = np.zeros_like(a, dtype=np.float32)
    o = (SIZE - n) // 2
    out[o:o + n, o:o + n] = small
    return out


def context_swap(key: str, background: str, scale: float = PASTE_SCALE) -> tuple[np.ndarray, np.ndarray]:
    """The object cut out (feathered mask), shrunk to ``scale`` and pasted in the centre of
    ``background``.  Returns (uint8 image, boolean mask of the *new background* = where the
    pasted object's alpha is below 0.5)."""
    img = model_view(PHOTOS[key].file).astype(np.float32)
    alpha = _feather(object_mask(key))
    rgba = _shrink(np.concatenate([img * alpha[..., None], alpha[..., None]], axis=2), scale)
    a = rgba[..., 3:4]
    bg = background_view(background).astype(np.float32)
    out = rgba[..., :3] + (1.0 - a) * bg  # premultiplied alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), a[..., 0] < 0.5


def remove_object(key: str, sigma: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """The object's region refilled from its surroundings by normalised convolution (a Gaussian
    blur of the background only, divided by the blurred background mask), blended in with a
    feathered edge.  Returns (uint8 image, boolean mask of the removed region)."""
    from scipy import ndimage

    img = model_view(PHOTOS[key].file).astype(np.float32)
    hole = object_mask(key)
    grown = ndimage.binary_dilation(hole, iterations=3)  # take no object-edge pixels
    keep = (~grown).astype(np.float32)
    fill = np.empty_like(img)
    w = ndimage.gaussian_filter(keep, sigma, mode="nearest")
    for k in range(3):
        fill[..., k] = ndimage.gaussian_filter(img[..., k] * keep, sigma, mode="nearest") / np.maximum(w, 1e-6)
    # holes wider than the kernel: repeat with a larger one where the weight is tiny
    big = w < 1e-3
    if big.any():
        w2 = ndimage.gaussian_filter(keep, sigma * 4, mode="nearest")
        for k in range(3):
            f2 = ndimage.gaussian_filter(img[..., k] * keep, sigma * 4, mode="nearest") / np.maximum(w2, 1e-6)
            fill[..., k] = np.where(big, f2, fill[..., k])
    a = _feather(grown, 3.0)[..., None]
    out = a * fill + (1.0 - a) * img
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), grown


def check_text(text) -> str:
    if text is None:
        raise ValueError("Type a short text to stamp on the photo.")
    s = " ".join(str(text).split())
    if not s:
        raise ValueError("Type a short text to stamp on the photo.")
    if len(s) > MAX_TEXT:
        raise ValueError(f"Keep the text to {MAX_TEXT} characters or fewer (got {len(s)}).")
    if any(not ch.isprintable() for ch in s):
        raise ValueError("The text may only contain printable characters.")
    return s


@functools.lru_cache(maxsize=8)
def _font(size: int):
    import matplotlib
    from PIL import ImageFont

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
    return ImageFont.truetype(str(path), size)


def stamp_text(key: str, text: str = DEFAULT_TEXT, style: str = "watermark") -> tuple[np.ndarray, np.ndarray]:
    """The photo with ``text`` stamped on it (DejaVu Sans Bold from matplotlib).

    ``watermark``: large white letters with a thin dark outline, 60 % opaque, across the middle
    of the lower half; ``caption``: white letters on a black strip along the bottom edge (the
    strip is 40 px high).  Returns (uint8 image, boolean mask of the text's bounding box, or of
    the strip for a caption)."""
    from PIL import Image, ImageDraw

    text = check_text(text)
    if style not in TEXT_STYLES:
        raise ValueError(f"Unknown text style {style!r}; choose {' or '.join(TEXT_STYLES)}.")
    base = Image.fromarray(np.ascontiguousarray(model_view(PHOTOS[key].file)))
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    if style == "caption":
        strip = 40
        draw.rectangle([0, SIZE - strip, SIZE, SIZE], fill=(0, 0, 0, 255))
        size = 22
        while size > 9 and draw.textlength(text, font=_font(size)) > SIZE - 12:
            size -= 1
        draw.text((SIZE / 2, SIZE - strip / 2), text, font=_font(size), fill=(255, 255, 255, 255), anchor="mm")
        mask[SIZE - strip:, :] = True
        out = Image.alpha_composite(base.convert("RGBA"), layer)
    else:
        size = 34
        while size > 10 and draw.textlength(text, font=_font(size)) > SIZE - 16:
            size -= 1
        xy = (SIZE / 2, SIZE * 0.72)
        draw.text(xy, text, font=_font(size), fill=(255, 255, 255, 255), anchor="mm",
                  stroke_width=2, stroke_fill=(40, 40, 40, 255))
        x0, y0, x1, y1 = draw.textbbox(xy, text, font=_font(size), anchor="mm", stroke_width=2)
        mask[max(0, int(y0)):int(np.ceil(y1)), max(0, int(x0)):int(np.ceil(x1))] = True
        a = np.asarray(layer, dtype=np.float32)[..., 3:4] / 255.0 * 0.6
        rgb = np.asarray(layer, dtype=np.float32)[..., :3]
        arr = a * rgb + (1 - a) * np.asarray(base, dtype=np.float32)
        out = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))
    return np.asarray(out.convert("RGB")).copy(), mask


# ------------------------------------------------------------------------------- cards


@dataclass
class Card:
    """One experiment on one photo: original vs altered, both measured."""

    experiment: str  # "context", "removed", "text"
    photo: str
    variant: str  # background name, "" or the text style
    title: str
    region_name: str  # what the region is, in words ("the new background", ...)
    original: np.ndarray  # uint8 (224, 224, 3): what the model sees
    altered: np.ndarray
    region: np.ndarray  # bool (224, 224): the altered region, in the altered image
    region_original: np.ndarray  # bool (224, 224): the region compared with, in the original
    result_original: object  # CAMResult (top-1 class)
    result_altered: object
    categories: list[str] = field(repr=False, default_factory=list)
    text: str = ""
    sentence: str = ""
    region_original_name: str = ""  # what ``region_original`` is, in words

    # numbers, all derived from the two CAMResults
    def top3(self, which: str) -> list[tuple[str, float]]:
        res = self.result_original if which == "original" else self.result_altered
        p = res.probs[0]
        top = torch.topk(p, 3)
        return [(self.categories[int(i)], float(v)) for v, i in zip(top.values, top.indices)]

    def mass(self, which: str) -> float:
        if which == "original":
            return float(cue_mass(self.result_original.cam[0], self.region_original))
        return float(cue_mass(self.result_altered.cam[0], self.region))

    def prob_of_original_top1_after(self) -> float:
        return float(self.result_altered.probs[0, int(self.result_original.probs[0].argmax())])

    def overlay(self, which: str) -> np.ndarray:
        from gradcam_core.present.steps import overlay_image

        res, img = ((self.result_original, self.original) if which == "original"
                    else (self.result_altered, self.altered))
        return overlay_image(res, img)


EXPERIMENTS: dict[str, dict] = {
    "context": {
        "title": "Context swap",
        "photos": ["cat", "coffee", "dahlia"],
        "variants": list(BACKGROUNDS),
        "default": ("coffee", "grass"),
        "about": ("The object is cut out with a soft-edged outline (a hand-set ellipse; for the dahlia "
                  "a colour threshold), shrunk to 75 % and pasted in the middle of another background. "
                  "Heat share = the part of the Grad-CAM map on the new background. The new background covers "
                  "more of the picture than the old one did, so the two are compared per unit of area."),
    },
    "removed": {
        "title": "Object removed: background only",
        "photos": ["rocket", "dahlia", "coffee"],
        "variants": [""],
        "default": ("rocket", ""),
        "about": ("The object's region (hand-set outline, or the dahlia's colour threshold, grown by 3 px) is "
                  "refilled with a blur of the surrounding background, so only the context is left. "
                  "Heat share = the part of the Grad-CAM map where the object was."),
    },
    "text": {
        "title": "Watermark or caption",
        "photos": ["cat", "coffee", "dahlia", "motorcycle", "rocket"],
        "variants": list(TEXT_STYLES),
        "default": ("cat", "caption"),
        "about": ("Text is stamped on the photo: a 60 %-opaque watermark in the lower half, or a caption on a "
                  "black strip at the bottom. Heat share = the part of the Grad-CAM map on the text's box "
                  "(the whole strip for a caption). Type your own text, too."),
    },
}


@functools.lru_cache(maxsize=16)
def _explain_photo_cached(img_bytes: bytes) -> object:
    from gradcam_core.cam.engine import GradCAM

    spec = _photo_spec()
    arr = np.frombuffer(img_bytes, dtype=np.uint8).reshape(SIZE, SIZE, 3)
    x = torch.from_numpy((arr.astype(np.float32) - 127.0) / 128.0).permute(2, 0, 1)[None].contiguous()
    return GradCAM(spec.load(), spec.default_layer)(x)


def explain_photo(img: np.ndarray):
    """Grad-CAM (top-1 class, Lite0's default layer) of a 224×224 uint8 RGB image as the model sees it."""
    from gradcam_core.models.registry import LITE0_MEAN, LITE0_STD

    assert (LITE0_MEAN, LITE0_STD) == (127.0, 128.0)
    a = np.ascontiguousarray(img, dtype=np.uint8)
    if a.shape != (SIZE, SIZE, 3):
        raise ValueError(f"expected a {SIZE}x{SIZE} RGB image, got {a.shape}")
    return _explain_photo_cached(a.tobytes())


def _pct_word(x: float) -> str:
    return f"{100 * x:.0f} %"


#: Two heat-per-area values within this relative difference read "about the same" (stated in the
#: sentence).
PER_AREA_TOLERANCE = 0.10


def heat_per_area(share: float, area: float) -> float:
    """Heat share ÷ area share: 1 = the region gets exactly the heat an even spread would give
    it, above 1 = more than its size, below 1 = less.  0 for an empty region."""
    return float(share) / float(area) if area > 0 else 0.0


def compare_per_area(new: float, old: float, tol: float = PER_AREA_TOLERANCE) -> str:
    """"more", "less" or "same": heat per area ``new`` vs ``old`` (relative difference up to
    ``tol`` = "same"; two zeros are the same)."""
    new, old = float(new), float(old)
    if old <= 0:
        return "same" if new <= 0 else "more"
    r = round(new / old - 1.0, 9)
    if abs(r) <= tol:
        return "same"
    return "more" if r > 0 else "less"


def card_numbers(card: Card) -> dict:
    """The card's measured numbers (what the sentence is built from), JSON-friendly.

    ``region_area`` / ``region_area_original``: the measured region's share of the picture in
    the altered / original image; ``heat_share_*``: the share of the Grad-CAM heat on it."""
    t0, t1 = card.top3("original"), card.top3("altered")
    return {
        "experiment": card.experiment,
        "photo": card.photo,
        "variant": card.variant,
        "original_top3": [[n, round(p, 4)] for n, p in t0],
        "altered_top3": [[n, round(p, 4)] for n, p in t1],
        "original_class_prob_after": round(card.prob_of_original_top1_after(), 4),
        "region": card.region_name,
        "region_original": card.region_original_name,
        "region_area": round(float(card.region.mean()), 4),
        "region_area_original": round(float(card.region_original.mean()), 4),
        "heat_share_original": round(card.mass("original"), 4),
        "heat_share_altered": round(card.mass("altered"), 4),
    }


def card_sentence(numbers: dict) -> str:
    """What to notice, built only from ``numbers`` (see :func:`card_numbers`).

    Every heat share is given with its region's share of the picture, and the comparison
    between the two pictures is made per unit of area (heat share ÷ area share), because the
    regions can differ in size (a new background is larger than the old one)."""
    (n0, p0), (n1, p1) = numbers["original_top3"][0], numbers["altered_top3"][0]
    after = numbers["original_class_prob_after"]
    if n0 == n1:
        pred = f"The prediction stayed {n0} ({p0:.2f} → {p1:.2f})"
    else:
        pred = f"The prediction changed from {n0} ({p0:.2f}) to {n1} ({p1:.2f}; {n0} now {after:.2f})"
    h0, h1 = numbers["heat_share_original"], numbers["heat_share_altered"]
    a0, a1 = numbers["region_area_original"], numbers["region_area"]
    d0, d1 = heat_per_area(h0, a0), heat_per_area(h1, a1)
    region = numbers["region"]
    old = numbers.get("region_original") or region
    word = compare_per_area(d1, d0)
    amount = {"more": "more heat", "less": "less heat", "same": "about the same heat"}[word]
    tol = f" (within {_pct_word(PER_AREA_TOLERANCE)})" if word == "same" else ""
    heat = f"{_pct_word(h1)} of the heat {'now ' if numbers['experiment'] == 'removed' else ''}lies on {region}, "
    if numbers["experiment"] == "context":
        heat += (f"which covers {_pct_word(a1)} of the picture; {old} covered {_pct_word(a0)} and held "
                 f"{_pct_word(h0)}. Per unit of area that is {amount} {'as' if word == 'same' else 'than'} before{tol}: "
                 f"{d1:.2f} vs {d0:.2f} "
                 f"(1.00 = heat spread evenly)")
    else:
        before = "with the object there" if numbers["experiment"] == "removed" else "before the change"
        heat = heat[:-2] + (f" ({_pct_word(a1)} of the picture); {before}, the same area held {_pct_word(h0)}: "
                            f"{amount} on the same area{tol}, {d1:.2f} vs {d0:.2f} per unit of area "
                            f"(1.00 = heat spread evenly)")
    return f"{pred}; {heat}."


def make_card(experiment: str, photo: str | None = None, variant: str | None = None,
              text: str = DEFAULT_TEXT) -> Card:
    """Alter one photo, run EfficientNet-Lite0 + Grad-CAM on both images, measure, describe."""
    if experiment not in EXPERIMENTS:
        raise ValueError(f"Unknown experiment {experiment!r}; choose from {', '.join(EXPERIMENTS)}.")
    ex = EXPERIMENTS[experiment]
    photo = ex["default"][0] if photo in (None, "") else photo
    variant = ex["default"][1] if variant is None else variant
    if photo not in ex["photos"]:
        raise ValueError(f"The {ex['title'].lower()} experiment uses these photos: {', '.join(ex['photos'])}; "
                         f"not {photo!r}.")
    if experiment == "context":
        if variant not in BACKGROUNDS:
            raise ValueError(f"Unknown background {variant!r}; choose from {', '.join(BACKGROUNDS)}.")
        altered, region = context_swap(photo, variant)
        title = f"{PHOTOS[photo].title.capitalize()} on {variant}"
        region_name = f"the {variant} background"
        region_original_name = "the original background"
        text = ""
    elif experiment == "removed":
        variant = ""
        altered, region = remove_object(photo)
        title = f"{PHOTOS[photo].title.capitalize()} removed"
        region_name = f"the area {PHOTOS[photo].title} filled"
        region_original_name = f"{PHOTOS[photo].title} (and 3 px around it)"
        text = ""
    else:
        if variant not in TEXT_STYLES:
            raise ValueError(f"Unknown text style {variant!r}; choose {' or '.join(TEXT_STYLES)}.")
        text = check_text(text)
        altered, region = stamp_text(photo, text, variant)
        title = f"{PHOTOS[photo].title.capitalize()} with a {variant}"
        region_name = "the caption strip" if variant == "caption" else "the watermark"
        region_original_name = f"the same area ({'strip' if variant == 'caption' else 'box'})"
    original = np.asarray(model_view(PHOTOS[photo].file))
    # context swap: compare with the original's own background; otherwise the same area
    region_original = ~object_mask(photo) if experiment == "context" else region
    card = Card(experiment, photo, variant, title, region_name, original, altered, region, region_original,
                explain_photo(original), explain_photo(altered), categories=_photo_spec().categories, text=text,
                region_original_name=region_original_name)
    card.sentence = card_sentence(card_numbers(card))
    return card


# =============================================================================== pictures
# Plain arrays (uint8 RGB) composed with render.py; the UI only shows them.

PAD = 6
MNIST_CELL = 120
OUTLINE = (0, 200, 90)


def _rgb(img) -> np.ndarray:
    """uint8 (H, W) or (H, W, 3) -> uint8 (H, W, 3)."""
    a = np.asarray(img)
    if a.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {a.dtype}")
    return np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else np.ascontiguousarray(a[..., :3])


def _outline_mask(img: np.ndarray, mask: np.ndarray, color=OUTLINE) -> np.ndarray:
    """Draw the 1-px boundary of ``mask`` (same size as ``img``) on a copy of ``img``."""
    from scipy import ndimage

    out = np.array(img, copy=True)
    edge = mask & ~ndimage.binary_erosion(mask, border_value=0)
    out[edge] = color
    return out


def _box_outline(img: np.ndarray, box: tuple[int, int, int, int], scale: float, color=OUTLINE) -> np.ndarray:
    """A 2-px rectangle around ``box`` (28×28 coordinates, end-exclusive) on an enlarged digit."""
    out = np.array(img, copy=True)
    H, W = out.shape[:2]
    r0, c0, r1, c1 = (int(round(v * scale)) for v in box)
    r0, c0 = max(0, r0 - 1), max(0, c0 - 1)
    r1, c1 = min(H, r1 + 1), min(W, c1 + 1)
    for t in range(2):
        out[min(H - 1, r0 + t), c0:c1] = color
        out[max(0, r1 - 1 - t), c0:c1] = color
        out[r0:r1, min(W - 1, c0 + t)] = color
        out[r0:r1, max(0, c1 - 1 - t)] = color
    return out


def grid_image(rows: list[list[tuple[np.ndarray, list[str]]]], font_size: int = 11, title: str = "") -> np.ndarray:
    """Cells (image, caption lines) in rows, on white, with ``PAD`` px between them; ``title`` is a
    strip on top (it also keeps the page's image buttons off the captions)."""
    from gradcam_core.present import render

    cells = []
    for row in rows:
        out_row = []
        for img, lines in row:
            im = _rgb(img)
            for line in reversed(lines):
                im = render.caption_image(im, line, font_size=font_size)
            out_row.append(im)
        cells.append(out_row)
    cols = max(len(r) for r in cells)
    cw = max(c.shape[1] for r in cells for c in r)
    heights = [max(c.shape[0] for c in r) for r in cells]
    H = sum(heights) + PAD * (len(cells) + 1)
    W = cols * cw + PAD * (cols + 1)
    canvas = np.full((H, W, 3), 255, np.uint8)
    y = PAD
    for r, row in enumerate(cells):
        for j, c in enumerate(row):
            x = PAD + j * (cw + PAD)
            canvas[y:y + c.shape[0], x:x + c.shape[1]] = c
        y += heights[r] + PAD
    if title:
        room = max(40, W - 44)  # the right end stays blank for the page's fullscreen button
        strip = render.caption_image(np.full((1, room, 3), 255, np.uint8), title, font_size=font_size + 1,
                                     bg=(255, 255, 255))[:-1]
        strip = np.pad(strip, ((0, 8), (0, W - room), (0, 0)), constant_values=255)
        canvas = np.concatenate([strip, canvas])
    return canvas


@dataclass
class DigitView:
    """One digit (with or without a cue) explained by both models."""

    name: str  # "matching cue", ...
    digit: np.ndarray  # (28, 28) float
    cue_class: int | None
    cue_pos: tuple[int, int] | None
    results: dict  # model name -> CAMResult (predicted class)

    def pred(self, model: str) -> tuple[int, float]:
        p = self.results[model].probs[0]
        return int(p.argmax()), float(p.max())

    def mass(self, model: str) -> float | None:
        if self.cue_pos is None:
            return None
        return float(cue_mass(self.results[model].cam[0], cue_region(pos=self.cue_pos)))


def digit_view(name: str, digit: np.ndarray, cue_class: int | None = None, cue_on: bool = True,
               pos: tuple[int, int] | None = None) -> DigitView:
    """Add the cue of ``cue_class`` (or at ``pos``) when ``cue_on`` and explain with both models."""
    if cue_on and (cue_class is not None or pos is not None):
        p = _check_pos(pos) if pos is not None else cue_position(cue_class)
        d = add_cue(digit, pos=p)
    else:
        p, d = None, np.array(digit, dtype=np.float32, copy=True)
    models = {"clean": load_clean(), "shortcut": load_shortcut()}
    return DigitView(name, d, cue_class if p is not None else None, p,
                     {k: mnist_case(m, d) for k, m in models.items()})


def held_out_digit(index) -> tuple[np.ndarray, int, int]:
    """(digit float (28, 28), true label, its misleading cue class) of held-out digit ``index``."""
    from gradcam_core.data.mnist import test_digits

    images, labels = test_digits()
    try:
        i = int(float(index))
    except (TypeError, ValueError):
        raise ValueError(f"The digit index must be a whole number, not {index!r}.") from None
    if not 0 <= i < len(labels):
        raise ValueError(f"There are {len(labels)} held-out digits: choose an index from 0 to {len(labels) - 1}.")
    return images[i].astype(np.float32) / 255.0, int(labels[i]), int(misleading_classes(labels)[i])


def compare_views(index) -> list[DigitView]:
    """Held-out digit ``index`` with the matching cue, a misleading cue and no cue."""
    d, y, wrong = held_out_digit(index)
    return [digit_view(f"matching cue ({y})", d, y), digit_view(f"misleading cue ({wrong})", d, wrong),
            digit_view("no cue", d, None)]


def views_image(views: list[DigitView], cell: int = MNIST_CELL, title: str = "") -> np.ndarray:
    """Rows = views; columns = the digit (cue framed in green), clean LeNet's and shortcut LeNet's
    Grad-CAM of their own prediction (each map scaled by its maximum)."""
    from gradcam_core.present import render
    from gradcam_core.present.steps import overlay_image

    rows = []
    for v in views:
        seen = _rgb(render.enlarge((v.digit * 255 + 0.5).astype(np.uint8), cell))
        if v.cue_pos is not None:
            seen = _box_outline(seen, cue_box(pos=v.cue_pos, margin=0), cell / 28.0)
        row = [(seen, [v.name, "input", ""])]
        for m, who in (("clean", "clean LeNet"), ("shortcut", "shortcut LeNet")):
            c, p = v.pred(m)
            mass = v.mass(m)
            ov = render.enlarge(overlay_image(v.results[m], v.digit), cell)
            row.append((ov, [who, f"says {c} ({_pct_word(p)})",
                             "no cue" if mass is None else f"heat on cue {_pct_word(mass)}"]))
        rows.append(row)
    return grid_image(rows, title=title)


def views_markdown(views: list[DigitView], label: int | None = None) -> str:
    """A small Markdown table of what :func:`views_image` shows, in numbers."""
    head = "| digit | clean LeNet | shortcut LeNet |\n|---|---|---|\n"
    lines = []
    for v in views:
        cells = []
        for m in ("clean", "shortcut"):
            c, p = v.pred(m)
            mass = v.mass(m)
            ok = "" if label is None else (" ✓" if c == label else " ✗")
            cells.append(f"**{c}**{ok} ({_pct_word(p)})" + ("" if mass is None else f", {_pct_word(mass)} of heat on cue"))
        lines.append(f"| {v.name} | {cells[0]} | {cells[1]} |")
    areas = sorted({_pct_word(cue_region(pos=v.cue_pos).mean()) for v in views if v.cue_pos is not None})
    note = ""
    if areas:
        a = areas[0] if len(areas) == 1 else " to ".join((areas[0], areas[-1]))
        note = (f"\n\nThe cue region (the square and {CUE_MARGIN} px around it) covers {a} of the picture: "
                f"a map that spread its heat evenly would put {a} there.")
    return head + "\n".join(lines) + note


def region_labels(card: Card) -> tuple[str, str]:
    """Short names (for image captions) of the region measured in the original and the altered image."""
    if card.experiment == "context":
        return "old background", "new background"
    if card.experiment == "removed":
        return "object", "filled area"
    return ("strip area", "caption strip") if card.variant == "caption" else ("text box area", "watermark box")


def card_image(card: Card) -> np.ndarray:
    """2×2: original | altered, then their Grad-CAM overlays; a white line marks the edge of the
    measured region, and each caption names that region with its heat share and its area."""
    t0, t1 = card.top3("original"), card.top3("altered")
    ov0 = _outline_mask(card.overlay("original"), card.region_original, (255, 255, 255))
    ov1 = _outline_mask(card.overlay("altered"), card.region, (255, 255, 255))
    m0, m1 = card.mass("original"), card.mass("altered")
    a0, a1 = float(card.region_original.mean()), float(card.region.mean())
    r0, r1 = region_labels(card)
    return grid_image([
        [(card.original, ["original", f"{t0[0][0]} ({t0[0][1]:.2f})"]),
         (card.altered, [card.title.lower() if len(card.title) < 30 else "altered", f"{t1[0][0]} ({t1[0][1]:.2f})"])],
        [(ov0, [f"Grad-CAM: {t0[0][0]}", f"heat on {r0}: {_pct_word(m0)}", f"{r0} area: {_pct_word(a0)}"]),
         (ov1, [f"Grad-CAM: {t1[0][0]}", f"heat on {r1}: {_pct_word(m1)}", f"{r1} area: {_pct_word(a1)}"])],
    ], font_size=12, title=card.title)


def card_markdown(card: Card) -> str:
    """Top-3 of both images; the measured region in each, its share of the picture, its share
    of the heat and the heat per area; then the sentence."""
    t0, t1 = card.top3("original"), card.top3("altered")
    n = card_numbers(card)
    rows = "\n".join(f"| {k + 1} | {a[0]} ({a[1]:.2f}) | {b[0]} ({b[1]:.2f}) |" for k, (a, b) in enumerate(zip(t0, t1)))
    d0 = heat_per_area(n["heat_share_original"], n["region_area_original"])
    d1 = heat_per_area(n["heat_share_altered"], n["region_area"])
    rows += (f"\n| measured region | {n['region_original']} | {n['region']} |"
             f"\n| its share of the picture | {_pct_word(n['region_area_original'])} | {_pct_word(n['region_area'])} |"
             f"\n| share of the heat on it | {_pct_word(n['heat_share_original'])} | {_pct_word(n['heat_share_altered'])} |"
             f"\n| heat per area (1.00 = even) | {d0:.2f} | {d1:.2f} |")
    return (f"| | original | {card.title.lower()} |\n|---|---|---|\n{rows}\n\n"
            f"**What to notice:** {card.sentence}")


def table_markdown(table: dict | None = None) -> str:
    """:func:`shortcut_table` as a Markdown table."""
    t = table or shortcut_table()
    c, s = t["clean"], t["shortcut"]
    pct = lambda v: f"{100 * v:.1f} %"  # noqa: E731
    area = float(np.mean([cue_region(k).mean() for k in range(10)]))
    return (
        f"| {t['n_digits']} held-out digits | clean LeNet | shortcut LeNet |\n|---|---|---|\n"
        f"| no cue | {pct(c['clean'])} | {pct(s['clean'])} |\n"
        f"| matching cue | {pct(c['matching'])} | {pct(s['matching'])} |\n"
        f"| misleading cue | {pct(c['misleading'])} | {pct(s['misleading'])} |\n"
        f"| … predicts the cue's class | {pct(c['follows_cue'])} | {pct(s['follows_cue'])} |\n"
        f"| heat on the cue region, matching (first {c['mass_digits']}) | {pct(c['cue_mass_matching'])} "
        f"| {pct(s['cue_mass_matching'])} |\n"
        f"| heat on the cue region, misleading (first {c['mass_digits']}) | {pct(c['cue_mass_misleading'])} "
        f"| {pct(s['cue_mass_misleading'])} |\n"
        f"| the cue region's share of the picture | {pct(area)} | {pct(area)} |"
    )


def lesson_markdown(table: dict | None = None) -> str:
    """The lesson in plain words, with the measured numbers filled in (and the comparisons
    worded from them, so the text stays true whatever the weights do)."""
    t = table or shortcut_table()
    c, s = t["clean"], t["shortcut"]
    pc = lambda v: f"{100 * v:.0f} %"  # noqa: E731
    area = float(np.mean([cue_region(k).mean() for k in range(10)]))
    better = ("even better than the clean network without it" if s["matching"] > c["clean"]
              else "about as good as the clean network" if s["matching"] >= c["clean"] - 0.02
              else "still worse than the clean network")
    ratio = s["cue_mass_matching"] / max(c["cue_mass_matching"], 1e-9)
    return (
        f"**The lesson.** Score both networks on digits that carry the matching square and the shortcut "
        f"network looks perfect: {pc(s['matching'])}, {better} ({pc(c['clean'])}). Move the square to a wrong "
        f"place and the truth comes out: the clean network still reads {pc(c['misleading'])} of the digits, "
        f"the shortcut network {pc(s['misleading'])} — {pc(s['follows_cue'])} of the time it names the class "
        f"the square stands for, whatever digit is drawn. Without any square it reads {pc(s['clean'])}: it "
        f"learned the digits only partly, because the square was the easier and more reliable signal.\n\n"
        f"Grad-CAM gives this away without a special test set. The square and the pixels around it cover "
        f"{pc(area)} of the picture, yet on average they hold {pc(s['cue_mass_matching'])} of the shortcut "
        f"network's heat and {pc(c['cue_mass_matching'])} of the clean network's ({ratio:.0f}× as much). "
        f"A high score on data that shares a shortcut proves nothing; look at *where* the evidence is."
    )
