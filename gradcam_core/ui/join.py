"""The "Join on your phone" panel of workshop mode: a QR code and the address in big letters,
for the projector. The addresses, the QR code and the wording come from ``gradcam_core.workshop``.

``build(url, demo)`` adds the panel inside the current Blocks. ``url`` is the address (a string)
or a function returning it: with a function (and ``demo``) the panel is drawn again on each page
load, so a share link that only exists after launch replaces the LAN address.
On narrow screens (phones, which have already joined) the panel is hidden, so it never pushes
the results down.
"""
from __future__ import annotations

import base64
import html
from typing import Callable

import gradio as gr

from gradcam_core import workshop
from gradcam_core.present.words import say

PANEL_ID = "join-panel"
QR_ID = "join-qr"

_STYLE = f"""<style>
#{PANEL_ID} .join-box {{ display: flex; gap: 1.5em; align-items: center; flex-wrap: wrap; }}
#{PANEL_ID} .join-box img {{ width: 264px; height: 264px; image-rendering: pixelated; background: #fff; }}
#{PANEL_ID} .join-box > div {{ flex: 1 1 18em; }}
#{PANEL_ID} .join-url {{ font-size: 2.2em; font-weight: 700; word-break: break-all; line-height: 1.2; }}
#{PANEL_ID} .join-note {{ font-size: 0.95em; max-width: 60em; }}
@media (max-width: 640px) {{ #{PANEL_ID} {{ display: none !important; }} }}
</style>"""


def panel_html(url: str | None) -> str:
    """The panel's HTML: the QR code of ``url`` as an inline PNG, the address, and what works."""
    if not url:
        return (_STYLE + say("ui.join.no_address"))
    png = base64.b64encode(workshop.qr_png(url, scale=8)).decode("ascii")
    u = html.escape(url)
    if url.startswith("https://"):
        note = (say("ui.join.https_note"))
    else:
        note = html.escape(workshop.sources_note())
    return (say("ui.join.panel", style=_STYLE, qr_id=QR_ID, u=u, png=png, note=note))


def build(url: str | Callable[[], str | None] | None, demo: gr.Blocks | None = None) -> gr.HTML:
    """Add the panel (an open accordion near the top of the page) inside the current Blocks."""
    current = url() if callable(url) else url
    with gr.Accordion(say("ui.join.title"), open=True, elem_id=PANEL_ID):
        panel = gr.HTML(panel_html(current), elem_id=QR_ID)
    if callable(url) and demo is not None:
        demo.load(lambda: panel_html(url()), None, panel, queue=False, show_progress="hidden",
                  api_visibility="private")
    return panel
