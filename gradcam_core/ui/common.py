"""Gradio helpers shared by the tabs (this sub-package is the only place that imports gradio)."""
from __future__ import annotations

import functools
import html
import logging
import traceback
from typing import Any, Callable

import gradio as gr
from gradio.data_classes import Base64ImageData

from gradcam_core.present.words import say, text_of
from gradcam_core.ui.coerce import scalar_or_refuse
from gradcam_core.ui.serving import Cancelled

log = logging.getLogger("gradcam_explorer")

#: Step keys in page order and the code language of their snippets.
CSS = """
/* phones first: nothing may be wider than the screen */
.gradio-container { width: 100% !important; max-width: 980px !important; margin: auto; min-width: 0 !important; }
.gradio-container * { min-width: 0; }
.gradio-container .katex-display, .gradio-container pre, .gradio-container .cm-editor,
.gradio-container .prose table { max-width: 100%; overflow-x: auto; overflow-y: hidden; }
.gradio-container .cm-content, .gradio-container .cm-line { white-space: pre-wrap !important; word-break: break-word; }
.gradio-container img { max-width: 100%; height: auto; }
.step-image img { image-rendering: pixelated; }
.tight-md p { margin: 0.2em 0; }
button { min-height: 44px; }
.digit-grid .thumbnail-item { min-width: 0; }
/* the result right under the input: on a phone the two small MNIST images stay side by side */
.result-pair { flex-wrap: nowrap !important; gap: 8px; }
.compact-label .confidence-set { padding: 1px 0 !important; margin: 0 !important; }
"""


#: Gradio's default theme with the phone's own fonts: the default's web fonts are 0.14 MB that a
#: phone on a busy Wi-Fi downloads before the first prediction (bench/bench_first_load.py).
#: Accessibility (issue 17): the primary hue is Gradio's orange moved two shades darker, so white
#: on a primary button and an orange tab label on white reach WCAG AA (4.5:1: orange-700 gives 5.2,
#: orange-500 gave 2.8); grey help texts use a darker grey (neutral-600) for the same reason.
_ORANGE = gr.themes.colors.orange
PRIMARY_AA = gr.themes.Color(name="orange_aa", c50=_ORANGE.c50, c100=_ORANGE.c100, c200=_ORANGE.c200,
                             c300=_ORANGE.c300, c400=_ORANGE.c400, c500=_ORANGE.c700, c600=_ORANGE.c800,
                             c700=_ORANGE.c900, c800=_ORANGE.c950, c900="#5c2410", c950="#431407")
THEME = gr.themes.Default(primary_hue=PRIMARY_AA,
                          font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
                          font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]).set(
    body_text_color_subdued="*neutral_600")


def scroll_js(elem_id: str) -> str:
    """A js-only event body that brings the element ``#elem_id`` to the top of the screen.

    Used after a new result instead of Gradio's ``scroll_to_output``: that scrolls to the topmost
    of *all* an event's outputs, and outputs inside a closed accordion (the JSON numbers, the step
    code) measure as being at the very top of the page, so on a phone it never moved."""
    return (f"() => {{ const e = document.getElementById('{elem_id}'); if (!e) return; "
            "const top = e.getBoundingClientRect().top + window.scrollY - 8; "
            "window.scrollTo({top: Math.max(0, top), behavior: 'smooth'}); }")


#: For the page's own events (``**PAGE_ONLY``): ones fed by hidden boxes (the router's token, the page's
#: query string), the session's last result or a tap's event data. Through the API they could only answer
#: with nothing (a request the page itself would skip) or fail inside Gradio (no tap), so they are kept out
#: of it: not listed by ``view_api`` and refused by gradio_client. The page calls them as before.
#: Every public endpoint has a documented equivalent (README, "Public API").
PAGE_ONLY = dict(api_visibility="private")


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn ValueError (bad input: a ``Refusal``'s catalogue sentence, or the error's own text)
    into gr.Error, and any other exception into a short gr.Error while the traceback goes to the
    server log only."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Cancelled:  # the browser left: nobody is waiting for this answer
            log.info("%s stopped: its browser session closed", fn.__name__)
            raise gr.Error(say("error.server.stopped"), print_exception=False) from None
        except (ValueError, FileNotFoundError) as exc:  # messages may quote user input: escape
            raise gr.Error(html.escape(text_of(exc)), print_exception=False) from None
        except MemoryError:
            raise gr.Error(say("error.server.memory"), print_exception=False) from None
        except Exception as exc:  # never a stack trace in the browser, never a dead server
            log.error("unexpected error in %s:\n%s", fn.__name__, traceback.format_exc())
            raise gr.Error(say("error.server.unexpected", type=type(exc).__name__), print_exception=False) from None

    return wrapper


def by_name(fn: Callable[..., dict], components: dict) -> Callable[..., dict]:
    """``fn`` returns ``{name: value}`` (only what changes); the event returns the
    ``{component: value}`` dict Gradio expects, ``components`` mapping names to components.
    Outputs not named are left as they are, so "nothing to do" is ``{}`` (sent as one gr.skip():
    gradio reads an empty dict as a single positional value).  The signature stays ``fn``'s (the
    API's parameters, gr.Request and gr.Progress injection)."""

    @functools.wraps(fn)
    def event(*args, **kwargs):
        return {components[name]: value for name, value in fn(*args, **kwargs).items()} or gr.skip()

    return event


