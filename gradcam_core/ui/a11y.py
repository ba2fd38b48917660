"""Accessibility fixes made from the app's side (issue 17): CSS, a small head script, and a helper
that gives a result image its text alternative.

What the head script repairs, each in Gradio 6.31's own markup (checked by tests/test_a11y.py with
axe-core, and each fix is harmless if Gradio changes the markup):

- a clickable image container (``.image-container > button``) whose image has no ``alt`` gets
  the image block's label as its name;
- an empty output box (``<div aria-label="Empty value">`` has no role, so the label is not
  allowed there) gets ``role="img"``;
- a gallery thumbnail named "Thumbnail 3 of 50" while it shows the caption "#2 · 4" is named
  "#2 · 4 (thumbnail 3 of 50)", so the visible words are part of its name;
- an upload area named "Drop an image file here to upload" while it reads "Drop Image Here - or -
  Click to Upload" gets its visible words as its name;
- a display equation, or a table, that scrolls sideways can be reached with Tab (``tabindex=0``, a
  name) and scrolled with the arrow keys.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable


if TYPE_CHECKING:
    import gradio as gr

#: CSS: focus that can be seen, a visually hidden text class, and the focused equation.
CSS = """
/* dark mode: Gradio's theme has no dark accent colour; the AA orange (primary-500) is too dark on black */
.dark, .dark .gradio-container { --color-accent: var(--primary-400) !important; }
.gradio-container :focus-visible { outline: 3px solid var(--color-accent) !important; outline-offset: 2px; }
.gradio-container .katex-display[tabindex]:focus-visible { outline-offset: 0; }
/* Gradio's text and number inputs drop the outline on focus: give it back */
html body .gradio-container .block input:focus-visible, html body .gradio-container .block textarea:focus-visible {
  outline: 3px solid var(--color-accent) !important; outline-offset: 1px; }
.sr-only { position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
           clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0; }
