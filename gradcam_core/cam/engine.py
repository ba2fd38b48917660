"""The CAM engine: one forward pass, one hooked layer, every intermediate step kept.

Design (what this does better than hooking a model for its whole life):

* The forward hook exists only for the duration of one call (``_capture`` is a context
  manager) and only reacts to the thread that registered it, so concurrent calls on one
  shared model never see each other's tensors.  Nothing about a call is stored on ``self``.
* The part of the network *before* the hooked layer runs under ``torch.no_grad``.  At the
  hooked layer the output is detached into a fresh leaf that requires grad, and gradient
  recording is switched on for the rest of the forward.  Backward therefore stops at the
  hooked layer: no parameter is differentiated, ``.grad`` is never written (we use
  ``torch.autograd.grad``), and ``requires_grad`` flags are never flipped.
* The hooked layer hands a *clone* of the leaf to the rest of the network, so in-place
  operations that follow (``nn.ReLU(inplace=True)``, DenseNet's functional ReLU) neither
  fail nor corrupt the recorded activations.
* Train/eval flags are switched to eval for the call and restored afterwards (only when a
  module was in training mode, so an eval model shared between threads is never touched).
* The result is a plain dataclass holding every step, so a UI only has to render.
* A transformer layer's output is a token sequence or channels-last (``cam/tokens.py``): with
  ``layout="tokens"`` or ``"channels_last"`` the engine turns the activation *and* its gradient
  into ``(N, C, h, w)`` maps (the class token left out) before any method sees them, so every
  method works unchanged on a token grid.  The gradient is still taken with respect to the
  layer's own output (the leaf), so nothing about the backward pass changes.

A CAM *method* is a small subclass that says how channel weights (or the weighted map) are
computed from activations and gradients; see :class:`GradCAM` and ``methods.py``.
"""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from gradcam_core.base.errors import Refusal
from gradcam_core.cam.tokens import Layout, check_layout, drops_class_token, to_maps

Target = Union[int, None, Sequence[Union[int, None]]]

__all__ = [
    "CAMResult",
    "BaseCAM",
    "GradCAM",
    "resolve_layer",
    "layer_choices",
]


@dataclass
class CAMResult:
    """Every step of one explanation.  All tensors are detached and on the CPU.

    Shapes: N = batch, C = classes, K = channels of the hooked layer, (h, w) its map size.  For a
    transformer layer (``layout`` "tokens" or "channels_last") K is the embedding dimension and
    (h, w) the grid of patch tokens: ``activations`` and ``gradients`` are already reshaped to maps.
    """

    method: str
    layer: str
    targets: torch.Tensor  # (N,) long: the class explained for each sample
    logits: torch.Tensor  # (N, C)
    activations: torch.Tensor  # (N, K, h, w) output of the hooked layer
    gradients: torch.Tensor | None  # (N, K, h, w) d score / d activations (None: gradient-free)
    weights: torch.Tensor  # (N, K) channel weights (alpha_k^c for Grad-CAM)
    weighted: torch.Tensor  # (N, h, w) signed combination of the maps, before ReLU
    cam: torch.Tensor  # (N, h, w) ReLU(weighted), NOT normalised
    input_size: tuple[int, int]  # (H, W) of the model input
    extras: dict = field(default_factory=dict)
    #: how the layer's output became maps (``cam/tokens.py``): "cnn" (as it was), "tokens", "channels_last"
    layout: str = "cnn"
    #: the layer's class token was left out of the map (``layout="tokens"``)
    class_token_dropped: bool = False
    #: share of exactly-zero entries of ``gradients`` (on the map's cells / patch tokens only: a dropped
    #: class token does not count); None for a method without gradients.  1.0 on ViT's last block.
    zero_grad_share: float | None = None

    @property
    def probs(self) -> torch.Tensor:
        """Softmax of the logits, (N, C)."""
        return torch.softmax(self.logits, dim=1)

    @property
    def scores(self) -> torch.Tensor:
        """The explained logit for each sample, (N,)."""
        return self.logits.gather(1, self.targets[:, None])[:, 0]

    def upsampled(self, size: tuple[int, int] | None = None) -> torch.Tensor:
        """The raw CAM resized bilinearly to the input size (or ``size``), (N, H, W)."""
        from gradcam_core.cam.postprocess import upsample

        return upsample(self.cam, size or self.input_size)


# --------------------------------------------------------------------------- helpers


def layer_choices(model: nn.Module, limit: int = 40) -> list[str]:
    """Names worth suggesting when a layer name is wrong: children, then conv layers."""
    names = [n for n, _ in model.named_children()]
    names += [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and n not in names]
    return names[:limit]


