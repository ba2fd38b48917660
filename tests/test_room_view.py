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
from gradcam_core.present.words import number, say

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
    """The whole percentages of a sentence, in either language's writing ("41 %", French "41\u202f%")."""
    return [int(x) for x in re.findall(r"(\d+)[ \u202f\u00a0]%", text)]


# ------------------------------------------------------------------------------------- cell names
def _cell(row: int, column: int) -> str:
    """A cell as the catalogue names it, counted from 1 ("row 3, column 5")."""
    return say("reveal.cell", row=row, column=column)


def _cells(*cells: tuple[int, int]) -> str:
    return say("reveal.cell_sep").join(_cell(r, c) for r, c in cells)


#: the model's hottest cell of ``_cs`` / ``_score`` (cell 18 of the 7 × 7 grid)
HOT = (3, 5)
TIED = ((1, 4), (7, 4))  # cells 3 and 45


def _target() -> str:
    return say("reveal.target_one", cell=_cell(*HOT))


def _target_tied() -> str:
    return say("reveal.target_tied", n=2, cells=_cells(*TIED))


def test_cells_are_named_from_one_as_people_count():
    assert V.cell_name(0, GRID) == _cell(1, 1)
    assert V.cell_name(18, GRID) == _cell(3, 5)
    assert V.cell_name(11, (3, 4)) == _cell(3, 4)
    assert V.cells_names([0, 48], GRID) == _cells((1, 1), (7, 7))
    assert re.findall(r"\d+", V.cells_names([0, 48], GRID)) == ["1", "1", "7", "7"]


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
def test_reveal_sentence_carries_the_scores_figures():
    cs = _cs(answered=28, hits=19, heat=0.41, area=3 / 49, mean=0.23)
    text = V.reveal_text(cs, "tabby cat", "ResNet-18")
    assert text.startswith(say("reveal.title", method="Grad-CAM", model="ResNet-18", name="tabby cat"))
    assert say("reveal.some_hit", hits=19, answered=28, target=_target()) in text
    assert say("reveal.popular_many", heat_pct=41, area_pct=100 * 3 / 49, n=3, total=49,
               compare=say("reveal.compare.strong", ratio=0.41 / (3 / 49))) in text
    assert number(0.41 / (3 / 49), ".1f") in text  # 6.7 (French 6,7)
    assert _percents(text) == [41, 6, 23]
    assert text.endswith(say("reveal.mean", mean_pct=23))


def test_everyone_and_nobody_hit():
    all_ = V.reveal_text(_cs(answered=5, hits=5), "dog", "VGG")
    assert say("reveal.all_hit", answered=5, target=_target()) in all_
    none = V.reveal_text(_cs(answered=5, hits=0), "dog", "VGG")
    assert say("reveal.none_hit", answered=5, target=_target()) in none
    some = V.reveal_text(_cs(answered=5, hits=1), "dog", "VGG")
    assert say("reveal.some_hit", hits=1, answered=5, target=_target()) in some
    assert len({say(k, hits=1, answered=5, target=_target()) for k in ("reveal.all_hit", "reveal.none_hit",
                                                                        "reveal.some_hit")}) == 3


@pytest.mark.parametrize("heat, area, code", [
    (0.41, 3 / 49, "strong"),  # "so the model's evidence is concentrated where the class looked"
    (0.08, 3 / 49, "more"),    # "a little more than an even spread of heat would give"
    (0.06, 3 / 49, "same"),    # "about what an even spread of heat would give, so no more than chance"
    (0.02, 3 / 49, "less"),    # "less than an even spread of heat would give, so the model looks mostly elsewhere"
])
def test_class_agrees_or_the_model_looks_elsewhere(heat, area, code):
    text = V.reveal_text(_cs(heat=heat, area=area), "dog", "VGG")
    assert say(f"reveal.compare.{code}", ratio=heat / area) in text
    assert [c for c in ("strong", "more", "same", "less")
            if say(f"reveal.compare.{c}", ratio=heat / area) in text] == [code]
    h, a = _percents(text)[:2]
    assert (h, a) == (round(heat * 100), round(area * 100))
    if code == "less":
        assert h < a
    elif code == "same":
        assert h == a
    else:
        assert h > a


