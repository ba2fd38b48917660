"""Serving many phones at once (issue 12): slow work in its own queue, compressed responses, a page
config without the 1 000 class names, lazy tabs, small session state, and cancellation."""
from __future__ import annotations

import json
import pickle
import urllib.request
import uuid
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file

import app
from conftest import launch_blocks
from gradcam_core.services import mnist as mnist_svc
from gradcam_core.ui import imagenet_extras, imagenet_tab, mnist_tab, serving
from gradcam_core.ui.common import user_errors
from gradcam_core.ui.kept import KeptResults

CAT = "examples/animals/chelsea_cat.jpg"
QUICK = ["/imagenet_explain", "/imagenet_run", "/mnist_explain_index", "/mnist_explain_upload",
         "/mnist_explain_drawing", "/imagenet_restyle"]
SLOW = ["/imagenet_explain_slow", "/imagenet_run_slow", "/imagenet_compare", "/trust_imagenet_cascade",
        "/trust_imagenet_curves", "/trust_mnist_cascade", "/trust_mnist_curves"]


@pytest.fixture(scope="module")
def served():
    """The whole app, launched like app.py does (compression included), with its Blocks."""
    demo = app.build_app()
    url = launch_blocks(demo)
    try:
        yield demo, url, Client(url, verbose=False, ssl_verify=False)
    finally:
        demo.close()


def _deps_by_api(demo) -> dict:
    return {"/" + fn.api_name: fn for fn in demo.fns.values() if fn.api_name}


def test_slow_work_has_its_own_queue(served):
    demo, _, _ = served
    deps = _deps_by_api(demo)
    for name in SLOW:
        assert deps[name].concurrency_id == serving.SLOW, name
        assert deps[name].concurrency_limit == serving.SLOW_LIMIT, name
    for name in QUICK:
        assert deps[name].concurrency_id != serving.SLOW, name
    # every Score-CAM variant is routed to the slow queue by the page's router
    assert set(imagenet_tab.SLOW_METHODS) == {"Score-CAM", "Score-CAM (exact)"}
    for kind in ("force", "auto"):
        js = imagenet_tab._route_js(kind)
        assert json.dumps(imagenet_tab.SLOW_METHODS) in js and f"'{kind}:'" in js


def test_quick_endpoint_refuses_slow_methods_with_a_pointer(served):
    _, _, client = served
    with pytest.raises(Exception) as err:
        client.predict(handle_file(CAT), "efficientnet_lite0", "_head_act", "Score-CAM", "predicted", "none",
                       "max", "jet", 0.5, api_name="/imagenet_explain")
    assert "/imagenet_explain_slow" in str(err.value)


#: the page's own events (issue 23): fed by hidden boxes, the session's last result or a tap's event data
PAGE_ONLY = ["/imagenet_run", "/imagenet_run_slow", "/imagenet_pick_example", "/imagenet_from_link",
             "/mnist_pick_from_grid", "/mnist_from_link", "/spurious_open_from_link", "/select_tab_from_link",
             # the page's lighter answers (issue 27): the parts in closed accordions drawn when opened, and the
             # page's own copies of the public endpoints (which keep their full answers)
             "/imagenet_open_steps", "/imagenet_open_raw", "/imagenet_open_downloads", "/imagenet_open_parts",
             "/imagenet_restyle_page", "/imagenet_opacity_page", "/imagenet_whole_photo_page",
             "/mnist_page_index", "/mnist_page_submit", "/mnist_page_drawing", "/mnist_page_upload",
             "/mnist_page_change_target", "/mnist_page_change_channel", "/mnist_page_change_layer",
             "/mnist_page_change_cmap", "/mnist_page_change_placement", "/mnist_open_steps", "/mnist_draw_open_steps"]