def resolve_layer(model: nn.Module, layer: Union[str, nn.Module]) -> tuple[str, nn.Module]:
    """Return ``(name, module)`` for a layer given by name or by module."""
    if isinstance(layer, nn.Module):
        for name, mod in model.named_modules():
            if mod is layer:
                return name, mod
        raise Refusal("error.engine.layer_not_in_model")
    if not isinstance(layer, str):
        raise Refusal("error.engine.layer_type", type=type(layer).__name__)
    modules = dict(model.named_modules())
    if layer not in modules or layer == "":
        choices = layer_choices(model)
        raise Refusal("error.engine.unknown_layer", layer=layer, choices=", ".join(choices))
    return layer, modules[layer]


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Put every module in eval mode for the block; restore each module's own flag after."""
    training = [m for m in model.modules() if m.training]
    for m in training:
        m.training = False
    try:
        yield
    finally:
        for m in training:
            m.training = True


@contextlib.contextmanager
def _capture(layer: nn.Module, with_grad: bool) -> Iterator[list[torch.Tensor]]:
    """Hook ``layer`` for one call on this thread; yields the list of captured leaves.

    With ``with_grad`` the captured output becomes a leaf that requires grad and gradient
    recording is switched on from this point of the forward pass onwards (the caller runs the
    forward under ``torch.no_grad()``, whose exit restores the previous mode).
    """
    owner = threading.get_ident()
    leaves: list[torch.Tensor] = []

    def hook(module, args, output):
        if threading.get_ident() != owner:  # another thread's forward on the shared model
            return None
        if not isinstance(output, torch.Tensor):
            raise Refusal("error.engine.not_a_tensor", type=type(output).__name__)
        leaf = output.detach()
        if with_grad:
            leaf.requires_grad_(True)
            torch.set_grad_enabled(True)  # thread-local; restored by the caller's no_grad exit
        leaves.append(leaf)
        # Hand a copy downstream: in-place ops after this layer must not touch the leaf.
        return leaf.clone() if with_grad else leaf

    handle = layer.register_forward_hook(hook)
    try:
        yield leaves
    finally:
        handle.remove()


def _as_targets(target: Target, logits: torch.Tensor) -> torch.Tensor:
    n, c = logits.shape
    predicted = logits.argmax(dim=1)
    if target is None:
        return predicted
    if isinstance(target, torch.Tensor):
        target = target.tolist()
    if isinstance(target, (list, tuple)):
        if len(target) != n:
            raise Refusal("error.engine.target_count", targets=len(target), inputs=n)
        items = list(target)
    else:
        items = [target] * n
    out = []
    for i, t in enumerate(items):
        if t is None:
            out.append(int(predicted[i]))
            continue
        if isinstance(t, bool) or not isinstance(t, (int,)) and not hasattr(t, "__index__"):
            raise Refusal("error.engine.target_type", target=t)
        t = int(t)
        if not 0 <= t < c:
            raise Refusal("error.engine.target_range", target=t, classes=c, last=c - 1)
        out.append(t)
    return torch.tensor(out, dtype=torch.long)


def _check_input(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor):
        raise Refusal("error.engine.input_type", type=type(x).__name__)
    if x.dim() != 4:
        raise Refusal("error.engine.input_shape", shape=tuple(x.shape))
    if not x.is_floating_point():
        raise Refusal("error.engine.input_dtype", dtype=str(x.dtype))


# --------------------------------------------------------------------------- base class


