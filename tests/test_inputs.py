"""One parser per kind of user input (gradcam_core/inputs.py): the UI handlers, the HTTP API and
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

from gradcam_core import inputs
from gradcam_core.models.lenet import CLASSES

from outputs import returns_by_label  # noqa: E402
from test_cli import run  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CAT = ROOT / "examples" / "animals" / "chelsea_cat.jpg"
LITE = "efficientnet_lite0"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _message(exc: BaseException) -> str:
    """The text a person sees (the UI escapes HTML in messages; gradio_client adds nothing we need)."""
    return html.unescape(str(exc)).strip()


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
    for bad, msg in [("1000", "Class 1000 is out of range: ImageNet classes go from 0 to 999."),
                     ("xyzzy", "No ImageNet class matches 'xyzzy'; give predicted, an index 0 to 999, or part "
                               "of a class name, e.g. 'retriever'."),
                     (2.5, "Class must be a whole class index, not 2.5"),
                     ("terrier", "'terrier' matches 19 classes (158 · toy terrier, ")]:
        with pytest.raises(ValueError) as ei:
            inputs.parse_target(bad, im)
        assert str(ei.value).startswith(msg), str(ei.value)
    assert inputs.parse_target("7", CLASSES, "MNIST") == 7
    with pytest.raises(ValueError, match=r"^Class 10 is out of range: MNIST classes go from 0 to 9\.$"):
        inputs.parse_target(10, CLASSES, "MNIST")
    with pytest.raises(ValueError, match=r"^No MNIST class matches 'banana'; give predicted, an index 0 to 9\.$"):
        inputs.parse_target("banana", CLASSES, "MNIST")
    with pytest.raises(ValueError, match="cue position is missing"):
        inputs.parse_target(None, CLASSES, "MNIST", predicted=False, what="The cue position")


def test_small_parsers():
    assert inputs.parse_method("gradcam++", ["Grad-CAM", "Grad-CAM++", "Score-CAM"]) == "Grad-CAM++"
    assert inputs.parse_method("score-cam", ["Grad-CAM", "Score-CAM"]) == "Score-CAM"
    assert inputs.parse_method(None, ["Grad-CAM"]) == "Grad-CAM"
    with pytest.raises(ValueError, match=r"^Unknown method 'magic'; choose one of: Grad-CAM, Score-CAM\.$"):
        inputs.parse_method("magic", ["Grad-CAM", "Score-CAM"])
    assert inputs.parse_norm("min-max") == "minmax" and inputs.parse_norm(None) == "max"
    assert inputs.parse_cmap("viridis") == "viridis" and inputs.parse_cmap("RdBu_r") == "RdBu_r"
    assert inputs.parse_alpha("0.25") == 0.25 and inputs.parse_alpha(None) == 0.5
    for bad, msg in [(2, "Opacity must be between 0 and 1, not 2."), ("x", "Opacity must be a number")]:
        with pytest.raises(ValueError, match=msg):
            inputs.parse_alpha(bad)


def test_placement_parser_values_and_message():
    assert inputs.parse_placement(None) == inputs.parse_placement("") == "receptive field"
    for good, want in [("stretched", "stretched"), ("Stretched ", "stretched"), ("receptive-field", "receptive field"),
                       ("Receptive_Field", "receptive field")]:
        assert inputs.parse_placement(good) == want, good
    for bad in ("sideways", 3, "aligned"):
        with pytest.raises(ValueError) as ei:
            inputs.parse_placement(bad)
        assert str(ei.value).startswith(f"Unknown map placement {bad!r}; choose 'receptive field' or 'stretched'")
    from gradcam_core.analysis import cell

    assert cell.parse_placement is inputs.parse_placement  # one parser


def test_photo_source_and_the_one_data_url_decoder():
    from gradcam_core.services import imagenet
    from gradcam_core.present import render

    with pytest.raises(ValueError, match="^Upload a photo"):
        inputs.photo_source(None)
    with pytest.raises(ValueError, match="did not arrive"):
        inputs.photo_source({"url": "https://example.com/x.png"})
    assert inputs.photo_source({"path": "/a.png", "url": "x"}) == "/a.png"
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    assert inputs.photo_source({"url": url}) == url and inputs.data_url_bytes(url) == buf.getvalue()
    # the app's three readers of data: URLs give the same pixels
    a = np.asarray(render.decode_data_url({"url": url}).convert("RGB"))
    b = np.asarray(imagenet.load_photo(url))
    assert a.shape == (30, 40, 3) and np.array_equal(a, b)
    for bad in ("data:image/png;base64", "data:image/png,abc"):
        with pytest.raises(ValueError, match="data: URL is damaged"):
            inputs.data_url_bytes(bad)


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
    assert ui_err == api_err == inputs.NO_PHOTO


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
