"""Text alternatives for result images, written from the numbers of the map (issue 17).

A screen reader cannot see a heat map; it can read a sentence such as "Grad-CAM for class 7:
the heat is strongest in the upper right of the picture; 62 % of the heat lies in 10 % of the
picture." Every figure in such a sentence comes from :func:`heat_facts`, and tests/test_alt_text.py
recomputes them from the array. No gradio import: the UI only places the text.

- *where*: the picture is cut into a 3 × 3 grid (upper / middle / lower × left / centre / right);
  the region named is the one holding the hottest pixel.
- *how concentrated*: the share of the total heat held by the hottest 10 % of the pixels (heat
  spread evenly gives 10 %; all of it in a few pixels gives 100 %).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from typing import Any, Sequence

import numpy as np

from gradcam_core.base.errors import Refusal
from gradcam_core.present.cards import card_title
from gradcam_core.present.method_texts import fill
from gradcam_core.present.words import has, say

__all__ = ["HeatFacts", "heat_facts", "region_code", "region_name", "describe_heat", "heat_of_result", "describe_result",
           "percent"]

#: the share of the picture whose heat is reported ("… of the heat lies in 10 % of the picture")
AREA = 0.10

_ROWS = ("upper", "middle", "lower")
_COLS = ("left", "centre", "right")



def _view_name(v: Any) -> str:
    """A Shortcuts digit view's name (a code worded with its cue's class, or a caller's own name)."""
    key = f"shortcut.{v.name}"
    return say(key, digit=getattr(v, "cue_class", None)) if has(key) else str(v.name)

def region_code(row: int, col: int, shape: tuple[int, int]) -> str:
    """The 3 × 3 region of pixel (row, col) in an image of ``shape`` as a code: "upper_right",
    "middle_centre", … (its words: the catalogue's ``alt.region.<code>``)."""
    h, w = shape
    r = min(2, int(3 * row / h))
    c = min(2, int(3 * col / w))
    return f"{_ROWS[r]}_{_COLS[c]}"


def region_name(row: int, col: int, shape: tuple[int, int]) -> str:
    """The 3 × 3 region of pixel (row, col) in an image of ``shape``: "upper right", "centre", …"""
    return say(f"alt.region.{region_code(row, col, shape)}")


def _pct(x: float) -> int:
    """A share as the whole percentage the sentences write (0.624 → 62)."""
    return round(100 * x)


def percent(x: float) -> str:
    """A share as a whole percentage, as the sentences print it: 0.624 → "62 %"."""
    return say("alt.percent", pct=_pct(x))


@dataclass(frozen=True)
class HeatFacts:
    """The numbers behind one sentence."""

    peak: tuple[int, int]  # (row, col) of the hottest pixel (the first one, in reading order)
    region: str  # its 3 × 3 region
    top_pixels: int  # how many pixels are the hottest AREA of the picture
    top_share: float  # their share of the total heat (0…1)
    total: float  # sum of the (positive) heat
    area: float = AREA