def test_page_only_events_are_not_in_the_api(served):
    demo, _, client = served
    listed = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    deps = _deps_by_api(demo)
    for name in PAGE_ONLY:
        assert name in deps and deps[name].fn is not None, name  # the page still has them
        assert name not in listed, name
        with pytest.raises(ValueError, match="Cannot find a function"):  # and gradio_client refuses them
            client.submit("?", api_name=name)
    # every server event that is neither listed nor page-only is a js-only one or a tap on a picture
    hidden = {n for n, fn in deps.items() if fn.fn is not None and n not in listed} - set(PAGE_ONLY)
    # the photo's box offer, and Enter in the box field (the page's copy of the public /mnist_explain_crop)
    crop_offer = ("offer_after_read", "offer_after_refusal", "after_box_read", "after_box_refusal", "hide_offer",
                  "explain_crop", "explain_crop_page")
    # the workshop room's pages (the phone's panel, the facilitator's page): their events are the page's own,
    # and every room action is public as a room_* endpoint (docs/API.md)
    rooms = {n for n in hidden if getattr(deps[n].fn, "__module__", "").startswith(
        ("gradcam_core.ui.room_phone", "gradcam_core.ui.facilitator"))}
    assert rooms and all(name in listed for name in ("/room_open", "/room_join", "/room_view", "/room_push",
                                                       "/room_answer", "/room_reveal", "/room_submit", "/room_results"))
    hidden -= rooms
    # the choices' labels in a page's language (ui/lang.py) and the methods a model offers (issue 29)
    own = ("set_choices", "model_methods")
    assert all(deps[n].fn.__name__ in ("show", "_mnist_show", "selected", "poll", "clear_credit", "mark_closed") + crop_offer + own
               or n.startswith(("/apply", "/tap_", "/_mnist_tap")) for n in hidden), sorted(hidden)
    # what they did is public under a documented name (README, "Public API")
    for name in ["/imagenet_explain", "/imagenet_explain_slow", "/mnist_explain_index", "/spurious_open"]:
        assert name in listed, name


def test_what_the_page_only_events_skipped_gets_a_clear_message_from_the_public_endpoints(served, tmp_path):
    _, _, client = served
    text = tmp_path / "notes.jpg"  # not an image, whatever its name says
    text.write_text("shopping list: milk, eggs\n")
    for name in ("/imagenet_explain", "/imagenet_explain_slow"):
        with pytest.raises(Exception, match="could not read this file as an image"):
            client.predict(handle_file(str(text)), "efficientnet_lite0", "_head_act", "Grad-CAM", "predicted", "none",
                           "max", "jet", 0.5, api_name=name)
    # a quick method sent to the slow queue runs (any method goes there); a slow one sent to the quick queue is
    # refused with a pointer (test_quick_endpoint_refuses_slow_methods_with_a_pointer)
    out = client.predict(handle_file(CAT), "efficientnet_lite0", "_head_act", "Grad-CAM", "predicted", "none",
                         "max", "jet", 0.5, api_name="/imagenet_explain_slow")
    assert out[1]["label"] and out[2]["url"].startswith("data:image/png")


def test_the_pages_router_still_skips_silently_what_the_page_shows_or_the_other_queue_runs():
    """The page's own handler (no API): the other queue's method, no photo or the result already shown → no
    change (the page would otherwise redraw or warn for nothing); a forced run of the same request runs."""
    args = ("efficientnet_lite0", "_head_act", "Grad-CAM", "predicted", "none", "max", "jet", 0.5)
    assert imagenet_tab.run_slow("auto:1", CAT, *args, state=None) == {}
    assert imagenet_tab.run_quick("auto:1", None, *args, state=None) == {}
    first = imagenet_tab.run_quick("auto:1", CAT, *args, state=None)
    assert first["label"] and first["state"]["tag"] == imagenet_tab._request_key(CAT, *args[:5])
    assert imagenet_tab.run_quick("auto:2", CAT, *args, state=first["state"]) == {}
    again = imagenet_tab.run_quick("force:3", CAT, *args, state=first["state"])
    assert again["label"] == first["label"] and again["state"]["key"] != first["state"]["key"]


