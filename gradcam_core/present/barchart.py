"""Bar chart of signed values (a layer's channel weights α_k): bars coloured by sign, the most
extreme ones outlined and labelled, ticks from ``present.ticks``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from gradcam_core.present.glyphs import _fill, _outline, _text
from gradcam_core.present.paint import AXIS, GRID_LINE, MUTED, NEG_COLOR, POS_COLOR, TEXT, ArrayLike, Colour, _rgb
from gradcam_core.present.ticks import tick_candidates
from gradcam_core.present.words import say

__all__ = ["bar_chart"]

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
    for ticks, tl in tick_candidates(ymin, ymax):
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


def bar_chart(values: ArrayLike, labels: Sequence[str] | None = None, top: int | None = None, width: int = 480,
              height: int = 220, pos_color: Colour = POS_COLOR, neg_color: Colour = NEG_COLOR,
              highlight_top: int = 3, title: str | None = None, font_size: int = 11) -> np.ndarray:
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
        title = say("render.top_title", top=max(0, int(top)), n=n)
    vals, mcount = v[idx], len(idx)

    width, height = int(width), int(height)
    canvas = np.full((height, width, 3), 255, np.uint8)
    top_m, bottom_m = 4 + ((lh + 2) if title else 0), lh + 6
    if title:
        tx.draw(canvas, (4, 2), tx.fit(tx.clean(title), width - 8), MUTED, "la")
    if mcount == 0:
        tx.draw(canvas, (width / 2, height / 2), tx.clean(say("render.no_values")), MUTED, "mm")
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
    ann = _stagger(tx, [(j, say("render.channel", label=labs[idx[j]]) if default_labels else labs[idx[j]], side) for j, side in marked],
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

