"""Why is this cell hot?  One cell of a CAM map, term by term, then covered and re-run.

Pure torch/numpy (no gradio): the UI (``gradcam_core.ui.cell_panel``) only places these on the page.

* :func:`cell_of_pixel` maps a tapped pixel of a picture to the (row, col) of the hooked layer's grid
  (the pixel-centre rule of ``render.enlarge``, so a tap lands in the block it visibly hit).
* :func:`cell_terms` splits the signed map at that cell into one term per channel,
  ``value = sum_k weight_k · activation_k``, exactly as the method combined them (Grad-CAM:
  ``alpha_k · A^k[row, col]``; HiResCAM and LayerCAM: the gradient *at this cell* is the weight;
  Eigen-CAM: the principal component's loading times the centred activation).
* :func:`footprint` measures what a cell sees on the input from the network itself: the support
  of its input gradient (its receptive field) and the square around the centre of the gradient's
  energy that holds half of it (cached per model, layer, grid and cell; issue 24).
* :func:`occlude` covers that square with the trust panel's baseline (``sanity.make_baseline``)
  and re-runs the model, next to a few random boxes of the same size placed where covering
  changes the input (seeded, so the numbers repeat); :func:`claim_of` says what a warm cell of
  each method claims ("for", "against" or nothing), and the comparison rule is :data:`SPREADS`.
* :func:`cell_centres` gives where each cell looks (the centre of its receptive field): the MNIST
  overlay draws each cell there (``postprocess.place``); :func:`placement_offsets` measures how
  far the stretched drawing is from it.

The words and pictures (equation, sentences, the JSON report, the waterfall) are
:mod:`gradcam_core.present.cell_view`.
"""
from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

from gradcam_core.cam.engine import BaseCAM, CAMResult, eval_mode
from gradcam_core.cam.methods import METHODS
# how a map is drawn over the input: the one parser of the app (re-exported here)
from gradcam_core.inputs import DEFAULT_PLACEMENT, PLACEMENTS, parse_placement

__all__ = [
    "CellTerms",
    "Occlusion",
    "check_cell",
    "cell_of_pixel",
    "footprint",
    "cell_terms",
    "grouped_terms",
    "occlude",
    "model_input",
    "N_RANDOM",
    "TOP_TERMS",
    "SPREADS",
    "Footprint",
    "stretched_box",
    "cell_centres",
    "input_gradient",
    "layer_output",
    "claim_of",
    "PLACEMENTS",
    "placement_offsets",
    "MEASURED_OFFSETS",
    "DEFAULT_PLACEMENT",
    "parse_placement",
    "placement_centres",
    "drawn_heat",
]

#: Random rectangles covered for the chance comparison (the median is reported).
N_RANDOM = 7
#: Terms shown one by one on models with many channels; the rest are summed into one bar.
TOP_TERMS = 10
#: The comparison rule of the cover test: two scores differ when they lie more than this many
#: spreads apart (the spread: the standard deviation of the random boxes' scores).
SPREADS = 1.0
#: Relative tolerance of the check that the terms add up to the engine's value.
SUM_RTOL = 1e-4

def claim_of(method: str) -> str | None:
    """What a warm cell of ``method``'s map claims about the class, from its class's facts
    (cam.methods): its features raise the score ("for"), lower it ("against": ``negated``), or
    nothing about any class (None: ``class_free``)."""
    cls = METHODS.get(method)
    if cls is not None and cls.class_free:
        return None
    return "against" if cls is not None and cls.negated else "for"


# =========================================================================== cells and pixels
def check_cell(row, col, grid: tuple[int, int]) -> tuple[int, int]:
    """(row, col) as ints inside ``grid`` = (h, w); ValueError naming the valid range otherwise."""
    h, w = int(grid[0]), int(grid[1])
    out = []
    for name, v, n in (("row", row, h), ("column", col, w)):
        if v is None or v == "" or isinstance(v, bool):
            raise ValueError(f"Give a {name} between 0 and {n - 1}.")
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"The {name} must be a whole number between 0 and {n - 1}, not {v!r}.") from None
        if not math.isfinite(f) or f != int(f):
            raise ValueError(f"The {name} must be a whole number between 0 and {n - 1}, not {v!r}.")
        if not 0 <= int(f) < n:
            raise ValueError(f"The {name} {int(f)} is outside the {h}×{w} map: choose 0 to {n - 1}.")
        out.append(int(f))
    return out[0], out[1]


