"""Issue 27 on a phone (390×844), the MNIST tab: after a tap the prediction and the overlay are on
screen while the steps stay closed and undrawn; opened, the steps are drawn (step 8 is the overlay
itself); a new answer while they are open redraws them."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import CHROMIUM, app_server
from test_browser import ARTIFACTS, _assert_on_screen, _open_on_a_phone

from gradcam_core.present.words import say

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")

#: the page's step images (inside the steps accordion) and the overlay's
STEP_IMAGES = "#mnist-steps .step-image img"
OVERLAY = "#mnist-result .step-image img"


@pytest.fixture(scope="module")
def server():
    """``python app.py`` on a port of 7850–7899 (this module's range)."""
    yield from app_server(7850, 7899)


def _srcs(page, selector: str) -> list[str]:
    return page.evaluate("(sel) => [...document.querySelectorAll(sel)].map(i => i.getAttribute('src') || '')", selector)


def _tap_digit(page, n: int) -> None:
    thumb = page.locator(".digit-grid .thumbnail-item").nth(n)
    thumb.scroll_into_view_if_needed()
    thumb.tap()
    page.wait_for_function(
        """(n) => { const l = document.querySelector('#mnist-label .output-class, #mnist-label h2');
                    const i = document.querySelector('input[type=number]');
                    return i && i.value === String(n) && l && l.innerText.trim() !== ''; }""", arg=n, timeout=60000)


def _steps_drawn_with_overlay(page) -> None:
    """Wait until the eight step pictures are drawn and the last (step 8) is the overlay on screen."""
    page.wait_for_function(
        """([steps, overlay]) => { const s = [...document.querySelectorAll(steps)].map(i => i.getAttribute('src') || '');
               const o = document.querySelector(overlay);
               return s.length === 8 && s.every(x => x.startsWith('data:image/png')) && o &&
                      s[7] === o.getAttribute('src'); }""", arg=[STEP_IMAGES, OVERLAY], timeout=60000)


def test_steps_drawn_only_when_opened_on_a_phone(server, browser):
    ctx, page, errors = _open_on_a_phone(browser, server)
    page.get_by_text(say("ui.mnist.prediction_label")).wait_for(timeout=60000)
    assert not [s for s in _srcs(page, STEP_IMAGES) if s.startswith("data:")]  # not sent with the page

    # a tap on a digit: the prediction and the overlay on screen; the steps still undrawn
    _tap_digit(page, 7)
    _assert_on_screen(page, "#mnist-label", "the prediction")
    _assert_on_screen(page, "#mnist-result img", "the overlay")
    page.wait_for_timeout(500)
    assert not [s for s in _srcs(page, STEP_IMAGES) if s.startswith("data:")]
    page.screenshot(path=str(ARTIFACTS / "phone-mnist-lazy-answer.png"), full_page=False)

    # opened, the steps are drawn for this digit (step 8 is the overlay itself) and shown
    title = page.get_by_text(say("ui.mnist.steps_title"))
    title.scroll_into_view_if_needed()
    title.tap()
    _steps_drawn_with_overlay(page)
    first = page.locator(STEP_IMAGES).first
    first.scroll_into_view_if_needed()
    _assert_on_screen(page, STEP_IMAGES, "the first step's picture")
    page.screenshot(path=str(ARTIFACTS / "phone-mnist-lazy-steps.png"), full_page=False)
    before = _srcs(page, STEP_IMAGES)

    # a new answer while they are open: the steps follow it
    _tap_digit(page, 3)
    _steps_drawn_with_overlay(page)
    assert _srcs(page, STEP_IMAGES) != before
    assert not errors, errors
    ctx.close()


def test_a_deep_link_then_its_steps_on_a_phone(server, browser):
    """A deep link (the page's private link event, lazy too): its digit explained for the linked
    class; the steps, opened, are that answer's (step 8 is its overlay)."""
    import numpy as np

    from gradcam_core.data.deeplink import encode_digit
    from gradcam_core.data.mnist import test_digits

    images, labels = test_digits()
    i = int(np.flatnonzero(labels == 7)[0])
    ctx, page, errors = _open_on_a_phone(browser, server + f"?tab=mnist&d={encode_digit(images[i] / 255.0)}&target=1")
    page.wait_for_function(
        """() => [...document.querySelectorAll('.output-class, h2')].some(e => e.innerText.trim() === '7')""",
        timeout=60000)
    page.wait_for_function("""() => [...document.querySelectorAll('input')].some(e => e.value === '1')""",
                           timeout=30000)
    title = page.get_by_text(say("ui.mnist.steps_title"))
    title.scroll_into_view_if_needed()
    title.tap()
    _steps_drawn_with_overlay(page)
    # the steps explain the linked class (1), not the prediction
    # (the step texts are rendered a moment after the pictures: Markdown with LaTeX)
    page.wait_for_function("() => /score of class\\s+1\\b/.test(document.querySelector('#mnist-steps').innerText)",
                           timeout=30000)
    assert not re.search(r"score of class\s+7\b", page.evaluate("() => document.querySelector('#mnist-steps').innerText"))
    assert not errors, errors
    ctx.close()
