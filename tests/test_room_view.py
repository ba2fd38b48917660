"""The reveal's words and pictures (present/room_view.py): every wording branch, with the numbers it
states; the pictures' geometry (grid lines, cells, outlines) on plain hand-made images."""
from __future__ import annotations

import re

import numpy as np
import pytest

from gradcam_core.analysis import pointing as P
from gradcam_core.analysis.pointing import ClassScore, Score
from gradcam_core.base.errors import Refusal
from gradcam_core.present import room_view as V
from gradcam_core.present.colour_vision import is_monotonic
from gradcam_core.present.words import say

GRID = (7, 7)


def _cs(answered=10, hits=4, popular=(17, 24, 10), heat=0.41, area=3 / 49, mean=0.2, empty=False,
        hottest=(18,), counts=None) -> ClassScore:
    if counts is None:
        counts = np.zeros(GRID, int)
        for rank, cell in enumerate(popular):
            counts.flat[cell] = 9 - rank
    return ClassScore(answered=answered, grid=GRID, counts=np.asarray(counts), popular=tuple(popular), hits=hits,
                      heat_popular=heat, area_popular=area, mean_heat_share=mean, empty=empty,
                      hottest=tuple(hottest))


def _score(cells=(17,), hit=False, heat=0.1, area=1 / 49, empty=False, hottest=(18,)) -> Score:
    return Score(cells=tuple(cells), hottest=tuple(hottest), hit=hit, heat_share=heat, area_share=area,
                 empty=empty, grid=GRID)


def _percents(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"(\d+) %", text)]


# ------------------------------------------------------------------------------------- cell names
@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_cells_are_named_from_one_as_people_count():
    assert V.cell_name(0, GRID) == "row 1, column 1"
    assert V.cell_name(18, GRID) == "row 3, column 5"
    assert V.cell_name(11, (3, 4)) == "row 3, column 4"
    assert V.cells_names([0, 48], GRID) == "row 1, column 1; row 7, column 7"


# ------------------------------------------------------------------------------------- comparison
@pytest.mark.parametrize("heat, area, code", [
    (0.41, 3 / 49, "strong"),        # 41 % against 6 %
    (0.12, 0.06, "strong"),          # exactly twice
    (0.08, 3 / 49, "more"),          # 8 % against 6 %: more, but not twice
    (0.0649, 3 / 49, "same"),        # written 6 % and 6 %
    (0.0551, 3 / 49, "same"),
    (0.03, 3 / 49, "less"),
    (0.0, 1 / 49, "less"),
])
def test_heat_against_area_is_compared_as_written(heat, area, code):
    assert V.compare_code(heat, area) == code


# ---------------------------------------------------------------------------------- reveal_text
@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_reveal_sentence_carries_the_scores_figures():
    cs = _cs(answered=28, hits=19, heat=0.41, area=3 / 49, mean=0.23)
    text = V.reveal_text(cs, "tabby cat", "ResNet-18")
    assert text.startswith("**Grad-CAM of ResNet-18 for “tabby cat”.**")
    assert "19 of 28 of you chose the model's hottest cell (row 3, column 5)." in text
    assert "41 % of the model's heat lies in the 3 cells most of you chose, 6 % of the grid's 49 cells" in text
    assert f"{0.41 / (3 / 49):.1f} times" in text  # 6.7
    assert _percents(text) == [41, 6, 23]
    assert "the model's evidence is concentrated where the class looked" in text


@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_everyone_and_nobody_hit():
    all_ = V.reveal_text(_cs(answered=5, hits=5), "dog", "VGG")
    assert "All 5 of you chose the model's hottest cell" in all_
    none = V.reveal_text(_cs(answered=5, hits=0), "dog", "VGG")
    assert "None of the 5 of you chose the model's hottest cell" in none
    some = V.reveal_text(_cs(answered=5, hits=1), "dog", "VGG")
    assert "1 of 5 of you chose" in some


