"""Issue 29: the words of a transformer layer follow the numbers and the layer's layout.

Each wording branch is fed numbers (CAM results built here with Grad-CAM's own arithmetic on a
small token grid, so every value is known) and its words are checked: a token grid says "patch
tokens" and "embedding dimensions" where a CNN says "feature maps" and "channels", whatever the
model; the class token is said to be left out only when it was; a map that is empty because no
patch token reaches the class score is said to be so, with the measured share, and only then.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gradcam_core.analysis.cell import cell_terms
from gradcam_core.base.errors import Refusal
from gradcam_core.cam.engine import CAMResult
from gradcam_core.present import cell_view, imagenet_text as itext
from gradcam_core.present import token_texts as tt
from gradcam_core.present.imagenet_view import step_notes
from gradcam_core.cam.methods import METHODS
from gradcam_core.present.method_texts import WORDS, method_text
from gradcam_core.present.steps import build_steps, step_context
from gradcam_core.present.words import say
from gradcam_core.services import imagenet as svc

K, H, W = 8, 4, 4  # embedding dimensions, token grid
IMAGE = np.full((64, 64, 3), 128, np.uint8)


def _result(grads: torch.Tensor, layout: str = "tokens", cls: bool = True, act: torch.Tensor | None = None,
            layer: str = "encoder.layers.encoder_layer_3.ln_1") -> CAMResult:
    """A Grad-CAM result on a K×H×W grid: weights = mean gradient, map = ReLU(Σ_k α_k A^k)."""
    if act is None:
        act = torch.linspace(-1.0, 2.0, K * H * W).reshape(1, K, H, W)
    weights = grads.mean(dim=(2, 3))
    weighted = torch.einsum("nk,nkhw->nhw", weights, act)
    r = CAMResult(method="Grad-CAM", layer=layer, targets=torch.tensor([1]), logits=torch.tensor([[0.1, 2.0, -1.0]]),
                  activations=act, gradients=grads, weights=weights, weighted=weighted, cam=torch.relu(weighted),
                  input_size=(64, 64))
    r.layout = layout
    r.class_token_dropped = cls
    r.zero_grad_share = float((grads == 0).double().mean())
    return r


def _grads(seed: int = 0) -> torch.Tensor:
    g = torch.randn(1, K, H, W, generator=torch.Generator().manual_seed(seed))
    g[g == 0] = 0.5  # no exact zero by chance
    return g


def _expl(result: CAMResult, default_layer: str = "encoder.layers.encoder_layer_11.ln_1", title: str = "ViT-B/16"):
    view = SimpleNamespace(result=result, name="tabby", prob=0.42, target=1)
    return SimpleNamespace(views=[view], result=result, predicted=(1, "tabby", 0.42), model_title=title,
                           model_key="vit_b_16", layer=result.layer, method="Grad-CAM", default_layer=default_layer,
                           steps={})


def _texts(steps) -> str:
    return "\n".join(f"{s.title}\n{s.caption}\n{s.text}" for s in steps.values())


def _steps(result: CAMResult):
    return build_steps(result, IMAGE, class_name="tabby", **step_notes(_expl(result)))


# --------------------------------------------------------------------------- the layout chooses the words
def test_a_token_grid_says_patch_tokens_and_embedding_dimensions():
    steps = _steps(_result(_grads()))
    assert steps["features"].title == say("transformer.steps.features.title", layer="encoder.layers.encoder_layer_3.ln_1")
    assert "Patch tokens" in steps["features"].title
    assert f"{K} embedding dimensions" in steps["features"].caption and f"{H}×{W} token grid" in steps["features"].caption
    assert steps["average"].title.startswith("3 · Averaging: dimension")
    assert steps["weights"].title == say("transformer.steps.weights.title")
    assert "patch tokens" in steps["gradients"].text
    assert "one per patch token" in steps["average"].caption
    text = _texts({k: steps[k] for k in ("features", "gradients", "average", "weights", "weighted", "overlay")})
    vocabulary = tt.tokens_note(_result(_grads()))  # step 1 names the CNN's words once, to map them
    assert vocabulary in text and "where a CNN has feature maps and channels" in vocabulary
    text = text.replace(vocabulary, "")
    assert "feature map" not in text.lower() and "channel" not in text.lower()


def test_the_same_numbers_on_a_cnn_keep_the_cnn_words():
    steps = build_steps(_result(_grads(), layout="cnn", cls=False), IMAGE, class_name="tabby")
    assert steps["features"].title.startswith("1 · Feature maps of")
    assert f"{K} channels" in steps["features"].caption
    assert steps["weights"].title == say("steps.weights.title")
    assert "embedding" not in _texts(steps) and "patch token" not in _texts(steps)


def test_channel_labels_and_titles_follow_the_layout():
    tokens = step_context(_result(_grads()), IMAGE, class_name="tabby")
    assert tokens.titles and all(t.startswith("dim ") for t in tokens.titles)
    cnn = step_context(_result(_grads(), layout="cnn"), IMAGE, class_name="tabby")
    assert cnn.titles and all(t.startswith("ch ") for t in cnn.titles)


def test_grad_cams_method_words_on_a_token_grid():
    mt = method_text("Grad-CAM", layout="tokens")
    assert "embedding dimension" in mt.weights_text and "patch token" in mt.map_text
    assert mt.summary == say("transformer.method.gradcam.summary")
    assert method_text("Grad-CAM", layout="channels_last") == mt
    assert "channel" in method_text("Grad-CAM", layout="cnn").weights_text
    assert method_text("Grad-CAM++", layout="tokens").weights_text != method_text("Grad-CAM++").weights_text


@pytest.mark.parametrize("method", [m for m in METHODS if m != "Guided Grad-CAM"])  # guided: not offered on GELU
def test_every_method_offered_on_a_token_grid_speaks_of_tokens(method):
    mt = method_text(method, layout="tokens")
    words = " ".join(getattr(mt, w) for w in WORDS).lower()
    assert "feature map" not in words and "channel" not in words
    assert "dimension" in mt.weights_text and method_text(method).weights_text != mt.weights_text


# --------------------------------------------------------------------------- the class token
def test_the_class_token_is_said_to_be_left_out_only_when_it_was():
    with_cls = _steps(_result(_grads(), cls=True))["features"].text
    assert say("transformer.class_token", n_tokens=H * W + 1, h=H, w=W) in with_cls
    assert f"{H * W + 1} tokens" in with_cls
    swin = _steps(_result(_grads(), layout="channels_last", cls=False))["features"].text
    assert say("transformer.no_class_token", h=H, w=W) in swin and "class token, which" not in swin
    assert itext.summary(_expl(_result(_grads(), cls=True))).count("the class token left out") == 1
    assert "class token" not in itext.summary(_expl(_result(_grads(), layout="channels_last", cls=False)))
    assert "patch tokens" not in itext.summary(_expl(_result(_grads(), layout="cnn", cls=False)))


# --------------------------------------------------------------------------- the empty map (ViT's last block)
def test_an_empty_map_on_a_disconnected_layer_says_why_with_the_share():
    r = _result(torch.zeros(1, K, H, W), layer="encoder.layers.encoder_layer_11")
    assert r.zero_grad_share == 1.0 and float(r.cam.max()) == 0.0
    steps = _steps(r)
    share = say("transformer.empty_map", share=1.0, n_tokens=H * W, layer=r.layer,
                default="encoder.layers.encoder_layer_11.ln_1")
    assert "100.0%" in share
    assert share in steps["relu"].text  # step 6: why, instead of a reading of the blank map
    assert method_text("Grad-CAM", layout="tokens").zero_text not in steps["relu"].text
    assert share in steps["average"].text  # step 3: the zeros, and why
    assert f"{H * W} of these {H * W} are exactly zero" in steps["average"].text
    summary = itext.summary(_expl(r))
    assert "Warm colours" not in summary and "Warm colours" in itext.summary(_expl(_result(_grads())))
    assert say("transformer.summary_empty", share=1.0, layer=r.layer, default="encoder.layers.encoder_layer_11.ln_1") in summary
    assert "no patch token" not in summary.lower() or "empty" in summary.lower()


def test_a_zero_map_with_some_gradient_left_is_not_called_disconnected():
    g = _grads()
    g[:, :, 0, 0] = 0.0  # one token cut off: share 1/16
    r = _result(g)
    assert r.zero_grad_share == pytest.approx(1 / (H * W))
    assert tt.empty_note(r, "x") is None and tt.empty_summary(r, "x") is None
    steps = _steps(r)
    assert "This map is empty" not in _texts(steps)
    assert say("transformer.why_zero") in steps["average"].text or "None of them" in steps["average"].text


def test_all_zero_gradients_without_a_class_token_do_not_blame_the_class_token():
    r = _result(torch.zeros(1, K, H, W), layout="channels_last", cls=False)
    assert tt.empty_note(r, "x") is None
    steps = _steps(r)
    assert "class token" not in steps["relu"].text
    assert method_text("Grad-CAM", layout="channels_last").zero_text.replace("{c}", "tabby") in steps["relu"].text


def test_an_empty_cnn_map_keeps_the_cnn_reading():
    r = _result(torch.zeros(1, K, H, W), layout="cnn", cls=False)
    steps = build_steps(r, IMAGE, class_name="tabby", **step_notes(_expl(r, title="ResNet-50")))
    assert "patch token" not in steps["relu"].text
    assert method_text("Grad-CAM").zero_text.replace("{c}", "tabby") in steps["relu"].text


def test_step_seven_on_a_token_grid_puts_each_token_on_its_patch():
    steps = _steps(_result(_grads()))
    assert say("transformer.upsample_note") in steps["upsample"].text
    assert "each token over its own patch" in steps["upsample"].text


# --------------------------------------------------------------------------- compare
def _panel(title: str, layout: str, cam: torch.Tensor, share: float | None = 0.0):
    return SimpleNamespace(title=title, layout=layout, cam=cam, prob=0.5, rank=1, predicted_name="tabby",
                           cam_max=float(cam.max()), zero_grad_share=share, layer="l")


def test_compare_says_what_each_map_is_read_on_when_a_transformer_is_among_them():
    cmp = SimpleNamespace(method="Grad-CAM", target=281, name="tabby", skipped=[],
                          panels=[_panel("ResNet-50", "cnn", torch.ones(7, 7)),
                                  _panel("ViT-B/16", "tokens", torch.ones(14, 14))])
    text = itext.comparison_summary(cmp)
    assert "ResNet-50 (CNN)" in text and "ViT-B/16 (transformer, 14×14 patch tokens)" in text
    cnn_only = SimpleNamespace(**{**vars(cmp), "panels": cmp.panels[:1]})
    assert "(CNN)" not in itext.comparison_summary(cnn_only)
    empty = SimpleNamespace(**{**vars(cmp), "panels": [_panel("ViT-B/16", "tokens", torch.zeros(14, 14), 1.0)]})
    assert "100.0%" in itext.comparison_summary(empty)


# --------------------------------------------------------------------------- tap a cell (a token)
def test_a_tapped_token_is_read_in_dimensions():
    r = _result(_grads())
    ct = cell_terms(r, 1, 2)
    assert ct.grid == (H, W) and np.isclose(ct.terms.sum(), ct.value)
    tokens = cell_view.sum_sentence(ct, layout="tokens")
    assert "dimension" in tokens and "channel" not in tokens
    assert say("transformer.cell.kind.channel") in tokens
    assert "channel" in cell_view.sum_sentence(ct)
    rep = cell_view.report(ct, None, "tabby", top=3, layout="tokens")
    assert rep["layout"] == "tokens" and "dimensions" in rep["equation"]
    assert cell_view.bar_label("ch 5", "tokens") == "d5"
    assert cell_view.bar_label("other 5 channels", "tokens") == say("transformer.cell.bar_other", n=5)
    assert cell_view.bar_label("3 channels at 0", "tokens") == say("transformer.cell.bar_zeros", n=3)
    assert cell_view.bar_label("ch 5", "cnn") == "ch 5"
    assert "embedding dimension's term" in cell_view.read_text("tokens") and "fixed random direction" in rep.get(
        "cover_rule", cell_view.cover_rule("tokens"))
    assert cell_view.read_text() == cell_view.READ_TEXT and cell_view.cover_rule() == cell_view.COVER_RULE
    assert cell_view.waterfall_image(ct, 3, layout="tokens").shape[1] == 460


# --------------------------------------------------------------------------- methods not offered
def test_a_method_the_registry_excludes_is_refused_with_its_reason():
    spec = SimpleNamespace(title="ViT-B/16", methods_excluded={"guided": "transformer.why_zero"})
    assert list(svc.excluded_methods(spec)) == ["Guided Grad-CAM"]
    with pytest.raises(Refusal) as err:
        svc.check_offered(spec, "Guided Grad-CAM")
    assert str(err.value).startswith("ViT-B/16: ")
    assert say("transformer.why_zero") in str(err.value)
    svc.check_offered(spec, "Grad-CAM")  # offered: no refusal
    assert svc.excluded_methods(SimpleNamespace(title="ResNet-50")) == {}


def test_the_remaining_step_branches_on_a_token_grid():
    from gradcam_core.present.method_texts import weights_sign_text

    eigen = _result(_grads())
    eigen.method = "Eigen-CAM"
    steps = build_steps(eigen, IMAGE, class_name="tabby")
    assert steps["weights"].title == "4 · Embedding-dimension loadings (class-free)"
    assert weights_sign_text(3, 8, False, negated=True, layout="tokens").startswith(
        "Here 3 of 8 weights are positive: those dimensions speak against the class.")
    assert "channels speak against" in weights_sign_text(3, 8, False, negated=True)
    expl = _expl(_result(_grads()))
    expl.steps = {"gradients": SimpleNamespace(title="2", text="t", code="c")}  # gradients, no step 3
    assert say("transformer.imagenet.no_average") in itext.steps_markdown(expl)


def test_a_cold_token_with_some_dimensions_pushing_up():
    act = torch.ones(1, K, H, W)
    g = torch.full((1, K, H, W), -1.0)
    g[:, 0] = 0.5  # dimension 0 pushes up, the other seven pull down more: the sum is negative
    r = _result(g, act=act)
    ct = cell_terms(r, 0, 0)
    assert ct.value < 0 and ct.terms[0] > 0
    text = cell_view.sum_sentence(ct, layout="tokens")
    assert say("transformer.cell.negative_up", value=cell_view._num(ct.value, cell_view._decimals([ct.value, ct.peak]))) in text
    zeros = _result(torch.zeros(1, K, H, W).index_fill_(1, torch.tensor([0]), 1.0), act=act)
    eq = cell_view.equation_text(cell_terms(zeros, 0, 0), layout="tokens")
    assert "(+ 0 from 7 dimensions)" in eq
