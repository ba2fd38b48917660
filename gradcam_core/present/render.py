"""Fast rendering of arrays to images for the Grad-CAM Explorer UI.

Everything here is plain numpy + PIL.  Matplotlib is used only for its
colormap *lookup tables* (``matplotlib.colormaps[name]``); no figure is ever
created (a figure per step costs ~0.5 s, these functions cost milliseconds).
No gradio import.

Conventions
-----------
* Every image returned is a C-contiguous ``np.uint8`` RGB array of shape
  ``(H, W, 3)`` unless noted otherwise.
* Colour mapping reproduces matplotlib exactly: a value ``x`` with
  ``t = (x - vmin) / (vmax - vmin)`` gets ``cmap(t, bytes=True)[:3]`` (so
  ``vmin`` -> ``cmap(0.0)``, ``vmax`` -> ``cmap(1.0)``, values outside the range
  are clipped to the end colours).
* NaN pixels get ``nan_color`` (grey).  A constant array (or
  ``vmin == vmax``) maps to the bottom colour ``cmap(0.0)`` - never a division
  by zero.  Diverging maps use a symmetric range ``[-limit, +limit]`` so that 0
  is the colormap's centre colour ``cmap(0.5)``; an all-zero array falls back
  to ``limit = 1``.
* Text uses the DejaVu Sans TrueType font that ships inside matplotlib
  (PIL's built-in default font has no Greek letters, so "α" would render as a
  box); if that file cannot be loaded, ``ImageFont.load_default(size=...)`` is
  used (or ``load_default()`` on old Pillow) and non-ASCII characters such as
  "α" are transliterated.  Glyphs are rasterised once per size by PIL and
  cached; strings are composed from them and alpha-blended with numpy
  (``ImageDraw.text`` costs ~0.3-0.5 ms per string, too slow for 64 titles).
* Typical cost (busy 2-core box, median wall time): map_grid of 16 8x8 maps
  with titles ~1.5 ms, of 64 7x7 maps with titles ~4-8 ms; bar_chart 1-8 ms;
  overlay 224x224 ~2-5 ms; one matplotlib figure ~130 ms.  See
  ``bench/bench_render.py``.
* Thread-safety: caches (colormap LUTs, glyphs, string masks) are plain dicts /
  lru_caches; concurrent calls from Gradio worker threads are safe (worst
  case a glyph is rasterised twice).

Public functions: :func:`colorize`, :func:`colorize_signed`, :func:`enlarge`,
:func:`overlay`, :func:`colorbar`, :func:`with_colorbar`, :func:`map_grid`,
:func:`bar_chart`, :func:`number_grid`, :func:`caption_image`,
:func:`to_pil`, :func:`png_bytes`, :func:`format_number`.
"""

from __future__ import annotations

import base64
import io
import math
import os
from functools import lru_cache
from typing import Callable, Mapping, NamedTuple, Sequence

import matplotlib
import matplotlib.colors
import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont

