"""ImageNet service layer (gradcam_core.services.imagenet): values, not pictures.

EfficientNet-Lite0 has real weights offline; ResNet-18 runs on a random-weight file saved in
torchvision's format into a temporary weights folder (the maths does not care about the values).
"""
from __future__ import annotations

import re


import numpy as np
import pytest
import torch
from PIL import Image

from gradcam_core.present.words import say, text_of
from gradcam_core.services import imagenet as I

from gradcam_core.cam import scorecam_budget as budget

from gradcam_core.ui import files as outfiles

from gradcam_core.present import imagenet_view as view
from gradcam_core.models import registry as M
from gradcam_core.models import weights as W
from gradcam_core.data.images import ImageError
from gradcam_core.data.examples import load_manifest
from gradcam_core.present import imagenet_text as itext
from hostile import bomb_header_png


def explain_photo(*args, steps=True, **kwargs):
    """Explain and draw, as the tab does (gradcam_core.services.imagenet.explain_photo returns raw results)."""
    return view.draw(I.explain_photo(*args, **kwargs), steps=steps)


def explain_source(*args, steps=True, **kwargs):
    return view.draw(I.explain_source(*args, **kwargs), steps=steps)


LITE = "efficientnet_lite0"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module", autouse=True)
def weights_dir(tmp_path_factory):
    """A weights folder holding only a random ResNet-18; empty torch hub cache; no downloads."""
    d = tmp_path_factory.mktemp("weights")
    W.save_random_weights("resnet18", d)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(W.WEIGHTS_DIR_ENV, str(d))
        mp.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
        mp.delenv(W.ALLOW_DOWNLOAD_ENV, raising=False)
        yield d


def _example(name: str) -> dict:
    return next(e for e in load_manifest() if e["file"].endswith(name))


@pytest.fixture(scope="module")
def cat():
    return I.load_photo(_example("chelsea_cat.jpg")["path"])


class ForwardCounter:
    """Counts calls of the model's top-level forward."""

    def __init__(self, model):
        self.model, self.n = model, 0

    def __enter__(self):
        self.h = self.model.register_forward_hook(lambda *a: setattr(self, "n", self.n + 1))
        return self

    def __exit__(self, *exc):
        self.h.remove()


# --------------------------------------------------------------------------- models, layers, classes
def test_model_status_lists_every_model_with_a_reason():
    status = {s["key"]: s for s in I.model_status()}
    assert set(status) == set(M.REGISTRY)
    assert status[LITE]["available"] and status["resnet18"]["available"]
    r50 = status["resnet50"]
    assert not r50["available"]
    assert "python -m gradcam_core weights download resnet50" in r50["status"]
    labels = dict((k, lab) for lab, k in I.model_choices())
    assert labels["resnet50"].endswith("unavailable") and labels[LITE] == "EfficientNet-Lite0"
    assert "ResNet-50" in I.unavailable_note() and "ResNet-18" not in I.unavailable_note()


def test_layer_choices_show_map_sizes():
    assert ("layer4 · 7×7", "layer4") in I.layer_choices("resnet18")
    assert ("stage 1 · 112×112", "_blocks.0") in I.layer_choices(LITE)


def test_find_and_parse_classes():
    names = [n for _, n in I.find_classes("cat")]
    assert names[0] == "tiger cat" and "Egyptian cat" in names and "tabby" not in names
    assert I.find_classes("207") == [(207, "golden retriever")]
    assert len(I.find_classes("")) == 1000
    assert I.parse_class("207 · golden retriever") == 207
    assert I.parse_class("Golden Retriever") == 207 and I.parse_class(281) == 281
    assert I.parse_class("predicted") is None and I.parse_class(None) is None
    for bad, needle in [("xyzzy", "No ImageNet class"), (1000, "0 to 999"),
                        ("cat", "pick one"), ("terrier", "matches")]:
        with pytest.raises(ValueError, match=needle):
            I.parse_class(bad)
    assert len(I.class_choices()) == 1000 and I.class_choices()[207] == "207 · golden retriever"


