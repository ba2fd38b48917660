"""Colour maps under simulated colour-vision deficiency (issue 17): the claims of the UI, measured."""
from __future__ import annotations

import pytest

from gradcam_core.present import colour_vision as cv
from gradcam_core.base.inputs import CMAPS
from gradcam_core.present.words import say

KINDS = ["none", "protanopia", "deuteranopia", "tritanopia"]


@pytest.mark.parametrize("cmap", cv.CVD_SAFE)
def test_safe_maps_keep_their_order_under_every_deficiency(cmap):
    assert all(cv.is_monotonic(cmap, k) for k in KINDS)


def test_jet_loses_its_order():
    # jet runs dark -> light -> dark: under deuteranopia L* at 0, ¼, ½, ¾, 1 is about 17, 53, 89, 75, 29
    prof = cv.lightness_profile("jet", "deuteranopia", 5)
    assert prof.argmax() == 2 and abs(prof[0] - prof[-1]) < 15
    assert not any(cv.is_monotonic("jet", k) for k in KINDS)


def test_diverging_ends_stay_apart():
    # the signed maps' two signs (RdBu_r): CIE76 distance of the ends under each simulation
    assert [round(cv.end_distance("RdBu_r", k)) for k in KINDS] == [58, 35, 53, 69]


def test_every_choice_is_offered_where_maps_are_chosen():
    assert {v for _, v in cv.HEAT_CHOICES} == set(CMAPS)
    labels = dict((v, label) for label, v in cv.HEAT_CHOICES)
    assert {v for v in labels if labels[v] == say("colour.choice_safe", name=v)} == set(cv.CVD_SAFE) - {"gray"}
    assert labels["jet"] == say("colour.choice_jet", name="jet") and labels["gray"] == "gray"
