"""Text alternatives of result images (issue 17): every figure in the sentence is the map's own."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from gradcam_core.present import alt_text
from gradcam_core.present.words import number, say


def _numbers(text: str) -> list[int]:
    """The whole percentages of a sentence, in either language's writing ("41 %", French "41\u202f%")."""
    return [int(x) for x in re.findall(r"(\d+)[ \u202f\u00a0]%", text)]


def test_heat_in_one_corner():
    heat = np.zeros((10, 10))
    heat[0, 9] = 5.0  # upper right
    facts = alt_text.heat_facts(heat)
    assert facts.peak == (0, 9) and alt_text.region_code(*facts.peak, heat.shape) == "upper_right"
    assert facts.region == say("alt.region.upper_right")
    assert facts.top_pixels == 10 and facts.top_share == 1.0
    text = alt_text.describe_heat(heat, class_name="7")
    assert text == say("alt.heat", who=say("alt.who_class", method="Grad-CAM", class_name="7"),
                       region=say("alt.region.upper_right"), top_pct=100, area_pct=10)
    assert _numbers(text) == [100, 10]
    assert alt_text.describe_heat(heat, class_name="7", extra="More.") == text + " More."


def test_even_heat_is_ten_percent_in_ten_percent():
    text = alt_text.describe_heat(np.ones((20, 20)), method="HiResCAM")
    # no class: the method alone; the first hottest pixel is the upper left one
    assert text == say("alt.heat", who="HiResCAM", region=say("alt.region.upper_left"), top_pct=10, area_pct=10)
    assert _numbers(text) == [10, 10]


def test_share_matches_a_known_mix():
    # 100 pixels: 10 hold 6 each (60), the other 90 hold 40 in all -> the hottest 10 % hold 60 %
    heat = np.full((10, 10), 40 / 90)
    heat[7:9, 1:6] = 6.0  # 10 pixels in the lower left
    facts = alt_text.heat_facts(heat)
    assert math.isclose(facts.top_share, 60 / 100, rel_tol=1e-12)
    assert facts.region == say("alt.region.lower_left")
    assert _numbers(alt_text.describe_heat(heat)) == [60, 10]
    assert alt_text.percent(facts.top_share) == say("alt.percent", pct=60)
    assert _numbers(alt_text.percent(facts.top_share)) == [60]


@pytest.mark.parametrize("pos, code", [((0, 0), "upper_left"), ((0, 14), "upper_centre"), ((14, 14), "middle_centre"),
                                       ((14, 29), "middle_right"), ((29, 0), "lower_left"),
                                       ((29, 15), "lower_centre"), ((29, 29), "lower_right"), ((14, 0), "middle_left"),
                                       ((0, 29), "upper_right")])
def test_regions(pos, code):
    heat = np.zeros((30, 30))
    heat[pos] = 1.0
    assert alt_text.region_code(*pos, heat.shape) == code
    assert alt_text.heat_facts(heat).region == alt_text.region_name(*pos, heat.shape) == say(f"alt.region.{code}")


def test_every_region_has_its_words():
    codes = {alt_text.region_code(r, c, (3, 3)) for r in range(3) for c in range(3)}
    assert len(codes) == 9
    assert len({say(f"alt.region.{code}") for code in codes}) == 9


def test_no_heat_says_so():
    for heat in (np.zeros((8, 8)), -np.ones((8, 8)), np.full((4, 4), np.nan)):
        assert alt_text.heat_facts(heat) is None
        assert alt_text.describe_heat(heat, class_name="3") == say(
            "alt.map_empty", who=say("alt.who_class", method="Grad-CAM", class_name="3"))
        assert alt_text.describe_heat(heat, empty="Why.", extra="More.") == say("alt.map_empty", who="Grad-CAM") + " Why. More."
    with pytest.raises(ValueError) as bad:
        alt_text.heat_facts(np.zeros(5))
    assert bad.value.key == "alt.not_2d" and bad.value.values == {"shape": (5,)}


