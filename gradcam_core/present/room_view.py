"""A workshop's guess-then-reveal in pictures and words (issue 26): the phone's picture with the
model's grid drawn lightly, the class's taps, the Grad-CAM, where they overlap, the three side by side
for the projector (and for slides), and every sentence about them. The numbers come from
:mod:`gradcam_core.analysis.pointing`; the words from the catalogue's ``[reveal]`` section.

Pictures (uint8 RGB arrays, the conventions of :mod:`gradcam_core.present.paint`):

* sized for a phone: the longer side is :data:`PHONE_SIZE` px (448: a 7×7 grid gives 64-px cells,
  a comfortable fingertip); a tiny picture (a 28-px digit, :data:`PIXEL_ART`) is enlarged
  nearest-neighbour, so its pixels stay honest blocks, a photo is resampled with Lanczos;
* cells are laid out with ``paint.enlarge``'s pixel-centre rule (:func:`cell_edges`, the stretched
  grid), or, given ``centres``, each cell over the part of the picture nearest the centre of what it
  sees (the MNIST tab's default "receptive field" placement: LeNet's relu2 edge cells are 1.5 cells
  away from their stretched blocks); the grid lines, the coloured cells and the phone's tap buttons
  (:func:`edge_fractions`, CSS percentages of the same picture) agree;
* the grid is light: 1-px lines blended :data:`LINE_ALPHA` of the way to white;
* the Grad-CAM is drawn **cell by cell** (nearest, not smoothed): the scores are about cells, and a
  smoothed map can make a neighbour of the hottest cell look hottest; colour map ``jet`` by default
  (the app's tradition; any of the app's maps may be passed);
* the class's taps and the overlap are drawn over the picture in grey, in two maps that keep their
  lightness order under the three simulated colour-vision deficiencies (``colour_vision.is_monotonic``;
  :data:`TAPS_CMAP` viridis, :data:`OVERLAP_CMAP` Reds: light to dark red, so strong overlap stands
  out from the grey) and are distinct from the Grad-CAM's jet;
  a cell nobody tapped stays grey, and each tapped cell has its count written in it, so the taps read
  without the colours;
* captions of the triptych are drawn with the app's glyph atlas (``grids.caption_image``).

Sentences: each branch is chosen from the numbers it states (``tests/test_room_view.py``). The area
is the cells' share of the grid's cells (what an evenly spread map would give them), said as such:
with ``centres`` the cells are not all the same size on the picture. Heat and area are compared as
they are written (whole percents), so the words never say "more" next to
two equal figures: heat above area by :data:`STRONG` times or more is "the model's evidence is
concentrated where the class looked"; above, but less than that, "a little more"; the same written percent, "no more than chance";
below, "the model looks mostly elsewhere".
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from PIL import Image

from gradcam_core.analysis.pointing import ClassScore, Score, as_map, check_cells, hottest_cells, overlap, tied_out
from gradcam_core.present import grids
from gradcam_core.present.glyphs import _outline, text_at
from gradcam_core.base.errors import Refusal
from gradcam_core.present.paint import _as_rgb_u8, _nn_index, colorize, enlarge, overlay
from gradcam_core.present.words import say

__all__ = ["PHONE_SIZE", "TAPS_CMAP", "OVERLAP_CMAP", "CAM_CMAP", "STRONG", "cell_box", "cell_starts", "cell_edges", "edge_fractions", "centre_fractions",
           "guess_picture", "taps_picture", "cam_picture", "overlap_picture", "own_picture", "reveal_picture",
           "reveal_text", "own_text", "counts_text", "reveal_alt", "own_alt", "cell_name", "cells_names",
           "compare_code"]


#: The longer side of every phone picture, in px (the guess picture is at most this wide).
PHONE_SIZE = 448
#: The colour maps: the class's taps, the overlap, the Grad-CAM (default).
TAPS_CMAP = "viridis"
OVERLAP_CMAP = "Reds"
CAM_CMAP = "jet"
#: A picture this small (a 28-px digit) is enlarged nearest-neighbour, so its pixels stay blocks; a
#: larger one is resampled with Lanczos (up or down).
PIXEL_ART = 64
#: How strongly the taps and the overlap are laid over the grey picture (tapped cells only).
TINT = 0.72
#: The heat map's opacity over the picture (the app's usual overlay).
CAM_ALPHA = 0.5
#: Heat at least this many times the area: "the model's evidence is concentrated where you looked".
STRONG = 2.0
#: How far the grid's lines are blended to white (light: the picture stays readable under them).
LINE_ALPHA = 0.55
#: The width of an own cell's outline, px (black, white, black).
OUTLINE = 5
#: Gap between the triptych's pictures, px; its captions' font size.
GAP = 10
CAPTION_SIZE = 16

_WHITE = (255, 255, 255)
_BLACK = (0, 0, 0)


# --------------------------------------------------------------------------------------- geometry
#: Where each cell sits: ``(row centres (h,), column centres (w,))`` as fractions of the picture's
#: height and width (0 … 1), or None for the stretched grid.
Centres = Optional[tuple[Sequence[float], Sequence[float]]]


def _phone(image: np.ndarray, size: int = PHONE_SIZE) -> np.ndarray:
    """The picture as uint8 RGB with its longer side ``size`` px."""
    im = _as_rgb_u8(image)
    H, W = im.shape[:2]
    if max(H, W) == size:
        return im.copy()
    if max(H, W) <= PIXEL_ART:
        return enlarge(im, size)
    scale = size / max(H, W)
    new = (max(1, round(W * scale)), max(1, round(H * scale)))
    return np.array(Image.fromarray(im).resize(new, Image.LANCZOS))


def cell_starts(n_cells: int, n_px: int) -> np.ndarray:
    """The first pixel of each of ``n_cells`` cells along ``n_px`` pixels, and ``n_px`` at the end
    (``n_cells + 1`` numbers), by ``paint.enlarge``'s pixel-centre rule."""
    idx = _nn_index(int(n_cells), int(n_px))
    return np.append(np.searchsorted(idx, np.arange(int(n_cells))), int(n_px))


