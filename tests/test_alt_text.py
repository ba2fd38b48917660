"""Text alternatives of result images (issue 17): every figure in the sentence is the map's own."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from gradcam_core.present import alt_text


def _numbers(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"(\d+) %", text)]


def test_heat_in_one_corner():
    heat = np.zeros((10, 10))
    heat[0, 9] = 5.0  # upper right
    facts = alt_text.heat_facts(heat)
    assert facts.peak == (0, 9) and facts.region == "upper right"
    assert facts.top_pixels == 10 and facts.top_share == 1.0
    text = alt_text.describe_heat(heat, class_name="7")
    assert text == ("Grad-CAM for class 7: the heat is strongest in the upper right of the picture; "
                    "100 % of the heat lies in 10 % of the picture.")


def test_even_heat_is_ten_percent_in_ten_percent():
    text = alt_text.describe_heat(np.ones((20, 20)), method="HiResCAM")
    assert text.startswith("HiResCAM: the heat is strongest in the upper left")  # first hottest pixel
    assert _numbers(text) == [10, 10]


def test_share_matches_a_known_mix():
    # 100 pixels: 10 hold 6 each (60), the other 90 hold 40 in all -> the hottest 10 % hold 60 %
    heat = np.full((10, 10), 40 / 90)
    heat[7:9, 1:6] = 6.0  # 10 pixels in the lower left
    facts = alt_text.heat_facts(heat)
    assert math.isclose(facts.top_share, 60 / 100, rel_tol=1e-12)
    assert facts.region == "lower left"
    assert _numbers(alt_text.describe_heat(heat)) == [60, 10]


@pytest.mark.parametrize("pos, name", [((0, 0), "upper left"), ((0, 14), "upper centre"), ((14, 14), "centre"),
                                       ((14, 29), "middle right"), ((29, 0), "lower left"),
                                       ((29, 15), "lower centre")])
def test_regions(pos, name):
    heat = np.zeros((30, 30))
    heat[pos] = 1.0
    assert alt_text.heat_facts(heat).region == name


def test_no_heat_says_so():
    for heat in (np.zeros((8, 8)), -np.ones((8, 8)), np.full((4, 4), np.nan)):
        assert alt_text.heat_facts(heat) is None
        assert "the map is empty" in alt_text.describe_heat(heat, class_name="3")
    with pytest.raises(ValueError):
        alt_text.heat_facts(np.zeros(5))


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
    assert alt.startswith(f"Grad-CAM for class {view.numbers['target']}: the heat is strongest in the {region}")
    ink = view.numbers["heat_on_ink"]
    assert _numbers(alt) == [round(100 * share), 10, round(100 * ink["digit"]), round(100 * ink["ink_area"])]
    # the steps that show the map say the same; the others give their caption
    assert len(view.alts["steps"]) == 8
    assert view.alts["steps"][7].startswith("Step 8: ") and alt.split(" of the picture.")[0] in view.alts["steps"][7]
    assert "heat" not in view.alts["steps"][0].split(":", 1)[0]
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
    assert alt_text.digit_alt(d) == "What LeNet sees: a blank 28 × 28 picture."
    d[2:5, 20:26] = 1.0  # 18 pixels of ink, upper right
    assert alt_text.digit_alt(d) == ("What LeNet sees: the digit at 28 × 28 pixels; ink (pixels ≥ 0.5) covers 2 % of "
                                     "the picture, centred in the upper right.")


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
    assert s.startswith("Counterfactual for class goldfish: the map is empty.")
    assert "no cell speaks against goldfish on balance" in s and "speaks for" not in s
    s = alt_text.describe_result(_result("Grad-CAM", zero), "goldfish")
    assert "no cell raises the score of goldfish on balance" in s
    s = alt_text.describe_result(_result("Eigen-CAM", zero), "goldfish")
    assert "goldfish" not in s and "Eigen-CAM says nothing about any class" in s


def test_eigen_cam_alt_names_no_class():
    """Issue 24: "Eigen-CAM for class goldfinch (96 %)", while the summary rightly calls the map class-free."""
    heat = np.zeros((8, 8))
    heat[1, 6] = 1.0
    s = alt_text.describe_result(_result("Eigen-CAM", heat), "goldfinch (96 %)")
    assert s.startswith("Eigen-CAM: the heat is strongest in the upper right") and "goldfinch" not in s
    assert alt_text.describe_result(_result("Grad-CAM", heat), "goldfinch (96 %)").startswith(
        "Grad-CAM for class goldfinch (96 %): the heat")
    assert "Counterfactual for class goldfinch" in alt_text.describe_result(_result("Counterfactual", heat), "goldfinch")
