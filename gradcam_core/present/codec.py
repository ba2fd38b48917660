"""The PNG / data-URL codec: arrays to PIL images, PNG bytes and ``data:`` URLs, and back."""

from __future__ import annotations

import base64
import io
import os
from typing import Mapping

import numpy as np
from PIL import Image

from gradcam_core.base.errors import Refusal
from gradcam_core.present.paint import ArrayLike, _as_rgb_u8

__all__ = ["to_pil", "png_bytes", "png_data_url", "decode_data_url"]

def to_pil(arr: ArrayLike | Image.Image) -> Image.Image:
    """PIL image from an array: uint8 (H,W) -> 'L', (H,W,3) -> 'RGB', (H,W,4) ->
    'RGBA'; anything else goes through the same coercion as :func:`overlay`
    (-> 'RGB').  A PIL image is returned unchanged."""
    if isinstance(arr, Image.Image):
        return arr
    a = np.asarray(arr)
    if a.dtype == np.uint8:
        if a.ndim == 2:
            return Image.fromarray(np.ascontiguousarray(a))
        if a.ndim == 3 and a.shape[2] == 4:
            return Image.fromarray(np.ascontiguousarray(a))
    return Image.fromarray(_as_rgb_u8(a))


def png_bytes(arr: ArrayLike | Image.Image, compress_level: int = 3) -> bytes:
    """PNG-encoded bytes of an image array (or PIL image)."""
    buf = io.BytesIO()
    to_pil(arr).save(buf, format="PNG", compress_level=int(compress_level))
    return buf.getvalue()


_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".gif": "image/gif"}


def png_data_url(img: ArrayLike | Image.Image | str | os.PathLike, compress_level: int = 1) -> str:
    """``data:image/png;base64,…`` for an image array or PIL image, or the data URL of an
    existing image file (path) as it is.

    zlib level 1: on the app's step images it encodes about twice as fast as the default
    level 6 for ~25 % more bytes (10 MNIST step images: 16 ms / 70 KB vs 32 ms / 55 KB).
    """
    if isinstance(img, str) and img.startswith("data:image/"):
        return img
    if isinstance(img, (str, os.PathLike)):
        path = os.fspath(img)
        mime = _MIME.get(os.path.splitext(path)[1].lower())
        if mime is None:
            raise Refusal("render.bad.file", path=path)
        with open(path, "rb") as f:
            data = f.read()
    else:
        mime, data = "image/png", png_bytes(img, compress_level)
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def decode_data_url(value: str | Mapping[str, str]) -> Image.Image:
    """The image in a ``data:image/…;base64,`` URL, or in ``{"url": …}`` as the app's API
    returns it (the inverse of :func:`png_data_url`)."""
    url = value.get("url") if isinstance(value, Mapping) else value
    if not isinstance(url, str) or not url.startswith("data:image/") or ";base64," not in url:
        raise ValueError("Expected a data:image/…;base64, URL")
    from gradcam_core.base.inputs import data_url_bytes  # the app's one data: URL decoder

    img = Image.open(io.BytesIO(data_url_bytes(url)))
    img.load()
    return img
