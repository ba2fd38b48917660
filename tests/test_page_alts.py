"""Issue 27, the cost around an ImageNet page answer: the images' text alternatives reach the page inside
the answer (a hidden box set in the browser), not through a second server event per answer; a new photo
clears the example's credit in the browser. The texts are the ones the full (API) answer gives."""
from __future__ import annotations

import json
import shutil
import subprocess

import gradio as gr
import pytest

from gradcam_core.data.examples import load_manifest
from gradcam_core.ui import a11y
from gradcam_core.ui import imagenet_tab as tab

LITE = "efficientnet_lite0"
CAT = next(e["path"] for e in load_manifest() if e["file"].endswith("chelsea_cat.jpg"))
ARGS = (LITE, "_head_act", "Grad-CAM", "predicted", "none", "max", "jet", 0.5)


@pytest.fixture(scope="module")
def demo() -> gr.Blocks:
    import app

    return app.build_app()


def _dep(demo: gr.Blocks, api_name: str):
    found = [f for f in demo.fns.values() if f.api_name == api_name]
    assert len(found) == 1, api_name
    return found[0]


def _listeners(demo: gr.Blocks, block, event: str) -> list:
    return [f for f in demo.fns.values() if any(t[0] == block._id and t[1] == event for t in f.targets)]


