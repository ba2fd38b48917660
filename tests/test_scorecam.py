"""Score-CAM on a channel subset ("Faster Score-CAM") and exact Score-CAM: values, not timings.

The subset version keeps the top-k channels by spatial variance of their activation maps and
runs the masked forwards for those only; the others weigh 0.  With k >= K it is exact
Score-CAM, which is checked against pytorch-grad-cam.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from gradcam_core.services import imagenet as I
from gradcam_core.present import imagenet_view as view

from gradcam_core.cam import scorecam_budget as budget

from gradcam_core.present import imagenet_text as itext
from gradcam_core.data.examples import load_manifest
from gradcam_core.cam.methods import (
    SCORE_CAM_MAX_CHANNELS,
    ScoreCAM,
    ScoreCAMExact,
    make_cam,
    top_variance_channels,
)
from gradcam_core.base.errors import Refusal
from gradcam_core.present.method_texts import progress_text
from gradcam_core.present.words import say, text_of

def explain_photo(*args, steps=True, **kwargs):
    """Explain and draw, as the tab does (gradcam_core.services.imagenet.explain_photo returns raw results)."""
    return view.draw(I.explain_photo(*args, **kwargs), steps=steps)


def explain_source(*args, steps=True, **kwargs):
    return view.draw(I.explain_source(*args, **kwargs), steps=steps)


LITE = "efficientnet_lite0"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Net(nn.Module):
    """conv → ReLU → conv (K channels) → ReLU → global average pool → linear."""

    def __init__(self, k=12, classes=4):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(6, k, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.fc = nn.Linear(k, classes)

    def forward(self, x):
        return self.fc(self.relu2(self.conv2(self.relu1(self.conv1(x)))).mean(dim=(2, 3)))


K = 12


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(3)
    return Net(k=K).eval()


@pytest.fixture(scope="module")
def x():
    torch.manual_seed(4)
    return torch.rand(2, 3, 10, 10) * 2


@pytest.fixture(scope="module")
def exact(net, x):
    return ScoreCAMExact(net, "relu2", batch_size=5)(x, target=1)


def _masked_score(model, x1, act1, target):
    """One channel's masked score, written out: upsample, min-max scale, mask, forward."""
    up = F.interpolate(act1[None, None], size=x1.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    m = (up - up.min()) / (up.max() - up.min())
    with torch.no_grad():
        return float(model((x1 * m)[None])[0, target])


def test_exact_score_cam_matches_pytorch_grad_cam(net, x, exact):
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    with pytorch_grad_cam.ScoreCAM(model=net, target_layers=[net.relu2]) as ref:
        ref.batch_size = 16
        expected = ref(input_tensor=x, targets=[ClassifierOutputTarget(1)] * 2)
    cam = exact.cam
    lo, hi = cam.amin(dim=(1, 2), keepdim=True), cam.amax(dim=(1, 2), keepdim=True)
    got = ((cam - lo) / (hi - lo)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_masked_scores_are_the_forwards_of_the_masked_inputs(net, x, exact):
    for i in range(2):
        for c in (0, 5, 11):
            assert exact.extras["masked_scores"][i, c].item() == pytest.approx(
                _masked_score(net, x[i], exact.activations[i, c], 1), abs=1e-5)
    torch.testing.assert_close(exact.weights, torch.softmax(exact.extras["masked_scores"], dim=1))


@pytest.mark.parametrize("k", [K, K + 7, 1000])
def test_k_at_least_K_is_exact_score_cam(net, x, exact, k):
    r = ScoreCAM(net, "relu2", batch_size=5, max_channels=k)(x, target=1)
    torch.testing.assert_close(r.weights, exact.weights, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(r.cam, exact.cam, rtol=1e-5, atol=1e-6)
    assert r.extras["kept_channels"].tolist() == [list(range(K))] * 2
    assert not torch.isnan(r.extras["masked_scores"]).any()


def test_small_k_keeps_exactly_the_top_k_by_variance_and_zeroes_the_rest(net, x, exact):
    k = 4
    r = ScoreCAM(net, "relu2", batch_size=3, max_channels=k)(x, target=1)
    acts = r.activations.numpy()
    for i in range(2):
        var = acts[i].reshape(K, -1).var(axis=1)
        expected = sorted(range(K), key=lambda c: (-var[c], c))[:k]  # largest first, ties: lower index
        kept = r.extras["kept_channels"][i].tolist()
        assert kept == expected
        rest = [c for c in range(K) if c not in kept]
        assert (r.weights[i, rest] == 0).all()
        assert (r.weights[i, kept] > 0).all()
        assert torch.isnan(r.extras["masked_scores"][i, rest]).all()
        # a kept channel's masked score is the same forward as in the exact run
        torch.testing.assert_close(r.extras["masked_scores"][i, kept], exact.extras["masked_scores"][i, kept])
    assert r.weights.sum(dim=1).tolist() == pytest.approx([1.0, 1.0], abs=1e-6)


def test_the_map_is_the_weighted_sum_over_the_kept_channels(net, x):
    r = ScoreCAM(net, "relu2", batch_size=3, max_channels=5)(x, target=2)
    for i in range(2):
        kept = r.extras["kept_channels"][i]
        w = torch.softmax(r.extras["masked_scores"][i, kept], dim=0)
        direct = sum(w[j] * r.activations[i, c] for j, c in enumerate(kept.tolist()))
        torch.testing.assert_close(r.weighted[i], direct, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(r.cam[i], torch.relu(direct), rtol=1e-5, atol=1e-6)


def test_subset_softmax_is_the_full_softmax_times_one_constant_on_the_kept_channels(net, x, exact):
    """w_subset(c) = w_exact(c) × Z_all / Z_kept for every kept c (the docstring's statement)."""
    r = ScoreCAM(net, "relu2", max_channels=5)(x, target=1)
    s = exact.extras["masked_scores"]
    for i in range(2):
        kept = r.extras["kept_channels"][i]
        ratio = r.weights[i, kept] / exact.weights[i, kept]
        z_all, z_kept = torch.exp(s[i]).sum(), torch.exp(s[i, kept]).sum()
        torch.testing.assert_close(ratio, torch.full_like(ratio, float(z_all / z_kept)), rtol=1e-5, atol=0)
        assert float(z_all / z_kept) > 1.0
        # so the subset map is the exact map's kept part, scaled by that constant
        part = torch.einsum("k,khw->hw", exact.weights[i, kept], exact.activations[i, kept])
        torch.testing.assert_close(r.weighted[i], part * z_all / z_kept, rtol=1e-5, atol=1e-6)


def test_ties_in_variance_keep_the_lower_channel_first():
    a = torch.zeros(1, 5, 3, 3)
    a[0, [1, 3, 4], 0, 0] = 2.0  # equal variance
    a[0, 2, 0, 0] = 5.0  # largest
    assert top_variance_channels(a, 3).tolist() == [[2, 1, 3]]
    assert top_variance_channels(a, None).tolist() == [[0, 1, 2, 3, 4]]
    assert top_variance_channels(a, 9).tolist() == [[0, 1, 2, 3, 4]]


def test_progress_and_plan(net, x):
    seen, plans = [], []
    ScoreCAM(net, "relu2", batch_size=3, max_channels=5, progress=lambda done, total: seen.append((done, total)),
             on_plan=lambda *a: plans.append(a))(x, target=0)
    assert plans == [(10, 5, K)]  # 2 images × 5 kept channels, of 12
    assert seen == [(3, 10), (5, 10), (8, 10), (10, 10)]  # batches of 3 within each image: reaches 10/10
    assert progress_text(10, 10, 5, K) == say("method.progress_top", done=10, total=10, kept=5, channels=K)
    assert progress_text(10, 10, 5, K) == "Score-CAM: 10/10 masked forwards (top 5 of 12 channels)"
    seen.clear()
    ScoreCAMExact(net, "relu2", batch_size=K, progress=lambda done, total: seen.append((done, total)))(x[:1], target=0)
    assert seen == [(K, K)]
    assert progress_text(K, K, K, K) == say("method.progress_all", done=K, total=K, kept=K, channels=K)
    assert progress_text(K, K, K, K) == "Score-CAM: 12/12 masked forwards (all 12 channels)"


def test_make_cam_names_and_defaults(net):
    fast, ex = make_cam("Score-CAM", net, "relu2"), make_cam("Score-CAM (exact)", net, "relu2")
    assert type(fast) is ScoreCAM and fast.max_channels == SCORE_CAM_MAX_CHANNELS
    assert type(ex) is ScoreCAMExact and ex.max_channels is None
    assert make_cam("Score-CAM", net, "relu2", max_channels=None).max_channels is None
    # the Score-CAM-only options are ignored by the other methods
    make_cam("Grad-CAM", net, "relu2", batch_size=4, progress=print, max_channels=3, on_plan=print)
    with pytest.raises(Refusal) as info:
        ScoreCAM(net, "relu2", max_channels=0)
    assert (info.value.key, info.value.values) == ("method.refusal.max_channels", {"value": 0})
    assert text_of(info.value) == "max_channels must be at least 1 (or None for exact Score-CAM), not 0."
    with pytest.raises(Refusal) as info:
        ScoreCAM(net, "relu2", batch_size=0)
    assert (info.value.key, info.value.values) == ("method.refusal.batch_size", {"value": 0})
    assert text_of(info.value) == say("method.refusal.batch_size", value=0)


def test_slow_methods():
    assert budget.is_slow_method("Score-CAM") and budget.is_slow_method(budget.SCORE_CAM_EXACT)
    assert not any(budget.is_slow_method(m) for m in ("Grad-CAM", "Eigen-CAM", I.GUIDED, "", None, "nonsense"))
    assert {"Score-CAM", "Score-CAM (exact)"} <= set(I.method_names())
    from gradcam_core.cli import resolve_method

    assert resolve_method("score-cam-exact") == "Score-CAM (exact)"
    assert resolve_method("scorecam") == "Score-CAM"


def test_the_notes_state_the_measured_cost_and_the_softmax():
    k, spf = budget.SCORE_CAM_MAX_CHANNELS, budget.SCORE_CAM_SECONDS_PER_FORWARD
    channels = budget.SCORE_CAM_REFERENCE[2]
    fast, ex = itext.METHOD_NOTES["Score-CAM"], itext.METHOD_NOTES[budget.SCORE_CAM_EXACT]
    assert budget.score_cam_seconds("Score-CAM") == pytest.approx(k * spf)
    assert budget.score_cam_seconds(budget.SCORE_CAM_EXACT) == pytest.approx(channels * spf)
    assert budget.score_cam_forwards("Score-CAM", 16) == min(16, k)
    assert budget.score_cam_forwards("Score-CAM", 1280) == k and budget.score_cam_forwards(budget.SCORE_CAM_EXACT, 1280) == 1280
    with pytest.raises(Refusal):  # a method with no masked forwards has no Score-CAM cost
        budget.score_cam_forwards("Grad-CAM", 16)
    assert [budget.format_duration(s) for s in (0.4, 47, 119.4, 120, 3000)] == ["0 s", "47 s", "119 s", "2.0 min", "50.0 min"]
    assert f"top {k} of the layer's channels" in fast and f"{k} extra forward passes" in fast
    assert f"about {k * spf:.0f} s" in fast and f"{spf * 1e3:.0f} ms" in fast
    assert "1\u202f280 extra forward passes" in ex and f"about {channels * spf:.0f} s" in ex
    for note in (fast, ex):
        assert "softmax" in note and "becomes that channel's weight" not in note
    mean, low, photos = budget.SCORE_CAM_RHO
    assert f"Spearman ρ {mean:.2f} on average (lowest {low:.2f})" in fast and f"On {photos} of the example photos" in fast
    assert photos >= 8 and low <= mean and mean >= 0.9


# ------------------------------------------------------------- through the ImageNet service


@pytest.fixture(scope="module")
def cat():
    path = next(e["path"] for e in load_manifest() if e["file"].endswith("chelsea_cat.jpg"))
    return I.load_photo(path)


def test_both_score_cams_through_explain_photo(cat, monkeypatch):
    """On the 16-channel first stage; the default subset made 4 so that it differs from exact."""
    monkeypatch.setattr(ScoreCAM, "DEFAULT_MAX_CHANNELS", 4)
    seen = {}
    out = {}
    for method in ("Score-CAM", budget.SCORE_CAM_EXACT):
        seen[method] = []
        e = explain_photo(cat, LITE, "_blocks.0", method, steps=False,
                            progress=lambda f, t, m=method: seen[m].append((f, t)), time_limit=600)
        assert e.method == method
        out[method] = e.result
    fast, exact = out["Score-CAM"], out[budget.SCORE_CAM_EXACT]
    assert seen["Score-CAM"][-1] == (1.0, "Score-CAM: 4/4 masked forwards (top 4 of 16 channels)")
    assert seen[budget.SCORE_CAM_EXACT][-1] == (1.0, "Score-CAM: 16/16 masked forwards (all 16 channels)")
    kept = fast.extras["kept_channels"][0]
    assert kept.tolist() == top_variance_channels(exact.activations, 4)[0].tolist()
    assert int((fast.weights[0] > 0).sum()) == 4
    torch.testing.assert_close(fast.extras["masked_scores"][0, kept], exact.extras["masked_scores"][0, kept],
                               rtol=1e-4, atol=1e-4)
    assert torch.isfinite(exact.cam).all() and float(exact.cam.max()) > 0


def test_exact_score_cam_too_slow_message_points_to_the_quick_one(cat, monkeypatch):
    monkeypatch.setattr(I, "SCORE_CAM_BATCH", 4)  # 16 channels → 4 batches; the first sets the estimate
    with pytest.raises(budget.TooSlowError) as info:
        explain_photo(cat, LITE, "_blocks.0", budget.SCORE_CAM_EXACT, time_limit=1e-6)
    err = info.value
    assert err.key == "method.too_slow.exact"
    assert {k: err.values[k] for k in ("method", "what", "forwards", "kept", "channels", "quick")} == {
        "method": "Score-CAM (exact)", "what": "_blocks.0 of EfficientNet-Lite0", "forwards": 16, "kept": 16,
        "channels": 16, "quick": 16}
    assert err.values["estimate"] > err.values["limit"] == 1e-6
    msg = text_of(err)
    assert msg == say(err.key, **err.values)
    assert msg.startswith("Score-CAM (exact) on _blocks.0 of EfficientNet-Lite0 needs 16 masked forward passes")
    assert "Pick “Score-CAM” (the top 16 channels" in msg
    monkeypatch.setattr(ScoreCAM, "DEFAULT_MAX_CHANNELS", 8)
    with pytest.raises(budget.TooSlowError) as info:
        explain_photo(cat, LITE, "_blocks.0", "Score-CAM", time_limit=1e-6)
    err = info.value
    assert err.key == "method.too_slow.top" and (err.values["forwards"], err.values["kept"], err.values["channels"]) == (8, 8, 16)
    assert "needs 8 masked forward passes (the top 8 of 16 channels)" in text_of(err)


@pytest.mark.parametrize("method,plan,key", [
    ("Score-CAM", (96, 96, 1280), "method.too_slow.top"),
    ("Score-CAM", (16, 16, 16), "method.too_slow.all"),
    ("Score-CAM (exact)", (1280, 1280, 1280), "method.too_slow.exact"),
    ("Score-CAM", None, "method.too_slow.unplanned"),
    ("Score-CAM (exact)", None, "method.too_slow.unplanned"),
])
def test_too_slow_branch_follows_the_plan(method, plan, key):
    """Each sentence of the too-slow refusal, chosen by the numbers of the plan, and its durations
    extrapolated from the pace (1 of 4 batches after 10 s: 40 s in all; exact: 96 of 1280 → 3 s)."""
    guard = budget.TimeGuard(None, 30.0, "layer of Model", method)
    if plan:
        guard.plan(*plan)
    err = guard.refusal(40.0)
    assert isinstance(err, Refusal) and err.key == key
    text = text_of(err)
    assert text == say(key, **err.values)
    assert text.startswith(f"{method} on layer of Model needs ") and "about 40 s on this server, more than the 30 s allowed" in text
    if key == "method.too_slow.top":
        assert "96 masked forward passes (the top 96 of 1280 channels)" in text
    if key == "method.too_slow.exact":
        assert err.values["quick"] == 96 and float(err.values["quick_estimate"]) == pytest.approx(40.0 * 96 / 1280)
        assert "Pick “Score-CAM” (the top 96 channels: about 3 s at this pace)" in text
    else:
        assert text.endswith("Pick an earlier layer (fewer channels) or another method.")
    if plan is None:
        assert "one masked forward pass per channel" in text


def test_time_guard_words_its_progress_through_present():
    seen = []
    guard = budget.TimeGuard(lambda f, t: seen.append((f, t)), None, "x", "Score-CAM")
    guard.plan(10, 5, 12)
    guard(5, 10)
    assert seen == [(0.5, progress_text(5, 10, 5, 12))]
    own = budget.TimeGuard(lambda f, t: seen.append((f, t)), None, "x", describe=lambda *n: repr(n))
    own.plan(10, 5, 12)
    own(10, 10)
    assert seen[-1] == (1.0, "(10, 10, 5, 12)")