def centre_fractions(centres: Sequence[Sequence[float]], frame: tuple[int, int]) -> tuple[list[float], list[float]]:
    """Cell centres in the model's input pixels (``analysis.cell.cell_centres``, e.g. LeNet's relu2 row r
    at 2r + 6.5 on its 28 × 28 frame) as fractions of the picture: ``(c + 0.5) / size``."""
    ys, xs = centres
    return ([(float(c) + 0.5) / frame[0] for c in ys], [(float(c) + 0.5) / frame[1] for c in xs])


def _starts_at(fractions: Sequence[float], n_cells: int, n_px: int) -> np.ndarray:
    """Cell starts along ``n_px`` pixels when cell k sits at ``fractions[k]``: every pixel belongs to
    the cell whose centre is nearest its own centre (a pixel exactly half-way goes to the earlier cell),
    so the edges lie half-way between neighbouring centres and the outer cells reach the border."""
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (n_cells,) or not np.all(np.isfinite(f)) or np.any(np.diff(f) <= 0):
        raise Refusal("reveal.bad_centres", n=n_cells)
    mids = (f[:-1] + f[1:]) / 2 * n_px  # in pixel units; pixel i's centre is i + 0.5
    starts = np.floor(mids - 0.5).astype(np.int64) + 1  # first pixel whose centre lies past the midpoint
    return np.concatenate([[0], np.clip(starts, 0, n_px), [n_px]])


def cell_edges(grid: tuple[int, int], size: tuple[int, int], centres: Centres = None) -> tuple[np.ndarray, np.ndarray]:
    """``(row starts (h + 1,), column starts (w + 1,))`` in pixels of a picture of ``size = (H, W)``:
    the stretched grid (:func:`cell_starts`) without ``centres``; with them, each cell is the part of
    the picture nearest its centre (the receptive-field placement the MNIST tab draws by default)."""
    h, w = int(grid[0]), int(grid[1])
    H, W = int(size[0]), int(size[1])
    if centres is None:
        return cell_starts(h, H), cell_starts(w, W)
    return _starts_at(centres[0], h, H), _starts_at(centres[1], w, W)


def edge_fractions(grid: tuple[int, int], centres: Centres = None) -> tuple[list[float], list[float]]:
    """Where the phone's tap buttons go, as fractions of the picture (for CSS percentages):
    ``(row edges (h + 1,), column edges (w + 1,))``; ``k / n`` for the stretched grid, half-way
    between neighbouring centres with them."""
    h, w = int(grid[0]), int(grid[1])
    if centres is None:
        return [k / h for k in range(h + 1)], [k / w for k in range(w + 1)]
    out = []
    for f, n in ((centres[0], h), (centres[1], w)):
        _starts_at(f, n, 1000)  # the same checks
        a = [float(v) for v in f]
        out.append([0.0] + [(a[k] + a[k + 1]) / 2 for k in range(n - 1)] + [1.0])
    return out[0], out[1]