def test_one_popular_cell_is_singular():
    counts = np.zeros(GRID, int)
    counts.flat[18] = 3
    text = V.reveal_text(_cs(answered=3, hits=3, popular=(18,), heat=0.3, area=1 / 49, counts=counts), "dog", "VGG")
    assert say("reveal.popular_one", heat_pct=30, area_pct=100 / 49, n=1, total=49,
               compare=say("reveal.compare.strong", ratio=0.3 * 49)) in text
    assert _percents(text)[:2] == [30, 2]


def test_one_person_answering_reads_in_the_singular():
    counts = np.zeros(GRID, int)
    counts.flat[[17, 18]] = 1
    hit = V.reveal_text(_cs(answered=1, hits=1, popular=(17, 18), heat=0.5, area=2 / 49, counts=counts, mean=0.5),
                        "dog", "VGG")
    # the whole text: the title, the one person's hit, their cells' heat; no mean, no tie, no "of you"
    title = say("reveal.title", method="Grad-CAM", model="VGG", name="dog")
    assert hit == " ".join([title, say("reveal.one_hit", target=_target()),
                            say("reveal.single_many", heat_pct=50, area_pct=200 / 49, n=2, total=49,
                                compare=say("reveal.compare.strong", ratio=0.5 / (2 / 49)))])
    assert _percents(hit) == [50, 4]
    counts = np.zeros(GRID, int)
    counts.flat[0] = 1
    miss = V.reveal_text(_cs(answered=1, hits=0, popular=(0,), heat=0.01, area=1 / 49, counts=counts), "dog", "VGG")
    assert miss == " ".join([title, say("reveal.one_miss", target=_target()),
                             say("reveal.single_one", heat_pct=1, area_pct=100 / 49, n=1, total=49,
                                 compare=say("reveal.compare.less", ratio=0.49))])
    assert _percents(miss) == [1, 2]


def test_nobody_answered():
    text = V.reveal_text(_cs(answered=0, hits=0, popular=(), heat=0.0, area=0.0, counts=np.zeros(GRID, int)),
                         "dog", "VGG")
    assert text == " ".join([say("reveal.title", method="Grad-CAM", model="VGG", name="dog"), say("reveal.nobody"),
                             say("reveal.hottest_one", name="dog", cell=_cell(*HOT))])
    assert "%" not in text


def test_an_empty_map_is_never_a_miss():
    for answered in (0, 1, 7):
        cs = _cs(answered=answered, hits=0, heat=0.0, empty=True, hottest=())
        text = V.reveal_text(cs, "dog", "VGG")
        # the empty branch alone: never a hit, a miss or a share
        counted = {0: [], 1: [say("reveal.empty_answered_one")], 7: [say("reveal.empty_answered", answered=7)]}
        assert text == " ".join([say("reveal.title", method="Grad-CAM", model="VGG", name="dog"),
                                 say("reveal.empty", name="dog")] + counted[answered])
        assert "%" not in text
        assert re.findall(r"\d+", text) == ([str(answered)] if answered else [])


def test_tied_hottest_cells_are_all_named():
    text = V.reveal_text(_cs(hottest=(3, 45)), "dog", "VGG")
    assert say("reveal.some_hit", hits=4, answered=10, target=_target_tied()) in text
    alone = V.reveal_text(_cs(answered=0, hits=0, popular=(), heat=0, area=0, counts=np.zeros(GRID, int),
                              hottest=(3, 45)), "dog", "VGG")
    assert alone.endswith(say("reveal.hottest_tied", name="dog", n=2, cells=_cells(*TIED)))


def _ties(text: str) -> list[int]:
    """How many cells the tie sentence says were left out ([] when there is none)."""
    return ([1] if say("reveal.tie_one") in text else []) + [k for k in range(2, 50)
                                                             if say("reveal.tie_many", tied=k) in text]


def test_a_tie_at_the_cut_is_said_with_its_count():
    cam = np.ones(GRID)
    # four cells chosen twice each: the rule keeps 3 in reading order and leaves 1 out
    taps = [[1, 2], [3, 4], [1, 2], [3, 4]]
    cs = P.score_class(cam, taps)
    assert cs.popular == (1, 2, 3)
    assert _ties(V.reveal_text(cs, "dog", "VGG")) == [1]
    cs = P.score_class(cam, [[1, 2, 3], [4, 5, 6]])
    assert _ties(V.reveal_text(cs, "dog", "VGG")) == [3]
    cs = P.score_class(cam, [[1, 2, 3], [1, 2, 3], [4]])
    assert _ties(V.reveal_text(cs, "dog", "VGG")) == []


