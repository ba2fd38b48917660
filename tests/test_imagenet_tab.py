"""The ImageNet tab, launched on its own and driven through its API with gradio_client."""
from __future__ import annotations


import numpy as np
import pytest
import torch

gradio_client = pytest.importorskip("gradio_client")
import gradio as gr  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402

from gradcam_core.models import weights as W  # noqa: E402
from gradcam_core.data.examples import load_manifest  # noqa: E402
from gradcam_core.ui import imagenet_tab  # noqa: E402
from gradcam_core.ui.common import CSS  # noqa: E402
from hostile import bomb_header_png
from outputs import imagenet_result, png as _png  # noqa: E402
from conftest import free_port

LITE = "efficientnet_lite0"
CATS = {"tiger cat", "tabby", "Egyptian cat"}
DEFAULTS = dict(model=LITE, layer="_head_act", method="Grad-CAM", target="predicted", target2="none",
                norm="max", cmap="jet", alpha=0.5)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # shared 2-core machine: one thread per request is much faster
    wdir = tmp_path_factory.mktemp("weights")
    W.save_random_weights("resnet18", wdir)  # ResNet-18 "available" (random weights, tests only)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(W.WEIGHTS_DIR_ENV, str(wdir))
        mp.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
        mp.delenv(W.ALLOW_DOWNLOAD_ENV, raising=False)
        with gr.Blocks() as demo:
            with gr.Tab("ImageNet", id="imagenet"):
                imagenet_tab.build(demo, concurrency_limit=2)
        demo.queue(default_concurrency_limit=2)
        port = free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                    css=CSS + imagenet_tab.CSS, max_file_size="10mb", show_error=False)
        try:
            yield Client(f"http://127.0.0.1:{port}/", verbose=False, ssl_verify=False)
        finally:
            demo.close()
            torch.set_num_threads(before)


def _example(name: str) -> str:
    return next(e["path"] for e in load_manifest() if e["file"].endswith(name))


def _explain(client, photo, **kw):
    a = {**DEFAULTS, **kw}
    return imagenet_result(client, photo, a["model"], a["layer"], a["method"], a["target"], a["target2"], a["norm"],
                           a["cmap"], a["alpha"])




