"""Deep links: a whole result in the URL's query string, so it survives a server restart.

A digit (28×28, drawn or picked) is stored in the link itself — 8-bit, zlib-compressed,
URL-safe base64, typically 300–500 characters — so a link to a drawing reopens the same
drawing.  Photos are referenced by name (an example) or by a content hash of an upload kept
in the server's upload cache (gone after a restart; the app then says so).
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np

from gradcam_core.base.errors import Refusal
from gradcam_core.base import home

__all__ = ["encode_digit", "decode_digit", "query_string", "remember_photo", "recall_photo", "link_dir",
           "link_budget_bytes"]

_MAX_LINK_BYTES = 4096


def encode_digit(digit: np.ndarray) -> str:
    """(28, 28) float in [0, 1] → compact URL-safe text."""
    arr = np.asarray(digit, dtype=np.float32)
    if arr.shape != (28, 28):
        raise Refusal("error.link.digit_shape", shape=arr.shape)
    q = np.clip(np.rint(arr * 255), 0, 255).astype(np.uint8)
    return base64.urlsafe_b64encode(zlib.compress(q.tobytes(), 9)).decode("ascii").rstrip("=")


def decode_digit(text: str) -> np.ndarray:
    """Inverse of :func:`encode_digit`; raises a ``Refusal`` (``error.link.*``) if the link is damaged."""
    if not isinstance(text, str) or not text or len(text) > _MAX_LINK_BYTES:
        raise Refusal("error.link.no_digit")
    try:
        raw = zlib.decompressobj().decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), 784 + 1)
    except Exception:
        raise Refusal("error.link.digit_undecodable") from None
    if len(raw) != 784:
        raise Refusal("error.link.digit_size")
    return np.frombuffer(raw, dtype=np.uint8).reshape(28, 28).astype(np.float32) / 255.0


def query_string(**params: Any) -> str:
    """'?a=1&b=2' from the non-empty parameters, in the given order."""
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    return "?" + urlencode(clean)


# --------------------------------------------------------------------------- photos
_EXAMPLES = home.path("examples")
_KEEP = 500  # uploads kept for links; the oldest go first
_BUDGET_MB = 200.0  # and at most this many megabytes of them (GRADCAM_LINK_BUDGET_MB)


def link_budget_bytes() -> int:
    """The link store's byte budget: ``GRADCAM_LINK_BUDGET_MB`` (default 200) megabytes."""
    raw = os.environ.get("GRADCAM_LINK_BUDGET_MB", "").strip()
    try:
        mb = float(raw) if raw else _BUDGET_MB
    except ValueError:
        mb = _BUDGET_MB
    return int(max(mb, 0.0) * 1024 * 1024)


def _prune(keep: Path) -> None:
    """Remove the oldest kept photos until at most ``_KEEP`` files and the byte budget remain
    (``keep``, the photo just linked, is never removed)."""
    budget = link_budget_bytes()
    files = []
    for f in link_dir().iterdir():
        try:
            st = f.stat()
        except OSError:
            continue
        files.append((st.st_mtime, f.name, st.st_size, f))
    files.sort(reverse=True)  # newest first
    count, total = 0, 0
    for _mtime, _name, size, f in [x for x in files if x[3] == keep] + [x for x in files if x[3] != keep]:
        count, total = count + 1, total + size
        if f != keep and (count > _KEEP or total > budget):
            f.unlink(missing_ok=True)
            count, total = count - 1, total - size


def link_dir() -> Path:
    """Where photos behind links are kept (``GRADCAM_LINK_DIR``; default: the system temp dir)."""
    d = Path(os.environ.get("GRADCAM_LINK_DIR") or Path(tempfile.gettempdir()) / "gradcam-explorer-links")
    d.mkdir(parents=True, exist_ok=True)
    return d


def remember_photo(path: str | os.PathLike) -> str:
    """A token for a photo: ``ex:<file>`` for a shipped example (valid for ever), otherwise
    ``up:<hash>.<ext>`` for a copy kept in :func:`link_dir` (only made when a user asks for a link;
    gone when the server's temporary files are). The store keeps at most 500 photos and
    :func:`link_budget_bytes` bytes, the oldest removed first; a photo larger than the whole budget
    is refused (ValueError)."""
    p = Path(path).resolve()
    try:
        rel = p.relative_to(_EXAMPLES.resolve())
        return "ex:" + rel.as_posix()
    except ValueError:
        pass
    budget = link_budget_bytes()
    size = p.stat().st_size
    if size > budget:
        raise Refusal("error.link.photo_too_big", size_mb=size / 1024 / 1024, budget_mb=budget / 1024 / 1024)
    data = p.read_bytes()
    name = hashlib.sha256(data).hexdigest()[:20] + (p.suffix.lower() if re.fullmatch(r"\.[a-z0-9]{1,5}", p.suffix.lower()) else "")
    dest = link_dir() / name
    if dest.exists():
        os.utime(dest)  # linked again: now the newest, the last to be removed
    else:
        dest.write_bytes(data)
    _prune(dest)
    return "up:" + name


def recall_photo(token: str) -> str:
    """The file behind a token from :func:`remember_photo`; ValueError with advice if it is gone."""
    if not isinstance(token, str) or ":" not in token:
        raise Refusal("error.link.no_photo")
    kind, name = token.split(":", 1)
    if kind == "ex" and re.fullmatch(r"[A-Za-z0-9_\-]+/[A-Za-z0-9_\-.]+", name):
        p = _EXAMPLES / name
    elif kind == "up" and re.fullmatch(r"[0-9a-f]{20}(\.[a-z0-9]{1,5})?", name):
        p = link_dir() / name
    else:
        raise Refusal("error.link.photo_damaged")
    if not p.is_file():
        raise Refusal("error.link.photo_gone")
    return str(p)
