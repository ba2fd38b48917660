"""CAM methods on the shared engine: each one only says how the maps are weighted.

References (formulas follow the papers; where pytorch-grad-cam made a choice the papers
leave open, we follow it so it can serve as a test oracle):
  Grad-CAM++   Chattopadhay et al., 2018       XGrad-CAM  Fu et al., 2020
  HiResCAM     Draelos & Carin, 2020           LayerCAM   Jiang et al., 2021
  Score-CAM    Wang et al., 2020               Eigen-CAM  Muhammad & Yeasin, 2020
  Faster Score-CAM (top-k channels by variance): S. Tabayashi, 2020, github.com/tabayashi0117/Score-CAM
  Counterfactual: Grad-CAM with negated gradients (Selvaraju et al., 2017, sec. 3.2)
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from gradcam_core.cam.engine import BaseCAM, GradCAM, eval_mode
from gradcam_core.base.errors import Refusal
from gradcam_core.cam.guided import GuidedGradCAM
from gradcam_core.cam.tokens import Layout

__all__ = [
    "GradCAM",
    "GradCAMPlusPlus",
    "XGradCAM",
    "HiResCAM",
    "LayerCAM",
    "CounterfactualCAM",
    "ScoreCAM",
    "ScoreCAMExact",
    "top_variance_channels",
    "EigenCAM",
    "GuidedGradCAM",
    "METHODS",
    "make_cam",
    "method_class",
    "register",
    "FACTS",
    "CELL_TERMS",
]

EPS = 1e-7
#: Score-CAM's default channel subset (see :class:`ScoreCAM`) and masked inputs per forward,
#: both chosen by measurement in bench/bench_scorecam.py.
SCORE_CAM_MAX_CHANNELS = 96
SCORE_CAM_BATCH = 16

# --------------------------------------------------------------------------- a method's facts
#: What a method's class says about itself (class attributes), besides ``name`` and
#: ``uses_gradients``; the defaults are BaseCAM's.  ``present/`` words a method from these facts
#: and its ``text_key`` alone (``present/words/en.toml``, table ``[method.<id>]``); nothing outside
#: the class is keyed by its name.
#:
#: - ``text_key``: the catalogue table of its words (summary, step titles, captions, equations…);
#:   a key missing there is looked up in the parent class's table (Guided Grad-CAM and exact
#:   Score-CAM say only what differs), and missing in every ancestor it is a KeyError.  Its label
#:   for people is ``<text_key>.label``, always its own (``name`` stays the code the API takes).
#: - ``class_free``: the map is the same for every class (Eigen-CAM): never evidence about one.
#: - ``slow``: one extra forward pass per (kept) channel; the UI gives it its own queue.
#: - ``uses_average``: step 3 (each channel's gradients averaged into its weight) applies.
#: - ``negated``: the weights are the negated gradients: a warm cell speaks *against* the class.
#: - ``cell_terms``: how one cell of the signed map splits into per-channel terms (see CELL_TERMS).
FACTS = {"text_key": None, "class_free": False, "slow": False, "uses_average": False, "negated": False,
         "cell_terms": "channel"}
#: ``cell_terms`` values: the weight of channel k at a cell is
#: "channel" — its one weight w_k (map = sum_k w_k A^k, the default combine);
#: "gradient" — the gradient at that cell (HiResCAM); "positive gradient" — its ReLU (LayerCAM);
#: "centred" — the loading v_k, times the activation minus its spatial mean (Eigen-CAM).
CELL_TERMS = ("channel", "gradient", "positive gradient", "centred")

# BaseCAM and GradCAM live in cam/engine.py and GuidedGradCAM in cam/guided.py: their facts are
# set here so that every method's facts sit in this one file (the defaults go on BaseCAM only
# where engine.py does not already declare them).
for _fact, _default in FACTS.items():
    if not hasattr(BaseCAM, _fact):
        setattr(BaseCAM, _fact, _default)
GradCAM.text_key, GradCAM.uses_average = "method.gradcam", True
GuidedGradCAM.text_key = "method.guided"


class GradCAMPlusPlus(BaseCAM):
    """Grad-CAM++: positive gradients weighted by alpha_ij from 2nd/3rd-order terms."""

    name = "Grad-CAM++"
    text_key = "method.gradcampp"

    def channel_weights(self, activations: torch.Tensor, gradients: torch.Tensor | None, ctx: dict) -> torch.Tensor:
        g2 = gradients.pow(2)
        g3 = g2 * gradients
        sum_a = activations.sum(dim=(2, 3), keepdim=True)
        aij = g2 / (2 * g2 + sum_a * g3 + 1e-6)
        aij = torch.where(gradients != 0, aij, torch.zeros_like(aij))
        return (F.relu(gradients) * aij).sum(dim=(2, 3))


class XGradCAM(BaseCAM):
    """XGrad-CAM: gradients weighted by the normalised activations."""

    name = "XGrad-CAM"
    text_key = "method.xgradcam"

    def channel_weights(self, activations: torch.Tensor, gradients: torch.Tensor | None, ctx: dict) -> torch.Tensor:
        sum_a = activations.sum(dim=(2, 3), keepdim=True)
        return (gradients * activations / (sum_a + EPS)).sum(dim=(2, 3))


class HiResCAM(BaseCAM):
    """HiResCAM: element-wise gradient × activation, summed over channels (no pooling).

    ``weights`` reports each channel's spatial mean of gradient × activation, so that
    sum_k weights_k equals the spatial mean of the map.
    """

    name = "HiResCAM"
    text_key = "method.hirescam"
    cell_terms = "gradient"

    def channel_weights(self, activations: torch.Tensor, gradients: torch.Tensor | None, ctx: dict) -> torch.Tensor:
        return (gradients * activations).mean(dim=(2, 3))

    def combine(self, activations: torch.Tensor, gradients: torch.Tensor | None, weights: torch.Tensor,
                ctx: dict) -> torch.Tensor:
        return (gradients * activations).sum(dim=1)


class LayerCAM(BaseCAM):
    """LayerCAM: element-wise ReLU(gradient) × activation, summed over channels."""

    name = "LayerCAM"
    text_key = "method.layercam"
    cell_terms = "positive gradient"

    def channel_weights(self, activations: torch.Tensor, gradients: torch.Tensor | None, ctx: dict) -> torch.Tensor:
        return (F.relu(gradients) * activations).mean(dim=(2, 3))

    def combine(self, activations: torch.Tensor, gradients: torch.Tensor | None, weights: torch.Tensor,
                ctx: dict) -> torch.Tensor:
        return (F.relu(gradients) * activations).sum(dim=1)


class CounterfactualCAM(BaseCAM):
    """Grad-CAM of the negated gradients: regions whose removal would raise the class score."""

    name = "Counterfactual"
    text_key = "method.counterfactual"
    negated = True

    def channel_weights(self, activations: torch.Tensor, gradients: torch.Tensor | None, ctx: dict) -> torch.Tensor:
        return (-gradients).mean(dim=(2, 3))


def top_variance_channels(activations: torch.Tensor, k: int | None) -> torch.Tensor:
    """(N, min(k, K)) indices of the channels whose (h, w) maps have the largest spatial
    variance, largest first (ties: lower index first); all K in order when k is None or >= K."""
    n, channels = activations.shape[:2]
    if k is None or k >= channels:
        return torch.arange(channels).expand(n, channels)
    var = activations.flatten(2).var(dim=2, unbiased=False)
    return torch.argsort(var, dim=1, descending=True, stable=True)[:, : int(k)]


_DEFAULT = object()


class ScoreCAM(BaseCAM):
    """Score-CAM (Wang et al., 2020) on a subset of channels by default ("Faster Score-CAM").

    Each channel's map, upsampled to the input and min-max scaled to 0–1, masks the input; the
    target logit of that masked input is the channel's *masked score* s_k.  The weights are
    the softmax of those scores over the channels, and the map is ReLU(sum_k w_k A^k).  That
    costs one extra forward pass per channel (1 280 on EfficientNet-Lite0's head).

    ``max_channels`` (default :data:`SCORE_CAM_MAX_CHANNELS`) keeps only the channels whose
    activation maps have the largest spatial variance (ties: the lower channel index first)
    and runs the masked forwards for those alone; the other channels get weight 0.  This is
    "Faster Score-CAM" of Shinichiro Tabayashi (2020): "use only channels with large variances
    as mask images", the ``max_N`` of his Keras Score-CAM (github.com/tabayashi0117/Score-CAM,
    README section "Faster Score-CAM"; written up in the Qiita article
    qiita.com/futakuchi0117/items/95c518254185ec5ea485), one of the implementations listed in
    the Score-CAM authors' repository github.com/haofanwang/Score-CAM before their own code
    release of 2020-04-13.  ``max_channels=None`` — or any value >= K, the layer's
    channel count — is exact Score-CAM (see :class:`ScoreCAMExact`).

    The softmax is taken over the kept channels only.  On a kept channel c it is
    exp(s_c) / sum_{j kept} exp(s_j) = (exact weight of c) × Z_all / Z_kept, with
    Z = sum of exp(s_j) over all / over the kept channels: the same constant factor (>= 1) on
    every kept channel, so the subset map is the exact map restricted to the kept channels
    and scaled by Z_all / Z_kept.

    The masked inputs run in batches of ``batch_size`` under ``torch.inference_mode``;
    ``progress(done, total)`` (masked forwards run so far, of all) is called after each batch and
    ``on_plan(forwards, kept, channels)`` once before the first (``present.method_texts.progress_text``
    words them).  ``extras`` of the result: ``masked_scores`` (N, K),
    NaN for channels that were not run, and ``kept_channels`` (N, kept), by falling variance.
    """

    name = "Score-CAM"
    text_key = "method.scorecam"
    slow = True
    uses_gradients = False
    #: The default channel subset; chosen by bench/bench_scorecam.py (rank correlation with exact
    #: Score-CAM on the shipped photos, and time on 2 cores).
    DEFAULT_MAX_CHANNELS: int | None = SCORE_CAM_MAX_CHANNELS

    def __init__(self, model: nn.Module, layer: Union[str, nn.Module], batch_size: int = SCORE_CAM_BATCH,
                 progress: Callable | None = None, max_channels: int | None = _DEFAULT,  # type: ignore[assignment]
                 on_plan: Callable[[int, int, int], None] | None = None, layout: Layout = "cnn") -> None:
        super().__init__(model, layer, layout=layout)
        if max_channels is _DEFAULT:
            max_channels = self.DEFAULT_MAX_CHANNELS
        if max_channels is not None and int(max_channels) < 1:
            raise Refusal("method.refusal.max_channels", value=max_channels)
        if int(batch_size) < 1:
            raise Refusal("method.refusal.batch_size", value=batch_size)
        self.batch_size = int(batch_size)
        self.max_channels = None if max_channels is None else int(max_channels)
        self.progress = progress
        self.on_plan = on_plan

    @classmethod
    def forwards(cls, channels: int) -> int:
        """Masked forward passes this method runs by default on a layer of ``channels`` channels
        (one photo): one per kept channel."""
        keep = cls.DEFAULT_MAX_CHANNELS
        return int(channels) if keep is None else min(int(channels), int(keep))

    def kept_channels(self, activations: torch.Tensor) -> torch.Tensor:
        """(N, kept) channel indices, by falling spatial variance of the activation maps."""
        return top_variance_channels(activations, self.max_channels)

    def channel_weights(self, activations: torch.Tensor, gradients: torch.Tensor | None, ctx: dict) -> torch.Tensor:
        x, targets = ctx["_x"], ctx["_targets"]
        n, k = activations.shape[:2]
        keep = self.kept_channels(activations)
        kept = keep.shape[1]
        total = n * kept
        if self.on_plan is not None:
            self.on_plan(total, kept, k)
        scores = torch.full((n, k), float("nan"))
        weights = torch.zeros(n, k)
        size = x.shape[-2:]
        done = 0
        with torch.inference_mode(), eval_mode(self.model):
            for i in range(n):
                kept_scores = torch.empty(kept)
                for s in range(0, kept, self.batch_size):
                    idx = keep[i, s : s + self.batch_size]
                    up = F.interpolate(activations[i : i + 1, idx], size=size, mode="bilinear", align_corners=False)
                    up = up[0, :, None]  # (b, 1, H, W)
                    lo = up.amin(dim=(2, 3), keepdim=True)
                    hi = up.amax(dim=(2, 3), keepdim=True)
                    span = hi - lo
                    masks = torch.where(span > 0, (up - lo) / span.clamp_min(1e-12), torch.zeros_like(up))
                    # channels-last input: faster on this CPU at every batch size (bench_scorecam.py)
                    out = self.model((x[i : i + 1] * masks).contiguous(memory_format=torch.channels_last))
                    kept_scores[s : s + len(idx)] = out[:, int(targets[i])].float()
                    done += len(idx)
                    if self.progress is not None:
                        self.progress(done, total)
                scores[i, keep[i]] = kept_scores
                weights[i, keep[i]] = torch.softmax(kept_scores, dim=0)
        ctx["masked_scores"] = scores
        ctx["kept_channels"] = keep.clone()
        return weights


class ScoreCAMExact(ScoreCAM):
    """Exact Score-CAM: one masked forward for every channel of the layer (``max_channels=None``)."""

    name = "Score-CAM (exact)"
    text_key = "method.scorecam_exact"
    DEFAULT_MAX_CHANNELS = None


class EigenCAM(BaseCAM):
    """Eigen-CAM: projection of the activations on their first principal component.

    Class-agnostic (the target does not change it).  The sign of a principal component is
    arbitrary; we choose it so the map correlates positively with the mean activation, so the
    ReLU keeps the salient part rather than sometimes deleting it.
    """

    name = "Eigen-CAM"
    text_key = "method.eigencam"
    class_free = True
    cell_terms = "centred"
    uses_gradients = False

    def channel_weights(self, activations: torch.Tensor, gradients: torch.Tensor | None, ctx: dict) -> torch.Tensor:
        n, k, h, w = activations.shape
        a = activations.reshape(n, k, h * w).transpose(1, 2)  # (n, hw, k)
        centered = a - a.mean(dim=1, keepdim=True)
        _, _, vh = torch.linalg.svd(centered, full_matrices=False)
        v = vh[:, 0, :]  # (n, k)
        proj = torch.einsum("npk,nk->np", centered, v)
        mean_map = a.mean(dim=2)
        flip = (((proj - proj.mean(1, keepdim=True)) * (mean_map - mean_map.mean(1, keepdim=True))).sum(1) < 0)
        v = torch.where(flip[:, None], -v, v)
        ctx["_centered"] = centered
        return v

    def combine(self, activations: torch.Tensor, gradients: torch.Tensor | None, weights: torch.Tensor,
                ctx: dict) -> torch.Tensor:
        n, k, h, w = activations.shape
        return torch.einsum("npk,nk->np", ctx["_centered"], weights).reshape(n, h, w)


METHODS: dict[str, type[BaseCAM]] = {}


def register(cls: type[BaseCAM]) -> type[BaseCAM]:
    """Add a method class to :data:`METHODS` under its ``name`` (usable as a class decorator).  Its
    facts (:data:`FACTS`) must be valid; its words are checked by ``present.method_texts``."""
    if not (isinstance(cls, type) and issubclass(cls, BaseCAM)):
        raise TypeError(f"register({cls!r}): BaseCAM subclass expected")
    if not isinstance(cls.text_key, str) or not cls.text_key:
        raise TypeError(f"{cls.__name__}.text_key: missing")
    if cls.cell_terms not in CELL_TERMS:
        raise TypeError(f"{cls.__name__}.cell_terms is {cls.cell_terms!r}, not one of {CELL_TERMS}")
    METHODS[cls.name] = cls
    _ALL_OPTIONS.update(_options(cls))
    return cls


def method_class(name: str | None) -> type[BaseCAM]:
    """The registered class of the method called ``name`` (its display name)."""
    if not isinstance(name, str) or name not in METHODS:
        raise Refusal("method.refusal.unknown", method=str(name), choices=", ".join(METHODS))
    return METHODS[name]


def _options(cls: type[BaseCAM]) -> set[str]:
    """The keyword options a method's constructor takes besides the model and the layer."""
    return set(inspect.signature(cls.__init__).parameters) - {"self", "model", "layer"}


#: Every option some registered method takes; a method that does not take one ignores it.
_ALL_OPTIONS: set[str] = set()

for _cls in (GradCAM, GradCAMPlusPlus, HiResCAM, XGradCAM, LayerCAM, ScoreCAM, ScoreCAMExact, EigenCAM,
             CounterfactualCAM, GuidedGradCAM):
    register(_cls)


def make_cam(method: str, model: nn.Module, layer: Union[str, nn.Module], **kwargs: Any) -> BaseCAM:
    """Build a CAM method by its display name (see ``METHODS``).  Options of other methods (e.g.
    Score-CAM's ``batch_size``) are ignored; an option no method knows is a TypeError."""
    cls = method_class(method)
    own = _options(cls)
    return cls(model, layer, **{k: v for k, v in kwargs.items() if k in own or k not in _ALL_OPTIONS})
