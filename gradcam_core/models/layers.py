"""The layer parser: a layer typed or picked by a person → its module name.  It tries a module that
is not in the picker on the model (one blank forward pass through the engine), so it lives here,
below ``inputs`` (which imports no engine) and beside the registry that calls it
(:meth:`gradcam_core.models.registry.ModelSpec.resolve_layer`).  Refusals are codes and numbers."""
from __future__ import annotations

import difflib
from typing import Any, Callable, Iterable

import torch
from torch import nn

from gradcam_core.cam.engine import GradCAM
from gradcam_core.base.errors import Refusal

__all__ = ["parse_layer", "UNUSABLE_REASONS"]

#: the engine refusals a probed layer can give, each worded as "<title> has no layer … (why)"
UNUSABLE_REASONS = ("not_a_tensor", "model_failed", "layer_unused", "not_logits", "not_a_map", "layer_unrelated")
_probed: dict[tuple[int, str, str], Refusal | None] = {}


def _probe(model: nn.Module, name: str, input_shape: tuple[int, ...], layout: str = "cnn") -> Refusal | None:
    """None when GradCAM on ``name`` gives a usable (N, K, h, w) map (its output read in ``layout``,
    see ``cam/tokens.py``), else the engine's refusal."""
    key = (id(model), name, layout)
    if key not in _probed:
        try:
            GradCAM(model, name, layout=layout)(torch.zeros((1, *input_shape)), target=0)
            _probed[key] = None
        except Refusal as e:
            _probed[key] = e
    return _probed[key]


def parse_layer(value: Any, layers: Iterable[tuple[str, Iterable[str]]], default: str, title: str, *,
                model: nn.Module | None = None, input_shape: tuple[int, ...] | None = None,
                layout_of: Callable[[str], str] = lambda name: "cnn") -> str:
    """The module name of a layer.

    ``layers``: (module name, labels people see for it) of the layers in the picker; empty →
    ``default``; a name or a label → its name.  Any other module name of ``model`` is accepted
    when it outputs a feature map (tried once on a blank input of ``input_shape``; ``layout_of(name)``
    says how its output becomes maps: a transformer's tokens are maps too).  A refusal is
    ``error.layer.unknown*`` (with close names), or ``error.layer.unusable.<the engine's reason>``
    with the engine's numbers.
    """
    layers = [(name, tuple(labels)) for name, labels in layers]
    names = [name for name, _ in layers]
    if value in (None, ""):
        return default
    text = str(value).strip()
    for name, labels in layers:
        if text == name or text in labels:
            return name
    modules = dict(model.named_modules()) if model is not None else {}
    if text and text in modules:
        why = _probe(model, text, input_shape, layout_of(text)) if input_shape is not None else None
        if why is None:
            return text
        reason = why.key.rsplit(".", 1)[-1]
        reason = reason if reason in UNUSABLE_REASONS else "other"
        raise Refusal(f"error.layer.unusable.{reason}", **why.values, title=title, name=text, names=", ".join(names))
    close = difflib.get_close_matches(text, list(modules) or names, n=3)
    key = "error.layer.unknown" + ("_similar" if close else "") + ("_any" if modules else "")
    raise Refusal(key, title=title, name=text, close=", ".join(close), names=", ".join(names))
