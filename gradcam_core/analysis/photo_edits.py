"""Real photos altered for the shortcut experiments (EfficientNet-Lite0's 224×224 view of the
shipped example photos): the object cut out and pasted on another background, the object removed
(its region refilled from a blur of the background alone), or a watermark / caption stamped on.
Each edit returns the altered image and the boolean region it changed."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gradcam_core.base.errors import Refusal, one_of
from gradcam_core.base import home


# =============================================================================== photos

PHOTO_MODEL = "efficientnet_lite0"
SIZE = 224  # Lite0's input side; every photo below is first cut to what the model sees
PLAIN_GREY = 128


@dataclass(frozen=True)
class Photo:
    key: str
    file: str  # relative to examples/  (its name in words: the catalogue's analysis.photo.<key>)
    # the object, in the model's 224×224 view (for the context swap and the removal):
    # ("ellipse", cx, cy, rx, ry) or ("box", x0, y0, x1, y1) set by hand, or ("threshold",) =
    # saturated, bright pixels (largest blob, holes filled); () = no outline (text only)
    outline: tuple = ()


PHOTOS: dict[str, Photo] = {p.key: p for p in [
    Photo("cat", "animals/chelsea_cat.jpg", ("ellipse", 112, 120, 106, 104)),
    Photo("coffee", "food/coffee_cup.jpg", ("ellipse", 110, 116, 108, 106)),
    Photo("dahlia", "plants/dahlia.jpg", ("threshold",)),
    Photo("rocket", "objects_vehicles/rocket_launch.jpg", ("box", 101, 28, 124, 216)),
    Photo("motorcycle", "objects_vehicles/motorcycle.jpg"),
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
    return home.path("examples")


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
        raise Refusal("analysis.error.no_outline", photo=key)
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
            raise Refusal("analysis.error.no_object", file=p.file)
        sizes = ndimage.sum_labels(raw, lab, index=np.arange(1, n + 1))
        mask = ndimage.binary_fill_holes(lab == 1 + int(np.argmax(sizes)))
        mask = ndimage.binary_closing(mask, iterations=3)
    else:  # pragma: no cover - the table above is fixed
        raise Refusal("analysis.error.unknown_outline", outline=p.outline)
    mask = np.asarray(mask, dtype=bool)
    mask.setflags(write=False)
    return mask


@functools.lru_cache(maxsize=8)
def background_view(name: str) -> np.ndarray:
    if name not in BACKGROUNDS:
        raise Refusal("analysis.error.unknown_background", variant=name, choices=", ".join(BACKGROUNDS))
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


def check_text(text: object) -> str:
    """``text`` with its white space collapsed; a Refusal when it is empty, too long or not printable."""
    if text is None:
        raise Refusal("analysis.error.text_empty")
    s = " ".join(str(text).split())
    if not s:
        raise Refusal("analysis.error.text_empty")
    if len(s) > MAX_TEXT:
        raise Refusal("analysis.error.text_too_long", max_chars=MAX_TEXT, chars=len(s))
    if any(not ch.isprintable() for ch in s):
        raise Refusal("analysis.error.text_unprintable")
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
        raise Refusal("analysis.error.unknown_text_style", variant=style, choices=one_of(TEXT_STYLES))
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
