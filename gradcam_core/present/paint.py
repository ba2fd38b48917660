"""Colour and overlay: the palette, colour maps as lookup tables, nearest-neighbour enlarging and
the heat-map overlay. Plain numpy + PIL; matplotlib only for its colour maps' lookup tables
(``matplotlib.colormaps[name]``), never a figure.

Conventions of every ``present`` drawing module (``paint``, ``glyphs``, ``ticks``, ``colourbar``,
``grids``, ``barchart``, ``codec``):

* Every image returned is a C-contiguous ``np.uint8`` RGB array of shape ``(H, W, 3)`` unless
  noted otherwise.
* Colour mapping reproduces matplotlib exactly: a value ``x`` with
  ``t = (x - vmin) / (vmax - vmin)`` gets ``cmap(t, bytes=True)[:3]`` (so ``vmin`` -> ``cmap(0.0)``,
  ``vmax`` -> ``cmap(1.0)``, values outside the range are clipped to the end colours).
* NaN pixels get ``nan_color`` (grey). A constant array (or ``vmin == vmax``) maps to the bottom
  colour ``cmap(0.0)`` - never a division by zero. Diverging maps use a symmetric range
  ``[-limit, +limit]`` so that 0 is the colormap's centre colour ``cmap(0.5)``; an all-zero array
  falls back to ``limit = 1``.
* Typical cost (busy 2-core box, median wall time): overlay 224x224 ~2-5 ms; see
  ``bench/bench_render.py``.
* Thread-safety: the colour-map LUT cache is an ``lru_cache``; concurrent calls from Gradio worker
  threads are safe.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence, Union

import matplotlib
import matplotlib.colors
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageColor

from gradcam_core.base.errors import Refusal
from gradcam_core.present.words import say

#: An array or anything numpy turns into one (lists, tensors on the CPU, PIL images).
ArrayLike = npt.ArrayLike
#: A colour: an (r, g, b) sequence in 0..255, or a PIL colour string ("#ff00ff", "red").
Colour = Union[str, Sequence[float]]
#: A colour map: its matplotlib name or a Colormap.
Cmap = Union[str, matplotlib.colors.Colormap]

__all__ = [
    "colorize", "colorize_signed", "enlarge", "overlay",
    "BG", "TEXT", "MUTED", "GRID_LINE", "AXIS", "NAN_COLOR", "POS_COLOR", "NEG_COLOR",
]

# --------------------------------------------------------------------------
# Palette
# --------------------------------------------------------------------------
BG = (255, 255, 255)
TEXT = (33, 33, 33)
MUTED = (105, 105, 105)
GRID_LINE = (226, 226, 226)
AXIS = (60, 60, 60)
NAN_COLOR = (160, 160, 160)
#: Bar colours matching the RdBu_r convention (positive = red, negative = blue).
POS_COLOR = (202, 0, 32)
NEG_COLOR = (5, 113, 176)



def _rgb(color) -> tuple[int, int, int]:
    """(r, g, b) from a tuple/list/array or a PIL colour string ('#ff00ff', 'red')."""
    if isinstance(color, str):
        c = ImageColor.getrgb(color)
    else:
        c = tuple(int(round(float(x))) for x in color)
    if len(c) < 3:
        raise ValueError(f"not an RGB colour: {color!r}")
    return (int(c[0]), int(c[1]), int(c[2]))


# --------------------------------------------------------------------------
# Colormaps
# --------------------------------------------------------------------------
def _lut_from_cmap(cm: matplotlib.colors.Colormap) -> np.ndarray:
    lut = np.asarray(cm(np.arange(cm.N), bytes=True))[:, :3]
    lut = np.ascontiguousarray(lut, dtype=np.uint8)
    lut.flags.writeable = False
    return lut


@lru_cache(maxsize=64)
def _lut_by_name(name: str) -> np.ndarray:
    return _lut_from_cmap(matplotlib.colormaps[name])


def _get_lut(cmap) -> np.ndarray:
    """uint8 (N, 3) lookup table; identical to ``cmap(i, bytes=True)[:3]``."""
    if isinstance(cmap, str):
        return _lut_by_name(cmap)
    if isinstance(cmap, matplotlib.colors.Colormap):
        return _lut_from_cmap(cmap)
    raise TypeError(say("render.bad.cmap", kind=type(cmap)))


def _finite_range(a: np.ndarray) -> tuple[float, float]:
    """(min, max) over finite values; (0, 1) when there are none."""
    if a.size == 0:
        return 0.0, 1.0
    fin = np.isfinite(a)
    if fin.all():
        return float(a.min()), float(a.max())
    if not fin.any():
        return 0.0, 1.0
    v = a[fin]
    return float(v.min()), float(v.max())


def _finite_absmax(a: np.ndarray) -> float:
    lo, hi = _finite_range(a)
    if a.size == 0 or not np.isfinite(a).any():
        return 0.0
    return max(abs(lo), abs(hi))


def _resolve_range(a, vmin, vmax, signed=False) -> tuple[float, float]:
    """The (lo, hi) actually used for colour mapping."""
    if signed:
        if vmin is None and vmax is None:
            lim = _finite_absmax(a)
        else:
            lim = max(abs(float(v)) for v in (vmin, vmax) if v is not None)
        if not (np.isfinite(lim) and lim > 0):
            lim = 1.0
        return -lim, lim
    if vmin is None or vmax is None:
        lo, hi = _finite_range(a)
        vmin = lo if vmin is None else vmin
        vmax = hi if vmax is None else vmax
    return float(vmin), float(vmax)


def _lut_index(a: np.ndarray, vmin: float, vmax: float, n: int) -> np.ndarray:
    """Same arithmetic as ``Normalize`` followed by ``Colormap.__call__``."""
    span = vmax - vmin
    if not (span > 0 and np.isfinite(span)):
        return np.zeros(a.shape, dtype=np.intp)
    t = (a - vmin) / span
    t *= n
    np.clip(t, 0, n - 1, out=t)
    return t.astype(np.intp)  # t >= 0, so truncation == floor


def colorize(arr2d: ArrayLike, cmap: Cmap = "jet", vmin: float | None = None, vmax: float | None = None,
             nan_color: Colour = NAN_COLOR) -> np.ndarray:
    """Map an array through a matplotlib colormap -> uint8 RGB ``arr.shape + (3,)``.

    ``vmin``/``vmax`` default to the min/max of the finite values.  ``vmin`` ->
    ``cmap(0.0)``, ``vmax`` -> ``cmap(1.0)`` exactly; outside values are clipped.
    NaN -> ``nan_color``; +/-inf -> top/bottom colour; constant input -> ``cmap(0.0)``.
    Any number of dimensions is accepted (a (K, h, w) stack gives (K, h, w, 3)).
    """
    a = np.asarray(arr2d, dtype=np.float64)
    lut = _get_lut(cmap)
    lo, hi = _resolve_range(a, vmin, vmax)
    nan = np.isnan(a)
    has_nan = bool(nan.any())
    if has_nan:
        a = np.where(nan, 0.0, a)
    out = lut.take(_lut_index(a, lo, hi, lut.shape[0]), axis=0)  # faster than lut[idx]
    if has_nan:
        out[nan] = _rgb(nan_color)
    return out


def colorize_signed(arr2d: ArrayLike, cmap: Cmap = "RdBu_r", limit: float | None = None,
                    nan_color: Colour = NAN_COLOR) -> np.ndarray:
    """Diverging colour mapping symmetric about zero.

    The range is ``[-limit, +limit]`` with ``limit`` defaulting to ``max |arr|``
    (finite values).  0 -> ``cmap(0.5)`` (the neutral centre colour),
    ``+limit`` -> ``cmap(1.0)``, ``-limit`` -> ``cmap(0.0)``.  A zero limit
    (all-zero input) falls back to 1 so everything is neutral.
    """
    a = np.asarray(arr2d, dtype=np.float64)
    lo, hi = _resolve_range(a, None if limit is None else -abs(float(limit)), limit, signed=True)
    return colorize(a, cmap, lo, hi, nan_color=nan_color)


# --------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------
def _target_size(w: int, h: int, size) -> tuple[int, int]:
    """(W, H) from an int (longer side) or a (w, h) pair."""
    if isinstance(size, (int, np.integer)):
        s = int(size)
        if s < 1:
            raise ValueError("size must be >= 1")
        if w >= h:
            return s, max(1, int(round(h * s / w)))
        return max(1, int(round(w * s / h))), s
    W, H = size
    W, H = int(W), int(H)
    if W < 1 or H < 1:
        raise ValueError("size must be >= 1")
    return W, H


def _nn_index(n_src: int, n_dst: int) -> np.ndarray:
    """Nearest-neighbour source index of each destination pixel (pixel-centre rule,
    exact integer arithmetic: an integer zoom gives equal blocks)."""
    return ((2 * np.arange(n_dst, dtype=np.int64) + 1) * n_src) // (2 * n_dst)


def _nn_counts(n_src: int, n_dst: int) -> np.ndarray:
    """How many destination pixels each source pixel covers (for ``np.repeat``,
    which is much faster than fancy indexing and gives contiguous output)."""
    return np.bincount(_nn_index(n_src, n_dst), minlength=n_src)


def _nn_resize(a: np.ndarray, H: int, W: int, axes=(0, 1)) -> np.ndarray:
    """Nearest-neighbour resize of axes ``axes`` (rows, cols) to (H, W)."""
    ay, ax = axes
    out = np.repeat(a, _nn_counts(a.shape[ax], W), axis=ax)
    return np.repeat(out, _nn_counts(a.shape[ay], H), axis=ay)


def enlarge(img: ArrayLike, size: int | tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize (for tiny maps, e.g. 8x8 -> 160x160) so every
    source pixel stays an honest constant block.

    ``img``: (h, w) or (h, w, C) array of any dtype (dtype and channels are
    kept).  ``size``: int = length of the longer side (aspect preserved), or
    ``(W, H)``.
    """
    a = np.asarray(img)
    if a.ndim not in (2, 3):
        raise Refusal("render.bad.enlarge", shape=a.shape)
    h, w = a.shape[:2]
    W, H = _target_size(w, h, size)
    if (W, H) == (w, h):
        return a.copy()
    return _nn_resize(a, H, W)


