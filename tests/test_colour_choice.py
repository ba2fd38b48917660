"""The colour-map choice of the MNIST and Shortcuts tabs (issue 17): the pictures are drawn with the chosen
map (pixel for pixel), the choice is an optional last input of every event, and the text alternatives
and the UI note say what the colours are, from the numbers."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest

from gradcam_core.cam.engine import GradCAM
from gradcam_core.cam.postprocess import normalize, upsample
from gradcam_core.data.mnist import test_digits as held_out_digits, to_tensor
from gradcam_core.models.lenet import load_lenet
from gradcam_core.present import colour_choice, paint
from gradcam_core.present.words import has, say
from gradcam_core.present import colour_vision as cv
from gradcam_core.present import shortcut_view as sview
from gradcam_core.ui import mnist_tab, spurious_tab
from outputs import mnist_result, returns_by_label
from outputs import png as _png

#: the plain colours (codes of colour_choice.NAMED) each map gives to no heat and to the most heat
SAFE_PLAIN = {"jet": ("dark_blue", "dark_red"), "cividis": ("dark_blue", "yellow"), "viridis": ("dark_purple", "yellow"),
              "inferno": ("black", "pale_yellow"), "magma": ("black", "pale_yellow"), "gray": ("black", "white")}


def _sentence(cmap: str) -> str:
    """The catalogue's colour sentence for ``cmap``, its two ends named as SAFE_PLAIN measures them."""
    low, high = SAFE_PLAIN[cmap]
    return say("colour.sentence", name=cmap, low=say(f"colour.name.{low}"), high=say(f"colour.name.{high}"))


def _digit(i: int) -> np.ndarray:
    images, _ = held_out_digits()
    return images[i].astype(np.float32) / 255.0


def _expected_overlay(i: int, cmap: str, layer: str = "relu2", placement: str = "receptive field") -> np.ndarray:
    """The MNIST overlay composed here from the engine and paint.overlay: what the tab must show
    (issue 24: by default each cell drawn at the centre of what it sees; "stretched": upsampled)."""
    from gradcam_core.analysis.cell import cell_centres
    from gradcam_core.cam.postprocess import place

    d = _digit(i)
    net = load_lenet()
    res = GradCAM(net, layer)(to_tensor(d))
    if placement == "stretched":
        heat = normalize(upsample(res.cam[0], res.input_size), "max").numpy()
    else:
        centres = cell_centres(net, layer, tuple(res.cam.shape[-2:]), (1, 28, 28))
        heat = normalize(place(res.cam[0], res.input_size, centres), "max").numpy()
    return paint.enlarge(paint.overlay(d, heat, alpha=0.5, cmap=cmap), 280)


def png(value) -> np.ndarray:
    """An image output of the launched app as an array. On main at 6917188 an image sent with its text
    alternative (ui.a11y.with_alt) reaches gradio_client as {"value": {"url": …}, "alt_text": …}, not
    as {"url": …} (tests/test_app.py fails on that too): read either."""
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    return _png(value)


def _alt(value) -> str | None:
    return value.get("alt_text") if isinstance(value, dict) else None


# ----------------------------------------------------------------------------- MNIST, in-process
def test_mnist_overlay_pixels_are_render_overlay_with_the_chosen_map():
    cividis = mnist_tab.explain_index(17, "predicted", "strongest", "relu2", "cividis")
    np.testing.assert_array_equal(cividis.overlay, _expected_overlay(17, "cividis"))
    # without the new last input: jet, exactly as before
    default = mnist_tab.explain_index(17, "predicted", "strongest")
    np.testing.assert_array_equal(default.overlay, _expected_overlay(17, "jet"))
    assert not np.array_equal(default.overlay, cividis.overlay)
    # the layer still comes first: pool2 with magma
    pool = mnist_tab.explain_index(17, "predicted", "strongest", "pool2", "magma")
    np.testing.assert_array_equal(pool.overlay, _expected_overlay(17, "magma", "pool2"))