def _run_js(js: str, value) -> list:
    """The js-only event body run by node on ``value``, as the page runs it."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    out = subprocess.run([node, "-e", f"const f = {js}; console.log(JSON.stringify(f({json.dumps(value)})));"],
                         capture_output=True, text=True, check=True, timeout=30)
    return json.loads(out.stdout)


def test_the_page_answer_carries_the_full_answers_texts(demo):
    run = _dep(demo, "imagenet_run")
    api = _dep(demo, "imagenet_explain")
    full = api.fn(CAT, *ARGS, progress=None)
    page = run.fn("force:1", CAT, *ARGS, None, whole=False)
    full_alts = next(v for c, v in full.items() if isinstance(c, gr.State) and isinstance(v, dict) and "overlay" in v)
    box = next(c for c in run.outputs if isinstance(c, gr.Textbox) and not c.visible and c in page)
    texts = json.loads(page[box])
    assert texts == full_alts and set(texts) == {"overlay", "heatmap"}
    assert all(len(t.split()) >= 8 for t in texts.values())  # sentences, from the map's numbers
    # the API's event keeps its alt state (its answer unchanged); the page's event has the box instead
    alts_state = api.outputs[tab.EXPLAIN_OUTPUTS.index("alts")]
    assert isinstance(alts_state, gr.State) and alts_state not in run.outputs and box not in api.outputs
    assert run.outputs[tab.EXPLAIN_OUTPUTS.index("alts")] is box


def test_the_box_sets_the_texts_in_the_browser_without_a_request(demo):
    run = _dep(demo, "imagenet_run")
    page = run.fn("force:1", CAT, *ARGS, None, whole=False)
    box = next(c for c in run.outputs if isinstance(c, gr.Textbox) and not c.visible and c in page)
    listeners = _listeners(demo, box, "change")
    assert len(listeners) == 1
    event = listeners[0]
    assert event.fn is None and event.js and not event.queue  # js only: the page does it, no server event
    api = _dep(demo, "imagenet_explain")
    assert event.outputs == [api.outputs[tab.EXPLAIN_OUTPUTS.index(n)] for n in ("overlay", "heatmap")]
    updates = _run_js(event.js, page[box])
    texts = json.loads(page[box])
    assert updates == [{"__type__": "update", "alt_text": texts["overlay"]},
                       {"__type__": "update", "alt_text": texts["heatmap"]}]


@pytest.mark.parametrize("value, expected", [
    (None, [None, None]),
    ("", [None, None]),
    ("not json", [None, None]),
    ('{"overlay": "A map."}', [{"__type__": "update", "alt_text": "A map."}, None]),
    ('{"heatmap": "Raw.", "other": "x"}', [None, {"__type__": "update", "alt_text": "Raw."}]),
])
def test_the_box_script_leaves_an_image_without_a_text_as_it_is(value, expected):
    # JSON.stringify writes undefined array items as null: null here means "left as it is"
    assert _run_js(a11y.alt_box_js(["overlay", "heatmap"]), value) == expected


def test_alt_json_round_trips_and_says_nothing_for_no_texts():
    texts = {"overlay": "Heat sits on the cat’s face: 41 % of it.", "heatmap": "Café"}
    assert json.loads(a11y.alt_json(texts)) == texts
    assert a11y.alt_json({}) is None and a11y.alt_json(None) is None


def test_a_new_photo_clears_the_credit_in_the_browser(demo):
    photo = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "imagenet-photo")
    uploads = _listeners(demo, photo, "upload")
    assert len(uploads) == 1 and uploads[0].fn is None and not uploads[0].queue
    assert _run_js(tab.CLEAR_CREDIT_JS, None) == ""
    assert tab.clear_credit() == ""  # the same value as the server's function gave


def test_the_mnist_page_sends_its_texts_to_its_box_and_the_api_keeps_its_state(demo):
    page_dep, api = _dep(demo, "mnist_page_index"), _dep(demo, "mnist_explain_index")
    settings = ("predicted", "strongest", "relu2", "jet", "receptive field")
    full = api.fn(5, *settings)
    page = page_dep.fn(5, *settings, None)
    state = api.outputs[-1]
    assert isinstance(state, gr.State) and state not in page_dep.outputs
    box = page_dep.outputs[-2]
    assert isinstance(box, gr.Textbox) and not box.visible and box not in api.outputs
    texts = json.loads(page[box])
    assert {int(k): v for k, v in texts.items()}.items() <= full[state].items() and len(texts) == 2
    (event,) = _listeners(demo, box, "change")
    assert event.fn is None and event.js and not event.queue
    overlay, seen = api.outputs[1], api.outputs[3]
    updates = _run_js(event.js, page[box])
    assert len(updates) == len(event.outputs) == 10  # the overlay, what LeNet sees, the eight step images
    by_image = dict(zip(event.outputs, updates))
    assert by_image[overlay] == {"__type__": "update", "alt_text": full[state][overlay._id]}
    assert by_image[seen] == {"__type__": "update", "alt_text": full[state][seen._id]}
    assert sum(u is None for u in updates) == 8  # the steps' texts come when the steps are drawn
    opened = _dep(demo, "mnist_open_steps").fn(page[page_dep.outputs[-1]])
    step_updates = [u for u in _run_js(event.js, opened[box]) if u is not None]
    assert len(step_updates) == 8 and all(u["alt_text"] in full[state].values() for u in step_updates)


def test_an_imagenet_links_texts_go_to_the_box_too(demo, tmp_path, monkeypatch):
    from PIL import Image, ImageOps

    monkeypatch.setenv("GRADCAM_LINK_DIR", str(tmp_path / "links"))
    photo = tmp_path / "photo.png"
    with Image.open(CAT) as im:
        ImageOps.mirror(im).save(photo)
    link = tab.make_link(str(photo), *ARGS)
    dep = _dep(demo, "imagenet_from_link")
    api = _dep(demo, "imagenet_explain")
    out = dep.fn("?" + link.split("?", 1)[1], progress=None)
    box = next(c for c in dep.outputs if isinstance(c, gr.Textbox) and not c.visible and c in out
               and isinstance(out[c], str) and out[c].startswith("{"))
    full = api.fn(str(photo), *ARGS, progress=None)
    assert json.loads(out[box]) == full[api.outputs[tab.EXPLAIN_OUTPUTS.index("alts")]]
    assert api.outputs[tab.EXPLAIN_OUTPUTS.index("alts")] not in dep.outputs
    (event,) = _listeners(demo, box, "change")
    assert event.fn is None and not event.queue
