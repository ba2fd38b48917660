"""Value-level tests for the drawing modules of gradcam_core.present (paint, glyphs, ticks, colourbar,
grids, barchart, codec; fast: no figures, no model)."""

import ast
import base64
import io
import pathlib

import matplotlib
import numpy as np
import pytest
from PIL import Image

from gradcam_core.base.errors import Refusal
from gradcam_core.present import barchart, codec, colourbar, glyphs, grids, paint, ticks, words


def cm_rgb(name, t):
    """matplotlib's own colour for t in [0, 1], as a uint8 RGB array."""
    return np.asarray(matplotlib.colormaps[name](float(t), bytes=True)[:3], dtype=np.uint8)


def assert_rgb_image(img, shape=None):
    assert isinstance(img, np.ndarray)
    assert img.dtype == np.uint8
    assert img.ndim == 3 and img.shape[2] == 3
    if shape is not None:
        assert img.shape[:2] == tuple(shape)


# --------------------------------------------------------------- colorize
@pytest.mark.parametrize("cmap", ["jet", "viridis", "RdBu_r"])
def test_colorize_extremes_exact(cmap):
    a = np.array([[0.0, 0.5], [1.5, 2.0]])
    out = paint.colorize(a, cmap)  # auto range 0..2
    assert_rgb_image(out, (2, 2))
    assert np.array_equal(out[0, 0], cm_rgb(cmap, 0.0))
    assert np.array_equal(out[1, 1], cm_rgb(cmap, 1.0))


def test_colorize_explicit_range_clips():
    a = np.array([[-5.0, 0.0, 1.0, 9.0]])
    out = paint.colorize(a, "jet", vmin=0.0, vmax=1.0)
    assert np.array_equal(out[0, 0], cm_rgb("jet", 0.0))
    assert np.array_equal(out[0, 1], cm_rgb("jet", 0.0))
    assert np.array_equal(out[0, 2], cm_rgb("jet", 1.0))
    assert np.array_equal(out[0, 3], cm_rgb("jet", 1.0))


def test_colorize_matches_matplotlib_everywhere():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(13, 17))
    vmin, vmax = -1.0, 1.5
    ref = matplotlib.colormaps["viridis"](
        matplotlib.colors.Normalize(vmin, vmax)(a), bytes=True)[..., :3]
    assert np.array_equal(paint.colorize(a, "viridis", vmin, vmax), ref)


def test_colorize_constant_nan_inf_do_not_crash():
    with np.errstate(all="raise"):
        const = paint.colorize(np.full((4, 5), 3.0), "jet")
    assert_rgb_image(const, (4, 5))
    assert (const == cm_rgb("jet", 0.0)).all()  # constant -> bottom colour

    all_nan = paint.colorize(np.full((3, 3), np.nan), "jet")
    assert (all_nan == np.array(paint.NAN_COLOR, np.uint8)).all()

    a = np.array([[np.nan, 0.0], [1.0, np.inf]])
    out = paint.colorize(a, "jet")
    assert np.array_equal(out[0, 0], np.array(paint.NAN_COLOR, np.uint8))
    assert np.array_equal(out[0, 1], cm_rgb("jet", 0.0))
    assert np.array_equal(out[1, 0], cm_rgb("jet", 1.0))  # range from finite values
    assert np.array_equal(out[1, 1], cm_rgb("jet", 1.0))  # +inf -> top

    assert paint.colorize(np.zeros((0, 3)), "jet").shape == (0, 3, 3)
    assert_rgb_image(paint.colorize_signed(np.full((2, 2), np.nan)), (2, 2))


