"""Deep links: a digit and its settings survive a round trip through the URL."""
from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from gradcam_core.data.deeplink import decode_digit, encode_digit, query_string
from gradcam_core.data.mnist import test_digits as held_out_digits
from gradcam_core.base.errors import Refusal
from gradcam_core.present.words import say, text_of
from gradcam_core.ui import mnist_tab


def test_digit_round_trip_is_exact_to_8_bits():
    rng = np.random.default_rng(0)
    digit = (rng.random((28, 28)) * (rng.random((28, 28)) > 0.8)).astype(np.float32)
    text = encode_digit(digit)
    assert len(text) < 1200 and text.isascii()
    back = decode_digit(text)
    assert np.abs(back - digit).max() <= 0.5 / 255 + 1e-7
    images, _ = held_out_digits()
    assert len(encode_digit(images[0] / 255.0)) < 600  # real digits compress well


@pytest.mark.parametrize("bad", ["", "!!!", "abc", "A" * 5000, encode_digit(np.zeros((28, 28)))[:-5]])
def test_damaged_links_raise_clear_errors(bad):
    with pytest.raises(Refusal) as info:
        decode_digit(bad)
    assert info.value.key in {"error.link.no_digit", "error.link.digit_undecodable", "error.link.digit_size"}
    assert "link" in text_of(info.value) and text_of(info.value) == say(info.value.key)


