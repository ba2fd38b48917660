"""Issue 15 on a phone (390×844, touch): tap a cell of the map with a finger; the breakdown appears on screen.

Reuses the browser test's server, browser and touch helpers (tests/test_browser.py)."""
from __future__ import annotations

import re

import pytest

from gradcam_core.present.words import say

from test_browser import (ARTIFACTS, CHROMIUM, _assert_on_screen, _no_horizontal_overflow,  # noqa: F401
                          _open_on_a_phone, _wait_for_image, server)

pytestmark = pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (tests/run.sh installs it with apt-get)")


def _tap(page, x: float, y: float) -> None:
    """One finger tap at page coordinates (CSS px): real touch events through the DevTools protocol."""
    cdp = page.context.new_cdp_session(page)
    try:
        point = [{"x": x, "y": y, "id": 1, "radiusX": 6, "radiusY": 6, "force": 1}]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": point})
        page.wait_for_timeout(40)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()


def _tap_image(page, selector: str, fx: float, fy: float) -> None:
    """Tap the picture ``selector`` at the fraction (fx, fy) of its width and height."""
    img = page.locator(selector).first
    img.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    box = img.bounding_box()
    assert box and box["width"] > 50, box
    _tap(page, box["x"] + fx * box["width"], box["y"] + fy * box["height"])


def _breakdown_text(page) -> str:
    return page.evaluate("() => { const e = document.querySelector('#mnist-cell-sum'); return e ? e.innerText : ''; }")


def _overlay_tapped(browser, server):
    """A phone page whose overlay was tapped near its top-left corner: cell (row 0, column 1) of the 8×8 map.
    The overlay draws each relu2 cell at the centre of what it sees (issue 24): column c at input pixel
    2c + 6.5 of 28, so cell (0, 1) is drawn around pixel (row 6.5, column 8.5): fractions 7/28 and 9/28."""
    ctx, page, errors = _open_on_a_phone(browser, server)
    _wait_for_image(page, "Grad-CAM heat map")
    _tap_image(page, "#mnist-result img", 9 / 28, 7 / 28)
    page.wait_for_function("() => /Cell \\(row 0, column 1\\)/.test(document.querySelector('#mnist-cell-sum')"
                           "?.innerText || '')", timeout=60000)
    return ctx, page, errors


