"""The hostile-input corpus through every image input of the launched app, via gradio_client.

Each file must give either a correct result or a clear message (never Gradio's generic
"the upstream app has raised an exception", never a traceback), and the server must keep
answering afterwards.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from gradio_client import handle_file

sys.path.insert(0, str(Path(__file__).parent))
from hostile import corpus  # noqa: E402
from outputs import imagenet_result, mnist_result  # noqa: E402


GENERIC = "upstream Gradio app has raised an exception"





@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return corpus(tmp_path_factory.mktemp("hostile"))


# each returns the endpoint's outputs by name; "label" is the prediction (gr.Label)
def _mnist_upload(client, path):
    return mnist_result(client, handle_file(str(path)), "predicted", "strongest", api_name="mnist_explain_upload")


def _mnist_drawing(client, path):
    sketch = {"background": None, "layers": [], "composite": handle_file(str(path))}
    return mnist_result(client, sketch, "predicted", "strongest", api_name="mnist_explain_drawing")


def _imagenet_upload(client, path):
    return imagenet_result(client, handle_file(str(path)), "efficientnet_lite0", "_head_act", "Grad-CAM", "predicted",
                           "none", "max", "jet", 0.5)


def _mnist_crop(client, path):
    """A box in the top-left corner (as small as a box may be): the file's own faults come first."""
    return mnist_result(client, handle_file(str(path)), "0, 0, 8, 8", "predicted", "strongest",
                        api_name="mnist_explain_crop")


# (name, call, is_digit_reader): digit readers may reject a photo that holds no digit, clearly.
INPUTS = [("mnist-upload", _mnist_upload, True), ("mnist-drawing", _mnist_drawing, True),
          ("mnist-crop", _mnist_crop, True), ("imagenet-upload", _imagenet_upload, False)]


@pytest.mark.parametrize("input_name,call,reads_digits", INPUTS, ids=[i[0] for i in INPUTS])
def test_every_hostile_file_gets_a_result_or_a_clear_message(app_client, files, input_name, call, reads_digits):
    report = []
    for name, (path, expect) in files.items():
        try:
            out = call(app_client, path)
            outcome, msg = "ok", ""
            assert out["label"] and out["label"].get("label") is not None
        except Exception as exc:  # the client raises the server's gr.Error message
            outcome, msg = "error", str(exc)
        report.append((name, outcome, msg[:120]))
        if outcome == "error":
            assert GENERIC not in msg and "Traceback" not in msg, f"{input_name} / {name}: unclear error: {msg}"
            assert len(msg) > 20, f"{input_name} / {name}: message too short: {msg!r}"
        if expect == "error":
            assert outcome == "error", f"{input_name} / {name} should be refused, got a result"
        if expect == "ok" and not reads_digits:
            assert outcome == "ok", f"{input_name} / {name} should work: {msg}"
    # refusals say what is wrong
    by_name = {n: m for n, o, m in report}
    assert "megapixel" in by_name["bomb-20000x20000.png"].lower() or "pixels" in by_name["bomb-20000x20000.png"].lower()
    assert "empty" in by_name["zero-byte.png"].lower()
    assert "truncated" in by_name["truncated.heic"].lower()
    if not reads_digits:
        assert by_name["iphone.heic"] == ""  # an iPhone photo is explained
    # the server is still alive and correct afterwards
    assert mnist_result(app_client, 0, "predicted", "strongest")["label"]["label"] in [str(d) for d in range(10)]


def _imagenet_link(client, path):
    return client.predict(handle_file(str(path)), "efficientnet_lite0", "_head_act", "Grad-CAM", "predicted", "none",
                          "max", "jet", 0.5, api_name="/imagenet_make_link")


def _outcome(call, client, path):
    """(result, None) or (None, the server's message)."""
    try:
        return call(client, path), None
    except Exception as exc:
        return None, str(exc)


def _message(call, client, path) -> str | None:
    return _outcome(call, client, path)[1]


def test_make_link_links_only_pictures_with_the_same_refusals_as_explain(app_client, files, tmp_path, monkeypatch):
    """imagenet_make_link keeps and links a file only if it decodes as a picture; a hostile file gets
    exactly the message /imagenet_explain gives it, and nothing is stored for it."""
    from urllib.parse import parse_qs

    from gradcam_core.data.deeplink import recall_photo

    monkeypatch.setenv("GRADCAM_LINK_DIR", str(tmp_path))  # the app runs in this process
    linked = {}
    for name, (path, expect) in files.items():
        query, refused = _outcome(_imagenet_link, app_client, path)
        if expect == "error":
            assert refused is not None, f"{name} was linked: it is not a usable picture"
            assert refused == _message(_imagenet_upload, app_client, path), name
            assert GENERIC not in refused and "Traceback" not in refused
        elif expect == "ok":
            assert refused is None, f"{name} should be linkable: {refused}"
        if refused is None:
            token = parse_qs(query.lstrip("?"))["photo"][0]
            assert Path(recall_photo(token)).read_bytes() == Path(path).read_bytes(), name
            linked[name] = token
    stored = {p.name for p in tmp_path.iterdir()}
    assert stored == {t.split(":", 1)[1] for t in linked.values()}  # nothing kept for a refused file
    assert not {n for n, (_, e) in files.items() if e == "error"} & set(linked)
    svg = _message(_imagenet_link, app_client, files["drawing.svg"][0])
    assert "could not read this file as an image" in svg and "SVG" in svg
    assert "megapixels" in _message(_imagenet_link, app_client, files["bomb-20000x20000.png"][0])
    assert "empty" in _message(_imagenet_link, app_client, files["zero-byte.png"][0])
