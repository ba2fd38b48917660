"""Issue 27 on the ImageNet tab: a page's answer draws only what is on the screen (the top-5, the overlay
as an inline JPEG, the summary); the steps, the raw map, the downloads and the numbers are drawn from
the kept result when their accordion is opened, and must equal what the full (API) answer gives."""
from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from gradcam_core.data.examples import load_manifest
from gradcam_core.present.codec import decode_data_url
from gradcam_core.ui import imagenet_tab as tab

LITE = "efficientnet_lite0"


def _example(name: str) -> str:
    return next(e["path"] for e in load_manifest() if e["file"].endswith(name))


CAT = _example("chelsea_cat.jpg")
COFFEE = _example("coffee_cup.jpg")

#: several settings: (method, layer, target, target2, norm, cmap, alpha, whole)
SETTINGS = [
    ("Grad-CAM", "_head_act", "predicted", "none", "max", "jet", 0.5, False),
    ("Grad-CAM++", "_blocks.10", "285", "none", "minmax", "viridis", 0.3, False),
    ("LayerCAM", "_blocks.15", "predicted", "281", "max", "jet", 0.7, True),
]


def _pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _args(s):
    method, layer, target, target2, norm, cmap, alpha, _ = s
    return (LITE, layer, method, target, target2, norm, cmap, alpha)


def _same_parts(lazy: dict, full: dict) -> None:
    """The lazily drawn parts equal the full answer's, pixel for pixel (and text for text)."""
    if "steps" in lazy:
        assert [c for _, c in lazy["steps"]] == [c for _, c in full["steps"]]
        assert len(lazy["steps"]) == len(full["steps"]) >= 5
        for (a, _), (b, _) in zip(lazy["steps"], full["steps"]):
            assert a != b  # a new file each time: no file shared with another answer
            np.testing.assert_array_equal(_pixels(a), _pixels(b))
        assert lazy["steps_md"] == full["steps_md"] and len(lazy["steps_md"]) > 100
    if "heatmap" in lazy:
        np.testing.assert_array_equal(np.asarray(lazy["heatmap"]), np.asarray(full["heatmap"]))
    if "downloads" in lazy:
        assert [Path(p).name for p in lazy["downloads"]] == [Path(p).name for p in full["downloads"]]
        for a, b in zip(lazy["downloads"], full["downloads"]):
            np.testing.assert_array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
        assert lazy["numbers"] == full["numbers"] and lazy["numbers"]["top5"]


@pytest.mark.parametrize("s", SETTINGS, ids=[s[0] for s in SETTINGS])
def test_opened_parts_equal_the_full_answer(s):
    whole = s[-1]
    full = tab.explain(CAT, *_args(s), progress=None, whole=whole)
    page = tab.run_quick("force:1", CAT, *_args(s), state=None, whole=whole)
    # the page's answer: what is on screen, identical to the API's; the rest emptied, not drawn
    for k in ("summary", "label", "alts"):
        assert page[k] == full[k], k
    np.testing.assert_array_equal(np.asarray(page["overlay"]), np.asarray(full["overlay"]))
    assert {k: page[k] for k in tab.LAZY_OUTPUTS} == {"heatmap": None, "steps": None, "steps_md": "",
                                                     "downloads": None, "numbers": None}
    assert page["state"]["key"] != full["state"]["key"]
    norm, cmap, alpha = s[4:7]
    # all open at once (the chained refresh), then each accordion by itself
    every = tab.open_parts(page["state"], True, True, True, norm, cmap, alpha, whole)
    assert set(every) == set(tab.LAZY_OUTPUTS)
    _same_parts(every, full)
    for opener, names in ((tab.open_steps, {"steps", "steps_md"}), (tab.open_raw, {"heatmap"}),
                          (tab.open_downloads, {"downloads", "numbers"})):
        part = opener(page["state"], norm, cmap, alpha, whole)
        assert set(part) == names
        _same_parts(part, full)


