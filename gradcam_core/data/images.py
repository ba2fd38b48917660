"""Turn whatever a person uploads into a sensible RGB picture, or say why not.

``load_image(src)`` accepts a path, raw bytes, a binary file object, a PIL
image or a numpy array and returns a new RGB ``PIL.Image`` whose longer side
is at most ``max_side``.  Every failure is an ``ImageError`` (a ``Refusal``,
so a ValueError): a catalogue key (``error.image.*``) and its numbers; nothing is printed.

What it takes care of:

* EXIF orientation (phone photos come out upright);
* HEIC/HEIF (iPhone photos), through ``pillow-heif``'s Pillow opener (it applies the
  photo's rotation while decoding, so a HEIC comes out upright like a JPEG);
* every PIL mode: transparency is composited on white; 16-bit and 32-bit
  integer or float images are scaled to 8 bits (PIL's own conversion clips
  them, turning a 16-bit photo white);
* animated GIF / PNG / WebP: the first frame;
* big JPEGs are decoded at reduced size with ``draft()``, so an
  8000×6000 photo loads in a fraction of a second;
* decompression bombs: the pixel count is checked against our own limit
  (``MAX_PIXELS``) from the header, before anything is decoded, and PIL's
  own bomb error is translated -- we do not rely on PIL's warning or change
  its global ``Image.MAX_IMAGE_PIXELS``;
* images smaller than ``MIN_SIDE`` pixels or thinner than ``MAX_ASPECT``:1,
  which a 224×224 classifier cannot use.
"""
from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from gradcam_core.base.errors import Refusal

try:  # iPhone photos: HEIC/HEIF become ordinary Pillow images
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF = True
except ImportError:  # pragma: no cover - pillow-heif is in requirements.txt
    HEIF = False

__all__ = ["ImageError", "load_image", "shown_size", "readable_extensions", "MAX_PIXELS", "MIN_SIDE", "MAX_ASPECT", "DEFAULT_MAX_SIDE"]

MAX_PIXELS = 50_000_000  # refuse anything larger (checked before decoding)
MIN_SIDE = 8  # pixels
MAX_ASPECT = 20.0  # longer side / shorter side
DEFAULT_MAX_SIDE = 1024


def readable_extensions() -> frozenset[str]:
    """File name endings of every picture format Pillow (with pillow-heif) can open: its own
    registry (``Image.registered_extensions``), without the stub formats that need a handler
    installed first (BUFR, GRIB, HDF5, WMF)."""
    known = Image.registered_extensions()  # loads every plugin first
    stubs = {f for f, (cls, _) in Image.OPEN.items() if isinstance(cls, type) and issubclass(cls, ImageFile.StubImageFile)}
    return frozenset(e for e, f in known.items() if f in Image.OPEN and f not in stubs)


class ImageError(Refusal):
    """The input cannot be used as a picture: a catalogue key (``error.image.*``) and its numbers;
    ``present.words.text_of(error)`` says why, for people."""

    def __str__(self) -> str:
        # callers not converted yet (imagenet.py, cli.py) still pass a whole sentence as the key
        return self.key if " " in self.key else super().__str__()


# --------------------------------------------------------------------------- helpers
def _megapixels(key: str, n: int, limit: int, **values: Any) -> ImageError:
    """``key`` with the picture's and the limit's megapixels: whole numbers from 10 up, one decimal
    below (``key`` + ``_fine`` is the template that writes the picture's with a decimal)."""
    mp = n / 1e6
    return ImageError(key if mp >= 10 else key + "_fine", mp=mp, limit=limit / 1e6, **values)


def _too_many_pixels(w: int, h: int, limit: int) -> ImageError:
    return _megapixels("error.image.megapixels", w * h, limit, width=w, height=h)


def _check_geometry(w: int, h: int, max_pixels: int) -> None:
    if w <= 0 or h <= 0:
        raise ImageError("error.image.claims_size", width=w, height=h)
    if w * h > max_pixels:
        raise _too_many_pixels(w, h, max_pixels)
    if min(w, h) < MIN_SIDE:
        raise ImageError("error.image.too_small", width=w, height=h, min_side=MIN_SIDE)
    if max(w, h) / min(w, h) > MAX_ASPECT:
        raise ImageError("error.image.too_thin", width=w, height=h, max_aspect=MAX_ASPECT)


