"""Issue 26 in a real browser: one facilitator (a desktop) and six phones (390×844, touch) in one room.

The app is started as a user starts it (``python app.py``) with its rooms in a fresh folder; the test
reads the same SQLite store through the room service to check what the pages show. Each phone opens
the join address the facilitator's page shows and joins with a nickname; the facilitator pushes a guess
on an example photo; the phones tap cells with a finger (one answers with the keyboard) and send; the
projector counts six answers, never showing them; on Reveal every phone shows its own cells on the
Grad-CAM and the sentence of its own numbers. Then a fool-the-model round: a phone's photo stays off the
projector until the facilitator approves it, and Remove takes it off again. One phone reloads and is
back in the room under its nickname. No page scrolls sideways.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CHROMIUM, stop_process, wait_listening

from gradcam_core.present import room_view
from gradcam_core.present.words import say

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
PHOTO = ROOT / "examples" / "animals" / "chelsea_cat.jpg"
N_PHONES = 6
#: each phone's cells (flat indices on the 7×7 grid of EfficientNet-Lite0); phone 0 answers by keyboard
TAPS = [None, [24], [16, 17], [0, 24, 48], [30, 31], [10, 11, 12]]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed "
                                "(tests/run.sh installs it with apt-get)")


def _port() -> int:
    """A free port of this helper's range (7650–7699), else any free one."""
    for port in range(7650, 7700):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    from conftest import free_port

    return free_port()


@pytest.fixture(scope="module")
def rooms_server(tmp_path_factory):
    """``python app.py`` with its rooms in a fresh folder; (url, rooms folder)."""
    rooms = tmp_path_factory.mktemp("rooms")
    port = _port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", GRADCAM_ROOMS_DIR=str(rooms))
    env.pop("GRADCAM_ROOMS_URL", None)
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "rooms-browser-server.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, text=True)
    wait_listening(proc, port, ARTIFACTS / "rooms-browser-server.log")
    yield f"http://127.0.0.1:{port}/", rooms
    stop_process(proc)
    log.close()


@pytest.fixture(scope="module")
def service(rooms_server):
    """The room service of this test process, on the server's store (the same SQLite file)."""
    from gradcam_core.services import rooms as svc

    old = os.environ.get("GRADCAM_ROOMS_DIR")
    os.environ["GRADCAM_ROOMS_DIR"] = str(rooms_server[1])
    os.environ.pop("GRADCAM_ROOMS_URL", None)
    svc.use_store(None)
    yield svc
    svc.use_store(None)
    if old is None:
        os.environ.pop("GRADCAM_ROOMS_DIR", None)
    else:
        os.environ["GRADCAM_ROOMS_DIR"] = old


def _no_sideways_scroll(page) -> None:
    sw, iw = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert sw <= iw + 1, f"the page scrolls sideways: content {sw}px wide in a {iw}px viewport"


def _text(page, selector: str) -> str:
    return page.evaluate("(s) => { const e = document.querySelector(s); return e ? e.innerText : ''; }", selector)


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d+", text)


def _pid(svc, code: str, nickname: str) -> str:
    people = [p for p in svc.store().people(code) if p.nickname == nickname]
    assert len(people) == 1, (nickname, [p.nickname for p in svc.store().people(code)])
    return people[0].pid


def _pressed(page) -> list[int]:
    return page.evaluate("() => [...document.querySelectorAll('#room-grid .tg-cell[aria-pressed=true]')]"
                         ".map(b => Number(b.dataset.cell))")


