"""Value-level tests of the CAM engine (gradcam_core.cam.engine / methods / postprocess)."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from gradcam_core import (
    METHODS,
    GradCAM,
    make_cam,
    normalize_max,
    normalize_minmax,
    upsample,
)
from gradcam_core.base.errors import Refusal
from gradcam_core.models.lenet import LeNet
from gradcam_core.present.words import say, text_of

torch.set_num_threads(2)


class GapNet(nn.Module):
    """conv features -> global average pool -> linear: the architecture where CAM is defined."""

    def __init__(self, k=8, classes=5, inplace=True):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.relu1 = nn.ReLU(inplace=inplace)
        self.conv2 = nn.Conv2d(6, k, 3, padding=1)
        self.relu2 = nn.ReLU(inplace=inplace)
        self.fc = nn.Linear(k, classes)

    def features(self, x):
        return self.relu2(self.conv2(self.relu1(self.conv1(x))))

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=1000).eval()


@pytest.fixture(scope="module")
def lenet():
    torch.manual_seed(1)
    return LeNet().eval()


def plain_cam(model: GapNet | torchvision.models.ResNet, feats: torch.Tensor, cls: int) -> torch.Tensor:
    return torch.einsum("k,nkhw->nhw", model.fc.weight[cls].detach(), feats)


# ----------------------------------------------------------------- the CAM identity


def test_gradcam_equals_cam_on_gap_linear_head():
    torch.manual_seed(0)
    model = GapNet().eval()
    x = torch.randn(3, 3, 12, 10)
    for cls in range(5):
        r = GradCAM(model, "relu2")(x, target=cls)
        with torch.no_grad():
            feats = model.features(x)
        cam = plain_cam(model, feats, cls)
        hw = feats.shape[2] * feats.shape[3]
        # exact identity: alpha_k = w_ck / (h w), so weighted = CAM / (h w), before and after ReLU
        torch.testing.assert_close(r.activations, feats)
        torch.testing.assert_close(r.weights, model.fc.weight[cls].detach().expand(3, -1) / hw)
        torch.testing.assert_close(r.weighted * hw, cam, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(r.cam * hw, F.relu(cam), atol=1e-5, rtol=1e-5)


def test_gradcam_equals_cam_on_resnet18(resnet):
    torch.manual_seed(2)
    x = torch.randn(2, 3, 224, 224)
    r = GradCAM(resnet, "layer4")(x, target=[7, 901])
    assert r.activations.shape == (2, 512, 7, 7)
    for i, cls in enumerate([7, 901]):
        cam = plain_cam(resnet, r.activations[i : i + 1], cls)[0]
        torch.testing.assert_close(r.weighted[i] * 49, cam, atol=1e-4, rtol=1e-4)
        # positive scale: the normalised maps are identical
        torch.testing.assert_close(normalize_max(r.cam[i]), normalize_max(F.relu(cam)), atol=1e-5, rtol=1e-4)


# ----------------------------------------------------------------- captum as an oracle


def _captum_gradcam(model, layer_module, x, target):
    from captum.attr import LayerGradCam

    x = x.clone().requires_grad_(True)
    attr = LayerGradCam(model, layer_module).attribute(x, target=target, relu_attributions=True)
    return attr[:, 0].detach()


def test_matches_captum_on_lenet(lenet):
    torch.manual_seed(3)
    x = torch.rand(4, 1, 28, 28)
    for target in [0, 3, 9]:
        ours = GradCAM(lenet, "conv2")(x, target=target)
        theirs = _captum_gradcam(lenet, lenet.conv2, x, target)
        assert ours.cam.shape == (4, 8, 8)
        assert ours.cam.abs().max() > 0
        torch.testing.assert_close(ours.cam, theirs, atol=1e-6, rtol=1e-5)


def test_matches_captum_on_resnet18(resnet):
    torch.manual_seed(4)
    x = torch.randn(2, 3, 224, 224)
    for layer in ["layer3", "layer4"]:
        ours = GradCAM(resnet, layer)(x, target=281)
        theirs = _captum_gradcam(resnet, resnet.get_submodule(layer), x, 281)
        assert ours.cam.abs().max() > 0
        torch.testing.assert_close(ours.cam, theirs, atol=1e-5, rtol=1e-4)


# ----------------------------------------------------------------- in-place ops, mode, flags


def test_inplace_relu_after_hooked_layer_keeps_raw_activations(lenet):
    torch.manual_seed(5)
    x = torch.rand(2, 1, 28, 28)
    r = GradCAM(lenet, "conv2")(x, target=1)
    with torch.no_grad():
        expected = lenet.conv2(lenet.pool1(F.relu(lenet.conv1((x - 0.1307) / 0.3081))))
    # conv2 is followed by an in-place ReLU: the recorded activations must keep their negatives
    assert (r.activations < 0).any()
    torch.testing.assert_close(r.activations, expected, atol=1e-5, rtol=1e-5)
    # and the logits are the model's own
    with torch.inference_mode():
        torch.testing.assert_close(r.logits, lenet(x))


def test_model_state_restored_and_grads_untouched():
    torch.manual_seed(6)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Conv2d(4, 6, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3),
    )
    model.train()
    model[1].eval()  # a mixed state must come back exactly
    model[0].weight.requires_grad_(False)
    before_modes = [m.training for m in model.modules()]
    before_flags = [p.requires_grad for p in model.parameters()]
    before_values = [p.detach().clone() for p in model.parameters()]
    before_buffers = [b.detach().clone() for b in model.buffers()]
    x = torch.randn(2, 3, 16, 16)
    r1 = GradCAM(model, "4")(x, target=2)
    r2 = GradCAM(model, "4")(x, target=2)
    # eval mode during the call: dropout off, so two calls agree exactly
    torch.testing.assert_close(r1.cam, r2.cam, atol=0, rtol=0)
    assert [m.training for m in model.modules()] == before_modes
    assert [p.requires_grad for p in model.parameters()] == before_flags
    assert all(p.grad is None for p in model.parameters())
    for a, b in zip(before_values, model.parameters()):
        assert torch.equal(a, b)
    for a, b in zip(before_buffers, model.buffers()):  # BatchNorm running stats untouched
        assert torch.equal(a, b)


class _CountBackward(torch.autograd.Function):
    calls = 0

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        _CountBackward.calls += 1
        return g


class _Probe(nn.Module):
    def forward(self, x):
        return _CountBackward.apply(x)


def test_backward_stops_at_hooked_layer():
    torch.manual_seed(7)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), _Probe(), nn.ReLU(), nn.Conv2d(4, 5, 3), nn.ReLU(), _Probe(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 2),
    ).eval()
    x = torch.randn(1, 3, 12, 12, requires_grad=True)
    _CountBackward.calls = 0
    GradCAM(model, "3")(x)
    assert _CountBackward.calls == 1  # only the probe after the hooked layer saw a backward
    assert x.grad is None
    assert all(p.grad is None for p in model.parameters())


def test_works_inside_inference_mode_and_no_grad(lenet):
    x = torch.rand(1, 1, 28, 28)
    ref = GradCAM(lenet, "conv2")(x)
    with torch.inference_mode():
        a = GradCAM(lenet, "conv2")(x.clone())
    with torch.no_grad():
        b = GradCAM(lenet, "conv2")(x)
    torch.testing.assert_close(a.cam, ref.cam)
    torch.testing.assert_close(b.cam, ref.cam)
    assert torch.is_grad_enabled()


# ----------------------------------------------------------------- several targets, one forward


def test_several_targets_from_one_forward(lenet):
    calls = []
    h = lenet.conv1.register_forward_hook(lambda *a: calls.append(1))
    try:
        x = torch.rand(2, 1, 28, 28)
        cam = GradCAM(lenet, "conv2")
        many = cam.explain_many(x, [0, 4, None])
        assert len(calls) == 1
        top = cam.topk(x, k=3)
        assert len(calls) == 2
    finally:
        h.remove()
    for t, r in zip([0, 4, None], many):
        single = cam(x, target=t)
        torch.testing.assert_close(r.cam, single.cam, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(r.weights, single.weights, atol=1e-7, rtol=1e-5)
    order = single.logits.topk(3, dim=1).indices
    for i, r in enumerate(top):
        assert torch.equal(r.targets, order[:, i])


# ----------------------------------------------------------------- concurrency


def test_concurrent_calls_equal_sequential(resnet, lenet):
    torch.manual_seed(8)
    jobs = []
    for i in range(12):
        if i % 2:
            jobs.append((lenet, "conv2", torch.rand(1, 1, 28, 28), i % 10))
        else:
            jobs.append((resnet, ["layer3", "layer4"][i % 4 // 2], torch.randn(1, 3, 96, 96), [None, 5, 500][i % 3]))
    sequential = [GradCAM(m, layer)(x, target=t) for m, layer, x, t in jobs]
    results: dict[int, object] = {}
    errors = []
    barrier = threading.Barrier(6)

    def worker(idx):
        try:
            barrier.wait()
            for j in range(idx, len(jobs), 6):
                m, layer, x, t = jobs[j]
                results[j] = GradCAM(m, layer)(x, target=t)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for j, ref in enumerate(sequential):
        got = results[j]
        assert got.layer == ref.layer and torch.equal(got.targets, ref.targets)
        torch.testing.assert_close(got.activations, ref.activations, atol=0, rtol=0)
        torch.testing.assert_close(got.cam, ref.cam, atol=1e-6, rtol=1e-5)
    # no hook survives a call
    for m in (resnet, lenet):
        assert all(not mod._forward_hooks for mod in m.modules())


# ----------------------------------------------------------------- bad input


def _refused(fn, *args, **kwargs) -> Refusal:
    with pytest.raises(Refusal) as info:
        fn(*args, **kwargs)
    return info.value


def test_bad_layer_target_and_shape(lenet):
    """Each refusal is a code and its numbers; the sentence comes from the catalogue."""
    err = _refused(GradCAM, lenet, "conv9")
    assert err.key == "error.engine.unknown_layer" and err.values["layer"] == "conv9"
    assert "conv2" in err.values["choices"].split(", ")
    assert text_of(err) == say("error.engine.unknown_layer", layer="conv9", choices=err.values["choices"])
    assert "'conv9'" in text_of(err) and "conv2" in text_of(err)
    assert _refused(GradCAM, lenet, nn.Conv2d(1, 1, 1)).key == "error.engine.layer_not_in_model"
    assert _refused(GradCAM, lenet, 3).values == {"type": "int"}
    cam = GradCAM(lenet, lenet.conv2)  # by module
    assert cam.layer_name == "conv2"
    x = torch.rand(1, 1, 28, 28)
    err = _refused(cam, x, target=10)
    assert (err.key, err.values) == ("error.engine.target_range", {"target": 10, "classes": 10, "last": 9})
    assert text_of(err) == "target 10 is out of range: this model has 10 classes (valid: 0 to 9)."
    assert _refused(cam, x, target=-1).values == {"target": -1, "classes": 10, "last": 9}
    err = _refused(cam, x, target="3")
    assert (err.key, err.values) == ("error.engine.target_type", {"target": "3"})
    assert text_of(err) == "target must be an int class index or None, not '3'."
    err = _refused(cam, torch.rand(1, 28, 28))
    assert (err.key, err.values) == ("error.engine.input_shape", {"shape": (1, 28, 28)})
    err = _refused(cam, torch.rand(1, 3, 28, 28))
    assert err.key == "error.engine.model_failed" and err.values["shape"] == (1, 3, 28, 28)
    assert text_of(err).startswith("The model could not run on an input of shape (1, 3, 28, 28): ")
    err = _refused(cam, x, target=[1, 2])
    assert (err.key, err.values) == ("error.engine.target_count", {"targets": 2, "inputs": 1})
    assert text_of(err) == "Got 2 targets for a batch of 1 inputs; give one per input, or one int."
    err = _refused(GradCAM(lenet, "fc1"), x)
    assert (err.key, err.values) == ("error.engine.not_a_map", {"layer": "fc1", "shape": (1, 120)})
    assert text_of(err) == "Layer 'fc1' outputs shape (1, 120); a CAM needs a (N, K, h, w) feature map."
    assert _refused(cam, x.long()).values == {"dtype": "torch.int64"}
    assert _refused(cam.explain_many, x, []).key == "error.engine.no_target"
    assert all(not mod._forward_hooks for mod in lenet.modules())


# ----------------------------------------------------------------- helpers


def test_upsample_and_normalisations():
    cam = torch.tensor([[0.0, 1.0], [2.0, 4.0]])
    up = upsample(cam, (8, 8))
    assert up.shape == (8, 8)
    torch.testing.assert_close(up, F.interpolate(cam[None, None], size=(8, 8), mode="bilinear", align_corners=False)[0, 0])
    torch.testing.assert_close(normalize_max(cam), cam / 4)
    weak = cam + 10
    torch.testing.assert_close(normalize_minmax(weak), torch.tensor([[0.0, 0.25], [0.5, 1.0]]))
    # max keeps the offset visible, min-max hides it: they show different things
    assert normalize_max(weak).min() > 0.7
    assert torch.equal(normalize_max(torch.zeros(3, 3)), torch.zeros(3, 3))
    assert torch.equal(normalize_minmax(torch.ones(2, 3, 3)), torch.zeros(2, 3, 3))
    r = GradCAM(GapNet().eval(), "relu2")(torch.randn(1, 3, 6, 6))
    assert r.upsampled().shape == (1, 6, 6)


# ----------------------------------------------------------------- other methods vs pytorch-grad-cam


@pytest.mark.parametrize(
    "ours,theirs",
    [
        ("Grad-CAM", "GradCAM"),
        ("Grad-CAM++", "GradCAMPlusPlus"),
        ("XGrad-CAM", "XGradCAM"),
        ("HiResCAM", "HiResCAM"),
        ("LayerCAM", "LayerCAM"),
        ("Score-CAM", "ScoreCAM"),
        ("Eigen-CAM", "EigenCAM"),
    ],
)
def test_methods_match_pytorch_grad_cam(ours, theirs):
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    torch.manual_seed(9)
    model = GapNet(k=8, classes=4, inplace=False).eval()
    # positive, varied inputs give maps with real structure on this small model
    x = torch.rand(2, 3, 10, 10) * 2
    target = 2
    r = make_cam(ours, model, "relu2")(x, target=target)
    ref_cls = getattr(pytorch_grad_cam, theirs)
    with ref_cls(model=model, target_layers=[model.relu2]) as ref:
        if theirs == "ScoreCAM":
            ref.batch_size = 16
        expected = ref(input_tensor=x, targets=[ClassifierOutputTarget(target)] * 2)
    got = normalize_minmax(r.cam).numpy()
    if theirs == "EigenCAM":
        # the principal component's sign is arbitrary; ours is fixed, theirs is not
        alt = normalize_minmax(F.relu(-r.weighted)).numpy()
        assert min(np.abs(got - expected).max(), np.abs(alt - expected).max()) < 1e-4
        return
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_counterfactual_is_gradcam_of_negated_gradients(lenet):
    x = torch.rand(1, 1, 28, 28)
    g = GradCAM(lenet, "conv2")(x, target=4)
    c = make_cam("Counterfactual", lenet, "conv2")(x, target=4)
    torch.testing.assert_close(c.weights, -g.weights)
    torch.testing.assert_close(c.weighted, -g.weighted)
    torch.testing.assert_close(c.cam, F.relu(-g.weighted))


def test_every_method_runs_on_every_lenet_layer(lenet):
    x = torch.rand(1, 1, 28, 28)
    for name in METHODS:
        for layer in ["conv1", "relu1", "pool1", "conv2", "relu2"]:
            r = make_cam(name, lenet, layer, batch_size=8)(x, target=3)
            assert r.cam.shape[0] == 1 and torch.isfinite(r.cam).all(), (name, layer)
            assert (r.cam >= 0).all()
    with pytest.raises(ValueError) as info:  # a Refusal: the key and the numbers, worded by present
        make_cam("Magic-CAM", lenet, "conv2")
    assert info.value.key == "method.refusal.unknown"
    assert info.value.values == {"method": "Magic-CAM", "choices": ", ".join(METHODS)}
