"""Can I trust this heat map?  Two checks from the literature, computed from numbers.

1. **Cascading randomisation** (Adebayo et al., 2018, "Sanity Checks for Saliency Maps").
   Re-initialise the model's layers from the top (logits side) down, one stage at a time,
   and compare the map after each stage with the original: Spearman rank correlation and
   SSIM.  A map that explains *the model* must change when the model's learned weights are
   destroyed.  Grad-CAM does; guided backprop (and so Guided Grad-CAM, largely) keeps showing
   the image's edges.

2. **Deletion / insertion** (Petsiuk et al., 2018, RISE).  Remove (deletion) or reveal
   (insertion) the input's pixels in the order a map ranks them and follow the class
   probability; the area under the curve (AUC) summarises it: low deletion AUC and high
   insertion AUC mean the map found the pixels the model needs.  A random order and a
   Sobel edge-magnitude "map" (which knows nothing about the model) are the baselines.

The shared model is never modified: randomised copies are deep copies made per request
(``copy.deepcopy``; hooks of the original are dropped from the copy); on the shared model
only the engine's temporary, thread-filtered hook and the thread-local guided-backprop mode
of :mod:`gradcam_core.cam.guided` are used.

No gradio import.  Everything runs on CPU tensors.

Public API::

    cascade(model, layer, x, target=None, stages=None, seed=0, methods=METHODS) -> Cascade
    cascading_randomization(model, layer, x, target, stages=None, seed=0, method="Grad-CAM")
        -> list[Stage(name, map, spearman, ssim)]            # first entry: "original"
    default_stages(model) -> list[(stage name, [module names])]   # top (logits) first
    deletion_insertion(model, x, target, saliency, steps=20, baseline="blur", ...) -> Curves
    spearman(a, b), ssim(a, b), sobel_map(x)
    reading(cascade=None, curves=None, method="Grad-CAM") -> str    # plain-language sentence(s)
    reading_cascade(cascade, method), reading_curves(curves, aggregate=None, settings=None)
    compare_area(value, reference, lower_is_better) -> "better" | "same" | "worse"
    curve_record(curves, index, label), aggregate_records(records) -> dict  # many inputs

Every sentence is built from the numbers it describes: the cascade reading looks at every
stage (first, lowest, highest, last); deletion (lower area is better) and insertion (higher
is better) are compared with the random order and the Sobel map with a stated tolerance
(:data:`AUC_TOLERANCE`), and a summary over many inputs is quoted only for the same settings.
"""
from __future__ import annotations

import copy
import itertools
import math
import zlib
from dataclasses import dataclass, field
from typing import Callable, Mapping, NamedTuple, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from skimage.filters import sobel
from torchvision.transforms.functional import gaussian_blur

from gradcam_core.cam.engine import CAMResult, GradCAM, Target, _as_targets, _check_input, eval_mode, resolve_layer
from gradcam_core.cam.guided import SANITY_MAPS, GuidedGradCAM
from gradcam_core.cam.postprocess import normalize_max, upsample

__all__ = [
    "METHODS",
    "BASELINES",
    "Stage",
    "Cascade",
    "Curves",
    "default_stages",
    "randomize_",
    "cascade",
    "cascading_randomization",
    "deletion_insertion",
    "spearman",
    "ssim",
    "sobel_map",
    "reading",
    "reading_cascade",
    "reading_curves",
    "reading_aggregate",
    "compare_area",
    "cascade_pattern",
    "curve_verdicts",
    "curve_record",
    "aggregate_records",
    "aggregate_mismatch",
    "RECORD_FIELDS",
    "AUC_TOLERANCE",
    "SIMILAR",
    "MAX_STEPS",
]

#: The maps the cascading randomisation compares (all from the same randomised copies): the
#: guided module's (Grad-CAM, Guided Grad-CAM, Guided backprop).
METHODS = SANITY_MAPS
#: What a removed pixel becomes, in the model's input space ("zero" = 0 after the model's
#: preprocessing: black for LeNet, whose inputs are in [0, 1]; mid-grey for Lite0).
BASELINES = ("blur", "zero", "mean")
MAX_STEPS = 50  # cap on deletion/insertion steps (the cost is ~2 forwards per step per ranking)

ProgressFn = Callable[[float, str], None]


