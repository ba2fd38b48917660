"""How much of LeNet's Grad-CAM heat lies on the ink, compared with how much of the picture
the ink covers.  No gradio import.

Definitions (used for one digit and for the 1 000 held-out digits alike):

* **ink**: the pixels of the 28×28 digit (values in [0, 1], bright ink on black) with a value
  of at least ``INK_THRESHOLD`` = 0.5.  That is the one meaning of "ink" in the app ("What LeNet
  sees", the overlay, step 8, the README).
* **near the ink**: the ink dilated by ``DILATE_PX`` = 2 pixels: a pixel is near the ink when it
  lies within a Euclidean distance of 2 px of an ink pixel (a disk of radius 2, 13 pixels).  The
  margin accounts for the map's coarse resolution (one 8×8 cell covers 3.5 pixels).
* **heat**: the ReLU'd map of the method (``result.cam``) at 28×28 exactly as the overlay draws
  it (``centres``: each cell at the centre of what it sees, the MNIST tab's default; None:
  stretched), before any normalisation, which would not change a share.
* **heat near the ink** (``heat_on_ink``) = Σ heat over the pixels near the ink ÷ Σ heat over
  the picture; ``ink_area`` = pixels near the ink ÷ 784; ``ink_pixels`` = ink pixels ÷ 784.  A
  digit whose map is all zero has no share (``None``).

Over the test set, the per-digit shares are averaged over the digits whose map is not all
zero, each explained for its predicted class; the ink areas over all digits.
"""
from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy import ndimage

from gradcam_core.cam.postprocess import heat_picture
from gradcam_core.base.errors import Refusal

if TYPE_CHECKING:
    from gradcam_core.cam.engine import CAMResult

__all__ = ["INK_THRESHOLD", "DILATE_PX", "InkShare", "DatasetInkShare", "ink_mask", "heat_on_ink",
           "share_of_result", "dataset_share"]

INK_THRESHOLD = 0.5
DILATE_PX = 2
_DISK = (np.hypot(*np.mgrid[-DILATE_PX:DILATE_PX + 1, -DILATE_PX:DILATE_PX + 1]) <= DILATE_PX)


@dataclass(frozen=True)
class InkShare:
    """One digit: share of the heat on the ink (None: all-zero map) and the ink's area share."""

    heat_on_ink: float | None  # share of the heat near the ink
    ink_area: float  # share of the picture near the ink (within DILATE_PX of it)
    ink_pixels: float = float("nan")  # share of the picture that is ink (≥ INK_THRESHOLD)

    @property
    def ratio(self) -> float | None:
        """Heat per area on the ink relative to the picture: > 1 the heat favours the ink."""
        if self.heat_on_ink is None or self.ink_area == 0:
            return None
        return self.heat_on_ink / self.ink_area


@dataclass(frozen=True)
class DatasetInkShare:
    """The held-out digits: mean heat-on-ink share, mean ink area, how many digits counted."""

    layer: str
    heat_on_ink: float  # mean over digits with a non-zero map
    ink_area: float  # mean over all digits
    n_digits: int  # all digits
    n_counted: int  # digits with a non-zero map
    n_below_ink_area: int  # counted digits whose heat on ink is below their ink area
    n_under_5pct: int  # counted digits with under 5 % of their heat on the ink


def ink_mask(digit: np.ndarray) -> np.ndarray:
    """Boolean (28, 28): ink (≥ 0.5) dilated by 2 px (disk of radius 2)."""
    d = np.asarray(digit, dtype=np.float32)
    if d.dtype == np.uint8 or d.max() > 1.0:
        d = d / 255.0
    ink = d >= INK_THRESHOLD
    if not ink.any():
        return ink
    return ndimage.binary_dilation(ink, structure=_DISK)


def heat_on_ink(heat: np.ndarray, digit: np.ndarray) -> InkShare:
    """Share of ``heat`` (non-negative, the digit's size) on the dilated ink, and the ink's area."""
    heat = np.asarray(heat, dtype=np.float64)
    mask = ink_mask(digit)
    if heat.shape != mask.shape:
        raise Refusal("analysis.error.heat_digit_sizes", heat=heat.shape, digit=mask.shape)
    total = float(heat.sum())
    area = float(mask.mean())
    d = np.asarray(digit, dtype=np.float32)
    pixels = float(((d / 255.0 if d.max() > 1.0 else d) >= INK_THRESHOLD).mean())
    if total <= 0:
        return InkShare(None, area, pixels)
    return InkShare(float(heat[mask].sum()) / total, area, pixels)


def share_of_result(result: CAMResult, digit: np.ndarray, index: int = 0,
                    centres: tuple[np.ndarray, np.ndarray] | None = None) -> InkShare:
    """:func:`heat_on_ink` for sample ``index`` of a CAMResult on a 28×28 digit, the heat drawn
    at ``centres`` (None: stretched)."""
    heat = heat_picture(result.cam[index], result.input_size, centres).numpy()
    return heat_on_ink(heat, digit)


_ds_lock = threading.Lock()


@functools.lru_cache(maxsize=8)
def _dataset_share(layer: str, method: str, placement: str) -> DatasetInkShare:
    from gradcam_core.cam.methods import make_cam
    from gradcam_core.models.registry import lenet_model
    from gradcam_core.data.mnist import test_digits

    images, _ = test_digits()
    x = torch.from_numpy(images.astype(np.float32) / 255.0)[:, None]
    net = lenet_model()
    result = make_cam(method, net, layer)(x)  # each digit's predicted class
    from gradcam_core.analysis.cell import placement_centres

    centres = placement_centres(net, layer, tuple(result.cam.shape[-2:]), (1, 28, 28), placement)
    heats = heat_picture(result.cam, result.input_size, centres).numpy()
    shares = [heat_on_ink(h, d) for h, d in zip(heats, images)]
    counted = [s for s in shares if s.heat_on_ink is not None]
    return DatasetInkShare(
        layer=layer,
        heat_on_ink=float(np.mean([s.heat_on_ink for s in counted])) if counted else float("nan"),
        ink_area=float(np.mean([s.ink_area for s in shares])),
        n_digits=len(shares),
        n_counted=len(counted),
        n_below_ink_area=sum(s.heat_on_ink < s.ink_area for s in counted),
        n_under_5pct=sum(s.heat_on_ink < 0.05 for s in counted),
    )


def dataset_share(layer: str = "relu2", method: str = "Grad-CAM", placement: str = "receptive field") -> DatasetInkShare:
    """The held-out digits' figures for ``layer``, the heat drawn with ``placement`` (see
    ``analysis.cell.PLACEMENTS``; computed once per process, then cached)."""
    with _ds_lock:
        return _dataset_share(str(layer), str(method), str(placement))