def _sniff(head: bytes) -> str | None:
    """What a common non-image is, from the first bytes: its catalogue key, or None."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text) or b"<svg" in text[:512]:
        return "error.image.not_an_image.svg"
    if text.startswith((b"<!doctype html", b"<html")):
        return "error.image.not_an_image.html"
    if text.startswith(b"%pdf"):
        return "error.image.not_an_image.pdf"
    if head and all(32 <= c < 127 or c in (9, 10, 13) for c in head[:256]):
        return "error.image.not_an_image.text"
    return None


def _scale_to_uint8(arr: np.ndarray, full_range: float | None) -> np.ndarray:
    """Map a high-bit-depth array to 0..255 without clipping it to white.

    Integer data with a known range (16-bit) is scaled by that range, unless
    it only uses a sliver of it (e.g. 0..1000 in a 16-bit PNG), which would
    come out black: then, like float/32-bit data, it is stretched min..max.
    """
    a = arr.astype(np.float64, copy=False)
    finite = np.isfinite(a)
    if not finite.all():
        a = np.where(finite, a, 0.0)
    if not finite.any():
        return np.zeros(arr.shape, np.uint8)
    lo, hi = float(a[finite].min()), float(a[finite].max())
    if full_range is not None and hi * 255.0 / full_range >= 16:
        out = a * (255.0 / full_range)
    elif hi > lo:
        out = (a - lo) * (255.0 / (hi - lo))
    else:
        out = np.full(a.shape, min(max(lo, 0.0), 255.0))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _array_to_pil(arr: Any) -> Image.Image:
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[2] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)  # channels-first (C, H, W)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ImageError("error.image.array_shape", shape=a.shape)
    h, w = a.shape[:2]
    _check_geometry(w, h, MAX_PIXELS)
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype == np.uint8:
        pass
    elif a.dtype == np.uint16:
        a = _scale_to_uint8(a, 65535.0)
    elif np.issubdtype(a.dtype, np.floating):
        finite = a[np.isfinite(a)]
        if finite.size and finite.min() >= 0.0 and finite.max() <= 1.0:
            a = _scale_to_uint8(a, 1.0)  # the usual 0..1 float convention
        elif finite.size and finite.min() >= 0.0 and finite.max() <= 255.0:
            a = _scale_to_uint8(a, 255.0)  # float pixels on the 0..255 scale
        else:
            a = _scale_to_uint8(a, None)
    elif np.issubdtype(a.dtype, np.integer):
        if a.size and a.min() >= 0 and a.max() <= 255:
            a = a.astype(np.uint8)
        else:
            a = _scale_to_uint8(a, None)
    else:
        raise ImageError("error.image.array_dtype", dtype=str(a.dtype))
    a = np.ascontiguousarray(a)
    if a.ndim == 2:
        return Image.fromarray(a, "L")
    return Image.fromarray(a, "RGBA" if a.shape[2] == 4 else "RGB")


def _flatten_alpha(im: Image.Image) -> Image.Image:
    rgba = im.convert("RGBA")
    out = Image.new("RGB", rgba.size, (255, 255, 255))
    out.paste(rgba, mask=rgba.getchannel("A"))
    return out


def _to_rgb(im: Image.Image) -> Image.Image:
    mode = im.mode
    if mode == "RGB":
        return im
    if mode == "P":
        if "transparency" in im.info or im.palette is not None and im.palette.mode == "RGBA":
            return _flatten_alpha(im)
        return im.convert("RGB")
    if mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        return _flatten_alpha(im)
    if mode in ("L", "1", "RGBX", "CMYK", "YCbCr"):
        if "transparency" in im.info and mode in ("L", "1"):
            return _flatten_alpha(im)
        return im.convert("RGB")
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(im)
        full = 65535.0 if mode.startswith("I;16") else None
        if mode == "I" and arr.size and arr.min() >= 0 and arr.max() <= 65535 and arr.max() > 255:
            full = 65535.0  # 16-bit data that PIL opened as 32-bit "I" (e.g. some TIFFs)
        elif mode == "I" and arr.size and arr.min() >= 0 and arr.max() <= 255:
            full = 255.0
        return Image.fromarray(_scale_to_uint8(arr, full), "L").convert("RGB")
    try:  # LAB, HSV, ...
        return im.convert("RGB")
    except (ValueError, OSError) as e:
        raise ImageError("error.image.colour_mode", mode=mode, detail=str(e)) from None


_PIL_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


def _open(src: Any) -> Image.Image:
    """Image.open with every failure turned into an ImageError."""
    if isinstance(src, (str, os.PathLike)):
        path = Path(src)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ImageError("error.image.no_file", name=path.name) from None
        except OSError as e:
            raise ImageError("error.image.os_error", detail=str(e.strerror or e)) from None
        if path.is_dir():
            raise ImageError("error.image.folder", name=path.name)
        if size == 0:
            raise ImageError("error.image.empty")
        try:
            with open(path, "rb") as f:
                head = f.read(1024)
        except OSError as e:
            raise ImageError("error.image.os_error", detail=str(e.strerror or e)) from None
        fp: Any = str(path)
    elif isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
        if not data:
            raise ImageError("error.image.empty")
        head = data[:1024]
        fp = io.BytesIO(data)
    elif hasattr(src, "read"):
        data = src.read()
        if isinstance(data, str) or not data:
            raise ImageError("error.image.empty" if not data else "error.image.text_mode")
        head = data[:1024]
        fp = io.BytesIO(data)
    else:
        raise ImageError("error.image.not_a_source", type=type(src).__name__)

    try:
        # PIL warns past its own (global) limit; our explicit check below decides.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(fp)
    except Image.DecompressionBombError as e:
        m = _PIL_BOMB_PIXELS.search(str(e))
        n = int(m.group(1)) if m else None
        if n:
            raise _megapixels("error.image.bomb", n, MAX_PIXELS) from None
        raise ImageError("error.image.bomb_unsized", limit=MAX_PIXELS / 1e6) from None
    except UnidentifiedImageError:
        raise ImageError(_sniff(head) or "error.image.not_an_image.unknown") from None
    except Exception as e:  # SyntaxError, struct.error, OSError... from broken headers
        raise ImageError("error.image.broken_header", detail=str(e)) from None


def _reduced_size(w: int, h: int, max_side: int) -> tuple[int, int]:
    s = max_side / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


# --------------------------------------------------------------------------- API
def load_image(src: Any, max_side: int = DEFAULT_MAX_SIDE) -> Image.Image:
    """Return *src* as a new RGB PIL image with the longer side ≤ *max_side*.

    *src*: path (str / PathLike), bytes, binary file object, PIL.Image or
    numpy array (H×W, H×W×3/4; uint8, uint16, bool, int or float).
    Raises ImageError (a ValueError) with a human-readable message.
    """
    if max_side < MIN_SIDE:
        raise Refusal("error.image.max_side", min_side=MIN_SIDE)

    opened = None
    if isinstance(src, Image.Image):
        im = src
        _check_geometry(*im.size, MAX_PIXELS)
    elif isinstance(src, np.ndarray) or (hasattr(src, "__array__") and not isinstance(src, (bytes, str))):
        im = _array_to_pil(src)
    else:
        im = opened = _open(src)  # a freshly opened file is on its first frame
    try:
        return _finish(im, src, max_side)
    finally:
        if opened is not None:
            opened.close()


def _finish(im: Image.Image, src: Any, max_side: int) -> Image.Image:
    original = im
    _check_geometry(*im.size, MAX_PIXELS)  # for files: from the header, nothing decoded yet
    try:
        if im.format == "JPEG" and max(im.size) > max_side:
            # Decode at 1/2, 1/4 or 1/8 scale, never below the target size.
            try:
                im.draft(None, _reduced_size(*im.size, max_side))
            except Exception:
                pass
        im.load()
    except Image.DecompressionBombError:
        raise _too_many_pixels(*im.size, MAX_PIXELS) from None
    except MemoryError:
        raise ImageError("error.image.memory") from None
    except Exception as e:
        msg = str(e).strip() or type(e).__name__
        if "truncated" in msg.lower() or "end of file" in msg.lower():  # PIL / libheif (HEIC)
            raise ImageError("error.image.truncated") from None
        raise ImageError("error.image.undecodable", detail=msg) from None

    try:
        oriented = ImageOps.exif_transpose(im)
        if oriented is not None:
            im = oriented
    except Exception:
        pass  # a broken EXIF block should not cost the picture; keep it unrotated

    try:
        out = _to_rgb(im)
    except ImageError:
        raise
    except Exception as e:
        raise ImageError("error.image.convert", mode=im.mode, detail=str(e)) from None

    if max(out.size) > max_side:
        out = out.resize(_reduced_size(*out.size, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    if out is original or out is src:
        out = out.copy()  # never hand back the caller's object or a file-backed one
    out.info = {}
    return out


def shown_size(src: Any) -> tuple[int, int]:
    """The picture's (width, height) as it is shown (EXIF orientation applied, as :func:`load_image`
    applies it), read from the file's header without decoding its pixels. ImageError as load_image."""
    im = _open(src)
    try:
        w, h = im.size
        try:
            orientation = im.getexif().get(0x0112)
        except Exception:  # a broken EXIF block: load_image keeps the picture unrotated too
            orientation = None
        return (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    finally:
        im.close()
