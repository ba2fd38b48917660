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

from gradcam_core.present.method_texts import fill

import numpy as np

__all__ = ["HeatFacts", "heat_facts", "region_name", "describe_heat", "heat_of_result", "describe_result",
           "percent"]

#: the share of the picture whose heat is reported ("… of the heat lies in 10 % of the picture")
AREA = 0.10

_ROWS = ("upper", "middle", "lower")
_COLS = ("left", "centre", "right")


def region_name(row: int, col: int, shape: tuple[int, int]) -> str:
    """The 3 × 3 region of pixel (row, col) in an image of ``shape``: "upper right", "centre", …"""
    h, w = shape
    r = min(2, int(3 * row / h))
    c = min(2, int(3 * col / w))
    if r == 1 and c == 1:
        return "centre"
    if r == 1:
        return f"middle {_COLS[c]}"
    if c == 1:
        return f"{_ROWS[r]} centre"
    return f"{_ROWS[r]} {_COLS[c]}"


def percent(x: float) -> str:
    """A share as a whole percentage, as the sentences print it: 0.624 → "62 %"."""
    return f"{round(100 * x):d} %"


@dataclass(frozen=True)
class HeatFacts:
    """The numbers behind one sentence."""

    peak: tuple[int, int]  # (row, col) of the hottest pixel (the first one, in reading order)
    region: str  # its 3 × 3 region
    top_pixels: int  # how many pixels are the hottest AREA of the picture
    top_share: float  # their share of the total heat (0…1)
    total: float  # sum of the (positive) heat
    area: float = AREA


def heat_facts(heat, area: float = AREA) -> HeatFacts | None:
    """Facts about a 2-D heat map (non-negative values; NaN and negative values count as no heat).
    None when there is no heat at all."""
    a = np.nan_to_num(np.asarray(heat, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"a heat map is a 2-D array, not one of shape {a.shape}")
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


def describe_heat(heat, *, method: str = "Grad-CAM", class_name: str | None = None, extra: str | None = None,
                  area: float = AREA, empty: str | None = None) -> str:
    """One or two sentences about a heat map, every figure computed from it.  ``empty``: what an
    all-zero map means for this method (method_texts' ``zero_text``); without it the sentence only
    says that the map is empty."""
    who = f"{method} for class {class_name}" if class_name not in (None, "") else method
    facts = heat_facts(heat, area)
    if facts is None:
        text = f"{who}: the map is empty." + (f" {empty}" if empty else "")
    else:
        text = (f"{who}: the heat is strongest in the {facts.region} of the picture; "
                f"{percent(facts.top_share)} of the heat lies in {percent(facts.area)} of the picture.")
    return f"{text} {extra}" if extra else text


def heat_of_result(result, index: int = 0, centres=None) -> np.ndarray:
    """The heat map of sample ``index`` of a CAMResult at the model's input size, as the overlay
    draws it (``centres``: each cell at the centre of what it sees; None: stretched), as floats."""
    from gradcam_core.cam.postprocess import heat_picture

    return heat_picture(result.cam[index], result.input_size, centres).numpy().astype(np.float64)


def describe_result(result, class_name: str | None = None, index: int = 0, extra: str | None = None,
                    centres=None) -> str:
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


def step_alts(steps: dict, result, class_name: str | None = None, index: int = 0, centres=None) -> list[str]:
    """Text alternatives of the step images (``steps.build_steps`` order): each step's caption, and
    for the steps that show the heat map, :func:`describe_result`'s sentence."""
    heat = describe_result(result, class_name, index, centres=centres)
    out = []
    for n, (key, step) in enumerate(steps.items(), 1):
        text = f"Step {n}: {step.caption}."
        out.append(f"{text} {heat}" if key in HEAT_STEPS else text)
    return out


def digit_alt(digit) -> str:
    """The 28 × 28 input LeNet sees: how much of it is ink, and where the ink's centre lies."""
    a = np.asarray(digit, dtype=np.float64)
    ink = a >= 0.5
    if not ink.any():
        return f"What LeNet sees: a blank {a.shape[0]} × {a.shape[1]} picture."
    rows, cols = np.nonzero(ink)
    centre = region_name(int(round(rows.mean())), int(round(cols.mean())), a.shape)
    return (f"What LeNet sees: the digit at {a.shape[0]} × {a.shape[1]} pixels; ink (pixels ≥ 0.5) covers "
            f"{percent(ink.mean())} of the picture, centred in the {centre}.")


def _short(result, index: int = 0, centres=None) -> str:
    facts = heat_facts(heat_of_result(result, index, centres))
    if facts is None:
        return "no heat"
    return f"heat strongest in the {facts.region}, {percent(facts.top_share)} of it in {percent(facts.area)} of the picture"


def views_alt(views, title: str) -> str:
    """The Shortcuts tab's digit panels (spurious.DigitView: one digit, both LeNets), the heat as
    each panel draws it (``DigitView.centres``)."""
    parts = []
    for v in views:
        models = []
        for model, res in v.results.items():
            p = res.probs[0]
            where = v.centres(model) if hasattr(v, "centres") else None
            models.append(f"{model} LeNet reads {int(p.argmax())} ({percent(float(p.max()))}), {_short(res, 0, where)}")
        parts.append(f"{v.name}: " + "; ".join(models))
    return f"{title}. Grad-CAM of each prediction. " + ". ".join(parts) + "."


def card_alt(card) -> str:
    """A Shortcuts photo card (spurious.Card): the original and the altered photo, top class and heat."""
    out = []
    for what, res in (("original", card.result_original), ("altered", card.result_altered)):
        p = res.probs[0]
        name = card.categories[int(res.targets[0])] if card.categories else str(int(res.targets[0]))
        out.append(f"{what}: {name} ({percent(float(p.max()))}), {_short(res)}")
    return f"{card.title}. Grad-CAM of the top class. " + "; ".join(out) + "."


def explanation_alt(expl, what: str = "overlay") -> str:
    """An ImageNet explanation (imagenet.Explanation): one sentence per explained class, side by side
    left to right. ``what``: "overlay" (over the photo) or "heatmap" (the raw map with its colour bar)."""
    lead = ("Heat map over the photo" if what == "overlay" else "Raw heat map with a colour bar") + \
        f", {expl.model_title}, layer {expl.layer}."
    sides = ["Left", "Right"] if len(expl.views) == 2 else [""] * len(expl.views)
    parts = []
    for side, v in zip(sides, expl.views):
        text = describe_result(v.result, f"{v.name} ({percent(v.prob)})")
        parts.append(f"{side}: {text}" if side else text)
    return " ".join([lead] + parts)
