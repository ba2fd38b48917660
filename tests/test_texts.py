"""Every generated sentence follows from the numbers it describes and fits the method in use.

Each wording branch is fed numbers here and its words are checked: the per-method step texts
(gradcam_core.present.method_texts), the step code that shows the normalisation and colour map chosen,
the heat-on-ink figures of the MNIST tab (gradcam_core.analysis.ink_share), LeNet's layer notes, the
"What is Grad-CAM?" opening and the whole-photo overlay of the ImageNet tab.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage

from gradcam_core.present import method_texts as MT
from gradcam_core.cam.engine import GradCAM
from gradcam_core.analysis.ink_share import dataset_share, heat_on_ink, ink_mask, share_of_result
from gradcam_core.models.lenet import load_lenet
from gradcam_core.cam.methods import METHODS, make_cam
from gradcam_core.data.mnist import test_digits as held_out_digits
from gradcam_core.data.mnist import to_tensor
from gradcam_core.present.steps import build_steps
from gradcam_core.present import imagenet_text as itext
from gradcam_core.present.words import current_lang, number, say

ROOT = Path(__file__).resolve().parents[1]

#: Words a test looks for in the language it runs in: the catalogue's own word for the idea in each
#: language (issue 28; the glossary's terms), where the test checks a word rather than a whole sentence.
WORDS = {
    "against": {"en": "against", "fr": "contre"},
    "masked": {"en": "masked", "fr": "masqu"},
    "class-free": {"en": "class-free", "fr": "indépendant"},
    "rectified": {"en": "rectified", "fr": "rectifi"},
    "negative": {"en": "negative", "fr": "négati"},
    "held-out": {"en": "held-out", "fr": "mis de côté"},
    "raises the score of seven": {"en": "raises the score of seven", "fr": "augmente, au total, le score de seven"},
    "lowers the score": {"en": "lowers the score", "fr": "diminue le score"},
    "positive on negative raises": {"en": "a positive weight on a negative activation raises",
                                    "fr": "un poids positif sur une activation négative augmente"},
    "any cnn": {"en": "**Any CNN.**", "fr": "**N'importe quel CNN.**"},
    "no retraining": {"en": "No change to the architecture, no retraining",
                      "fr": "Aucune modification de l'architecture, aucun réentraînement"},
    "class-discriminative": {"en": "Class-discriminative", "fr": "Discriminante selon la classe"},
    "evidence for seven": {"en": r"evidence for\W*seven", "fr": r"(?:en faveur|preuve|indice)\w*\W+(?:de\W*)?seven"},
    "same for every class": {"en": "same for every class", "fr": "les mêmes pour toutes les classes"},
    "add up to 1": {"en": "add up to 1", "fr": "de somme 1"},
    "no bar is blue": {"en": "no bar is blue", "fr": "aucune barre n'est bleue"},
    "*likely*": {"en": "*likely*", "fr": "*probablement*"},
    "does not measure": {"en": "does not measure", "fr": "ne le mesure pas"},
    "raise the score of **seven**": {"en": "raise the score of **seven**", "fr": "augmentent le score de **seven**"},
    "argue against **seven**": {"en": "argue against **seven**", "fr": "plaident contre **seven**"},
    "lower it": {"en": "lower it", "fr": "le diminuent"},
    # "ink … covers N %": the ink's own share (the widened zone is called a zone in both languages)
    "ink covers": {"en": r"ink[^.;]*? covers (\d+)[ \u202f]%", "fr": r"encre[^.;]*? couvre (\d+)[ \u202f]%"},
}


def word(idea: str) -> str:
    return WORDS[idea][current_lang()]


def _percents(text: str) -> list[int]:
    """The whole percentages of a text, in either language's writing ("41 %", French "41\u202f%")."""
    return [int(x) for x in re.findall(r"(\d+)[ \u202f\u00a0]%", text)]


def _grouped(n: int) -> str:
    """A pattern for ``n`` as the catalogue groups thousands ("1 024", French "1\u202f024")."""
    return "[ \u202f\u00a0]".join(re.findall(r"\d{1,3}(?=(?:\d{3})*$)", str(n)))


def _before(key: str, slot: str, **values) -> str:
    """A template's words before ``slot`` (whose value is not the test's), filled with ``values``."""
    return say(key, **values, **{slot: "\x00"}).split("\x00")[0]


@pytest.fixture(scope="module")
def lenet():
    return load_lenet()


@pytest.fixture(scope="module")
def digit17():
    images, labels = held_out_digits()
    return images[17].astype(np.float32) / 255.0


def _all_text(steps) -> str:
    return "\n".join(f"{s.title}\n{s.caption}\n{s.text}\n{s.code}" for s in steps.values())


@pytest.fixture(scope="module")
def _steps_by_lang() -> dict:
    return {}


@pytest.fixture
def method_steps(lenet, digit17, _steps_by_lang, wording_lang):
    """build_steps of every registered method on LeNet's relu2 for digit #17 (a 7), class "seven",
    worded in the test's language (built once per language for the module)."""
    if wording_lang not in _steps_by_lang:
        x = to_tensor(digit17)
        out = {}
        for name in METHODS:
            res = make_cam(name, lenet, "relu2")(x)
            out[name] = (res, build_steps(res, digit17, class_name="seven"))
        _steps_by_lang[wording_lang] = out
    return _steps_by_lang[wording_lang]


# --------------------------------------------------------------------------- per method
def test_every_method_has_its_own_texts():
    assert set(METHODS) <= set(MT.TEXTS)
    assert "Guided Grad-CAM" in MT.TEXTS
    assert MT.method_text("Score-CAM (exact)").weights_text == MT.method_text("Score-CAM").weights_text
    assert MT.method_text("Score-CAM (some future variant)").name == "Score-CAM"
    assert MT.method_text(None).name == "Grad-CAM"


def test_counterfactual_says_against(method_steps):
    res, steps = method_steps["Counterfactual"]
    for key in ("weights", "weighted", "relu", "overlay"):
        assert word("against") in steps[key].text, key
    against = f"{word('against')} seven"
    assert against in steps["weighted"].caption and against in steps["overlay"].caption
    assert f"{word('against')} {{c}}" in MT.TEXTS["Counterfactual"].zero_text
    # Grad-CAM's own words ("red where the features raise …") are not Counterfactual's
    assert MT.fill(MT.method_text("Grad-CAM").map_text, "seven") not in steps["weighted"].text
    assert MT.method_text("Grad-CAM").map_text != MT.method_text("Counterfactual").map_text
    # the numbers: the weights are the negated Grad-CAM weights
    ref = GradCAM(res and load_lenet(), "relu2")(to_tensor(held_out_digits()[0][17].astype(np.float32) / 255.0))
    np.testing.assert_allclose(res.weights.numpy(), -ref.weights.numpy(), rtol=1e-5, atol=1e-8)


