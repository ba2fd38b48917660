"""One parser per kind of user input (gradcam_core/base/inputs.py): the UI handlers, the HTTP API and
the command line accept the same values (giving the same result) and reject the same values with
the same message."""
from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from gradcam_core.base import inputs
from gradcam_core.base.errors import Refusal
from gradcam_core.models.lenet import CLASSES
from gradcam_core.present.words import say, text_of

from outputs import returns_by_label  # noqa: E402
from test_cli import run  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CAT = ROOT / "examples" / "animals" / "chelsea_cat.jpg"
LITE = "efficientnet_lite0"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _message(exc: BaseException) -> str:
    """The text a person sees (the UI escapes HTML in messages; gradio_client adds nothing we need)."""
    return html.unescape(str(exc)).strip()


def _refusal(fn, *args, **kwargs) -> Refusal:
    """The refusal ``fn`` raises: its key and numbers are what tests of numbers check."""
    with pytest.raises(Refusal) as ei:
        fn(*args, **kwargs)
    return ei.value


def _ui(fn, *args):
    """(value, None) or (None, message) of a UI handler (gr.Error carries the ValueError's text)."""
    import gradio as gr

    try:
        return fn(*args), None
    except gr.Error as e:
        return None, _message(e.message)


def _api(client, api_name, *args):
    try:
        return client.predict(*args, api_name=api_name), None
    except Exception as e:  # gradio_client's AppError: its message is the gr.Error's
        return None, _message(e)


def _cli(tmp_path, *args):
    """(numbers JSON of the one image, None) or (None, the error message) of the command line."""
    out = tmp_path / "out"
    code, _, stderr = run(["explain", *args, "--out", out])
    if code == 0:
        (js,) = out.glob("*.json")
        return json.loads(js.read_text()), None
    line = [l for l in stderr.splitlines() if "error" in l][-1]
    return None, line.split("error: ", 1)[-1].strip()


# --------------------------------------------------------------------------- the parsers themselves
def test_target_parser_values_and_messages():
    from gradcam_core.models.registry import imagenet_categories

    im = imagenet_categories()
    for good, want in [("207", 207), (207, 207), (207.0, 207), ("207 · golden retriever", 207),
                       ("Golden Retriever", 207), ("golden_retriever", 207), ("crane", 517), ("predicted", None), ("auto", None),
                       (None, None), ("", None)]:
        assert inputs.parse_target(good, im) == want, good
    for bad, key, values in [("1000", "error.class.out_of_range", dict(what="Class", index=1000, dataset="ImageNet", last=999)),
                             ("xyzzy", "error.class.no_match.predicted_or_name", dict(dataset="ImageNet", text="xyzzy", last=999)),
                             (2.5, "error.class.not_whole.predicted_or_name", dict(what="Class", value=2.5, last=999)),
                             (True, "error.class.not_class.predicted_or_name", dict(what="Class", value=True, last=999)),
                             ("crane x", "error.class.no_match_similar.predicted_or_name",
                              dict(dataset="ImageNet", text="crane x", names="'crane'", last=999))]:
        err = _refusal(inputs.parse_target, bad, im)
        assert (err.key, err.values) == (key, values), bad
    err = _refusal(inputs.parse_target, "terrier", im)
    assert err.key == "error.class.ambiguous_more" and err.values["count"] == 19
    assert err.values["some"].startswith("158 · toy terrier, 180 · American Staffordshire terrier")
    assert inputs.parse_target("7", CLASSES, "MNIST") == 7
    err = _refusal(inputs.parse_target, 10, CLASSES, "MNIST")
    assert (err.key, err.values) == ("error.class.out_of_range", dict(what="Class", index=10, dataset="MNIST", last=9))
    err = _refusal(inputs.parse_target, "banana", CLASSES, "MNIST")
    assert err.key == "error.class.no_match.predicted"
    err = _refusal(inputs.parse_target, None, CLASSES, "MNIST", predicted=False, what="The cue position")
    assert (err.key, err.values) == ("error.class.missing.index", dict(what="The cue position", last=9))


