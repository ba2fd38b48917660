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
* :func:`equation_text`, :func:`sum_sentence` and :func:`occlusion_sentence` say it in words;
  every sentence is derived from the numbers next to it (``tests/test_cell.py`` tests each branch).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

from .engine import BaseCAM, CAMResult, eval_mode

__all__ = [
    "READ_TEXT",
    "CellTerms",
    "Occlusion",
    "check_cell",
    "cell_of_pixel",
    "footprint",
    "cell_terms",
    "grouped_terms",
    "occlude",
    "equation_text",
    "sum_sentence",
    "occlusion_sentence",
    "report",
    "waterfall_image",
    "channel_maps_image",
    "model_input",
    "N_RANDOM",
    "TOP_TERMS",
    "SCORE_TOLERANCE",
]

#: How to read the breakdown (the panel's text; two sentences).
READ_TEXT = (
    "Each bar is one channel's term, its weight times its activation at the tapped cell: red bars push the "
    "cell's value up, blue bars pull it down, and each bar starts where the previous one ended, so the last "
    "grey bar is their sum, the cell's signed value, and the ReLU then keeps it or turns it to 0. "
    "Below, the cell's footprint on the input is covered and the model runs again: if the class score falls "
    "more than when a random patch of the same size is covered, the model really uses what is in that cell."
)

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
    from .methods import METHODS

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
    from .sanity import make_baseline

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
    from .models import LITE0_MEAN, LITE0_STD, EfficientNetLite0Spec

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
def _decimals(values: Sequence[float]) -> int:
    """Decimals that give the largest |value| three significant digits (0 to 6)."""
    m = max((abs(float(v)) for v in values), default=0.0)
    if m == 0 or not math.isfinite(m):
        return 3
    return int(min(6, max(0, 2 - math.floor(math.log10(m)))))


def _num(v: float, d: int, plus: bool = False) -> str:
    s = f"{abs(v):.{d}f}"
    if float(s) == 0:
        return s
    return ("−" if v < 0 else ("+" if plus else "")) + s


def equation_text(ct: CellTerms, top: int | None = None, max_terms: int = 16) -> str:
    """"0.041 + 0.019 − 0.007 … = 0.059 → ReLU → 0.059": the bars' values in order (see
    :func:`grouped_terms`; exact zeros are left out and counted), the signed value and the ReLU.
    At most ``max_terms`` are written out; "…" stands for the rest, which the sum includes."""
    grouped = grouped_terms(ct, top)
    bars = [(lab, v) for lab, v in grouped if not lab.endswith(" at 0")]
    zeros = sum(int(lab.split()[0]) for lab, _ in grouped if lab.endswith(" at 0"))
    d = _decimals([v for _, v in bars] + [ct.value])
    parts = []
    for i, (label, v) in enumerate(bars[:max_terms]):
        s = _num(v, d)
        if i:
            s = ("− " + s[1:]) if s.startswith("−") else "+ " + s
        if label.startswith("other "):
            s += f" ({label})"
        parts.append(s)
    if len(bars) > max_terms:
        parts.append("…")
    if not parts:
        parts = ["0"]
    if zeros and bars:
        parts.append(f"(+ 0 from {zeros} channel{'s' if zeros > 1 else ''})")
    return f"{' '.join(parts)} = {_num(ct.value, d)} → ReLU → {_num(ct.relu, d)}"


def _channels(cs: Sequence[int]) -> str:
    cs = [str(int(c)) for c in cs]
    if len(cs) == 1:
        return f"channel {cs[0]}"
    return "channels " + ", ".join(cs[:-1]) + " and " + cs[-1]


_KIND_NOTE = {
    "channel": "Each term is the channel's weight (one number for the whole map) times its activation at this "
               "cell.",
    "gradient": "HiResCAM has no single weight per channel: each term is the channel's gradient *at this cell* "
                "times its activation there.",
    "positive gradient": "LayerCAM has no single weight per channel: each term is the channel's positive "
                         "gradient *at this cell* times its activation there.",
    "centred": "Eigen-CAM has no class weights: its map is the activations' first principal component, so each "
               "term is the component's loading for the channel times the channel's activation here minus its "
               "mean over the map. The class does not enter the map (covering the cell below still measures "
               "the class score).",
}