def test_eigen_cam_is_class_free_and_never_evidence_for_the_class(method_steps):
    res, steps = method_steps["Eigen-CAM"]
    text = _all_text(steps)
    assert word("class-free") in steps["weighted"].text and word("class-free") in steps["overlay"].text
    assert word("class-free") in steps["overlay"].caption
    assert not re.search(word("evidence for seven"), text), text
    assert "seven" not in steps["overlay"].text and "seven" not in steps["weighted"].text
    assert word("same for every class") in steps["weights"].text
    # and it really is class-free: another class gives the same map
    x = to_tensor(held_out_digits()[0][17].astype(np.float32) / 255.0)
    other = make_cam("Eigen-CAM", load_lenet(), "relu2")(x, target=3)
    np.testing.assert_allclose(other.cam.numpy(), res.cam.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["Score-CAM", "Score-CAM (exact)"])
def test_score_cam_weights_are_a_softmax_over_masked_scores(name, wording_lang):
    t = MT.method_text(name)
    assert "softmax" in t.weights_text and word("masked") in t.weights_text
    assert "softmax" in t.summary and word("masked") in t.summary
    assert "mathrm{softmax}" in t.weights_eq and "odot" in t.weights_eq
    assert "torch.softmax(scores" in t.map_code and "x * masks" in t.map_code
    assert t.summary != MT.method_text("Grad-CAM").summary
    if wording_lang == "en":  # the old English wording of the gradient average, gone
        assert "becomes that channel's weight" not in t.summary


def test_score_cam_steps_match_its_numbers(method_steps):
    res, steps = method_steps["Score-CAM"]
    w = res.weights[0].numpy()
    assert (w >= 0).all() and abs(w.sum() - 1) < 1e-5  # what the text says: positive, adding up to 1
    assert MT.fill(MT.method_text("Score-CAM").weights_text, "seven") in steps["weights"].text
    assert word("add up to 1") in steps["weights"].text and word("no bar is blue") in steps["weights"].text
    assert "gradients" not in steps and "average" not in steps


@pytest.mark.parametrize("name", ["HiResCAM", "LayerCAM", "Eigen-CAM", "Score-CAM", "Score-CAM (exact)"])
def test_methods_that_do_not_weight_whole_maps_by_alpha(name, method_steps):
    t = MT.method_text(name)
    # Grad-CAM's "Multiply every feature map by its weight and add them up", in the test's language
    multiply = MT.method_text("Grad-CAM").map_text.split(".")[0].lower()
    for text in (t.map_text, t.map_caption, t.map_label, t.map_eq, t.relu_eq, t.map_code):
        assert multiply not in text.lower() and "multiply every feature map by its weight" not in text.lower()
        assert "Σ α·A" not in text and "\\alpha_k^c A^k" not in text and "alpha[:, :, None, None]" not in text
    if name in method_steps:
        steps = method_steps[name][1]
        assert multiply not in _all_text(steps).lower()
        assert "Σ α·A" not in _all_text(steps)


def test_hirescam_and_layercam_equations_are_element_wise(method_steps):
    assert "\\odot A^k" in MT.TEXTS["HiResCAM"].map_eq and "ReLU" not in MT.TEXTS["HiResCAM"].map_eq
    assert "\\mathrm{ReLU}" in MT.TEXTS["LayerCAM"].map_eq and "\\odot A^k" in MT.TEXTS["LayerCAM"].map_eq
    # the code shown computes the engine's map
    for name, fn in (("HiResCAM", lambda g, a: (g * a).sum(1)), ("LayerCAM", lambda g, a: (F.relu(g) * a).sum(1))):
        res = method_steps[name][0]
        np.testing.assert_allclose(res.weighted.numpy(), fn(res.gradients, res.activations).numpy(), rtol=1e-5,
                                   atol=1e-7)
    assert "average" not in method_steps["HiResCAM"][1]  # no averaging step


def test_gradcam_relu_step_states_no_guess_as_fact(method_steps):
    steps = method_steps["Grad-CAM"][1]
    relu = steps["relu"].text
    assert relu.startswith(MT.fill(MT.method_text("Grad-CAM").relu_text, "seven"))
    assert "evidence for *other* classes" not in relu
    assert word("*likely*") in relu and word("does not measure") in relu
    assert word("raise the score of **seven**") in relu and word("argue against **seven**") in relu
    assert word("lower it") in steps["weighted"].text  # step 5 and step 6 agree: blue lowers the score


def test_all_zero_map_sentence_per_method(lenet, digit17):
    x = to_tensor(digit17)
    for name in ("Grad-CAM", "Counterfactual", "Eigen-CAM", "HiResCAM"):
        res = make_cam(name, lenet, "relu2")(x)
        res.cam = torch.zeros_like(res.cam)
        text = build_steps(res, digit17, class_name="seven")["relu"].text
        assert say("steps.relu.all_zero", zero=MT.fill(MT.method_text(name).zero_text, "seven")) in text
    assert word("raises the score of seven") in MT.fill(MT.TEXTS["Grad-CAM"].zero_text, "seven")
    assert word("against") in MT.TEXTS["Counterfactual"].zero_text


# --------------------------------------------------------------------------- code shows the choices
@pytest.mark.parametrize("norm,cmap,alpha", [("max", "jet", 0.5), ("minmax", "viridis", 0.3), ("max", "gray", 1.0)])
def test_step_code_shows_the_chosen_normalisation_and_colour_map(norm, cmap, alpha, method_steps, digit17):
    res = method_steps["Grad-CAM"][0]
    steps = build_steps(res, digit17, norm=norm, cmap=cmap, alpha=alpha)
    up, ov = steps["upsample"], steps["overlay"]
    if norm == "minmax":
        assert "heat.min()" in up.code and "heat.min()" not in build_steps(res, digit17)["upsample"].code
        assert "\\min" in ov.text
    else:
        assert "heat / heat.max()" in up.code and "heat.min()" not in up.code
    assert f"colormaps['{cmap}']" in ov.code and f"a = {alpha:g}" in ov.code
    if cmap != "jet":
        assert "jet" not in ov.code and "jet" not in ov.text
    lead = _before("steps.overlay.text", "overlay", cmap=cmap, alpha=alpha)  # "… the 'jet' colour map at opacity 0.5."
    assert ov.text.startswith(lead) and cmap in lead and number(alpha, "g") in lead


