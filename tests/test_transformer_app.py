"""Issue 29 through the launched app: a Vision Transformer beside the CNNs, driven with gradio_client.

The app runs with a weights folder of its own that holds a randomly initialised ViT-B/16 under
torchvision's file name (its head drawn from a normal law: torchvision starts it at zero, which
would make every gradient zero for a reason that has nothing to do with the layer), no Swin-T or
ConvNeXt-Tiny file and no download allowed. Its predictions mean nothing; what is checked is that
the page explains a transformer with the words of patch tokens, says why the last block's map is
empty with the measured share, taps a token, compares it with a CNN, and refuses a method the
registry does not offer with its reason, while the models without weights are listed as
unavailable with theirs.
"""
from __future__ import annotations

import pytest
import torch

from conftest import free_port_in, start_server, stop_process
from gradcam_core.data.examples import load_manifest
from gradcam_core.models import weights as W
from gradcam_core.present.words import say
from outputs import imagenet_result

VIT_DEFAULT = "encoder.layers.encoder_layer_11.ln_1"
VIT_LAST_BLOCK = "encoder.layers.encoder_layer_11"


def save_vit(folder) -> None:
    """A random ViT-B/16 with a non-zero head, saved where the registry looks for it."""
    torch.manual_seed(1)
    model = W.TORCHVISION_MODELS["vit_b_16"][0](weights=None)
    torch.nn.init.normal_(model.heads.head.weight, std=0.02)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), str(folder / W.weights_filename(W.candidate_weights("vit_b_16")[0])))


@pytest.fixture(scope="module")
def vit_env(tmp_path_factory) -> dict:
    """The environment of a process that finds the random ViT-B/16 and nothing else to download."""
    root = tmp_path_factory.mktemp("vit")
    save_vit(root / "weights")
    return {W.WEIGHTS_DIR_ENV: str(root / "weights"), "TORCH_HOME": str(root / "torch"), W.ALLOW_DOWNLOAD_ENV: "0"}


@pytest.fixture(scope="module")
def client(vit_env):
    from gradio_client import Client

    port = free_port_in(8050, 8099)
    proc, _ = start_server(port, env=vit_env)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False, ssl_verify=False)
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def photo():
    from gradio_client import handle_file

    return handle_file(next(e["path"] for e in load_manifest() if e["file"].endswith("chelsea_cat.jpg")))


def _explain(client, photo, layer: str = VIT_DEFAULT, method: str = "Grad-CAM") -> dict:
    return imagenet_result(client, photo, "vit_b_16", layer, method, "predicted", "none", "max", "jet", 0.5)


def test_the_transformers_are_listed_with_their_layers_or_why_not(client):
    models = {m["key"]: m for m in client.predict(api_name="/imagenet_models")}
    vit = models["vit_b_16"]
    assert vit["available"] and vit["family"] == "vit" and vit["default_layer"] == VIT_DEFAULT
    layers = {l["name"]: l for l in vit["layers"]}
    assert layers[VIT_DEFAULT]["size"] == [14, 14] and layers[VIT_DEFAULT]["layout"] == "tokens"
    assert "14×14 patch tokens" in layers[VIT_DEFAULT]["label"]
    assert layers["conv_proj"]["layout"] == "cnn"
    assert "GELU" in vit["methods_excluded"]["Guided Grad-CAM"]
    for key in ("swin_t", "convnext_tiny"):  # no weights file and no download: listed, with the reason
        assert not models[key]["available"] and "weights download" in models[key]["status"]
    assert models["efficientnet_lite0"]["available"] and models["efficientnet_lite0"]["methods_excluded"] == {}


def test_a_photo_explained_on_vits_default_layer_speaks_of_patch_tokens(client, photo):
    out = _explain(client, photo)
    numbers = out["numbers"]
    assert numbers["model"] == "vit_b_16" and numbers["layer"] == VIT_DEFAULT
    assert numbers["cam_shape"] == [14, 14] and numbers["cam_max"] > 0 and len(numbers["weights"]) == 768
    assert numbers["layout"] == "tokens" and numbers["class_token_dropped"] is True and numbers["zero_grad_share"] < 1
    assert "The map is read on 14×14 patch tokens, the class token left out." in out["summary"]
    assert "The map is empty" not in out["summary"]
    assert "1 · Patch tokens of " + VIT_DEFAULT in out["steps_md"]
    assert "3 · Averaging: dimension" in out["steps_md"] and "4 · Embedding-dimension importance" in out["steps_md"]
    assert len(out["steps"]) == 8


