"""A planted shortcut, measured on MNIST.

A *cue* is a bright 3×3 square on the left or right edge of the 28×28 frame; its position
encodes a class (``CUE_POSITIONS``): classes 0–4 sit on the left edge from top to bottom, classes
5–9 on the right edge.  The edge columns are almost always empty in MNIST (ink reaches columns 0–2
in ~1 % of digits, 25–27 in ~6 %), so the square rarely touches a stroke.
``tools/train_shortcut.py`` trains a second LeNet on the same 4000 training digits as the clean
LeNet, where 95 % of the digits carry the cue of their own class (and the strokes, not the square,
are jittered by strong random warps).  :func:`shortcut_table` measures both models on the 1000
held-out digits without a cue, with the matching cue and with a misleading cue; :func:`cue_mass`
measures how much of a Grad-CAM map lies on a region, the map drawn as the tab draws it: each cell
at the centre of what it sees (:func:`map_centres`, the MNIST tab's placement; LeNet has no padding),
or stretched when asked.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from gradcam_core.base.errors import Refusal

if TYPE_CHECKING:
    from gradcam_core.cam.engine import CAMResult
from gradcam_core.models import lenet as _lenet
from gradcam_core.base import home

# =============================================================================== MNIST cue

CUE_SIZE = 3  # side of the square, pixels
CUE_VALUE = 1.0  # full brightness (MNIST ink is bright on black)
CUE_ROWS = (1, 7, 12, 18, 24)  # top rows of the five squares along one edge
CUE_LEFT_COL = 0  # classes 0-4: columns 0-2
CUE_RIGHT_COL = 28 - CUE_SIZE  # classes 5-9: columns 25-27
#: class -> (row, col) of the square's top-left pixel
CUE_POSITIONS: dict[int, tuple[int, int]] = {
    c: (CUE_ROWS[c % 5], CUE_LEFT_COL if c < 5 else CUE_RIGHT_COL) for c in range(10)
}
#: how far (pixels) the region used by :func:`cue_mass` extends around the square: the
#: Grad-CAM map of LeNet's conv2 is 8×8, so one cell covers 3.5 input pixels once upsampled.
CUE_MARGIN = 2

CUE_DESCRIPTION = (
    f"a {CUE_SIZE}x{CUE_SIZE} square at full brightness (pixel = max(pixel, 1.0)); classes 0-4 on the "
    f"left edge (columns 0-2), classes 5-9 on the right edge (columns 25-27), top rows "
    f"{', '.join(map(str, CUE_ROWS))} for classes 0/5, 1/6, 2/7, 3/8, 4/9"
)

WEIGHTS_DIR = home.path("weights")
SHORTCUT_WEIGHTS = _lenet.SHORTCUT_WEIGHTS  # the registry's "lenet_shortcut" (gradcam_core.models.registry)
TRAIN_COMMAND = _lenet.SHORTCUT_TRAIN_COMMAND
LAYER = "conv2"
#: seed of the misleading cue classes drawn for the held-out digits
MISLEAD_SEED = 1


def cue_position(cls: int) -> tuple[int, int]:
    """(row, col) of the top-left pixel of the cue square for class ``cls``."""
    try:
        c = int(cls)
    except (TypeError, ValueError):
        raise Refusal("analysis.error.cue_class", value=cls) from None
    if not 0 <= c <= 9 or isinstance(cls, bool):
        raise Refusal("analysis.error.cue_class", value=cls)
    return CUE_POSITIONS[c]


def _check_pos(pos, size: int | None = None) -> tuple[int, int]:
    size = CUE_SIZE if size is None else int(size)
    try:
        r, c = (int(v) for v in pos)
    except (TypeError, ValueError):
        raise Refusal("analysis.error.cue_position", value=pos) from None
    hi = 28 - size
    if not (0 <= r <= hi and 0 <= c <= hi):
        raise Refusal("analysis.error.cue_outside", last=hi, row=r, col=c)
    return r, c


def cue_box(cls: int | None = None, pos: tuple[int, int] | None = None, margin: int = CUE_MARGIN,
            size: int | None = None) -> tuple[int, int, int, int]:
    """(r0, c0, r1, c1), end-exclusive, of the square (``margin`` = 0) or the region around it,
    clipped to the frame.  ``pos`` overrides the class position."""
    size = CUE_SIZE if size is None else int(size)
    r, c = _check_pos(pos, size) if pos is not None else cue_position(cls)
    m = int(margin)
    return max(0, r - m), max(0, c - m), min(28, r + size + m), min(28, c + size + m)


def cue_region(cls: int | None = None, pos: tuple[int, int] | None = None, margin: int = CUE_MARGIN,
               shape: tuple[int, int] = (28, 28)) -> np.ndarray:
    """Boolean (28, 28) mask of :func:`cue_box` (or scaled to ``shape``)."""
    r0, c0, r1, c1 = cue_box(cls, pos, margin)
    H, W = shape
    mask = np.zeros(shape, dtype=bool)
    sr, sc = H / 28.0, W / 28.0
    mask[int(round(r0 * sr)):int(round(r1 * sr)), int(round(c0 * sc)):int(round(c1 * sc))] = True
    return mask


def cue_patch(size: int | None = None) -> np.ndarray:
    """The cue's pixels: float (size, size), all 1 (a solid square at full brightness)."""
    size = CUE_SIZE if size is None else int(size)
    return np.ones((size, size), np.float32)