# --------------------------------------------------------------------------- sign, zeros, averaging
def test_features_text_follows_the_signs(lenet, digit17, wording_lang):
    x = to_tensor(digit17)
    conv = GradCAM(lenet, "conv2")(x)
    relu = GradCAM(lenet, "relu2")(x)
    a = conv.activations[0].numpy()
    n_neg = int((a < 0).sum())
    t_conv = build_steps(conv, digit17)["features"].text
    assert say("steps.features.signed", neg_pct=100 * n_neg / a.size, n_neg=n_neg, n_total=a.size) in t_conv
    assert _percents(t_conv)[0] == int(format(100 * n_neg / a.size, ".0f"))
    assert say("steps.features.rectified") not in t_conv
    t_relu = build_steps(relu, digit17)["features"].text
    assert (relu.activations >= 0).all() and "≥ 0" in t_relu and say("steps.features.rectified") in t_relu
    assert say("steps.features.signed", neg_pct=0.0, n_neg=0, n_total=a.size) not in t_relu
    if wording_lang == "en":  # the false claim about "the deepest layers that keep where" is gone
        assert "the deepest that do" not in t_conv + t_relu


def test_sign_text_branches():
    assert MT.features_sign_text(10, 0, 10) == say("steps.features.rectified")
    assert MT.features_sign_text(3, 1, 4) == say("steps.features.signed", neg_pct=25.0, n_neg=1, n_total=4)
    assert say("steps.features.rectified") != say("steps.features.signed", neg_pct=25.0, n_neg=1, n_total=4)
    assert _percents(MT.features_sign_text(3, 1, 4)) == [25] and "(1 " in MT.features_sign_text(3, 1, 4)
    assert MT.weights_sign_text(3, 16, True) == say("steps.weights.positive", n_pos=3, k=16) + say("steps.weights.rectified")
    assert re.findall(r"\d+", say("steps.weights.positive", n_pos=3, k=16)) == ["3", "16"]
    assert MT.weights_sign_text(3, 16, False) == say("steps.weights.positive", n_pos=3, k=16) + say("steps.weights.signed")
    # every branch: the count sentence, then what a sign means on a rectified or a signed layer
    for negated, tail in ((False, ""), (True, "_negated")):
        for rectified, what in ((True, "rectified"), (False, "signed")):
            assert MT.weights_sign_text(5, 12, rectified, negated=negated) == (
                say(f"steps.weights.positive{tail}", n_pos=5, k=12) + say(f"steps.weights.{what}{tail}"))
    assert word("lowers the score") in MT.weights_sign_text(5, 12, True, negated=True)
    assert word("lowers the score") not in MT.weights_sign_text(5, 12, True)
    assert word("positive on negative raises") in MT.weights_sign_text(5, 12, False, negated=True)


def test_step_words_come_from_the_catalogue(method_steps):
    """Each step's words are the catalogue's templates filled with this result's numbers."""
    res, steps = method_steps["Grad-CAM"]
    k, h, w = res.activations.shape[1:]
    assert steps["features"].title == say("steps.features.title", layer="relu2")
    assert steps["features"].caption == say("steps.features.caption", shown=say("steps.features.shown_all"), k=k, h=h, w=w)
    assert steps["gradients"].text.startswith(say("steps.gradients.text", c="seven", score=float(res.scores[0])))
    assert f"y^c = {float(res.scores[0]):.3f}" in steps["gradients"].text or \
        f"y^c = {number(float(res.scores[0]), '.3f')}" in steps["gradients"].text
    ch = int(np.argmax(res.weights[0].numpy()))
    assert steps["average"].title == say("steps.average.title", channel=ch)
    assert re.findall(r"\d+", steps["average"].title) == ["3", str(ch)]  # step 3, the channel
    assert steps["average"].code == say("steps.code.average", channel=ch, mean=float(res.gradients[0, ch].mean()))
    assert steps["weights"].title == say("steps.weights.title")
    assert steps["weighted"].text.startswith(say("steps.weighted.text", text=MT.fill(MT.method_text("Grad-CAM").map_text,
                                                                                   "seven"), h=h, w=w))
    assert steps["upsample"].title == say("steps.upsample.title", h=h, w=w, H=28, W=28)
    assert re.findall(r"\d+", steps["upsample"].title) == ["7", "8", "8", "28", "28"] and "→" in steps["upsample"].title
    assert say("steps.upsample.norm_max") in steps["upsample"].text
    assert steps["overlay"].text.startswith(say("steps.overlay.text", cmap="jet", alpha=0.5,
                                                overlay=MT.fill(MT.method_text("Grad-CAM").overlay_text, "seven")))
    eig = method_steps["Eigen-CAM"][1]
    assert eig["weights"].title == say("steps.weights.title_class_free")
    guided = method_steps["Guided Grad-CAM"][1]
    assert guided["guided_gradcam"].caption == say("steps.guided_gradcam.caption", c="seven")
    assert guided["guided_backprop"].text.startswith(say("steps.guided_backprop.text"))


def _random_result(k: int, h: int = 4):
    from gradcam_core.cam.engine import CAMResult

    rng = np.random.default_rng(k)
    act = torch.tensor(rng.normal(size=(1, k, h, h)), dtype=torch.float32)
    weights = torch.tensor(rng.normal(size=(1, k)), dtype=torch.float32)
    weighted = torch.einsum("nk,nkhw->nhw", weights, act)
    return CAMResult(method="Grad-CAM", layer="x", input_size=(16, 16), logits=torch.zeros(1, 3),
                     targets=torch.tensor([1]), activations=act, gradients=act.clone(), weights=weights,
                     weighted=weighted, cam=torch.relu(weighted))


def test_many_channels_show_the_top_ten_and_say_so():
    """k > 32: the chart keeps the 10 most positive and 10 most negative, and the text says it; the
    feature grids show the 16 strongest of them."""
    image = np.zeros((16, 16), np.float32)
    many = build_steps(_random_result(40), image, class_name="cat")
    assert many["weights"].text.split("\n\n$$")[0].endswith(say("steps.weights.top_note"))
    assert many["features"].caption == say("steps.features.caption", shown=say("steps.features.shown_some", n=16), k=40,
                                           h=4, w=4)
    assert re.findall(r"\d+", many["features"].caption) == ["16", "40", "4", "4"]
    few = build_steps(_random_result(32), image, class_name="cat", max_channels=32)
    assert say("steps.weights.top_note") not in few["weights"].text
    assert few["features"].caption == say("steps.features.caption", shown=say("steps.features.shown_all"), k=32, h=4,
                                          w=4)


