"""Issue 29, the engine and the registry: transformer layers as maps (gradcam_core/cam/tokens.py).

Offline and value-level.  The real architectures (torchvision ``vit_b_16``, ``swin_t``,
``convnext_tiny``) with random weights of their real shapes, one of each per module; Score-CAM and
the guided pass, which need many forward passes, run on narrow copies of the same torchvision
classes (same module names, same layouts, a few channels).

The oracle is pytorch-grad-cam with its ``reshape_transform`` (the recipe of its ViT and Swin
tutorials).  It resizes its maps to the input size; here it is asked for the map's own grid instead
(``get_target_width_height``), so the two are compared cell by cell, not after two resizers.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models import convnext as tv_convnext
from torchvision.models import swin_transformer as tv_swin
from torchvision.models import vision_transformer as tv_vit

from gradcam_core.base.errors import Refusal
from gradcam_core.cam.engine import GradCAM
from gradcam_core.cam.guided import guided_backprop
from gradcam_core.cam.methods import METHODS, make_cam
from gradcam_core.cam.postprocess import normalize_minmax
from gradcam_core.cam.tokens import LAYOUTS, to_maps
from gradcam_core.models import registry as M
from gradcam_core.models import weights as W
from gradcam_core.models.layers import parse_layer
from gradcam_core.present.words import say, text_of

KEYS = ("vit_b_16", "swin_t", "convnext_tiny")
#: the methods pytorch-grad-cam also has (ours → theirs); Score-CAM is checked on the narrow copies
SHARED = {"Grad-CAM": "GradCAM", "Grad-CAM++": "GradCAMPlusPlus", "XGrad-CAM": "XGradCAM",
          "HiResCAM": "HiResCAM", "LayerCAM": "LayerCAM", "Eigen-CAM": "EigenCAM"}
#: the oracle's reshape_transform for each layout (as in pytorch-grad-cam's tutorials)
ORACLE_RESHAPE = {
    "cnn": None,
    "tokens": lambda t: t[:, 1:, :].reshape(t.size(0), 14, 14, t.size(2)).transpose(2, 3).transpose(1, 2),
    "channels_last": lambda t: t.permute(0, 3, 1, 2),
}
VIT_LAST_BLOCK = "encoder.layers.encoder_layer_11"


# --------------------------------------------------------------------------- models
def _randomised_head(model: nn.Module, key: str) -> nn.Module:
    """torchvision starts ViT's head at zero (all logits 0, every gradient 0); a random head instead,
    so a zero gradient is a fact about the layer, not about the initialisation."""
    if key == "vit_b_16":
        nn.init.normal_(model.heads.head.weight, std=0.02)
    return model


def _real(key: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return _randomised_head(W.TORCHVISION_MODELS[key][0](weights=None), key).eval()


@pytest.fixture(scope="module")
def real() -> dict[str, nn.Module]:
    torch.set_num_threads(2)
    return {key: _real(key, seed) for seed, key in enumerate(KEYS)}


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    torch.manual_seed(123)
    return torch.randn(1, 3, 224, 224)


def _narrow(key: str) -> nn.Module:
    """The same torchvision class with few channels: the same module names and layouts as the real
    one (the registry's default layers exist), cheap enough for a forward pass per channel."""
    torch.manual_seed(7)
    if key == "vit_b_16":
        model = tv_vit.VisionTransformer(image_size=224, patch_size=16, num_layers=12, num_heads=2,
                                         hidden_dim=16, mlp_dim=32)
    elif key == "swin_t":
        model = tv_swin.SwinTransformer(patch_size=[4, 4], embed_dim=8, depths=[2, 2, 6, 2],
                                        num_heads=[1, 1, 1, 1], window_size=[7, 7])
    else:
        cfg = tv_convnext.CNBlockConfig
        model = tv_convnext.ConvNeXt([cfg(8, 16, 3), cfg(16, 24, 3), cfg(24, 32, 9), cfg(32, None, 3)])
    return _randomised_head(model, key).eval()


@pytest.fixture(scope="module")
def narrow() -> dict[str, nn.Module]:
    return {key: _narrow(key) for key in KEYS}


def _oracle(name: str, model: nn.Module, layer: str, layout: str, x: torch.Tensor, target: int,
            grid: tuple[int, int]) -> np.ndarray:
    """pytorch-grad-cam's map on the map's own grid (min-max scaled, as it returns it)."""
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    module = dict(model.named_modules())[layer]
    reshape = ORACLE_RESHAPE[layout]
    if layout == "tokens":  # the tutorial's 14×14, or the narrow copy's grid (the same here)
        assert grid == (14, 14)
    with getattr(pytorch_grad_cam, name)(model=model, target_layers=[module], reshape_transform=reshape) as ref:
        ref.get_target_width_height = lambda t: (grid[1], grid[0])  # the map's grid: no resizing
        ref.batch_size = 16
        out = ref(input_tensor=x, targets=[ClassifierOutputTarget(target)] * x.shape[0])
    for p in model.parameters():  # it calls loss.backward(): leave no .grad on the shared model
        p.grad = None
    return out


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(np.corrcoef(a, b)[0, 1])


# --------------------------------------------------------------------------- to_maps
def test_to_maps_exact_identities():
    n, h, w, c = 2, 3, 3, 4
    tokens = torch.arange(n * (1 + h * w) * c, dtype=torch.float32).reshape(n, 1 + h * w, c)
    maps = to_maps(tokens, "tokens")
    assert maps.shape == (n, c, h, w)
    for b in range(n):
        for k in range(c):
            for i in range(h):
                for j in range(w):  # patch tokens row by row after the class token
                    assert maps[b, k, i, j] == tokens[b, 1 + i * w + j, k]
    assert not torch.isin(tokens[:, 0, :], maps).any()  # the class token is left out

    last = torch.arange(n * h * (w + 1) * c, dtype=torch.float32).reshape(n, h, w + 1, c)
    cl = to_maps(last, "channels_last")
    assert cl.shape == (n, c, h, w + 1) and torch.equal(cl, last.permute(0, 3, 1, 2))
    assert cl[1, 2, 0, 3] == last[1, 0, 3, 2]
    cnn = torch.randn(n, c, h, w)
    assert to_maps(cnn, "cnn") is cnn
    assert LAYOUTS == ("cnn", "tokens", "channels_last")

    # the gradient flows through the reshaping, and the class token gets none of the map's
    leaf = tokens.clone().requires_grad_(True)
    (to_maps(leaf, "tokens") * torch.arange(c, dtype=torch.float32)[None, :, None, None]).sum().backward()
    assert torch.equal(leaf.grad[:, 0], torch.zeros(n, c))
    assert torch.equal(leaf.grad[:, 1:], torch.arange(c, dtype=torch.float32).expand(n, h * w, c))


@pytest.mark.parametrize("shape,layout", [((1, 1 + 12, 8), "tokens"), ((1, 1, 8), "tokens"), ((1, 8, 3, 3), "tokens"),
                                          ((1, 197, 8), "cnn"), ((1, 197, 8), "channels_last")])
def test_shapes_that_are_not_the_layout_are_refused_with_the_shape(shape, layout):
    with pytest.raises(Refusal) as info:
        to_maps(torch.zeros(shape), layout, "blocks.3")
    assert info.value.key == "error.engine.not_a_map"
    assert info.value.values == {"layer": "blocks.3", "shape": shape}
    assert text_of(info.value) == say("error.engine.not_a_map", layer="blocks.3", shape=shape)
    with pytest.raises(ValueError):
        to_maps(torch.zeros(1, 5, 8), "sequence")  # a caller's bug: layouts come from the registry


# --------------------------------------------------------------------------- registry
def test_registry_entries_layouts_and_exclusions():
    for key, family in zip(KEYS, ("vit", "swin", "convnext")):
        spec = M.get_model(key)
        assert spec.family == family and key in M.REGISTRY
        # Guided Grad-CAM is the one method left out, with a catalogue reason
        assert spec.methods_excluded == {"Guided Grad-CAM": "model.excluded.guided_gelu"}
        assert set(spec.methods_excluded) <= set(METHODS)
        assert say("model.excluded.guided_gelu").startswith("Guided Grad-CAM is not offered")
    vit, swin, conv = (M.get_model(k) for k in KEYS)
    assert vit.default_layer == "encoder.layers.encoder_layer_11.ln_1"
    assert vit.layout_of(vit.default_layer) == "tokens" and vit.layout_of("encoder.ln") == "tokens"
    assert vit.layout_of("conv_proj") == "cnn"
    assert swin.default_layer == "features.7.1.norm2" and swin.layout_of(swin.default_layer) == "channels_last"
    assert swin.layout_of("features.0.0") == "cnn" and swin.layout_of("permute") == "cnn"
    assert swin.layout_of("features.0") == "channels_last" and swin.layout_of("norm") == "channels_last"
    assert conv.default_layer == "features.7" and conv.layout_of("features.7") == "cnn"
    assert conv.layout_of("features.7.2.block.2") == "channels_last" and conv.layout_of("features.7.2.block.6") == "cnn"
    assert {s.family for k, s in M.REGISTRY.items() if k not in KEYS} == {"cnn"}
    assert all(s.methods_excluded == {} for k, s in M.REGISTRY.items() if k not in KEYS)
    # the picker: each ViT block's input norm and output with the 14×14 grid
    assert vit.layer("encoder.layers.encoder_layer_11.ln_1").label == (
        "block 12 of 12, norm before attention (encoder.layers.encoder_layer_11.ln_1, 14×14 patch tokens)")
    assert vit.layer(VIT_LAST_BLOCK).label == f"block 12 of 12, output ({VIT_LAST_BLOCK}, 14×14 patch tokens)"
    assert len(vit.layers) == 2 * 12 + 2
    assert swin.layer("features.7.1.norm2").label == "stage 4, last block, norm before the MLP (features.7.1.norm2, 7×7)"
    assert conv.layer("features.7").label == "features.7 (last stage, 7×7)"


def test_each_kind_of_listed_layer_reads_as_its_advertised_grid(narrow):
    """One layer of each kind in the picker (each label) gives maps of its advertised size through
    the engine, in the layout the registry gives it (the narrow copies: the same module names and
    grids; test_models.py checks every listed layer's grid in its layout on the real shapes)."""
    xs = torch.randn(1, 3, 224, 224)
    for key in KEYS:
        spec = M.get_model(key)
        kinds = {info.label_key: info for info in spec.layers}  # the last layer of each kind
        assert len(kinds) == {"vit_b_16": 4, "swin_t": 5, "convnext_tiny": 2}[key]
        for info in kinds.values():
            r = GradCAM(narrow[key], info.name, layout=spec.layout_of(info.name))(xs, target=1)
            assert tuple(r.cam.shape) == (1, *info.size), (key, info.name)
            assert r.layout == spec.layout_of(info.name) and r.class_token_dropped == (r.layout == "tokens")


def test_unlisted_layers_are_probed_in_their_layout(narrow):
    """A module typed by name (not in the picker) is tried in the registry's layout for it: a ViT
    MLP's tokens are accepted; attention (a tuple) and the head (no grid) are refused with the reason."""
    vit = M.get_model("vit_b_16")
    picker = [(l.name, (l.label,)) for l in vit.layers]

    def parse(name):
        return parse_layer(name, picker, vit.default_layer, vit.title, model=narrow["vit_b_16"],
                           input_shape=(3, 224, 224), layout_of=vit.layout_of)

    assert parse("encoder.layers.encoder_layer_5.mlp") == "encoder.layers.encoder_layer_5.mlp"
    with pytest.raises(Refusal) as info:
        parse("encoder.layers.encoder_layer_5.self_attention")
    assert info.value.key == "error.layer.unusable.not_a_tensor" and info.value.values["type"] == "tuple"
    with pytest.raises(Refusal) as info:
        parse("heads")
    assert info.value.key == "error.layer.unusable.not_a_map" and info.value.values["shape"] == (1, 1000)
    swin = M.get_model("swin_t")
    assert parse_layer("features.5.3.mlp", [(l.name, ()) for l in swin.layers], swin.default_layer, swin.title,
                       model=narrow["swin_t"], input_shape=(3, 224, 224), layout_of=swin.layout_of) == "features.5.3.mlp"


# --------------------------------------------------------------------------- against pytorch-grad-cam
@pytest.mark.parametrize("key", KEYS)
def test_methods_match_pytorch_grad_cam_with_reshape_transform(real, x, key):
    spec = M.get_model(key)
    layer, layout = spec.default_layer, spec.layout_of(spec.default_layer)
    model = real[key]
    target = 207
    cams = {name: make_cam(name, model, layer, layout=layout) for name in SHARED}
    corr = {}
    for ours, theirs in SHARED.items():
        r = cams[ours](x, target=target)
        assert r.layout == layout and r.class_token_dropped == (layout == "tokens")
        grid = tuple(r.cam.shape[-2:])
        expected = _oracle(theirs, model, layer, layout, x, target, grid)
        got = normalize_minmax(r.cam).numpy()
        assert got.shape == expected.shape
        if theirs == "EigenCAM":  # a principal component's sign is arbitrary: ours is fixed, theirs is not
            alt = normalize_minmax(F.relu(-r.weighted)).numpy()
            corr[ours] = max(_corr(got, expected), _corr(alt, expected))
        else:
            corr[ours] = _corr(got, expected)
    assert min(corr.values()) >= 0.999, corr


@pytest.mark.parametrize("key", KEYS)
def test_score_cam_matches_pytorch_grad_cam(narrow, monkeypatch, key):
    """Exact Score-CAM on the narrow copies (one forward per embedding dimension).  One known
    difference is set aside: pytorch-grad-cam upsamples the masks with align_corners=True
    (``nn.UpsamplingBilinear2d``), the engine as its pictures do (align_corners=False)."""
    from pytorch_grad_cam import score_cam

    monkeypatch.setattr(score_cam.torch.nn, "UpsamplingBilinear2d",
                        lambda size: (lambda t: F.interpolate(t, size=size, mode="bilinear", align_corners=False)))
    spec = M.get_model(key)
    layer, layout = spec.default_layer, spec.layout_of(spec.default_layer)
    torch.manual_seed(5)
    xs = torch.rand(1, 3, 224, 224) * 2
    r = make_cam("Score-CAM (exact)", narrow[key], layer, layout=layout, batch_size=16)(xs, target=3)
    expected = _oracle("ScoreCAM", narrow[key], layer, layout, xs, 3, tuple(r.cam.shape[-2:]))
    assert _corr(normalize_minmax(r.cam).numpy(), expected) >= 0.999
    np.testing.assert_allclose(normalize_minmax(r.cam).numpy(), expected, atol=1e-3)


def test_every_offered_method_runs_on_each_default_layer(narrow):
    xs = torch.rand(1, 3, 224, 224)
    for key in KEYS:
        spec = M.get_model(key)
        layout = spec.layout_of(spec.default_layer)
        offered = [m for m in METHODS if m not in spec.methods_excluded]
        assert "Guided Grad-CAM" not in offered and len(offered) == len(METHODS) - 1
        for name in offered:
            r = make_cam(name, narrow[key], spec.default_layer, layout=layout, batch_size=16)(xs, target=2)
            assert r.cam.shape[-2:] == spec.layer(spec.default_layer).size and torch.isfinite(r.cam).all(), (key, name)
            assert (r.zero_grad_share is None) == (not METHODS[name].uses_gradients)
        g = make_cam("Grad-CAM", narrow[key], spec.default_layer, layout=layout)(xs, target=2)
        c = make_cam("Counterfactual", narrow[key], spec.default_layer, layout=layout)(xs, target=2)
        torch.testing.assert_close(c.weighted, -g.weighted)  # on tokens as on maps


def test_guided_backprop_on_gelu_networks_is_the_plain_input_gradient(narrow, real):
    """Why Guided Grad-CAM is not offered: these networks have no ReLU for guided backprop to
    change, so its picture would be the ordinary input gradient (model.excluded.guided_gelu)."""
    for key in KEYS:
        mods = list(real[key].modules())
        assert any(isinstance(m, nn.GELU) for m in mods)
        assert not any(isinstance(m, (nn.ReLU, nn.ReLU6, nn.Hardtanh)) for m in mods), key
        model = narrow[key]
        xs = torch.rand(1, 3, 224, 224).requires_grad_(True)
        guided = guided_backprop(model, xs.detach(), torch.tensor([4]))
        (plain,) = torch.autograd.grad(model(xs)[0, 4], xs)
        torch.testing.assert_close(guided, plain, atol=0, rtol=0)


# --------------------------------------------------------------------------- ViT's last block
def test_vit_last_block_has_exactly_zero_gradient_on_the_patch_tokens(real, x):
    """Only the class token reaches the head after the last attention: the block's output and the
    final norm give an all-zero gradient on the 196 patch tokens (the map is empty by construction),
    while the default layer (the last block's input norm, before its attention) has one."""
    vit, spec = real["vit_b_16"], M.get_model("vit_b_16")
    for layer in (VIT_LAST_BLOCK, "encoder.ln", "encoder.layers.encoder_layer_11.ln_2"):
        r = GradCAM(vit, layer, layout=spec.layout_of(layer))(x, target=207)
        assert r.zero_grad_share == 1.0 and r.class_token_dropped and r.gradients.shape == (1, 768, 14, 14)
        assert torch.equal(r.cam, torch.zeros(1, 14, 14))
    # the class token does get a gradient there: it is the only way to the head
    out = []
    handle = dict(vit.named_modules())[VIT_LAST_BLOCK].register_forward_hook(lambda m, i, o: out.append(o))
    try:
        logits = vit(x)
    finally:
        handle.remove()
    (grad,) = torch.autograd.grad(logits[0, 207], out[0])
    assert grad.shape == (1, 197, 768)
    assert torch.count_nonzero(grad[:, 1:]) == 0 and torch.count_nonzero(grad[:, 0]) == 768
    default = GradCAM(vit, spec.default_layer, layout="tokens")(x, target=207)
    assert default.zero_grad_share == 0.0 and default.cam.max() > 0
    # a CNN's result says how many of its gradient entries are zero too (ReLU after the layer)
    conv = GradCAM(real["convnext_tiny"], "features.7")(x, target=207)
    assert conv.layout == "cnn" and not conv.class_token_dropped and 0.0 <= conv.zero_grad_share < 1.0
    assert conv.zero_grad_share == float((conv.gradients == 0).sum()) / conv.gradients.numel()


# --------------------------------------------------------------------------- threads and state
def test_threads_on_shared_transformers_equal_single_thread_results(real):
    torch.manual_seed(11)
    jobs = [("vit_b_16", "encoder.layers.encoder_layer_11.ln_1", 207), ("swin_t", "features.7.1.norm2", 3),
            ("vit_b_16", "encoder.layers.encoder_layer_5.ln_1", None), ("convnext_tiny", "features.5", 500)]
    inputs = [torch.randn(1, 3, 224, 224) for _ in jobs]

    def run(j):
        key, layer, target = jobs[j]
        return GradCAM(real[key], layer, layout=M.get_model(key).layout_of(layer))(inputs[j], target=target)

    single = [run(j) for j in range(len(jobs))]
    results: dict[int, object] = {}
    errors = []
    barrier = threading.Barrier(2)

    def worker(k):
        try:
            barrier.wait()
            for j in range(k, len(jobs), 2):
                results[j] = run(j)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for j, ref in enumerate(single):
        got = results[j]
        assert (got.layer, got.layout) == (ref.layer, ref.layout) and torch.equal(got.targets, ref.targets)
        torch.testing.assert_close(got.activations, ref.activations, atol=0, rtol=0)
        torch.testing.assert_close(got.cam, ref.cam, atol=1e-6, rtol=1e-5)
        assert got.zero_grad_share == ref.zero_grad_share
    for model in real.values():  # no hook survives a call
        assert all(not m._forward_hooks for m in model.modules())


def test_model_state_is_restored(narrow):
    """Train/eval flags, requires_grad, parameters, buffers and .grad are as they were; the gradient
    is taken at the hooked layer only."""
    for key in KEYS:
        model = narrow[key]
        model.train()
        first = next(model.parameters())
        first.requires_grad_(False)
        modes = [m.training for m in model.modules()]
        flags = [p.requires_grad for p in model.parameters()]
        state = {k: v.clone() for k, v in model.state_dict().items()}
        spec = M.get_model(key)
        try:
            a = GradCAM(model, spec.default_layer, layout=spec.layout_of(spec.default_layer))(torch.rand(1, 3, 224, 224))
            assert [m.training for m in model.modules()] == modes
            assert [p.requires_grad for p in model.parameters()] == flags
            assert all(p.grad is None for p in model.parameters())
            assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
            assert all(not m._forward_hooks for m in model.modules())
            assert a.cam.shape[-2:] == spec.layer(spec.default_layer).size
        finally:
            first.requires_grad_(True)
            model.eval()


# --------------------------------------------------------------------------- offline
def test_offline_the_three_are_unavailable_with_the_reason(weights_isolated):
    from gradcam_core import cli

    import io
    from contextlib import redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["models"]) == 0
    text = out.getvalue()
    for key in KEYS:
        spec = M.get_model(key)
        ok, why = spec.availability()
        assert not ok and why == say("model.status.missing", **W.missing_values(key))
        assert W.weights_filename(W.candidate_weights(key)[0]) in why
        row = say("cli.models.row", key=key, state=say("cli.models.not_available"), title=spec.title, mark="").rstrip()
        assert row in text and why in text
        with pytest.raises(M.ModelUnavailableError) as info:
            spec.load()
        assert info.value.key == "error.model.unavailable" and info.value.values["title"] == spec.title
    # the others are unchanged: EfficientNet-Lite0 still serves
    assert M.default_model_key() == "efficientnet_lite0" and M.get_model("efficientnet_lite0").available


# --------------------------------------------------------------------------- the default-layer tool
def test_choose_default_layers_needs_the_pretrained_weights_and_maps_boxes_onto_the_crop(weights_isolated, capsys):
    """tools/choose_default_layers.py refuses to choose from random weights (exit 2, with the download
    command), and a box in photo pixels lands on the model's 224×224 input where the crop puts it."""
    from tools.choose_default_layers import box_on_crop, main

    assert main(["--models", "swin_t"]) == 2
    err = capsys.readouterr().err
    assert "swin_t-704ceda3.pth" in err and "python -m gradcam_core weights download swin_t" in err
    spec = M.get_model("convnext_tiny")  # resize the shorter side to 236, centre-crop 224: 6 px off each side
    assert M.crop_box(spec, (236, 236)) == (6.0, 6.0, 230.0, 230.0)
    mask = box_on_crop(spec, (236, 236), [6, 6, 118, 118])
    assert mask.shape == (224, 224) and int(mask.sum()) == 112 * 112 and mask[:112, :112].all()
    assert not box_on_crop(spec, (236, 236), [0, 0, 6, 6]).any()  # cut off by the crop