def test_colorize_signed_centre_and_ends():
    a = np.array([[-2.0, 0.0, 2.0], [1.0, -1.0, 0.0]])
    out = paint.colorize_signed(a, "RdBu_r")  # limit = 2
    assert np.array_equal(out[0, 1], cm_rgb("RdBu_r", 0.5))
    assert np.array_equal(out[1, 2], cm_rgb("RdBu_r", 0.5))
    assert np.array_equal(out[0, 0], cm_rgb("RdBu_r", 0.0))
    assert np.array_equal(out[0, 2], cm_rgb("RdBu_r", 1.0))

    # asymmetric data: still symmetric about 0, the smaller side does not reach its end
    b = np.array([[-0.5, 0.0, 4.0]])
    ob = paint.colorize_signed(b, "RdBu_r")
    assert np.array_equal(ob[0, 1], cm_rgb("RdBu_r", 0.5))
    assert np.array_equal(ob[0, 2], cm_rgb("RdBu_r", 1.0))
    assert not np.array_equal(ob[0, 0], cm_rgb("RdBu_r", 0.0))

    # explicit limit clips
    oc = paint.colorize_signed(np.array([[-10.0, 0.0, 10.0]]), "RdBu_r", limit=1.0)
    assert np.array_equal(oc[0, 0], cm_rgb("RdBu_r", 0.0))
    assert np.array_equal(oc[0, 2], cm_rgb("RdBu_r", 1.0))

    # all zeros -> neutral everywhere, no division by zero
    with np.errstate(all="raise"):
        z = paint.colorize_signed(np.zeros((3, 3)), "RdBu_r")
    assert (z == cm_rgb("RdBu_r", 0.5)).all()


# --------------------------------------------------------------- enlarge
def test_enlarge_is_blocky():
    rng = np.random.default_rng(1)
    src = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    big = paint.enlarge(src, 160)
    assert big.shape == (160, 160, 3) and big.dtype == np.uint8
    blocks = big.reshape(8, 20, 8, 20, 3)
    assert (blocks == src[:, None, :, None, :]).all()


def test_enlarge_sizes_and_2d():
    src = np.arange(8 * 4, dtype=np.float32).reshape(4, 8)  # h=4, w=8
    out = paint.enlarge(src, 64)  # longer side 64, aspect kept
    assert out.shape == (32, 64) and out.dtype == np.float32
    assert (out.reshape(4, 8, 8, 8) == src[:, None, :, None]).all()
    out2 = paint.enlarge(src, (40, 12))  # (w, h)
    assert out2.shape == (12, 40)
    assert set(np.unique(out2)) <= set(np.unique(src))  # nearest: no new values
    # non-integer zoom (7 -> 96): still only source values, monotone block layout
    s7 = np.arange(49).reshape(7, 7)
    o7 = paint.enlarge(s7, 96)
    assert o7.shape == (96, 96)
    assert (np.diff(o7[0]) >= 0).all() and set(np.unique(o7)) == set(range(49))


# --------------------------------------------------------------- overlay
def test_overlay_alpha_extremes():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    heat = rng.random((32, 32))
    assert np.array_equal(paint.overlay(img, heat, alpha=0.0), img)
    assert np.array_equal(paint.overlay(img, heat, alpha=1.0), paint.colorize(heat, "jet", 0.0, 1.0))
    half = paint.overlay(img, heat, alpha=0.5)
    expect = np.round(0.5 * img.astype(float) + 0.5 * paint.colorize(heat, "jet", 0, 1)).astype(int)
    assert np.abs(half.astype(int) - expect).max() <= 1


def test_overlay_resizes_heat_and_accepts_grayscale():
    rng = np.random.default_rng(3)
    digit = rng.integers(0, 256, size=(28, 28), dtype=np.uint8)
    ones = np.ones((7, 7))
    for g in (digit, digit[:, :, None]):
        out = paint.overlay(g, ones, alpha=1.0)
        assert_rgb_image(out, (28, 28))
        assert (out == cm_rgb("jet", 1.0)).all()
        base = paint.overlay(g, ones, alpha=0.0)
        assert (base == digit[:, :, None]).all()  # gray replicated to RGB
    # bilinear: a left-to-right ramp stays monotone after resize
    ramp = np.tile(np.linspace(0, 1, 7), (7, 1))
    out = paint.overlay(np.zeros((28, 28, 3), np.uint8), ramp, alpha=1.0, cmap="gray")
    row = out[14, :, 0].astype(int)
    assert (np.diff(row) >= 0).all() and row[0] < 40 and row[-1] > 215