def test_the_last_blocks_empty_map_is_explained_with_the_measured_share(client, photo):
    out = _explain(client, photo, VIT_LAST_BLOCK)
    assert out["numbers"]["cam_max"] == 0.0 and out["numbers"]["zero_grad_share"] == 1.0
    assert say("transformer.summary_empty", share=1.0, layer=VIT_LAST_BLOCK, default=VIT_DEFAULT) in out["summary"]
    assert "100.0% of the gradients on the 196 patch tokens" in out["steps_md"]
    assert "only the class token" in out["steps_md"]


def test_a_method_not_offered_is_refused_with_the_reason(client, photo):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="uses GELU"):
        _explain(client, photo, method="Guided Grad-CAM")
    layer, note = client.predict("vit_b_16", api_name="/imagenet_model_change")
    assert layer["value"] == VIT_DEFAULT and "uses GELU" in note
    _, note = client.predict("efficientnet_lite0", api_name="/imagenet_model_change")
    assert "GELU" not in note


def test_the_method_list_follows_the_model():
    """The page's own step after a model change (not in the API): the methods offered for it."""
    from gradcam_core.ui.imagenet_tab import model_methods

    vit = model_methods("vit_b_16", "Guided Grad-CAM")["method"]
    offered = [c[1] if isinstance(c, (list, tuple)) else c for c in vit.choices]
    assert "Guided Grad-CAM" not in offered and {"Grad-CAM", "Eigen-CAM", "Score-CAM"} <= set(offered)
    assert vit.value == "Grad-CAM"  # the chosen method is not offered: back to Grad-CAM
    assert model_methods("vit_b_16", "Eigen-CAM")["method"].value == "Eigen-CAM"
    cnn = model_methods("efficientnet_lite0", "Guided Grad-CAM")["method"]
    assert cnn.value == "Guided Grad-CAM" and len(cnn.choices) == len(offered) + 1


def test_tap_a_token(client, photo):
    _explain(client, photo)
    out = client.predict(3, 4, api_name="/imagenet_inspect_cell")
    assert out["grid"] == [14, 14] and out["layout"] == "tokens" and len(out["contributions"]) == 768
    assert sum(t["value"] for t in out["contributions"]) == pytest.approx(out["value"], rel=1e-4, abs=1e-7)
    assert "dimension" in out["reading"] and "channel" not in out["reading"]
    support = out["occlusion"]["footprint"]["support"]
    assert support["bottom"] > support["top"] and support["right"] > support["left"]


def test_compare_puts_a_cnn_and_a_transformer_side_by_side(client, photo):
    gallery, md = client.predict(photo, "vit_b_16", "Grad-CAM", "predicted", "max", "jet", 0.5,
                                 api_name="/imagenet_compare")
    assert "ViT-B/16 (transformer, 14×14 patch tokens)" in md and "EfficientNet-Lite0 (CNN)" in md
    assert len(gallery) >= 2
    assert "Swin-T: not available" in md


def test_the_trust_cascade_says_it_does_not_run_on_a_token_grid(client, photo):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="does not run on a transformer layer yet"):
        client.predict(photo, "vit_b_16", VIT_DEFAULT, "predicted", "Grad-CAM", api_name="/trust_imagenet_cascade")
    # deletion and insertion do run on the token grid: one curve each, from the map of the 14×14 tokens
    plot, aucs, reading = client.predict(photo, "vit_b_16", VIT_DEFAULT, "predicted", "blur", 4,
                                         api_name="/trust_imagenet_curves")
    rows = aucs["data"] if isinstance(aucs, dict) else aucs
    assert len(rows) >= 2 and reading


def test_the_command_line_explains_with_vit_and_refuses_guided_with_the_reason(vit_env, tmp_path):
    import json
    import os
    import subprocess
    import sys

    from bench._server import ROOT

    photo = next(e["path"] for e in load_manifest() if e["file"].endswith("chelsea_cat.jpg"))
    env = dict(os.environ, **vit_env)
    run = lambda *extra: subprocess.run([sys.executable, "-m", "gradcam_core", "explain", photo, "--model", "vit_b_16",  # noqa: E731
                                         *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    done = run("--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr[-2000:]
    numbers = json.loads((tmp_path / "out" / "chelsea_cat.json").read_text())
    assert numbers["layer"] == VIT_DEFAULT and len(numbers["cam"]) == 14 and len(numbers["cam"][0]) == 14
    refused = run("--method", "Guided Grad-CAM", "--out", str(tmp_path / "guided"))
    assert refused.returncode == 2 and "uses GELU" in refused.stderr and "Traceback" not in refused.stderr
