"""The example photos' catalogue as the app reads it: examples/manifest.json (built by
``python tools/make_examples.py``)."""
from __future__ import annotations

import json
from pathlib import Path

__all__ = ["EXAMPLES_DIR", "CATEGORY_ORDER", "load_manifest"]

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
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