def test_target_wordings():
    """Every wording of a class refusal, from the catalogue, with its numbers written in."""
    assert say("error.class.out_of_range", what="Class", index=1000, dataset="ImageNet", last=999) == (
        "Class 1000 is out of range: ImageNet classes go from 0 to 999.")
    assert say("error.class.no_match.predicted_or_name", dataset="ImageNet", text="xyzzy", last=999) == (
        "No ImageNet class matches 'xyzzy'; give predicted, an index 0 to 999, or part of a class name, e.g. 'retriever'.")
    assert say("error.class.no_match.predicted", dataset="MNIST", text="banana", last=9) == (
        "No MNIST class matches 'banana'; give predicted, an index 0 to 9.")
    assert say("error.class.no_match_similar.index", dataset="MNIST", text="sevn", names="'seven'", last=9) == (
        "No MNIST class matches 'sevn' (similar names: 'seven'); give an index 0 to 9.")
    assert say("error.class.not_whole.predicted_or_name", what="Class", value=2.5, last=999).startswith(
        "Class must be a whole class index, not 2.5; give predicted, an index 0 to 999, or part")
    assert say("error.class.missing.index", what="The cue position", last=9) == (
        "The cue position is missing; give an index 0 to 9.")
    assert say("error.class.not_class.index_or_name", what="Class", value=True, last=9) == (
        "Class must be a class, not True; give an index 0 to 9, or part of a class name, e.g. 'retriever'.")
    assert say("error.class.ambiguous", text="cat", count=2, some="1 · a cat, 2 · b cat") == (
        "'cat' matches 2 classes (1 · a cat, 2 · b cat); pick one.")
    assert say("error.class.ambiguous_more", text="terrier", count=19, some="158 · toy terrier").endswith(
        "(158 · toy terrier …); pick one.")


def test_small_parsers():
    assert inputs.parse_method("gradcam++", ["Grad-CAM", "Grad-CAM++", "Score-CAM"]) == "Grad-CAM++"
    assert inputs.parse_method("score-cam", ["Grad-CAM", "Score-CAM"]) == "Score-CAM"
    assert inputs.parse_method(None, ["Grad-CAM"]) == "Grad-CAM"
    err = _refusal(inputs.parse_method, "magic", ["Grad-CAM", "Score-CAM"])
    assert (err.key, err.values) == ("error.method.unknown", dict(text="magic", choices="Grad-CAM, Score-CAM"))
    assert text_of(err) == "Unknown method 'magic'; choose one of: Grad-CAM, Score-CAM."
    assert inputs.parse_norm("min-max") == "minmax" and inputs.parse_norm(None) == "max"
    assert _refusal(inputs.parse_norm, "sum").values == {"norm": "sum"}
    assert inputs.parse_cmap("viridis") == "viridis" and inputs.parse_cmap("RdBu_r") == "RdBu_r"
    err = _refusal(inputs.parse_cmap, "nocolours")
    assert text_of(err).startswith("Unknown colormap 'nocolours'; choose one of: jet, turbo, cividis")
    assert inputs.parse_alpha("0.25") == 0.25 and inputs.parse_alpha(None) == 0.5
    err = _refusal(inputs.parse_alpha, 2)
    assert (err.key, err.values) == ("error.alpha.out_of_range", {"alpha": 2.0})
    assert text_of(err) == "Opacity must be between 0 and 1, not 2."
    err = _refusal(inputs.parse_alpha, "x")
    assert (err.key, err.values) == ("error.alpha.not_a_number", {"value": "x"})
    assert text_of(err) == "Opacity must be a number between 0 and 1, not 'x'."


def test_box_parser_codes_and_wordings():
    assert inputs.parse_box("10, 20, 50.5, 60", 100, 80) == (10, 20, 51, 60)
    for bad, key, values in [(None, "error.box.missing", {}), ("1,2,3", "error.box.count", dict(count=3, value="1,2,3")),
                             ("1,2,3,x", "error.box.not_numbers", dict(value="1,2,3,x")),
                             ("1,2,inf,4", "error.box.not_finite", dict(value="1,2,inf,4")),
                             ("50,20,10,60", "error.box.order", dict(x0=50.0, y0=20.0, x1=10.0, y1=60.0)),
                             ("0,0,500,40", "error.box.outside", dict(x0=0.0, y0=0.0, x1=500.0, y1=40.0, width=100, height=80)),
                             ("0,0,5,5", "error.box.too_small", dict(width=5, height=5, min_side=inputs.MIN_BOX_SIDE))]:
        err = _refusal(inputs.parse_box, bad, 100, 80)
        assert (err.key, err.values) == (key, values), bad
    assert say("error.box.outside", x0=0.0, y0=0.0, x1=500.0, y1=40.5, width=100, height=80) == (
        "The box (0, 0, 500, 40.5) reaches outside the photo, which is 100×80 pixels: keep x between 0 and 100 "
        "and y between 0 and 80.")
    assert say("error.box.order", x0=50.0, y0=20.0, x1=10.0, y1=60.0).endswith("got x0=50, y0=20, x1=10, y1=60.")
    assert say("error.box.too_small", width=5, height=7, min_side=8) == (
        "The box is only 5×7 pixels: draw it around the whole digit (at least 8 pixels on each side).")
    assert say("error.box.count", count=3, value="1,2,3").endswith("top-left corner); got 3: '1,2,3'.")