def test_mnist_steps_6_to_8_use_the_map_and_the_rest_do_not():
    d = _digit(17)
    res = GradCAM(load_lenet(), "relu2")(to_tensor(d))
    cam = res.cam[0].numpy()
    view = mnist_tab.explain_index(17, "predicted", "strongest", None, "inferno")
    jet = mnist_tab.explain_index(17, "predicted", "strongest")
    images = view.steps[1::3]
    # step 6: the 8×8 map coloured with inferno from 0 to its peak, enlarged to 280 (the bar sits below)
    np.testing.assert_array_equal(images[5][:280],
                                  paint.enlarge(paint.colorize(cam, "inferno", 0.0, float(cam.max())), 280))
    peak = np.unravel_index(np.argmax(cam), cam.shape)
    lut = paint._get_lut("inferno")
    assert tuple(images[5][peak[0] * 35 + 17, peak[1] * 35 + 17]) == tuple(lut[-1])
    from gradcam_core.analysis.cell import cell_centres
    from gradcam_core.cam.postprocess import place

    up = place(res.cam[0], (28, 28), cell_centres(load_lenet(), "relu2", (8, 8), (1, 28, 28))).numpy()
    np.testing.assert_array_equal(images[6][:280], paint.enlarge(paint.colorize(up, "inferno", 0.0, float(up.max())), 280))
    np.testing.assert_array_equal(images[7], view.overlay)  # step 8 is the overlay
    # steps 1-5 (activations in viridis, the signed maps in RdBu_r, the weights) do not change
    for k in range(5):
        np.testing.assert_array_equal(images[k], jet.steps[3 * k + 1])
    for k in (5, 6, 7):
        assert not np.array_equal(images[k], jet.steps[3 * k + 1])
    assert "'inferno' colour map" in view.steps[3 * 7] and "inferno" in view.steps[3 * 7 + 2]


def test_mnist_text_alternatives_name_the_maps_colours():
    view = mnist_tab.explain_index(17, "predicted", "strongest", None, "cividis")
    sentence = _sentence("cividis")
    assert view.alts["overlay"].endswith(sentence)
    steps = view.alts["steps"]
    assert [sentence in a for a in steps] == [False] * 5 + [True] * 3
    jet = mnist_tab.explain_index(17, "predicted", "strongest")
    assert jet.alts["overlay"].endswith(_sentence("jet"))
    # the sentences before it are the same: the colour map changes only the colours
    assert view.alts["overlay"].removesuffix(" " + sentence) == jet.alts["overlay"].removesuffix(" " + _sentence("jet"))


@pytest.mark.parametrize("cmap", list(SAFE_PLAIN))
def test_colour_words_are_read_from_the_map(cmap):
    assert colour_choice.end_codes(cmap) == SAFE_PLAIN[cmap]
    assert colour_choice.end_names(cmap) == tuple(say(f"colour.name.{c}") for c in SAFE_PLAIN[cmap])
    assert colour_choice.colour_sentence(cmap) == _sentence(cmap)


def test_every_plain_colour_has_its_words():
    for code, _ in colour_choice.NAMED:
        assert has(f"colour.name.{code}"), code
    assert colour_choice.colour_code((1.0, 1.0, 1.0)) == "white" and colour_choice.colour_name((0, 0, 0)) == say("colour.name.black")


def test_every_choice_has_a_sentence_and_bad_maps_are_refused():
    for _, name in cv.HEAT_CHOICES:
        low, high = colour_choice.end_names(name)
        assert colour_choice.colour_sentence(name) == say("colour.sentence", name=name, low=low, high=high)
    with pytest.raises(gr.Error, match="Unknown colormap"):
        mnist_tab.explain_index(3, "predicted", "strongest", None, "rainbowish")
    assert colour_choice.parse(None) == colour_choice.parse("") == "jet"


def test_mnist_link_carries_a_non_default_map():
    view = mnist_tab.explain_index(17, "predicted", "strongest", "relu2", "viridis")
    assert view.link.endswith("&layer=relu2&cmap=viridis")
    assert "cmap=" not in mnist_tab.explain_index(17, "predicted", "strongest").link  # old links unchanged
    back = mnist_tab.explain_from_link(SimpleNamespace(query_params={"tab": "mnist", "digit": "17", "cmap": "viridis"}))
    assert (back.index, back.layer, back.cmap) == (17, "relu2", "viridis")
    np.testing.assert_array_equal(back.overlay, _expected_overlay(17, "viridis"))
    shared = mnist_tab.explain_from_query(view.link)
    assert shared.cmap == "viridis" and np.array_equal(shared.overlay, view.overlay)
    with pytest.warns(UserWarning, match="plasma2"):
        bad = mnist_tab.explain_from_link(SimpleNamespace(query_params={"tab": "mnist", "digit": "17", "cmap": "plasma2"}))
    assert bad.cmap == "jet"


def test_the_note_states_the_measured_signed_map_distances():
    note = cv.heat_map_note()
    d = [cv.end_distance("RdBu_r", k) for k in ("protanopia", "deuteranopia", "tritanopia")]
    assert f"ΔE {d[0]:.0f}, {d[1]:.0f} and {d[2]:.0f} apart" in note
    assert [round(x) for x in d] == [35, 53, 69]  # tests/test_colour_vision.py measures the same
    assert note == say("colour.heat_note") + " " + say(
        "colour.signed_note", cmap="RdBu_r", protanopia=d[0], deuteranopia=d[1], tritanopia=d[2],
        normal=cv.end_distance("RdBu_r"), jnd=cv.JND, verdict=say("colour.signed_readable"))
    assert "`RdBu_r`" in note and f"ΔE {d[0]:.0f}, {d[1]:.0f} and {d[2]:.0f}" in note


