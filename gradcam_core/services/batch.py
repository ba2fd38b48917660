"""Explaining many image files with one model, batch-wise: the command line's service.

:func:`runner` gives a :class:`Runner` for an ImageNet model or LeNet (``"lenet"``): it reads a file
into the model's input (a digit photo through :func:`services.mnist.digit_of_photo`, the one place
that reads one), resolves a layer, runs a CAM method on a batch and draws one sample's map at the
input's size. ``cli.py`` only parses options, writes files and prints."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from gradcam_core.base.errors import Refusal, Term
from gradcam_core.base import inputs
from gradcam_core.analysis import cell as cell_analysis
from gradcam_core.cam.engine import CAMResult
from gradcam_core.cam.methods import METHODS, make_cam
from gradcam_core.cam.postprocess import heat_picture, normalize
from gradcam_core.data.images import ImageError, load_image, readable_extensions
from gradcam_core.data.mnist import FRAME, to_tensor
from gradcam_core.models import lenet
from gradcam_core.models.registry import REGISTRY, ModelUnavailableError, default_model_key, get_model
from gradcam_core.services import mnist as mnist_svc
from gradcam_core.services.imagenet import layer_label

LENET_KEY = "lenet"
#: the file name extensions read from folders
IMAGE_EXTENSIONS: list[str] = readable_extensions()
#: masked forwards per batch inside Score-CAM (its own meaning of "batch")
SCORECAM_BATCH = 32


class Unavailable(Exception):
    """A model that cannot run here: ``key``, ``title`` and ``why`` (the CLI words it)."""

    def __init__(self, key: str, title: str, why: str) -> None:
        super().__init__(key, title, why)
        self.key, self.title, self.why = key, title, why


class NoDigit(Exception):
    """LeNet found no digit in a file; ``cause``: the reader's refusal."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(cause)
        self.cause = cause


class UnknownModel(Exception):
    """No model has this key; ``choices``: the keys there are."""

    def __init__(self, key: str, choices: list[str]) -> None:
        super().__init__(key, choices)
        self.key, self.choices = key, choices


def model_keys() -> list[str]:
    return list(REGISTRY) + [LENET_KEY]


def default_key() -> str:
    return default_model_key()


def method_key(name: Any) -> str:
    """The METHODS key for a name given loosely ('gradcam++', 'Score-CAM', 'eigencam')."""
    return inputs.parse_method(name, list(METHODS))


def is_bad_input(exc: BaseException) -> bool:
    """An error that is the input's fault (said as it is), not the program's."""
    return isinstance(exc, (ImageError, ValueError, OSError, NoDigit))


