"""Guided backprop / Guided Grad-CAM: values, thread isolation, model untouched."""
from __future__ import annotations

import copy
import threading

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from gradcam_core import normalize_max, upsample
from gradcam_core.cam.engine import GradCAM
from gradcam_core.cam.guided import SANITY_MAPS, GuidedGradCAM, guided_backprop, guided_image
from gradcam_core.cam.methods import METHODS, make_cam

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return torchvision.models.resnet18().eval()


def test_matches_pytorch_grad_cam_guided_backprop(resnet):
    from pytorch_grad_cam import GuidedBackpropReLUModel

    torch.manual_seed(1)
    x = torch.randn(1, 3, 64, 64)
    ours = guided_backprop(resnet, x, torch.tensor([5]))
    oracle_model = copy.deepcopy(resnet)  # the oracle calls .backward() and fills .grad
    ref = GuidedBackpropReLUModel(oracle_model, device="cpu")(x.clone(), target_category=5)
    assert np.abs(ref).max() > 0
    np.testing.assert_allclose(ours[0].permute(1, 2, 0).numpy(), ref, atol=1e-7)


class _Tiny(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.l1 = nn.Linear(6, 5)
        self.act = act
        self.l2 = nn.Linear(5, 3)

    def forward(self, x):
        return self.l2(self.act(self.l1(x.flatten(1))))


@pytest.mark.parametrize("act,hi", [(nn.ReLU(inplace=True), None), (nn.ReLU6(inplace=True), 6.0),
                                    (lambda t: F.relu(t), None), (lambda t: t.relu(), None)])
def test_guided_rule_by_hand(act, hi):
    torch.manual_seed(2)
    m = _Tiny(act)
    with torch.no_grad():
        m.l1.weight.mul_(8)  # some pre-activations above 6, some below 0
    x = torch.randn(1, 1, 2, 3)
    z = m.l1(x.flatten(1)).detach()[0]
    w2 = m.l2.weight.detach()[1]  # d score / d hidden for class 1
    gate = (z > 0) if hi is None else (z > 0) & (z < hi)
    expected = (m.l1.weight.detach().T @ (w2.clamp(min=0) * gate)).reshape(1, 1, 2, 3)
    got = guided_backprop(m, x, torch.tensor([1]))
    torch.testing.assert_close(got, expected)


def test_guided_gradcam_is_product_and_model_untouched(resnet):
    x = torch.randn(2, 3, 64, 64)
    before = {k: v.clone() for k, v in resnet.state_dict().items()}
    r = GuidedGradCAM(resnet, "layer4")(x, target=[3, 7])
    gb, ggc = r.extras["guided_backprop"], r.extras["guided_gradcam"]
    mask = normalize_max(upsample(r.cam, (64, 64)))
    torch.testing.assert_close(ggc, gb * mask[:, None])
    assert torch.equal(gb, guided_backprop(resnet, x, torch.tensor([3, 7])))
    assert r.targets.tolist() == [3, 7] and r.method == "Guided Grad-CAM"
    plain = GradCAM(resnet, "layer4")(x, target=[3, 7])  # its map and weights are Grad-CAM's
    assert torch.equal(r.cam, plain.cam) and torch.equal(r.weights, plain.weights)
    assert all(p.grad is None for p in resnet.parameters())
    assert all(not m._forward_hooks and not m._backward_hooks for m in resnet.modules())
    for k, v in resnet.state_dict().items():
        assert torch.equal(v, before[k])
    img = guided_image(ggc[0])
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8 and img.std() > 0


def test_other_threads_see_ordinary_relus(resnet):
    """While one thread runs guided backprop, another thread's plain gradients are unchanged."""
    torch.manual_seed(3)
    xs = [torch.randn(1, 3, 48, 48) for _ in range(6)]

    def plain_grad(x):
        with torch.enable_grad():
            inp = x.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(resnet(inp)[0, 1], inp)
        return g

    expected_plain = [plain_grad(x) for x in xs]
    expected_guided = [guided_backprop(resnet, x, torch.tensor([1])) for x in xs]
    got_plain, got_guided, errors = {}, {}, []
    barrier = threading.Barrier(2)

    def run(kind):
        try:
            barrier.wait()
            for i, x in enumerate(xs):
                if kind == "plain":
                    got_plain[i] = plain_grad(x)
                else:
                    got_guided[i] = guided_backprop(resnet, x, torch.tensor([1]))
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in ("plain", "guided")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(len(xs)):
        torch.testing.assert_close(got_plain[i], expected_plain[i], atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(got_guided[i], expected_guided[i], atol=1e-6, rtol=1e-5)
        assert not torch.allclose(expected_plain[i], expected_guided[i])


def test_guided_gradcam_is_a_registered_method(resnet):
    """make_cam builds it by name like any other; one guided pass serves several targets."""
    assert METHODS["Guided Grad-CAM"] is GuidedGradCAM and SANITY_MAPS[:2] == ("Grad-CAM", "Guided Grad-CAM")
    x = torch.randn(1, 3, 48, 48)
    cam = make_cam("Guided Grad-CAM", resnet, "layer4", batch_size=8, progress=print)  # Score-CAM options ignored
    a, b = cam.explain_many(x, [3, 7])
    for r, t in ((a, 3), (b, 7)):
        torch.testing.assert_close(r.extras["guided_backprop"], guided_backprop(resnet, x, torch.tensor([t])))
        mask = normalize_max(upsample(r.cam, (48, 48)))
        assert torch.equal(r.extras["guided_gradcam"], r.extras["guided_backprop"] * mask[:, None])
    assert not torch.equal(a.extras["guided_backprop"], b.extras["guided_backprop"])