# --------------------------------------------------------------- colorbar
def test_colorbar_orientation_and_colours():
    h = colourbar.colorbar(0.0, 1.0, "viridis", length=200, thickness=10, horizontal=True)
    assert_rgb_image(h)
    assert h.shape[1] == 200 and h.shape[0] < 200
    assert np.array_equal(h[0, 0], cm_rgb("viridis", 0.0))
    assert np.array_equal(h[0, -1], cm_rgb("viridis", 1.0))

    v = colourbar.colorbar(0.0, 1.0, "viridis", length=200, thickness=10, horizontal=False, label="x")
    assert_rgb_image(v)
    assert v.shape[0] == 200 and v.shape[1] < 200
    assert np.array_equal(v[0, 0], cm_rgb("viridis", 1.0))  # high at the top
    assert np.array_equal(v[-1, 0], cm_rgb("viridis", 0.0))


def test_colorbar_signed_centre_and_degenerate():
    s = colourbar.colorbar(-0.3, 1.0, "RdBu_r", length=201, thickness=8, signed=True, label="grad")
    assert np.array_equal(s[0, 100], cm_rgb("RdBu_r", 0.5))  # 0 in the middle
    for lo, hi in [(2.0, 2.0), (0.0, 0.0), (np.nan, np.nan)]:
        assert_rgb_image(colourbar.colorbar(lo, hi, "jet", length=100))
    assert_rgb_image(colourbar.colorbar(0, 1.3e-4, "jet", length=30))  # too short for 3 ticks


def test_with_colorbar_keeps_width():
    img = np.zeros((50, 120, 3), np.uint8)
    out = colourbar.with_colorbar(img, 0.0, 0.012, "jet", label="cam")
    assert out.shape[1] == 120 and out.shape[0] > 50
    assert np.array_equal(out[:50], img)
    assert colourbar.with_colorbar(np.zeros((28, 28), np.uint8), 0, 1, "jet").shape[1] == 28


def test_format_number():
    assert ticks.format_number(0.012) == "0.012"
    assert ticks.format_number(1.3e-4) == "1.3e-4"
    assert ticks.format_number(-2.5) == "-2.5"
    assert ticks.format_number(0.0) == "0"
    assert ticks.format_number(0.0123, plus=True) == "+0.012"
    assert ticks.format_number(2e6) == "2e6"


# --------------------------------------------------------------- map_grid
def grid_width(C, cell, pad, border):
    return C * (cell + 2 * border) + (C + 1) * pad


def test_map_grid_shared_scale():
    maps = np.zeros((3, 8, 8))
    maps[0] = np.linspace(0, 1, 64).reshape(8, 8)
    maps[1] = 2.0  # constant map holding the global max
    maps[0, 2, 3] = 0.7
    maps[2, 5, 6] = 0.7
    img, boxes = grids.map_grid(maps, cmap="viridis", ncols=4, cell=96, pad=4, return_layout=True)
    assert_rgb_image(img)
    top = cm_rgb("viridis", 1.0)
    x0, y0, x1, y1 = boxes[1]
    assert (x1 - x0, y1 - y0) == (96, 96)
    assert (img[y0:y1, x0:x1] == top).all()  # per-map scaling would give cmap(0)
    # same value in two maps -> same colour (block size 96/8 = 12)
    bx0, by0 = boxes[0][:2]
    cx0, cy0 = boxes[2][:2]
    c_a = img[by0 + 2 * 12 + 6, bx0 + 3 * 12 + 6]
    c_b = img[cy0 + 5 * 12 + 6, cx0 + 6 * 12 + 6]
    assert np.array_equal(c_a, c_b)
    expected = paint.colorize(np.array([[0.7]]), "viridis", 0.0, 2.0)[0, 0]
    assert np.array_equal(c_a, expected)
    # blocks are honest: each source pixel is a constant 12x12 block
    tile0 = img[by0:by0 + 96, bx0:bx0 + 96].reshape(8, 12, 8, 12, 3)
    assert (tile0 == tile0[:, :1, :, :1, :]).all()