def cell_of_pixel(x, y, box: Sequence[float], grid: tuple[int, int], centres=None,
                  size: tuple[int, int] | None = None) -> tuple[int, int]:
    """The (row, col) of the ``grid`` = (h, w) cell under picture pixel (x, y), the map being drawn
    in ``box`` = (x0, y0, x1, y1) (x1, y1 exclusive).  Pixel-centre rule, as ``render.enlarge``:
    col = floor((x - x0 + 0.5) · w / (x1 - x0)).  A browser may report x1 for the last pixel column
    (it rounds), which counts as the last column; anything else outside the box is a ValueError.

    With ``centres`` = (row centres, column centres) in pixels of an input of ``size`` = (H, W)
    (a map drawn with each cell at the centre of what it sees, ``postprocess.place``): the cell
    whose centre is nearest to the tapped point, i.e. the cell whose value dominates the picture there."""
    try:
        x, y = float(x), float(y)
    except (TypeError, ValueError):
        raise ValueError("Tap on the map itself.") from None
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (math.isfinite(x) and math.isfinite(y)) or not (x0 <= x <= x1 and y0 <= y <= y1):
        raise ValueError("That point is not on the map: tap inside the coloured map itself.")
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


def layer_output(model: nn.Module, layer: str, x: torch.Tensor) -> torch.Tensor:
    """The output of ``model``'s module ``layer`` for input ``x`` (the forward pass stops there).
    The hook acts on this thread's forward pass only: the model is shared, and another request's
    forward may run through the same module meanwhile (as engine._capture)."""
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
        raise ValueError(f"The layer {layer!r} did not run.")
    return out["o"]


def input_gradient(model: nn.Module, layer: str, x: torch.Tensor, row: int, col: int) -> torch.Tensor:
    """|∂(Σ_k A^k[row, col]) / ∂x| summed over the input's channels: (N, H, W), one map per input."""
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad(), eval_mode(model):
        a = layer_output(model, layer, x)
        (g,) = torch.autograd.grad(a[:, :, int(row), int(col)].sum(), x)
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


_footprints: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()
_fp_lock = threading.Lock()


def footprint(model: nn.Module, layer: str, row: int, col: int, grid: tuple[int, int],
              shape: tuple[int, int, int]) -> Footprint:
    """What cell (row, col) of ``layer``'s ``grid`` = (h, w) sees on ``model``'s input of ``shape`` =
    (C, H, W) (see :class:`Footprint`).  Cached per model, layer, grid, input shape and cell."""
    row, col = check_cell(row, col, grid)
    key = (str(layer), tuple(int(v) for v in grid), tuple(int(v) for v in shape), row, col)
    with _fp_lock:
        cached = _footprints.setdefault(model, {}).get(key)
    if cached is not None:
        return cached
    C, H, W = (int(v) for v in shape)
    probes = _probes((C, H, W))
    g = input_gradient(model, layer, probes, row, col).double().numpy()
    nz = (g > 0).any(0)
    if not nz.any():
        raise ValueError(f"Cell ({row}, {col}) of {layer} does not depend on the input.")
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
                      cells=None) -> dict[tuple[int, int], float]:
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


def cell_centres(model: nn.Module, layer: str, grid: tuple[int, int], shape: tuple[int, int, int]):
    """(row centres, column centres) in input pixel indices: the centre of each cell's gradient
    support (its receptive field), row r read on cell (r, 0) and column c on cell (0, c).  For a
    network without padding (LeNet) these are exact and do not depend on the weights: relu2 row r
    sees rows 2r … 2r+13, centre 2r + 6.5."""
    h, w = (int(v) for v in grid)
    ys = [footprint(model, layer, r, 0, grid, shape).support_centre[0] for r in range(h)]
    xs = [footprint(model, layer, 0, c, grid, shape).support_centre[1] for c in range(w)]
    return np.array(ys), np.array(xs)