def test_mnist_overlay_alt_matches_its_map():
    """The MNIST tab's overlay: its text alternative recomputed from the result's own map."""
    import torch

    from scipy import ndimage

    from gradcam_core.ui.mnist_tab import explain_index

    view = explain_index(2)
    alt = view.alts["overlay"]
    cam = torch.tensor(view.numbers["cam"], dtype=torch.float32)
    # the map as the overlay draws it: each relu2 cell at the centre of what it sees, 6.5 + 2r
    u = (np.arange(28) - 6.5) / 2.0
    yy, xx = np.meshgrid(u, u, indexing="ij")
    heat = ndimage.map_coordinates(cam.double().numpy(), [yy, xx], order=1, mode="nearest")
    k = math.ceil(0.1 * heat.size)
    share = np.sort(heat.ravel())[::-1][:k].sum() / heat.sum()
    peak = divmod(int(np.argmax(heat)), 28)
    region = alt_text.region_name(*peak, (28, 28))
    who = say("alt.who_class", method="Grad-CAM", class_name=view.numbers["target"])
    assert alt.startswith(say("alt.heat", who=who, region=region, top_pct=round(100 * share), area_pct=10))
    ink = view.numbers["heat_on_ink"]
    assert _numbers(alt) == [round(100 * share), 10, round(100 * ink["digit"]), round(100 * ink["ink_area"])]
    # the steps that show the map say the same; the others give their caption
    assert len(view.alts["steps"]) == 8
    assert view.alts["steps"][7].startswith(say("alt.step", n=8, caption="")[:-1])
    assert say("alt.heat", who=who, region=region, top_pct=round(100 * share), area_pct=10) in view.alts["steps"][7]
    assert view.alts["steps"][0].startswith(say("alt.step", n=1, caption="")[:-1])
    assert say("alt.heat", who=who, region=region, top_pct=round(100 * share), area_pct=10) not in view.alts["steps"][0]
    # the page gets it through the tab's alt store (the API still returns the image alone)
    from gradcam_core.ui.mnist_tab import MnistComponents, shown

    class Box:  # stand-ins for the components (only used as dict keys)
        def __init__(self, i):
            self._id = i

    names = ("index", "target", "channel", "layer", "label", "overlay", "numbers", "seen", "digit", "link", "alts")
    ui = MnistComponents(**{k: Box(i) for i, k in enumerate(names)}, steps=[Box(100 + i) for i in range(24)])
    out = shown(view, ui)  # by name (ui.common.by_name turns the names into the components)
    assert out["overlay"] is view.overlay  # the image alone
    assert out["alts"][ui.overlay._id] == alt and out["alts"][ui.steps[22]._id] == view.alts["steps"][7]


def test_digit_alt():
    d = np.zeros((28, 28))
    assert alt_text.digit_alt(d) == say("alt.digit_blank", h=28, w=28)
    d[2:5, 20:26] = 1.0  # 18 pixels of ink, upper right
    assert alt_text.digit_alt(d) == say("alt.digit", h=28, w=28, ink=0.5, ink_pct=2, centre=say("alt.region.upper_right"))
    # the figures as the reader's language writes them: the ink threshold, and 18 / 784 = 2.3 % rounded
    assert f"≥ {number(0.5, 'g')})" in alt_text.digit_alt(d) and _numbers(alt_text.digit_alt(d)) == [2]
    d[:] = 0.49  # below the ink threshold everywhere: blank
    assert alt_text.digit_alt(d) == say("alt.digit_blank", h=28, w=28)


def _result(method, cam, target=3):
    """A CAMResult-like stand-in: only what describe_result reads."""
    import torch

    class R:
        pass

    r = R()
    r.method, r.cam, r.targets, r.input_size = method, torch.as_tensor(cam, dtype=torch.float32)[None], \
        torch.tensor([target]), (28, 28)
    return r


def test_empty_map_sentence_is_the_methods_own():
    """Issue 24: describe_heat said "no part of the picture speaks for this class" for any method,
    an all-zero Counterfactual map included."""
    zero = np.zeros((8, 8))
    s = alt_text.describe_result(_result("Counterfactual", zero), "goldfish")
    assert s.startswith(say("alt.map_empty", who=say("alt.who_class", method="Counterfactual", class_name="goldfish")))
    # the branch is the method's own key: Counterfactual's "speaks against", never Grad-CAM's "raises"
    against, raises = (say(f"method.{m}.zero_text", c="goldfish") for m in ("counterfactual", "gradcam"))
    assert against != raises
    assert s.endswith(" " + against) and raises not in s
    s = alt_text.describe_result(_result("Grad-CAM", zero), "goldfish")
    assert s == say("alt.map_empty", who=say("alt.who_class", method="Grad-CAM", class_name="goldfish")) + " " + raises
    s = alt_text.describe_result(_result("Eigen-CAM", zero), "goldfish")
    assert "goldfish" not in s and s == say("alt.map_empty", who="Eigen-CAM") + " " + say("method.eigencam.zero_text")