def sum_sentence(ct: CellTerms, n: int = 3) -> str:
    """Which channels push the cell up and which pull it down, the sign of the sum and what the
    ReLU does, with the numbers; then what the terms are for this method."""
    d = _decimals(ct.terms)
    ups = [int(c) for c in ct.order if ct.terms[c] > 0][:n]
    downs = [int(c) for c in ct.order[::-1] if ct.terms[c] < 0][:n]
    val = lambda cs: ", ".join(_num(ct.terms[c], d, plus=True) for c in cs)  # noqa: E731
    if ups and downs:
        s = (f"{_channels(ups).capitalize()} push this cell up most ({val(ups)}); {_channels(downs)} pull it down "
             f"most ({val(downs)}).")
    elif ups:
        s = f"Every non-zero term pushes this cell up; the largest come from {_channels(ups)} ({val(ups)})."
    elif downs:
        s = f"Every non-zero term pulls this cell down; the largest come from {_channels(downs)} ({val(downs)})."
    else:
        s = "Every term is zero here: no channel's weighted activation reaches this cell."
    dv = _decimals([ct.value, ct.peak])
    if ct.value > 0:
        share = ct.relu / ct.peak if ct.peak > 0 else 1.0
        s += (f" The sum is positive ({_num(ct.value, dv)}), so the ReLU keeps it: this cell's heat is "
              f"{share:.0%} of the map's peak ({_num(ct.peak, dv)}).")
    elif ct.value < 0:
        s += (f" The sum is negative ({_num(ct.value, dv)}), so the ReLU turns it into 0: the cell is cold in "
              "the heat map" + (" although some channels push it up." if ups else "."))
    else:
        s += " The sum is 0, and so is the cell after the ReLU."
    return s + " " + _KIND_NOTE[ct.kind]


def _pct(p: float) -> str:
    return f"{p:.1%}" if p < 0.995 or p >= 0.9995 else f"{p:.2%}"


def occlusion_sentence(occ: Occlusion, class_name: str, relu: float | None = None,
                       tol: float = SCORE_TOLERANCE) -> str:
    """What covering the cell did to the class score, judged against covering random rectangles
    of the same size (median); scores within ``tol`` × max(1, |score before|) are "about the same".
    With ``relu`` (the cell's heat), a second sentence says whether the map and the test agree."""
    c = f"'{class_name}'"
    b, a, m = occ.score_before, occ.score_after, occ.random_median_after
    t = tol * max(1.0, abs(b))
    n = len(occ.random_scores)
    d = _decimals([b, a, m])
    nums = (f"from {_num(b, d)} to {_num(a, d)} (P({class_name}) {_pct(occ.prob_before)} → {_pct(occ.prob_after)}); "
            f"covering a random patch of the same size gives {_num(m, d)} (median of {n}, "
            f"P {_pct(occ.random_median_prob_after)})")
    evidence = False
    if a < b - t:
        if a < m - t:
            s = (f"Covering this cell lowers the score of {c} {nums}. That is a bigger drop than chance: the model "
                 f"uses what is in this cell as evidence for {c}.")
            evidence = True
        elif a <= m + t:
            s = (f"Covering this cell lowers the score of {c} {nums}. That is about as much as a random patch: "
                 "this cell matters no more than any other region of its size.")
        else:
            s = (f"Covering this cell lowers the score of {c} {nums}. A random patch costs more: other regions "
                 "matter more than this one.")
    elif a > b + t:
        if a > m + t:
            s = (f"Covering this cell raises the score of {c} {nums}. What is in this cell speaks against {c}: "
                 "without it the model is surer.")
        else:
            s = (f"Covering this cell raises the score of {c} {nums}. Random patches do that too, so the rise "
                 "says little about this cell.")
    else:
        if m < b - t:
            s = (f"Covering this cell barely changes the score of {c}: {nums}. A random patch lowers it more, so "
                 "the model hardly needs this cell.")
        else:
            s = (f"Covering this cell barely changes the score of {c}: {nums}. Neither does a random patch: the "
                 "model does not depend on any one region of this size.")
    if relu is None:
        return s
    if relu > 0 and evidence:
        s += " The heat map and the test agree: this cell is warm and matters."
    elif relu > 0:
        s += " The heat map marks this cell, but covering it costs no more than chance: heat alone is no proof."
    elif evidence:
        s += " The heat map leaves this cell cold, yet covering it costs more than chance: the map misses evidence here."
    return s


# =========================================================================== the API's answer
def report(ct: CellTerms, occ: Occlusion | None, class_name: str, top: int | None = None, **extra) -> dict:
    """The JSON of ``/…_inspect_cell``: row, col, value, relu, contributions (all channels, sorted),
    occlusion, the sentences (``top``: as :func:`grouped_terms`), and ``extra`` (model, layer, method…)."""
    out = {"row": ct.row, "col": ct.col, "grid": list(ct.grid), **extra, "method": ct.method,
           "target": ct.target, "class": class_name, "value": ct.value, "relu": ct.relu, "peak": ct.peak,
           "terms": ct.kind, "sum_of_terms": float(ct.terms.sum()), "contributions": ct.contributions(),
           "equation": equation_text(ct, top), "reading": sum_sentence(ct)}
    if occ is not None:
        out["occlusion"] = occ.as_dict()
        out["occlusion_reading"] = occlusion_sentence(occ, class_name, ct.relu)
    return out