@pytest.mark.parametrize("heat, area, clause", [
    (0.41, 3 / 49, "so the model's evidence is concentrated where the class looked"),
    (0.08, 3 / 49, "a little more than an even spread of heat would give"),
    (0.06, 3 / 49, "about what an even spread of heat would give, so no more than chance"),
    (0.02, 3 / 49, "less than an even spread of heat would give, so the model looks mostly elsewhere"),
])
@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_class_agrees_or_the_model_looks_elsewhere(heat, area, clause):
    text = V.reveal_text(_cs(heat=heat, area=area), "dog", "VGG")
    assert clause in text
    h, a = _percents(text)[:2]
    assert (h, a) == (round(heat * 100), round(area * 100))
    if "elsewhere" in clause:
        assert h < a
    elif "chance" in clause:
        assert h == a
    else:
        assert h > a


@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_one_popular_cell_is_singular():
    counts = np.zeros(GRID, int)
    counts.flat[18] = 3
    text = V.reveal_text(_cs(answered=3, hits=3, popular=(18,), heat=0.3, area=1 / 49, counts=counts), "dog", "VGG")
    assert "lies in the cell most of you chose, 1 of the grid's 49 cells (2 %)" in text


@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_one_person_answering_reads_in_the_singular():
    counts = np.zeros(GRID, int)
    counts.flat[[17, 18]] = 1
    hit = V.reveal_text(_cs(answered=1, hits=1, popular=(17, 18), heat=0.5, area=2 / 49, counts=counts, mean=0.5),
                        "dog", "VGG")
    assert "The one person who answered chose the model's hottest cell (row 3, column 5)." in hit
    assert "lies in the 2 cells they chose, 4 % of the grid's 49 cells" in hit
    assert "of you" not in hit and "On average" not in hit and "just as often" not in hit
    counts = np.zeros(GRID, int)
    counts.flat[0] = 1
    miss = V.reveal_text(_cs(answered=1, hits=0, popular=(0,), heat=0.01, area=1 / 49, counts=counts), "dog", "VGG")
    assert "The one person who answered did not choose the model's hottest cell" in miss
    assert "in the cell they chose, 1 of the grid's 49 cells (2 %)" in miss


@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_nobody_answered():
    text = V.reveal_text(_cs(answered=0, hits=0, popular=(), heat=0.0, area=0.0, counts=np.zeros(GRID, int)),
                         "dog", "VGG")
    assert say("reveal.nobody") in text
    assert "The model's hottest cell for “dog” is row 3, column 5." in text
    assert " %" not in text


@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_an_empty_map_is_never_a_miss():
    for answered in (0, 1, 7):
        cs = _cs(answered=answered, hits=0, heat=0.0, empty=True, hottest=())
        text = V.reveal_text(cs, "dog", "VGG")
        assert say("reveal.empty", name="dog") in text
        assert "None of" not in text and "did not choose" not in text and "%" not in text
        if answered == 1:
            assert "1 person answered" in text
        elif answered:
            assert f"{answered} people answered" in text


@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_tied_hottest_cells_are_all_named():
    text = V.reveal_text(_cs(hottest=(3, 45)), "dog", "VGG")
    assert "one of the model's 2 equally hot cells (row 1, column 4; row 7, column 4)" in text
    alone = V.reveal_text(_cs(answered=0, hits=0, popular=(), heat=0, area=0, counts=np.zeros(GRID, int),
                              hottest=(3, 45)), "dog", "VGG")
    assert "The model's 2 hottest cells for “dog”, equally hot, are row 1, column 4; row 7, column 4." in alone


@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_a_tie_at_the_cut_is_said_with_its_count():
    cam = np.ones(GRID)
    # four cells chosen twice each: the rule keeps 3 in reading order and leaves 1 out
    taps = [[1, 2], [3, 4], [1, 2], [3, 4]]
    cs = P.score_class(cam, taps)
    assert cs.popular == (1, 2, 3)
    assert "(1 more cell was chosen just as often" in V.reveal_text(cs, "dog", "VGG")
    cs = P.score_class(cam, [[1, 2, 3], [4, 5, 6]])
    assert "(3 more cells were chosen just as often" in V.reveal_text(cs, "dog", "VGG")
    cs = P.score_class(cam, [[1, 2, 3], [1, 2, 3], [4]])
    assert "just as often" not in V.reveal_text(cs, "dog", "VGG")