__all__ = [
    "colorize",
    "colorize_signed",
    "enlarge",
    "overlay",
    "colorbar",
    "with_colorbar",
    "map_grid",
    "bar_chart",
    "number_grid",
    "caption_image",
    "to_pil",
    "png_bytes",
    "format_number",
    "NAN_COLOR",
    "POS_COLOR",
    "NEG_COLOR",
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
    raise TypeError(f"cmap must be a colormap name or a matplotlib Colormap, got {type(cmap)}")


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


def colorize(arr2d, cmap="jet", vmin=None, vmax=None, nan_color=NAN_COLOR) -> np.ndarray:
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


def colorize_signed(arr2d, cmap="RdBu_r", limit=None, nan_color=NAN_COLOR) -> np.ndarray:
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


def enlarge(img, size) -> np.ndarray:
    """Nearest-neighbour resize (for tiny maps, e.g. 8x8 -> 160x160) so every
    source pixel stays an honest constant block.

    ``img``: (h, w) or (h, w, C) array of any dtype (dtype and channels are
    kept).  ``size``: int = length of the longer side (aspect preserved), or
    ``(W, H)``.
    """
    a = np.asarray(img)
    if a.ndim not in (2, 3):
        raise ValueError(f"enlarge expects (h, w) or (h, w, C), got {a.shape}")
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


def overlay(image_rgb, heat, alpha=0.5, cmap="jet") -> np.ndarray:
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
        raise ValueError(f"heat must be 2-D, got {h.shape}")
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


# --------------------------------------------------------------------------
# Text: a cached glyph atlas drawn straight into numpy canvases.
# (ImageDraw.text costs ~0.3-0.5 ms per string; 64 titles would blow the
# 40 ms budget of map_grid.  Glyphs are rasterised once per size with PIL and
# strings are composed from them - no kerning, which is invisible at 9-12 px.)
# --------------------------------------------------------------------------
_ASCII_FALLBACK = str.maketrans({
    "α": "a", "β": "b", "γ": "g", "δ": "d", "Σ": "S", "σ": "s", "μ": "u",
    "−": "-", "×": "x", "…": "...", "·": ".", "≈": "~", "∂": "d",
})


@lru_cache(maxsize=32)
def _font_and_unicode(size: int):
    """(PIL font, has-unicode) for a pixel size: matplotlib's DejaVu Sans, else
    PIL's default font (``load_default(size=...)`` when supported)."""
    size = max(6, int(size))
    try:
        path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
        return ImageFont.truetype(path, size), True
    except Exception:
        pass
    try:
        return ImageFont.load_default(size=size), False
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default(), False


class _Text:
    """Glyph atlas for one font size: measure and draw strings on uint8 arrays."""

    _MAX_STRINGS = 4096

    def __init__(self, size: int):
        self.size = int(size)
        self.font, self.unicode = _font_and_unicode(self.size)
        try:
            asc, desc = self.font.getmetrics()
        except Exception:
            l, t, r, b = self.font.getbbox("Ag")
            asc, desc = b, 1
        self.asc = int(asc)
        self.h = int(asc + desc)
        self._glyphs: dict[str, tuple[np.ndarray, int, float]] = {}
        self._strings: dict[str, tuple[np.ndarray, int, float]] = {}

    def clean(self, text) -> str:
        text = str(text).replace("\n", " ")
        return text if self.unicode else text.translate(_ASCII_FALLBACK)

    def _glyph(self, ch: str):
        g = self._glyphs.get(ch)
        if g is None:
            adv = float(self.font.getlength(ch))
            l, t, r, b = self.font.getbbox(ch)
            left = min(0, int(math.floor(l))) - 1
            right = max(int(math.ceil(r)), int(math.ceil(adv))) + 1
            im = Image.new("L", (max(1, right - left), self.h), 0)
            ImageDraw.Draw(im).text((-left, 0), ch, font=self.font, fill=255)
            g = (np.asarray(im), left, adv)
            self._glyphs[ch] = g
        return g

    def width(self, text: str) -> float:
        """Advance width in px of an already-cleaned string."""
        hit = self._strings.get(text)
        if hit is not None:
            return hit[2]
        return sum(self._glyph(c)[2] for c in text)

    def mask(self, text: str):
        """(alpha mask (h, w) uint8, x of the pen origin inside the mask, advance)."""
        hit = self._strings.get(text)
        if hit is not None:
            return hit
        pen, parts = 0.0, []
        for c in text:
            m, left, adv = self._glyph(c)
            parts.append((int(round(pen)) + left, m))
            pen += adv
        if not parts:
            out = (np.zeros((self.h, 1), np.uint8), 0, 0.0)
        else:
            x_min = min(x for x, _ in parts)
            x_max = max(x + m.shape[1] for x, m in parts)
            mk = np.zeros((self.h, x_max - x_min), np.uint8)
            for x, m in parts:
                sl = mk[:, x - x_min:x - x_min + m.shape[1]]
                np.maximum(sl, m, out=sl)
            out = (mk, -x_min, pen)
        if len(self._strings) >= self._MAX_STRINGS:
            self._strings.clear()
        self._strings[text] = out
        return out

    def _origin(self, xy, anchor, ox, adv):
        x, y = xy
        px = x - {"l": 0.0, "m": adv / 2, "r": adv}[anchor[0]]
        top = y - {"a": 0.0, "m": self.h / 2, "d": self.h, "s": self.asc}[anchor[1]]
        return int(round(px)) - ox, int(round(top))

    def draw(self, canvas: np.ndarray, xy, text: str, fill, anchor="la", rotate=False):
        """Alpha-blend ``text`` (cleaned) onto ``canvas`` (uint8 (H, W, 3), in place).

        anchor: horizontal l/m/r + vertical a (top of line) / m (middle of line)
        / d (bottom of line) / s (baseline), like PIL's anchors.  ``rotate``
        turns the text 90 degrees counter-clockwise (then xy is the top-left).
        """
        if not text:
            return
        mk, ox, adv = self.mask(text)
        if rotate:
            _blit(canvas, np.rot90(mk), int(round(xy[0])), int(round(xy[1])), _rgb(fill))
            return
        x, y = self._origin(xy, anchor, ox, adv)
        _blit(canvas, mk, x, y, _rgb(fill))

    def draw_many(self, canvas: np.ndarray, items, fill):
        """Draw many (xy, text, anchor) items in one colour: items on the same
        text line are merged into one mask and blended at once."""
        H, W = canvas.shape[:2]
        placed = []
        for xy, text, anchor in items:
            if text:
                mk, ox, adv = self.mask(text)
                x, y = self._origin(xy, anchor, ox, adv)
                placed.append((y, x, mk))
        placed.sort(key=lambda p: (p[0], p[1]))
        band: list = []

        def flush():
            if not band:
                return
            by0 = min(y for y, _, _ in band)
            by1 = max(y + m.shape[0] for y, _, m in band)
            bx0 = max(0, min(x for _, x, _ in band))
            bx1 = min(W, max(x + m.shape[1] for _, x, m in band))
            if bx1 > bx0:
                layer = np.zeros((by1 - by0, bx1 - bx0), np.uint8)
                for y, x, m in band:
                    lx0, lx1 = max(x, bx0), min(x + m.shape[1], bx1)
                    if lx1 > lx0:
                        sl = layer[y - by0:y - by0 + m.shape[0], lx0 - bx0:lx1 - bx0]
                        np.maximum(sl, m[:, lx0 - x:lx1 - x], out=sl)
                _blit(canvas, layer, bx0, by0, _rgb(fill))
            band.clear()

        for p in placed:
            if band and p[0] >= band[0][0] + self.h:
                flush()
            band.append(p)
        flush()

    def fit(self, text: str, max_w: float, ellipsis="…") -> str:
        """Truncate (cleaned) ``text`` with an ellipsis to fit in ``max_w`` px."""
        if self.width(text) <= max_w:
            return text
        if not self.unicode:
            ellipsis = "..."
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.width(text[:mid] + ellipsis) <= max_w:
                lo = mid
            else:
                hi = mid - 1
        return text[:lo] + ellipsis if lo > 0 else ""


@lru_cache(maxsize=32)
def _text(size: int) -> _Text:
    return _Text(int(size))


def _blit(canvas: np.ndarray, mask: np.ndarray, x: int, y: int, color) -> None:
    """Blend a solid ``color`` through an alpha ``mask`` at (x, y), clipped."""
    H, W = canvas.shape[:2]
    mh, mw = mask.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + mw, W), min(y + mh, H)
    if x1 <= x0 or y1 <= y0:
        return
    a = mask[y0 - y:y1 - y, x0 - x:x1 - x].astype(np.float32)[:, :, None]
    a *= np.float32(1.0 / 255.0)
    reg = canvas[y0:y1, x0:x1]
    r = reg.astype(np.float32)
    r += (np.asarray(color, np.float32) - r) * a
    r += 0.5
    reg[...] = r.astype(np.uint8)