def test_map_grid_signed_zero_is_centre():
    maps = np.zeros((2, 4, 4))
    maps[0, 0, 0] = -3.0
    maps[1, 0, 0] = 1.0
    img, boxes = grids.map_grid(maps, cmap="RdBu_r", signed=True, cell=32, return_layout=True)
    x0, y0 = boxes[1][:2]
    assert np.array_equal(img[y0 + 20, x0 + 20], cm_rgb("RdBu_r", 0.5))
    assert np.array_equal(img[boxes[0][1] + 1, boxes[0][0] + 1], cm_rgb("RdBu_r", 0.0))


@pytest.mark.parametrize("titles", [None, ["ch %d  α=+0.012" % k for k in range(16)]])
def test_map_grid_width_documented(titles):
    cell, pad, border = 96, 4, 3
    img = grids.map_grid(np.random.default_rng(0).random((16, 8, 8)), titles=titles,
                     ncols=4, cell=cell, pad=pad, border=border)
    assert img.shape[1] == grid_width(4, cell, pad, border) == 4 * cell + 5 * pad + 8 * border
    # fewer maps than columns -> only K columns
    img2 = grids.map_grid(np.zeros((2, 8, 8)), ncols=4, cell=40, pad=2, border=1)
    assert img2.shape[1] == grid_width(2, 40, 2, 1)
    # 64 ResNet-sized maps
    img3 = grids.map_grid(np.zeros((64, 7, 7)), ncols=8, cell=48)
    assert img3.shape[1] == grid_width(8, 48, 4, 3)


def test_map_grid_highlight_border():
    maps = np.random.default_rng(4).random((6, 8, 8))
    magenta = (255, 0, 255)
    img, boxes = grids.map_grid(maps, highlight={1: magenta, 4: "#00ff00"}, border=3,
                            return_layout=True)
    x0, y0, x1, y1 = boxes[1]
    for yy, xx in [(y0 - 1, x0 - 1), (y0 - 3, x0 + 10), (y1 + 2, x1 - 5), (y0 + 30, x1 + 1)]:
        assert tuple(img[yy, xx]) == magenta
    x0, y0 = boxes[4][:2]
    assert tuple(img[y0 - 2, x0 + 5]) == (0, 255, 0)
    x0, y0 = boxes[0][:2]
    assert tuple(img[y0 - 2, x0 + 5]) == (255, 255, 255)  # not highlighted
    assert (img == np.array(magenta, np.uint8)).all(axis=2).sum() >= 4 * 96 * 3


def test_map_grid_titles_drawn_in_title_row():
    maps = np.zeros((4, 8, 8))
    with_t, boxes = grids.map_grid(maps, titles=["ch 0", "ch 1", "ch 2", "ch 3  α=+0.012"],
                               return_layout=True)
    no_t = grids.map_grid(maps)
    assert with_t.shape[0] > no_t.shape[0]
    band = with_t[: boxes[0][1] - 3]  # above the first tile
    assert (band < 128).any()  # dark text pixels


# --------------------------------------------------------------- bar_chart
def test_bar_chart_top_on_512_values():
    rng = np.random.default_rng(5)
    vals = rng.normal(size=512) * 1e-3
    img = barchart.bar_chart(vals, top=5, width=480, height=220)
    assert_rgb_image(img)
    assert img.shape[1] <= 480 and img.shape[0] == 220
    colors = img.reshape(-1, 3)
    assert (colors == np.array(paint.POS_COLOR, np.uint8)).all(axis=1).any()
    assert (colors == np.array(paint.NEG_COLOR, np.uint8)).all(axis=1).any()


