"""The words of a token grid (issue 29): where a CNN's texts say "feature maps" and "channels", a
transformer layer's say "patch tokens" and "embedding dimensions".

The choice follows the hooked layer's *layout* (``CAMResult.layout``: "cnn", "tokens" for a ViT
sequence with its class token first, "channels_last" for Swin), never the model's name: a key of
the catalogue's ``[transformer]`` section shadows the key of the same name without the prefix when
the layout is a token grid (:func:`key_in`).  The sentences about an empty map and the class token
are chosen from the numbers the engine measured (``zero_grad_share``, ``class_token_dropped``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from gradcam_core.present.words import has, say

__all__ = ["TOKEN_LAYOUTS", "PREFIX", "layout_of", "is_token_grid", "key_in", "say_in", "zero_share",
           "class_token_dropped", "is_disconnected", "tokens_note", "empty_note", "zero_reason", "summary_note",
           "empty_summary"]

#: The layouts whose cells are patch tokens (``cam/tokens.py``).
TOKEN_LAYOUTS = frozenset({"tokens", "channels_last"})
PREFIX = "transformer."


def layout_of(result: Any) -> str:
    """The layout of a CAM result's layer ("cnn" for results made before layouts existed)."""
    return str(getattr(result, "layout", "cnn") or "cnn")


def is_token_grid(layout: str | None) -> bool:
    return layout in TOKEN_LAYOUTS


def key_in(key: str, layout: str | None) -> str:
    """``key``, or its ``[transformer]`` shadow when ``layout`` is a token grid and the catalogue has one."""
    if is_token_grid(layout) and has(PREFIX + key):
        return PREFIX + key
    return key


def say_in(layout: str | None, key: str, /, **values: Any) -> str:
    """:func:`say` of ``key`` in the words of ``layout`` (see :func:`key_in`)."""
    return say(key_in(key, layout), **values)


def zero_share(result: Any, index: int = 0) -> float | None:
    """The share of exactly-zero gradients on the map's cells or tokens: the engine's
    ``zero_grad_share`` when it has one, else counted here (None: a gradient-free method)."""
    share = getattr(result, "zero_grad_share", None)
    if share is not None:
        return float(share)
    grads = getattr(result, "gradients", None)
    if grads is None:
        return None
    g = grads[index].detach().cpu().numpy() if hasattr(grads, "detach") else np.asarray(grads[index])
    return float((g == 0).mean()) if g.size else None


def class_token_dropped(result: Any) -> bool:
    return bool(getattr(result, "class_token_dropped", False))


def is_disconnected(result: Any, index: int = 0) -> bool:
    """Every gradient on the patch tokens is exactly zero on a layer whose class token was dropped:
    no patch token reaches the class score from here (ViT after its last attention), so the map is
    empty for a reason that has nothing to do with the photo."""
    return (is_token_grid(layout_of(result)) and class_token_dropped(result)
            and zero_share(result, index) == 1.0)


def _grid(result: Any) -> tuple[int, int, int]:
    k, h, w = (int(s) for s in result.activations.shape[-3:])
    return k, h, w


def tokens_note(result: Any) -> str:
    """Step 1's extra paragraph on a token grid (""  on a CNN): the vocabulary, and the class token."""
    if not is_token_grid(layout_of(result)):
        return ""
    k, h, w = _grid(result)
    cls = (say("transformer.class_token", n_tokens=h * w + 1, h=h, w=w) if class_token_dropped(result)
           else say("transformer.no_class_token", h=h, w=w))
    return say("transformer.tokens_note", h=h, w=w, k=k) + " " + cls


def empty_note(result: Any, default_layer: str, index: int = 0) -> str | None:
    """Why the map is empty, with the measured share, when no patch token reaches the score (None otherwise)."""
    if not is_disconnected(result, index):
        return None
    _, h, w = _grid(result)
    return say("transformer.empty_map", share=zero_share(result, index), n_tokens=h * w, layer=result.layer,
               default=default_layer)


def zero_reason(result: Any, default_layer: str, index: int = 0) -> str | None:
    """Step 3's reason for exact zeros on a token grid (None: the CNN's own reason applies)."""
    if not is_token_grid(layout_of(result)):
        return None
    return empty_note(result, default_layer, index) or say("transformer.why_zero")


def summary_note(result: Any) -> str:
    """The summary's sentence on a token grid ("" on a CNN): the grid, and the class token left out."""
    if not is_token_grid(layout_of(result)):
        return ""
    _, h, w = _grid(result)
    return say("transformer.summary_tokens", h=h, w=w,
               cls=say("transformer.summary_cls") if class_token_dropped(result) else "")


def empty_summary(result: Any, default_layer: str, index: int = 0) -> str | None:
    """The summary's sentence for an empty map on a disconnected token layer (None otherwise)."""
    if not is_disconnected(result, index):
        return None
    return say("transformer.summary_empty", share=zero_share(result, index), layer=result.layer,
               default=default_layer)