def cell_box(cell: int, grid: tuple[int, int], size: tuple[int, int], centres: Centres = None) -> tuple[int, int, int, int]:
    """The pixel box ``(x0, y0, x1, y1)`` (x1, y1 exclusive) of flat cell ``cell`` on a ``(h, w)``
    grid laid over a picture of ``size = (H, W)`` px (:func:`cell_edges`)."""
    ys, xs = cell_edges(grid, size, centres)
    r, c = divmod(int(cell), int(grid[1]))
    return int(xs[c]), int(ys[r]), int(xs[c + 1]), int(ys[r + 1])


def _per_cell(values: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """An (h, w[, C]) array spread over the picture's pixels, each cell over its box."""
    out = np.repeat(np.asarray(values), np.diff(xs), axis=1)
    return np.repeat(out, np.diff(ys), axis=0)


def _grid_lines(img: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """``img`` (in place) with the inner lines of the grid (on each cell's first row and column of
    pixels), 1 px, blended :data:`LINE_ALPHA` of the way to white."""
    H, W = img.shape[:2]
    mask = np.zeros((H, W), bool)
    mask[:, [x for x in xs[1:-1] if 0 < x < W]] = True
    mask[[y for y in ys[1:-1] if 0 < y < H], :] = True
    px = img[mask].astype(np.float32)
    img[mask] = (px + (255.0 - px) * LINE_ALPHA + 0.5).astype(np.uint8)
    return img


def _grey(img: np.ndarray) -> np.ndarray:
    """The picture in grey (luma), so coloured cells over it read clearly."""
    lum = img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    g = (lum + 0.5).astype(np.uint8)
    return np.repeat(g[:, :, None], 3, axis=2)


def _tinted_cells(img: np.ndarray, values: np.ndarray, cmap: str, ys: np.ndarray, xs: np.ndarray,
                  top: float | None = None) -> np.ndarray:
    """The phone-sized picture in grey with each cell whose value > 0 tinted by ``cmap``:
    ``value / top`` (``top``: the values' maximum unless given) mapped to the upper three quarters of
    the map, so the least is never the map's faint end; cells at 0 stay grey."""
    img = _grey(img)
    v = np.clip(values, 0.0, None)
    top = float(v.max()) if top is None else float(top)
    if not top > 0:
        return img
    t = np.where(v > 0, 0.25 + 0.75 * np.minimum(v / top, 1.0), 0.0)
    col = _per_cell(colorize(t, cmap, 0.0, 1.0), ys, xs).astype(np.uint16)
    a8 = _per_cell(np.where(v > 0, round(TINT * 256), 0).astype(np.uint16), ys, xs)[:, :, None]
    out = img.astype(np.uint16) * (256 - a8)  # 8-bit fixed point, as paint.overlay blends
    out += col * a8
    out += 128
    out >>= 8
    return out.astype(np.uint8)


# --------------------------------------------------------------------------------------- pictures
def guess_picture(image: np.ndarray, grid: tuple[int, int], centres: Centres = None) -> np.ndarray:
    """What a phone taps on: the picture, its longer side :data:`PHONE_SIZE` px, with the model's
    ``(h, w)`` grid drawn lightly over it (``centres``: see :func:`cell_edges`)."""
    img = _phone(image)
    return _grid_lines(img, *cell_edges(grid, img.shape[:2], centres))


def taps_picture(image: np.ndarray, counts: np.ndarray, centres: Centres = None) -> np.ndarray:
    """The class's taps: each cell someone chose, tinted by how many did (:data:`TAPS_CMAP`) with its
    count written in it, over the picture in grey; the grid drawn lightly."""
    n = as_map(counts)
    h, w = n.shape
    img = _phone(image)
    H, W = img.shape[:2]
    ys, xs = cell_edges((h, w), (H, W), centres)
    img = _tinted_cells(img, n, TAPS_CMAP, ys, xs)
    ch = min(int(np.diff(ys).min()), int(np.diff(xs).min()))
    tx = text_at(max(8, min(28, ch * 2 // 5)))
    dark, light = [], []
    for cell in np.flatnonzero(n.ravel() > 0):
        r, c = divmod(int(cell), w)
        x0, y0, x1, y1 = int(xs[c]), int(ys[r]), int(xs[c + 1]), int(ys[r + 1])
        mid = img[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0) @ np.array([0.299, 0.587, 0.114])
        item = (((x0 + x1) / 2, (y0 + y1) / 2), tx.clean(str(int(n.flat[cell]))), "mm")
        (dark if mid > 128 else light).append(item)
    tx.draw_many(img, dark, _BLACK)
    tx.draw_many(img, light, _WHITE)
    return _grid_lines(img, ys, xs)


def cam_picture(image: np.ndarray, cam: np.ndarray, cmap: str = CAM_CMAP, centres: Centres = None) -> np.ndarray:
    """The Grad-CAM over the picture, cell by cell (its positive part, scaled to its maximum; an empty
    map is all at the bottom colour), the grid drawn lightly."""
    a = np.clip(as_map(cam), 0.0, None)
    img = _phone(image)
    ys, xs = cell_edges(a.shape, img.shape[:2], centres)
    top = float(a.max())
    heat = a / top if top > 0 else np.zeros_like(a)
    out = overlay(img, _per_cell(heat.astype(np.float32), ys, xs), alpha=CAM_ALPHA, cmap=cmap)
    return _grid_lines(out, ys, xs)


def overlap_picture(image: np.ndarray, cam: np.ndarray, counts: np.ndarray, centres: Centres = None) -> np.ndarray:
    """Where the class's taps and the model's heat meet (``pointing.overlap``, on its own fixed scale:
    the darkest red only where the most chosen cell is also the hottest), tinted by
    :data:`OVERLAP_CMAP` over the picture in grey; 0 (nobody tapped, or no heat) stays grey."""
    ov = overlap(as_map(cam), as_map(counts))
    img = _phone(image)
    ys, xs = cell_edges(ov.shape, img.shape[:2], centres)
    return _grid_lines(_tinted_cells(img, ov, OVERLAP_CMAP, ys, xs, top=1.0), ys, xs)


def _dot(img: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """A white dot ringed in black at the centre of ``box`` (in place)."""
    x0, y0, x1, y1 = box
    r = max(3, min(x1 - x0, y1 - y0) // 7)
    box = img[y0:y1, x0:x1]  # a view: drawing in it draws in img
    cx, cy = (x1 - x0 - 1) / 2, (y1 - y0 - 1) / 2
    yy, xx = np.ogrid[:box.shape[0], :box.shape[1]]
    d2 = (xx - cx) ** 2 + (yy - cy) ** 2
    box[d2 <= (r + 1.5) ** 2] = _BLACK
    box[d2 <= r ** 2] = _WHITE


def own_picture(image: np.ndarray, cam: np.ndarray, cells: Sequence[int], cmap: str = CAM_CMAP,
                centres: Centres = None) -> np.ndarray:
    """One phone's cells outlined on the Grad-CAM (white, edged in black, :data:`OUTLINE` px inside each
    cell's box) and the model's hottest cells marked with a white dot; a cell off the grid is refused
    (``pointing.check_cells``)."""
    img = cam_picture(image, cam, cmap, centres)
    H, W = img.shape[:2]
    grid = as_map(cam).shape
    for cell in hottest_cells(cam):
        _dot(img, cell_box(cell, grid, (H, W), centres))
    for cell in check_cells(cells, grid):
        x0, y0, x1, y1 = cell_box(cell, grid, (H, W), centres)
        _outline(img, x0, y0, x1 - 1, y1 - 1, _BLACK, width=OUTLINE)
        _outline(img, x0 + 1, y0 + 1, x1 - 2, y1 - 2, _WHITE, width=OUTLINE - 2)
    return img


def reveal_picture(image: np.ndarray, cam: np.ndarray, counts: np.ndarray, captions: bool = True,
                   class_name: str | None = None, method: str = "Grad-CAM", centres: Centres = None) -> np.ndarray:
    """The slide: the class's taps, the Grad-CAM and their overlap side by side (:data:`GAP` px of
    white between them), each with a short caption above it drawn with the app's glyph atlas
    (``captions=False``: the pictures alone)."""
    image = _phone(image)  # once for the three (each then finds it at its size)
    tiles = [taps_picture(image, counts, centres), cam_picture(image, cam, centres=centres),
             overlap_picture(image, cam, counts, centres)]
    if captions:
        cam_caption = (say("reveal.caption_cam", method=method, name=class_name) if class_name
                       else say("reveal.caption_cam_plain", method=method))
        texts = [say("reveal.caption_taps"), cam_caption, say("reveal.caption_overlap")]
        tiles = [grids.caption_image(t, s, font_size=CAPTION_SIZE) for t, s in zip(tiles, texts)]
    H = tiles[0].shape[0]
    gap = np.full((H, GAP, 3), 255, np.uint8)
    return np.concatenate([tiles[0], gap, tiles[1], gap, tiles[2]], axis=1)


# ------------------------------------------------------------------------------------------ words
def cell_name(cell: int, grid: tuple[int, int]) -> str:
    """"row 2, column 5": the cell's row and column counted from 1, as a person counts."""
    r, c = divmod(int(cell), int(grid[1]))
    return say("reveal.cell", row=r + 1, column=c + 1)


def cells_names(cells: Sequence[int], grid: tuple[int, int]) -> str:
    """Several cells named, in order, joined by the catalogue's separator."""
    return say("reveal.cell_sep").join(cell_name(c, grid) for c in cells)


def _pct(x: float) -> int:
    """A share as it is written (whole percents: the catalogue's ``{heat_pct:.0f} %`` of ``100 * share``)."""
    return int(format(100 * float(x), ".0f"))


def compare_code(heat: float, area: float) -> str:
    """How a heat share stands against its area share, as written: "strong" (at least
    :data:`STRONG` times), "more", "same" (the same whole percent) or "less"."""
    hp, ap = _pct(heat), _pct(area)
    if hp == ap:
        return "same"
    if hp < ap:
        return "less"
    return "strong" if area > 0 and heat / area >= STRONG else "more"


def _compare(heat: float, area: float, section: str) -> str:
    code = compare_code(heat, area)
    return say(f"reveal.{section}.{code}", ratio=heat / area if area > 0 else 0.0)


def _target(hottest: Sequence[int], grid: tuple[int, int]) -> str:
    if len(hottest) == 1:
        return say("reveal.target_one", cell=cell_name(hottest[0], grid))
    return say("reveal.target_tied", n=len(hottest), cells=cells_names(hottest, grid))


def _hottest_sentence(hottest: Sequence[int], grid: tuple[int, int], name: str) -> str:
    if len(hottest) == 1:
        return say("reveal.hottest_one", name=name, cell=cell_name(hottest[0], grid))
    return say("reveal.hottest_tied", name=name, n=len(hottest), cells=cells_names(hottest, grid))


def reveal_text(cs: ClassScore, class_name: str, model_title: str, method: str = "Grad-CAM") -> str:
    """The projector's sentences (markdown), each from the numbers of ``cs``: who chose the model's
    hottest cell, how much of its heat lies in the cells most chose against the area they cover, and
    a note when the popular cells were cut from a tie."""
    parts = [say("reveal.title", method=method, model=model_title, name=class_name)]
    grid = tuple(cs.grid)
    hottest = tuple(cs.hottest)
    if cs.empty:
        parts.append(say("reveal.empty", name=class_name))
        if cs.answered == 1:
            parts.append(say("reveal.empty_answered_one"))
        elif cs.answered > 1:
            parts.append(say("reveal.empty_answered", answered=cs.answered))
        return " ".join(parts)
    if cs.answered == 0:
        parts += [say("reveal.nobody"), _hottest_sentence(hottest, grid, class_name)]
        return " ".join(parts)
    target = _target(hottest, grid)
    if cs.answered == 1:
        parts.append(say("reveal.one_hit" if cs.hits else "reveal.one_miss", target=target))
    elif cs.hits == cs.answered:
        parts.append(say("reveal.all_hit", answered=cs.answered, target=target))
    elif cs.hits == 0:
        parts.append(say("reveal.none_hit", answered=cs.answered, target=target))
    else:
        parts.append(say("reveal.some_hit", hits=cs.hits, answered=cs.answered, target=target))
    n = len(cs.popular)
    key = ("reveal.single_" if cs.answered == 1 else "reveal.popular_") + ("one" if n == 1 else "many")
    parts.append(say(key, heat_pct=100 * cs.heat_popular, area_pct=100 * cs.area_popular, n=n,
                     total=int(grid[0]) * int(grid[1]),
                     compare=_compare(cs.heat_popular, cs.area_popular, "compare")))
    tied = tied_out(cs.counts, cs.popular)
    if tied:
        parts.append(say("reveal.tie_one") if tied == 1 else say("reveal.tie_many", tied=tied))
    if cs.answered > 1:
        parts.append(say("reveal.mean", mean_pct=100 * cs.mean_heat_share))
    return " ".join(parts)


def own_text(s: Score, class_name: str) -> str:
    """One phone's sentences: whether its cells hold the model's hottest cell, and their heat share
    against their area share (an empty map: no score, never "missed")."""
    grid = tuple(s.grid)
    if s.empty:
        return say("reveal.own_empty", name=class_name)
    if not s.cells:
        return " ".join([say("reveal.own_none"), _hottest_sentence(s.hottest, grid, class_name)])
    n = len(s.cells)
    target = _target(s.hottest, grid)
    one = "one" if n == 1 else "many"
    first = say(f"reveal.own_{'hit' if s.hit else 'miss'}_{one}", target=target, n=n)
    second = say(f"reveal.own_heat_{one}", heat_pct=100 * s.heat_share, area_pct=100 * s.area_share, n=n,
                 total=int(grid[0]) * int(grid[1]),
                 compare=_compare(s.heat_share, s.area_share, "compare_own"))
    return f"{first} {second}"


def counts_text(people: int, answered: int) -> str:
    """The projector's count while answers arrive (never their content): "12 phones joined · 9 answered"."""
    people, answered = int(people), int(answered)
    if people <= 0:
        return say("reveal.counts.none")
    return say("reveal.counts.one" if people == 1 else "reveal.counts.many", people=people, answered=answered)


def reveal_alt(cs: ClassScore, class_name: str, method: str = "Grad-CAM", cam: np.ndarray | None = None) -> str:
    """The text alternative of the three pictures (:func:`reveal_picture`), left to right. With
    ``cam``, the overlap's strongest cell is named; without it, its share of heat is given."""
    grid = tuple(cs.grid)
    counts = np.asarray(cs.counts)
    parts = [say("reveal.alt.intro", name=class_name)]
    if cs.answered == 0:
        parts.append(say("reveal.alt.taps_none"))
    elif cs.answered == 1:
        parts.append(say("reveal.alt.taps_single", cells=cells_names(np.flatnonzero(counts.ravel()), grid)))
    else:
        top = cs.popular[0]
        parts.append(say("reveal.alt.taps", answered=cs.answered, cell=cell_name(top, grid),
                         count=int(counts.flat[top])))
    hottest = tuple(cs.hottest)
    if cs.empty:
        parts.append(say("reveal.alt.cam_empty", method=method))
    elif len(hottest) == 1:
        parts.append(say("reveal.alt.cam", method=method, cell=cell_name(hottest[0], grid)))
    else:
        parts.append(say("reveal.alt.cam_tied", method=method, n=len(hottest), cells=cells_names(hottest, grid)))
    if cam is not None:
        ov = overlap(cam, counts)
        if ov.max() > 0:
            parts.append(say("reveal.alt.overlap", cell=cell_name(int(np.argmax(ov)), grid)))
        else:
            parts.append(say("reveal.alt.overlap_none"))
    elif cs.empty or cs.answered == 0 or cs.heat_popular == 0:
        parts.append(say("reveal.alt.overlap_none"))
    else:
        parts.append(say("reveal.alt.overlap_numbers", heat_pct=100 * cs.heat_popular))
    return " ".join(parts)


def own_alt(s: Score, method: str = "Grad-CAM") -> str:
    """The text alternative of :func:`own_picture`: which cells are outlined, where the hottest cell
    is, and whether it is among them."""
    grid = tuple(s.grid)
    n = len(s.cells)
    if s.empty:
        parts = [say("reveal.alt.own_empty", method=method)]
        if n:
            parts.append(say("reveal.alt.own_empty_cells", cells=cells_names(s.cells, grid)))
        return " ".join(parts)
    hot, tied = cells_names(s.hottest, grid), len(s.hottest) > 1
    if not n:
        dot = say("reveal.alt.own_dot_tied", n=len(s.hottest), cells=hot) if tied else say("reveal.alt.own_dot", cells=hot)
        return " ".join([say("reveal.alt.own_no_cells", method=method), dot])
    first = say("reveal.alt.own_one" if n == 1 else "reveal.alt.own_many", n=n, method=method,
                cells=cells_names(s.cells, grid))
    key = ("reveal.alt.own_in" if s.hit else "reveal.alt.own_out") + ("_tied" if tied else "")
    return f"{first} {say(key, n=len(s.hottest), cells=hot)}"