def test_bar_chart_variants_do_not_crash():
    rng = np.random.default_rng(6)
    assert barchart.bar_chart(rng.normal(size=512)).shape == (220, 480, 3)  # all 512 bars
    assert barchart.bar_chart(rng.normal(size=16), labels=[f"k{i}" for i in range(16)]).shape == (220, 480, 3)
    assert barchart.bar_chart(np.zeros(10)).shape == (220, 480, 3)
    assert barchart.bar_chart(np.zeros(10), top=3).shape == (220, 480, 3)
    assert barchart.bar_chart(np.abs(rng.normal(size=8)), top=3).shape == (220, 480, 3)
    assert barchart.bar_chart([np.nan, 1.0, -1.0], width=200, height=80).shape == (80, 200, 3)
    with pytest.raises(ValueError):
        barchart.bar_chart([1.0, 2.0], labels=["a"])


def _bar_runs(img):
    """The chart's bars from left to right, as their colours ("pos" / "neg"), from pixel columns."""
    pos = (img == np.array(paint.POS_COLOR, np.uint8)).all(axis=2).any(axis=0)
    neg = (img == np.array(paint.NEG_COLOR, np.uint8)).all(axis=2).any(axis=0)
    kinds = np.where(pos, 1, np.where(neg, -1, 0))
    runs = [int(k) for i, k in enumerate(kinds) if k and (i == 0 or kinds[i - 1] != k)]
    return ["pos" if k > 0 else "neg" for k in runs]


def test_bar_chart_one_bar_per_channel_in_its_sign_colour():
    vals = np.array([0.3, -0.2, 0.1, 0.4, -0.5, -0.05, 0.2])
    img = barchart.bar_chart(vals, highlight_top=0, width=480, height=220)
    assert _bar_runs(img) == ["pos" if v > 0 else "neg" for v in vals]
    top = barchart.bar_chart(np.array([0.3, -0.2, 0.1, 0.4, -0.5, -0.05, 0.2]), top=2, highlight_top=0)
    assert _bar_runs(top) == ["pos", "pos", "neg", "neg"]  # the 2 largest, then the 2 most negative


def test_with_colorbar_ends_are_the_range_colours():
    img = np.zeros((60, 200, 3), np.uint8)
    out = colourbar.with_colorbar(img, 0.0, 0.012, "inferno")
    strip = out[64:66]  # the bar starts 4 px below the image, 4 px in from each side
    assert np.array_equal(strip[0, 4], cm_rgb("inferno", 0.0))
    assert np.array_equal(strip[0, 195], cm_rgb("inferno", 1.0))


def test_bar_chart_highlight_outline():
    vals = np.array([0.1, 0.5, -0.2, 0.05, -0.6, 0.3])
    plain = barchart.bar_chart(vals, highlight_top=0)
    marked = barchart.bar_chart(vals, highlight_top=1)
    dark = np.array(paint.TEXT, np.uint8)
    n_plain = (plain == dark).all(axis=2).sum()
    n_marked = (marked == dark).all(axis=2).sum()
    assert n_marked > n_plain


# --------------------------------------------------------------- number_grid etc.
def test_number_grid_shape_and_tint():
    a = np.array([[-1.0, 0.0], [0.5, 1.0]])
    img = grids.number_grid(a, cell=(56, 22))
    assert_rgb_image(img, (2 * 22 + 1, 2 * 56 + 1))
    # corner pixels of each cell (no text there) carry the tint
    c_neg, c_zero, c_pos = img[2, 2], img[2, 56 + 2], img[22 + 2, 56 + 2]
    assert c_neg[2] > c_neg[0]  # blue-ish
    assert c_pos[0] > c_pos[2]  # red-ish
    assert abs(int(c_zero[0]) - int(c_zero[2])) < 10  # neutral
    assert_rgb_image(grids.number_grid(np.full((8, 8), np.nan)))
    assert_rgb_image(grids.number_grid(np.arange(6.0).reshape(2, 3), fmt=lambda x: f"{x:.0f}",
                                   signed=False, cmap="viridis"))