def test_eigen_cam_alt_names_no_class():
    """Issue 24: "Eigen-CAM for class goldfinch (96 %)", while the summary rightly calls the map class-free."""
    heat = np.zeros((8, 8))
    heat[1, 6] = 1.0
    s = alt_text.describe_result(_result("Eigen-CAM", heat), "goldfinch (96 %)")
    upper_right = say("alt.region.upper_right")
    assert s == say("alt.heat", who="Eigen-CAM", region=upper_right, top_pct=100, area_pct=10)
    assert "goldfinch" not in s
    assert alt_text.describe_result(_result("Grad-CAM", heat), "goldfinch (96 %)") == say(
        "alt.heat", who=say("alt.who_class", method="Grad-CAM", class_name="goldfinch (96 %)"), region=upper_right,
        top_pct=100, area_pct=10)
    assert alt_text.describe_result(_result("Counterfactual", heat), "goldfinch") == say(
        "alt.heat", who=say("alt.who_class", method="Counterfactual", class_name="goldfinch"), region=upper_right,
        top_pct=100, area_pct=10)


def _probs(top: int, p: float):
    import torch

    probs = torch.full((1, 10), (1 - p) / 9)
    probs[0, top] = p
    return probs


def test_shortcut_and_imagenet_alts_are_written_from_their_numbers():
    """views_alt, card_alt and explanation_alt, fed stand-ins: each figure is the result's own."""
    from types import SimpleNamespace as NS

    corner = np.zeros((4, 4))
    corner[0, 3] = 1.0
    hot, cold = _result("Grad-CAM", corner), _result("Grad-CAM", np.zeros((4, 4)))
    hot.probs, cold.probs = _probs(7, 0.874), _probs(1, 0.5)
    facts = alt_text.heat_facts(alt_text.heat_of_result(hot))  # the map as drawn, 28 × 28
    assert facts.region == say("alt.region.upper_right")
    short = say("alt.short", region=facts.region, top_pct=round(100 * facts.top_share), area_pct=10)
    views = [NS(name="no cue", results={"clean": hot, "shortcut": cold})]
    join = say("alt.join.parts")  # "; " (French: "\u202f; ")
    assert alt_text.views_alt(views, "Digit 7") == say("alt.views", title="Digit 7", views=say(
        "alt.view", name="no cue", models=join.join([
            say("alt.view_model", model=say("shortcut.model_word.clean"), digit=7, pct=87, heat=short),
            say("alt.view_model", model=say("shortcut.model_word.shortcut"), digit=1, pct=50, heat=say("alt.no_heat"))])))
    card = NS(experiment="context", photo="cat", variant="grass", result_original=hot, result_altered=cold,
              categories=[f"c{i}" for i in range(10)])
    title = say("analysis.card.title.context", photo=say("analysis.photo.cat").capitalize(),
                variant=say("analysis.background.grass"))  # "The cat on grass"
    assert alt_text.card_alt(card) == say("alt.card", title=title, sides=join.join([
        say("alt.card_side", what=say("alt.original"), name="c3", pct=87, heat=short),
        say("alt.card_side", what=say("alt.altered"), name="c3", pct=50, heat=say("alt.no_heat"))]))
    card.categories = None
    assert say("alt.card_side", what=say("alt.original"), name="3", pct=87, heat=short) in alt_text.card_alt(card)
    one = NS(name="tabby", prob=0.4123, result=hot)
    two = NS(name="dog", prob=0.1, result=hot)
    label = say("alt.class_prob", name="tabby", pct=41)
    text = alt_text.describe_result(hot, label)
    assert label == f"tabby ({say('alt.percent', pct=41)})" and _numbers(label) == [41]
    assert text.startswith(say("alt.who_class", method="Grad-CAM", class_name=label))
    for what, lead in (("overlay", "alt.lead_overlay"), ("heatmap", "alt.lead_heatmap")):
        head = say(lead, model="ResNet-50", layer="layer4")
        expl = NS(model_title="ResNet-50", layer="layer4", views=[one])
        assert alt_text.explanation_alt(expl, what) == f"{head} {text}"
        expl.views = [one, two]
        assert alt_text.explanation_alt(expl, what) == " ".join([
            head, say("alt.left", text=text),
            say("alt.right", text=alt_text.describe_result(hot, say("alt.class_prob", name="dog", pct=10)))])
