"""Phone photos of handwritten digits (the seeded field set) and the steps that isolate the digit.

The set in ``tests/field_digits/`` is made by ``python tools/make_field_digits.py``: real MNIST
handwriting on plain, ruled or squared paper, tilted, in perspective, with a table strip, another
sheet's edge or a fingertip at the borders, shadows, blur, noise and JPEG; plus photos that are not
digits (scikit-image's cat, coffee ...) and blank sheets.  See the generator's docstring.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from gradcam_core.data import digit_lines, digit_reader, mnist
from gradcam_core.data.digit_frame import NoDigitError
from gradcam_core.present.words import has, say, text_of

ROOT = Path(__file__).resolve().parents[1]
SET_DIR = ROOT / "tests" / "field_digits"
TARGET = 0.95

sys.path.insert(0, str(ROOT / "tools"))
import make_field_digits as gen  # noqa: E402


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((SET_DIR / "manifest.json").read_text(encoding="utf-8"))


def _items(manifest, kind):
    return [e for e in manifest["items"] if e["kind"] == kind]


# --------------------------------------------------------------------------- the set itself

def test_set_is_complete_small_and_matches_its_manifest(manifest):
    items = manifest["items"]
    assert manifest["seed"] == gen.SEED and len(items) == gen.n_items()
    digits = _items(manifest, "digit")
    assert len(digits) == gen.N_DIGITS >= 150
    assert sorted({e["label"] for e in digits}) == list(range(10))
    assert {e["source"] for e in _items(manifest, "non-digit")} >= {"skimage.data.chelsea", "skimage.data.coffee"}
    assert len(_items(manifest, "blank")) == gen.N_BLANK
    total = 0
    for e in items:
        data = (SET_DIR / e["file"]).read_bytes()
        total += len(data)
        assert hashlib.sha256(data).hexdigest() == e["sha256"], e["file"]
        with Image.open(SET_DIR / e["file"]) as im:
            assert im.format == "JPEG" and list(im.size) == e["conditions"]["size"]
    assert total <= 12.5e6, f"{total / 1e6:.1f} MB"
    # the conditions the issue asks for all occur, and in combination
    conds = [e["conditions"] for e in digits]
    assert sum(c["sheet"] == "table" for c in conds) >= 60
    assert {c["table"] for c in conds} >= {"wood", "grey", "dark"}
    assert sum(c["fingertip"] for c in conds) >= 20 and sum(c["other_sheet_edge"] for c in conds) >= 10
    assert max(abs(c["tilt_deg"]) for c in conds) > 9 and sum(c["perspective"] > 0 for c in conds) >= 40
    assert {c["paper"] for c in conds} == {"plain", "ruled", "squared"}
    assert {c["ink"] for c in conds} == {"blue", "black", "pencil"}
    assert {c["pen"] for c in conds} == {"thin", "pen", "felt", "marker"}
    assert sum(c["shadow"] for c in conds) >= 30
    assert min(c["jpeg_quality"] for c in conds) < 60 and max(c["jpeg_quality"] for c in conds) > 85
    assert min(min(c["size"]) for c in conds) >= 900 and max(max(c["size"]) for c in conds) == 1600
    assert sum(c["sheet"] == "table" and c["paper"] != "plain" and c["ink"] == "pencil"
               and abs(c["tilt_deg"]) > 3 for c in conds) >= 5


@pytest.mark.parametrize("k", [0, 7, gen.N_DIGITS, gen.n_items() - 1])
def test_regenerating_an_item_gives_the_same_file(manifest, k):
    """Same seed, same conditions and label; with the library versions the set was made with, the
    same bytes (JPEG encoder and resampling numerics may differ slightly across versions)."""
    import io

    name, data, entry = gen.make_item(k)
    stored = manifest["items"][k]
    assert name == stored["file"]
    assert entry["conditions"] == stored["conditions"] and entry["label"] == stored["label"]
    if gen.library_versions() == manifest["versions"]:
        assert hashlib.sha256(data).hexdigest() == stored["sha256"]
        assert data == (SET_DIR / name).read_bytes()
    new = np.asarray(Image.open(io.BytesIO(data)).convert("L"), np.float32)
    old = np.asarray(Image.open(SET_DIR / name).convert("L"), np.float32)
    assert new.shape == old.shape and np.abs(new - old).mean() < 1.0


# --------------------------------------------------------------------------- the whole set

def _label_of(result) -> int:
    """The predicted digit of an ``explain_upload`` result (a view with ``.label``, or a list whose
    first item is the label dict ``{digit: probability}``)."""
    label = result.label if hasattr(result, "label") else result[0]
    return int(max(label, key=label.get))


def test_field_photos_are_read_right_in_process(manifest, one_torch_thread):
    import gradio as gr

    from gradcam_core.ui.mnist_tab import explain_upload

    right, wrong = 0, []
    digits = _items(manifest, "digit")
    for e in digits:
        try:
            pred = _label_of(explain_upload(str(SET_DIR / e["file"])))
        except gr.Error as exc:
            pred = f"refused: {exc}"
        if pred == e["label"]:
            right += 1
        else:
            wrong.append((e["file"], pred))
    rate = right / len(digits)
    print(f"\nfield digits in process: {right}/{len(digits)} = {rate:.1%} read right; wrong: {wrong}")
    assert rate >= TARGET, wrong

    for e in _items(manifest, "non-digit") + _items(manifest, "blank"):
        with pytest.raises(gr.Error) as excinfo:
            explain_upload(str(SET_DIR / e["file"]))
        msg = str(excinfo.value)
        if e["kind"] == "non-digit":
            assert "no digit found" in msg.lower() and "blank" not in msg.lower(), (e["file"], msg)
        else:
            assert "no digit found" in msg.lower() or "blank" in msg.lower(), (e["file"], msg)


def _sample(manifest) -> list[dict]:
    """The photos the through-the-app test sends: every 30th digit photo, scikit-image's cat and
    coffee, and the first blank sheet, in the manifest's order."""
    digits = _items(manifest, "digit")
    others = [e for e in _items(manifest, "non-digit") if e["source"] in ("skimage.data.chelsea", "skimage.data.coffee")]
    return digits[::30] + others + _items(manifest, "blank")[:1]