# =========================================================================== pictures
def waterfall_image(ct: CellTerms, top: int | None = None, width: int = 460, row_h: int = 20) -> np.ndarray:
    """The terms as a horizontal waterfall (RGB uint8, ``width`` px wide): one row per bar of
    :func:`grouped_terms`, each starting where the previous one ended (red: pushes up, blue: pulls
    down), then "= sum" from 0 to the signed value (grey) and "ReLU" from 0 to the cell's heat."""
    from . import render

    bars = grouped_terms(ct, top)
    d = _decimals([v for _, v in bars] + [ct.value])
    tx = render._text(11)
    ends = np.cumsum([v for _, v in bars]) if bars else np.zeros(0)
    starts = np.concatenate([[0.0], ends[:-1]]) if bars else np.zeros(0)
    rows = [(lab, float(s0), float(v), render.POS_COLOR if v >= 0 else render.NEG_COLOR, True)
            for (lab, v), s0 in zip(bars, starts)]
    rows += [("= sum", 0.0, ct.value, (90, 90, 90), False), ("ReLU", 0.0, ct.relu, (224, 130, 20), False)]
    lo = min([0.0, ct.value] + [float(e) for e in ends])
    hi = max([0.0, ct.value] + [float(e) for e in ends])
    if hi <= lo:
        hi = lo + 1.0
    labels = [tx.clean(r[0]) for r in rows]
    texts = [tx.clean(_num(r[2], d, plus=r[4])) for r in rows]
    left = int(max(tx.width(s) for s in labels)) + 10
    right = width - int(max(tx.width(s) for s in texts)) - 10
    title_h = tx.h + 8
    height = title_h + row_h * len(rows) + 8
    canvas = np.full((height, width, 3), 255, np.uint8)
    px = lambda v: left + (float(v) - lo) / (hi - lo) * (right - left)  # noqa: E731
    title = f"cell (row {ct.row}, col {ct.col}): the terms add up to {_num(ct.value, d)}, ReLU → {_num(ct.relu, d)}"
    tx.draw(canvas, (4, 3), tx.fit(tx.clean(title), width - 8), render.TEXT, "la")
    for i, ((lab, s0, v, color, _), label, text) in enumerate(zip(rows, labels, texts)):
        y0 = title_h + i * row_h
        a, b = sorted((px(s0), px(s0 + v)))
        x0, x1 = int(round(a)), max(int(round(a)) + 1, int(round(b)))
        if i == len(rows) - 2:  # a thin line above the sum
            canvas[y0 - 1, left:right] = (150, 150, 150)
        if v != 0:
            canvas[y0 + 3:y0 + row_h - 3, x0:x1] = color
        tx.draw(canvas, (left - 6, y0 + row_h / 2), label, render.TEXT, "rm")
        tx.draw(canvas, (max(x1, int(round(px(s0)))) + 4, y0 + row_h / 2), text, render.TEXT, "lm")
    z = int(round(px(0.0)))
    canvas[title_h:height - 6, z] = (40, 40, 40)
    return canvas


def _mark(canvas: np.ndarray, box, row: int, col: int, grid, color=(0, 0, 0), width: int = 2) -> None:
    """Outline cell (row, col) of a map drawn in ``box`` = (x0, y0, x1, y1) on ``canvas``."""
    x0, y0, x1, y1 = box
    h, w = grid
    cx0 = x0 + int(round(col * (x1 - x0) / w))
    cx1 = x0 + int(round((col + 1) * (x1 - x0) / w)) - 1
    cy0 = y0 + int(round(row * (y1 - y0) / h))
    cy1 = y0 + int(round((row + 1) * (y1 - y0) / h)) - 1
    for k in range(width):
        a, b, c, e = cx0 + k, cx1 - k, cy0 + k, cy1 - k
        if a > b or c > e:
            break
        canvas[c, a:b + 1] = color
        canvas[e, a:b + 1] = color
        canvas[c:e + 1, a] = color
        canvas[c:e + 1, b] = color


def channel_maps_image(result: CAMResult, ct: CellTerms, n: int = 3, index: int = 0, cell: int = 112) -> np.ndarray:
    """The ``n`` channels with the largest |term| at the cell, their whole activation maps on one
    shared colour scale, each with the cell outlined in black: which detectors fired there."""
    from . import render

    strongest = [int(c) for c in np.argsort(-np.abs(ct.terms), kind="stable")[:n]]
    act = result.activations[index].numpy()
    titles = [f"ch {c}: {render.format_number(float(ct.terms[c]), plus=True)}" for c in strongest]
    canvas, boxes = render.map_grid(act[strongest], cmap="RdBu_r", signed=True, titles=titles,
                                    ncols=len(strongest), cell=cell, colorbar_label="activation",
                                    return_layout=True)
    canvas = np.array(canvas)
    for bx in boxes:
        _mark(canvas, bx, ct.row, ct.col, ct.grid, color=(0, 0, 0), width=2)
    return canvas