def _fill(canvas: np.ndarray, x0, y0, x1, y1, color) -> None:
    """Fill the inclusive pixel rectangle [x0..x1] x [y0..y1] (clipped)."""
    H, W = canvas.shape[:2]
    x0, y0 = max(int(x0), 0), max(int(y0), 0)
    x1, y1 = min(int(x1), W - 1), min(int(y1), H - 1)
    if x1 >= x0 and y1 >= y0:
        canvas[y0:y1 + 1, x0:x1 + 1] = color


def _outline(canvas: np.ndarray, x0, y0, x1, y1, color, width=1) -> None:
    for k in range(int(width)):
        _fill(canvas, x0 + k, y0 + k, x1 - k, y0 + k, color)
        _fill(canvas, x0 + k, y1 - k, x1 - k, y1 - k, color)
        _fill(canvas, x0 + k, y0 + k, x0 + k, y1 - k, color)
        _fill(canvas, x1 - k, y0 + k, x1 - k, y1 - k, color)


# --------------------------------------------------------------------------
# Numbers and ticks
# --------------------------------------------------------------------------
def format_number(x, sig: int = 2, plus: bool = False) -> str:
    """Compact number text: 0.012, 1.3e-4, -2.5, 1234, 0.

    Plain decimals for 1e-3 <= |x| < 1e5 (``sig`` significant digits, trailing
    zeros dropped), otherwise short scientific notation (``1.3e-4``, ``2e6``).
    ``plus=True`` prefixes positive numbers with '+'.
    """
    x = float(x)
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if x == 0:
        return "0"
    sig = max(1, int(sig))
    a = abs(x)
    if 1e-3 <= a < 1e5:
        e = math.floor(math.log10(a))
        dec = max(0, sig - 1 - e)
        s = f"{x:.{dec}f}"
        if "." in s:
            s = s.rstrip("0").rstrip(".")
    else:
        s = f"{x:.{sig - 1}e}"
        mant, ex = s.split("e")
        if "." in mant:
            mant = mant.rstrip("0").rstrip(".")
        s = f"{mant}e{int(ex)}"
    if s in ("-0", "+0"):
        s = "0"
    if plus and x > 0 and not s.startswith("+"):
        s = "+" + s
    return s