"""

_SCRIPT = r"""
<script>
(() => {
  const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();
  const blockLabel = (el) => {
    const block = el.closest('.block');
    const lab = block && block.querySelector('[data-testid="block-label"], label span, .label');
    return norm(lab ? lab.textContent : '');
  };
  const fix = () => {
    // 1. clickable image containers: named by their image's alt text, else by the block's label
    document.querySelectorAll('.image-container > button').forEach((b) => {
      const img = b.querySelector('img');
      const alt = img ? norm(img.getAttribute('alt')) : '';
      const name = alt || blockLabel(b) || __RESULT_IMAGE__;
      if (!alt && b.getAttribute('aria-label') !== name) b.setAttribute('aria-label', name);
      if (alt && b.hasAttribute('aria-label')) b.removeAttribute('aria-label');
    });
    // 2. empty output boxes: aria-label needs a role
    document.querySelectorAll('div.empty[aria-label]:not([role])').forEach((d) => d.setAttribute('role', 'img'));
    // 3. gallery thumbnails: the visible caption is part of the name
    document.querySelectorAll('button.thumbnail-item[aria-label]').forEach((b) => {
      const text = norm(b.innerText);
      if (!text) return;
      const orig = b.dataset.a11yName || b.getAttribute('aria-label');
      const name = text + ' (' + orig.toLowerCase() + ')';
      if (b.getAttribute('aria-label') !== name) { b.dataset.a11yName = orig; b.setAttribute('aria-label', name); }
    });
    // 4. upload areas: the name says what the area shows
    document.querySelectorAll('button.upload-container[aria-label]').forEach((b) => {
      const text = norm(b.innerText);
      if (text && b.getAttribute('aria-label') !== text) b.setAttribute('aria-label', text);
    });
    // 5. wide display equations: reachable with the keyboard, and named
    document.querySelectorAll('.katex-display:not([tabindex])').forEach((e) => {
      e.setAttribute('tabindex', '0');
      e.setAttribute('role', 'group');
      e.setAttribute('aria-label', __EQUATION__);
    });
    // 6. anything else that scrolls sideways (a wide table on a phone): focusable, so arrow keys scroll it
    document.querySelectorAll('.gradio-container .block, .gradio-container .prose table, .gradio-container pre')
      .forEach((e) => {
        if (e.hasAttribute('tabindex') || e.scrollWidth <= e.clientWidth + 1) return;
        const ox = getComputedStyle(e).overflowX;
        if ((ox !== 'auto' && ox !== 'scroll') || e.querySelector('a[href], button, input, select, textarea, [tabindex]')) return;
        e.setAttribute('tabindex', '0');
        e.setAttribute('role', 'region');
        e.setAttribute('aria-label', __WIDE__);
      });
  };
  let queued = false;
  const later = () => { if (!queued) { queued = true; setTimeout(() => { queued = false; fix(); }, 120); } };
  const start = () => {
    fix();
    new MutationObserver(later).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                        attributeFilter: ['aria-label', 'alt', 'src']});
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})();
</script>
"""


def head() -> str:
    """For ``launch(head=...)``: the CSS above and the script that adds the missing names and
    keyboard access."""
    from gradcam_core.ui.lang import js_text

    script = _SCRIPT  # the names it gives, from the catalogue, in the page's language (ui/lang.py's head script)
    for mark, text in (("__RESULT_IMAGE__", js_text("ui.a11y.result_image")), ("__EQUATION__", js_text("ui.a11y.equation")),
                       ("__WIDE__", js_text("ui.a11y.wide_content"))):
        script = script.replace(mark, text)
    return f"<style>{CSS}</style>\n{script}"


def with_alt(value: Any, text: str | None) -> Any:
    """An image output's value marked with its text alternative.  Events wired through
    :func:`alt_event` send the image alone (so the API's outputs are unchanged) and the text
    through the tab's :func:`alt_state`, whose change sets ``gr.Image(alt_text=...)`` on the page."""
    if value is None or not text:
        return value
    import gradio as gr

    return gr.update(value=value, alt_text=text)


def _is_alt(v) -> bool:
    return isinstance(v, dict) and v.get("__type__") == "update" and "alt_text" in v and "value" in v


def split_alt(v: Any, key: Any, alts: dict) -> Any:
    """``v`` without its alt mark; the text goes into ``alts[key]``."""
    if _is_alt(v):
        alts[key] = v["alt_text"]
        return v["value"]
    return v


def alt_state() -> gr.State:
    """A tab's hidden store of its images' text alternatives ({component id: text})."""
    import gradio as gr

    return gr.State(None)


def alt_event(fn: Callable, outputs: list, state: gr.State) -> Callable:
    """``fn`` as an event whose image values may carry :func:`with_alt` marks: the images go out
    plain and their texts into ``state`` (which must be the LAST of the event's outputs, after
    ``outputs``).  ``fn`` may return a {component: value} dict, a tuple/list in ``outputs``' order,
    or one value; the signature stays ``fn``'s (API parameters, gr.Request, gr.Progress)."""
    import functools

    @functools.wraps(fn)
    def event(*args, **kwargs):
        out = fn(*args, **kwargs)
        if isinstance(out, dict) and out.get("__type__") and not _is_alt(out):  # gr.skip(): nothing to do
            return out
        alts: dict = {}
        if isinstance(out, dict) and not out.get("__type__"):
            out = {c: split_alt(v, c._id, alts) for c, v in out.items()}
            if alts:
                out[state] = alts
            return out
        values = list(out) if isinstance(out, (tuple, list)) and len(outputs) > 1 else [out]
        values = [split_alt(v, c._id, alts) for c, v in zip(outputs, values)]
        return (*values, alts or None)

    return event


def wire_alts(state: gr.State, images: list | dict) -> None:
    """When ``state`` changes, set each image's text alternative (a page-only event, no API).
    ``images``: the components (``state`` keyed by their ids), or {key: component}."""
    import gradio as gr

    by_id = dict(images) if isinstance(images, dict) else {c._id: c for c in images}
    images = list(by_id.values())

    def apply(alts):
        ups = {by_id[k]: gr.update(alt_text=v) for k, v in (alts or {}).items() if k in by_id}
        return ups or gr.skip()

    state.change(apply, [state], images, api_visibility="private", queue=False, show_progress="hidden")


def alt_box() -> gr.Textbox:
    """The page's own carrier of text alternatives (issue 27): a hidden box whose value, the texts as
    JSON ({key: text}), reaches the browser with the answer, where :func:`wire_alt_box` sets them on the
    images with no server event. (An :func:`alt_state` lives on the server: setting its texts on the
    page costs one more request per answer, which is why the page's private events use this box; the
    API's events keep the state, so their answers are unchanged.)"""
    import gradio as gr

    return gr.Textbox(visible=False)


def alt_json(alts: dict | None) -> str | None:
    """The value of an :func:`alt_box`: ``alts`` ({key: text}) as JSON (None when there are none)."""
    return json.dumps(alts, ensure_ascii=False, sort_keys=True) if alts else None


def alt_box_js(keys: list) -> str:
    """The browser's side of :func:`wire_alt_box`: the box's JSON → one ``alt_text`` update per image
    (``keys`` in the images' order), ``undefined`` (left as it is) for an image with no text."""
    return ("(v) => { let a = {}; try { a = JSON.parse(v || '{}') || {}; } catch (e) { a = {}; } "
            f"return {json.dumps([str(k) for k in keys])}.map((k) => (typeof a[k] === 'string' && a[k]) ? "
            "{__type__: 'update', alt_text: a[k]} : undefined); }")


def wire_alt_box(box: gr.Textbox, images: dict) -> None:
    """When ``box`` (an :func:`alt_box`) changes, set each image's text alternative in the browser (a
    js-only event: no request). ``images``: {key in the box's JSON: image component}."""
    keys = list(images)
    box.change(None, [box], [images[k] for k in keys], js=alt_box_js(keys), queue=False, api_visibility="private",
               show_progress="hidden")

