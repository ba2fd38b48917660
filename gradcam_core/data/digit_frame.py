"""A digit that *is* the picture: a tight crop, a thumbnail, a marker digit that fills the frame.

The sheet reader (:func:`gradcam_core.data.mnist.isolate_digit`) looks for the digit as one mark
among others on a sheet of paper, so it sets aside everything that touches the picture's border.
That is right for a photo of a sheet on a table and wrong for a photo that the writer has already
cropped to the digit, or shrunk to 28×28: there the digit touches the edges, and there is no
margin to learn the paper from.  This module reads such a picture as it is:

1. **Background normalisation, per colour channel.**  Each channel is divided by its own paper
   level (a grey closing wider than any stroke, then smoothed).  Ink is the largest relative
   darkening over the channels, so blue ballpoint on grey paper counts as much as black marker
   on white, and uneven light cancels.
2. **Thresholds from the picture itself.**  Otsu's threshold on that ink map, never below the
   noise (median + 4 robust sigmas), with hysteresis down to half of it (scikit-image's
   ``apply_hysteresis_threshold``) so a faint part of a stroke stays joined to its strong part.
3. **Connected components** (``regionprops``): specks and components with under 5 % of the
   largest one's ink are dropped.

The result is a *candidate*, checked for being a digit on paper (:func:`frame_digit`): strokes,
not blobs; not running along the picture's edge (a table, a sheet's edge); standing clearly
above the paper's noise.  Which candidate the app reads, this one or the sheet reader's, the
caller decides (by the model's own confidence: :func:`gradcam_core.data.mnist.preprocess_digit`).

Returns codes and numbers: :class:`NoDigitError` carries a ``reason`` code; the words are the
caller's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.filters import apply_hysteresis_threshold, threshold_otsu
from skimage.measure import label, regionprops

from gradcam_core.base.errors import Refusal

__all__ = ["NoDigitError", "FrameDigit", "frame_ink", "frame_digit"]

#: The paper level is a grey closing this share of the shorter side wide (wider than any stroke).
PAPER_WINDOW = 0.3
#: ... estimated at about this many pixels on the shorter side.
PAPER_SIDE = 64
#: No pixel darker than this relative to its paper: nothing written (a blank or flat picture).
MIN_CONTRAST = 0.1
#: The strongest mark must exceed the paper's noise by this many robust sigmas.
NOISE_SIGMAS = 4.0
#: Hysteresis keeps pixels down to this share of the high threshold when joined to a strong pixel.
HYSTERESIS = 0.5
#: Components with less than this share of the largest component's ink are not part of the digit.
MIN_PART = 0.05
#: Candidate checks.  Ink pixels on the picture's border, as a share of the border's length: a
#: digit that fills the frame touches the edge at a few strokes (the 47 shared field photos: at
#: most 5 %; a tight crop whose bar runs near the top edge, 12 %); a table, a sheet's edge or a
#: shadow runs along it (the blank test sheets: 26-51 %).
MAX_BORDER_INK = 0.18
#: Mean stroke width (2 area / perimeter) over the digit's box side: strokes, not a blob (the sheet
#: reader's limit; MNIST's own strokes give about 0.25, the shared photos at most 0.18).
MAX_STROKE_RATIO = 0.3
#: Share of the picture covered by ink: at most this (a dark photo, a texture cover more).
MAX_INK_SHARE = 0.4
#: The digit's box must span at least this share of the picture's longer side.
MIN_EXTENT = 0.25
#: At most this many separate parts (a 5's bar, a thin pen's broken strokes, a dot of noise).
MAX_PARTS = 6
#: The strokes' median ink over the paper's noise next to them.
MIN_SNR = 6.0
#: Pixels darker than this share of the bright paper level and away from the strokes are not paper
#: (a table, a dark object): the picture is not a digit filling a sheet when they cover more than
#: NOT_PAPER of it.  A shadow darkens paper by up to about a third, and stays paper.
DARK = 0.5
NOT_PAPER = 0.02


class NoDigitError(Refusal):
    """No digit could be isolated: ``reason`` names the criterion that failed (a code), ``key`` the
    catalogue's sentence for it, ``values`` its numbers (a ``Refusal``, so a ``ValueError``)."""

    def __init__(self, key: str, reason: str, **values: Any) -> None:
        super().__init__(key, **values)
        self.reason = reason


@dataclass(frozen=True)
class FrameDigit:
    """One candidate: the ink map, the digit's mask, the ink's noise, and the measures checked."""

    ink: np.ndarray
    mask: np.ndarray
    noise: float
    border_ink: float
    stroke_ratio: float
    ink_share: float
    extent: float
    parts: int
    snr: float
    not_paper: float


def _composite_on_white(arr: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 3) or (H, W, 4) floats in [0, 1] -> (H, W, C) with transparency on white."""
    if arr.ndim == 2:
        return arr[..., None]
    if arr.shape[2] == 4:
        alpha = arr[..., 3:4]
        return arr[..., :3] * alpha + (1.0 - alpha)
    return arr


def frame_ink(arr: np.ndarray) -> np.ndarray:
    """Ink (>= 0, bright) of a picture of dark writing: the largest relative darkening of any
    colour channel against that channel's own paper level."""
    rgb = _composite_on_white(np.asarray(arr, dtype=np.float32))
    h, w = rgb.shape[:2]
    sigma = 0.7 if min(h, w) > 60 else 0.3          # a thumbnail's strokes are one pixel wide
    ink = np.zeros((h, w), np.float32)
    for c in range(rgb.shape[2]):
        channel = ndimage.gaussian_filter(rgb[..., c], sigma)
        np.maximum(ink, 1.0 - channel / np.maximum(_paper(channel), 0.05), out=ink)
    return ink


