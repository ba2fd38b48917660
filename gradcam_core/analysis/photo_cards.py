"""The photo experiments, measured: each *card* runs Lite0 + Grad-CAM on the original and on the
altered photo and keeps the numbers (top-3 of both, the share of heat on the altered region next
to that region's share of the picture) and the codes that name what was done (experiment, photo,
variant).  Numbers only: ``present/cards.py`` writes the card's title, its region
names and the one sentence generated only from :func:`card_numbers` (comparing the two pictures
by heat per unit of area), and draws its overlays."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from gradcam_core.analysis.photo_edits import (BACKGROUNDS, DEFAULT_TEXT, PHOTOS, SIZE, TEXT_STYLES, _photo_spec,
                                              check_text, context_swap, model_view, object_mask, remove_object,
                                              stamp_text)
from gradcam_core.analysis.shortcut import cue_mass
from gradcam_core.base.errors import Refusal, one_of

if TYPE_CHECKING:
    from gradcam_core.cam.engine import CAMResult


# ------------------------------------------------------------------------------- cards


@dataclass
class Card:
    """One experiment on one photo: original vs altered, both measured."""

    experiment: str  # "context", "removed", "text"
    photo: str  # a key of photo_edits.PHOTOS
    variant: str  # background name, "" or the text style
    original: np.ndarray  # uint8 (224, 224, 3): what the model sees
    altered: np.ndarray
    region: np.ndarray  # bool (224, 224): the altered region, in the altered image
    region_original: np.ndarray  # bool (224, 224): the region compared with, in the original
    result_original: object  # CAMResult (top-1 class)
    result_altered: object
    categories: list[str] = field(repr=False, default_factory=list)
    text: str = ""

    # numbers, all derived from the two CAMResults
    def top3(self, which: str) -> list[tuple[str, float]]:
        res = self.result_original if which == "original" else self.result_altered
        p = res.probs[0]
        top = torch.topk(p, 3)
        return [(self.categories[int(i)], float(v)) for v, i in zip(top.values, top.indices)]

    def mass(self, which: str) -> float:
        if which == "original":
            return float(cue_mass(self.result_original.cam[0], self.region_original))
        return float(cue_mass(self.result_altered.cam[0], self.region))

    def prob_of_original_top1_after(self) -> float:
        return float(self.result_altered.probs[0, int(self.result_original.probs[0].argmax())])


#: The experiments: their photos, variants and default (their titles and explanations are the
#: catalogue's ``analysis.experiment.<key>``, see ``present/cards.py``).
EXPERIMENTS: dict[str, dict] = {
    "context": {
        "photos": ["cat", "coffee", "dahlia"],
        "variants": list(BACKGROUNDS),
        "default": ("coffee", "grass"),
    },
    "removed": {
        "photos": ["rocket", "dahlia", "coffee"],
        "variants": [""],
        "default": ("rocket", ""),
    },
    "text": {
        "photos": ["cat", "coffee", "dahlia", "motorcycle", "rocket"],
        "variants": list(TEXT_STYLES),
        "default": ("cat", "caption"),
    },
}


@functools.lru_cache(maxsize=16)
def _explain_photo_cached(img_bytes: bytes) -> object:
    from gradcam_core.cam.engine import GradCAM

    spec = _photo_spec()
    arr = np.frombuffer(img_bytes, dtype=np.uint8).reshape(SIZE, SIZE, 3)
    x = torch.from_numpy((arr.astype(np.float32) - 127.0) / 128.0).permute(2, 0, 1)[None].contiguous()
    return GradCAM(spec.load(), spec.default_layer)(x)


def explain_photo(img: np.ndarray) -> CAMResult:
    """Grad-CAM (top-1 class, Lite0's default layer) of a 224×224 uint8 RGB image as the model sees it."""
    from gradcam_core.models.registry import LITE0_MEAN, LITE0_STD

    assert (LITE0_MEAN, LITE0_STD) == (127.0, 128.0)
    a = np.ascontiguousarray(img, dtype=np.uint8)
    if a.shape != (SIZE, SIZE, 3):
        raise Refusal("analysis.error.photo_shape", size=SIZE, shape=a.shape)
    return _explain_photo_cached(a.tobytes())


def _pct_word(x: float) -> str:
    """A share written as a whole percent (kept for present/shortcut_view until its numbers are
    written by the catalogue's format specs)."""
    return f"{100 * x:.0f} %"


#: Two heat-per-area values within this relative difference read "about the same" (stated in the
#: sentence).
PER_AREA_TOLERANCE = 0.10


def heat_per_area(share: float, area: float) -> float:
    """Heat share ÷ area share: 1 = the region gets exactly the heat an even spread would give
    it, above 1 = more than its size, below 1 = less.  0 for an empty region."""
    return float(share) / float(area) if area > 0 else 0.0


def compare_per_area(new: float, old: float, tol: float = PER_AREA_TOLERANCE) -> str:
    """"more", "less" or "same": heat per area ``new`` vs ``old`` (relative difference up to
    ``tol`` = "same"; two zeros are the same)."""
    new, old = float(new), float(old)
    if old <= 0:
        return "same" if new <= 0 else "more"
    r = round(new / old - 1.0, 9)
    if abs(r) <= tol:
        return "same"
    return "more" if r > 0 else "less"


def card_numbers(card: Card) -> dict:
    """The card's measured numbers and codes (what its sentence is built from), JSON-friendly.

    ``region_area`` / ``region_area_original``: the measured region's share of the picture in
    the altered / original image; ``heat_share_*``: the share of the Grad-CAM heat on it."""
    t0, t1 = card.top3("original"), card.top3("altered")
    return {
        "experiment": card.experiment,
        "photo": card.photo,
        "variant": card.variant,
        "original_top3": [[n, round(p, 4)] for n, p in t0],
        "altered_top3": [[n, round(p, 4)] for n, p in t1],
        "original_class_prob_after": round(card.prob_of_original_top1_after(), 4),
        "region_area": round(float(card.region.mean()), 4),
        "region_area_original": round(float(card.region_original.mean()), 4),
        "heat_share_original": round(card.mass("original"), 4),
        "heat_share_altered": round(card.mass("altered"), 4),
    }


def make_card(experiment: str, photo: str | None = None, variant: str | None = None,
              text: str = DEFAULT_TEXT) -> Card:
    """Alter one photo, run EfficientNet-Lite0 + Grad-CAM on both images, measure."""
    if experiment not in EXPERIMENTS:
        raise Refusal("analysis.error.unknown_experiment", experiment=experiment, choices=", ".join(EXPERIMENTS))
    ex = EXPERIMENTS[experiment]
    photo = ex["default"][0] if photo in (None, "") else photo
    variant = ex["default"][1] if variant is None else variant
    if photo not in ex["photos"]:
        raise Refusal(f"analysis.error.photo_not_in.{experiment}", photos=", ".join(ex["photos"]), photo=photo)
    if experiment == "context":
        if variant not in BACKGROUNDS:
            raise Refusal("analysis.error.unknown_background", variant=variant, choices=", ".join(BACKGROUNDS))
        altered, region = context_swap(photo, variant)
        text = ""
    elif experiment == "removed":
        variant = ""
        altered, region = remove_object(photo)
        text = ""
    else:
        if variant not in TEXT_STYLES:
            raise Refusal("analysis.error.unknown_text_style", variant=variant, choices=one_of(TEXT_STYLES))
        text = check_text(text)
        altered, region = stamp_text(photo, text, variant)
    original = np.asarray(model_view(PHOTOS[photo].file))
    # context swap: compare with the original's own background; otherwise the same area
    region_original = ~object_mask(photo) if experiment == "context" else region
    return Card(experiment, photo, variant, original, altered, region, region_original,
                explain_photo(original), explain_photo(altered), categories=_photo_spec().categories, text=text)