def test_the_signed_maps_verdict_follows_the_distances(monkeypatch):
    """Both wordings, fed numbers: ends more than 10 just-noticeable differences apart read as safe."""
    for far, key in ((10 * cv.JND + 0.1, "colour.signed_readable"), (10 * cv.JND, "colour.signed_numbers")):
        monkeypatch.setattr(cv, "end_distance", lambda cmap, kind="none", far=far: far if kind != "protanopia" else far + 5)
        note = cv.signed_map_note()
        assert note == say("colour.signed_note", cmap="RdBu_r", protanopia=far + 5, deuteranopia=far,
                           tritanopia=far, normal=far, jnd=cv.JND, verdict=say(key))
        assert f"ΔE {far + 5:.0f}, {far:.0f} and {far:.0f}" in note


# ----------------------------------------------------------------------------- Shortcuts, in-process
def test_shortcut_pictures_use_the_chosen_map():
    views = sview.compare_views(44)
    title = "Matching square · misleading square · none"
    img = spurious_tab.mnist_compare(44, "cividis")["image"]
    np.testing.assert_array_equal(img["value"], sview.views_image(views, title=title, cmap="cividis"))
    assert _alt(img).endswith("Colour map cividis: dark blue where there is no heat, yellow where it is strongest.")
    jet = spurious_tab.mnist_compare(44)["image"]
    np.testing.assert_array_equal(jet["value"], sview.views_image(views, title=title))
    assert not np.array_equal(jet["value"], img["value"])
    # one overlay cell of the picture is paint.overlay with cividis, each map cell drawn at the centre
    # of what it sees (issue 24: conv2 cell r sees rows 2r … 2r+13, centre 2r + 6.5), not stretched
    from gradcam_core.cam.postprocess import place

    v = views[0]
    res = v.results["clean"]
    centres = (2 * np.arange(8) + 6.5, 2 * np.arange(8) + 6.5)
    x = sview.PAD + (sview.MNIST_CELL + sview.PAD)  # the second column: the clean LeNet's overlays
    pic = img["value"]

    def found(drawn):
        heat = normalize(drawn, "max").numpy()
        cell = paint.enlarge(paint.overlay(v.digit, heat, cmap="cividis"), sview.MNIST_CELL)
        return [y for y in range(pic.shape[0] - cell.shape[0])
                if np.array_equal(pic[y:y + cell.shape[0], x:x + cell.shape[1]], cell)]

    assert len(found(place(res.cam[0], res.input_size, centres))) == 1, \
        "the clean LeNet's overlay (cividis, at the cells' receptive-field centres) is not in the picture"
    assert not found(upsample(res.cam[0], res.input_size))  # the stretched drawing is not


def test_shortcut_card_and_steps_take_the_map_last():
    from gradcam_core.analysis import photo_edits

    if not photo_edits.photo_model_availability()[0]:
        pytest.skip("EfficientNet-Lite0 is not available")
    fn = spurious_tab._card_fn("context")
    card = spurious_tab._card_from("context", "coffee", "grass", None)
    img = fn("coffee", "grass", "magma")["image"]
    np.testing.assert_array_equal(img["value"], sview.card_image(card, "magma"))
    default = fn("coffee", "grass")["image"]
    np.testing.assert_array_equal(default["value"], sview.card_image(card))
    removed = spurious_tab._card_fn("removed")("dahlia", "gray")["image"]
    assert "Colour map gray: black" in _alt(removed)
    steps = spurious_tab._card_steps_fn("removed", "original")("dahlia", "gray")["steps"]
    from gradcam_core.present.cards import card_overlay

    overlay = card_overlay(spurious_tab._card_from("removed", "dahlia", None, None), "original", "gray")
    np.testing.assert_array_equal(steps[3 * 7 + 1]["value"], paint.enlarge(overlay, 280))