def test_slow_endpoint_runs_score_cam(served):
    _, _, client = served
    # an early, narrow layer keeps this quick: Score-CAM on it is a handful of masked forwards
    layers = client.predict(api_name="/imagenet_models")
    lite = next(m for m in layers if m["key"] == "efficientnet_lite0")
    small = min(lite["layers"], key=lambda l: l.get("channels", 10 ** 6) if isinstance(l, dict) else 10 ** 6)
    layer = small["name"] if isinstance(small, dict) else small[0]
    out = client.predict(handle_file(CAT), "efficientnet_lite0", layer, "Score-CAM", "predicted", "none",
                         "max", "jet", 0.5, api_name="/imagenet_explain_slow")
    summary, top5, overlay, *_ , numbers = out
    assert top5["label"] and overlay["url"].startswith("data:image/png")
    assert "Score-CAM" in summary


def test_responses_are_gzipped_but_event_streams_are_not(served):
    _, url, _ = served
    for path in ("", "config"):
        req = urllib.request.Request(url + path, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.headers.get("Content-Encoding") == "gzip", path
            body = r.read()
        plain = urllib.request.urlopen(url + path, timeout=30).read()
        # (the first view's images are inline PNG, which does not compress further)
        assert len(body) * 3 < len(plain), (path, len(body), len(plain))
    # a queue event stream: never buffered by compression, so queue updates arrive as they happen
    session = uuid.uuid4().hex
    fn_index = next(i for i, fn in served[0].fns.items() if fn.api_name == "imagenet_models")
    join = urllib.request.Request(url + "gradio_api/queue/join", method="POST",
                                  data=json.dumps({"data": [], "fn_index": fn_index, "session_hash": session,
                                                   "event_data": None, "trigger_id": None}).encode(),
                                  headers={"Content-Type": "application/json"})
    urllib.request.urlopen(join, timeout=30).read()
    req = urllib.request.Request(url + f"gradio_api/queue/data?session_hash={session}",
                                 headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.headers.get("Content-Type", "").startswith("text/event-stream")
        assert r.headers.get("Content-Encoding") is None
        first = r.readline()
        assert first.startswith(b"data:"), first


def test_class_names_are_searched_not_inlined(served):
    demo, url, client = served
    config = json.loads(urllib.request.urlopen(url + "config", timeout=30).read())
    dropdowns = [c for c in config["components"] if c.get("type") == "dropdown"]
    assert max(len(c["props"].get("choices") or []) for c in dropdowns) <= 1 + imagenet_tab.MAX_CLASS_HITS
    assert "golden retriever" not in json.dumps(config)
    # typing in the class box lists the matches
    hits = imagenet_extras._class_search(imagenet_tab.PREDICTED, gr.KeyUpData(target=None, data={"key": "r",
                                                                                             "input_value": "retriever"}))
    choices = [c[0] if isinstance(c, (list, tuple)) else c for c in hits.choices]
    assert choices[0] == "predicted" and all("retriever" in c for c in choices[1:]) and len(choices) == 6  # the five retriever classes


def test_shortcuts_tab_is_computed_when_opened_not_at_page_load(served):
    demo, _, client = served
    deps = _deps_by_api(demo)
    assert any(t[1] == "select" for t in deps["/spurious_open"].targets)
    # a deep link is read in the browser: the only page-load event is js-only (no server call)
    loads = [fn for fn in demo.fns.values() if any(t[1] == "load" for t in fn.targets)]
    server_loads = sorted(fn.api_name for fn in loads if fn.fn is not None and fn.page == "")
    assert server_loads == ["imagenet_refresh_models"], server_loads
    # the facilitator's page (its own route, /facilitator) loads only its own first view: whether rooms
    # may be opened from there (the main page never runs it)
    route_loads = sorted((fn.page, fn.api_name) for fn in loads if fn.fn is not None and fn.page != "")
    assert route_loads == [("facilitator", "first_view")], route_loads
    # the MNIST tab's first view (digit #0) is part of the page: its prediction is in the config
    config = demo.get_config_file() if hasattr(demo, "get_config_file") else demo.config
    labels = [c for c in config["components"] if c.get("props", {}).get("elem_id") == "mnist-label"]
    assert labels and labels[0]["props"]["value"]["label"] == str(mnist_svc.held_out(0)[1].label)
    spurious_ids = {b._id for b in deps["/spurious_open"].outputs}
    for fn in loads:
        assert not spurious_ids & {b._id for b in fn.outputs}, fn.api_name
    # the link handlers compute only for their own tab (the page's own event: called here as the page does,
    # with the query string and the components' values; it is not in the API)
    link = deps["/spurious_open_from_link"]
    values = [getattr(c, "value", None) for c in link.inputs[1:]]
    pictures = lambda out: [v for v in out.values() if isinstance(v, np.ndarray) and v.ndim == 3]  # noqa: E731
    assert pictures(link.fn("?tab=mnist&digit=3", *values)) == []
    assert len(pictures(link.fn("?tab=spurious", *values))) >= 2


def test_link_handlers_read_the_query_string():
    from gradcam_core.ui.serving import LinkRequest

    assert LinkRequest("?tab=imagenet&photo=ex:a.jpg&alpha=0.3").query_params == {
        "tab": "imagenet", "photo": "ex:a.jpg", "alpha": "0.3"}
    assert LinkRequest("").query_params == {} and LinkRequest(None).query_params == {}
    assert app._tab_from_link("?tab=spurious").selected == "spurious"
    assert not isinstance(app._tab_from_link("?tab=nowhere"), gr.Tabs)
    # the MNIST tab answers only its own links (the page already shows digit #0 otherwise)
    assert mnist_tab.explain_from_query("?tab=imagenet&photo=ex:animals/chelsea_cat.jpg") is None
    assert mnist_tab.explain_from_query("?__theme=dark") is None
    view = mnist_tab.explain_from_query("?tab=mnist&digit=17&target=1")
    assert view.index == 17 and view.target == "1" and view.numbers["target"] == 1


def test_session_state_is_a_small_key(served):
    demo, url, _ = served
    client = Client(url, verbose=False, ssl_verify=False)
    client.predict(handle_file(CAT), "efficientnet_lite0", "_head_act", "Grad-CAM", "predicted", "none",
                   "max", "jet", 0.5, api_name="/imagenet_explain")
    session = demo.state_holder.session_data[client.session_hash]
    sizes = {k: len(pickle.dumps(v)) for k, v in session.state_data.items()}
    state = [v for v in session.state_data.values() if isinstance(v, dict) and "key" in v]
    assert state, sizes
    assert max(sizes.values()) < 4096, sizes
    # the kept result re-draws without a model run
    out = client.predict("minmax", "viridis", 0.4, False, api_name="/imagenet_restyle")
    assert out[0]["url"].startswith("data:image/png")


def test_kept_results_are_bounded_and_evicted_results_ask_for_a_new_run():
    kept = KeptResults(capacity=3)
    keys = [kept.put(i) for i in range(5)]
    assert len(kept) == 3 and kept.get(keys[0]) is None and kept.get(keys[4]) == 4
    kept.get(keys[2])  # used: now the newest
    kept.put(99)
    assert kept.get(keys[2]) == 2 and kept.get(keys[3]) is None
    kept.discard(keys[2])
    assert kept.get(keys[2]) is None and len(kept) == 2
    kept.discard(keys[2])  # already gone: nothing happens
    kept.discard(None)
    with pytest.raises(ValueError, match="Explain"):
        imagenet_tab._recall({"key": "gone", "tag": None})


class _Req:
    def __init__(self, session_hash):
        self.session_hash = session_hash


def test_slow_work_stops_when_its_browser_leaves():
    req = _Req("s-" + uuid.uuid4().hex)
    seen = []
    cb = serving.progress_callback(lambda f, desc=None: seen.append(f), req)
    cb(0.25, "one")
    assert seen == [0.25]
    serving.mark_closed(req)
    with pytest.raises(serving.Cancelled):
        cb(0.5, "two")
    assert seen == [0.25]
    assert serving.progress_callback(cb, req) is cb  # already wrapped: unchanged
    # other sessions go on; API calls without a session are never cancelled
    serving.progress_callback(None, _Req("other"))(0.1, "x")
    assert serving.progress_callback(None, None) is None

    @user_errors
    def job():
        cb(0.9, "three")

    with pytest.raises(gr.Error, match="closed"):
        job()


def test_slow_loop_really_stops(monkeypatch):
    """Score-CAM's batch loop calls the callback, so a closed session stops it within one batch."""
    import torch

    from gradcam_core.cam.methods import ScoreCAM
    from gradcam_core.models.lenet import load_lenet

    net = load_lenet()
    req = _Req("s-" + uuid.uuid4().hex)
    calls = []

    def progress(fraction, desc=None):
        calls.append(fraction)
        if len(calls) == 2:
            serving.mark_closed(req)

    cam = ScoreCAM(net, "conv2", batch_size=2, progress=serving.progress_callback(progress, req))
    with pytest.raises(serving.Cancelled):
        cam(torch.rand(1, 1, 28, 28), target=3)
    # ScoreCAM reports (done, total) masked forwards: conv2's 16 channels in batches of 2; it stopped
    # after the second batch instead of running all eight
    assert calls == [2.0, 4.0]


class _Holder:
    """The attributes of Gradio's StateHolder that forget_closed_sessions uses."""

    def __init__(self, sids, last_used):
        import threading

        self.session_data = {sid: object() for sid in sids}
        self.time_last_used = dict(last_used)
        self.lock = threading.Lock()
        self.states_deleted = []

    def delete_state(self, sid):  # Gradio's: runs the delete_callback of every gr.State of the session
        self.states_deleted.append(sid)


@pytest.mark.parametrize("grace", [900.0, 30.0])
def test_closed_sessions_are_forgotten_after_the_grace_period(monkeypatch, grace):
    import datetime
    import time

    monkeypatch.setattr(serving, "SESSION_GRACE", grace)  # never 0 here: the first assert must hold
    now_wall = datetime.datetime.now()
    old = now_wall - datetime.timedelta(seconds=2 * serving.SESSION_GRACE + 10)
    gone, back, open_ = ("g-" + uuid.uuid4().hex, "b-" + uuid.uuid4().hex, "o-" + uuid.uuid4().hex)
    holder = _Holder([gone, back, open_], {gone: old, back: now_wall, open_: old})
    monkeypatch.setitem(serving._holders, id(holder), holder)
    for sid in (gone, back):
        serving.mark_closed(_Req(sid))
    later = time.monotonic() + serving.SESSION_GRACE + 1
    assert serving.forget_closed_sessions(now=time.monotonic()) == 0  # within the grace: all kept
    assert holder.states_deleted == []
    dropped = serving.forget_closed_sessions(now=later)
    assert dropped == 1 and holder.states_deleted == [gone]
    assert gone not in holder.session_data          # left long ago, unused since: forgotten
    assert back in holder.session_data              # left, but came back and was used: kept
    assert open_ in holder.session_data             # never left: kept


def test_kept_state_releases_its_result_when_gradio_deletes_the_state():
    """gr.State's own hooks: time_to_live as set, and the delete_callback Gradio calls (from its
    StateHolder.delete_state) forgets the kept result the state pointed to."""
    kept = KeptResults(capacity=4)
    key, other = kept.put("explanation"), kept.put("another")
    state = serving.kept_state(kept, time_to_live=120)
    assert isinstance(state, gr.State) and state.time_to_live == 120
    state.delete_callback({"key": key, "tag": None})  # the ImageNet tab's value
    assert kept.get(key) is None and kept.get(other) == "another"
    state.delete_callback(other)  # a bare key
    assert kept.get(other) is None
    state.delete_callback(None)  # a state never set: nothing to release
    assert serving.kept_state(kept).time_to_live == serving.KEPT_STATE_TTL


def test_gradio_runs_the_kept_states_callback_when_a_session_is_forgotten():
    """The real StateHolder: forget_closed_sessions goes through its delete_state, so the callback runs."""
    import datetime
    import time

    from gradio.state_holder import StateHolder

    kept = KeptResults(capacity=4)
    with gr.Blocks() as demo:
        state = serving.kept_state(kept)
    holder = StateHolder()
    holder.set_blocks(demo)
    sid = "k-" + uuid.uuid4().hex
    key = kept.put("explanation")
    holder[sid][state._id] = {"key": key, "tag": None}
    holder.time_last_used[sid] = datetime.datetime.now() - datetime.timedelta(seconds=serving.SESSION_GRACE + 10)
    serving._holders[id(holder)] = holder
    try:
        serving.mark_closed(_Req(sid))
        assert serving.forget_closed_sessions(now=time.monotonic() + serving.SESSION_GRACE + 1) >= 1
    finally:
        serving._holders.pop(id(holder), None)
    assert sid not in holder.session_data and kept.get(key) is None


def test_a_phone_that_comes_back_is_not_cancelled():
    req = _Req("s-" + uuid.uuid4().hex)
    serving.mark_closed(req)            # left once (camera app, sleep)…
    cb = serving.progress_callback(None, req)   # …came back and asked for new work
    cb(0.5, "still here")               # not cancelled
    serving.mark_closed(req)            # leaves again while the work runs
    with pytest.raises(serving.Cancelled):
        cb(0.6, "gone")


def test_first_view_needs_no_web_fonts_and_its_label_module_is_fetched_first():
    from gradio.themes.utils import fonts

    from gradcam_core.ui.common import THEME

    assert not any(isinstance(f, (fonts.LocalFont, fonts.GoogleFont)) for f in THEME._font + THEME._font_mono)
    head = serving.preload_head()
    assert head.count('rel="modulepreload"') == 1, head
    name = head.split('href="./assets/')[1].split('"')[0]
    module = (Path(gr.__file__).parent / "templates" / "frontend" / "assets" / name).read_text()
    assert 'data-testid="label-output-value"' in module   # gr.Label's front-end module
    assert serving.preload_head(("no such marker anywhere",)) == ""


def test_result_files_live_in_gradios_cache_and_delete_cache_removes_them(monkeypatch):
    """The step pictures and downloads are written into gradio's cache (served where they are, not
    copied), and the app's delete_cache setting removes them once they are older than its age."""
    import time

    from gradio.utils import get_upload_folder

    monkeypatch.setattr(serving, "DELETE_CACHE", (1, 2))  # sweep every second, files older than 2 s
    demo = app.build_app()
    assert demo.delete_cache == (1, 2)
    url = launch_blocks(demo)
    try:
        client = Client(url, verbose=False, ssl_verify=False, download_files=False)
        out = client.predict(handle_file(CAT), "efficientnet_lite0", "_head_act", "Grad-CAM", "predicted", "none",
                             "max", "jet", 0.5, api_name="/imagenet_explain")
        ours = Path(get_upload_folder()).resolve() / "gradcam_explorer"
        files = [Path(f["path"]) for f in out[6]]  # the three downloads
        steps = [Path(item["image"]["path"]) for item in out[4]]
        assert len(files) == 3 and len(steps) >= 6
        for f in files + steps:  # served in place: the path gradio gives out is the one the app wrote
            assert f.resolve().is_relative_to(ours), f
        assert all(f.exists() for f in files + steps)
        deadline = time.monotonic() + 60  # a wait for an event, not a timing assertion
        while any(f.exists() for f in files + steps) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not any(f.exists() for f in files + steps), [str(f) for f in files + steps if f.exists()]
    finally:
        demo.close()


ALLOCATOR_CHILD = """
import gc, json, os, sys
from gradcam_core.ui import serving  # imported once (gradio: seconds of CPU); each setting runs in a fork
GLIBC = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_ARENA_MAX", "GRADCAM_MMAP_THRESHOLD", "GRADCAM_MALLOC_ARENAS")
def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:")) / 1024
def measure():
    done = serving.tune_allocator()
    b = bytearray(8 << 20); del b      # one large block freed: glibc's own threshold moves up past it
    r0 = rss()
    big, keep = [], []
    for i in range(200):
        big.append(bytearray(512 * 1024))  # 100 MB of half-megabyte blocks (a visit's photos, maps, PNGs)...
        keep.append(bytearray(4096))       # ...with small blocks that stay, in between
    del big
    gc.collect()
    return {"done": done, "kept_mb": rss() - r0}
for line in sys.stdin:                 # one JSON object of environment settings per line
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                       # a fresh copy of the process: its allocator not yet tuned
        os.close(read)
        for name in GLIBC:
            os.environ.pop(name, None)
        os.environ.update(json.loads(line))
        os.write(write, json.dumps(measure()).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as r:
        print(r.read(), flush=True)
    assert os.waitpid(pid, 0)[1] == 0
"""


def _allocator_children(*envs: dict) -> list[dict]:
    """What ``tune_allocator`` set and the RSS kept after freeing 100 MB, once per environment: each in
    a fork of one child that imported the app's serving module once. The fork's environment is the
    one ``tune_allocator`` reads (glibc read its own MALLOC_* variables when the child started, so a
    fork given them checks what ``tune_allocator`` does with them, which is all it ever checked)."""
    import json
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    base = {k: v for k, v in os.environ.items()
            if k not in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_ARENA_MAX", "GRADCAM_MMAP_THRESHOLD", "GRADCAM_MALLOC_ARENAS")}
    out = subprocess.run([sys.executable, "-c", ALLOCATOR_CHILD], cwd=root, capture_output=True, text=True,
                         input="".join(json.dumps(env) + "\n" for env in envs),
                         env={**base, "PYTHONPATH": str(root)}, check=True).stdout
    return [json.loads(line) for line in out.strip().splitlines()[-len(envs):]]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc (Linux)")
def test_the_servers_allocator_settings():
    """Issue 23: with glibc's defaults RSS grew ~1 MB per visit after every closed session was dropped
    (fragmented per-thread arenas; BENCHMARKS §9). app.main calls serving.tune_allocator: two arenas by
    default; GRADCAM_MMAP_THRESHOLD fixes the mmap threshold (its mechanism checked here: 100 MB of freed
    half-megabyte blocks go back to the system with it, and mostly stay without it); 0 or glibc's own
    variables leave glibc alone."""
    default, fixed, off, operators = _allocator_children(
        {}, {"GRADCAM_MMAP_THRESHOLD": "131072"}, {"GRADCAM_MALLOC_ARENAS": "0"},
        {"MALLOC_ARENA_MAX": "4", "GRADCAM_MMAP_THRESHOLD": "131072", "MALLOC_MMAP_THRESHOLD_": "65536"})
    if not default["done"]:
        pytest.skip("not glibc: mallopt is not available")
    assert default["done"] == {"arenas": serving.MALLOC_ARENAS} == {"arenas": 2}
    assert fixed["done"] == {"arenas": 2, "mmap_threshold": 131072}
    assert fixed["kept_mb"] < 10, fixed            # given back
    assert default["kept_mb"] > 50, default        # glibc's moving threshold keeps most of it
    assert off["done"] == {}
    assert operators["done"] == {}  # the operator's own choice wins