def placement_centres(model: nn.Module, layer: str, grid: tuple[int, int], shape: tuple[int, int, int],
                      placement=None):
    """Where the map of ``layer`` is drawn for ``placement`` (parsed: None → the default): the
    :func:`cell_centres` for "receptive field", None for "stretched" (postprocess.heat_picture
    reads None as the stretched drawing).  The one placement function of the MNIST tab, the
    Shortcuts tab, the trust panel and the command line."""
    if parse_placement(placement) == "stretched":
        return None
    return cell_centres(model, layer, tuple(int(v) for v in grid), tuple(int(v) for v in shape))


def drawn_heat(model: nn.Module, layer: str, result: CAMResult, index: int = 0, placement=None,
               channels: int = 1) -> np.ndarray:
    """Sample ``index`` of ``result`` (a map of ``model``'s ``layer``, whose input has ``channels``
    colour channels) as drawn over the input, (H, W) floats: each cell at the centre of what it
    sees, or stretched (see :func:`placement_centres`)."""
    from gradcam_core.cam.postprocess import heat_picture

    shape = (int(channels), *result.input_size)
    centres = placement_centres(model, layer, tuple(result.cam.shape[-2:]), shape, placement)
    return heat_picture(result.cam[index], result.input_size, centres).numpy()


# =========================================================================== the terms
@dataclass
class CellTerms:
    """One cell's signed value, one term per channel: ``terms = weights * activations``."""

    row: int
    col: int
    grid: tuple[int, int]
    method: str
    kind: str  # "channel", "gradient", "positive gradient" or "centred"
    weights: np.ndarray  # (K,) float64
    activations: np.ndarray  # (K,) float64
    terms: np.ndarray  # (K,) float64
    value: float  # the engine's weighted[row, col]
    relu: float  # the engine's cam[row, col]
    peak: float  # the map's maximum after ReLU
    target: int

    @property
    def order(self) -> np.ndarray:
        """Channel indices by falling term (pushes first, then pulls); ties: lower channel first."""
        return np.argsort(-self.terms, kind="stable")

    def contributions(self) -> list[dict]:
        """One entry per channel, sorted as :attr:`order`: {channel, weight, activation, value}."""
        return [{"channel": int(k), "weight": float(self.weights[k]), "activation": float(self.activations[k]),
                 "value": float(self.terms[k])} for k in self.order]


def _kind(method: str) -> str:
    """How ``method``'s cells split into channel terms: its class's ``cell_terms`` (cam.methods)."""
    cls = METHODS.get(method)
    kind = "channel" if cls is None else cls.cell_terms
    if kind != "channel":
        return kind
    if cls is not None and cls.combine is not BaseCAM.combine:
        raise ValueError(f"{method} does not combine its maps as one weight per channel; its cells cannot be "
                         "split into channel terms.")
    return "channel"


def cell_terms(result: CAMResult, row, col, index: int = 0) -> CellTerms:
    """The value of ``result``'s signed map at (row, col), split into one term per channel."""
    grid = tuple(int(s) for s in result.weighted.shape[-2:])
    row, col = check_cell(row, col, grid)
    method = result.method
    kind = _kind(method)
    act = result.activations[index].double()  # (K, h, w)
    if kind == "channel":
        weights = result.weights[index].double()
        a = act[:, row, col]
    elif kind == "centred":
        weights = result.weights[index].double()
        a = act[:, row, col] - act.mean(dim=(1, 2))
    else:
        if result.gradients is None:
            raise ValueError(f"{method} needs the gradients, which this result does not hold.")
        g = result.gradients[index, :, row, col].double()
        weights = torch.relu(g) if kind == "positive gradient" else g
        a = act[:, row, col]
    terms = (weights * a).numpy()
    value = float(result.weighted[index, row, col])
    total = float(terms.sum())
    scale = float(np.abs(terms).sum())
    if abs(total - value) > SUM_RTOL * max(abs(value), scale * 1e-2, 1e-12):
        raise ValueError(f"The channel terms of {method} add up to {total:.6g}, not the map's {value:.6g}; "
                         "this method's cells cannot be split into channel terms.")
    return CellTerms(row=row, col=col, grid=grid, method=method, kind=kind, weights=weights.numpy(),
                     activations=a.numpy(), terms=terms, value=value, relu=float(result.cam[index, row, col]),
                     peak=float(result.cam[index].max()), target=int(result.targets[index]))


