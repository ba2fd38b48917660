"""The explain tools for AI assistants (Gradio's MCP server, ``python app.py --mcp``) and API callers.

Each is a typed, state-free function registered with ``gr.api``: Gradio reads its name, type hints
and ``Args:`` docstring to describe it to an assistant, and an assistant needs no session (the
page's own events carry ``gr.State`` and return dozens of page components). They run the same code
as the tabs' explain buttons and answer with the numbers (predicted class, top-5, the explained
class), not with pictures. Every argument is checked first (``coerce.checked_api``), and a refusal
is the same sentence the page shows.
"""
from typing import Any  # no ``from __future__ import annotations``: Gradio reads these hints as objects

import gradio as gr
from gradio.data_classes import FileData

from gradcam_core.services import imagenet as svc
from gradcam_core.ui import mnist_tab
from gradcam_core.ui.coerce import checked_api
from gradcam_core.ui.common import user_errors

#: The tools, by API name (``/explain_digit`` …); the MCP server names each tool by its function.
TOOLS = ("explain_digit", "explain_digit_photo", "explain_photo")
#: Seconds a slow method (Score-CAM) may take in a tool call before it is stopped with a message.
TIME_LIMIT = 60.0


def upload_path(photo: Any) -> Any:
    """The server-side path of an uploaded file (a FileData, its JSON form, or a path / data: URL)."""
    if isinstance(photo, FileData):
        return photo.path
    if isinstance(photo, dict):
        return photo.get("path") or photo.get("url")
    return photo


def _digit_answer(view: Any) -> dict:
    numbers = view.numbers or {}
    return {key: numbers.get(key) for key in ("predicted", "predicted_name", "target", "target_name", "top5",
                                              "probs", "layer", "method", "cam_max")}


@user_errors
def explain_digit(index: int, target: str = "predicted") -> dict:
    """Explain one held-out MNIST digit with Grad-CAM on LeNet: which digit the network reads and what
    speaks for the class asked about.

    Args:
        index: Which held-out MNIST digit, from 0 to 999 (the MNIST tab's grid shows them).
        target: "predicted" to explain the network's own answer, or a digit from 0 to 9 to explain what speaks for that class.

    Returns:
        The numbers: predicted digit, top-5 probabilities, the explained class, the layer read and the map's peak.
    """
    return _digit_answer(mnist_tab.explain_index(index, target))


@user_errors
def explain_digit_photo(photo: FileData, target: str = "predicted") -> dict:
    """Read a photo of one handwritten digit (on paper or a screen), cut and centred as MNIST digits are,
    and explain LeNet's answer with Grad-CAM.

    Args:
        photo: The photo of one handwritten digit (PNG, JPEG, WebP or HEIC), as an http(s) URL.
        target: "predicted" to explain the network's own answer, or a digit from 0 to 9 to explain what speaks for that class.

    Returns:
        The numbers: predicted digit, top-5 probabilities, the explained class, the layer read and the map's peak.
    """
    return _digit_answer(mnist_tab.explain_upload(upload_path(photo), target))


@user_errors
def explain_photo(photo: FileData, model: str = "efficientnet_lite0", method: str = "Grad-CAM",
                  target: str = "predicted") -> dict:
    """Classify a photo with an ImageNet network and explain the answer with a class-activation map:
    the top-5 classes and how sure the network is.

    Args:
        photo: The photo to explain (PNG, JPEG, WebP or HEIC), as an http(s) URL.
        model: The network: efficientnet_lite0, resnet18, resnet50, vgg16 or densenet121 (those whose weights this server has).
        method: The method: Grad-CAM, Grad-CAM++, HiResCAM, XGrad-CAM, LayerCAM, Eigen-CAM, Counterfactual or Guided Grad-CAM.
        target: "predicted" to explain the network's top class, or an ImageNet class name or index (0 to 999).

    Returns:
        The numbers: model, layer and method used, the top-5 classes with probabilities, and the explained class.
    """
    expl = svc.explain_source(upload_path(photo), model, None, method, None if target in ("", "predicted") else target,
                              time_limit=TIME_LIMIT)
    return {
        "model": expl.model_key, "layer": expl.layer, "method": expl.method,
        "predicted": expl.top5[0][0], "predicted_name": expl.top5[0][1],
        "top5": [{"class": i, "name": name, "prob": round(float(p), 6)} for i, name, p in expl.top5],
        "explained": [{"class": v.target, "name": v.name, "prob": round(float(v.prob), 6)} for v in expl.views],
        "seconds": round(float(expl.seconds), 3),
    }


def register(concurrency_limit: int = 2) -> None:
    """Add the tools to the Blocks being built (public API endpoints; MCP tools when the app is
    launched with its MCP server)."""
    for fn in (explain_digit, explain_digit_photo, explain_photo):
        gr.api(checked_api(fn), api_name=fn.__name__, concurrency_limit=concurrency_limit)
