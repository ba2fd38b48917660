"""Why is this cell hot?  One cell of a CAM map, term by term, then covered and re-run.

Pure torch/numpy (no gradio): the UI (``gradcam_core.ui.cell_panel``) only places these on the page.

* :func:`cell_of_pixel` maps a tapped pixel of a picture to the (row, col) of the hooked layer's grid
  (the pixel-centre rule of ``paint.enlarge``, so a tap lands in the block it visibly hit).
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

Cells, pixels, footprints and placement live in :mod:`gradcam_core.analysis.footprint` (re-exported
here).  The words and pictures (equation, sentences, the JSON report, the waterfall) are
``present/cell_view.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn

from gradcam_core.cam.engine import BaseCAM, CAMResult, eval_mode
from gradcam_core.cam.methods import METHODS
# how a map is drawn over the input: the one parser of the app (re-exported here)
from gradcam_core.base.inputs import DEFAULT_PLACEMENT, PLACEMENTS, parse_placement

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


# where a cell lies and what it sees (re-exported: cell is the one import for a cell)
from gradcam_core.analysis.footprint import (  # noqa: E402, F401
    CONTENT_SHARE, ERF_SHARE, MEASURED_OFFSETS, PROBES, PROBES_LARGE, Footprint, cell_centres, cell_of_pixel,
    check_cell, drawn_heat, footprint, input_gradient, layer_output, placement_centres, placement_offsets,
    stretched_box)
from gradcam_core.base.errors import Refusal  # noqa: E402


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
        raise Refusal("analysis.error.cell.not_channel_weights", method=method)
    return "channel"


def cell_terms(result: CAMResult, row: object, col: object, index: int = 0) -> CellTerms:
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
            raise Refusal("analysis.error.cell.needs_gradients", method=method)
        g = result.gradients[index, :, row, col].double()
        weights = torch.relu(g) if kind == "positive gradient" else g
        a = act[:, row, col]
    terms = (weights * a).numpy()
    value = float(result.weighted[index, row, col])
    total = float(terms.sum())
    scale = float(np.abs(terms).sum())
    if abs(total - value) > SUM_RTOL * max(abs(value), scale * 1e-2, 1e-12):
        raise Refusal("analysis.error.cell.terms_do_not_add_up", method=method, total=total, value=value)
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
            box: tuple[int, int, int, int] | None = None, layout: str = "cnn") -> Occlusion:
    """Cover what cell (row, col) of ``layer`` sees (its :func:`footprint` box) on ``x`` (1, C, H, W)
    with the ``baseline`` image of ``sanity.make_baseline`` and re-run ``model``; the same for
    ``n_random`` boxes of the same size at random places where covering changes the input (see
    :func:`_random_boxes`).  ``box`` instead of ``layer``: cover that box.  All the covered inputs
    and ``x`` itself run in one batch.  ``layout``: how the layer's output becomes a map (a token
    grid: the cell is one patch token; see ``footprint.layer_output``)."""
    from gradcam_core.analysis.sanity import make_baseline

    row, col = check_cell(row, col, grid)
    fp = None
    if box is None:
        if layer is None:
            raise Refusal("analysis.error.cell.occlude_needs_layer")
        fp = footprint(model, layer, row, col, grid, tuple(x.shape[1:]), layout)
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


def model_input(spec: object, image: np.ndarray) -> torch.Tensor:
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
    raise Refusal("analysis.error.cell.cannot_rebuild_input", model=getattr(spec, "title", spec))
