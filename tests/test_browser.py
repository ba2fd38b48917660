"""A real browser at a phone viewport: Debian's chromium driven by playwright (no browser download).

Starts the app the way a user does (``python app.py``), opens it at 390×844, uses it, and
fails if the page scrolls sideways or the results never appear. Screenshots are saved in
test-artifacts/ for a human to look at.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from conftest import BROWSER_SERVER_LOG, CHROMIUM
from PIL import Image

from gradcam_core.present.words import say

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"width": 390, "height": 844}
SERVER_LOG = BROWSER_SERVER_LOG

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed "
                                "(tests/run.sh installs it with apt-get)")


@pytest.fixture(scope="module")
def server(browser_app):
    """The app's URL: conftest's ``browser_app``, one ``python app.py`` shared with the modules that
    import this fixture (test_a11y, test_cell_browser, test_crop_browser)."""
    return browser_app


def _phone_page(browser):
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                              accept_downloads=True)
    return ctx, ctx.new_page()


def _touch_stroke(page, points) -> None:
    """Draw one stroke with a finger: real touch events through the DevTools protocol (what a
    phone sends), not mouse events. ``points`` are page coordinates in CSS pixels."""
    cdp = page.context.new_cdp_session(page)
    try:
        def touch(kind, pts):
            cdp.send("Input.dispatchTouchEvent", {
                "type": kind, "touchPoints": [{"x": x, "y": y, "id": 1, "radiusX": 6, "radiusY": 6, "force": 1}
                                              for x, y in pts]})
        touch("touchStart", points[:1])
        for pt in points[1:]:
            touch("touchMove", [pt])
            page.wait_for_timeout(8)
        touch("touchEnd", [])
    finally:
        cdp.detach()


def _in_viewport(page, selector: str) -> dict:
    """The element's box against the viewport: visible when its top and some of its height are on screen."""
    return page.evaluate(
        """(sel) => { const e = document.querySelector(sel); if (!e) return null; const r = e.getBoundingClientRect();
                      return {top: r.top, bottom: r.bottom, height: r.height, vh: window.innerHeight}; }""", selector)


def _assert_on_screen(page, selector: str, what: str, min_px: int = 60) -> None:
    # scroll_to_output scrolls smoothly: wait until the scroll has settled
    page.wait_for_function(
        """([sel, minPx]) => { const e = document.querySelector(sel); if (!e) return false;
               const r = e.getBoundingClientRect();
               return r.top >= -1 && r.top <= window.innerHeight - minPx; }""",
        arg=[selector, min_px], timeout=15000)
    box = _in_viewport(page, selector)
    assert box and box["top"] >= -1 and box["top"] + min_px <= box["vh"], f"{what} is off screen: {box}"


def _open_on_a_phone(browser, url: str):
    """A fresh phone (390×844, touch) on ``url``; ``errors`` collects the page's script errors."""
    ctx, page = _phone_page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="domcontentloaded")
    return ctx, page, errors


def _no_horizontal_overflow(page) -> None:
    sw, iw = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert sw <= iw + 1, f"the page scrolls sideways: content {sw}px wide in a {iw}px viewport"


def _scroll_through(page) -> None:
    height = page.evaluate("document.body.scrollHeight")
    for y in range(0, height, 700):
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(60)
    page.evaluate("window.scrollTo(0, 0)")


def _wait_for_image(page, label: str, timeout_ms: int = 60000) -> None:
    page.wait_for_function(
        """(label) => [...document.querySelectorAll('[data-testid="image"], .block')].some(b =>
               (b.innerText || '').includes(label) &&
               [...b.querySelectorAll('img[src]')].some(i => i.complete && i.naturalWidth > 0))""",
        arg=label, timeout=timeout_ms,
    )


