"""The one line the MNIST tab's Photo input writes about a photo's read (issue 23): sure, unsure or
refused, and for a box drawn on the photo.  Data and small functions only (no gradio, no torch).

Every sentence follows from the numbers it is given: the digit LeNet reads and its top-1
probability, or the reader's own refusal message.  tests/test_photo_crop.py feeds numbers to each
branch and checks the words.
"""
from __future__ import annotations

from gradcam_core.base.errors import Refusal
from gradcam_core.present.words import say

__all__ = ["UNSURE_BELOW", "is_unsure", "upload_line", "refusal_line", "box_line", "box_refusal_line", "top1"]

#: A read whose top-1 probability is below this is "unsure" and the page offers a box.
#: Chosen on the 1 000 held-out MNIST digits with the shipped LeNet (tests/test_photo_crop.py
#: re-measures it; LeNet of 2026-12-07): below 0.9 lie 7 of its 12 wrong reads but only 5 of its
#: 988 right ones (0.5 %); below 0.6 lie only 2 of the 12 wrong reads. The offer costs the user nothing (the
#: result is shown as usual next to it), so catching most wrong reads is worth the rare needless
#: offer. On photos LeNet is often confidently wrong (two wrong field-photo reads on the day
#: this was set were at 96 % and 99.9 %), so no threshold catches every bad read: the page also
#: always shows "What LeNet sees".
UNSURE_BELOW = 0.9

def _pct(p: float) -> int:
    """A probability as the whole percentage the sentences write (0.987 → 99)."""
    return round(100 * float(p))


def top1(probs: dict) -> tuple[str, float]:
    """The most probable class and its probability, from ``{class: probability}``."""
    if not probs:
        raise Refusal("photo.no_probabilities")
    name = max(probs, key=lambda k: probs[k])
    return str(name), float(probs[name])


def is_unsure(p: float) -> bool:
    return p < UNSURE_BELOW


def upload_line(digit: str, p: float) -> str | None:
    """The line after a whole photo was read; None when the read is sure (nothing to offer)."""
    if not is_unsure(p):
        return None
    return f"{say('photo.not_sure', digit=digit, pct=_pct(p))} {say('photo.draw_box')}"


def refusal_line(message: str) -> str:
    """The line after the reader refused the whole photo: its own message, then the offer."""
    return f"{_sentence(message)} {say('photo.draw_box')}"


def box_line(digit: str, p: float) -> str:
    """The line after the part inside a box was read."""
    if is_unsure(p):
        return say("photo.box_unsure", digit=digit, pct=_pct(p))
    return say("photo.box_sure", digit=digit, pct=_pct(p))


def box_refusal_line(message: str) -> str:
    """The line after the reader refused the part inside a box (or the box itself was not usable)."""
    return say("photo.box_refusal", message=_sentence(message))


def _sentence(message: str) -> str:
    message = " ".join(str(message).split())
    return message if message.endswith((".", "!", "?")) else message + "."
