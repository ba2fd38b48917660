"""load_image() against a hostile corpus generated here (no binary blobs in the repo)."""
from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from gradcam_core.data.images import MAX_PIXELS, MIN_SIDE, ImageError, load_image
from gradcam_core.present.words import say, text_of


# --------------------------------------------------------------------------- helpers
def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bilevel_png(w: int, h: int) -> bytes:
    """A valid all-black 1-bit PNG of w×h built by streaming zlib (tiny file, huge image)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    row = b"\x00" * (1 + (w + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    parts = [comp.compress(row * 1000) for _ in range(h // 1000)]
    parts.append(comp.compress(row * (h % 1000)))
    parts.append(comp.flush())
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", b"".join(parts)) + png_chunk(b"IEND", b"")


def halves(w: int = 64, h: int = 48, left=(255, 0, 0), right=(0, 0, 255)) -> Image.Image:
    im = Image.new("RGB", (w, h), left)
    im.paste(Image.new("RGB", (w // 2, h), right), (w // 2, 0))
    return im


def rgb_at(im: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    return im.getpixel((x, y))


def assert_rgb(im):
    assert isinstance(im, Image.Image)
    assert im.mode == "RGB"
    assert min(im.size) >= MIN_SIDE
    return im


def assert_refused(src, key, *words, **values):
    """``load_image(src)`` refuses with catalogue key ``key`` and (at least) these ``values``; its
    sentence is the catalogue's, filled with the error's numbers, and holds each of ``words``."""
    with pytest.raises(ImageError) as ei:
        load_image(src)
    err = ei.value
    assert err.key == key, err
    assert {k: err.values.get(k) for k in values} == values, err
    msg = text_of(err)
    assert msg == say(key, **err.values)
    assert "Traceback" not in msg
    for w in words:
        assert w.lower() in msg.lower(), f"{w!r} not in {msg!r}"
    return msg


def refused_key(src) -> str:
    with pytest.raises(ImageError) as ei:
        load_image(src)
    return ei.value.key


def test_every_image_refusal_wording_writes_its_numbers():
    """The branches photos rarely reach, fed numbers: megapixels whole from 10 up, one decimal below."""
    assert say("error.image.megapixels", mp=60.0, limit=50.0, width=10000, height=6000) == (
        "This image is 60 megapixels (10000×6000); the limit is 50. Please use a smaller version of it.")
    assert say("error.image.megapixels_fine", mp=5.04, limit=5.0, width=2520, height=2000).startswith(
        "This image is 5.0 megapixels (2520×2000); the limit is 5.")
    assert say("error.image.bomb", mp=178.956970, limit=50.0) == (
        "This image is 179 megapixels; the limit is 50. Please use a smaller version of it.")
    assert say("error.image.bomb_unsized", limit=50.0) == "This image has too many pixels; the limit is 50 megapixels."
    assert say("error.image.too_thin", width=4000, height=10, max_aspect=20.0).endswith(
        "at most 20 times the shorter one (the models look at a square centre crop).")
    for code in ("svg", "html", "pdf", "text", "unknown"):
        assert say(f"error.image.not_an_image.{code}").startswith("could not read this file as an image (")


# --------------------------------------------------------------------------- broken files
def test_truncated_jpeg(tmp_path):
    rng = np.random.default_rng(0)
    data = encode(Image.fromarray(rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)), "JPEG", quality=90)
    p = tmp_path / "cut.jpg"
    p.write_bytes(data[: len(data) // 2])
    assert_refused(p, "error.image.truncated", "could not read this file as an image", "truncated")


def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    assert_refused(p, "error.image.empty", "could not read this file as an image", "empty")
    assert_refused(b"", "error.image.empty", "empty")


def test_text_named_png(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("Shopping list:\n- milk\n- eggs\n")
    assert_refused(p, "error.image.not_an_image.text", "could not read this file as an image", "text")


def test_svg(tmp_path):
    p = tmp_path / "drawing.svg"
    p.write_text('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
                 '<circle cx="50" cy="50" r="40" fill="red"/></svg>')
    assert_refused(p, "error.image.not_an_image.svg", "could not read this file as an image", "SVG")


def test_missing_file(tmp_path):
    assert_refused(tmp_path / "nope.jpg", "error.image.no_file", "no such file", name="nope.jpg")


def test_garbage_after_png_signature():
    assert refused_key(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40) in {"error.image.broken_header", "error.image.not_an_image.unknown"}


# --------------------------------------------------------------------------- sizes
def test_one_by_one():
    assert_refused(encode(Image.new("RGB", (1, 1), "red"), "PNG"), "error.image.too_small", "1×1", f"at least {MIN_SIDE}",
                   width=1, height=1, min_side=MIN_SIDE)


def test_one_by_ten_thousand():
    assert_refused(encode(Image.new("L", (1, 10000), 128), "PNG"), "error.image.too_small", "1×10000", f"at least {MIN_SIDE}",
                   width=1, height=10000)


def test_too_thin_but_not_tiny():
    assert_refused(encode(Image.new("L", (4000, 10), 128), "PNG"), "error.image.too_thin", "4000×10", "thin",
                   width=4000, height=10, max_aspect=20.0)


def test_decompression_bomb_20000_square():
    data = bilevel_png(20000, 20000)
    assert len(data) < 200_000
    msg = assert_refused(data, "error.image.bomb", "400 megapixels", "limit is 50", mp=400.0, limit=50.0)
    assert msg == "This image is 400 megapixels; the limit is 50. Please use a smaller version of it."


def test_our_limit_not_pils(recwarn):
    # 60 MP: under PIL's own warning threshold (~89 MP), over ours (50 MP).
    assert MAX_PIXELS == 50_000_000
    assert_refused(bilevel_png(10000, 6000), "error.image.megapixels", "60 megapixels", "limit is 50", mp=60.0)
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


def test_pil_bomb_range_emits_no_warning():
    # 100 MP: PIL itself would warn; we refuse quietly with our own message.
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        assert_refused(bilevel_png(10000, 10000), "error.image.megapixels", "100 megapixels")
    assert not [w for w in rec if issubclass(w.category, Image.DecompressionBombWarning)]


def test_large_jpeg_is_decoded_reduced_and_downscaled(tmp_path, monkeypatch):
    """A big JPEG is decoded at reduced size by the JPEG decoder itself (``draft``), never whole
    (how long it takes is measured in bench/, never timed here)."""
    im = Image.new("RGB", (8000, 6000), (30, 120, 200))
    im.paste(Image.new("RGB", (4000, 6000), (220, 40, 40)), (0, 0))
    p = tmp_path / "big.jpg"
    im.save(p, "JPEG", quality=85)
    del im
    from PIL import JpegImagePlugin

    drafts = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def draft(self, mode, size, *a, **k):
        got = real_draft(self, mode, size, *a, **k)
        drafts.append(self.size)
        return got

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", draft)
    out = assert_rgb(load_image(p))
    assert out.size == (1024, 768)
    assert drafts and max(drafts[-1]) <= 2 * 1024  # decoded at 1/4 scale (2000×1500), not 8000×6000
    r, g, b = rgb_at(out, 100, 300)
    assert r > 180 and b < 90  # left half stays red
    r, g, b = rgb_at(out, 900, 300)
    assert b > 160 and r < 80


def test_max_side_respected():
    out = load_image(Image.new("RGB", (300, 100), "green"), max_side=150)
    assert out.size == (150, 50)
    small = load_image(Image.new("RGB", (300, 100), "green"))
    assert small.size == (300, 100)  # never upscaled


# --------------------------------------------------------------------------- modes
def test_16bit_png_gradient_survives():
    ramp = np.tile(np.linspace(0, 65535, 512).astype(np.uint16), (64, 1))
    im = Image.fromarray(ramp)
    assert im.mode == "I;16"
    out = assert_rgb(load_image(encode(im, "PNG")))
    a = np.asarray(out)[32, :, 0].astype(int)
    assert a[0] <= 2 and a[-1] >= 253
    assert np.all(np.diff(a) >= 0)  # monotonic ramp, not clipped to white
    assert 120 <= a[256] <= 135  # the middle is mid-grey
    assert len(np.unique(a)) > 200


def test_16bit_png_low_range_is_stretched():
    ramp = np.tile(np.linspace(0, 1000, 256).astype(np.uint16), (32, 1))  # e.g. a depth map
    out = load_image(encode(Image.fromarray(ramp), "PNG"))
    a = np.asarray(out)[0, :, 0]
    assert a.min() <= 2 and a.max() >= 253


def test_float_tiff():
    ramp = np.tile(np.linspace(-3.0, 5.0, 128, dtype=np.float32), (32, 1))
    out = assert_rgb(load_image(encode(Image.fromarray(ramp, "F"), "TIFF")))
    a = np.asarray(out)[0, :, 0]
    assert a[0] <= 2 and a[-1] >= 253 and np.all(np.diff(a.astype(int)) >= 0)


def test_cmyk_jpeg():
    im = Image.new("CMYK", (64, 48), (0, 255, 255, 0))  # red in CMYK
    src = encode(im, "JPEG", quality=95)
    assert Image.open(io.BytesIO(src)).mode == "CMYK"
    r, g, b = rgb_at(assert_rgb(load_image(src)), 32, 24)
    assert r > 200 and g < 60 and b < 60


def test_palette_png_with_transparency():
    im = Image.new("P", (40, 40), 0)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.paste(1, (20, 0, 40, 40))  # right half: palette index 1 (red)
    im.info["transparency"] = 0  # index 0 (black) is transparent
    data = encode(im, "PNG", transparency=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PIL's "should be converted to RGBA" warning must not appear
        out = assert_rgb(load_image(data))
    assert rgb_at(out, 5, 20) == (255, 255, 255)  # transparent → white, not black
    assert rgb_at(out, 30, 20) == (255, 0, 0)


def test_rgba_composited_on_white():
    im = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    im.paste(Image.new("RGBA", (20, 40), (0, 128, 0, 255)), (20, 0))
    out = assert_rgb(load_image(encode(im, "PNG")))
    assert rgb_at(out, 5, 5) == (255, 255, 255)
    assert rgb_at(out, 30, 5) == (0, 128, 0)


def test_la_and_grayscale_and_bilevel():
    la = Image.new("LA", (32, 32), (0, 0))
    assert rgb_at(load_image(encode(la, "PNG")), 3, 3) == (255, 255, 255)
    gray = Image.new("L", (32, 32), 77)
    assert rgb_at(assert_rgb(load_image(encode(gray, "PNG"))), 3, 3) == (77, 77, 77)
    one = Image.new("1", (32, 32), 1)
    assert rgb_at(assert_rgb(load_image(encode(one, "PNG"))), 3, 3) == (255, 255, 255)


def test_animated_gif_first_frame():
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    r, g, b = rgb_at(assert_rgb(load_image(data)), 16, 16)
    assert r > 200 and g < 50 and b < 50


def test_exif_rotated_jpeg(tmp_path):
    im = halves(64, 32)  # stored landscape: red left, blue right
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    p = tmp_path / "phone.jpg"
    im.save(p, "JPEG", quality=95, exif=exif.tobytes())
    out = assert_rgb(load_image(p))
    assert out.size == (32, 64)  # width and height swapped
    top, bottom = rgb_at(out, 16, 8), rgb_at(out, 16, 56)
    assert top[0] > 200 and top[2] < 60  # red ends up on top
    assert bottom[2] > 200 and bottom[0] < 60


# --------------------------------------------------------------------------- other inputs
def test_sources_path_bytes_filelike_pil_array(tmp_path):
    im = halves()
    p = tmp_path / "x.png"
    im.save(p)
    outs = [
        load_image(p),
        load_image(str(p)),
        load_image(p.read_bytes()),
        load_image(io.BytesIO(p.read_bytes())),
        load_image(im),
        load_image(np.asarray(im)),
    ]
    for out in outs:
        assert_rgb(out)
        assert out.size == (64, 48)
        assert np.array_equal(np.asarray(out), np.asarray(im))
    assert outs[4] is not im  # a new image, never the caller's


def test_arrays():
    u16 = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (16, 1))
    assert np.asarray(load_image(u16))[0, -1, 0] == 255
    f01 = np.tile(np.linspace(0, 1, 64), (16, 1))
    a = np.asarray(load_image(f01))[0, :, 0]
    assert a[0] == 0 and a[-1] == 255
    chw = np.zeros((3, 20, 30), np.uint8)
    chw[0] = 255
    assert load_image(chw).size == (30, 20) and rgb_at(load_image(chw), 1, 1) == (255, 0, 0)
    rgba = np.zeros((16, 16, 4), np.uint8)
    assert rgb_at(load_image(rgba), 1, 1) == (255, 255, 255)
    assert_refused(np.zeros((4, 16, 16, 3), np.uint8), "error.image.array_shape", "shape", shape=(4, 16, 16, 3))
    assert_refused(np.zeros((4, 4), np.uint8), "error.image.too_small", "at least", width=4, height=4)
    nan = np.full((16, 16), np.nan)
    assert_rgb(load_image(nan))


def test_unsupported_type():
    assert_refused(12345, "error.image.not_a_source", "cannot use", type="int")


# --------------------------------------------------------------------------- HEIC (iPhone photos)
# tests/heic/ is written by tools/make_heic_fixtures.py (seeded); pillow-heif registers the opener.
from pathlib import Path  # noqa: E402

HEIC = Path(__file__).resolve().parent / "heic"
CAT_JPEG = Path(__file__).resolve().parents[1] / "examples" / "animals" / "chelsea_cat.jpg"
CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"}


def _cat_320() -> np.ndarray:
    with Image.open(CAT_JPEG) as im:
        im = im.convert("RGB")
        return np.asarray(im.resize((320, round(320 * im.height / im.width)), Image.Resampling.LANCZOS), float)


def test_heic_photo_loads_like_the_jpeg_it_came_from():
    out = assert_rgb(load_image(HEIC / "chelsea_cat.heic"))
    ref = _cat_320()
    assert out.size == (ref.shape[1], ref.shape[0])
    assert np.abs(np.asarray(out, float) - ref).mean() < 4.0  # lossy HEVC at quality 80: a few levels


def test_heic_from_bytes_and_downscaled():
    data = (HEIC / "chelsea_cat.heic").read_bytes()
    out = assert_rgb(load_image(data, max_side=100))
    assert out.size == (100, 67)


def test_exif_rotated_heic_comes_out_upright_like_the_jpeg(tmp_path):
    im = halves(64, 32)  # stored landscape: red left, blue right
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    p = tmp_path / "phone.heic"
    im.save(p, "HEIF", quality=95, exif=exif.tobytes())
    out = assert_rgb(load_image(p))
    jpeg = tmp_path / "phone.jpg"
    im.save(jpeg, "JPEG", quality=95, exif=exif.tobytes())
    assert out.size == load_image(jpeg).size == (32, 64)  # width and height swapped, both
    top, bottom = rgb_at(out, 16, 8), rgb_at(out, 16, 56)
    assert top[0] > 200 and top[2] < 60  # red ends up on top, as in the JPEG
    assert bottom[2] > 200 and bottom[0] < 60
    # the fixture stored sideways with orientation 6 shows the same upright cat
    upright = np.asarray(load_image(HEIC / "rotated_cat.heic"), float)
    assert upright.shape == _cat_320().shape
    assert np.abs(upright - _cat_320()).mean() < 4.0


def test_truncated_heic_is_refused_clearly():
    data = (HEIC / "chelsea_cat.heic").read_bytes()
    assert_refused(data[: len(data) // 2], "error.image.truncated", "could not read this file as an image", "truncated")
    assert_refused(data[:200], "error.image.not_an_image.unknown", "could not read this file as an image", "HEIC")  # only the header box


def test_heic_through_the_app_imagenet_and_mnist_upload(app_client, tmp_path):
    from gradio_client import handle_file

    def top(path):
        from outputs import imagenet_result

        label = imagenet_result(app_client, handle_file(str(path)), "efficientnet_lite0", "_head_act", "Grad-CAM",
                                "predicted", "none", "max", "jet", 0.5)["label"]
        return label["label"], {c["label"]: c["confidence"] for c in label["confidences"]}

    heic_label, heic_conf = top(HEIC / "chelsea_cat.heic")
    lossless = tmp_path / "cat_320.png"  # the picture the HEIC was encoded from, without HEVC's loss
    Image.fromarray(_cat_320().astype(np.uint8)).save(lossless)
    png_label, png_conf = top(lossless)
    assert heic_label in CAT_CLASSES and heic_label == png_label
    assert abs(heic_conf[heic_label] - png_conf[png_label]) < 0.1, (heic_conf, png_conf)
    rotated_label, _ = top(HEIC / "rotated_cat.heic")
    assert rotated_label == heic_label
    out = app_client.predict(handle_file(str(HEIC / "digit_7.heic")), "predicted", "strongest",
                             api_name="/mnist_explain_upload")
    assert out[0]["label"] == "7", out[0]
