"""The page in French (issue 28), in Debian's chromium at 390×844 with a French browser: every tab's
first view is French, an answer's texts too, no English sentence is left on the page, the switch
changes the whole page and keeps the answer, and a link keeps the language."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import CHROMIUM, app_server
from gradcam_core.present.words import say

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed "
                                "(tests/run.sh installs it with apt-get)")

PHONE = {"width": 390, "height": 844}
TABS = ("mnist", "imagenet", "spurious")
#: words that make a run of text English, and words that make it French (names aside: a class name,
#: a model or a photo's title is the same in both)
EN = {"the", "and", "of", "to", "is", "are", "with", "this", "that", "for", "from", "where", "which", "each",
      "it", "its", "by", "be", "not", "you", "your", "what", "how", "into", "than", "then", "one", "an", "or"}
FR = {"le", "la", "les", "des", "du", "de", "un", "une", "et", "est", "sont", "pour", "avec", "dans", "sur",
      "ce", "cette", "qui", "que", "où", "au", "aux", "en", "par", "pas", "vous", "votre", "d", "l", "ne", "se"}


def english_runs(text: str) -> list[str]:
    """Runs of visible text (lines, then sentences) of 4+ words with 2+ English function words and
    no French one."""
    found = []
    for line in text.split("\n"):
        for run in re.split(r"(?<=[.!?;:])\s+", line):
            tokens = [t.lower() for t in re.findall(r"[A-Za-zÀ-ÿ']+", run)]
            tokens = [p for t in tokens for p in t.split("'") if p]
            if len(tokens) < 4:
                continue
            if sum(t in EN for t in tokens) >= 2 and not any(t in FR for t in tokens):
                found.append(run.strip())
    return found


def test_the_detector_tells_english_from_french():
    assert english_runs("Pick a digit and follow Grad-CAM from the feature maps.")
    assert not english_runs("Choisissez un chiffre et suivez Grad-CAM depuis les cartes de caractéristiques.")
    assert not english_runs("tiger cat 39 %")  # a class name is a name
    assert not english_runs("Chelsea the cat (animals) : Stefan van der Walt — CC0 ; tirée de scikit-image")


@pytest.fixture(scope="module")
def url():
    yield from app_server(7980, 7999)


def _french_page(browser, address: str):
    ctx = browser.new_context(viewport=PHONE, locale="fr-FR", is_mobile=True, has_touch=True)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(address, wait_until="domcontentloaded")
    page.wait_for_selector("#lang-switch a[data-lang=fr]", timeout=120000)
    page.wait_for_function("() => document.querySelectorAll('.digit-grid .thumbnail-item').length > 0", timeout=120000)
    page.wait_for_timeout(1500)  # the choices' load event (only a page not in English asks for it)
    return ctx, page, errors


def _open_tab(page, tab: str) -> None:
    names = {"mnist": say("ui.app.tab_mnist", "fr"), "imagenet": say("ui.app.tab_imagenet", "fr"),
             "spurious": say("ui.app.tab_shortcuts", "fr")}
    page.get_by_role("tab", name=names[tab], exact=True).first.click()
    marks = {"mnist": "#mnist-copy-link", "imagenet": "#imagenet-copy-link", "spurious": ".spurious-exhibit"}
    page.wait_for_function("(sel) => [...document.querySelectorAll(sel)].some(e => e.offsetParent !== null)",
                           arg=marks[tab], timeout=60000)
    page.wait_for_timeout(800)


def _no_sideways_scroll(page) -> None:
    sw, iw = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert sw <= iw + 1, f"the page scrolls sideways: {sw}px in {iw}px"


def test_every_tab_is_french_on_first_view(browser, url):
    ctx, page, errors = _french_page(browser, url)
    try:
        assert page.evaluate("document.documentElement.lang") == "fr"
        assert "gradcam_lang=fr" in page.evaluate("document.cookie")
        for tab in TABS:
            _open_tab(page, tab)
            text = page.inner_text("body")
            assert not english_runs(text), (tab, english_runs(text)[:8])
            _no_sideways_scroll(page)
        # the radio's choices are French too (the frontend does not translate choices: a load event does)
        _open_tab(page, "mnist")
        assert say("ui.mnist.placement_stretched_choice", "fr") in page.inner_text("#mnist-placement")
        # ImageNet's class names stay English, and the French page says so once
        _open_tab(page, "imagenet")
        assert page.get_by_text(say("lang.class_names_note", "fr")).count() == 1
        assert not errors, errors
    finally:
        ctx.close()


def test_an_answer_is_french_and_the_switch_keeps_it(browser, url):
    ctx, page, errors = _french_page(browser, url)
    try:
        page.locator(".digit-grid .thumbnail-item").nth(7).click()
        page.wait_for_function("() => (document.querySelector('#mnist-label .output-class') || {}).innerText === '7'",
                               timeout=60000)  # held-out digit #7 is a 7
        # the steps (drawn when opened) in French, with French numbers
        page.get_by_text(say("ui.mnist.steps_title", "fr"), exact=False).first.click()
        page.wait_for_function("() => document.body.innerText.includes('Rétropropagez')", timeout=60000)
        page.wait_for_timeout(1000)
        text = page.inner_text("body")
        assert not english_runs(text), english_runs(text)[:8]
        # a link made on the French page carries lang=fr
        page.click("#mnist-copy-link")
        page.wait_for_function("() => /[?&]d=/.test(document.querySelector('#mnist-link-box textarea').value)", timeout=30000)
        link = page.eval_on_selector("#mnist-link-box textarea", "e => e.value")
        assert "lang=fr" in link and "d=" in link
        # the switch: the whole page in English, the same digit (its deep link), lang=en in the address
        page.click("#lang-switch a[data-lang=en]")
        page.wait_for_url(re.compile(r"lang=en"), timeout=60000)
        page.wait_for_selector("#lang-switch", timeout=120000)
        page.wait_for_timeout(3000)
        assert page.evaluate("document.documentElement.lang") == "en"
        assert "d=" in page.url and "tab=mnist" in page.url
        body = page.inner_text("body")
        assert say("ui.app.tab_shortcuts", "en") in body and say("ui.app.tab_shortcuts", "fr") not in body
        # and back: a link opened with lang=fr is French whatever the browser says
        page.goto(link, wait_until="domcontentloaded")
        page.wait_for_selector("#lang-switch", timeout=120000)
        page.wait_for_timeout(3000)
        assert page.evaluate("document.documentElement.lang") == "fr"
        assert say("ui.app.tab_shortcuts", "fr") in page.inner_text("body")
        _no_sideways_scroll(page)
        assert not errors, errors
    finally:
        ctx.close()
