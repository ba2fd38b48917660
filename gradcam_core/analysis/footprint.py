"""Where a cell of a CAM map lies and what it sees, measured from the network itself (split out of
:mod:`gradcam_core.analysis.cell`, which re-exports everything here).

* :func:`check_cell`, :func:`cell_of_pixel`, :func:`stretched_box`: cells and picture pixels.
* :func:`footprint`: the support of a cell's input gradient (its receptive field) and the square
  around the centre of the gradient's energy that holds half of it (cached per model, layer, grid
  and cell).
* :func:`cell_centres`, :func:`placement_centres`, :func:`drawn_heat`: where each cell is drawn
  (the centre of what it sees); :func:`placement_offsets` measures how far the stretched drawing is
  from it.

Numbers and codes only (refusals are ``errors.Refusal`` keys of the catalogue's ``[analysis]``).
"""
from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

from gradcam_core.cam.engine import CAMResult, eval_mode
from gradcam_core.base.errors import Refusal
# how a map is drawn over the input: the one parser of the app
from gradcam_core.base.inputs import parse_placement


# =========================================================================== cells and pixels
def check_cell(row: object, col: object, grid: tuple[int, int]) -> tuple[int, int]:
    """(row, col) as ints inside ``grid`` = (h, w); ValueError naming the valid range otherwise."""
    h, w = int(grid[0]), int(grid[1])
    out = []
    for name, v, n in (("row", row, h), ("column", col, w)):
        if v is None or v == "" or isinstance(v, bool):
            raise Refusal(f"analysis.error.cell.missing_{name}", last=n - 1)
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise Refusal(f"analysis.error.cell.not_whole_{name}", last=n - 1, value=v) from None
        if not math.isfinite(f) or f != int(f):
            raise Refusal(f"analysis.error.cell.not_whole_{name}", last=n - 1, value=v)
        if not 0 <= int(f) < n:
            raise Refusal(f"analysis.error.cell.outside_{name}", index=int(f), h=h, w=w, last=n - 1)
        out.append(int(f))
    return out[0], out[1]


def cell_of_pixel(x: object, y: object, box: Sequence[float], grid: tuple[int, int],
                  centres: tuple[np.ndarray, np.ndarray] | None = None,
                  size: tuple[int, int] | None = None) -> tuple[int, int]:
    """The (row, col) of the ``grid`` = (h, w) cell under picture pixel (x, y), the map being drawn
    in ``box`` = (x0, y0, x1, y1) (x1, y1 exclusive).  Pixel-centre rule, as ``paint.enlarge``:
    col = floor((x - x0 + 0.5) · w / (x1 - x0)).  A browser may report x1 for the last pixel column
    (it rounds), which counts as the last column; anything else outside the box is a ValueError.

    With ``centres`` = (row centres, column centres) in pixels of an input of ``size`` = (H, W)
    (a map drawn with each cell at the centre of what it sees, ``postprocess.place``): the cell
    whose centre is nearest to the tapped point, i.e. the cell whose value dominates the picture there."""
    try:
        x, y = float(x), float(y)
    except (TypeError, ValueError):
        raise Refusal("analysis.error.cell.tap_off_map") from None
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (math.isfinite(x) and math.isfinite(y)) or not (x0 <= x <= x1 and y0 <= y <= y1):
        raise Refusal("analysis.error.cell.point_off_map")
    h, w = int(grid[0]), int(grid[1])
    if centres is not None:
        H, W = (int(v) for v in size)
        u = (min(x, x1 - 1) - x0 + 0.5) * W / (x1 - x0) - 0.5  # input pixel index under the tap
        v = (min(y, y1 - 1) - y0 + 0.5) * H / (y1 - y0) - 0.5
        ys, xs = (np.asarray(c, dtype=np.float64) for c in centres)
        return int(np.argmin(np.abs(ys - v))), int(np.argmin(np.abs(xs - u)))
    col = int(math.floor((min(x, x1 - 1) - x0 + 0.5) * w / (x1 - x0)))
    row = int(math.floor((min(y, y1 - 1) - y0 + 0.5) * h / (y1 - y0)))
    return min(max(row, 0), h - 1), min(max(col, 0), w - 1)