# =========================================================================== similarity
def _rank_rows(a: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank) of each row of a 2-D array."""
    from scipy.stats import rankdata

    return rankdata(a, method="average", axis=1)


def spearman(a, b) -> np.ndarray | float:
    """Spearman rank correlation between maps ``a`` and ``b``, per map.

    ``a``, ``b``: (H, W) -> float, or (N, H, W) -> (N,) array.  Ties get average ranks.  A
    constant map has no ranking: the correlation is then defined as 1.0 if both maps are
    constant and 0.0 otherwise (e.g. a randomised model whose Grad-CAM is all zero).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    single = a.ndim == 2
    a2, b2 = a.reshape(1 if single else a.shape[0], -1), b.reshape(1 if single else b.shape[0], -1)
    if a2.shape != b2.shape:
        raise ValueError(f"maps differ in shape: {a.shape} vs {b.shape}")
    ra, rb = _rank_rows(a2), _rank_rows(b2)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    na, nb = np.sqrt((ra * ra).sum(1)), np.sqrt((rb * rb).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (ra * rb).sum(1) / (na * nb)
    flat_a, flat_b = na < 1e-12, nb < 1e-12
    rho = np.where(flat_a | flat_b, np.where(flat_a & flat_b, 1.0, 0.0), rho)
    rho = np.clip(rho, -1.0, 1.0)
    return float(rho[0]) if single else rho


def ssim(a, b) -> np.ndarray | float:
    """Structural similarity of maps in [0, 1] (skimage, ``data_range=1``), per map.

    (H, W) -> float; (N, H, W) -> (N,).  Maps smaller than 7 pixels on a side use a
    smaller odd window.
    """
    from skimage.metrics import structural_similarity

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    single = a.ndim == 2
    a3, b3 = (a[None], b[None]) if single else (a, b)
    win = min(7, *a3.shape[1:])
    win = win if win % 2 else win - 1
    out = np.array([
        structural_similarity(p, q, data_range=1.0, win_size=max(win, 3)) for p, q in zip(a3, b3)
    ])
    return float(out[0]) if single else out


# =========================================================================== stages
_NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)


def _has_params(m: nn.Module) -> bool:
    return any(True for _ in m.parameters())


def _is_norm(m: nn.Module) -> bool:
    return isinstance(m, _NORM_TYPES)


def _items(model: nn.Module) -> list[tuple[str, list[str], nn.Module]]:
    """Parameter-bearing top-level pieces in forward order, as (name, [module names], module).

    A ``nn.ModuleList`` (a list of blocks by construction) is always opened; a container
    is also opened when the model has fewer than four parameter-bearing children (VGG's
    ``features``/``classifier``, DenseNet's ``features``).  EfficientNet blocks (which carry
    ``_block_args``) are grouped into the network's stages: consecutive blocks with the same
    number of output channels.
    """
    top = [(n, m) for n, m in model.named_children() if _has_params(m)]
    out: list[tuple[str, list[str], nn.Module]] = []
    for name, mod in top:
        children = [(f"{name}.{n}", m) for n, m in mod.named_children() if _has_params(m)]
        open_it = children and (isinstance(mod, nn.ModuleList) or (len(top) < 4 and isinstance(mod, nn.Sequential)))
        if not open_it:
            out.append((name, [name], mod))
            continue
        if all(hasattr(m, "_block_args") for _, m in children):  # EfficientNet: group by stage
            groups: list[list[tuple[str, nn.Module]]] = []
            for n, m in children:
                if groups and groups[-1][-1][1]._block_args.output_filters == m._block_args.output_filters:
                    groups[-1].append((n, m))
                else:
                    groups.append([(n, m)])
            for g in groups:
                first, last = g[0][0], g[-1][0]
                label = first if len(g) == 1 else f"{first}–{last.rsplit('.', 1)[-1]}"
                out.append((label, [n for n, _ in g], g[0][1]))
        else:
            out.extend((n, [n], m) for n, m in children)
    return out


def default_stages(model: nn.Module) -> list[tuple[str, list[str]]]:
    """Randomisation stages, top (logits side) first: ``[(stage name, [module names]), ...]``.

    LeNet: fc3, fc2, fc1, conv2, conv1.  EfficientNet-Lite0: _fc, _conv_head+_bn1, then the
    seven block stages (_blocks.15, _blocks.11–14, …, _blocks.0), then _conv_stem+_bn0.
    torchvision ResNets: fc, layer4, …, layer1, conv1+bn1.  A normalisation layer is merged
    into the stage before it (it belongs to that conv).
    """
    merged: list[tuple[str, list[str]]] = []
    for label, names, mod in _items(model):
        if merged and _is_norm(mod):
            prev_label, prev_names = merged[-1]
            merged[-1] = (f"{prev_label}+{label}", prev_names + names)
        else:
            merged.append((label, list(names)))
    if not merged:
        raise ValueError("This model has no parameters to randomise.")
    return merged[::-1]


