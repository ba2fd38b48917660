"""MNIST-style preprocessing of drawn or photographed digits (the data itself: :mod:`gradcam_core.data.mnist`).

Preprocessing (``preprocess_digit``) turns an arbitrary picture of one digit
into what MNIST looks like: bright ink on black, the digit scaled to fit a
20x20 box and placed in a 28x28 frame with its centre of mass at (14, 14).
For phone photos the digit is first isolated as a person sees it
(``isolate_digit``): the largest compact group of strokes near the middle of
the sheet, not a table strip, ruled lines or a fingertip at the border; when
there is none, a ``NoDigitError`` (a ``Refusal``: a code and its numbers) says what to do.  The seeded
field set ``tests/field_digits`` (``tools/make_field_digits.py``) measures it.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from PIL import Image
from scipy import ndimage

from gradcam_core.data.digit_frame import NoDigitError, frame_digit
from gradcam_core.data.digit_lines import ruled_lines
from gradcam_core.base.errors import Refusal

__all__ = ["FRAME", "NoDigitError", "preprocess_digit", "isolate_digit", "surroundings"]

FRAME = 28          # output side
BOX = 20            # the digit is scaled to fit a BOX x BOX square
CENTRE = 14.0       # target centre of mass (row, col), pixel-index coordinates
MIN_SIDE = 8        # smaller inputs are rejected
WORK_SIDE = 320     # larger drawings are box-downscaled to about this size first
PHOTO_WORK_SIDE = 512  # ... and photos to this (a thin pen stroke must survive)
FRAME_WORK_SIDE = 256  # ... and a photo read as one digit filling the frame (digit_frame) to this
MIN_STROKE = 2.0    # strokes thinner than this (pixels, in the 20x20 box) are thickened
TARGET_STROKE = 2.5  # ... to about this width (MNIST strokes: median ~2.7 px)

# Isolating the digit in a photo (sizes are fractions of the picture's shorter side)
CLEAN_SIGMA = 0.003      # background noise below this: a canvas or a clean scan, not a photo
TEXTURED = 0.04          # a photo's ink noise above this: texture (fur, foliage), not blank paper
PAPER_WHITE = 0.85       # photos: ink is measured relative to the local paper, scaled to this
DARK_PAPER = 0.4         # a photo whose middle is darker than this may hold light strokes
# the digit among the remaining marks (``isolate_digit``)
EDGE_MARKS = 0.02         # photos: more marks than this share, all at the border: "marks at the edges"
SPECK = 5e-5             # photos: ink components smaller than this share of the picture are specks
GROUP_GAP = 0.02         # strokes closer than this belong to one group (a broken 4, a 5's bar)
MIN_DIGIT = 0.06         # the digit's box must be at least this big ...
MAX_DIGIT = 0.8          # ... and at most this big
MAX_STROKE_RATIO = 0.3   # a stroke (2 area / perimeter) thicker than this x the box is a blob
MIN_INK_SHARE = 0.5      # the digit holds at least this share of the ink near the middle
MIN_SNR = 15.0           # photos: the strokes' ink / the noise next to them
MIN_PAPER = 0.45         # photos: grey level of the paper next to the strokes
MIN_LOCAL_SHARE = 0.35   # photos: the digit's share of the ink in 1.5x its box (lines removed)
CENTRE_SCALE = 0.35      # score = ink mass x exp(-(distance from the middle / this)^2)


def _to_float_array(image, work_side: int = WORK_SIDE) -> np.ndarray:
    """PIL image or numpy array -> float32 array (H, W) or (H, W, C), C in 3/4, in [0, 1]."""
    if isinstance(image, Image.Image):
        if image.mode in ("I", "I;16", "F"):
            pass                                            # numeric arrays, scaled below
        elif image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            image = image.convert("RGBA")
        elif image.mode in ("1", "L", "P"):
            image = image.convert("L")
        else:
            image = image.convert("RGB")
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 3 and arr.shape[2] == 2:                 # gray + alpha
        arr = np.concatenate([np.repeat(arr[:, :, :1], 3, axis=2), arr[:, :, 1:]], axis=2)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise Refusal("error.digit.not_an_image", shape=arr.shape)
    if min(arr.shape[:2]) < MIN_SIDE:
        raise Refusal("error.digit.too_small", width=arr.shape[1], height=arr.shape[0], min_side=MIN_SIDE)

    # Box-downscale very large inputs early (cheap, and averages out noise).
    k = math.ceil(max(arr.shape[:2]) / work_side)
    if k > 1 and arr.dtype == np.uint8:
        arr = np.asarray(Image.fromarray(np.ascontiguousarray(arr)).reduce(k))  # L/RGB/RGBA
        k = 1
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.bool_:
        top = 1.0
    elif np.issubdtype(arr.dtype, np.integer):
        top = 255.0 if arr.max(initial=0) <= 255 else 65535.0 if arr.max() <= 65535 \
            else float(arr.max())
    else:
        top = None
    out = arr.astype(np.float32, copy=False)
    if k > 1:                                               # block mean, k x k
        h, w = out.shape[0] // k * k, out.shape[1] // k * k
        blocks = out[:h, :w].reshape(h // k, k, w // k, k, *out.shape[2:])
        out = blocks.sum(axis=1).sum(axis=2) / float(k * k)
    out = np.nan_to_num(out)
    if top is None:                                         # float: 0..1, or 0..255
        top = 255.0 if out.max(initial=0.0) > 1.0 else 1.0
    return np.clip(out / top, 0.0, 1.0)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _lstsq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Small least squares via the normal equations (much faster than SVD here)."""
    ata = a.T @ a + 1e-9 * np.eye(a.shape[1])
    return np.linalg.solve(ata, a.T @ b)


