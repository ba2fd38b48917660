"""The room pages' handlers (issue 26), value by value, on a real room in a temporary SQLite store:
the tap grid's value, the locked view's CSS, escaping, and a whole round through the phone's and the
facilitator's page handlers (join, push, poll, send, counts, reveal, own score, reload, locked view).
The browser side (taps, keyboard, six phones) is tests/test_rooms_browser.py."""
from __future__ import annotations

import io

import gradio as gr
import numpy as np
import pytest
import zxingcpp
from PIL import Image

from gradcam_core.present import codec, room_view
from gradcam_core.present.words import say
from gradcam_core.services import rooms as svc
from gradcam_core.ui import facilitator as fac
from gradcam_core.ui import room_phone as rp


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADCAM_ROOMS_URL", f"sqlite:///{tmp_path / 'rooms.sqlite3'}")
    svc.use_store(None)
    yield
    svc.use_store(None)


class _Req:
    """What the handlers read of a gr.Request: the session, the client and the headers."""

    def __init__(self, session: str = "s1", host: str = "127.0.0.1"):
        self.session_hash = session
        self.client = type("C", (), {"host": host})()
        self.headers = {"host": "127.0.0.1:7600"}
        self.request = None


def _update(v):
    """An update's fields (gr.Column(visible=…) and gr.update(…) alike)."""
    return v if isinstance(v, dict) else v.constructor_args if hasattr(v, "constructor_args") else v


# ----------------------------------------------------------------------------- the tap grid
def test_grid_value_holds_the_picture_the_grid_and_every_word_it_shows():
    pic = np.full((448, 448, 3), 200, np.uint8)
    v = rp.grid_value(pic, (7, 7), [3, 48, 49, -1, 10, 11])
    assert (v["h"], v["w"], v["max"], v["aspect"]) == (7, 7, 3, 1.0)
    assert v["cells"] == [3, 48, 10]  # off-grid cells dropped, at most three kept
    assert v["names"][0] == room_view.cell_name(0, (7, 7)) and v["names"][48] == room_view.cell_name(48, (7, 7))
    assert len(v["names"]) == 49
    assert v["chosen"] == [say("room_page.chosen", n=n, max=3) for n in range(4)]
    assert v["full"] == say("room_page.full", max=3) and v["locked"] is False
    assert codec.decode_data_url(v["src"]).size == (448, 448)
    assert rp.grid_value(None, (7, 7)) == {"h": 0} and rp.grid_value(pic, None) == {"h": 0}


def test_a_wide_picture_keeps_its_shape_on_the_grid():
    v = rp.grid_value(np.zeros((224, 448, 3), np.uint8), (7, 14))
    assert v["aspect"] == 2.0 and (v["h"], v["w"]) == (7, 14) and len(v["names"]) == 98


def test_lenet_cells_lie_where_they_look_on_the_tap_grid():
    """A digit exercise's cells are laid over what each looks at (room_view.edge_fractions): the CSS
    grid's tracks are those edges' widths, not equal."""
    centres = room_view.centre_fractions([[6.5 + 2 * k for k in range(8)]] * 2, (28, 28))
    v = rp.grid_value(np.zeros((448, 448, 3), np.uint8), (8, 8), centres=centres)
    rows, _cols = room_view.edge_fractions((8, 8), centres)
    tracks = [float(t[:-2]) for t in v["rows"].split()]
    assert len(tracks) == 8 and tracks == pytest.approx(np.diff(rows), abs=1e-5)
    assert tracks[0] > tracks[1]  # the outer cells reach the border: wider
    equal = rp.grid_value(np.zeros((448, 448, 3), np.uint8), (7, 7))
    assert equal["rows"] == equal["cols"] == " ".join(["0.14286fr"] * 7)


@pytest.mark.parametrize("value", [None, "3,4", {"cells": "3"}, {"cells": [True]}, {"cells": [1.5]}, {}])
def test_a_grid_value_that_is_not_a_list_of_cells_is_refused(value):
    with pytest.raises(gr.Error) as e:
        rp.chosen_cells(value)
    assert e.value.message == say("room_page.error.no_grid")


def test_sending_no_cell_says_to_tap_one():
    with pytest.raises(gr.Error) as e:
        rp.chosen_cells({"cells": []})
    assert e.value.message == say("room_page.error.no_cells")
    assert rp.chosen_cells({"cells": [4, 9]}) == [4, 9]


# ----------------------------------------------------------------------------- locked views
def test_a_locked_view_hides_the_other_tabs_and_every_control_not_kept():
    css = rp.lock_css("mnist", ["mnist-layer"])
    assert css.startswith("<style>") and css.endswith("</style>")
    assert '[data-tab-id="imagenet"]' in css and '[data-tab-id="spurious"]' in css
    assert '[data-tab-id="mnist"]' not in css
    hidden = {c for t in rp.LOCKABLE.values() for c in t} - {"mnist-layer"}
    assert all(f"#{c}" in css for c in hidden)
    assert "#mnist-layer," not in css and not css.count("#mnist-layer ")