def test_endpoints_are_listed(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    for n in ["explain", "explain_slow", "model_change", "restyle", "opacity", "compare", "find_classes", "models",
              "method_note", "search_target"]:
        assert f"/imagenet_{n}" in names, n
    # the page's own events are not in the API (issue 23): a new photo or setting is routed in the browser
    # to /imagenet_run or /imagenet_run_slow, a tap on an example is a tap, a link is read from the page's address
    for n in ["run", "run_slow", "pick_example", "from_link"]:
        assert f"/imagenet_{n}" not in names, n
    assert all(n.startswith(("/imagenet_", "/trust_imagenet_")) for n in names)


def test_chelsea_is_a_cat_with_overlay_steps_downloads_and_numbers(client):
    out = _explain(client, handle_file(_example("chelsea_cat.jpg")))
    summary, label, overlay, heatmap, steps, steps_md, downloads, numbers = (
        out[k] for k in ("summary", "label", "overlay", "heatmap", "steps", "steps_md", "downloads", "numbers"))
    assert label["label"] in CATS
    assert len(label["confidences"]) == 5
    ov = _png(overlay)
    assert ov.shape[1] == 224 and ov.std() > 10
    assert _png(heatmap).shape[1] == 224  # map + colour bar below
    assert len(steps) == 8 and all(s["caption"] for s in steps)
    assert _png(steps[0]["image"]).shape[0] > 100
    assert steps_md.count("```python") == 8 and "$$" in steps_md
    assert [p.rsplit("_", 1)[-1] for p in downloads] == ["gray.png", "heatmap.png", "overlay.png"]
    for p in downloads:
        _png(p)
    assert numbers["predicted_name"] == label["label"] and numbers["model"] == LITE
    assert len(numbers["weights"]) == 1280 and numbers["cam_shape"] == [7, 7]
    assert "EfficientNet-Lite0" in summary and label["label"] in summary


def test_coffee_is_espresso_or_cup(client):
    label = _explain(client, handle_file(_example("coffee_cup.jpg")))["label"]
    top5 = {c["label"] for c in label["confidences"]}
    assert top5 & {"espresso", "cup"}


def test_two_classes_side_by_side_and_redraw_without_model(client):
    out = _explain(client, handle_file(_example("chelsea_cat.jpg")), target="tabby", target2="285 · Egyptian cat")
    numbers = out["numbers"]
    assert numbers["target"] == 281 and numbers["second"]["target"] == 285
    wide = _png(out["overlay"])
    assert wide.shape[1] > 2 * 224  # two overlays side by side
    # same session: the kept results are redrawn (opacity, colormap) without a model run
    ov, downloads = client.predict("max", "jet", 1.0, api_name="/imagenet_opacity")
    assert _png(ov).shape == wide.shape and not np.array_equal(_png(ov), wide)
    redrawn = imagenet_result(client, "minmax", "viridis", 0.5, api_name="imagenet_restyle")
    assert redrawn["numbers"]["normalisation"] == "minmax" and redrawn["numbers"]["second"]["target"] == 285


def test_resnet18_from_a_weights_file_every_layer_in_the_picker(client):
    layers, note = client.predict("resnet18", api_name="/imagenet_model_change")
    choices = [c[0] if isinstance(c, (list, tuple)) else c for c in layers["choices"]]
    assert "layer4 · 7×7" in choices and layers["value"] == "layer4"
    out = _explain(client, handle_file(_example("coffee_cup.jpg")), model="resnet18", layer="layer2",
                   method="LayerCAM")
    assert out["numbers"]["model"] == "resnet18" and out["numbers"]["cam_shape"] == [28, 28]
    models = {m["key"]: m for m in client.predict(api_name="/imagenet_models")}
    assert models["resnet18"]["available"] and not models["vgg16"]["available"]


def test_compare_models_and_find_classes(client):
    gallery, md = client.predict(handle_file(_example("chelsea_cat.jpg")), LITE, "Grad-CAM", "281 · tabby", "max",
                                 "jet", 0.5, api_name="/imagenet_compare")
    assert [g["caption"].split(" · ")[0] for g in gallery] == ["EfficientNet-Lite0", "ResNet-18"]
    assert "281 · tabby" in md and "ResNet-50: not available" in md
    hits = client.predict("retriever", api_name="/imagenet_find_classes")
    assert [207, "golden retriever"] in [list(h) for h in hits]


def test_unavailable_model_is_refused_with_its_reason(client):
    with pytest.raises(Exception) as ei:
        _explain(client, handle_file(_example("chelsea_cat.jpg")), model="resnet50", layer="layer4")
    msg = str(ei.value)
    assert "ResNet-50 is not available" in msg and "python -m gradcam_core weights download resnet50" in msg
    assert "Traceback" not in msg




def test_hostile_uploads_give_clear_messages_and_the_server_survives(client, tmp_path):
    cases = {
        "text.png": (b"this is a text file wearing a .png name\n" * 20, "plain text"),
        "empty.png": (b"", "empty"),
        "bomb.png": (bomb_header_png(), "megapixels"),
        "bomb100mp.png": (bomb_header_png(10000, 10000), "megapixels"),
    }
    for name, (data, needle) in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(Exception) as ei:
            _explain(client, handle_file(str(p)))
        msg = str(ei.value)
        assert needle in msg, (name, msg)
        assert "Traceback" not in msg
    with pytest.raises(Exception, match="Upload a photo"):
        _explain(client, None)
    with pytest.raises(Exception, match="No ImageNet class"):
        _explain(client, handle_file(_example("chelsea_cat.jpg")), target="zzz-not-a-class")
    # still answering, and correctly
    label = _explain(client, handle_file(_example("chelsea_cat.jpg")))["label"]
    assert label["label"] in CATS
