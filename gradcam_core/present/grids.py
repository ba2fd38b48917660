"""Grids and step images: a grid of feature maps on one colour scale, a table of numbers tinted by
value, and a caption strip above an image.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, NamedTuple, Sequence

import numpy as np
from PIL import Image

from gradcam_core.base.errors import Refusal
from gradcam_core.present.colourbar import colorbar
from gradcam_core.present.glyphs import _outline, _Text, _text
from gradcam_core.present.paint import (
    BG, GRID_LINE, TEXT, ArrayLike, Cmap, Colour, _as_rgb_u8, _nn_resize, _resolve_range, _rgb, _target_size, colorize,
)

__all__ = ["map_grid", "number_grid", "caption_image"]

# --------------------------------------------------------------------------
# Grid of feature maps
# --------------------------------------------------------------------------
def _as_maps(maps) -> np.ndarray:
    """``maps`` as a float64 (K, h, w) array, K >= 1 (one (h, w) map becomes K = 1)."""
    m = np.asarray(maps, dtype=np.float64)
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3 or m.shape[0] == 0:
        raise Refusal("render.bad.maps", shape=m.shape)
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


def map_grid(maps: ArrayLike, cmap: Cmap = "viridis", vmin: float | None = None, vmax: float | None = None,
             signed: bool = False, titles: Sequence[str | None] | None = None, ncols: int = 4, cell: int = 96,
             pad: int = 4, highlight: Mapping[int, Colour] | None = None, border: int = 3,
             colorbar_label: str | None = None, show_colorbar: bool = True, font_size: int | None = None,
             return_layout: bool = False) -> np.ndarray | tuple[np.ndarray, list[tuple[int, int, int, int]]]:
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
# Table of numbers
# --------------------------------------------------------------------------
def number_grid(arr2d: ArrayLike, fmt: str | Callable[[float], str] = "{:+.3f}", cell: tuple[int, int] = (56, 22),
                cmap: Cmap = "RdBu_r", signed: bool = True, vmin: float | None = None, vmax: float | None = None,
                tint: float = 0.6, font_size: int | None = None) -> np.ndarray:
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
        raise Refusal("render.bad.table", shape=a.shape)
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
def caption_image(img: ArrayLike | Image.Image, text: str, font_size: int = 12, bg: Colour = BG,
                  fg: Colour = TEXT) -> np.ndarray:
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