def test_mnist_on_a_phone(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    ctx, page, errors = _open_on_a_phone(browser, server)
    # the first digit is explained on load: prediction and overlay appear
    _wait_for_image(page, "Grad-CAM heat map")
    page.get_by_text(say("ui.mnist.prediction_label")).wait_for(timeout=30000)
    # the first view came with the page, and gr.Label's module is fetched first (serving.preload_head)
    assert page.locator('link[rel="modulepreload"]').count() >= 1
    # the overlay arrived inline (a data URL) and its Download button still gives a PNG file
    block = page.locator(".block", has_text=say("ui.mnist.overlay_label")).first
    assert block.locator("img").first.get_attribute("src").startswith("data:image/png;base64,")
    with page.expect_download(timeout=15000) as download:
        block.get_by_role("button", name="Download").first.click()
    with open(download.value.path(), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    _scroll_through(page)
    _no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / "phone-mnist.png"), full_page=True)

    # upload a photo of a digit through the Photo source
    from gradcam_core.data.mnist import test_digits

    images, labels = test_digits()
    i = int(np.flatnonzero(labels == 3)[0])
    photo = ARTIFACTS / "digit-photo.png"
    Image.fromarray(255 - images[i]).resize((220, 220)).save(photo)
    page.get_by_role("tab", name=say("ui.mnist.tab_photo")).click()
    page.locator("input[type=file]").first.set_input_files(str(photo))
    page.get_by_role("button", name=say("ui.mnist.read_photo_button")).click()
    page.wait_for_function(
        """() => [...document.querySelectorAll('.output-class, h2')].some(e => e.innerText.trim() === '3')""",
        timeout=60000,
    )
    _no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / "phone-mnist-photo.png"), full_page=False)

    # after the tap, the prediction and the overlay are on screen without scrolling
    _assert_on_screen(page, "#mnist-label", "the prediction")
    _assert_on_screen(page, "#mnist-result img", "the overlay")
    assert not errors, errors
    ctx.close()


def test_mnist_grid_tap_explains_that_digit(server, browser):
    """A finger tap on the 8th digit of the grid (held-out #7, a 7) explains it: the grid's tap is the page's own
    event (not in the public API since issue 23) and still runs from the page."""
    ctx, page, errors = _open_on_a_phone(browser, server)
    page.get_by_text(say("ui.mnist.prediction_label")).wait_for(timeout=30000)
    thumb = page.locator(".digit-grid .thumbnail-item").nth(7)
    thumb.scroll_into_view_if_needed()
    thumb.tap()
    page.wait_for_function(
        """() => { const n = document.querySelector('input[type=number]');
                   const l = document.querySelector('#mnist-label .output-class, #mnist-label h2');
                   return n && n.value === '7' && l && l.innerText.trim() === '7'; }""", timeout=60000)
    assert not errors, errors
    ctx.close()


def test_mnist_finger_drawing_result_on_screen(server, browser):
    """Draw a 7 with a finger (touch events), tap the button: the prediction is on screen."""
    ARTIFACTS.mkdir(exist_ok=True)
    ctx, page, errors = _open_on_a_phone(browser, server)
    page.get_by_text(say("ui.mnist.prediction_label")).wait_for(timeout=60000)
    page.get_by_role("tab", name=say("ui.mnist.tab_draw")).tap()
    canvas = page.locator("#mnist-sketch canvas").first
    canvas.wait_for(timeout=30000)
    canvas.scroll_into_view_if_needed()
    page.wait_for_timeout(600)  # the brush is selected when the tab opens
    box = canvas.bounding_box()
    assert box and box["width"] > 100
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    # the top bar, then the slanted stem of a 7
    stroke = [(x0 + (0.25 + 0.5 * t / 12) * w, y0 + 0.2 * h) for t in range(13)]
    stroke += [(x0 + (0.75 - 0.3 * t / 18) * w, y0 + (0.2 + 0.65 * t / 18) * h) for t in range(1, 19)]
    _touch_stroke(page, stroke)
    page.screenshot(path=str(ARTIFACTS / "phone-mnist-drawn.png"), full_page=False)
    page.get_by_role("button", name=say("ui.mnist.read_drawing_button")).tap()
    try:
        page.wait_for_function(
            """() => { const e = document.querySelector('#mnist-label .output-class');
                       return e && e.innerText.trim() === '7'; }""", timeout=60000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "phone-mnist-drawing-after.png"), full_page=False)
    _assert_on_screen(page, "#mnist-label", "the prediction")
    _assert_on_screen(page, "#mnist-result img", "the overlay")
    _no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / "phone-mnist-drawing.png"), full_page=False)
    assert not errors, errors
    ctx.close()