def test_only_the_open_parts_are_drawn_after_an_answer():
    s = SETTINGS[0]
    page = tab.run_quick("force:1", CAT, *_args(s), state=None)
    assert tab.open_parts(page["state"], False, False, False, "max", "jet", 0.5) == {}
    assert set(tab.open_parts(page["state"], False, True, False, "max", "jet", 0.5)) == {"heatmap"}
    assert set(tab.open_parts(page["state"], True, False, True, "max", "jet", 0.5)) == {"steps", "steps_md",
                                                                                      "downloads", "numbers"}


def test_opening_before_any_answer_draws_nothing():
    for opener in (tab.open_steps, tab.open_raw, tab.open_downloads):
        assert opener(None, "max", "jet", 0.5) == {}
    assert tab.open_parts(None, True, True, True, "max", "jet", 0.5) == {}


def test_opening_twice_gives_the_same_parts():
    s = SETTINGS[1]
    page = tab.run_quick("force:1", CAT, *_args(s), state=None)
    norm, cmap, alpha = s[4:7]
    first = tab.open_parts(page["state"], True, True, True, norm, cmap, alpha)
    second = tab.open_parts(page["state"], True, True, True, norm, cmap, alpha)
    _same_parts(second, first)


def test_a_new_answer_while_open_refreshes_the_open_parts():
    s = SETTINGS[0]
    cat = tab.run_quick("force:1", CAT, *_args(s), state=None)
    cup = tab.run_quick("force:2", COFFEE, *_args(s), state=cat["state"])
    assert max(cup["label"], key=cup["label"].get) != max(cat["label"], key=cat["label"].get)
    open_cat = tab.open_parts(cat["state"], True, True, True, "max", "jet", 0.5)
    open_cup = tab.open_parts(cup["state"], True, True, True, "max", "jet", 0.5)
    _same_parts(open_cup, tab.explain(COFFEE, *_args(s), progress=None))
    assert open_cup["numbers"]["predicted"] != open_cat["numbers"]["predicted"]
    assert not np.array_equal(np.asarray(open_cup["heatmap"]), np.asarray(open_cat["heatmap"]))


def test_opening_a_result_no_longer_kept_asks_for_a_new_run():
    page = tab.run_quick("force:1", CAT, *_args(SETTINGS[0]), state=None)
    tab.KEPT.discard(page["state"]["key"])  # evicted
    for opener in (tab.open_steps, tab.open_raw, tab.open_downloads):
        with pytest.raises(gr.Error) as err:
            opener(page["state"], "max", "jet", 0.5)
        assert err.value.message == tab.EXPIRED and "Explain" in tab.EXPIRED
    with pytest.raises(gr.Error):
        tab.open_parts(page["state"], True, False, False, "max", "jet", 0.5)


@pytest.mark.parametrize("whole", [False, True])
def test_the_pages_overlay_is_a_jpeg_as_close_as_the_eye_can_tell(whole):
    s = SETTINGS[0]
    full = tab.explain(CAT, *_args(s), progress=None, whole=whole)
    page = tab._on_page(tab.run_quick)("force:1", CAT, *_args(s), state=None, whole=whole)
    assert page["overlay"].startswith("data:image/jpeg;base64,")
    got = np.asarray(decode_data_url(page["overlay"]).convert("RGB"), dtype=np.float32)
    want = np.asarray(full["overlay"], dtype=np.float32)
    assert got.shape == want.shape
    assert np.abs(got - want).mean() < 2.0  # of 255
    from gradcam_core.present.codec import png_data_url

    png = png_data_url(np.asarray(full["overlay"]))  # what the API sends
    assert len(page["overlay"]) * (2 if whole else 6) < len(png)  # the bytes: over 2× / 6× fewer
    # the other outputs pass through unchanged, and a skipped request stays skipped
    assert page["label"] == full["label"]
    assert tab._on_page(tab.run_quick)("auto:1", None, *_args(s), state=None) == {}


def test_the_api_still_answers_in_full_with_a_png_overlay():
    """The API's answer is the full one (issue 27: only the page's events get lazier)."""
    from gradcam_core.ui.common import ResultImage

    full = tab.explain(CAT, *_args(SETTINGS[0]), progress=None)
    assert set(full) == set(tab.EXPLAIN_OUTPUTS)
    assert all(full[k] is not None for k in tab.LAZY_OUTPUTS)
    assert len(full["steps"]) >= 5 and len(full["downloads"]) == 3
    assert ResultImage().postprocess(full["overlay"]).url.startswith("data:image/png;base64,")