def _paper(channel: np.ndarray) -> np.ndarray:
    """The paper's level under one channel: a grey closing ``PAPER_WINDOW`` of the shorter side
    wide (strokes vanish, light and shade stay), smoothed.  The paper varies slowly, so it is
    estimated on a copy box-reduced to about PAPER_SIDE pixels and resized back (a 77-pixel
    closing at full size costs ~10x more for the same surface)."""
    h, w = channel.shape
    k = max(1, min(h, w) // PAPER_SIDE)
    small = channel if k == 1 else np.asarray(Image.fromarray(channel).reduce(k))
    size = max(3, round(PAPER_WINDOW * min(small.shape))) | 1
    paper = ndimage.uniform_filter(ndimage.grey_closing(small, size=(size, size)), size)
    if k == 1:
        return paper
    return np.asarray(Image.fromarray(paper).resize((w, h), Image.Resampling.BILINEAR))


def _border_ink(mask: np.ndarray) -> float:
    border = np.concatenate([mask[0], mask[-1], mask[1:-1, 0], mask[1:-1, -1]])
    return float(border.mean())


def _stroke_ratio(mask: np.ndarray, side: int) -> float:
    boundary = int((mask & ~ndimage.binary_erosion(mask)).sum())
    width = 2.0 * float(mask.sum()) / boundary if boundary else 0.0
    return width / max(side, 1)


def _not_paper(rgb: np.ndarray, mask: np.ndarray) -> float:
    """Share of the picture that is dark (< DARK x the bright paper level) and not near a stroke."""
    luma = rgb.mean(axis=2)
    dark = luma < DARK * float(np.percentile(luma, 95))
    return float((dark & ~ndimage.binary_dilation(mask, iterations=3)).mean())


def frame_digit(arr: np.ndarray) -> FrameDigit:
    """The digit of a picture read as a whole (see the module's docstring); NoDigitError (with a
    reason code: ``blank``, ``faint``, ``edges``, ``blob``, ``cluttered``, ``too-small``) when
    the picture does not look like one digit on paper (``edges`` also when a dark region that is
    not a stroke, a table or an object, is in view)."""
    rgb = _composite_on_white(np.asarray(arr, dtype=np.float32))
    ink = frame_ink(rgb)
    h, w = ink.shape
    med = float(np.median(ink))
    noise = 1.4826 * float(np.median(np.abs(ink - med)))
    if float(ink.max()) < max(MIN_CONTRAST, med + NOISE_SIGMAS * noise):
        raise NoDigitError("error.digit.frame.blank", "blank")
    high = max(float(threshold_otsu(ink)), med + NOISE_SIGMAS * noise, 0.08)
    low = max(HYSTERESIS * high, med + 0.75 * NOISE_SIGMAS * noise, 0.06)
    labels = label(apply_hysteresis_threshold(ink, low, high), connectivity=2)
    regions = regionprops(labels, intensity_image=ink)
    min_area = max(3, 5e-4 * h * w)
    masses = [r.area * r.intensity_mean for r in regions]
    top = max(masses, default=0.0)
    keep = [r.label for r, m in zip(regions, masses) if m >= MIN_PART * top and r.area >= min_area]
    if not keep:
        raise NoDigitError("error.digit.frame.blank", "blank")
    mask = np.isin(labels, keep)
    ys, xs = np.nonzero(mask)
    side = max(int(np.ptp(ys)) + 1, int(np.ptp(xs)) + 1)
    beside = ~ndimage.binary_dilation(mask, iterations=2)
    rest = ink[beside] if beside.any() else ink.ravel()
    paper_noise = 1.4826 * float(np.median(np.abs(rest - np.median(rest))))
    found = FrameDigit(ink=ink, mask=mask, noise=noise, border_ink=_border_ink(mask),
                       stroke_ratio=_stroke_ratio(mask, side), ink_share=float(mask.mean()),
                       extent=side / max(h, w), parts=len(keep),
                       snr=float(np.median(ink[mask])) / (paper_noise + 0.01), not_paper=_not_paper(rgb, mask))
    _check(found)
    return found


def _check(d: FrameDigit) -> None:
    """NoDigitError naming the first measure that rules out one digit on paper."""
    if d.border_ink > MAX_BORDER_INK or d.not_paper > NOT_PAPER:
        raise NoDigitError("error.digit.frame.edges", "edges")
    if d.snr < MIN_SNR:
        raise NoDigitError("error.digit.frame.faint", "faint")
    if d.stroke_ratio > MAX_STROKE_RATIO or d.ink_share > MAX_INK_SHARE:
        raise NoDigitError("error.digit.frame.blob", "blob")
    if d.parts > MAX_PARTS:
        raise NoDigitError("error.digit.frame.cluttered", "cluttered")
    if d.extent < MIN_EXTENT:
        raise NoDigitError("error.digit.frame.too_small", "too-small")
