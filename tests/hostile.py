"""A hostile-input corpus, generated on the fly (no binary blobs in the repo).

``corpus(tmp_dir)`` writes every case to a file and returns ``{name: (path, expect)}`` where
``expect`` is "ok" (a correct result is required), "error" (a clear message is required) or
"either" (a clear message or a result: e.g. a blank-looking image that may hold no digit).
"""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(w: int = 20000, h: int = 20000) -> bytes:
    """A valid 1-bit PNG of w×h (400 megapixels) that is only tens of kilobytes on disk."""
    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (w + 7) // 8)
    comp = zlib.compressobj(9)
    parts = [comp.compress(row * 1000) for _ in range(h // 1000)]
    parts += [comp.compress(row * (h % 1000)), comp.flush()]
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")


def bomb_header_png(w: int = 20000, h: int = 20000) -> bytes:
    """A PNG whose header claims w×h but holds almost no data: refused before any decoding."""
    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _photo(w: int = 320, h: int = 240, seed: int = 0) -> Image.Image:
    """A photo-like picture: a bright blob (an 'object') on a textured background, plus a dark stroke."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 90 + 40 * np.sin(xx / 17.0) + 30 * np.cos(yy / 11.0)
    blob = 120 * np.exp(-(((xx - w * 0.55) / (w * 0.18)) ** 2 + ((yy - h * 0.5) / (h * 0.22)) ** 2))
    rgb = np.stack([base + blob, base * 0.8 + blob * 0.6, base * 0.6], axis=-1) + rng.normal(0, 6, (h, w, 3))
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    return img


def corpus(tmp: Path) -> dict[str, tuple[Path, str]]:
    tmp = Path(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[Path, str]] = {}

    def put(name: str, data: bytes, expect: str) -> None:
        p = tmp / name
        p.write_bytes(data)
        out[name] = (p, expect)

    photo = _photo()
    jpeg = _encode(photo, "JPEG", quality=90)
    put("truncated.jpg", jpeg[: len(jpeg) // 2], "error")
    put("zero-byte.png", b"", "error")
    put("one-pixel.png", _encode(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"), "error")
    put("thin-1x10000.png", _encode(Image.new("RGB", (1, 10000), (10, 200, 10)), "PNG"), "error")
    put("bomb-20000x20000.png", bomb_png(), "error")
    grad16 = (np.linspace(0, 65535, 200 * 160).reshape(160, 200)).astype(np.uint16)
    put("sixteen-bit.png", _encode(Image.fromarray(grad16), "PNG"), "either")
    put("cmyk.jpg", _encode(photo.convert("CMYK"), "JPEG", quality=90), "ok")
    pal = photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    pal.info["transparency"] = 0
    put("palette-transparent.png", _encode(pal, "PNG", transparency=0), "ok")
    rgba = photo.convert("RGBA")
    a = np.asarray(rgba).copy()
    a[:, : a.shape[1] // 4, 3] = 0
    put("rgba.png", _encode(Image.fromarray(a), "PNG"), "ok")
    put("grayscale.png", _encode(photo.convert("L"), "PNG"), "ok")
    frames = [_photo(seed=i) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    put("animated.gif", buf.getvalue(), "ok")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    put("exif-rotated.jpg", _encode(photo, "JPEG", quality=90, exif=exif.tobytes()), "ok")
    put("text-named.png", b"this is not an image, just text pretending\n" * 20, "error")
    put("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
                       b'<circle cx="50" cy="50" r="40" fill="red"/></svg>', "error")
    rng = np.random.default_rng(1)
    big = Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).resize((8000, 6000))
    put("huge-8000x6000.jpg", _encode(big, "JPEG", quality=70), "ok")
    import pillow_heif  # iPhone photos (HEIC): read like JPEGs, and refused as clearly when broken

    pillow_heif.register_heif_opener()
    heic = _encode(photo, "HEIF", quality=80)
    put("iphone.heic", heic, "ok")
    put("truncated.heic", heic[: len(heic) // 2], "error")
    return out