def _as_rgb_u8(img) -> np.ndarray:
    """Coerce an image to contiguous uint8 (H, W, 3).

    Accepts PIL images, (H, W), (H, W, 1), (H, W, 3), (H, W, 4) arrays.  Float /
    bool input: values in [0, 1] are scaled by 255, values in [0, 255] kept,
    anything else (e.g. a normalised tensor) is min-max stretched to 0..255.
    """
    if isinstance(img, Image.Image):
        return np.array(img.convert("RGB"))
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.dtype != np.uint8:
        f = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = (float(f.min()), float(f.max())) if f.size else (0.0, 1.0)
        if lo >= 0 and hi <= 1.0:
            f = f * 255.0
        elif lo >= 0 and hi <= 255.0:
            pass
        else:
            f = (f - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(f)
        a = np.clip(f + 0.5, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    elif not (a.ndim == 3 and a.shape[2] == 3):
        raise ValueError(f"expected an image (H,W), (H,W,1), (H,W,3) or (H,W,4); got {a.shape}")
    return np.ascontiguousarray(a)


def overlay(image_rgb: ArrayLike | Image.Image, heat: ArrayLike, alpha: float = 0.5, cmap: Cmap = "jet") -> np.ndarray:
    """Alpha-blend a colour-mapped heat map over an image.

    ``image_rgb``: uint8 (H, W, 3); a grayscale (H, W) / (H, W, 1) image (e.g. an
    MNIST digit) or a float image is converted (see :func:`_as_rgb_u8`).
    ``heat``: float (h, w) in [0, 1] (clipped; NaN -> 0), resized *bilinearly*
    to (H, W) when the shapes differ, then mapped with ``cmap`` on the fixed
    range [0, 1].  Result = ``(1 - alpha) * image + alpha * colours`` (8-bit
    fixed point, within 1 level of exact);
    ``alpha=0`` returns the image, ``alpha=1`` the colour map.
    """
    img = _as_rgb_u8(image_rgb)
    H, W = img.shape[:2]
    h = np.asarray(heat, dtype=np.float32)
    if h.ndim == 3 and h.shape[2] == 1:
        h = h[..., 0]
    if h.ndim != 2:
        raise Refusal("render.bad.heat", shape=h.shape)
    h = np.nan_to_num(h, nan=0.0, posinf=1.0, neginf=0.0)
    if h.shape != (H, W):
        h = np.asarray(Image.fromarray(np.ascontiguousarray(h)).resize((W, H), Image.BILINEAR))
    col = colorize(h, cmap, 0.0, 1.0)
    alpha = float(np.clip(alpha, 0.0, 1.0))
    if alpha == 0.0:
        return img.copy()
    if alpha == 1.0:
        return col
    a8 = int(round(alpha * 256))  # 8-bit fixed point blend (error <= 1 level)
    out = img.astype(np.uint16) * (256 - a8)
    out += col.astype(np.uint16) * a8
    out += 128
    out >>= 8
    return out.astype(np.uint8)