def grouped_terms(ct: CellTerms, top: int | None = None) -> list[tuple[str, float]]:
    """(label, value) bars in the order drawn (by falling value): each channel with a non-zero
    term, then one "n channels at 0" bar for the exact zeros (a ReLU layer has many).  With ``top``
    and more non-zero terms than that: the ``top`` largest by |term| and one "other K − n channels"
    bar holding the sum of all the rest, so the bars still add up exactly to the cell's value."""
    k = ct.terms.size
    nonzero = [int(c) for c in ct.order if ct.terms[c] != 0]
    if top is not None and len(nonzero) > top:
        big = [int(c) for c in np.argsort(-np.abs(ct.terms), kind="stable")[:top]]
        shown = sorted(big, key=lambda c: -ct.terms[c])
        rest = np.setdiff1d(np.arange(k), big)
        return [(f"ch {c}", float(ct.terms[c])) for c in shown] + [
            (f"other {k - top} channels", float(ct.terms[rest].sum()))]
    bars = [(f"ch {c}", float(ct.terms[c])) for c in nonzero]
    zeros = k - len(nonzero)
    if zeros:
        bars.append((f"{zeros} channel{'s' if zeros > 1 else ''} at 0", 0.0))
    return bars


# =========================================================================== covering the cell
@dataclass
class Occlusion:
    """Class score and probability before / after covering a cell's footprint, and for random
    boxes of the same size placed where covering changes the input (see :func:`occlude`)."""

    target: int
    baseline: str
    box: tuple[int, int, int, int]  # (top, bottom, left, right) of the covered footprint
    score_before: float
    prob_before: float
    score_after: float
    prob_after: float
    random_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    random_scores: list[float] = field(default_factory=list)
    random_probs: list[float] = field(default_factory=list)
    fp: Footprint | None = None  # what the cell sees (None: a box given by hand)
    content: float = float("nan")  # how much covering the cell changes the input: Σ |input − baseline| over the box (nan: not measured)
    random_content: list[float] = field(default_factory=list)
    on_content: bool = True  # every random box obeys the content rule of _random_boxes

    @property
    def random_median_after(self) -> float:
        return float(np.median(self.random_scores))

    @property
    def random_median_prob_after(self) -> float:
        return float(np.median(self.random_probs))

    @property
    def spread(self) -> float:
        """The random boxes' spread: the standard deviation of their scores (ddof = 1; 0 for < 2)."""
        return float(np.std(self.random_scores, ddof=1)) if len(self.random_scores) > 1 else 0.0

    def as_dict(self) -> dict:
        t, b, l, r = self.box
        out = {"score_before": self.score_before, "score_after": self.score_after,
               "random_median_after": self.random_median_after, "random_spread": self.spread,
               "prob_before": self.prob_before, "prob_after": self.prob_after,
               "random_median_prob_after": self.random_median_prob_after,
               "random_scores_after": list(self.random_scores),
               "covered": {"top": t, "bottom": b, "left": l, "right": r},
               "covered_change": self.content,
               "random_covered": [{"top": a, "bottom": bb, "left": c, "right": d, "change": ch}
                                  for (a, bb, c, d), ch in zip(self.random_boxes, self.random_content)],
               "random_on_content": self.on_content,
               "baseline": self.baseline, "target": self.target}
        if self.fp is not None:
            out["footprint"] = self.fp.as_dict()
        return out