@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_the_mean_is_the_mean_of_own_shares():
    cam = np.zeros(GRID)
    cam.flat[18] = 3.0
    cam.flat[17] = 1.0
    cs = P.score_class(cam, [[18], [17], [0]])
    assert cs.mean_heat_share == pytest.approx((0.75 + 0.25 + 0) / 3)
    text = V.reveal_text(cs, "dog", "VGG")
    assert "On average, the cells each of you chose hold 33 % of the model's heat." in text
    assert "1 of 3 of you chose" in text
    # popular: the three cells, each chosen once, in reading order (0, 17, 18): all the heat in 3 of 49
    assert "100 % of the model's heat lies in the 3 cells most of you chose, 6 % of the grid's 49 cells" in text


# ------------------------------------------------------------------------------------- own_text
@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_own_hit_and_miss_in_singular_and_plural():
    assert V.own_text(_score(cells=(18,), hit=True, heat=0.5), "dog").startswith(
        "You found it: the model's hottest cell (row 3, column 5) is your cell. Your cell holds 50 %")
    assert V.own_text(_score(cells=(17, 18), hit=True, heat=0.6, area=2 / 49), "dog").startswith(
        "You found it: the model's hottest cell (row 3, column 5) is one of your 2 cells. Your 2 cells hold 60 %")
    assert V.own_text(_score(cells=(17,), heat=0.1), "dog").startswith(
        "Your cell is not the model's hottest cell (row 3, column 5). Your cell holds 10 % of the model's heat "
        "and is 1 of the grid's 49 cells (2 %)")
    assert V.own_text(_score(cells=(0, 1, 2), heat=0.0, area=3 / 49), "dog").startswith(
        "None of your 3 cells is the model's hottest cell (row 3, column 5). Your 3 cells hold 0 %")


@pytest.mark.parametrize("heat, clause", [
    (0.5, "so the model's evidence is concentrated where you looked"),
    (0.03, "a little more than an even spread of heat would give"),
    (0.02, "no more than chance"),
    (0.001, "so the model looks mostly elsewhere"),
])
@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_own_heat_against_area(heat, clause):
    text = V.own_text(_score(cells=(17,), heat=heat, area=1 / 49), "dog")
    assert clause in text
    assert _percents(text) == [round(heat * 100), 2]


@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_own_text_on_an_empty_map_and_without_an_answer():
    empty = V.own_text(_score(cells=(18,), empty=True, hottest=(), heat=0.0), "dog")
    assert empty == say("reveal.own_empty", name="dog")
    assert "not" not in empty.split(":")[0] and "miss" not in empty
    none = V.own_text(_score(cells=(), area=0.0, heat=0.0), "dog")
    assert none == "You did not send an answer this round. The model's hottest cell for “dog” is row 3, column 5."


@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_own_text_from_a_real_score():
    cam = np.zeros(GRID)
    cam.flat[18] = 1.0
    s = P.score(cam, [18, 19])
    assert V.own_text(s, "dog") == (
        "You found it: the model's hottest cell (row 3, column 5) is one of your 2 cells. Your 2 cells hold 100 % of "
        "the model's heat and are 4 % of the grid's 49 cells: 24.5 times what an even spread of heat would give, so the "
        "model's evidence is concentrated where you looked.")


# ----------------------------------------------------------------------------------- counts_text
@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_counts_text():
    assert V.counts_text(0, 0) == "No phones have joined yet"
    assert V.counts_text(1, 0) == "1 phone joined · 0 answered"
    assert V.counts_text(12, 9) == "12 phones joined · 9 answered"


# ---------------------------------------------------------------------------------------- alt text
@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_reveal_alt_names_the_cells_of_each_picture():
    cam = np.zeros(GRID)
    cam.flat[18] = 1.0
    cam.flat[17] = 0.5
    cs = P.score_class(cam, [[17], [17, 18], [17, 0]])
    text = V.reveal_alt(cs, "dog", cam=cam)
    assert "the class's taps from 3 people" in text
    assert "the most chosen cell is row 3, column 4, chosen by 3 of them" in text
    assert "Middle, the Grad-CAM: its hottest cell is row 3, column 5." in text
    # overlap: min(0.5 / 1, 3 / 3) = 0.5 at cell 17, min(1, 1/3) at 18: strongest at 17
    assert "Right, where they overlap: strongest at row 3, column 4." in text
    without = V.reveal_alt(cs, "dog")
    assert f"the most chosen cells hold {100 * cs.heat_popular:.0f} % of the model's heat" in without


