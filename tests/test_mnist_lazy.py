"""Issue 27, the MNIST tab: the page's answer draws its eight steps only when they are open; opened,
they equal the API's full answer pixel for pixel; the API answers as before."""
from __future__ import annotations

import gradio as gr
import numpy as np
import pytest

from gradcam_core.present import mnist_view
from gradcam_core.present.words import say
from gradcam_core.ui import mnist_js
from gradcam_core.ui import mnist_tab as tab

SETTINGS = [  # (index, target, channel, layer, cmap, placement)
    (0, "predicted", "strongest", "relu2", "jet", "receptive field"),
    (7, "3", "5", "conv2", "viridis", "stretched"),
    (42, "predicted", "strongest", "pool2", "magma", "receptive field"),
]


@pytest.fixture(scope="module")
def demo() -> gr.Blocks:
    import app

    return app.build_app()


def _fn(demo: gr.Blocks, api_name: str):
    found = [f for f in demo.fns.values() if f.api_name == api_name]
    assert len(found) == 1, api_name
    return found[0]


def _by_id(answer: dict) -> dict:
    """{component id: value} of an event's {component: value} answer."""
    return {c._id: v for c, v in answer.items()}


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return a is not None and b is not None and np.asarray(a).shape == np.asarray(b).shape and np.array_equal(a, b)
    return a == b


def _ids(demo: gr.Blocks, api_name: str) -> list[int]:
    return [getattr(c, "_id", c) for c in _fn(demo, api_name).outputs]


def _full(demo: gr.Blocks, index, *settings) -> dict:
    return _by_id(_fn(demo, "mnist_explain_index").fn(index, *settings))


def _page(demo: gr.Blocks, index, *settings, kept=None) -> dict:
    return _by_id(_fn(demo, "mnist_page_index").fn(index, *settings, kept))


def _opened(demo: gr.Blocks, kept) -> dict:
    return _by_id(_fn(demo, "mnist_open_steps").fn(kept))


def _steps(demo: gr.Blocks) -> list[int]:
    return _ids(demo, "mnist_explain_index")[5:29]


def _kept_id(demo: gr.Blocks) -> int:
    return _ids(demo, "mnist_page_index")[-1]


def _box_id(demo: gr.Blocks) -> int:
    """The page's alt box (a11y.alt_box): the page's events send the images' texts there, as JSON."""
    return _ids(demo, "mnist_page_index")[-2]


def _texts(value) -> dict:
    """The alt box's JSON as {image id: text} (JSON keys are strings)."""
    import json

    return {int(k): v for k, v in json.loads(value).items()}


def test_the_view_draws_its_steps_on_first_read_as_the_full_drawing_does():
    v = tab.explain_index(3, "predicted", "strongest", "relu2")
    assert v.drawn_steps is None and v.step_alts is None and "steps" not in v.first_alts  # nothing drawn yet
    steps, alts = mnist_view.draw_steps(v.result)
    assert len(v.steps) == 24 and v.alts["steps"] == alts
    assert all(_same(a, b) for a, b in zip(v.steps, steps))
    assert np.array_equal(v.overlay, v.steps[22])  # the overlay is step 8's picture, drawn the same way


def test_the_api_keeps_its_full_answer_and_the_page_events_are_private(demo):
    names = {f.api_name: f for f in demo.fns.values()}
    for name in ("mnist_explain_index", "mnist_explain_index_submit", "mnist_explain_drawing", "mnist_explain_upload",
                 "mnist_explain_crop", "mnist_change_target", "mnist_change_channel", "mnist_change_layer",
                 "mnist_change_cmap", "mnist_change_placement"):
        f = names[name]
        assert f.api_visibility == "public" and len(f.outputs) == 5 + 24 + 1 + 2, name
    for name in ("mnist_page_index", "mnist_page_submit", "mnist_page_drawing", "mnist_page_upload",
                 "mnist_page_change_target", "mnist_pick_from_grid", "mnist_open_steps", "mnist_draw_open_steps"):
        assert names[name].api_visibility == "private", name
    info = demo.get_api_info()["named_endpoints"]
    assert len(info["/mnist_explain_index"]["returns"]) == 29  # as before (the digit is a gr.State)
    assert not [n for n in info if n.startswith(("/mnist_page_", "/mnist_open_", "/mnist_draw_"))]


@pytest.mark.parametrize("setting", SETTINGS)
def test_the_steps_once_opened_equal_the_full_answer(demo, setting):
    index, *settings = setting
    full = _full(demo, index, *settings)
    page = _page(demo, index, *settings)
    steps = _steps(demo)
    # the page's answer: the same prediction, overlay, digit, numbers, link; no steps; a kept key
    assert not set(steps) & set(page)
    alts = _ids(demo, "mnist_explain_index")[-1]
    shared = [c for c in full if c not in steps and c in page and c != alts]
    assert len(shared) == 7 and all(_same(full[c], page[c]) for c in shared)
    assert alts not in page  # the page's texts go to its alt box (set in the browser), not to the alt state
    texts = _texts(page[_box_id(demo)])
    assert texts.items() <= full[alts].items() and len(texts) == 2  # the overlay's and the digit's
    key = page[_kept_id(demo)]
    assert isinstance(key, str) and tab.KEPT.get(key) is not None
    opened = _opened(demo, key)
    assert all(_same(full[c], opened[c]) for c in steps)  # pixel for pixel, texts and code alike
    img = opened[steps[22]]
    assert img.shape[0] > 100 and np.array_equal(img, full[_ids(demo, "mnist_explain_index")[1]])  # step 8 = overlay
    # opening twice gives the same steps (from the kept result, not a new run)
    again = _opened(demo, key)
    assert all(_same(opened[c], again[c]) for c in steps)


