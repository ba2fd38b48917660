"""Digit photos as other people take them: the shared real photos, and seeded look-alikes of each kind.

The real photos (``../shared/field/digits``, 47 photos by five writers, labels checked by eye) carry
no licence to redistribute: they are read from ``../shared`` and never copied into this repository.
The seeded look-alikes are made here from held-out MNIST digits, one per kind of photo that the
old reader refused although the digit was plain: a marker digit that fills the frame (shadow at one
edge), a thin blue ballpoint digit small in a tall portrait photo on grey-lit paper, a photo already
shrunk to 28×28 (dark ink on grey paper, not inverted), and a tight crop of thin blue ballpoint.
"""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from gradcam_core.data import digit_frame, digit_reader, mnist
from gradcam_core.data.images import load_image
from gradcam_core.models import registry
from gradcam_core.present.words import text_of

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "field" / "digits"
needs_shared = pytest.mark.skipif(not (SHARED / "MANIFEST.tsv").exists(),
                                  reason="../shared/field/digits is not here (CI and developers have it)")


def _read(img) -> tuple[int, float]:
    """The app's reading of one picture: (digit, top-1 probability); ValueError when refused."""
    import torch

    digit = registry.get_model("lenet").digit(img)
    with torch.inference_mode():
        p = torch.softmax(registry.lenet_model()(mnist.to_tensor(digit)), 1)[0]
    return int(p.argmax()), float(p.max())


# --------------------------------------------------------------------------- the shared real photos