def test_field_photos_are_read_right_through_the_app(app_client, manifest, one_torch_thread):
    """The endpoint ``/mnist_explain_upload`` reads a photo as the handler does in process: the same
    digit, or the same refusal sentence. A sample of the set (digits under varied conditions, two
    photos that are not digits, a blank sheet): ``test_field_photos_are_read_right_in_process`` reads
    every photo of the set and holds the accuracy figure, so sending all 159 through the app again
    only measured the transport 159 times."""
    import gradio as gr
    from gradio_client import handle_file

    from gradcam_core.ui.mnist_tab import explain_upload

    sample = _sample(manifest)
    assert len(sample) == 5 + 2 + 1 and {e["kind"] for e in sample} == {"digit", "non-digit", "blank"}
    for e in sample:
        path = str(SET_DIR / e["file"])
        try:
            here, said = _label_of(explain_upload(path, "predicted", "strongest")), None
        except gr.Error as exc:
            here, said = None, exc.message
        try:
            out = app_client.predict(handle_file(path), "predicted", "strongest", api_name="/mnist_explain_upload")
            there, refusal = int(out[0]["label"]), None
        except Exception as exc:  # the client raises the server's gr.Error message
            there, refusal = None, str(exc)
        assert there == here, (e["file"], here, there, refusal)
        if e["kind"] == "digit":
            assert refusal is None, (e["file"], refusal)
        else:
            assert said and refusal, e["file"]
            assert said in refusal and "traceback" not in refusal.lower(), (said, refusal)
            if e["kind"] == "non-digit":
                assert "no digit found" in refusal.lower() and "blank" not in refusal.lower(), refusal


# --------------------------------------------------------------------------- isolation steps

def _paper(h=480, w=360, seed=0, level=0.86, noise=0.015):
    rng = np.random.default_rng(seed)
    return np.clip(level + rng.normal(0, noise, (h, w)), 0, 1).astype(np.float32)