def test_refused_channel_is_a_code_and_its_bound():
    from gradcam_core.base.errors import Refusal
    from gradcam_core.present.words import text_of

    res = GradCAM(load_lenet(), "relu2")(torch.zeros(1, 1, 28, 28))
    with pytest.raises(Refusal) as info:
        build_steps(res, np.zeros((28, 28), np.float32), channel=16)
    assert (info.value.key, info.value.values) == ("steps.refusal.channel", {"high": 15})
    assert text_of(info.value) == say("steps.refusal.channel", high=15)
    assert re.findall(r"\d+", text_of(info.value)) == ["0", "15"]


def test_zero_gradients_counted_and_explained(lenet, digit17):
    x = to_tensor(digit17)
    for layer, low in (("relu2", 48), ("conv2", 48)):
        res = GradCAM(lenet, layer)(x)
        ch = int(np.argmax(res.weights[0].numpy()))
        g = res.gradients[0, ch].numpy()
        n_zero = int((g == 0).sum())
        assert n_zero >= low  # max-pool routes the gradient to 1 cell of 4: at least 48 of 64 are zero
        text = build_steps(res, digit17, zero_gradient_reason=MT.lenet_zero_gradient_note(layer))["average"].text
        assert say("steps.average.zeros", n_zero=n_zero, n_total=64, zero_pct=100 * n_zero / 64,
                   why=say(f"steps.lenet.zero_{layer}")) in text
        assert _percents(MT.zero_gradient_text(n_zero, 64)) == [int(format(100 * n_zero / 64, ".0f"))]
        assert "2×2" in text
    assert MT.zero_gradient_text(0, 64) == say("steps.average.none_zero")
    assert "max-pool" in MT.zero_gradient_text(3, 64)  # English "max-pool", French "max-pooling"
    assert MT.zero_gradient_text(3, 64) == say("steps.average.zeros", n_zero=3, n_total=64, zero_pct=100 * 3 / 64,
                                               why=say("steps.average.why_zero"))
    own = MT.zero_gradient_text(3, 64, "Own reason.")
    assert own == say("steps.average.zeros", n_zero=3, n_total=64, zero_pct=100 * 3 / 64, why="Own reason.")
    assert own.endswith(") Own reason.") or own.endswith("). Own reason.")
    assert _percents(own) == [5]


def test_why_average_numbers_come_from_the_shapes(method_steps):
    assert MT.average_text(16, 8, 8) == say("steps.average.why_average", k=16, h=8, w=8, n=MT.grouped(1024))
    assert re.search("16 × 8 × 8 = " + _grouped(1024), MT.average_text(16, 8, 8))
    assert re.search("1280 × 7 × 7 = " + _grouped(62720), MT.average_text(1280, 7, 7))
    assert MT.average_text(2, 3, 4) == say("steps.average.why_average", k=2, h=3, w=4, n=MT.grouped(24))
    assert MT.average_text(16, 8, 8) in method_steps["Grad-CAM"][1]["average"].text


# --------------------------------------------------------------------------- LeNet layers
def test_lenet_layer_table_matches_the_model(lenet):
    feats = {}
    hooks = [lenet.get_submodule(n).register_forward_hook(lambda m, i, o, n=n: feats.update({n: tuple(o.shape[1:])}))
             for n in MT.LENET_LAYERS]
    with torch.no_grad():
        lenet(torch.zeros(1, 1, 28, 28))
    for h in hooks:
        h.remove()
    for name, info in MT.LENET_LAYERS.items():
        assert feats[name] == info["shape"], name
        k, h, w = info["shape"]
        key = "steps.lenet.label_default" if name == MT.LENET_DEFAULT_LAYER else "steps.lenet.label"
        assert MT.lenet_layer_label(name) == say(key, name=name, k=k, h=h, w=w)
        assert f"{k} " in MT.lenet_layer_label(name) and f"{h}×{w}" in MT.lenet_layer_label(name)
    assert MT.LENET_DEFAULT_LAYER == "relu2" and say("steps.lenet.label", name="relu2", k=16, h=8, w=8) != \
        MT.lenet_layer_label("relu2")
    assert word("rectified") in MT.lenet_layer_note("relu2") and "4×4" in MT.lenet_layer_note("pool2")
    assert word("negative") in MT.lenet_layer_note("conv2")
    assert MT.lenet_layer_label("pool2") == say("steps.lenet.label", name="pool2", k=16, h=4, w=4)
    assert MT.lenet_layer_label("relu2") == say("steps.lenet.label_default", name="relu2", k=16, h=8, w=8)
    for name in MT.LENET_LAYERS:
        assert MT.lenet_layer_note(name) == say("steps.lenet.why") + say(f"steps.lenet.note_{name}")
        assert MT.lenet_zero_gradient_note(name) == say(f"steps.lenet.zero_{name}")
    assert MT.lenet_layer_note("fc1") == say("steps.lenet.why") and MT.lenet_zero_gradient_note("fc1") is None


# --------------------------------------------------------------------------- heat on ink
def test_ink_mask_is_a_2px_disk_dilation():
    d = np.zeros((28, 28), np.float32)
    d[10, 10] = 1.0
    m = ink_mask(d)
    assert m.sum() == 13  # the disk of radius 2: 1 + 4 + 4 + 4
    assert m[10, 12] and m[8, 10] and not m[12, 12] and m[11, 11]
    d[20, 20] = 0.49  # below the threshold: not ink
    assert ink_mask(d).sum() == 13


def test_heat_on_ink_values():
    d = np.zeros((28, 28), np.float32)
    d[10:14, 10:14] = 1.0
    mask = ink_mask(d)
    heat = np.zeros((28, 28))
    heat[mask] = 1.0
    assert heat_on_ink(heat, d).heat_on_ink == 1.0
    heat[0, 0] = mask.sum()  # as much heat off the ink as on it
    s = heat_on_ink(heat, d)
    assert s.heat_on_ink == pytest.approx(0.5) and s.ink_area == pytest.approx(mask.sum() / 784)
    assert s.ratio == pytest.approx(0.5 / (mask.sum() / 784))
    assert heat_on_ink(np.zeros((28, 28)), d).heat_on_ink is None


