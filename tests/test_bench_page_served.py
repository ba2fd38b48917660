"""bench/bench_page_served.py's own logic, checked with values on a made-up app config (no server): which
requests it makes for a page answer, what it sends, and the report's arithmetic against the targets."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
bps = pytest.importorskip("bench_page_served")

PHOTO, TOKEN, OTHER, STATE, WHOLE, ALTS, GALLERY, LABEL = 1, 2, 3, 4, 5, 6, 7, 8


def _config(route_js: str) -> dict:
    comps = [{"id": PHOTO, "type": "image", "props": {"elem_id": "imagenet-photo"}},
             {"id": TOKEN, "type": "textbox", "props": {}}, {"id": OTHER, "type": "textbox", "props": {}},
             {"id": 20, "type": "dropdown", "props": {}}, {"id": 21, "type": "dropdown", "props": {}},
             {"id": STATE, "type": "state", "props": {}}, {"id": WHOLE, "type": "checkbox", "props": {}},
             {"id": ALTS, "type": "state", "props": {}}, {"id": GALLERY, "type": "gallery", "props": {}},
             {"id": LABEL, "type": "label", "props": {}}]
    deps = [
        {"id": 0, "targets": [[PHOTO, "change"]], "js": route_js, "backend_fn": False, "inputs": [], "outputs": []},
        {"id": 1, "targets": [[PHOTO, "upload"]], "backend_fn": True, "queue": False, "inputs": [], "outputs": []},
        {"id": 2, "targets": [[TOKEN, "change"]], "backend_fn": True, "api_name": "imagenet_run",
         "inputs": [TOKEN, PHOTO, 20, 21, STATE, WHOLE], "outputs": [LABEL, GALLERY, ALTS]},
        {"id": 3, "targets": [[OTHER, "change"]], "backend_fn": True, "api_name": "imagenet_run_slow",
         "inputs": [OTHER, PHOTO, 20, 21, STATE, WHOLE], "outputs": [LABEL, GALLERY, ALTS]},
        {"id": 4, "targets": [[ALTS, "change"]], "backend_fn": True, "queue": False, "inputs": [ALTS], "outputs": []},
        {"id": 5, "targets": [[ALTS, "change"]], "backend_fn": False, "js": "() => 1", "inputs": [], "outputs": []},
        {"id": 6, "targets": [], "trigger_after": 2, "backend_fn": False, "js": "() => 1", "inputs": [], "outputs": []},
        {"id": 7, "targets": [], "trigger_after": 2, "backend_fn": True, "inputs": [], "outputs": []},
        {"id": 8, "targets": [], "trigger_after": 2, "backend_fn": True, "trigger_only_on_failure": True,
         "inputs": [], "outputs": []},
    ]
    return {"components": comps, "dependencies": deps}


class _Http:
    def __init__(self, config: dict):
        self.config = config

    def get(self, url: str):
        config = self.config

        class R:
            def json(self):
                return config

        return R()


def _flow(route_js: str) -> bps.Flow:
    return bps.Flow(bps.Page(_Http(_config(route_js)), "http://x/"))


def test_the_requests_of_a_page_answer_are_read_from_the_config():
    flow = _flow("(m, q, s) => cond ? [undefined, t] : [t, undefined]")
    assert flow.run["api_name"] == "imagenet_run" and flow.photo_id == PHOTO
    assert [d["id"] for d in flow.on_upload] == [1]
    assert [d["id"] for d in flow.after] == [7]  # js-only and failure-only follow-ups are not requests
    assert [d["id"] for d in flow.page.python_deps(ALTS, "change")] == [4]
    assert flow.other is None  # the router leaves the other queue's box alone


def test_a_router_that_re_sets_both_boxes_costs_the_other_queues_event():
    flow = _flow("(m, q, s) => cond ? [q, t] : [t, s]")
    assert flow.other["api_name"] == "imagenet_run_slow"


def test_the_answer_is_sent_with_token_settings_state_and_checkbox_in_place():
    flow = _flow("undefined")
    assert bps._run_values(flow.run, flow.page, "force:7") == ["force:7", None, *bps.SETTINGS[:2], None, False]
    slow = flow.page.by_api["imagenet_run_slow"]
    assert bps._run_values(slow, flow.page, "force:8")[0] == "force:8"


def test_only_a_gallerys_files_are_fetched():
    flow = _flow("undefined")
    out = {"data": [{"label": "cat"}, [{"image": {"url": "http://x/a.png"}, "caption": "1"},
                                       {"image": {"url": "http://x/b.png"}, "caption": "2"}],
                    {"overlay": "a"}]}
    assert bps._gallery_urls(flow.page, flow.run, out) == ["http://x/a.png", "http://x/b.png"]
    assert bps._gallery_urls(flow.page, flow.run, {"data": [None, None, None]}) == []


def test_the_report_states_the_target_from_the_runs_own_floor_and_forward():
    answer = {"checkout": "this", "event": "imagenet_run", "cpu_ms": 55.0, "idle_ms": 4.0,
              "phases_ms": dict.fromkeys(bps.PHASES, 0.0), "answer_json_kb": 21.0, "gallery_kb": 0.0,
              "wall_ms_median": 100.0, "load": 8.0, "opening_steps": None}
    rnd = {"floor": {"cpu_ms": 5.0}, "forward_2": {"cpu_min_ms": 30.0, "cpu_ms": 40.0},
           "forward_1": {"cpu_min_ms": 25.0}, "answers": [answer, {**answer, "checkout": "base", "cpu_ms": 70.0}]}
    text = bps.report({"n": 30, "loadavg_start": (8.0, 0, 0), "rounds": [rnd]})
    this, base = [line for line in text.splitlines() if line.startswith("| 1 |")]
    assert "**55.0 ms**" in this and "1.67×" in this and "65.0 ms: pass" in this  # (55 − 5) / 30; 5 + 2 × 30
    assert "**70.0 ms**" in base and "2.17×" in base and "65.0 ms: FAIL" in base