def test_the_mean_is_the_mean_of_own_shares():
    cam = np.zeros(GRID)
    cam.flat[18] = 3.0
    cam.flat[17] = 1.0
    cs = P.score_class(cam, [[18], [17], [0]])
    assert cs.mean_heat_share == pytest.approx((0.75 + 0.25 + 0) / 3)
    text = V.reveal_text(cs, "dog", "VGG")
    assert text.endswith(" " + say("reveal.mean", mean_pct=100 / 3)) and _percents(text)[-1] == 33
    assert say("reveal.some_hit", hits=1, answered=3, target=_target()) in text
    # popular: the three cells, each chosen once, in reading order (0, 17, 18): all the heat in 3 of 49
    assert say("reveal.popular_many", heat_pct=100, area_pct=300 / 49, n=3, total=49,
               compare=say("reveal.compare.strong", ratio=49 / 3)) in text
    assert _percents(text) == [100, 6, 33]


# ------------------------------------------------------------------------------------- own_text
def _own(first: str, heat_key: str, heat: float, area: float, code: str, n: int = 1) -> str:
    return " ".join([first, say(heat_key, heat_pct=100 * heat, area_pct=100 * area, n=n, total=49,
                                compare=say(f"reveal.compare_own.{code}", ratio=heat / area))])


def test_own_hit_and_miss_in_singular_and_plural():
    text = V.own_text(_score(cells=(18,), hit=True, heat=0.5), "dog")
    assert text == _own(say("reveal.own_hit_one", target=_target()), "reveal.own_heat_one", 0.5, 1 / 49, "strong")
    assert _percents(text) == [50, 2]
    text = V.own_text(_score(cells=(17, 18), hit=True, heat=0.6, area=2 / 49), "dog")
    assert text == _own(say("reveal.own_hit_many", target=_target(), n=2), "reveal.own_heat_many", 0.6, 2 / 49,
                        "strong", n=2)
    assert _percents(text) == [60, 4]
    text = V.own_text(_score(cells=(17,), heat=0.1), "dog")
    assert text == _own(say("reveal.own_miss_one", target=_target()), "reveal.own_heat_one", 0.1, 1 / 49, "strong")
    assert _percents(text) == [10, 2]
    text = V.own_text(_score(cells=(0, 1, 2), heat=0.0, area=3 / 49), "dog")
    assert text == _own(say("reveal.own_miss_many", target=_target(), n=3), "reveal.own_heat_many", 0.0, 3 / 49,
                        "less", n=3)
    assert _percents(text) == [0, 6]


@pytest.mark.parametrize("heat, code", [
    (0.5, "strong"),   # "so the model's evidence is concentrated where you looked"
    (0.03, "more"),    # "a little more than an even spread of heat would give"
    (0.02, "same"),    # "no more than chance"
    (0.001, "less"),   # "so the model looks mostly elsewhere"
])
def test_own_heat_against_area(heat, code):
    text = V.own_text(_score(cells=(17,), heat=heat, area=1 / 49), "dog")
    assert [c for c in ("strong", "more", "same", "less")
            if say(f"reveal.compare_own.{c}", ratio=heat * 49) in text] == [code]
    assert _percents(text) == [round(heat * 100), 2]


def test_own_text_on_an_empty_map_and_without_an_answer():
    empty = V.own_text(_score(cells=(18,), empty=True, hottest=()), "dog")
    assert empty == say("reveal.own_empty", name="dog")
    # never a miss: none of the miss branches' words, in any language
    for key in ("reveal.own_miss_one", "reveal.own_miss_many"):
        assert say(key, target=_target(), n=1) not in empty
    assert "%" not in empty
    none = V.own_text(_score(cells=(), area=0.0, heat=0.0), "dog")
    assert none == " ".join([say("reveal.own_none"), say("reveal.hottest_one", name="dog", cell=_cell(*HOT))])


def test_own_text_from_a_real_score():
    cam = np.zeros(GRID)
    cam.flat[18] = 1.0
    s = P.score(cam, [18, 19])
    text = V.own_text(s, "dog")
    assert text == _own(say("reveal.own_hit_many", target=_target(), n=2), "reveal.own_heat_many", 1.0, 2 / 49,
                        "strong", n=2)
    assert _percents(text) == [100, 4] and number(24.5, ".1f") in text  # 24.5 times (French 24,5)