def test_a_class_guesses_reveals_and_fools_the_model(rooms_server, service, browser):
    url, _rooms = rooms_server
    svc = service
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    fctx = browser.new_context(viewport=DESKTOP)
    fac = fctx.new_page()
    fac.on("pageerror", lambda e: errors.append(f"facilitator: {e}"))
    phones = []
    try:
        # ---------------------------------------------------------------- open a room
        fac.goto(url + "facilitator", wait_until="domcontentloaded")
        fac.locator("#fac-open").click()
        fac.wait_for_function("() => /[?&]key=/.test(location.search)", timeout=30000)
        code = fac.evaluate("() => new URLSearchParams(location.search).get('room')")
        key = fac.evaluate("() => new URLSearchParams(location.search).get('key')")
        svc.check_key(code, key)  # the address holds the room's real key
        join_url = _text(fac, "#fac-code .fac-url").strip()
        assert join_url == url + "?room=" + code
        assert _text(fac, "#fac-code .fac-big").strip() == code

        # ---------------------------------------------------------------- six phones join by the join address
        for i in range(N_PHONES):
            ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
            page = ctx.new_page()
            page.on("pageerror", lambda e, i=i: errors.append(f"phone {i}: {e}"))
            page.goto(join_url, wait_until="domcontentloaded")
            phones.append((ctx, page))
        for i, (_ctx, page) in enumerate(phones):
            page.locator("#room-join").wait_for(timeout=120000)
            page.locator("#room-nickname input").fill(f"Phone {i}")
            page.tap("#room-join")
        for i, (_ctx, page) in enumerate(phones):
            page.wait_for_function("(n) => (document.querySelector('#room-status')?.innerText || '').includes(n)",
                                   arg=f"Phone {i}", timeout=60000)
        fac.wait_for_function("(t) => (document.querySelector('#fac-counts')?.innerText || '').includes(t)",
                              arg=room_view.counts_text(N_PHONES, 0), timeout=30000)
        # the facilitator's route adds no navbar to either page
        assert not fac.locator(".nav-holder").is_visible() and not phones[0][1].locator(".nav-holder").is_visible()

        # ---------------------------------------------------------------- push a guess on an example photo
        times = {}
        t0 = time.monotonic()
        fac.locator("#fac-push").click()
        fac.wait_for_function("() => /\\S/.test(document.querySelector('#fac-pushed [data-testid=markdown]')?.innerText"
                              " || '')", timeout=120000)
        times["push_computed_s"] = round(time.monotonic() - t0, 2)  # the picture's CAM, on the server
        t1 = time.monotonic()
        for _ctx, page in phones:
            page.wait_for_selector("#room-grid .tg-cell", timeout=120000)
        times["pushed_to_all_6_phones_s"] = round(time.monotonic() - t1, 2)
        ex = svc.phone_view(code, _pid(svc, code, "Phone 1")).exercise
        h, w = ex["grid"]
        assert (h, w) == (7, 7)
        for _ctx, page in phones:
            box = page.locator("#room-grid .tg-cell").first.bounding_box()
            assert box["height"] >= 44 and box["width"] >= 44, box
            _no_sideways_scroll(page)

        # phone 0: the keyboard (arrow keys move, Enter toggles)
        kb = phones[0][1]
        kb.locator('#room-grid [data-cell="0"]').focus()
        for k in ("ArrowRight", "ArrowRight", "ArrowDown", "Enter", "ArrowDown", "Enter"):
            kb.keyboard.press(k)
        assert _pressed(kb) == [9, 16]
        kb.keyboard.press("ArrowUp")
        kb.keyboard.press(" ")  # Space toggles too: 9 off
        assert _pressed(kb) == [16]
        kb.keyboard.press("Enter")
        TAPS[0] = [16, 9]
        # the others: fingers
        for i, (_ctx, page) in enumerate(phones[1:], 1):
            for cell in TAPS[i]:
                page.tap(f'#room-grid [data-cell="{cell}"]')
            assert sorted(_pressed(page)) == sorted(TAPS[i])
        # a fourth tap says so and chooses nothing
        p3 = phones[3][1]
        p3.tap('#room-grid [data-cell="1"]')
        assert _text(p3, "#room-grid .tg-note") == say("room_page.full", max=3)
        assert sorted(_pressed(p3)) == [0, 24, 48]

        # the projector counts answers while none is sent
        assert room_view.counts_text(N_PHONES, 0) in _text(fac, "#fac-counts")
        for _ctx, page in phones:
            page.tap("#room-send")
        for i, (_ctx, page) in enumerate(phones):
            page.wait_for_function("() => /Sent/.test(document.querySelector('#room-grid .tg-note')?.innerText || '')",
                                   timeout=30000)
            ans = {a.pid: a.body["cells"] for a in svc.store().answers(code, ex["id"])}
            assert ans[_pid(svc, code, f"Phone {i}")] == sorted(TAPS[i])
        fac.wait_for_function("(t) => (document.querySelector('#fac-counts')?.innerText || '').includes(t)",
                              arg=room_view.counts_text(N_PHONES, N_PHONES), timeout=30000)
        projector = _text(fac, "#fac-projector")
        assert "Phone" not in projector  # the answers are counted, never shown
        fac.screenshot(path=str(ARTIFACTS / "rooms-facilitator-answers.png"), full_page=False)

        # ---------------------------------------------------------------- reveal
        t0 = time.monotonic()
        fac.locator("#fac-reveal").click()
        fac.wait_for_function("() => document.querySelectorAll('#fac-projector .fac-reveal-row img[src]').length === 3",
                              timeout=60000)
        times["reveal_on_projector_s"] = round(time.monotonic() - t0, 2)
        r = svc.revealed(code, key)
        sentence = room_view.reveal_text(r.class_score, r.class_name, r.model_title)
        fac.wait_for_function("() => /\\d/.test(document.querySelector('#fac-sentence')?.innerText || '')")
        assert _numbers(_text(fac, "#fac-sentence [data-testid=markdown]")) == _numbers(sentence)
        alt = fac.evaluate("() => document.querySelector('#fac-reveal-taps img[src]').getAttribute('alt')")
        assert alt == room_view.reveal_alt(r.class_score, r.class_name)
        assert r.class_score.answered == N_PHONES
        for i, (_ctx, page) in enumerate(phones):
            page.wait_for_function("() => (document.querySelector('#room-own-text')?.innerText || '').length > 20",
                                   timeout=60000)
            pid = _pid(svc, code, f"Phone {i}")
            view = svc.phone_view(code, pid)
            own = room_view.own_text(view.my_score, r.class_name)
            page.wait_for_function("(n) => (document.querySelector('#room-own-text [data-testid=markdown]')?.innerText"
                                   ".match(/\\d+/g) || [])"
                                   ".join(' ') === n", arg=" ".join(_numbers(own)), timeout=15000)
            shown = _text(page, "#room-own-text [data-testid=markdown]")  # (not Gradio's hidden status timer)
            assert _numbers(shown) == _numbers(own), (i, shown, own)
            assert sorted(view.my_score.cells) == sorted(TAPS[i])
            img_alt = page.evaluate("() => document.querySelector('#room-own img')?.getAttribute('alt') || ''")
            assert img_alt == room_view.own_alt(view.my_score)
            _no_sideways_scroll(page)
        times["reveal_on_all_6_phones_s"] = round(time.monotonic() - t0, 2)
        phones[1][1].screenshot(path=str(ARTIFACTS / "rooms-phone-reveal.png"), full_page=False)
        fac.screenshot(path=str(ARTIFACTS / "rooms-facilitator-reveal.png"), full_page=False)

        # ---------------------------------------------------------------- a reload: back under the nickname
        ctx2, p2 = phones[2]
        p2.reload(wait_until="domcontentloaded")
        p2.wait_for_function("() => (document.querySelector('#room-status')?.innerText || '').includes('Phone 2')",
                             timeout=120000)
        p2.wait_for_function("() => (document.querySelector('#room-own-text')?.innerText || '').length > 20",
                             timeout=60000)
        assert not p2.locator("#room-join").is_visible()
        assert len([p for p in svc.store().people(code)]) == N_PHONES  # the same person, not a new one

        # ---------------------------------------------------------------- fool the model
        fac.locator("#fac-kind").get_by_text(say("room_page.kind.fool")).click()
        fac.locator("#fac-push").click()
        fooler = phones[4][1]
        fooler.wait_for_selector("#room-photo input[type=file]", state="attached", timeout=60000)
        fooler.locator("#room-photo input[type=file]").set_input_files(str(PHOTO))
        fooler.wait_for_timeout(800)
        fooler.tap("#room-submit")
        fooler.wait_for_function(
            "(t) => (document.querySelector('#room-result')?.innerText || '').includes(t)",
            arg=say("room_page.submitted"), timeout=120000)
        assert re.search(r"cat", _text(fooler, "#room-result"), re.I)
        _no_sideways_scroll(fooler)
        # the facilitator's queue has it; the projector does not show it
        fac.wait_for_function("() => (document.querySelector('#fac-queue')?.innerText || '').includes('Phone 4')"
                              " || [...document.querySelectorAll('#fac-queue input')].some(i => /Phone 4/.test(i.value))",
                              timeout=30000)
        gallery = "() => document.querySelectorAll('#fac-gallery img').length"
        fac.wait_for_timeout(1500)
        assert fac.evaluate(gallery) == 0
        assert [s.status for s in svc.store().submissions(code)] == ["pending"]
        fac.locator("#fac-approve").click()
        fac.wait_for_function(gallery + " > 0", timeout=30000)
        assert [s.status for s in svc.store().submissions(code)] == ["approved"]
        fac.locator("#fac-remove").click()
        fac.wait_for_function(gallery + " === 0", timeout=30000)
        assert [s.status for s in svc.store().submissions(code)] == ["removed"]

        # ---------------------------------------------------------------- a locked view: one tab, one control
        fac.locator("#fac-kind").get_by_text(say("room_page.kind.locked")).click()
        fac.get_by_label(say("room_page.control.layer")).check()
        fac.get_by_label(say("room_page.link_label")).fill("?tab=mnist&digit=3")
        fac.locator("#fac-push").click()
        locked = phones[5][1]
        locked.wait_for_function("() => !!document.querySelector('#room-lock style')", timeout=30000)
        visible = ("(s) => { const e = document.querySelector(s); return !!e && e.getBoundingClientRect().height > 0 "
                   "&& getComputedStyle(e).display !== 'none'; }")
        locked.wait_for_function(visible, arg="#mnist-layer", timeout=30000)
        for hidden in ("#mnist-target", "#mnist-channel", "#mnist-inputs", '.tab-wrapper button[data-tab-id="imagenet"]',
                       '.tab-wrapper button[data-tab-id="spurious"]'):
            assert not locked.evaluate(visible, hidden), hidden
        # the deep link opened held-out digit 3 (its index box says so)
        locked.wait_for_function("() => [...document.querySelectorAll('input[type=number]')].some(i => i.value === '3')",
                                 timeout=60000)
        _no_sideways_scroll(locked)
        locked.screenshot(path=str(ARTIFACTS / "rooms-phone-locked.png"), full_page=False)

        (ARTIFACTS / "rooms-browser-times.json").write_text(json.dumps(times, indent=1))
        print("room timings (6 phones):", times)
        assert not errors, errors
    finally:
        for ctx, _page in phones:
            ctx.close()
        fctx.close()