@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_reveal_alt_branches_for_no_taps_one_person_ties_and_empty_maps():
    cam = np.zeros(GRID)
    cam.flat[[3, 45]] = 1.0
    none = V.reveal_alt(P.score_class(cam, []), "dog", cam=cam)
    assert say("reveal.alt.taps_none") in none and say("reveal.alt.overlap_none") in none
    assert "its 2 hottest cells, equally hot, are row 1, column 4; row 7, column 4" in none
    one = V.reveal_alt(P.score_class(cam, [[0, 1]]), "dog", cam=cam)
    assert "the taps of the one person who answered: row 1, column 1; row 1, column 2." in one
    assert say("reveal.alt.overlap_none") in one  # neither cell holds heat
    empty = V.reveal_alt(P.score_class(np.zeros(GRID), [[0], [1]]), "dog", cam=np.zeros(GRID))
    assert say("reveal.alt.cam_empty", method="Grad-CAM") in empty
    assert say("reveal.alt.overlap_none") in empty


@pytest.mark.english_only  # asserts English words; the French sentence comes from the same branch (issue 28)
def test_own_alt_branches():
    assert V.own_alt(_score(cells=(18,), hit=True)) == (
        "Your cell (row 3, column 5) is outlined in white on the Grad-CAM; a white dot marks the model's hottest "
        "cell. The model's hottest cell (row 3, column 5) is one of yours.")
    assert V.own_alt(_score(cells=(0, 1), area=2 / 49)).endswith(
        "The model's hottest cell (row 3, column 5) is not one of yours.")
    assert V.own_alt(_score(cells=(0,), hottest=(3, 45))).endswith(
        "None of the model's 2 equally hot cells (row 1, column 4; row 7, column 4) is one of yours.")
    assert V.own_alt(_score(cells=(3,), hit=True, hottest=(3, 45))).endswith(
        "One of the model's 2 equally hot cells (row 1, column 4; row 7, column 4) is one of yours.")
    assert V.own_alt(_score(cells=())).endswith("you chose no cell. The dot is on row 3, column 5.")
    assert V.own_alt(_score(cells=(), hottest=(3, 45))).endswith(
        "2 cells are equally hot, each with a dot: row 1, column 4; row 7, column 4.")
    empty = V.own_alt(_score(cells=(0,), empty=True, hottest=()))
    assert empty == ("An empty Grad-CAM: the map has no heat anywhere, so no cell is marked as hottest. "
                     "Your cells (row 1, column 1) are outlined in white on it.")


# ---------------------------------------------------------------------------------------- pictures
def _flat_image(value: int = 100, size: tuple[int, int] = (224, 224)) -> np.ndarray:
    return np.full(size + (3,), value, np.uint8)


def _is_grey(px: np.ndarray) -> np.ndarray:
    return (px[..., 0] == px[..., 1]) & (px[..., 1] == px[..., 2])


@pytest.mark.parametrize("size, shape", [((224, 224), (448, 448)), ((28, 28), (448, 448)),
                                         ((600, 1000), (269, 448)), ((1000, 600), (448, 269))])
def test_guess_picture_is_phone_sized(size, shape):
    assert V.guess_picture(_flat_image(size=size), GRID).shape == shape + (3,)


