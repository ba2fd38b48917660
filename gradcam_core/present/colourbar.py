"""Colour bars: a strip of the colour map with tick labels in real units, alone or below an image.

Ticks: ``present.ticks`` (matplotlib.ticker's locator and formatter); text: ``present.glyphs``.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from gradcam_core.present.glyphs import _Text, _text
from gradcam_core.present.paint import AXIS, MUTED, TEXT, ArrayLike, Cmap, _as_rgb_u8, colorize
from gradcam_core.present.ticks import place_1d, tick_candidates

__all__ = ["colorbar", "with_colorbar"]

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
    for ticks, labs in tick_candidates(lo, hi):
        labs = [tx.clean(s) for s in labs]
        if horizontal:
            widths = [tx.width(s) for s in labs]
            starts, ok = place_1d([_bar_pos(t, lo, hi, length) + 0.5 for t in ticks], widths, length, 6)
        else:
            cents = [(length - 1) - _bar_pos(t, lo, hi, length) + 0.5 for t in ticks]
            starts, ok = place_1d(cents[::-1], [tx.h] * len(ticks), length, 1)
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


def colorbar(vmin: float, vmax: float, cmap: Cmap = "viridis", length: int = 256, thickness: int = 16,
             horizontal: bool = True, label: str | None = None, signed: bool = False,
             font_size: int = 11) -> np.ndarray:
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


def with_colorbar(img: ArrayLike | Image.Image, vmin: float, vmax: float, cmap: Cmap = "jet",
                  label: str | None = None, signed: bool = False, thickness: int | None = None,
                  font_size: int = 11) -> np.ndarray:
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

