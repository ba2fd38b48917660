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
    spearman(a, b), ssim(a, b)

Re-exported here (one import for the trust checks): :mod:`.deletion` (``deletion_insertion``,
``Curves``, ``sobel_map``, ``make_baseline``, ...) and :mod:`.verdict_codes` (``compare_area``,
``cascade_pattern``, ``cascade_verdict``, ``curves_verdict``, ``curve_record``,
``aggregate_records``, ...).  This package holds numbers and codes only: the sentences that read
them are ``present/verdicts.py``, from the catalogue's ``[verdict]`` section.
"""
from __future__ import annotations

import copy
import itertools
import math
import zlib
from dataclasses import dataclass, field
from typing import NamedTuple, Sequence, Union

import numpy as np
import torch
import torch.nn as nn

from gradcam_core.analysis.deletion import (  # noqa: F401  (re-exported: one import for the trust checks)
    BASELINES, MAX_STEPS, Curves, ProgressFn, blur_sigma, deletion_insertion, make_baseline, sobel_map)
from gradcam_core.analysis.verdict_codes import (  # noqa: F401  (re-exported)
    AUC_TOLERANCE, RECORD_FIELDS, REVERSED, SIMILAR, STRONGLY_REVERSED, CascadeVerdict, CurvesVerdict,
    aggregate_mismatch, aggregate_records, cascade_pattern, compare_area, curve_record,
    curve_verdicts, curves_verdict, how_common, map_name, reversal)
from gradcam_core.cam.engine import CAMResult, GradCAM, Target, _check_input, resolve_layer
from gradcam_core.cam.guided import SANITY_MAPS, GuidedGradCAM
from gradcam_core.cam.postprocess import normalize_max, upsample
from gradcam_core.base.errors import Refusal, Term

__all__ = [
    "METHODS", "BASELINES", "Stage", "Cascade", "Curves", "default_stages", "randomize_", "cascade",
    "cascading_randomization", "deletion_insertion", "spearman", "ssim", "sobel_map", "make_baseline",
    "compare_area", "cascade_pattern", "cascade_verdict", "curve_verdicts", "curves_verdict", "CascadeVerdict",
    "CurvesVerdict", "curve_record", "aggregate_records", "aggregate_mismatch", "how_common", "RECORD_FIELDS",
    "AUC_TOLERANCE", "SIMILAR", "MAX_STEPS",
]

#: The maps the cascading randomisation compares (all from the same randomised copies): the
#: guided module's (Grad-CAM, Guided Grad-CAM, Guided backprop).
METHODS = SANITY_MAPS


# =========================================================================== similarity
def _rank_rows(a: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank) of each row of a 2-D array."""
    from scipy.stats import rankdata

    return rankdata(a, method="average", axis=1)


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """Spearman rank correlation between maps ``a`` and ``b``, per map.

    ``a``, ``b``: (H, W) -> float, or (N, H, W) -> (N,) array.  Ties get average ranks.  A
    constant map has no ranking: the correlation is then defined as 1.0 if both maps are
    constant and 0.0 otherwise (e.g. a randomised model whose Grad-CAM is all zero).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    single = a.ndim == 2
    a2, b2 = a.reshape(1 if single else a.shape[0], -1), b.reshape(1 if single else b.shape[0], -1)
    if a2.shape != b2.shape:
        raise Refusal("analysis.error.maps_differ", shape_a=a.shape, shape_b=b.shape)
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


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
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
        raise Refusal("analysis.error.no_parameters")
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
            raise Refusal("analysis.error.unknown_map", method=m, choices=", ".join(METHODS))
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
            raise Refusal("analysis.error.unknown_map", method=m, choices=", ".join(METHODS))
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
                raise Refusal("analysis.error.no_module", stage=name, module=n)
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
            progress((i + 1) / total, str(Term("analysis.progress.original") if i == 0 else Term("analysis.progress.randomised", name=name)))
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
    stages: Sequence[tuple[str, Sequence[str]]] | Sequence[str] | None = None,
    seed: int = 0,
    method: str = "Grad-CAM",
    progress: ProgressFn | None = None,
) -> list[Stage]:
    """``[(stage_name, map, spearman, ssim), ...]`` for one method; the first entry is the
    original model (ρ = SSIM = 1).  See :func:`cascade`."""
    return cascade(model, layer, x, target, stages, seed, (method,), progress).results[method]


# =========================================================================== the verdict
def cascade_verdict(result: Cascade, method: str = "Grad-CAM", high: float = SIMILAR) -> CascadeVerdict | None:
    """The verdict of ``method``'s map in ``result``, read from every stage of the table (first,
    lowest, highest and last), not from the first one alone; None with no randomised stage."""
    rows = result.results[method]
    if len(rows) < 2:
        return None
    rho = [float(v) for v in result.mean_spearman(method)]
    r, names = rho[1:], [st.name for st in rows][1:]
    pattern = cascade_pattern(rho, high)
    first_low = next(j for j, v in enumerate(r) if v < high) if pattern == "falls_later" else None
    others = tuple((m, float(result.mean_spearman(m)[1]), float(result.mean_spearman(m)[-1]))
                   for m in result.results if m != method)
    return CascadeVerdict(method, pattern, float(high), tuple(names), tuple(r), int(np.argmin(r)), int(np.argmax(r)),
                          first_low, reversal(min(r)), others)
