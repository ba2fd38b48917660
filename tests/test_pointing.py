"""The guess exercise's scores (analysis/pointing.py): exact identities on hand-made maps."""
from __future__ import annotations

import json

import numpy as np
import pytest

from gradcam_core.analysis import pointing as P
from gradcam_core.base.errors import Refusal

RNG = np.random.default_rng(26)


def _random_map(h: int = 7, w: int = 7) -> np.ndarray:
    return RNG.random((h, w))


def test_cell_heat_sums_to_one_and_keeps_proportions():
    cam = _random_map(7, 5)
    heat = P.cell_heat(cam)
    assert heat.shape == (7, 5)
    assert heat.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(heat, cam / cam.sum())


def test_cell_heat_ignores_negative_values_and_nan():
    cam = np.array([[-3.0, 1.0], [np.nan, 3.0]])
    assert P.cell_heat(cam).tolist() == [[0.0, 0.25], [0.0, 0.75]]


def test_heat_shares_of_single_cells_sum_to_one():
    cam = _random_map()
    total = sum(P.score(cam, [c]).heat_share for c in range(49))
    assert total == pytest.approx(1.0, abs=1e-12)


def test_every_cell_tapped_gives_all_heat_and_all_area():
    cam = _random_map(4, 6)
    s = P.score(cam, list(range(24)))
    assert s.heat_share == pytest.approx(1.0)
    assert s.area_share == 1.0
    assert s.hit and not s.empty
    assert s.grid == (4, 6)


@pytest.mark.parametrize("hot", [0, 17, 48])
def test_one_hot_map_hits_exactly_when_that_cell_is_tapped(hot):
    cam = np.zeros((7, 7))
    cam.flat[hot] = 2.5
    assert P.hottest_cells(cam) == (hot,)
    for cell in range(49):
        s = P.score(cam, [cell])
        assert s.hit is (cell == hot)
        assert s.heat_share == (1.0 if cell == hot else 0.0)
        assert s.area_share == pytest.approx(1 / 49)


def test_ties_all_count_as_hottest():
    cam = np.array([[1.0, 5.0], [5.0 * (1 - 1e-7), 4.0]])
    assert P.hottest_cells(cam) == (1, 2)
    assert P.score(cam, [2]).hit
    assert P.score(cam, [1]).hit
    assert not P.score(cam, [0, 3]).hit
    # just outside the tolerance is not a tie
    assert P.hottest_cells(np.array([[5.0, 5.0 * (1 - 1e-5)]])) == (0,)


def test_empty_map_has_no_hottest_cell_no_hit_and_no_heat():
    for cam in (np.zeros((7, 7)), -np.ones((7, 7))):
        assert P.hottest_cells(cam) == ()
        assert not P.cell_heat(cam).any()
        s = P.score(cam, [0, 24, 48])
        assert s.empty and not s.hit
        assert s.heat_share == 0.0 and s.area_share == pytest.approx(3 / 49)


def test_cells_are_deduplicated_and_sorted():
    s = P.score(np.ones((3, 3)), [5, 1, 5, 1.0])
    assert s.cells == (1, 5)
    assert s.area_share == pytest.approx(2 / 9)


@pytest.mark.parametrize("bad", [-1, 49, 100, 2.5, "x", None, True])
def test_cells_off_the_grid_are_refused(bad):
    with pytest.raises(Refusal) as err:
        P.score(np.ones((7, 7)), [3, bad])
    assert err.value.key == "reveal.bad_cell"
    assert err.value.values["last"] == 48
    assert (err.value.values["h"], err.value.values["w"]) == (7, 7)


def test_a_map_that_is_not_a_grid_is_refused():
    for cam in (np.ones(5), np.ones((2, 2, 2)), np.ones((0, 3))):
        with pytest.raises(Refusal) as err:
            P.score(cam, [0])
        assert err.value.key == "reveal.bad_map"


def test_a_map_with_a_leading_axis_of_one_is_the_map():
    cam = _random_map(7, 7)
    assert P.score(cam[None], [3]) == P.score(cam, [3])
    assert P.score(cam[None].tolist(), [3]) == P.score(cam, [3])


def test_no_cells_scores_nothing():
    s = P.score(np.ones((2, 2)), [])
    assert s.cells == () and not s.hit and s.heat_share == 0.0 and s.area_share == 0.0


