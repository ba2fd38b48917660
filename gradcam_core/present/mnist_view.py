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
from gradcam_core.present import steps as step_module
from gradcam_core.present.steps import STEP_ORDER, result_numbers
from gradcam_core.present.words import say
from gradcam_core.services.mnist import CLASSES, DigitResult, Source

#: the names of an MnistView's values, in the API's positional order ("steps" stands for 24 values)
RESULT_NAMES = ("label", "overlay", "numbers", "seen", "digit", "steps", "link")


@dataclass
class MnistView:
    """What the tab shows for one digit, by name. ``index``, ``target``, ``channel``, ``layer``,
    ``cmap``, ``placement`` are set only when a handler also moves a control (a tap on the grid sets
    the index; a deep link sets the others).

    The eight steps are drawn when first read (:attr:`steps`, or :attr:`alts`, which includes theirs;
    issue 27: the page shows them only when its steps are opened, the API always): ``result`` is the
    explained digit they are drawn from; ``first_alts`` are the texts of what is drawn at once."""

    label: dict
    overlay: Any
    numbers: dict
    seen: np.ndarray
    digit: np.ndarray
    link: str
    explained: dict | None = None  # {"target", "layer", "placement"} of this result: what a tapped cell re-reads
    first_alts: dict = field(default_factory=dict)  # text alternatives drawn with the view: "overlay", "seen"
    index: int | None = None
    target: str | None = None
    channel: str | None = None
    layer: str | None = None
    cmap: str | None = None
    placement: str | None = None
    result: DigitResult | None = None
    drawn_steps: list | None = None  # [markdown, image, code] * 8 in page order (ui.common.step_sections)
    step_alts: list | None = None  # their 8 text alternatives, drawn with them

    @property
    def steps(self) -> list:
        """[markdown, image, code] * 8 in page order, drawn from ``result`` on first use."""
        if self.drawn_steps is None:
            self.drawn_steps, self.step_alts = draw_steps(self.result)
        return self.drawn_steps

    @property
    def alts(self) -> dict:
        """Every text alternative: "overlay", "seen" and "steps" (8; the steps are drawn for them)."""
        self.steps  # noqa: B018 - draws the steps and their texts when not drawn yet
        return {**self.first_alts, "steps": self.step_alts}


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


def _context(res: DigitResult) -> step_module.StepContext:
    """The step builders' context for ``res``: its layer's notes, colour map, channel and placement."""
    result, digit, s, centres, this, ds = res.result, res.digit, res.settings, res.centres, res.share, res.dataset
    notes = {"features": lenet_layer_note(s.layer),
             "overlay": ink_text(this.heat_on_ink, this.ink_area, ds.heat_on_ink, ds.ink_area, ds.n_digits,
                                 this_ink=this.ink_pixels)}
    return step_module.step_context(result, digit, channel=s.channel, max_channels=16, notes=notes, cmap=s.cmap,
                                    zero_gradient_reason=lenet_zero_gradient_note(s.layer), centres=centres)


def draw_steps(res: DigitResult) -> tuple[list, list[str]]:
    """The eight steps of ``res`` ([markdown, image, code] * 8 in page order) and their text
    alternatives (the heat steps 6-8 say their colour map)."""
    ctx = _context(res)  # as build_steps does it, from the same context as the overlay's
    steps = {s.key: s for s in (build(ctx) for build in step_module.STEP_BUILDERS) if s is not None}
    alts = colour_choice.with_colour(alt_text.step_alts(steps, res.result, centres=res.centres), steps,
                                     res.settings.cmap)
    return step_list(steps), alts


def view(res: DigitResult) -> MnistView:
    """Everything the tab shows for one explained digit: the heat drawn with its colour map (the
    overlay, steps 6-8 and their text alternatives), placed as its settings say. Only the overlay
    (step 8's picture) is drawn here; the eight steps are drawn when :attr:`MnistView.steps` is
    first read."""
    result, digit, s, centres, this, ds = res.result, res.digit, res.settings, res.centres, res.share, res.dataset
    cmap = s.cmap
    near_ink = near_ink_sentence(this.heat_on_ink, this.ink_area, alt_text.percent)
    overlay = step_module._overlay(_context(res)).image  # step 8's picture, as build_steps draws it
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
    alts = {"overlay": alt_text.describe_result(result, extra=overlay_extra, centres=centres),
            "seen": alt_text.digit_alt(digit)}
    seen = paint.enlarge((digit * 255).astype(np.uint8), 168)
    return MnistView(label=label, overlay=overlay, numbers=numbers, seen=seen, digit=digit, link=res.link,
                     explained=res.explained, first_alts=alts, result=res)