# --------------------------------------------------------------------------- every layer, every method
@pytest.mark.parametrize("key", [LITE, "resnet18"])
def test_every_listed_layer_gives_a_map_of_the_advertised_size(cat, key):
    spec = M.get_model(key)
    for info in spec.layers:
        e = explain_photo(cat, key, info.name, "Grad-CAM")
        r = e.result
        assert tuple(r.cam.shape[-2:]) == tuple(info.size), info.name
        assert torch.isfinite(r.cam).all() and r.cam.min() >= 0
        assert e.image.shape == (224, 224, 3) and e.overlays[0].shape == (224, 224, 3)
        assert list(e.steps) == ["features", "gradients", "average", "weights", "weighted", "relu", "upsample",
                                 "overlay"]
        assert e.numbers["cam_shape"] == list(info.size)
        assert (e.numbers["cam"] is None) == (info.size[0] * info.size[1] > view.JSON_MAX_CELLS)


def test_every_method_runs_on_lite0(cat):
    spec = M.get_model(LITE)
    calls = []
    grad_cam = explain_photo(cat, LITE, spec.default_layer, "Grad-CAM", steps=False)
    for method in I.method_names():
        # Score-CAM costs one forward per (kept) channel: run both kinds on the 16-channel first stage
        layer = "_blocks.0" if budget.is_slow_method(method) else spec.default_layer
        e = explain_photo(cat, LITE, layer, method, progress=lambda f, t: calls.append(f))
        r = e.result
        assert tuple(r.cam.shape[-2:]) == spec.layer(layer).size
        assert torch.isfinite(r.weighted).all(), method
        if method == "Counterfactual":  # negated gradients: the mirror image of Grad-CAM's signed map
            torch.testing.assert_close(r.weighted, -grad_cam.result.weighted)
        else:
            assert float(r.cam.max()) > 0, method
        assert e.method == method and method.split()[0] in itext.steps_markdown(e)
        assert ("average" in e.steps) == (method in ("Grad-CAM", I.GUIDED)), method
        assert e.top5[0][1] in {"tiger cat", "Egyptian cat", "tabby"}
    assert calls and calls[-1] == pytest.approx(1.0)  # Score-CAM reported its progress
    assert I.GUIDED in I.method_names()


def test_a_score_cam_run_that_would_take_too_long_is_stopped_with_a_message(cat, monkeypatch):
    monkeypatch.setattr(I, "SCORE_CAM_BATCH", 4)  # 16 channels → 4 batches; the first one sets the estimate
    seen = []
    with pytest.raises(budget.TooSlowError) as info:
        explain_photo(cat, LITE, "_blocks.0", "Score-CAM", progress=lambda f, t: seen.append(f), time_limit=1e-6)
    from gradcam_core.present.words import text_of

    assert re.search(r"needs 16 masked forward passes.*earlier layer", text_of(info.value))
    assert seen == [0.25]  # stopped after the first batch
    e = explain_photo(cat, LITE, "_blocks.0", "Score-CAM", time_limit=600)  # a generous limit: runs
    assert e.result.cam.shape[-2:] == (112, 112)


def test_guided_gradcam_adds_its_two_pictures(cat):
    e = explain_photo(cat, LITE, None, I.GUIDED, target2="tabby")
    assert list(e.steps)[-2:] == ["guided_backprop", "guided_gradcam"]
    for v in e.views:
        assert v.guided_backprop.shape == v.guided_gradcam.shape == (224, 224, 3)
        assert v.guided_backprop.dtype == np.uint8
    # the Grad-CAM part is plain Grad-CAM
    g = explain_photo(cat, LITE, None, "Grad-CAM", target2="tabby")
    for a, b in zip(e.views, g.views):
        torch.testing.assert_close(a.result.cam, b.result.cam)