def _stamp(img, digit_index, top, left, side, dark=0.15):
    """Write held-out MNIST digit #digit_index (dark strokes) into a float grey image."""
    d = mnist.test_digits()[0][digit_index]
    a = np.asarray(Image.fromarray(d).resize((side, side), Image.Resampling.BILINEAR), np.float32) / 255
    region = img[top:top + side, left:left + side]
    img[top:top + side, left:left + side] = region * (1 - a) + dark * a
    return img


def _read(model, x28):
    import torch

    with torch.no_grad():
        return int(model(torch.from_numpy(x28)[None, None]).argmax(1))


@pytest.fixture(scope="module")
def model():
    from gradcam_core.models.lenet import load_lenet

    return load_lenet()


def test_a_dark_table_strip_at_the_border_is_not_ink(model):
    clean = _stamp(_paper(), 3, 150, 90, 180)                  # held-out #3 is a "3"
    with_table = clean.copy()
    rng = np.random.default_rng(1)
    with_table[:, :60] = 0.25 + 0.08 * ndimage.gaussian_filter(rng.standard_normal((480, 60)), 1.5)
    with_table[:40, :] = 0.3                                   # and a second strip at the top
    a, b = mnist.preprocess_digit(clean), mnist.preprocess_digit(with_table)
    assert np.abs(a - b).mean() < 0.03            # the same digit, at most shifted by a pixel
    assert _read(model, a) == _read(model, b) == 3
    # the old global background treats the strip as ink: the strip is what the isolation removes
    ink, sigma, drawn = digit_reader._ink_map(with_table)
    assert not drawn
    digit = digit_reader.isolate_digit(ink, sigma, drawn, with_table)
    assert not digit[:, :60].any() and not digit[:40].any()
    assert digit[150:330, 90:270].sum() == digit.sum() > 0


def test_ruled_lines_are_removed_but_a_stroke_across_them_stays():
    img = _paper()
    for y in range(20, 480, 28):                               # faint blue-ish ruled lines, 2 px
        img[y:y + 2, :] = 0.62
    ink, sigma, _ = digit_reader._ink_map(img)
    low = ink > max(2.5 * sigma, 0.02)
    lines = digit_lines.remove_lines(low, ink)
    ruled = np.zeros_like(low)
    for y in range(20, 480, 28):
        ruled[y:y + 2, :] = True
    assert (lines & ruled).sum() >= 0.95 * ruled.sum()
    # a vertical pen stroke crossing the lines is not a line
    stroke = img.copy()
    stroke[120:330, 178:183] = 0.15
    ink, sigma, _ = digit_reader._ink_map(stroke)
    lines = digit_lines.remove_lines(ink > max(2.5 * sigma, 0.02), ink)
    assert lines[120:330, 178:183].mean() < 0.05
    assert (lines & ruled).sum() >= 0.9 * ruled.sum()


def test_the_centred_compact_group_is_chosen_and_a_detached_bar_joins_it():
    img = _stamp(_paper(), 7, 160, 100, 170)                   # held-out #7 is a "7", in the middle
    img = _stamp(img, 1, 20, 250, 90)                          # a smaller mark near a corner
    ink, sigma, drawn = digit_reader._ink_map(img)
    digit = digit_reader.isolate_digit(ink, sigma, drawn, img)
    assert digit.sum() > 0 and not digit[:130].any()           # the corner mark is not the digit
    ys, xs = np.nonzero(digit)
    assert 160 <= ys.min() and ys.max() < 330 and 100 <= xs.min() and xs.max() < 270

    # a "5" whose top bar is drawn apart still keeps its bar (a group near the digit's box joins)
    five = _paper()
    d = np.zeros((480, 360), bool)
    d[200:300, 140:148] = True                                 # stem
    d[290:300, 140:210] = True                                 # lower bowl (simplified)
    d[290:360, 200:210] = True
    d[350:360, 140:210] = True
    d[180:188, 150:220] = True                                 # the bar, 12 px above the stem
    five[d] = 0.15
    ink, sigma, drawn = digit_reader._ink_map(five)
    got = digit_reader.isolate_digit(ink, sigma, drawn, five)
    assert got[180:188, 150:220].mean() > 0.9 and got[200:300, 140:148].mean() > 0.9


def _no_digit(fn, *args) -> NoDigitError:
    with pytest.raises(NoDigitError) as e:
        fn(*args)
    return e.value