def _span(c: int, n_cells: int, n_pixels: int) -> tuple[int, int]:
    """Pixels [start, stop) of cell ``c``: those whose centre falls in it (pixel-centre rule)."""
    idx = np.flatnonzero(np.floor((np.arange(n_pixels) + 0.5) * n_cells / n_pixels).astype(int) == c)
    if idx.size == 0:  # a layer finer than the input (never for a CNN): the nearest pixel
        p = min(n_pixels - 1, int((c + 0.5) * n_pixels / n_cells))
        return p, p + 1
    return int(idx[0]), int(idx[-1]) + 1


def stretched_box(row: int, col: int, grid: tuple[int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) input pixels (bottom/right exclusive) of cell (row, col)'s block
    when the ``grid`` = (h, w) map is *stretched* over an input of ``size`` = (H, W): the blocks
    partition the input (LeNet's 8×8 on 28×28: 3 or 4 pixels a side).  This is where the usual
    drawing puts the cell, not what the cell sees: for that, :func:`footprint`."""
    t, b = _span(int(row), int(grid[0]), int(size[0]))
    l, r = _span(int(col), int(grid[1]), int(size[1]))
    return t, b, l, r


# =========================================================================== what a cell sees
class _Stop(Exception):
    """Raised by a forward hook to stop the forward pass at the hooked layer."""


#: Noise inputs whose input gradients are averaged (seeded: the same footprint every time).
PROBES = 8
PROBES_LARGE = 2  # inputs above 64×64 pixels (ImageNet): each probe is a backward pass through a deep net
#: Random boxes go only where covering changes the input at least this share of the most it changes anywhere.
CONTENT_SHARE = 0.25
#: The covered box grows around the centre until it holds this share of the cell's gradient energy.
ERF_SHARE = 0.5


@dataclass(frozen=True)
class Footprint:
    """What cell (row, col) of a layer sees on the input, measured from the network itself.

    ``g`` = ∂(Σ_k A^k[row, col]) / ∂input, summed |·| over the input's colour channels, on
    :data:`PROBES` seeded Gaussian-noise inputs (not the picture explained: the footprint belongs to
    the network, layer and cell, and is cached for them).

    * ``support``: the bounding box of the pixels where g ≠ 0 on some probe (the receptive field);
    * ``centre``: the centre of mass of g² averaged over the probes (row, col; pixel indices).  The
      square weights the core of the effective receptive field: a squeeze-excite or global path
      gives every pixel a little gradient, which would drag a plain centre of mass to the middle;
    * ``box``: the covered box, a square grown around ``centre`` one pixel at a time until it holds
      :data:`ERF_SHARE` of the energy, staying inside ``support`` with its centre within half a
      cell of ``centre``; ``share``: the energy it holds."""

    row: int
    col: int
    support: tuple[int, int, int, int]
    centre: tuple[float, float]
    box: tuple[int, int, int, int]
    share: float
    probes: int
    cell: tuple[float, float]  # one cell's size in input pixels (H / h, W / w)

    @property
    def box_centre(self) -> tuple[float, float]:
        t, b, l, r = self.box
        return (t + b - 1) / 2, (l + r - 1) / 2

    @property
    def support_centre(self) -> tuple[float, float]:
        t, b, l, r = self.support
        return (t + b - 1) / 2, (l + r - 1) / 2

    def as_dict(self) -> dict:
        t, b, l, r = self.support
        return {"support": {"top": t, "bottom": b, "left": l, "right": r},
                "centre": [round(self.centre[0], 3), round(self.centre[1], 3)],
                "energy_in_box": round(self.share, 4), "probes": self.probes}


def layer_output(model: nn.Module, layer: str, x: torch.Tensor, layout: str = "cnn") -> torch.Tensor:
    """The output of ``model``'s module ``layer`` for input ``x`` (the forward pass stops there).
    The hook acts on this thread's forward pass only: the model is shared, and another request's
    forward may run through the same module meanwhile (as engine._capture).  ``layout``: how the
    registry reshapes the layer's output into a map (a token grid, ``cam/tokens.py``; "cnn": as it is)."""
    out = {}
    owner = threading.get_ident()

    def hook(_m, _i, o):
        if threading.get_ident() != owner:
            return None
        out["o"] = o
        raise _Stop

    handle = model.get_submodule(layer).register_forward_hook(hook)
    try:
        model(x)
    except _Stop:
        pass
    finally:
        handle.remove()
    if "o" not in out:
        raise Refusal("analysis.error.cell.layer_did_not_run", layer=layer)
    if layout != "cnn":
        from gradcam_core.cam.tokens import to_maps

        return to_maps(out["o"], layout)
    return out["o"]


def token_direction(k: int) -> torch.Tensor:
    """The fixed direction (K,) along which a patch token's embedding is probed: seeded standard
    normal numbers (the same for every call, so a token's footprint repeats)."""
    return torch.randn(int(k), generator=torch.Generator().manual_seed(0))


def input_gradient(model: nn.Module, layer: str, x: torch.Tensor, row: int, col: int,
                   layout: str = "cnn") -> torch.Tensor:
    """|∂(Σ_k A^k[row, col]) / ∂x| summed over the input's channels: (N, H, W), one map per input
    (``layout``: see :func:`layer_output`; on a token grid the cell is one patch token, and the
    probe is Σ_k u_k A^k[row, col] along :func:`token_direction`: a transformer's layers are mostly
    LayerNorms, whose outputs over the dimensions of one token have a constant sum and, up to the
    norm's ε, a constant sum of squares, so neither depends on the pixels)."""
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad(), eval_mode(model):
        a = layer_output(model, layer, x, layout)
        cell = a[:, :, int(row), int(col)]
        if layout != "cnn":
            cell = cell * token_direction(cell.shape[1]).to(cell.dtype)
        (g,) = torch.autograd.grad(cell.sum(), x)
    return g.abs().sum(dim=1)


def _probes(shape: tuple[int, int, int]) -> torch.Tensor:
    c, h, w = shape
    n = PROBES if h * w <= 64 * 64 else PROBES_LARGE
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(0))


def _grow(energy: np.ndarray, centre, support, cell, share: float) -> tuple[tuple[int, int, int, int], float]:
    """The square around ``centre`` holding ``share`` of ``energy`` (see :class:`Footprint`)."""
    st, sb, sl, sr = support
    cy, cx = centre
    total = float(energy.sum())
    cs = np.pad(energy, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    mass = lambda t, b, l, r: float(cs[b, r] - cs[t, r] - cs[b, l] + cs[t, l])  # noqa: E731
    best = None
    for s in range(1, max(sb - st, sr - sl) + 1):
        sh, sw = min(s, sb - st), min(s, sr - sl)
        t = min(max(int(round(cy - (sh - 1) / 2)), st), sb - sh)
        l = min(max(int(round(cx - (sw - 1) / 2)), sl), sr - sw)
        if abs(t + (sh - 1) / 2 - cy) > cell[0] / 2 or abs(l + (sw - 1) / 2 - cx) > cell[1] / 2:
            break  # the support pushes the box more than half a cell off the centre
        best = (t, t + sh, l, l + sw)
        if total <= 0 or mass(*best) >= share * total:
            break
    if best is None:  # (not for a CNN) the one pixel nearest the centre
        t, l = int(round(cy)), int(round(cx))
        best = (t, t + 1, l, l + 1)
    return best, (mass(*best) / total if total > 0 else 0.0)


_footprints: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()
_fp_lock = threading.Lock()


def footprint(model: nn.Module, layer: str, row: int, col: int, grid: tuple[int, int],
              shape: tuple[int, int, int], layout: str = "cnn") -> Footprint:
    """What cell (row, col) of ``layer``'s ``grid`` = (h, w) sees on ``model``'s input of ``shape`` =
    (C, H, W) (see :class:`Footprint`; ``layout``: see :func:`layer_output`).  Cached per model,
    layer, layout, grid, input shape and cell."""
    row, col = check_cell(row, col, grid)
    key = (str(layer), tuple(int(v) for v in grid), tuple(int(v) for v in shape), row, col, str(layout))
    with _fp_lock:
        cached = _footprints.setdefault(model, {}).get(key)
    if cached is not None:
        return cached
    C, H, W = (int(v) for v in shape)
    probes = _probes((C, H, W))
    g = input_gradient(model, layer, probes, row, col, layout).double().numpy()
    nz = (g > 0).any(0)
    if not nz.any():
        raise Refusal("analysis.error.cell.independent", row=row, col=col, layer=layer)
    rows, cols = np.flatnonzero(nz.any(1)), np.flatnonzero(nz.any(0))
    support = (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
    energy = (g ** 2).mean(0)
    energy = energy / energy.max()
    yy, xx = np.mgrid[:H, :W]
    centre = (float((energy * yy).sum() / energy.sum()), float((energy * xx).sum() / energy.sum()))
    cell = (H / int(grid[0]), W / int(grid[1]))
    box, share = _grow(energy, centre, support, cell, ERF_SHARE)
    fp = Footprint(row, col, support, centre, box, share, int(probes.shape[0]), cell)
    with _fp_lock:
        _footprints.setdefault(model, {})[key] = fp
    return fp


def placement_offsets(model: nn.Module, layer: str, grid: tuple[int, int], shape: tuple[int, int, int],
                      cells: Sequence[tuple[int, int]] | None = None) -> dict[tuple[int, int], float]:
    """For a map stretched over the input: how far (px) the centre of each cell's gradient energy
    (:class:`Footprint`.centre) lies from the centre of its stretched block, for ``cells``
    (default: the four corners and the middle cell)."""
    h, w = (int(v) for v in grid)
    H, W = int(shape[1]), int(shape[2])
    cells = cells or [(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1), (h // 2, w // 2)]
    out = {}
    for r, c in cells:
        fp = footprint(model, layer, r, c, grid, shape)
        sy, sx = (r + 0.5) * H / h - 0.5, (c + 0.5) * W / w - 0.5
        out[(r, c)] = float(math.hypot(fp.centre[0] - sy, fp.centre[1] - sx))
    return out


#: :func:`placement_offsets` measured once for the ImageNet model that ships real weights, at its
#: default layer (tests/test_cell.py re-measures it): (corner cells' range, middle cell) in px of 224.
MEASURED_OFFSETS = {("efficientnet_lite0", "_head_act"): {"corners": (19.4, 44.1), "middle": 16.0, "grid": (7, 7)}}


def cell_centres(model: nn.Module, layer: str, grid: tuple[int, int],
                 shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(row centres, column centres) in input pixel indices: the centre of each cell's gradient
    support (its receptive field), row r read on cell (r, 0) and column c on cell (0, c).  For a
    network without padding (LeNet) these are exact and do not depend on the weights: relu2 row r
    sees rows 2r … 2r+13, centre 2r + 6.5."""
    h, w = (int(v) for v in grid)
    ys = [footprint(model, layer, r, 0, grid, shape).support_centre[0] for r in range(h)]
    xs = [footprint(model, layer, 0, c, grid, shape).support_centre[1] for c in range(w)]
    return np.array(ys), np.array(xs)


def placement_centres(model: nn.Module, layer: str, grid: tuple[int, int], shape: tuple[int, int, int],
                      placement: str | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Where the map of ``layer`` is drawn for ``placement`` (parsed: None → the default): the
    :func:`cell_centres` for "receptive field", None for "stretched" (postprocess.heat_picture
    reads None as the stretched drawing).  The one placement function of the MNIST tab, the
    Shortcuts tab, the trust panel and the command line."""
    if parse_placement(placement) == "stretched":
        return None
    return cell_centres(model, layer, tuple(int(v) for v in grid), tuple(int(v) for v in shape))


def drawn_heat(model: nn.Module, layer: str, result: CAMResult, index: int = 0, placement: str | None = None,
               channels: int = 1) -> np.ndarray:
    """Sample ``index`` of ``result`` (a map of ``model``'s ``layer``, whose input has ``channels``
    colour channels) as drawn over the input, (H, W) floats: each cell at the centre of what it
    sees, or stretched (see :func:`placement_centres`)."""
    from gradcam_core.cam.postprocess import heat_picture

    shape = (int(channels), *result.input_size)
    centres = placement_centres(model, layer, tuple(result.cam.shape[-2:]), shape, placement)
    return heat_picture(result.cam[index], result.input_size, centres).numpy()