# --------------------------------------------------------------------------- Grad-CAM ∝ CAM
def _identity(cat, key, layer, fc):
    """Global average pooling + linear: alpha_k = W[c, k] / (h*w), hence weighted * h*w == CAM."""
    e = explain_photo(cat, key, layer, "Grad-CAM", target=None, target2=None, steps=False)
    r = e.result
    c = int(r.targets[0])
    h, w = r.cam.shape[-2:]
    cam = torch.einsum("k,khw->hw", fc.weight[c].detach(), r.activations[0])
    torch.testing.assert_close(r.weighted[0] * (h * w), cam, rtol=1e-4, atol=1e-4 * float(cam.abs().max()))
    torch.testing.assert_close(r.weights[0] * (h * w), fc.weight[c].detach(), rtol=1e-4, atol=1e-7)
    # so the signed map adds up to the class logit minus its bias
    assert float(r.weighted[0].sum()) == pytest.approx(float(r.logits[0, c] - fc.bias[c].detach()), rel=1e-3, abs=1e-4)


def test_gradcam_is_proportional_to_cam_on_lite0_head(cat):
    # EfficientNet-Lite0's head: _head_act → AdaptiveAvgPool2d(1) → flatten → Dropout (identity in
    # eval) → Linear: exactly global average pooling + linear.
    model = M.get_model(LITE).load()
    assert isinstance(model._avg_pooling, torch.nn.AdaptiveAvgPool2d)
    assert not model._global_params.local_pooling
    _identity(cat, LITE, "_head_act", model._fc)


def test_gradcam_is_proportional_to_cam_on_resnet18(cat):
    model = M.get_model("resnet18").load()
    _identity(cat, "resnet18", "layer4", model.fc)


# --------------------------------------------------------------------------- two classes, one forward
def test_two_classes_come_from_one_forward_and_equal_single_runs(cat):
    model = M.get_model(LITE).load()
    with ForwardCounter(model) as fc:
        both = explain_photo(cat, LITE, "_blocks.14", "Grad-CAM", target="tabby", target2="285 · Egyptian cat")
    assert fc.n == 1
    assert [v.target for v in both.views] == [281, 285]
    one = explain_photo(cat, LITE, "_blocks.14", "Grad-CAM", target=281)
    two = explain_photo(cat, LITE, "_blocks.14", "Grad-CAM", target=285)
    for v, single in zip(both.views, [one.views[0], two.views[0]]):
        torch.testing.assert_close(v.result.cam, single.result.cam)
        torch.testing.assert_close(v.result.weights, single.result.weights)
    assert both.numbers["second"]["target"] == 285 and both.numbers["target"] == 281
    assert both.heatmap.shape[1] > one.heatmap.shape[1]  # side by side, one shared colour bar
    assert both.views[0].prob == pytest.approx(float(one.result.probs[0, 281]))


def test_restyle_redraws_without_running_the_model(cat):
    e = explain_photo(cat, LITE, alpha=0.5)
    model = M.get_model(LITE).load()
    with ForwardCounter(model) as fc:
        strong = view.restyle(e, alpha=1.0)
        mm = view.restyle(e, norm="minmax", cmap="viridis")
        light = view.restyle(e, alpha=0.0, steps=False)
    assert fc.n == 0
    np.testing.assert_array_equal(light.overlays[0], e.image)  # opacity 0: the photo itself
    assert not np.array_equal(strong.overlays[0], e.overlays[0])
    assert mm.norm == "minmax" and mm.numbers["normalisation"] == "minmax"
    assert not np.array_equal(mm.heatmap, e.heatmap)
    with pytest.raises(ValueError, match="Opacity"):
        view.restyle(e, alpha=2)
    with pytest.raises(ValueError, match="colormap"):
        view.restyle(e, cmap="nope")


def test_example_photos_are_cached_lazily():
    path = _example("coffee_cup.jpg")["path"]
    first = explain_source(path, LITE, "_blocks.15", "XGrad-CAM")
    model = M.get_model(LITE).load()
    with ForwardCounter(model) as fc:
        again = explain_source(path, LITE, "_blocks.15", "XGrad-CAM", alpha=0.3)
    assert fc.n == 0 and again.cached and not first.cached
    assert again.example["title"] == "Coffee cup"
    torch.testing.assert_close(again.result.cam, first.result.cam)
    assert {n for _, n, _ in first.top5} & {"espresso", "cup", "coffee mug"}


