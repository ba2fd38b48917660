"""Reading the launched app's image outputs in tests."""
from __future__ import annotations

import numpy as np
from PIL import Image

from gradcam_core.present.codec import decode_data_url


def png(value) -> np.ndarray:
    """An image output as an RGB array, checking it is a PNG: a ResultImage's
    ``{"url": "data:image/png;base64,…"}`` or a file path (galleries, downloads)."""
    if isinstance(value, dict) and "url" in value and str(value["url"]).startswith("data:"):
        assert value["url"].startswith("data:image/png;base64,")
        im = decode_data_url(value)
    else:
        im = Image.open(value)
    with im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


_LABELS: dict = {}


def returns_by_label(client, api_name: str, out) -> dict:
    """A gradio_client result (positional by nature) as {return label: value}, labels read from
    the endpoint's own description (``client.view_api``), so tests read outputs by name."""
    key = (id(client), "/" + api_name.lstrip("/"))
    if key not in _LABELS:
        api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        _LABELS[key] = [r.get("label") or r.get("component") for r in api[key[1]]["returns"]]
    labels = _LABELS[key]
    out = out if isinstance(out, (list, tuple)) else [out]
    assert len(labels) == len(out), (labels, len(out))
    named = {}
    for label, value in zip(labels, out):
        assert label not in named, f"two outputs of {api_name} are labelled {label!r}"
        named[label] = value
    return named


def mnist_result(client, *args, api_name: str = "mnist_explain_index") -> dict:
    """An MNIST explaining endpoint's outputs by name: "label", "overlay", "numbers", "seen",
    "steps" ([text, image, code] * 8) and "link" (see gradcam_core.ui.mnist_tab.MnistView)."""
    named = returns_by_label(client, api_name, client.predict(*args, api_name="/" + api_name.lstrip("/")))
    steps = [named[f"Step {n} {part}"] for n in range(1, 9) for part in ("text", "image", "code")]
    return {"label": named["Prediction (all 10 probabilities)"], "overlay": named["Grad-CAM heat map"],
            "numbers": named["Numbers"], "seen": named["What LeNet sees (28×28)"], "steps": steps,
            "link": named["Link query"], **({"index": named["Digit index (0–999)"]} if "Digit index (0–999)" in named
                                            else {})}


#: the ImageNet explaining endpoints' outputs: label → name (gradcam_core.ui.imagenet_tab.EXPLAIN_OUTPUTS)
IMAGENET_NAMES = {"Summary": "summary", "Top 5": "label", "Where the model found the evidence": "overlay",
                  "Raw map, real units (colour bar)": "heatmap", "Steps (tap to enlarge)": "steps",
                  "What each step does": "steps_md", "Grayscale map, coloured heat map, overlay": "downloads",
                  "Numbers: top 5, target, weights, map": "numbers"}


def imagenet_result(client, *args, api_name: str = "imagenet_explain") -> dict:
    """An ImageNet endpoint's outputs by the names the tab's handlers use ("label", "overlay", …)."""
    named = returns_by_label(client, api_name, client.predict(*args, api_name="/" + api_name.lstrip("/")))
    return {IMAGENET_NAMES.get(k, k): v for k, v in named.items()}