def test_a_locked_view_writes_only_known_ids_into_the_page():
    css = rp.lock_css("imagenet", ["x} body {display:none", "imagenet-layer"])
    assert "body" not in css.replace("<style>", "") and "#imagenet-layer," not in css
    assert rp.lock_css("nowhere", ["mnist-layer"]) == "" and rp.lock_css(None) == ""


def test_every_lockable_control_has_a_name_and_exists_on_its_tab():
    from pathlib import Path

    src = "".join(p.read_text(encoding="utf-8") for p in Path(rp.__file__).parent.glob("*_tab.py"))
    src += Path(rp.__file__).with_name("cell_panel.py").read_text(encoding="utf-8")
    for tab, controls in rp.LOCKABLE.items():
        for elem_id in controls:
            assert f'"{elem_id}"' in src or elem_id.endswith("-cell"), elem_id
    assert [n for n, _ in rp.lockable_choices("mnist")] == [say(k) for k in rp.LOCKABLE["mnist"].values()]


def test_a_nickname_is_escaped_for_markdown_and_html():
    out = rp.plain("<img src=x onerror=alert(1)> *bold* [a](b)")
    assert "<" not in out and ">" not in out
    assert "\\*bold\\*" in out and "\\[a\\]\\(b\\)" in out


# ----------------------------------------------------------------------------- the facilitator's join panel
def test_the_join_panel_holds_a_qr_code_of_the_join_address_and_the_code():
    url = fac.join_address("http://10.1.2.3:7860/", "ACD34")
    assert url == "http://10.1.2.3:7860/?room=ACD34"
    html = fac.code_panel("ACD34", url)
    import base64
    import re

    png = re.search(r"base64,([A-Za-z0-9+/=]+)", html).group(1)
    found = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(base64.b64decode(png))))]
    assert found == [url]
    assert ">ACD34<" in html and "A C D 3 4" in html
    assert fac.join_address(None, "ACD34") is None
    assert "ACD34" in fac.code_panel("ACD34", None) and "base64" not in fac.code_panel("ACD34", None)


# ----------------------------------------------------------------------------- a whole round through the handlers
def _open(req) -> tuple[str, str]:
    out = fac.open_room("", req)
    return out["code_box"], out["key_box"]


def test_a_round_through_the_page_handlers(store):
    req = _Req("fac")
    code, key = _open(req)
    assert len(code) == svc.CODE_LENGTH and key

    # a phone opens ?room=CODE: the join form, no room request yet
    first = rp.enter(code, None, _Req("p1"))
    assert _update(first["join_box"])["visible"] is True and "saved" not in first
    joined = rp.join(code, "Ada <b>", None, _Req("p1"))
    saved, state = joined["saved"], joined["state"]
    assert saved["code"] == code and saved["nickname"] == "Ada <b>" and saved["pid"]
    assert "Ada &lt;b&gt;" in joined["status"] and "<b>" not in joined["status"]
    assert _update(joined["timer"])["active"] is True

    # nothing new: the timer's tick sends nothing
    assert rp.poll(state) == {}

    # the facilitator pushes a held-out digit (LeNet): the phone's next tick shows the grid
    fac.push(code, key, "guess", "digit:0", None, "", "predicted", "mnist", [], "")
    tick = rp.poll(state)
    ex = svc.phone_view(code, saved["pid"]).exercise
    grid = tick["grid"]
    assert (grid["h"], grid["w"]) == tuple(ex["grid"]) and grid["cells"] == [] and grid["locked"] is False
    assert _update(tick["guess_box"])["visible"] is True and _update(tick["fool_box"])["visible"] is False
    assert ex["class_name"] in tick["prompt"]
    state = tick["state"]
    assert rp.poll(state) == {}  # seen

    sent = rp.send(state, dict(grid, cells=[0, 9]), _Req("p1"))
    assert sent["grid"]["cells"] == [0, 9]
    assert sent["grid"]["note"] == say("room_page.sent", n=2, cells=room_view.cells_names([0, 9], tuple(ex["grid"])))
    counts = fac.refresh(code, key, {})
    assert counts["counts"] == room_view.counts_text(1, 1)
    assert fac.refresh(code, key, counts["seen"]) == {}  # nothing changed: nothing sent

    # the phone's tick after its own answer: no picture sent again
    tick = rp.poll(state)
    assert "grid" not in tick
    state = tick.get("state", state)

    shown = fac.reveal(code, key, None, None)
    r = svc.revealed(code, key)
    assert shown["projector_md"] == room_view.reveal_text(r.class_score, r.class_name, r.model_title)
    assert _update(shown["reveal_img"])["alt_text"] == room_view.reveal_alt(r.class_score, r.class_name)
    assert _update(shown["reveal_img"])["value"].shape == _update(shown["reveal_cam"])["value"].shape
    assert r.class_name in _update(shown["reveal_cam"])["label"]

    # the same taps against another class: the sentence names it and its numbers
    other = fac.reveal(code, key, "", "3")
    r3 = svc.revealed(code, key)
    assert r3.class_name == "3" and other["projector_md"] == room_view.reveal_text(r3.class_score, "3", r3.model_title)
    fac.reveal(code, key, "", "")  # back to the exercise's own class

    tick = rp.poll(state)
    view = svc.phone_view(code, saved["pid"])
    assert tick["own_text"] == room_view.own_text(view.my_score, ex["class_name"])
    assert _update(tick["own"])["alt_text"] == room_view.own_alt(view.my_score)
    assert tick["grid"]["locked"] is True and tick["grid"]["cells"] == [0, 9]
    assert _update(tick["send"])["visible"] is False

    # a reload: the saved id brings the phone back under its nickname, with its score
    back = rp.enter(code, saved, _Req("p1-reload"))
    assert back["saved"] == saved and "Ada &lt;b&gt;" in back["status"]
    assert back["own_text"] == tick["own_text"]

    # a locked view: the tab, the controls kept, the deep link through the page's query box
    fac.push(code, key, "locked", "", None, "", "", "mnist", ["mnist-layer"], "?tab=mnist&digit=3")
    tick = rp.poll(back["state"])
    assert tick["lock"] == rp.lock_css("mnist", ["mnist-layer"])
    assert tick["_locked"] == ("mnist", "tab=mnist&digit=3")
    assert _update(tick["guess_box"])["visible"] is False

    files = fac.results(code, key)["results"]
    # the slide of the one reveal, drawn again from the store (its exercise went back to its own class)
    assert [f.rsplit(".", 1)[1] for f in files] == ["csv", "json", "png"]
    slide = np.asarray(Image.open(files[2]).convert("RGB"))
    assert np.array_equal(slide, room_view.slide(svc.reveals(code, key)[0]))
    csv_text = open(files[0], encoding="utf-8").read()
    assert "Ada <b>" in csv_text and "0 9" in csv_text

    closed = fac.close(code, key)
    assert closed["code_box"] == "" and closed["key_box"] == ""
    gone = rp.poll(tick["state"])
    assert gone["status"] == say("room_page.gone", code=code) and _update(gone["timer"])["active"] is False


