"""The trust and cell panels' model runs on an ImageNet photo: the randomisation cascade, deletion
and insertion, and one cell of an explanation covered. The photo and its settings are parsed as
the ImageNet service parses them (:mod:`gradcam_core.services.imagenet`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from gradcam_core.base import inputs
from gradcam_core.analysis import cell, sanity
from gradcam_core.cam.engine import GradCAM
from gradcam_core.base.errors import Refusal
from gradcam_core.models.registry import ModelSpec, ModelUnavailableError
from gradcam_core.services.imagenet import Explanation, check_layer, get_spec, layout, load_photo, parse_class


def inspect_cell(expl: Explanation, row: Any, col: Any, view: int = 0, baseline: str = "blur"
                 ) -> tuple[Any, Any]:
    """(terms, occlusion) of cell (row, col) of class ``view`` of an explanation: the cell's share
    of the map, and what covering it with ``baseline`` does to the class score."""
    v = expl.views[view]
    ct = cell.cell_terms(v.result, row, col)
    spec = get_spec(expl.model_key)
    x = cell.model_input(spec, expl.image)
    occ = cell.occlude(spec.load(), x, v.target, ct.row, ct.col, ct.grid, baseline=baseline, layer=expl.layer,
                       layout=layout(spec, expl.layer))  # on a token grid the cell is one patch token
    return ct, occ


@dataclass(frozen=True)
class CheckInput:
    """A photo and settings for the trust checks, parsed once: the model, its input and the picture."""

    spec: ModelSpec
    model: torch.nn.Module
    layer: str
    x: torch.Tensor
    picture: np.ndarray
    target: int | None


def check_input(image: Any, model_value: Any, layer_value: Any, target_value: Any) -> CheckInput:
    spec = get_spec(model_value)
    ok, why = spec.availability()
    if not ok:
        raise Refusal("service.imagenet.unavailable_here", title=spec.title, why=why)
    try:
        net = spec.load()
    except ModelUnavailableError as exc:
        raise ValueError(str(exc)) from None
    pil = load_photo(inputs.photo_source(image))
    return CheckInput(spec, net, check_layer(spec, layer_value), spec.preprocess(pil),
                      np.asarray(spec.display_image(pil)), parse_class(target_value))


def cascade(image: Any, model_value: Any, layer_value: Any, target_value: Any, seed: int = 0,
            progress: Callable | None = None) -> tuple[Any, np.ndarray]:
    """The model-randomisation cascade on a photo: (cascade, the picture the model saw)."""
    c = check_input(image, model_value, layer_value, target_value)
    if layout(c.spec, c.layer) != "cnn":  # the cascade's maps (and its guided backprop) read CNN layers only
        raise Refusal("transformer.refusal.cascade", title=c.spec.title, layer=c.layer)
    return sanity.cascade(c.model, c.layer, c.x, c.target, seed=int(seed), progress=progress), c.picture


def curves(image: Any, model_value: Any, layer_value: Any, target_value: Any, baseline: str, steps: int,
           progress: Callable | None = None) -> tuple[Any, str]:
    """Deletion/insertion on a photo (``baseline`` and ``steps`` already checked): (curves, class name)."""
    c = check_input(image, model_value, layer_value, target_value)
    shape = layout(c.spec, c.layer)
    res = (GradCAM(c.model, c.layer) if shape == "cnn" else GradCAM(c.model, c.layer, layout=shape))(c.x, c.target)
    out = sanity.deletion_insertion(c.model, c.x, res.targets, res.upsampled()[0].numpy(), steps=steps,
                                    baseline=baseline, logits=res.logits, progress=progress)
    return out, c.spec.categories[out.target]