def _nice_ticks(lo: float, hi: float, n: int) -> tuple[list[float], float]:
    """Multiples of a 1/2/5 x 10^k step inside [lo, hi], about ``n`` of them."""
    span = hi - lo
    if not (span > 0 and math.isfinite(span)):
        return [lo], 0.0
    raw = span / max(n - 1, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = 10 * mag
    for m in (1, 2, 5, 10):
        if m * mag >= raw * (1 - 1e-9):
            step = m * mag
            break
    k0 = math.ceil(lo / step - 1e-9)
    k1 = math.floor(hi / step + 1e-9)
    ticks = [float(f"{k * step:.12g}") for k in range(k0, k1 + 1)]
    return ticks, step


def _tick_labels(ticks: Sequence[float], step: float) -> list[str]:
    """Shortest labels (by significant digits) that are distinct and faithful."""
    if step <= 0 or len(ticks) < 2:
        return [format_number(t, 3) for t in ticks]
    for sig in range(1, 7):
        labs = [format_number(t, sig) for t in ticks]
        if len(set(labs)) == len(labs) and all(
            abs(float(s) - t) <= 1e-3 * step for s, t in zip(labs, ticks)
        ):
            return labs
    return [format_number(t, 6) for t in ticks]


def _tick_candidates(lo: float, hi: float):
    """Yield (ticks, labels) options, most ticks first (3-5 nice ticks, then fallbacks)."""
    seen = set()
    for n in (6, 5, 4, 3):
        ticks, step = _nice_ticks(lo, hi, n)
        key = tuple(ticks)
        if 3 <= len(ticks) <= 5 and key not in seen:
            seen.add(key)
            yield ticks, _tick_labels(ticks, step)
    if hi > lo:
        mid = (lo + hi) / 2
        yield [lo, mid, hi], [format_number(v, 2) for v in (lo, mid, hi)]
        yield [lo, hi], [format_number(v, 2) for v in (lo, hi)]
    else:
        yield [lo], [format_number(lo, 3)]


def _place_1d(centres, sizes, length, min_gap) -> tuple[list[float], bool]:
    """Clamp label boxes inside [0, length]; report whether neighbours keep ``min_gap``."""
    starts = []
    for c, s in zip(centres, sizes):
        starts.append(min(max(c - s / 2, 0.0), max(length - s, 0.0)))
    ok = all(starts[i] + sizes[i] + min_gap <= starts[i + 1] for i in range(len(starts) - 1))
    return starts, ok


# --------------------------------------------------------------------------
# Colour bars
# --------------------------------------------------------------------------
def _bar_range(vmin, vmax, signed):
    lo, hi = float(vmin), float(vmax)
    if signed:
        lim = max(abs(lo), abs(hi))
        if not (math.isfinite(lim) and lim > 0):
            lim = 1.0
        return -lim, lim
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo = lo if math.isfinite(lo) else 0.0
        hi = hi if math.isfinite(hi) else lo + 1.0
    if hi <= lo:  # constant data maps to cmap(0): show it at the low end
        hi = lo + (abs(lo) if lo != 0 else 1.0)
    return lo, hi


_TICK_LEN = 3  # colour-bar tick marks, px


def _bar_pos(v, lo, hi, length):
    """Pixel centre of value ``v`` along a bar of ``length`` px (low end = 0)."""
    return (v - lo) / (hi - lo) * (length - 1)


def _bar_ticks(tx: _Text, lo: float, hi: float, length: int, horizontal: bool):
    """(ticks, labels, label starts) of the first :func:`_tick_candidates` option whose labels do
    not overlap — side by side 6 px apart (horizontal), or one text line each 1 px apart with
    high values at the top (vertical) — or of the last option when none fits."""
    chosen = None
    for ticks, labs in _tick_candidates(lo, hi):
        labs = [tx.clean(s) for s in labs]
        if horizontal:
            widths = [tx.width(s) for s in labs]
            starts, ok = _place_1d([_bar_pos(t, lo, hi, length) + 0.5 for t in ticks], widths, length, 6)
        else:
            cents = [(length - 1) - _bar_pos(t, lo, hi, length) + 0.5 for t in ticks]
            starts, ok = _place_1d(cents[::-1], [tx.h] * len(ticks), length, 1)
            starts = starts[::-1]
        chosen = (ticks, labs, starts)
        if ok:
            break
    return chosen


def _horizontal_bar(tx: _Text, grad: np.ndarray, lo: float, hi: float, thickness: int, label) -> np.ndarray:
    """Strip (low values left) on top, then tick marks, tick labels and ``label`` centred below."""
    length, lh = len(grad), tx.h
    ticks, labs, starts = _bar_ticks(tx, lo, hi, length, True)
    H = thickness + _TICK_LEN + lh + 1 + ((lh + 1) if label else 0)
    canvas = np.full((H, length, 3), 255, np.uint8)
    canvas[:thickness] = grad[None, :, :]
    for t in ticks:
        x = int(round(_bar_pos(t, lo, hi, length)))
        canvas[thickness:thickness + _TICK_LEN, x] = AXIS
    y = thickness + _TICK_LEN
    for s, x0 in zip(labs, starts):
        tx.draw(canvas, (x0, y), s, TEXT, "la")
    if label:
        tx.draw(canvas, (length / 2, y + lh + 1), tx.fit(label, length), MUTED, "ma")
    return canvas


def _vertical_bar(tx: _Text, grad: np.ndarray, lo: float, hi: float, thickness: int, label) -> np.ndarray:
    """Strip (high values at the top) on the left, tick labels to its right, ``label`` rotated
    along the right edge."""
    length, lh = len(grad), tx.h
    ticks, labs, ystarts = _bar_ticks(tx, lo, hi, length, False)
    text_w = int(math.ceil(max(tx.width(s) for s in labs)))
    W = thickness + _TICK_LEN + 2 + text_w + 2 + ((lh + 2) if label else 0)
    canvas = np.full((length, W, 3), 255, np.uint8)
    canvas[:, :thickness] = grad[::-1, None, :]
    for t in ticks:
        yy = int(round((length - 1) - _bar_pos(t, lo, hi, length)))
        canvas[yy, thickness:thickness + _TICK_LEN] = AXIS
    x = thickness + _TICK_LEN + 2
    for s, y0 in zip(labs, ystarts):
        tx.draw(canvas, (x, y0), s, TEXT, "la")
    if label:
        s = tx.fit(label, length)
        mk_w = tx.mask(s)[0].shape[1]
        tx.draw(canvas, (W - lh - 1, max(0, (length - mk_w) // 2)), s, MUTED, rotate=True)
    return canvas


def colorbar(vmin, vmax, cmap="viridis", length=256, thickness=16, horizontal=True,
             label=None, signed=False, font_size=11) -> np.ndarray:
    """A colour-bar strip with tick labels in real units.

    Horizontal (default): output width == ``length`` exactly; the strip
    (``thickness`` px tall, low values on the left) is on top, then tick marks,
    tick labels and the optional ``label`` centred underneath.  Vertical:
    output height == ``length`` exactly; the strip (high values at the top) is
    on the left, tick labels to its right and ``label`` rotated along the right
    edge.  3-5 "nice" ticks (1/2/5 x 10^k) are chosen to fit without
    overlapping, formatted compactly (0.012, 1.3e-4, -2.5); fewer ticks only
    when the bar is too short.  ``signed=True`` makes the range symmetric
    ``[-m, m]`` with ``m = max(|vmin|, |vmax|)`` so 0 is the centre colour.
    ``vmin == vmax`` is widened upwards (the constant is then the bottom colour,
    as :func:`colorize` maps it).
    """
    lo, hi = _bar_range(vmin, vmax, signed)
    length = int(length)
    thickness = max(1, int(thickness))
    if length < 2:
        raise ValueError("length must be >= 2")
    tx = _text(font_size)
    grad = colorize(np.linspace(lo, hi, length), cmap, lo, hi)  # (length, 3)
    label = tx.clean(label) if label else None
    draw = _horizontal_bar if horizontal else _vertical_bar
    return draw(tx, grad, lo, hi, thickness, label)


def with_colorbar(img, vmin, vmax, cmap="jet", label=None, signed=False,
                  thickness=None, font_size=11) -> np.ndarray:
    """``img`` with a horizontal colour bar stacked *below* it.

    The width never changes (phones are narrow); the bar spans the width minus
    a 4-px margin each side.  ``thickness`` defaults to ~1/20 of the width
    (6-14 px).  For tiny images (e.g. a raw 28x28 digit) :func:`enlarge` first,
    otherwise only one or two tick labels fit.
    """
    im = _as_rgb_u8(img)
    H, W = im.shape[:2]
    margin = 4 if W >= 64 else 0
    if thickness is None:
        thickness = int(np.clip(W // 20, 6, 14))
    cb = colorbar(vmin, vmax, cmap, length=max(2, W - 2 * margin), thickness=thickness,
                  horizontal=True, label=label, signed=signed, font_size=font_size)
    gap = 4
    out = np.full((H + gap + cb.shape[0] + 2, W, 3), 255, np.uint8)
    out[:H] = im
    out[H + gap:H + gap + cb.shape[0], margin:margin + cb.shape[1]] = cb[:, :W - margin]
    return out


# --------------------------------------------------------------------------
# Grid of feature maps
# --------------------------------------------------------------------------
def _as_maps(maps) -> np.ndarray:
    """``maps`` as a float64 (K, h, w) array, K >= 1 (one (h, w) map becomes K = 1)."""
    m = np.asarray(maps, dtype=np.float64)
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3 or m.shape[0] == 0:
        raise ValueError(f"maps must be (K, h, w) with K >= 1, got {m.shape}")
    return m


def _enlarged_maps(m: np.ndarray, cmap, lo: float, hi: float, cell: int) -> np.ndarray:
    """All maps coloured on the shared scale [lo, hi] and enlarged nearest-neighbour to fit a
    ``cell``-px box: (K, Hc, Wc, 3)."""
    colored = colorize(m, cmap, lo, hi)  # (K, h, w, 3)
    Wc, Hc = _target_size(m.shape[2], m.shape[1], cell)
    return _nn_resize(colored, Hc, Wc, axes=(1, 2))


class _GridLayout(NamedTuple):
    """map_grid's geometry in px (see its docstring) and its title font."""

    cols: int
    cell: int
    pad: int
    border: int
    tile: int  # cell + 2 * border
    title_h: int  # 0 without titles
    row_h: int  # title_h + tile
    width: int
    height: int  # of the tiles, without the colour bar
    tx: _Text


def _grid_layout(K: int, ncols, cell: int, pad: int, border: int, titles, font_size) -> _GridLayout:
    """The layout of K tiles in ``min(ncols, K)`` columns; a title row above each tile only with titles."""
    C = max(1, min(int(ncols), K))
    R = (K + C - 1) // C
    tile = cell + 2 * border
    tx = _text(int(font_size) if font_size else (10 if cell < 80 else 11))
    has_titles = titles is not None and len(titles) > 0
    title_h = (tx.h + 2) if has_titles else 0
    row_h = title_h + tile
    return _GridLayout(C, cell, pad, border, tile, title_h, row_h, C * tile + (C + 1) * pad,
                       R * row_h + (R + 1) * pad, tx)


def _draw_tiles(canvas: np.ndarray, big: np.ndarray, layout: _GridLayout, highlight, titles) -> list[tuple]:
    """Frame (highlight colour), map and title of every tile; returns each map's (x0, y0, x1, y1)."""
    C, cell, pad, border, tile, title_h, row_h, _, _, tx = layout
    has_titles = title_h > 0
    hl = {int(k): _rgb(c) for k, c in (highlight or {}).items()}
    K, Hc, Wc = big.shape[:3]
    boxes, title_items = [], []
    ox, oy = (cell - Wc) // 2, (cell - Hc) // 2
    for k in range(K):
        r, c = divmod(k, C)
        x0 = pad + c * (tile + pad)
        y0 = pad + r * (row_h + pad) + title_h
        if k in hl and border > 0:
            _outline(canvas, x0, y0, x0 + tile - 1, y0 + tile - 1, hl[k], border)
        mx, my = x0 + border + ox, y0 + border + oy
        canvas[my:my + Hc, mx:mx + Wc] = big[k]
        boxes.append((mx, my, mx + Wc, my + Hc))
        if has_titles and k < len(titles) and titles[k] not in (None, ""):
            s = tx.fit(tx.clean(titles[k]), tile + pad)
            title_items.append(((x0 + tile / 2, y0 - title_h / 2), s, "mm"))
    tx.draw_many(canvas, title_items, TEXT)
    return boxes


def map_grid(maps, cmap="viridis", vmin=None, vmax=None, signed=False, titles=None,
             ncols=4, cell=96, pad=4, highlight: Mapping[int, object] | None = None,
             border=3, colorbar_label=None, show_colorbar=True, font_size=None,
             return_layout=False):
    """Tile K small maps with ONE shared colour scale, plus a shared colour bar.

    ``maps``: (K, h, w) (a single (h, w) map is accepted).  Scale: ``vmin`` /
    ``vmax`` default to the min / max over *all* maps; ``signed=True`` uses the
    symmetric range ``[-m, m]`` (``m`` = max |maps| or ``max(|vmin|, |vmax|)``)
    so 0 is the centre colour (use a diverging cmap such as "RdBu_r").

    Layout (documented, tests rely on it), with ``C = min(ncols, K)`` columns
    and ``R = ceil(K / C)`` rows:

    * each tile is ``cell + 2*border`` px square: a ``border``-px frame (the
      highlight colour for ``k in highlight``, otherwise background white)
      around a ``cell x cell`` box holding the map enlarged nearest-neighbour
      (longer side = ``cell``, centred);
    * output width  = ``C*(cell + 2*border) + (C + 1)*pad``;
    * if ``titles`` is given (sequence of K strings, e.g. "ch 3  α=+0.012"),
      a title row of one text line sits above each tile (too-long titles are
      truncated with "…"); ``titles=None`` -> no title row;
    * below the grid: the shared colour bar (width = grid width - 2*pad).

    ``highlight``: {index: colour} (RGB tuple or PIL colour string), e.g. to
    mark the top positive / negative channels.  ``return_layout=True`` also
    returns a list of ``(x0, y0, x1, y1)`` pixel boxes (x1, y1 exclusive) of
    each map.
    """
    m = _as_maps(maps)
    cell, pad, border = int(cell), int(pad), int(border)
    lo, hi = _resolve_range(m, vmin, vmax, signed=signed)
    big = _enlarged_maps(m, cmap, lo, hi, cell)  # (K, Hc, Wc, 3)
    layout = _grid_layout(len(m), ncols, cell, pad, border, titles, font_size)
    cb = None
    if show_colorbar:
        cb = colorbar(lo, hi, cmap, length=max(2, layout.width - 2 * pad), thickness=12,
                      horizontal=True, label=colorbar_label, signed=False, font_size=11)
    canvas = np.full((layout.height + (cb.shape[0] + pad if cb is not None else 0), layout.width, 3), 255, np.uint8)
    boxes = _draw_tiles(canvas, big, layout, highlight, titles)
    if cb is not None:
        canvas[layout.height:layout.height + cb.shape[0], pad:pad + cb.shape[1]] = cb
    return (canvas, boxes) if return_layout else canvas


# --------------------------------------------------------------------------
# Bar chart of signed values (channel weights alpha_k)
# --------------------------------------------------------------------------
def _bar_selection(v: np.ndarray, top: int | None) -> np.ndarray:
    """Indices of the bars shown: all in order, or the ``top`` largest positive values then the
    ``top`` most negative (descending overall)."""
    if top is None:
        return np.arange(v.size, dtype=np.intp)
    top = max(0, int(top))
    pos = [int(i) for i in np.argsort(-v, kind="stable")[:top] if v[i] > 0]
    neg = [int(i) for i in np.argsort(v, kind="stable")[:top] if v[i] < 0]
    return np.array(pos + neg[::-1], dtype=np.intp)


def _y_ticks(tx, ymin: float, ymax: float, room: int) -> tuple[list[float], list[str]]:
    """The densest "nice" ticks whose labels fit ``room`` pixels of height."""
    yticks, ylabs = [0.0], ["0"]
    for ticks, tl in _tick_candidates(ymin, ymax):
        yticks, ylabs = ticks, [tx.clean(s) for s in tl]
        if len(ticks) <= max(2, room // (tx.h + 4)):
            break
    return yticks, ylabs


def _stagger(tx, texts: list[tuple[int, str, int]], x0: float, slot: float, width: int) -> list[tuple]:
    """(j, text, side, level): annotation levels so that labels of one side never overlap."""
    ann = []
    for side in (1, -1):
        placed = []  # (level, a, b)
        for j, s, sd in texts:
            if sd != side:
                continue
            wt = tx.width(s)
            a = min(max(x0 + (j + 0.5) * slot - wt / 2, 0), width - wt)
            b = a + wt
            lev = 0
            while any(pl == lev and not (b + 3 <= pa or a >= pb + 3) for pl, pa, pb in placed):
                lev += 1
            placed.append((lev, a, b))
            ann.append((j, s, side, lev))
    return ann


def _fill_bars(canvas: np.ndarray, vals: np.ndarray, rects: list[tuple[int, int, int, int]], pos_rgb, neg_rgb) -> None:
    """Bars coloured by sign: rectangle fills for a few bars; for many, one pass over the pixel
    columns (each column takes the last bar covering it)."""
    if len(vals) <= 96:
        for j, r in enumerate(rects):
            if vals[j] != 0:
                _fill(canvas, *r, pos_rgb if vals[j] > 0 else neg_rgb)
        return
    bx0s, yas, bx1s, ybs = (np.array(c, dtype=np.intp) for c in zip(*rects))
    col_bar = np.full(canvas.shape[1], -1, np.intp)
    for j in range(len(vals)):
        if vals[j] != 0:
            col_bar[bx0s[j]:bx1s[j] + 1] = j
    cols = np.nonzero(col_bar >= 0)[0]
    if not cols.size:
        return
    bj = col_bar[cols]
    r0, r1 = int(yas[bj].min()), int(ybs[bj].max()) + 1
    rows = np.arange(r0, r1)[:, None]
    inside = (rows >= yas[bj][None, :]) & (rows <= ybs[bj][None, :])  # (rows, cols)
    sub = canvas[r0:r1, cols]
    sub[inside & (vals[bj] > 0)[None, :]] = pos_rgb
    sub[inside & (vals[bj] < 0)[None, :]] = neg_rgb
    canvas[r0:r1, cols] = sub


def _label_highlights(canvas: np.ndarray, tx, ann: list[tuple], rects: list, pos_rgb, neg_rgb) -> None:
    """Outline the highlighted bars and put each label just outside its bar, pushed further out
    past any highlighted bar or earlier label it would cover (bars differ in height, so fixed
    levels are not enough)."""
    lh, width = tx.h, canvas.shape[1]
    bars = {j: (rects[j][0] - 1, rects[j][1] - 1, rects[j][2] + 1, rects[j][3] + 1) for j, _, _, _ in ann}
    for bx0, ya, bx1, yb_ in bars.values():
        _outline(canvas, bx0, ya, bx1, yb_, TEXT)
    placed_boxes = []
    for j, s, side, _lev in ann:
        bx0, ya, bx1, yb_ = rects[j]
        half = tx.width(s) / 2
        cx = min(max((bx0 + bx1 + 1) / 2, half), width - half)
        a, b = cx - half, cx + half
        obstacles = [r for jj, r in bars.items() if jj != j] + placed_boxes
        if side > 0:
            bottom, moved = ya - 2, True
            while moved:
                moved = False
                for ox0, oy0, ox1, oy1 in obstacles:
                    if a < ox1 + 2 and b > ox0 - 2 and bottom - lh < oy1 and bottom > oy0:
                        bottom, moved = oy0 - 1, True
            placed_boxes.append((a, bottom - lh, b, bottom))
            tx.draw(canvas, (cx, bottom), s, pos_rgb, "md")
        else:
            top_y, moved = yb_ + 2, True
            while moved:
                moved = False
                for ox0, oy0, ox1, oy1 in obstacles:
                    if a < ox1 + 2 and b > ox0 - 2 and top_y < oy1 and top_y + lh > oy0:
                        top_y, moved = oy1 + 1, True
            placed_boxes.append((a, top_y, b, top_y + lh))
            tx.draw(canvas, (cx, top_y), s, neg_rgb, "ma")


def _x_labels(canvas: np.ndarray, tx, labels: list[str], x0: float, slot: float, y: float) -> None:
    """Bar labels along the bottom, thinned so that they never overlap."""
    width = canvas.shape[1]
    stride = max(1, int(math.ceil((max(tx.width(s) for s in labels) + 4) / slot)))
    right_edge, items = -1e9, []
    for j in range(0, len(labels), stride):
        s = labels[j]
        half = tx.width(s) / 2
        cx = min(max(x0 + (j + 0.5) * slot, half + 1), width - half - 1)
        if cx - half < right_edge + 4:  # clamped at the right edge: would collide
            continue
        right_edge = cx + half
        items.append(((cx, y), s, "ma"))
    tx.draw_many(canvas, items, MUTED)


def bar_chart(values, labels=None, top=None, width=480, height=220, pos_color=POS_COLOR,
              neg_color=NEG_COLOR, highlight_top=3, title=None, font_size=11) -> np.ndarray:
    """Plain bar chart of signed values with a zero line; exactly (height, width, 3).

    Bars are coloured by sign (``pos_color`` / ``neg_color``).  The
    ``highlight_top`` largest positive and most negative bars get a dark
    outline and are annotated with their label (default labels are the indices
    "0".."n-1", annotated as "ch i"; custom labels are shown verbatim);
    annotations that would collide are staggered.  ``top=N`` shows only the N
    largest positive values then the N most negative (sorted, descending
    overall), labelled with their original index/label - use it for models
    with hundreds of channels; a default title then says what is shown.
    Without ``top`` all values are shown in order (x labels thinned to fit,
    bars may be 1 px wide).  NaN values count as 0.
    """
    v = np.nan_to_num(np.asarray(values, dtype=np.float64).ravel(), nan=0.0, posinf=0.0, neginf=0.0)
    n = v.size
    tx = _text(font_size)
    lh = tx.h
    default_labels = labels is None
    labs = [str(i) for i in range(n)] if default_labels else [tx.clean(s) for s in labels]
    if len(labs) != n:
        raise ValueError(f"{len(labs)} labels for {n} values")
    idx = _bar_selection(v, top)
    if top is not None and title is None:
        title = f"top {max(0, int(top))} positive / top {max(0, int(top))} negative of {n}"
    vals, mcount = v[idx], len(idx)

    width, height = int(width), int(height)
    canvas = np.full((height, width, 3), 255, np.uint8)
    top_m, bottom_m = 4 + ((lh + 2) if title else 0), lh + 6
    if title:
        tx.draw(canvas, (4, 2), tx.fit(tx.clean(title), width - 8), MUTED, "la")
    if mcount == 0:
        tx.draw(canvas, (width / 2, height / 2), "no non-zero values", MUTED, "mm")
        return canvas

    ymax, ymin = max(float(vals.max()), 0.0), min(float(vals.min()), 0.0)
    if ymax == ymin:
        ymax = 1.0
    yticks, ylabs = _y_ticks(tx, ymin, ymax, height - top_m - bottom_m)
    x0, x1 = int(math.ceil(max(tx.width(s) for s in ylabs))) + 8, width - 6
    slot = (x1 - x0) / mcount

    # the most extreme bars of each sign are highlighted and labelled, staggered where they would meet
    k, order = max(0, int(highlight_top)), np.argsort(-vals, kind="stable")
    marked = [(int(j), 1) for j in order[:k] if vals[j] > 0] + [(int(j), -1) for j in order[::-1][:k] if vals[j] < 0]
    ann = _stagger(tx, [(j, f"ch {labs[idx[j]]}" if default_labels else labs[idx[j]], side) for j, side in marked],
                   x0, slot, width)
    n_up = 1 + max([lv for _, _, sd, lv in ann if sd > 0], default=-1)
    n_dn = 1 + max([lv for _, _, sd, lv in ann if sd < 0], default=-1)
    yt, yb = top_m + n_up * lh + 2, height - bottom_m - n_dn * lh - 2
    if yb - yt < 10:  # too short for annotations: drop them
        ann, yt, yb = [], top_m + 2, height - bottom_m - 2

    def ypix(val):
        return yt + (ymax - val) / (ymax - ymin) * (yb - yt)

    for t, s in zip(yticks, ylabs):  # grid lines + y labels
        yy = int(round(ypix(t)))
        _fill(canvas, x0, yy, x1, yy, GRID_LINE)
        tx.draw(canvas, (x0 - 4, yy), s, TEXT, "rm")
    gap = slot * 0.2 if slot >= 4 else 0.0
    yz = int(round(ypix(0.0)))
    jj = np.arange(mcount)
    bx0s = np.rint(x0 + jj * slot + gap / 2).astype(np.intp)
    bx1s = np.maximum(bx0s, np.rint(x0 + (jj + 1) * slot - gap / 2).astype(np.intp) - 1)
    yvs = np.rint(yt + (ymax - vals) / (ymax - ymin) * (yb - yt)).astype(np.intp)
    rects = list(zip(bx0s.tolist(), np.minimum(yvs, yz).tolist(), bx1s.tolist(), np.maximum(yvs, yz).tolist()))
    pos_rgb, neg_rgb = _rgb(pos_color), _rgb(neg_color)
    _fill_bars(canvas, vals, rects, pos_rgb, neg_rgb)
    _fill(canvas, x0, yz, x1, yz, AXIS)  # zero line and y axis
    _fill(canvas, x0, yt, x0, yb, AXIS)
    _label_highlights(canvas, tx, ann, rects, pos_rgb, neg_rgb)
    _x_labels(canvas, tx, [labs[i] for i in idx], x0, slot, height - bottom_m + 3)
    return canvas


# --------------------------------------------------------------------------
# Table of numbers
# --------------------------------------------------------------------------
def number_grid(arr2d, fmt: str | Callable[[float], str] = "{:+.3f}", cell=(56, 22),
                cmap="RdBu_r", signed=True, vmin=None, vmax=None, tint=0.6,
                font_size=None) -> np.ndarray:
    """A table image of the numbers in an (h, w) array, each cell tinted by value.

    Output shape ``(h*ch + 1, w*cw + 1, 3)`` for ``cell=(cw, ch)`` (1-px grey grid
    lines).  Cell colour = ``tint`` x colormap colour + (1 - tint) x white, where
    the colour comes from :func:`colorize_signed` (``signed=True``: symmetric,
    0 is neutral; ``vmin``/``vmax`` then only set the limit) or
    :func:`colorize` with ``vmin``/``vmax``.  ``fmt`` is a format string or a
    callable; text is black or white depending on the cell brightness, and the
    font shrinks (down to 7 px) until the widest entry fits.
    """
    a = np.asarray(arr2d, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"number_grid expects a 2-D array, got {a.shape}")
    h, w = a.shape
    cw, ch = int(cell[0]), int(cell[1])
    lo, hi = _resolve_range(a, vmin, vmax, signed=bool(signed))
    col = colorize(a, cmap, lo, hi).astype(np.float32)
    tint = float(np.clip(tint, 0.0, 1.0))
    bgc = (col * tint + 255.0 * (1.0 - tint) + 0.5).astype(np.uint8)  # (h, w, 3)

    f = fmt if callable(fmt) else fmt.format
    texts = [["nan" if math.isnan(x) else str(f(float(x))) for x in row] for row in a]
    fs = int(font_size) if font_size else max(7, min(12, ch - 8))
    while fs > 7 and max(_text(fs).width(_text(fs).clean(s)) for row in texts for s in row) > cw - 4:
        fs -= 1
    tx = _text(fs)

    canvas = np.empty((h * ch + 1, w * cw + 1, 3), np.uint8)
    canvas[:h * ch, :w * cw] = np.repeat(np.repeat(bgc, ch, axis=0), cw, axis=1)
    canvas[::ch, :] = GRID_LINE
    canvas[:, ::cw] = GRID_LINE
    canvas[-1, :] = GRID_LINE
    canvas[:, -1] = GRID_LINE
    lum = bgc.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    light, dark = [], []  # text on dark / light cells, each drawn in one batch
    for i in range(h):
        for j in range(w):
            item = ((j * cw + cw / 2 + 0.5, i * ch + ch / 2 + 0.5), tx.clean(texts[i][j]), "mm")
            (light if lum[i, j] < 110 else dark).append(item)
    tx.draw_many(canvas, dark, (20, 20, 20))
    tx.draw_many(canvas, light, (255, 255, 255))
    return canvas


# --------------------------------------------------------------------------
# Caption, conversion
# --------------------------------------------------------------------------
def caption_image(img, text, font_size=12, bg=BG, fg=TEXT) -> np.ndarray:
    """``img`` with a one-line caption strip (font height + 6 px) above it; same
    width, long text truncated with "…"."""
    im = _as_rgb_u8(img)
    H, W = im.shape[:2]
    tx = _text(font_size)
    sh = tx.h + 6
    out = np.empty((sh + H, W, 3), np.uint8)
    out[:sh] = _rgb(bg)
    out[sh:] = im
    s = tx.fit(tx.clean(text), W - 8)
    tx.draw(out, (4, sh / 2), s, _rgb(fg), "lm")
    return out


def to_pil(arr) -> Image.Image:
    """PIL image from an array: uint8 (H,W) -> 'L', (H,W,3) -> 'RGB', (H,W,4) ->
    'RGBA'; anything else goes through the same coercion as :func:`overlay`
    (-> 'RGB').  A PIL image is returned unchanged."""
    if isinstance(arr, Image.Image):
        return arr
    a = np.asarray(arr)
    if a.dtype == np.uint8:
        if a.ndim == 2:
            return Image.fromarray(np.ascontiguousarray(a))
        if a.ndim == 3 and a.shape[2] == 4:
            return Image.fromarray(np.ascontiguousarray(a))
    return Image.fromarray(_as_rgb_u8(a))


def png_bytes(arr, compress_level=3) -> bytes:
    """PNG-encoded bytes of an image array (or PIL image)."""
    buf = io.BytesIO()
    to_pil(arr).save(buf, format="PNG", compress_level=int(compress_level))
    return buf.getvalue()


_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".gif": "image/gif"}


def png_data_url(img, compress_level: int = 1) -> str:
    """``data:image/png;base64,…`` for an image array or PIL image, or the data URL of an
    existing image file (path) as it is.

    zlib level 1: on the app's step images it encodes about twice as fast as the default
    level 6 for ~25 % more bytes (10 MNIST step images: 16 ms / 70 KB vs 32 ms / 55 KB).
    """
    if isinstance(img, str) and img.startswith("data:image/"):
        return img
    if isinstance(img, (str, os.PathLike)):
        path = os.fspath(img)
        mime = _MIME.get(os.path.splitext(path)[1].lower())
        if mime is None:
            raise ValueError(f"Not an image file this app writes: {path!r}")
        with open(path, "rb") as f:
            data = f.read()
    else:
        mime, data = "image/png", png_bytes(img, compress_level)
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def decode_data_url(value) -> Image.Image:
    """The image in a ``data:image/…;base64,`` URL, or in ``{"url": …}`` as the app's API
    returns it (the inverse of :func:`png_data_url`)."""
    url = value.get("url") if isinstance(value, Mapping) else value
    if not isinstance(url, str) or not url.startswith("data:image/") or ";base64," not in url:
        raise ValueError("Expected a data:image/…;base64, URL")
    from gradcam_core.inputs import data_url_bytes  # the app's one data: URL decoder

    img = Image.open(io.BytesIO(data_url_bytes(url)))
    img.load()
    return img