def test_no_digit_messages_say_what_failed_and_what_to_do():
    """Each refusal is a reason code, a catalogue key and the numbers measured; its sentence is
    the catalogue's, filled with those numbers."""
    from skimage import data

    # a photo of a cat: never "blank"
    err = _no_digit(mnist.preprocess_digit, data.chelsea())
    assert err.reason in ("texture", "cluttered", "no-candidate")
    assert err.key in ("error.digit.texture", "error.digit.cluttered", "error.digit.not_alone", "error.digit.no_candidate")
    text = text_of(err)
    assert text == say(err.key, **err.values)
    assert text.startswith("No digit found") and "blank" not in text and "hold the phone closer" in text

    # a blank sheet of paper may say blank
    err = _no_digit(mnist.preprocess_digit, _paper())
    assert (err.key, err.reason, err.values) == ("error.digit.blank", "blank", {})
    assert text_of(err) == "No ink found: the image looks blank (no visible strokes)."

    # an empty sheet on a textured table: the marks are all at the edge
    table = _paper()
    table[:, :70] = 0.3 + 0.3 * ndimage.gaussian_filter(np.random.default_rng(2).standard_normal((480, 70)), 1.0)
    err = _no_digit(mnist.preprocess_digit, table)
    assert (err.key, err.reason) == ("error.digit.edges", "edges")
    assert "edges" in text_of(err) and "blank" not in text_of(err)

    # a mark too small to be a digit
    tiny = _paper()
    tiny[235:245, 175:185] = 0.1
    err = _no_digit(mnist.preprocess_digit, tiny)
    assert (err.key, err.reason) == ("error.digit.marks_too_small", "too-small") and "too small" in text_of(err)

    # dark strokes on a dark grey background: not light paper for the sheet reader, but plainly a
    # digit that fills the picture, so it is read (digit_frame), not refused
    dark = _stamp(_paper(level=0.3), 3, 150, 90, 180, dark=0.02)
    arr, ink, sigma, drawn = digit_reader._ink_at_work_size(dark, None)
    err = _no_digit(digit_reader._sheet_digit, arr, ink, sigma, drawn)
    assert (err.key, err.reason) == ("error.digit.dark_background", "dark-background")
    assert err.values["need"] == digit_reader.MIN_PAPER and err.values["paper"] < digit_reader.MIN_PAPER
    assert (f"the background next to them is {err.values['paper']:.0%} bright; paper gives at least 45%"
            in text_of(err))
    assert np.array_equal(mnist.preprocess_digit(dark), digit_reader._frame_candidate(dark))

    # a digit among scribbles: the best candidate does not stand alone
    busy = _stamp(_paper(), 3, 150, 90, 180)
    rng = np.random.default_rng(3)
    pic = Image.fromarray((busy * 255).astype(np.uint8))
    draw = ImageDraw.Draw(pic)
    for _ in range(120):
        x, y = rng.integers(40, 320), rng.integers(40, 440)
        draw.line([(x, y), (x + rng.integers(-30, 30), y + rng.integers(-30, 30))], fill=40, width=4)
    err = _no_digit(mnist.preprocess_digit, np.asarray(pic))
    assert err.reason == "cluttered" and err.key in ("error.digit.cluttered", "error.digit.not_alone")
    assert err.values["share"] < err.values["need"] and "holds only" in text_of(err)
    assert f"holds only {err.values['share']:.0%} of the marks" in text_of(err)