# --------------------------------------------------------------------------- compare, files, errors
def test_compare_models_same_class_every_available_model(cat):
    cmp = I.compare_models(cat, [LITE, "resnet18", "resnet50"])
    assert [p.key for p in cmp.panels] == [LITE, "resnet18"]
    assert cmp.skipped and cmp.skipped[0][0] == "ResNet-50"
    lite = explain_photo(cat, LITE, steps=False)
    assert cmp.target == lite.top5[0][0]  # "predicted" = the first model's prediction
    assert cmp.panels[0].rank == 1 and all(p.image.shape == (224, 224, 3) for p in cmp.panels)
    fixed = I.compare_models(cat, ["resnet18", LITE], class_index="tabby")
    assert fixed.target == 281 and "281 · tabby" in itext.comparison_summary(fixed)


def test_downloads_are_three_pngs(cat, tmp_path):
    e = explain_photo(cat, LITE, target="tabby")
    paths = outfiles.write_downloads(e, tmp_path)
    assert [p.rsplit("_", 1)[-1] for p in paths] == ["gray.png", "heatmap.png", "overlay.png"]
    with Image.open(paths[0]) as g:
        assert g.format == "PNG" and g.mode == "L" and g.size == (224, 224)
        gray = np.asarray(g)
    assert gray.max() == 255  # max-normalised
    with Image.open(paths[2]) as o:
        np.testing.assert_array_equal(np.asarray(o.convert("RGB")), e.overlays[0])
    assert "281-tabby" in paths[0]


def test_unavailable_model_gives_a_clear_message(cat):
    with pytest.raises(ValueError) as ei:
        explain_photo(cat, "resnet50")
    assert ei.value.key == "service.imagenet.unavailable" and ei.value.values["title"] == "ResNet-50"
    msg = text_of(ei.value)
    assert msg == say("service.imagenet.unavailable", **ei.value.values)
    assert "ResNet-50 is not available" in msg and "download resnet50" in msg and "EfficientNet" not in msg[:20]
    with pytest.raises(ValueError) as ei:
        explain_photo(cat, "alexnet")
    assert ei.value.key == "service.imagenet.unknown_model" and ei.value.values["model"] == "alexnet"
    assert text_of(ei.value).startswith("Unknown model 'alexnet'; choose one of: ")
    with pytest.raises(ValueError, match="no layer 'fc'"):
        explain_photo(cat, "resnet18", "fc")
    with pytest.raises(ValueError, match="Unknown method"):
        explain_photo(cat, LITE, None, "CAM-o-matic")




@pytest.mark.parametrize("data, needle", [
    (b"", "empty"),
    (b"just some text, not a picture\n" * 10, "plain text"),
    (bomb_header_png(), "megapixels"),
    (bomb_header_png(10000, 10000), "megapixels"),  # under PIL's own limit, over ours: refused from the header
])
def test_hostile_files_give_clear_messages(tmp_path, data, needle):
    p = tmp_path / "photo.png"
    p.write_bytes(data)
    with pytest.raises(ImageError, match=needle):
        explain_source(str(p), LITE)
    with pytest.raises(ImageError) as ei:
        I.load_photo(None)
    assert ei.value.key == "service.imagenet.no_photo" and text_of(ei.value) == say("service.imagenet.no_photo")


def test_example_cache_modes(monkeypatch):
    """lazy (default): the second run of an example is a cache hit; off: never; eager: warmed up front."""
    from gradcam_core.services import imagenet as svc
    from gradcam_core.data.examples import load_manifest

    path = next(e["path"] for e in load_manifest() if e["file"].endswith("coffee_cup.jpg"))
    spec = svc.get_spec("efficientnet_lite0")
    args = ("efficientnet_lite0", "_blocks.15", "Grad-CAM", None, None)  # a layer no other test caches
    monkeypatch.setenv(svc.EXAMPLE_CACHE_ENV, "off")
    assert not explain_source(path, *args).cached and not explain_source(path, *args).cached
    monkeypatch.setenv(svc.EXAMPLE_CACHE_ENV, "lazy")
    first, second = explain_source(path, *args), explain_source(path, *args)
    assert second.cached and second.top5 == first.top5
    monkeypatch.setenv(svc.EXAMPLE_CACHE_ENV, "eager")
    svc._cache.clear()
    assert svc.warm_example_cache("efficientnet_lite0") == len(load_manifest())
    assert explain_source(path, "efficientnet_lite0", spec.default_layer, "Grad-CAM", None, None).cached