def test_guess_grid_lines_lie_exactly_on_the_cell_boundaries():
    img = V.guess_picture(_flat_image(100), (4, 6))
    lined = 100 + round(155 * V.LINE_ALPHA)
    # a pixel x lies in column ((2x + 1) w) // 2W (its centre's column): a line on each first pixel
    x = np.arange(448)
    xs = np.flatnonzero(np.diff((2 * x + 1) * 6 // (2 * 448))) + 1
    ys = np.flatnonzero(np.diff((2 * x + 1) * 4 // (2 * 448))) + 1
    assert xs.tolist() == V.cell_starts(6, 448)[1:-1].tolist() and len(ys) == 3
    # within a pixel of where the phone's buttons (CSS percentages k / w of the width) start
    assert np.abs(xs - 448 * np.arange(1, 6) / 6).max() <= 1
    expected = np.full((448, 448), 100)
    expected[:, xs] = lined
    expected[ys, :] = lined
    assert (img[..., 0] == expected).all()


def test_a_digit_stays_in_blocks():
    digit = (np.arange(28 * 28).reshape(28, 28) % 251).astype(np.uint8)
    img = V.guess_picture(digit, (1, 1))  # one cell: no inner line
    assert (img[:16, :16] == digit[0, 0]).all() and (img[-16:, -16:] == digit[-1, -1]).all()


def _inside(box, margin=6):
    x0, y0, x1, y1 = box
    return slice(y0 + margin, y1 - margin), slice(x0 + margin, x1 - margin)


def test_taps_picture_colours_only_tapped_cells_and_writes_their_counts():
    counts = np.zeros(GRID, int)
    counts.flat[17], counts.flat[24] = 4, 1
    img = V.taps_picture(_flat_image(100), counts)
    for cell in range(49):
        block = img[_inside(V.cell_box(cell, GRID, (448, 448)))]
        if counts.flat[cell]:
            assert not _is_grey(block).all()
        else:
            assert _is_grey(block).all() and (block == 100).all()
    # the count is written: the cell's centre is not one flat colour
    y, x = _inside(V.cell_box(17, GRID, (448, 448)), margin=20)
    assert len(np.unique(img[y, x].reshape(-1, 3), axis=0)) > 2


def test_cam_picture_is_drawn_cell_by_cell():
    cam = np.zeros(GRID)
    cam.flat[18] = 2.0
    img = V.cam_picture(_flat_image(100), cam)
    hot = img[_inside(V.cell_box(18, GRID, (448, 448)))]
    cold = img[_inside(V.cell_box(0, GRID, (448, 448)))]
    assert len(np.unique(hot.reshape(-1, 3), axis=0)) == 1 and len(np.unique(cold.reshape(-1, 3), axis=0)) == 1
    assert not (hot[0, 0] == cold[0, 0]).all()
    assert (img[_inside(V.cell_box(48, GRID, (448, 448)))] == cold[0, 0]).all()


def test_overlap_picture_is_grey_where_nobody_tapped():
    cam = np.ones(GRID)
    counts = np.zeros(GRID, int)
    counts.flat[[0, 30]] = [2, 1]
    img = V.overlap_picture(_flat_image(100), cam, counts)
    for cell in range(49):
        block = img[_inside(V.cell_box(cell, GRID, (448, 448)))]
        assert bool(_is_grey(block).all()) is bool(counts.flat[cell] == 0)
    assert _is_grey(V.overlap_picture(_flat_image(100), np.zeros(GRID), counts)).all()


def test_own_picture_outlines_exactly_the_tapped_cells_and_dots_the_hottest():
    cam = np.zeros(GRID)
    cam.flat[18] = 1.0
    img = V.own_picture(_flat_image(100), cam, [17, 30])
    for cell in range(49):
        x0, y0, x1, y1 = V.cell_box(cell, GRID, (448, 448))
        edge_black = bool((img[y0 + 10, x0] == 0).all() and (img[y1 - 1, x0 + 10] == 0).all())
        edge_white = bool((img[y0 + 10, x0 + 2] == 255).all())
        assert edge_black is (cell in (17, 30)) and edge_white is (cell in (17, 30))
    x0, y0, x1, y1 = V.cell_box(18, GRID, (448, 448))
    assert (img[(y0 + y1) // 2, (x0 + x1) // 2] == 255).all()
    x0, y0, x1, y1 = V.cell_box(17, GRID, (448, 448))
    assert not (img[(y0 + y1) // 2, (x0 + x1) // 2] == 255).all()


def test_reveal_picture_puts_three_panels_side_by_side():
    cam = np.random.default_rng(0).random(GRID)
    counts = np.zeros(GRID, int)
    counts.flat[5] = 2
    bare = V.reveal_picture(_flat_image(), cam, counts, captions=False)
    assert bare.shape == (448, 3 * 448 + 2 * V.GAP, 3)
    assert (bare[:, 448:448 + V.GAP] == 255).all()
    assert (bare[:, 448 + V.GAP:2 * 448 + V.GAP] == V.cam_picture(_flat_image(), cam)).all()
    slide = V.reveal_picture(_flat_image(), cam, counts, class_name="dog")
    strip = slide.shape[0] - 448
    assert 16 < strip < 40 and slide.shape[1] == bare.shape[1]
    assert (slide[strip:] == bare).all()
    assert (slide[:strip].min(axis=2) < 100).any()  # the captions' text


def test_colour_maps_are_distinct_and_read_by_lightness_under_every_deficiency():
    assert len({V.TAPS_CMAP, V.OVERLAP_CMAP, V.CAM_CMAP}) == 3
    for cmap in (V.TAPS_CMAP, V.OVERLAP_CMAP):
        for kind in ("none", "protanopia", "deuteranopia", "tritanopia"):
            assert is_monotonic(cmap, kind)


def test_a_map_that_is_not_a_grid_is_refused_by_the_pictures():
    with pytest.raises(Refusal) as err:
        V.cam_picture(_flat_image(), np.ones(7))
    assert err.value.key == "reveal.bad_map"
    with pytest.raises(Refusal):
        V.overlap_picture(_flat_image(), np.ones(GRID), np.ones((3, 3)))


# ------------------------------------------------------------------- cells at their receptive fields
#: LeNet relu2's cell centres on its 28 × 28 input (row r sees rows 2r … 2r + 13): 2r + 6.5
RELU2 = (2 * np.arange(8) + 6.5, 2 * np.arange(8) + 6.5)


def test_centres_become_fractions_of_the_picture():
    ys, xs = V.centre_fractions(RELU2, (28, 28))
    assert ys[0] == pytest.approx(7 / 28) and xs[-1] == pytest.approx(21 / 28)


def test_each_pixel_belongs_to_the_cell_whose_centre_is_nearest():
    fr = V.centre_fractions(RELU2, (28, 28))
    ys, xs = V.cell_edges((8, 8), (448, 448), fr)
    centre = (np.arange(448) + 0.5) / 448
    nearest = np.argmin(np.abs(centre[:, None] - np.asarray(fr[1])[None, :]), axis=1)
    owner = np.searchsorted(xs, np.arange(448), side="right") - 1
    assert (owner == nearest).all() and (ys == xs).all()
    assert xs[0] == 0 and xs[-1] == 448 and xs[1] == 128  # half-way between 7/28 and 9/28 of 448 px
    rows, cols = V.edge_fractions((8, 8), fr)
    assert cols[1] == pytest.approx(8 / 28) and cols[-2] == pytest.approx(20 / 28) and rows == cols
    assert V.edge_fractions((2, 4)) == ([0, 0.5, 1], [0, 0.25, 0.5, 0.75, 1])


def test_pictures_follow_the_centres_layout():
    fr = V.centre_fractions(RELU2, (28, 28))
    digit = np.zeros((28, 28), np.uint8)
    img = V.guess_picture(digit, (8, 8), fr)
    ys, xs = V.cell_edges((8, 8), (448, 448), fr)
    lined = np.flatnonzero(img[200, :, 0] > 0)
    assert lined.tolist() == xs[1:-1].tolist()
    cam = np.zeros((8, 8))
    cam[0, 0] = 1.0
    hot = V.cam_picture(digit, cam, centres=fr)
    x0, y0, x1, y1 = V.cell_box(0, (8, 8), (448, 448), fr)
    assert (x0, y0, x1, y1) == (0, 0, 128, 128)
    inside, outside = hot[y1 - 2, x1 - 2], hot[y1 + 2, x1 + 2]
    assert not (inside == outside).all()
    assert (hot[5:y1 - 1, 5:x1 - 1] == inside).all()


@pytest.mark.parametrize("bad", [(np.arange(7) / 7, np.arange(8) / 8), ([0.5] * 8, np.arange(8) / 8),
                                 (np.arange(8)[::-1] / 8, np.arange(8) / 8)])
def test_centres_that_are_not_one_increasing_row_per_cell_are_refused(bad):
    with pytest.raises(Refusal) as err:
        V.guess_picture(np.zeros((28, 28)), (8, 8), bad)
    assert err.value.key == "reveal.bad_centres"
