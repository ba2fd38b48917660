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


GENERIC = "upstream Gradio app has raised an exception"





@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return corpus(tmp_path_factory.mktemp("hostile"))


def _mnist_upload(client, path):
    return client.predict(handle_file(str(path)), "predicted", "strongest", api_name="/mnist_explain_upload")


def _mnist_drawing(client, path):
    sketch = {"background": None, "layers": [], "composite": handle_file(str(path))}
    return client.predict(sketch, "predicted", "strongest", api_name="/mnist_explain_drawing")


def _imagenet_upload(client, path):
    out = client.predict(handle_file(str(path)), "efficientnet_lite0", "_head_act", "Grad-CAM", "predicted", "none",
                         "max", "jet", 0.5, api_name="/imagenet_explain")
    return [out[1]] + list(out)  # out[1] is the top-5 gr.Label


# (name, call, is_digit_reader): digit readers may reject a photo that holds no digit, clearly.
INPUTS = [("mnist-upload", _mnist_upload, True), ("mnist-drawing", _mnist_drawing, True),
          ("imagenet-upload", _imagenet_upload, False)]


@pytest.mark.parametrize("input_name,call,reads_digits", INPUTS, ids=[i[0] for i in INPUTS])
def test_every_hostile_file_gets_a_result_or_a_clear_message(app_client, files, input_name, call, reads_digits):
    report = []
    for name, (path, expect) in files.items():
        try:
            out = call(app_client, path)
            outcome, msg = "ok", ""
            assert out[0] and out[0].get("label") is not None
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
    # the server is still alive and correct afterwards
    out = app_client.predict(0, "predicted", "strongest", api_name="/mnist_explain_index")
    assert out[0]["label"] in [str(d) for d in range(10)]