class BaseCAM:
    """A class-activation-map method on one layer of one model.

    Subclasses set ``name`` and ``uses_gradients`` and override :meth:`channel_weights`
    (and, for element-wise methods, :meth:`combine`).  Instances hold only configuration,
    never per-call state, so one instance can serve many threads.
    """

    name = "base"
    uses_gradients = True

    def __init__(self, model: nn.Module, layer: Union[str, nn.Module], layout: Layout = "cnn"):
        self.model = model
        self.layer_name, self.layer = resolve_layer(model, layer)
        #: how the layer's output becomes (N, K, h, w) maps (``cam/tokens.py``); the registry knows it
        self.layout = check_layout(layout)

    def maps(self, t: torch.Tensor) -> torch.Tensor:
        """The layer's output (or its gradient) as (N, K, h, w) maps, per :attr:`layout`."""
        return to_maps(t, self.layout, self.layer_name)

    # -- what a method defines -------------------------------------------------------
    def channel_weights(
        self, activations: torch.Tensor, gradients: torch.Tensor | None, ctx: dict
    ) -> torch.Tensor:
        """(N, K) weights of the feature maps."""
        raise NotImplementedError

    def combine(
        self, activations: torch.Tensor, gradients: torch.Tensor | None, weights: torch.Tensor, ctx: dict
    ) -> torch.Tensor:
        """(N, h, w) signed map before ReLU; by default sum_k w_k A^k."""
        return torch.einsum("nk,nkhw->nhw", weights, activations)

    # -- the engine ------------------------------------------------------------------
    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One forward pass; returns (logits, captured activation leaf, as the layer gave it)."""
        _check_input(x)
        with eval_mode(self.model), torch.no_grad(), _capture(
            self.layer, self.uses_gradients
        ) as leaves:
            try:
                logits = self.model(x)
            except (RuntimeError, ValueError, AssertionError) as exc:  # torchvision ViT asserts its input size
                if isinstance(exc, Refusal):
                    raise
                raise Refusal("error.engine.model_failed", shape=tuple(x.shape), detail=str(exc)) from exc
        if not leaves:
            raise Refusal("error.engine.layer_unused", layer=self.layer_name)
        if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
            raise Refusal("error.engine.not_logits")
        act = leaves[-1]
        self.maps(act.detach())  # refuses (error.engine.not_a_map) a shape that is not the layout's
        return logits, act

    def _gradients(self, logits: torch.Tensor, act: torch.Tensor, targets: torch.Tensor, retain: bool) -> torch.Tensor:
        if logits.grad_fn is None:
            raise Refusal("error.engine.layer_unrelated", layer=self.layer_name)
        with torch.enable_grad():  # the caller may be in no_grad
            score = logits.gather(1, targets[:, None]).sum()
        (grad,) = torch.autograd.grad(score, act, retain_graph=retain, allow_unused=True)
        if grad is None:
            raise Refusal("error.engine.layer_unrelated", layer=self.layer_name)
        return grad

    @staticmethod
    def _ctx(x, logits, targets) -> dict:
        """Per-call context handed to the method (keys with '_' are not kept in the result)."""
        return {"_x": x, "_logits": logits.detach(), "_targets": targets}

    def _finish(self, x, logits, act, grad, targets, ctx) -> CAMResult:
        """The method's steps on the maps of the layer's output ``act`` and of its gradient ``grad``."""
        act = self.maps(act.detach()).contiguous()
        grad = None if grad is None else self.maps(grad.detach()).contiguous()
        zero_share = None if grad is None or grad.numel() == 0 else float((grad == 0).sum()) / grad.numel()
        with torch.no_grad():
            weights = self.channel_weights(act, grad, ctx)
            weighted = self.combine(act, grad, weights, ctx)
            cam = F.relu(weighted)
        return CAMResult(
            method=self.name,
            layer=self.layer_name,
            targets=targets,
            logits=logits.detach(),
            activations=act.detach(),
            gradients=None if grad is None else grad.detach(),
            weights=weights.detach(),
            weighted=weighted.detach(),
            cam=cam.detach(),
            input_size=(int(x.shape[-2]), int(x.shape[-1])),
            extras={k: v for k, v in ctx.items() if not k.startswith("_")},
            layout=self.layout,
            class_token_dropped=drops_class_token(self.layout),
            zero_grad_share=zero_share,
        )

    def _run(self, x: torch.Tensor, pick: Callable[[torch.Tensor], list[torch.Tensor]]) -> list[CAMResult]:
        """One forward pass, then one (cheap) backward per target vector chosen by ``pick``."""
        with torch.inference_mode(False):  # the caller may be inside inference_mode
            logits, act = self._forward(x)
            target_sets = pick(logits.detach())
            results = []
            for i, tt in enumerate(target_sets):
                grad = None
                if self.uses_gradients:
                    grad = self._gradients(logits, act, tt, retain=i < len(target_sets) - 1)
                results.append(self._finish(x, logits, act, grad, tt, self._ctx(x, logits, tt)))
            return results

    def explain_many(self, x: torch.Tensor, targets: Sequence[Target]) -> list[CAMResult]:
        """Several explanations (e.g. for classes 3, 5 and the predicted one) from ONE forward pass."""
        targets = list(targets)
        if not targets:
            raise Refusal("error.engine.no_target")
        return self._run(x, lambda logits: [_as_targets(t, logits) for t in targets])

    def topk(self, x: torch.Tensor, k: int = 3) -> list[CAMResult]:
        """Explanations of the k most likely classes (per sample), from ONE forward pass."""
        def pick(logits):
            k_ = max(1, min(int(k), logits.shape[1]))
            order = logits.topk(k_, dim=1).indices
            return [order[:, i].clone() for i in range(k_)]

        return self._run(x, pick)

    def __call__(self, x: torch.Tensor, target: Target = None) -> CAMResult:
        return self.explain_many(x, [target])[0]

    def __repr__(self) -> str:
        extra = "" if self.layout == "cnn" else f", layout={self.layout!r}"
        return f"{type(self).__name__}(layer={self.layer_name!r}{extra})"


class GradCAM(BaseCAM):
    """Grad-CAM (Selvaraju et al., 2017): alpha_k = spatial mean of d y^c / d A^k."""

    name = "Grad-CAM"

    def channel_weights(self, activations: torch.Tensor, gradients: torch.Tensor | None, ctx: dict) -> torch.Tensor:
        return gradients.mean(dim=(2, 3))

