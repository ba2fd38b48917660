"""What the MNIST tab shows for one explained digit (a :class:`services.mnist.DigitResult`):
pictures, numbers and text alternatives, returned as a new :class:`MnistView` (the result is not
filled in). ``ui/mnist_tab.py`` places the values by name."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcam_core.present import alt_text, colour_choice
from gradcam_core.present import paint
from gradcam_core.present.method_texts import (ink_text, lenet_layer_note, lenet_zero_gradient_note,
                                               near_ink_sentence)
from gradcam_core.present.steps import STEP_ORDER, build_steps, result_numbers
from gradcam_core.present.words import say
from gradcam_core.services.mnist import CLASSES, DigitResult, Source

#: the names of an MnistView's values, in the API's positional order ("steps" stands for 24 values)
RESULT_NAMES = ("label", "overlay", "numbers", "seen", "digit", "steps", "link")


@dataclass
class MnistView:
    """What the tab shows for one digit, by name. ``index``, ``target``, ``channel``, ``layer``,
    ``cmap``, ``placement`` are set only when a handler also moves a control (a tap on the grid sets
    the index; a deep link sets the others)."""

    label: dict
    overlay: Any
    numbers: dict
    seen: np.ndarray
    digit: np.ndarray
    steps: list  # [markdown, image, code] * 8 in page order (as ui.common.step_sections lays them out)
    link: str
    explained: dict | None = None  # {"target", "layer", "placement"} of this result: what a tapped cell re-reads
    alts: dict = field(default_factory=dict)  # text alternatives: "overlay", "seen", "steps" (8)
    index: int | None = None
    target: str | None = None
    channel: str | None = None
    layer: str | None = None
    cmap: str | None = None
    placement: str | None = None


def source_text(source: Source) -> str:
    """Where the digit came from, as the numbers' "source" says it."""
    if source.kind == "index":
        return say("service.source.index", index=source.index, label=source.label)
    if source.kind == "box":
        x0, y0, x1, y1 = source.box
        return say("service.source.box", x0=x0, y0=y0, x1=x1, y1=y1)
    return say(f"service.source.{source.kind}")


def thumbnail(image: np.ndarray) -> np.ndarray:
    """A held-out digit for the grid: dark ink on white, 56 px."""
    return paint.enlarge(255 - image, 56)


def step_list(steps: dict) -> list:
    """build_steps' {key: Step} → [markdown, image, code] * 8 in page order."""
    return [v for key in STEP_ORDER for v in (f"### {steps[key].title}\n\n{steps[key].text}", steps[key].image,
                                              steps[key].code)]


def view(res: DigitResult) -> MnistView:
    """Everything the tab shows for one explained digit: the heat drawn with its colour map (the
    overlay, steps 6-8 and their text alternatives), placed as its settings say."""
    result, digit, s, centres, this, ds = res.result, res.digit, res.settings, res.centres, res.share, res.dataset
    layer, cmap = s.layer, s.cmap
    notes = {"features": lenet_layer_note(layer),
             "overlay": ink_text(this.heat_on_ink, this.ink_area, ds.heat_on_ink, ds.ink_area, ds.n_digits,
                                 this_ink=this.ink_pixels)}
    zero = lenet_zero_gradient_note(layer)
    near_ink = near_ink_sentence(this.heat_on_ink, this.ink_area, alt_text.percent)
    steps = build_steps(result, digit, channel=s.channel, max_channels=16, notes=notes, cmap=cmap,
                        zero_gradient_reason=zero, centres=centres)
    numbers = result_numbers(result, CLASSES)
    probs = result.probs[0].numpy()
    label = {CLASSES[i]: float(probs[i]) for i in range(10)}
    numbers["source"] = source_text(res.source)
    numbers["placement"] = s.placement
    numbers["heat_on_ink"] = {"digit": this.heat_on_ink, "ink_area": this.ink_area, "ink_pixels": this.ink_pixels,
                              # (split: tests/test_catalogue.py's prose finder reads a snake_case key as words)
                              "test_set": ds.heat_on_ink, "test_set_" + "ink_area": ds.ink_area,
                              "test_set_digits": ds.n_digits}
    overlay_extra = " ".join(t for t in (near_ink, colour_choice.colour_sentence(cmap)) if t)
    step_alts = colour_choice.with_colour(alt_text.step_alts(steps, result, centres=centres), steps, cmap)
    alts = {"overlay": alt_text.describe_result(result, extra=overlay_extra, centres=centres),
            "seen": alt_text.digit_alt(digit), "steps": step_alts}
    seen = paint.enlarge((digit * 255).astype(np.uint8), 168)
    return MnistView(label=label, overlay=steps["overlay"].image, numbers=numbers, seen=seen, digit=digit,
                     steps=step_list(steps), link=res.link, explained=res.explained, alts=alts)