def test_the_step_alts_come_with_the_opened_steps(demo):
    full = _fn(demo, "mnist_explain_index").fn(9, "predicted", "strongest", "relu2", "jet", "stretched")
    page = _page(demo, 9, "predicted", "strongest", "relu2", "jet", "stretched")
    alts_id = _ids(demo, "mnist_explain_index")[-1]
    full_alts = _by_id(full)[alts_id]
    opened = _opened(demo, page[_kept_id(demo)])
    step_alts = _texts(opened[_box_id(demo)])
    assert len(step_alts) == 8 and all(full_alts[k] == v for k, v in step_alts.items())
    # overlay + seen now, the steps' when opened
    assert set(_texts(page[_box_id(demo)])) | set(step_alts) == set(full_alts)


def test_the_page_answer_has_no_step_outputs_and_open_steps_follow_it(demo):
    """No step among the page answer's outputs (each left-out output would cost Gradio a component
    update); while the steps are open, the page presses the button whose event draws them."""
    steps = set(_steps(demo))
    for name in ("mnist_page_index", "mnist_page_submit", "mnist_page_drawing", "mnist_page_upload",
                 "mnist_page_change_layer", "mnist_pick_from_grid"):
        assert not steps & set(_ids(demo, name)), name
    draw = _fn(demo, "mnist_draw_open_steps")
    assert draw.inputs == _fn(demo, "mnist_open_steps").inputs and set(_ids(demo, "mnist_draw_open_steps")) >= steps
    button = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "mnist-steps-draw")
    assert list(draw.targets) == [(button._id, "click")] and button.visible == "hidden"
    assert "#mnist-steps-draw" in mnist_js.DRAW_IF_OPEN and "__mnistStepsOpen" in mnist_js.DRAW_IF_OPEN


def test_an_answer_while_the_steps_are_open_is_followed_by_its_steps(demo):
    full = _full(demo, 11, "predicted", "strongest", "conv2", "jet", "receptive field")
    key = _page(demo, 11, "predicted", "strongest", "conv2", "jet", "receptive field")[_kept_id(demo)]
    drawn = _by_id(_fn(demo, "mnist_draw_open_steps").fn(key))
    assert all(_same(full[c], drawn[c]) for c in _steps(demo))


def test_opening_before_any_answer_shows_the_first_views_steps(demo):
    first = tab.first_view()
    opened = _opened(demo, None)
    assert all(_same(a, opened[c]) for a, c in zip(first.steps, _steps(demo)))
    full = _full(demo, 0, "predicted", "strongest", "relu2", "jet", "receptive field")
    assert all(_same(full[c], opened[c]) for c in _steps(demo))


def test_a_new_answer_lets_the_previous_kept_result_go(demo):
    first = _page(demo, 1, "predicted", "strongest", "relu2", "jet", "receptive field")[_kept_id(demo)]
    second = _page(demo, 2, "predicted", "strongest", "relu2", "jet", "receptive field", kept=first)[_kept_id(demo)]
    assert first != second and tab.KEPT.get(first) is None and tab.KEPT.get(second) is not None
    full = _full(demo, 2, "predicted", "strongest", "relu2", "jet", "receptive field")
    opened = _opened(demo, second)
    assert all(_same(full[c], opened[c]) for c in _steps(demo))


def test_an_evicted_result_says_so_and_clears_the_steps(demo, monkeypatch):
    warned = []
    monkeypatch.setattr(gr, "Warning", lambda msg, *a, **k: warned.append(msg))
    key = _page(demo, 5, "predicted", "strongest", "relu2", "jet", "receptive field")[_kept_id(demo)]
    tab.KEPT.discard(key)
    opened = _opened(demo, key)
    steps = _steps(demo)
    assert warned == [say("ui.mnist.steps_gone")] and opened[steps[0]] == say("ui.mnist.steps_gone")
    assert all(opened[c] is None for c in steps[1:])


def test_gradio_still_injects_the_grid_taps_event_data_into_the_page_event(demo):
    """The page's events keep the handlers' signatures and annotations (+ the kept key), so Gradio
    gives the grid tap its SelectData and the link its Request, at their places."""
    from gradio.events import SelectData
    from gradio.helpers import special_args

    dep = _fn(demo, "mnist_pick_from_grid")
    tap = SelectData(None, {"index": 7, "value": None, "selected": True})
    args, _, event_index, _ = special_args(dep.fn, [1, "predicted", "strongest", "relu2", "jet", "receptive field",
                                                    None], event_data=tap)
    assert event_index == 3 and isinstance(args[3], SelectData) and args[3].index == 7 and len(args) == 8
    answer = _by_id(dep.fn(*args))
    outs = _ids(demo, "mnist_pick_from_grid")
    assert answer[outs[0]] == 7  # the index moved to the tapped digit
    full = _full(demo, 7, "predicted", "strongest", "relu2", "jet", "receptive field")
    label = _ids(demo, "mnist_explain_index")[0]
    assert answer[label] == full[label]