def _stage_seed(seed: int, name: str) -> int:
    return (int(seed) * 1_000_003 + zlib.crc32(name.encode())) % (2**63 - 1)


@torch.no_grad()
def randomize_(module: nn.Module, generator: torch.Generator) -> None:
    """Re-initialise ``module`` (and its sub-modules) IN PLACE, from ``generator`` only.

    Weights with a fan-in (conv, linear): uniform(±1/sqrt(fan_in)) — PyTorch's default
    initialisation — and their biases likewise; normalisation layers: weight 1, bias 0,
    running mean 0, running variance 1 (their reset state).  The global RNG is not used,
    so concurrent requests stay reproducible.  Only ever call this on a private copy.
    """
    for m in module.modules():
        if _is_norm(m):
            if getattr(m, "weight", None) is not None:
                m.weight.fill_(1.0)
            if getattr(m, "bias", None) is not None:
                m.bias.zero_()
            if getattr(m, "running_mean", None) is not None:
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
            continue
        params = dict(m.named_parameters(recurse=False))
        w = params.get("weight")
        fan_in = w[0].numel() if w is not None and w.dim() > 1 else None
        for pname, p in params.items():
            fi = fan_in if fan_in is not None else (p.shape[-1] if p.dim() > 0 else 1)
            bound = 1.0 / math.sqrt(max(1, fi))
            p.copy_(torch.rand(p.shape, generator=generator, dtype=torch.float32).mul_(2 * bound).sub_(bound).to(p.dtype))


def _private_copy(model: nn.Module) -> nn.Module:
    """A deep copy that shares nothing with ``model`` and carries none of its hooks.

    The hook dictionaries are never iterated: they are mapped to fresh empty ones in the
    deepcopy memo, because another request may register or remove its temporary engine hook
    on the shared model while we copy (iterating a dict that changes size would fail)."""
    memo: dict[int, object] = {}
    for m in model.modules():
        for name, value in vars(m).items():
            if "hook" in name and isinstance(value, dict):
                memo[id(value)] = type(value)()
    dup = copy.deepcopy(model, memo)
    for p in dup.parameters():
        p.requires_grad_(False)  # only the input is differentiated; saves the param graph
    dup.eval()
    return dup


# =========================================================================== guided backprop
def _explain(model: nn.Module, layer, x: torch.Tensor, targets: Target, guided: bool):
    """(CAMResult, guided backprop (N, C, H, W) or None) for fixed targets.

    Guided backprop comes from :mod:`gradcam_core.cam.guided` (a thread-local torch-function
    mode: nothing is registered on the model)."""
    res = (GuidedGradCAM if guided else GradCAM)(model, layer)(x, targets)
    return res, res.extras.get("guided_backprop")


# =========================================================================== maps
#: How each compared map is made from the upsampled CAM (N, H, W) and guided backprop (N, C, H, W).
_MAPS = dict(zip(METHODS, (
    lambda up, gb: up,
    lambda up, gb: (gb * up[:, None]).abs().sum(dim=1),
    lambda up, gb: gb.abs().sum(dim=1),
)))


def _maps(cam: CAMResult, gb: torch.Tensor | None, methods: Sequence[str]) -> dict[str, np.ndarray]:
    """The (N, H, W) maps in [0, 1] (divided by their max: zero stays zero) of each method."""
    up = upsample(cam.cam, cam.input_size)  # (N, H, W), ReLU'd
    out: dict[str, np.ndarray] = {}
    for m in methods:
        if m not in _MAPS:
            raise ValueError(f"Unknown method {m!r}; choose from {', '.join(METHODS)}.")
        out[m] = normalize_max(_MAPS[m](up, gb)).numpy().astype(np.float32)
    return out


class Stage(NamedTuple):
    """One step of the cascade.  For a single input (N = 1): ``map`` (H, W) in [0, 1],
    ``spearman`` and ``ssim`` floats; for a batch: (N, H, W), (N,), (N,)."""

    name: str
    map: np.ndarray
    spearman: np.ndarray | float
    ssim: np.ndarray | float