def _box_sums(change: np.ndarray, fh: int, fw: int) -> np.ndarray:
    """Σ ``change`` over every fh×fw box: (H − fh + 1, W − fw + 1), indexed by the top-left pixel."""
    cs = np.pad(change, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return cs[fh:, fw:] - cs[:-fh, fw:] - cs[fh:, :-fw] + cs[:-fh, :-fw]


def _random_boxes(box, change: np.ndarray, n: int, seed: int) -> tuple[list, list[float], bool]:
    """``n`` boxes of ``box``'s size at random places (seeded), drawn among the places that do not
    overlap ``box`` (where the input leaves room) and where covering changes the input (Σ |input −
    baseline| over the box) at least as much as at the median place and at least
    :data:`CONTENT_SHARE` of the most it changes anywhere: (boxes, their change, True), or, when no
    place qualifies, among all places: (…, False)."""
    t, b, l, r = box
    fh, fw = b - t, r - l
    H, W = change.shape
    sums = _box_sums(change, fh, fw)
    tops, lefts = np.mgrid[:H - fh + 1, :W - fw + 1]
    apart = ~((tops < b) & (t < tops + fh) & (lefts < r) & (l < lefts + fw))
    if not apart.any():
        apart = np.ones_like(apart)
    floor = max(float(np.median(sums[apart])), CONTENT_SHARE * float(sums.max()))
    ok = apart & (sums >= floor) & (sums > 0)
    on_content = bool(ok.any())
    pool = np.flatnonzero((ok if on_content else apart).ravel())
    rng = np.random.default_rng(seed)
    pick = rng.choice(pool, size=min(n, pool.size), replace=False)
    boxes = [(int(tops.flat[i]), int(tops.flat[i]) + fh, int(lefts.flat[i]), int(lefts.flat[i]) + fw) for i in pick]
    return boxes, [float(sums.flat[i]) for i in pick], on_content


def cover(x: torch.Tensor, base: torch.Tensor, box: tuple[int, int, int, int]) -> torch.Tensor:
    """``x`` with the rectangle ``box`` = (top, bottom, left, right) taken from ``base``."""
    t, b, l, r = box
    out = x.clone()
    out[..., t:b, l:r] = base[..., t:b, l:r]
    return out


def occlude(model: nn.Module, x: torch.Tensor, target: int, row: int, col: int, grid: tuple[int, int],
            baseline: str = "blur", n_random: int = N_RANDOM, seed: int = 0, *, layer: str | None = None,
            box: tuple[int, int, int, int] | None = None) -> Occlusion:
    """Cover what cell (row, col) of ``layer`` sees (its :func:`footprint` box) on ``x`` (1, C, H, W)
    with the ``baseline`` image of ``sanity.make_baseline`` and re-run ``model``; the same for
    ``n_random`` boxes of the same size at random places where covering changes the input (see
    :func:`_random_boxes`).  ``box`` instead of ``layer``: cover that box.  All the covered inputs
    and ``x`` itself run in one batch."""
    from gradcam_core.analysis.sanity import make_baseline

    row, col = check_cell(row, col, grid)
    fp = None
    if box is None:
        if layer is None:
            raise ValueError("occlude needs the layer whose cell is covered (or a box).")
        fp = footprint(model, layer, row, col, grid, tuple(x.shape[1:]))
        box = fp.box
    base = make_baseline(x, baseline)
    change = (x - base).abs().sum(dim=(0, 1)).double().numpy()
    t, b, l, r = box
    boxes, contents, on_content = _random_boxes(box, change, int(n_random), seed)
    batch = torch.cat([x, cover(x, base, box)] + [cover(x, base, bx) for bx in boxes])
    with torch.inference_mode(), eval_mode(model):
        logits = model(batch).float()
    probs = torch.softmax(logits, dim=1)[:, int(target)]
    scores = logits[:, int(target)]
    return Occlusion(target=int(target), baseline=baseline, box=tuple(box),
                     score_before=float(scores[0]), prob_before=float(probs[0]),
                     score_after=float(scores[1]), prob_after=float(probs[1]), random_boxes=boxes,
                     random_scores=[float(s) for s in scores[2:]], random_probs=[float(p) for p in probs[2:]],
                     fp=fp, content=float(change[t:b, l:r].sum()), random_content=contents, on_content=on_content)


def model_input(spec, image: np.ndarray) -> torch.Tensor:
    """The model's input (1, C, H, W) from the uint8 crop it saw (``Explanation.image``): the
    normalisation of ``spec.preprocess`` without its resize and crop (preprocess(img) ==
    normalise(display_image(img)) for every registered model)."""
    from gradcam_core.models.registry import LITE0_MEAN, LITE0_STD, EfficientNetLite0Spec

    arr = np.asarray(image)
    if isinstance(spec, EfficientNetLite0Spec):
        x = torch.from_numpy((arr.astype(np.float32) - LITE0_MEAN) / LITE0_STD).permute(2, 0, 1).contiguous()
        return x.unsqueeze(0)
    if hasattr(spec, "transforms"):
        import torchvision.transforms.functional as TF
        from PIL import Image

        t = spec.transforms()
        x = TF.normalize(TF.pil_to_tensor(Image.fromarray(arr)).float() / 255.0, list(t.mean), list(t.std))
        return x.unsqueeze(0)
    raise ValueError(f"Cannot rebuild the input of {getattr(spec, 'title', spec)} from its picture.")


# =========================================================================== words