def test_tap_a_cell_of_the_overlay_with_a_finger(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    ctx, page, errors = _overlay_tapped(browser, server)
    _assert_on_screen(page, "#mnist-cell-sum", "the breakdown after a tap on the overlay")
    text = _breakdown_text(page)
    assert "→ ReLU →" in text and "of the 8×8 map" in text
    page.get_by_text("Cover it and see").first.wait_for(timeout=30000)
    page.screenshot(path=str(ARTIFACTS / "phone-cell-overlay.png"), full_page=False)

    assert not errors, errors
    ctx.close()


def _swipe(cdp, x: float, y0: float, y1: float, steps: int = 8) -> None:
    """One finger drag from (x, y0) to (x, y1): touch events, which scroll the page as on a phone."""
    def at(y):
        return [{"x": x, "y": y, "id": 1, "radiusX": 6, "radiusY": 6, "force": 1}]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": at(y0)})
    for i in range(1, steps + 1):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": at(y0 + (y1 - y0) * i / steps)})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def _swipe_to(page, locator, max_swipes: int = 40) -> dict:
    """Scroll the page with finger swipes, as a person does, until ``locator`` lies whole inside
    the viewport and has stopped moving there; return its box. (The page may still move after the
    swipes, e.g. a late picture above it: then swipe again.)"""
    vw, vh = page.viewport_size["width"], page.viewport_size["height"]
    inside = lambda b: b and b["y"] >= 0 and b["y"] + b["height"] <= vh  # noqa: E731
    for _ in range(3):
        cdp = page.context.new_cdp_session(page)
        try:
            for _ in range(max_swipes):
                box = locator.bounding_box()
                if inside(box):
                    break
                # the finger drags at the right margin (no picture there); dragging down scrolls up
                down = box is None or box["y"] < 0
                _swipe(cdp, vw - 20, vh * (0.3 if down else 0.7), vh * (0.55 if down else 0.45))
                page.wait_for_timeout(250)
            else:
                raise AssertionError(f"{max_swipes} swipes did not bring the picture on screen: {locator.bounding_box()}")
        finally:
            cdp.detach()
        box = locator.bounding_box()
        for _ in range(20):
            page.wait_for_timeout(200)
            now = locator.bounding_box()
            if now == box:
                break
            box = now
        else:
            raise AssertionError(f"the picture kept moving: {box}")
        if inside(box):
            return box
    raise AssertionError(f"the page kept moving the picture off the screen: {box}")


def test_tap_a_cell_of_step_6_with_a_finger(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    ctx, page, errors = _overlay_tapped(browser, server)
    # straight after the breakdown appears, swipe back up the page and then tap the bottom-right cell
    # of step 6 (the ReLU map): the panel's scroll correction must not pull the page back down under
    # the finger (it stops at the first touch)
    # the page has brought the breakdown to the top of the screen (its correction is still running)
    page.wait_for_function("() => Math.abs(document.getElementById('mnist-cell-sum').getBoundingClientRect().top"
                           " - 8) <= 4", timeout=10000)
    cdp = page.context.new_cdp_session(page)
    _swipe(cdp, 370, 250, 550)
    cdp.detach()
    # the finger moved the breakdown down the screen, and it stays there: the correction (which ran
    # every 150 ms for ~2 s and put it back at the top) stopped at the touch. The panel's place on
    # the screen is read, not scrollY: a late picture above may shift scrollY (scroll anchoring).
    top = "document.getElementById('mnist-cell-sum').getBoundingClientRect().top"
    tops = []
    for _ in range(25):
        tops.append(page.evaluate(top))
        page.wait_for_timeout(100)
    assert min(tops) > 100, (tops, "the page was pulled back after the finger scrolled up")
    # the steps are drawn when their accordion is opened (issue 27): open it, wait for the eight
    # pictures, then tap step 6 (the ReLU map)
    title = page.get_by_text(say("ui.mnist.steps_title"))
    title.scroll_into_view_if_needed()
    title.tap()
    page.wait_for_function("() => [...document.querySelectorAll('#mnist-steps .step-image img')]"
                           ".filter(i => (i.getAttribute('src') || '').startsWith('data:image/png')).length === 8",
                           timeout=60000)
    target = page.locator("#mnist-steps .step-image img").nth(5)
    # its picture decoded (a data URL decodes after the src is set: until then its natural size is 0)
    page.wait_for_function("() => { const i = document.querySelectorAll('#mnist-steps .step-image img')[5];"
                           " return i && i.complete && i.naturalWidth > 0; }", timeout=60000)
    box = _swipe_to(page, target)
    natural = target.evaluate("e => [e.naturalWidth, e.naturalHeight]")
    # the map is the top 280×280 square of the picture (the colour bar lies below it)
    sx = box["width"] / natural[0]
    _tap(page, box["x"] + 279.0 * sx - 2, box["y"] + 279.0 * sx - 2)
    page.wait_for_function("() => /Cell \\(row 7, column 7\\)/.test(document.querySelector('#mnist-cell-sum')"
                           "?.innerText || '')", timeout=60000)
    _assert_on_screen(page, "#mnist-cell-sum", "the breakdown after a tap on step 6")
    assert re.search(r"= −?\d", _breakdown_text(page))
    _no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / "phone-cell-step6.png"), full_page=False)
    ctx.close()


def test_tap_a_cell_of_the_imagenet_overlay_with_a_finger(server, browser):
    from test_browser import ROOT

    ctx, page, errors = _open_on_a_phone(browser, server)
    page.get_by_role("tab", name="ImageNet").click()
    page.locator("#imagenet-photo input[type=file]").set_input_files(
        str(ROOT / "examples" / "animals" / "chelsea_cat.jpg"))
    page.wait_for_function(
        """() => { const e = document.querySelector('#imagenet-label .output-class');
                   return e && /cat/i.test(e.innerText); }""", timeout=120000)
    _wait_for_image(page, "Where the model found the evidence", timeout_ms=60000)
    # the middle of the 224×224 overlay is cell (row 3, column 3) of EfficientNet-Lite0's 7×7 grid
    _tap_image(page, "#imagenet-result img", 0.5, 3.5 / 7 * 224 / page.locator("#imagenet-result img").first
               .evaluate("e => e.naturalHeight"))
    page.wait_for_function("() => /Cell \\(row 3, column 3\\)/.test(document.querySelector('#imagenet-cell-sum')"
                           "?.innerText || '')", timeout=120000)
    _assert_on_screen(page, "#imagenet-cell-sum", "the breakdown after a tap on the ImageNet overlay")
    assert "other 1270 channels" in page.evaluate("() => document.querySelector('#imagenet-cell-sum').innerText")
    _no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / "phone-cell-imagenet.png"), full_page=False)
    assert not errors, errors
    ctx.close()