@dataclass
class Cascade:
    """Maps and similarities of every method after every stage (first stage: "original")."""

    layer: str
    targets: torch.Tensor  # (N,) the explained class (kept fixed through the cascade)
    logits: torch.Tensor  # (N, C) of the original model
    stages: list[str]  # "original", then the randomised stage names, top first
    results: dict[str, list[Stage]]  # method -> one Stage per entry of ``stages``
    seconds: float = 0.0
    extras: dict = field(default_factory=dict)

    def mean_spearman(self, method: str) -> np.ndarray:
        """Mean (over the batch) rank correlation per stage, (len(stages),)."""
        return np.array([float(np.mean(s.spearman)) for s in self.results[method]])

    def mean_ssim(self, method: str) -> np.ndarray:
        return np.array([float(np.mean(s.ssim)) for s in self.results[method]])


def _checked_methods(methods: Sequence[str]) -> tuple[str, ...]:
    """``methods`` as a tuple, each one of :data:`METHODS` (ValueError otherwise)."""
    methods = tuple(methods)
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"Unknown method {m!r}; choose from {', '.join(METHODS)}.")
    return methods


def _checked_stages(model: nn.Module, stages) -> list[tuple[str, list[str]]]:
    """``stages`` (or :func:`default_stages`) as (name, [module names]) pairs, every module one of
    ``model``'s (ValueError naming the stage otherwise)."""
    if stages is None:
        stage_list = default_stages(model)
    else:
        stage_list = [(s, [s]) if isinstance(s, str) else (str(s[0]), list(s[1])) for s in stages]
    modules = dict(model.named_modules())
    for name, names in stage_list:
        for n in names:
            if n not in modules:
                raise ValueError(f"Stage {name!r}: the model has no module {n!r}.")
    return stage_list


def _explain_original(model: nn.Module, layer_name: str, x: torch.Tensor, target: Target, guided: bool,
                      original: CAMResult | None):
    """(CAMResult, guided backprop or None, targets) of the shared model; ``original`` is reused
    when it is a Grad-CAM of the same layer and no guided map is asked for.  On the shared
    model only temporary, thread-filtered hooks are used."""
    if original is not None and not guided and original.layer == layer_name:
        return original, None, original.targets
    cam0, gb0 = _explain(model, layer_name, x, target, guided)  # resolves "predicted" itself
    return cam0, gb0, cam0.targets


def _stage_rows(name: str, ref: dict[str, np.ndarray], maps: dict[str, np.ndarray], single: bool) -> dict[str, Stage]:
    """One :class:`Stage` per method: ``maps`` compared with the original ``ref`` maps (for a
    single input the batch axis is dropped: (H, W) map, float similarities)."""
    out = {}
    for m in ref:
        rho = spearman(ref[m], maps[m])
        s = ssim(ref[m], maps[m])
        out[m] = Stage(name, maps[m][0] if single else maps[m], float(rho[0]) if single else rho,
                       float(s[0]) if single else s)
    return out


def _randomised_maps(model: nn.Module, layer_name: str, x: torch.Tensor, targets: torch.Tensor, guided: bool,
                     methods: tuple[str, ...], stage_list: list[tuple[str, list[str]]], seed: int):
    """Yield (stage name, maps) after each stage of the cumulative randomisation of ONE private
    copy of ``model``, each stage re-initialised from a generator seeded by (seed, stage name)."""
    dup = _private_copy(model)
    dup_modules = dict(dup.named_modules())
    for name, names in stage_list:
        gen = torch.Generator().manual_seed(_stage_seed(seed, name))
        for n_ in names:
            randomize_(dup_modules[n_], gen)
        cam, gb = _explain(dup, layer_name, x, targets, guided)
        yield name, _maps(cam, gb, methods)


def _collect_stages(ref: dict[str, np.ndarray], randomised, single: bool, total: int,
                    progress: ProgressFn | None) -> dict[str, list[Stage]]:
    """method -> one :class:`Stage` for the original maps ``ref``, then one per (name, maps) of
    ``randomised``; ``progress`` is called after each of the ``total`` stages."""
    results: dict[str, list[Stage]] = {m: [] for m in ref}
    for i, (name, maps) in enumerate(itertools.chain([("original", ref)], randomised)):
        for m, st in _stage_rows(name, ref, maps, single).items():
            results[m].append(st)
        if progress is not None:
            progress((i + 1) / total, "original model" if i == 0 else f"randomised down to {name}")
    return results


