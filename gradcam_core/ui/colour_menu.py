"""The "Colour map" choice of the MNIST and Shortcuts tabs (issue 17), and the plumbing that makes it
an optional last input of events whose other inputs vary (the Shortcuts photo cards)."""
from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

import gradio as gr

from gradcam_core.present import colour_choice
from gradcam_core.present.colour_vision import heat_choices, heat_map_note
from gradcam_core.present.words import say
from gradcam_core.ui.common import ParsedDropdown



def dropdown(**kw: Any) -> gr.Dropdown:
    """The colour-map dropdown (``HEAT_CHOICES``, default jet). A ParsedDropdown: an API call with a
    value outside the choices reaches the handler's parser (any matplotlib map, or a clear message)."""
    kw.setdefault("info", say("ui.colour.info"))
    return ParsedDropdown(heat_choices(), value=colour_choice.DEFAULT, label=say("ui.colour.label"), filterable=False, **kw)


def note(**kw: Any) -> gr.Markdown:
    """Why the colour-blind-safe maps exist, and why the signed maps need no choice (measured)."""
    kw.setdefault("elem_classes", "tight-md")
    return gr.Markdown(heat_map_note(), **kw)


def split_cmap(names: Sequence[str], values: Sequence) -> tuple[list, object]:
    """``values`` = the ``names`` inputs, then optionally the colour map: (those inputs, the colour map
    or None). Missing inputs are None, as the handlers' defaults."""
    n = len(names)
    vals = list(values[:n]) + [None] * max(0, n - len(values))
    return vals, (values[n] if len(values) > n else None)


def with_cmap_signature(fn: Callable, first: str, names: Sequence[str]) -> Callable:
    """Give ``fn(first, *rest)`` the signature ``(first, *names=None, cmap=None)``: Gradio names the
    API's parameters from it, and marks the optional ones."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter(first, kind)] + [inspect.Parameter(n, kind, default=None)
                                                 for n in [*names, "cmap"]]
    fn.__signature__ = inspect.Signature(params)
    return fn
