"""Deep links: a whole result in the URL's query string, so it survives a server restart.

A digit (28×28, drawn or picked) is stored in the link itself — 8-bit, zlib-compressed,
URL-safe base64, typically 300–500 characters — so a link to a drawing reopens the same
drawing.  Photos are referenced by name (an example) or by a content hash of an upload kept
in the server's upload cache (gone after a restart; the app then says so).
"""
from __future__ import annotations

import base64
import zlib
from urllib.parse import urlencode

import numpy as np

__all__ = ["encode_digit", "decode_digit", "query_string"]

_MAX_LINK_BYTES = 4096


def encode_digit(digit: np.ndarray) -> str:
    """(28, 28) float in [0, 1] → compact URL-safe text."""
    arr = np.asarray(digit, dtype=np.float32)
    if arr.shape != (28, 28):
        raise ValueError(f"a digit link needs a 28×28 image, not {arr.shape}")
    q = np.clip(np.rint(arr * 255), 0, 255).astype(np.uint8)
    return base64.urlsafe_b64encode(zlib.compress(q.tobytes(), 9)).decode("ascii").rstrip("=")


def decode_digit(text: str) -> np.ndarray:
    """Inverse of :func:`encode_digit`; raises ValueError with a clear message if the link is damaged."""
    if not isinstance(text, str) or not text or len(text) > _MAX_LINK_BYTES:
        raise ValueError("This link does not contain a valid digit.")
    try:
        raw = zlib.decompressobj().decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), 784 + 1)
    except Exception:
        raise ValueError("This link's digit is damaged (it could not be decoded).") from None
    if len(raw) != 784:
        raise ValueError("This link's digit is damaged (wrong size).")
    return np.frombuffer(raw, dtype=np.uint8).reshape(28, 28).astype(np.float32) / 255.0


def query_string(**params) -> str:
    """'?a=1&b=2' from the non-empty parameters, in the given order."""
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    return "?" + urlencode(clean)
