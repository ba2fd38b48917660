"""Accessibility in a real browser (issue 17): axe-core's WCAG 2 A/AA rules on every tab.

The app is started as a user starts it (``python app.py``, the fixtures of test_browser.py), opened
in Debian's chromium at 390×844 (a phone) and 1280×900 (a desktop), in light and in dark mode, and
axe-core 4.14.1 (installed from the npm registry by tests/run.sh) is run on each tab before and after
a result is shown. Any critical or serious violation fails the test unless it is listed in
tests/a11y_known.json (rule, component, Gradio version, why); a listed entry that no longer occurs
anywhere fails it too, so the list cannot rot.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from test_browser import CHROMIUM, server  # noqa: F401 - the app (the browser fixture is conftest's)

from gradcam_core.present.words import say

ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / "tests" / ".node" / "node_modules" / "axe-core" / "axe.min.js"
KNOWN = ROOT / "tests" / "a11y_known.json"
AXE_VERSION = "4.14.1"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
PHOTO = ROOT / "examples" / "animals" / "chelsea_cat.jpg"
DIGIT = 2  # a held-out digit whose prediction differs from digit #0's (the first view)
REPORT = ROOT / "test-artifacts" / "a11y-axe.json"

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed "
                       "(tests/run.sh installs it with apt-get)"),
    pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (tests/run.sh installs it with npm "
                       f"into {AXE.parent.parent.parent.relative_to(ROOT)})"),
]

RUN_AXE = """async (tags) => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return r.violations.filter(v => v.impact === 'critical' || v.impact === 'serious').flatMap(v =>
    v.nodes.map(n => ({rule: v.id, impact: v.impact, target: n.target.join(' '), html: n.html.slice(0, 300),
                       why: (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 300)})));
}"""


def known_entries() -> list[dict]:
    entries = json.loads(KNOWN.read_text(encoding="utf-8"))
    for e in entries:
        missing = {"rule", "component", "gradio", "why", "match"} - set(e)
        assert not missing, f"a11y_known.json entry {e} lacks {missing}"
    return entries


def _is_known(node: dict, entries: list[dict]) -> dict | None:
    for e in entries:
        if e["rule"] == node["rule"] and re.search(e["match"], node["target"] + " " + node["html"]):
            return e
    return None


def _axe(page, where: str, found: list) -> None:
    _settled(page)
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(path=str(AXE))
    assert page.evaluate("() => axe.version") == AXE_VERSION
    page.wait_for_timeout(400)  # the head script's fixes run 120 ms after the page changes
    for node in page.evaluate(RUN_AXE, TAGS):
        found.append(dict(node, where=where))


def _wait_images(page, selector: str, n: int = 1, timeout: int = 120000) -> None:
    page.wait_for_function(
        """([sel, n]) => [...document.querySelectorAll(sel + ' img[src]')]
               .filter(i => i.getAttribute('src')).length >= n""", arg=[selector, n], timeout=timeout)
    # (images below the fold load lazily: their src is set, their pixels come when scrolled to)


def _settled(page) -> None:
    """No output is still waiting for its result (Gradio dims pending outputs, which axe would rate)."""
    page.wait_for_function("() => !document.querySelector('.pending, .generating')", timeout=120000)


def _expected_digit(index: int) -> str:
    from gradcam_core.ui.mnist_tab import explain_index

    return max(explain_index(index).label.items(), key=lambda kv: kv[1])[0]


def _visit(page, url: str, where: str, found: list, lang: str = "en") -> None:
    """Every tab, before and after a result (the page in ``lang``)."""
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_text(say("ui.mnist.prediction_label", lang)).wait_for(timeout=60000)
    _wait_images(page, "#mnist-result")
    _axe(page, f"{where} · MNIST · first view", found)
    from gradcam_core.ui.mnist_tab import n_digits

    page.get_by_label(say("ui.mnist.index_label", lang, last=n_digits() - 1)).fill(str(DIGIT))
    page.get_by_role("button", name=say("ui.mnist.explain_button", lang), exact=True).first.click()
    page.wait_for_function("""(d) => [...document.querySelectorAll('#mnist-label .output-class')]
                               .some(e => e.innerText.trim() === d)""", arg=_expected_digit(DIGIT), timeout=60000)
    _settled(page)
    _axe(page, f"{where} · MNIST · after a result", found)

    page.get_by_role("tab", name=say("ui.app.tab_imagenet", lang)).click()
    page.get_by_text(say("ui.imagenet.photo_label", lang)).first.wait_for(timeout=30000)
    _axe(page, f"{where} · ImageNet · before a result", found)
    page.locator("#imagenet-photo input[type=file]").set_input_files(str(PHOTO))
    page.wait_for_function("""() => { const e = document.querySelector('#imagenet-label .output-class');
                                      return e && /cat/i.test(e.innerText); }""", timeout=120000)
    _wait_images(page, "#imagenet-result")
    _settled(page)
    _axe(page, f"{where} · ImageNet · after a result", found)

    page.get_by_role("tab", name=say("ui.app.tab_shortcuts", lang)).click()
    page.get_by_text(say("ui.shortcut.exhibit1_heading", lang).lstrip("# ")).first.wait_for(timeout=30000)
    # (its first view is computed as the tab opens: "before" is that view, "after" a step-by-step too)
    _axe(page, f"{where} · Shortcuts · first view", found)
    page.get_by_text({"en": "misleading", "fr": "trompeur"}[lang], exact=False).first.wait_for(timeout=120000)
    _wait_images(page, ".spurious-exhibit", n=2)
    _wait_images(page, ".spurious-card", n=3)
    page.get_by_role("button", name=say("ui.shortcut.steps_clean_button", lang)).click()
    _wait_images(page, ".step-image", n=8)
    _settled(page)
    _axe(page, f"{where} · Shortcuts · after a result", found)


def test_no_serious_axe_violations(server, browser):  # noqa: F811 - pytest fixtures
    entries = known_entries()
    found: list[dict] = []
    for scheme in ("light", "dark"):
        for size, viewport in VIEWPORTS.items():
            ctx = browser.new_context(viewport=viewport, color_scheme=scheme, is_mobile=size == "phone",
                                      has_touch=size == "phone")
            try:
                # ?__theme=dark is Gradio's own switch; the emulated preference is what a phone sends
                _visit(ctx.new_page(), server + ("?__theme=dark" if scheme == "dark" else ""), f"{size}/{scheme}",
                       found)
            finally:
                ctx.close()
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(found, indent=1, ensure_ascii=False), encoding="utf-8")  # for a human to read
    unknown = [n for n in found if _is_known(n, entries) is None]
    report = "\n".join(f"- [{n['where']}] {n['rule']} ({n['impact']}): {n['target']}\n    {n['html'][:160]}\n"
                       f"    {n['why'][:200]}" for n in unknown[:40])
    assert not unknown, f"{len(unknown)} critical/serious axe violations not in a11y_known.json:\n{report}"
    used = {id(_is_known(n, entries)) for n in found}
    stale = [e for e in entries if id(e) not in used]
    assert not stale, ("entries of a11y_known.json that no longer occur (remove them): "
                       + "; ".join(f"{e['rule']} / {e['component']}" for e in stale))


def test_no_serious_axe_violations_in_french(server, browser):  # noqa: F811 - pytest fixtures
    """The same visit on a French phone (issue 28): the French page is as accessible as the English
    one (a phone in light mode: the other three views differ from English only by their words)."""
    entries = known_entries()
    found: list[dict] = []
    ctx = browser.new_context(viewport=VIEWPORTS["phone"], locale="fr-FR", is_mobile=True, has_touch=True)
    try:
        page = ctx.new_page()
        _visit(page, server, "phone/light/fr", found, lang="fr")
        assert page.evaluate("document.documentElement.lang") == "fr"
    finally:
        ctx.close()
    unknown = [n for n in found if _is_known(n, entries) is None]
    report = "\n".join(f"- [{n['where']}] {n['rule']} ({n['impact']}): {n['target']}\n    {n['html'][:160]}"
                       for n in unknown[:40])
    assert not unknown, f"{len(unknown)} critical/serious axe violations in French not in a11y_known.json:\n{report}"


def test_keyboard_reaches_controls_and_focus_is_visible(server, browser):  # noqa: F811
    """Tab moves through the page's controls (none is taken out of the tab order, the sketchpad
    aside), the focused control shows an outline, and a wide equation can take the focus."""
    ctx = browser.new_context(viewport=VIEWPORTS["phone"])
    try:
        page = ctx.new_page()
        page.goto(server, wait_until="domcontentloaded")
        page.get_by_text(say("ui.mnist.prediction_label")).wait_for(timeout=60000)
        page.wait_for_timeout(600)
        # no visible control of ours is out of the tab order
        out_of_order = page.evaluate("""() => [...document.querySelectorAll(
              'button, input, select, textarea, [role=tab], [role=slider], a[href]')]
            .filter(e => e.offsetParent !== null && !e.disabled && e.tabIndex < 0
                         && !e.closest('#mnist-sketch') && e.type !== 'hidden'
                         && getComputedStyle(e).visibility !== 'hidden' && !e.closest('[aria-hidden=true]')
                         && !(e.getAttribute('role') === 'tab' && e.getAttribute('aria-selected') !== 'true'))
            // (unselected tabs: a roving tab index, the arrow keys move between them)
            .map(e => e.outerHTML.slice(0, 120))""")
        assert out_of_order == [], out_of_order
        # Tab from the top reaches the digit index, the Explain button and the tabs, with a visible outline
        seen, outlines = [], []
        page.locator("body").focus()
        for _ in range(40):
            page.keyboard.press("Tab")
            info = page.evaluate("""() => { const e = document.activeElement; const s = getComputedStyle(e);
                return {text: (e.innerText || e.getAttribute('aria-label') || e.value || '').trim().slice(0, 40),
                        tag: e.tagName, outline: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }""")
            seen.append(info["text"])
            if info["tag"] in ("BUTTON", "INPUT"):
                outlines.append(info)
        assert say("ui.mnist.explain_button") in seen and say("ui.app.tab_imagenet") in seen, seen
        bad = [o for o in outlines if o["outline"] == "none" or o["width"] < 2]
        assert outlines and not bad, bad
        # every display equation can take the focus (its region scrolls sideways on a phone); the step texts
        # that hold them are drawn when the steps are opened (issue 27), so open them first
        page.get_by_text(say("ui.mnist.steps_title")).click()
        page.wait_for_function("() => document.querySelectorAll('#mnist-steps .katex-display').length > 0",
                               timeout=60000)
        page.wait_for_timeout(600)
        n, focusable = page.evaluate("""(name) => { const d = [...document.querySelectorAll('.katex-display')];
            return [d.length, d.filter(e => e.tabIndex === 0 && e.getAttribute('aria-label') === name).length]; }""",
                                     say("ui.a11y.equation"))  # named by the catalogue's words
        assert n > 0 and focusable == n, (n, focusable)
    finally:
        ctx.close()


def _room_visit(browser, server: str, scheme: str, found: list) -> None:  # noqa: F811
    """Issue 26's pages: the facilitator's (desktop) before and after opening a room and after a reveal;
    a phone's room panel (390×844, touch) at the join form, on the tap grid, after the reveal, and in a
    fool-the-model round."""
    dark = scheme == "dark"
    fctx = browser.new_context(viewport=VIEWPORTS["desktop"], color_scheme=scheme)
    pctx = browser.new_context(viewport=VIEWPORTS["phone"], color_scheme=scheme, is_mobile=True, has_touch=True)
    try:
        fac = fctx.new_page()
        fac.goto(server + "facilitator" + ("?__theme=dark" if dark else ""), wait_until="domcontentloaded")
        fac.locator("#fac-open").wait_for(timeout=60000)
        _axe(fac, f"facilitator/{scheme} · before a room", found)
        fac.locator("#fac-open").click()
        fac.wait_for_function("() => /[?&]key=/.test(location.search)", timeout=30000)
        code = fac.evaluate("() => new URLSearchParams(location.search).get('room')")
        fac.locator("#fac-code img").wait_for(timeout=30000)
        _axe(fac, f"facilitator/{scheme} · room open", found)

        phone = pctx.new_page()
        phone.goto(server + f"?room={code}" + ("&__theme=dark" if dark else ""), wait_until="domcontentloaded")
        phone.locator("#room-join").wait_for(timeout=60000)
        _axe(phone, f"phone/{scheme} · room join form", found)
        phone.tap("#room-join")
        phone.locator("#room-status").get_by_text(code).wait_for(timeout=30000)
        fac.locator("#fac-push").click()
        phone.wait_for_selector("#room-grid .tg-cell", timeout=120000)
        phone.tap('#room-grid [data-cell="24"]')
        _axe(phone, f"phone/{scheme} · room tap grid", found)
        phone.tap("#room-send")
        phone.wait_for_function("() => /Sent/.test(document.querySelector('#room-grid .tg-note')?.innerText || '')",
                                timeout=30000)
        fac.locator("#fac-reveal").click()
        phone.wait_for_function("() => (document.querySelector('#room-own-text')?.innerText || '').length > 20",
                                timeout=60000)
        fac.wait_for_function("() => !!document.querySelector('#fac-projector img[src]')", timeout=60000)
        _axe(phone, f"phone/{scheme} · room after the reveal", found)
        _axe(fac, f"facilitator/{scheme} · after the reveal", found)
        fac.locator("#fac-kind").get_by_text(say("room_page.kind.fool")).click()
        fac.locator("#fac-push").click()
        phone.locator("#room-submit").wait_for(timeout=60000)
        _axe(phone, f"phone/{scheme} · room fool the model", found)
        fac.locator("#fac-close").click()
    finally:
        pctx.close()
        fctx.close()


def test_room_pages_have_no_serious_axe_violations(server, browser):  # noqa: F811 - pytest fixtures
    """The facilitator's page and the phone's room panel (issue 26), light and dark."""
    entries = known_entries()
    found: list[dict] = []
    for scheme in ("light", "dark"):
        _room_visit(browser, server, scheme, found)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.with_name("a11y-axe-rooms.json").write_text(json.dumps(found, indent=1, ensure_ascii=False),
                                                       encoding="utf-8")
    unknown = [n for n in found if _is_known(n, entries) is None]
    report = "\n".join(f"- [{n['where']}] {n['rule']} ({n['impact']}): {n['target']}\n    {n['html'][:160]}\n"
                       f"    {n['why'][:200]}" for n in unknown[:40])
    assert not unknown, f"{len(unknown)} critical/serious axe violations on the room pages:\n{report}"