# --------------------------------------------------------------------------- the tab's words, fed numbers
def _fake_explanation(method: str, probs: list[float], zero: bool = False):
    """An Explanation-like stand-in: only what imagenet_text.summary reads (no model runs)."""
    from types import SimpleNamespace as NS

    cam = torch.zeros(1, 7, 7) if zero else torch.rand(1, 7, 7, generator=torch.Generator().manual_seed(0)) + 0.1
    names = ["tabby", "tiger cat", "lynx"]
    views = [NS(name=names[i], prob=p, result=NS(cam=cam)) for i, p in enumerate(probs)]
    return NS(predicted=(281, "tabby", 0.734), result=NS(cam=cam), model_title="ResNet-50", method=method,
              layer="layer4", views=views)


def test_summary_wording_follows_the_numbers():
    from gradcam_core.present.method_texts import fill, method_text
    from gradcam_core.present.words import say

    sees = say("imagenet.sees", model="ResNet-50", name="tabby", prob=0.734)
    assert sees == "**ResNet-50** sees **tabby** (73%)."
    for probs, each in (([0.4123], "imagenet.the_class"), ([0.4123, 0.1], "imagenet.each_class")):
        s = itext.summary(_fake_explanation("Grad-CAM", probs))
        shown = [say("imagenet.shown_class", name=n, prob=p) for n, p in zip(["tabby", "tiger cat"], probs)]
        if len(shown) == 2:
            shown = [say("imagenet.two_classes", first=shown[0], second=shown[1])]
        cap = fill(method_text("Grad-CAM").overlay_caption, say(each))
        assert s == " ".join([sees, say("imagenet.for_classes", method="Grad-CAM", layer="layer4", h=7, w=7, shown=shown[0]),
                              say("imagenet.warm", caption=cap[0].lower() + cap[1:])])
        assert "(41.2%)" in s and ("(10.0%)" in s) == (len(probs) == 2)
    s = itext.summary(_fake_explanation("Eigen-CAM", [0.4, 0.1]))
    assert say("imagenet.class_free", method="Eigen-CAM", layer="layer4", h=7, w=7) in s and "tiger cat" not in s
    zero = itext.summary(_fake_explanation("Grad-CAM", [0.4, 0.1], zero=True))
    for name in ("tabby", "tiger cat"):  # an all-zero map says so for each class
        assert fill(method_text("Grad-CAM").zero_text, f"**{name}**") in zero


def test_steps_and_comparison_wording():
    from types import SimpleNamespace as NS

    from gradcam_core.present.words import say

    step = NS(title="Step", text="text", code="x = 1")
    for steps, extra in (({"gradients": step, "average": step}, None), ({"gradients": step}, "imagenet.no_average"),
                         ({"weights": step}, "imagenet.no_gradients")):
        md = itext.steps_markdown(NS(method="Grad-CAM", steps=steps))
        head = say("imagenet.steps_head", method="Grad-CAM", note=itext.METHOD_NOTES["Grad-CAM"])
        parts = [head] + ([say(extra)] if extra else []) + ["#### Step\n\ntext\n\n```python\nx = 1\n```"] * len(steps)
        assert md == "\n\n".join(parts)
    cmp = NS(method="Grad-CAM", target=281, name="tabby", skipped=[("ViT", "no weights")],
             panels=[NS(title="ResNet-50", prob=0.51234, rank=1, predicted_name="tabby"),
                     NS(title="VGG", prob=0.0012, rank=12, predicted_name="lynx")])
    assert itext.comparison_summary(cmp).split("\n") == [
        say("imagenet.compare_head", method="Grad-CAM", target=281, name="tabby"),
        say("imagenet.compare_row", title="ResNet-50", prob=0.51234, rank=1, predicted="tabby"),
        say("imagenet.compare_row", title="VGG", prob=0.0012, rank=12, predicted="lynx"),
        say("imagenet.compare_skipped", title="ViT", why="no weights")]
    assert "p = 51.2%, rank 1" in itext.comparison_summary(cmp) and "p = 0.1%, rank 12" in itext.comparison_summary(cmp)