def cascade(
    model: nn.Module,
    layer: Union[str, nn.Module],
    x: torch.Tensor,
    target: Target = None,
    stages: Sequence[tuple[str, Sequence[str]]] | Sequence[str] | None = None,
    seed: int = 0,
    methods: Sequence[str] = METHODS,
    progress: ProgressFn | None = None,
    original: CAMResult | None = None,
) -> Cascade:
    """Cascading randomisation of ``model`` for all ``methods`` at once.

    One private deep copy is made per call; stage k re-initialises that copy's modules of
    stage k on top of stages 1..k-1 (cumulative, top first), with a generator seeded by
    ``(seed, stage name)``.  The explained class is fixed to the original model's target.
    ``stages``: (name, [module names]) pairs or plain module names, top first; default
    :func:`default_stages`.  ``original``: a Grad-CAM result already computed on ``x``
    with the shared model (saves one pass when only Grad-CAM is asked for).
    ``progress(fraction, text)`` is called after each stage.
    """
    import time

    t0 = time.perf_counter()
    _check_input(x)
    methods = _checked_methods(methods)
    layer_name, _ = resolve_layer(model, layer)
    stage_list = _checked_stages(model, stages)
    guided = any(m != GradCAM.name for m in methods)
    cam0, gb0, targets = _explain_original(model, layer_name, x, target, guided, original)
    ref = _maps(cam0, gb0, methods)
    randomised = _randomised_maps(model, layer_name, x, targets, guided, methods, stage_list, seed)
    results = _collect_stages(ref, randomised, x.shape[0] == 1, len(stage_list) + 1, progress)
    return Cascade(
        layer=layer_name,
        targets=targets,
        logits=cam0.logits,
        stages=["original"] + [s for s, _ in stage_list],
        results=results,
        seconds=time.perf_counter() - t0,
    )


def cascading_randomization(
    model: nn.Module,
    layer: Union[str, nn.Module],
    x: torch.Tensor,
    target: Target = None,
    stages=None,
    seed: int = 0,
    method: str = "Grad-CAM",
    progress: ProgressFn | None = None,
) -> list[Stage]:
    """``[(stage_name, map, spearman, ssim), ...]`` for one method; the first entry is the
    original model (ρ = SSIM = 1).  See :func:`cascade`."""
    return cascade(model, layer, x, target, stages, seed, (method,), progress).results[method]


# =========================================================================== deletion / insertion
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
    raise ValueError(f"Unknown baseline {baseline!r}; choose one of: {', '.join(BASELINES)}.")


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
            raise ValueError(f"the saliency map {k!r} must be 2-D (H, W), not {tuple(m.shape)}.")
        if tuple(m.shape) != (h, w):
            m = upsample(m, (h, w))
        rankings[k] = _order(m.numpy(), rng)
    for k in compare:
        if k == "random":
            rankings["random"] = _random_order(h, w, random_cell, rng)
        elif k == "Sobel":
            rankings["Sobel"] = _order(sobel_map(x), rng)
        else:
            raise ValueError(f"Unknown comparison {k!r}; use 'random' and/or 'Sobel'.")
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
            progress(done / max(1, len(jobs)), f"{done}/{len(jobs)} perturbed images")
    return probs


def _checked_steps(x: torch.Tensor, steps) -> int:
    """``steps`` as an int in 2..:data:`MAX_STEPS`, for one input ``x`` (ValueError otherwise)."""
    _check_input(x)
    if x.shape[0] != 1:
        raise ValueError(f"deletion_insertion explains one image at a time; got a batch of {x.shape[0]}.")
    steps = int(steps)
    if not 2 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be between 2 and {MAX_STEPS}, not {steps}.")
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