def _cam_3x3() -> np.ndarray:
    # heat: cell 4 holds 8/19, cell 0 holds 4/19, each of the other seven cells 1/19
    cam = np.ones((3, 3))
    cam[1, 1] = 8.0
    cam[0, 0] = 4.0
    return cam


def test_class_score_from_hand_computed_counts():
    cam = _cam_3x3()
    taps = [[4], [4, 0], [0, 1, 2], [4, 8], [], [8, 8]]
    cs = P.score_class(cam, taps)
    assert cs.answered == 5  # the empty answer is not an answer
    assert cs.grid == (3, 3)
    assert cs.counts.tolist() == [[2, 1, 1], [0, 3, 0], [0, 0, 2]]
    # counts: cell 4 → 3, cells 0 and 8 → 2 (reading order: 0 first), then 1 and 2 → 1
    assert cs.popular == (4, 0, 8)
    assert cs.hits == 3  # the three people who tapped cell 4
    assert cs.hottest == (4,)
    assert cs.heat_popular == pytest.approx((8 + 4 + 1) / 19)
    assert cs.area_popular == pytest.approx(3 / 9)
    own = [8 / 19, 12 / 19, 6 / 19, 9 / 19, 1 / 19]
    assert cs.mean_heat_share == pytest.approx(sum(own) / 5)
    assert not cs.empty


def test_popular_ties_are_broken_in_reading_order_and_counted():
    counts = np.array([[1, 2, 0], [2, 2, 0], [2, 0, 1]])
    assert P.popular_cells(counts) == (1, 3, 4)
    assert P.tied_out(counts, (1, 3, 4)) == 1  # cell 6 was chosen as often as cell 4
    assert P.tied_out(np.array([[3, 2, 2, 1]]), (0, 1, 2)) == 0


def test_popular_holds_only_cells_somebody_chose():
    cs = P.score_class(np.ones((2, 2)), [[3]])
    assert cs.popular == (3,)
    assert cs.area_popular == pytest.approx(1 / 4)
    assert P.score_class(np.ones((2, 2)), []).popular == ()


def test_nobody_answered():
    cs = P.score_class(_cam_3x3(), [[], []])
    assert cs.answered == 0 and cs.hits == 0 and cs.popular == ()
    assert cs.heat_popular == 0.0 and cs.area_popular == 0.0 and cs.mean_heat_share == 0.0
    assert not cs.counts.any()


def test_class_score_on_an_empty_map():
    cs = P.score_class(np.zeros((3, 3)), [[4], [4, 0]])
    assert cs.empty and cs.hits == 0 and cs.hottest == ()
    assert cs.popular == (4, 0) and cs.heat_popular == 0.0
    assert cs.counts.sum() == 3


def test_overlap_is_zero_where_nobody_tapped_and_one_where_both_peak():
    cam = _cam_3x3()
    counts = np.array([[2, 0, 0], [0, 4, 0], [0, 0, 1]])
    ov = P.overlap(cam, counts)
    assert ov.shape == (3, 3)
    assert (ov[counts == 0] == 0).all()
    assert ov[1, 1] == 1.0
    assert ov[0, 0] == pytest.approx(min(4 / 8, 2 / 4))
    assert ov[2, 2] == pytest.approx(min(1 / 8, 1 / 4))
    assert not P.overlap(np.zeros((3, 3)), counts).any()
    assert not P.overlap(cam, np.zeros((3, 3))).any()
    with pytest.raises(Refusal) as err:
        P.overlap(cam, np.zeros((2, 2)))
    assert err.value.key == "reveal.bad_counts"


def test_reveal_numbers_are_plain_json_of_the_scores():
    cam = _cam_3x3()
    cs = P.score_class(cam, [[4], [0, 1]])
    scores = {"Otter 17": P.score(cam, [4]), "<b>Ann</b>": P.score(cam, [0, 1])}
    out = json.loads(json.dumps(P.reveal_numbers(cs, scores)))
    assert out["grid"] == [3, 3] and out["answered"] == 2 and out["hits"] == 1
    assert out["popular"] == [0, 1, 4] and out["hottest"] == [4]
    assert out["counts"] == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]
    assert out["heat_popular"] == pytest.approx(13 / 19)
    assert out["answers"][0] == {"nickname": "Otter 17", "cells": [4], "hit": True,
                                 "heat_share": pytest.approx(8 / 19), "area_share": pytest.approx(1 / 9)}
    assert out["answers"][1]["nickname"] == "<b>Ann</b>" and out["answers"][1]["hit"] is False
