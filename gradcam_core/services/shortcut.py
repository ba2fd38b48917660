"""The shortcut experiment's service: held-out digits with and without a planted cue square,
explained by the clean and the shortcut LeNet; the table over the test set; the photo cards.
Each call parses its input once, runs the models, and returns raw results (``present/shortcut_view.py``
draws and words them; ``ui/spurious_tab.py`` places them)."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcam_core.base import inputs
from gradcam_core.analysis import photo_cards
from gradcam_core.analysis import photo_edits as edits
from gradcam_core.analysis.shortcut import (_check_pos, add_cue, cue_mass, cue_position, cue_region, load_clean,
                                           load_shortcut, map_centres, misleading_classes, mnist_case, shortcut_table)
from gradcam_core.data.mnist import test_digits
from gradcam_core.base.errors import Refusal, Term
from gradcam_core.models.lenet import CLASSES
from gradcam_core.services import mnist as mnist_svc

MODELS = {"clean": load_clean, "shortcut": load_shortcut}


@dataclass
class DigitView:
    """One digit (with or without a cue) explained by both models."""

    name: str  # a code ("matching_cue", "misleading_cue", "no_cue", "cue_of_class"), worded by present
    digit: np.ndarray  # (28, 28) float
    cue_class: int | None
    cue_pos: tuple[int, int] | None
    results: dict  # model name -> CAMResult (predicted class)
    placement: str = "receptive field"  # how the maps are drawn (and measured): see analysis.cell.PLACEMENTS
    # measured once by digit_view (the picture and the words only read them): model name -> value
    centres_of: dict = field(default_factory=dict)  # where the map's cells are drawn (None: stretched)
    masses: dict = field(default_factory=dict)  # the heat's share on the cue (None: no cue)
    preds: dict = field(default_factory=dict)  # (predicted class, its probability)

    def centres(self, model: str) -> Any:
        """Where the cells of ``model``'s map are drawn (None: stretched), see shortcut.map_centres."""
        return self.centres_of[model]

    def pred(self, model: str) -> tuple[int, float]:
        return self.preds[model]

    def mass(self, model: str) -> float | None:
        return self.masses[model]


#: what the cue position is called in a refusal (worded by the catalogue when the refusal is)
CUE_POSITION = Term("ui.shortcut.cue_position")

def _measured(view: DigitView) -> DigitView:
    """``view`` with its centres, cue masses and predictions measured (analysis first, then the engine's numbers)."""
    for m, load in MODELS.items():
        view.centres_of[m] = map_centres(load(), view.placement)
        view.masses[m] = (None if view.cue_pos is None else
                          float(cue_mass(view.results[m].cam[0], cue_region(pos=view.cue_pos), view.centres_of[m])))
    for m in MODELS:
        p = view.results[m].probs[0]
        view.preds[m] = (int(p.argmax()), float(p.max()))
    return view


def digit_view(name: str, digit: np.ndarray, cue_class: int | None = None, cue_on: bool = True,
               pos: tuple[int, int] | None = None) -> DigitView:
    """Add the cue of ``cue_class`` (or at ``pos``) when ``cue_on`` and explain with both models."""
    if cue_on and (cue_class is not None or pos is not None):
        p = _check_pos(pos) if pos is not None else cue_position(cue_class)
        d = add_cue(digit, pos=p)
    else:
        p, d = None, np.array(digit, dtype=np.float32, copy=True)
    return _measured(DigitView(name, d, cue_class if p is not None else None, p,
                               {k: mnist_case(load(), d) for k, load in MODELS.items()}))


def held_out_digit(index: Any) -> tuple[np.ndarray, int, int]:
    """(digit float (28, 28), true label, its misleading cue class) of held-out digit ``index``."""
    images, labels = test_digits()
    try:
        i = int(float(index))
    except (TypeError, ValueError, OverflowError):
        raise Refusal("service.shortcut.index_number", value=index) from None
    if not 0 <= i < len(labels):
        raise Refusal("service.shortcut.index_range", n=len(labels), last=len(labels) - 1)
    return images[i].astype(np.float32) / 255.0, int(labels[i]), int(misleading_classes(labels)[i])


def compare_views(index: Any) -> list[DigitView]:
    """Held-out digit ``index`` with the matching cue, a misleading cue and no cue."""
    return compare(index)[0]


def cue_class(pos: Any) -> int:
    """The class whose cue square is planted: the one target parser, no 'predicted'."""
    return inputs.parse_target(pos, CLASSES, "MNIST", predicted=False, what=CUE_POSITION)


def parse_cmap(value: Any) -> str:
    """The colour map of the tab's pictures (the one parser, gradcam_core.base.inputs)."""
    return inputs.parse_cmap(value)


def play(index: Any, cue_on: Any, pos: Any) -> tuple[DigitView, int]:
    """Held-out digit ``index`` with the cue of class ``pos`` (or none), both models: (view, true label)."""
    cls = cue_class(pos)
    d, label, _ = held_out_digit(index)
    name = "cue_of_class" if cue_on else "no_cue"  # codes: present.shortcut_view.view_name words them
    return digit_view(name, d, cls, bool(cue_on)), label


def compare(index: Any) -> tuple[list[DigitView], int]:
    """:func:`compare_views` and the digit's true label."""
    d, y, wrong = held_out_digit(index)
    views = [digit_view("matching_cue", d, y), digit_view("misleading_cue", d, wrong),
             digit_view("no_cue", d, None)]
    return views, y


def table() -> dict:
    """Both models over the held-out digits with and without cues (computed once, then cached)."""
    return shortcut_table()


#: the photo experiments and their photos (analysis.photo_cards / photo_edits)
EXPERIMENTS = photo_cards.EXPERIMENTS
PHOTOS = edits.PHOTOS
DEFAULT_TEXT, MAX_TEXT = edits.DEFAULT_TEXT, edits.MAX_TEXT


def photo_model_availability() -> tuple[bool, str]:
    """(True, "") when the photo cards' model (EfficientNet-Lite0) can run here, else (False, why)."""
    return edits.photo_model_availability()


def ready() -> tuple[bool, str]:
    """(True, "") when the shortcut LeNet's weights load, else (False, why)."""
    return mnist_svc.loads(load_shortcut)


@functools.lru_cache(maxsize=48)
def _card(experiment: str, photo: str, variant: str, text: str) -> photo_cards.Card:
    return photo_cards.make_card(experiment, photo, variant, text)


def card(experiment: str, photo_key: str, variant: Any, text: Any) -> photo_cards.Card:
    """One photo card: the photo before and after the edit, explained (``photo_key`` already checked)."""
    variant = "" if experiment == "removed" else (variant or EXPERIMENTS[experiment]["default"][1])
    text = edits.check_text(text) if experiment == "text" else ""
    return _card(experiment, photo_key, variant, text)