def deletion_insertion(model: nn.Module, x: torch.Tensor, target: Target, saliency, steps: int = 20,
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


# =========================================================================== plain language
#: Two areas under a curve that differ by at most this much read as "about the same" (the
#: sentences state it).  Areas are in probability × fraction of pixels, so 0.02 is 2 % of the
#: largest possible area.
AUC_TOLERANCE = 0.02
#: A rank correlation at or above this reads as "still similar to the original map".
SIMILAR = 0.5
#: A rank correlation at or below this reads as "partly reversed".
REVERSED = -0.2
#: ρ at or below this reads as a *large* reversal (|ρ| ≥ 0.7 is a strong rank correlation).
STRONGLY_REVERSED = -0.7


def _f(v: float) -> str:
    return f"{v:.2f}"


def _pct(v: float) -> str:
    return f"{100 * v:.0f} %"


def compare_area(value: float, reference: float, lower_is_better: bool, tol: float = AUC_TOLERANCE) -> str:
    """"better", "same" or "worse": how an area compares with a reference area.

    Deletion: lower is better (the probability falls sooner); insertion: higher is better (it
    comes back sooner).  Differences within ``tol`` (rounded to 9 decimals, so 0.52 − 0.50
    counts as 0.02) are "same"."""
    diff = round(float(value) - float(reference), 9)
    if abs(diff) <= tol:
        return "same"
    return "better" if (diff < 0) == bool(lower_is_better) else "worse"


_VS_CHANCE = {"better": "better than chance", "same": "about the same as chance", "worse": "worse than chance"}


def cascade_pattern(rho: Sequence[float], similar: float = SIMILAR) -> str:
    """How the rank correlations of the randomised stages (``rho[1:]``; ``rho[0]`` is the
    original, 1) behave as a whole: "falls" (every stage below ``similar``), "stays" (every
    stage at or above it), "falls_later" (the first stage is at or above it, a later one below)
    or "recovers" (the first stage is below it, a later one at or above it)."""
    r = [float(v) for v in rho[1:]]
    if not r:
        return ""
    high = [v >= similar for v in r]
    if not any(high):
        return "falls"
    if all(high):
        return "stays"
    return "falls_later" if high[0] else "recovers"


def reading_cascade(result: Cascade, method: str = "Grad-CAM", high: float = SIMILAR) -> str:
    """Sentences on how the map of ``method`` reacts to the randomisation, read from every
    stage of the table (first, lowest, highest and last), not from the first one alone."""
    rows = result.results[method]
    if len(rows) < 2:
        return ""
    rho = [float(v) for v in result.mean_spearman(method)]
    names = [st.name for st in rows]
    r, n = rho[1:], names[1:]
    first, last, r1, rl = n[0], n[-1], r[0], r[-1]
    kmin = int(np.argmin(r))
    kmax = int(np.argmax(r))
    who = f"The {method} map"
    several = len(r) > 1
    end = (f", and {_f(rl)} with everything down to {last} random" if several else "")
    pattern = cascade_pattern(rho, high)
    if pattern == "falls":
        s = (f"{who} changes as soon as the model's weights are replaced: its rank correlation with the original "
             f"map is {_f(r1)} after randomising {first}")
        if several:
            s += (f" and stays below {_f(high)} at every stage (lowest {_f(r[kmin])}, after {n[kmin]}"
                  f"{end})")
        s += ". It depends on what the model learned."
    elif pattern == "stays":
        s = (f"{who} barely changes when the model's weights are replaced: its rank correlation with the "
             f"original map is {_f(r1)} after randomising {first}")
        if several:
            s += f" and stays at or above {_f(high)} at every stage (lowest {_f(r[kmin])}, after {n[kmin]}{end})"
        s += ". It shows the picture's structure more than what the model learned."
    elif pattern == "falls_later":
        k = next(j for j, v in enumerate(r) if v < high)
        s = (f"{who} survives randomising the top of the model: its rank correlation with the original map is "
             f"still {_f(r1)} after randomising {first}, but falls to {_f(r[k])} once {n[k]} is random too "
             f"(lowest {_f(r[kmin])}, after {n[kmin]}{end}). It depends on what the lower layers learned much "
             f"more than on the top ones.")
    else:  # recovers
        s = (f"{who}'s rank correlation with the original map falls to {_f(r1)} after randomising {first}, "
             f"but is back at {_f(r[kmax])} once {n[kmax]} is random too{end}. The first drop shows it depends "
             f"on what the top layers learned; the later rise shows that a partly random network can draw a "
             f"similar map, so part of the map follows the picture itself rather than what the model learned.")
    if min(r) <= STRONGLY_REVERSED:
        s += (f" A value this negative ({_f(min(r))}) means the ranking is largely reversed, not just lost: what "
              "was brightest is now among the darkest.")
    elif min(r) <= REVERSED:
        s += (f" A negative value ({_f(min(r))}) means a moderate reversal, not just a loss: places that were "
              "brighter tend to be darker now, but many keep their rank.")
    others = [m for m in result.results if m != method]
    if others:
        parts = [f"{m} {_f(float(result.mean_spearman(m)[1]))}" + (
            f" → {_f(float(result.mean_spearman(m)[-1]))}" if several else "") for m in others]
        s += (f" (Other maps, {'first → last stage' if several else 'same stage'}: {', '.join(parts)}.)")
    return s


def curve_verdicts(curves: Curves, name: str | None = None, tol: float = AUC_TOLERANCE) -> dict[str, str]:
    """"better"/"same"/"worse" of the map ``name`` against each baseline ranking on each curve:
    keys "deletion_random", "insertion_random", "deletion_Sobel", "insertion_Sobel" (those
    present)."""
    name = _map_name(curves, name)
    out = {}
    for base in ("random", "Sobel"):
        if base in curves.auc_deletion:
            out[f"deletion_{base}"] = compare_area(curves.auc_deletion[name], curves.auc_deletion[base], True, tol)
            out[f"insertion_{base}"] = compare_area(curves.auc_insertion[name], curves.auc_insertion[base], False, tol)
    return out


def _map_name(curves: Curves, name: str | None) -> str:
    names = [k for k in curves.names if k not in ("random", "Sobel")]
    return name or (names[0] if names else curves.names[0])


def reading_curves(curves: Curves, name: str | None = None, aggregate: Mapping | None = None,
                   settings: Mapping | None = None, tol: float = AUC_TOLERANCE) -> str:
    """A short Markdown list comparing the map's deletion/insertion areas with the random
    order's and the Sobel map's.

    Deletion: a lower area is better; insertion: a higher one; differences within ``tol`` read
    "about the same" (the text says so).  ``aggregate``: a summary over many inputs (see
    :func:`aggregate_records`, with "settings" and "what" entries); it is quoted next to this
    input's verdict only when ``settings`` (layer, baseline, steps, …) match its own; otherwise
    the text says which setting differs."""
    name = _map_name(curves, name)
    d, i = curves.auc_deletion[name], curves.auc_insertion[name]
    v = curve_verdicts(curves, name, tol)
    out = []
    p0 = float(curves.deletion[name][0])
    same = f"(differences up to {_f(tol)} count as the same)"
    if "random" in curves.auc_deletion:
        dr, ir = curves.auc_deletion["random"], curves.auc_insertion["random"]
        s = f"**Deletion** (lower area is better): {name} {_f(d)}, random order {_f(dr)}: **{_VS_CHANCE[v['deletion_random']]}**"
        if v["deletion_random"] == "better":
            s += (f". Removing the pixels it ranks first makes the probability fall sooner; random's area is "
                  f"{dr / max(d, 1e-3):.1f}× {name}'s.")
        elif v["deletion_random"] == "worse":
            s += (". Removing the pixels it ranks first keeps the probability higher, on average along the curve, "
                  "than removing pixels in a random order.")
        else:
            s += f" {same}."
        out.append(s)
        s = f"**Insertion** (higher area is better): {name} {_f(i)}, random order {_f(ir)}: **{_VS_CHANCE[v['insertion_random']]}**"
        if v["insertion_random"] == "better":
            s += (f". Revealing its top pixels first brings the probability back sooner; its area is "
                  f"{i / max(ir, 1e-3):.1f}× random's.")
        elif v["insertion_random"] == "worse":
            s += ". Revealing its top pixels first brings the probability back later than revealing random ones."
        else:
            s += f" {same}."
        out.append(s)
    if "Sobel" in curves.auc_deletion:
        ds, is_ = curves.auc_deletion["Sobel"], curves.auc_insertion["Sobel"]
        vd, vi = v["deletion_Sobel"], v["insertion_Sobel"]
        nums = f"(Sobel: deletion {_f(ds)}, insertion {_f(is_)})"
        pair = {vd, vi}
        def where(word: str) -> str:
            if vd == vi:
                return "on both curves"
            won = "deletion" if vd == word else "insertion"
            return f"on {won} (about the same on {'insertion' if won == 'deletion' else 'deletion'})"

        if pair <= {"better", "same"} and "better" in pair:
            out.append(f"**Edge map:** {name} beats a model-free edge map {where('better')} {nums}: its ranking "
                       "finds the pixels this model needs better than the image's edges alone do.")
        elif pair <= {"worse", "same"} and "worse" in pair:
            out.append(f"**Edge map:** a model-free edge map does better {where('worse')} {nums}: on this input "
                       f"{name}'s ranking is weaker than one that knows nothing about the model.")
        elif pair == {"same"}:
            out.append(f"**Edge map:** a model-free edge map scores about the same {nums} {same}: these curves "
                       f"cannot tell {name}'s ranking apart from the image's edges.")
        else:
            out.append(f"**Edge map:** against a model-free edge map {nums} the result is mixed: {name} is "
                       f"{vd} on deletion and {vi} on insertion.")
    if p0 < 0.2:
        out.append(f"Note: the model gives this class only {_pct(p0)} to begin with, so the curves start low.")
    if aggregate is not None and "random" in curves.auc_deletion:
        out.append(reading_aggregate(aggregate, v["deletion_random"], v["insertion_random"], settings, name))
    return "\n".join(f"- {x}" for x in out)


# --------------------------------------------------------------------------- many inputs at once
RECORD_FIELDS = ("index", "label", "target", "deletion_map", "deletion_random", "deletion_Sobel",
                 "insertion_map", "insertion_random", "insertion_Sobel")


def curve_record(curves: Curves, index: int, label: int, name: str | None = None) -> list:
    """One input's areas as a row of :data:`RECORD_FIELDS` (6 decimals)."""
    name = _map_name(curves, name)
    r = lambda x: round(float(x), 6)  # noqa: E731
    return [int(index), int(label), int(curves.target),
            r(curves.auc_deletion[name]), r(curves.auc_deletion["random"]), r(curves.auc_deletion["Sobel"]),
            r(curves.auc_insertion[name]), r(curves.auc_insertion["random"]), r(curves.auc_insertion["Sobel"])]


def aggregate_records(records: Sequence[Sequence], tol: float = AUC_TOLERANCE) -> dict:
    """Summary of many :func:`curve_record` rows: the share of inputs where the map is better /
    about the same / worse than random on each curve (with ``tol``), and the mean areas."""
    a = np.asarray([list(r) for r in records], dtype=np.float64)
    if a.ndim != 2 or len(a) == 0:
        raise ValueError("No records to summarise.")
    col = {f: a[:, k] for k, f in enumerate(RECORD_FIELDS)}
    out: dict = {"n": int(len(a)), "tolerance": tol}
    for curve, lower in (("deletion", True), ("insertion", False)):
        verdicts = [compare_area(m, r, lower, tol) for m, r in zip(col[f"{curve}_map"], col[f"{curve}_random"])]
        out[f"{curve}_vs_random"] = {k: round(verdicts.count(k) / len(a), 4) for k in ("better", "same", "worse")}
        out[f"{curve}_mean"] = {k: round(float(col[f"{curve}_{k}"].mean()), 4) for k in ("map", "random", "Sobel")}
    return out


def aggregate_mismatch(aggregate: Mapping, settings: Mapping | None) -> list[str]:
    """The settings (layer, baseline, steps, target) under which ``aggregate`` was computed that
    differ from ``settings``, as "name: theirs (here: ours)" strings."""
    theirs = aggregate.get("settings", {})
    out = []
    for k, v in (settings or {}).items():
        if k in theirs and theirs[k] != v:
            out.append(f"{k} {theirs[k]} (here: {v})")
    return out


def _how_common(share: float) -> str:
    """"typical" / "shared by half of them" / "less common", decided on the whole percent shown."""
    pct = int(f"{100 * share:.0f}")
    return "typical" if pct > 50 else ("shared by half of them" if pct == 50 else "less common")


def reading_aggregate(aggregate: Mapping, deletion: str | None = None, insertion: str | None = None,
                      settings: Mapping | None = None, name: str = "Grad-CAM") -> str:
    """"Over N inputs: …; this one: …" for the random-order comparison.  ``deletion`` /
    ``insertion``: this input's verdicts ("better"/"same"/"worse"), or None.  Nothing is
    quoted when ``settings`` differ from the aggregate's own (the text says which).
    ``aggregate["what"]`` names the inputs ("held-out digits"), ``aggregate["one"]`` one of
    them ("digit")."""
    n = aggregate["n"]
    what = aggregate.get("what", "inputs")
    one = aggregate.get("one", "input")
    miss = aggregate_mismatch(aggregate, settings)
    if miss:
        return (f"A summary over {n} {what} exists, but it was computed with other settings "
                f"({'; '.join(miss)}), so it is not quoted here.")
    parts = []
    for curve, mine in (("deletion", deletion), ("insertion", insertion)):
        share = aggregate[f"{curve}_vs_random"]
        m = aggregate[f"{curve}_mean"]
        s = (f"{curve.capitalize()}: better than chance for {_pct(share['better'])} (about the same "
             f"{_pct(share['same'])}, worse {_pct(share['worse'])}; mean areas {name} {_f(m['map'])}, "
             f"random {_f(m['random'])}, Sobel {_f(m['Sobel'])})")
        if mine is not None:
            s += f"; this {one}'s \"{_VS_CHANCE[mine]}\" is {_how_common(share[mine])} ({_pct(share[mine])})"
        parts.append(s + ".")
    return f"**This {one} vs {n} {what}** (same settings). " + " ".join(parts)


def reading(cascade: Cascade | None = None, curves: Curves | None = None, method: str = "Grad-CAM") -> str:
    """The plain-language reading of whatever was computed (either or both)."""
    parts = []
    if curves is not None:
        parts.append(reading_curves(curves))
    if cascade is not None and method in cascade.results:
        parts.append(reading_cascade(cascade, method))
    return "\n\n".join(p for p in parts if p)