def heat_facts(heat: Any, area: float = AREA) -> HeatFacts | None:
    """Facts about a 2-D heat map (non-negative values; NaN and negative values count as no heat).
    None when there is no heat at all."""
    a = np.nan_to_num(np.asarray(heat, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if a.ndim != 2 or a.size == 0:
        raise Refusal("alt.not_2d", shape=a.shape)
    a = np.clip(a, 0.0, None)
    total = float(a.sum())
    if total <= 0.0:
        return None
    flat = a.ravel()
    k = max(1, math.ceil(area * flat.size))
    top = np.sort(flat)[::-1][:k]
    peak = divmod(int(np.argmax(flat)), a.shape[1])
    return HeatFacts(peak=peak, region=region_name(*peak, a.shape), top_pixels=k,
                     top_share=float(top.sum() / total), total=total, area=area)


def describe_heat(heat: Any, *, method: str = "Grad-CAM", class_name: str | None = None, extra: str | None = None,
                  area: float = AREA, empty: str | None = None) -> str:
    """One or two sentences about a heat map, every figure computed from it.  ``empty``: what an
    all-zero map means for this method (method_texts' ``zero_text``); without it the sentence only
    says that the map is empty."""
    who = say("alt.who_class", method=method, class_name=class_name) if class_name not in (None, "") else method
    facts = heat_facts(heat, area)
    if facts is None:
        text = say("alt.map_empty", who=who) + (f" {empty}" if empty else "")
    else:
        text = say("alt.heat", who=who, region=facts.region, top_pct=_pct(facts.top_share), area_pct=_pct(facts.area))
    return f"{text} {extra}" if extra else text


def heat_of_result(result: Any, index: int = 0, centres: Any = None) -> np.ndarray:
    """The heat map of sample ``index`` of a CAMResult at the model's input size, as the overlay
    draws it (``centres``: each cell at the centre of what it sees; None: stretched), as floats."""
    from gradcam_core.cam.postprocess import heat_picture

    return heat_picture(result.cam[index], result.input_size, centres).numpy().astype(np.float64)


def describe_result(result: Any, class_name: str | None = None, index: int = 0, extra: str | None = None,
                    centres: Any = None) -> str:
    """:func:`describe_heat` for a CAMResult: its method, the explained class (none for a class-free
    method such as Eigen-CAM: its map is the same for every class), its map as drawn."""
    from gradcam_core.present.method_texts import method_text

    mt = method_text(result.method)
    if mt.class_free:
        class_name = None
    elif class_name is None:
        class_name = str(int(result.targets[index]))
    return describe_heat(heat_of_result(result, index, centres), method=result.method, class_name=class_name,
                         extra=extra, empty=fill(mt.zero_text, class_name or ""))


#: the steps whose picture is the heat map itself (their text alternative describes it)
HEAT_STEPS = ("relu", "upsample", "overlay")


def step_alts(steps: dict, result: Any, class_name: str | None = None, index: int = 0, centres: Any = None) -> list[str]:
    """Text alternatives of the step images (``steps.build_steps`` order): each step's caption, and
    for the steps that show the heat map, :func:`describe_result`'s sentence."""
    heat = describe_result(result, class_name, index, centres=centres)
    out = []
    for n, (key, step) in enumerate(steps.items(), 1):
        text = say("alt.step", n=n, caption=step.caption)
        out.append(f"{text} {heat}" if key in HEAT_STEPS else text)
    return out


#: a pixel at or above this is ink (digit_alt)
INK = 0.5


def digit_alt(digit: Any) -> str:
    """The 28 × 28 input LeNet sees: how much of it is ink, and where the ink's centre lies."""
    a = np.asarray(digit, dtype=np.float64)
    ink = a >= INK
    if not ink.any():
        return say("alt.digit_blank", h=a.shape[0], w=a.shape[1])
    rows, cols = np.nonzero(ink)
    centre = region_name(int(round(rows.mean())), int(round(cols.mean())), a.shape)
    return say("alt.digit", h=a.shape[0], w=a.shape[1], ink=INK, ink_pct=_pct(ink.mean()), centre=centre)


def _short(result: Any, index: int = 0, centres: Any = None) -> str:
    facts = heat_facts(heat_of_result(result, index, centres))
    if facts is None:
        return say("alt.no_heat")
    return say("alt.short", region=facts.region, top_pct=_pct(facts.top_share), area_pct=_pct(facts.area))


def views_alt(views: Sequence[Any], title: str) -> str:
    """The Shortcuts tab's digit panels (spurious.DigitView: one digit, both LeNets), the heat as
    each panel draws it (``DigitView.centres``)."""
    parts = []
    for v in views:
        models = []
        for model, res in v.results.items():
            p = res.probs[0]
            where = v.centres(model) if hasattr(v, "centres") else None
            models.append(say("alt.view_model", model=say(f"shortcut.model_word.{model}"), digit=int(p.argmax()), pct=_pct(float(p.max())),
                              heat=_short(res, 0, where)))
        parts.append(say("alt.view", name=_view_name(v), models=say("alt.join.parts").join(models)))
    return say("alt.views", title=title, views=". ".join(parts))


def card_alt(card: Any) -> str:
    """A Shortcuts photo card (spurious.Card): the original and the altered photo, top class and heat."""
    out = []
    for what, res in (("original", card.result_original), ("altered", card.result_altered)):
        p = res.probs[0]
        name = card.categories[int(res.targets[0])] if card.categories else str(int(res.targets[0]))
        out.append(say("alt.card_side", what=say(f"alt.{what}"), name=name, pct=_pct(float(p.max())), heat=_short(res)))
    return say("alt.card", title=card_title(card.experiment, card.photo, card.variant), sides=say("alt.join.parts").join(out))


def explanation_alt(expl: Any, what: str = "overlay") -> str:
    """An ImageNet explanation (imagenet.Explanation): one sentence per explained class, side by side
    left to right. ``what``: "overlay" (over the photo) or "heatmap" (the raw map with its colour bar)."""
    lead = say("alt.lead_overlay" if what == "overlay" else "alt.lead_heatmap", model=expl.model_title, layer=expl.layer)
    sides = ["alt.left", "alt.right"] if len(expl.views) == 2 else [""] * len(expl.views)
    parts = []
    for side, v in zip(sides, expl.views):
        text = describe_result(v.result, say("alt.class_prob", name=v.name, pct=_pct(v.prob)))
        parts.append(say(side, text=text) if side else text)
    return " ".join([lead] + parts)