def test_caption_and_conversions():
    img = np.zeros((30, 40, 3), np.uint8)
    cap = grids.caption_image(img, "Step 3: weights α_k " * 5)
    assert cap.shape[1] == 40 and cap.shape[0] > 30
    assert np.array_equal(cap[-30:], img)
    pil = codec.to_pil(img)
    assert pil.size == (40, 30) and pil.mode == "RGB"
    assert codec.to_pil(np.zeros((5, 5), np.uint8)).mode == "L"
    data = codec.png_bytes(img)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), img)


def test_png_data_url_round_trip(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (7, 11, 3), dtype=np.uint8)
    url = codec.png_data_url(img)
    assert url.startswith("data:image/png;base64,")
    back = codec.decode_data_url({"url": url})
    assert back.format == "PNG" and np.array_equal(np.asarray(back), img)
    assert codec.png_data_url(url) == url  # already encoded (e.g. by a cache): passed on as it is
    gray = codec.decode_data_url(codec.png_data_url(img[..., 0]))
    assert gray.mode == "L" and np.array_equal(np.asarray(gray), img[..., 0])
    f = tmp_path / "x.png"
    f.write_bytes(codec.png_bytes(img))
    assert codec.png_data_url(f) == "data:image/png;base64," + base64.b64encode(f.read_bytes()).decode()
    with pytest.raises(Refusal) as refused:
        codec.png_data_url(tmp_path / "notes.txt")
    assert refused.value.key == "render.bad.file"
    assert refused.value.values == {"path": str(tmp_path / "notes.txt")}
    assert words.text_of(refused.value) == f"Not an image file this app writes: {str(tmp_path / 'notes.txt')!r}"
    with pytest.raises(ValueError, match="data:image"):
        codec.decode_data_url("https://example.com/x.png")


DRAWING_MODULES = (paint, glyphs, ticks, colourbar, grids, barchart, codec)