def test_layer_parser_lives_below_inputs():
    """The layer parser tries a layer on the model, so it is the registry's (inputs imports no engine)."""
    import ast

    tree = ast.parse(Path(inputs.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m and m.startswith(("gradcam_core.cam", "gradcam_core.models"))}
    from gradcam_core.models.layers import parse_layer
    from gradcam_core.models.registry import get_model

    lenet = get_model("lenet")
    picker = [(n, ()) for n in lenet.layer_names]
    assert parse_layer("conv2", picker, "relu2", "LeNet (MNIST)") == "conv2"
    err = _refusal(parse_layer, "conv9", picker, "relu2", "LeNet (MNIST)", model=lenet.load(), input_shape=(1, 28, 28))
    assert err.key == "error.layer.unknown_similar_any" and err.values["name"] == "conv9"
    err = _refusal(parse_layer, "fc1", picker, "relu2", "LeNet (MNIST)", model=lenet.load(), input_shape=(1, 28, 28))
    assert err.key == "error.layer.unusable.not_a_map" and err.values["shape"] == (1, 120)
    assert text_of(err).startswith("LeNet (MNIST) has no layer 'fc1' that can be used here (Layer 'fc1' outputs "
                                   "shape (1, 120); a CAM needs a (N, K, h, w) feature map); choose one of: ")
    err = _refusal(parse_layer, "nope", picker, "relu2", "LeNet (MNIST)")
    assert (err.key, err.values["names"]) == ("error.layer.unknown", ", ".join(lenet.layer_names))


def test_placement_parser_values_and_message():
    assert inputs.parse_placement(None) == inputs.parse_placement("") == "receptive field"
    for good, want in [("stretched", "stretched"), ("Stretched ", "stretched"), ("receptive-field", "receptive field"),
                       ("Receptive_Field", "receptive field")]:
        assert inputs.parse_placement(good) == want, good
    for bad in ("sideways", 3, "aligned"):
        err = _refusal(inputs.parse_placement, bad)
        # the choices are worded when the refusal is (the "or" is the reader's: issue 28)
        assert (err.key, err.values["value"], str(err.values["choices"])) == (
            "error.placement.unknown", bad, "'receptive field' or 'stretched'")
        assert text_of(err).startswith(f"Unknown map placement {bad!r}; choose 'receptive field' or 'stretched'")
    from gradcam_core.analysis import cell

    assert cell.parse_placement is inputs.parse_placement  # one parser


def test_photo_source_and_the_one_data_url_decoder():
    from gradcam_core.services import imagenet
    from gradcam_core.present import codec

    assert _refusal(inputs.photo_source, None).key == inputs.NO_PHOTO == "error.photo.none"
    assert text_of(_refusal(inputs.photo_source, None)).startswith("Upload a photo")
    err = _refusal(inputs.photo_source, {"url": "https://example.com/x.png"})
    assert err.key == inputs.PHOTO_LOST and "did not arrive" in text_of(err)
    assert inputs.photo_source({"path": "/a.png", "url": "x"}) == "/a.png"
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    assert inputs.photo_source({"url": url}) == url and inputs.data_url_bytes(url) == buf.getvalue()
    # the app's three readers of data: URLs give the same pixels
    a = np.asarray(codec.decode_data_url({"url": url}).convert("RGB"))
    b = np.asarray(imagenet.load_photo(url))
    assert a.shape == (30, 40, 3) and np.array_equal(a, b)
    for bad in ("data:image/png;base64", "data:image/png,abc"):
        err = _refusal(inputs.data_url_bytes, bad)
        assert err.key == "error.photo.data_url" and "data: URL is damaged" in text_of(err)


# --------------------------------------------------------------------------- UI, API, CLI agree
@pytest.fixture(scope="module")
def digit_png(tmp_path_factory):
    from gradcam_core.data.mnist import test_digits

    images, labels = test_digits()
    p = tmp_path_factory.mktemp("digit") / "digit.png"
    Image.fromarray(255 - images[0]).save(p)  # dark ink on white paper, as a photo
    return p


@pytest.mark.parametrize("target, want", [("3", 3), ("predicted", None), ("10", "Class 10 is out of range"),
                                          ("banana", "No MNIST class matches 'banana'")])
def test_mnist_target_same_in_ui_api_cli(app_client, digit_png, tmp_path, target, want):
    from gradcam_core.ui import mnist_tab


    ui, ui_err = _ui(mnist_tab.explain_upload, str(digit_png), target, "strongest")
    api, api_err = _api(app_client, "/mnist_explain_upload", handle_file(str(digit_png)), target, "strongest")
    cli, cli_err = _cli(tmp_path, digit_png, "--model", "lenet", "--target", target)
    if isinstance(want, str):
        assert ui is None and api is None and cli is None
        assert ui_err.startswith(want) and ui_err == api_err == cli_err, (ui_err, api_err, cli_err)
        return
    assert ui_err is api_err is cli_err is None
    ui_numbers = ui.numbers
    api_numbers = returns_by_label(app_client, "mnist_explain_upload", api)["Numbers"]
    expected = cli["predicted"] if want is None else want
    assert ui_numbers["target"] == api_numbers["target"] == cli["target"] == expected


@pytest.mark.parametrize("layer, want", [("conv1", "conv1"), ("relu2 · 16 maps of 8×8 (default)", "relu2"),
                                         ("fc1", "LeNet (MNIST) has no layer 'fc1' that can be used here"),
                                         ("conv9", "LeNet (MNIST) has no layer 'conv9'")])
def test_mnist_layer_same_in_ui_api_cli(app_client, digit_png, tmp_path, layer, want):
    from gradcam_core.ui import mnist_tab


    ui, ui_err = _ui(mnist_tab.explain_upload, str(digit_png), "predicted", "strongest", layer)
    api, api_err = _api(app_client, "/mnist_explain_upload", handle_file(str(digit_png)), "predicted", "strongest",
                        layer)
    cli, cli_err = _cli(tmp_path, digit_png, "--model", "lenet", "--layer", layer)
    if want.startswith("LeNet"):
        assert ui_err.startswith(want) and ui_err == api_err == cli_err, (ui_err, api_err, cli_err)
        return
    api_numbers = returns_by_label(app_client, "mnist_explain_upload", api)["Numbers"]
    assert ui.numbers["layer"] == api_numbers["layer"] == cli["layer"] == want


IMAGENET_CASES = [  # (option, value, expected value or the start of the message)
    ("target", "tabby", 281),
    ("target", "282 · tiger cat", 282),
    ("target", "kitty", "No ImageNet class matches 'kitty'"),
    ("target", "1000", "Class 1000 is out of range: ImageNet classes go from 0 to 999."),
    ("layer", "_blocks.14", "_blocks.14"),
    ("layer", "stage 6 (_blocks.14, 7×7)", "_blocks.14"),
    ("layer", "_blocks.3", "_blocks.3"),  # a module outside the picker that outputs a feature map
    ("layer", "_fc", "EfficientNet-Lite0 has no layer '_fc' that can be used here"),
    ("layer", "nope", "EfficientNet-Lite0 has no layer 'nope'"),
    ("method", "gradcam++", "Grad-CAM++"),
    ("method", "magic", "Unknown method 'magic'"),
    ("norm", "min-max", "minmax"),
    ("norm", "sqrt", "Unknown normalisation 'sqrt'; choose 'max' or 'minmax'."),
    ("cmap", "plasma", "plasma"),
    ("cmap", "nope", "Unknown colormap 'nope'"),
    ("alpha", "0.3", 0.3),
    ("alpha", "2", "Opacity must be between 0 and 1, not 2."),
]


@pytest.mark.parametrize("option, value, want", IMAGENET_CASES)
def test_imagenet_options_same_in_ui_api_cli(app_client, tmp_path, option, value, want):
    from gradcam_core.ui import imagenet_tab


    args = {"model": LITE, "layer": None, "method": "Grad-CAM", "target": "predicted", "target2": "none",
            "norm": "max", "cmap": "jet", "alpha": 0.5}
    args[option] = value
    order = ["model", "layer", "method", "target", "target2", "norm", "cmap", "alpha"]
    ui, ui_err = _ui(imagenet_tab.explain, {"path": str(CAT)}, *[args[k] for k in order])
    api, api_err = _api(app_client, "/imagenet_explain", handle_file(str(CAT)), *[args[k] for k in order])
    flags = ["--model", LITE, "--" + option, value]
    cli, cli_err = _cli(tmp_path, CAT, *flags)
    if isinstance(want, str) and (want[0].isupper() and " " in want):
        assert ui is None and api is None and cli is None
        assert ui_err.startswith(want) and ui_err == api_err == cli_err, (ui_err, api_err, cli_err)
        return
    assert ui_err is api_err is cli_err is None, (ui_err, api_err, cli_err)
    ui_numbers = ui["numbers"]
    api_numbers = returns_by_label(app_client, "imagenet_explain", api)["Numbers: top 5, target, weights, map"]
    if option in ("cmap", "alpha"):  # not in the numbers: all three drew with the value the parser gives
        assert (inputs.parse_cmap(value) if option == "cmap" else inputs.parse_alpha(value)) == want
        return
    key = {"norm": "normalisation"}.get(option, option)
    assert ui_numbers[key] == api_numbers[key] == cli[option] == want


def test_imagenet_photo_source_same_in_ui_and_api(app_client):
    from gradcam_core.ui import imagenet_tab

    args = [LITE, None, "Grad-CAM", "predicted", "none", "max", "jet", 0.5]
    _, ui_err = _ui(imagenet_tab.explain, None, *args)
    _, api_err = _api(app_client, "/imagenet_explain", None, *args)
    assert ui_err == api_err == say(inputs.NO_PHOTO)


@pytest.mark.parametrize("placement, want", [("stretched", "stretched"), ("Receptive-Field", "receptive field"),
                                             ("sideways", "Unknown map placement 'sideways'; choose 'receptive field' "
                                                          "or 'stretched'")])
def test_mnist_placement_same_in_ui_api_cli(app_client, digit_png, tmp_path, placement, want):
    """issue 24: a bad placement gets the app's own message on every way in (the tab's handlers,
    each API endpoint that takes it, the trust panel's curves and the command line)."""
    from gradcam_core.data.mnist import test_digits
    from gradcam_core.ui import mnist_tab, trust

    ui, ui_err = _ui(mnist_tab.explain_upload, str(digit_png), "predicted", "strongest", "relu2", "jet", placement)
    api, api_err = _api(app_client, "/mnist_explain_upload", handle_file(str(digit_png)), "predicted", "strongest",
                        "relu2", "jet", placement)
    idx, idx_err = _api(app_client, "/mnist_explain_index", 3, "predicted", "strongest", "relu2", "jet", placement)
    cli, cli_err = _cli(tmp_path, digit_png, "--model", "lenet", "--placement", placement)
    if want.startswith("Unknown"):
        assert ui is None and api is None and idx is None and cli is None
        assert ui_err.startswith(want) and ui_err == api_err == idx_err == cli_err, (ui_err, api_err, cli_err)
        assert "not in the list of choices" not in api_err
        # the trust panel's deletion/insertion (the tab's placement is its optional last input)
        d = test_digits()[0][0].astype(np.float32) / 255.0
        _, t_err = _ui(trust._mnist_curves_event, d, "predicted", "zero", 8, placement)
        _, t_api_err = _api(app_client, "/trust_mnist_curves", "predicted", "zero", 8, placement)
        _, change_err = _api(app_client, "/mnist_change_placement", "predicted", "strongest", "relu2", "jet",
                             placement)
        assert t_err == t_api_err == change_err == ui_err, (t_err, t_api_err, change_err)
        return
    assert ui_err is api_err is idx_err is cli_err is None, (ui_err, api_err, idx_err, cli_err)
    api_numbers = returns_by_label(app_client, "mnist_explain_upload", api)["Numbers"]
    assert ui.numbers["placement"] == api_numbers["placement"] == cli["placement"] == want


def test_the_normalisations_the_api_takes_and_their_catalogue_labels():
    """NORMS maps what the API takes to the catalogue key of its label; both values parse to
    themselves and the labels read as they always have."""
    assert list(inputs.NORMS) == ["max", "minmax"]
    assert [inputs.parse_norm(k) for k in inputs.NORMS] == ["max", "minmax"]
    assert inputs.parse_norm("min–max") == "minmax" and inputs.parse_norm(None) == "max"
    assert [say(v) for v in inputs.NORMS.values()] == ["max (0 stays 0)", "min–max (fill the scale)"]
