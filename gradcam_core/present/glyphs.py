"""Text drawing: a cached glyph atlas that draws strings straight into numpy canvases.

Text uses the DejaVu Sans TrueType font that ships inside matplotlib (PIL's built-in default font
has no Greek letters, so "α" would render as a box); if that
file cannot be loaded, ``ImageFont.load_default(size=...)`` is used (or ``load_default()`` on old
Pillow) and non-ASCII characters such as "α" are transliterated. Glyphs are rasterised once per
size by PIL and cached; strings are composed from them and alpha-blended with numpy.

Why an atlas and not ``ImageDraw.text`` per string: BENCHMARKS.md ("Text drawing: the glyph
atlas against PIL and matplotlib") measures both on the same labels in one run.

Thread-safety: the caches are plain dicts / lru_caches; concurrent calls from Gradio worker
threads are safe (worst case a glyph is rasterised twice).
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gradcam_core.present.paint import _rgb

__all__ = ["text_at"]

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


def _dejavu_path() -> Path:
    """The DejaVu Sans file inside matplotlib's data (matplotlib's font manager would find it too,
    but builds a cache of every system font on first use: seconds on a fresh install)."""
    return (Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans").with_suffix(".ttf")


@lru_cache(maxsize=32)
def _font_and_unicode(size: int):
    """(PIL font, has-unicode) for a pixel size: matplotlib's DejaVu Sans, else
    PIL's default font (``load_default(size=...)`` when supported)."""
    size = max(6, int(size))
    try:
        return ImageFont.truetype(str(_dejavu_path()), size), True
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


def text_at(size: int) -> _Text:
    """The glyph atlas of one font size (shared, cached)."""
    return _text(int(size))


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