def _deps(demo: gr.Blocks) -> dict:
    return {d.api_name: d for d in demo.fns.values() if d.api_name}


def test_the_page_wires_each_accordion_and_the_refresh():
    with gr.Blocks() as demo:
        tab.build(demo)
    deps = _deps(demo)
    for part in ("steps", "raw", "downloads"):
        d = deps[f"imagenet_open_{part}"]
        assert d.api_visibility == "private" and len(d.inputs) == 5
    assert len(deps["imagenet_open_parts"].outputs) == 5
    # the API's endpoints keep their ten outputs (eight in the API, two states)
    assert len(deps["imagenet_explain"].outputs) == len(tab.EXPLAIN_OUTPUTS) == 10
    assert deps["imagenet_explain"].api_visibility != "private"
    assert "steps || raw || downloads" in tab._REFRESH_JS


def _close_jpeg(url: str, want) -> None:
    got = np.asarray(decode_data_url(url).convert("RGB"), dtype=np.float32)
    want = np.asarray(want, dtype=np.float32)
    assert url.startswith("data:image/jpeg;base64,") and got.shape == want.shape
    assert np.abs(got - want).mean() < 2.0


@pytest.mark.parametrize("whole", [False, True])
def test_the_pages_restyle_draws_the_overlay_and_only_the_open_parts(whole):
    page = tab.run_quick("force:1", CAT, *_args(SETTINGS[0]), state=None)
    full = tab.restyle(page["state"], "minmax", "viridis", 0.4, whole)  # the API's redraw: everything
    closed = tab.restyle_page(page["state"], "minmax", "viridis", 0.4, whole)
    _close_jpeg(closed["overlay"], full["overlay"])
    assert {k: closed[k] for k in tab.LAZY_OUTPUTS} == {"heatmap": None, "steps": None, "steps_md": "",
                                                       "downloads": None, "numbers": None}
    opened = tab.restyle_page(page["state"], "minmax", "viridis", 0.4, whole, True, True, True)
    _same_parts({k: opened[k] for k in tab.LAZY_OUTPUTS}, full)
    assert tab.restyle_page(None, "max", "jet", 0.5) == {}


@pytest.mark.parametrize("whole", [False, True])
def test_the_pages_opacity_draws_the_overlay_and_the_downloads_only_when_open(whole):
    page = tab.run_quick("force:1", CAT, *_args(SETTINGS[0]), state=None)
    full = tab.change_opacity(page["state"], "max", "jet", 0.8, whole)
    closed = tab.opacity_page(page["state"], "max", "jet", 0.8, whole)
    _close_jpeg(closed["overlay"], full["overlay"])
    assert closed["downloads"] is None and "numbers" not in closed
    opened = tab.opacity_page(page["state"], "max", "jet", 0.8, whole, True)
    _same_parts({"downloads": opened["downloads"], "numbers": opened["numbers"]},
                {"downloads": full["downloads"], "numbers": view_numbers(page["state"])})
    tab.KEPT.discard(page["state"]["key"])
    with pytest.raises(gr.Error):
        tab.opacity_page(page["state"], "max", "jet", 0.8, whole)


def view_numbers(state) -> dict:
    from gradcam_core.present import imagenet_view as view

    return view.numbers(tab._recall(state))


def test_the_public_redraws_keep_their_inputs_and_outputs():
    with gr.Blocks() as demo:
        tab.build(demo)
    deps = _deps(demo)
    for name, n_out in (("imagenet_restyle", 6), ("imagenet_opacity", 2), ("imagenet_whole_photo", 2)):
        d = deps[name]
        assert d.api_visibility != "private" and len(d.inputs) == 5 and len(d.outputs) == n_out, name
        assert d.fn.__name__ in ("restyle", "change_opacity")
    for name in ("imagenet_restyle_page", "imagenet_opacity_page", "imagenet_whole_photo_page"):
        assert deps[name].api_visibility == "private"
