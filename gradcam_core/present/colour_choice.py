"""The heat map's colour map as the MNIST and Shortcuts tabs offer it (issue 17): parsing, and the
words a text alternative uses for it, read from the map's own colours. No gradio import.

The choices themselves and why the colour-blind-safe ones exist are in
:mod:`gradcam_core.present.colour_vision` (``HEAT_CHOICES``, ``heat_map_note``).
"""
from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from gradcam_core.base.inputs import CMAPS, parse_cmap
from gradcam_core.present.colour_vision import _lab, _linear
from gradcam_core.present.words import say

__all__ = ["DEFAULT", "CMAPS", "parse", "colour_name", "colour_code", "end_codes", "end_names", "colour_sentence", "with_colour"]

#: the default heat map: jet, the Grad-CAM tradition (the colour-blind-safe maps are one choice away)
DEFAULT = "jet"

#: plain colour names (codes; the words are the catalogue's ``colour.name.<code>``) with sRGB
#: examples (a name may have several): a map's ends are named by the nearest example in CIE L*a*b*
NAMED = (
    ("black", (0, 0, 0)), ("dark_grey", (64, 64, 64)), ("grey", (128, 128, 128)), ("light_grey", (192, 192, 192)),
    ("white", (255, 255, 255)), ("dark_blue", (0, 0, 128)), ("dark_blue", (0, 30, 90)), ("blue", (0, 60, 255)),
    ("light_blue", (120, 180, 255)), ("dark_purple", (55, 10, 75)), ("purple", (128, 0, 128)),
    ("dark_red", (128, 0, 0)), ("red", (220, 20, 20)), ("orange", (255, 140, 0)), ("yellow", (255, 225, 0)),
    ("pale_yellow", (252, 250, 170)), ("green", (0, 150, 0)), ("light_green", (130, 240, 120)),
    ("teal", (0, 128, 128)), ("pink", (255, 150, 190)), ("brown", (120, 70, 20)),
)


def parse(value: object) -> str:
    """The colour map of an event's optional last input: None or "" -> ``DEFAULT``; the UI's choices
    or any other matplotlib colour map; anything else is a ValueError with the choices (the one
    parser of :mod:`gradcam_core.base.inputs`, as the ImageNet tab and the CLI use)."""
    return parse_cmap(value)


@functools.lru_cache(maxsize=None)
def _named_lab() -> tuple[list[str], np.ndarray]:
    names = [n for n, _ in NAMED]
    return names, _lab(_linear(np.array([rgb for _, rgb in NAMED], dtype=np.float64) / 255.0))


def colour_name(rgb: Sequence[float] | np.ndarray) -> str:
    """The plain name (:data:`NAMED`) nearest to an sRGB colour in [0, 1], by CIE76 distance."""
    return say(f"colour.name.{colour_code(rgb)}")


def colour_code(rgb: Sequence[float] | np.ndarray) -> str:
    """The code (:data:`NAMED`) of the plain colour nearest to an sRGB colour in [0, 1], by CIE76 distance."""
    names, lab = _named_lab()
    d = np.linalg.norm(lab - _lab(_linear(np.asarray(rgb, dtype=np.float64)[:3])), axis=1)
    return names[int(np.argmin(d))]


@functools.lru_cache(maxsize=64)
def end_codes(cmap: str) -> tuple[str, str]:
    """The codes (:data:`NAMED`) of the colours a map gives to no heat (0.0) and to the most heat (1.0)."""
    import matplotlib

    low, high = matplotlib.colormaps[parse(cmap)](np.array([0.0, 1.0]))[:, :3]
    return colour_code(low), colour_code(high)


def end_names(cmap: str) -> tuple[str, str]:
    """The names of the colours a map gives to no heat (0.0) and to the most heat (1.0)."""
    low, high = end_codes(cmap)
    return say(f"colour.name.{low}"), say(f"colour.name.{high}")


def colour_sentence(cmap: object) -> str:
    """One sentence for a text alternative: which colours stand for little and for much heat."""
    name = parse(cmap)
    low, high = end_names(name)
    return say("colour.sentence", name=name, low=low, high=high)


def with_colour(alts: list[str], steps: dict, cmap: object,
                keys: Sequence[str] = ("relu", "upsample", "overlay")) -> list[str]:
    """Step text alternatives (``alt_text.step_alts`` order) with :func:`colour_sentence` added to the
    steps drawn in ``cmap`` (``keys``: the heat steps, 6-8; the other steps use fixed maps)."""
    sentence = colour_sentence(cmap)
    return [f"{alt} {sentence}" if key in keys else alt for alt, key in zip(alts, steps)]
