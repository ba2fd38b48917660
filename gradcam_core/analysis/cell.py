"""Why is this cell hot?  One cell of a CAM map, term by term, then covered and re-run.

Pure torch/numpy (no gradio): the UI (``gradcam_core.ui.cell_panel``) only places these on the page.

* :func:`cell_of_pixel` maps a tapped pixel of a picture to the (row, col) of the hooked layer's grid
  (the pixel-centre rule of ``render.enlarge``, so a tap lands in the block it visibly hit).
* :func:`cell_terms` splits the signed map at that cell into one term per channel,
  ``value = sum_k weight_k · activation_k``, exactly as the method combined them (Grad-CAM:
  ``alpha_k · A^k[row, col]``; HiResCAM and LayerCAM: the gradient *at this cell* is the weight;
  Eigen-CAM: the principal component's loading times the centred activation).
* :func:`occlude` covers the cell's footprint on the input with the trust panel's baseline
  (``sanity.make_baseline``) and re-runs the model, next to the median of a few random
  rectangles of the same size elsewhere (seeded, so the numbers repeat).

The words and pictures (equation, sentences, the JSON report, the waterfall) are
:mod:`gradcam_core.present.cell_view`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

from gradcam_core.cam.engine import BaseCAM, CAMResult, eval_mode

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
    "SCORE_TOLERANCE",
]

#: Random rectangles covered for the chance comparison (the median is reported).
N_RANDOM = 7
#: Terms shown one by one on models with many channels; the rest are summed into one bar.
TOP_TERMS = 10
#: Two scores within this fraction of the original score (at least 1 logit × this) read as "about the same".
SCORE_TOLERANCE = 0.05
#: Relative tolerance of the check that the terms add up to the engine's value.
SUM_RTOL = 1e-4

# how each method combines the maps (see methods.py); anything else: a plain weighted sum
_LOCAL = {"HiResCAM": "gradient", "LayerCAM": "positive gradient"}
_CENTRED = {"Eigen-CAM"}


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


def cell_of_pixel(x, y, box: Sequence[float], grid: tuple[int, int]) -> tuple[int, int]:
    """The (row, col) of the ``grid`` = (h, w) cell under picture pixel (x, y), the map being drawn
    in ``box`` = (x0, y0, x1, y1) (x1, y1 exclusive).  Pixel-centre rule, as ``render.enlarge``:
    col = floor((x - x0 + 0.5) · w / (x1 - x0)).  A browser may report x1 for the last pixel column
    (it rounds), which counts as the last column; anything else outside the box is a ValueError."""
    try:
        x, y = float(x), float(y)
    except (TypeError, ValueError):
        raise ValueError("Tap on the map itself.") from None
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (math.isfinite(x) and math.isfinite(y)) or not (x0 <= x <= x1 and y0 <= y <= y1):
        raise ValueError("That point is not on the map: tap inside the coloured map itself.")
    h, w = int(grid[0]), int(grid[1])
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


def footprint(row: int, col: int, grid: tuple[int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) input pixels (bottom/right exclusive) under cell (row, col) of
    ``grid`` on an input of ``size`` = (H, W): the cells partition the input (LeNet's 8×8 on 28×28:
    3 or 4 pixels a side; 7×7 on 224×224: 32)."""
    t, b = _span(int(row), int(grid[0]), int(size[0]))
    l, r = _span(int(col), int(grid[1]), int(size[1]))
    return t, b, l, r


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
    from gradcam_core.cam.methods import METHODS

    if method in _LOCAL:
        return _LOCAL[method]
    if method in _CENTRED:
        return "centred"
    cls = METHODS.get(method)
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
    """Class score and probability before / after covering a cell, and for random rectangles."""

    target: int
    baseline: str
    box: tuple[int, int, int, int]  # (top, bottom, left, right) of the covered cell
    score_before: float
    prob_before: float
    score_after: float
    prob_after: float
    random_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    random_scores: list[float] = field(default_factory=list)
    random_probs: list[float] = field(default_factory=list)

    @property
    def random_median_after(self) -> float:
        return float(np.median(self.random_scores))

    @property
    def random_median_prob_after(self) -> float:
        return float(np.median(self.random_probs))

    def as_dict(self) -> dict:
        t, b, l, r = self.box
        return {"score_before": self.score_before, "score_after": self.score_after,
                "random_median_after": self.random_median_after,
                "prob_before": self.prob_before, "prob_after": self.prob_after,
                "random_median_prob_after": self.random_median_prob_after,
                "random_scores_after": list(self.random_scores),
                "covered": {"top": t, "bottom": b, "left": l, "right": r},
                "random_covered": [{"top": a, "bottom": bb, "left": c, "right": d}
                                   for a, bb, c, d in self.random_boxes],
                "baseline": self.baseline, "target": self.target}


def _random_boxes(box, size, n: int, seed: int) -> list[tuple[int, int, int, int]]:
    """``n`` rectangles of ``box``'s size at random places of an input of ``size``, none overlapping
    ``box`` where the input leaves room (seeded)."""
    t, b, l, r = box
    fh, fw = b - t, r - l
    H, W = size
    rng = np.random.default_rng(seed)
    out = []
    tries = 0
    while len(out) < n:
        top, left = int(rng.integers(0, H - fh + 1)), int(rng.integers(0, W - fw + 1))
        tries += 1
        overlaps = top < b and t < top + fh and left < r and l < left + fw
        if overlaps and tries < 50 * n:
            continue
        out.append((top, top + fh, left, left + fw))
    return out


def cover(x: torch.Tensor, base: torch.Tensor, box: tuple[int, int, int, int]) -> torch.Tensor:
    """``x`` with the rectangle ``box`` = (top, bottom, left, right) taken from ``base``."""
    t, b, l, r = box
    out = x.clone()
    out[..., t:b, l:r] = base[..., t:b, l:r]
    return out


def occlude(model: nn.Module, x: torch.Tensor, target: int, row: int, col: int, grid: tuple[int, int],
            baseline: str = "blur", n_random: int = N_RANDOM, seed: int = 0) -> Occlusion:
    """Cover cell (row, col)'s footprint of ``x`` (1, C, H, W) with the ``baseline`` image of
    ``sanity.make_baseline`` and re-run ``model``; the same for ``n_random`` random rectangles of
    the same size.  All the covered inputs and ``x`` itself run in one batch."""
    from gradcam_core.analysis.sanity import make_baseline

    H, W = int(x.shape[-2]), int(x.shape[-1])
    row, col = check_cell(row, col, grid)
    box = footprint(row, col, grid, (H, W))
    base = make_baseline(x, baseline)
    boxes = _random_boxes(box, (H, W), int(n_random), seed)
    batch = torch.cat([x, cover(x, base, box)] + [cover(x, base, bx) for bx in boxes])
    with torch.inference_mode(), eval_mode(model):
        logits = model(batch).float()
    probs = torch.softmax(logits, dim=1)[:, int(target)]
    scores = logits[:, int(target)]
    return Occlusion(target=int(target), baseline=baseline, box=box,
                     score_before=float(scores[0]), prob_before=float(probs[0]),
                     score_after=float(scores[1]), prob_after=float(probs[1]), random_boxes=boxes,
                     random_scores=[float(s) for s in scores[2:]], random_probs=[float(p) for p in probs[2:]])


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
