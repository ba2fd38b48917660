"""A method is one class that carries its own facts, plus its words in the catalogue.

A method defined here, in the test, gets its name, its facts (class-free, slow, negated, how its cells
split, whether step 3 applies) and every text of the app from its class and its catalogue table
alone: no table keyed by its name anywhere.  A word missing from the catalogue fails loudly.
"""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from gradcam_core.analysis import cell
from gradcam_core.cam import methods as M
from gradcam_core.cam import scorecam_budget as budget
from gradcam_core.cam.engine import BaseCAM, GradCAM
from gradcam_core.models.lenet import load_lenet
from gradcam_core.present import method_texts as MT
from gradcam_core.present import words
from gradcam_core.present.steps import build_steps

ROOT = Path(__file__).resolve().parents[1]

#: The words of the test's method, as its catalogue table would hold them ({c}: the class name).
TWICE_WORDS = {w: f"twice-{w} of {{c}}" for w in MT.WORDS}


class TwiceGradCAM(BaseCAM):
    """Twice the negated mean gradient per channel: Counterfactual's map, doubled."""

    name = "Twice-CAM"
    text_key = "method.twice"
    negated = True
    uses_average = True

    def channel_weights(self, activations, gradients, ctx):
        return -2 * gradients.mean(dim=(2, 3))


class Loadings(BaseCAM):
    """Class-free, split by centred activations, with words only for its summary: the rest is missing."""

    name = "Loadings-CAM"
    text_key = "method.loadings"
    class_free = True
    cell_terms = "centred"

    def channel_weights(self, activations, gradients, ctx):
        return torch.ones(activations.shape[:2])


@pytest.fixture
def registered(monkeypatch):
    """TwiceGradCAM registered, with its words in the English catalogue, for one test."""
    table = dict(words.catalogue("en"))
    table.update({f"method.twice.{w}": t for w, t in TWICE_WORDS.items()})
    table["method.twice.label"] = "Twice"
    table["method.loadings.summary"] = "Loadings of {c}."
    monkeypatch.setattr(words, "catalogue", lambda lang="en": table)
    monkeypatch.setattr(M, "METHODS", dict(M.METHODS))
    monkeypatch.setattr(MT, "METHODS", M.METHODS)
    monkeypatch.setattr(cell, "METHODS", M.METHODS)
    MT._texts.cache_clear()
    M.register(TwiceGradCAM)
    yield TwiceGradCAM
    MT._texts.cache_clear()


@pytest.fixture(scope="module")
def digit():
    from gradcam_core.data.mnist import test_digits, to_tensor

    images, _ = test_digits()
    d = images[17].astype(np.float32) / 255.0
    return d, to_tensor(d)


def test_a_new_method_is_its_class_and_its_words(registered, digit):
    d, x = digit
    net = load_lenet()
    assert M.method_class("Twice-CAM") is TwiceGradCAM and "Twice-CAM" in M.METHODS
    res = M.make_cam("Twice-CAM", net, "relu2", batch_size=4)(x)  # other methods' options are ignored
    assert res.method == "Twice-CAM"
    ref = M.make_cam("Counterfactual", net, "relu2")(x, target=int(res.targets[0]))
    torch.testing.assert_close(res.weights, 2 * ref.weights)  # the numbers are its own
    # its facts come from the class
    t = MT.method_text("Twice-CAM")
    assert (t.name, t.negated, t.class_free, t.uses_average, t.cell_terms) == ("Twice-CAM", True, False, True, "channel")
    assert cell.claim_of("Twice-CAM") == "against" and not budget.is_slow_method("Twice-CAM")
    terms = cell.cell_terms(res, 3, 4)
    assert terms.kind == "channel" and terms.terms.sum() == pytest.approx(terms.value, rel=1e-4, abs=1e-6)
    # its words come from its catalogue table, {c} filled with the class name where the step names it
    for w in MT.WORDS:
        assert getattr(t, w) == words.say(f"method.twice.{w}", c="{c}") == f"twice-{w} of {{c}}"
    assert MT.method_note("Twice-CAM") == "twice-summary of {c}"
    assert MT.method_label("Twice-CAM") == "Twice"
    steps = build_steps(res, d, class_name="seven")
    assert steps["weighted"].caption == "twice-map_caption of seven"
    assert steps["weighted"].title == words.say("steps.weighted.title", title="twice-map_title of {c}")
    assert steps["weighted"].code == "twice-map_code of {c}"
    assert steps["overlay"].caption == "twice-overlay_caption of seven"
    assert "average" in steps  # uses_average: step 3 applies
    n_pos = int((res.weights[0] > 0).sum())
    assert words.say("steps.weights.positive_negated", n_pos=n_pos, k=16) in steps["weights"].text  # negated
    assert steps["weights"].text.startswith("twice-weights_text of seven ")