def test_every_no_digit_wording_fills_its_numbers():
    """Every sentence a digit refusal can say, fed numbers, writes them (the branches the photos
    above do not reach included)."""
    cases = {
        "error.digit.cluttered": dict(share=0.31, need=0.5),
        "error.digit.not_alone": dict(share=0.2, need=0.35),
        "error.digit.faint": dict(snr=7.4, need=15.0),
        "error.digit.dark_background": dict(paper=0.3, need=0.45),
    }
    said = {key: say(key, **values) for key, values in cases.items()}
    assert "holds only 31% of the marks near the middle (a digit needs 50%)" in said["error.digit.cluttered"]
    assert "holds only 20% of the marks around it (a digit on paper stands alone: at least 35%)" in said["error.digit.not_alone"]
    assert ("(ink 7x the noise next to them; a written digit gives at least 15x); write with a darker pen and hold"
            in said["error.digit.faint"])
    assert "next to them is 30% bright; paper gives at least 45%)" in said["error.digit.dark_background"]
    for key in ("texture", "edges", "ruled_only", "marks_too_small", "no_candidate"):
        assert say(f"error.digit.{key}").startswith("No digit found: ")
        assert say(f"error.digit.{key}").endswith("on plain paper, with nothing else in view.")
    for reason in ("blank", "edges", "faint", "blob", "cluttered", "too_small"):
        assert has(f"error.digit.frame.{reason}")


def test_measured_criteria_of_a_good_photo():
    img = _stamp(_paper(), 3, 150, 90, 180)
    ink, sigma, drawn = digit_reader._ink_map(img)
    digit = digit_reader.isolate_digit(ink, sigma, drawn, img)
    s = digit_reader.surroundings(digit, ink, sigma, np.zeros_like(digit), img)
    assert s["snr"] >= digit_reader.MIN_SNR and s["share"] > 0.9 and abs(s["paper"] - 0.86) < 0.02


def test_clean_drawings_are_unchanged():
    """Sketch-pad drawings give (nearly) the 28x28 they gave before the photo isolation existed:
    ``clean_drawings_before.npz`` holds the previous code's output for 20 drawings."""
    from test_mnist import _as_sketch

    ref = np.load(SET_DIR / "clean_drawings_before.npz")
    images = mnist.test_digits()[0]
    corners = [(0, 0), (0, 120), (120, 0), (120, 120), (10, 60)]
    diffs = [np.abs(mnist.preprocess_digit(_as_sketch(images[i], corners[k % 5])) - ref["out"][k] / 255.0).max()
             for k, i in enumerate(ref["idx"])]
    assert max(diffs) < 0.06, diffs


@pytest.mark.parametrize("mode", ["RGBA-transparent", "RGBA", "RGB"])
def test_a_drawing_that_fills_its_canvas_and_touches_the_edges_is_still_read(model, mode):
    """Sketch-pad drawings keep the drawing rules: no border clearing, no upper size limit."""
    bg = {"RGBA-transparent": (0, 0, 0, 0), "RGBA": (255, 255, 255, 255), "RGB": (255, 255, 255)}[mode]
    canvas = Image.new(mode[:4], (280, 280), bg)
    ink = (0, 0, 0, 255) if mode.startswith("RGBA") else (0, 0, 0)
    ImageDraw.Draw(canvas).line([(2, 8), (277, 8), (120, 279)], fill=ink, width=18, joint="curve")
    out = mnist.preprocess_digit(canvas)
    total = out.sum()
    r = (out.sum(1) * np.arange(28)).sum() / total
    c = (out.sum(0) * np.arange(28)).sum() / total
    assert abs(r - 14) <= 1 and abs(c - 14) <= 1 and out.max() > 0.9
    assert _read(model, out) == 7


def test_a_finger_drawing_that_reaches_the_canvas_edge_is_read_as_a_drawing():
    """The canvas's composite can come opaque and slightly uneven (WebGL blending), with a big
    finger-drawn 7 running off its bottom edge: the drawing handler says it is a drawing."""
    from PIL import Image, ImageDraw

    from gradcam_core.ui import mnist_tab

    rng = np.random.default_rng(7)
    img = Image.new("RGB", (280, 280), (255, 255, 255))
    ImageDraw.Draw(img).line([(70, 56), (210, 56), (120, 280)], fill=(0, 0, 0), width=34, joint="curve")
    arr = np.asarray(img).astype(np.float32)
    arr = np.clip(arr + rng.normal(0, 4.0, arr.shape[:2])[..., None], 0, 255).astype(np.uint8)
    digit = mnist.preprocess_digit(arr, drawing=True)
    assert digit.shape == (28, 28) and digit.max() > 0.9
    view = mnist_tab.explain_drawing({"composite": arr}, "predicted", "strongest")
    label = view.label if hasattr(view, "label") else view[0]
    assert max(label, key=label.get) == "7", label