def _independent_share(heat: np.ndarray, digit: np.ndarray) -> tuple[float, float]:
    """The definition, written another way: Euclidean distance to the nearest ink pixel ≤ 2."""
    ink = digit >= 0.5
    mask = ndimage.distance_transform_edt(~ink) <= 2
    return float(heat[mask].sum() / heat.sum()), float(mask.mean())


def _drawn_at_centres(cam: np.ndarray, first: float, step: float) -> np.ndarray:
    """The receptive-field drawing, written another way: scipy's linear resampling at the input
    pixels' positions in cell units, the edges held (cell r sits at first + step·r)."""
    u = (np.arange(28) - first) / step
    yy, xx = np.meshgrid(u, u, indexing="ij")
    return ndimage.map_coordinates(cam.astype(np.float64), [yy, xx], order=1, mode="nearest")


def test_dataset_share_matches_an_independent_computation(lenet):
    images, _ = held_out_digits()
    x = torch.from_numpy(images.astype(np.float32) / 255.0)[:, None]
    res = GradCAM(lenet, "relu2")(x)
    stretched = F.interpolate(res.cam[:, None], size=(28, 28), mode="bilinear", align_corners=False)[:, 0].numpy()
    placed = np.stack([_drawn_at_centres(c, 6.5, 2.0) for c in res.cam.numpy()])
    for heats, placement in [(placed, "receptive field"), (stretched, "stretched")]:
        pairs = [_independent_share(h, d.astype(np.float32) / 255.0) for h, d in zip(heats, images) if h.sum() > 0]
        ds = dataset_share("relu2", placement=placement)
        assert ds.n_digits == 1000 and ds.n_counted == len(pairs)
        assert ds.heat_on_ink == pytest.approx(np.mean([p[0] for p in pairs]), abs=1e-6)  # float32 convs: batch split and threads move the 9th digit
        assert ds.ink_area == pytest.approx(np.mean([_independent_share(np.ones((28, 28)), d / 255.0)[1]
                                                     for d in images.astype(np.float32)]), abs=1e-9)
        # the finding the tab teaches: most of the heat lies away from the ink, whose 2-px zone covers about a third
        assert ds.heat_on_ink < 0.5 and 0.25 < ds.ink_area < 0.4
    # the README's figures (relu2: 39 % near the ink on a zone of 32 %; stretched 39 % too)
    assert _percents(MT.pct(dataset_share("relu2").heat_on_ink)) == [39]
    assert _percents(MT.pct(dataset_share("relu2").ink_area)) == [32]


@pytest.mark.parametrize("this,area,keys,percents,ratio", [
    (None, 0.3, ["zero"], [30, 13], None),                              # "the map is all zero", 30 %
    (0.12, 0.27, ["this", "far", "ratio_less"], [12, 27, 13, 88], 0.4),  # 12 % within 2 px, 88 % farther, 0.4×
    (0.6, 0.3, ["this", "most", "ratio_more"], [60, 30, 13], 2.0),       # most of the heat, 2.0× the average
    (0.31, 0.3, ["this", "far", "ratio_same"], [31, 30, 13, 69], None),  # about the picture's average heat
])
def test_ink_text_branches(this, area, keys, percents, ratio):
    text = MT.ink_text(this, area, 0.386, 0.32, 1000, this_ink=0.13)
    ink = say("steps.ink.ink_area", ink_pct=13.0)
    numbers = {"zero": dict(area_pct=100 * area, ink=ink), "this": dict(heat_pct=100 * (this or 0), area_pct=100 * area, ink=ink),
               "far": dict(far_pct=100 * (1 - (this or 0))), "most": {}, "ratio_less": dict(ratio=ratio),
               "ratio_more": dict(ratio=ratio), "ratio_same": {}}
    for k in keys:
        assert say(f"steps.ink.{k}", **numbers[k]) in text, (k, text)
    assert _percents(text)[:len(percents)] == percents
    if ratio is not None:
        assert number(ratio, ".1f") in text
    assert ink in text  # "(ink: the pixels of value ≥ 0.5; it covers 13 % of the picture)"
    assert say("steps.ink.dataset", n=MT.grouped(1000), heat_pct=38.6, area_pct=32.0) in text
    assert re.search(_grouped(1000), text) and _percents(text)[len(percents):] == [39, 32]
    assert say("steps.ink.lesson_absent") in text  # "where ink is *absent*"
    assert say("steps.ink.lesson_strokes") in MT.ink_text(this, area, 0.6, 0.3, 1000)
    assert word("held-out") not in MT.ink_text(this, area) and word("held-out") in text
    assert MT.ink_text(this, area, 0.4, 0.3, None).endswith(
        say("steps.ink.dataset_unknown", heat_pct=40.0, area_pct=30.0) + say("steps.ink.lesson_absent"))
    assert say("steps.ink.dataset", n=MT.grouped(12345), heat_pct=60.0, area_pct=30.0) in MT.ink_text(this, area, 0.6, 0.3, 12345)
    assert re.search(_grouped(12345), MT.ink_text(this, area, 0.6, 0.3, 12345))


@pytest.mark.parametrize("this,area,keys", [
    (None, 0.3, ["zero"]),
    (0.12, 0.27, ["this", "far", "ratio_less"]),
    (0.6, 0.3, ["this", "most", "ratio_more"]),
    (0.31, 0.3, ["this", "far", "ratio_same"]),
    (0.6, 0.0, ["this", "most"]),
])
def test_ink_text_is_the_catalogue_filled_with_numbers(this, area, keys):
    """Each branch of ink_text, rebuilt from its keys and numbers (percentages as numbers, ×100)."""
    ink = say("steps.ink.ink_area", ink_pct=13.0)
    numbers = {"zero": dict(area_pct=100 * area, ink=ink), "this": dict(heat_pct=100 * (this or 0), area_pct=100 * area, ink=ink),
               "far": dict(far_pct=100 * (1 - (this or 0))), "most": {},
               "ratio_less": dict(ratio=(this or 0) / (area or 1)), "ratio_more": dict(ratio=(this or 0) / (area or 1)),
               "ratio_same": {}}
    want = "".join(say(f"steps.ink.{k}", **numbers[k]) for k in keys)
    assert MT.ink_text(this, area, this_ink=0.13) == want
    assert MT.ink_text(this, area).startswith(want.split(say("steps.ink.ink_area", ink_pct=13.0))[0])


