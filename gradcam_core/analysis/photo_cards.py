"""The photo experiments, measured: each *card* runs Lite0 + Grad-CAM on the original and on the
altered photo and keeps the numbers (top-3 of both, the share of heat on the altered region next
to that region's share of the picture), and one sentence generated only from those numbers
(:func:`card_sentence`), comparing the two pictures by heat per unit of area."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch

from gradcam_core.analysis.photo_edits import (BACKGROUNDS, DEFAULT_TEXT, PHOTOS, SIZE, TEXT_STYLES, _photo_spec,
                                              check_text, context_swap, model_view, object_mask, remove_object,
                                              stamp_text)
from gradcam_core.analysis.shortcut import cue_mass


# ------------------------------------------------------------------------------- cards


@dataclass
class Card:
    """One experiment on one photo: original vs altered, both measured."""

    experiment: str  # "context", "removed", "text"
    photo: str
    variant: str  # background name, "" or the text style
    title: str
    region_name: str  # what the region is, in words ("the new background", ...)
    original: np.ndarray  # uint8 (224, 224, 3): what the model sees
    altered: np.ndarray
    region: np.ndarray  # bool (224, 224): the altered region, in the altered image
    region_original: np.ndarray  # bool (224, 224): the region compared with, in the original
    result_original: object  # CAMResult (top-1 class)
    result_altered: object
    categories: list[str] = field(repr=False, default_factory=list)
    text: str = ""
    sentence: str = ""
    region_original_name: str = ""  # what ``region_original`` is, in words

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

    def overlay(self, which: str, cmap: str = "jet") -> np.ndarray:
        from gradcam_core.present.steps import overlay_image

        res, img = ((self.result_original, self.original) if which == "original"
                    else (self.result_altered, self.altered))
        return overlay_image(res, img, cmap=cmap)


EXPERIMENTS: dict[str, dict] = {
    "context": {
        "title": "Context swap",
        "photos": ["cat", "coffee", "dahlia"],
        "variants": list(BACKGROUNDS),
        "default": ("coffee", "grass"),
        "about": ("The object is cut out with a soft-edged outline (a hand-set ellipse; for the dahlia "
                  "a colour threshold), shrunk to 75 % and pasted in the middle of another background. "
                  "Heat share = the part of the Grad-CAM map on the new background. The new background covers "
                  "more of the picture than the old one did, so the two are compared per unit of area."),
    },
    "removed": {
        "title": "Object removed: background only",
        "photos": ["rocket", "dahlia", "coffee"],
        "variants": [""],
        "default": ("rocket", ""),
        "about": ("The object's region (hand-set outline, or the dahlia's colour threshold, grown by 3 px) is "
                  "refilled with a blur of the surrounding background, so only the context is left. "
                  "Heat share = the part of the Grad-CAM map where the object was."),
    },
    "text": {
        "title": "Watermark or caption",
        "photos": ["cat", "coffee", "dahlia", "motorcycle", "rocket"],
        "variants": list(TEXT_STYLES),
        "default": ("cat", "caption"),
        "about": ("Text is stamped on the photo: a 60 %-opaque watermark in the lower half, or a caption on a "
                  "black strip at the bottom. Heat share = the part of the Grad-CAM map on the text's box "
                  "(the whole strip for a caption). Type your own text, too."),
    },
}


@functools.lru_cache(maxsize=16)
def _explain_photo_cached(img_bytes: bytes) -> object:
    from gradcam_core.cam.engine import GradCAM

    spec = _photo_spec()
    arr = np.frombuffer(img_bytes, dtype=np.uint8).reshape(SIZE, SIZE, 3)
    x = torch.from_numpy((arr.astype(np.float32) - 127.0) / 128.0).permute(2, 0, 1)[None].contiguous()
    return GradCAM(spec.load(), spec.default_layer)(x)


def explain_photo(img: np.ndarray):
    """Grad-CAM (top-1 class, Lite0's default layer) of a 224×224 uint8 RGB image as the model sees it."""
    from gradcam_core.models.registry import LITE0_MEAN, LITE0_STD

    assert (LITE0_MEAN, LITE0_STD) == (127.0, 128.0)
    a = np.ascontiguousarray(img, dtype=np.uint8)
    if a.shape != (SIZE, SIZE, 3):
        raise ValueError(f"expected a {SIZE}x{SIZE} RGB image, got {a.shape}")
    return _explain_photo_cached(a.tobytes())


def _pct_word(x: float) -> str:
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
    """The card's measured numbers (what the sentence is built from), JSON-friendly.

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
        "region": card.region_name,
        "region_original": card.region_original_name,
        "region_area": round(float(card.region.mean()), 4),
        "region_area_original": round(float(card.region_original.mean()), 4),
        "heat_share_original": round(card.mass("original"), 4),
        "heat_share_altered": round(card.mass("altered"), 4),
    }


def card_sentence(numbers: dict) -> str:
    """What to notice, built only from ``numbers`` (see :func:`card_numbers`).

    Every heat share is given with its region's share of the picture, and the comparison
    between the two pictures is made per unit of area (heat share ÷ area share), because the
    regions can differ in size (a new background is larger than the old one)."""
    (n0, p0), (n1, p1) = numbers["original_top3"][0], numbers["altered_top3"][0]
    after = numbers["original_class_prob_after"]
    if n0 == n1:
        pred = f"The prediction stayed {n0} ({p0:.2f} → {p1:.2f})"
    else:
        pred = f"The prediction changed from {n0} ({p0:.2f}) to {n1} ({p1:.2f}; {n0} now {after:.2f})"
    h0, h1 = numbers["heat_share_original"], numbers["heat_share_altered"]
    a0, a1 = numbers["region_area_original"], numbers["region_area"]
    d0, d1 = heat_per_area(h0, a0), heat_per_area(h1, a1)
    region = numbers["region"]
    old = numbers.get("region_original") or region
    word = compare_per_area(d1, d0)
    amount = {"more": "more heat", "less": "less heat", "same": "about the same heat"}[word]
    tol = f" (within {_pct_word(PER_AREA_TOLERANCE)})" if word == "same" else ""
    heat = f"{_pct_word(h1)} of the heat {'now ' if numbers['experiment'] == 'removed' else ''}lies on {region}, "
    if numbers["experiment"] == "context":
        heat += (f"which covers {_pct_word(a1)} of the picture; {old} covered {_pct_word(a0)} and held "
                 f"{_pct_word(h0)}. Per unit of area that is {amount} {'as' if word == 'same' else 'than'} before{tol}: "
                 f"{d1:.2f} vs {d0:.2f} "
                 f"(1.00 = heat spread evenly)")
    else:
        before = "with the object there" if numbers["experiment"] == "removed" else "before the change"
        heat = heat[:-2] + (f" ({_pct_word(a1)} of the picture); {before}, the same area held {_pct_word(h0)}: "
                            f"{amount} on the same area{tol}, {d1:.2f} vs {d0:.2f} per unit of area "
                            f"(1.00 = heat spread evenly)")
    return f"{pred}; {heat}."


def make_card(experiment: str, photo: str | None = None, variant: str | None = None,
              text: str = DEFAULT_TEXT) -> Card:
    """Alter one photo, run EfficientNet-Lite0 + Grad-CAM on both images, measure, describe."""
    if experiment not in EXPERIMENTS:
        raise ValueError(f"Unknown experiment {experiment!r}; choose from {', '.join(EXPERIMENTS)}.")
    ex = EXPERIMENTS[experiment]
    photo = ex["default"][0] if photo in (None, "") else photo
    variant = ex["default"][1] if variant is None else variant
    if photo not in ex["photos"]:
        raise ValueError(f"The {ex['title'].lower()} experiment uses these photos: {', '.join(ex['photos'])}; "
                         f"not {photo!r}.")
    if experiment == "context":
        if variant not in BACKGROUNDS:
            raise ValueError(f"Unknown background {variant!r}; choose from {', '.join(BACKGROUNDS)}.")
        altered, region = context_swap(photo, variant)
        title = f"{PHOTOS[photo].title.capitalize()} on {variant}"
        region_name = f"the {variant} background"
        region_original_name = "the original background"
        text = ""
    elif experiment == "removed":
        variant = ""
        altered, region = remove_object(photo)
        title = f"{PHOTOS[photo].title.capitalize()} removed"
        region_name = f"the area {PHOTOS[photo].title} filled"
        region_original_name = f"{PHOTOS[photo].title} (and 3 px around it)"
        text = ""
    else:
        if variant not in TEXT_STYLES:
            raise ValueError(f"Unknown text style {variant!r}; choose {' or '.join(TEXT_STYLES)}.")
        text = check_text(text)
        altered, region = stamp_text(photo, text, variant)
        title = f"{PHOTOS[photo].title.capitalize()} with a {variant}"
        region_name = "the caption strip" if variant == "caption" else "the watermark"
        region_original_name = f"the same area ({'strip' if variant == 'caption' else 'box'})"
    original = np.asarray(model_view(PHOTOS[photo].file))
    # context swap: compare with the original's own background; otherwise the same area
    region_original = ~object_mask(photo) if experiment == "context" else region
    card = Card(experiment, photo, variant, title, region_name, original, altered, region, region_original,
                explain_photo(original), explain_photo(altered), categories=_photo_spec().categories, text=text,
                region_original_name=region_original_name)
    card.sentence = card_sentence(card_numbers(card))
    return card