def test_a_subclass_says_only_what_differs(registered):
    """A key missing in a method's table is read from its parent's (Guided Grad-CAM, exact Score-CAM)."""

    class Quieter(TwiceGradCAM):
        name = "Quieter-CAM"
        text_key = "method.quieter"

    assert MT.text_keys(Quieter) == ["method.quieter", "method.twice"]
    with pytest.raises(KeyError, match="label"):  # a label is always a method's own
        MT.check_method(Quieter)
    words.catalogue()["method.quieter.label"] = "Quieter"
    MT.check_method(Quieter)
    for cls in M.METHODS.values():
        MT.check_method(cls)
    assert MT.text_keys(M.GuidedGradCAM) == ["method.guided", "method.gradcam"]
    guided, grad = MT.method_text(M.GuidedGradCAM.name), MT.method_text(GradCAM.name)
    assert guided.summary == words.say("method.guided.summary") != grad.summary
    assert guided.map_text == grad.map_text == words.say("method.gradcam.map_text", c="{c}")
    exact, quick = MT.method_text(budget.SCORE_CAM_EXACT), MT.method_text("Score-CAM")
    assert exact.weights_text == quick.weights_text and MT.method_note(budget.SCORE_CAM_EXACT) != MT.method_note("Score-CAM")


def test_missing_words_fail_loudly(registered):
    with pytest.raises(KeyError, match="relu_text"):
        MT.check_method(Loadings)
    with pytest.raises(KeyError, match="map_caption"):
        MT.method_words(Loadings, "map_caption")
    assert MT.method_words(Loadings, "summary", c="x") == "Loadings of x."

    class NoWords(BaseCAM):
        name = "Nameless"

    assert MT.text_keys(NoWords) == []
    with pytest.raises(KeyError):
        MT.method_words(NoWords, "summary")
    with pytest.raises(TypeError, match="text_key"):
        M.register(NoWords)

    class BadTerms(TwiceGradCAM):
        cell_terms = "diagonal"

    with pytest.raises(TypeError, match="cell_terms"):
        M.register(BadTerms)
    with pytest.raises(TypeError):
        M.register(int)


def test_every_shipped_method_has_its_own_label():
    assert {name: MT.method_label(name) for name in M.METHODS} == {name: name for name in M.METHODS}


def test_facts_of_the_shipped_methods():
    facts = {name: (cls.class_free, cls.slow, cls.uses_average, cls.negated, cls.cell_terms)
             for name, cls in M.METHODS.items()}
    assert facts == {
        "Grad-CAM": (False, False, True, False, "channel"),
        "Grad-CAM++": (False, False, False, False, "channel"),
        "HiResCAM": (False, False, False, False, "gradient"),
        "XGrad-CAM": (False, False, False, False, "channel"),
        "LayerCAM": (False, False, False, False, "positive gradient"),
        "Score-CAM": (False, True, False, False, "channel"),
        "Score-CAM (exact)": (False, True, False, False, "channel"),
        "Eigen-CAM": (True, False, False, False, "centred"),
        "Counterfactual": (False, False, False, True, "channel"),
        "Guided Grad-CAM": (False, False, True, False, "channel"),
    }
    # the facts agree with the numbers: "channel" methods combine the maps with the default weighted sum
    for cls in M.METHODS.values():
        assert (cls.cell_terms == "channel") == (cls.combine is BaseCAM.combine), cls.name
    assert M.ScoreCAM.forwards(1280) == budget.SCORE_CAM_MAX_CHANNELS and M.ScoreCAMExact.forwards(1280) == 1280
    assert [cell.claim_of(n) for n in ("Grad-CAM", "Counterfactual", "Eigen-CAM")] == ["for", "against", None]
    with pytest.raises(ValueError) as info:
        M.method_class("Magic-CAM")
    assert info.value.key == "method.refusal.unknown" and info.value.values["method"] == "Magic-CAM"
    assert words.text_of(info.value).startswith("Unknown CAM method 'Magic-CAM'; choose one of: Grad-CAM, ")
    for bad in (None, 3, ["Grad-CAM"]):  # wrong-typed names are refused the same way, never a TypeError
        with pytest.raises(ValueError) as info:
            M.method_class(bad)
        assert info.value.key == "method.refusal.unknown"


def test_no_module_keys_a_method_by_its_name():
    """The five places that kept a method's facts keyed by its name read the class now: none of
    them holds a registered method's name as a string literal."""
    names = set(M.METHODS)
    for rel in ("present/steps.py", "analysis/cell.py", "present/imagenet_text.py", "present/method_texts.py",
                "cam/scorecam_budget.py"):
        tree = ast.parse((ROOT / "gradcam_core" / rel).read_text(encoding="utf-8"))
        found = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in names]
        assert not found, (rel, found)
