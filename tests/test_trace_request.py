"""tools/trace_request.py: one request per tab enters each module of its pass once.

The tool runs each tab's real event function (taken from the built app by its api_name) under
``sys.setprofile``; see its docstring for what counts as entering a module. The finder itself is
checked first on a made-up call chain, so a passing run cannot be an empty trace."""
from __future__ import annotations

import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import trace_request as T  # noqa: E402


def test_the_tracer_counts_entries_merges_calls_in_a_row_and_ignores_callbacks():
    from gradcam_core.base import inputs
    from gradcam_core.services import mnist as svc

    def handler():
        svc.parse_index(3)  # services.mnist, which enters data.mnist
        svc.parse_index(4)  # the same module again, in a row: one entry
        inputs.parse_cmap("jet")
        svc.parse_index(5)  # back to services.mnist after inputs: entered twice

    t, _ = T.trace("probe", "tests.test_trace_request", handler)
    t.tab = "<gradio>"  # the handler here is not a gradcam_core module: its calls have no gradcam_core caller
    entered = [m for c, m, _ in t.entries if c == "<gradio>"]
    assert entered == ["gradcam_core.services.mnist", "gradcam_core.base.inputs", "gradcam_core.services.mnist"]
    assert t.twice() == {"gradcam_core.services.mnist": 2}
    assert ("gradcam_core.services.mnist", "gradcam_core.data.mnist") in [(c, m) for c, m, _ in t.entries]


def test_one_request_per_tab_enters_each_module_of_its_pass_once():
    traces = {t.name: t for t in T.run()}
    assert set(traces) == {"mnist_index", "mnist_upload", "imagenet_photo", "shortcut_digit"}
    for name, t in traces.items():
        d = t.as_dict()
        assert d["twice"] == {}, (name, d["pass"])
        # the pass goes through the tab's service, then present/ (the handler's return)
        service = {"imagenet_photo": "imagenet", "shortcut_digit": "shortcut"}.get(name, "mnist")
        services = [m for m in d["pass"] if m.startswith("gradcam_core.services.")]
        assert services[0] == f"gradcam_core.services.{service}", (name, d["pass"])
        first_present = next(i for i, m in enumerate(d["pass"]) if m.startswith("gradcam_core.present."))
        assert d["pass"].index(services[0]) < first_present, (name, d["pass"])
        assert "gradcam_core.cam.engine" in d["pass"], (name, d["pass"])