def test_near_ink_and_shift_sentences():
    assert MT.near_ink_sentence(None, 0.3) is None
    assert MT.near_ink_sentence(0.41, 0.3) == say("steps.ink.near_sentence", heat=MT.pct(0.41), area=MT.pct(0.3))
    assert _percents(MT.near_ink_sentence(0.41, 0.3)) == [41, 30]
    assert MT.near_ink_sentence(0.41, 0.3, lambda v: f"{v:.2f}") == say("steps.ink.near_sentence", heat="0.41", area="0.30")
    assert MT.INK_DEFINITION == say("steps.ink.definition") and MT.NEAR_INK == say("steps.ink.near")
    assert MT.stretched_shift_text("M", "l", None) == say("steps.shift.lead") + say("steps.shift.unmeasured", model="M", layer="l")
    m = {"corners": (12.3, 45.6), "middle": 1.2}
    text = MT.stretched_shift_text("M", "l", m)
    assert text == say("steps.shift.lead") + say("steps.shift.measured", model="M", layer="l", low=12.3, high=45.6, middle=1.2)
    assert re.search(f"{number(12.3, '.0f')}–{number(45.6, '.0f')}[ \u00a0\u202f]px", text)
    assert re.search(f"[ \u00a0]{number(1.2, '.0f')}[ \u00a0\u202f]px", text)


def test_mnist_tab_states_this_digit_and_the_test_set(digit17):
    from gradcam_core.analysis.cell import cell_centres
    from gradcam_core.ui import mnist_tab

    out = mnist_tab.explain_index(17, "predicted", "strongest")
    numbers = out.numbers
    assert numbers["layer"] == "relu2" and numbers["placement"] == "receptive field"
    net = load_lenet()
    this = share_of_result(GradCAM(net, "relu2")(to_tensor(digit17)), digit17,
                           centres=cell_centres(net, "relu2", (8, 8), (1, 28, 28)))
    ds = dataset_share("relu2")
    hi = numbers["heat_on_ink"]
    assert hi["digit"] == pytest.approx(this.heat_on_ink) and hi["test_set"] == pytest.approx(ds.heat_on_ink)
    overlay_md = out.steps[3 * 7]  # step 8's text
    assert _before("steps.ink.this", "ink", heat_pct=100 * this.heat_on_ink, area_pct=100 * this.ink_area) in overlay_md
    assert say("steps.ink.dataset", n=MT.grouped(1000), heat_pct=100 * ds.heat_on_ink, area_pct=100 * ds.ink_area) \
        in overlay_md
    assert say("steps.lenet.why").strip() in out.steps[0]  # step 1 says why relu2


def test_ink_means_one_quantity_everywhere(digit17):
    """Issue 24: "ink" meant 35 % in the overlay's alt (ink widened by 2 px) and 13 % in "What LeNet
    sees" (raw ink ≥ 0.5) for one digit. Now ink is the pixels ≥ 0.5 everywhere, and the widened zone
    is called "within 2 px of the ink"."""
    from gradcam_core.present import alt_text
    from gradcam_core.ui import mnist_tab

    out = mnist_tab.explain_index(17, "predicted", "strongest")
    ink = float((digit17 >= 0.5).mean())
    near = float(ink_mask(digit17).mean())
    assert alt_text.percent(ink) != alt_text.percent(near)
    seen, overlay, step8 = out.alts["seen"], out.alts["overlay"], out.steps[3 * 7]
    ink_pct = _percents(alt_text.percent(ink))[0]
    assert _before("alt.digit", "centre", h=28, w=28, ink=0.5, ink_pct=ink_pct) in seen
    assert say("steps.ink.near_sentence", heat="\x00", area=alt_text.percent(near)).split("\x00")[1] in overlay
    assert say("steps.ink.ink_area", ink_pct=100 * ink) in step8
    covers = 0
    for text in (seen, overlay, step8):  # "ink covers" is always the ink itself
        for m in re.finditer(word("ink covers"), text):
            covers += 1
            assert int(m.group(1)) in (_percents(MT.pct(ink))[0], ink_pct) or "zone" in text[m.start() - 60:m.end()]
    assert covers >= 2
    readme = (ROOT / "docs" / "TEACHING.md").read_text(encoding="utf-8")
    assert "*Ink* means one thing everywhere: the pixels of value ≥ 0.5" in readme


def test_mnist_layer_picker_and_link():
    from gradcam_core.ui import mnist_tab

    out = mnist_tab.explain_index(17, "predicted", "strongest", "pool2")
    assert out.numbers["layer"] == "pool2" and np.asarray(out.numbers["cam"]).shape == (4, 4)
    assert out.link.endswith("&layer=pool2")
    assert mnist_tab.explain_index(17, "predicted", "strongest").link.endswith("&layer=relu2")
    import gradio as gr

    with pytest.raises(gr.Error, match="relu2"):
        mnist_tab.explain_index(17, "predicted", "strongest", "fc1")


def test_mnist_target_word_is_not_counterfactual():
    from gradcam_core.present.words import catalogue

    src = (ROOT / "gradcam_core/ui/mnist_tab.py").read_text(encoding="utf-8")
    tab_words = " ".join(t for k, t in catalogue().items() if k.startswith("ui.mnist."))
    assert "counterfactual" not in src.lower() and "counterfactual" not in tab_words.lower()
    assert "what speaks for it" in tab_words


# --------------------------------------------------------------------------- ImageNet summary / opening
def _explanation(method: str, zero: bool):
    from gradcam_core.services.imagenet import ClassView, Explanation

    x = to_tensor(held_out_digits()[0][17].astype(np.float32) / 255.0)
    res = make_cam(method, load_lenet(), "relu2")(x)
    if zero:
        res.cam = torch.zeros_like(res.cam)
    v = ClassView(res, 281, "tiger cat", 0.5)
    return Explanation(model_key="m", model_title="Model", layer="relu2", layer_label="relu2", method=method,
                       image=np.zeros((28, 28, 3), np.uint8), top5=[(281, "tiger cat", 0.5)], views=[v])


def test_summary_per_method():
    def zero(method: str) -> str:
        return say(f"method.{method}.zero_text", c="**tiger cat**")

    s = itext.summary(_explanation("Counterfactual", True))
    # issue 24: an all-zero Counterfactual map only says that no cell's *net* sum is against the class
    # ("no cell speaks against **tiger cat** on balance. Single channels may still speak against it …")
    assert zero("counterfactual") in s and zero("gradcam") not in s
    for method, key in (("Counterfactual", "counterfactual"), ("Grad-CAM", "gradcam"), ("Eigen-CAM", "eigencam")):
        cap = say(f"method.{key}.overlay_caption", c=say("imagenet.the_class"))
        warm = say("imagenet.warm", caption=cap[0].lower() + cap[1:])  # "Warm colours: what speaks against the class."
        assert warm in itext.summary(_explanation(method, False)), method
    s = itext.summary(_explanation("Grad-CAM", True))
    assert zero("gradcam") in s and zero("counterfactual") not in s
    s = itext.summary(_explanation("Eigen-CAM", False))
    assert say("imagenet.class_free", method="Eigen-CAM", layer="relu2", h=8, w=8) in s
    assert s.count("**tiger cat**") == 1  # only where the model's top class is named, never as evidence
    assert zero("gradcam") not in itext.summary(_explanation("Grad-CAM", False))


