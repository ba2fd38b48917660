"""Grad-CAM Explorer core: the CAM engine and its helpers (no UI code here).

    from gradcam_core import GradCAM
    result = GradCAM(model, layer="conv2")(x, target=3)   # target: int, or None = predicted
"""
from gradcam_core.cam.engine import BaseCAM, CAMResult, GradCAM, layer_choices, resolve_layer
from gradcam_core.cam.methods import (
    METHODS,
    CounterfactualCAM,
    EigenCAM,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    ScoreCAM,
    XGradCAM,
    make_cam,
)
from gradcam_core.cam.postprocess import normalize, normalize_max, normalize_minmax, upsample

__all__ = [
    "BaseCAM", "CAMResult", "GradCAM", "GradCAMPlusPlus", "XGradCAM", "HiResCAM", "LayerCAM",
    "CounterfactualCAM", "ScoreCAM", "EigenCAM", "METHODS", "make_cam", "layer_choices",
    "resolve_layer", "upsample", "normalize", "normalize_max", "normalize_minmax",
]