def test_link_reopens_the_same_result():
    images, labels = held_out_digits()
    digit = images[42].astype(np.float32) / 255.0
    first = mnist_tab.explain_array(digit, "3", "5")
    link = first.link
    params = {k: v[0] for k, v in parse_qs(urlparse(link).query).items()}
    assert params["tab"] == "mnist" and params["target"] == "3" and params["channel"] == "5"
    again = mnist_tab.explain_from_link(SimpleNamespace(query_params=params))
    # controls restored (target, channel, layer; the index stays), then identical outputs (numbers, steps)
    assert (again.index, again.target, again.channel, again.layer) == (None, "3", "5", mnist_tab.LAYER)
    assert again.numbers == first.numbers | {"source": "shared link"}
    assert len(again.steps) == len(first.steps) == 24 and again.link == first.link
    for a, b in zip(again.steps, first.steps):  # every step's text, image and code
        if isinstance(b, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b
    np.testing.assert_array_equal(again.digit, first.digit)  # the digit state


def test_damaged_link_falls_back_to_digit_zero():
    out = mnist_tab.explain_from_link(SimpleNamespace(query_params={"d": "garbage", "target": "9"}))
    assert out.index == 0 and out.target == "9"
    assert out.numbers["target"] == 9


def test_query_string_skips_empty():
    assert query_string(a=1, b=None, c="", d="x") == "?a=1&d=x"


# ----------------------------------------------------------------------------- ImageNet links
def test_photo_tokens(tmp_path, monkeypatch):
    from pathlib import Path

    from gradcam_core.data.deeplink import recall_photo, remember_photo

    monkeypatch.setenv("GRADCAM_LINK_DIR", str(tmp_path / "links"))
    root = Path(__file__).resolve().parents[1]
    example = root / "examples" / "animals" / "chelsea_cat.jpg"
    token = remember_photo(example)
    assert token == "ex:animals/chelsea_cat.jpg"
    assert Path(recall_photo(token)) == example
    assert not (tmp_path / "links").exists() or not any((tmp_path / "links").iterdir())  # no copy made
    upload = tmp_path / "mine.JPG"
    upload.write_bytes(example.read_bytes() + b"x")
    up = remember_photo(upload)
    assert up.startswith("up:") and up.endswith(".jpg")
    assert Path(recall_photo(up)).read_bytes() == upload.read_bytes()
    assert remember_photo(upload) == up  # same content, same token
    for bad, key in [("", "error.link.no_photo"), ("nonsense", "error.link.no_photo"),
                     ("ex:../../etc/passwd", "error.link.photo_damaged"), ("up:../../x", "error.link.photo_damaged"),
                     ("up:0123", "error.link.photo_damaged")]:
        with pytest.raises(Refusal) as info:
            recall_photo(bad)
        assert info.value.key == key, bad
    Path(recall_photo(up)).unlink()
    with pytest.raises(Refusal) as info:
        recall_photo(up)
    assert info.value.key == "error.link.photo_gone" and "no longer on the server" in text_of(info.value)


def test_imagenet_link_reopens_the_same_result(tmp_path, monkeypatch):
    from pathlib import Path

    from gradcam_core.ui import imagenet_tab

    monkeypatch.setenv("GRADCAM_LINK_DIR", str(tmp_path / "links"))
    photo = tmp_path / "photo.png"
    from PIL import Image, ImageOps

    root = Path(__file__).resolve().parents[1]
    with Image.open(root / "examples" / "food" / "coffee_cup.jpg") as im:
        ImageOps.mirror(im).save(photo)
    args = ["efficientnet_lite0", "_blocks.14", "Grad-CAM++", "967", "none", "minmax", "viridis", 0.3]
    link = imagenet_tab.make_link(str(photo), *args)
    params = {k: v[0] for k, v in parse_qs(urlparse(link).query).items()}
    assert params["tab"] == "imagenet" and params["layer"] == "_blocks.14" and params["method"] == "Grad-CAM++"
    direct = imagenet_tab.explain(str(photo), *args, progress=None)
    again = imagenet_tab.explain_from_link(SimpleNamespace(query_params=params), progress=None)
    assert set(again) == set(imagenet_tab.LINK_INPUTS) | set(imagenet_tab.EXPLAIN_OUTPUTS)
    assert again["model"] == "efficientnet_lite0" and again["method"] == "Grad-CAM++" and again["target"] == "967"
    assert (again["norm"], again["cmap"], again["alpha"]) == ("minmax", "viridis", 0.3)
    assert again["label"] == direct["label"]  # top-5
    assert again["numbers"]["weights"] == direct["numbers"]["weights"] and again["numbers"]["target"] == 967
    # a page opened without a link changes nothing (no output named: every component stays as it is)
    untouched = imagenet_tab.explain_from_link(SimpleNamespace(query_params={}), progress=None)
    assert untouched == {}
    # …and the event sends it as one gr.skip() (gradio would read an empty dict as one value)
    import gradio as gr

    from gradcam_core.ui.common import by_name

    event = by_name(imagenet_tab.explain_from_link, {})
    assert event(SimpleNamespace(query_params={}), progress=None) == gr.skip()


def test_link_store_keeps_a_byte_budget_oldest_removed_first(tmp_path, monkeypatch):
    import os

    from gradcam_core.data import deeplink

    links = tmp_path / "links"
    monkeypatch.setenv("GRADCAM_LINK_DIR", str(links))
    monkeypatch.setenv("GRADCAM_LINK_BUDGET_MB", str(10_000 / 1024 / 1024))  # 10 000 bytes
    assert deeplink.link_budget_bytes() == 10_000
    tokens = []
    for i in range(5):  # 3 000 bytes each, distinct content; kept files get increasing, distinct mtimes
        src = tmp_path / f"p{i}.png"
        src.write_bytes(bytes([i]) * 3_000)
        tokens.append(deeplink.remember_photo(src))
        os.utime(links / tokens[-1][3:], (1_000_000 + i, 1_000_000 + i))
        kept = sorted(f.name for f in links.iterdir())
        assert sum(f.stat().st_size for f in links.iterdir()) <= 10_000
        # three fit (9 000 bytes); the fourth pushes out the oldest, the fifth the next one
        assert kept == sorted(t[3:] for t in tokens[-3:]), (i, kept)
    with pytest.raises(Refusal) as info:
        deeplink.recall_photo(tokens[0])
    assert info.value.key == "error.link.photo_gone"
    assert deeplink.recall_photo(tokens[4]).endswith(tokens[4][3:])
    # linking an old photo again makes it the newest: the oldest *other* one goes
    src = tmp_path / "p2.png"
    assert deeplink.remember_photo(src) == tokens[2]
    src5 = tmp_path / "p5.png"
    src5.write_bytes(b"\x05" * 3_000)
    t5 = deeplink.remember_photo(src5)
    assert sorted(f.name for f in links.iterdir()) == sorted([tokens[2][3:], tokens[4][3:], t5[3:]])
    # one file larger than the whole budget: refused, clearly, and nothing is removed for it
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\x07" * 10_001)
    with pytest.raises(Refusal) as info:
        deeplink.remember_photo(big)
    assert info.value.key == "error.link.photo_too_big"
    assert info.value.values == {"size_mb": 10_001 / 1024 / 1024, "budget_mb": 10_000 / 1024 / 1024}
    assert text_of(info.value).startswith("This photo is 0.0 MB, more than the 0.0 MB the server keeps for links; ")
    assert len(list(links.iterdir())) == 3


def test_link_budget_default_and_unusable_values(monkeypatch):
    from gradcam_core.data import deeplink

    monkeypatch.delenv("GRADCAM_LINK_BUDGET_MB", raising=False)
    assert deeplink.link_budget_bytes() == 200 * 1024 * 1024
    monkeypatch.setenv("GRADCAM_LINK_BUDGET_MB", "0.5")
    assert deeplink.link_budget_bytes() == 512 * 1024
    monkeypatch.setenv("GRADCAM_LINK_BUDGET_MB", "lots")
    assert deeplink.link_budget_bytes() == 200 * 1024 * 1024