def test_method_notes_read_the_method_texts():
    from gradcam_core.cam.scorecam_budget import SCORE_CAM_LIMIT, Duration
    from gradcam_core.present.imagenet_text import METHOD_NOTES

    for name in ("Grad-CAM", "HiResCAM", "LayerCAM", "Eigen-CAM", "Counterfactual"):
        assert METHOD_NOTES[name] == MT.TEXTS[name].summary == say(f"{MT.text_keys(MT.METHODS[name])[0]}.summary")
    exact = METHOD_NOTES["Score-CAM (exact)"]
    assert exact.endswith(say("method.stop_over", limit=Duration(SCORE_CAM_LIMIT)) if SCORE_CAM_LIMIT
                          else say("method.stop_none"))
    assert "softmax" in METHOD_NOTES["Score-CAM"]
    assert word("class-free") in METHOD_NOTES["Eigen-CAM"] and word("against") in METHOD_NOTES["Counterfactual"]


def test_gradcam_overview_cites_the_paper_and_its_three_claims():
    t = MT.GRADCAM_OVERVIEW
    assert "Selvaraju" in t and "ICCV 2017" in t
    assert t == say("method.overview")
    assert word("any cnn") in t and word("no retraining") in t and word("class-discriminative") in t
    assert [t.index(word(w)) for w in ("any cnn", "no retraining", "class-discriminative")] == sorted(
        t.index(word(w)) for w in ("any cnn", "no retraining", "class-discriminative"))  # the paper's order


def test_overview_is_a_closed_accordion_under_the_title():
    import gradio as gr

    import app

    demo = app.build_app()
    acc = [b for b in demo.blocks.values() if isinstance(b, gr.Accordion) and b.label == "What is Grad-CAM?"]
    assert len(acc) == 1 and acc[0].open is False
    md = [b for b in acc[0].children if isinstance(b, gr.Markdown)]
    assert md and "Selvaraju" in md[0].value


def test_no_emoji_in_generated_texts():
    pat = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F]")
    for rel in ("gradcam_core/present/method_texts.py", "gradcam_core/present/steps.py", "gradcam_core/services/imagenet.py",
                "gradcam_core/analysis/ink_share.py", "gradcam_core/ui/mnist_tab.py"):
        assert not pat.search((ROOT / rel).read_text(encoding="utf-8")), rel


