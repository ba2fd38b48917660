"""Deletion / insertion (Petsiuk et al., 2018, RISE): remove (deletion) or reveal (insertion) the
input's pixels in the order a map ranks them and follow the class probability; the area under the
curve (AUC) summarises it.  A random order and a Sobel edge-magnitude "map" (which knows nothing
about the model) are the baselines.  Numbers only: :mod:`gradcam_core.analysis.verdict_codes`
compares the areas, ``present/verdicts.py`` words them.

Split out of :mod:`gradcam_core.analysis.sanity` (which re-exports everything here)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn
from skimage.filters import sobel
from torchvision.transforms.functional import gaussian_blur

from gradcam_core.cam.engine import Target, _as_targets, _check_input, eval_mode
from gradcam_core.cam.postprocess import upsample
from gradcam_core.base.errors import Refusal, Term

__all__ = ["BASELINES", "MAX_STEPS", "Curves", "blur_sigma", "make_baseline", "sobel_map", "deletion_insertion"]

#: What a removed pixel becomes, in the model's input space ("zero" = 0 after the model's
#: preprocessing: black for LeNet, whose inputs are in [0, 1]; mid-grey for Lite0).
BASELINES = ("blur", "zero", "mean")
MAX_STEPS = 50  # cap on deletion/insertion steps (the cost is ~2 forwards per step per ranking)

ProgressFn = Callable[[float, str], None]


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """torchvision's Gaussian blur, ±3σ kernel, reflected edges (the kernel shrinks on a picture
    too small for it)."""
    r = max(1, min(int(math.ceil(3 * sigma)), min(x.shape[-2:]) - 1))
    return gaussian_blur(x, [2 * r + 1, 2 * r + 1], [sigma, sigma])


def blur_sigma(h: int, w: int) -> float:
    """Gaussian sigma of the "blur" baseline: 5 px at 224 (as in RISE), at least 2 px (so a
    28×28 digit really loses its strokes)."""
    return max(2.0, 5.0 * max(h, w) / 224.0)


def make_baseline(x: torch.Tensor, baseline: str = "blur") -> torch.Tensor:
    """What removed pixels become, (1, C, H, W) in the model's input space."""
    if baseline == "zero":
        return torch.zeros_like(x)
    if baseline == "mean":
        return x.mean(dim=(2, 3), keepdim=True).expand_as(x).clone()
    if baseline == "blur":
        return _gaussian_blur(x, blur_sigma(*x.shape[-2:]))
    raise Refusal("analysis.error.unknown_baseline", baseline=baseline, choices=", ".join(BASELINES))


def sobel_map(x: torch.Tensor) -> np.ndarray:
    """Edge magnitude of the input (channel mean, scikit-image's Sobel filter), (H, W).

    A "saliency map" that looks at the picture only, never at the model."""
    return sobel(x[0].float().mean(dim=0).numpy())