def _shared_rows() -> list[dict]:
    with open(SHARED / "MANIFEST.tsv", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@needs_shared
def test_the_shared_real_photos_are_read_per_writer():
    """Every writer's photos: none refused, at least 80 % read right per source, 95 % overall."""
    per_source = defaultdict(lambda: {"right": 0, "refused": [], "wrong": []})
    rows = _shared_rows()
    assert len(rows) == 47
    for r in rows:
        s = per_source[r["source_repo"]]
        try:
            pred, _ = _read(load_image(SHARED / r["file"], max_side=1024))
        except ValueError as exc:
            s["refused"].append((r["file"], text_of(exc)[:60]))
            continue
        if pred == int(r["label"]):
            s["right"] += 1
        else:
            s["wrong"].append((r["file"], pred))
    report = {src: (v["right"], v["refused"], v["wrong"]) for src, v in per_source.items()}
    print("\n", report)
    assert all(not v["refused"] for v in per_source.values()), report
    n = {src: sum(r["source_repo"] == src for r in rows) for src in per_source}
    for src, v in per_source.items():
        assert v["right"] >= 0.8 * n[src], (src, report[src])
    assert sum(v["right"] for v in per_source.values()) >= 0.95 * len(rows), report


@needs_shared
@pytest.mark.parametrize("name, reason", [
    ("4_andrew_1.jpg", "28x28, old reader: 'only ruled lines'"),
    ("1_scholich_1.png", "thin blue ballpoint tight crop, old reader: 'nothing looks like a digit'"),
    ("5_scholich_1.png", "tight crop touching the edges, old reader: 'marks at the edges'"),
    ("0_andreev_1.jpg", "fills the frame top to bottom, old reader: 'faint'"),
    ("6_jingyzhu_1.jpg", "small in a tall portrait photo, old reader: 'cluttered'"),
])
def test_photos_the_old_reader_refused_are_read_as_the_whole_picture(name, reason):
    label = int(name[0])
    img = load_image(SHARED / name, max_side=1024)
    assert _read(img)[0] == label, reason


# --------------------------------------------------------------------------- seeded look-alikes

def _ink_on_paper(digit: np.ndarray, size: tuple[int, int], box: tuple[int, int, int, int], ink_rgb, paper_rgb,
                  stroke: int = 0, shade: float = 0.0, blur: float = 0.0, seed: int = 0) -> Image.Image:
    """An RGB photo: the 28×28 MNIST ``digit`` (bright on black) scaled into ``box`` = (x0, y0, x1, y1)
    of a ``size`` = (w, h) sheet, written in ``ink_rgb`` on ``paper_rgb``; ``stroke`` grows the strokes
    by that many pixels, ``shade`` darkens the left edge by that share (a shadow), plus noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    x0, y0, x1, y1 = box
    rows, cols = np.flatnonzero(digit.max(axis=1) > 40), np.flatnonzero(digit.max(axis=0) > 40)
    digit = digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]  # the ink's own box, as tall as ``box``
    dw = max(1, min(x1 - x0, round(digit.shape[1] * (y1 - y0) / digit.shape[0])))
    mask = Image.fromarray(digit).resize((dw, y1 - y0), Image.Resampling.BICUBIC)
    if stroke > 0:   # a broader pen
        mask = mask.filter(ImageFilter.MaxFilter(2 * stroke + 1))
    elif stroke < 0:  # a finer pen than MNIST's (its strokes are an eighth of the digit's height)
        mask = mask.filter(ImageFilter.MinFilter(-2 * stroke + 1))
    full = np.zeros((h, w), np.float32)
    left = x0 + (x1 - x0 - dw) // 2
    full[y0:y1, left:left + dw] = np.asarray(mask, np.float32) / 255.0
    a = np.clip(full * 1.4, 0, 1)[..., None]
    img = np.array(paper_rgb, np.float32) * (1 - a) + np.array(ink_rgb, np.float32) * a
    if shade:
        ramp = np.clip(1 - np.linspace(0, 1, w) / 0.25, 0, 1)[None, :, None]
        img *= 1 - shade * ramp
    img += rng.normal(0, 3.0, img.shape)
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    if blur:
        out = out.filter(ImageFilter.GaussianBlur(blur))
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=80)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _held_out(n_per_class: int = 1):
    images, labels = mnist.test_digits()
    return [(images[k], int(labels[k])) for k in range(10 * n_per_class)]  # position k has class k % 10


def _kind(name: str, digit: np.ndarray, seed: int) -> Image.Image:
    if name == "fills the frame":  # a marker digit touching top and bottom, shadow at the left edge
        return _ink_on_paper(digit, (300, 300), (60, 0, 240, 300),
                             (20, 20, 25), (235, 233, 228), shade=0.3, seed=seed)
    if name == "small in a big frame":  # thin blue ballpoint, 10 % of a tall portrait, grey-lit paper
        return _ink_on_paper(digit, (540, 1100), (230, 500, 310, 570), (40, 50, 150), (170, 172, 165), seed=seed)
    if name == "already 28x28":  # shrunk by its owner: dark ink on grey paper, not inverted
        big = _ink_on_paper(digit, (280, 280), (20, 20, 260, 260), (30, 30, 30), (190, 190, 185), stroke=-2, seed=seed)
        return big.resize((28, 28), Image.Resampling.LANCZOS)
    if name == "thin blue pen, tight crop":  # blue ballpoint, greenish light, slight blur
        return _ink_on_paper(digit, (80, 92), (0, 3, 80, 89), (60, 70, 170), (165, 175, 160), stroke=-3, blur=0.8,
                             seed=seed)
    raise KeyError(name)


KINDS = ["fills the frame", "small in a big frame", "already 28x28", "thin blue pen, tight crop"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_photo_is_read(kind):
    """Ten held-out digits (one per class) as this kind of photo: none refused, nine or more right."""
    right, refused = 0, []
    for i, (digit, label) in enumerate(_held_out()):
        try:
            right += _read(_kind(kind, digit, seed=i))[0] == label
        except ValueError as exc:
            refused.append((label, text_of(exc)[:80]))
    assert not refused, refused
    assert right >= 9, (kind, right)


@pytest.mark.parametrize("kind", ["fills the frame", "thin blue pen, tight crop"])
def test_the_old_reader_refused_these_kinds(kind):
    """What the frame reading adds: the sheet reader alone refuses most of these two kinds, so the
    test above does not pass by itself.  (It reads the seeded 28×28 and small-in-a-big-frame photos
    too, 8 and 10 of 10; the real photos of those kinds that it refused are in the shared set.)"""
    refused = 0
    for i, (digit, _) in enumerate(_held_out()):
        arr, ink, sigma, drawn = digit_reader._ink_at_work_size(np.asarray(_kind(kind, digit, seed=i)), None)
        try:
            digit_reader._sheet_digit(arr, ink, sigma, drawn)
        except ValueError:
            refused += 1
    assert refused >= 5, (kind, refused)


# --------------------------------------------------------------------------- still refused

def _photo(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("what", ["empty paper", "blank wall", "cat", "coffee", "brick", "paper on a table"])
def test_no_digit_is_still_refused(what):
    from skimage import data

    rng = np.random.default_rng(3)
    if what == "empty paper":
        img = _photo(np.full((600, 800, 3), 225.0) + rng.normal(0, 3, (600, 800, 3)))
    elif what == "blank wall":
        ramp = np.linspace(150, 200, 800)[None, :, None]
        img = _photo(np.broadcast_to(ramp, (600, 800, 3)) + rng.normal(0, 2, (600, 800, 3)))
    elif what == "paper on a table":
        arr = np.full((600, 800, 3), 230.0)
        arr[:, :150] = (110, 80, 50)  # a wooden table strip down the left edge
        img = _photo(arr + rng.normal(0, 3, arr.shape))
    else:
        img = Image.fromarray({"cat": data.chelsea, "coffee": data.coffee, "brick": data.brick}[what]())
    with pytest.raises(ValueError) as excinfo:
        _read(img)
    assert excinfo.value.key.startswith("error.digit."), excinfo.value
    assert "no digit found" in text_of(excinfo.value).lower() or "no ink found" in text_of(excinfo.value).lower()


@pytest.mark.parametrize("case, reason", [
    ("edge", "edges"), ("blob", "blob"), ("faint", "faint"), ("many", "cluttered"), ("tiny", "too-small"),
])
def test_the_frame_reading_names_what_rules_out_a_digit(case, reason):
    """Each check of ``digit_frame`` on a picture made to fail it (and only it) returns its code."""
    rng = np.random.default_rng(0)
    paper = np.full((200, 200), 0.9, np.float32) + rng.normal(0, 0.004, (200, 200)).astype(np.float32)
    img = paper.copy()
    if case == "edge":            # a dark band along the whole left edge
        img[:, :12] = 0.3
    elif case == "blob":          # a filled disc: no strokes
        yy, xx = np.mgrid[:200, :200]
        img[(yy - 100) ** 2 + (xx - 100) ** 2 < 25 ** 2] = 0.2
    elif case == "faint":         # a stroke drowned in noisy paper
        img = paper + rng.normal(0, 0.06, paper.shape).astype(np.float32)
        img[40:160, 98:102] -= 0.12
    elif case == "many":          # ten short strokes scattered over the sheet
        for k in range(10):
            r, c = 20 + 16 * k, 20 + (k * 53) % 160
            img[r:r + 10, c:c + 3] = 0.2
    elif case == "tiny":          # one short stroke in a big clean frame
        img[90:110, 99:101] = 0.2
    with pytest.raises(digit_frame.NoDigitError) as excinfo:
        digit_frame.frame_digit(np.clip(img, 0, 1))
    assert excinfo.value.reason == reason
    assert excinfo.value.key == "error.digit.frame." + reason.replace("-", "_")


def test_the_model_chooses_between_the_two_readings():
    """When both readings find a digit, the one the scorer is surest of is kept; without a scorer the
    sheet reader's is.  A clean sheet with one digit in the middle: both readings find it."""
    images, _ = mnist.test_digits()
    arr = np.asarray(_ink_on_paper(images[3], (400, 400), (140, 140, 260, 260), (20, 20, 20), (230, 230, 230)))
    kept_sheet = mnist.preprocess_digit(arr)
    frame = digit_reader._frame_candidate(arr)
    assert frame is not None and not np.array_equal(frame, kept_sheet)
    calls = []

    def prefers_last(stack):
        calls.append(np.asarray(stack).shape)
        return np.arange(len(stack), dtype=np.float32)

    assert np.array_equal(mnist.preprocess_digit(arr, score=prefers_last), frame)
    assert calls == [(2, 28, 28)]
    assert np.array_equal(mnist.preprocess_digit(arr, score=lambda s: np.arange(len(s))[::-1]), kept_sheet)