def test_a_wrong_key_is_refused_on_every_facilitator_action(store):
    code, key = _open(_Req("fac"))
    for action in (lambda k: fac.push(code, k, "fool", "", None, "", "", "", [], ""),
                   lambda k: fac.reveal(code, k), lambda k: fac.results(code, k), lambda k: fac.close(code, k),
                   lambda k: fac.resume(code, k, _Req("fac"))):
        with pytest.raises(ValueError):
            action(key[:-1] + ("A" if key[-1] != "A" else "B"))
    with pytest.raises(gr.Error):
        fac.push(code, "", "fool", "", None, "", "", "", [], "")
    assert fac.refresh(code, "nope", {})["timer"].constructor_args["active"] is False


def test_an_unknown_or_closed_room_says_so_and_offers_no_join(store):
    out = rp.enter("ACDEF", None, _Req())
    assert out["status"] == say("room_page.gone", code="ACDEF") and "join_box" not in out
    assert rp.enter("", None, _Req()) == {}


def test_sending_before_joining_says_to_join(store):
    with pytest.raises(gr.Error) as e:
        rp.send({}, {"cells": [1]}, _Req())
    assert e.value.message == say("room_page.error.not_joined")


def test_the_facilitator_page_asks_for_the_password_only_on_a_public_server(store, monkeypatch):
    from gradcam_core.ui import room_api

    monkeypatch.setitem(room_api._settings, "workshop", False)
    phone_far_away = _Req("far", host="203.0.113.7")
    monkeypatch.delenv("GRADCAM_FACILITATOR_PASSWORD", raising=False)
    off = fac.first_view(phone_far_away)  # public, no password set: rooms are off, and the page says how to turn them on
    assert _update(off["off"])["value"] == say("room.off_public") and _update(off["open"])["visible"] is False
    with pytest.raises(ValueError):
        fac.open_room("", phone_far_away)
    assert _update(fac.first_view(_Req("here"))["password"])["visible"] is False  # the laptop itself: no password

    monkeypatch.setenv("GRADCAM_FACILITATOR_PASSWORD", "s3cret")
    asks = fac.first_view(phone_far_away)
    assert _update(asks["password"])["visible"] is True and "off" not in asks
    with pytest.raises(ValueError):
        fac.open_room("wrong", phone_far_away)
    assert len(fac.open_room("s3cret", phone_far_away)["code_box"]) == svc.CODE_LENGTH
    monkeypatch.setitem(room_api._settings, "workshop", True)  # --workshop: anyone, no password
    assert _update(fac.first_view(phone_far_away)["password"])["visible"] is False
