"""Issue 27 on a phone (390×844, real Chromium, ``python app.py``): after an upload the ImageNet tab shows
the top-5 and the overlay (a JPEG) on screen and draws nothing else; the steps appear when their
accordion is opened, and an open accordion follows the next answer."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CHROMIUM, app_server
from gradcam_core.present.words import say

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed "
                                "(tests/run.sh installs it with apt-get)")

LABEL = "document.querySelector('#imagenet-label .output-class')"
STEP_IMGS = "[...document.querySelectorAll('#imagenet-steps-acc .imagenet-steps img[src]')]"


@pytest.fixture(scope="module")
def server():
    """``python app.py`` on a port of 7800–7849 (this module's range)."""
    yield from app_server(7800, 7849)


def _on_screen(page, selector: str, min_px: int = 60) -> dict:
    page.wait_for_function(
        """([sel, minPx]) => { const e = document.querySelector(sel); if (!e) return false;
               const r = e.getBoundingClientRect(); return r.top >= -1 && r.top <= window.innerHeight - minPx; }""",
        arg=[selector, min_px], timeout=15000)
    return page.evaluate("""(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
                                       return {top: r.top, bottom: r.bottom, vh: window.innerHeight}; }""", selector)


def test_after_a_tap_only_the_overlay_and_top5_then_the_steps_when_opened(server, browser):
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server, wait_until="domcontentloaded")
    page.get_by_role("tab", name=say("ui.app.tab_imagenet")).click()
    page.locator("#imagenet-photo input[type=file]").set_input_files(str(ROOT / "examples" / "animals" /
                                                                          "chelsea_cat.jpg"))
    page.wait_for_function(f"() => {{ const e = {LABEL}; return e && /cat/i.test(e.innerText); }}", timeout=120000)
    page.wait_for_function("""() => { const i = document.querySelector('#imagenet-result img[src]');
                                      return i && i.complete && i.naturalWidth > 0; }""", timeout=60000)
    top5, overlay = _on_screen(page, "#imagenet-label"), _on_screen(page, "#imagenet-result img")
    assert top5["top"] >= -1 and overlay["top"] + 60 <= overlay["vh"]
    src = page.locator("#imagenet-result img").first.get_attribute("src")
    assert src.startswith("data:image/jpeg;base64,")  # the photo overlay, inline JPEG on the page
    # its text alternative came inside the answer (the page's alt box, set by js: no second request) and
    # is the API's sentence for the same photo and settings
    from gradcam_core.ui import imagenet_tab as tab

    full = tab.explain(str(ROOT / "examples" / "animals" / "chelsea_cat.jpg"), "efficientnet_lite0", "_head_act",
                       "Grad-CAM", "predicted", "none", "max", "jet", 0.5, progress=None)
    page.wait_for_function("(t) => document.querySelector('#imagenet-result img').getAttribute('alt') === t",
                           arg=full["alts"]["overlay"], timeout=15000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "phone-imagenet-lazy-result.png"))
    # nothing below was drawn: the steps' accordion is closed and empty
    page.wait_for_timeout(1500)
    assert page.evaluate(f"() => {STEP_IMGS}.length") == 0
    # opening the steps draws them from the kept result
    head = page.locator("#imagenet-steps-acc").get_by_text(say("ui.imagenet.steps_title")).first
    head.scroll_into_view_if_needed()
    head.tap()
    page.wait_for_function(f"() => {STEP_IMGS}.filter(i => i.complete && i.naturalWidth > 0).length >= 5",
                           timeout=60000)
    page.locator("#imagenet-steps-acc .imagenet-steps img").first.scroll_into_view_if_needed()
    steps = _on_screen(page, "#imagenet-steps-acc .imagenet-steps img", min_px=30)
    assert steps["top"] >= -1
    page.screenshot(path=str(ARTIFACTS / "phone-imagenet-lazy-steps.png"))
    first = page.evaluate(f"() => {STEP_IMGS}[0].src")
    # a new answer while the steps are open: they follow it (a second event after the overlay)
    page.locator(".imagenet-examples .thumbnail-item").nth(1).scroll_into_view_if_needed()
    page.locator(".imagenet-examples .thumbnail-item").nth(1).tap()
    page.wait_for_function(f"() => {{ const e = {LABEL}; return e && !/cat/i.test(e.innerText); }}", timeout=120000)
    page.wait_for_function(f"(old) => {{ const s = {STEP_IMGS}; return s.length >= 5 && s[0].src !== old; }}",
                           arg=first, timeout=60000)
    page.locator("#imagenet-steps-acc .imagenet-steps img").first.scroll_into_view_if_needed()  # (loaded lazily)
    page.wait_for_function(f"() => {STEP_IMGS}.filter(i => i.complete && i.naturalWidth > 0).length >= 1",
                           timeout=30000)
    assert not errors, errors
    ctx.close()
