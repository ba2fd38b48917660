"""The photo cards in words and pictures: :mod:`gradcam_core.analysis.photo_cards` measures a card
(numbers and the codes experiment / photo / variant); this module names what was done (title,
region names, the experiment's explanation), writes the one sentence built only from
:func:`~gradcam_core.analysis.photo_cards.card_numbers`, and draws the card's overlays.  The words
are the catalogue's ``[analysis]`` entries (``analysis.card.*``, ``analysis.photo.*``,
``analysis.experiment.*``)."""
from __future__ import annotations

import numpy as np

from gradcam_core.analysis.photo_cards import PER_AREA_TOLERANCE, Card, compare_per_area, heat_per_area
from gradcam_core.present.steps import overlay_image
from gradcam_core.present.words import say

__all__ = ["photo_title", "photo_name", "experiment_title", "experiment_about", "variant_name", "variant_words",
           "variant_choices", "card_title", "region_names", "card_sentence", "card_overlay"]


def photo_title(photo: str, lang: str | None = None) -> str:
    """The photo's object as a sentence names it ("the cat")."""
    return say(f"analysis.photo.{photo}", lang)


def photo_name(photo: str, lang: str | None = None) -> str:
    """The photo's name in a menu ("cat")."""
    return say(f"analysis.photo_name.{photo}", lang)


def experiment_title(experiment: str, lang: str | None = None) -> str:
    return say(f"analysis.experiment.{experiment}.title", lang)


def experiment_about(experiment: str, lang: str | None = None) -> str:
    return say(f"analysis.experiment.{experiment}.about", lang)


def _key_part(code: str) -> str:
    return code.replace(" ", "_")


def variant_name(experiment: str, variant: str, lang: str | None = None) -> str:
    """A variant as its menu names it ("grass", "plain grey", "caption"): the code itself when the
    experiment has no named variants (the object removed: "")."""
    if experiment == "context":
        return say(f"analysis.background_name.{_key_part(variant)}", lang)
    if experiment == "text":
        return say(f"analysis.text_style.{_key_part(variant)}", lang)
    return variant


def variant_words(experiment: str, variant: str, lang: str | None = None) -> str:
    """A variant as a sentence places it ("on {variant}", "the {variant} background", "with a
    {variant}"), in the reader's language, never the English code."""
    if experiment == "context":
        return say(f"analysis.background.{_key_part(variant)}", lang)
    return variant_name(experiment, variant, lang)


def variant_choices(experiment: str, variants: list[str], lang: str | None = None) -> list[tuple[str, str]]:
    """A variant menu's (label, value) pairs: the label worded, the value the code the services take."""
    return [(variant_name(experiment, v, lang), v) for v in variants]


def card_title(experiment: str, photo: str, variant: str, lang: str | None = None) -> str:
    """"The cat on grass", "The rocket removed", "The cat with a caption"."""
    return say(f"analysis.card.title.{experiment}", lang, photo=photo_title(photo, lang).capitalize(),
               variant=variant_words(experiment, variant, lang))


def region_names(experiment: str, photo: str, variant: str, lang: str | None = None) -> tuple[str, str]:
    """(the measured region in the altered picture, the region it is compared with in the original)."""
    if experiment == "text":
        kind = "caption" if variant == "caption" else "watermark"
        return say(f"analysis.card.region.text_{kind}", lang), say(f"analysis.card.region.text_{kind}_original", lang)
    values = dict(photo=photo_title(photo, lang), variant=variant_words(experiment, variant, lang))
    return (say(f"analysis.card.region.{experiment}", lang, **values),
            say(f"analysis.card.region.{experiment}_original", lang, **values))


def card_sentence(numbers: dict, lang: str | None = None) -> str:
    """What to notice, built only from ``numbers`` (see
    :func:`~gradcam_core.analysis.photo_cards.card_numbers`).

    Every heat share is given with its region's share of the picture, and the comparison
    between the two pictures is made per unit of area (heat share ÷ area share), because the
    regions can differ in size (a new background is larger than the old one)."""
    (n0, p0), (n1, p1) = numbers["original_top3"][0], numbers["altered_top3"][0]
    if n0 == n1:
        pred = say("analysis.card.stayed", lang, top=n0, p0=p0, p1=p1)
    else:
        pred = say("analysis.card.changed", lang, n0=n0, p0=p0, n1=n1, p1=p1, after=numbers["original_class_prob_after"])
    h0, h1 = numbers["heat_share_original"], numbers["heat_share_altered"]
    a0, a1 = numbers["region_area_original"], numbers["region_area"]
    d0, d1 = heat_per_area(h0, a0), heat_per_area(h1, a1)
    experiment = numbers["experiment"]
    region, old = region_names(experiment, numbers["photo"], numbers["variant"], lang)
    word = compare_per_area(d1, d0)
    tol = say("analysis.card.tolerance", lang, tol_pct=100 * PER_AREA_TOLERANCE) if word == "same" else ""
    kind = "context" if experiment == "context" else "same_area"
    heat = say(f"analysis.card.heat.{experiment}", lang, heat_pct=100 * h1, region=region, area_pct=100 * a1,
               old_region=old, old_area_pct=100 * a0, old_heat_pct=100 * h0,
               amount=say(f"analysis.card.amount.{kind}.{word}", lang), tolerance=tol, per_area=d1, old_per_area=d0)
    return say("analysis.card.sentence", lang, prediction=pred, heat=heat)


def card_overlay(card: Card, which: str, cmap: str = "jet") -> np.ndarray:
    """The card's Grad-CAM drawn over the ``which`` picture ("original" or "altered")."""
    res, img = ((card.result_original, card.original) if which == "original"
                else (card.result_altered, card.altered))
    return overlay_image(res, img, cmap=cmap)
