"""The launched app, driven through its public API with gradio_client."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from gradio_client import handle_file

from gradcam_core import GradCAM
from gradcam_core.models.lenet import load_lenet
from gradcam_core.data.mnist import test_digits as held_out_digits, to_tensor
from gradcam_core.present.words import say
from outputs import mnist_result, png as _png  # noqa: E402


def _error_text(excinfo) -> str:
    return str(excinfo.value)




def test_api_names_are_listed(app_client):
    names = set(app_client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    for name in ["/mnist_explain_index", "/mnist_explain_drawing", "/mnist_explain_upload", "/mnist_grid_page",
                 "/mnist_change_target", "/mnist_change_channel"]:
        assert name in names
    # a tap in the grid carries the tap (Gradio's event data), which an API call cannot: the page's own
    # event, not listed (issue 23); from Python, /mnist_explain_index with (page − 1) × 50 + position
    assert "/mnist_pick_from_grid" not in names and "/mnist_from_link" not in names


def test_mnist_index_endpoint_matches_engine(app_client):
    images, labels = held_out_digits()
    i = 17
    out = mnist_result(app_client, i, "predicted", "strongest")
    label, overlay, numbers = out["label"], out["overlay"], out["numbers"]
    # the numbers are the engine's own
    x = to_tensor(images[i].astype(np.float32) / 255.0)
    ref = GradCAM(load_lenet(), "relu2")(x)  # the tab's default layer
    assert label["label"] == str(int(ref.logits.argmax()))
    probs = {c["label"]: c["confidence"] for c in label["confidences"]}
    assert len(probs) == 10
    np.testing.assert_allclose([probs[str(k)] for k in range(10)], ref.probs[0].numpy(), atol=1e-6)
    assert numbers["target"] == int(ref.targets[0])
    np.testing.assert_allclose(numbers["weights"], ref.weights[0].numpy(), atol=1e-7, rtol=1e-4)
    np.testing.assert_allclose(numbers["cam"], ref.cam[0].numpy(), atol=1e-5, rtol=1e-4)
    assert numbers["source"] == say("service.source.index", index=i, label=labels[i])
    ov = _png(overlay)
    assert ov.shape[0] >= 28 and ov.std() > 5  # a real picture, not a blank
    # 8 steps, each: markdown, image, code
    steps = out["steps"]
    assert len(steps) == 24
    assert out["link"].startswith("?tab=mnist&d=")
    for j in range(8):
        md, img, code = steps[3 * j : 3 * j + 3]
        assert md.startswith("### ") and md.count("$$") == 2, md
        assert _png(img).shape[1] >= 100
        assert isinstance(code, str) and len(code) > 10


def test_result_images_arrive_inline_and_match_the_engine(app_client):
    """Result images come inside the answer as PNG data URLs (no file to fetch), the API schema
    says so, and the picture is the one the engine renders for this digit."""
    from gradcam_core.ui.mnist_tab import explain_index

    out = mnist_result(app_client, 5, "predicted", "strongest")
    assert set(out["overlay"]) == {"url"} and out["overlay"]["url"].startswith("data:image/png;base64,")
    local = explain_index(5, "predicted", "strongest")
    np.testing.assert_array_equal(_png(out["overlay"]), local.overlay)  # lossless: the same pixels
    np.testing.assert_array_equal(_png(out["seen"]), np.repeat(local.seen[..., None], 3, axis=2))
    info = app_client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/mnist_explain_index"]
    overlay_info = [r for r in info["returns"] if r["label"] == "Grad-CAM heat map"][0]
    assert overlay_info["type"]["properties"]["url"]["type"] == "string"


def test_other_target_changes_the_map(app_client):
    a = mnist_result(app_client, 3, "predicted", "strongest")["numbers"]
    other = "1" if a["predicted"] != 1 else "2"
    b = mnist_result(app_client, 3, other, "strongest")["numbers"]
    assert b["target"] == int(other) and b["predicted"] == a["predicted"]
    assert not np.allclose(a["weights"], b["weights"])


def _sketch(digit: str, tmp_path) -> dict:
    """What the sketchpad sends: black strokes on a transparent 280×280 canvas, off-centre."""
    im = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    if digit == "1":
        d.line([(60, 30), (60, 150)], fill=(0, 0, 0, 255), width=16)
    else:  # a "7"
        d.line([(20, 30), (120, 30)], fill=(0, 0, 0, 255), width=16)
        d.line([(120, 30), (60, 160)], fill=(0, 0, 0, 255), width=16)
    path = tmp_path / f"sketch_{digit}.png"
    im.save(path)
    return {"background": None, "layers": [], "composite": handle_file(str(path))}


@pytest.mark.parametrize("digit", ["1", "7"])
def test_drawing_endpoint_reads_an_off_centre_drawing(app_client, tmp_path, digit):
    out = mnist_result(app_client, _sketch(digit, tmp_path), "predicted", "strongest", api_name="mnist_explain_drawing")
    assert out["label"]["label"] == digit
    seen = _png(out["seen"])
    # what LeNet sees is centred: its centre of mass is near the middle
    g = seen[..., 0].astype(float)
    ys, xs = np.indices(g.shape)
    cy, cx = (g * ys).sum() / g.sum(), (g * xs).sum() / g.sum()
    assert abs(cy - g.shape[0] / 2) < g.shape[0] * 0.08 and abs(cx - g.shape[1] / 2) < g.shape[1] * 0.08


def test_upload_endpoint_reads_a_photo_of_paper(app_client, tmp_path):
    images, labels = held_out_digits()
    i = int(np.flatnonzero(labels == 4)[0])
    digit = Image.fromarray(255 - images[i]).resize((200, 200), Image.Resampling.BILINEAR)
    paper = np.full((300, 260), 190, np.uint8) + np.linspace(0, 40, 260, dtype=np.uint8)[None]
    paper = Image.fromarray(paper)
    ink = np.asarray(digit).astype(float) / 255.0
    base = np.asarray(paper).astype(float)
    base[40:240, 30:230] *= ink  # dark ink multiplies the paper
    path = tmp_path / "photo.jpg"
    Image.fromarray(base.clip(0, 255).astype(np.uint8)).convert("RGB").save(path, quality=90)
    out = mnist_result(app_client, handle_file(str(path)), "predicted", "strongest", api_name="mnist_explain_upload")
    assert out["label"]["label"] == "4"


def test_grid_page_and_pick(app_client):
    page = app_client.predict(3, api_name="/mnist_grid_page")
    assert len(page) == 50
    assert page[0]["caption"].startswith("#100 ")


def test_bad_inputs_give_clear_messages_and_server_survives(app_client, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("RGBA", (280, 280), (0, 0, 0, 0)).save(blank)
    cases = [
        (lambda: app_client.predict({"background": None, "layers": [], "composite": None}, "predicted", "strongest",
                                api_name="/mnist_explain_drawing"), say("service.mnist.empty_canvas")),
        (lambda: app_client.predict({"background": None, "layers": [], "composite": handle_file(str(blank))},
                                "predicted", "strongest", api_name="/mnist_explain_drawing"), say("service.mnist.empty_canvas")),
        (lambda: app_client.predict(None, "predicted", "strongest", api_name="/mnist_explain_upload"),
         say("service.mnist.no_photo")),
        # (Gradio's own check of the Number's maximum answers first: "Value 5000 is greater than maximum value 999.")
        (lambda: app_client.predict(5000, "predicted", "strongest", api_name="/mnist_explain_index"), "999"),
        (lambda: app_client.predict(5, "banana", "strongest", api_name="/mnist_explain_index"), ""),
    ]
    white = tmp_path / "white.jpg"
    Image.new("RGB", (400, 300), (235, 235, 235)).save(white)
    cases.append((lambda: app_client.predict(handle_file(str(white)), "predicted", "strongest",
                                         api_name="/mnist_explain_upload"), "digit"))
    for call, needle in cases:
        with pytest.raises(Exception) as excinfo:
            call()
        msg = _error_text(excinfo)
        assert needle.lower() in msg.lower(), msg
        assert "Traceback" not in msg
    # still alive and correct
    out = mnist_result(app_client, 0, "predicted", "strongest")["label"]
    assert out["label"] == str(int(held_out_digits()[1][0]))


def test_readme_api_example_runs(app_client, tmp_path):
    """The gradio_client example in README.md works as written (file names and URL swapped in)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "gradio_client" in b and "overlay.png" in b)  # the Public API example
    images, labels = held_out_digits()
    digit = tmp_path / "my_digit.jpg"
    Image.fromarray(255 - images[3]).resize((200, 200)).convert("RGB").save(digit)
    cat = Path(__file__).resolve().parents[1] / "examples" / "animals" / "chelsea_cat.jpg"
    code = (block.replace('"my_digit.jpg"', repr(str(digit))).replace('"cat.jpg"', repr(str(cat)))
            .replace('Client("http://127.0.0.1:7860/")', "Client(URL)")
            .replace('"overlay.png"', repr(str(tmp_path / "overlay.png"))))
    scope = {"URL": app_client.src}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - our own README
    assert scope["label"]["label"] in "0123456789"
    with Image.open(tmp_path / "overlay.png") as im:  # the inline overlay, saved as the README shows
        assert im.format == "PNG" and im.width >= 28
    assert len(scope["steps"]) >= 8  # the ImageNet step gallery
    assert "cat" in scope["top5"]["label"] and "cat" in scope["numbers"]["top5"][0]["name"]