def code_block(code: str, **kw: Any) -> gr.Code:
    return gr.Code(value=code, language="python", interactive=False, show_label=False, **kw)


class ParsedDropdown(gr.Dropdown):
    """gr.Dropdown that hands any value to the handler, which parses it with the one parser of
    gradcam_core.base.inputs: an API call with a value outside the choices gets the same message as
    the command line, not gradio's "not in the list of choices".  In the browser it is an ordinary
    dropdown (its values are always among the choices)."""

    def get_block_name(self) -> str:  # render with Gradio's own dropdown (a subclass would be looked
        return "dropdown"             # up as a custom component, whose files do not exist)

    def preprocess(self, payload: Any) -> Any:
        return scalar_or_refuse(payload, self)  # a list, a dict or megabytes of text: refused here


class ParsedRadio(gr.Radio):
    """gr.Radio that hands any value to the handler, which parses it with the one parser of
    gradcam_core.base.inputs (as :class:`ParsedDropdown`): an API call with a value outside the choices
    gets the app's own message, not gradio's "not in the list of choices".  In the browser it is an
    ordinary radio (its values are always among the choices)."""

    def get_block_name(self) -> str:  # render with Gradio's own radio
        return "radio"

    def preprocess(self, payload: Any) -> Any:
        return scalar_or_refuse(payload, self)


class SafeImage(gr.Image):
    """gr.Image whose own decoding never fails the request.

    Gradio opens every uploaded image with PIL before our handler runs; a zero-byte file, a
    text file named .png or a decompression bomb then fails there with a generic error. Here
    such a payload is handed on as its file path, and our loader (gradcam_core.data.images) refuses
    it with a message a person can act on.
    """

    def get_block_name(self) -> str:  # render with Gradio's own image widget
        return "image"

    def preprocess(self, payload: Any) -> Any:
        if payload is None:
            return None
        try:
            return super().preprocess(payload)
        except Exception:  # noqa: BLE001 - any decoding failure is reported by our own loader
            return getattr(payload, "path", None)


class ResultImage(gr.Image):
    """An output image sent inside the event's response, as a PNG data URL.

    gr.Image would encode a PNG, hash it, write it into the cache, and every browser would
    then fetch each image with one more request; an MNIST answer has ten images. Inline, the
    server does one fast PNG encode per image and nothing else (on the MNIST endpoint the
    server's CPU per request fell from 76 to 46 ms; README, "Measured figures"). The API returns each such
    image as ``{"url": "data:image/png;base64,…"}``; ``gradcam_core.present.codec.decode_data_url``
    turns it back into a PIL image.

    (No ``__init__`` override: Gradio builds the page's config from the constructor's signature.)
    """

    def get_block_name(self) -> str:  # rendered by Gradio's own image widget
        return "image"

    def postprocess(self, value: Any) -> Any:
        if value is None:
            return None
        from gradcam_core.present.codec import png_data_url

        return Base64ImageData(url=png_data_url(value))

    def api_info_as_output(self) -> dict:
        schema = Base64ImageData.model_json_schema()
        schema.pop("description", None)
        return schema


class SafeSketchpad(gr.Sketchpad):
    """gr.Sketchpad that hands an undecodable composite on as ``{"composite": path}``."""

    def get_block_name(self) -> str:  # render with Gradio's own image editor widget
        return "imageeditor"

    def preprocess(self, payload: Any) -> Any:
        if payload is None:
            return None
        try:
            return super().preprocess(payload)
        except Exception:  # noqa: BLE001
            comp = getattr(payload, "composite", None)
            return {"background": None, "layers": [], "composite": getattr(comp, "path", None)}


def step_sections(values: list | None = None, after: dict | None = None, alts: list | None = None) -> list:
    """The eight step sections (heading + explanation, image, collapsible code), in page order;
    returns their components [md, image, code] * 8 to use as event outputs. ``values``: their
    first content, in the same order (as :func:`step_values` gives it), sent with the page.
    ``after``: {step number: function} called right after that step's section (to place more there);
    ``alts``: the first images' text alternatives (gradcam_core.present.alt_text.step_alts)."""
    from gradcam_core.present.steps import STEP_ORDER

    outs = []
    for n, key in enumerate(STEP_ORDER, 1):  # labels (not shown) name the outputs in the API
        first = values[3 * (n - 1):3 * n] if values else [f"### {key}", None, ""]
        with gr.Group():
            md = gr.Markdown(first[0], elem_classes="tight-md", label=say("ui.common.step_text_label", n=n))
            img = ResultImage(first[1], interactive=False, show_label=False, elem_classes="step-image",
                              label=say("ui.common.step_image_label", n=n), alt_text=alts[n - 1] if alts else None)
            with gr.Accordion(say("ui.common.code"), open=False):
                code = code_block(first[2], label=say("ui.common.step_code_label", n=n))
        outs += [md, img, code]
        if after and n in after:
            after[n]()
    return outs


def step_values(steps: dict) -> list:
    """Values for :func:`step_sections`' components from ``steps.build_steps(...)``."""
    from gradcam_core.present.steps import STEP_ORDER

    outs = []
    for key in STEP_ORDER:
        s = steps[key]
        outs += [f"### {s.title}\n\n{s.text}", s.image, s.code]
    return outs
