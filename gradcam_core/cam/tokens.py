"""Token sequences and channels-last tensors as (N, C, h, w) maps, so every CAM method works on them.

A CNN layer outputs ``(N, C, h, w)``: C feature maps of h×w cells.  A transformer layer does not:

* ``"tokens"``: a Vision Transformer's encoder outputs ``(N, 1 + h·w, C)``, one C-dimensional
  embedding per token: the class token first, then the h·w patch tokens row by row
  (torchvision's ``VisionTransformer``: 1 + 14·14 = 197 tokens of 768 dimensions at 224×224).
  The class token has no place on the picture, so it is left out of the map; the patch tokens
  form a square grid (h = w = sqrt of their count).
* ``"channels_last"``: a Swin Transformer's stages output ``(N, H, W, C)``; the map is the same
  tensor with the channel axis moved to the front.

:func:`to_maps` does both.  It is the ``reshape_transform`` of pytorch-grad-cam, made part of the
engine: ``BaseCAM(model, layer, layout=...)`` applies it to the activation *and* to its gradient
before any method sees them.  Refusals are codes and numbers (``error.engine.not_a_map``).
"""
from __future__ import annotations

import math
from typing import Literal, get_args

import torch

from gradcam_core.base.errors import Refusal

__all__ = ["Layout", "LAYOUTS", "to_maps", "drops_class_token", "check_layout"]

Layout = Literal["cnn", "tokens", "channels_last"]
#: every layout, "cnn" (no reshaping) first
LAYOUTS: tuple[str, ...] = get_args(Layout)


def check_layout(layout: object) -> str:
    """``layout`` itself when it is one of :data:`LAYOUTS`, else a ``ValueError`` naming them (a
    caller's bug, not a person's input: layouts come from the registry)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout={layout!r}; expected one of {LAYOUTS}")
    return str(layout)


def drops_class_token(layout: str) -> bool:
    """Does :func:`to_maps` leave out a class token in this layout?"""
    return check_layout(layout) == "tokens"


def to_maps(t: torch.Tensor, layout: Layout, layer: str = "") -> torch.Tensor:
    """``t`` as ``(N, C, h, w)`` maps (a view where possible; autograd flows through it).

    ``"cnn"``: ``t`` unchanged (it must already be 4-D); ``"tokens"``: ``(N, 1 + h·w, C)`` → the
    patch tokens, class token dropped, as ``(N, C, h, w)`` with h = w; ``"channels_last"``:
    ``(N, H, W, C)`` → ``(N, C, H, W)``.  A tensor that does not have the layout's shape is refused
    with ``error.engine.not_a_map`` (``layer`` and the shape).
    """
    check_layout(layout)

    def refuse() -> Refusal:
        return Refusal("error.engine.not_a_map", layer=layer, shape=tuple(t.shape))

    if layout == "cnn":
        if t.dim() != 4:
            raise refuse()
        return t
    if layout == "channels_last":
        if t.dim() != 4:
            raise refuse()
        return t.permute(0, 3, 1, 2)
    # tokens
    if t.dim() != 3 or t.shape[1] < 2:
        raise refuse()
    n, count, c = t.shape
    side = math.isqrt(count - 1)
    if side * side != count - 1:
        raise refuse()
    return t[:, 1:, :].reshape(n, side, side, c).permute(0, 3, 1, 2)