# ----------------------------------------------------------------------------- the launched app
def test_api_with_and_without_the_colour_map(app_client):
    info = app_client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name in ("/mnist_explain_index", "/mnist_explain_upload", "/mnist_explain_drawing", "/mnist_change_target",
                 "/mnist_change_channel", "/mnist_change_layer", "/mnist_change_cmap"):
        params = info[name]["parameters"]
        # issue 24 appended the map placement after the colour map, the last optional input
        assert params[-1]["parameter_name"] == "placement" and params[-1]["label"] == "Map placement", name
        assert params[-1]["parameter_has_default"] and params[-1]["parameter_default"] == "receptive field"
        assert params[-2]["parameter_name"] == "cmap" and params[-2]["label"] == "Colour map", name
        assert params[-2]["parameter_has_default"] and params[-2]["parameter_default"] == "jet"
        assert params[-3]["parameter_name"] == "layer"
    old = mnist_result(app_client, 17, "predicted", "strongest")
    np.testing.assert_array_equal(png(old["overlay"]), _expected_overlay(17, "jet"))
    new = mnist_result(app_client, 17, "predicted", "strongest", "relu2", "cividis")
    np.testing.assert_array_equal(png(new["overlay"]), _expected_overlay(17, "cividis"))
    np.testing.assert_array_equal(png(new["steps"][3 * 7 + 1]), _expected_overlay(17, "cividis"))
    assert new["link"].endswith("&cmap=cividis")
    with pytest.raises(Exception, match="Unknown colormap"):
        app_client.predict(17, "predicted", "strongest", "relu2", "nope", api_name="/mnist_explain_index")
    stretched = mnist_result(app_client, 17, "predicted", "strongest", "relu2", "jet", "stretched")
    np.testing.assert_array_equal(png(stretched["overlay"]), _expected_overlay(17, "jet", placement="stretched"))
    assert stretched["link"].endswith("&placement=stretched") and "placement" not in old["link"]
    # the app's own message, from the one parser (gradcam_core.base.inputs), not gradio's radio check
    with pytest.raises(Exception, match="Unknown map placement .*sideways.*; choose .*receptive field.* or .*stretched"):
        app_client.predict(17, "predicted", "strongest", "relu2", "jet", "sideways", api_name="/mnist_explain_index")


def test_changing_the_map_redraws_the_current_digit(app_client):
    app_client.predict(5, "predicted", "strongest", api_name="/mnist_explain_index")
    out = mnist_result(app_client, "predicted", "strongest", "relu2", "viridis", api_name="mnist_change_cmap")
    # the current digit of this session (#5), now in viridis
    np.testing.assert_array_equal(png(out["overlay"]), _expected_overlay(5, "viridis"))


def test_shortcuts_api_takes_the_map_last(app_client):
    info = app_client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name in ("/spurious_compare", "/spurious_cue_move", "/spurious_cue_toggle", "/spurious_steps_mnist_clean",
                 "/spurious_removed_photo", "/spurious_context_background", "/spurious_text_text",
                 "/spurious_steps_text_altered"):
        params = info[name]["parameters"]
        assert params[-1]["parameter_name"] == "cmap" and params[-1]["parameter_default"] == "jet", name
    assert [p["parameter_name"] for p in info["/spurious_text_text"]["parameters"]] == ["photo", "variant", "text", "cmap"]
    title = "Matching square · misleading square · none"
    views = sview.compare_views(44)
    img, _ = app_client.predict(44, "cividis", api_name="/spurious_compare")
    np.testing.assert_array_equal(png(img), sview.views_image(views, title=title, cmap="cividis"))
    img, _ = app_client.predict(44, api_name="/spurious_compare")
    np.testing.assert_array_equal(png(img), sview.views_image(views, title=title))
    play, _ = app_client.predict(7, True, 3, "gray", api_name="/spurious_cue_move")
    view = sview.digit_view("cue of class 3", sview.held_out_digit(7)[0], 3)
    np.testing.assert_array_equal(png(play), sview.views_image([view], title="Your version", cmap="gray"))


def test_shortcuts_colour_change_redraws_every_exhibit(app_client):
    info = app_client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/spurious_change_cmap"]
    names = [p["parameter_name"] for p in info["parameters"]]
    assert names[:3] == ["index", "cue_on", "cue_pos"] and names[-1] == "cmap" and "text_text" in names
    args = {p["parameter_name"]: p["parameter_default"] for p in info["parameters"]}
    args["cmap"] = "inferno"
    out = returns_by_label(app_client, "spurious_change_cmap",
                           app_client.predict(*[args[n] for n in names], api_name="/spurious_change_cmap"))
    # outputs by their labels: the three versions, your version, then one picture and table per photo card
    views = sview.compare_views(spurious_tab.DEFAULT_DIGIT)
    title = "Matching square · misleading square · none"
    np.testing.assert_array_equal(png(out[title]), sview.views_image(views, title=title, cmap="inferno"))
    view = sview.digit_view("cue of class 3", sview.held_out_digit(spurious_tab.DEFAULT_DIGIT)[0], 3)
    np.testing.assert_array_equal(png(out["Your version"]), sview.views_image([view], title="Your version", cmap="inferno"))
    card = spurious_tab._card_from("context", args["context_photo"], args["context_variant"], None)
    np.testing.assert_array_equal(png(out["Context swap"]), sview.card_image(card, "inferno"))