@pytest.mark.parametrize("module", DRAWING_MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_module_imports_no_gradio_or_pyplot(module):
    src = pathlib.Path(module.__file__).read_text(encoding="utf-8")
    names = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
    assert not any(n.startswith("gradio") for n in names)
    assert "matplotlib.pyplot" not in names
    assert len(src.splitlines()) <= 600  # the split's point: one job per module, each readable


def test_the_old_renderer_is_gone_and_nothing_imports_it():
    """``present/render.py`` was split by job; every importer names the module that does the job now."""
    import importlib.util
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    assert importlib.util.find_spec("gradcam_core.present.render") is None
    pat = re.compile(r"from gradcam_core\.present import[^\n]*\brender\b|gradcam_core\.present\.render\b")
    users = [str(p) for d in ("gradcam_core", "bench", "tools", "tests") for p in (root / d).rglob("*.py")
             if p.name != "test_render.py" and pat.search(p.read_text(encoding="utf-8"))]
    assert not users, users


# --------------------------------------------------------------- ticks (matplotlib.ticker)
@pytest.mark.parametrize("lo, hi, want", [
    (0.0, 1.0, (["0.0", "0.5", "1.0"])),
    (0.2, 0.8, (["0.2", "0.4", "0.6", "0.8"])),
    (0.0, 0.013, (["0.000", "0.005", "0.010"])),
    (-1.5, 2.5, (["−1", "0", "1", "2"])),
    (0.0, 12345.0, (["0", "5000", "10000"])),
    (0.0, 3e6, (["0", "1e6", "2e6", "3e6"])),
    (-2e-4, 3e-4, (["−2e−4", "0", "2e−4"])),
])
def test_ticks_are_nice_steps_inside_the_range_with_distinct_labels(lo, hi, want):
    ticks_, labels = next(ticks.tick_candidates(lo, hi))
    assert labels == want
    assert all(lo <= t <= hi for t in ticks_) and 3 <= len(ticks_) <= 5
    steps = np.diff(ticks_)
    assert np.allclose(steps, steps[0])
    mantissa = steps[0] / 10 ** np.floor(np.log10(steps[0]))
    assert min(abs(mantissa - m) for m in (1, 2, 5)) < 1e-9  # a 1/2/5 x 10^k step
    for t, s in zip(ticks_, labels):  # each label reads back as its tick
        assert float(s.replace("−", "-")) == pytest.approx(t, abs=1e-9 * (hi - lo))


def test_tick_fallbacks_when_no_nice_ticks_fit():
    options = list(ticks.tick_candidates(0.123, 0.1231))
    assert options[-2][0] == [0.123, (0.123 + 0.1231) / 2, 0.1231]
    assert options[-1] == ([0.123, 0.1231], [ticks.format_number(0.123, 2), ticks.format_number(0.1231, 2)])
    assert list(ticks.tick_candidates(2.0, 2.0)) == [([2.0], ["2"])]


def test_colorbar_draws_its_tick_labels_text():
    """The labels ticker chose are what is drawn: a bar of 0..1 has exactly 3 tick marks."""
    bar = colourbar.colorbar(0.0, 1.0, "gray", length=200, thickness=8)
    marks = np.nonzero((bar[8] == paint.AXIS).all(axis=1))[0]
    assert marks.tolist() == [0, 100, 199]


# --------------------------------------------------------------- words drawn into pictures ([render])
def _drawn(text: str, xy, anchor: str, shape) -> np.ndarray:
    tx = glyphs.text_at(11)
    canvas = np.full(shape + (3,), 255, np.uint8)
    tx.draw(canvas, xy, tx.fit(tx.clean(text), shape[1] - 8) if anchor == "la" else tx.clean(text), paint.MUTED, anchor)
    return canvas


@pytest.mark.parametrize("top, n", [(3, 10), (8, 512)])
def test_bar_chart_top_title_is_the_catalogues_with_its_numbers(top, n):
    v = np.random.default_rng(n).normal(size=n)
    img = barchart.bar_chart(v, top=top)
    title = words.say("render.top_title", top=top, n=n)
    assert title == f"top {top} positive / top {top} negative of {n}"
    band = glyphs.text_at(11).h + 2  # the title's own band, above every bar, label and tick
    assert np.array_equal(img[:band], _drawn(title, (4, 2), "la", (220, 480))[:band])


def test_an_empty_bar_chart_says_so_from_the_catalogue():
    img = barchart.bar_chart(np.zeros(10), top=3, width=300, height=120)
    want = _drawn(words.say("render.top_title", top=3, n=10), (4, 2), "la", (120, 300))
    glyphs.text_at(11).draw(want, (150, 60), words.say("render.no_values"), paint.MUTED, "mm")
    assert words.say("render.no_values") == "no non-zero values"
    assert np.array_equal(img, want)


def test_default_channel_labels_come_from_the_catalogue(monkeypatch):
    """The highlighted bars of a chart without labels are annotated "ch <index>" by the catalogue,
    with the bar's own index: the two most extreme bars of 16 here."""
    asked = []

    def say(key, *args, **values):
        asked.append((key, values))
        return words.say(key, *args, **values)

    v = np.zeros(16)
    v[5], v[11] = 1.0, -0.5
    plain = barchart.bar_chart(v, highlight_top=1)
    monkeypatch.setattr(barchart, "say", say)
    assert np.array_equal(barchart.bar_chart(v, highlight_top=1), plain)
    assert asked == [("render.channel", {"label": "5"}), ("render.channel", {"label": "11"})]
    assert words.say("render.channel", label="5") == "ch 5"
