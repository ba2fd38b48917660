"""CAM methods on the shared engine: each one only says how the maps are weighted.

References (formulas follow the papers; where pytorch-grad-cam made a choice the papers
leave open, we follow it so it can serve as a test oracle):
  Grad-CAM++   Chattopadhay et al., 2018       XGrad-CAM  Fu et al., 2020
  HiResCAM     Draelos & Carin, 2020           LayerCAM   Jiang et al., 2021
  Score-CAM    Wang et al., 2020               Eigen-CAM  Muhammad & Yeasin, 2020
  Counterfactual: Grad-CAM with negated gradients (Selvaraju et al., 2017, sec. 3.2)
"""
from __future__ import annotations

from typing import Callable, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .engine import BaseCAM, GradCAM, eval_mode

__all__ = [
    "GradCAM",
    "GradCAMPlusPlus",
    "XGradCAM",
    "HiResCAM",
    "LayerCAM",
    "CounterfactualCAM",
    "ScoreCAM",
    "EigenCAM",
    "METHODS",
    "make_cam",
]

EPS = 1e-7


class GradCAMPlusPlus(BaseCAM):
    """Grad-CAM++: positive gradients weighted by alpha_ij from 2nd/3rd-order terms."""

    name = "Grad-CAM++"

    def channel_weights(self, activations, gradients, ctx):
        g2 = gradients.pow(2)
        g3 = g2 * gradients
        sum_a = activations.sum(dim=(2, 3), keepdim=True)
        aij = g2 / (2 * g2 + sum_a * g3 + 1e-6)
        aij = torch.where(gradients != 0, aij, torch.zeros_like(aij))
        return (F.relu(gradients) * aij).sum(dim=(2, 3))


class XGradCAM(BaseCAM):
    """XGrad-CAM: gradients weighted by the normalised activations."""

    name = "XGrad-CAM"

    def channel_weights(self, activations, gradients, ctx):
        sum_a = activations.sum(dim=(2, 3), keepdim=True)
        return (gradients * activations / (sum_a + EPS)).sum(dim=(2, 3))


class HiResCAM(BaseCAM):
    """HiResCAM: element-wise gradient × activation, summed over channels (no pooling).

    ``weights`` reports each channel's spatial mean of gradient × activation, so that
    sum_k weights_k equals the spatial mean of the map.
    """

    name = "HiResCAM"

    def channel_weights(self, activations, gradients, ctx):
        return (gradients * activations).mean(dim=(2, 3))

    def combine(self, activations, gradients, weights, ctx):
        return (gradients * activations).sum(dim=1)


class LayerCAM(BaseCAM):
    """LayerCAM: element-wise ReLU(gradient) × activation, summed over channels."""

    name = "LayerCAM"

    def channel_weights(self, activations, gradients, ctx):
        return (F.relu(gradients) * activations).mean(dim=(2, 3))

    def combine(self, activations, gradients, weights, ctx):
        return (F.relu(gradients) * activations).sum(dim=1)


class CounterfactualCAM(BaseCAM):
    """Grad-CAM of the negated gradients: regions whose removal would raise the class score."""

    name = "Counterfactual"

    def channel_weights(self, activations, gradients, ctx):
        return (-gradients).mean(dim=(2, 3))


class ScoreCAM(BaseCAM):
    """Score-CAM: each channel, upsampled and min-max scaled, masks the input; its weight is
    the softmax (over channels) of the target logit on that masked input.  Costs one forward
    per channel, run in batches of ``batch_size``; ``progress(fraction, text)`` is called
    after each batch.
    """

    name = "Score-CAM"
    uses_gradients = False

    def __init__(self, model: nn.Module, layer, batch_size: int = 32, progress: Callable | None = None):
        super().__init__(model, layer)
        self.batch_size = int(batch_size)
        self.progress = progress

    def channel_weights(self, activations, gradients, ctx):
        x, targets = ctx["_x"], ctx["_targets"]
        n, k = activations.shape[:2]
        up = F.interpolate(activations, size=x.shape[-2:], mode="bilinear", align_corners=False)
        flat = up.flatten(2)
        lo, hi = flat.amin(dim=2)[..., None, None], flat.amax(dim=2)[..., None, None]
        span = hi - lo
        masks = torch.where(span > 0, (up - lo) / span.clamp_min(1e-12), torch.zeros_like(up))
        scores = torch.empty(n, k)
        total = n * k
        done = 0
        with torch.inference_mode(), eval_mode(self.model):
            for i in range(n):
                for s in range(0, k, self.batch_size):
                    m = masks[i, s : s + self.batch_size, None]  # (b, 1, H, W)
                    out = self.model(x[i : i + 1] * m)
                    scores[i, s : s + m.shape[0]] = out[:, int(targets[i])].float()
                    done += m.shape[0]
                    if self.progress is not None:
                        self.progress(done / total, f"Score-CAM: {done}/{total} masked forwards")
        ctx["masked_scores"] = scores
        return torch.softmax(scores, dim=1)


class EigenCAM(BaseCAM):
    """Eigen-CAM: projection of the activations on their first principal component.

    Class-agnostic (the target does not change it).  The sign of a principal component is
    arbitrary; we choose it so the map correlates positively with the mean activation, so the
    ReLU keeps the salient part rather than sometimes deleting it.
    """

    name = "Eigen-CAM"
    uses_gradients = False

    def channel_weights(self, activations, gradients, ctx):
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

    def combine(self, activations, gradients, weights, ctx):
        n, k, h, w = activations.shape
        return torch.einsum("npk,nk->np", ctx["_centered"], weights).reshape(n, h, w)


METHODS: dict[str, type[BaseCAM]] = {
    cls.name: cls
    for cls in (GradCAM, GradCAMPlusPlus, HiResCAM, XGradCAM, LayerCAM, ScoreCAM, EigenCAM, CounterfactualCAM)
}


def make_cam(method: str, model: nn.Module, layer: Union[str, nn.Module], **kwargs) -> BaseCAM:
    """Build a CAM method by its display name (see ``METHODS``)."""
    if method not in METHODS:
        raise ValueError(f"Unknown CAM method {method!r}; choose one of: {', '.join(METHODS)}.")
    cls = METHODS[method]
    if cls is not ScoreCAM:
        kwargs.pop("batch_size", None)
        kwargs.pop("progress", None)
    return cls(model, layer, **kwargs)