def _order(saliency: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pixel indices, most salient first; ties broken at random (seeded)."""
    s = np.nan_to_num(np.asarray(saliency, dtype=np.float64).ravel(), nan=-np.inf)
    return np.lexsort((rng.random(s.size), -s))


def _random_order(h: int, w: int, cell: int | None, rng: np.random.Generator) -> np.ndarray:
    """A random pixel order by squares of ``cell`` pixels (all pixels of a square together)."""
    cell = max(1, int(round(max(h, w) / 28))) if cell is None else max(1, int(cell))
    if cell == 1:
        return rng.permutation(h * w)
    cols = -(-w // cell)
    ids = (np.arange(h)[:, None] // cell) * cols + (np.arange(w)[None, :] // cell)
    rank = rng.permutation(int(ids.max()) + 1)[ids.ravel()]
    return np.lexsort((rng.random(h * w), rank))


def _auc(fractions: np.ndarray, probs: np.ndarray) -> float:
    return float(np.trapezoid(probs, fractions))


@dataclass
class Curves:
    """Class probability vs fraction of pixels removed (deletion) / revealed (insertion)."""

    target: int
    baseline: str
    fractions: np.ndarray  # (steps + 1,) 0 … 1
    deletion: dict[str, np.ndarray]  # ranking name -> (steps + 1,) probabilities
    insertion: dict[str, np.ndarray]
    auc_deletion: dict[str, float]  # lower is better
    auc_insertion: dict[str, float]  # higher is better
    n_forwards: int  # images actually run through the model
    seconds: float = 0.0

    @property
    def names(self) -> list[str]:
        return list(self.deletion)

    def table(self) -> list[list]:
        """Rows [ranking, deletion AUC, insertion AUC] rounded to 3 decimals."""
        return [[k, round(self.auc_deletion[k], 3), round(self.auc_insertion[k], 3)] for k in self.names]


def _rankings(maps: Mapping, x: torch.Tensor, compare: Sequence[str], random_cell: int | None,
              rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Pixel orders, most important first: one per saliency map (upsampled to the input), then the
    comparisons ("random" squares of ``random_cell`` pixels, "Sobel" edges)."""
    h, w = x.shape[-2:]
    rankings: dict[str, np.ndarray] = {}
    for k, m in maps.items():
        m = torch.as_tensor(np.asarray(m, dtype=np.float32))
        if m.dim() != 2:
            raise Refusal("analysis.error.saliency_not_2d", name=k, shape=tuple(m.shape))
        if tuple(m.shape) != (h, w):
            m = upsample(m, (h, w))
        rankings[k] = _order(m.numpy(), rng)
    for k in compare:
        if k == "random":
            rankings["random"] = _random_order(h, w, random_cell, rng)
        elif k == "Sobel":
            rankings["Sobel"] = _order(sobel_map(x), rng)
        else:
            raise Refusal("analysis.error.unknown_comparison", name=k)
    return rankings


def _perturbed_probs(model: nn.Module, x: torch.Tensor, base: torch.Tensor, rankings: dict[str, np.ndarray],
                     counts: np.ndarray, jobs: list[tuple[str, str, int]], tgt: int, batch: int,
                     progress: ProgressFn | None) -> dict[tuple[str, str, int], float]:
    """The class probability of every perturbed image (ranking, "del"/"ins", step), in batches:
    deletion puts the baseline's pixels into the image, insertion the image's into the baseline."""
    _, c, h, w = x.shape
    probs: dict[tuple[str, str, int], float] = {}
    xf, bf = x.reshape(c, h * w), base.reshape(c, h * w)
    done = 0
    for s in range(0, len(jobs), batch):
        chunk = jobs[s : s + batch]
        imgs = torch.empty(len(chunk), c, h * w, dtype=x.dtype)
        for j, (r, kind, k) in enumerate(chunk):
            idx = torch.from_numpy(rankings[r][: counts[k]])
            img = (xf if kind == "del" else bf).clone()
            img[:, idx] = (bf if kind == "del" else xf)[:, idx]
            imgs[j] = img
        out = torch.softmax(model(imgs.reshape(-1, c, h, w)).float(), dim=1)[:, tgt]
        for j, job in enumerate(chunk):
            probs[job] = float(out[j])
        done += len(chunk)
        if progress is not None:
            progress(done / max(1, len(jobs)), str(Term("analysis.progress.perturbed", done=done, n=len(jobs))))
    return probs


def _checked_steps(x: torch.Tensor, steps) -> int:
    """``steps`` as an int in 2..:data:`MAX_STEPS`, for one input ``x`` (ValueError otherwise)."""
    _check_input(x)
    if x.shape[0] != 1:
        raise Refusal("analysis.error.one_image", n=int(x.shape[0]))
    steps = int(steps)
    if not 2 <= steps <= MAX_STEPS:
        raise Refusal("analysis.error.steps_range", max_steps=MAX_STEPS, steps=steps)
    return steps


def _jobs(rankings: Mapping, steps: int) -> list[tuple[str, str, int]]:
    """(ranking, "del"/"ins", step) of every image that differs from the input and from the baseline."""
    return [(r, kind, k) for r in rankings for kind in ("del", "ins") for k in range(1, steps)]


def _end_probs(model: nn.Module, x: torch.Tensor, base: torch.Tensor, target: Target,
               logits: torch.Tensor | None) -> tuple[int, float, float]:
    """(explained class, its probability on ``x``, on the all-baseline image); ``logits`` of ``x``
    are reused when given.  Call under no_grad with the model in eval mode."""
    if logits is None:
        logits = model(x)
    logits = torch.as_tensor(logits).reshape(1, -1)
    tgt = int(_as_targets(target, logits)[0])
    p_full = float(torch.softmax(logits.float(), dim=1)[0, tgt])
    p_base = float(torch.softmax(model(base).float(), dim=1)[0, tgt])
    return tgt, p_full, p_base


def _curves(tgt: int, baseline: str, fractions: np.ndarray, rankings: Mapping, probs: dict, p_full: float,
            p_base: float, n_forwards: int) -> Curves:
    """Curves of every ranking: deletion runs from the input's probability ``p_full`` to the
    baseline's ``p_base``, insertion the other way; the steps between come from ``probs``."""
    inner = range(1, len(fractions) - 1)
    dele, ins = {}, {}
    for r in rankings:
        dele[r] = np.array([p_full] + [probs[(r, "del", k)] for k in inner] + [p_base])
        ins[r] = np.array([p_base] + [probs[(r, "ins", k)] for k in inner] + [p_full])
    return Curves(
        target=tgt,
        baseline=baseline,
        fractions=fractions,
        deletion=dele,
        insertion=ins,
        auc_deletion={r: _auc(fractions, v) for r, v in dele.items()},
        auc_insertion={r: _auc(fractions, v) for r, v in ins.items()},
        n_forwards=n_forwards,
    )


def deletion_insertion(model: nn.Module, x: torch.Tensor, target: Target,
                       saliency: np.ndarray | torch.Tensor | Mapping[str, np.ndarray], steps: int = 20,
                       baseline: str = "blur", batch: int | None = None, progress: ProgressFn | None = None,
                       logits: torch.Tensor | None = None, name: str = "Grad-CAM",
                       compare: Sequence[str] = ("random", "Sobel"), seed: int = 0,
                       random_cell: int | None = None) -> Curves:
    """Deletion and insertion curves of one input for ``saliency`` and the baselines.

    ``x``: (1, C, H, W) as the model expects it.  ``saliency``: an (H, W) map (any scale;
    upsampled bilinearly if smaller), or a mapping name -> map to rank several maps.
    Step k of ``steps`` (capped at :data:`MAX_STEPS`) removes / reveals the top
    ``round(k / steps · H·W)`` pixels of each ranking; removed pixels take the value of the
    ``baseline`` image (see :func:`make_baseline`).  ``compare``: "random" (a seeded
    random order of ``random_cell``-pixel squares: default 1 px at 28×28, 8 px at 224×224,
    so random deletion removes patches rather than sprinkling single-pixel noise, to which
    ImageNet CNNs are unusually sensitive) and/or "Sobel" (:func:`sobel_map`).  All perturbed images are evaluated in
    batches of ``batch`` (default: about 2 MB of input per batch, 3 images at 224×224: larger
    batches are slower per image on CPU); the original image
    (``logits``, if given, is reused for it) and the all-baseline image are evaluated once
    for all rankings.  ``progress(fraction, text)`` is called after each batch.
    """
    import time

    t0 = time.perf_counter()
    steps = _checked_steps(x, steps)
    _, c, h, w = x.shape
    maps = dict(saliency) if isinstance(saliency, Mapping) else {name: saliency}
    rankings = _rankings(maps, x, compare, random_cell, np.random.default_rng(seed))
    base = make_baseline(x, baseline)
    counts = np.round(np.linspace(0, h * w, steps + 1)).astype(np.int64)
    jobs = _jobs(rankings, steps)
    batch = int(batch) if batch else max(1, min(256, (1 << 19) // (c * h * w)))
    with torch.inference_mode(False), eval_mode(model), torch.no_grad():
        tgt, p_full, p_base = _end_probs(model, x, base, target, logits)
        probs = _perturbed_probs(model, x, base, rankings, counts, jobs, tgt, batch, progress)
    n_forwards = len(jobs) + (1 if logits is not None else 2)  # + the baseline, + x unless its logits came
    curves = _curves(tgt, baseline, counts / float(h * w), rankings, probs, p_full, p_base, n_forwards)
    curves.seconds = time.perf_counter() - t0
    return curves