def _fit_background(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """Robustly fit a smooth (quadratic) background surface to a grey image.

    Starts from a plane fitted to the image border (where there is rarely ink),
    then refits on the pixels close to the surface, ignoring ink as outliers.
    Returns (background, noise_sigma).
    """
    h, w = gray.shape
    step = max(1, int(math.sqrt(h * w / 4000)))              # fit on ~4000 samples
    ys, xs = np.mgrid[0:h:step, 0:w:step]
    vals = gray[::step, ::step].ravel().astype(np.float64)
    yn, xn = (ys.ravel() / max(h - 1, 1)) - 0.5, (xs.ravel() / max(w - 1, 1)) - 0.5
    design = np.stack([np.ones_like(yn), yn, xn, yn * yn, xn * xn, yn * xn], axis=1)

    b = max(1, round(0.05 * min(ys.shape)))                  # border frame of the sample grid
    border = np.zeros(ys.shape, dtype=bool)
    border[:b], border[-b:], border[:, :b], border[:, -b:] = True, True, True, True
    border = border.ravel()
    coef = np.zeros(6)
    coef[:3] = _lstsq(design[border, :3], vals[border])
    resid = vals - design @ coef
    sigma = 1.4826 * float(np.median(np.abs(resid[border] - np.median(resid[border]))))

    for _ in range(3):
        inl = np.abs(resid) < max(3.0 * sigma, 0.06)
        if inl.sum() < 12:
            break
        coef = _lstsq(design[inl], vals[inl])
        resid = vals - design @ coef
        sigma = 1.4826 * float(np.median(np.abs(resid[inl])))

    yy = (np.arange(h, dtype=np.float32) / max(h - 1, 1) - 0.5)[:, None]
    xx = (np.arange(w, dtype=np.float32) / max(w - 1, 1) - 0.5)[None, :]
    c = coef.astype(np.float32)
    col = c[0] + c[1] * yy + c[3] * yy * yy                  # separable parts first
    row = c[2] * xx + c[4] * xx * xx
    bg = (col + row) + (c[5] * yy) * xx
    return bg, sigma


def _ink_map(arr: np.ndarray, drawing: bool | None = None) -> tuple[np.ndarray, float, bool]:
    """Float image -> (ink, noise_sigma, drawn) where ink >= 0 is bright on a ~0 background.

    ``drawn`` is True for strokes on a transparent canvas (read from alpha) and for images whose
    background is exactly uniform (a canvas or a clean scan): no table, lines or noise to remove.
    Photos get a local background (a grey closing/opening larger than any stroke), so a dark table
    strip, a shadow's edge or uneven light are background, not ink.
    """
    if arr.ndim == 3 and arr.shape[2] == 4:
        alpha = arr[:, :, 3]
        if alpha.max() <= 0.02:
            raise Refusal("error.digit.transparent")
        if alpha.min() < 0.98:
            # Transparent background.  If the clearly visible pixels all share
            # one colour, the strokes are described by alpha alone (works for
            # black or white strokes alike); otherwise composite onto white.
            visible = alpha >= 0.5 * alpha.max()
            lum_vis = _luma(arr[:, :, :3][visible])
            if lum_vis.max() - lum_vis.min() < 0.1:
                return alpha, 0.0, True
            gray = alpha * _luma(arr[:, :, :3]) + (1.0 - alpha)
        else:
            gray = _luma(arr[:, :, :3])
    elif arr.ndim == 3:
        gray = _luma(arr)
    else:
        gray = arr

    bg, sigma = _fit_background(gray)
    resid = gray - bg
    if sigma < CLEAN_SIGMA or drawing:
        # A canvas or a clean scan: the smooth background explains the picture (as before).
        floor = 3.0 * sigma
        dark = float(np.clip(-resid - floor, 0, None).sum())
        bright = float(np.clip(resid - floor, 0, None).sum())
        if dark == bright == 0.0:
            raise Refusal("error.digit.uniform")
        ink = -resid if dark > bright else resid               # ink bright on dark
        return np.clip(ink, 0.0, None), sigma, True
    return (*_photo_ink(gray), False)


def _photo_ink(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """Ink of a photo: the difference to a local background (grey closing / opening).

    The structuring element (1/10 of the longer side) is wider than any pen stroke, so strokes
    vanish from the background while steps wider than it (a table strip, a shadow, a fingertip)
    stay in it and are not ink.  Dark ink on light paper; light strokes only when the middle of
    the picture is dark (a blackboard) and bright marks outweigh dark ones.
    """
    size = max(5, round(max(gray.shape) / 10)) | 1
    smooth = ndimage.gaussian_filter(gray, 1.0)
    paper = ndimage.grey_closing(smooth, size=(size, size))
    # ink darkens the paper by a factor: relative to the local paper, a stroke in a shadow is as
    # strong as in the light (scaled so that white paper, 0.85, keeps the difference)
    dark = (paper - gray) * (PAPER_WHITE / np.maximum(paper, 0.2))

    def centred(d):
        med = float(np.median(d))
        return np.clip(d - med, 0.0, None), 1.4826 * float(np.median(np.abs(d - med)))

    dk, s_dk = centred(dark)
    mass_dk = float(np.clip(dk - 4 * s_dk, 0, None).sum())
    h, w = gray.shape
    if float(np.median(gray[h // 4: h - h // 4, w // 4: w - w // 4])) < DARK_PAPER:
        br, s_br = centred(gray - ndimage.grey_opening(smooth, size=(size, size)))
        mass_br = float(np.clip(br - 4 * s_br, 0, None).sum())
        if mass_br > mass_dk:                              # light strokes on a dark board
            return br.astype(np.float32), s_br
    if mass_dk == 0.0:
        if s_dk > TEXTURED:
            raise NoDigitError("error.digit.texture", "texture")
        raise NoDigitError("error.digit.blank", "blank")
    return dk.astype(np.float32), s_dk


def _resize(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """Antialiased float resize to (h, w), clipped to [0, 1]."""
    out = Image.fromarray(np.ascontiguousarray(a, dtype=np.float32))     # mode "F"
    return np.clip(np.asarray(out.resize((w, h), Image.Resampling.LANCZOS)), 0.0, 1.0)


def _stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary drawing: 2 * area / boundary length."""
    boundary = int((mask & ~ndimage.binary_erosion(mask)).sum())
    return 2.0 * float(mask.sum()) / boundary if boundary else 0.0


def _thicken(crop: np.ndarray, width_box: float) -> np.ndarray:
    """Grey-dilate a cropped drawing so its strokes end up ~TARGET_STROKE px wide.

    Works at 4x the final resolution (the longer side becomes 4 * BOX pixels),
    pads by the dilation radius and renormalises the stroke intensity to 1.
    """
    sup = 4
    h, w = crop.shape
    f = sup * BOX / max(h, w)
    mid = _resize(crop, max(1, round(h * f)), max(1, round(w * f)))
    r = max(1, round((TARGET_STROKE - width_box) * sup / 2))
    yy, xx = np.ogrid[-r:r + 1, -r:r + 1]
    mid = ndimage.grey_dilation(np.pad(mid, r), footprint=(yy * yy + xx * xx) <= r * r)
    top = float(mid.max())
    if top <= 0:
        return mid
    peak = float(np.median(mid[mid > 0.5 * top]))
    return np.clip(mid / peak, 0.0, 1.0).astype(np.float32)


def _groups(mask: np.ndarray, ink: np.ndarray, gap: int) -> list[dict]:
    """Groups of nearby strokes (components closer than ``gap`` px), with their measurements."""
    from skimage.measure import regionprops

    h, w = mask.shape
    near = ndimage.binary_dilation(mask, iterations=gap) if gap > 0 else mask
    glabels, n = ndimage.label(near, structure=np.ones((3, 3)))
    glabels = np.where(mask, glabels, 0)
    short = min(h, w)
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    out = []
    for reg in regionprops(glabels, intensity_image=ink):
        r0, c0, r1, c1 = reg.bbox
        mass = float(reg.intensity_mean * reg.area)
        my, mx = reg.centroid_weighted
        perimeter = max(float(reg.perimeter), 1.0)
        out.append({
            "label": reg.label, "bbox": reg.bbox, "area": int(reg.area), "mass": mass,
            "border": r0 == 0 or c0 == 0 or r1 == h or c1 == w,
            "extent": max(r1 - r0, c1 - c0) / short,
            "stroke_ratio": (2.0 * reg.area / perimeter) / max(r1 - r0, c1 - c0),
            "distance": math.hypot(my - cy, mx - cx) / short,
        })
    return out


def isolate_digit(ink: np.ndarray, sigma: float, drawn: bool = False,
                  gray: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask of the digit in an ink map: the largest compact group of strokes near the middle.

    Not the digit: specks, long straight thin lines (``digit_lines.remove_lines``), groups touching the
    picture's border (a table strip, a fingertip, the paper's edge), groups too small, too big or
    too blob-like to be strokes.  Among the rest the digit is the group with the highest
    ink mass x closeness to the middle; small nearby groups (a detached bar) join it.  Raises
    ``NoDigitError`` (a ValueError) saying what to do when no group passes, or when the best one
    holds less than ``MIN_INK_SHARE`` of the ink near the middle (a photo of something else).
    For drawings (``drawn``) a group touching the border is still taken when it is all there is.
    """
    h, w = ink.shape
    mask = ink > _ink_threshold(ink, sigma, drawn)
    if not mask.any():
        raise NoDigitError("error.digit.blank", "blank")
    lines = np.zeros_like(mask) if drawn else ruled_lines(ink, sigma)
    mask &= ~lines
    marks = int(mask.sum())
    if not drawn:   # marks touching the picture's border: table, fingertip, paper edge, line ends
        mask = _without_border_marks_and_specks(mask)
    gap = max(1, round(GROUP_GAP * max(h, w)))
    min_area = max(4, int(1e-4 * h * w))
    groups = [g for g in _groups(mask, ink, gap) if g["area"] >= min_area]
    if not groups:
        raise _nothing_left_error(marks, lines)
    best = _best_group(groups, drawn)
    _check_ink_share(best, groups, drawn)
    digit = _digit_with_its_parts(mask, gap, best, groups)
    if not drawn:
        _check_surroundings(digit, ink, sigma, lines, gray)
    return digit


def _ink_threshold(ink: np.ndarray, sigma: float, drawn: bool) -> float:
    """Ink above this is a mark; for drawings also at least a quarter of the strongest ink."""
    thr = max(4.0 * sigma, 0.035)
    if drawn:
        top = float(ink.max())
        thr = max(thr, 0.25 * top) if top > 0 else thr
    return thr


def _without_border_marks_and_specks(mask: np.ndarray) -> np.ndarray:
    """A photo's marks without those touching the border (table, fingertip, paper edge, line ends)
    and without specks (noise, what is left of a removed line), which would chain groups together."""
    from skimage.segmentation import clear_border

    h, w = mask.shape
    mask = clear_border(mask)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n:
        area = np.bincount(labels.ravel(), minlength=n + 1)
        area[0] = 0
        mask = area[labels] >= max(4, SPECK * h * w)
    return mask


def _nothing_left_error(marks: int, lines: np.ndarray) -> NoDigitError:
    """Why no group of strokes is left: the marks were all at the edges, only ruled lines, or none."""
    h, w = lines.shape
    if marks >= EDGE_MARKS * h * w:
        return NoDigitError("error.digit.edges", "edges")
    if lines.any():
        return NoDigitError("error.digit.ruled_only", "blank")
    return NoDigitError("error.digit.blank", "blank")


def _could_be_digit(g: dict, drawn: bool, allow_border: bool = False) -> bool:
    """A group's size and stroke shape fit a digit (a drawing may fill its canvas: no upper size)."""
    return ((allow_border or not g["border"]) and MIN_DIGIT <= g["extent"]
            and (drawn or g["extent"] <= MAX_DIGIT) and g["stroke_ratio"] <= MAX_STROKE_RATIO)


def _best_group(groups: list[dict], drawn: bool) -> dict:
    """The candidate with the most ink mass x closeness to the middle; NoDigitError when none fits."""
    cands = [g for g in groups if _could_be_digit(g, drawn)]
    if not cands and drawn:
        cands = [g for g in groups if _could_be_digit(g, drawn, allow_border=True)]
    if not cands:
        inner = [g for g in groups if not g["border"]]
        if inner and max(g["extent"] for g in inner) < MIN_DIGIT:
            raise NoDigitError("error.digit.marks_too_small", "too-small")
        raise NoDigitError("error.digit.no_candidate", "no-candidate")
    return max(cands, key=lambda g: g["mass"] * math.exp(-(g["distance"] / CENTRE_SCALE) ** 2))


def _check_ink_share(best: dict, groups: list[dict], drawn: bool) -> None:
    """The digit holds at least ``MIN_INK_SHARE`` of the ink near the middle (within the central
    part of the picture, not touching the border), else NoDigitError (a photo of something else)."""
    central = [g for g in groups if g["distance"] < 0.35 and (drawn or not g["border"])]
    near_mass = sum(g["mass"] for g in central) + (0.0 if best in central else best["mass"])
    share = best["mass"] / near_mass if near_mass > 0 else 1.0
    if share < MIN_INK_SHARE:
        raise NoDigitError("error.digit.cluttered", "cluttered", share=share, need=MIN_INK_SHARE)


def _digit_with_its_parts(mask: np.ndarray, gap: int, best: dict, groups: list[dict]) -> np.ndarray:
    """The best group's marks plus the small groups close to its box (a 5's detached bar, a broken
    stroke); the groups are labelled as ``_groups`` labels them."""
    r0, c0, r1, c1 = best["bbox"]
    pad = 0.25 * max(r1 - r0, c1 - c0)
    keep = [best["label"]]
    for g in groups:
        if g is best or g["border"] or g["mass"] < 0.03 * best["mass"]:
            continue
        q0, p0, q1, p1 = g["bbox"]
        if q0 >= r0 - pad and q1 <= r1 + pad and p0 >= c0 - pad and p1 <= c1 + pad:
            keep.append(g["label"])
    near = ndimage.binary_dilation(mask, iterations=gap)
    glabels, _ = ndimage.label(near, structure=np.ones((3, 3)))
    return np.isin(glabels, keep) & mask


def surroundings(digit: np.ndarray, ink: np.ndarray, sigma: float, lines: np.ndarray,
                 gray: np.ndarray | None = None) -> dict:
    """How a candidate digit stands on its paper, in a window of 1.5x its box around it.

    ``snr``: the strokes' median ink over the noise of the ink next to them (robust sigma);
    ``share``: the candidate's share of all faint ink (ruled lines removed) in the window;
    ``paper``: median grey level next to the strokes (``None`` without ``gray``).
    """
    ys, xs = np.nonzero(digit)
    r0, r1, c0, c1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    p = int(0.5 * max(r1 - r0, c1 - c0))
    win = (slice(max(0, r0 - p), r1 + p), slice(max(0, c0 - p), c1 + p))
    own = ndimage.binary_dilation(digit, iterations=2)[win]
    inkw = ink[win]
    faint = (inkw > max(3.0 * sigma, 0.03)) & ~ndimage.binary_dilation(lines[win], iterations=2)
    total = float(inkw[faint].sum())
    share = float(inkw[faint & own].sum()) / total if total > 0 else 1.0
    beside = ~ndimage.binary_dilation(own, iterations=3)
    rest = inkw[beside] if beside.any() else inkw.ravel()
    noise = 1.4826 * float(np.median(np.abs(rest - np.median(rest))))
    snr = float(np.median(ink[digit])) / (noise + 0.005)
    paper = float(np.median(gray[win][beside])) if gray is not None and beside.any() else None
    return {"snr": snr, "share": share, "paper": paper}


def _check_surroundings(digit, ink, sigma, lines, gray) -> None:
    """A photo's candidate must be clear strokes on light paper, alone in its neighbourhood."""
    s = surroundings(digit, ink, sigma, lines, gray)
    if s["snr"] < MIN_SNR:
        raise NoDigitError("error.digit.faint", "faint", snr=s["snr"], need=MIN_SNR)
    if s["paper"] is not None and s["paper"] < MIN_PAPER:
        raise NoDigitError("error.digit.dark_background", "dark-background", paper=s["paper"], need=MIN_PAPER)
    if s["share"] < MIN_LOCAL_SHARE:
        raise NoDigitError("error.digit.not_alone", "cluttered", share=s["share"], need=MIN_LOCAL_SHARE)


def preprocess_digit(image: Image.Image | np.ndarray, drawing: bool | None = None,
                     score: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Turn a drawn or photographed digit into an MNIST-like float32 (28, 28) in [0, 1].

    Accepts a PIL image or a numpy array (H, W), (H, W, 3) or (H, W, 4),
    uint8 or float.  Steps: RGBA is resolved against its transparency
    (strokes on a transparent canvas are read from alpha); grey conversion;
    the background (paper, lighting gradient, for photos also a table strip or a
    shadow) is removed; polarity is chosen so ink is bright on black; the digit
    is isolated (``isolate_digit``: the largest compact group of strokes near the
    middle, without ruled lines or marks at the border); its noise floor is
    subtracted softly (anti-aliased edges survive) and small specks dropped;
    the ink is cropped, resized to fit 20x20 keeping its aspect ratio, and
    pasted into a 28x28 frame with its centre of mass at (14, 14).

    ``drawing``: True when the picture comes from the app's drawing canvas (it is then read as a
    drawing whatever its background; a big finger-drawn digit may reach the canvas's edges and
    leave too little plain background for the detection), None to tell drawings from photos by
    the background's noise.

    A photo is read two ways, because a person photographs a digit two ways: as one mark on a
    sheet (the sheet reader above, which sets aside what touches the border) and as the whole
    picture (:mod:`gradcam_core.data.digit_frame`: a tight crop, a thumbnail already shrunk to
    28×28, a marker digit that fills the frame and touches its edges).  When both find a digit,
    ``score`` chooses: a callable taking a stack of 28×28 candidates and returning the model's
    top-1 probability for each (``gradcam_core.models.lenet.top_probability``); the reading the
    model is surest of wins.  Without ``score`` the sheet reader's digit is kept.  A photo is
    refused only when neither way finds a digit, with the sheet reader's message.

    Raises ValueError with a readable message for blank images, pictures in
    which no digit can be isolated, or images smaller than 8 pixels on a side.
    """
    arr, ink, sigma, drawn = _ink_at_work_size(image, drawing)
    if drawn:
        return _sheet_digit(arr, ink, sigma, drawn)
    try:
        sheet, refusal = _sheet_digit(arr, ink, sigma, drawn), None
    except NoDigitError as exc:
        sheet, refusal = None, exc
    frame = None if refusal is not None and refusal.reason == "texture" else _frame_candidate(image)
    found = [c for c in (sheet, frame) if c is not None]
    if not found:
        raise refusal
    if len(found) == 1 or score is None:
        return found[0]
    return found[int(np.argmax(np.asarray(score(np.stack(found)))))]


def _sheet_digit(arr: np.ndarray, ink: np.ndarray, sigma: float, drawn: bool) -> np.ndarray:
    """The sheet reader: the digit as the best group of strokes on the paper, MNIST-framed."""
    _check_something_stands_out(ink, sigma, drawn)
    gray = None
    if not drawn:
        gray = _luma(arr[..., :3]) if arr.ndim == 3 else arr
    digit = isolate_digit(ink, sigma, drawn, gray)
    return _framed(_digit_ink_above_noise(ink, digit, sigma))


def _frame_candidate(image) -> np.ndarray | None:
    """The picture read as one digit that fills it (``digit_frame``), MNIST-framed; None when it
    does not look like one digit on paper."""
    try:
        found = frame_digit(_to_float_array(image, FRAME_WORK_SIDE))
        return _framed(_digit_ink_above_noise(found.ink, found.mask, found.noise))
    except ValueError:
        return None


def _framed(ink: np.ndarray) -> np.ndarray:
    """Cropped, thin strokes thickened, fitted to the 20×20 box, centred in 28×28 (as MNIST)."""
    crop = _crop_without_specks(ink)
    crop = _thicken_thin_strokes(crop)
    return _paste_centred(_fit_box(crop))


def _ink_at_work_size(image, drawing: bool | None) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """The picture as floats and its ink map, noise and kind; photos at ``PHOTO_WORK_SIDE``,
    drawings (as before) at ``WORK_SIDE``."""
    arr = _to_float_array(image, PHOTO_WORK_SIDE)
    ink, sigma, drawn = _ink_map(arr, drawing)
    if drawn and math.ceil(max(arr.shape[:2]) / WORK_SIDE) > 1:
        arr = _to_float_array(image, WORK_SIDE)
        ink, sigma, drawn = _ink_map(arr, drawing)
    return arr, ink, sigma, drawn


def _check_something_stands_out(ink: np.ndarray, sigma: float, drawn: bool) -> None:
    """Raise NoDigitError when the strongest ink is not well above the noise: blank, or all texture."""
    peak_raw = float(ink.max())
    if peak_raw < max(6.0 * sigma, 0.06):
        if not drawn and sigma > TEXTURED:
            raise NoDigitError("error.digit.texture", "texture")
        raise NoDigitError("error.digit.blank", "blank")


def _digit_ink_above_noise(ink: np.ndarray, digit: np.ndarray, sigma: float) -> np.ndarray:
    """The ink on and right next to the digit, its noise floor subtracted softly (anti-aliased
    edges survive) and scaled so the strokes' median strong ink is 1."""
    region = ndimage.binary_dilation(digit, iterations=2)
    ink = np.where(region, ink, 0.0).astype(np.float32)
    peak_raw = float(ink.max())
    floor = 3.0 * sigma
    strong = ink > 0.5 * peak_raw
    peak = max(float(np.median(ink[strong])), floor + 1e-3)
    return np.clip((ink - floor) / (peak - floor), 0.0, 1.0)


def _crop_without_specks(ink: np.ndarray) -> np.ndarray:
    """The ink cropped to the connected components that carry real mass (specks dropped)."""
    mask = ink > 0.25
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        raise Refusal("error.digit.too_faint")
    if n > 1:
        mass = ndimage.sum_labels(ink, labels, index=np.arange(1, n + 1))
        keep_ids = np.flatnonzero(mass >= 0.03 * mass.sum()) + 1
        mask = np.isin(labels, keep_ids)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    keep = ndimage.binary_dilation(mask[r0:r1, c0:c1], iterations=2)
    return np.where(keep, ink[r0:r1, c0:c1], 0.0).astype(np.float32)


def _thicken_thin_strokes(crop: np.ndarray) -> np.ndarray:
    """Thin pen strokes (a fine brush on a big canvas) would shrink to faint hairlines at 28x28:
    thicken them towards MNIST stroke width."""
    width_box = _stroke_width(crop > 0.5) * BOX / max(crop.shape)
    if width_box < MIN_STROKE:
        crop = _thicken(crop, width_box)
    return crop


def _fit_box(crop: np.ndarray) -> np.ndarray:
    """The crop resized to fit BOX x BOX, aspect ratio kept, antialiased."""
    h, w = crop.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    return _resize(crop, nh, nw)


def _paste_centred(small: np.ndarray) -> np.ndarray:
    """A FRAME x FRAME picture with ``small`` pasted so its centre of mass lands on (14, 14);
    ValueError when nothing is left of the ink."""
    nh, nw = small.shape
    total = float(small.sum())
    if total <= 1e-6:
        raise Refusal("error.digit.too_faint")
    com_r = float((small.sum(axis=1) * np.arange(nh)).sum() / total)
    com_c = float((small.sum(axis=0) * np.arange(nw)).sum() / total)
    top = int(np.clip(round(CENTRE - com_r), 0, FRAME - nh))
    left = int(np.clip(round(CENTRE - com_c), 0, FRAME - nw))
    out = np.zeros((FRAME, FRAME), dtype=np.float32)
    out[top:top + nh, left:left + nw] = small
    return out
