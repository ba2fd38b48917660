"""Where people look versus where the model looks: the scores of a workshop's guess exercise (issue 26).

Numbers and codes only (no words, no pictures: ``present.room_view`` turns these into both).

Cells are flat indices ``r * w + c`` on the model's grid, the CAM's own ``(h, w)`` (e.g. 7×7 for a
ResNet's last block); a person taps at most :data:`MAX_CELLS` of them (the service enforces it; the
scores here accept any set, so "every cell" is a valid check).

The heat of a map (:func:`cell_heat`) is its positive part, normalised to sum to 1: a Grad-CAM is
already ReLU'd, and negative values (if a raw map has any) are evidence *against* the class, which is
no "heat". A map with no positive value is **empty**: it has no hottest cell, nobody hits or misses,
and every share is 0.

Two scores for one person (:func:`score`):

* **the pointing game** (Zhang et al. 2016): a *hit* when one of the map's hottest cells
  (:func:`hottest_cells`: every cell within ``1e-6 · max`` of the maximum, so ties all count) is
  among the person's cells;
* **heat share against area share**: the share of the map's heat in the person's cells, set against
  the share of the grid those cells cover (what an evenly spread map would give them). Heat share
  above area share means the model's evidence is concentrated where the person looked.

For the class (:func:`score_class`), ``counts`` holds how many people chose each cell, and
``popular`` -- "the cells most of you chose" -- follows :data:`POPULAR_RULE`:

    the cells with the highest counts, at most :data:`MAX_CELLS` of them and only cells somebody
    chose, highest count first; cells with equal counts are taken in reading order (row by row, top
    to bottom, each row left to right), so the rule never looks at the model's map.

When the cut at :data:`MAX_CELLS` falls inside a group of equal counts, :func:`tied_out` tells how
many cells were left out although chosen just as often (the words say so).

:func:`overlap` is where taps and heat meet, cell by cell: the smaller of the two, each scaled to its
own maximum (``min(heat / max heat, count / max count)``), so it is 0 wherever nobody tapped or the
map has no heat, and 1 only where the most chosen cell is also the hottest.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from gradcam_core.base.errors import Refusal

__all__ = ["MAX_CELLS", "POPULAR_RULE", "HOTTEST_RTOL", "Score", "ClassScore", "cell_heat", "hottest_cells",
           "score", "score_class", "overlap", "popular_cells", "tied_out", "check_cells", "grid_of",
           "reveal_numbers", "as_map"]

#: The most cells one person may tap in a guess exercise.
MAX_CELLS = 3
#: A cell is "hottest" when its value is within this fraction of the maximum from the maximum.
HOTTEST_RTOL = 1e-6
#: The rule of ``ClassScore.popular``, as a code (documented above; tests/test_pointing.py checks it).
POPULAR_RULE = "top_counts_reading_order"


def as_map(cam: Any) -> np.ndarray:
    """The CAM (an array, a tensor, a list of lists; a leading axis of 1, as the engine's ``(1, h, w)``,
    is dropped) as a finite float64 (h, w) array, NaN and ±inf as 0; Refusal("reveal.bad_map") for
    anything else."""
    try:
        a = np.asarray(cam, dtype=np.float64)
    except (TypeError, ValueError):
        raise Refusal("reveal.bad_map", shape="?") from None
    while a.ndim > 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise Refusal("reveal.bad_map", shape="×".join(str(n) for n in a.shape) or "0")
    return np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)


def grid_of(cam: Any) -> tuple[int, int]:
    """The ``(h, w)`` grid of a CAM (its own shape)."""
    a = as_map(cam)
    return int(a.shape[0]), int(a.shape[1])


def cell_heat(cam: np.ndarray) -> np.ndarray:
    """The share of the map's heat in each cell: ``(h, w)``, ≥ 0, summing to 1; all zeros when the map
    has no positive value (an empty map). Negative values and NaN count as no heat."""
    a = np.clip(as_map(cam), 0.0, None)
    total = float(a.sum())
    if not (total > 0.0 and np.isfinite(total)):
        return np.zeros_like(a)
    return a / total


def hottest_cells(cam: np.ndarray) -> tuple[int, ...]:
    """Every cell whose value is within ``HOTTEST_RTOL · max`` of the map's maximum, as sorted flat
    indices; ``()`` for an empty map (no positive value)."""
    a = np.clip(as_map(cam), 0.0, None)
    top = float(a.max())
    if not top > 0.0:
        return ()
    return tuple(int(i) for i in np.flatnonzero(a.ravel() >= top - HOTTEST_RTOL * top))


def check_cells(cells: Sequence[Any], grid: tuple[int, int]) -> tuple[int, ...]:
    """The cells as sorted distinct flat indices, each checked to lie on the ``(h, w)`` grid:
    Refusal("reveal.bad_cell", cell=, last=, h=, w=) for a cell that is not a whole number in
    ``0 … h·w − 1`` (booleans are not cells)."""
    h, w = int(grid[0]), int(grid[1])
    out = set()
    for c in cells:
        ok = isinstance(c, numbers.Integral) and not isinstance(c, bool)
        if not ok and isinstance(c, numbers.Real) and not isinstance(c, bool) and float(c).is_integer():
            ok, c = True, int(c)
        if not ok or not 0 <= int(c) < h * w:
            raise Refusal("reveal.bad_cell", cell=str(c)[:20], last=h * w - 1, h=h, w=w)
        out.add(int(c))
    return tuple(sorted(out))


@dataclass(frozen=True)
class Score:
    """One person's score on one map.

    ``cells``: their cells (sorted, distinct); ``hottest``: the map's hottest cells; ``hit``: one of
    them is among ``cells`` (the pointing game; never on an empty map); ``heat_share``: the share of
    the map's heat in ``cells``; ``area_share``: the share of the grid they cover; ``empty``: the map
    has no heat (no hottest cell, no hit, heat share 0); ``grid``: the map's ``(h, w)`` (an addition to
    the contract, with a default, so a cell can be named by its row and column)."""

    cells: tuple[int, ...]
    hottest: tuple[int, ...]
    hit: bool
    heat_share: float
    area_share: float
    empty: bool
    grid: tuple[int, int] = field(default=(0, 0))


def score(cam: np.ndarray, cells: Sequence[int]) -> Score:
    """The pointing game and heat share of ``cells`` on ``cam`` (see the module's docstring)."""
    heat = cell_heat(cam)
    h, w = heat.shape
    mine = check_cells(cells, (h, w))
    hottest = hottest_cells(cam)
    empty = not hottest
    flat = heat.ravel()
    share = float(flat[list(mine)].sum()) if mine else 0.0
    return Score(cells=mine, hottest=hottest, hit=bool(set(hottest) & set(mine)),
                 heat_share=min(1.0, share), area_share=len(mine) / (h * w), empty=empty,
                 grid=(int(h), int(w)))


def popular_cells(counts: np.ndarray, limit: int = MAX_CELLS) -> tuple[int, ...]:
    """The cells most people chose (:data:`POPULAR_RULE`): at most ``limit``, only counts ≥ 1,
    highest count first, equal counts in reading order (lower flat index first)."""
    flat = np.asarray(counts).ravel()
    chosen = [int(i) for i in np.flatnonzero(flat > 0)]
    chosen.sort(key=lambda i: (-int(flat[i]), i))
    return tuple(chosen[:max(0, int(limit))])


def tied_out(counts: np.ndarray, popular: Sequence[int]) -> int:
    """How many cells outside ``popular`` were chosen exactly as often as the least chosen popular
    cell (0 when the cut fell between two different counts): the cells the reading-order rule left out."""
    flat = np.asarray(counts).ravel()
    if not len(popular):
        return 0
    low = min(int(flat[i]) for i in popular)
    return int(np.count_nonzero(flat == low)) - sum(1 for i in popular if int(flat[i]) == low)


@dataclass(frozen=True)
class ClassScore:
    """The class's answers against one map.

    ``answered``: people with at least one cell; ``grid``: the map's ``(h, w)``; ``counts``: (h, w)
    ints, people per cell; ``popular``: the cells most of them chose (:data:`POPULAR_RULE`);
    ``hits``: people whose cells hold a hottest cell; ``heat_popular`` / ``area_popular``: the share of
    the map's heat in ``popular`` and the share of the grid it covers; ``mean_heat_share``: the mean of
    the people's own heat shares (0 when nobody answered); ``empty``: the map has no heat;
    ``hottest``: the map's hottest cells (an addition to the contract, for the words and the alt text)."""

    answered: int
    grid: tuple[int, int]
    counts: np.ndarray
    popular: tuple[int, ...]
    hits: int
    heat_popular: float
    area_popular: float
    mean_heat_share: float
    empty: bool
    hottest: tuple[int, ...] = field(default=())


def score_class(cam: np.ndarray, taps: Sequence[Sequence[int]]) -> ClassScore:
    """Score every person's taps (one sequence of cells each) against ``cam``. A person with no cell
    has not answered and is left out of every number; a cell chosen twice by one person counts once."""
    heat = cell_heat(cam)
    h, w = heat.shape
    hottest = hottest_cells(cam)
    counts = np.zeros(h * w, dtype=np.int64)
    scores = []
    for cells in taps:
        s = score(cam, cells)
        if not s.cells:
            continue
        scores.append(s)
        counts[list(s.cells)] += 1
    popular = popular_cells(counts)
    flat = heat.ravel()
    return ClassScore(
        answered=len(scores), grid=(h, w), counts=counts.reshape(h, w), popular=popular,
        hits=sum(1 for s in scores if s.hit),
        heat_popular=min(1.0, float(flat[list(popular)].sum())) if popular else 0.0,
        area_popular=len(popular) / (h * w),
        mean_heat_share=float(np.mean([s.heat_share for s in scores])) if scores else 0.0,
        empty=not hottest, hottest=hottest)


def overlap(cam: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Where taps and heat meet, per cell, in [0, 1]: ``min(heat / max heat, count / max count)``
    (0 where nobody tapped, everywhere on an empty map, and everywhere when nobody answered)."""
    heat = np.clip(as_map(cam), 0.0, None)
    n = np.asarray(counts, dtype=np.float64)
    if n.shape != heat.shape:
        raise Refusal("reveal.bad_counts", counts="×".join(str(k) for k in n.shape),
                      grid="×".join(str(k) for k in heat.shape))
    n = np.clip(np.nan_to_num(n, nan=0.0), 0.0, None)
    top_h, top_n = float(heat.max()), float(n.max())
    if not (top_h > 0 and top_n > 0):
        return np.zeros_like(heat)
    return np.minimum(heat / top_h, n / top_n)


def reveal_numbers(cs: ClassScore, scores_by_nickname: dict[str, Score]) -> dict:
    """The reveal as plain JSON (the results export): the class's numbers and each nickname's cells
    and scores. Cells stay flat indices; ``grid`` says how to read them."""
    return {
        "grid": [int(cs.grid[0]), int(cs.grid[1])],
        "empty": bool(cs.empty),
        "hottest": [int(c) for c in cs.hottest],
        "answered": int(cs.answered),
        "hits": int(cs.hits),
        "popular": [int(c) for c in cs.popular],
        "popular_rule": POPULAR_RULE,
        "heat_popular": float(cs.heat_popular),
        "area_popular": float(cs.area_popular),
        "mean_heat_share": float(cs.mean_heat_share),
        "counts": [[int(v) for v in row] for row in np.asarray(cs.counts)],
        "answers": [
            {"nickname": str(name), "cells": [int(c) for c in s.cells], "hit": bool(s.hit),
             "heat_share": float(s.heat_share), "area_share": float(s.area_share)}
            for name, s in scores_by_nickname.items()],
    }