def test_deep_link_reopens_a_digit(server, browser):
    from gradcam_core.data.deeplink import encode_digit
    from gradcam_core.data.mnist import test_digits

    images, labels = test_digits()
    i = int(np.flatnonzero(labels == 7)[0])
    ctx, page = _phone_page(browser)
    page.goto(server + f"?tab=mnist&d={encode_digit(images[i] / 255.0)}&target=1", wait_until="domcontentloaded")
    # the target dropdown shows the linked class and the prediction is the linked digit's
    page.wait_for_function(
        """() => [...document.querySelectorAll('.output-class, h2')].some(e => e.innerText.trim() === '7')""",
        timeout=60000,
    )
    page.wait_for_function(
        """() => [...document.querySelectorAll('input')].some(e => e.value === '1')""", timeout=30000)
    _no_horizontal_overflow(page)
    ctx.close()


def test_imagenet_upload_on_a_phone(server, browser):
    """Upload an example photo in the ImageNet tab; the top-5 and the overlay must appear."""
    ARTIFACTS.mkdir(exist_ok=True)
    photo = ROOT / "examples" / "animals" / "chelsea_cat.jpg"
    ctx, page, errors = _open_on_a_phone(browser, server)
    page.get_by_role("tab", name=say("ui.app.tab_imagenet")).click()
    page.get_by_text(say("ui.imagenet.photo_label")).first.wait_for(timeout=30000)
    # the first file input of the ImageNet tab is the photo
    tab = page.locator("#imagenet, [id*='imagenet']").first
    inputs = tab.locator("input[type=file]") if tab.count() else page.locator("input[type=file]")
    inputs.first.set_input_files(str(photo))
    # the upload alone runs the explanation; the page then shows the top 5 and the overlay
    page.wait_for_function(
        """() => { const e = document.querySelector('#imagenet-label .output-class');
                   return e && /cat/i.test(e.innerText); }""", timeout=120000)
    _wait_for_image(page, "Where the model found the evidence", timeout_ms=60000)
    _assert_on_screen(page, "#imagenet-label", "the top 5")
    _assert_on_screen(page, "#imagenet-result img", "the overlay")
    page.screenshot(path=str(ARTIFACTS / "phone-imagenet-result.png"), full_page=False)
    # a tap on Explain (after scrolling away) brings the result back on screen
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.get_by_role("button", name=say("ui.imagenet.explain_button"), exact=True).first.scroll_into_view_if_needed()
    page.get_by_role("button", name=say("ui.imagenet.explain_button"), exact=True).first.tap()
    page.wait_for_timeout(300)
    page.wait_for_function(
        """() => { const e = document.querySelector('#imagenet-label .output-class');
                   return e && /cat/i.test(e.innerText); }""", timeout=120000)
    _assert_on_screen(page, "#imagenet-label", "the top 5")
    # a tap on an example photo (below the result) runs it and scrolls back up to the result
    page.locator(".imagenet-examples .thumbnail-item").nth(1).scroll_into_view_if_needed()
    page.locator(".imagenet-examples .thumbnail-item").nth(1).tap()
    page.wait_for_function(
        """() => { const e = document.querySelector('#imagenet-label .output-class');
                   return e && !/cat/i.test(e.innerText); }""", timeout=120000)
    _assert_on_screen(page, "#imagenet-label", "the top 5 after an example")
    _assert_on_screen(page, "#imagenet-result img", "the overlay after an example")
    _scroll_through(page)
    _no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / "phone-imagenet.png"), full_page=True)
    assert not errors, errors
    ctx.close()


def test_shortcuts_tab_on_a_phone(server, browser):
    """The third tab: the controlled MNIST exhibit and the photo cards render, no sideways scroll."""
    ARTIFACTS.mkdir(exist_ok=True)
    ctx, page, errors = _open_on_a_phone(browser, server)
    page.get_by_role("tab", name=say("ui.app.tab_shortcuts")).click()
    # the accuracy table is computed live from both models
    page.get_by_text("misleading", exact=False).first.wait_for(timeout=120000)
    page.wait_for_function("""() => [...document.querySelectorAll('img[src]')]
        .filter(i => i.complete && i.naturalWidth > 0).length > 4""", timeout=120000)
    _scroll_through(page)
    _no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / "phone-shortcuts.png"), full_page=True)
    assert not errors, errors
    ctx.close()