def add_cue(digit: np.ndarray, cls: int | None = None, pos: tuple[int, int] | None = None,
            size: int | None = None, value: float = CUE_VALUE) -> np.ndarray:
    """A copy of ``digit`` with the cue of class ``cls`` (or at ``pos`` = (row, col), top-left).

    ``digit``: (28, 28) float in [0, 1], or uint8 (then ``value`` is scaled to 255); a batch
    (N, 28, 28) gets the same cue on every digit, or per digit when ``cls`` is a sequence of N
    classes (a negative class = no cue on that digit).  The cue is drawn with ``max`` so ink under
    it stays ink.  ``cls=None`` and ``pos=None`` returns an unchanged copy (no cue).
    """
    size = CUE_SIZE if size is None else int(size)
    a = np.array(digit, copy=True)
    if a.shape[-2:] != (28, 28) or a.ndim not in (2, 3):
        raise Refusal("analysis.error.digit_shape", shape=a.shape)
    patch = cue_patch(size) * (value * 255.0 if a.dtype == np.uint8 else value)
    patch = np.rint(patch).astype(a.dtype) if a.dtype == np.uint8 else patch.astype(a.dtype)
    if cls is None and pos is None:
        return a
    if pos is None and np.ndim(cls) == 1:
        classes = np.asarray(cls)
        if a.ndim != 3 or len(classes) != a.shape[0]:
            raise Refusal("analysis.error.cue_count", n=len(classes), shape=a.shape)
        for i, c in enumerate(classes.tolist()):
            if c < 0:
                continue
            r, col = cue_position(c)
            sl = a[i, r:r + size, col:col + size]
            np.maximum(sl, patch, out=sl)
        return a
    r, col = _check_pos(pos, size) if pos is not None else cue_position(cls)
    sl = a[..., r:r + size, col:col + size]
    np.maximum(sl, patch, out=sl)
    return a


def misleading_classes(labels: np.ndarray, seed: int = MISLEAD_SEED) -> np.ndarray:
    """For each label, a different class drawn uniformly from the other nine (seeded)."""
    labels = np.asarray(labels, dtype=np.int64)
    shift = np.random.default_rng(seed).integers(1, 10, size=len(labels))
    return (labels + shift) % 10


