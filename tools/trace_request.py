"""Walk one request per tab through the code and print the gradcam_core modules it enters.

For each request (an MNIST index, an MNIST photo upload, an ImageNet photo, the shortcut digit)
the app is built in this process, the event's function is taken from Gradio's own event table
(by its ``api_name``, so it is the handler the page and the API call) and run once to warm the
caches (weights, the held-out digits' figures), then once more under ``sys.setprofile``.

What counts as *entering* a module: a Python call whose module differs from the module of the
nearest gradcam_core frame below it (its caller), while that module is not already running
further down the stack (a forward hook that the engine gets back from the model is not a new
entry). A caller that calls into the same module several times in a row enters it once
("consecutive calls count once").

The request's **pass** is what the tab's module and the services enter: the handler calls its
service and ``present/`` and returns; the service parses its input and runs ``analysis/``,
``cam/``, ``models/`` and ``data/``. A module entered twice by the pass is flagged: its input is
parsed twice, or the request goes back and forth. (What ``present/`` and the lower layers do
inside is printed too, indented, with their repeated entries counted as "inner repeats".)

    python tools/trace_request.py            # all four requests
    python tools/trace_request.py mnist_index imagenet_photo
    python tools/trace_request.py --json     # machine-readable (the test reads this)

Exit code 1 when any request's pass enters a module twice.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PACKAGE = "gradcam_core"


@dataclass
class Trace:
    """The entries of one traced call: (caller module, entered module, depth) in order."""

    name: str
    tab: str  # the tab's module: its entries, and the services', make the request's pass
    entries: list[tuple[str, str, int]] = field(default_factory=list)

    def in_pass(self, caller: str) -> bool:
        return caller == self.tab or caller.startswith(f"{PACKAGE}.services.")

    def pass_entries(self) -> list[tuple[str, str]]:
        return [(c, m) for c, m, _ in self.entries if self.in_pass(c)]

    def twice(self) -> dict[str, int]:
        """Modules the pass enters more than once, with how often."""
        n = Counter(m for _, m in self.pass_entries())
        return {m: k for m, k in sorted(n.items()) if k > 1}

    def inner_repeats(self) -> dict[str, int]:
        """Modules entered more than once anywhere in the request (the pass and everything below it)."""
        n = Counter(m for _, m, _ in self.entries)
        return {m: k for m, k in sorted(n.items()) if k > 1}

    def as_dict(self) -> dict:
        return {"name": self.name, "tab": self.tab, "pass": [m for _, m in self.pass_entries()],
                "twice": self.twice(), "entries": len(self.entries), "modules": len({m for _, m, _ in self.entries}),
                "inner_repeats": self.inner_repeats()}


def trace(name: str, tab: str, fn: Callable, *args: Any, **kwargs: Any) -> tuple[Trace, Any]:
    """Run ``fn(*args, **kwargs)`` under a profiler; return its trace and its value."""
    out = Trace(name, tab)
    stack: list[str | None] = []  # the gradcam_core module of each Python frame (None: not ours)
    active: Counter = Counter()  # how many frames of each module are on the stack
    last_of: dict[str, str] = {}  # the module each caller entered last: calls in a row count once

    def caller_of() -> str | None:
        for m in reversed(stack):
            if m is not None:
                return m
        return None

    def profile(frame, event, _arg):
        if event == "call":
            module = frame.f_globals.get("__name__", "")
            mine = module if module == PACKAGE or module.startswith(PACKAGE + ".") else None
            if mine is not None:
                caller = caller_of() or "<gradio>"
                # a callback into a module already running further down (a hook) is not an entry
                if caller != mine and not active[mine] and last_of.get(caller) != mine:
                    out.entries.append((caller, mine, len(active) + 1))
                if caller != mine:
                    last_of[caller] = mine
                active[mine] += 1
            stack.append(mine)
        elif event == "return" and stack:
            mine = stack.pop()
            if mine is not None:
                active[mine] -= 1
                if not active[mine]:
                    del active[mine]

    sys.setprofile(profile)
    try:
        value = fn(*args, **kwargs)
    finally:
        sys.setprofile(None)
    return out, value


# --------------------------------------------------------------------------- the requests
def _event_fn(demo, api_name: str) -> Callable:
    for dep in demo.fns.values():
        if getattr(dep, "api_name", None) == api_name:
            return dep.fn
    raise KeyError(api_name)


def _digit_photo(folder: Path) -> str:
    """A held-out digit drawn dark on light paper, 200×200: what a phone photo of a digit looks like."""
    import numpy as np
    from PIL import Image

    from gradcam_core.services import mnist as svc

    digit, _ = svc.held_out(3)
    ink = (255 - digit * 255).astype(np.uint8)
    path = folder / "digit.png"
    Image.fromarray(ink).resize((200, 200), Image.Resampling.BILINEAR).convert("RGB").save(path)
    return str(path)


def _cat_photo(folder: Path) -> str:
    """An uploaded photo (a copy of an example under another name: not served from the example cache)."""
    import shutil

    from gradcam_core.services import imagenet as svc

    src = next(e["path"] for e in svc.examples_by_category() if "cat" in Path(e["path"]).name)
    path = folder / "upload.jpg"
    shutil.copyfile(src, path)
    return str(path)


def requests(folder: Path) -> dict[str, tuple[str, str, Callable[[Any], tuple]]]:
    """name -> (tab module, api_name, inputs for the event function)."""
    from gradcam_core.services import models as model_info

    def mnist_index():
        return (5, "predicted", "strongest", "relu2", "jet", "receptive field")

    def mnist_upload():
        return (_digit_photo(folder), "predicted", "strongest", "relu2", "jet", "receptive field")

    def imagenet_photo():
        return ({"path": _cat_photo(folder)}, model_info.default_key(), None, "Grad-CAM", "predicted", "none",
                "max", "jet", 0.5)

    def shortcut_digit():
        return (44, True, 3, "jet")

    return {"mnist_index": ("gradcam_core.ui.mnist_tab", "mnist_explain_index", mnist_index),
            "mnist_upload": ("gradcam_core.ui.mnist_tab", "mnist_explain_upload", mnist_upload),
            "imagenet_photo": ("gradcam_core.ui.imagenet_tab", "imagenet_explain", imagenet_photo),
            "shortcut_digit": ("gradcam_core.ui.spurious_tab", "spurious_cue_move", shortcut_digit)}


def run(names: list[str] | None = None) -> list[Trace]:
    import tempfile

    os.environ.setdefault("GRADCAM_EXAMPLE_CACHE", "off")
    import app

    demo = app.build_app()
    folder = Path(tempfile.mkdtemp(prefix="trace_request_"))
    found = requests(folder)
    out = []
    for name in names or list(found):
        tab, api_name, make_inputs = found[name]
        fn = _event_fn(demo, api_name)
        args = make_inputs()
        fn(*args)  # warm: weights, the held-out digits' figures, first-call imports
        t, _ = trace(name, tab, fn, *args)
        out.append(t)
    return out


def _print(t: Trace) -> None:
    print(f"\n== {t.name}  (pass: {t.tab} and services/)")
    previous = None
    for caller, module, depth in t.entries:
        mark = "  <-- again" if t.in_pass(caller) and module in t.twice() else ""
        line = f"{'  ' * min(depth, 12)}{module}"
        if line != previous:
            print(f"{line}   (from {caller}){mark}")
        previous = line
    d = t.as_dict()
    print(f"-- {d['entries']} entries into {d['modules']} modules; the pass: {' -> '.join(d['pass'])}")
    print(f"-- entered twice by the pass: {d['twice'] or 'none'}")
    print(f"-- inner repeats (present/ and below, for information): {d['inner_repeats'] or 'none'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="mnist_index, mnist_upload, imagenet_photo, shortcut_digit (default: all)")
    ap.add_argument("--json", action="store_true", help="print one JSON object per request")
    args = ap.parse_args(argv)
    traces = run(args.names or None)
    for t in traces:
        if args.json:
            print(json.dumps(t.as_dict()))
        else:
            _print(t)
    return 1 if any(t.twice() for t in traces) else 0


if __name__ == "__main__":
    sys.exit(main())