# --------------------------------------------------------------------------- whole-photo overlay
@pytest.mark.parametrize("key", ["efficientnet_lite0", "resnet18"])
@pytest.mark.parametrize("size", [(640, 480), (333, 517)])
def test_crop_box_is_what_the_model_sees(key, size):
    """A photo whose red channel encodes x and green y: the crop's border pixels name the box."""
    from gradcam_core.models.registry import crop_box
    from gradcam_core.models.registry import REGISTRY

    spec = REGISTRY[key]
    w, h = size
    xx, yy = np.meshgrid(np.arange(w), np.arange(h))
    arr = np.stack([xx * 255.0 / (w - 1), yy * 255.0 / (h - 1), np.zeros_like(xx, float)], -1)
    crop = np.asarray(spec.display_image(Image.fromarray(np.rint(arr).astype(np.uint8)))).astype(float)
    n = crop.shape[0]
    l, t, r, b = crop_box(spec, size)
    px, py = (r - l) / n, (b - t) / n  # one crop pixel, in photo pixels
    got = (crop[n // 2, 0, 0] * (w - 1) / 255, crop[n // 2, -1, 0] * (w - 1) / 255,
           crop[0, n // 2, 1] * (h - 1) / 255, crop[-1, n // 2, 1] * (h - 1) / 255)
    want = (l + px / 2, r - px / 2, t + py / 2, b - py / 2)
    np.testing.assert_allclose(got, want, atol=3.0)  # 8-bit coding: ~2.5 photo pixels per level


def test_whole_photo_overlay_puts_the_peak_in_place_and_marks_the_rest():
    from gradcam_core.present.imagenet_view import NOT_SEEN_CAPTION, _mark_unseen, whole_photo_overlay

    rng = np.random.default_rng(0)
    photo = rng.integers(60, 200, size=(200, 300, 3), dtype=np.uint8)
    box = (50.0, 20.0, 230.0, 200.0)  # 180×180, as a centre crop of a wider photo would be
    cam = torch.zeros(7, 7)
    cam[1, 5] = 1.0  # the peak: crop cell (row 1, column 5)
    out = whole_photo_overlay(photo, box, cam, alpha=1.0, cmap="jet")
    assert out.shape[1] == 300 and out.shape[0] > 200  # the caption strip underneath
    body = out[:200]
    heat = normalize_like_app(cam, (180, 180))
    py, px = np.unravel_index(np.argmax(heat), heat.shape)
    # the peak's centre in the crop is at ((5 + 0.5) / 7, (1 + 0.5) / 7) of its side
    assert abs(px - 5.5 / 7 * 180) <= 1.5 and abs(py - 1.5 / 7 * 180) <= 1.5
    from gradcam_core.present import paint

    red = paint.colorize(np.ones((1, 1)), "jet", 0.0, 1.0)[0, 0]
    assert np.array_equal(body[20 + py, 50 + px], red)  # the hottest colour, where the peak maps to
    inside = np.zeros((200, 300), bool)
    inside[20:200, 50:230] = True
    marked = _mark_unseen(photo)
    assert np.array_equal(body[~inside], marked[~inside])  # everything the model did not see is marked
    assert not np.array_equal(marked[~inside], photo[~inside])
    # a photo the model saw entirely gets no caption
    full = whole_photo_overlay(photo[:180, :180], (0, 0, 180, 180), cam)
    assert full.shape[:2] == (180, 180)
    assert str(NOT_SEEN_CAPTION) == say("imagenet.not_seen")


def normalize_like_app(cam, size):
    from gradcam_core.cam.postprocess import normalize, upsample

    return normalize(upsample(cam, size), "max").numpy()


# --------------------------------------------------------------------------- through the app's API
def test_api_layer_is_the_last_input_and_optional(app_client):
    """Old positional calls (index, target, channel) still work and explain relu2; the layer is an
    optional last input; the link carries it."""
    x = to_tensor(held_out_digits()[0][17].astype(np.float32) / 255.0)
    from outputs import mnist_result

    old = mnist_result(app_client, 17, "predicted", "strongest")
    new = mnist_result(app_client, 17, "predicted", "strongest", "conv2")
    for out, layer in ((old, "relu2"), (new, "conv2")):
        ref = GradCAM(load_lenet(), layer)(x)
        assert out["numbers"]["layer"] == layer and out["link"].endswith(f"&layer={layer}")
        np.testing.assert_allclose(out["numbers"]["cam"], ref.cam[0].numpy(), atol=1e-5, rtol=1e-4)


def test_whole_photo_through_restyle_and_the_tab_handler():
    from gradcam_core.services import imagenet as svc
    from gradcam_core.data import examples as catalogue
    from gradcam_core.models import registry
    from gradcam_core.present import imagenet_view as view
    from gradcam_core.ui import imagenet_tab

    entry = catalogue.examples_by_category()[0]
    expl = view.draw(svc.explain_source(entry["path"], "efficientnet_lite0", None, "Grad-CAM", None, None))
    assert expl.photo is not None and max(expl.photo.shape[:2]) <= svc.DISPLAY_PHOTO_SIDE
    pil = svc.load_photo(entry["path"])
    box = registry.crop_box(svc.get_spec("efficientnet_lite0"), pil.size)
    s = expl.photo.shape[1] / pil.size[0]
    np.testing.assert_allclose(expl.crop_box, [v * s for v in box], rtol=1e-6)
    crop = view.restyle(expl, alpha=0.0)
    assert crop.overlays[0].shape[:2] == expl.image.shape[:2]  # the model's own crop by default
    whole = view.restyle(expl, alpha=0.0, whole=True)
    ov = whole.overlays[0]
    assert ov.shape[1] == expl.photo.shape[1] and ov.shape[0] > expl.photo.shape[0]  # + the caption strip
    l, t, r, b = (int(round(v)) for v in expl.crop_box)
    # opacity 0: inside the crop the photo itself, outside it marked as unseen
    np.testing.assert_array_equal(ov[t:b, l:r], expl.photo[t:b, l:r])
    out = np.ones(expl.photo.shape[:2], bool)
    out[t:b, l:r] = False
    np.testing.assert_array_equal(ov[: expl.photo.shape[0]][out], view._mark_unseen(expl.photo)[out])
    # the UI handler, with the checkbox as its last input (and without it: the crop)
    state = imagenet_tab._for_state(expl)
    img_whole = imagenet_tab.change_opacity(state, "max", "jet", 0.5, True)["overlay"]
    img_crop = imagenet_tab.change_opacity(state, "max", "jet", 0.5)["overlay"]
    w_shape, c_shape = np.asarray(img_whole).shape, np.asarray(img_crop).shape  # pictures, sent inline by ResultImage
    assert w_shape[1] == expl.photo.shape[1] and c_shape[1] == expl.image.shape[1]


def test_a_new_explanation_honours_the_whole_photo_checkbox():
    from gradcam_core.services import imagenet as svc
    from gradcam_core.data import examples as catalogue
    from gradcam_core.ui import imagenet_tab

    entry = catalogue.examples_by_category()[0]
    args = ("force:1", entry["path"], "efficientnet_lite0", None, "Grad-CAM", "predicted", "none", "max", "jet", 0.5,
            None)
    whole = imagenet_tab.run_quick(*args, whole=True)["overlay"]
    crop = imagenet_tab.run_quick(*args)["overlay"]
    photo_w = svc.photo_for_display(svc.load_photo(entry["path"]), (0, 0, 1, 1))[0].shape[1]
    assert np.asarray(whole).shape[1] == photo_w and np.asarray(crop).shape[1] == 224


def test_mnist_deep_link_restores_the_layer():
    from types import SimpleNamespace

    from gradcam_core.ui import mnist_tab

    out = mnist_tab.explain_from_link(SimpleNamespace(query_params={"tab": "mnist", "digit": "17", "layer": "pool2"}))
    assert (out.index, out.target, out.channel, out.layer) == (17, "predicted", "strongest", "pool2")
    assert out.numbers["layer"] == "pool2" and out.link.endswith("&layer=pool2")
    with pytest.warns(UserWarning, match="fc9"):
        bad = mnist_tab.explain_from_link(SimpleNamespace(query_params={"tab": "mnist", "digit": "17", "layer": "fc9"}))
    assert bad.layer == "relu2" and bad.numbers["layer"] == "relu2"
    old = mnist_tab.explain_from_link(SimpleNamespace(query_params={"tab": "mnist", "digit": "3"}))  # an older link
    assert old.layer == "relu2"


def test_counterfactual_steps_4_to_6_are_its_own(digit17):
    """Issue 24: Counterfactual's step 4 ended with Grad-CAM's "a positive weight means the presence of
    that pattern raises the score"; with negated gradients a positive weight *lowers* it."""
    from gradcam_core.cam.methods import make_cam
    from gradcam_core.present.steps import build_steps

    net = load_lenet()
    res = make_cam("Counterfactual", net, "relu2")(to_tensor(digit17))
    steps = build_steps(res, digit17, class_name="7")
    n_pos = int((res.weights[0] > 0).sum())
    w = steps["weights"].text
    assert say("steps.weights.positive_negated", n_pos=n_pos, k=16) in w
    assert say("steps.weights.rectified_negated") in w and say("steps.weights.rectified") not in w
    # and the presence lowers it indeed: the weights are the negated mean gradients
    g = GradCAM(net, "relu2")(to_tensor(digit17), int(res.targets[0]))
    assert torch.allclose(res.weights, -g.weights)
    assert steps["weighted"].text.startswith(MT.fill(MT.method_text("Counterfactual").map_text, "7"))
    assert MT.method_text("Counterfactual").map_text != MT.method_text("Grad-CAM").map_text
    assert word("against") in steps["relu"].caption
    grad = build_steps(g, digit17, class_name="7")["weights"].text
    assert say("steps.weights.rectified") in grad and say("steps.weights.rectified_negated") not in grad
    assert say("steps.weights.positive", n_pos=int((g.weights[0] > 0).sum()), k=16) in grad