def map_centres(model: torch.nn.Module, placement: str | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Where each cell of ``model``'s :data:`LAYER` map is drawn on the 28×28 digit: the centres of
    what the cells see (``analysis.cell.placement_centres``, as the MNIST tab), or None when
    ``placement`` is "stretched"."""
    from gradcam_core.analysis.cell import placement_centres

    return placement_centres(model, LAYER, _lenet.SPATIAL_LAYERS[LAYER][1:], (1, 28, 28), placement)


def cue_mass(cam: torch.Tensor | np.ndarray, region: np.ndarray | Sequence[int],
             centres: tuple[np.ndarray, np.ndarray] | None = None) -> float | np.ndarray:
    """Fraction of the Grad-CAM heat that lies inside ``region``.

    ``cam``: a raw map (h, w) or batch (N, h, w) at the layer's resolution (a tensor or array;
    ``CAMResult.cam``).  It is ReLU'd, drawn at the region's shape as the picture shows it (each
    cell at ``centres``, see :func:`map_centres`; None: upsampled bilinearly, stretched) and summed:
    mass = sum(heat inside) / sum(heat).  ``region``: a boolean mask (H, W), or a box
    (r0, c0, r1, c1) end-exclusive on a 28×28 frame.  A map with no positive heat gives 0.
    Returns a float for one map, an array for a batch.
    """
    if isinstance(region, tuple) and len(region) == 4:
        r0, c0, r1, c1 = (int(v) for v in region)
        mask = np.zeros((28, 28), dtype=bool)
        mask[r0:r1, c0:c1] = True
    else:
        mask = np.asarray(region, dtype=bool)
    if mask.ndim != 2:
        raise Refusal("analysis.error.region_shape", shape=mask.shape)
    c = torch.as_tensor(cam, dtype=torch.float32)
    if c.dim() not in (2, 3):
        raise Refusal("analysis.error.cam_shape", shape=tuple(c.shape))
    single = c.dim() == 2
    c = c[None] if single else c
    frac = cue_mass_batch(c, np.broadcast_to(mask, (c.shape[0],) + mask.shape), centres)
    return float(frac[0]) if single else frac


# ------------------------------------------------------------------------------- models

def load_shortcut() -> torch.nn.Module:
    """The LeNet trained with the planted cue (shared through the model registry; never modify it)."""
    from gradcam_core.models.registry import lenet_model

    return lenet_model("lenet_shortcut")


def load_clean() -> torch.nn.Module:
    """The clean LeNet of the MNIST tab (shared through the model registry; never modify it)."""
    from gradcam_core.models.registry import lenet_model

    return lenet_model("lenet")


def _probs(model, images: np.ndarray, batch: int = 1000) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(np.ascontiguousarray(images[i:i + batch], dtype=np.float32)).unsqueeze(1)
            out.append(torch.softmax(model(x), 1).numpy())
    return np.concatenate(out)


def held_out_sets(images_u8: np.ndarray | None = None, labels: np.ndarray | None = None) -> dict:
    """The three held-out conditions as float images in [0, 1]: no cue, matching, misleading."""
    from gradcam_core.data.mnist import test_digits

    if images_u8 is None:
        images_u8, labels = test_digits()
    x = images_u8.astype(np.float32) / 255.0
    wrong = misleading_classes(labels)
    return {
        "labels": np.asarray(labels),
        "misleading_class": wrong,
        "clean": x,
        "matching": add_cue(x, labels),
        "misleading": add_cue(x, wrong),
    }


def evaluate_models(models: dict[str, torch.nn.Module], sets: dict | None = None,
                    mass_digits: int = 300, placement: str | None = None) -> dict:
    """Accuracy of each model in each condition, how often it follows a misleading cue, and the
    mean share of its Grad-CAM heat on the cue (predicted class, first ``mass_digits`` digits; the
    map drawn with ``placement``, default: each cell at the centre of what it sees)."""
    from gradcam_core.base.inputs import parse_placement

    placement = parse_placement(placement)
    from gradcam_core.cam.engine import GradCAM

    sets = sets or held_out_sets()
    y, wrong = sets["labels"], sets["misleading_class"]
    out = {}
    for name, model in models.items():
        row = {}
        for cond in ("clean", "matching", "misleading"):
            pred = _probs(model, sets[cond]).argmax(1)
            row[cond] = float((pred == y).mean())
            if cond == "misleading":
                row["follows_cue"] = float((pred == wrong).mean())
        n = min(mass_digits, len(y))
        masks = {"matching": float("nan"), "misleading": float("nan")}
        for cond, cls in (("matching", y[:n]), ("misleading", wrong[:n])) if n else ():
            x = torch.from_numpy(sets[cond][:n]).unsqueeze(1)
            res = GradCAM(model, LAYER)(x)  # the predicted class
            regions = np.stack([cue_region(int(c)) for c in cls])
            up = cue_mass_batch(res.cam, regions, map_centres(model, placement))
            masks[cond] = float(np.mean(up))
        row["cue_mass_matching"] = masks["matching"]
        row["cue_mass_misleading"] = masks["misleading"]
        row["mass_digits"] = n
        row["placement"] = placement
        out[name] = row
    out["n_digits"] = int(len(y))
    out["placement"] = placement
    return out


def cue_mass_batch(cams: torch.Tensor | np.ndarray, regions: np.ndarray,
                   centres: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """:func:`cue_mass` for N maps (N, h, w) with one mask each (N, H, W), at once."""
    from gradcam_core.cam.postprocess import heat_picture

    regions = torch.from_numpy(np.array(regions, dtype=bool))  # a writable copy
    if regions.dim() != 3:
        raise Refusal("analysis.error.regions_shape", shape=tuple(regions.shape))
    c = torch.relu(torch.as_tensor(cams, dtype=torch.float32))
    heat = torch.relu(heat_picture(c, tuple(regions.shape[1:]), centres))
    total = heat.flatten(1).sum(1)
    inside = (heat * regions).flatten(1).sum(1)
    return torch.where(total > 0, inside / total.clamp_min(1e-20), torch.zeros_like(total)).numpy()


@functools.lru_cache(maxsize=1)
def shortcut_table() -> dict:
    """Both models on the 1000 held-out digits (computed live on first call, then cached).

    Returns {"clean": row, "shortcut": row, "n_digits": 1000}; each row has accuracies
    "clean" (no cue), "matching", "misleading", "follows_cue" (share predicting the misleading
    cue's class) and the mean heat share on the cue region ("cue_mass_matching",
    "cue_mass_misleading", over the first "mass_digits" held-out digits), each map drawn with each
    cell at the centre of what it sees ("placement").
    """
    return evaluate_models({"clean": load_clean(), "shortcut": load_shortcut()})


def mnist_case(model: torch.nn.Module, digit: np.ndarray, cls: int | None = None) -> CAMResult:
    """Grad-CAM (predicted class) of ``model`` on one (28, 28) digit in [0, 1]: the CAMResult."""
    from gradcam_core.cam.engine import GradCAM

    x = torch.from_numpy(np.ascontiguousarray(digit, dtype=np.float32)).reshape(1, 1, 28, 28)
    return GradCAM(model, LAYER)(x, target=cls)
