"""The MNIST digits service: one digit (a held-out index, a drawing, a photo, the part of a photo
inside a box, or the session's current digit) with its settings (target, channel, layer, colour
map, placement) is parsed once, run through LeNet and the Grad-CAM engine, and comes back as a raw
:class:`DigitResult` (numbers, codes, arrays; no words, no pictures).

This is the one place where a digit photo becomes LeNet's 28×28 input (:func:`digit_of_photo`),
for the tab, the CLI and the API; the trust and cell panels get their model runs here too
(:func:`cascade`, :func:`curves`, :func:`inspect_cell`). ``present/mnist_view.py`` turns a result
into what the tab shows; ``ui/mnist_tab.py`` only places it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from gradcam_core.base import inputs
from gradcam_core.analysis import cell as cell_analysis
from gradcam_core.analysis import sanity
from gradcam_core.analysis.ink_share import DatasetInkShare, InkShare, dataset_share, share_of_result
from gradcam_core.cam.engine import CAMResult, GradCAM
from gradcam_core.data.deeplink import decode_digit, encode_digit, query_string
from gradcam_core.data.images import load_image, shown_size
from gradcam_core.data.mnist import FRAME, NoDigitError, preprocess_digit, test_digits, to_tensor
from gradcam_core.base.errors import Refusal
from gradcam_core.models import lenet
from gradcam_core.models.registry import get_model, lenet_model

CLASSES: list[str] = list(lenet.CLASSES)
DEFAULT_LAYER: str = lenet.DEFAULT_LAYER  # relu2: the rectified maps, the Grad-CAM convention
CHANNELS = 16  # relu2's maps: the channel picker's range
PAGE = 50  # held-out digits per page of the grid
#: a photo is read at most this large (its longer side, pixels), uploaded whole or cut by a box
PHOTO_SIDE = 1024
#: a box is cut from the photo decoded at most this large (its longer side, pixels), the box scaled
#: to it: 1.5× the reader's own PHOTO_SIDE, so the part keeps more detail than the whole upload had.
#: Decoded whole, a 49-megapixel JPEG took 374 MB more peak memory than its upload (34 MB); at 1536
#: the JPEG decoder's own reduction applies and a box takes +43 MB (a 12-megapixel photo: +39 MB,
#: its upload +32 MB; measured in one process each, 2026-12-07)
CUT_SIDE = 1536
#: what a covered cell becomes in the cell panel (the trust panel's default baseline on MNIST)
CELL_BASELINE = "zero"
DEFAULT_CMAP = inputs.parse_cmap(None)

Progress = Callable[[float, str], None] | None


class PhotoRefused(Refusal):
    """The reader found no digit in a photo (or in the part inside a box)."""


# --------------------------------------------------------------------------- what comes back
@dataclass(frozen=True)
class Source:
    """Where the digit came from, as a code and numbers: "index" (``index``, ``label``), "drawing",
    "upload", "box" (``box``), "current" (the session's digit), "link" (a shared link)."""

    kind: str
    index: int | None = None
    label: int | None = None
    box: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class Settings:
    """One request's parsed settings; the ``*_choice`` fields are what the person chose (the link
    and the pickers show them), the others what the engine runs."""

    target: int | None
    target_choice: str
    channel: int | None
    channel_choice: str
    layer: str
    cmap: str
    placement: str


@dataclass(frozen=True)
class DigitResult:
    """One explained digit: the input, the engine's result, where its cells are drawn and how much
    of its heat lies on the ink (this digit and the held-out digits, for the same layer and placement)."""

    digit: np.ndarray  # 28×28 in [0, 1]
    result: CAMResult
    settings: Settings
    source: Source
    centres: Any  # analysis.cell.placement_centres (None: stretched)
    share: InkShare
    dataset: DatasetInkShare
    link: str  # the query string that reopens this exact result

    @property
    def explained(self) -> dict:
        """What a tapped cell re-reads: {"target", "layer", "placement"} (kept in the session)."""
        return {"target": int(self.result.targets[0]), "layer": self.settings.layer,
                "placement": self.settings.placement}


# --------------------------------------------------------------------------- the model and the digits
def model() -> torch.nn.Module:
    """The shared LeNet of the model registry, loaded once per process (never modified: the engine
    restores every flag). FileNotFoundError, naming the training command, when its weights are missing."""
    return lenet_model()


def ready() -> tuple[bool, str]:
    """(True, "") when LeNet's weights load, else (False, why)."""
    return loads(model)


def loads(load: Callable[[], Any]) -> tuple[bool, str]:
    """(True, "") when ``load()`` finds its weights, else (False, why): a tab says why it cannot run."""
    try:
        load()
    except FileNotFoundError as exc:
        return False, str(exc)
    return True, ""


def n_digits() -> int:
    return len(test_digits()[1])


def n_pages() -> int:
    return (n_digits() + PAGE - 1) // PAGE


def page_of_digits(page: int) -> list[tuple[int, np.ndarray, int]]:
    """(index, 28×28 uint8 image, label) of held-out digits ``page``*50 … ``page``*50+49."""
    images, labels = test_digits()
    start = page * PAGE
    return [(i, images[i], int(labels[i])) for i in range(start, min(start + PAGE, len(labels)))]


def parse_page(page: Any) -> int:
    """A page number of the grid (1-based, as the slider) → its 0-based index."""
    try:
        p = int(page) - 1
    except (TypeError, ValueError, OverflowError):
        raise Refusal("service.mnist.page_number") from None
    if not 0 <= p < n_pages():
        raise Refusal("service.mnist.page_range", pages=n_pages())
    return p


def parse_index(index: Any) -> int:
    """A held-out digit's index: a whole number from 0 to n_digits() - 1."""
    if index is None or index == "":
        raise Refusal("service.mnist.no_index")
    try:
        i = int(float(index))
    except (TypeError, ValueError, OverflowError):
        raise Refusal("service.mnist.index_number", value=index) from None
    n = n_digits()
    if not 0 <= i < n:
        raise Refusal("service.mnist.index_range", n=n, last=n - 1)
    return i


def held_out(index: Any) -> tuple[np.ndarray, Source]:
    """Held-out digit ``index`` in [0, 1] and its source (with its true label)."""
    i = parse_index(index)
    images, labels = test_digits()
    return images[i].astype(np.float32) / 255.0, Source("index", index=i, label=int(labels[i]))


# --------------------------------------------------------------------------- parsing, once
def parse_settings(target_choice: Any = "predicted", channel: Any = None, layer: Any = None, cmap: Any = None,
                   placement: Any = None) -> Settings:
    """Every setting of one request, parsed by the one parser of each (``gradcam_core.base.inputs``, the
    registry's layer parser): the same values are accepted and refused as on the command line."""
    layer = get_model("lenet").resolve_layer(layer)
    cmap = inputs.parse_cmap(cmap)
    placement = inputs.parse_placement(placement)
    target = inputs.parse_target(target_choice, CLASSES, "MNIST")
    ch = None if channel in (None, "", -1, "strongest") else int(channel)
    return Settings(target=target, target_choice=target_choice or "predicted", channel=ch,
                    channel_choice=channel if channel not in (None, "") else "strongest",
                    layer=layer, cmap=cmap, placement=placement)


def as_digit(digit: Any, missing: str = "service.mnist.no_digit") -> np.ndarray:
    """The session's current digit (28×28 in [0, 1]); ``missing``: the refusal when there is none."""
    if digit is None:
        raise Refusal(missing)
    d = np.asarray(digit, dtype=np.float32)
    if d.shape != (FRAME, FRAME):
        raise Refusal("service.mnist.digit_shape", shape=d.shape)
    return d


# --------------------------------------------------------------------------- inputs → digit
def digit_of_photo(img: Image.Image, net: torch.nn.Module | None = None) -> np.ndarray:
    """A photo or drawing (PIL) → the centred 28×28 digit in [0, 1]. Where the photo can be read two
    ways (one mark on a sheet, or a digit filling the picture), the clean LeNet's confidence chooses
    (``data.mnist.preprocess_digit``). The one place where a digit photo becomes a digit: the tab,
    the CLI and the API. :class:`PhotoRefused` when there is none."""
    try:
        return preprocess_digit(np.asarray(img), score=lenet.top_probability(net if net is not None else model()))
    except NoDigitError as exc:  # "No digit found: …" says it already
        raise PhotoRefused(exc.key, **exc.values) from None
    except Refusal as exc:  # other refusals ("No ink found: …") get the context, as they always did
        raise PhotoRefused("service.mnist.photo_unread", message=exc) from None
    except ValueError as exc:
        msg = str(exc)
        if msg.startswith("No digit found"):
            raise PhotoRefused("service.mnist.said", message=msg) from None
        raise PhotoRefused("service.mnist.photo_unread", message=msg) from None


def digit_of_drawing(sketch: Any) -> np.ndarray:
    """The canvas (a dict with "composite", an array, or a file path) → the 28×28 digit; a drawing
    is read as a drawing, even edge to edge."""
    image = sketch.get("composite") if isinstance(sketch, dict) else sketch
    if image is None:
        raise Refusal("service.mnist.empty_canvas")
    if isinstance(image, str):  # Gradio could not decode it: our loader says why
        image = load_image(image, max_side=1024)
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 4 and image[..., 3].max() == 0:
        raise Refusal("service.mnist.empty_canvas")
    try:
        return preprocess_digit(image, drawing=True)
    except ValueError as exc:
        raise Refusal("service.mnist.drawing_unread", message=str(exc)) from None


def photo(path: Any) -> Image.Image:
    """An uploaded photo, decoded at most PHOTO_SIDE on its longer side."""
    if path is None:
        raise Refusal("service.mnist.no_photo")
    return load_image(path, max_side=PHOTO_SIDE)


def photo_box(path: Any, box: Any) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """The part of the photo inside ``box`` ("x0, y0, x1, y1" in the photo's own pixels, as shown:
    EXIF-rotated), and the parsed box."""
    if path is None:
        raise Refusal("service.mnist.no_photo_box")
    whole = load_image(path, max_side=CUT_SIDE)
    width, height = shown_size(path)
    x0, y0, x1, y1 = inputs.parse_box(box, width, height)
    kx, ky = whole.width / width, whole.height / height  # 1 unless the photo is larger than CUT_SIDE
    cut = (int(np.floor(x0 * kx)), int(np.floor(y0 * ky)), int(np.ceil(x1 * kx)), int(np.ceil(y1 * ky)))
    return load_image(whole.crop(cut), max_side=PHOTO_SIDE), (x0, y0, x1, y1)


def digit_of_link(text: Any) -> np.ndarray:
    """A shared link's digit ("d=…") → 28×28 in [0, 1]; ValueError when the link is damaged."""
    return decode_digit(text)


def link_of(digit: np.ndarray, s: Settings) -> str:
    """The query string that reopens this digit with these settings (defaults left out)."""
    return query_string(tab="mnist", d=encode_digit(digit), target=s.target_choice, channel=s.channel_choice,
                        layer=s.layer, cmap=None if s.cmap == DEFAULT_CMAP else s.cmap,
                        placement=None if s.placement == inputs.DEFAULT_PLACEMENT else s.placement)


# --------------------------------------------------------------------------- run
# One request crosses each lower module once: the model and the layer first (models), then the
# settings (inputs), then the digit (data), the engine, the analysis, the link
# (tools/trace_request.py shows the order).
def _prepared(target_choice: Any, channel: Any, layer: Any, cmap: Any, placement: Any
              ) -> tuple[torch.nn.Module, Settings]:
    net = model()
    return net, parse_settings(target_choice, channel, layer, cmap, placement)


def run(digit: np.ndarray, settings: Settings, source: Source, net: torch.nn.Module | None = None) -> DigitResult:
    """Grad-CAM on one digit with parsed settings: the engine's result, where its cells are drawn,
    and its heat on the ink next to the held-out digits'."""
    net = model() if net is None else net
    x = to_tensor(digit)
    result = GradCAM(net, settings.layer)(x, target=settings.target)
    centres = cell_analysis.placement_centres(net, settings.layer, tuple(result.cam.shape[-2:]), (1, FRAME, FRAME),
                                              settings.placement)
    share = share_of_result(result, digit, centres=centres)
    ds = dataset_share(settings.layer, placement=settings.placement)
    return DigitResult(digit=digit, result=result, settings=settings, source=source, centres=centres,
                       share=share, dataset=ds, link=link_of(digit, settings))


def explain_index(index: Any, target_choice: Any = "predicted", channel: Any = None, layer: Any = None,
                  cmap: Any = None, placement: Any = None) -> DigitResult:
    net, settings = _prepared(target_choice, channel, layer, cmap, placement)
    digit, source = held_out(index)
    return run(digit, settings, source, net)


def explain_drawing(sketch: Any, target_choice: Any = "predicted", channel: Any = None, layer: Any = None,
                    cmap: Any = None, placement: Any = None) -> DigitResult:
    if sketch is None:
        raise Refusal("service.mnist.empty_canvas")
    net, settings = _prepared(target_choice, channel, layer, cmap, placement)
    return run(digit_of_drawing(sketch), settings, Source("drawing"), net)


def explain_upload(path: Any, target_choice: Any = "predicted", channel: Any = None, layer: Any = None,
                   cmap: Any = None, placement: Any = None) -> DigitResult:
    """A whole photo; :class:`PhotoRefused` when no digit is found in it."""
    img = photo(path)
    net, settings = _prepared(target_choice, channel, layer, cmap, placement)
    return run(digit_of_photo(img, net), settings, Source("upload"), net)


def explain_crop(path: Any, box: Any, target_choice: Any = "predicted", channel: Any = None, layer: Any = None,
                 cmap: Any = None, placement: Any = None) -> DigitResult:
    """The part of a photo inside ``box``, read as an upload of that part is read."""
    part, parsed = photo_box(path, box)
    net, settings = _prepared(target_choice, channel, layer, cmap, placement)
    return run(digit_of_photo(part, net), settings, Source("box", box=parsed), net)


def explain_digit(digit: Any, target_choice: Any = "predicted", channel: Any = None, layer: Any = None,
                  cmap: Any = None, placement: Any = None, source: str = "current") -> DigitResult:
    """The session's current digit (or a shared link's) with new settings."""
    d = as_digit(digit, "service.mnist.no_current")
    net, settings = _prepared(target_choice, channel, layer, cmap, placement)
    return run(d, settings, Source(source), net)


@functools.lru_cache(maxsize=1)
def first() -> DigitResult:
    """Held-out digit #0, predicted class, strongest channel, default layer: what every visitor sees first."""
    return explain_index(0, "predicted", "strongest", DEFAULT_LAYER)


# --------------------------------------------------------------------------- the panels' model runs
def parse_trust_target(choice: Any) -> int | None:
    return inputs.parse_target(choice, CLASSES, "MNIST")


def cascade(digit: Any, target_choice: Any = "predicted", seed: int = 0,
            progress: Progress = None) -> tuple[sanity.Cascade, np.ndarray]:
    """The model-randomisation cascade on the current digit: (cascade, the digit)."""
    d = as_digit(digit)
    target = parse_trust_target(target_choice)
    return sanity.cascade(model(), DEFAULT_LAYER, to_tensor(d), target, seed=int(seed), progress=progress), d


@dataclass(frozen=True)
class CurvesRun:
    """Deletion/insertion on one digit, with the settings it ran with."""

    curves: sanity.Curves
    layer: str
    placement: str
    predicted: bool  # the target is the predicted class


def curves(digit: Any, target_choice: Any = "predicted", baseline: str = "zero", steps: int = 20,
           placement: Any = None, progress: Progress = None) -> CurvesRun:
    """Deletion/insertion on the current digit, the pixels ranked by the map as drawn with ``placement``
    (``baseline`` and ``steps`` already checked by the panel)."""
    d = as_digit(digit)
    target = parse_trust_target(target_choice)
    placement = inputs.parse_placement(placement)
    net, layer = model(), DEFAULT_LAYER
    x = to_tensor(d)
    res = GradCAM(net, layer)(x, target)
    out = sanity.deletion_insertion(net, x, res.targets, cell_analysis.drawn_heat(net, layer, res, 0, placement),
                                    steps=steps, baseline=baseline, logits=res.logits, progress=progress)
    return CurvesRun(out, layer, placement, int(res.logits[0].argmax()) == out.target)


@dataclass(frozen=True)
class CellRun:
    """One cell of the session's last explanation: its terms, what covering it does, and the result."""

    terms: cell_analysis.CellTerms
    occlusion: cell_analysis.Occlusion
    result: CAMResult
    name: str  # the target class's name


def explained_result(digit: Any, explained: Any) -> tuple[torch.Tensor, CAMResult]:
    """(LeNet's input, the CAM result) of the session's last explanation: ``digit`` (28×28 in
    [0, 1]) and ``explained`` = {"target", "layer"} (the tab keeps both)."""
    if digit is None or not isinstance(explained, dict):
        raise Refusal("service.mnist.no_cell_digit")
    d = np.asarray(digit, dtype=np.float32)
    if d.shape != (FRAME, FRAME):
        raise Refusal("service.mnist.no_cell_digit")
    x = to_tensor(d)
    return x, GradCAM(model(), explained["layer"])(x, int(explained["target"]))


def inspect_cell(digit: Any, explained: Any, row: Any, col: Any,
                 given: tuple[torch.Tensor, CAMResult] | None = None) -> CellRun:
    """Cell (row, col) of the session's last explanation (``given``: its input and result, already run)."""
    x, res = explained_result(digit, explained) if given is None else given
    ct = cell_analysis.cell_terms(res, row, col)
    occ = cell_analysis.occlude(model(), x, ct.target, ct.row, ct.col, ct.grid, baseline=CELL_BASELINE,
                                layer=res.layer)
    return CellRun(ct, occ, res, CLASSES[ct.target])


def cell_at(given: tuple[torch.Tensor, CAMResult], placement: Any, x: Any, y: Any, box: tuple, placed: bool
            ) -> tuple[int, int]:
    """The (row, col) under a tap at (x, y) of a picture whose map fills ``box``: steps 5 and 6 draw
    the map as blocks; the overlay (``placed``) draws each cell where the explanation placed it (at
    the centre of what it sees, the default, or stretched), and a tap there hits the cell drawn there."""
    x_in, res = given
    grid = tuple(res.weighted.shape[-2:])
    if placed and inputs.parse_placement(placement) != "stretched":
        centres = cell_analysis.cell_centres(model(), res.layer, grid, tuple(x_in.shape[1:]))
        return cell_analysis.cell_of_pixel(x, y, box, grid, centres=centres, size=tuple(x_in.shape[-2:]))
    return cell_analysis.cell_of_pixel(x, y, box, grid)


def tapped_cell(digit: Any, explained: Any, x: Any, y: Any, box: tuple, placed: bool) -> CellRun:
    """The cell under a tap on a picture of the session's last explanation, inspected."""
    given = explained_result(digit, explained)
    r, c = cell_at(given, (explained or {}).get("placement"), x, y, box, placed)
    return inspect_cell(digit, explained, r, c, given=given)