def test_imagenet_deep_link_opens_its_tab_and_result(server, browser):
    ctx, page = _phone_page(browser)
    page.goto(server + "?tab=imagenet&photo=ex:food/coffee_cup.jpg&model=efficientnet_lite0&layer=_head_act"
              "&method=Grad-CAM&target=predicted", wait_until="domcontentloaded")
    page.wait_for_function(
        """() => [...document.querySelectorAll('.output-class, h2')].some(e => /espresso|cup/i.test(e.innerText))""",
        timeout=120000,
    )
    selected = page.locator("[role=tab][aria-selected=true]").all_inner_texts()
    assert "ImageNet" in selected, selected
    # the overlay's text alternative, from the link's answer (the page's alt box, set by js), is the API's sentence
    from gradcam_core.ui import imagenet_tab

    full = imagenet_tab.explain(str(ROOT / "examples" / "food" / "coffee_cup.jpg"), "efficientnet_lite0", "_head_act",
                                "Grad-CAM", "predicted", "none", "max", "jet", 0.5, progress=None)
    page.wait_for_function("(t) => document.querySelector('#imagenet-result img')?.getAttribute('alt') === t",
                           arg=full["alts"]["overlay"], timeout=15000)
    _no_horizontal_overflow(page)
    ctx.close()


def test_slow_job_stops_when_the_phone_leaves(server, browser):
    """Start an exact Score-CAM (about a minute and a half on 2 cores), close the page while it runs:
    the server stops it at its next batch instead of computing for nobody."""
    photo = ROOT / "examples" / "animals" / "chelsea_cat.jpg"
    ctx, page = _phone_page(browser)
    page.goto(server + "?tab=imagenet", wait_until="domcontentloaded")
    page.get_by_text(say("ui.imagenet.photo_label")).first.wait_for(timeout=60000)
    method = page.get_by_label(say("ui.imagenet.method_label"))
    method.click()
    page.get_by_role("option", name="Score-CAM (exact)").click()
    page.locator("#imagenet-photo input[type=file]").set_input_files(str(photo))
    # the slow queue reports progress while the masked forwards run
    page.wait_for_function("""() => /masked|forward|Score-CAM/i.test(
        [...document.querySelectorAll('.progress-text, .progress-level, .meta-text, .meta-text-center')]
        .map(e => e.innerText).join(' '))""", timeout=120000)
    stopped = "stopped: its browser session closed"
    before = SERVER_LOG.read_text()  # the server is shared with other modules: what this close adds counts
    ctx.close()  # the phone leaves (tab closed)
    deadline = time.time() + 120
    while time.time() < deadline and SERVER_LOG.read_text().count(stopped) == before.count(stopped):
        time.sleep(0.5)
    log = SERVER_LOG.read_text()
    assert log.count(stopped) > before.count(stopped), log[len(before):][-3000:]


def test_teaching_panels_fit_a_phone(server, browser):
    """Issue 13's additions on screen at 390 px: the "What is Grad-CAM?" overview with its citation,
    the whole-photo overlay, and the Shortcuts tab's real-world stakes, each opened, no sideways scroll."""
    ARTIFACTS.mkdir(exist_ok=True)
    ctx, page, errors = _open_on_a_phone(browser, server)
    page.get_by_text(say("ui.app.what_is")).first.click()
    page.get_by_text("Selvaraju").first.wait_for(timeout=30000)
    _no_horizontal_overflow(page)

    page.get_by_role("tab", name=say("ui.app.tab_imagenet")).click()
    page.locator("#imagenet-photo input[type=file]").set_input_files(
        str(ROOT / "examples" / "animals" / "chelsea_cat.jpg"))
    page.wait_for_function(
        """() => { const e = document.querySelector('#imagenet-label .output-class');
                   return e && /cat/i.test(e.innerText); }""", timeout=120000)
    before = page.locator("#imagenet-result img").first.get_attribute("src")
    page.get_by_label(say("ui.imagenet.whole_label")).check()
    page.wait_for_function("""(old) => { const i = document.querySelector('#imagenet-result img');
                                        return i && i.src !== old && i.complete && i.naturalWidth > 0; }""",
                           arg=before, timeout=60000)
    _no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / "phone-whole-photo.png"), full_page=False)

    page.get_by_role("tab", name=say("ui.app.tab_shortcuts")).click()
    page.get_by_text(say("ui.shortcut.stakes_title")).first.click()
    page.get_by_text("Beery").first.wait_for(timeout=30000)
    _scroll_through(page)
    _no_horizontal_overflow(page)
    assert not errors, errors
    ctx.close()
