"""Guided backpropagation and Guided Grad-CAM, without touching the shared model.

Guided backprop (Springenberg et al., 2015) changes the backward pass of every ReLU: a
gradient passes only where the forward input was positive *and* the incoming gradient is
positive.  The usual implementations register backward hooks on the model's ``nn.ReLU``
modules — which changes the model for every other thread, and misses functional
``F.relu`` calls (DenseNet) and ReLU6 (EfficientNet-Lite).

Here a :class:`torch.overrides.TorchFunctionMode` swaps the activation *calls* for a guided
version while one forward runs.  Torch-function modes are thread-local, so other threads
running the same model at the same time see ordinary ReLUs; nothing is registered on the
model, and its parameters are not differentiated (we ask for d score / d input only).

Guided Grad-CAM (Selvaraju et al., 2017) multiplies the guided-backprop image by the
upsampled Grad-CAM map: fine detail from the former, class selectivity from the latter.
Note (Adebayo et al., 2018): guided backprop barely changes when the model's weights are
randomised — it behaves much like an edge detector — so the "Can I trust it?" panel shows it.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from gradcam_core.cam.engine import GradCAM, _check_input, eval_mode
from gradcam_core.cam.postprocess import normalize_max, upsample
from gradcam_core.base.errors import Refusal

__all__ = ["GuidedGradCAM", "SANITY_MAPS", "guided_backprop", "guided_image"]


class _GuidedClamp(torch.autograd.Function):
    """clamp(x, lo, hi) forward; backward passes grad only where lo < x < hi and grad > 0."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return x.clamp(min=lo, max=hi)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        gate = x > ctx.lo
        if ctx.hi is not None:
            gate = gate & (x < ctx.hi)
        return grad.clamp(min=0) * gate, None, None


_RELU = {F.relu, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_, torch.nn.functional.relu_}
_RELU6 = {F.relu6}
_HARDTANH = {F.hardtanh, F.hardtanh_}


class _GuidedMode(TorchFunctionMode):
    """Within this thread only: every ReLU / ReLU6 call becomes a guided one (out of place)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _RELU:
            return _GuidedClamp.apply(args[0], 0.0, None)
        if func in _RELU6:
            return _GuidedClamp.apply(args[0], 0.0, 6.0)
        if func in _HARDTANH:
            lo = kwargs.get("min_val", args[1] if len(args) > 1 else -1.0)
            hi = kwargs.get("max_val", args[2] if len(args) > 2 else 1.0)
            if lo == 0.0:
                return _GuidedClamp.apply(args[0], 0.0, hi)
            kwargs.pop("inplace", None)
            return func(args[0], lo, hi)
        return func(*args, **kwargs)


def guided_backprop(model: torch.nn.Module, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """d score / d input with guided ReLUs, (N, C, H, W); ``targets`` is (N,) long."""
    _check_input(x)
    with torch.inference_mode(False), eval_mode(model), torch.enable_grad():
        inp = x.detach().clone().requires_grad_(True)
        with _GuidedMode():
            logits = model(inp)
        score = logits.gather(1, targets.reshape(-1, 1)).sum()
        (grad,) = torch.autograd.grad(score, inp)
    return grad.detach()


class GuidedGradCAM(GradCAM):
    """Guided Grad-CAM = guided backprop × upsampled, max-normalised Grad-CAM (same target).

    A registered CAM method like the others: its map, weights and steps are Grad-CAM's; each
    result's ``extras`` add ``guided_backprop`` and ``guided_gradcam``, both (N, C, H, W), from
    ONE guided pass for all the targets of a call.
    """

    name = "Guided Grad-CAM"
    #: The method whose map this one shows: a comparison of maps alone runs that one instead.
    map_method = GradCAM.name

    def _run(self, x, pick):
        results = super()._run(x, pick)
        n = x.shape[0]
        targets = torch.cat([r.targets for r in results])
        gb = guided_backprop(self.model, x.repeat(len(results), 1, 1, 1), targets)  # one guided pass
        for j, r in enumerate(results):
            g = gb[j * n:(j + 1) * n]
            mask = normalize_max(upsample(r.cam, r.input_size))  # (N, H, W) in [0, 1]
            r.extras["guided_backprop"] = g
            r.extras["guided_gradcam"] = g * mask[:, None]
        return results


#: What the "Can I trust it?" panel compares under weight randomisation: the class map, the
#: product, and guided backprop alone (the ``extras`` key of the result that holds it).
SANITY_MAPS = (GradCAM.name, GuidedGradCAM.name, "Guided backprop")


def guided_image(t: torch.Tensor) -> np.ndarray:
    """Display a (C, H, W) gradient image: centre on grey, ±3 standard deviations → uint8 (H, W, 3)."""
    a = torch.as_tensor(t, dtype=torch.float32)
    if a.dim() != 3:
        raise Refusal("error.engine.grad_shape", shape=tuple(a.shape))
    a = a - a.mean()
    a = a / (a.std() + 1e-8) * 0.15 + 0.5
    img = (a.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img)