def test_score_cam_notes_state_the_measured_cost(monkeypatch):
    from gradcam_core.present import method_texts as MT
    from gradcam_core.present.words import say

    title, layer, channels = budget.SCORE_CAM_REFERENCE
    n = budget.score_cam_forwards("Score-CAM", channels)
    note = MT.method_note("Score-CAM")
    assert itext.METHOD_NOTES["Score-CAM"] == note
    # the cost is computed from the measured figures: forwards, channels and the time they take
    assert f"{n:,}".replace(",", "\u202f") in note and f"{channels:,}".replace(",", "\u202f") in note
    assert str(budget.Duration(n * budget.SCORE_CAM_SECONDS_PER_FORWARD)) in note or f"{budget.Duration(n * budget.SCORE_CAM_SECONDS_PER_FORWARD)}" in note
    mean, low, photos = budget.SCORE_CAM_RHO
    if photos:
        assert say("method.fidelity", photos=photos, mean=mean, low=low) in note
    monkeypatch.setattr(budget, "SCORE_CAM_RHO", (0.9, 0.8, 0))
    assert MT._fidelity() == ""  # no photos measured: no claim
    monkeypatch.setattr(budget, "SCORE_CAM_LIMIT", 0)
    assert MT.method_note(budget.SCORE_CAM_EXACT).endswith(say("method.stop_none"))
    monkeypatch.setattr(budget, "SCORE_CAM_LIMIT", 90.0)
    assert MT.method_note(budget.SCORE_CAM_EXACT).endswith(say("method.stop_over", limit=budget.Duration(90.0)))


def test_view_words():
    from gradcam_core.present.words import say

    assert view.NOT_SEEN_CAPTION == say("imagenet.not_seen")
    with pytest.raises(ValueError) as outside:
        view.whole_photo_overlay(np.zeros((10, 10, 3), np.uint8), (20, 20, 30, 30), torch.rand(4, 4))
    assert outside.value.key == "imagenet.crop_outside"
    assert say("imagenet.view_caption", name="tabby", prob=0.412) == "tabby · 41%"


def test_the_curves_chart_draws_its_words_from_the_catalogue(monkeypatch):
    """charts.curves_figure labels every axis, title and legend entry through the catalogue, with the AUCs."""
    from gradcam_core.analysis.sanity import Curves
    from gradcam_core.present import charts, words

    f = np.linspace(0, 1, 11)
    curves = Curves(3, "blur", f, {"Grad-CAM": 1 - f, "random": 1 - f ** 2}, {"Grad-CAM": f, "random": f ** 2},
                    {"Grad-CAM": 0.5, "random": 0.6}, {"Grad-CAM": 0.55, "random": 0.3}, 30)
    asked = []
    real = words.say

    def spy(key, lang=None, /, **values):
        asked.append((key, values))
        return real(key, lang, **values)

    monkeypatch.setattr(charts, "say", spy)
    img = charts.curves_figure(curves, "tabby")
    assert img.dtype == np.uint8 and img.shape[2] == 3
    keys = [k for k, _ in asked]
    assert {"imagenet.curves.deletion", "imagenet.curves.insertion", "imagenet.curves.fraction"} <= set(keys)
    assert ("imagenet.curves.p_of", {"name": "tabby"}) in asked
    legends = [v for k, v in asked if k == "imagenet.curves.legend"]
    assert {(v["name"], v["auc"]) for v in legends} == {("Grad-CAM", 0.5), ("random", 0.6), ("Grad-CAM", 0.55),
                                                          ("random", 0.3)}
    assert real("imagenet.curves.legend", name="random", auc=0.6) == "random (AUC 0.60)"
    asked.clear()
    charts.curves_figure(curves)
    assert ("imagenet.curves.probability", {}) in asked
