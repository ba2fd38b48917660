"""The example photos' catalogue as the app reads it: examples/manifest.json (built by
``python tools/make_examples.py``), the entries in gallery order, their credits, and which entry a
file is (by content, so a re-uploaded example is recognised)."""
from __future__ import annotations

import hashlib
import json
import re
import threading
from pathlib import Path
from typing import Any, Sequence

from gradcam_core.base import home
from gradcam_core.base.errors import Term

__all__ = ["EXAMPLES_DIR", "CATEGORY_ORDER", "load_manifest", "example_for", "examples_by_category",
           "example_credit", "attribution_note"]

EXAMPLES_DIR = home.path("examples")
#: The order of the categories in the examples gallery.
CATEGORY_ORDER = ["animals", "food", "objects/vehicles", "people", "plants", "scenes", "textures"]


def load_manifest(examples_dir: str | Path | None = None) -> list[dict]:
    """The example entries whose files exist, each with an absolute "path" added.

    Returns [] if there is no manifest; never raises for a missing examples/.
    """
    d = Path(examples_dir) if examples_dir is not None else EXAMPLES_DIR
    try:
        data = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    out = []
    for e in data.get("examples", []):
        p = d / e.get("file", "")
        if e.get("file") and p.is_file():
            out.append({**e, "path": str(p.resolve())})
    return out


_example_hashes: dict[tuple[int, str], dict] | None = None
_example_lock = threading.Lock()


def _size_and_digest(src: Any, sizes: set[int] | None = None) -> tuple[int, str] | None:
    """(byte size, SHA-1) of a file or bytes; None when the size is not in ``sizes`` (no hashing)."""
    try:
        if isinstance(src, (str, Path)) and not str(src).startswith("data:"):
            p = Path(src)
            if not p.is_file():
                return None
            size = p.stat().st_size
            if sizes is not None and size not in sizes:
                return None
            return size, hashlib.sha1(p.read_bytes()).hexdigest()
        if isinstance(src, (bytes, bytearray)):
            if sizes is not None and len(src) not in sizes:
                return None
            return len(src), hashlib.sha1(bytes(src)).hexdigest()
    except OSError:
        return None
    return None


def example_for(src: Any) -> dict | None:
    """The manifest entry whose file has the same content as ``src`` (a path or bytes), if any.
    Only a file of exactly an example's size is hashed."""
    global _example_hashes
    with _example_lock:
        if _example_hashes is None:
            _example_hashes = {}
            for e in load_manifest():
                d = _size_and_digest(e["path"])
                if d:
                    _example_hashes[d] = e
    d = _size_and_digest(src, {size for size, _ in _example_hashes})
    return None if d is None else _example_hashes.get(d)


def examples_by_category() -> list[dict]:
    """Manifest entries (with "path"), ordered by category."""
    order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    entries = load_manifest()
    return sorted(entries, key=lambda e: (order.get(e.get("category"), 99), e.get("title", "")))


def _short_credit(credit: str) -> str:
    return re.split(r"\s\(|;", credit, maxsplit=1)[0].strip()


def example_credit(entry: dict) -> str:
    """Markdown line: title, category, credit, licence, source package."""
    return format(Term("lang.example_credit", title=entry["title"], category=entry["category"], credit=entry["credit"],
                       licence=entry["licence"], package=entry["package"], function=entry["function"]))


def attribution_note(entries: Sequence[dict] | None = None) -> str:
    """The credits that must be shown (CC BY photos), as one short Markdown paragraph."""
    entries = examples_by_category() if entries is None else entries
    need = [e for e in entries if str(e.get("licence", "")).upper().startswith("CC BY")]
    parts = [f"*{e['title'].split(' (')[0]}*: {_short_credit(e['credit'])}, {e['licence'].split(' (')[0]}"
             for e in need]
    if not parts:
        return ""
    return format(Term("lang.photo_credits", credits="; ".join(parts)))