# ----------------------------------------------------------------------------------- counts_text
def test_counts_text():
    assert V.counts_text(0, 0) == say("reveal.counts.none")
    assert V.counts_text(1, 0) == say("reveal.counts.one", people=1, answered=0)
    assert V.counts_text(12, 9) == say("reveal.counts.many", people=12, answered=9)
    assert re.findall(r"\d+", V.counts_text(0, 0)) == []
    assert re.findall(r"\d+", V.counts_text(1, 0)) == ["1", "0"]
    assert sorted(re.findall(r"\d+", V.counts_text(12, 9))) == ["12", "9"]


# ---------------------------------------------------------------------------------------- alt text
def test_reveal_alt_names_the_cells_of_each_picture():
    cam = np.zeros(GRID)
    cam.flat[18] = 1.0
    cam.flat[17] = 0.5
    cs = P.score_class(cam, [[17], [17, 18], [17, 0]])
    text = V.reveal_alt(cs, "dog", cam=cam)
    # overlap: min(0.5 / 1, 3 / 3) = 0.5 at cell 17, min(1, 1/3) at 18: strongest at 17
    assert text == " ".join([say("reveal.alt.intro", name="dog"),
                             say("reveal.alt.taps", answered=3, cell=_cell(3, 4), count=3),
                             say("reveal.alt.cam", method="Grad-CAM", cell=_cell(3, 5)),
                             say("reveal.alt.overlap", cell=_cell(3, 4))])
    without = V.reveal_alt(cs, "dog")
    assert without.endswith(say("reveal.alt.overlap_numbers", heat_pct=100 * cs.heat_popular))
    assert _percents(without) == [round(100 * cs.heat_popular)]


def test_reveal_alt_branches_for_no_taps_one_person_ties_and_empty_maps():
    cam = np.zeros(GRID)
    cam.flat[[3, 45]] = 1.0
    none = V.reveal_alt(P.score_class(cam, []), "dog", cam=cam)
    assert say("reveal.alt.taps_none") in none and say("reveal.alt.overlap_none") in none
    assert say("reveal.alt.cam_tied", method="Grad-CAM", n=2, cells=_cells(*TIED)) in none
    one = V.reveal_alt(P.score_class(cam, [[0, 1]]), "dog", cam=cam)
    assert say("reveal.alt.taps_single", cells=_cells((1, 1), (1, 2))) in one
    assert say("reveal.alt.overlap_none") in one  # neither cell holds heat
    empty = V.reveal_alt(P.score_class(np.zeros(GRID), [[0], [1]]), "dog", cam=np.zeros(GRID))
    assert say("reveal.alt.cam_empty", method="Grad-CAM") in empty
    assert say("reveal.alt.overlap_none") in empty


def test_own_alt_branches():
    def alt(first: str, key: str, **values) -> str:
        return f"{first} {say(key, **values)}"

    one = say("reveal.alt.own_one", n=1, method="Grad-CAM", cells=_cell(*HOT))
    assert V.own_alt(_score(cells=(18,), hit=True)) == alt(one, "reveal.alt.own_in", n=1, cells=_cell(*HOT))
    assert V.own_alt(_score(cells=(0, 1), area=2 / 49)) == alt(
        say("reveal.alt.own_many", n=2, method="Grad-CAM", cells=_cells((1, 1), (1, 2))),
        "reveal.alt.own_out", n=1, cells=_cell(*HOT))
    first = say("reveal.alt.own_one", n=1, method="Grad-CAM", cells=_cell(1, 1))
    assert V.own_alt(_score(cells=(0,), hottest=(3, 45))) == alt(first, "reveal.alt.own_out_tied", n=2,
                                                                  cells=_cells(*TIED))
    assert V.own_alt(_score(cells=(3,), hit=True, hottest=(3, 45))) == alt(
        say("reveal.alt.own_one", n=1, method="Grad-CAM", cells=_cell(1, 4)), "reveal.alt.own_in_tied", n=2,
        cells=_cells(*TIED))
    no_cells = say("reveal.alt.own_no_cells", method="Grad-CAM")
    assert V.own_alt(_score(cells=())) == alt(no_cells, "reveal.alt.own_dot", cells=_cell(*HOT))
    assert V.own_alt(_score(cells=(), hottest=(3, 45))) == alt(no_cells, "reveal.alt.own_dot_tied", n=2,
                                                               cells=_cells(*TIED))
    empty = V.own_alt(_score(cells=(0,), empty=True, hottest=()))
    assert empty == alt(say("reveal.alt.own_empty", method="Grad-CAM"), "reveal.alt.own_empty_cells",
                        cells=_cell(1, 1))


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