@dataclass
class Runner:
    """What explaining files needs from a model, ImageNet or LeNet alike."""

    key: str
    title: str
    model: torch.nn.Module = field(repr=False)  # shared, never modified
    categories: list[str]
    layers: list[str]  # the layers worth suggesting
    default_layer: str
    input_shape: tuple[int, int, int]  # (C, H, W)
    dataset: str = "ImageNet"  # names the class list in messages
    _prepare: Callable[[Path], tuple[torch.Tensor, np.ndarray]] = field(default=None, repr=False)
    _centres: dict = field(default_factory=dict, repr=False)

    def prepare(self, path: Path) -> tuple[torch.Tensor, np.ndarray]:
        """A file → (the model's input (1, C, H, W), the picture it saw (uint8))."""
        return self._prepare(path)

    def resolve_layer(self, name: Any) -> str:
        """The registry's layer parser, as in the app's tabs (ImageNet: also the picker's labels)."""
        spec = get_model(self.key)
        if self.key == LENET_KEY:
            return spec.resolve_layer(name)
        return spec.resolve_layer(name, lambda n: (layer_label(spec, n),))

    def parse_target(self, value: Any) -> int | None:
        """None for 'auto' (each image's predicted class), else a class index."""
        return inputs.parse_target(value, self.categories, self.dataset)

    def layout(self, layer: str) -> str:
        """How ``layer``'s output becomes maps (the registry's; "cnn" for LeNet): issue 29's token grids."""
        of = getattr(get_model(self.key), "layout_of", None)
        return str(of(layer)) if of is not None else "cnn"

    def check_method(self, method: str) -> str:
        """``method``, or a Refusal with the registry's reason when the model does not offer it
        (``ModelSpec.methods_excluded``: Guided Grad-CAM on a GELU network)."""
        why = (getattr(get_model(self.key), "methods_excluded", None) or {}).get(method)
        if why:
            raise Refusal("transformer.refusal.method_excluded", method=method, title=self.title, why=Term(why))
        return method

    def cam(self, method: str, layer: str) -> Callable[..., CAMResult]:
        self.check_method(method)
        shape = self.layout(layer)
        extra = {} if shape == "cnn" else {"layout": shape}
        return make_cam(method, self.model, layer, batch_size=SCORECAM_BATCH, **extra)

    def heat(self, result: CAMResult, i: int, placement: str, norm: str) -> np.ndarray:
        """Sample ``i``'s map at the input's size, normalised to [0, 1]: each cell at the centre of
        what it sees (``placement`` "receptive field", measured once per layer) or stretched."""
        centres = None  # a token grid is drawn stretched: each patch token exactly on the patch it was cut from
        if placement != "stretched" and getattr(result, "layout", "cnn") == "cnn":
            key = (result.layer, tuple(result.cam.shape[-2:]))
            if key not in self._centres:
                self._centres[key] = cell_analysis.placement_centres(self.model, result.layer, key[1],
                                                                     self.input_shape, placement)
            centres = self._centres[key]
        heat = normalize(heat_picture(result.cam[i], result.input_size, centres), norm).numpy()
        return np.clip(np.nan_to_num(heat, nan=0.0), 0.0, 1.0)


def runner(key: str) -> Runner:
    """The runner of model ``key``: :class:`UnknownModel`, :class:`Unavailable` when it cannot run."""
    if key == LENET_KEY:
        return _lenet_runner()
    if key not in REGISTRY:
        raise UnknownModel(key, model_keys())
    spec = get_model(key)
    ok, why = spec.availability()
    if not ok:
        raise Unavailable(key, spec.title, why)
    try:
        model = spec.load()
    except ModelUnavailableError as e:
        raise Unavailable(key, spec.title, str(e)) from None

    def prepare(path: Path):
        img = load_image(path)
        return spec.preprocess(img), np.asarray(spec.display_image(img))

    h, w = spec.input_size
    return Runner(key, spec.title, model, list(spec.categories), spec.layer_names, spec.default_layer, (3, h, w),
                  _prepare=prepare)


def _lenet_runner() -> Runner:
    try:
        model = mnist_svc.model()
    except FileNotFoundError as e:
        raise Unavailable(LENET_KEY, str(Term("cli.explain.lenet_title")), str(e)) from None

    def prepare(path: Path):
        img = load_image(path, max_side=mnist_svc.PHOTO_SIDE)
        try:
            digit = mnist_svc.digit_of_photo(img)
        except ValueError as e:
            raise NoDigit(e) from None
        return to_tensor(digit), (np.clip(digit, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

    return Runner(LENET_KEY, str(Term("cli.explain.lenet_title")), model, list(lenet.CLASSES), list(lenet.SPATIAL_LAYERS),
                  lenet.DEFAULT_LAYER, (1, FRAME, FRAME), dataset="MNIST", _prepare=prepare)


def model_rows() -> list[dict]:
    """Every model with its availability (or why not) and its layers, LeNet last: {"key", "title",
    "available", "status", "layers", "default_layer", "default", "lenet_missing"}."""
    default = default_model_key()
    rows = []
    for key, spec in REGISTRY.items():
        ok, status = spec.availability()
        rows.append({"key": key, "title": spec.title, "available": ok, "status": status, "layers": spec.layer_names,
                     "default_layer": spec.default_layer, "default": key == default})
    ok = lenet.DEFAULT_WEIGHTS.is_file()
    rows.append({"key": LENET_KEY, "title": None, "available": ok, "status": None, "layers": None,
                 "default_layer": lenet.DEFAULT_LAYER, "default": False,
                 "weights": str(lenet.DEFAULT_WEIGHTS), "train": lenet.TRAIN_COMMAND})
    return rows
